// The per-service baseline: what runwatch remembers about a service between entries.
// Every fact is kept as a short time-indexed history, so a detector compares an entry with the state just
// *before its own timestamp*: entries that arrive late or twice never see (or overwrite) newer state.
// The shape is plain JSON so the file and Firestore stores can keep it as is.
import { subMillisecondNanos, withCanonicalFraction } from '../audit/entry.js';
import { generationOfRevisionName } from '../audit/systemEvent.js';
import { keepsTemplateInForce } from '../audit/template.js';
import type { CompletedRollout, Rollout } from '../correlate/rollout.js';
import type { OpenFinding } from '../detectors/types.js';
import { describeServiceAccount, type DeployChange, type PlainEnvVar, type VpcEgress } from '../model/change.js';

export interface TimePoint<T> {
  /** Event time of the change that set the value, epoch ms. */
  readonly t: number;
  readonly v: T;
  /**
   * The sub-millisecond digits of that time, as nanoseconds (1 to 999,999; absent: 0). A history keeps one point per
   * millisecond: of two entries in the same one, delivered in either order, the later in time holds it.
   */
  readonly n?: number;
}

/**
 * The canonical timestamp of a point in time: its millisecond and, when known, the nanoseconds after it (TimePoint.n,
 * CompletedRollout.n).
 */
export function pointTime(point: { readonly t: number; readonly n?: number }): string {
  const iso = new Date(point.t).toISOString();
  return withCanonicalFraction(point.n ? `${iso.slice(0, -1)}${String(point.n).padStart(6, '0')}Z` : iso);
}

