import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { backoffMs, deliverOnce, parseRetryAfter, resolutionKey, retryWithinDeadline, systemClock, type RetryClock, type RetryPolicy } from '../../sinks/deliver.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import type { DeliveryContext, DeliveryResult, Sink } from '../../sinks/sink.js';
import { makeFinding, resolutionOf } from '../support/findings.js';

const NOW = Date.parse('2024-05-14T02:13:10Z');
const DEADLINE = NOW + 60_000;

/** A sink that records what it was asked to do and answers from a script (default: delivered, ref = call number). */
class ScriptedSink implements Sink {
  readonly name = 'scripted';
  readonly calls: { finding: Finding; context: DeliveryContext }[] = [];
  private readonly script: (DeliveryResult | Error)[] = [];

  answer(...results: (DeliveryResult | Error)[]): this {
    this.script.push(...results);
    return this;
  }

  deliver(finding: Finding, context: DeliveryContext): Promise<DeliveryResult> {
    this.calls.push({ finding, context });
    const next = this.script.shift() ?? { status: 'delivered', ref: `ref-${this.calls.length}` };
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  }
}

function setup() {
  return { sink: new ScriptedSink(), records: new MemoryDeliveryRecordStore(() => NOW) };
}

const finding = makeFinding('public-invoker-grant');

// deliverOnce retries marking a sent delivery on the system clock (250, 500 and 1000 ms: 1.75 s for each case whose
// marks keep failing, 14 of this file's 14.4 s). The waits are skipped, not shortened: the attempts, their order and
// the deadline check (on the real time, which the deadlines below are set from) are those of a run that waits.
beforeEach(() => void vi.spyOn(systemClock, 'sleep').mockResolvedValue(undefined));
afterEach(() => vi.restoreAllMocks());

