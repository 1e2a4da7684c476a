// Exactly-once delivery on top of at-least-once input, the same way for every sink (no branch per sink here), plus
// the bounded retry loop the sinks share.
//
// Records (see deliveryRecords.ts) are keyed by (sink, finding id):
//   - an active finding claims `id`, is sent, and the record becomes `delivered` with the sink's ref (Slack
//     `channel:ts`, SCC finding name, PagerDuty dedup key);
//   - a resolution claims its own key `id:resolution` (so two copies of the same resolution cannot both post a
//     thread reply), reads the original's ref as `previousRef`, is sent, and both records become `resolved`.
//     A resolution that arrives before its original (Pub/Sub is unordered) still goes out - with
//     `originalDelivered: false`, and sinks then report the whole finding as already resolved (PagerDuty: a
//     trigger, then the resolve), so a brief exposure is never hidden - and it leaves a `resolved` record
//     under `id`, so the late original is reported as a duplicate instead of opening an alert nobody closes.
//     When the record it finds under `id` is a claim of the original's whose lease ran out, it takes it over just
//     the same, and tells the sink when that attempt began (`originalAttemptMs`): the original may have gone out,
//     and Slack looks for it to reply in its thread rather than post the whole finding a second time.
//
// Failure handling:
//   - retryable: the claim (a fresh one: see below) is released and the outcome says retryable; `notify` answers
//     non-2xx so Pub/Sub redelivers with backoff. When the sink says it may have sent all the same (`mayHaveSent`:
//     a Slack timeout), the claim is kept until its lease ends, so redeliveries meanwhile do not post copies; the
//     delivery that takes the claim over afterwards is told when the earlier one began (`earlierAttemptMs`), so the
//     sink can look for its message before sending again.
//   - permanent: the claim is released too and the outcome says not retryable, with the sink's reason. `notify`
//     must log it with the reason, count it, publish it to the dead-letter topic and ack: that is what stops it
//     being retried forever. The record is deliberately NOT marked delivered: nothing reached the destination, and
//     once the cause is fixed (bot invited to the channel, source created) a replay of the dead letter must go out.
//   - a claim taken over from an attempt whose lease ran out is kept until its own lease ends, whatever the failure
//     (retryable or permanent, as the sink said): that attempt may have sent, and a definite failure of this one says
//     nothing about it. For a finding, the kept claim's firstClaimedMs is what tells the next delivery to look for the
//     earlier message (earlierAttemptMs); released, that one claimed afresh and Slack posted a second copy. For a
//     resolution, its own record is what keeps the late original from going out as an active alert after its close
//     (PagerDuty: a second page, and after a permanent failure an alert nobody resolves): the original waits
//     (retryable) until the resolution's redelivery, or the redrive of its dead letter, takes the claim over when its
//     lease ends and writes both records. A resolution that took over its original's expired claim keeps that one
//     too: the attempt that made it may have sent the finding, and the finding's redelivery must be told so.
//   - a resolution that came first whose sink sends the finding as a step of its own (PagerDuty: the trigger, then the
//     resolve) has the original's record marked `delivered` as soon as that step went out (`originalSent`), so if the
//     resolve then fails, or the instance dies before the records are written, the redelivery sends only the resolve
//     and the late original is a duplicate. Left to the end, the claims were dropped or ran out and the trigger went
//     again, which opens a second alert (a second page) after a resolve that went through.
//   - a sink returning `skipped` sent nothing: the claim is released, so the record only ever means "sent".
//   - sent, but the records could not be marked: a finding is reported delivered (notify logs the record error and
//     acks: a redelivery would post it again); a resolution that came first is reported retryable instead, because
//     its `resolved` record is what keeps the late original from opening an alert. A late original that finds that
//     resolution's record still pending (its lease run out, or taken over by the resolution's redelivery) waits for
//     the resolution's redelivery (which writes it) instead of going out as an alert after its close; and that
//     redelivery, finding the original held, keeps the claim it took over (it may stand for a resolution sent).
//     A late original stepping back so, from a claim it took over (its own earlier attempt may have sent it), ends
//     that claim instead of dropping it (`expire`): the resolution takes it over and is told so (originalAttemptMs).
import { errorMessage } from '../functions/errors.js';
import type { Finding } from '../functions/findings/finding.js';
import type { ClaimResult, DeliveryRecord, DeliveryRecordStore } from './deliveryRecords.js';
import type { DeliveryContext, DeliveryResult, Sink } from './sink.js';

