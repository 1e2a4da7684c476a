// Shared reading of a deploy: does it create a revision, and which facts are unknown; and what a delete, or a newer
// entry applied before a late one, closes. Also the words for where a change applies, and which services are meant to
// be public.
import { beforeDelete, changedAfter, deletedBetween, deletePoint, indexBefore, isAfter, isBefore, isLaterPoint, pointAfter, pointAt, pointBefore, pointTime, record, sameInstant, tookNoTrafficAt, valueBefore, type ChangeInstant, type ServiceBaseline, type TimePoint } from '../baseline/state.js';
import { BURST_MS, createdOutside, reportedFromEvents, sameOperation, someWaitingWrite, type CompletedRollout } from '../correlate/rollout.js';
import { globMatcher } from '../config/glob.js';
import type { RuleSettings } from '../config/types.js';
import { normalizeTimestamp, subMillisecondNanos } from '../audit/entry.js';
import { keepsTemplateInForce, sameTemplate } from '../audit/template.js';
import { isJob, isService, resourceLabel, resourceNounOf, sameEntry, SYSTEM_EVENT_METHOD, type Change, type DeployChange, type EntryKey, type ResourceType, type IamScope, type ServiceRef } from '../model/change.js';
import type { Detection, OpenFinding, Resolved } from './types.js';

/**
 * Cloud Run creates a revision whenever the revision template changes. A create always does, as does a write that
 * forces one (DeployChange.forcesRevision); a replace or update does when its template differs from the one in force
 * before it (or when that one is unknown). A write without a
 * template (a v2 update mask that leaves it alone) or with the same template (traffic, IAM-only edits) does not. A
 * write whose entry logged no template although it sets one (a v1 write or a Cloud Functions InternalServices call
 * logged without its body) may have changed it: it counts, as a replace with the template before it unknown does.
 * The completion entry of a v2 operation is no write of its own: it only joins the rollout its operation's first
 * entry opened, while that one waits (it then counts as the same deploy); otherwise it creates nothing.
 * A write that arrives after a repeat of itself (the same template, moments later: gcloud writes twice) was judged
 * creates nothing either: Cloud Run made one revision of that template, reported with the repeat.
 */
export function createsRevision(change: DeployChange, baseline: ServiceBaseline | undefined): boolean {
  // A revision's own system events with no admin write known: a revision no rollout judged before (the engine lets
  // events of a judged revision go), so a revision was created. A console write logs its template without
  // containers, so a second console deploy can log the very template of the first: its events tell it apart.
  // Made no revision, or its revision was reported with its other half (Engine.claimLateHalf).
  if (change.revisionKept || change.reportedAsDeploy) return false;
  if (change.methodName === SYSTEM_EVENT_METHOD) return true;
  // Its revision's events were seen (taken by time for another write, so not reported): a revision was made, and
  // reported only if the burst's other write (gcloud writes twice) was judged as its deploy already.
  if (change.revisionSeen) return !repeatReported(change, baseline);
  if (change.operationCompletion) return waitsForOperation(baseline, change.operationId);
  // A write delivered after its own revision's events were judged without it (it came later than the wait): that
  // revision is reported already, under the operation id the events carry.
  // (Not when those events were taken for another write's late half by time alone: they were not reported.)
  if (reportedFromEvents(baseline?.completed, change.operationId) !== undefined) return false;
  if (change.operation === 'create' || change.forcesRevision) return true;
  if (!change.templateFingerprint) return change.templateUnknown === true;
  if (keepsTemplateInForce(baseline?.template, indexBefore(baseline?.template, change), change.templateFingerprint)) return false;
  return !repeatedBeforeItCame(change, baseline);
}

/**
 * True when a deploy write, judged as it comes (against `baseline`, before it is applied), makes no revision because its
 * template is the one in force before it: what a write older than it, arriving later with another template, makes a
 * deploy after all (ServiceBaseline.noRevision, deployMadeByLateTemplate). Not a write that names its revision (Cloud
 * Run's names tell whether it made one: writeMakesRevision), nor one whose revision its events reported or kept.
 */
export function judgedTemplateInForce(change: DeployChange, baseline: ServiceBaseline | undefined): boolean {
  const fingerprint = change.templateFingerprint;
  if (!fingerprint || change.revision !== undefined || change.revisionSeen || change.reportedAsDeploy || change.revisionKept || change.operationCompletion) return false;
  return !createsRevision(change, baseline) && keepsTemplateInForce(baseline?.template, indexBefore(baseline?.template, change), fingerprint);
}

/**
 * For a write (`change`, not applied yet) that sets a template and arrives after newer ones: the template point of the
 * next write after it, when that write was judged to make no revision as it came (ServiceBaseline.noRevision: the
 * template before this one was in force) and, with this one's template before it, makes one. In timestamp order that
 * write was a deploy, judged by the revision-level rules; as it came it raised nothing, and nothing judges it again.
 * Undefined otherwise, and where the service's system events reach runwatch: that write's revision, if Cloud Run made
 * one, has events of their own, judged alone (they report it, under the revision's name).
 */
export function deployMadeByLateTemplate(change: DeployChange, baseline: ServiceBaseline | undefined): TimePoint<string> | undefined {
  const fingerprint = change.templateFingerprint;
  const history = baseline?.template;
  if (!fingerprint || !baseline?.noRevision || baseline.systemEventsSeen || !changedAfter(history, change) || beforeDelete(baseline, change)) return undefined;
  const next = pointAfter(history, change)!;
  if (!baseline.noRevision.some((point) => sameInstant(point, next))) return undefined;
  // Judged against the template before this write: still the one before it (no other late write came in between since).
  const before = indexBefore(history, change);
  if (!keepsTemplateInForce(history, before, next.v)) return undefined;
  // With this write's template in force before it, it makes a revision.
  const withThis = record(history!, change.timeMs, fingerprint, subMillisecondNanos(change.time));
  return keepsTemplateInForce(withThis, indexBefore(withThis, newerWriteAt(next)), next.v) ? undefined : next;
}