describe('deliverOnce: findings', () => {
  it('delivers once, records the ref, and reports the second delivery as a duplicate without calling the sink', async () => {
    const { sink, records } = setup();
    const first = await deliverOnce({ sink, finding, records, nowMs: NOW, deadlineMs: DEADLINE });
    const second = await deliverOnce({ sink, finding, records, nowMs: NOW + 5_000, deadlineMs: DEADLINE + 5_000 });
    expect(first).toEqual({ status: 'delivered', ref: 'ref-1' });
    expect(second).toEqual({ status: 'duplicate', reason: 'already delivered', ref: 'ref-1' });
    expect(sink.calls).toHaveLength(1);
    expect(sink.calls[0]?.context).toEqual({ deadlineMs: DEADLINE });
    expect(await records.get('scripted', finding.id)).toMatchObject({ state: 'delivered', ref: 'ref-1' });
  });

  it('concurrent deliveries of the same finding reach the sink once', async () => {
    const { sink, records } = setup();
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => deliverOnce({ sink, finding, records, nowMs: NOW, deadlineMs: DEADLINE })));
    expect(sink.calls).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'delivered')).toHaveLength(1);
    // The others saw a live claim: retryable, so Pub/Sub redelivers and then finds the record delivered.
    expect(outcomes.filter((o) => o.status === 'failed' && o.retryable)).toHaveLength(4);
  });

  it('releases the claim on a retryable failure, so the redelivery sends it', async () => {
    const { sink, records } = setup();
    sink.answer({ status: 'failed', retryable: true, reason: 'HTTP 503' });
    expect(await deliverOnce({ sink, finding, records, nowMs: NOW, deadlineMs: DEADLINE })).toEqual({ status: 'failed', retryable: true, reason: 'HTTP 503' });
    expect(await records.get('scripted', finding.id)).toBeUndefined();
    expect(await deliverOnce({ sink, finding, records, nowMs: NOW + 10_000, deadlineMs: DEADLINE })).toEqual({ status: 'delivered', ref: 'ref-2' });
  });

  it('reports a permanent failure as not retryable and leaves no record, so a replay after the fix goes out', async () => {
    const { sink, records } = setup();
    sink.answer({ status: 'failed', retryable: false, reason: 'Slack rejected the message: channel_not_found' });
    const outcome = await deliverOnce({ sink, finding, records, nowMs: NOW, deadlineMs: DEADLINE });
    expect(outcome).toEqual({ status: 'failed', retryable: false, reason: 'Slack rejected the message: channel_not_found' });
    expect(await records.get('scripted', finding.id)).toBeUndefined();
  });

  it('turns a throwing sink into a permanent failure naming the sink', async () => {
    const { sink, records } = setup();
    sink.answer(new TypeError('boom'));
    expect(await deliverOnce({ sink, finding, records, nowMs: NOW, deadlineMs: DEADLINE })).toEqual({
      status: 'failed',
      retryable: false,
      reason: 'sink scripted threw: boom',
    });
    expect(await records.get('scripted', finding.id)).toBeUndefined();
  });

  it('passes a skip through and keeps no record (a record means "sent")', async () => {
    const { sink, records } = setup();
    sink.answer({ status: 'skipped', reason: 'not applicable' });
    expect(await deliverOnce({ sink, finding, records, nowMs: NOW, deadlineMs: DEADLINE })).toEqual({ status: 'skipped', reason: 'not applicable' });
    expect(await records.get('scripted', finding.id)).toBeUndefined();
  });

  // Slack has no idempotency key: after an answer that may mean "posted" (a timeout, fatal_error), releasing the claim
  // let every Pub/Sub redelivery post the finding again. The claim is kept for its lease instead (outputs.md 4).
  it('keeps the claim after a failure that may have sent: copies wait for the lease, and one after it sends again', async () => {
    const { sink, records } = setup();
    sink.answer({ status: 'failed', retryable: true, mayHaveSent: true, reason: 'Slack request failed: ECONNABORTED' });
    const first = await deliverOnce({ sink, finding, records, nowMs: NOW, deadlineMs: DEADLINE, leaseMs: 90_000 });
    expect(first).toEqual({
      status: 'failed',
      retryable: true,
      reason: 'Slack request failed: ECONNABORTED; it may have been sent, so its claim is kept until 2024-05-14T02:14:40.000Z (a copy delivered before then is not sent)',
    });
    expect(await records.get('scripted', finding.id)).toMatchObject({ state: 'pending' });
    expect(await deliverOnce({ sink, finding, records, nowMs: NOW + 60_000, deadlineMs: NOW + 120_000 })).toMatchObject({ status: 'failed', retryable: true });
    expect(sink.calls).toHaveLength(1);
    expect(await deliverOnce({ sink, finding, records, nowMs: NOW + 90_000, deadlineMs: NOW + 150_000 })).toEqual({ status: 'delivered', ref: 'ref-2' });
    // The delivery after the lease is told when the kept claim began, so the sink can look for its message first.
    expect(sink.calls.map((c) => c.context.earlierAttemptMs)).toEqual([undefined, NOW]);
  });

  it('a resolution whose kept claims ran out is told when the earlier attempt began', async () => {
    const { sink, records } = setup();
    sink.answer({ status: 'failed', retryable: true, mayHaveSent: true, reason: 'Slack rejected the message: fatal_error' });
    await deliverOnce({ sink, finding: resolutionOf(finding), records, nowMs: NOW, deadlineMs: DEADLINE, leaseMs: 1_000 });
    expect(await deliverOnce({ sink, finding: resolutionOf(finding), records, nowMs: NOW + 2_000, deadlineMs: DEADLINE })).toEqual({ status: 'delivered', ref: 'ref-2' });
    expect(sink.calls.map((c) => c.context.earlierAttemptMs)).toEqual([undefined, NOW]);
  });

  it('a resolution that may have been sent keeps both claims', async () => {
    const { sink, records } = setup();
    const resolution = resolutionOf(finding);
    sink.answer({ status: 'failed', retryable: true, mayHaveSent: true, reason: 'Slack rejected the message: fatal_error' });
    expect(await deliverOnce({ sink, finding: resolution, records, nowMs: NOW, deadlineMs: DEADLINE })).toMatchObject({ status: 'failed', retryable: true });
    expect(await records.get('scripted', resolutionKey(finding.id))).toMatchObject({ state: 'pending' });
    expect(await records.get('scripted', finding.id)).toMatchObject({ state: 'pending' });
    expect(await deliverOnce({ sink, finding: resolution, records, nowMs: NOW + 1_000, deadlineMs: DEADLINE })).toMatchObject({ status: 'failed', retryable: true });
    expect(await deliverOnce({ sink, finding, records, nowMs: NOW + 1_000, deadlineMs: DEADLINE })).toMatchObject({ status: 'failed', retryable: true });
    expect(sink.calls).toHaveLength(1);
  });

  it('takes over a claim whose lease expired (the instance died mid-delivery)', async () => {
    const { sink, records } = setup();
    await records.claim('scripted', finding.id, NOW, 1_000);
    const blocked = await deliverOnce({ sink, finding, records, nowMs: NOW + 500, deadlineMs: DEADLINE });
    expect(blocked).toMatchObject({ status: 'failed', retryable: true });
    expect((blocked as { reason: string }).reason).toMatch(/^another delivery holds the claim until 2024-05-14T02:13:11\.000Z$/);
    expect(await deliverOnce({ sink, finding, records, nowMs: NOW + 1_000, deadlineMs: DEADLINE })).toEqual({ status: 'delivered', ref: 'ref-1' });
    expect(sink.calls[0]?.context).toEqual({ deadlineMs: DEADLINE, earlierAttemptMs: NOW });
  });

  it('claims for the time left until the deadline plus a margin by default', async () => {
    const { sink, records } = setup();
    sink.deliver = async (f, c) => {
      expect(await records.get('scripted', f.id)).toMatchObject({ state: 'pending', leaseUntilMs: DEADLINE + 30_000 });
      return ScriptedSink.prototype.deliver.call(sink, f, c);
    };
    await deliverOnce({ sink, finding, records, nowMs: NOW, deadlineMs: DEADLINE });
    expect(sink.calls).toHaveLength(1);
  });
});