export type DeliveryOutcome =
  | {
      readonly status: 'delivered' | 'duplicate' | 'skipped';
      readonly ref?: string;
      readonly reason?: string;
      /** Sent, but the record could not be marked so: a copy delivered after the claim's lease would send it again. */
      readonly recordError?: string;
    }
  | { readonly status: 'failed'; readonly retryable: boolean; readonly reason: string };

export interface DeliverOnceOptions {
  readonly sink: Sink;
  readonly finding: Finding;
  readonly records: DeliveryRecordStore;
  readonly nowMs: number;
  /** Epoch ms by which the sink must be done (the function's deadline). */
  readonly deadlineMs: number;
  /**
   * How long a claim protects an in-flight delivery before another instance may take over. Default: the time
   * left until the deadline plus 30 s, so a live delivery is never doubled and a dead instance's claim expires.
   */
  readonly leaseMs?: number;
}

const LEASE_MARGIN_MS = 30_000;

/** The record key of a finding's resolution, beside the finding's own record. */
export function resolutionKey(findingId: string): string {
  return `${findingId}:resolution`;
}

export function isResolution(finding: Finding): boolean {
  return finding.status === 'resolved' || finding.resolution !== undefined;
}

export function deliverOnce(options: DeliverOnceOptions): Promise<DeliveryOutcome> {
  return isResolution(options.finding) ? deliverResolution(options) : deliverFinding(options);
}

async function deliverFinding(o: DeliverOnceOptions): Promise<DeliveryOutcome> {
  const { sink, finding, records } = o;
  const claim = await records.claim(sink.name, finding.id, o.nowMs, leaseOf(o));
  if (!claim.claimed) return alreadyHandled(claim.record);
  // A resolution that came first holds this record as its tombstone until it marks it resolved. When it went out but
  // left its claims pending (its instance died, the marks failed, the sink may have sent), this claim took the
  // expired tombstone over: the finding is resolved, or its resolution is still to be redelivered, and sending it
  // now would open an alert after its close (PagerDuty pages again). The resolution's own record says which. A live
  // claim on it is no better: it may be the redelivery of one that went out, which took its own expired claim over
  // and is about to claim this record (it then finds it free, sends again and writes both records).
  const resolution = await records.get(sink.name, resolutionKey(finding.id));
  if (resolution?.state === 'resolved') {
    await records.complete(sink.name, finding.id, 'resolved');
    return { status: 'duplicate', reason: 'already resolved' };
  }
  if (resolution?.state === 'pending') {
    // A claim taken over from an attempt that may have sent is ended, not dropped: the resolution then takes it over
    // and is told when that attempt began (originalAttemptMs), so Slack replies in the thread of a message it left
    // instead of posting the whole finding a second time beside it.
    if (claim.takenOverFromMs !== undefined) await records.expire(sink.name, finding.id);
    else await records.release(sink.name, finding.id);
    return { status: 'failed', retryable: true, reason: 'a resolution of this finding came first and has not finished; retry the finding after it' };
  }
  const result = await safeDeliver(sink, finding, { deadlineMs: o.deadlineMs, ...earlierAttempt(claim) });
  if (result.status === 'delivered') {
    const recordError = await recordSent(o, [() => records.complete(sink.name, finding.id, 'delivered', result.ref)]);
    return delivered(result.ref, recordError);
  }
  if (result.status === 'failed' && result.mayHaveSent) return claimKept(result, o);
  // A claim taken over from an attempt whose lease ran out stays until this lease ends, whatever this attempt's
  // failure: that attempt may have sent the finding, and only this claim (its firstClaimedMs) tells the next delivery
  // so (earlierAttemptMs), so that Slack looks in the channel before posting. Released, the next one claims afresh and
  // posts a second copy.
  if (result.status === 'failed' && claim.takenOverFromMs !== undefined) return takenOverKept(result, o);
  await records.release(sink.name, finding.id);
  return notDelivered(result);
}

