// Ties the two halves of a real deploy together.
//
// A deploy writes an admin entry (who, when, the client; often no image and a stale revision name) and, some
// seconds to minutes later, Cloud Run system events (the new revision's real name, image, digest, runtime service
// account, and whether it became Ready). See ../shared/facts/audit-log-fields.md sections 2.2, 2.4 and 2.11.
//
// A *rollout* collects both halves for one service:
// - an admin write that creates a revision opens one (a second write with the same template within the wait
//   joins it: gcloud often writes twice, 11-16 s apart; so does the completion entry of a v2 write logged as a
//   long-running operation's first and last entries, by its operation id);
// - a system event joins the rollout with the same `run.googleapis.com/operation-id`, else the open rollout of the
//   service whose write is closest before it (within the wait), though a service-level event never by time alone a
//   write that only time ties to its events (a v2 write: the service event may be a later traffic edit's), nor a
//   revision's event such a write by another principal than the revision's creator (createdByOther), nor one it was
//   created before or more than 10 s after (createdOutsideWrite: its `metadata.creationTimestamp`); of such
//   writes seconds apart, the one it was created soonest after, within seconds (createdFor: one principal's two
//   deploys); with no open rollout a revision's event opens one of its own (the write may still come: entries
//   arrive out of order), and a write that comes while several such wait takes the revision created soonest after it
//   where their creation times are known (rolloutForWrite; lateHalfOf, for events judged alone); a write and a revision
//   created more than 5 s after it do not join while a closer half may come (createdWellAfter: one principal's
//   later write), only when the waits of both ran out, if still each other's pick (joinedAtLast); events of a v1 write judged without them (CompletedRollout.eventsAwaited), by its
//   operation id or that of a repeat of it that came after it was judged (repeatOperationIds: gcloud's first write,
//   the second judged alone), or events of the revision a service event of its operation named as the service's
//   latest (awaitedRevision, awaitingByServiceOperation: gcloud's second write judged alone, its first still to
//   come), are its late half (awaitingEvents), not a deploy of their own; where only time and
//   principal tie them (a v2 write judged without its events, events judged without their write: lateHalfOf), not a
//   write and a revision created before it or more than 10 s after it (createdOutsideWrite), whichever came first;
//   events that are a write's late half are judged, and what they brought in recorded, at the write's instant
//   (Engine.finalize), so a deploy made between the two and judged before they came is newer than them;
// - the rollout completes as soon as it has the write and a final Ready condition (True or False) for its
//   revision, or when the wait runs out (`correlation.waitSeconds`, default 600 s: image import plus the default
//   4-minute startup probe fit in it), counted from when the half arrived. A half that never arrives leaves its
//   facts "unknown" in the findings; nothing is dropped. Rollouts of one service complete in the order of their
//   event times: a complete rollout waits behind an older one still waiting, so entries delivered out of order
//   within the wait are judged as replay in timestamp order judges them. In replay "now" is the time of the entry being read and everything left completes at the
//   end of the input; in the live pipeline a sweep (a Cloud Scheduler tick on the audit topic) completes what is due.
//   There, optionally, a write still without system events `correlation.adminApiFallback.afterSeconds` after it
//   arrived gets its revision read from the Cloud Run Admin API instead (correlate/adminApi.ts).
//
// Pure functions over plain JSON, so the rollouts live in the service's baseline document and change in the same
// store transaction as the baseline itself.
import type { RevisionObservation } from '../audit/systemEvent.js';
import { CLIENT_TEXT_MAX_LENGTH } from '../audit/normalize.js';
import { truncatePlain } from '../untrustedText.js';
import { appendBounded, isBefore, pointAt, pointTime } from '../baseline/state.js';
import {
  enforcedPolicyOf,
  imagesFromContainers,
  type CodeLoadingVar,
  type CodeSource,
  type DeployChange,
  type EntryKey,
  type ImageRef,
  type PlainEnvVar,
  type RuntimeServiceAccount,
  type ServiceRef,
  type VpcEgress,
} from '../model/change.js';

export interface ObservedFacts {
  readonly revision?: string;
  readonly images: readonly ImageRef[];
  readonly imageDigest?: string;
  readonly serviceAccount?: RuntimeServiceAccount;
  readonly vpcEgress?: VpcEgress;
  /** Where all-traffic egress goes (RevisionObservation.vpcDestination): taken with vpcEgress, from the same event. */
  readonly vpcDestination?: string;
  /** The revision's variables (RevisionObservation): used where the write's are unknown (a console write). */
  readonly plainEnv?: readonly PlainEnvVar[];
  readonly codeLoadingEnv?: readonly CodeLoadingVar[];
  /** The revision's code besides its images, as system events or the Admin API show it (RevisionObservation.sources). */
  readonly sources?: readonly CodeSource[];
  readonly labels: Readonly<Record<string, string>>;
  /** The revision's own labels among `labels` (undefined in baselines stored before it existed). */
  readonly revisionLabels?: Readonly<Record<string, string>>;
  /** true: Ready; false: the rollout failed; undefined: no final condition seen. */
  readonly ready?: boolean;
  readonly readyReason?: string;
  readonly operationId?: string;
  /**
   * Operation ids of the service events that joined (the service's last change when each was written: gcloud's second
   * write, say), other than `operationId`; at most OTHER_OPERATIONS_LIMIT, the newest. Kept on the completed entry
   * of events judged alone (CompletedRollout.serviceOperationIds).
   */
  readonly serviceOperationIds?: readonly string[];
  /**
   * What its events' methodName says (RevisionObservation.createsService): true when one names a create, false when
   * they name other methods only; undefined when none logs one.
   */
  readonly createsService?: boolean;
  /** `serving.knative.dev/creator` of the revision: who deployed, when no admin write is known. */
  readonly creator?: string;
  /**
   * The client Cloud Run recorded on the revision (its `run.googleapis.com/client-name` and `client-version`
   * annotations, a revision event's only): the deploy's client, when no admin write is known.
   */
  readonly client?: { readonly name: string; readonly version?: string };
  /** A revision's own event joined (not only service events, which also follow traffic and settings edits). */
  readonly revisionEvent?: true;
  /**
   * Joined to the rollout's write by time and principal alone while another write of that principal could as well be
   * the revision's (a completed one whose events are still to come, or another one waiting): that write's time. The
   * entries do not tell which (Engine.otherOwner); the findings say so (`evidence.revisionMayBeOf`).
   */
  readonly revisionMayBeOf?: string;
  /** When Cloud Run created the revision, as its own events say (RevisionObservation.createdMs). */
  readonly revisionCreatedMs?: number;
  /** Time of the first system event. */
  readonly firstSeenMs: number;
  /** The first system event and its service: what a finding points at when no admin write is known. */
  readonly firstKey: EntryKey;
  readonly target: ServiceRef;
}