/** Records whose `complete` fails its first `failures` calls (Firestore unavailable after the post went out). */
class FlakyCompleteRecords extends MemoryDeliveryRecordStore {
  completeCalls = 0;
  constructor(private failures: number) {
    super(() => NOW);
  }

  override complete(...args: Parameters<MemoryDeliveryRecordStore['complete']>): Promise<void> {
    this.completeCalls++;
    if (this.failures-- > 0) return Promise.reject(new Error('14 UNAVAILABLE: firestore unreachable'));
    return super.complete(...args);
  }
}

// A message that was sent must never make Pub/Sub redeliver it: after the claim's lease, that copy would send it
// again (Slack has no idempotency key).
describe('deliverOnce: marking a sent delivery fails', () => {
  it('retries the mark: one failure, then the record is delivered and nothing is said', async () => {
    const sink = new ScriptedSink();
    const records = new FlakyCompleteRecords(1);
    // The retries are bounded by the deadline (on the real clock; their waits are skipped, see the top of the file).
    expect(await deliverOnce({ sink, finding, records, nowMs: NOW, deadlineMs: Date.now() + 60_000 })).toEqual({ status: 'delivered', ref: 'ref-1' });
    expect(records.completeCalls).toBe(2);
    expect(await records.get('scripted', finding.id)).toMatchObject({ state: 'delivered', ref: 'ref-1' });
  });

  it('never throws: still failing, the outcome is delivered with the record error (notify logs it and acks)', async () => {
    const sink = new ScriptedSink();
    const records = new FlakyCompleteRecords(Infinity);
    const outcome = await deliverOnce({ sink, finding, records, nowMs: NOW, deadlineMs: Date.now() + 60_000 });
    expect(outcome).toEqual({ status: 'delivered', ref: 'ref-1', recordError: '14 UNAVAILABLE: firestore unreachable' });
    expect(sink.calls).toHaveLength(1);
    expect(records.completeCalls).toBe(4);
  });

  it('a resolution too', async () => {
    const sink = new ScriptedSink();
    const records = new FlakyCompleteRecords(0);
    await deliverOnce({ sink, finding, records, nowMs: NOW, deadlineMs: DEADLINE });
    const flaky = Object.assign(records, { failures: Infinity }) as unknown as FlakyCompleteRecords;
    const outcome = await deliverOnce({ sink, finding: resolutionOf(finding), records: flaky, nowMs: NOW, deadlineMs: Date.now() + 60_000 });
    expect(outcome).toMatchObject({ status: 'delivered', recordError: '14 UNAVAILABLE: firestore unreachable' });
    expect(sink.calls).toHaveLength(2);
  });
});

/** Records whose marking of one key as resolved fails as often as deliverOnce tries it, then works again. */
class KeyFailingRecords extends MemoryDeliveryRecordStore {
  private failures = 4;
  constructor(private readonly failingKey: string) {
    super(() => NOW);
  }

  override complete(...args: Parameters<MemoryDeliveryRecordStore['complete']>): Promise<void> {
    if (args[1] === this.failingKey && args[2] === 'resolved' && this.failures-- > 0) return Promise.reject(new Error('14 UNAVAILABLE: firestore unreachable'));
    return super.complete(...args);
  }
}