async function deliverResolution(o: DeliverOnceOptions): Promise<DeliveryOutcome> {
  const { sink, finding, records } = o;
  const key = resolutionKey(finding.id);
  const claim = await records.claim(sink.name, key, o.nowMs, leaseOf(o));
  if (!claim.claimed) return alreadyHandled(claim.record);

  // Claiming the original's key either finds its record or, when it never went out, reserves a tombstone.
  const original = await records.claim(sink.name, finding.id, o.nowMs, leaseOf(o));
  if (!original.claimed) {
    if (original.record.state === 'pending') {
      // A claim taken over from an earlier attempt stays: that attempt may have sent the resolution, and this record
      // is what keeps a late original (holding its record now) from going out as an alert after it. It expires with
      // its lease; the attempt that takes it over looks for the message from the first attempt on (firstClaimedMs).
      if (claim.takenOverFromMs === undefined) await records.release(sink.name, key);
      return { status: 'failed', retryable: true, reason: 'the original finding is still being delivered; retry the resolution later' };
    }
    if (original.record.state === 'resolved') {
      // An earlier attempt resolved it but died before completing its own claim.
      await records.complete(sink.name, key, 'resolved', original.record.ref);
      return { status: 'duplicate', reason: 'already resolved', ...refOf(original.record.ref) };
    }
  }
  const previousRef = original.claimed ? undefined : original.record.ref;
  const result = await safeDeliver(sink, finding, {
    deadlineMs: o.deadlineMs,
    ...(previousRef !== undefined ? { previousRef } : {}),
    // Past the checks above, an original that was not claimed now is `delivered`.
    originalDelivered: !original.claimed,
    ...earlierAttempt(claim),
    // An original's claim taken over: the attempt that made it may have sent the finding after all.
    ...(original.claimed && original.takenOverFromMs !== undefined ? { originalAttemptMs: original.takenOverFromMs } : {}),
    // The original we hold as a tombstone, sent as a step of its own: recorded delivered at once (see the header).
    ...(original.claimed ? { originalSent: (ref: string) => markOriginalSent(o, ref) } : {}),
  });
  if (result.status === 'delivered') {
    // Either record, once `resolved`, turns a later copy of this resolution into a duplicate, so after a delivered
    // original both are tried whatever happens to the first. A tombstone must be written before the resolution's own
    // record: a redelivery that finds this one resolved would stop there and leave the tombstone pending.
    const recordError = await recordSent(
      o,
      [() => records.complete(sink.name, finding.id, 'resolved', previousRef), () => records.complete(sink.name, key, 'resolved', result.ref)],
      { untilFirstFailure: original.claimed },
    );
    if (recordError !== undefined && original.claimed) {
      // Unlike a finding's, this record must exist: without it the late original, once the claim's lease ran out,
      // would go out as an alert nobody resolves. So Pub/Sub redelivers (the claims expire with their lease), and
      // that copy sends the resolution again (a rare duplicate) and writes the records.
      return {
        status: 'failed',
        retryable: true,
        reason: `sent, but the record that keeps its late original from opening an alert was not written (${recordError}): a redelivery sends it again and writes it`,
      };
    }
    return delivered(result.ref, recordError);
  }
  // Both claims stay: a late original must not go out as an open alert while this resolution may be in the channel.
  if (result.status === 'failed' && result.mayHaveSent) return claimKept(result, o);
  // A claim of its own taken over from an attempt whose lease ran out stays too, whatever this attempt's failure: that
  // attempt may have sent the resolution (a resolution that came first: the whole finding, as already resolved), and
  // this record is what keeps the late original from going out after it as an active alert (PagerDuty: a second page
  // for a closed alert, and after a permanent failure one nobody resolves). The original waits for it; the
  // resolution's redelivery, or the redrive of its dead letter, takes it over once its lease ends and writes it.
  const keepOwn = result.status === 'failed' && claim.takenOverFromMs !== undefined;
  if (!keepOwn) await records.release(sink.name, key);
  // An original's claim taken over from an attempt whose lease ran out stays too (until this lease ends): that
  // attempt may have sent the finding, and the claim's firstClaimedMs is what tells the finding's redelivery to look
  // for it before sending; dropped, the redelivery would claim afresh and post a second copy.
  // (A release leaves a record the sink's originalSent marked delivered as it is: it drops only a pending claim.)
  if (original.claimed && original.takenOverFromMs === undefined) await records.release(sink.name, finding.id);
  return keepOwn ? takenOverKept(result, o) : notDelivered(result);
}

