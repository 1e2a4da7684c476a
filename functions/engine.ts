// The detection core shared by replay and the live pipeline: change + baseline + config -> findings.
// For each change it reads the service's baseline, runs every enabled rule (pure), folds the change into the
// baseline, all in one store transaction, then enriches the detections into findings with deterministic ids.
// Deploys that create a revision wait for their system events first (correlate/rollout.ts).
import { applyChangeTo, fillAt, moveFilled, newerInItsMillisecond, openedBefore, type Filled } from './baseline/apply.js';
import { baselineKey, type BaselineStore, type Delivery, type TransactionOutcome } from './baseline/store.js';
import { beforeDelete, COPY_EDITS, IN_PLACE_EDITS, isAfter, pointAt, pointOf, pointTime, sameInstant, valueBefore, type BaselineEdits, type TimePoint, type MutableBaseline, type ServiceBaseline } from './baseline/state.js';
import { globMatches, isPerson, principalMatches } from './config/glob.js';
import type { RuleException, RuleSettings, RunwatchConfig } from './config/types.js';
import {
  addWrite,
  awaitingEvents,
  awaits,
  awaitingByServiceOperation,
  belongsToCompleted,
  acrossApis,
  BURST_MS,
  lateHalfOf,
  reportedFromEvents,
  sameOperation,
  tiedToEventsOnlyByTime,
  tiedByCreationTime,
  isComplete,
  joinedByTimeAlone,
  joinedAtLast,
  joinedLater,
  eventFactsOf,
  createdFor,
  createdOutsideWrite,
  observe,
  oldestRollout,
  openedAt,
  openFromObservation,
  openFromWrite,
  rolledOut,
  rolloutForObservation,
  rolloutForWrite,
  withObserved,
  withOtherOperation,
  writtenAt,
  type CompletedRollout,
  type EventFacts,
  type ObservedFacts,
  type RolledOut,
  type Rollout,
} from './correlate/rollout.js';
import { detectors, type RuleId } from './detectors/index.js';
import { createsRevision, deletedReason, deployMadeByLateTemplate, judgedRepeatOf, judgedTemplateInForce, keptOpenByLateDelete } from './detectors/revision.js';
import type { Detection, Detector, OpenFinding } from './detectors/types.js';
import { generationOfRevisionName, type RevisionObservation } from './audit/systemEvent.js';
import { cutText } from './untrustedText.js';
import { boundedLabels, linksOf, provenanceLabelsKey, provenanceLabelsOf, provenanceLabelTexts, provenanceOf, resourceNameOf, type ProvenanceLabels } from './findings/enrich.js';
import { configuredSeverity, SEVERITIES, severityRank, type Finding, type Severity } from './findings/finding.js';
import { findingId } from './findings/id.js';
import { isService, isWideIamChange, sameEntry, SYSTEM_EVENT_METHOD, type Change, type DeployChange, type EntryKey, type Principal } from './model/change.js';
import { fnv1aJoined } from './audit/hash.js';
import { subMillisecondNanos } from './audit/entry.js';
import { findingBytes, jsonBytesOnce } from './jsonBytes.js';

interface RuleDetection {
  readonly rule: RuleId;
  readonly detection: Detection;
  /** The index of the rule exception (`rules.<rule>.exceptions[i]`) that covers it: held back, never reported. */
  readonly heldBackBy?: number;
}

/** A finding a rule exception kept from the output (replay's summary counts them per exception; detect logs them). */
export interface HeldBack {
  readonly rule: RuleId;
  /** Its index in `rules.<rule>.exceptions`. */
  readonly exception: number;
  readonly finding: Pick<Finding, 'id' | 'principal' | 'project' | 'service' | 'eventTime'>;
}

/** A rule exception's path in the config (`rules.<rule>.exceptions[i]`), as replay's summary and detect's log name it. */
export function exceptionPath(rule: string, index: number): string {
  return `rules.${rule}.exceptions[${index}]`;
}

/** One evaluated change, as evaluated (a rollout merges two halves), and how its rollout went. */
interface Evaluation {
  readonly change: Change;
  readonly rollout?: RolledOut['rollout'];
  /**
   * A write whose revision was reported from its system events, judged alone before it came (later than their wait):
   * what that revision brought in (identity, images, variables, egress) was judged with them, the write raises only
   * what it set of the service (serviceSettings rules, serviceSetting detections). Compared with what was in force
   * before its own, earlier, time it would report the same revision again.
   */
  readonly revisionReported?: true;
  /**
   * A late half (its write judged without it: Rollout.ofJudgedWrite, or events claimed by time) is judged where its
   * write stands, not at its events' time: the rules compare it with what was in force just after its write (the
   * write's own facts included: judgedJustAfter), so a deploy made between the write and its events, judged before
   * they came, is newer than it (it resolves none of that deploy's findings, and what it raises is closed at once
   * where that deploy changed it again). Its findings keep the events' time (eventTime, ids, resolutions).
   */
  readonly judgedAt?: { readonly timeMs: number; readonly time: string };
}

/** What happened to an entry inside the engine, for the counts replay and the functions report. */
export type EngineNote =
  | 'evaluated'
  | 'waiting-for-rollout'
  | 'joined-rollout'
  | 'late-system-event'
  | 'cloud-functions-managed'
  | 'deletion-event'
  | 'unmatched-service-event'
  | 'unmatched-admin-api-revision'
  | 'already-applied';

/** Where an entry's baseline is stored and its digest among the entries applied (the pipeline computes both once). */
export interface EntryKeys {
  readonly storeKey: string;
  readonly seenKey: string;
}

export interface EngineOptions {
  /** Told of each finding a rule exception held back, once its transaction is committed (replay's summary). */
  readonly onHeldBack?: (heldBack: HeldBack) => void;
}

export interface EngineResult {
  readonly findings: readonly Finding[];
  readonly note: EngineNote;
  /** The service's earliest pending deadline after this entry, if any. */
  readonly dueAtMs?: number;
}

const REGISTERED = Object.values(detectors) as readonly Detector[];
/** Completed rollouts remembered per service, to recognise late system events. */
const COMPLETED_LIMIT = 16;
/**
 * Entries remembered per service as already applied. Pub/Sub redelivers and sinks duplicate; an entry applied
 * once must change nothing the second time (not even a resolution), whichever instance sees the copy.
 */
const SEEN_LIMIT = 64;
/**
 * Deploys waiting for their other half per service. They complete within seconds, or at their deadline
 * (`correlation.waitSeconds`, up to a day); a burst of writes inside one wait, or one deploy whose system event
 * never comes with many complete ones queued behind it, would otherwise grow the service's baseline document
 * towards Firestore's 1 MiB. Beyond the limit the oldest is judged at once with what is known (its missing facts
 * reported as unknown): earlier than it would have been, never left out.
 */
export const ROLLOUT_LIMIT = 64;

/**
 * The most the waiting rollouts of a service may take in its stored baseline (their JSON, in bytes of UTF-8). Each
 * keeps its admin write with the labels the deployer set: Cloud Run takes 64 service and 64 revision labels of up to
 * 63 characters, about 26 KB a write, so ROLLOUT_LIMIT of them came to 1.7 MB and the service's transactions failed
 * from the 40th. Beyond this the oldest is judged at once, as beyond ROLLOUT_LIMIT; ordinary writes (a few KB) reach
 * ROLLOUT_LIMIT first.
 */
export const ROLLOUT_BYTES_LIMIT = 256 * 1024;

/** Rollouts are never changed in place (each step builds a new one): the size of each is measured once. */
const rolloutSizes = new WeakMap<Rollout, number>();
const rolloutBytes = (rollout: Rollout): number => jsonBytesOnce(rolloutSizes, rollout);

/** More rollouts wait than a stored baseline should hold: more than ROLLOUT_LIMIT, or more than ROLLOUT_BYTES_LIMIT. */
function tooManyRollouts(rollouts: readonly Rollout[]): boolean {
  if (rollouts.length > ROLLOUT_LIMIT) return true;
  if (rollouts.length < 2) return false; // the newest is never judged for its size alone
  let total = 0;
  for (const rollout of rollouts) {
    total += rolloutBytes(rollout);
    if (total > ROLLOUT_BYTES_LIMIT) return true;
  }
  return false;
}

export function storeKeyOf(change: Change): string {
  return isWideIamChange(change)
    ? baselineKey({ project: change.target.project, service: '*' })
    : baselineKey(change.target);
}

/**
 * The first of the rule's exceptions that matches the change (every field given in it must match), by its index. A change to a
 * whole project, folder or organization (their IAM) has no service: an exception naming services never covers it
 * (`project` does; for a folder or organization it is matched against `folders/F` or `organizations/O`).
 */
function exemptBy(exceptions: readonly RuleException[], change: Change): number | undefined {
  const projectWide = isWideIamChange(change);
  for (const [index, exception] of exceptions.entries()) {
    if (exception.principal !== undefined && !(change.principal && principalExempt(exception.principal, change.principal))) continue;
    if (exception.project !== undefined && !globMatches(exception.project, change.target.project)) continue;
    if (exception.service !== undefined && (projectWide || !globMatches(exception.service, `${change.target.project}/${change.target.service}`))) continue;
    return index;
  }
  return undefined;
}

/** `change` as made by an unknown principal: a principal exception never covers it. */
function withoutPrincipal(change: Change): Change {
  const { principal: _unknown, ...rest } = change;
  return rest as Change;
}

/**
 * A principal exception names who made the change: the caller, and every person it acted for. A person who
 * impersonates an exempt service account (gcloud --impersonate-service-account) is logged as that service account,
 * with the person in its delegation chain: the person made the change, and is exempt only when the glob names them
 * too. Service accounts, Google service agents and workload identities in the chain are the pipeline's own links.
 */
function principalExempt(glob: string, principal: Principal): boolean {
  if (!principalMatches(glob, principal.id)) return false;
  return principal.delegationChain.every((link) => !isPerson(link) || principalMatches(glob, link));
}

/** A finding's severity: the rule's configured one applied to what it detected (findings/finding.ts configuredSeverity). */
function severityOf(detector: Detector, configured: Severity | undefined, detected: Severity): Severity {
  return configuredSeverity(detector.defaultSeverity, configured, detected);
}

/**
 * Runs every enabled rule on one change. Pure. A detection a rule exception covers is returned with the exception's
 * index (RuleDetection.heldBackBy): it is never reported and opens nothing, but replay counts it (EngineOptions.onHeldBack).
 */