/**
 * True when `change`, a deploy known only from its system events (they came later than their wait), is the deploy of a
 * write that off-window-deploy judged already on that write's behalf, from an older write that arrived after it
 * (deployMadeByLateTemplate, CompletedRollout.judgedForNewerWrite): that write is the last before the events (the
 * template point nearest before them), and the revision was created at it where the events say when. Reported again,
 * it would be a second alert for one deploy, under the revision's name.
 */
export function judgedForNewerWrite(change: DeployChange, baseline: ServiceBaseline | undefined): boolean {
  if (change.methodName !== SYSTEM_EVENT_METHOD || !baseline?.completed?.some((c) => c.judgedForNewerWrite === true)) return false;
  const write = pointBefore(baseline.template, change);
  if (write === undefined) return false;
  if (change.revisionCreatedMs !== undefined && createdOutside(change.revisionCreatedMs, write.t)) return false;
  return baseline.completed.some((c) => c.judgedForNewerWrite === true && sameInstant(c, write));
}

/**
 * True when a write arrives after a repeat of itself was judged: the template set next after it, less than BURST_MS
 * later, is its own (gcloud writes twice; Pub/Sub delivered the second first). It is that deploy, not another.
 */
export function repeatedBeforeItCame(change: DeployChange, baseline: ServiceBaseline | undefined): boolean {
  return repeatOf(change, baseline) !== undefined;
}

/** The template point of the repeat that was judged before this write came (repeatedBeforeItCame), if any. */
function repeatOf(change: DeployChange, baseline: ServiceBaseline | undefined): TimePoint<string> | undefined {
  if (!change.templateFingerprint) return undefined;
  const next = pointAfter(baseline?.template, change);
  return next !== undefined && sameTemplate(next.v, change.templateFingerprint) && next.t - change.timeMs <= BURST_MS ? next : undefined;
}

/**
 * True when a repeat of this write (repeatedBeforeItCame) was judged as a deploy, and so reported
 * (CompletedRollout.reportedWrite): not when it was judged to have made no revision. Where that is not known (its
 * completed entry let go, the newest COMPLETED_LIMIT being kept, or stored before the flag was), it counts as not
 * reported: a second alert rather than none.
 */
function repeatReported(change: DeployChange, baseline: ServiceBaseline | undefined): boolean {
  const repeat = repeatOf(change, baseline);
  return repeat !== undefined && judgedRepeat(repeat, baseline) !== undefined;
}

/**
 * The completed entry of the write that this write repeats, judged as a deploy and reported before it came
 * (repeatReported), if it is kept: the deploy this write is part of (the engine keeps its operation id there).
 */
export function judgedRepeatOf(change: DeployChange, baseline: ServiceBaseline | undefined): CompletedRollout | undefined {
  const repeat = repeatOf(change, baseline);
  return repeat !== undefined ? judgedRepeat(repeat, baseline) : undefined;
}

/** The completed entry of the repeat at `repeat` (repeatOf), judged as a deploy and reported, if it is kept. */
function judgedRepeat(repeat: TimePoint<string>, baseline: ServiceBaseline | undefined): CompletedRollout | undefined {
  // That very rollout, to the nanosecond: not another of its millisecond (one kept before the digits were: by its
  // millisecond, as then).
  return baseline?.completed?.find((c) => c.t === repeat.t && (c.n === undefined || c.n === (repeat.n ?? 0)) && c.reportedWrite === true);
}

/** True when a rollout of the baseline still waits with the write of this operation. */
function waitsForOperation(baseline: ServiceBaseline | undefined, operationId: string | undefined): boolean {
  if (operationId === undefined || !baseline?.rollouts) return false;
  return baseline.rollouts.some((rollout) => sameOperation(rollout.write?.operationId, operationId));
}

/**
 * What names a deploy in a finding's dedup key: its revision (one id for one revision, whichever of its entries it is
 * judged from, in any delivery order), else its time; a write whose repeat was judged as the deploy before it came
 * (repeatReported) is named as that repeat was. A name is not unique over time: a client names its revision
 * (v1 `template.metadata.name`, v2 `template.revision`), and the name is free again once that revision or the service
 * is deleted; a later deploy under it got the id of the finding reported for the earlier one, which every sink has
 * taken already (sinks/deliver.ts) and dropped as a duplicate. A deploy under a name another rollout of the service
 * made (its completed rollouts, kept across a delete) is told apart by the deploy's time: an earlier rollout of the
 * name, or a later one judged first (anotherDeployLater: the live pipeline and Pub/Sub take entries as they come, so
 * the later deploy may be judged, and keyed by its name alone, before the earlier one arrives). "Earlier" and "later"
 * are to the nanosecond (CompletedRollout.n): a rollout of the deploy's own millisecond counts when its write's
 * timestamp is earlier (or later). A name no other rollout made keeps the name alone: the first deploy judged under a
 * name cannot know of another yet, so its id is the one a deploy with a name of its own gets.
 */