describe('deliverOnce: a resolution after its original cannot mark one of its records', () => {
  it.each([
    ['the original', finding.id],
    ['its own', resolutionKey(finding.id)],
  ])('%s: the other is still marked, so a copy delivered after the lease is a duplicate (no second thread reply)', async (_name, failingKey) => {
    const sink = new ScriptedSink();
    const records = new KeyFailingRecords(failingKey);
    const resolution = resolutionOf(finding);
    await deliverOnce({ sink, finding, records, nowMs: NOW, deadlineMs: DEADLINE });
    const sent = await deliverOnce({ sink, finding: resolution, records, nowMs: NOW + 1_000, deadlineMs: Date.now() + 60_000, leaseMs: 90_000 });
    expect(sent).toMatchObject({ status: 'delivered', ref: 'ref-2', recordError: '14 UNAVAILABLE: firestore unreachable' });
    const copy = await deliverOnce({ sink, finding: resolution, records, nowMs: NOW + 120_000, deadlineMs: NOW + 180_000 });
    expect(copy).toMatchObject({ status: 'duplicate', reason: 'already resolved' });
    expect(sink.calls).toHaveLength(2);
  });

  it('one that came first does not mark its own record while the tombstone is not written: the redelivery writes it', async () => {
    const sink = new ScriptedSink();
    const records = new KeyFailingRecords(finding.id);
    const resolution = resolutionOf(finding);
    const first = await deliverOnce({ sink, finding: resolution, records, nowMs: NOW, deadlineMs: Date.now() + 60_000, leaseMs: 90_000 });
    expect(first).toMatchObject({ status: 'failed', retryable: true });
    expect(await records.get('scripted', resolutionKey(finding.id))).toMatchObject({ state: 'pending' });
    expect(await deliverOnce({ sink, finding: resolution, records, nowMs: NOW + 90_000, deadlineMs: NOW + 150_000 })).toMatchObject({ status: 'delivered' });
    expect(await records.get('scripted', finding.id)).toMatchObject({ state: 'resolved' });
    expect(await deliverOnce({ sink, finding, records, nowMs: NOW + 200_000, deadlineMs: NOW + 260_000 })).toMatchObject({ status: 'duplicate', reason: 'already resolved' });
  });
});

// The exception: a resolution that came first leaves the record that turns its late original into a duplicate.
// Without it the original, arriving after the claim's lease, paged again and opened an alert nobody resolves.
describe('deliverOnce: a resolution that came first cannot mark the original', () => {
  it('is redelivered until the marks are written, and the late original never goes out', async () => {
    const sink = new ScriptedSink();
    const records = new FlakyCompleteRecords(Infinity);
    const resolution = resolutionOf(finding);
    const first = await deliverOnce({ sink, finding: resolution, records, nowMs: NOW, deadlineMs: Date.now() + 60_000, leaseMs: 90_000 });
    expect(first).toEqual({
      status: 'failed',
      retryable: true,
      reason: 'sent, but the record that keeps its late original from opening an alert was not written (14 UNAVAILABLE: firestore unreachable): a redelivery sends it again and writes it',
    });
    Object.assign(records, { failures: 0 }); // the store is back
    expect(await deliverOnce({ sink, finding, records, nowMs: NOW + 1_000, deadlineMs: DEADLINE })).toMatchObject({ status: 'failed', retryable: true });
    expect(await deliverOnce({ sink, finding: resolution, records, nowMs: NOW + 90_000, deadlineMs: NOW + 150_000 })).toEqual({ status: 'delivered', ref: 'ref-2' });
    expect(await deliverOnce({ sink, finding, records, nowMs: NOW + 200_000, deadlineMs: NOW + 260_000 })).toMatchObject({ status: 'duplicate', reason: 'already resolved' });
    expect(sink.calls.map((c) => c.finding.status)).toEqual([resolution.status, resolution.status]);
  });
});