export interface ServiceBaseline {
  readonly version: 1;
  /** Runtime service account of each revision, as `describeServiceAccount` writes it. */
  readonly serviceAccount: readonly TimePoint<string>[];
  /** Fingerprint of the revision template, to tell a new revision from a traffic-only update. */
  readonly template: readonly TimePoint<string>[];
  /** Image repository -> time it was first seen on this service (epoch ms; its sub-millisecond digits: repositoriesN). */
  readonly repositories: Readonly<Record<string, number>>;
  /**
   * Image repository -> the sub-millisecond digits of the time it was first seen, as nanoseconds (as TimePoint.n: 1 to
   * 999,999; a repository not listed: 0), so a deploy of the same millisecond is told before or after it. Optional:
   * baselines stored before it was kept have none (their repositories read as first seen at the start of the
   * millisecond).
   */
  readonly repositoriesN?: Readonly<Record<string, number>>;
  /** Public members (allUsers, allAuthenticatedUsers) holding an invoker role, sorted. */
  readonly publicInvokers: readonly TimePoint<readonly string[]>[];
  readonly invokerIamDisabled: readonly TimePoint<boolean>[];
  readonly ingress: readonly TimePoint<string>[];
  /**
   * The Binary Authorization policy each write set (`default`, a policy name; `''`: not enforced). It carries across a
   * delete (a service created again under the name without a policy has turned it off). Optional: baselines stored
   * before it was kept have none.
   */
  readonly binaryAuthorization?: readonly TimePoint<string>[];
  /**
   * The breakglass justification each write set (`''`: none): revisions deployed while one is set skip the policy,
   * including those of writes that leave it as it was. It belongs to the service object: a delete clears it.
   * Optional, as binaryAuthorization.
   */
  readonly breakglass?: readonly TimePoint<string>[];
  /**
   * The provenance labels each deploy carried (their `name=value` texts, one per line; `''`: none): a deploy that sets
   * none keeps the previous deploy's, which then say nothing about it. Optional, as binaryAuthorization.
   */
  readonly provenanceLabels?: readonly TimePoint<string>[];
  /**
   * The environment variables each revision set to secrets in plain text (names and formats, never values;
   * audit/env.ts), so a revision is compared with the one before it. Optional, as binaryAuthorization.
   */
  readonly plainEnv?: readonly TimePoint<readonly PlainEnvVar[]>[];
  /**
   * The variables that make a runtime load code each revision set (audit/env.ts codeLoadingEnvOf), as sorted
   * `container/NAME#digest` keys (never the values), so a revision is compared with the one before it. It carries
   * across a delete, as binaryAuthorization. Optional, as binaryAuthorization.
   */
  readonly codeLoadingEnv?: readonly TimePoint<readonly string[]>[];
  /**
   * From when (ms) codeLoadingEnv's points were stored by a version that reads every name of audit/env.ts
   * CODE_LOADING_ENV_READ_LATER (JAVA_OPTS, CATALINA_OPTS, PYTHONWARNINGS): a point before it holds no key of theirs
   * whatever the revision set, so such a variable is not newly set after it (code-loading-env). Set by the first
   * point this version stores, after the points already there (0 where there were none). Optional: a baseline of
   * the version before has none. It carries across a delete, as the points it dates.
   */
  readonly codeLoadingEnvReadsAllFrom?: number;
  /**
   * Where each revision's outbound traffic went (VpcEgress). It carries across a delete, as binaryAuthorization.
   * Optional, as binaryAuthorization.
   */
  readonly vpcEgress?: readonly TimePoint<VpcEgress>[];
  /**
   * Where each all-traffic revision sent its traffic (DeployChange.vpcDestination), at the time of its vpcEgress point:
   * an all-traffic point without one here is a revision whose destination is not known (stored by an earlier version,
   * or not shown). It carries across a delete, as vpcEgress. Optional, as binaryAuthorization.
   */
  readonly vpcDestination?: readonly TimePoint<string>[];
  /**
   * Whether Identity-Aware Proxy guarded the service after each write that said so. It carries across a delete, as
   * the ingress does. Optional, as binaryAuthorization.
   */
  readonly iapEnabled?: readonly TimePoint<boolean>[];
  /**
   * Whether the service's default `*.run.app` URL was disabled after each write that said so; until a write that
   * disabled it is known, only the two newest writes that left it on (apply.ts defaultUrlAfter). It carries across a
   * delete, as the ingress does. Optional, as binaryAuthorization.
   */
  readonly defaultUrlDisabled?: readonly TimePoint<boolean>[];
  /**
   * Which of publicInvokers hold a write-capable invoker role (run.admin, run.developer, run.sourceDeveloper), sorted,
   * recorded with each IAM policy: a public invoker given one of them is a new grant. Optional, as binaryAuthorization.
   */
  readonly publicWriters?: readonly TimePoint<readonly string[]>[];
  /**
   * The public invoker bindings, each `ROLE MEMBER` (`roles/run.invoker allUsers`), sorted, recorded with each IAM
   * policy whose bindings are known: a policy delta names one role of a member, and the member stays an invoker
   * (or a writer) through the others it holds. A point a delta set also holds `~` and the pairs it named
   * (`~ROLE MEMBER`), so it is computed again over an entry that arrives late (apply.ts laterPublicPoints). Optional,
   * as binaryAuthorization (older baselines: not known).
   */
  readonly publicBindings?: readonly TimePoint<readonly string[]>[];
  /**
   * The user, group and domain members' bindings (external-member-grant), each `ROLE member` with the member in lower
   * case (`if ROLE member` for the copy held under an IAM condition: a member may hold one role with a condition and
   * without, apply.ts memberCopyKey), sorted, recorded with each IAM policy whose bindings are known: on a service every role, above it (a project,
   * folder or organization) the roles that reach Cloud Run (model/iam.ts reachesCloudRun). Every such member is kept, not
   * only those outside the allowed domains, so a change of the config later judges against the policy as it was. At most
   * MEMBER_BINDINGS_LIMIT pairs and MEMBER_BINDINGS_BYTES_LIMIT of them a point (apply.ts): past it, and where a delta applied to a policy not known, a point also
   * holds `?` (pairs it does not list may be held). A point a policy delta set also holds `~` and the pairs it named
   * (`~ROLE member`), as publicBindings. Optional, as binaryAuthorization (older baselines: not known).
   */
  readonly memberBindings?: readonly TimePoint<readonly string[]>[];
  /**
   * When the service was created, as its creates applied say (a v1 or v2 CreateService, or the system events of one):
   * a service starts with an empty IAM policy, so the policy before a grant after it is known. Optional, as
   * binaryAuthorization; a delete clears it.
   */
  readonly creates?: readonly TimePoint<true>[];
  /**
   * The identities the service's traffic (a worker pool's instances) went to, per write whose traffic list (instance
   * split) says where all of it goes
   * (servingIdentitiesOf; empty when one of its revisions' identities is not known): a traffic write that arrives after a
   * newer one is told whether the newer one took the traffic away from the identity it reports, and a deploy or traffic
   * write what the service ran as before it. Optional, as binaryAuthorization; a delete clears it.
   */
  readonly serving?: readonly TimePoint<readonly string[]>[];
  /**
   * When a deploy left the traffic where it was (a v2 update whose mask leaves `traffic` out: DeployChange.keepsTraffic),
   * at its serviceAccount point's instant: its new revision took none of the traffic, so the identities `serving` last
   * recorded are still the ones the service runs as. Optional, as binaryAuthorization; a delete clears it.
   */
  readonly keptTraffic?: readonly TimePoint<true>[];
  /**
   * When a deploy write was judged, as it came, to make no revision because its template was the one in force before
   * it (detectors/revision.ts judgedTemplateInForce), at its template point's instant: a write older than it that
   * arrives later and sets another template made it a deploy after all, and is told that this one raised nothing
   * (off-window-deploy judges it again, on its behalf). Optional, as binaryAuthorization; a delete clears it.
   */
  readonly noRevision?: readonly TimePoint<true>[];
  /**
   * When a deploy's new revision took none of the traffic (DeployChange.takesNoTraffic: `--no-traffic`, a list naming
   * older revisions only), at its points' instant: what it set of the revision (egress, variables) is not what serves,
   * so a late entry's revision-level risk is not ended by it (detectors/revision.ts riskInForce), as it is not in
   * order. Optional, as binaryAuthorization. It carries across a delete, as the points it marks do (the service
   * account, VPC egress, code-loading variables): a late change of identity of the deleted service, which stays open
   * across the delete, is judged against the same history whichever side of the delete it arrives.
   */
  readonly tookNoTraffic?: readonly TimePoint<true>[];
  /**
   * The runtime service account of the service's recent revisions, by name or by the generation that made them
   * (RevisionIdentity), so a write that moves the traffic to an older revision is known to run the service as that
   * revision's identity. Newest last (in the order applied), REVISION_IDENTITY_LIMIT kept (apply.ts appendRevisionIdentity: each identity's newest stays). It carries across a
   * delete, as the service account does (a revision of the deleted service is told by its time). Optional, as
   * binaryAuthorization.
   */
  readonly revisionIdentities?: readonly RevisionIdentity[];
  /** Time of the newest change applied. */
  readonly lastChangeMs: number;
  /**
   * Set when the service was deleted: entries older than it are about the deleted service and change nothing. The
   * service-object facts (SERVICE_OBJECT_HISTORIES, OPTIONAL_SERVICE_OBJECT_HISTORIES) start afresh; the service
   * account, repositories, ingress, Binary Authorization policy and VPC egress carry on (CARRIED_OPTIONAL_HISTORIES).
   */
  readonly deletedAtMs?: number;
  /**
   * The sub-millisecond digits of the delete's time, as nanoseconds (as TimePoint.n; absent: 0), so an entry of its
   * millisecond is told before or after it. Absent in baselines stored before it was kept.
   */
  readonly deletedAtN?: number;
  /** Deploys waiting for their other half (admin write or system events); see correlate/rollout.ts. */
  readonly rollouts?: readonly Rollout[];
  /**
   * A system event of the service was seen: its events reach runwatch (the sink or export includes them), so a
   * revision event that never came means no revision was made. Absent in baselines stored before it was kept.
   */
  readonly systemEventsSeen?: true;
  /** Recently completed rollouts, so late or repeated system events about them are recognised. */
  readonly completed?: readonly CompletedRollout[];
  /** The earliest rollout deadline: stores index it so a sweep finds the services with something due. */
  readonly dueAtMs?: number;
  /** Findings whose risk is still in force, so the change that takes it away can resolve them. */
  readonly open?: readonly OpenFinding[];
  /** Digests of the entries already applied (newest last), so a redelivered entry changes nothing. */
  readonly seen?: readonly string[];
}