export function deployKey(change: DeployChange, baseline: ServiceBaseline | undefined): string[] {
  // A write whose repeat was judged as the deploy before it came (gcloud writes twice; the second delivered first) is
  // that deploy, keyed as it was: by the revision it made where its completed entry names one, else by the repeat's
  // time (keyed by its own, what it raises again would be another alert for the same deploy).
  if (!change.revision && isService(change.target)) {
    const repeat = repeatOf(change, baseline);
    const judged = repeat !== undefined ? judgedRepeat(repeat, baseline) : undefined;
    if (judged !== undefined) return judged.revision !== undefined ? deployKey({ ...change, revision: judged.revision }, baseline) : [pointTime(repeat!)];
  }
  // Only a service's rollouts are recorded (completed), so only a service's reused names can be told apart: a worker
  // pool's deploys are keyed by time, whatever their revision is called.
  if (!change.revision || !isService(change.target)) return [change.time];
  const completed = baseline?.completed;
  if (!completed) return [change.revision];
  // A later rollout is looked at only for a deploy judged afresh, not for another entry of one judged already (asked
  // only once a later rollout of the name is found: most deploys have none).
  let fresh: boolean | undefined;
  const reused = completed.some((c) => {
    if (c.revision !== change.revision) return false;
    const point = completedPoint(c);
    // Earlier to the nanosecond (CompletedRollout.n): a rollout of the deploy's own millisecond may have made the name.
    if (c.t <= change.timeMs && isBefore(point, change)) return true;
    return isAfter(point, change) && (fresh ??= judgedAfresh(change, baseline!)) && anotherDeployLater(c, point, change, baseline!);
  });
  return reused ? [change.revision, change.time] : [change.revision];
}

/** A completed rollout's instant as a point (its nanoseconds when it has them). */
function completedPoint(c: CompletedRollout): TimePoint<string | undefined> {
  return c.n ? { t: c.t, v: c.revision, n: c.n } : { t: c.t, v: c.revision };
}

/**
 * False when `change` is another entry of a deploy judged already, whose findings were keyed then: a write whose
 * repeat (gcloud writes twice) was judged first (repeatedBeforeItCame), a late half or a write whose revision was
 * reported with another entry (reportedAsDeploy, revisionSeen), a v2 operation's completion entry, or a write whose
 * system events were judged without it (a completed rollout of its operation, judged without a write). Such an entry
 * is keyed as before (by earlier rollouts alone), so it keeps the id its deploy's other entry got.
 */
function judgedAfresh(change: DeployChange, baseline: ServiceBaseline): boolean {
  if (change.reportedAsDeploy || change.revisionSeen || change.operationCompletion) return false;
  if (change.operationId !== undefined && baseline.completed!.some((c) => c.withoutWrite === true && sameOperation(c.operationId, change.operationId))) return false;
  return repeatOf(change, baseline) === undefined;
}

/**
 * True when the completed rollout `c`, later than `change` (at `point`) and of its revision name, is another deploy: a
 * write of another operation judged as a deploy (CompletedRollout.reportedWrite), or any rollout after a delete of the
 * service that `change` came before (the delete freed the name). Not events alone with no delete between: they may be
 * `change`'s own revision's (its system events, judged before its write arrived).
 */
function anotherDeployLater(c: CompletedRollout, point: TimePoint<unknown>, change: DeployChange, baseline: ServiceBaseline): boolean {
  if (sameOperation(c.operationId, change.operationId)) return false;
  if (c.reportedWrite === true && c.withoutWrite !== true) return true;
  const deleted = deletePoint(baseline);
  return deleted !== undefined && isAfter(deleted, change) && isLaterPoint(point, deleted);
}

/** The facts a deploy entry did not carry, in the words findings use. */
export function unknownDeployFacts(change: DeployChange): string[] {
  const unknown: string[] = [];
  // A job has no revisions: nothing to know.
  if (!change.revision && !isJob(change.target)) unknown.push('revision');
  // A container that runs source code (from a bucket, or inlined) has no image, and its code is known all the same; a
  // sourceCode runwatch cannot read leaves it unknown (new-image-repository reports that source, `source` unknown).
  if (change.images.length === 0 && !change.sources?.some((source) => source.kind === 'cloud-storage' || source.kind === 'inlined')) unknown.push('image');
  if (!change.serviceAccount) unknown.push('serviceAccount');
  if (!change.principal) unknown.push('principal');
  return unknown;
}

/** What a change is about, in the words of a finding (`service`, `job`, `worker pool`). */
export function resourceNoun(ref: { readonly resourceType?: ResourceType }): 'service' | 'job' | 'worker pool' {
  return resourceNounOf(ref.resourceType);
}

/** `PROJECT/NAME (LOCATION)`, after `job ` or `worker pool ` for those (model/change.ts resourceLabel). */
export const serviceLabel = resourceLabel;

/**
 * Where an IAM policy (set or refused) applies, in the words of a finding: the service, or the project, folder or
 * organization with every service in it (`organizations/O` reads as `organization O`).
 */
export function iamScopeLabel(scope: IamScope, target: ServiceRef): string {
  if (scope === 'service') return serviceLabel(target);
  return `${scope === 'project' ? `project ${target.project}` : target.project.replace('s/', ' ')} (every Cloud Run service in it)`;
}

/** True when `target` is among `public-invoker-grant.allowServices`, the services meant to be public. */
export function meantToBePublic(allowServices: readonly string[], target: ServiceRef): boolean {
  return globMatcher(allowServices)(`${target.project}/${target.service}`);
}

/**
 * What a service's delete (at `at`) closes of a rule's open findings about it: all of them when it comes in order (no
 * point of the rule's `histories` after it: the service is gone, and its settings with it). One that arrives late,
 * after entries about the service created again under the name, closes what it closed in timestamp order: the findings
 * dated before it (findingInstant; one whose time cannot be read counts as before), never one dated after it (the
 * re-created service's: raised by a write after the delete, its word stands). But for a finding whose risk
 * `heldAgain` says timestamp order reports again for the re-created service (reportedAgainAfterDelete) when none of
 * `recreated` (the open findings dated after the delete) reports it: the write that set it was judged before the delete
 * was known, against this finding's value, and raised nothing. That finding stays open for the risk in force, as the
 * re-created service's own finding is in timestamp order (its time and id are this one's).
 */