// A resolution that came first claims its original's record as a tombstone. When that delivery went out but left
// its claims pending (its instance died before marking them, the marks failed, or the sink may have sent), the late
// original can outlive the lease: taking the expired tombstone over, it went out as an active alert (PagerDuty paged
// again for a closed alert, Slack posted the alert after its resolution) before the resolution's redelivery came.
describe('deliverOnce: a late original that outlives the claims of a resolution that came first', () => {
  const resolution = resolutionOf(finding);

  it.each<[string, () => { sink: ScriptedSink; records: MemoryDeliveryRecordStore }]>([
    ['the sink may have sent it (a Slack timeout)', () => {
      const sink = new ScriptedSink().answer({ status: 'failed', retryable: true, mayHaveSent: true, reason: 'Slack request failed: ECONNABORTED' });
      return { sink, records: new MemoryDeliveryRecordStore(() => NOW) };
    }],
    ['it was sent, but its records could not be marked', () => ({ sink: new ScriptedSink(), records: new FlakyCompleteRecords(4) })],
  ])('%s: the original waits for the resolution and never goes out', async (_name, make) => {
    const { sink, records } = make();
    const first = await deliverOnce({ sink, finding: resolution, records, nowMs: NOW, deadlineMs: Date.now() + 60_000, leaseMs: 90_000 });
    expect(first).toMatchObject({ status: 'failed', retryable: true });
    // The original's redelivery comes after the lease, before the resolution's.
    const late = await deliverOnce({ sink, finding, records, nowMs: NOW + 90_000, deadlineMs: NOW + 150_000 });
    expect(late).toMatchObject({ status: 'failed', retryable: true });
    expect(sink.calls.map((c) => c.finding.status)).toEqual([resolution.status]);
    // The resolution's redelivery takes its claims over (the sink is told when it began) and writes the records.
    expect(await deliverOnce({ sink, finding: resolution, records, nowMs: NOW + 91_000, deadlineMs: NOW + 151_000 })).toMatchObject({ status: 'delivered' });
    expect(sink.calls[1]?.context).toMatchObject({ originalDelivered: false, earlierAttemptMs: NOW });
    expect(await deliverOnce({ sink, finding, records, nowMs: NOW + 200_000, deadlineMs: NOW + 260_000 })).toMatchObject({ status: 'duplicate', reason: 'already resolved' });
    expect(sink.calls.map((c) => c.finding.status)).toEqual([resolution.status, resolution.status]);
  });
});

/** Records that run `between` once, right after a claim of `key` is won: another instance acting in that gap. */
class GapRecords extends MemoryDeliveryRecordStore {
  private between: (() => Promise<unknown>) | undefined;
  constructor(private readonly key: string) {
    super(() => NOW);
  }

  arm(between: () => Promise<unknown>): void {
    this.between = between;
  }

  override async claim(...args: Parameters<MemoryDeliveryRecordStore['claim']>): ReturnType<MemoryDeliveryRecordStore['claim']> {
    const result = await super.claim(...args);
    const run = this.between;
    if (result.claimed && args[1] === this.key && run) {
      this.between = undefined;
      await run();
    }
    return result;
  }
}

// The resolution's redelivery takes its own expired claim over first and the original's tombstone next: a late
// original that claims the original's record in between finds the resolution's record pending with a live lease.
// That is not "a resolution that has not claimed this record yet" (the comment in deliverFinding): this one went out
// before, and the original then went out as an active alert after its close (PagerDuty paged again, Slack posted the
// alert under its resolution) - the very thing a late original that outlives the claims is to wait for.
describe('deliverOnce: a late original between the claims of a resolution taking its expired claims over', () => {
  const resolution = resolutionOf(finding);

  it.each([
    ['its first copy', false],
    ['a copy after one that waited', true],
  ])('%s: the original does not go out after its resolution', async (_name, waitedBefore) => {
    const sink = new ScriptedSink().answer({ status: 'failed', retryable: true, mayHaveSent: true, reason: 'Slack request failed: ECONNABORTED' });
    const outcomes: unknown[] = [];
    const records = new GapRecords(resolutionKey(finding.id));
    expect(await deliverOnce({ sink, finding: resolution, records, nowMs: NOW, deadlineMs: Date.now() + 60_000, leaseMs: 90_000 })).toMatchObject({ status: 'failed', retryable: true });
    records.arm(async () => {
      outcomes.push(await deliverOnce({ sink, finding, records, nowMs: NOW + 91_000, deadlineMs: NOW + 151_000 }));
    });
    if (waitedBefore) expect(await deliverOnce({ sink, finding, records, nowMs: NOW + 90_000, deadlineMs: NOW + 150_000 })).toMatchObject({ status: 'failed', retryable: true });
    await deliverOnce({ sink, finding: resolution, records, nowMs: NOW + 91_000, deadlineMs: NOW + 151_000 });
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).not.toMatchObject({ status: 'delivered' });
    expect(sink.calls.filter((c) => c.finding.status !== 'resolved')).toEqual([]);
    // Whatever the order of the copies after it, the resolution ends resolved and the original never goes out.
    for (let t = 200_000; (await records.get('scripted', resolutionKey(finding.id)))?.state !== 'resolved' && t < 2_000_000; t += 100_000) {
      await deliverOnce({ sink, finding: resolution, records, nowMs: NOW + t, deadlineMs: NOW + t + 60_000 });
      await deliverOnce({ sink, finding, records, nowMs: NOW + t + 1, deadlineMs: NOW + t + 60_000 });
    }
    expect(await deliverOnce({ sink, finding, records, nowMs: NOW + 3_000_000, deadlineMs: NOW + 3_060_000 })).toMatchObject({ status: 'duplicate', reason: 'already resolved' });
    expect(sink.calls.filter((c) => c.finding.status !== 'resolved')).toEqual([]);
  });
});