/**
 * The runtime service account a revision runs as (`v`, as describeServiceAccount writes it), recorded by the deploy that
 * made it at its time (`t`, `n` as TimePoint's). A revision is named by its deploy (`r`: a client-chosen name, or the one
 * its system events gave), or only by the configuration generation its v1 write gave it (`g`, DeployChange.generation):
 * Cloud Run names the revision `SERVICE-NNNNN-xxx` after that generation (audit/systemEvent.ts generationOfRevisionName).
 */
export interface RevisionIdentity extends TimePoint<string> {
  readonly r?: string;
  readonly g?: number;
}

/** How many revisions' identities a baseline keeps: traffic moved further back than that is not judged. */
export const REVISION_IDENTITY_LIMIT = 64;

/**
 * The identity the service's revision `revision` runs as, as a deploy of it recorded it (RevisionIdentity), or undefined
 * when none is known. Only a record from the same side of the service's newest delete as `at` counts: a service created
 * again under the name numbers its revisions from 1 again.
 */
export function identityOfRevision(baseline: ServiceBaseline | undefined, revision: string, service: string, at: ChangeInstant): string | undefined {
  const records = baseline?.revisionIdentities;
  if (!records) return undefined;
  const generation = generationOfRevisionName(revision, service);
  const sameService = onSideOfNewestDelete(baseline, at);
  let byGeneration: RevisionIdentity | undefined;
  for (let i = records.length - 1; i >= 0; i--) {
    const record = records[i]!;
    if (!sameService(record)) continue;
    if (record.r === revision) return record.v;
    if (generation !== undefined && record.g === generation && byGeneration === undefined) byGeneration = record;
  }
  return byGeneration?.v;
}