export function closedByDelete(
  open: readonly OpenFinding[],
  at: ChangeInstant,
  histories: readonly (readonly TimePoint<unknown>[] | undefined)[],
  heldAgain?: (o: OpenFinding, recreated: readonly OpenFinding[]) => boolean,
): Resolved[] {
  const closed = histories.some((history) => changedAfter(history, at)) ? closedByLateDelete(open, at, heldAgain) : open;
  return closed.map((o) => ({ id: o.finding.id, reason: deletedReason(o.finding) }));
}

/** closedByDelete for a delete that arrives after entries about the re-created service. */
function closedByLateDelete(open: readonly OpenFinding[], at: ChangeInstant, heldAgain?: (o: OpenFinding, recreated: readonly OpenFinding[]) => boolean): readonly OpenFinding[] {
  const recreated = open.filter((o) => !datedBefore(o, at));
  return open.filter((o) => datedBefore(o, at) && !(heldAgain?.(o, recreated) ?? false));
}

/**
 * True when an open finding is dated before the service's delete, known now: the delete closed every such finding but
 * one it left open for the risk of the service created again (closedByLateDelete), which an entry about the deleted
 * service that arrives later still may close (settingRestored), where it ends that risk in timestamp order.
 */
export function keptOpenByLateDelete(o: OpenFinding, baseline: ServiceBaseline | undefined): boolean {
  const deleted = deletePoint(baseline);
  return deleted !== undefined && datedBefore(o, newerWriteAt(deleted));
}

/**
 * The open finding dated latest before `at` (to the nanosecond; one whose time cannot be read counts as before, the
 * earliest), or undefined when none is.
 */
function newestDatedBefore(open: readonly OpenFinding[], at: ChangeInstant): OpenFinding | undefined {
  let newest: OpenFinding | undefined;
  for (const o of open) {
    if (!datedBefore(o, at)) continue;
    const instant = findingInstant(o);
    const newestInstant = newest && findingInstant(newest);
    const later = instant !== undefined && (newestInstant === undefined || isAfter(pointAt(instant, undefined), newestInstant));
    if (newest === undefined || later) newest = o;
  }
  return newest;
}

/** True when an open finding's instant is before `at` (to the nanosecond), or cannot be read. */
export function datedBefore(o: OpenFinding, at: ChangeInstant): boolean {
  const instant = findingInstant(o);
  return instant === undefined || isBefore(pointAt(instant, undefined), at);
}

/**
 * For a delete at `at` that arrives after entries about the service created again: true when the newest point of
 * `history` is later than the delete and `holds` a risk, and timestamp order reports that risk for the re-created
 * service. A rule that compares the re-created service with nothing (it starts without the risk: `carried` false)
 * reports it always; one whose history carries across the delete (the re-created service is compared with the deleted
 * one) only where it was not held all along: from the value in force before the delete (none known: nothing to compare
 * with) through every point after it, a write that set it again raised nothing.
 * For a revision-level risk (`tookNoTraffic` given, a rule that compares with nothing), newer points of revisions that
 * took none of the traffic (`--no-traffic`) end nothing: the risk is reported again where one of them holds it, or the
 * newest point after the delete of a revision that took traffic (the one serving) does.
 */
export function reportedAgainAfterDelete<T>(
  history: readonly TimePoint<T>[] | undefined,
  at: ChangeInstant,
  holds: (value: T) => boolean,
  carried: boolean,
  tookNoTraffic?: readonly TimePoint<true>[],
): boolean {
  const newest = history?.[history.length - 1];
  if (newest === undefined || !isAfter(newest, at)) return false;
  if (!holds(newest.v)) return !carried && tookNoTraffic !== undefined && heldUnderNoTraffic(history!, at, holds, tookNoTraffic);
  if (!carried) return true;
  const before = pointBefore(history, at);
  const heldAllAlong = (before === undefined || holds(before.v)) && history!.every((point) => !isAfter(point, at) || holds(point.v));
  // Held all along from a risk whose finding the delete closed: the re-created service's first write that held it
  // raised it again (riskClosedByDelete).
  return !heldAllAlong || (before !== undefined && findingOpenAt(history, before, holds));
}

/**
 * For a write of a service created again under the name (at `at`) that holds a rule's risk, judged against `before`, the
 * deleted service's value (no point between the delete and `at`): the delete's time when that value held the risk too
 * and its finding was open at the delete (findingOpenAt), so the delete closed it ("the service was deleted"). Compared
 * with the deleted service the write changed nothing; without a finding of its own the service under the name holds the
 * risk while every sink shows it resolved, so this write raises the finding again (its own time and id). Only the first
 * write after the delete is judged against the deleted service's value: a later one is compared with the re-created
 * service's own. Undefined otherwise (no delete between, a value without the risk, a risk held from the first value
 * known: nothing raised it, nothing was closed).
 */
export function riskClosedByDelete<T>(
  baseline: ServiceBaseline | undefined,
  history: readonly TimePoint<T>[] | undefined,
  before: TimePoint<T>,
  at: ChangeInstant,
  holds: (value: T) => boolean,
): string | undefined {
  const deletedAt = deletedBetween(baseline, before, at);
  return deletedAt !== undefined && findingOpenAt(history, before, holds) ? deletedAt : undefined;
}

/**
 * True when `point` (of `history`, or a write still waiting) holds the risk and a value without it is known before it: the
 * write that set the risk after that value raised the finding, and no value since ended it.
 */
