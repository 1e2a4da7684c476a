// Folds one change into a service baseline. Pure: the stores call it inside their transactions.
import { codeLoadingKey, describeServiceAccount, enforcedPolicyOf, splitsAmongRevisions, type Change, type CodeLoadingVar, type DeployChange, type IamBinding } from '../model/change.js';
import { isPublicInvokerBinding, judgedMemberOf, publicInvokerMembers, publicWriterMembers, reachesCloudRun, ROLE_LENGTH_LIMIT, WRITE_CAPABLE_INVOKER_ROLES } from '../model/iam.js';
import { openedAt, someWaitingWrite, type Rollout } from '../correlate/rollout.js';
import { subMillisecondNanos } from '../audit/entry.js';
import { repositoryOfSource } from '../audit/source.js';
import { beforeDelete, CARRIED_OPTIONAL_HISTORIES, changedAfter, COPY_EDITS, emptyBaseline, HISTORY_FIELDS, isAfter, isBefore, OPTIONAL_SERVICE_OBJECT_HISTORIES, pointAt, REPOSITORY_LIMIT, REVISION_IDENTITY_LIMIT, SERVICE_OBJECT_HISTORIES, servingIdentitiesOf, servingList, valueBefore, writeMakesRevision, type BaselineEdits, type ChangeInstant, type MutableBaseline, type RevisionIdentity, type ServiceBaseline, type TimePoint } from './state.js';

/**
 * Folds the change into `target` in place (some changes change nothing). Its histories change through `edits`
 * (copies unless the store allows otherwise); the repository map is replaced, never mutated. `provenanceKey`: a
 * deploy's provenance labels as the engine reads them with the config (findings/enrich.ts provenanceLabelsKey).
 */
export function applyChangeTo(target: MutableBaseline, change: Change, edits: BaselineEdits = COPY_EDITS, provenanceKey?: string): void {
  const { record } = edits;
  const t = change.timeMs;
  const n = subMillisecondNanos(change.time);
  if (beforeDelete(target, change)) {
    // A late entry about the deleted service: no service-object fact, but the histories that carry across the
    // delete (time-indexed) take it, so arrival order does not change what the re-created service is compared with.
    if (change.kind === 'deploy') recordCarriedFacts(target, change, n, edits);
    return;
  }
  switch (change.kind) {
    case 'delete': {
      if (t < target.lastChangeMs || newerInItsMillisecond(target, change) || (target.rollouts ?? []).some((rollout) => !openedBefore(rollout, change))) {
        // A delete that arrives after newer entries (applied, or a deploy still waiting for its system events):
        // those are about the service created again after it. Only the older service-object facts go (the histories
        // that carry across a delete keep theirs); the newer ones, the rollouts waiting and the open findings stay.
        // (The engine judged the rollouts opened before it.)
        forgetBefore(target, change);
        target.deletedAtMs = t;
        if (n > 0) target.deletedAtN = n;
        else delete target.deletedAtN;
        return;
      }
      // The service object's facts go (its template, IAM policy, settings, breakglass justification); its
      // revisions' runtime service account and image repositories stay, and so do its ingress (a load balancer's
      // serverless NEG still sends to the name: created again at the default `all`, the service is opened past it),
      // its Binary Authorization policy and its revisions' VPC egress (created again with the defaults, no policy and
      // no VPC access, its images go unchecked and its traffic leaves past the VPC), so a service created again under
      // the name is compared with the deleted one (see SERVICE_OBJECT_HISTORIES, CARRIED_OPTIONAL_HISTORIES). What the
      // baseline remembers about *entries* stays too: the ones already applied (so a redelivered copy changes nothing)
      // and recently completed rollouts (so their late system events are known). (The engine keeps the open findings:
      // a later change can still close them.)
      const lastChangeMs = Math.max(target.lastChangeMs, t);
      // Only what is there: a stored baseline never gets undefined fields (Firestore).
      const kept = KEPT_BY_DELETE.flatMap((field) => (target[field] !== undefined ? [[field, target[field]] as const] : []));
      for (const key of Object.keys(target)) delete (target as Record<string, unknown>)[key];
      Object.assign(target, emptyBaseline(), Object.fromEntries(kept), { lastChangeMs, deletedAtMs: t }, n > 0 ? { deletedAtN: n } : {});
      return;
    }
    case 'deploy': {
      recordCarriedFacts(target, change, n, edits);
      target.lastChangeMs = Math.max(target.lastChangeMs, t);
      if (change.templateFingerprint) target.template = record(target.template, t, change.templateFingerprint, n);
      if (change.invokerIamDisabled !== undefined) target.invokerIamDisabled = record(target.invokerIamDisabled, t, change.invokerIamDisabled, n);
      const binauthz = change.binaryAuthorization;
      if (binauthz && !binauthz.breakglassUnknown) target.breakglass = record(target.breakglass ?? [], t, binauthz.breakglassJustification ?? '', n);
      // A create whose justification is unknown starts without one from before all the same: the points before it
      // are a deleted service's (its delete may not have arrived yet), and the breakglass does not carry across a
      // delete. (`''`: none known, as after a delete; later writes that leave breakglass alone deploy under none.) Not
      // a v2 operation's completion entry: it is the same create, logged again without its facts.
      else if (change.operation === 'create' && !change.operationCompletion && (target.breakglass?.length ?? 0) > 0) target.breakglass = record(target.breakglass!, t, '', n);
      // A create (not a v2 operation's completion entry: the same create again) starts the service's IAM policy empty.
      if (change.operation === 'create' && !change.operationCompletion) target.creates = record(target.creates ?? [], t, true, n);
      if (change.plainEnv) target.plainEnv = record(target.plainEnv ?? [], t, change.plainEnv, n);
      // Where the write sent the traffic, by identity (after its own revision's is recorded): a traffic finding of an
      // older write arriving later is closed at once when this took the traffic away from the identity it reports.
      // A list that sends some of it to a revision whose identity is not known is recorded empty: where the traffic
      // goes is then unknown, not what the write before said.
      if (change.traffic && splitsAmongRevisions(change.target)) {
        const previous = valueBefore(target.serving, change);
        target.serving = record(target.serving ?? [], t, servingList(servingIdentitiesOf(target, change), previous), n);
      }
      // A new revision that took none of the traffic, which stays where `serving` said (keptTraffic).
      if (change.keepsTraffic && change.serviceAccount && splitsAmongRevisions(change.target)) target.keptTraffic = record(target.keptTraffic ?? [], t, true, n);
      if (provenanceKey !== undefined) {
        // The same labels as the deploy before (the usual case) share its string: one per deploy kept in the
        // baseline cost replay 10% in collector time.
        const last = target.provenanceLabels?.[target.provenanceLabels.length - 1];
        target.provenanceLabels = record(target.provenanceLabels ?? [], t, last?.v === provenanceKey ? last.v : provenanceKey, n);
      }
      return;
    }
    case 'iam-policy': {
      const members = memberBindingsAfter(target, change);
      if (members) {
        // A change that arrived after newer deltas: what they set is computed again over it (laterMemberPoints).
        const later = laterMemberPoints(target, change);
        target.memberBindings = record(target.memberBindings ?? [], t, members, n);
        for (const point of later) target.memberBindings = record(target.memberBindings, point.t, point.v, point.n);
      }
      const after = publicInvokersAfter(target, change);
      if (after === undefined) return;
      const writers = publicWritersAfter(target, change) ?? [];
      const bindings = publicBindingsAfter(target, change);
      target.lastChangeMs = Math.max(target.lastChangeMs, t);
      target.publicInvokers = record(target.publicInvokers, t, after, n);
      target.publicWriters = record(target.publicWriters ?? [], t, writers, n);
      // A change that arrived after newer deltas: what they set is computed again over it (see laterPublicPoints).
      const later = laterPublicPoints(target, change);
      if (bindings) target.publicBindings = record(target.publicBindings ?? [], t, bindings, n);
      for (const point of later) {
        target.publicBindings = record(target.publicBindings ?? [], point.t, point.bindings, point.n);
        target.publicInvokers = record(target.publicInvokers, point.t, point.invokers, point.n);
        target.publicWriters = record(target.publicWriters ?? [], point.t, point.writers, point.n);
      }
      return;
    }
  }
}