function detect(change: Change, baseline: ServiceBaseline | undefined, config: RunwatchConfig): RuleDetection[] {
  const out: RuleDetection[] = [];
  for (const detector of REGISTERED) {
    if (!detector.changeKinds.includes(change.kind)) continue;
    const settings = config.rules[detector.id] as RuleSettings;
    if (!settings.enabled) continue;
    // A detection for a newer write (Detection.forNewerWrite) is not made by the change's principal, who is unknown
    // for it: only the exceptions that hold without one (project, service) cover it.
    const exempt = settings.exceptions.length > 0 ? exemptBy(settings.exceptions, change) : undefined;
    for (const detection of detector.detect({ change, baseline, settings: settings as never, config })) {
      const heldBackBy = detection.forNewerWrite && exempt !== undefined ? exemptBy(settings.exceptions, withoutPrincipal(change)) : exempt;
      out.push(heldBackBy === undefined ? { rule: detector.id, detection } : { rule: detector.id, detection, heldBackBy });
    }
  }
  return out;
}

/**
 * True when a rule about a service setting (ingress, IAP, default URL, Binary Authorization) raised a finding for the
 * change itself that a rule exception held back. Such a change, an older write arriving after newer ones, closes their
 * findings as never so (revision.ts supersededFindings: the setting before them was this change's, which reports
 * itself): held back, no finding of it stands for the risk they hold, and where a write between them that ended the
 * risk arrives later still (IAP on again, then off again by someone the exception does not cover), nothing would be
 * open for the risk in any sink. So it closes none of them (a finding stays open where timestamp order has the
 * exception's alone: the risk is in force all the same).
 */
function ownFindingHeldBack(detector: (typeof REGISTERED)[number], detections: readonly RuleDetection[]): boolean {
  if (detector.serviceSettings !== true && detector.serviceSettingRisks !== true) return false;
  return detections.some((d) => d.rule === detector.id && d.heldBackBy !== undefined && d.detection.forNewerWrite === undefined);
}

/** The client of the admin write: `gcloud 546.0.0`, `cloud-console`, else the start of the user agent. */
function clientText(change: DeployChange): string | undefined {
  const { name, version, userAgent } = change.client;
  if (name) return version ? `${name} ${version}` : name;
  return userAgent ? cutText(userAgent, 120) : undefined;
}

function rolloutText(rollout: RolledOut['rollout']): string {
  if (rollout.status === 'failed') return `failed${rollout.readyReason ? ` (${rollout.readyReason})` : ''}: not serving`;
  return rollout.status;
}

/** A deploy's provenance labels, and those of them left over from the deploy before (see deployProvenance). */
interface DeployProvenance {
  readonly found: ProvenanceLabels;
  readonly unchanged?: readonly string[];
}

/**
 * The provenance labels of a deploy and, when they are those of the service's deploy before it (the same key the
 * baseline recorded for it), their `name=value` texts: left over from that deploy (a deploy that sets no labels keeps
 * them), they say nothing about this one.
 */
function deployProvenance(deploy: DeployChange, base: ServiceBaseline, config: RunwatchConfig): DeployProvenance {
  const found = provenanceLabelsOf(deploy.labels, deploy.revisionLabels, config);
  const key = provenanceLabelsKey(deploy.labels, deploy.revisionLabels, config);
  return key !== '' && valueBefore(base.provenanceLabels, deploy) === key ? { found, unchanged: provenanceLabelTexts(found) } : { found };
}

function toFinding(evaluation: Evaluation, { rule, detection }: RuleDetection, config: RunwatchConfig, provenance: DeployProvenance | undefined): Finding {
  if (detection.forNewerWrite) return forNewerWrite(evaluation.change, rule, detection, detection.forNewerWrite, config);
  const { change, rollout } = evaluation;
  const settings = config.rules[rule] as RuleSettings;
  const deploy = change.kind === 'deploy' ? change : undefined;
  // A finding about an older revision (traffic sent to it): the write's labels, provenance and image are its own
  // revision's, not that one's, which the write does not say.
  const ofOlderRevision = deploy !== undefined && detection.revision !== undefined && detection.revision !== deploy.revision;
  const deployed = ofOlderRevision ? undefined : provenance;
  // The provenance labels are kept whole: they say what produced the deploy.
  const found = deployed?.found;
  const { labels, omitted } = deploy && !ofOlderRevision ? boundedLabels(deploy.labels, [found?.commit?.[0], found?.pipeline?.[0]].filter((name) => name !== undefined)) : { labels: {}, omitted: 0 };
  const principal = change.principal;
  const client = deploy ? clientText(deploy) : undefined;
  const unchanged = deployed?.unchanged;
  const evidence = deploy
    ? {
        ...detection.evidence,
        ...(deploy.imageDigest && !ofOlderRevision ? { imageDigest: deploy.imageDigest } : {}),
        ...(client ? { client } : {}),
        ...(rollout ? { rollout: rolloutText(rollout) } : {}),
        ...(rollout?.revisionMayBeOf !== undefined ? { revisionMayBeOf: rollout.revisionMayBeOf } : {}),
        ...(unchanged ? { unchangedProvenanceLabels: unchanged } : {}),
        ...(omitted > 0 ? { labelsOmitted: omitted } : {}),
      }
    : detection.evidence;
  const revisionFailed = rollout?.status === 'failed' && detectors[rule].serviceSettings !== true && detection.serviceSetting !== true && !ofOlderRevision;
  const notes = [
    detection.summary,
    ...(revisionFailed ? ['The revision failed to become Ready and is not serving.'] : []),
    ...(unchanged ? ['Its provenance labels are unchanged since the previous deploy (a deploy that sets none keeps them), so they do not say what produced it.'] : []),
  ];
  const summary = notes.join(' ');
  const unknown = [...(detection.unknown ?? [])];
  // Known only from its system events: no admin write was seen, whether or not they name who deployed.
  if (rollout && !rollout.writeSeen && !unknown.includes('admin write')) unknown.push('admin write');
  // No region (an entry logged without its resource and response): the finding has neither a location nor a console link.
  if (!locationOf(change).location && !unknown.includes('location')) unknown.push('location');
  // A late half judged where its write stands (Evaluation.judgedAt) is keyed by its own time, as it always was.
  const judgedTime = judgedChange(evaluation).time;
  const dedupKey = judgedTime !== change.time ? detection.dedupKey.map((part) => (part === judgedTime ? change.time : part)) : detection.dedupKey;
  return {
    id: findingId(rule, dedupKey),
    rule,
    severity: severityOf(detectors[rule], settings.severity, detection.severity),
    title: detection.title,
    summary,
    eventTime: change.time,
    project: change.target.project,
    ...locationOf(change),
    service: change.target.service,
    ...(change.target.resourceType ? { resourceType: change.target.resourceType } : {}),
    ...(detection.revision !== undefined ? { revision: detection.revision } : deploy?.revision ? { revision: deploy.revision } : {}),
    principal: principal?.id ?? 'unknown',
    ...(principal && principal.delegationChain.length > 0 ? { delegationChain: principal.delegationChain } : {}),
    resourceName: resourceNameOf(change),
    labels,
    provenance: provenanceOf(unchanged || !deployed ? {} : deployed.found, ofOlderRevision ? [] : (deploy?.images ?? [])),
    evidence,
    unknown,
    methodName: change.methodName,
    logName: change.key.logName,
    insertId: change.key.insertId,
    links: linksOf(change, change.key, change.target),
  };
}

/**
 * A finding raised from `change` on behalf of a newer write at `at` (Detection.forNewerWrite), whose entry is not kept:
 * the newer write's time; who made it, its revision, labels, provenance, method and entry (logName, insertId) are not
 * known (principal `unknown`, the others empty). Its log link looks for the entries of the project at its time.
 */
function forNewerWrite(change: Change, rule: RuleId, detection: Detection, at: { readonly time: string; readonly timeMs: number }, config: RunwatchConfig): Finding {
  const settings = config.rules[rule] as RuleSettings;
  const unknown = [...(detection.unknown ?? [])];
  if (!unknown.includes('principal')) unknown.push('principal');
  if (!locationOf(change).location && !unknown.includes('location')) unknown.push('location');
  return {
    id: findingId(rule, detection.dedupKey),
    rule,
    severity: severityOf(detectors[rule], settings.severity, detection.severity),
    title: detection.title,
    summary: detection.summary,
    eventTime: at.time,
    project: change.target.project,
    ...locationOf(change),
    service: change.target.service,
    ...(change.target.resourceType ? { resourceType: change.target.resourceType } : {}),
    principal: 'unknown',
    resourceName: resourceNameOf(change),
    labels: {},
    provenance: {},
    evidence: detection.evidence,
    unknown,
    methodName: '',
    logName: '',
    insertId: '',
    links: linksOf(change, { logName: '', insertId: '', timestamp: at.time }, change.target),
  };
}

/**
 * The missing half a completed rollout may still see (CompletedRollout.otherHalf): events from within the write's
 * wait, or a write from the wait before the first event (a burst after it), where only time can tie them.
 */
function otherHalfOf(rollout: Rollout, waitMs: number): Pick<CompletedRollout, 'otherHalf'> {
  if (rollout.write && !rollout.observed && tiedToEventsOnlyByTime(rollout.write)) {
    const t = rollout.write.timeMs;
    return { otherHalf: { fromMs: t, untilMs: t + waitMs, ...(rollout.write.principal ? { principal: rollout.write.principal.id } : {}) } };
  }
  if (!rollout.write && rollout.observed) {
    const t = rollout.observed.firstSeenMs;
    const created = rollout.observed.revisionEvent === true ? rollout.observed.revisionCreatedMs : undefined;
    return {
      otherHalf: {
        fromMs: t - waitMs,
        untilMs: t + BURST_MS,
        ...(rollout.observed.creator ? { principal: rollout.observed.creator } : {}),
        ...(created !== undefined ? { createdMs: created } : {}),
      },
    };
  }
  return {};
}

/** `entry` in place of the completed rollout at `index` (the list copied: it may be a stored baseline's). */
function replaceCompleted(draft: MutableBaseline, index: number, entry: CompletedRollout): void {
  const completed = [...draft.completed!];
  completed[index] = entry;
  draft.completed = completed;
}

function withoutSpan(completed: CompletedRollout): CompletedRollout {
  const { otherHalf: _dropped, ...entry } = completed;
  return entry;
}

/** The rollout due at once and waiting for no revision event: its write's events were judged already. */
function dueNow(rollout: Rollout, nowMs: number): Rollout {
  const { acrossApis: _waitsNoMore, ...rest } = rollout;
  return { ...rest, deadlineMs: Math.min(rollout.deadlineMs, nowMs) };
}

/** The "now" that completes every rollout whatever its deadline: the end of a replay's input (Pipeline.flush). */
export const END_OF_INPUT_MS = Number.MAX_SAFE_INTEGER;