export function findingOpenAt<T>(history: readonly TimePoint<T>[] | undefined, point: TimePoint<T>, holds: (value: T) => boolean): boolean {
  return holds(point.v) && (history ?? []).some((p) => isLaterPoint(point, p) && !holds(p.v));
}

/**
 * For reportedAgainAfterDelete: true when, walking back from the newest point of `history` after the delete at `at`,
 * a point of a revision that took no traffic holds the risk (reported, and closed by nothing since: only such points
 * came after it), or the first point of a revision that took traffic does (it still serves).
 */
function heldUnderNoTraffic<T>(history: readonly TimePoint<T>[], at: ChangeInstant, holds: (value: T) => boolean, tookNoTraffic: readonly TimePoint<true>[]): boolean {
  for (let i = history.length - 1; i >= 0 && isAfter(history[i]!, at); i--) {
    const point = history[i]!;
    if (holds(point.v)) return true;
    if (!tookNoTrafficAt(point, tookNoTraffic)) return false;
  }
  return false;
}

/**
 * closedByDelete's `heldAgain` for a rule whose findings each name several parts (variables, public members) and whose
 * re-created service is compared with nothing (it starts without the risk): true when some part of the finding
 * (`parts`) the re-created service's newest entry `holds` again (reportedAgainAfterDelete) and no finding of
 * `recreated` names (`partsOf`, compared by `samePart`: one variable may be named with or without its container). One
 * part is enough: the finding stays open while any of its parts is in force (the
 * rules' riskInForce), and the write that set that part again raised nothing (judged against this finding's value).
 * `tookNoTraffic` for a revision-level risk (reportedAgainAfterDelete).
 */
export function somePartReportedAgain<T, P>(
  parts: readonly P[],
  history: readonly TimePoint<T>[] | undefined,
  at: ChangeInstant,
  holds: (part: P) => (value: T) => boolean,
  recreated: readonly OpenFinding[],
  partsOf: (r: OpenFinding) => readonly P[],
  samePart: (a: P, b: P) => boolean,
  tookNoTraffic?: readonly TimePoint<true>[],
): boolean {
  const named = (part: P): boolean => recreated.some((r) => partsOf(r).some((other) => samePart(part, other)));
  return parts.some((part) => reportedAgainAfterDelete(history, at, holds(part), false, tookNoTraffic) && !named(part));
}

/** Why a delete closed a finding, in the words of what it is about (a job's or a worker pool's is no service's). */
export function deletedReason(finding: { readonly resourceType?: ResourceType }): string {
  return `the ${resourceNounOf(finding.resourceType)} was deleted`;
}

/**
 * Whether a detection of an entry at `timeMs` opens its risk, and, when the entry came late and a newer entry
 * (applied before this one came) set a value that `endsIt`, when and why the earliest such value took the risk away
 * (`takenAwayLater`, with `reason` for that value). A late entry whose risk no newer value ended is a risk in force
 * (newer entries hold it still): it opens, so the change that later takes the risk away, or the delete, closes it as
 * replay in time order would; otherwise it would stay active in every sink for good (`heldByNewer`: it gives way
 * first when the service has too many open findings). A value set by a revision that took none of the traffic
 * (`tookNoTraffic`, for a revision-level risk) ends nothing: the revision reported kept serving.
 */
export function riskInForce<T>(
  history: readonly TimePoint<T>[] | undefined,
  at: ChangeInstant,
  endsIt: (value: T) => boolean,
  reason: (value: T) => string,
  tookNoTraffic?: readonly TimePoint<true>[],
): Pick<Detection, 'opensRisk' | 'takenAwayLater' | 'heldByNewer'> {
  if (!changedAfter(history, at)) return { opensRisk: true };
  const end = history!.find((point) => isAfter(point, at) && endsIt(point.v) && !tookNoTrafficAt(point, tookNoTraffic));
  if (!end) return { opensRisk: true, heldByNewer: true };
  return { opensRisk: false, takenAwayLater: { time: pointTime(end), reason: reason(end.v) } };
}

/**
 * riskInForce for a service setting judged against settingBefore (a write still waiting for its rollout holds the
 * setting for the writes judged meanwhile). A late entry whose risk a newer write took away is history, closed at once,
 * unless the newest point holds the risk again and no open finding of `rule` (that `covers` it) says so: a write that
 * set the risk again while this one still waited raised nothing (the setting before it was this write's), and an older
 * write taking the risk away, delivered after both, came between them. This entry's finding then stands for the risk
 * in force (`heldByNewer`), as the newer write's would in timestamp order. A delete after that point closed it all.
 */
export function settingRiskInForce<T>(
  baseline: ServiceBaseline | undefined,
  history: readonly TimePoint<T>[] | undefined,
  at: ChangeInstant,
  endsIt: (value: T) => boolean,
  reason: (value: T) => string,
  rule: string,
  covers: (open: OpenFinding) => boolean = () => true,
): Pick<Detection, 'opensRisk' | 'takenAwayLater' | 'heldByNewer'> {
  const risk = riskInForce(history, at, endsIt, reason);
  if (risk.opensRisk) return risk;
  const newest = history![history!.length - 1]!;
  const deleted = deletePoint(baseline);
  if (endsIt(newest.v) || (deleted !== undefined && isLaterPoint(deleted, newest))) return risk;
  if ((baseline?.open ?? []).some((o) => o.rule === rule && covers(o))) return risk;
  return { opensRisk: true, heldByNewer: true };
}

/**
 * The point of a service setting in force just before `at` (to the nanosecond, for a change): the newest of the baseline's `history` and of the
 * writes still waiting for their rollout (each rollout's write and the burst's later writes that set the service:
 * Rollout.settingWrites). A deploy joins the baseline once its rollout completes, but what it set of the service is in force from
 * its write, and a write that makes no revision (a masked update of one setting) is judged meanwhile. A waiting write
 * whose entry is `except` is left out.
 */