/**
 * The identities the revisions a write sends the service's traffic to run as (the latest one's: the write's own
 * template, or the newest revision's before it; the others' by identityOfRevision), or undefined when the write sets
 * no traffic list that this reader placed, or one of them is not known.
 */
export function servingIdentitiesOf(baseline: ServiceBaseline | undefined, change: DeployChange): string[] | undefined {
  const traffic = change.traffic;
  if (!traffic) return undefined;
  const identities: string[] = [];
  if (traffic.latestPercent > 0) {
    const latest = change.serviceAccount ? describeServiceAccount(change.serviceAccount) : valueBefore(baseline?.serviceAccount, change);
    if (latest === undefined) return undefined;
    identities.push(latest);
  }
  for (const share of traffic.named) {
    const identity = identityOfRevision(baseline, share.revision, change.target.service, change);
    if (identity === undefined) return undefined;
    identities.push(identity);
  }
  return identities;
}

/**
 * True when a deploy of the service recorded a revision named `revision` (RevisionIdentity.r), on the same side of its
 * newest delete as `at`: a write naming it again (the console writes the template of the revision serving back with
 * its name when it edits the traffic) makes no revision, as Cloud Run's revision names are immutable.
 */
function isRecordedRevision(baseline: ServiceBaseline | undefined, revision: string, at: ChangeInstant): boolean {
  const records = baseline?.revisionIdentities;
  // (Asked of every deploy named by its events: the name is looked for before the delete is.)
  if (!records?.some((record) => record.r === revision)) return false;
  const sameService = onSideOfNewestDelete(baseline, at);
  return records.some((record) => record.r === revision && sameService(record));
}

const EVERY_RECORD = (): boolean => true;

/**
 * Whether a deploy write makes a revision of its own: a revision name not recorded yet (isRecordedRevision: the
 * console's traffic edits write the serving revision's name back), or, unnamed, a template other than the one in force
 * (or one not logged). A write of the template in force (the traffic alone) makes none.
 */
export function writeMakesRevision(baseline: ServiceBaseline | undefined, change: DeployChange): boolean {
  if (change.revision !== undefined) return !isRecordedRevision(baseline, change.revision, change);
  return change.templateFingerprint === undefined || !keepsTemplateInForce(baseline?.template, indexBefore(baseline?.template, change), change.templateFingerprint);
}

/**
 * The identities a write sends the traffic to (servingIdentitiesOf) once each, as ServiceBaseline.serving keeps them:
 * `previous` itself when they are its (a write sending all of it to the latest revision, as the one before: most
 * deploys share one list), else a new list.
 */
export function servingList(identities: readonly string[] | undefined, previous: readonly string[] | undefined): readonly string[] {
  const unique = identities === undefined || identities.length <= 1 ? (identities ?? NO_IDENTITIES) : [...new Set(identities)];
  return previous !== undefined && previous.length === unique.length && previous.every((identity, i) => identity === unique[i]) ? previous : unique;
}
const NO_IDENTITIES: readonly string[] = Object.freeze([]);