/**
 * A deploy known only from its system events: who from the revision's creator annotation, when from the events (the
 * finding points at the first); the revision's creation time, when its events say it, is when it was deployed
 * (off-window-deploy judges that), unless it is longer before the first event than a rollout waits (`waitMs`): a
 * revision made long ago whose Ready condition changed now, or a creation time that cannot be this deploy's. A
 * create when the events say so (eventsCreateService), else a replace.
 */
function writeFromObservation(observed: ObservedFacts, waitMs: number, baseline: ServiceBaseline): DeployChange {
  const time = new Date(observed.firstSeenMs).toISOString();
  const created = observed.revisionCreatedMs;
  return {
    kind: 'deploy',
    api: 'v1',
    operation: eventsCreateService(observed, baseline) ? 'create' : 'replace',
    key: observed.firstKey,
    time: observed.firstKey.timestamp || time,
    timeMs: observed.firstSeenMs,
    methodName: SYSTEM_EVENT_METHOD,
    ...(observed.creator ? { principal: { id: observed.creator, delegationChain: [] } } : {}),
    ...(created !== undefined && created <= observed.firstSeenMs && observed.firstSeenMs - created <= waitMs ? { revisionCreatedMs: created } : {}),
    // As Cloud Run recorded it on the revision (bounded when observed: correlate/rollout.ts observe).
    client: observed.client ?? {},
    target: observed.target,
    images: observed.images,
    ...(observed.vpcEgress ? { vpcEgress: observed.vpcEgress } : {}),
    ...(observed.vpcDestination ? { vpcDestination: observed.vpcDestination } : {}),
    labels: observed.labels,
    ...(observed.revisionLabels ? { revisionLabels: observed.revisionLabels } : {}),
  };
}

/**
 * True when a deploy's system events say it created the service: their methodName (`/Services.CreateService`), else,
 * logged without one (2021 events), its revision is the service's first (`SERVICE-00001-xxx`: a configuration's
 * generations start at 1 when the service is created) and no earlier template of the service is known (one is: the
 * events may be a late Ready change of that first revision, and say nothing of a create).
 */
function eventsCreateService(observed: ObservedFacts, baseline: ServiceBaseline): boolean {
  if (observed.createsService !== undefined) return observed.createsService;
  return generationOfRevisionName(observed.revision, observed.target.service) === 1 && valueBefore(baseline.template, observed.firstSeenMs) === undefined;
}

/**
 * Open findings kept per service. Past it the least severe go first, the oldest of them first: what is dropped can
 * still be resolved by hand in each sink, but nothing runwatch sees closes it any more, so that is what matters least
 * (a project's CRITICAL public grant outlives a run of external-member-grant findings after it).
 */
const OPEN_LIMIT = 20;

/**
 * The most the open findings of a service may take in its stored baseline (their JSON, in bytes of UTF-8). Each is kept
 * whole, with the labels of its deploy, so that what closes it can say so: Cloud Run takes 64 service and 64 revision
 * labels of 63 characters, international lowercase letters included (3 bytes each for Georgian), about 48 KB a finding.
 * OPEN_LIMIT of them, with the findings of the transaction in the outbox next to them, passed Firestore's 1 MiB a
 * document, and every entry of the service failed its transaction from then on. Beyond this they go in the same order
 * as beyond OPEN_LIMIT; ordinary findings (a few KB) reach OPEN_LIMIT first.
 */
export const OPEN_BYTES_LIMIT = 256 * 1024;

/** Open findings are never changed in place: the size of each is measured once. */
const openSizes = new WeakMap<OpenFinding, number>();
const openBytes = (open: OpenFinding): number => jsonBytesOnce(openSizes, open);

/**
 * The order in which open findings are dropped past the limits: those a late entry opened while newer entries hold
 * their risk (OpenFinding.late) first (kept open only so that what closes the newer entries' risk closes them too,
 * they must not push out a finding that would be kept without them: an older grant, say, whose revoke would then
 * close nothing); then the rest. In each group the least severe first, the oldest of a severity first.
 */
function dropOrder(open: readonly OpenFinding[]): OpenFinding[] {
  const rank = (o: OpenFinding): number => (o.late === true ? 0 : SEVERITIES.length) + severityRank(o.finding.severity);
  // Array.prototype.sort is stable: within a rank, the order kept is the oldest first.
  return [...open].sort((a, b) => rank(a) - rank(b));
}

/** At most OPEN_LIMIT open findings, taking at most OPEN_BYTES_LIMIT, dropped in dropOrder; in their order. */
function keptOpen(open: OpenFinding[]): OpenFinding[] {
  const excess = open.length - OPEN_LIMIT;
  if (excess <= 0) return withinOpenBytes(open);
  const dropped = new Set(dropOrder(open).slice(0, excess));
  return withinOpenBytes(open.filter((o) => !dropped.has(o)));
}

/** keptOpen's bound on bytes: dropped in dropOrder, never the newest (it is not dropped for its size alone). */
function withinOpenBytes(open: OpenFinding[]): OpenFinding[] {
  if (open.length < 2) return open;
  let total = 0;
  for (const o of open) total += openBytes(o);
  if (total <= OPEN_BYTES_LIMIT) return open;
  const newest = open[open.length - 1]!;
  const dropped = new Set<OpenFinding>();
  for (const o of dropOrder(open)) {
    if (total <= OPEN_BYTES_LIMIT) break;
    if (o === newest) continue;
    dropped.add(o);
    total -= openBytes(o);
  }
  return open.filter((o) => !dropped.has(o));
}

/**
 * The most findings one transaction raises from the rollouts it completes because they are complete or due (their JSON,
 * in bytes of UTF-8): the store keeps them in the service's document until they are published (its outbox), next to the
 * baseline. A sweep that completed every deploy waiting inside one wait (up to ROLLOUT_LIMIT, each raising a finding
 * per rule) came to more than Firestore's 1 MiB, and that transaction failed on every sweep and every later entry of
 * the service. Beyond this the rest stay due, in order, for the next transaction (the sweep runs it at once): judged a
 * moment later, never left out. At least one rollout is completed whatever its findings take.
 * The bound is checked before each rollout is judged, so the last one can pass it by its own findings, and judging
 * the oldest of too many waiting rollouts (keepRolloutsBounded) is not bounded by it at all: the Firestore store no
 * longer relies on it for the document's size (what its outbox has no room for waits in spill documents, see
 * baseline/firestore.ts), only to keep each transaction and its publish modest.
 */
export const DUE_FINDINGS_BYTES_LIMIT = 192 * 1024;

function findingsBytes(findings: readonly Finding[]): number {
  let total = 0;
  for (const finding of findings) total += findingBytes(finding);
  return total;
}

export class Engine {
  private readonly waitMs: number;
  /**
   * How the *Sync transactions build the next baseline. Usually a shallow copy per entry (one per entry instead of one
   * per step; replay runs millions), but replay's own memory store (changesInPlace) gets its baselines changed where
   * they lie: each entry's copies lived until the service's next entry, so the collector copied and promoted about a
   * kilobyte per entry, 15% of replay. The async transactions (live pipeline, Firestore) always copy.
   */
  private readonly syncEdits: BaselineEdits;

  /**
   * The findings rule exceptions held back in the transaction body running now (evaluate adds to it). Set at the start
   * of each body: a body runs synchronously, start to end, so no other transaction's can come between; a body the
   * store runs again (a Firestore retry) starts afresh, and only the outcome the store committed is reported.
   */
  private heldBack: HeldBack[] | undefined;

  constructor(
    private readonly config: RunwatchConfig,
    private readonly store: BaselineStore,
    private readonly options: EngineOptions = {},
  ) {
    this.waitMs = config.correlation.waitSeconds * 1000;
    this.syncEdits = store.changesInPlace === true ? IN_PLACE_EDITS : COPY_EDITS;
  }

  /** True when the store can run transactions without a promise (the *Sync methods). */
  get sync(): boolean {
    return this.store.transactSync !== undefined;
  }

  /**
   * An admin write or IAM change. `nowMs` completes rollouts of the same service that are due. `keys` as the caller
   * computed them: `storeKeyOf(change)` and `entryDigest(change.key)`.
   */
  async processChange(change: Change, keys: EntryKeys, nowMs: number, publish?: Publish): Promise<EngineResult> {
    const earlier: Finding[] = [];
    // A deferred transaction completed rollouts (a delete's, see changeStep) without applying the entry: again.
    for (let turn = 0; ; turn++) {
      const outcome = await this.store.transact(keys.storeKey, this.changeTransaction(change, keys.seenKey, nowMs, COPY_EDITS), hook(publish), keys.seenKey);
      if (outcome.deferred !== true) return this.result(earlier.length === 0 ? outcome : { ...outcome, findings: [...earlier, ...outcome.findings] });
      this.told(outcome);
      earlier.push(...outcome.findings);
      if (turn > ROLLOUT_LIMIT) throw new Error(`entry ${keys.seenKey} of ${keys.storeKey} still waits for rollouts to complete after ${turn + 1} transactions`);
    }
  }

  /** processChange for a store with transactSync (replay): the same transactions, no promise. */
  processChangeSync(change: Change, keys: EntryKeys, nowMs: number): EngineResult {
    const earlier: Finding[] = [];
    for (let turn = 0; ; turn++) {
      const outcome = this.syncStore().transactSync(keys.storeKey, this.changeTransaction(change, keys.seenKey, nowMs, this.syncEdits));
      if (outcome.deferred !== true) return this.result(earlier.length === 0 ? outcome : { ...outcome, findings: [...earlier, ...outcome.findings] });
      this.told(outcome);
      earlier.push(...outcome.findings);
      if (turn > ROLLOUT_LIMIT) throw new Error(`entry ${keys.seenKey} of ${keys.storeKey} still waits for rollouts to complete after ${turn + 1} transactions`);
    }
  }

  private changeTransaction(change: Change, seenKey: string, nowMs: number, edits: BaselineEdits): Transaction {
    return this.entryTransaction(seenKey, nowMs, edits, (draft, findings) => this.changeStep(draft, change, nowMs, findings, edits));
  }

  /**
   * A Cloud Run system event: a fact about a rollout. `keys` as the caller computed them:
   * `baselineKey(observation.target)` and `entryDigest(observation.key)`.
   */
  async processObservation(observation: RevisionObservation, keys: EntryKeys, nowMs: number, publish?: Publish): Promise<EngineResult> {
    return this.result(await this.store.transact(keys.storeKey, this.observationTransaction(observation, keys.seenKey, nowMs, true, COPY_EDITS), hook(publish), keys.seenKey));
  }