export function settingBefore<T>(
  baseline: ServiceBaseline | undefined,
  history: readonly TimePoint<T>[] | undefined,
  at: ChangeInstant,
  pick: (write: DeployChange) => T | undefined,
  except?: EntryKey,
): TimePoint<T> | undefined {
  let newest = pointBefore(history, at);
  someWaitingWrite(baseline?.rollouts, (write) => {
    const value = pick(write);
    if (value === undefined || (except !== undefined && sameEntry(write.key, except))) return;
    const point = pointAt(write, value);
    if (isBefore(point, at) && (!newest || !isAfter(newest, write))) newest = point;
  });
  return newest;
}

/**
 * The instant of a newer write known only from its point (Detection.forNewerWrite): its canonical timestamp, as its
 * own entry's `time` reads (pointTime of pointAt gives it back).
 */
export function newerWriteAt(point: TimePoint<unknown>): { readonly timeMs: number; readonly time: string } {
  return { timeMs: point.t, time: pointTime(point) };
}

/**
 * For a late write (`change`) that would report the newer write at `at` on its behalf (Detection.forNewerWrite): true
 * when that newer write may have reported itself, so it is left alone (a second report would repeat its finding). It
 * raised nothing only if it was judged against no value that `raises` it (`raises`: the value before it that makes it
 * a finding: a restricted ingress, the default URL disabled): certain when no such value before it is known now, in
 * `history` or in a write still waiting for its rollout (other than `change`); one that is may have been known when it
 * was judged (what came when is not kept). An open finding of `rule` at its time says it reported itself (judged while
 * `change` waited for its rollout: settingBefore held it). Where the newer write is the first known of the service
 * created again after its delete, that open finding is the whole answer (openFindingTellsAfterDelete): else the
 * deleted service's older values (its first write's, the baseline) hid the re-created service's risk whenever the
 * write that ended it arrived after the one that set it again. So too for any write of the re-created service where
 * `closedOnlyByNewerEnd` and no finding of `rule` is open (one that is stands for the risk): for iap-disabled and
 * binary-authorization-bypass, whose findings an older write closes only where it was the newest value before them
 * (supersededFindings, which leaves its own finding open where it raised one), a report then names the newer write's
 * own id, and at worst opens again the finding such a write closed, never a second one beside it.
 */
export function newerWriteMayHaveReported<T>(
  baseline: ServiceBaseline | undefined,
  history: readonly TimePoint<T>[] | undefined,
  change: DeployChange,
  at: { readonly timeMs: number; readonly time: string },
  raises: (value: T) => boolean,
  pick: (write: DeployChange) => T | undefined,
  rule: string,
  closedOnlyByNewerEnd = false,
): boolean {
  if (openFindingAt(baseline, rule, at.time)) return true;
  // (Only where no finding of the rule stands for the risk: a write between, reported itself, holds it still.)
  const nothingOpen = !(baseline?.open ?? []).some((o) => o.rule === rule);
  if (openFindingTellsAfterDelete(baseline, history, change, at, raises, pick, closedOnlyByNewerEnd && nothingOpen)) return false;
  return someSettingPoint(baseline, history, pick, (point) => raises(point.v) && isBefore(point, at), change.key);
}

/**
 * For newerWriteMayHaveReported: true when the newer write at `at` is a write of the service created again after its
 * delete and a finding it raised would be open still, so an open finding at its time alone tells whether it reported
 * itself. What closes a finding dated after the delete is a newer value that ends the risk (none may be known after
 * it) or a late older write between the delete and it (supersededFindings: none may be known there, unless
 * `closedOnlyByNewerEnd`, see newerWriteMayHaveReported); the late delete does not, and an older entry of the deleted
 * service closes nothing (engine.ts aboutDeletedService). Points of `history` and writes still waiting for their rollout count,
 * `change` left out.
 */
function openFindingTellsAfterDelete<T>(
  baseline: ServiceBaseline | undefined,
  history: readonly TimePoint<T>[] | undefined,
  change: DeployChange,
  at: { readonly timeMs: number; readonly time: string },
  raises: (value: T) => boolean,
  pick: (write: DeployChange) => T | undefined,
  closedOnlyByNewerEnd: boolean,
): boolean {
  const deleted = deletePoint(baseline);
  if (deleted === undefined || !isBefore(deleted, at)) return false;
  const between = (point: TimePoint<T>): boolean => !closedOnlyByNewerEnd && isLaterPoint(point, deleted) && isBefore(point, at);
  return !someSettingPoint(baseline, history, pick, (point) => between(point) || (raises(point.v) && isAfter(point, at)), change.key);
}

/** True when a finding of `rule` whose eventTime is `time` is open: a newer write's own report of it, say. */
export function openFindingAt(baseline: ServiceBaseline | undefined, rule: string, time: string): boolean {
  return (baseline?.open ?? []).some((o) => o.rule === rule && o.finding.eventTime === time);
}

/**
 * True when a principal exception of the rule could have held a finding back: a finding a late write raises for a
 * newer one cannot tell (who made the newer write is not kept).
 */
export function hasPrincipalExceptions(settings: RuleSettings): boolean {
  return settings.exceptions.some((exception) => exception.principal !== undefined);
}

/**
 * True when a write still waiting for its rollout (other than `change`), later than `change` (and not later than
 * `until`, when given), `sets` what a late write's report for a newer write reads: the history after `change` is not
 * whole yet (that write is judged and applied when its rollout completes), so the first write after `change`, or what
 * ended its risk, is not known.
 */