export interface Rollout {
  /** Time the rollout was opened (its first half), epoch ms. */
  readonly openedMs: number;
  /** When it completes at the latest. */
  readonly deadlineMs: number;
  /** The first admin write (principal, time and client come from it). */
  readonly write?: DeployChange;
  /** How many admin writes joined (a burst of writes that yields one revision). */
  readonly writes: number;
  readonly observed?: ObservedFacts;
  /**
   * Opened by a write through the other API version than the template before it (a v2 update after v1 deploys, say):
   * the two templates are logged in different shapes, so whether this one differs is unknown. Only a revision's own
   * system event shows that it made a revision: the rollout waits for one (or its deadline), and without one it is
   * judged as a write that kept the revision (where the service's events are known to reach runwatch).
   */
  readonly acrossApis?: true;
  /**
   * Writes of the burst other than `write` that set a service setting (ingress, invoker check, IAP, default URL,
   * Binary Authorization policy), in time order: the burst made one revision, `write`'s, but each of them set the
   * service at its own time, by its own principal. Each is judged after `write`, as a write whose revision was
   * reported with it (Engine.finalize), as the live pipeline judges it when it comes after the rollout completed. Also
   * one that repeats the burst's write before it: a write judged meanwhile (a masked update, judged at once) may fall
   * between them, and a burst's writes arrive in any order.
   */
  readonly settingWrites?: readonly DeployChange[];
  /**
   * System events of a write judged without them (CompletedRollout.eventsAwaited): their late half. No write joins
   * them (theirs was judged), nor events of another operation; they complete on their own Ready condition. Its
   * `openedMs` is its write's time: it is judged in the write's place among the service's deploys, not its events',
   * against what was in force just after the write (Engine's Evaluation.judgedAt: a deploy made between the two is
   * newer), and what its revision brought in is recorded at the write's instant (openedAt), from which it was in force.
   */
  readonly ofJudgedWrite?: true;
  /**
   * Of a late half (ofJudgedWrite) opened at its write's time: the write's timestamp (its completed entry's `t` and
   * `n`, writtenAt), so the write's instant is known to the nanosecond (openedAt). Absent in baselines stored before it
   * was kept: the start of `openedMs`.
   */
  readonly writeTime?: string;
}

export interface CompletedRollout {
  readonly t: number;
  /**
   * Not a rollout: a deploy write judged, as it came, to make no revision (ServiceBaseline.noRevision), that an older
   * write arriving later made a deploy, and that off-window-deploy judged on that write's behalf (detectors/revision.ts
   * deployMadeByLateTemplate, Detection.forNewerWrite: keyed by its time), at its template point's instant (`t`, `n`).
   * Its revision's system events, coming later than their wait, are that deploy: off-window-deploy does not report it
   * again under the revision's name (reportedForNewerWriteOf). It names no revision or operation (the write's entry is
   * not kept), so nothing else takes it for a rollout. Absent in baselines stored before it was kept.
   */
  readonly judgedForNewerWrite?: true;
  /**
   * The sub-millisecond digits of its write's time, as nanoseconds (as TimePoint.n; absent: 0), so a deploy of its
   * millisecond is told before or after it (detectors/revision.ts deployKey, repeatReported), and its late half is
   * recorded at the write's very instant (writtenAt). Absent in baselines stored before it was kept (the start of `t`'s
   * millisecond).
   */
  readonly n?: number;
  readonly revision?: string;
  readonly operationId?: string;
  /** Judged from system events alone, its write not (yet) seen: a write of that operation arriving later is it. */
  readonly withoutWrite?: true;
  /**
   * Of events judged alone (withoutWrite): the operation ids of service events that named this revision as the
   * service's latest (ObservedFacts.serviceOperationIds, and such events that came after it was judged). A service
   * event's operation id is the service's last change's: the write of that operation made this revision or none (gcloud's
   * second write of one deploy), so arriving later it is no other deploy (reportedFromEvents).
   */
  readonly serviceOperationIds?: readonly string[];
  /**
   * Judged from system events alone and taken, by time and principal, as the late half of a write judged without
   * them: not reported as a deploy, and judged at that write's instant (Engine's Evaluation.judgedAt), as recorded
   * there (filledAt). A write that its operation id then ties to these events is the deploy after all.
   */
  readonly claimedByTime?: true;
  /**
   * Of events claimedByTime: the instant (its write's, `t` and `n`) at which what they brought in was recorded, where
   * the write had not said it (baseline/apply.ts fillAt), and which histories and repositories they filled in. Should a
   * write of their operation come (they were its revision), that moves to its instant (moveFilled). Absent when they
   * filled in nothing, and in baselines stored before it was kept (what they filled in then stays where it is).
   */
  readonly filledAt?: { readonly t: number; readonly n?: number; readonly histories: readonly string[]; readonly repositories: readonly string[] };
  /**
   * Judged with its write as a deploy, and reported: not one judged to have made no revision (a write across API
   * versions that no revision event followed: Rollout.acrossApis). A write of the same burst that turns out to have
   * made the revision is then no new deploy. Absent in baselines stored before it was kept: not known to be
   * reported, so such a write is reported (a second alert rather than none).
   */
  readonly reportedWrite?: true;
  /**
   * Judged from its write alone, a write whose operation id its system events carry (a v1 write) and none of them came
   * in its wait (a slow image import or startup probe, a delivery backlog): the first of them to come later are its
   * late half, judged once for the revision's facts (image, identity, variables, egress), not as a deploy of their
   * own (Engine.finalize). Taken away once they are.
   */
  readonly eventsAwaited?: true;
  /**
   * Of a write judged as a deploy (reportedWrite): the operation ids of writes of its burst that came after it was
   * judged, repeats of it (detectors/revision.ts repeatedBeforeItCame: gcloud's first write, delivered after the second
   * was judged alone), which made no revision and no completed entry of their own. Their revision's system events carry
   * such an id (the revision event carries gcloud's first write's): while this entry awaits its events, they are its
   * late half as events of its own operation would be (awaitingEvents), not a deploy of their own. At most
   * OTHER_OPERATIONS_LIMIT, the newest; absent in baselines stored before it was kept.
   */
  readonly repeatOperationIds?: readonly string[];
  /**
   * Of a write awaiting its events (eventsAwaited): the revision a service event of its operation (or a repeat's) named
   * as the service's latest, before any revision event came. The service event's operation is the service's last
   * change's: that write made this revision or none (gcloud's second write, judged alone; the revision event carries
   * the first write's operation id), so this revision's events, whichever operation id they carry, are its late half
   * (awaitingEvents). Absent in baselines stored before it was kept.
   */
  readonly awaitedRevision?: string;
  /**
   * Judged with one half missing that no operation id can tie to it later (a v2 write's id is not in its events):
   * the span, in event time, in which that half's time may fall, and who deployed (the write's principal, or the
   * revision's creator). The first half to come from that span by that principal is it, not a deploy of its own;
   * matching takes the span away, so it stands for one half only (Engine.claimLateHalf).
   */
  readonly otherHalf?: {
    readonly fromMs: number;
    readonly untilMs: number;
    readonly principal?: string;
    /**
     * Of events judged alone (withoutWrite): when their revision was created (ObservedFacts.revisionCreatedMs, of a
     * revision's own event). A write it was created before, or more than CREATED_WITHIN_MS after, is not theirs
     * (createdOutsideWrite). Absent when unknown, and in baselines stored before it was kept.
     */
    readonly createdMs?: number;
    /**
     * Taken, by time alone, by system events that carry this operation id: no other half can match it, but should a
     * write of that operation come (the events were its own, not this rollout's), the span is free again.
     */
    readonly takenBy?: string;
  };
}

/**
 * Index of the completed entry whose missing half this is (see CompletedRollout.otherHalf), or -1: `events` true for
 * system events of an unnamed revision (the entry lacked its events), false for a write (it lacked its write).
 * `options.excluded`: entries not to take; `options.createdMs`: of events, when their revision was created, which
 * decides among the writes whose spans they fall in where it tells (createdFor).
 */