  /** processObservation for a store with transactSync (replay). */
  processObservationSync(observation: RevisionObservation, keys: EntryKeys, nowMs: number): EngineResult {
    return this.result(this.syncStore().transactSync(keys.storeKey, this.observationTransaction(observation, keys.seenKey, nowMs, true, this.syncEdits)));
  }

  /**
   * A revision read through the Cloud Run Admin API for a waiting write (correlate/adminApi.ts): the same path as
   * a system event, except that it only ever joins an open rollout. A revision that matches none (the rollout
   * completed meanwhile, or the service's latest revision is not this write's) changes nothing: it must never
   * open a rollout of its own, which would report the deploy a second time.
   */
  async processAdminApiObservation(observation: RevisionObservation, nowMs: number, publish?: Publish, forWrite?: EntryKey): Promise<EngineResult> {
    const transaction = this.observationTransaction(observation, entryDigest(observation.key), nowMs, false, COPY_EDITS, forWrite);
    return this.result(await this.store.transact(baselineKey(observation.target), transaction, hook(publish)));
  }

  private observationTransaction(observation: RevisionObservation, seenKey: string, nowMs: number, mayOpen: boolean, edits: BaselineEdits, forWrite?: EntryKey): Transaction {
    return this.entryTransaction(seenKey, nowMs, edits, (draft, findings) => this.observationStep(draft, observation, nowMs, mayOpen, findings, edits, forWrite));
  }

  /**
   * One entry in one store transaction: nothing when the baseline already applied it; else what is due completes
   * first, then `step` applies the entry, and the entry is remembered as applied.
   */
  private entryTransaction(
    seenKey: string,
    nowMs: number,
    edits: BaselineEdits,
    step: (draft: MutableBaseline, findings: Finding[]) => EngineNote | 'deferred',
  ): Transaction {
    return (current) => {
      if (current?.seen?.includes(seenKey)) return { result: { findings: [], note: 'already-applied', dueAtMs: current.dueAtMs } };
      const draft = edits.draft(current);
      const findings: Finding[] = [];
      const heldBack: HeldBack[] = (this.heldBack = []);
      const completedDue = this.completeDueRollouts(draft, nowMs, findings, edits);
      const note = step(draft, findings);
      // Not remembered as applied: the caller runs the entry again (processChange).
      if (note === 'deferred') return { next: draft, result: { findings, heldBack, note: 'evaluated', dueAtMs: draft.dueAtMs, deferred: true } };
      if (note === 'unmatched-admin-api-revision') {
        // Nothing of the revision is kept (not even as seen: a later read may match); only what the wait completed.
        // (An Admin API read only ever runs in a copying transaction: nothing was changed in place here.)
        if (current === undefined || !completedDue) return { result: { findings: [], note, dueAtMs: current?.dueAtMs } };
      } else {
        remember(draft, seenKey, edits);
      }
      return { next: draft, result: { findings, heldBack, note, dueAtMs: draft.dueAtMs } };
    };
  }

  /** Completes the rollouts of one service whose other half did not come in time. */
  async completeDue(key: string, nowMs: number, publish?: Publish): Promise<EngineResult> {
    return this.result(await this.store.transact(key, this.dueTransaction(nowMs, COPY_EDITS), hook(publish)));
  }

  /** completeDue for a store with transactSync (replay). */
  completeDueSync(key: string, nowMs: number): EngineResult {
    return this.result(this.syncStore().transactSync(key, this.dueTransaction(nowMs, this.syncEdits)));
  }

  private dueTransaction(nowMs: number, edits: BaselineEdits): Transaction {
    return (current) => {
      const draft = edits.draft(current);
      const findings: Finding[] = [];
      const heldBack: HeldBack[] = (this.heldBack = []);
      this.completeDueRollouts(draft, nowMs, findings, edits);
      return { next: draft, result: { findings, heldBack, note: 'evaluated', dueAtMs: draft.dueAtMs } };
    };
  }

  /** A committed transaction's outcome, as the caller gets it; what it held back told first (EngineOptions.onHeldBack). */
  private result(outcome: Outcome): EngineResult {
    this.told(outcome);
    return outcome.dueAtMs !== undefined ? { findings: outcome.findings, note: outcome.note, dueAtMs: outcome.dueAtMs } : { findings: outcome.findings, note: outcome.note };
  }

  private told(outcome: Outcome): void {
    if (this.options.onHeldBack) for (const heldBack of outcome.heldBack ?? []) this.options.onHeldBack(heldBack);
  }

  private syncStore(): Required<Pick<BaselineStore, 'transactSync'>> {
    if (!this.store.transactSync) throw new Error('this baseline store has no synchronous transactions');
    return this.store as Required<Pick<BaselineStore, 'transactSync'>>;
  }

  /**
   * Runs the rules on one change against the baseline before it: first the resolutions of open findings the
   * change takes away, then new detections; returns the findings and the open findings after it.
   */
  private evaluate(base: ServiceBaseline, evaluation: Evaluation, findings: Finding[]): OpenFinding[] {
    // The change as the rules judge it: at its own time, or a late half's where its write stands (Evaluation.judgedAt).
    const change = judgedChange(evaluation);
    const open = base.open ? [...base.open] : [];
    // A rollout that failed changed no revision that serves: it cannot take a revision's risk away (service
    // settings it wrote are in force all the same).
    const failed = evaluation.rollout?.status === 'failed';
    // An entry older than the service's delete is about the deleted service (it arrived late): it is still reported
    // when it raises something, but for the rules whose findings the delete closes it neither closes nor opens a risk
    // of the service under the name now. The other rules' facts (the runtime identity) carry across the delete, and
    // their findings stay open across it: such an entry is judged as any late one (the newest word closes).
    const aboutDeletedService = beforeDelete(base, change);
    const aboutDeleted = (rule: RuleId): boolean => aboutDeletedService && detectors[rule].closedByDelete === true;
    const detections = detect(change, base, this.config);
    // A risk of the service created again, opened by this entry for a newer write after the delete (Detection.forNewerWrite).
    const reportsForRecreatedWrite = (rule: RuleId): boolean =>
      detections.some((d) => d.rule === rule && d.heldBackBy === undefined && d.detection.opensRisk === true && d.detection.forNewerWrite !== undefined && !beforeDelete(base, d.detection.forNewerWrite));
    // Read once for all of the change's findings.
    const provenance = change.kind === 'deploy' && detections.length > 0 ? deployProvenance(change, base, this.config) : undefined;
    const raised = detections.map((d) => toFinding(evaluation, d, this.config, provenance));
    // What the change raises, but for what rule exceptions hold back (no copy in the usual case: nothing held back).
    const reported = detections.some((d) => d.heldBackBy !== undefined) ? raised.filter((_, i) => detections[i]!.heldBackBy === undefined) : raised;
    if (open.length > 0) {
      for (const detector of REGISTERED) {
        if (!detector.resolves || !detector.changeKinds.includes(change.kind) || (failed && detector.serviceSettings !== true && detector.serviceSettingRisks !== true)) continue;
        // About the deleted service: only a finding a late delete left open for the re-created service's risk
        // (revision.ts keptOpenByLateDelete) may be closed, where this entry ends it in time order and reports that
        // risk for the re-created service's write itself (else the finding still stands for it).
        const mine = aboutDeleted(detector.id)
          ? reportsForRecreatedWrite(detector.id) ? open.filter((o) => o.rule === detector.id && keptOpenByLateDelete(o, base)) : []
          : open.filter((o) => o.rule === detector.id);
        if (mine.length === 0) continue;
        const settings = this.config.rules[detector.id] as RuleSettings;
        const standsForNothing = ownFindingHeldBack(detector, detections);
        for (const resolved of detector.resolves({ change, baseline: base, settings: settings as never, config: this.config }, mine)) {
          // A newer write's finding closed as never so (at its own time: revision.ts supersededFindings) gives way to
          // this change's own, which stands for the risk the newer write holds: not where an exception held that back.
          if (standsForNothing && resolved.time !== undefined) continue;
          const index = open.findIndex((o) => o.finding.id === resolved.id);
          // A finding the change raises again is in force (another entry of the change that raised it, at the very
          // same instant, judged against what was before both): not closed by it.
          if (index < 0 || reported.some((finding) => finding.id === resolved.id)) continue;
          const [closed] = open.splice(index, 1);
          findings.push(resolutionOf(closed!.finding, evaluation.change, resolved.reason, resolved.time));
        }
      }
    }
    // The rules a finding dated after the service's delete opened for (closedByDelete rules only).
    const recreatedRisks = new Set<RuleId>();
    for (const [i, d] of detections.entries()) {
      if (evaluation.revisionReported && detectors[d.rule].serviceSettings !== true && d.detection.serviceSetting !== true) continue;
      const finding = raised[i]!;
      // An entry older than the delete, of a rule whose findings a delete closes: the delete took its risk away (unless
      // a newer entry before the delete already did), as it would have in time order.
      const takenAway = d.detection.takenAwayLater;
      // (To the nanosecond: a change of the delete's millisecond that took it away may be later than the delete.)
      // Only a risk (opensRisk, or one taken away later): a rule's event detection beside its risks (a breakglass deploy
      // beside the Binary Authorization policy turned off) is reported as it is, never closed.
      const risk = d.detection.opensRisk === true || takenAway !== undefined;
      // A finding for a newer write (Detection.forNewerWrite) is about the deleted service when that write is.
      const deletedFirst = (d.detection.forNewerWrite ? beforeDelete(base, d.detection.forNewerWrite) : aboutDeletedService) && detectors[d.rule].closedByDelete === true;
      const byDelete = risk && deletedFirst && (!takenAway || isAfter(pointOfTime(takenAway.time), { timeMs: base.deletedAtMs!, time: deleteTime(base) }));
      const closing = byDelete ? { time: deleteTime(base), reason: deletedReason(finding) } : takenAway;
      // A finding for a newer write whose risk is gone already, from a write that waited for its rollout: the newer
      // write may have been judged meanwhile against this one, and reported itself (its finding, closed since, is not
      // kept): not reported twice. (One still open is known: the detector leaves it.) Not for a rule that never judges
      // a write against one still waiting (Detector.judgesAppliedRevisionsOnly): the newer write was judged without it.
      if (d.detection.forNewerWrite && closing && evaluation.rollout && detectors[d.rule].judgesAppliedRevisionsOnly !== true) continue;
      if (d.heldBackBy !== undefined) {
        const { id, principal, project, service, eventTime } = finding;
        this.heldBack?.push({ rule: d.rule, exception: d.heldBackBy, finding: { id, principal, project, service, eventTime } });
        continue;
      }
      findings.push(finding);
      if (closing) findings.push(closedLater(finding, closing));
      // A failed rollout cannot open a revision's risk either: that revision never served (it is reported, not in
      // force). A service setting the write applied is in force all the same.
      const notInForce = failed && detectors[d.rule].serviceSettings !== true && d.detection.serviceSetting !== true;
      if (d.detection.opensRisk && !deletedFirst && !notInForce && !open.some((o) => o.finding.id === finding.id)) {
        open.push({ rule: d.rule, finding, ...(d.detection.heldByNewer ? { late: true as const } : {}) });
        if (base.deletedAtMs !== undefined && detectors[d.rule].closedByDelete === true) recreatedRisks.add(d.rule);
      }
    }
    // A finding of the service created again now stands for the rule's risk: one dated before the delete, which a late
    // delete left open for that risk (revision.ts keptOpenByLateDelete), is closed as the delete closed it in time order.
    for (const rule of recreatedRisks) {
      for (const stale of open.filter((o) => o.rule === rule && keptOpenByLateDelete(o, base))) {
        open.splice(open.indexOf(stale), 1);
        findings.push(closedLater(stale.finding, { time: deleteTime(base), reason: deletedReason(stale.finding) }));
      }
    }
    return keptOpen(open);
  }