/**
 * True when a waiting rollout opened before `at` (to the nanosecond, for a change: its write's or first system
 * event's sub-millisecond digits): a deploy of the service before its delete, judged before the delete clears the
 * service. One that opened in the delete's millisecond but later, or at its very instant, is the re-created service's.
 */
export function openedBefore(rollout: Rollout, at: ChangeInstant): boolean {
  const t = typeof at === 'number' ? at : at.timeMs;
  if (rollout.openedMs !== t) return rollout.openedMs < t;
  return isBefore(pointAt(openedAt(rollout), undefined), at);
}

/**
 * What a delete keeps: the histories that carry across it (the runtime service account, the repositories, the
 * ingress and CARRIED_OPTIONAL_HISTORIES), with the mark of from when codeLoadingEnv's points read every name (it dates
 * those points: dropped, the re-created service's first deploy would date them all as the version before's), and what
 * the baseline remembers about entries (applied ones, completed rollouts, system events seen).
 */
const KEPT_BY_DELETE = ['serviceAccount', 'repositories', 'repositoriesN', 'ingress', ...CARRIED_OPTIONAL_HISTORIES, 'codeLoadingEnvReadsAllFrom', 'revisionIdentities', 'seen', 'completed', 'systemEventsSeen'] as const;

/**
 * A deploy's facts that carry across a delete (the runtime service account, the repositories, the ingress, the Binary
 * Authorization policy, the VPC egress, whether its revision took no traffic): recorded for every deploy, even one
 * about a deleted service that arrives after its delete, so arrival order does not change what a re-created service is
 * compared with.
 */