export function lateHalfOf(
  completed: readonly CompletedRollout[] | undefined,
  events: boolean,
  timeMs: number,
  principal: string | undefined,
  revision: string | undefined,
  options: { readonly excluded?: (c: CompletedRollout) => boolean; readonly createdMs?: number } = {},
): number {
  if (!completed) return -1;
  const who = principal?.toLowerCase();
  // Of the spans that match, the nearest half: for events the latest write at or before them, for a write the first
  // events at or after it. The first in the list (the oldest) would let halves delivered out of order cross over.
  // Events whose revision's creation time tells which write made it (createdFor) take that one's: the nearest write
  // before them may be one principal's next deploy, seconds after the revision's own.
  let best = -1;
  let bestDistance = Infinity;
  const matching: number[] = [];
  completed.forEach((c, i) => {
    const half = c.otherHalf;
    if (!half || half.takenBy !== undefined || (c.withoutWrite === true) === events) return;
    if (timeMs < half.fromMs || timeMs > half.untilMs) return;
    if (who !== undefined && half.principal !== undefined && half.principal.toLowerCase() !== who) return;
    // A revision the entry named that is not this one: another deploy.
    if (revision !== undefined && c.revision !== undefined && c.revision !== revision) return;
    // Not a write and a revision created before it or long after it (createdOutsideWrite): the events of another deploy.
    if (!events && half.createdMs !== undefined && createdOutside(half.createdMs, timeMs)) return;
    if (events && options.createdMs !== undefined && createdOutside(options.createdMs, c.t)) return;
    if (options.excluded?.(c) === true) return;
    matching.push(i);
    const after = events ? timeMs - c.t : c.t - timeMs;
    // Halves on the expected side first (distance from 0), then those a burst the other way.
    const distance = after >= 0 ? after : BURST_MS - after;
    if (distance < bestDistance) {
      best = i;
      bestDistance = distance;
    }
  });
  if (events && options.createdMs !== undefined && matching.length > 1) {
    const owner = createdFor(options.createdMs, matching.map((i) => completed[i]!.t));
    if (owner >= 0) return matching[owner]!;
  }
  // A write: of events judged alone whose revisions' creation times are all known, those of the revision created
  // soonest after it (or before it, within the clocks' skew), not the events nearest after it (one principal's next
  // deploy seconds later may have its revision's events nearer).
  if (!events && matching.length > 1) {
    const owner = nearestCreated(timeMs, matching.map((i) => completed[i]!.otherHalf!.createdMs));
    if (owner >= 0) return matching[owner]!;
  }
  return best;
}

/**
 * The completed entry of system events judged alone, and reported as a deploy, whose operation id is `operationId`'s
 * (a v1 write's, which its revision's events carry): that write's deploy, its revision reported from its events before
 * the write came (later than their wait). Not events taken by time for another write's late half (claimedByTime): they
 * were not reported.
 */
export function reportedFromEvents(completed: readonly CompletedRollout[] | undefined, operationId: string | undefined): CompletedRollout | undefined {
  if (operationId === undefined || !completed) return undefined;
  const reported = (c: CompletedRollout): boolean => c.withoutWrite === true && c.claimedByTime !== true;
  // The revision events' own operation first; else a service event's that named the revision (serviceOperationIds).
  return (
    completed.find((c) => reported(c) && sameOperation(c.operationId, operationId)) ??
    completed.find((c) => reported(c) && c.serviceOperationIds?.some((id) => sameOperation(id, operationId)) === true)
  );
}

/** Other operations' ids kept with a rollout at most (serviceOperationIds, repeatOperationIds): the newest. */
export const OTHER_OPERATIONS_LIMIT = 4;

/** `ids` with `id` added last (once; not `own`, the rollout's own operation), the newest OTHER_OPERATIONS_LIMIT kept. */
export function withOtherOperation(ids: readonly string[] | undefined, id: string | undefined, own: string | undefined): readonly string[] | undefined {
  if (id === undefined || id === own || ids?.includes(id)) return ids;
  return appendBounded(ids ?? [], id, OTHER_OPERATIONS_LIMIT);
}

/** When the deploy of a completed entry happened, to the nanosecond (`t` and `n`). */
export function writtenAt(completed: CompletedRollout): { readonly timeMs: number; readonly time: string } {
  return { timeMs: completed.t, time: pointTime(completed) };
}

/**
 * Index of the completed entry still awaiting the system events `o` (CompletedRollout.eventsAwaited: the same
 * operation, or the revision its service event named: awaitedRevision), or -1: also when another completed entry
 * reports on them (a revision already judged).
 */
export function awaitingEvents(completed: readonly CompletedRollout[] | undefined, o: Pick<RevisionObservation, 'operationId' | 'revision'>): number {
  if (!completed || (o.operationId === undefined && o.revision === undefined)) return -1;
  const index = completed.findIndex((c) => c.eventsAwaited === true && awaits(c, o));
  if (index < 0) return -1;
  return completed.some((c, i) => i !== index && belongsToCompleted([c], o)) ? -1 : index;
}

/**
 * True when the completed entry `c` would take events `o` as its late half: its operation's (ofAwaitedOperation), or
 * those of the revision a service event of its operation named (awaitedRevision).
 */
export function awaits(c: CompletedRollout, o: { readonly operationId?: string | undefined; readonly revision?: string | undefined } | undefined): boolean {
  return ofAwaitedOperation(c, o?.operationId) || (o?.revision !== undefined && c.awaitedRevision === o.revision);
}

/**
 * Index of the completed entry still awaiting the revision events `observed`, waiting without a write, by the operation
 * of a service event that named their revision as the service's latest (ObservedFacts.serviceOperationIds: the
 * service's last change, gcloud's second write, which made this revision or none), or -1. The revision event carries
 * gcloud's first write's operation id, the service event the second's: when the second write was judged alone before
 * any of them came, the service event is what ties the revision to it (awaitingEvents, for that operation).
 */
export function awaitingByServiceOperation(completed: readonly CompletedRollout[] | undefined, observed: ObservedFacts): number {
  if (!completed || observed.revisionEvent !== true || observed.revision === undefined) return -1;
  for (const id of observed.serviceOperationIds ?? []) {
    const index = awaitingEvents(completed, { operationId: id, revision: observed.revision });
    if (index >= 0) return index;
  }
  return -1;
}

/**
 * True when system events of `operationId` are of the deploy of the completed entry `c`: its own operation, or that of
 * a repeat of its write that came after it was judged (CompletedRollout.repeatOperationIds).
 */
export function ofAwaitedOperation(c: CompletedRollout, operationId: string | undefined): boolean {
  if (operationId === undefined) return false;
  return sameOperation(operationId, c.operationId) || c.repeatOperationIds?.some((id) => sameOperation(id, operationId)) === true;
}

/** A completed rollout: the write's who/when with the facts of what rolled out. */
export interface RolledOut {
  readonly change: DeployChange;
  readonly rollout: {
    readonly status: 'serving' | 'failed' | 'unknown';
    readonly readyReason?: string;
    readonly writes: number;
    readonly observed: boolean;
    readonly writeSeen: boolean;
    /** ObservedFacts.revisionMayBeOf: the revision may be the write's of that time. */
    readonly revisionMayBeOf?: string;
  };
}

/** A write joins a rollout opened by an earlier write when it is this close and rolls out the same template. */
export const BURST_MS = 60_000;

/**
 * The wait runs from when the half arrived: its event time in replay, the wall clock in the live pipeline (an old
 * entry redelivered from a backlog still gets the full wait for its other half).
 */
function deadline(eventMs: number, nowMs: number, waitMs: number): number {
  return Math.max(eventMs, nowMs) + waitMs;
}

export function openFromWrite(write: DeployChange, waitMs: number, nowMs: number): Rollout {
  return { openedMs: write.timeMs, deadlineMs: deadline(write.timeMs, nowMs, waitMs), write, writes: 1 };
}

/**
 * True when two operation ids name the same operation: equal, or the same last path segment (a v2 write's
 * long-running operation `projects/P/locations/L/operations/ID` and a system event's `run.googleapis.com/operation-id`
 * `ID`, should Cloud Run use the same id for both: unverified, so a v2 write's id only ever confirms a match).
 */