  private changeStep(draft: MutableBaseline, written: Change, nowMs: number, findings: Finding[], edits: BaselineEdits): EngineNote | 'deferred' {
    const entered = createdByUpsert(draft, written);
    let change = entered;
    let creates = false;
    let crossApi = false;
    // The write of a revision reported from its events alone (Evaluation.revisionReported).
    let revisionReported = false;
    // Only a service's write waits for its revision's system events. A job has no revisions (its template is in force
    // from the write on); a worker pool's revision events are not read (their shape is not known): judged at once.
    if (entered.kind === 'deploy' && isService(entered.target)) {
      // Events of this write's operation judged already, taken by time for another write's late half: this write
      // made that revision (revisionSeen: it is no cross-API write that may have made none), under the revision they
      // named (a v1 write's own name for it may be stale), and it has nothing left to wait for.
      const taken = this.eventsOfOperation(draft, entered, edits);
      // Events of this write's operation judged alone and reported, before the write came (later than their wait): it
      // is that deploy, under the revision they named (gcloud's write names none; keyed by its time, it would raise
      // what they raised again under other ids), and made no revision of its own (createsRevision says so).
      const reported = taken || entered.operationCompletion ? undefined : reportedFromEvents(draft.completed, entered.operationId);
      const write: DeployChange = taken
        ? { ...entered, revisionSeen: true, ...(taken.revision !== undefined ? { revision: taken.revision } : {}) }
        : reported
          ? { ...entered, reportedAsDeploy: true, ...(reported.revision !== undefined ? { revision: reported.revision } : {}) }
          : entered;
      change = write;
      revisionReported = reported !== undefined;
      creates = createsRevision(write, draft);
      crossApi = creates && !write.revisionSeen && acrossApis(write, valueBefore(draft.template, write));
      // A repeat of a write judged as a deploy before it came (gcloud's first write, the second judged alone) made no
      // revision of its own, yet its revision's events carry its operation id: kept with that write's completed entry,
      // they are that deploy's late half, not a deploy of their own (CompletedRollout.repeatOperationIds).
      if (!creates && !taken && !reported && !entered.operationCompletion) keepRepeatOperation(draft, write);
      // A write whose revision was judged from its events alone (it came later than their wait): reported already,
      // under the revision its events named (the write may name none: keyed by its time, its findings would get other
      // ids than theirs). Only a write that counts as a deploy can be that half (a traffic-only update must not take
      // the span), and not one across API versions, which may yet turn out to have made no revision.
      const claimed = creates && !crossApi && !write.revisionSeen && tiedByCreationTime(entered) ? this.claimLateHalf(draft, false, entered) : undefined;
      if (claimed !== undefined) {
        change = { ...entered, reportedAsDeploy: true, ...(claimed.revision !== undefined ? { revision: claimed.revision } : {}) };
        creates = false;
        revisionReported = true;
      }
    }
    if (change.kind !== 'deploy' || !creates) {
      // Deploys of a deleted service still waiting for their other half are judged now, with what is known: the
      // delete clears the service's facts and must not take them along unreported. (Rollouts opened after it, when
      // the delete arrives late, are the re-created service's: they keep waiting.)
      if (change.kind === 'delete') {
        // Up to DUE_FINDINGS_BYTES_LIMIT of findings a transaction (64 waiting deploys came to 1.6 MB): when more wait,
        // this transaction keeps what it completed, and the delete is applied by the next (processChange).
        const before = (rollout: Rollout): boolean => openedBefore(rollout, change); // to the nanosecond
        this.finalizeOldestWhile(draft, (rollout) => before(rollout) && findingsBytes(findings) < DUE_FINDINGS_BYTES_LIMIT, findings, edits);
        const rollouts = draft.rollouts ?? [];
        const oldest = rollouts[oldestRollout(rollouts)];
        if (oldest !== undefined && before(oldest)) return 'deferred';
      }
      // Judged before it is applied: against the template before it.
      const noRevision = change.kind === 'deploy' && !revisionReported && judgedTemplateInForce(change, draft);
      const open = this.evaluate(draft, revisionReported ? { change, revisionReported: true } : { change }, findings);
      noteJudgedForNewerWrite(draft, change, edits);
      applyChangeTo(draft, change, edits, change.kind === 'deploy' ? this.provenanceKeyOf(change) : undefined);
      if (noRevision) noteNoRevision(draft, change as DeployChange, edits);
      draft.open = open;
      return 'evaluated';
    }
    const rollouts = [...(draft.rollouts ?? [])];
    const index = rolloutForWrite(rollouts, change, this.waitMs);
    const joined = index >= 0;
    // A write whose revision was seen is due at once, also when it joins a burst whose other write went across API
    // versions (gcloud's second write, delivered first).
    let rollout = joined ? addWrite(rollouts[index]!, change) : openFromWrite(change, this.waitMs, nowMs);
    if (!joined && crossApi) rollout = { ...rollout, acrossApis: true };
    const placed = change.revisionSeen ? dueNow(rollout, nowMs) : rollout;
    if (joined) rollouts[index] = placed;
    else rollouts.push(placed);
    setRollouts(draft, rollouts);
    const before = findings.length;
    const drained = this.drain(draft, nowMs, findings, edits);
    const completed = this.keepRolloutsBounded(draft, findings, edits) || drained;
    return findings.length > before || completed ? 'evaluated' : joined ? 'joined-rollout' : 'waiting-for-rollout';
  }

  private observationStep(
    draft: MutableBaseline,
    observation: RevisionObservation,
    nowMs: number,
    mayOpen: boolean,
    findings: Finding[],
    edits: BaselineEdits,
    forWrite?: EntryKey,
  ): EngineNote {
    // Any system event of the service, late ones too: its events reach runwatch (see finalize). An Admin API read
    // (mayOpen false) is no system event: it is how a service whose events do not reach runwatch is completed.
    if (mayOpen && draft.systemEventsSeen !== true) draft.systemEventsSeen = true;
    if (observation.deleting) return 'deletion-event';
    // Events of a write judged without them (they came later than its wait): its late half, judged once.
    const awaited = mayOpen ? awaitingEvents(draft.completed, observation) : -1;
    const lateHalf = awaited >= 0;
    if (!lateHalf && draft.completed && belongsToCompleted(draft.completed, observation)) {
      noteServiceOperation(draft, observation);
      return 'late-system-event';
    }
    const rollouts = [...(draft.rollouts ?? [])];
    // An Admin API read answers for the write it was made for: that rollout, if what was read can be its revision
    // (the same checks as any event: operation, revision, time; not created before the write: that is a revision of
    // the service before it, the write's own not there yet; and not of a generation after the write's, nor created by
    // someone else where no generation ties it: the service moved on), or none (it completed meanwhile).
    const owner = lateHalf ? draft.completed![awaited]! : undefined;
    const index = owner
      ? rollouts.findIndex((r) => r.ofJudgedWrite === true && awaits(owner, r.observed))
      : forWrite
        ? rollouts.findIndex(
            (r) =>
              r.write !== undefined &&
              r.observed === undefined &&
              sameEntry(r.write.key, forWrite) &&
              observation.timeMs >= r.write.timeMs &&
              !laterGeneration(observation, r.write) &&
              !createdByAnother(observation, r.write) &&
              rolloutForObservation([r], observation, this.waitMs, { closerMayCome: false }) === 0,
          )
        : rolloutForObservation(rollouts, observation, this.waitMs);
    // A revision the Cloud Functions service agent created (its creator: audit/systemEvent.ts) is let go only when no
    // ordinary admin write (a user's deploy, not the service agent's InternalServices call) is waiting for it, or was
    // judged without it (lateHalf: such a write's entry alone awaits).
    if (observation.managedByCloudFunctions && !this.config.cloudFunctions.watch && !lateHalf) {
      const write = index >= 0 ? rollouts[index]!.write : undefined;
      if (!write || write.methodName.includes('InternalServices.')) return 'cloud-functions-managed';
    }
    if (index < 0 && !mayOpen) return 'unmatched-admin-api-revision';
    if (index < 0) {
      // Only a revision's own event opens a rollout: service-level events also follow traffic and IAM changes.
      if (observation.level !== 'revision') {
        // A service event of the operation of a write judged without its events, naming the service's latest revision:
        // that write made it or none (gcloud's second write; the revision event carries the first write's operation
        // id). Kept with the write's entry, so that revision's events, when they come, are its late half (those waiting
        // already, below).
        if (owner && observation.revision !== undefined && owner.awaitedRevision === undefined) replaceCompleted(draft, awaited, { ...owner, awaitedRevision: observation.revision });
        // Another operation's service event that names the revision events alone wait with (the service's last change:
        // gcloud's second write, say): its operation is kept with them, as one judged with them would be.
        const waiting = observation.operationId === undefined || observation.revision === undefined ? -1 : rollouts.findIndex((r) => r.write === undefined && r.observed?.revision === observation.revision);
        const observed = waiting >= 0 ? rollouts[waiting]!.observed! : undefined;
        const ids = observed && withOtherOperation(observed.serviceOperationIds, observation.operationId, observed.operationId);
        if (observed && ids !== observed.serviceOperationIds) {
          const noted = withObserved(rollouts[waiting]!, { ...observed, serviceOperationIds: ids! });
          // That operation's write judged without its events (gcloud's second write, judged alone before any came; the
          // revision event carries the first write's id): the revision's events are its late half, and stand where
          // it does among the service's deploys (as events of its own operation would: lateHalfOpened).
          const writeIndex = noted.ofJudgedWrite ? -1 : awaitingByServiceOperation(draft.completed, noted.observed!);
          rollouts[waiting] = writeIndex >= 0 ? lateHalfOpened(noted, draft.completed![writeIndex]!) : noted;
          setRollouts(draft, rollouts);
          if (writeIndex >= 0) {
            const drained = this.drain(draft, nowMs, findings, edits);
            if (drained) return 'evaluated';
          }
        }
        return 'unmatched-service-event';
      }
      const opened = openFromObservation(observation, this.waitMs, nowMs);
      // A late half stands where its write does in the service's order of deploys (Rollout.openedMs orders them), not
      // where its events' time puts it: a deploy made after that write, still waiting, must not be judged before it
      // (it would take the findings of what the late revision brought in, and the late revision would bring in none).
      rollouts.push(lateHalf ? lateHalfOpened(opened, draft.completed![awaited]!) : opened);
      setRollouts(draft, rollouts);
      // A late half with its Ready condition is complete: no write is to come.
      const drained = lateHalf && this.drain(draft, nowMs, findings, edits);
      return this.keepRolloutsBounded(draft, findings, edits) || drained ? 'evaluated' : 'waiting-for-rollout';
    }
    const observed = observe(rollouts[index]!.observed, observation);
    // Joined by time and principal alone where another write of that principal could as well be the revision's: said.
    const other = !lateHalf && !forWrite && observed.revisionMayBeOf === undefined ? this.otherOwner(draft, rollouts, index, observation) : undefined;
    rollouts[index] = withObserved(rollouts[index]!, other !== undefined ? { ...observed, revisionMayBeOf: other } : observed);
    setRollouts(draft, rollouts);
    const before = findings.length;
    const completed = this.drain(draft, nowMs, findings, edits);
    return findings.length > before || completed ? 'evaluated' : 'joined-rollout';
  }