/** Whether a record is from the same side of the service's newest delete as `at` (a re-created service's revisions are new). */
function onSideOfNewestDelete(baseline: ServiceBaseline | undefined, at: ChangeInstant): (record: TimePoint<unknown>) => boolean {
  const deleted = deletePoint(baseline);
  if (deleted === undefined) return EVERY_RECORD;
  const changeAfterDelete = !isAfter(deleted, at);
  return (record) => isLaterPoint(record, deleted) === changeAfterDelete;
}

/** The time-indexed histories of a baseline. */
export const HISTORY_FIELDS = ['serviceAccount', 'template', 'publicInvokers', 'invokerIamDisabled', 'ingress'] as const;

/**
 * The histories that belong to the live service object: its revision template, IAM policy and settings. A delete
 * clears them (a service created again under the name has new ones). The others (the runtime service account, the
 * repositories map, the ingress, and CARRIED_OPTIONAL_HISTORIES: the Binary Authorization policy and the VPC egress)
 * are the service's history across deletes: the re-created service's first revision is compared with the deleted
 * one's, or deleting and re-creating a service would hide a change of identity or image, open a service that was
 * internal (created again at the default ingress, `all`), turn its Binary Authorization policy off or send its
 * traffic to the internet past its VPC (created again with the defaults: no policy, no VPC access).
 */
export const SERVICE_OBJECT_HISTORIES = ['template', 'publicInvokers', 'invokerIamDisabled'] as const satisfies readonly (typeof HISTORY_FIELDS)[number][];

/**
 * Service-object histories added after baselines were first stored: optional, older baselines have none. A delete
 * clears them. The breakglass justification is one: it is the deleted service object's, and a service created again
 * under the name deploys under none until a write of it sets one.
 */
export const OPTIONAL_SERVICE_OBJECT_HISTORIES = ['breakglass', 'provenanceLabels', 'plainEnv', 'publicWriters', 'publicBindings', 'memberBindings', 'creates', 'serving', 'keptTraffic', 'noRevision'] as const;

/**
 * Histories added after baselines were first stored (optional) that carry across a delete, as the runtime service
 * account, the repositories and the ingress do: a service created again under the name is compared with the deleted
 * one's Binary Authorization policy (binary-authorization-bypass), VPC egress and its destination (vpc-egress-bypass), Identity-Aware
 * Proxy (iap-disabled), default URL (default-url-enabled) and code-loading variables (code-loading-env); and which
 * of the revisions in those histories took no traffic (tookNoTraffic).
 */
export const CARRIED_OPTIONAL_HISTORIES = ['binaryAuthorization', 'vpcEgress', 'vpcDestination', 'iapEnabled', 'defaultUrlDisabled', 'codeLoadingEnv', 'tookNoTraffic'] as const;

/**
 * How many image repositories a service's baseline remembers. Legitimate services use a handful; the cap keeps a
 * deployer who cycles through thousands of repositories (each reported) from growing the baseline document past
 * Firestore's 1 MiB, after which no entry of the service could be applied. A repository beyond it is not
 * remembered, so it is reported again on each deploy: noisy, never silent. The ones known first stay.
 */
export const REPOSITORY_LIMIT = 256;

/** How many points of each history are kept; older ones only matter for very late arrivals. */
export const HISTORY_LIMIT = 32;

export function emptyBaseline(): ServiceBaseline {
  return { version: 1, serviceAccount: [], template: [], repositories: {}, publicInvokers: [], invokerIamDisabled: [], ingress: [], lastChangeMs: 0 };
}

/**
 * When an entry happened: a change (its epoch ms and canonical timestamp, whose sub-millisecond digits tell two entries
 * of one millisecond apart, as TimePoint.n does), or bare epoch ms: the whole millisecond, so that no point of it is
 * before or after it.
 */
export type ChangeInstant = number | { readonly timeMs: number; readonly time: string };

/**
 * `at` as the `t` and `n` isLaterThan and isEarlierThan take: a bare millisecond as its end (`after`: a point of it is
 * not later) or its start (not `after`: a point of it is not earlier).
 */
function instantOf(at: ChangeInstant, after: boolean): [number, number] {
  return typeof at === 'number' ? [at, after ? Number.POSITIVE_INFINITY : 0] : [at.timeMs, subMillisecondNanos(at.time)];
}

/**
 * The value in force just before `at`: that of the newest point earlier than it (to the nanosecond, for a change: a
 * point of the same millisecond that is earlier counts), or undefined when none is known.
 */