export function sameOperation(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  if (a === b) return true;
  // The last segments compared in place: this runs for every completed rollout a system event is checked against.
  const tail = a.length - a.lastIndexOf('/') - 1;
  if (tail === 0 || tail !== b.length - b.lastIndexOf('/') - 1) return false;
  for (let i = 1; i <= tail; i++) if (a.charCodeAt(a.length - i) !== b.charCodeAt(b.length - i)) return false;
  return true;
}

/**
 * A write's operation id that rules out system events carrying another one: a v1 write's (the response annotation
 * its own system events carry). A v2 write's is the long-running operation's, not known to be in system events.
 */
function excludingOperationId(write: DeployChange | undefined): string | undefined {
  return write?.api === 'v2' ? undefined : write?.operationId;
}

/**
 * A write that nothing but time and principal ties to its system events: one without an operation id that rules
 * events in or out (excludingOperationId), a v2 write or one without any. A v1 write's events carry its id.
 */
export function tiedToEventsOnlyByTime(write: DeployChange): boolean {
  return excludingOperationId(write) === undefined;
}

/**
 * True for a write whose revision's creation time can tie it to its events: one that only time ties to them
 * (tiedToEventsOnlyByTime), not an operation's completion entry (logged when the operation ended, after the revision
 * was created).
 */
export function tiedByCreationTime(write: DeployChange): boolean {
  return !write.operationCompletion && tiedToEventsOnlyByTime(write);
}

/**
 * How long after its write Cloud Run creates the revision, at most, for the creation time to tie them: real entries
 * show the `metadata.creationTimestamp` of what a write creates 131-143 ms after the write (kktae-demo and panther
 * CreateService). The revision is created when the write is accepted, before its image is imported (aegisai's revision
 * event: created 02:24:21.03, "Container image import completed in 23.22s" at 02:24:44.86; a source build runs before
 * the write), so neither the import nor the startup probe delays it. Ten seconds is some 70 times what real entries
 * show, room for the two clocks (CLOCK_SKEW_MS) and a slow control plane, and twice CREATED_DECIDES_MS; it rules out a
 * write more than that before the revision: one principal's earlier deploy, waiting while the revision's own write is
 * still to come (its events delivered first), not only another deploy minutes before whose events never came. Should
 * a revision ever be created later than that, its events are not lost: they open a rollout of their own and, once the
 * write was judged without them, are its late half by time and principal (lateHalfOf).
 */
export const CREATED_WITHIN_MS = 10_000;

/**
 * How long before its write's logged time a revision may be created and still be its: the write's timestamp and the
 * revision's creationTimestamp come from different clocks (the logging front end's, the control plane's). A second is
 * far less than any two deploys' gap that time alone must tell apart.
 */
export const CLOCK_SKEW_MS = 1_000;

/**
 * True when a revision created at `createdMs` cannot be the revision of `write`, a write that nothing but time ties to
 * its events (tiedToEventsOnlyByTime): created before it (beyond CLOCK_SKEW_MS) or more than CREATED_WITHIN_MS after
 * it. False where the creation time is unknown or the write is tied to its events otherwise (then time and principal
 * decide, as before), and for an operation's completion entry (logged when the operation ended, after the revision was
 * created).
 */
export function createdOutsideWrite(createdMs: number | undefined, write: DeployChange | undefined): boolean {
  if (createdMs === undefined || write === undefined || !tiedByCreationTime(write)) return false;
  return createdOutside(createdMs, write.timeMs);
}

/** True when a revision created at `createdMs` was created before a write at `writtenMs` (beyond the skew) or long after. */
export function createdOutside(createdMs: number, writtenMs: number): boolean {
  const gap = createdMs - writtenMs;
  return gap < -CLOCK_SKEW_MS || gap > CREATED_WITHIN_MS;
}

/**
 * How long after a write its revision may be created for the creation time to decide which of two writes that only
 * time ties to their events made it (createdFor): real entries show a revision created 131-143 ms after its write
 * (kktae-demo and panther CreateService: the response's creationTimestamp). Five seconds leaves room for the two
 * clocks (CLOCK_SKEW_MS) and a slow control plane; a revision created later than that after the last write before it
 * is not told by its creation time (the oldest waiting write is still preferred, and the findings say it may be the
 * other's: revisionMayBeOf).
 */
export const CREATED_DECIDES_MS = 5_000;

/**
 * Index among `writtenMs` (the times of writes that only time ties to their events, each of which could be the
 * revision's) of the write that a revision created at `createdMs` was made by, as its creation time tells, or -1 when it
 * does not tell: the last written before the revision was created (or up to CLOCK_SKEW_MS after it: the two timestamps
 * come from different clocks), provided the revision was created at most CREATED_DECIDES_MS after it and every other
 * write was written more than CLOCK_SKEW_MS before it (two writes in the same second the clocks cannot tell apart).
 * Writes after the revision's creation, beyond the skew, are none of its (createdOutsideWrite) and do not count.
 */
export function createdFor(createdMs: number | undefined, writtenMs: readonly number[]): number {
  if (createdMs === undefined) return -1;
  let owner = -1;
  writtenMs.forEach((t, i) => {
    if (createdMs - t >= -CLOCK_SKEW_MS && (owner < 0 || t > writtenMs[owner]!)) owner = i;
  });
  if (owner < 0) return -1;
  const ownerMs = writtenMs[owner]!;
  if (createdMs - ownerMs > CREATED_DECIDES_MS) return -1;
  return writtenMs.every((t, i) => i === owner || createdMs - t < -CLOCK_SKEW_MS || ownerMs - t > CLOCK_SKEW_MS) ? owner : -1;
}

/**
 * True when a revision created at `createdMs` (known) was created more than CREATED_DECIDES_MS after a write at
 * `writtenMs` that only time ties to its events: it may be that write's (within CREATED_WITHIN_MS,
 * createdOutsideWrite), or a later write's of the same principal, made between the two and still to come (entries
 * arrive in any order), which it was created sooner after and which createdFor would give it to. Such a pair does not
 * join when the second of them comes (rolloutForWrite, rolloutForObservation), but when the waits of both ran out, if
 * they are still each other's pick (joinedAtLast). Nearer than that they join at once, as before: real entries show a
 * revision created 131-143 ms after its write, but those are creates, and how long an update takes to create its
 * revision on a loaded control plane is known from no real pair; holding every deploy whose revision came a second or
 * two late back for the whole wait (600 s) would delay its alert ten minutes. The price: one principal's two writes
 * less than 5 s apart, the second revision's events delivered between them, can still cross (creation-time-orders).
 * Events named by an operation id or a revision name join at once all the same.
 */
export function createdWellAfter(createdMs: number | undefined, writtenMs: number): boolean {
  return createdMs !== undefined && createdMs - writtenMs > CREATED_DECIDES_MS;
}

/**
 * Index in `rollouts` (those still waiting) of the rollout that `rollout`, about to be judged (its wait ran out, or it
 * is judged early; Engine.drain lets it wait while the other half's own wait runs), is joined with at last, or -1: of
 * a write that only time ties to its events, waiting alone, and a revision's events waiting alone (their creation time
 * known), that did not join because the revision was created seconds after the write (createdWellAfter: a later write
 * of the principal might still come), the other half, when the two are still each other's pick as the second to come
 * would have picked then: the events rolloutForWrite gives the write among the events waiting alone, and the write
 * rolloutForObservation gives those events among the writes waiting alone. A slow control plane (one write, its
 * revision created 6-9 s later) is still one deploy; one principal's second write, come meanwhile, took its own
 * revision already.
 */