  /**
   * Finalizes rollouts oldest first while the oldest is complete or due: a complete rollout waits behind an older
   * one still waiting for its other half, so one service's deploys are judged in the order they happened.
   * True when one completed.
   */
  private drain(draft: MutableBaseline, nowMs: number, findings: Finding[], edits: BaselineEdits): boolean {
    // Only a wait that really ran out says a half never came: the end of a replay's input (END_OF_INPUT_MS) does not.
    const waitedOut = (rollout: Rollout): boolean => nowMs !== END_OF_INPUT_MS && rollout.deadlineMs <= nowMs;
    // `findings` are the transaction's own, empty when it starts: its first rollout due always completes.
    let heldBack: Rollout | undefined;
    // A half waiting alone whose wait ran out, to be joined at last (joinedAtLast) with the other half, whose own wait
    // still runs (a write it was created sooner after may still come for it): it waits as long.
    let waitsFor: { readonly rollout: Rollout; readonly untilMs: number } | undefined;
    const ready = (rollout: Rollout): boolean => {
      if (!isComplete(rollout) && rollout.deadlineMs > nowMs) return false;
      if (nowMs !== END_OF_INPUT_MS && !isComplete(rollout)) {
        const rest = (draft.rollouts ?? []).filter((r) => r !== rollout);
        const partner = joinedAtLast(rest, rollout, this.waitMs);
        if (partner >= 0 && rest[partner]!.deadlineMs > nowMs) {
          waitsFor = { rollout, untilMs: rest[partner]!.deadlineMs };
          return false;
        }
      }
      if (findingsBytes(findings) < DUE_FINDINGS_BYTES_LIMIT) return true;
      heldBack = rollout;
      return false;
    };
    const completed = this.finalizeOldestWhile(draft, ready, findings, edits, waitedOut);
    // Held back by DUE_FINDINGS_BYTES_LIMIT: due now, so the next sweep completes it (and what is ready behind it), also
    // when it is complete before its deadline. (Its deadline only ends its wait, which is over: it is complete.)
    if (heldBack !== undefined && heldBack.deadlineMs > nowMs) {
      const held = heldBack;
      setRollouts(draft, (draft.rollouts ?? []).map((r) => (r === held ? { ...r, deadlineMs: nowMs } : r)));
    }
    if (waitsFor !== undefined) {
      const { rollout: waiting, untilMs } = waitsFor;
      setRollouts(draft, (draft.rollouts ?? []).map((r) => (r === waiting ? { ...r, deadlineMs: untilMs } : r)));
    }
    return completed;
  }

  /** Judges the oldest rollouts with what is known while too many wait (tooManyRollouts); true when one was. */
  private keepRolloutsBounded(draft: MutableBaseline, findings: Finding[], edits: BaselineEdits): boolean {
    return this.finalizeOldestWhile(draft, () => tooManyRollouts(draft.rollouts ?? []), findings, edits);
  }

  /** Finalizes rollouts oldest first while the oldest is `ready`; true when one was finalized. */
  private finalizeOldestWhile(
    draft: MutableBaseline,
    ready: (rollout: Rollout) => boolean,
    findings: Finding[],
    edits: BaselineEdits,
    waitedOut: (rollout: Rollout) => boolean = () => false,
  ): boolean {
    let completed = false;
    for (;;) {
      const rollouts = draft.rollouts ?? [];
      const oldest = oldestRollout(rollouts);
      if (oldest < 0 || !ready(rollouts[oldest]!)) return completed;
      const rollout = rollouts[oldest]!;
      let rest = rollouts.filter((_, i) => i !== oldest);
      // A write and a revision's events that waited apart for a closer half that did not come: one deploy after all.
      const partner = joinedAtLast(rest, rollout, this.waitMs);
      let judged = rollout;
      if (partner >= 0) {
        const other = rest[partner]!;
        rest = rest.filter((_, i) => i !== partner);
        // Said, as when the second half comes (observationStep), where another write could as well be the revision's.
        const [write, events] = rollout.write !== undefined ? [rollout, other] : [other, rollout];
        judged = joinedLater(write, events, this.otherOwner(draft, [write, ...rest], 0, eventFactsOf(events.observed!)));
      }
      setRollouts(draft, rest);
      this.finalize(draft, judged, findings, edits, waitedOut(rollout));
      completed = true;
    }
  }

  /** Completes what is due by `nowMs`; true when the draft changed. */
  private completeDueRollouts(draft: MutableBaseline, nowMs: number, findings: Finding[], edits: BaselineEdits): boolean {
    if (draft.dueAtMs === undefined || draft.dueAtMs > nowMs || !draft.rollouts || draft.rollouts.length === 0) return false;
    return this.drain(draft, nowMs, findings, edits);
  }

  /** A deploy's provenance labels as the baseline keeps them, so the next deploy's can be told from left-over ones. */
  private provenanceKeyOf(change: DeployChange): string {
    return provenanceLabelsKey(change.labels, change.revisionLabels, this.config);
  }

  /**
   * The time of another write that the revision event `o`, joining `rollouts[index]` by time and principal alone
   * (joinedByTimeAlone), could as well belong to, or undefined: a write of its creator judged without its events whose
   * span it falls in (lateHalfOf), or another write of its creator waiting without events that only time ties to
   * them, within the same window. Neither an operation id nor the creator tells them apart; the revision's creation
   * time rules out a waiting write it was created before or long after (createdOutsideWrite), and a write, waiting or
   * judged, more than a second before the joined write when the revision was created soonest after the joined one,
   * within seconds (createdFor).
   */
  private otherOwner(draft: MutableBaseline, rollouts: readonly Rollout[], index: number, o: EventFacts): string | undefined {
    if (!joinedByTimeAlone(rollouts[index]!, o)) return undefined;
    // Not a write that the revision's creation time tells from the one it joined (createdFor: created soonest after
    // the joined write, within seconds, the other more than the clocks' skew before it).
    const joinedMs = rollouts[index]!.write!.timeMs;
    const createdMs = o.level === 'revision' ? o.createdMs : undefined;
    const toldApart = (otherMs: number): boolean => createdFor(createdMs, [joinedMs, otherMs]) === 0;
    // Nor a judged write the revision was created before or long after (lateHalfOf with its creation time).
    const completed = lateHalfOf(draft.completed, true, o.timeMs, o.creator, o.revision, { excluded: (c) => toldApart(c.t), ...(createdMs !== undefined ? { createdMs } : {}) });
    if (completed >= 0) return writtenAt(draft.completed![completed]!).time;
    for (let i = 0; i < rollouts.length; i++) {
      const write = rollouts[i]!.write;
      if (i === index || write === undefined || rollouts[i]!.observed !== undefined || !tiedToEventsOnlyByTime(write)) continue;
      // Not a write the revision was created before, or long after (createdOutsideWrite): it cannot be that write's.
      if (createdOutsideWrite(createdMs, write)) continue;
      if (toldApart(write.timeMs)) continue;
      // Not another principal's (whatever shape its identifier has: this only says what may be).
      if (o.creator !== undefined && write.principal !== undefined && write.principal.id.toLowerCase() !== o.creator.toLowerCase()) continue;
      const gap = o.timeMs - write.timeMs;
      if (gap >= -BURST_MS && gap <= this.waitMs) return write.time;
    }
    return undefined;
  }

  /**
   * The completed rollout whose missing half `half` is (correlate/rollout.ts lateHalfOf), which it then stands for
   * (the entry's span is taken away, so no other half can match it), as it was before; undefined when there is none.
   */
  private claimLateHalf(draft: MutableBaseline, events: boolean, half: DeployChange, operationId?: string): CompletedRollout | undefined {
    const index = lateHalfOf(draft.completed, events, half.timeMs, half.principal?.id, half.revision, events && half.revisionCreatedMs !== undefined ? { createdMs: half.revisionCreatedMs } : {});
    if (index < 0) return undefined;
    // Events that carry an operation id may yet prove to be another write's (a write of that operation comes): the
    // span is marked taken rather than dropped, so it can be given back (eventsOfOperation).
    const owner = draft.completed![index]!;
    replaceCompleted(draft, index, operationId !== undefined ? { ...owner, otherHalf: { ...owner.otherHalf!, takenBy: operationId } } : withoutSpan(owner));
    return owner;
  }