/**
 * DeliveryContext.originalSent: marks the original of a resolution delivered (its `ref`), retrying briefly. Never
 * rejects: unwritten, the claim stays the tombstone it was, and a later delivery may send the finding again (the old
 * rare duplicate), which is no reason to stop this one.
 */
async function markOriginalSent(o: DeliverOnceOptions, ref: string): Promise<void> {
  await recordSent(o, [() => o.records.complete(o.sink.name, o.finding.id, 'delivered', ref)]);
}

/**
 * A failure after which the destination may hold the message: the claim is not released, so a redelivery before
 * its lease ends waits instead of sending a second copy, and one after it sends again (a rare duplicate rather than
 * a lost alert). outputs.md 4: Slack's timeouts, `internal_error` and `fatal_error` are ambiguous.
 */
function claimKept(result: { readonly reason: string }, o: DeliverOnceOptions): DeliveryOutcome {
  const until = new Date(o.nowMs + leaseOf(o)).toISOString();
  return { status: 'failed', retryable: true, reason: `${result.reason}; it may have been sent, so its claim is kept until ${until} (a copy delivered before then is not sent)` };
}

/**
 * A definite failure of a delivery whose claim was taken over from an earlier attempt that may have sent: the claim
 * is kept until its lease ends (see deliverFinding, deliverResolution); retryable or not, as the sink said.
 */
function takenOverKept(result: { readonly retryable: boolean; readonly reason: string }, o: DeliverOnceOptions): DeliveryOutcome {
  const until = new Date(o.nowMs + leaseOf(o)).toISOString();
  return { status: 'failed', retryable: result.retryable, reason: `${result.reason}; an earlier attempt may have sent it, so the claim taken over from it is kept until ${until}` };
}

/** DeliveryContext.earlierAttemptMs of a claim that took over one whose lease ran out. */
function earlierAttempt(claim: ClaimResult): { earlierAttemptMs?: number } {
  return claim.claimed && claim.takenOverFromMs !== undefined ? { earlierAttemptMs: claim.takenOverFromMs } : {};
}

function leaseOf(o: DeliverOnceOptions): number {
  return o.leaseMs ?? Math.max(o.deadlineMs - o.nowMs, 0) + LEASE_MARGIN_MS;
}

function alreadyHandled(record: DeliveryRecord): DeliveryOutcome {
  switch (record.state) {
    case 'pending':
      return { status: 'failed', retryable: true, reason: `another delivery holds the claim until ${new Date(record.leaseUntilMs ?? 0).toISOString()}` };
    case 'delivered':
      return { status: 'duplicate', reason: 'already delivered', ...refOf(record.ref) };
    case 'resolved':
      return { status: 'duplicate', reason: 'already resolved', ...refOf(record.ref) };
  }
}

/** A sink is meant to return failures, not throw them; a throw is a bug, so it is not retried. */
async function safeDeliver(sink: Sink, finding: Finding, context: DeliveryContext): Promise<DeliveryResult> {
  try {
    return await sink.deliver(finding, context);
  } catch (error) {
    return { status: 'failed', retryable: false, reason: `sink ${sink.name} threw: ${messageOf(error)}` };
  }
}

function delivered(ref: string | undefined, recordError: string | undefined): DeliveryOutcome {
  return { status: 'delivered', ...refOf(ref), ...(recordError !== undefined ? { recordError } : {}) };
}

/** Tries to mark a sent delivery in its records a few times (in order), within the deadline and a little beyond. */
const RECORD_ATTEMPTS = 4;
const RECORD_BACKOFF_MS = 250;