export function joinedAtLast(rollouts: readonly Rollout[], rollout: Rollout, waitMs: number): number {
  const writeAlone = (r: Rollout): boolean => r.write !== undefined && r.observed === undefined && !r.ofJudgedWrite && tiedByCreationTime(r.write);
  const eventsAlone = (r: Rollout): boolean => r.write === undefined && !r.ofJudgedWrite && r.observed?.revisionEvent === true && r.observed.revisionCreatedMs !== undefined;
  const isWrite = writeAlone(rollout);
  if (!isWrite && !eventsAlone(rollout)) return -1;
  const all = [rollout, ...rollouts];
  const writes = all.filter(writeAlone);
  const events = all.filter(eventsAlone);
  const now = { closerMayCome: false };
  const eventsFor = (w: Rollout): Rollout | undefined => events[rolloutForWrite(events, w.write!, waitMs, now)];
  const writeFor = (e: Rollout): Rollout | undefined => writes[rolloutForObservation(writes, eventFactsOf(e.observed!), waitMs, now)];
  const other = isWrite ? eventsFor(rollout) : writeFor(rollout);
  if (other === undefined || (isWrite ? writeFor(other) : eventsFor(other)) !== rollout) return -1;
  const [w, e] = isWrite ? [rollout, other] : [other, rollout];
  return createdWellAfter(e.observed!.revisionCreatedMs, w.write!.timeMs) ? rollouts.indexOf(other) : -1;
}

/** What a revision's event said, as far as which rollout it joins goes (rolloutForObservation, Engine.otherOwner). */
export type EventFacts = Pick<RevisionObservation, 'level' | 'timeMs' | 'operationId' | 'revision' | 'creator' | 'generation' | 'createdMs'>;

/** The facts of a rollout's revision events (their first event's time) as one event's: a rollout joined at last. */
export function eventFactsOf(observed: ObservedFacts): EventFacts {
  return {
    level: 'revision',
    timeMs: observed.firstSeenMs,
    ...(observed.operationId !== undefined ? { operationId: observed.operationId } : {}),
    ...(observed.revision !== undefined ? { revision: observed.revision } : {}),
    ...(observed.creator !== undefined ? { creator: observed.creator } : {}),
    ...(observed.revisionCreatedMs !== undefined ? { createdMs: observed.revisionCreatedMs } : {}),
  };
}

/**
 * The rollout of a write waiting alone (`w`) and of a revision's events waiting alone (`e`), joined at last
 * (joinedAtLast): in the write's place; `revisionMayBeOf` as Engine.otherOwner says.
 */
export function joinedLater(w: Rollout, e: Rollout, revisionMayBeOf: string | undefined): Rollout {
  const observed = revisionMayBeOf !== undefined ? { ...e.observed!, revisionMayBeOf } : e.observed;
  return withObserved({ ...w, openedMs: Math.min(w.openedMs, e.openedMs) }, observed);
}

/** An email address (a user's, a service account's), not a federated `principal://` identifier or a subject. */
const EMAIL = /^[^@\s/:]+@[^@\s/:]+$/;

/**
 * True when a revision whose `serving.knative.dev/creator` is `creator` cannot be the revision of `write`, which
 * nothing but time ties to its events (tiedToEventsOnlyByTime): Cloud Run records the caller that made the revision as
 * its creator, and the write's principal is another. Said only where both are email addresses (a workload identity
 * logged by its `principal://` subject may be recorded otherwise), compared without case. Such events are another
 * principal's deploy: the late half of a write judged without them, or the events of a write still to come.
 */
export function createdByOther(creator: string | undefined, write: DeployChange): boolean {
  const principal = write.principal?.id;
  if (creator === undefined || principal === undefined || !tiedToEventsOnlyByTime(write)) return false;
  if (!EMAIL.test(creator) || !EMAIL.test(principal)) return false;
  return creator.toLowerCase() !== principal.toLowerCase();
}

/**
 * Index of the open rollout a write belongs to, or -1. The same operation first (an id names the deploy), then a
 * repeat of the template shortly after (a guess: gcloud's second write carries an operation id of its own), then the
 * nearest system events after the write. Delivered out of order, gcloud's second write can open a rollout before the
 * first write arrives, which must still join its revision's events by their operation id, not the second write.
 */
export function rolloutForWrite(rollouts: readonly Rollout[], write: DeployChange, waitMs: number, options: { readonly closerMayCome?: boolean } = {}): number {
  const closerMayCome = options.closerMayCome ?? true;
  let sameOp = -1;
  let repeatOf = -1;
  let nearest = -1;
  let nearestGap = Infinity;
  // Of waiting revisions that only time ties to the write, the one created soonest after it (or before it, within the
  // clocks' skew), when every candidate's creation time is known: one principal's next deploy seconds later may have
  // its revision's events nearer after the write.
  const byCreation = tiedByCreationTime(write);
  const candidates: number[] = [];
  const createdMs: (number | undefined)[] = [];
  rollouts.forEach((rollout, i) => {
    if (sameOp >= 0 || rollout.ofJudgedWrite) return;
    if (rollout.write) {
      if (sameOperation(write.operationId, rollout.write.operationId)) sameOp = i;
      else if (repeatOf < 0 && !write.operationCompletion && rollout.write.templateFingerprint === write.templateFingerprint && Math.abs(write.timeMs - rollout.write.timeMs) <= BURST_MS) {
        repeatOf = i;
      }
      return;
    }
    // A rollout opened by system events that arrived before their write. (An operation's completion entry only
    // ever joins the rollout of its first entry.)
    if (write.operationCompletion) return;
    const observed = rollout.observed!;
    if (write.operationId !== undefined && observed.operationId !== undefined) {
      if (sameOperation(write.operationId, observed.operationId)) {
        sameOp = i;
        return;
      }
      if (excludingOperationId(write) !== undefined) return;
    }
    if (write.revision && observed.revision && write.revision !== observed.revision) return;
    // A revision another principal made (its creator) is not this write's, where only time would tie them.
    if (observed.revisionEvent === true && createdByOther(observed.creator, write)) return;
    // Nor a revision created before the write or long after it (createdOutsideWrite).
    if (observed.revisionEvent === true && createdOutsideWrite(observed.revisionCreatedMs, write)) return;
    // Nor, yet, one created seconds after it: a later write of the principal, which it was created sooner after, may
    // still come (createdWellAfter); both wait, and are joined when their waits ran out if still each other's pick
    // (joinedAtLast).
    if (closerMayCome && byCreation && observed.revisionEvent === true && createdWellAfter(observed.revisionCreatedMs, write.timeMs)) return;
    const gap = observed.firstSeenMs - write.timeMs;
    if (gap < 0 || gap > waitMs) return;
    if (gap < nearestGap) {
      nearest = i;
      nearestGap = gap;
    }
    if (byCreation) {
      candidates.push(i);
      createdMs.push(observed.revisionEvent === true ? observed.revisionCreatedMs : undefined);
    }
  });
  const soonest = nearestCreated(write.timeMs, createdMs);
  return sameOp >= 0 ? sameOp : repeatOf >= 0 ? repeatOf : soonest >= 0 ? candidates[soonest]! : nearest;
}

/**
 * Index among `createdMs` (when each candidate revision was created) of the one created nearest a write at `writtenMs`
 * (soonest after it, or before it within the clocks' skew: createdOutsideWrite ruled out the rest), the first of
 * equals; -1 when there is none or any creation time is unknown (then time alone decides, as before).
 */
