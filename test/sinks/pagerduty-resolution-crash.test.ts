// A resolution that comes before its finding goes to PagerDuty as a trigger (the whole finding, marked resolved), then a
// resolve. When its instance died after PagerDuty processed both and before the delivery records were written, the
// claims it left ran out; the redelivery, told the original never went out, sent the trigger again, and a trigger
// after a resolve opens a new alert (outputs.md 3.3): the on-call was paged a second time for a closed exposure.
import { describe, expect, it } from 'vitest';
import { deliverOnce } from '../../sinks/deliver.js';
import type { DeliveryRecordStore } from '../../sinks/deliveryRecords.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import { PagerDutySink } from '../../sinks/pagerduty.js';
import { makeFinding, resolutionOf } from '../support/findings.js';
import { PAGERDUTY_TEST_ROUTING_KEY, pagingServerForTests } from '../support/pagerdutyServer.js';

const LEASE = 90_000;

/** The records as a dying instance sees them: once `die()` is called, no call of its ever returns. */
class DyingRecords implements DeliveryRecordStore {
  private dead = false;
  constructor(private readonly inner: DeliveryRecordStore) {}
  die(): void {
    this.dead = true;
  }
  private run<T>(call: () => Promise<T>): Promise<T> {
    return this.dead ? new Promise<T>(() => undefined) : call();
  }
  get(...a: Parameters<DeliveryRecordStore['get']>) {
    return this.run(() => this.inner.get(...a));
  }
  claim(...a: Parameters<DeliveryRecordStore['claim']>) {
    return this.run(() => this.inner.claim(...a));
  }
  complete(...a: Parameters<DeliveryRecordStore['complete']>) {
    return this.run(() => this.inner.complete(...a));
  }
  release(...a: Parameters<DeliveryRecordStore['release']>) {
    return this.run(() => this.inner.release(...a));
  }
  expire(...a: Parameters<DeliveryRecordStore['expire']>) {
    return this.run(() => this.inner.expire(...a));
  }
}

const server = pagingServerForTests();

describe('deliverOnce to PagerDuty: the instance delivering a resolution that came first dies', () => {
  it.each([
    ['after PagerDuty processed the trigger and the resolve', 'resolve', ['resolution', 'finding']],
    ['after PagerDuty processed the trigger and the resolve (the late finding first)', 'resolve', ['finding', 'resolution']],
  ] as const)('%s: pages once, and leaves no alert open once redelivered', async (_name, lastProcessed, order) => {
    const sink = new PagerDutySink({ routingKey: PAGERDUTY_TEST_ROUTING_KEY, eventsUrl: `${server.receiver.origin}/v2/enqueue`, source: 'runwatch', retry: { initialDelayMs: 5, maxDelayMs: 10 } });
    const records = new MemoryDeliveryRecordStore();
    const dying = new DyingRecords(records);
    const finding = makeFinding('public-invoker-grant', {}, { severity: 'CRITICAL' });
    const resolution = resolutionOf(finding);
    const start = Date.now();
    const deadline = (): number => Date.now() + 5_000;

    // The instance stops as PagerDuty processes `lastProcessed`: what it had not written by then, it never writes.
    const processed = new Promise<void>((resolve) => {
      server.onEvent = (action) => {
        if (action !== lastProcessed) return;
        dying.die();
        resolve();
      };
    });
    void deliverOnce({ sink, finding: resolution, records: dying, nowMs: start, deadlineMs: deadline(), leaseMs: LEASE });
    await processed;
    server.onEvent = () => undefined;
    expect(server.pages).toBe(1);

    // Pub/Sub redelivers both once the claims' lease ran out; the late finding may come first or after.
    let t = start + LEASE + 1_000;
    const outcomes: Record<string, string> = {};
    for (const which of [...order, ...order]) {
      const outcome = await deliverOnce({ sink, finding: which === 'resolution' ? resolution : finding, records, nowMs: (t += 1_000), deadlineMs: deadline(), leaseMs: LEASE });
      outcomes[which] = outcome.status;
    }
    expect(outcomes).toEqual({ finding: 'duplicate', resolution: 'duplicate' });
    expect(server.pages).toBe(1);
    expect(server.open.size).toBe(0);
  });
});