export function valueBefore<T>(history: readonly TimePoint<T>[] | undefined, at: ChangeInstant): T | undefined {
  return pointBefore(history, at)?.v;
}

/** The point in force just before `at` (valueBefore), or undefined when none is known. */
export function pointBefore<T>(history: readonly TimePoint<T>[] | undefined, at: ChangeInstant): TimePoint<T> | undefined {
  const index = indexBefore(history, at);
  return index < 0 ? undefined : history![index];
}

/** Index of the newest point earlier than `at` (valueBefore), or -1: pointBefore for a walk further back. */
export function indexBefore(history: readonly TimePoint<unknown>[] | undefined, at: ChangeInstant): number {
  if (!history) return -1;
  const [t, n] = instantOf(at, false);
  for (let i = history.length - 1; i >= 0; i--) if (isEarlierThan(history[i]!, t, n)) return i;
  return -1;
}

/** True when `point` is earlier than `at` (to the nanosecond, for a change). */
export function isBefore(point: TimePoint<unknown>, at: ChangeInstant): boolean {
  const [t, n] = instantOf(at, false);
  return isEarlierThan(point, t, n);
}

/** A point for the value a change set: at its millisecond, and its nanoseconds (TimePoint.n) when it has any. */
export function pointAt<T>(change: { readonly timeMs: number; readonly time: string }, v: T): TimePoint<T> {
  const n = subMillisecondNanos(change.time);
  return n > 0 ? { t: change.timeMs, v, n } : { t: change.timeMs, v };
}

/** True when `point` is later than `at` (to the nanosecond, for a change). */
export function isAfter(point: TimePoint<unknown>, at: ChangeInstant): boolean {
  const [t, n] = instantOf(at, true);
  return isLaterThan(point, t, n);
}

/** The point at `at` itself (neither earlier nor later, to the nanosecond), or undefined: what a change of then set. */
export function pointOf<T>(history: readonly TimePoint<T>[] | undefined, at: ChangeInstant): TimePoint<T> | undefined {
  return history?.find((point) => !isBefore(point, at) && !isAfter(point, at));
}

/** The first point after `at` (strictly later), or undefined: what a newer entry set, when one from `at` arrives late. */
export function pointAfter<T>(history: readonly TimePoint<T>[] | undefined, at: ChangeInstant): TimePoint<T> | undefined {
  // In order (the common case) nothing is newer: the last point says so without a scan.
  return changedAfter(history, at) ? history!.find((point) => isAfter(point, at)) : undefined;
}

/**
 * True when the history holds a point newer than `at`: an entry from then arrived after a newer one, so it is not
 * the fact in force. It may still be reported (it happened), but it closes no risk (detectors/revision.ts riskInForce
 * says whether its own stays open).
 */
export function changedAfter(history: readonly TimePoint<unknown>[] | undefined, at: ChangeInstant): boolean {
  const last = history?.[history.length - 1];
  return last !== undefined && isAfter(last, at);
}

/**
 * changedAfter for a revision-level fact: true when a newer point was set by a revision that took traffic. Points of
 * revisions that took none (tookNoTraffic: `--no-traffic`) left the one before them serving, so a late entry of that
 * one is still the fact in force and closes what it would have closed in timestamp order.
 */
export function servedChangeAfter(history: readonly TimePoint<unknown>[] | undefined, at: ChangeInstant, tookNoTraffic: readonly TimePoint<true>[] | undefined): boolean {
  if (!changedAfter(history, at)) return false;
  if (tookNoTraffic === undefined || tookNoTraffic.length === 0) return true;
  for (let i = history!.length - 1; i >= 0 && isAfter(history![i]!, at); i--) {
    if (!tookNoTrafficAt(history![i]!, tookNoTraffic)) return true;
  }
  return false;
}

/**
 * True when `point` was set by a revision that took none of the traffic (a point of ServiceBaseline.tookNoTraffic at
 * its very instant): the revision before it kept serving, so its value ends no revision-level risk.
 */
export function tookNoTrafficAt(point: TimePoint<unknown>, tookNoTraffic: readonly TimePoint<true>[] | undefined): boolean {
  return tookNoTraffic !== undefined && tookNoTraffic.some((other) => sameInstant(other, point));
}