  /**
   * System events its operation id ties `write` to, judged without it. Their span is no other write's to take. When
   * they were taken, by time alone, for another write's late half (CompletedRollout.claimedByTime), they were this
   * write's own: the span they took is given back, and their entry returned (else undefined). They stay
   * `claimedByTime`: this write is the deploy they were, and a copy of it delivered again is recognised by its digest.
   */
  private eventsOfOperation(draft: MutableBaseline, write: DeployChange, edits: BaselineEdits): CompletedRollout | undefined {
    const operationId = write.operationId;
    if (operationId === undefined || !draft.completed) return undefined;
    const index = draft.completed.findIndex((c) => c.withoutWrite === true && sameOperation(c.operationId, operationId));
    if (index < 0) return undefined;
    const events = draft.completed[index]!;
    if (events.otherHalf) replaceCompleted(draft, index, withoutSpan(events));
    if (events.claimedByTime !== true || write.operationCompletion) return undefined;
    // What they brought in is this write's, in force from its instant, not from the write they were taken for.
    if (events.filledAt) {
      const { filledAt: moved, ...rest } = draft.completed[index]!;
      moveFilled(draft, moved!, moved!, write, edits);
      replaceCompleted(draft, index, rest);
    }
    draft.completed = draft.completed.map((c) => {
      if (c.otherHalf?.takenBy === undefined || !sameOperation(c.otherHalf.takenBy, events.operationId)) return c;
      const { takenBy: _given, ...span } = c.otherHalf;
      return { ...c, otherHalf: span };
    });
    return events;
  }

  /**
   * Runs the rules on what rolled out and records it. A failed rollout is reported but records no revision facts
   * (identity, images); the service settings the write applied (the invoker IAM check) are in force all the same.
   * `waitedOut`: the rollout's wait ran out (not judged early: a delete, too many waiting, the end of the input).
   */
  private finalize(draft: MutableBaseline, rollout: Rollout, findings: Finding[], edits: BaselineEdits, waitedOut: boolean): void {
    // System events that waited for a write while another rollout of the same revision completed (the revision
    // event carries the first write's operation id, the service event the second's: delivered out of order, each
    // can open a rollout): the revision is judged already. As a late event would be, they are recognised.
    // The late half of a write judged without it (Rollout.ofJudgedWrite): judged once, the write's entry awaits it no
    // more. Events judged already (a copy of them, or this late half) are recognised, as a late event would be; not the
    // late half of a write whose entry was let go while it waited (COMPLETED_LIMIT): its events were not judged.
    const lateHalf = rollout.ofJudgedWrite === true;
    const awaited = lateHalf ? awaitingEvents(draft.completed, rollout.observed!) : -1;
    if (awaited >= 0) noLongerAwaiting(draft, awaited);
    else if (!rollout.write && rollout.observed && draft.completed && belongsToCompleted(draft.completed, rollout.observed)) return;
    // Revision events judged alone that a service event, naming their revision as the service's latest, tied to the
    // operation of a write judged without its events (gcloud's second write, judged alone before any event came; the
    // revision event carries the first write's operation id): that write's late half, as if they carried its id.
    // Tied when the service event came (observationStep: a late half, Rollout.ofJudgedWrite), or (a baseline stored before
    // that was done) now.
    const byService = awaited < 0 && !rollout.write && rollout.observed ? awaitingByServiceOperation(draft.completed, rollout.observed) : -1;
    const ownerByService = byService >= 0 ? draft.completed![byService]! : undefined;
    if (ownerByService) noLongerAwaiting(draft, byService);
    const rolled = rolledOut(rollout, (observed) => writeFromObservation(observed, this.waitMs, draft));
    // System events of a revision whose write was judged without them (they came later than its wait): by its
    // operation id (lateHalf, ownerByService), else (a v2 write's id is not in its events) by time and principal.
    const claimed = !lateHalf && !ownerByService && !rollout.write ? this.claimLateHalf(draft, true, rolled.change, rollout.observed?.operationId) : undefined;
    const claimedByTime = claimed !== undefined;
    const reportedAsDeploy = lateHalf || claimedByTime || ownerByService !== undefined;
    // A write across API versions that no revision event followed made no revision (a Terraform apply through v2
    // after gcloud deploys through v1, changing a label): said only once its whole wait ran out (judged early, a
    // deploy-and-delete say, it still counts), and only where this service's events are known to reach runwatch,
    // since without them (an export of admin activity alone) no event could have come either way.
    const revisionKept = waitedOut && rollout.acrossApis === true && rollout.observed?.revisionEvent !== true && draft.systemEventsSeen === true;
    const merged =
      reportedAsDeploy || revisionKept
        ? { ...rolled, change: { ...rolled.change, ...(reportedAsDeploy ? { reportedAsDeploy: true as const } : {}), ...(revisionKept ? { revisionKept: true as const } : {}) } }
        : rolled;
    // Whether the detectors count it as a deploy (the same test they make, against the baseline before it).
    const countedAsDeploy = rollout.write !== undefined && createsRevision(merged.change, draft);
    // A late half (by its operation id, by time, or by a service event of its operation: ownerByService) is judged
    // where its write stands (Evaluation.judgedAt): a deploy made between the write and its events, judged before
    // they came, is newer than it.
    const writer = claimed ?? ownerByService;
    const writeInstant = lateHalf ? openedAt(rollout) : writer ? writtenAt(writer) : undefined;
    const evaluation: Evaluation = writeInstant !== undefined && writeInstant.timeMs < merged.change.timeMs ? { ...merged, judgedAt: judgedJustAfter(writeInstant) } : merged;
    const open = this.evaluate(draft, evaluation, findings);
    noteJudgedForNewerWrite(draft, judgedChange(evaluation), edits);
    const failed = merged.rollout.status === 'failed';
    // A late half's revision was in force from its write on: what it brought in is recorded at the write's instant
    // (Rollout.openedMs and writeTime; of events claimed by time, their write's completed entry), not its events', or a
    // deploy made between the two (judged after it: it opened later) is compared with the revision before and reported
    // for the same variables or image again, and one judged before it has what it set overridden by an older revision.
    const revision = writeInstant ? atInstant(merged.change, writeInstant) : merged.change;
    const recorded: DeployChange = failed ? withoutRevisionFacts(revision) : revision;
    // A failed revision's write still set the service's labels (`recorded` keeps them). Events claimed by time only
    // fill in what their write did not say at its instant (what they filled in moves should they prove another
    // write's: eventsOfOperation).
    let filled: Filled | undefined;
    if (claimed) filled = fillAt(draft, recorded, edits, this.provenanceKeyOf(recorded));
    else applyChangeTo(draft, recorded, edits, this.provenanceKeyOf(recorded));
    const span = revisionKept || reportedAsDeploy ? {} : otherHalfOf(rollout, this.waitMs);
    const nanos = subMillisecondNanos(merged.change.time);
    const entry: CompletedRollout = {
      t: merged.change.timeMs,
      ...(nanos > 0 ? { n: nanos } : {}),
      revision: merged.change.revision,
      operationId: rollout.observed?.operationId ?? rollout.write?.operationId,
      ...(rollout.write ? {} : { withoutWrite: true as const }),
      // Events judged alone: the writes of the service events' operations are this deploy's (reportedFromEvents).
      ...(rollout.write || rollout.observed?.serviceOperationIds === undefined ? {} : { serviceOperationIds: rollout.observed.serviceOperationIds }),
      ...(claimedByTime ? { claimedByTime: true as const } : {}),
      ...(claimed && filled && (filled.histories.length > 0 || filled.repositories.length > 0) ? { filledAt: filledAt(claimed, filled) } : {}),
      ...(countedAsDeploy ? { reportedWrite: true as const } : {}),
      // Judged without its events, which its operation id ties to it when they come later (CompletedRollout.eventsAwaited).
      ...(eventsAwaitedBy(rollout) ? { eventsAwaited: true as const } : {}),
      // A deploy reported here may still see its other half; not one judged as no revision, or itself a late half.
      ...span,
    };
    draft.completed = edits.append(draft.completed ?? [], entry, COMPLETED_LIMIT);
    draft.open = open;
    // The burst's later writes that set the service (Rollout.settingWrites, kept in time order): each at its own time,
    // by its own principal, after the write whose revision the burst made (reported with it, so they count as no
    // deploy). Of a failed rollout, as its write: the settings only (its revision never served, and is reported).
    for (const write of rollout.settingWrites ?? []) {
      const setting: DeployChange = { ...(failed ? withoutRevisionFacts(write) : write), reportedAsDeploy: true };
      const after = this.evaluate(draft, { change: setting }, findings);
      applyChangeTo(draft, setting, edits, this.provenanceKeyOf(setting));
      draft.open = after;
    }
  }
}

/**
 * Notes the newer write that `change`, just judged against `draft` (not applied yet), made a deploy by arriving late
 * (detectors/revision.ts deployMadeByLateTemplate, as off-window-deploy found it): that rule judged it on the write's
 * behalf, keyed by its time. Its revision's system events, should they come later than their wait, are that deploy,
 * not another one to report under the revision's name (CompletedRollout.judgedForNewerWrite, judgedForNewerWrite).
 */
function noteJudgedForNewerWrite(draft: MutableBaseline, change: Change, edits: BaselineEdits): void {
  if (change.kind !== 'deploy') return;
  const write = deployMadeByLateTemplate(change, draft);
  if (write === undefined || draft.completed?.some((c) => c.judgedForNewerWrite === true && sameInstant(c, write))) return;
  const entry: CompletedRollout = { t: write.t, ...(write.n ? { n: write.n } : {}), judgedForNewerWrite: true };
  draft.completed = edits.append(draft.completed ?? [], entry, COMPLETED_LIMIT);
}

/**
 * Notes that `write`, just applied, was judged to make no revision (ServiceBaseline.noRevision), where its template point
 * was recorded (not a write about a deleted service, which sets none of the service object's facts): an older write
 * that arrives later with another template makes it a deploy after all (detectors/revision.ts deployMadeByLateTemplate).
 */
function noteNoRevision(draft: MutableBaseline, write: DeployChange, edits: BaselineEdits): void {
  const point = pointOf(draft.template, write);
  if (point === undefined || point.v !== write.templateFingerprint) return;
  draft.noRevision = edits.record(draft.noRevision ?? [], point.t, true, point.n);
}

/**
 * Keeps the operation id of `write`, a repeat of a write judged as a deploy before it came (detectors/revision.ts
 * judgedRepeatOf), with that write's completed entry (CompletedRollout.repeatOperationIds, the newest
 * OTHER_OPERATIONS_LIMIT), so its revision's events, which carry it, are found to be that deploy's (awaitingEvents).
 */
function keepRepeatOperation(draft: MutableBaseline, write: DeployChange): void {
  if (write.operationId === undefined || !draft.completed || !isService(write.target)) return;
  const judged = judgedRepeatOf(write, draft);
  const index = judged === undefined ? -1 : draft.completed.indexOf(judged);
  if (index >= 0) noteOtherOperation(draft, index, 'repeatOperationIds', write.operationId);
}

