// A resolution that came first went out (PagerDuty: the whole finding as a trigger marked already resolved, then the
// resolve) but left its claims pending (its records could not be marked, or its instance died). Its redelivery,
// after the lease, takes both claims over and fails for a reason of its own (PagerDuty unreachable, a 400). Releasing
// the resolution's claim then dropped the only record that said a resolution may have gone out: the late original,
// once the tombstone's lease ran out too, read no resolution at all and went out as an active alert after its close
// (PagerDuty opened a new incident and paged a second time; on a permanent failure nothing ever resolved it).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { deliverOnce, resolutionKey, systemClock } from '../../sinks/deliver.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import { PagerDutySink } from '../../sinks/pagerduty.js';
import { makeFinding, resolutionOf } from '../support/findings.js';
import { PAGERDUTY_TEST_ROUTING_KEY, startPagerDutyServer, type PagerDutyServer } from '../support/pagerdutyServer.js';

const NOW = Date.parse('2024-05-14T02:13:10Z');
const LEASE = 90_000;
const FAST = { initialDelayMs: 5, maxDelayMs: 10, maxAttempts: 2 };

let server: PagerDutyServer;
beforeAll(async () => {
  server = await startPagerDutyServer();
});
afterAll(() => server.close());
beforeEach(() => {
  server.reset();
  server.open.clear();
  // deliverOnce retries the marks that fail here on the system clock (250, 500, 1000 ms: 3.5 s of each case's 3.6 s),
  // and so does the sink between its FAST attempts: the waits are skipped, the attempts and their order are the same.
  vi.spyOn(systemClock, 'sleep').mockResolvedValue(undefined);
});
afterEach(() => vi.restoreAllMocks());

/** Records whose `complete` fails while `down` (Firestore unavailable right after the events went out). */
class OutageRecords extends MemoryDeliveryRecordStore {
  down = false;
  constructor() {
    super(() => NOW);
  }

  override complete(...args: Parameters<MemoryDeliveryRecordStore['complete']>): Promise<void> {
    return this.down ? Promise.reject(new Error('14 UNAVAILABLE: firestore unreachable')) : super.complete(...args);
  }
}

const finding = makeFinding('public-invoker-grant');
const resolution = resolutionOf(finding);

/** Triggers PagerDuty received for an open (not already resolved) alert: each one pages someone for it. */
function activeTriggers(): unknown[] {
  return server.events().filter((e) => e['event_action'] === 'trigger' && !String((e['payload'] as { summary?: unknown } | undefined)?.summary).includes('(already resolved)'));
}

describe('deliverOnce: a resolution that took its own expired claim over and then failed', () => {
  it.each([
    // Retryable: both attempts of the sink's retry loop are answered so.
    ['PagerDuty unavailable (retryable)', [{ status: 503, body: { status: 'unavailable' } }, { status: 503, body: { status: 'unavailable' } }]],
    ['an event PagerDuty refuses (permanent: dead-lettered)', [{ status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: ['x'] } }]],
  ])('%s: the late original never goes out as an alert after its close', async (_name, failures) => {
    const sink = new PagerDutySink({ routingKey: PAGERDUTY_TEST_ROUTING_KEY, eventsUrl: server.eventsUrl, source: 'runwatch', retry: FAST });
    const records = new OutageRecords();
    const deadline = (): number => Date.now() + 10_000;

    // 1. The resolution comes first: PagerDuty gets the trigger marked already resolved and the resolve; the marks fail.
    records.down = true;
    const first = await deliverOnce({ sink, finding: resolution, records, nowMs: NOW, deadlineMs: deadline(), leaseMs: LEASE });
    expect(first).toMatchObject({ status: 'failed', retryable: true });
    expect(server.events().map((e) => e['event_action'])).toEqual(['trigger', 'resolve']);
    expect(server.open.has(finding.id)).toBe(false);
    records.down = false;

    // 2. Its redelivery after the lease takes both claims over and fails for a reason of its own.
    server.script(...failures);
    const again = await deliverOnce({ sink, finding: resolution, records, nowMs: NOW + LEASE, deadlineMs: deadline(), leaseMs: LEASE });
    expect(again).toMatchObject({ status: 'failed', retryable: failures[0]!.status !== 400 });

    // 3. The late original, after the lease of the claims the redelivery took over: it must not page for a closed alert.
    const late = await deliverOnce({ sink, finding, records, nowMs: NOW + 2 * LEASE + 1_000, deadlineMs: deadline(), leaseMs: LEASE });
    expect(late).not.toMatchObject({ status: 'delivered' });
    expect(activeTriggers()).toEqual([]);
    expect(server.open.has(finding.id)).toBe(false);

    // 4. The resolution comes back (a Pub/Sub redelivery, or the redrive of its dead letter once the cause is fixed)
    // and writes both records; every later copy of the original is a duplicate.
    expect(await deliverOnce({ sink, finding: resolution, records, nowMs: NOW + 3 * LEASE, deadlineMs: deadline(), leaseMs: LEASE })).toMatchObject({ status: 'delivered' });
    expect(await records.get('pagerduty', resolutionKey(finding.id))).toMatchObject({ state: 'resolved' });
    expect(await deliverOnce({ sink, finding, records, nowMs: NOW + 4 * LEASE, deadlineMs: deadline(), leaseMs: LEASE })).toMatchObject({ status: 'duplicate', reason: 'already resolved' });
    expect(activeTriggers()).toEqual([]);
    expect(server.open.has(finding.id)).toBe(false);
  });
});