// The other order: the late original takes the expired tombstone over first, and the resolution's redelivery, taking
// its own expired claim over, finds the original's record held and releases its claim - the only record left that
// said a resolution went out. The original then reads no resolution at all and goes out as an active alert.
describe('deliverOnce: a resolution taking its expired claim over while a late original holds the tombstone', () => {
  it('does not drop the record that keeps the original from going out after it', async () => {
    const resolution = resolutionOf(finding);
    const sink = new ScriptedSink().answer({ status: 'failed', retryable: true, mayHaveSent: true, reason: 'Slack request failed: ECONNABORTED' });
    const records = new GapRecords(finding.id);
    expect(await deliverOnce({ sink, finding: resolution, records, nowMs: NOW, deadlineMs: Date.now() + 60_000, leaseMs: 90_000 })).toMatchObject({ status: 'failed', retryable: true });
    const redelivered: unknown[] = [];
    records.arm(async () => {
      redelivered.push(await deliverOnce({ sink, finding: resolution, records, nowMs: NOW + 91_000, deadlineMs: NOW + 151_000 }));
    });
    const late = await deliverOnce({ sink, finding, records, nowMs: NOW + 91_000, deadlineMs: NOW + 151_000 });
    expect(redelivered).toEqual([{ status: 'failed', retryable: true, reason: 'the original finding is still being delivered; retry the resolution later' }]);
    expect(late).not.toMatchObject({ status: 'delivered' });
    expect(sink.calls.filter((c) => c.finding.status !== 'resolved')).toEqual([]);
  });
});