function recordCarriedFacts(target: MutableBaseline, change: DeployChange, n: number, edits: BaselineEdits): void {
  const { record } = edits;
  const t = change.timeMs;
  recordRepositories(target, repositoriesOf(change), t, n);
  if (change.serviceAccount) {
    const identity = describeServiceAccount(change.serviceAccount);
    target.serviceAccount = record(target.serviceAccount, t, identity, n);
    // A service's or worker pool's revision, by its name or the generation that names it: traffic (a pool's instances)
    // moved back to it runs as this identity.
    // (A write of the template in force made none: its generation names no revision, and would push real ones out. Nor
    // did one naming a revision already recorded: the console's traffic edits write the serving one's name back.)
    if (splitsAmongRevisions(change.target) && (change.revision !== undefined || change.generation !== undefined) && writeMakesRevision(target, change)) {
      // Field by field: spread literals cost replay a deploy's worth of allocations.
      const revision: { t: number; v: string; n?: number; r?: string; g?: number } = { t, v: identity };
      if (n > 0) revision.n = n;
      if (change.revision !== undefined) revision.r = change.revision;
      if (change.generation !== undefined) revision.g = change.generation;
      target.revisionIdentities = appendRevisionIdentity(target.revisionIdentities ?? [], revision, edits);
    }
  }
  if (change.ingress) target.ingress = record(target.ingress, t, change.ingress, n);
  const policy = enforcedPolicyOf(change);
  if (policy !== undefined) target.binaryAuthorization = record(target.binaryAuthorization ?? [], t, policy, n);
  if (change.vpcEgress) target.vpcEgress = record(target.vpcEgress ?? [], t, change.vpcEgress, n);
  if (change.vpcEgress === 'all-traffic' && change.vpcDestination) target.vpcDestination = record(target.vpcDestination ?? [], t, change.vpcDestination, n);
  if (change.codeLoadingEnv) {
    // The first point of this version: those already there (a late entry may come before them) read fewer names; with
    // none there, every point is this version's (0: late entries too, as in timestamp order).
    const newest = target.codeLoadingEnv?.[target.codeLoadingEnv.length - 1];
    target.codeLoadingEnvReadsAllFrom ??= newest === undefined ? 0 : newest.t >= t ? newest.t + 1 : t;
    target.codeLoadingEnv = record(target.codeLoadingEnv ?? [], t, codeLoadingKeys(change.codeLoadingEnv), n);
  }
  // Which of those points a revision that took none of the traffic set (so they end no late entry's risk).
  if (change.takesNoTraffic && splitsAmongRevisions(change.target)) target.tookNoTraffic = record(target.tookNoTraffic ?? [], t, true, n);
  // A guard's history starts with the first write that turns it on (applied, or still waiting for its rollout): most
  // services never use IAP, and their baselines (and every deploy of them) carry nothing for it. (An off before any on
  // raises nothing.) The default URL keeps one point before that (defaultUrlAfter).
  if (change.iapEnabled !== undefined && (change.iapEnabled || guardKnown(target, target.iapEnabled, (write) => write.iapEnabled))) {
    target.iapEnabled = record(target.iapEnabled ?? [], t, change.iapEnabled, n);
  }
  if (change.defaultUrlDisabled !== undefined) target.defaultUrlDisabled = defaultUrlAfter(target, change, n, edits);
}

/**
 * `records` with `record` appended, REVISION_IDENTITY_LIMIT kept: past it, the oldest record of an identity that a newer
 * record also runs as goes first, so each identity's newest revision stays (many deploys as one identity, a busy
 * pipeline's or one meant to push another out, never hide a rollback to the last revision of another); only when every
 * record is its identity's newest does the oldest go.
 */
function appendRevisionIdentity(records: readonly RevisionIdentity[], record: RevisionIdentity, edits: BaselineEdits): RevisionIdentity[] {
  const out = edits.append(records, record, Number.POSITIVE_INFINITY);
  if (out.length <= REVISION_IDENTITY_LIMIT) return out;
  const newer = new Set<string>();
  let evict = 0;
  for (let i = out.length - 1; i >= 0; i--) {
    const identity = out[i]!.v;
    if (newer.has(identity)) evict = i;
    else newer.add(identity);
  }
  out.splice(evict, 1);
  return out;
}

/**
 * The default URL's history after a write that says whether it is disabled. Until a write that disables it is known
 * (applied, or still waiting), only the two newest writes that left it on are kept (newer ones push the older out; an
 * older one than both changes nothing): most services never disable their URL, and a write that keeps it on raises
 * nothing then. What a disable arriving after them is compared with (default-url-enabled reports the first of them
 * after it, when it is known to be the first: not the older of two, which may have had others before it). Once a
 * disable is known, every write counts. (A history with a disable, or of more than two points, is one a disable
 * started, whatever HISTORY_LIMIT has dropped since.)
 */
function defaultUrlAfter(target: MutableBaseline, change: DeployChange, n: number, { record }: BaselineEdits): readonly TimePoint<boolean>[] {
  const history = target.defaultUrlDisabled;
  const disabled = change.defaultUrlDisabled!;
  // (Asked before recording: the store may let the history change in place.)
  const everyWrite = disabled || disableKnown(history) || someWaitingWrite(target.rollouts, (write) => write.defaultUrlDisabled === true);
  const recorded = record(history ?? [], change.timeMs, disabled, n);
  // Trimmed where it lies, as BaselineEdits.append trims: a copy here, or replay's own list (no copy per deploy).
  if (!everyWrite && recorded.length > URL_ON_KEPT) recorded.splice(0, recorded.length - URL_ON_KEPT);
  return recorded;
}