function nearestCreated(writtenMs: number, createdMs: readonly (number | undefined)[]): number {
  let nearest = -1;
  let nearestGap = Infinity;
  for (let i = 0; i < createdMs.length; i++) {
    const created = createdMs[i];
    if (created === undefined) return -1;
    const gap = Math.abs(created - writtenMs);
    if (gap < nearestGap) {
      nearest = i;
      nearestGap = gap;
    }
  }
  return nearest;
}

/**
 * True when a revision's event `o` joins `rollout` by time and principal alone: its write is one that nothing but time
 * ties to its events (tiedToEventsOnlyByTime), and neither an operation id, a revision name nor a generation names it.
 */
export function joinedByTimeAlone(rollout: Rollout, o: EventFacts): boolean {
  const write = rollout.write;
  if (o.level !== 'revision' || write === undefined || !tiedToEventsOnlyByTime(write)) return false;
  if (sameOperation(o.operationId, rollout.observed?.operationId ?? write.operationId)) return false;
  if (o.revision !== undefined && (rollout.observed?.revision ?? write.revision) === o.revision) return false;
  return !(o.generation !== undefined && o.generation === write.generation);
}

/**
 * Index of the open rollout a system event belongs to, or -1. What names the deploy decides first: the same operation
 * id, then the same revision, then (v1) the generation the write produced, which its revision carries. Otherwise a
 * rollout whose write is at most the wait before the event (or a burst after it), preferring, in this order: one
 * whose generation does not say otherwise, one whose write's principal is the revision's creator, one still without
 * system events, and the oldest: Cloud Run rolls a service's deploys out in order, so the events that come first
 * belong to the oldest deploy waiting, not to the write nearest in time (a second deploy seconds after the first
 * would otherwise take the first one's revision). A write that only time ties to its events is never taken by a
 * revision another principal created (createdByOther): those events are that principal's deploy, whose write was
 * judged without them (they are its late half) or is still to come. Of such writes that rank alike but for having
 * events already, a revision's creation time picks the one it was created soonest after where it tells (createdFor):
 * one principal's second deploy 30 s after the first takes the revision created 140 ms after it, not the oldest.
 */
export function rolloutForObservation(rollouts: readonly Rollout[], observation: EventFacts, waitMs: number, options: { readonly closerMayCome?: boolean } = {}): number {
  const closerMayCome = options.closerMayCome ?? true;
  let best = -1;
  let bestRank = Infinity;
  let bestMs = Infinity;
  // Writes that only time ties to their events, of the rollouts that may take the event, with their rank: the
  // revision's creation time, where it is known, may tell which of them made it (createdFor).
  const byCreation = observation.level === 'revision' && observation.createdMs !== undefined;
  const timeOnly: { readonly index: number; readonly rank: number; readonly writtenMs: number }[] = [];
  const creator = observation.creator?.toLowerCase();
  for (let i = 0; i < rollouts.length; i++) {
    const rollout = rollouts[i]!;
    const opId = rollout.observed?.operationId ?? rollout.write?.operationId;
    if (observation.operationId !== undefined && opId !== undefined) {
      if (sameOperation(observation.operationId, opId)) return i;
      // Another operation's events; a v2 write's own id says nothing either way (see excludingOperationId).
      if (rollout.observed?.operationId !== undefined || excludingOperationId(rollout.write) !== undefined) continue;
    }
    // The late half of a judged write takes only its own operation's events (or its revision's, below).
    if (rollout.ofJudgedWrite && !(observation.revision !== undefined && observation.revision === rollout.observed?.revision)) continue;
    const revision = rollout.observed?.revision ?? rollout.write?.revision;
    if (observation.revision && revision) {
      if (observation.revision === revision) return i;
      continue;
    }
    // A revision another principal made (its creator) is not the revision of a write that only time ties to its
    // events: the late half of that principal's write judged without them, or the events of its write still to come.
    if (observation.level === 'revision' && rollout.write !== undefined && createdByOther(observation.creator, rollout.write)) continue;
    const generation = rollout.write?.generation;
    const generationKnown = observation.generation !== undefined && generation !== undefined;
    if (generationKnown && observation.generation === generation && rollout.observed === undefined) return i;
    // Nor one created before such a write or long after it (createdOutsideWrite).
    if (observation.level === 'revision' && createdOutsideWrite(observation.createdMs, rollout.write)) continue;
    // Nor, yet, one created seconds after such a write: a later write of the principal, which it was created sooner
    // after, may still come (createdWellAfter); both wait, and are joined when their waits ran out if still each
    // other's pick (joinedAtLast).
    if (closerMayCome && observation.level === 'revision' && rollout.write !== undefined && tiedByCreationTime(rollout.write) && createdWellAfter(observation.createdMs, rollout.write.timeMs)) continue;
    // A service event is not the deploy's own: it follows every change of the service (a traffic or settings edit
    // that made no revision, judged at once, included), its Ready is the service's and its operation id the last
    // change's. Time alone does not tie it to a write that nothing else ties to its events (a v2 write): it would
    // give the deploy another change's verdict and operation, and shut out the deploy's own revision event.
    if (observation.level === 'service' && rollout.write !== undefined && rollout.observed?.revisionEvent !== true && tiedToEventsOnlyByTime(rollout.write)) continue;
    const writtenMs = rollout.write?.timeMs ?? rollout.openedMs;
    const gap = observation.timeMs - writtenMs;
    if (gap < -BURST_MS || gap > waitMs) continue;
    const principal = rollout.write?.principal?.id.toLowerCase();
    // Lower is better: each condition outweighs all the ones after it.
    const rank =
      (generationKnown && observation.generation !== generation ? 4 : 0) +
      (creator !== undefined && principal !== undefined && principal !== creator ? 2 : 0) +
      (rollout.observed !== undefined ? 1 : 0);
    if (byCreation && rollout.write !== undefined && tiedByCreationTime(rollout.write)) timeOnly.push({ index: i, rank, writtenMs });
    if (rank < bestRank || (rank === bestRank && writtenMs < bestMs)) {
      best = i;
      bestRank = rank;
      bestMs = writtenMs;
    }
  }
  // Of writes that only time ties to their events, equal but for having events already, the one the revision was
  // created soonest after, where its creation time tells (createdFor): one principal's two deploys seconds apart each
  // take their own revision, whichever events come first (the oldest waiting would take the second's).
  if (byCreation && timeOnly.some((c) => c.index === best)) {
    const tied = timeOnly.filter((c) => c.rank >> 1 === bestRank >> 1);
    const owner = tied.length > 1 ? createdFor(observation.createdMs, tied.map((c) => c.writtenMs)) : -1;
    if (owner >= 0) return tied[owner]!.index;
  }
  return best;
}

export function addWrite(rollout: Rollout, write: DeployChange): Rollout {
  // withObserved keeps acrossApis: a burst's later write does not make the first one comparable.
  if (!rollout.write) return withObserved({ ...rollout, openedMs: Math.min(rollout.openedMs, write.timeMs), write, writes: 1 }, rollout.observed);
  // Keep the earliest write: its time is when the deploy happened. An operation's completion entry carries none of
  // the write's facts: it never takes the place of the write.
  const first = !write.operationCompletion && (rollout.write.operationCompletion || earlier(write, rollout.write)) ? write : rollout.write;
  const other = first === write ? rollout.write : write;
  // Every write that sets a service setting, in time order (whether it changes anything depends on the writes before
  // it in time, some of which may arrive later); a few (a burst is a minute of writes, each kept whole in the stored
  // baseline).
  const settingWrites = setsService(other) ? boundedSettingWrites(first, [...(rollout.settingWrites ?? []), other].sort((a, b) => (earlier(a, b) ? -1 : earlier(b, a) ? 1 : 0))) : rollout.settingWrites;
  return withObserved({ ...rollout, write: first, writes: rollout.writes + 1, ...(settingWrites ? { settingWrites } : {}) }, rollout.observed);
}