describe('deliverOnce: resolutions', () => {
  const resolution = resolutionOf(finding);

  it('passes the original ref as previousRef, then records both as resolved', async () => {
    const { sink, records } = setup();
    await deliverOnce({ sink, finding, records, nowMs: NOW, deadlineMs: DEADLINE });
    const outcome = await deliverOnce({ sink, finding: resolution, records, nowMs: NOW + 1, deadlineMs: DEADLINE });
    expect(outcome).toEqual({ status: 'delivered', ref: 'ref-2' });
    expect(sink.calls[1]?.context).toEqual({ deadlineMs: DEADLINE, previousRef: 'ref-1', originalDelivered: true });
    expect(await records.get('scripted', finding.id)).toMatchObject({ state: 'resolved', ref: 'ref-1' });
    expect(await records.get('scripted', resolutionKey(finding.id))).toMatchObject({ state: 'resolved', ref: 'ref-2' });
  });

  it('sends a repeated resolution once', async () => {
    const { sink, records } = setup();
    await deliverOnce({ sink, finding, records, nowMs: NOW, deadlineMs: DEADLINE });
    await deliverOnce({ sink, finding: resolution, records, nowMs: NOW, deadlineMs: DEADLINE });
    const again = await Promise.all([1, 2, 3].map(() => deliverOnce({ sink, finding: resolution, records, nowMs: NOW, deadlineMs: DEADLINE })));
    expect(again.map((o) => o.status)).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(sink.calls).toHaveLength(2);
  });

  it('delivers a resolution that arrives first, and the late original becomes a duplicate', async () => {
    const { sink, records } = setup();
    expect(await deliverOnce({ sink, finding: resolution, records, nowMs: NOW, deadlineMs: DEADLINE })).toEqual({ status: 'delivered', ref: 'ref-1' });
    // originalSent: how a sink that sends the finding as a step of its own (PagerDuty's trigger) has it recorded at once.
    expect(sink.calls[0]?.context).toEqual({ deadlineMs: DEADLINE, originalDelivered: false, originalSent: expect.any(Function) });
    expect(await deliverOnce({ sink, finding, records, nowMs: NOW, deadlineMs: DEADLINE })).toEqual({ status: 'duplicate', reason: 'already resolved' });
    expect(sink.calls).toHaveLength(1);
  });

  it('waits (retryable) while the original is still in flight', async () => {
    const { sink, records } = setup();
    await records.claim('scripted', finding.id, NOW, 60_000);
    const outcome = await deliverOnce({ sink, finding: resolution, records, nowMs: NOW, deadlineMs: DEADLINE });
    expect(outcome).toEqual({ status: 'failed', retryable: true, reason: 'the original finding is still being delivered; retry the resolution later' });
    expect(sink.calls).toHaveLength(0);
    expect(await records.get('scripted', resolutionKey(finding.id))).toBeUndefined();
  });

  it('releases both claims when the resolution fails, so it is tried again', async () => {
    const { sink, records } = setup();
    sink.answer({ status: 'failed', retryable: true, reason: 'HTTP 500' });
    expect(await deliverOnce({ sink, finding: resolution, records, nowMs: NOW, deadlineMs: DEADLINE })).toMatchObject({ status: 'failed', retryable: true });
    expect(await records.get('scripted', finding.id)).toBeUndefined();
    expect(await records.get('scripted', resolutionKey(finding.id))).toBeUndefined();
    expect(await deliverOnce({ sink, finding: resolution, records, nowMs: NOW, deadlineMs: DEADLINE })).toEqual({ status: 'delivered', ref: 'ref-2' });
  });

  // An original's claim kept after an answer that may mean sent (a Slack timeout) runs out; its resolution comes next,
  // takes it over as its tombstone, and fails. Dropping that claim left the original's redelivery a fresh claim: it
  // posted again without looking in the channel for the copy the first attempt may have left there.
  it('a resolution that failed after taking over its original\'s expired claim leaves it, so the original still looks for its first attempt', async () => {
    const { sink, records } = setup();
    sink.answer({ status: 'failed', retryable: true, mayHaveSent: true, reason: 'Slack request failed: TimeoutError' });
    await deliverOnce({ sink, finding, records, nowMs: NOW, deadlineMs: NOW + 1_000, leaseMs: 1_000 });
    sink.answer({ status: 'failed', retryable: true, reason: 'Slack rate limited the call (Retry-After 120 s)', retryAfterMs: 120_000 });
    expect(await deliverOnce({ sink, finding: resolution, records, nowMs: NOW + 2_000, deadlineMs: NOW + 3_000, leaseMs: 1_000 })).toMatchObject({ status: 'failed', retryable: true });
    // The original's redelivery, once the resolution's lease ran out too: told when its own first attempt began.
    await deliverOnce({ sink, finding, records, nowMs: NOW + 4_000, deadlineMs: NOW + 5_000, leaseMs: 1_000 });
    expect(sink.calls.map((c) => [c.finding === resolution ? 'resolution' : 'finding', c.context.earlierAttemptMs])).toEqual([
      ['finding', undefined],
      ['resolution', undefined],
      ['finding', NOW],
    ]);
  });

  it('keeps the original record delivered when a resolution fails after it was sent', async () => {
    const { sink, records } = setup();
    await deliverOnce({ sink, finding, records, nowMs: NOW, deadlineMs: DEADLINE });
    sink.answer({ status: 'failed', retryable: false, reason: 'invalid' });
    await deliverOnce({ sink, finding: resolution, records, nowMs: NOW, deadlineMs: DEADLINE });
    expect(await records.get('scripted', finding.id)).toMatchObject({ state: 'delivered', ref: 'ref-1' });
  });

  it('completes a resolution whose earlier attempt died after resolving the original', async () => {
    const { sink, records } = setup();
    await records.complete('scripted', finding.id, 'resolved', 'ref-0');
    expect(await deliverOnce({ sink, finding: resolution, records, nowMs: NOW, deadlineMs: DEADLINE })).toEqual({ status: 'duplicate', reason: 'already resolved', ref: 'ref-0' });
    expect(sink.calls).toHaveLength(0);
    expect(await records.get('scripted', resolutionKey(finding.id))).toMatchObject({ state: 'resolved' });
  });
});