/** How many writes that left the default URL on a history keeps before a disable is known (defaultUrlAfter). */
const URL_ON_KEPT = 2;

/** True when a default URL history is one a disable started (defaultUrlAfter): every write since is in it. */
function disableKnown(history: readonly TimePoint<boolean>[] | undefined): boolean {
  return history !== undefined && (history.length > URL_ON_KEPT || history.some((point) => point.v));
}

/** What the baseline keeps of a revision's code-loading variables: sorted codeLoadingKey keys. */
export function codeLoadingKeys(variables: readonly CodeLoadingVar[]): readonly string[] {
  if (variables.length === 0) return NO_KEYS; // most revisions: one shared list
  return variables.map(codeLoadingKey).sort();
}
const NO_KEYS: readonly string[] = Object.freeze([]);

/** A guard (IAP) was ever on for this service: in its history, or in a write still waiting. */
function guardKnown(target: MutableBaseline, history: readonly TimePoint<boolean>[] | undefined, pick: (write: DeployChange) => boolean | undefined): boolean {
  if (history) return true;
  return someWaitingWrite(target.rollouts, (write) => pick(write) === true);
}

/**
 * Drops every service-object fact set before `at` (to the nanosecond: new lists, they may be shared with a stored
 * baseline); the histories that carry across a delete (CARRIED_OPTIONAL_HISTORIES among the optional ones) are left
 * alone.
 */
function forgetBefore(target: MutableBaseline, at: ChangeInstant): void {
  const histories = target as Record<(typeof SERVICE_OBJECT_HISTORIES)[number], readonly TimePoint<unknown>[]>;
  for (const field of SERVICE_OBJECT_HISTORIES) histories[field] = histories[field].filter((point) => !isBefore(point, at));
  const optional = target as Partial<Record<(typeof OPTIONAL_SERVICE_OBJECT_HISTORIES)[number], readonly TimePoint<unknown>[]>>;
  for (const field of OPTIONAL_SERVICE_OBJECT_HISTORIES) {
    const history = optional[field];
    if (history) optional[field] = history.filter((point) => !isBefore(point, at));
  }
}

/**
 * True when an entry of the delete's own millisecond, later to the nanosecond, was applied before it came: the
 * delete arrived late (lastChangeMs, a whole millisecond, cannot tell). Also asked of a delete applied already (the
 * engine's createdByUpsert: was the service created again since).
 */
export function newerInItsMillisecond(target: ServiceBaseline, change: { readonly timeMs: number; readonly time: string }): boolean {
  if (change.timeMs !== target.lastChangeMs) return false;
  const histories = target as unknown as Partial<Record<string, readonly TimePoint<unknown>[]>>;
  return [...HISTORY_FIELDS, ...OPTIONAL_SERVICE_OBJECT_HISTORIES, ...CARRIED_OPTIONAL_HISTORIES].some((field) => changedAfter(histories[field], change));
}

/**
 * Public invoker members after an IAM change: the full policy when logged, else the delta over what was known. A
 * delta's REMOVE takes a member out of one role only: it is still an invoker through any other invoker role it holds,
 * so over a delta the members are those of the public bindings known (publicBindings). In a baseline stored before
 * those were kept, the members known plus the delta, and the writers after it (a write-capable role carries
 * run.routes.invoke): what else a member held is not known there.
 */
export function publicInvokersAfter(base: ServiceBaseline | undefined, change: Extract<Change, { kind: 'iam-policy' }>): string[] | undefined {
  const members = membersAfter(base?.publicInvokers, change, publicInvokerMembers);
  if (change.policy || !change.delta) return members;
  const bindings = publicBindingsAfter(base, change);
  if (bindings) return membersOfBindings(bindings, () => true);
  return [...new Set([...members!, ...publicWritersAfter(base, change)!])].sort();
}

/**
 * Public members holding a write-capable invoker role after an IAM change, read the same way: over a delta, from the
 * public bindings known, else the writers known (none when the baseline predates the history: the delta then says
 * all there is to add) plus the delta.
 */
export function publicWritersAfter(base: ServiceBaseline | undefined, change: Extract<Change, { kind: 'iam-policy' }>): string[] | undefined {
  const bindings = change.policy ? undefined : publicBindingsAfter(base, change);
  if (bindings) return membersOfBindings(bindings, (role) => WRITE_CAPABLE_INVOKER_ROLES.has(role));
  return membersAfter(base?.publicWriters, change, publicWriterMembers);
}

/**
 * The public invoker bindings (`ROLE MEMBER`, sorted) after an IAM change: the full policy's when logged, else the
 * ones known before plus the delta; undefined when the entry logged neither, or when a delta follows public members
 * whose bindings were not kept (a baseline stored before publicBindings).
 */