/** Rollout.settingWrites kept at most (boundedSettingWrites). */
const SETTING_WRITES_LIMIT = 8;

/**
 * At most SETTING_WRITES_LIMIT of a burst's later writes (in time order): beyond it, first those that set the service
 * as the write before them in time did (judging them changes nothing, as far as the burst's writes so far tell), then
 * the oldest.
 */
function boundedSettingWrites(first: DeployChange, writes: DeployChange[]): DeployChange[] {
  while (writes.length > SETTING_WRITES_LIMIT) {
    const repeat = writes.findIndex((write, i) => !setsServiceOtherwise(write, [first, ...writes.slice(0, i)]));
    writes.splice(repeat < 0 ? 0 : repeat, 1);
  }
  return writes;
}

/**
 * The service settings a write may set, which the rules that read them (ingress-opened, public-invoker-grant's invoker
 * check, iap-disabled, default-url-enabled, binary-authorization-bypass turned off) judge write by write: a burst makes
 * one revision, but each of its writes sets the service at its own time, by its own principal.
 */
const SERVICE_SETTINGS: readonly ((write: DeployChange) => string | boolean | undefined)[] = [
  (write) => write.ingress,
  (write) => write.invokerIamDisabled,
  (write) => write.iapEnabled,
  (write) => write.defaultUrlDisabled,
  enforcedPolicyOf,
];

/** True when `write` sets a service setting (an operation's completion entry carries none of the write's facts). */
function setsService(write: DeployChange): boolean {
  return !write.operationCompletion && SERVICE_SETTINGS.some((setting) => setting(write) !== undefined);
}

/** True when `write` sets a service setting otherwise than the newest of `said` (in order) that sets it. */
function setsServiceOtherwise(write: DeployChange, said: readonly DeployChange[]): boolean {
  return SERVICE_SETTINGS.some((setting) => {
    const value = setting(write);
    if (value === undefined) return false;
    const before = said.findLast((w) => setting(w) !== undefined);
    return before === undefined || value !== setting(before);
  });
}

/**
 * Calls `visit` with each admin write waiting in `rollouts`: each rollout's write, then its burst's later writes
 * (settingWrites), until `visit` returns true; returns whether it did. No list is built: it runs for every deploy.
 */
export function someWaitingWrite(rollouts: readonly Rollout[] | undefined, visit: (write: DeployChange) => boolean | void): boolean {
  for (const rollout of rollouts ?? []) {
    if (!rollout.write) continue;
    if (visit(rollout.write) === true) return true;
    for (const write of rollout.settingWrites ?? []) if (visit(write) === true) return true;
  }
  return false;
}

/** The rollout with these observed facts (built without a spread: see rolledOut). */
export function withObserved(rollout: Rollout, observed: ObservedFacts | undefined): Rollout {
  const out: { -readonly [K in keyof Rollout]: Rollout[K] } = { openedMs: rollout.openedMs, deadlineMs: rollout.deadlineMs, writes: rollout.writes };
  if (rollout.write) out.write = rollout.write;
  if (observed) out.observed = observed;
  if (rollout.acrossApis) out.acrossApis = true;
  if (rollout.settingWrites) out.settingWrites = rollout.settingWrites;
  if (rollout.ofJudgedWrite) out.ofJudgedWrite = true;
  if (rollout.writeTime !== undefined) out.writeTime = rollout.writeTime;
  return out;
}

export function openFromObservation(observation: RevisionObservation, waitMs: number, nowMs: number): Rollout {
  return { openedMs: observation.timeMs, deadlineMs: deadline(observation.timeMs, nowMs, waitMs), writes: 0, observed: observe(undefined, observation) };
}

/**
 * The images known of a rollout after an event: a container's over the deployer-written user-image annotation's,
 * then a revision event's over a service event's.
 */
function observedImages(current: readonly ImageRef[] | undefined, event: readonly ImageRef[], isRevision: boolean): readonly ImageRef[] {
  if (!current?.length) return event;
  if (event.length === 0) return current;
  const fromContainers = imagesFromContainers(event);
  if (fromContainers !== imagesFromContainers(current)) return fromContainers ? event : current;
  return isRevision ? event : current;
}

/** Folds a system event into what is known of the rolled-out revision. Revision events win over service events. */
export function observe(current: ObservedFacts | undefined, o: RevisionObservation): ObservedFacts {
  const isRevision = o.level === 'revision';
  const pick = <T>(mine: T | undefined, theirs: T | undefined): T | undefined => (isRevision ? (mine ?? theirs) : (theirs ?? mine));
  // Only a revision's own event says when the revision was created (a service event's metadata is the service's).
  const revisionCreatedMs = current?.revisionCreatedMs ?? (isRevision ? o.createdMs : undefined);
  // Likewise the client: a service event's annotations are the service's, written by its last change. It is
  // deployer-written text, kept in the waiting rollout: bounded as a write's client is (audit/normalize.ts clientOf).
  const bounded = (text: string): string => truncatePlain(text, CLIENT_TEXT_MAX_LENGTH);
  const egressFrom = pick<Pick<ObservedFacts, 'vpcEgress' | 'vpcDestination'>>(o.vpcEgress !== undefined ? o : undefined, current?.vpcEgress !== undefined ? current : undefined);
  const client =
    current?.client ??
    (isRevision && o.clientName !== undefined ? { name: bounded(o.clientName), ...(o.clientVersion !== undefined ? { version: bounded(o.clientVersion) } : {}) } : undefined);
  return {
    revision: pick(o.revision, current?.revision),
    images: observedImages(current?.images, o.images, isRevision),
    imageDigest: o.imageDigest ?? current?.imageDigest,
    serviceAccount: pick(o.serviceAccount, current?.serviceAccount),
    // The egress and its destination from one event: the one pick takes the egress from.
    vpcEgress: egressFrom?.vpcEgress,
    vpcDestination: egressFrom?.vpcDestination,
    plainEnv: pick(o.plainEnv, current?.plainEnv),
    codeLoadingEnv: pick(o.codeLoadingEnv, current?.codeLoadingEnv),
    ...observedSources(o.sources ?? current?.sources),
    labels: { ...(current?.labels ?? {}), ...o.labels },
    revisionLabels: { ...(current?.revisionLabels ?? {}), ...(o.revisionLabels ?? o.labels) },
    // A revision's own Ready condition is the verdict; a service-level one only when no revision verdict exists.
    ready: isRevision ? (o.ready ?? current?.ready) : (current?.ready ?? o.ready),
    readyReason: isRevision ? (o.readyReason ?? current?.readyReason) : (current?.readyReason ?? o.readyReason),
    operationId: current?.operationId ?? o.operationId,
    ...serviceOperationsOf(current, o),
    ...(current?.createsService !== undefined || o.createsService !== undefined ? { createsService: current?.createsService === true || o.createsService === true } : {}),
    creator: current?.creator ?? o.creator,
    ...(client !== undefined ? { client } : {}),
    ...(isRevision || current?.revisionEvent ? { revisionEvent: true as const } : {}),
    ...(current?.revisionMayBeOf !== undefined ? { revisionMayBeOf: current.revisionMayBeOf } : {}),
    ...(revisionCreatedMs !== undefined ? { revisionCreatedMs } : {}),
    firstSeenMs: Math.min(current?.firstSeenMs ?? o.timeMs, o.timeMs),
    firstKey: current?.firstKey ?? o.key,
    target: current?.target ?? o.target,
  };
}

/** ObservedFacts.sources when some are known (left out otherwise: a stored rollout keeps the shape it had). */
function observedSources(sources: readonly CodeSource[] | undefined): { sources?: readonly CodeSource[] } {
  return sources !== undefined ? { sources } : {};
}