/**
 * A service event that names, as the service's latest, a revision judged from its events alone (a late event): its
 * operation id, the service's last change's, is kept with them (CompletedRollout.serviceOperationIds), so that change's
 * write, arriving later, is no other deploy (gcloud's second write of the deploy).
 */
function noteServiceOperation(draft: MutableBaseline, observation: RevisionObservation): void {
  if (observation.level !== 'service' || observation.operationId === undefined || observation.revision === undefined) return;
  const index = draft.completed!.findIndex((c) => c.withoutWrite === true && c.claimedByTime !== true && c.revision === observation.revision);
  if (index >= 0) noteOtherOperation(draft, index, 'serviceOperationIds', observation.operationId);
}

/** The completed entry at `index` has its late half now: it awaits no more events (eventsAwaited, awaitedRevision). */
function noLongerAwaiting(draft: MutableBaseline, index: number): void {
  const { eventsAwaited: _judged, awaitedRevision: _named, ...owner } = draft.completed![index]!;
  replaceCompleted(draft, index, owner);
}

/** Adds another operation's `id` to the `field` list of the completed entry at `index` (withOtherOperation). */
function noteOtherOperation(draft: MutableBaseline, index: number, field: 'repeatOperationIds' | 'serviceOperationIds', id: string | undefined): void {
  const entry = draft.completed![index]!;
  const ids = withOtherOperation(entry[field], id, entry.operationId);
  if (ids !== entry[field]) replaceCompleted(draft, index, { ...entry, [field]: ids! });
}

/**
 * True when the revision observed was created by a later change than `write`: its configuration generation is past the
 * generation the write produced (a v1 write's response says it), which a configuration's never runs ahead of.
 */
function laterGeneration(observation: RevisionObservation, write: DeployChange): boolean {
  if (write.generation === undefined) return false;
  const generation = observation.generation ?? generationOfRevisionName(observation.revision, observation.target.service);
  return generation !== undefined && generation > write.generation;
}

/**
 * True when the revision observed was created by someone else than `write`'s principal (Cloud Run records the caller as
 * its `creator`) and no generation ties the two (a v1 write's, which the revision carries): a later change made it, its
 * write not seen yet, as a v2 write's read cannot otherwise tell (laterGeneration needs the generation).
 */
function createdByAnother(observation: RevisionObservation, write: DeployChange): boolean {
  if (observation.creator === undefined || write.principal === undefined) return false;
  if (write.generation !== undefined && (observation.generation ?? generationOfRevisionName(observation.revision, observation.target.service)) === write.generation) return false;
  return observation.creator.toLowerCase() !== write.principal.id.toLowerCase();
}

/**
 * True when `rollout` is judged from its write alone and its system events, should they come later, are tied to it by
 * its operation id (a v1 write's): not a Cloud Functions service agent's InternalServices call, whose events are let go.
 */
function eventsAwaitedBy(rollout: Rollout): boolean {
  const write = rollout.write;
  return write !== undefined && rollout.observed === undefined && write.operationId !== undefined && !tiedToEventsOnlyByTime(write) && !write.methodName.includes('InternalServices.');
}

/**
 * The late half of a judged write (Rollout.ofJudgedWrite), opened from its events: it stands at its write's instant
 * (`owner`, the write's completed entry: writtenAt), unless its events are older still.
 */
function lateHalfOpened(opened: Rollout, owner: CompletedRollout): Rollout {
  if (opened.openedMs < owner.t) return { ...opened, ofJudgedWrite: true };
  return { ...opened, openedMs: owner.t, ofJudgedWrite: true, writeTime: writtenAt(owner).time };
}

/** CompletedRollout.filledAt of events claimed by time for `owner`'s late half: its write's instant, what they filled in. */
function filledAt(owner: CompletedRollout, filled: Filled): NonNullable<CompletedRollout['filledAt']> {
  return { t: owner.t, ...(owner.n !== undefined && owner.n > 0 ? { n: owner.n } : {}), histories: filled.histories, repositories: filled.repositories };
}

/**
 * The instant a late half is judged at (Evaluation.judgedAt): a nanosecond after its write's, so the write's own facts,
 * recorded at its instant, are in force before it (compared with what was before the write, it would report the write's
 * deploy again), and whatever was recorded later, a deploy made after the write, is newer than it.
 */
function judgedJustAfter(write: { readonly timeMs: number; readonly time: string }): { readonly timeMs: number; readonly time: string } {
  const n = subMillisecondNanos(write.time) + 1;
  const point = n < 1_000_000 ? { t: write.timeMs, n } : { t: write.timeMs + 1 };
  return { timeMs: point.t, time: pointTime(point) };
}

/** The change of `evaluation` as the rules judge it: at Evaluation.judgedAt where set (a deploy's), else as it is. */
function judgedChange(evaluation: Evaluation): Change {
  const { change, judgedAt } = evaluation;
  return judgedAt !== undefined && change.kind === 'deploy' ? atInstant(change, judgedAt) : change;
}

/** `change` as made at `at` (its facts recorded there). */
function atInstant(change: DeployChange, at: { readonly timeMs: number; readonly time: string }): DeployChange {
  return change.timeMs === at.timeMs && change.time === at.time ? change : { ...change, timeMs: at.timeMs, time: at.time };
}

/**
 * A failed rollout's write as the baseline records it: none of its revision's facts (identity, images, code from a
 * bucket or a base image), which never served.
 */
function withoutRevisionFacts(write: DeployChange): DeployChange {
  const { sources: _neverServed, ...rest } = write;
  return { ...rest, serviceAccount: undefined, images: [], plainEnv: undefined, codeLoadingEnv: undefined, vpcEgress: undefined, vpcDestination: undefined };
}

/**
 * A v2 UpdateService with allowMissing of a service known to be deleted (its delete applied, and no entry of a service
 * created again after it, applied or waiting) created it: with the ingress, IAP and default URL a create gets
 * (DeployChange.ingressIfCreated, iapEnabledIfCreated, defaultUrlDisabledIfCreated). Otherwise it updated a service
 * that exists, and what it says of them is what its entry shows.
 */
function createdByUpsert(baseline: ServiceBaseline, change: Change): Change {
  if (change.kind !== 'deploy') return change;
  const ingress = change.ingressIfCreated !== undefined && change.ingress === undefined;
  const iap = change.iapEnabledIfCreated !== undefined && change.iapEnabled === undefined;
  const defaultUrl = change.defaultUrlDisabledIfCreated !== undefined && change.defaultUrlDisabled === undefined;
  if (!ingress && !iap && !defaultUrl) return change;
  const deleted = baseline.deletedAtMs;
  // Before, after and since the delete are to the nanosecond (deletedAtN): an upsert earlier in the delete's millisecond
  // updated the service that still existed, and an entry later in it is the re-created service's.
  if (deleted === undefined || beforeDelete(baseline, change)) return change;
  const deletedAt = { timeMs: deleted, time: deleteTime(baseline) };
  if (baseline.lastChangeMs > deleted || newerInItsMillisecond(baseline, deletedAt)) return change;
  if ((baseline.rollouts ?? []).some((rollout) => !openedBefore(rollout, deletedAt) && openedBefore(rollout, change))) return change;
  return {
    ...change,
    ...(ingress ? { ingress: change.ingressIfCreated } : {}),
    ...(iap ? { iapEnabled: change.iapEnabledIfCreated } : {}),
    ...(defaultUrl ? { defaultUrlDisabled: change.defaultUrlDisabledIfCreated } : {}),
  };
}

/**
 * The finding's location: the service's region; `global` for a project, folder or organization policy, set or
 * refused (it is in no region, and applies in all of them); none for a service whose entry names no region
 * (hand-made data).
 */
function locationOf(change: Change): { readonly location?: string } {
  if (change.target.location) return { location: change.target.location };
  return isWideIamChange(change) ? { location: 'global' } : {};
}

/** Delivers findings once the baseline that produced them is stored for good (see Delivery). */
export type Publish = (findings: readonly Finding[]) => Promise<void>;

function hook(publish: Publish | undefined): Delivery<{ readonly findings: readonly Finding[] }> | undefined {
  return publish ? { findingsOf: (r) => r.findings, deliver: publish } : undefined;
}

/** What a store transaction of the engine returns. */
interface Outcome {
  readonly findings: readonly Finding[];
  /** What rule exceptions held back (EngineOptions.onHeldBack). */
  readonly heldBack?: readonly HeldBack[];
  readonly note: EngineNote;
  readonly dueAtMs: number | undefined;
  /** The entry is not applied yet: what it needs completed first took DUE_FINDINGS_BYTES_LIMIT (see changeStep). */
  readonly deferred?: true;
}

type Transaction = (current: ServiceBaseline | undefined) => TransactionOutcome<Outcome>;

/** The original finding, closed: same id, so every sink closes what it opened for it. */
function resolutionOf(finding: Finding, change: Change, reason: string, time = change.time): Finding {
  return {
    ...finding,
    status: 'resolved',
    resolution: { time, principal: change.principal?.id ?? 'unknown', reason, logName: change.key.logName, insertId: change.key.insertId },
  };
}

/** A canonical timestamp as a point (TimePoint.n its nanoseconds), to compare with an instant. */
function pointOfTime(time: string): TimePoint<undefined> {
  return pointAt({ timeMs: Date.parse(time), time }, undefined);
}

/** The canonical timestamp of the service's delete: its millisecond and, when known, its nanoseconds (deletedAtN). */
function deleteTime(baseline: ServiceBaseline): string {
  return pointTime({ t: baseline.deletedAtMs!, n: baseline.deletedAtN });
}

/** A late finding, closed by a newer change applied before it came: when and why are known, not who nor which entry. */
function closedLater(finding: Finding, takenAway: { readonly time: string; readonly reason: string }): Finding {
  return { ...finding, status: 'resolved', resolution: { time: takenAway.time, principal: 'unknown', reason: takenAway.reason, logName: '', insertId: '' } };
}

/** A short digest of an entry's identity (logName + timestamp + insertId), kept in the baseline as applied. */
export function entryDigest(key: { logName: string; timestamp: string; insertId: string }): string {
  // The log name is shared by every entry of a project's log: its part of the hash is computed once.
  return fnv1aJoined(key.logName, key.timestamp, key.insertId);
}

function remember(draft: MutableBaseline, seenKey: string, edits: BaselineEdits): void {
  draft.seen = edits.append(draft.seen ?? [], seenKey, SEEN_LIMIT);
}

/** Sets the rollouts, and when the oldest one (which holds back the others) is due. */
function setRollouts(draft: MutableBaseline, rollouts: readonly Rollout[]): void {
  draft.rollouts = rollouts;
  draft.dueAtMs = rollouts[oldestRollout(rollouts)]?.deadlineMs;
}