/**
 * Marks what was sent, retrying briefly. It never throws: the message was sent, and failing here would make Pub/Sub
 * redeliver it, and that copy, once the claim's lease ran out, would send it a second time (Slack has no idempotency
 * key). Undefined when every mark was written, else why not (notify logs it as an error and acks).
 */
async function recordSent(
  o: DeliverOnceOptions,
  marks: readonly (() => Promise<void>)[],
  { untilFirstFailure = true }: { readonly untilFirstFailure?: boolean } = {},
  clock: RetryClock = systemClock,
): Promise<string | undefined> {
  let failure: string | undefined;
  for (const mark of marks) {
    for (let attempt = 1; ; attempt++) {
      try {
        await mark();
        break;
      } catch (error) {
        const wait = RECORD_BACKOFF_MS * 2 ** (attempt - 1);
        if (attempt >= RECORD_ATTEMPTS || clock.now() + wait > o.deadlineMs + LEASE_MARGIN_MS / 2) {
          failure ??= messageOf(error);
          break;
        }
        await clock.sleep(wait);
      }
    }
    if (failure !== undefined && untilFirstFailure) return failure;
  }
  return failure;
}

function notDelivered(result: Exclude<DeliveryResult, { status: 'delivered' }>): DeliveryOutcome {
  return result.status === 'skipped'
    ? { status: 'skipped', reason: result.reason }
    : { status: 'failed', retryable: result.retryable, reason: result.reason };
}

function refOf(ref: string | undefined): { ref?: string } {
  return ref !== undefined ? { ref } : {};
}

/** errorMessage under the name the sinks use. */
export const messageOf = errorMessage;

// ---------------------------------------------------------------------------------------------------------------
// Bounded retries inside the deadline, shared by the sinks that talk to the network.

export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  readonly maxAttempts: number;
  /** Backoff before the second attempt; doubles per attempt up to `maxDelayMs`, with jitter (50-100 %). */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Upper bound of one attempt (the request timeout); an attempt is also cut to the time left. */
  readonly attemptTimeoutMs: number;
  /** No attempt starts with less than this left before the deadline: it could not finish in time. */
  readonly minAttemptMs: number;
}

export interface RetryClock {
  now(): number;
  sleep(ms: number): Promise<void>;
  /** In [0, 1): the jitter source. */
  random(): number;
}

export const systemClock: RetryClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: () => Math.random(),
};

/**
 * Runs `attempt` until it succeeds, fails permanently, runs out of attempts, or the next try (after its backoff
 * or the server's Retry-After, which is honoured as given) could not finish before `deadlineMs`. The last
 * retryable failure is returned as is (with its `retryAfterMs`), so the caller hands it to Pub/Sub redelivery:
 * a wait longer than the function has left is Pub/Sub's job, not ours.
 */
export async function retryWithinDeadline(
  attempt: (timeoutMs: number) => Promise<DeliveryResult>,
  deadlineMs: number,
  policy: RetryPolicy,
  clock: RetryClock = systemClock,
): Promise<DeliveryResult> {
  let last: Extract<DeliveryResult, { status: 'failed' }> | undefined;
  for (let n = 1; n <= policy.maxAttempts; n += 1) {
    const left = deadlineMs - clock.now();
    if (left < policy.minAttemptMs) break;
    const result = await attempt(Math.min(policy.attemptTimeoutMs, left));
    if (result.status !== 'failed' || !result.retryable || result.mayHaveSent) return result;
    last = result;
    if (n === policy.maxAttempts) break;
    const wait = result.retryAfterMs ?? backoffMs(n, policy, clock.random());
    if (clock.now() + wait + policy.minAttemptMs > deadlineMs) break;
    await clock.sleep(wait);
  }
  return last ?? { status: 'failed', retryable: true, reason: 'no time left before the deadline to attempt delivery' };
}

export function backoffMs(attemptNumber: number, policy: RetryPolicy, random: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attemptNumber - 1));
  return Math.round(ceiling * (0.5 + random / 2));
}

/** Retry-After in seconds or as an HTTP date, in ms from `nowMs`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}