/** ObservedFacts.serviceOperationIds after the event `o` (a service event adds its operation id). */
function serviceOperationsOf(current: ObservedFacts | undefined, o: RevisionObservation): { serviceOperationIds?: readonly string[] } {
  const own = current?.operationId ?? (o.level === 'revision' ? o.operationId : undefined);
  const ids = o.level === 'service' ? withOtherOperation(current?.serviceOperationIds, o.operationId, own) : current?.serviceOperationIds;
  // A revision event opening the rollout after a service event said its operation: not a service operation after all.
  const kept = ids?.filter((id) => id !== own);
  return kept && kept.length > 0 ? { serviceOperationIds: kept } : {};
}

/**
 * Index of the rollout opened first (the first of equals), or -1 when there is none. Of two opened in the same
 * millisecond, the one whose opening entry is earlier to the nanosecond (openedAt).
 */
export function oldestRollout(rollouts: readonly Rollout[]): number {
  let oldest = rollouts.length > 0 ? 0 : -1;
  for (let i = 1; i < rollouts.length; i++) {
    const rollout = rollouts[i]!;
    const current = rollouts[oldest]!;
    if (rollout.openedMs < current.openedMs || (rollout.openedMs === current.openedMs && earlier(openedAt(rollout), openedAt(current)))) oldest = i;
  }
  return oldest;
}

/**
 * When a rollout opened: the timestamp of its write, or of its first system event when that opened it; a late half's
 * is its write's (Rollout.writeTime, else the start of `openedMs` when that is the write's time), where the engine
 * records what its revision brought in.
 */
export function openedAt(rollout: Rollout): { readonly timeMs: number; readonly time: string } {
  if (rollout.write && rollout.write.timeMs === rollout.openedMs) return rollout.write;
  if (rollout.writeTime !== undefined) return { timeMs: rollout.openedMs, time: rollout.writeTime };
  const first = rollout.observed?.firstKey.timestamp;
  return { timeMs: rollout.openedMs, time: first !== undefined && rollout.observed!.firstSeenMs === rollout.openedMs ? first : new Date(rollout.openedMs).toISOString() };
}

/** True when `a` happened before `b`, to the nanosecond (baseline/state.ts isBefore; its digits read only in a tie). */
function earlier(a: { readonly timeMs: number; readonly time: string }, b: { readonly timeMs: number; readonly time: string }): boolean {
  return a.timeMs !== b.timeMs ? a.timeMs < b.timeMs : isBefore(pointAt(a, undefined), b);
}

export function isComplete(rollout: Rollout): boolean {
  // A write across API versions waits for a revision's own event: a service event's Ready also follows an edit that
  // made no revision, and delivered before the revision's event it would complete the deploy without it.
  // The late half of a judged write has no write to wait for.
  return (rollout.write !== undefined || rollout.ofJudgedWrite === true) && rollout.observed?.ready !== undefined && (!rollout.acrossApis || rollout.observed.revisionEvent === true);
}

/**
 * True when `write`'s template cannot be compared with the one before it: that one was logged through the other API
 * version (fingerprints carry it: `v1:`, `v2:`).
 */
export function acrossApis(write: DeployChange, templateBefore: string | undefined): boolean {
  return templateBefore !== undefined && write.templateFingerprint !== undefined && !templateBefore.startsWith(`${write.api}:`);
}

/**
 * The deploy as the detectors see it: who, when, client and template from the write; revision, images, digest,
 * runtime service account and labels from what rolled out, where the system events said.
 */
export function rolledOut(rollout: Rollout, fallbackWrite: (observed: ObservedFacts) => DeployChange): RolledOut {
  const observed = rollout.observed;
  const write = rollout.write ?? fallbackWrite(observed!);
  // Field by field rather than `{ ...write, ... }`: a spread followed by overrides is several times slower in V8.
  const change: DeployChange = {
    kind: 'deploy',
    api: write.api,
    operation: write.operation,
    key: write.key,
    time: write.time,
    timeMs: write.timeMs,
    methodName: write.methodName,
    principal: write.principal,
    client: write.client,
    // A v2 write does not say the project number; the revision's events do (the default compute SA's address).
    target: write.target.projectNumber !== undefined || observed?.target.projectNumber === undefined ? write.target : { ...write.target, projectNumber: observed.target.projectNumber },
    revision: observed?.revision ?? write.revision,
    templateFingerprint: write.templateFingerprint,
    templateUnknown: write.templateUnknown,
    serviceAccount: observed?.serviceAccount ?? write.serviceAccount,
    // What rolled out, unless only the user-image annotation (the deployer's) says it where the write's containers do.
    images: observed && observed.images.length > 0 && (imagesFromContainers(observed.images) || !imagesFromContainers(write.images)) ? observed.images : write.images,
    imageDigest: observed?.imageDigest,
    // The write's, where it names any; else the revision's, as its system events' annotations or the Admin API show
    // it (a console write logs no containers, and may not log the annotations).
    sources: write.sources ?? observed?.sources,
    labels: overlaid(write.labels, observed?.labels),
    revisionLabels: overlaid(write.revisionLabels, observed?.revisionLabels),
    ingress: write.ingress,
    binaryAuthorization: write.binaryAuthorization,
    // The write's when it logged them (a gcloud write, the same revision); else the revision's, as its events show it.
    plainEnv: write.plainEnv ?? observed?.plainEnv,
    codeLoadingEnv: write.codeLoadingEnv ?? observed?.codeLoadingEnv,
    // The revision as Cloud Run stored it, when its events came: whole, where a console write's body is not.
    vpcEgress: observed?.vpcEgress ?? write.vpcEgress,
    vpcDestination: observed?.vpcEgress !== undefined ? observed.vpcDestination : write.vpcDestination,
    takesNoTraffic: write.takesNoTraffic,
    keepsTraffic: write.keepsTraffic,
    traffic: write.traffic,
    generation: write.generation,
    invokerIamDisabled: write.invokerIamDisabled,
    iapEnabled: write.iapEnabled,
    defaultUrlDisabled: write.defaultUrlDisabled,
    operationId: write.operationId,
    revisionSeen: write.revisionSeen,
    revisionCreatedMs: write.revisionCreatedMs,
  };
  return {
    change,
    rollout: {
      status: observed?.ready === true ? 'serving' : observed?.ready === false ? 'failed' : 'unknown',
      readyReason: observed?.readyReason,
      writes: rollout.writes,
      observed: observed !== undefined,
      writeSeen: rollout.write !== undefined,
      ...(observed?.revisionMayBeOf !== undefined && rollout.write !== undefined ? { revisionMayBeOf: observed.revisionMayBeOf } : {}),
    },
  };
}

type Labels = Readonly<Record<string, string>>;

/** The write's labels overlaid with those the rolled-out revision reports; undefined when neither is known. */
function overlaid(written: Labels, observed: Labels | undefined): Labels;
function overlaid(written: Labels | undefined, observed: Labels | undefined): Labels | undefined;
function overlaid(written: Labels | undefined, observed: Labels | undefined): Labels | undefined {
  if (!observed || Object.keys(observed).length === 0) return written;
  return written ? { ...written, ...observed } : observed;
}

/**
 * True when a system event (or the facts of a rollout's system events) reports on a rollout that already completed
 * (a late or repeated event): the same operation or the same revision.
 */
export function belongsToCompleted(completed: readonly CompletedRollout[], o: Pick<RevisionObservation, 'operationId' | 'revision'>): boolean {
  return completed.some((c) => sameOperation(o.operationId, c.operationId) || (o.revision !== undefined && c.revision === o.revision));
}
