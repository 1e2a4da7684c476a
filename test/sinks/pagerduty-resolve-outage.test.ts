// A resolution that comes before its finding goes to PagerDuty as a trigger (the whole finding, marked resolved), then a
// resolve. When PagerDuty takes the trigger and then answers every resolve of the delivery with a 5xx (or a timeout)
// although it processed one of them, the delivery failed and its claims were dropped: the next delivery, told the
// original never went out, triggered again, and a trigger after the resolve opens a new alert (outputs.md 3.3), so
// the on-call was paged a second time for an exposure already closed. So was it when the late finding came first.
import { describe, expect, it } from 'vitest';
import { deliverOnce } from '../../sinks/deliver.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import { PagerDutySink } from '../../sinks/pagerduty.js';
import { makeFinding, resolutionOf } from '../support/findings.js';
import { PAGERDUTY_TEST_ROUTING_KEY, pagingServerForTests } from '../support/pagerdutyServer.js';

const server = pagingServerForTests();

describe('deliverOnce to PagerDuty: a resolution that came first, whose resolves all failed after the trigger', () => {
  it.each([
    ['the resolution redelivered once PagerDuty answers again', ['resolution', 'finding']],
    ['the late finding first, then the resolution redelivered', ['finding', 'resolution']],
  ] as const)('pages once, and leaves no alert open: %s', async (_name, order) => {
    const sink = new PagerDutySink({ routingKey: PAGERDUTY_TEST_ROUTING_KEY, eventsUrl: `${server.receiver.origin}/v2/enqueue`, source: 'runwatch', retry: { initialDelayMs: 5, maxDelayMs: 10 } });
    const records = new MemoryDeliveryRecordStore();
    const finding = makeFinding('public-invoker-grant', {}, { severity: 'CRITICAL' });
    const resolution = resolutionOf(finding);
    const deliver = (f: typeof finding) => deliverOnce({ sink, finding: f, records, nowMs: Date.now(), deadlineMs: Date.now() + 5_000 });

    server.resolvesFailAfterProcessing = true;
    expect(await deliver(resolution)).toMatchObject({ status: 'failed', retryable: true });
    expect(server.actions()).toEqual(['trigger', 'resolve', 'resolve', 'resolve', 'resolve']);
    expect(server.pages).toBe(1);

    server.resolvesFailAfterProcessing = false;
    for (const which of order) await deliver(which === 'resolution' ? resolution : finding);

    expect(server.pages).toBe(1);
    expect(server.open.size).toBe(0);
    expect(server.actions().filter((a) => a === 'trigger')).toHaveLength(1);
    // Each is settled: a further copy sends nothing.
    const sent = server.receiver.requests.length;
    expect((await deliver(finding)).status).toBe('duplicate');
    expect((await deliver(resolution)).status).toBe('duplicate');
    expect(server.receiver.requests.length).toBe(sent);
  });
});