export function publicBindingsAfter(base: ServiceBaseline | undefined, change: Extract<Change, { kind: 'iam-policy' }>): string[] | undefined {
  if (change.policy) return bindingKeys(change.policy);
  if (!change.delta) return undefined;
  // A delta applies to what was in force just before it, a point of its own millisecond included when it is older.
  const before = valueBefore(base?.publicBindings, change);
  if (before === undefined && (valueBefore(base?.publicInvokers, change)?.length ?? 0) > 0) return undefined;
  const bindings = new Set(heldIn(before ?? []));
  for (const key of bindingKeys(change.delta.removed)) bindings.delete(key);
  for (const key of bindingKeys(change.delta.added)) bindings.add(key);
  return [...bindings, ...deltaMarks(change.delta)].sort();
}

/**
 * A point a policy delta set holds, after its bindings, `~` and the pairs the delta named (`~ROLE MEMBER`): it says
 * nothing of the others, so a delta that arrives late still holds there unless the point names its pair. A point
 * without `~` was set by a full policy (or before the marks were kept): it says all.
 */
const DELTA_MARK = '~';

function deltaMarks(delta: NonNullable<Extract<Change, { kind: 'iam-policy' }>['delta']>): string[] {
  return [DELTA_MARK, ...new Set([...bindingKeys(delta.removed), ...bindingKeys(delta.added)].map((key) => DELTA_MARK + key))];
}

/** The `ROLE MEMBER` bindings of a point of publicBindings, without a delta's marks. */
function heldIn(keys: readonly string[]): string[] {
  return keys.filter((key) => !key.startsWith(DELTA_MARK));
}

/** A point of the public invoker histories a late policy delta changes. */
export interface LaterPublicPoint {
  readonly t: number;
  /** TimePoint.n of the point. */
  readonly n?: number;
  readonly bindings: string[];
  readonly invokers: string[];
  readonly writers: string[];
}

/**
 * The newer points of the public invoker histories an IAM change that arrives late (after newer entries were applied)
 * changes: each newer point another delta set is that delta again over what this change leaves before it (the pairs
 * it named as it left them, the others as they are now), up to the first point a full policy set, which says all.
 * Without it, a REMOVE delivered before an older grant of a second role of the member (a delta, or a full policy)
 * would leave the member out of every newer point, though it still holds that role.
 */
export function laterPublicPoints(base: ServiceBaseline | undefined, change: Extract<Change, { kind: 'iam-policy' }>): LaterPublicPoint[] {
  // Later to the nanosecond: a delta of the same millisecond delivered before this one is later too.
  if (!changedAfter(base?.publicBindings, change)) return [];
  const own = publicBindingsAfter(base, change);
  if (own === undefined) return [];
  let previous = heldIn(own);
  const out: LaterPublicPoint[] = [];
  for (const point of base!.publicBindings!) {
    if (!isAfter(point, change)) continue;
    if (!point.v.includes(DELTA_MARK)) break;
    const named = new Set(point.v.filter((key) => key.startsWith(DELTA_MARK)).map((key) => key.slice(DELTA_MARK.length)));
    const held = heldIn(point.v);
    const bindings = [...new Set([...previous.filter((key) => !named.has(key)), ...held.filter((key) => named.has(key))])].sort();
    if (bindings.join('\n') === held.join('\n')) break; // as it was: the points after it are too
    out.push({
      t: point.t,
      ...(point.n !== undefined ? { n: point.n } : {}),
      bindings: [...bindings, ...point.v.filter((key) => key.startsWith(DELTA_MARK))].sort(),
      invokers: membersOfBindings(bindings, () => true),
      writers: membersOfBindings(bindings, (role) => WRITE_CAPABLE_INVOKER_ROLES.has(role)),
    });
    previous = bindings;
  }
  return out;
}

/** `ROLE MEMBER` of each public invoker binding (roles and members hold no spaces). */
function bindingKeys(bindings: readonly IamBinding[]): string[] {
  return [...new Set(bindings.filter(isPublicInvokerBinding).map((b) => `${b.role} ${b.member}`))].sort();
}

/** Sorted, distinct members of the `ROLE MEMBER` keys whose role `roleCounts`. */
function membersOfBindings(keys: readonly string[], roleCounts: (role: string) => boolean): string[] {
  const members = new Set<string>();
  for (const key of heldIn(keys)) {
    const space = key.indexOf(' ');
    if (roleCounts(key.slice(0, space))) members.add(key.slice(space + 1));
  }
  return [...members].sort();
}

/** The members `pick` selects after an IAM change: from the full policy when logged, else `history` plus the delta. */
function membersAfter(
  history: readonly TimePoint<readonly string[]>[] | undefined,
  change: Extract<Change, { kind: 'iam-policy' }>,
  pick: (bindings: readonly IamBinding[]) => string[],
): string[] | undefined {
  if (change.policy) return pick(change.policy);
  if (!change.delta) return undefined;
  const members = new Set(valueBefore(history, change) ?? []);
  for (const m of pick(change.delta.removed)) members.delete(m);
  for (const m of pick(change.delta.added)) members.add(m);
  return [...members].sort();
}