/**
 * Inserts a point in time order and keeps the newest HISTORY_LIMIT. A copy. `n`: the sub-millisecond nanoseconds of
 * the change's time (TimePoint.n). A point in the same millisecond is replaced unless it is later to the nanosecond: an
 * older entry delivered after a newer one of the same millisecond leaves the newer one's value in force.
 */
export function record<T>(history: readonly TimePoint<T>[], t: number, v: T, n = 0): TimePoint<T>[] {
  return insertPoint(history.slice(), t, v, n);
}

/** True when `a` and `b` are one instant, to the nanosecond (a point without `n` is at its millisecond's start). */
export function sameInstant(a: { readonly t: number; readonly n?: number }, b: { readonly t: number; readonly n?: number }): boolean {
  return a.t === b.t && (a.n ?? 0) === (b.n ?? 0);
}

/**
 * `history` with the value of each point a late change sets again (`later`, at the point's very instant: several
 * points may share a millisecond) read from it by `value`; the points keep their time. Without later points, the
 * history itself (no copy: the usual case, in time order).
 */
export function withLaterPoints<T, P extends { readonly t: number; readonly n?: number }>(
  history: readonly TimePoint<T>[] | undefined,
  later: readonly P[],
  value: (point: P) => T,
): readonly TimePoint<T>[] | undefined {
  if (later.length === 0) return history;
  return history?.map((point) => {
    const newer = later.find((p) => sameInstant(p, point));
    return newer ? { ...point, v: value(newer) } : point;
  });
}

/** True when point `a` is later than point `b` (to the nanosecond: TimePoint.n). */
export function isLaterPoint(a: TimePoint<unknown>, b: TimePoint<unknown>): boolean {
  return isLaterThan(a, b.t, b.n ?? 0);
}

/** True when `point` is later than the instant `t` ms + `n` ns. */
function isLaterThan(point: TimePoint<unknown>, t: number, n: number): boolean {
  return point.t > t || (point.t === t && (point.n ?? 0) > n);
}

/** True when `point` is earlier than the instant `t` ms + `n` ns. */
function isEarlierThan(point: TimePoint<unknown>, t: number, n: number): boolean {
  return point.t < t || (point.t === t && (point.n ?? 0) < n);
}

/** The service's newest delete as a point (its nanoseconds when known: deletedAtN), or undefined when none is known. */
export function deletePoint(baseline: ServiceBaseline | undefined): TimePoint<undefined> | undefined {
  const deleted = baseline?.deletedAtMs;
  if (deleted === undefined) return undefined;
  return baseline!.deletedAtN ? { t: deleted, v: undefined, n: baseline!.deletedAtN } : { t: deleted, v: undefined };
}

/** True when `at` is before the service's delete (to the nanosecond, for a change): it is about the deleted service. */
export function beforeDelete(baseline: ServiceBaseline | undefined, at: ChangeInstant): boolean {
  const point = deletePoint(baseline);
  return point !== undefined && isAfter(point, at);
}

/** A copy of `list` with `item` appended, keeping the newest `limit` (a copy: `list` may be shared with a stored baseline). */
export function appendBounded<T>(list: readonly T[], item: T, limit: number): T[] {
  const out = list.length >= limit ? list.slice(list.length - limit + 1) : list.slice();
  out.push(item);
  return out;
}

/** record, changing `history` itself. */
function insertPoint<T>(history: TimePoint<T>[], t: number, v: T, n = 0): TimePoint<T>[] {
  const last = history[history.length - 1];
  const point: TimePoint<T> = n > 0 ? { t, v, n } : { t, v };
  if (last === undefined || last.t < t) {
    history.push(point); // the common case: a newer point goes at the end
  } else {
    let i = history.length;
    while (i > 0 && history[i - 1]!.t > t) i--;
    if (i > 0 && history[i - 1]!.t === t) {
      // The same millisecond: a point later to the nanosecond stays (an older entry delivered after it).
      if ((history[i - 1]!.n ?? 0) > n) return history;
      history[i - 1] = point;
    } else history.splice(i, 0, point);
  }
  if (history.length > HISTORY_LIMIT) history.splice(0, history.length - HISTORY_LIMIT);
  return history;
}

/** A baseline being built inside a transaction: what the engine's steps and applyChangeTo change in place. */
export type MutableBaseline = { -readonly [K in keyof ServiceBaseline]: ServiceBaseline[K] };