export function laterWriteWaiting(baseline: ServiceBaseline | undefined, change: DeployChange, sets: (write: DeployChange) => boolean, until?: ChangeInstant): boolean {
  return someWaitingWrite(baseline?.rollouts, (write) => {
    if (!sets(write) || sameEntry(write.key, change.key)) return false;
    const point = pointAt(write, undefined);
    return isAfter(point, change) && (until === undefined || !isAfter(point, until));
  });
}

/**
 * The open findings a deploy at `at` that sets the newest fact that serves closes: all of them, in order; a late one
 * (`history` has newer points, all of revisions that took no traffic: servedChangeAfter) only those about changes
 * before it (by their eventTime; one whose time cannot be read counts as before), as in timestamp order: a finding
 * of one of those newer revisions came after it. (In order a finding's eventTime may be later than the fact it
 * reports, as a late half's events are: all are closed.)
 */
export function closableBy(open: readonly OpenFinding[], history: readonly TimePoint<unknown>[] | undefined, at: ChangeInstant): readonly OpenFinding[] {
  if (!changedAfter(history, at)) return open;
  return open.filter((o) => {
    const time = normalizeTimestamp(o.finding.eventTime);
    return time === undefined || isBefore({ t: time.ms, v: undefined, n: subMillisecondNanos(time.iso) }, at);
  });
}

/** An open finding's instant (its eventTime, to the nanosecond), to compare with points; undefined if unreadable. */
export function findingInstant(o: OpenFinding): { readonly timeMs: number; readonly time: string } | undefined {
  const time = normalizeTimestamp(o.finding.eventTime);
  return time === undefined ? undefined : { timeMs: time.ms, time: time.iso };
}

/**
 * A write (`change`) that sets a service setting back to the value a rule reports, arriving after newer writes were
 * judged: the open findings of the rule (`open`) for newer writes judged against a value that `raises` them (their
 * setting just before, applied or waiting, `change` left out) older than `change` named a change timestamp order does
 * not have: the setting was `change`'s before them (`change` reports itself where it raises). Each is closed, at its
 * own time (no resolution comes before its finding), for `reason`. Not one a late entry opened for the risk newer
 * entries hold (OpenFinding.late: it stands for a newer write's), nor one whose risk a newer write is known to have
 * ended (`endedSince` its time): open still, it stands for the risk set again since, which the write that set it may not
 * have reported (judged against the finding's own write), and `change`'s own finding is closed at once by that end.
 * Where the service's delete lies between that value and `change`, `change` is the first write of the service created
 * again before them, and timestamp order judged them against it whatever that value was: a newer re-created write's
 * finding raised against the deleted service's risk (reported again: riskClosedByDelete), or a late one standing for
 * newer writes' risk, is closed too (`change` reports the re-created service's risk itself, as in timestamp order).
 */
export function supersededFindings<T>(
  change: DeployChange,
  baseline: ServiceBaseline | undefined,
  open: readonly OpenFinding[],
  history: readonly TimePoint<T>[] | undefined,
  pick: (write: DeployChange) => T | undefined,
  raises: (value: T) => boolean,
  reason: string,
  endedSince: (at: ChangeInstant) => boolean,
): Resolved[] {
  return open.flatMap((o) => {
    const at = findingInstant(o);
    if (at === undefined || !isBefore(pointAt(change, undefined), at) || endedSince(at)) return [];
    const before = settingBefore(baseline, history, at, pick, change.key);
    if (before === undefined || !isBefore(before, change)) return [];
    // The service deleted between that value and `change`: `change` is the re-created service's first write before the
    // finding's, which was judged against the deleted service's value (or an older one), never `change`'s.
    if (deletedBetween(baseline, before, change) === undefined && (o.late || !raises(before.v))) return [];
    return [{ id: o.finding.id, reason, time: o.finding.eventTime }];
  });
}

/**
 * True when a value that `ends` a risk is known after `at` (to the nanosecond), in `history` or in a write still
 * waiting for its rollout (`pick`).
 */
export function endedAfter<T>(baseline: ServiceBaseline | undefined, history: readonly TimePoint<T>[] | undefined, at: ChangeInstant, pick: (write: DeployChange) => T | undefined, ends: (value: T) => boolean): boolean {
  return someSettingPoint(baseline, history, pick, (point) => ends(point.v) && isAfter(point, at));
}

/**
 * True when a point of a service setting's `history`, or of a write still waiting for its rollout (`pick`; a write whose
 * entry is `except` left out), is `where` asks.
 */
function someSettingPoint<T>(
  baseline: ServiceBaseline | undefined,
  history: readonly TimePoint<T>[] | undefined,
  pick: (write: DeployChange) => T | undefined,
  where: (point: TimePoint<T>) => boolean,
  except?: EntryKey,
): boolean {
  if ((history ?? []).some(where)) return true;
  return someWaitingWrite(baseline?.rollouts, (write) => {
    const value = pick(write);
    return value !== undefined && (except === undefined || !sameEntry(write.key, except)) && where(pointAt(write, value));
  });
}

/**
 * True when the service's create is known before `at` (applied, or its write still waiting for its rollout), and no
 * delete since: a service starts with an empty IAM policy, so its policy just before `at` is known even where no
 * SetIamPolicy of it was seen (no one held a role, unless one seen since says otherwise).
 */
export function createdBefore(baseline: ServiceBaseline | undefined, at: ChangeInstant): boolean {
  return settingBefore(baseline, baseline?.creates, at, (write) => (write.operation === 'create' && !write.operationCompletion ? true : undefined)) !== undefined;
}