/**
 * The repositories a deploy's code came from, as new-image-repository judges them: each parsed image's, then each code
 * source's (a bucket's `gs://BUCKET`, a base image's other than Google's runtime base images: audit/source.ts
 * repositoryOfSource). Unparseable references and inlined source have none to remember (reported each time).
 */
function repositoriesOf(change: DeployChange): string[] {
  const repositories: string[] = [];
  for (const image of change.images) if (!image.unparseable) repositories.push(image.repository);
  for (const source of change.sources ?? []) {
    const repository = repositoryOfSource(source);
    if (repository !== undefined) repositories.push(repository);
  }
  return repositories;
}

/**
 * Each repository with the earliest time it was seen, to the nanosecond (`n`: repositoriesN); a new one only while
 * fewer than REPOSITORY_LIMIT are known. Of two deploys of one millisecond, delivered in either order, the earlier in
 * time is the first seen.
 */
function recordRepositories(target: MutableBaseline, seen: readonly string[], t: number, n: number): void {
  let repositories = target.repositories;
  let nanos = target.repositoriesN;
  for (const repository of seen) {
    const first = repositories[repository];
    if (first === undefined && Object.keys(repositories).length >= REPOSITORY_LIMIT) continue;
    if (first === undefined || t < first || (t === first && n < (nanos?.[repository] ?? 0))) {
      if (repositories === target.repositories) repositories = { ...target.repositories };
      (repositories as Record<string, number>)[repository] = t;
      if (n > 0 || nanos?.[repository] !== undefined) {
        if (nanos === target.repositoriesN) nanos = { ...target.repositoriesN };
        if (n > 0) (nanos as Record<string, number>)[repository] = n;
        else delete (nanos as Record<string, number>)[repository];
      }
    }
  }
  target.repositories = repositories;
  // Only what is there: a stored baseline never gets undefined fields (Firestore), nor an empty map per service.
  if (nanos !== target.repositoriesN) {
    if (Object.keys(nanos!).length > 0) target.repositoriesN = nanos;
    else delete target.repositoriesN;
  }
}

/** Every history of a baseline (a history keeps one point per millisecond). */
const ALL_HISTORIES = [...HISTORY_FIELDS, ...OPTIONAL_SERVICE_OBJECT_HISTORIES, ...CARRIED_OPTIONAL_HISTORIES] as const;
type History = readonly TimePoint<unknown>[] | undefined;
type Histories = Record<(typeof ALL_HISTORIES)[number], History>;

/** What a late half claimed by time filled in at its write's instant (fillAt): to move, should it prove another write's. */
export interface Filled {
  /** The histories it set a point in (none of the write's own there). */
  readonly histories: readonly string[];
  /** The repositories first seen at that instant because of it. */
  readonly repositories: readonly string[];
}

function pointIn(history: History, t: number): TimePoint<unknown> | undefined {
  if (!history) return undefined;
  for (let i = history.length - 1; i >= 0; i--) {
    const point = history[i]!;
    if (point.t === t) return point;
    if (point.t < t) return undefined;
  }
  return undefined;
}

/**
 * Folds `change` (the facts of system events claimed by time as a write's late half, at that write's instant) into
 * `target` as applyChangeTo does, except that what the write itself recorded at that instant stays: the claim is by
 * time and principal alone, and the write's own word on what it deployed stands at its instant; the events fill in what
 * it did not say (a revision's digest, variables, egress). Returns what they filled in.
 */
export function fillAt(target: MutableBaseline, change: DeployChange, edits: BaselineEdits, provenanceKey: string | undefined): Filled {
  const t = change.timeMs;
  const histories = target as unknown as Histories;
  const before = ALL_HISTORIES.map((field) => pointIn(histories[field], t));
  const repositories = target.repositories;
  const nanos = target.repositoriesN;
  applyChangeTo(target, change, edits, provenanceKey);
  const filled: string[] = [];
  ALL_HISTORIES.forEach((field, i) => {
    const old = before[i];
    const now = pointIn(histories[field], t);
    if (now === old || now === undefined) return;
    if (old !== undefined) histories[field] = edits.record(histories[field]!, old.t, old.v, old.n);
    else filled.push(field);
  });
  // The repository maps are replaced, never changed in place (recordRepositories).
  const n = subMillisecondNanos(change.time);
  const newRepositories = Object.keys(target.repositories).filter(
    (repository) => target.repositories[repository] === t && (target.repositoriesN?.[repository] ?? 0) === n && (repositories[repository] !== t || (nanos?.[repository] ?? 0) !== n),
  );
  return { histories: filled, repositories: newRepositories };
}

/**
 * Moves what a late half claimed by time filled in at `from` (fillAt) to `to`: its events proved to be the revision of
 * a write made then (their operation id is that write's), whose facts they are from then on, not from the write they
 * were taken for. A point or repository no longer at `from` (a later entry of that instant took its place) stays.
 */