describe('retryWithinDeadline', () => {
  const policy: RetryPolicy = { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 1_000, attemptTimeoutMs: 5_000, minAttemptMs: 50 };

  /** A clock that advances only when slept on (or by the attempt's simulated duration). */
  function fakeClock(start = 0): RetryClock & { slept: number[]; t: number } {
    const clock = {
      t: start,
      slept: [] as number[],
      now: () => clock.t,
      sleep: (ms: number) => {
        clock.slept.push(ms);
        clock.t += ms;
        return Promise.resolve();
      },
      random: () => 1,
    };
    return clock;
  }

  const fail = (extra: Partial<{ retryable: boolean; retryAfterMs: number }> = {}): DeliveryResult => ({ status: 'failed', retryable: true, reason: 'x', ...extra });

  it('retries retryable failures with exponential backoff until success', async () => {
    const clock = fakeClock();
    const results = [fail(), fail(), { status: 'delivered' } as const];
    const timeouts: number[] = [];
    const out = await retryWithinDeadline((t) => (timeouts.push(t), Promise.resolve(results.shift()!)), 10_000, policy, clock);
    expect(out).toEqual({ status: 'delivered' });
    expect(clock.slept).toEqual([100, 200]);
    expect(timeouts).toEqual([5_000, 5_000, 5_000]);
  });

  it('does not retry permanent failures', async () => {
    const clock = fakeClock();
    let calls = 0;
    const out = await retryWithinDeadline(() => (calls++, Promise.resolve(fail({ retryable: false }))), 10_000, policy, clock);
    expect(out).toMatchObject({ retryable: false });
    expect(calls).toBe(1);
  });

  it('does not retry a failure that may have sent (it would send twice)', async () => {
    const clock = fakeClock();
    let calls = 0;
    const ambiguous: DeliveryResult = { status: 'failed', retryable: true, mayHaveSent: true, reason: 'timeout' };
    expect(await retryWithinDeadline(() => (calls++, Promise.resolve(ambiguous)), 10_000, policy, clock)).toEqual(ambiguous);
    expect(calls).toBe(1);
  });

  it('stops after maxAttempts and returns the last failure', async () => {
    const clock = fakeClock();
    let calls = 0;
    const out = await retryWithinDeadline(() => (calls++, Promise.resolve(fail())), 1_000_000, policy, clock);
    expect(calls).toBe(4);
    expect(clock.slept).toEqual([100, 200, 400]);
    expect(out).toEqual(fail());
  });

  it('honours Retry-After exactly, and gives the wait back when it does not fit before the deadline', async () => {
    const clock = fakeClock();
    const results = [fail({ retryAfterMs: 700 }), fail({ retryAfterMs: 30_000 })];
    let calls = 0;
    const out = await retryWithinDeadline(() => (calls++, Promise.resolve(results.shift()!)), 5_000, policy, clock);
    expect(clock.slept).toEqual([700]);
    expect(calls).toBe(2);
    expect(out).toEqual(fail({ retryAfterMs: 30_000 }));
  });

  it('cuts the attempt timeout to the time left and starts nothing too close to the deadline', async () => {
    const clock = fakeClock(0);
    const timeouts: number[] = [];
    await retryWithinDeadline((t) => (timeouts.push(t), Promise.resolve(fail())), 1_000, policy, clock);
    expect(timeouts).toEqual([1_000, 900, 700, 300]);
    // At t=300 the next backoff (400 ms) plus the minimum attempt (50 ms) would end past 720: no fourth attempt.
    const short: number[] = [];
    await retryWithinDeadline((t) => (short.push(t), Promise.resolve(fail())), 720, policy, fakeClock(0));
    expect(short).toEqual([720, 620, 420]);
    const none = await retryWithinDeadline(() => Promise.resolve({ status: 'delivered' }), 40, policy, fakeClock(0));
    expect(none).toEqual({ status: 'failed', retryable: true, reason: 'no time left before the deadline to attempt delivery' });
  });

  it('backoff doubles, is capped, and jitters between 50 and 100 %', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, policy, 1))).toEqual([100, 200, 400, 800, 1_000]);
    expect(backoffMs(3, policy, 0)).toBe(200);
  });

  it('reads Retry-After in seconds and as an HTTP date', () => {
    expect(parseRetryAfter('7', 0)).toBe(7_000);
    expect(parseRetryAfter(' 0 ', 0)).toBe(0);
    expect(parseRetryAfter('Tue, 14 May 2024 02:13:20 GMT', Date.parse('2024-05-14T02:13:10Z'))).toBe(10_000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(null, 0)).toBeUndefined();
  });
});