/**
 * How a transaction builds the next baseline from the stored one. COPY_EDITS: a shallow copy whose lists are
 * replaced by changed copies, never mutated (they are still the stored baseline's, which may be shared, or its
 * transaction run again). IN_PLACE_EDITS: the stored baseline itself, lists and all, when the store allows it
 * (BaselineStore.changesInPlace).
 */
export interface BaselineEdits {
  /** The baseline the transaction changes: a fresh empty one when there is none yet. */
  draft(current: ServiceBaseline | undefined): MutableBaseline;
  /** `list` with `item` appended, the newest `limit` kept. */
  append<T>(list: readonly T[], item: T, limit: number): T[];
  /**
   * `history` with a point at `t` ms + `n` ns (replacing one of the same millisecond unless that one is later), the
   * newest HISTORY_LIMIT kept.
   */
  record<T>(history: readonly TimePoint<T>[], t: number, v: T, n?: number): TimePoint<T>[];
}

export const COPY_EDITS: BaselineEdits = {
  draft: (current) => (current ? { ...current } : emptyBaseline()),
  append: appendBounded,
  record,
};

export const IN_PLACE_EDITS: BaselineEdits = {
  draft: (current) => (current as MutableBaseline | undefined) ?? emptyBaseline(),
  append<T>(list: readonly T[], item: T, limit: number): T[] {
    const out = list as T[];
    out.push(item);
    if (out.length > limit) out.splice(0, out.length - limit);
    return out;
  },
  record: <T>(history: readonly TimePoint<T>[], t: number, v: T, n?: number): TimePoint<T>[] => insertPoint(history as TimePoint<T>[], t, v, n),
};

/**
 * When a repository was first seen on the service, as a point (its nanoseconds from repositoriesN), or undefined when
 * it never was.
 */
export function repositoryFirstSeen(baseline: ServiceBaseline | undefined, repository: string): TimePoint<string> | undefined {
  const first = baseline?.repositories[repository];
  if (first === undefined) return undefined;
  const n = baseline!.repositoriesN?.[repository];
  return n ? { t: first, v: repository, n } : { t: first, v: repository };
}

/** True when a repository was first seen strictly before `at` (to the nanosecond, for a change). */
export function repositorySeenBefore(baseline: ServiceBaseline | undefined, repository: string, at: ChangeInstant): boolean {
  const first = repositoryFirstSeen(baseline, repository);
  return first !== undefined && isBefore(first, at);
}

/**
 * The repository known before `at` that was first seen last (strictly before `at`, to the nanosecond for a change), as
 * the point it was first seen at, or undefined when none was (no earlier revision's image is known).
 */
export function newestRepositoryBefore(baseline: ServiceBaseline | undefined, at: ChangeInstant): TimePoint<string> | undefined {
  if (!baseline) return undefined;
  const [t, n] = instantOf(at, false);
  let newest: TimePoint<string> | undefined;
  for (const repository of Object.keys(baseline.repositories)) {
    // Whole milliseconds first: only a repository of `at`'s own millisecond, or of the newest's, needs its nanoseconds.
    const first = baseline.repositories[repository]!;
    if (first > t || (newest !== undefined && first < newest.t)) continue;
    const point = repositoryFirstSeen(baseline, repository)!;
    if (isEarlierThan(point, t, n) && (newest === undefined || isLaterThan(point, newest.t, newest.n ?? 0))) newest = point;
  }
  return newest;
}

/**
 * The time of the service's delete (ISO 8601) when it lies between a fact set at `fact` and a change at `at` (to the
 * nanosecond: deletedAtN, TimePoint.n): the change is about the service created again after the delete, and is
 * compared with the deleted service's fact. Undefined otherwise: a change earlier than the delete, delivered after it,
 * is about the deleted service. Only the newest delete is kept: when several lie between, it is the one named. A delete
 * with sub-millisecond digits is named with them, as its entry wrote them (pointTime: the canonical timestamp, which is
 * Cloud Logging's own form); one of a whole millisecond with its three digits (`.000Z` for a whole second), as ever.
 */
export function deletedBetween(baseline: ServiceBaseline | undefined, fact: TimePoint<unknown>, at: ChangeInstant): string | undefined {
  const point = deletePoint(baseline);
  if (point === undefined || fact.t > point.t) return undefined;
  if (!isLaterPoint(point, fact) || isAfter(point, at)) return undefined;
  return point.n ? pointTime(point) : new Date(point.t).toISOString();
}