export function moveFilled(target: MutableBaseline, filled: Filled, from: { readonly t: number; readonly n?: number }, to: { readonly timeMs: number; readonly time: string }, edits: BaselineEdits): void {
  const histories = target as unknown as Histories;
  const toN = subMillisecondNanos(to.time);
  for (const field of filled.histories) {
    if (!(ALL_HISTORIES as readonly string[]).includes(field)) continue;
    const key = field as (typeof ALL_HISTORIES)[number];
    const point = pointIn(histories[key], from.t);
    if (!point || (point.n ?? 0) !== (from.n ?? 0)) continue;
    histories[key] = edits.record(histories[key]!.filter((p) => p !== point), to.timeMs, point.v, toN);
  }
  let repositories = target.repositories;
  let nanos = target.repositoriesN;
  for (const repository of filled.repositories) {
    if (repositories[repository] !== from.t || (nanos?.[repository] ?? 0) !== (from.n ?? 0)) continue;
    repositories = { ...repositories, [repository]: to.timeMs };
    if (toN > 0 || nanos?.[repository] !== undefined) {
      const next: Record<string, number> = { ...(nanos ?? {}) };
      if (toN > 0) next[repository] = toN;
      else delete next[repository];
      nanos = next;
    }
  }
  target.repositories = repositories;
  if (nanos !== target.repositoriesN) {
    if (nanos && Object.keys(nanos).length > 0) target.repositoriesN = nanos;
    else delete target.repositoriesN;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The user, group and domain members' bindings (ServiceBaseline.memberBindings, read by external-member-grant)

/**
 * How many `ROLE member` pairs a point of memberBindings keeps (and how many pairs a delta's marks name). A service's
 * policy rarely holds more than a few people and groups, and above it only the roles that reach Cloud Run are kept;
 * the bound (with MEMBER_BINDINGS_BYTES_LIMIT) keeps a policy of thousands of members (IAM takes 1,500) from growing the
 * baseline document past Firestore's 1 MiB (HISTORY_LIMIT points of it). Past it a point keeps the first pairs in sort order and says that
 * others may be held (`?`): the next full policy counts those others as added again (noisy, never silent), and their
 * removal closes nothing until a delta names it.
 */
export const MEMBER_BINDINGS_LIMIT = 64;

/**
 * How many bytes of pairs a point of memberBindings keeps, and how many its delta's marks take: members may be as long
 * as IAM takes (MEMBER_LENGTH_LIMIT), and 64 such pairs with as many marks over HISTORY_LIMIT points were 1.3 MB, past
 * Firestore's 1 MiB a document. Each bound is about 90 ordinary pairs (`roles/run.invoker user:alice.smith@acme.com`),
 * so MEMBER_BINDINGS_LIMIT is the one a real policy meets; the history is at most HISTORY_LIMIT × 8 KiB (256 KiB).
 */
export const MEMBER_BINDINGS_BYTES_LIMIT = 4 * 1024;

/** In a point of memberBindings: pairs it does not list may be held (the bound, or a delta over a policy not known). */
const PARTIAL = '?';

/** A point of memberBindings read: the copies held, whether others may be, and the copies its delta named (memberCopyKey). */
export interface MemberPoint {
  readonly held: ReadonlySet<string>;
  readonly partial: boolean;
  /** Set by a policy delta (its copies `named`), not a full policy. */
  readonly delta: boolean;
  readonly named: ReadonlySet<string>;
}

/** The `ROLE member` key of a binding's pair, whichever its copy (members compare in any letter case). */
export function memberBindingKey(binding: IamBinding): string {
  return `${binding.role} ${binding.member.toLowerCase()}`;
}

/**
 * Before a pair's key in memberBindings: the copy held under an IAM condition. IAM lets a member hold one role twice,
 * with a condition and without; a delta that removes one copy leaves the other, so the history keeps them apart. (A
 * kept member holds no white space, nor does an IAM role name: `if ROLE member` is no unconditional pair's key.)
 */
const CONDITIONAL_MARK = 'if ';

/** The key of a binding's copy as memberBindings keeps it: `ROLE member`, or `if ROLE member` when conditional. */
export function memberCopyKey(binding: IamBinding): string {
  return binding.conditional === true ? CONDITIONAL_MARK + memberBindingKey(binding) : memberBindingKey(binding);
}

/** The keys of both copies of a binding's pair (without a condition, with one). */
export function memberCopyKeys(binding: IamBinding): readonly [string, string] {
  const pair = memberBindingKey(binding);
  return [pair, CONDITIONAL_MARK + pair];
}

/** True when a point of memberBindings lists a copy of the binding's pair (with a condition or without). */
export function holdsPair(point: MemberPoint, binding: IamBinding): boolean {
  return memberCopyKeys(binding).some((key) => point.held.has(key));
}

/**
 * True when memberBindings keeps `binding` for a policy at `scope`: a user, group or domain member (model/iam.ts
 * judgedMemberOf), of any role on a service, of a role that reaches Cloud Run above it; neither longer than IAM takes
 * (MEMBER_LENGTH_LIMIT, ROLE_LENGTH_LIMIT).
 */
export function keptMemberBinding(binding: IamBinding, scope: Extract<Change, { kind: 'iam-policy' }>['scope']): boolean {
  if (binding.role.length > ROLE_LENGTH_LIMIT || judgedMemberOf(binding.member) === undefined) return false;
  return scope === 'service' || reachesCloudRun(binding.role);
}

export function readMemberPoint(value: readonly string[]): MemberPoint {
  const held = new Set<string>();
  const named = new Set<string>();
  let partial = false;
  let delta = false;
  for (const key of value) {
    if (key === PARTIAL) partial = true;
    else if (key === DELTA_MARK) delta = true;
    else if (key.startsWith(DELTA_MARK)) named.add(key.slice(DELTA_MARK.length));
    else held.add(key);
  }
  return { held, partial, delta, named };
}

/** A point's value: `held` (bounded: past MEMBER_BINDINGS_LIMIT, partial), `?` when partial, a delta's marks. */
function memberPointValue(held: Iterable<string>, partial: boolean, named: readonly string[] | undefined): string[] {
  const sorted = [...new Set(held)].sort();
  const kept = withinMemberBounds(sorted);
  const over = kept.length < sorted.length;
  // A delta naming more pairs than the bounds is kept as a partial point without its marks: a late delta's
  // recomputation stops there (laterMemberPoints), and nothing is closed by a pair's absence from it.
  const marks = named === undefined ? [] : withinMemberBounds(named).length < named.length ? [PARTIAL] : [DELTA_MARK, ...named.map((key) => DELTA_MARK + key)];
  return [...new Set([...kept, ...(partial || over ? [PARTIAL] : []), ...marks])].sort();
}

/** The first of `keys` up to MEMBER_BINDINGS_LIMIT of them and MEMBER_BINDINGS_BYTES_LIMIT bytes (UTF-8). */
function withinMemberBounds(keys: readonly string[]): readonly string[] {
  let bytes = 0;
  for (let i = 0; i < keys.length; i++) {
    bytes += Buffer.byteLength(keys[i]!, 'utf8') + 1;
    if (i >= MEMBER_BINDINGS_LIMIT || bytes > MEMBER_BINDINGS_BYTES_LIMIT) return keys.slice(0, i);
  }
  return keys;
}

/** The memberBindings point in force just before `at`, read; undefined when none is known (or the baseline predates them). */
export function memberBindingsBefore(base: ServiceBaseline | undefined, at: ChangeInstant): MemberPoint | undefined {
  const before = valueBefore(base?.memberBindings, at);
  return before === undefined ? undefined : readMemberPoint(before);
}

/**
 * The memberBindings point an IAM change sets: the full policy's pairs when logged, else the delta over the point
 * before (over a policy not known: the delta's ADDs, partial); undefined when the entry logged neither.
 */
export function memberBindingsAfter(base: ServiceBaseline | undefined, change: Extract<Change, { kind: 'iam-policy' }>): string[] | undefined {
  const kept = (bindings: readonly IamBinding[]): string[] => bindings.filter((b) => keptMemberBinding(b, change.scope)).map(memberCopyKey);
  if (change.policy) return memberPointValue(kept(change.policy), false, undefined);
  if (!change.delta) return undefined;
  const before = memberBindingsBefore(base, change);
  const held = new Set(before?.held ?? []);
  const removed = kept(change.delta.removed);
  const added = kept(change.delta.added);
  for (const key of removed) held.delete(key);
  for (const key of added) held.add(key);
  return memberPointValue(held, before === undefined || before.partial, [...new Set([...removed, ...added])].sort());
}

/** A point of memberBindings a late IAM change sets again (laterMemberPoints). */
export interface LaterMemberPoint {
  readonly t: number;
  readonly n?: number;
  readonly v: string[];
}

/**
 * The newer points of memberBindings an IAM change that arrives late changes, as laterPublicPoints: each newer point a
 * delta set is that delta again over what this change leaves before it (the pairs it named as it left them, the others
 * as they are now), up to the first point a full policy set, which says all. Without it, a grant delivered after a
 * newer delta about another pair would be missing from every newer point, read as taken away.
 */
export function laterMemberPoints(base: ServiceBaseline | undefined, change: Extract<Change, { kind: 'iam-policy' }>): LaterMemberPoint[] {
  if (!changedAfter(base?.memberBindings, change)) return [];
  const own = memberBindingsAfter(base, change);
  if (own === undefined) return [];
  let previous = readMemberPoint(own);
  const out: LaterMemberPoint[] = [];
  for (const point of base!.memberBindings!) {
    if (!isAfter(point, change)) continue;
    const stored = readMemberPoint(point.v);
    if (!stored.delta) break;
    const held = [...[...previous.held].filter((key) => !stored.named.has(key)), ...[...stored.held].filter((key) => stored.named.has(key))];
    const v = memberPointValue(held, previous.partial, [...stored.named].sort());
    if (v.join('\n') === point.v.join('\n')) break; // as it was: the points after it are too
    out.push({ t: point.t, ...(point.n !== undefined ? { n: point.n } : {}), v });
    previous = readMemberPoint(v);
  }
  return out;
}