/** Whether a service can be called without an identity, as a rule that opens a way to it tells it. */
export interface UnauthenticatedCallers {
  /** Public members holding its invoker role (sorted), as known just before the change. */
  readonly publicInvokers: readonly string[];
  /** Its invoker IAM check is off: as the change sets it, else as in force before it. */
  readonly invokerIamDisabled: boolean;
  /** Why anyone can call it (`allUsers hold its invoker role`), or undefined when callers need an identity. */
  readonly why?: string;
}

/**
 * Who can call the service a deploy changes without an identity: the public members holding its invoker role before
 * the change, or its invoker IAM check off (as the change sets it, else as in force before it, waiting deploys
 * included). The rules that open a way to a service (ingress, IAP, default URL) are HIGH then.
 */
export function unauthenticatedCallers(change: DeployChange, baseline: ServiceBaseline | undefined): UnauthenticatedCallers {
  const publicInvokers = valueBefore(baseline?.publicInvokers, change) ?? [];
  const invokerIamDisabled = change.invokerIamDisabled ?? settingBefore(baseline, baseline?.invokerIamDisabled, change, (write) => write.invokerIamDisabled)?.v === true;
  return callers(publicInvokers, invokerIamDisabled);
}

/**
 * unauthenticatedCallers for a write known only from the baseline (its point at `at`: a newer write whose entry is not
 * kept): the public invokers just before it, its invoker IAM check as the baseline holds it at `at` (the write's own
 * setting where it set one, else the one before; writes still waiting for their rollout are not looked at).
 */
export function unauthenticatedCallersAt(baseline: ServiceBaseline | undefined, at: { readonly timeMs: number; readonly time: string }): UnauthenticatedCallers {
  const publicInvokers = valueBefore(baseline?.publicInvokers, at) ?? [];
  const invokerIamDisabled = baseline?.invokerIamDisabled?.findLast((point) => !isAfter(point, at))?.v === true;
  return callers(publicInvokers, invokerIamDisabled);
}

function callers(publicInvokers: readonly string[], invokerIamDisabled: boolean): UnauthenticatedCallers {
  const why = publicInvokers.length > 0 ? `${publicInvokers.join(' and ')} hold its invoker role` : invokerIamDisabled ? 'its invoker IAM check is off' : undefined;
  return { publicInvokers, invokerIamDisabled, ...(why ? { why } : {}) };
}

/** The evidence of UnauthenticatedCallers: only what holds. */
export function callersEvidence(callers: UnauthenticatedCallers): Record<string, unknown> {
  return {
    ...(callers.publicInvokers.length > 0 ? { publicInvokers: callers.publicInvokers } : {}),
    ...(callers.invokerIamDisabled ? { invokerIamDisabled: true } : {}),
  };
}

/**
 * The resolutions of a rule about a service setting that a write takes away and a later one restores (ingress
 * restricted again, IAP on again, the default URL disabled again): the newest entry about the setting that restores it
 * closes every open finding of the rule, and so does the service's delete; an older one that arrives late closes those
 * dated before it where a finding dated after it stands for the risk set again since; else all of them but the newest,
 * which stands for it (one finding for one risk: a late write's left open beside it ended at this restore, as in
 * timestamp order, where an older write arriving later closed the newer write's own). One that arrives after entries
 * about the service created again closes those dated before it (closedByDelete), unless the re-created service's newest
 * value is the risk again (`risky`), reported again in timestamp order (the setting carries across the delete: only
 * where it was not held all along, reportedAgainAfterDelete) and no finding dated after the delete says so: then the
 * newest finding dated before the delete stays open for that one risk, and the others close with the delete.
 */
export function settingRestored<T>(
  history: (baseline: ServiceBaseline | undefined) => readonly TimePoint<T>[] | undefined,
  restores: (change: DeployChange) => boolean,
  reason: (change: DeployChange) => string,
  risky: (value: T) => boolean,
): (input: { readonly change: Change; readonly baseline: ServiceBaseline | undefined }, open: readonly OpenFinding[]) => Resolved[] {
  return ({ change, baseline }, open) => {
    if (change.kind === 'delete') {
      // One finding stands for the re-created service's risk (timestamp order has one): the newest dated before the
      // delete. Others a late write left open beside it for the same risk (settingRiskInForce) close with the rest.
      const standing = newestDatedBefore(open, change);
      const heldAgain = (o: OpenFinding, recreated: readonly OpenFinding[]): boolean =>
        o === standing && recreated.length === 0 && reportedAgainAfterDelete(history(baseline), change, risky, true);
      return closedByDelete(open, change, [history(baseline)], heldAgain);
    }
    if (change.kind !== 'deploy' || !restores(change)) return [];
    // A restore of the deleted service, arriving after its late delete: it ends the risk of the findings dated before
    // it that the delete left open (keptOpenByLateDelete), as in timestamp order; the re-created service's risk, if
    // held, is reported for its write (reopenedAfter and the like).
    if (beforeDelete(baseline, change)) return open.filter((o) => datedBefore(o, change)).map((o) => ({ id: o.finding.id, reason: reason(change) }));
    if (changedAfter(history(baseline), change)) {
      // A late restore is not the newest word: a finding before it stands for the risk set again since, unless a
      // finding dated after it does. Then it ended the risk of those before it, as in timestamp order. One stands for
      // that risk, the newest: others a late write left open beside it (settingRiskInForce) ended here, as in
      // timestamp order, where an older write arriving later closed the newer write's own (supersededFindings).
      const standing = open.some((o) => !datedBefore(o, change)) ? undefined : newestDatedBefore(open, change);
      return open.filter((o) => o !== standing && datedBefore(o, change)).map((o) => ({ id: o.finding.id, reason: reason(change) }));
    }
    const why = reason(change);
    return open.map((o) => ({ id: o.finding.id, reason: why }));
  };
}
