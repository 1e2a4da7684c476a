// external-member-grant
//
// Reads:    Cloud Run Services.SetIamPolicy (v1, v2), Jobs.SetIamPolicy (v1, v2), WorkerPools.SetIamPolicy (v2; an
//           RPC of the API, no logged entry seen); project, folder and organization SetIamPolicy (cloudresourcemanager: v1 SetIamPolicy, v3
//           Projects/Folders/Organizations.SetIamPolicy); deletes of services, jobs and worker pools.
// Alerts:   a role newly granted to an identity outside the organization's own domains (Security Health Analytics'
//           NON_ORG_IAM_MEMBER, at the moment it happens): a `user:`, `group:` or `domain:` member whose domain (what
//           follows the `@`, or the `domain:` member itself; any letter case; white space around the member and a
//           `?uid=` suffix left out; a member that is no plain email or domain then, such as one with a second `@` or
//           a `?` elsewhere, is outside whatever its domain seems) matches none of `allowedDomains`. On a
//           service, job or worker pool, every role counts; on a project, folder or organization, only the roles that reach its Cloud Run
//           services: roles/run.*, roles/owner, roles/editor, roles/iam.serviceAccountUser (acts as the runtime
//           service accounts) and roles/iam.serviceAccountTokenCreator (mints their tokens) (model/iam.ts
//           reachesCloudRun). One finding per member and role, up to GRANTS_ONE_BY_ONE a change (the most severe
//           first); past it, the rest are one finding (evidence `count`, the first 50 `members`, `roles`, `domains`),
//           an event that opens nothing. Only what was added counts: the logged policy delta's
//           ADDs (an ADD and a REMOVE of one pair in one delta is a condition edit, no grant, unless the ADD takes the
//           REMOVE's condition off: source `policy delta (condition removed)`), else the difference from
//           the last known policy of that resource (baseline memberBindings: every user, group and domain member, not
//           only the external ones, so changing allowedDomains later judges against the policy as it was). A
//           re-applied policy raises nothing. Where no earlier policy is known (a baseline stored before memberBindings
//           was kept too), an external member in the new policy counts as added (evidence `source` says so, and the
//           summary that it holds the role, not necessarily granted by this change: the grant may be older). A grant
//           that arrives after a newer policy still holding the pair, whose finding is open, is not reported again:
//           one grant, one alert.
// Options:  `rules.external-member-grant.allowedDomains` (domain globs, any letter case: `acme.com`, `*.acme.com`;
//           `*.acme.com` does not match `acme.com` itself). Empty (the default): the rule raises nothing.
//           `allowMembers` (member globs with their prefix, any letter case: `user:support@vendor.example`),
//           `exceptions`, `severity`.
// Severity: HIGH for a role that can change the resource or act as it (run.admin, run.developer, owner, editor,
//           serviceAccountUser, serviceAccountTokenCreator, a custom role: not known to be harmless); MEDIUM for the
//           roles that only call or read it (run.invoker, run.servicesInvoker, run.viewer).
// Evidence: `member` (as logged), `role`, `domain`, `memberKind` (user, group, domain), `scope` (service, job,
//           worker-pool, project, folder, organization), `source`.
// Copies:   IAM lets a member hold one role twice, with a condition and without; the history keeps the two copies
//           apart (a binding with a `condition`, in a full policy or a delta: baseline/apply.ts memberCopyKey). Both in
//           one policy are one grant (one finding, one id). A full policy's conditional copy of a pair held before is no
//           grant (a condition put on, as a delta's REMOVE and ADD); its copy without one, where only the conditional
//           copy was held, is (source `difference from the last known policy`).
// Resolves: when the newest entry about the resource shows the member no longer holds the role in either copy (a full
//           policy without it; a delta that REMOVEs the last copy held; where the point is known only in part, a delta
//           that names a copy of the pair and leaves none listed), and everything granted on a service, job or worker
//           pool it deletes. A delta that REMOVEs the conditional copy leaves the unconditional grant open; a condition
//           put on a grant (REMOVE plain, ADD conditional) resolves nothing: the member still holds the role, and the
//           condition (an expiry, say) is not evaluated.
//           A late grant a newer policy already took away is reported and closed at once (revision.ts riskInForce); a late delta's grant is
//           carried into the newer points other deltas set (baseline/apply.ts laterMemberPoints), so those do not read
//           as its removal.
//           A delete that arrives after entries about the service created again closes the findings dated before it and
//           none of the re-created one's (revision.ts closedByDelete), as in timestamp order; but for one whose member
//           the re-created one's newest entry holds the role again with no finding of its own: its write was judged
//           before the delete was known, against this finding's value, and raised nothing, where timestamp order
//           reports it afresh (a service created again starts with an empty policy). That finding stays open for it,
//           under its own time and id (revision.ts reportedAgainAfterDelete).
// Blind spots: `serviceAccount:` members (a project's identity, outside or not: which project is the organization's is
//           not known here), `principal://` and `principalSet://` (workforce and workload identity federation: their
//           pools may be outside), `deleted:` members, and `allUsers` / `allAuthenticatedUsers` (public-invoker-grant
//           reports them) are not judged. Conditional bindings count as grants (the condition is not evaluated). A
//           member holding one role under two different conditions holds one conditional copy here: a delta removing
//           one of them, with no unconditional copy held, resolves the finding though the other still holds.
//           A project role outside the list above that still reaches Cloud Run (roles/viewer reads every service's
//           configuration, plain environment variables included; a custom role with run.* permissions) is not
//           judged, nor one that reaches the runtime service accounts another way (iam.serviceAccountKeyAdmin makes
//           keys for them; iam.serviceAccountAdmin, iam.securityAdmin and resourcemanager.projectIamAdmin can grant
//           roles on them), nor a service account's own IAM policy (iam.googleapis.com SetIAMPolicy: token creator on
//           a runtime identity is not read). A group inside allowedDomains that holds outside accounts is inside. No real job or worker pool SetIamPolicy entry is public: they are read as a service's (synthetic
//           fixtures). A `domain:` member's whole domain is judged as
//           its name: a Google Workspace domain the organization owns under another name must be in allowedDomains.
//           Past MEMBER_BINDINGS_LIMIT pairs (or MEMBER_BINDINGS_BYTES_LIMIT of them) in one policy (baseline/apply.ts), the pairs the baseline does not keep
//           count as added again at the next full policy, and their removal closes nothing until a delta names it.
//           A grant through a policy that logged neither its bindings nor a delta is not seen. A member longer than
//           IAM takes (model/iam.ts MEMBER_LENGTH_LIMIT) or a role name longer than ROLE_LENGTH_LIMIT is not judged:
//           no such grant exists, and kept in the baseline it would grow it without bound. The grants of one change
//           past GRANTS_ONE_BY_ONE are one finding that never resolves (closed by hand in each sink).
import { holdsPair, keptMemberBinding, laterMemberPoints, memberBindingKey, memberBindingsAfter, memberBindingsBefore, memberCopyKey, memberCopyKeys, readMemberPoint, type MemberPoint } from '../baseline/apply.js';
import { baselineKey } from '../baseline/store.js';
import { changedAfter, pointAfter, withLaterPoints, type ChangeInstant, type ServiceBaseline } from '../baseline/state.js';
import { normalizeTimestamp } from '../audit/entry.js';
import { nameMatcher } from '../config/glob.js';
import type { ExternalMemberGrantSettings } from '../config/types.js';
import { CALL_OR_READ_ROLES, judgedMemberOf, type JudgedMemberKind } from '../model/iam.js';
import { DELETE_METHODS, PROJECT_IAM_METHODS, RUN_RESOURCE_IAM_METHODS, SERVICE_IAM_METHODS } from './methods.js';
import { closedByDelete, createdBefore, iamScopeLabel, reportedAgainAfterDelete, riskInForce } from './revision.js';
import type { IamBinding, IamPolicyChange } from '../model/change.js';
import type { Detection, Detector, OpenFinding, Resolved } from './types.js';
import { severityRank } from '../findings/finding.js';

const RULE = 'external-member-grant';

/** Evidence `source`: how runwatch knows the member was added. */
const SOURCE_DELTA = 'policy delta';
const SOURCE_DIFFERENCE = 'difference from the last known policy';
const SOURCE_UNKNOWN = 'full policy (no earlier policy known)';
const SOURCE_PARTIAL = 'full policy (earlier policy known only in part)';
const SOURCE_LIFTED = 'policy delta (condition removed)';

/** A binding this change gave, and how runwatch knows it was added. */
interface Granted {
  readonly binding: IamBinding;
  readonly source: string;
}

/** An external member: its kind and domain (lower case). */
interface Outside {
  readonly kind: JudgedMemberKind;
  readonly domain: string;
}

export const externalMemberGrant: Detector<'external-member-grant'> = {
  id: RULE,
  title: 'Cloud Run role granted outside the organization',
  defaultSeverity: 'HIGH',
  methods: [...SERVICE_IAM_METHODS, ...RUN_RESOURCE_IAM_METHODS, ...PROJECT_IAM_METHODS, ...DELETE_METHODS],
  changeKinds: ['iam-policy', 'delete'],
  closedByDelete: true,
  detect({ change, baseline, settings }): Detection[] {
    if (change.kind !== 'iam-policy' || settings.allowedDomains.length === 0) return [];
    const outside = outsideOf(settings);
    const granted = grantedBy(change, baseline).flatMap((g) => {
      const member = outside(g.binding.member);
      return member ? [{ ...g, ...member }] : [];
    });
    if (granted.length === 0) return [];
    const history = withLaterPoints(baseline?.memberBindings, laterMemberPoints(baseline, change), (p) => p.v);
    const who = change.principal?.id ?? 'An unknown principal';
    const wide = change.scope !== 'service';
    // The most severe first (a stable sort: then as the policy lists them), GRANTS_ONE_BY_ONE of them one by one.
    const reported = granted.filter((g) => !reportedByNextPolicy(baseline, change, g.binding)).sort((a, b) => severityRank(severityOf(b.binding.role)) - severityRank(severityOf(a.binding.role)));
    const single = reported.slice(0, GRANTS_ONE_BY_ONE);
    const detections: Detection[] = single.map(({ binding, source, kind, domain }) => {
      const { role, member } = binding;
      return {
        severity: severityOf(role),
        title: wide ? `Cloud Run role granted outside the organization on a whole ${change.scope}` : 'Cloud Run role granted outside the organization',
        summary: summaryOf(who, binding, iamScopeLabel(change.scope, change.target), domain, source),
        evidence: { scope: scopeOf(change), member, role, domain, memberKind: kind, source },
        dedupKey: [baselineKey(change.target), 'external-member', member.toLowerCase(), role, change.time],
        ...riskInForce(history, change, (v) => released(readMemberPoint(v), binding), () => noLongerHolds(member, role)),
      };
    });
    const rest = reported.slice(single.length);
    if (rest.length > 0) detections.push(restOf(rest, change, who));
    return detections;
  },
  resolves({ change, baseline }, open): Resolved[] {
    if (change.kind === 'delete') {
      // A service created again starts with an empty policy: a grant its policy held again before the delete was known
      // raised nothing, and the finding about it stands for it (closedByDelete).
      return closedByDelete(open, change, [baseline?.memberBindings], (o, recreated) => {
        const binding = grantOf(o);
        if (binding === undefined || !reportedAgainAfterDelete(baseline?.memberBindings, change, (v) => !released(readMemberPoint(v), binding), false)) return false;
        return !recreated.some((r) => grantOf(r)?.member === binding.member && grantOf(r)?.role === binding.role);
      });
    }
    if (change.kind !== 'iam-policy') return [];
    // Only the newest word on the policy closes anything; the newer points deltas set are computed again over an
    // entry that arrives late, so one carried up to the newest closes what it takes away there.
    const later = laterMemberPoints(baseline, change);
    const newest = later[later.length - 1];
    const history = baseline?.memberBindings;
    const carriedToNewest = newest !== undefined && newest.t === history?.[history.length - 1]?.t;
    if (!carriedToNewest && changedAfter(history, change)) return [];
    const after = carriedToNewest ? newest.v : memberBindingsAfter(baseline, change);
    if (after === undefined) return [];
    const point = readMemberPoint(after);
    return open.flatMap((o) => {
      const binding = grantOf(o);
      if (!binding || !released(point, binding)) return [];
      return [{ id: o.finding.id, reason: noLongerHolds(binding.member, binding.role) }];
    });
  },
};

/** Where runwatch knew the policy before the change, from which of its sources it could tell the member was added. */
const SEEN_ADDED: ReadonlySet<string> = new Set([SOURCE_DELTA, SOURCE_DIFFERENCE, SOURCE_LIFTED]);

/**
 * The summary: "granted" only where the grant was seen being made (a delta's ADD, a difference from the policy known
 * before); else the member holds the role in the first policy known (or one known in part), and the grant may be far
 * older than the change, by someone else: the on-call engineer must not read it as this principal's, now.
 */
function summaryOf(who: string, { role, member }: IamBinding, where: string, domain: string, source: string): string {
  if (source === SOURCE_LIFTED) return `${who} took the condition off ${member}'s ${role} on ${where} (now held without one): ${domain} is not among the allowed domains.`;
  if (SEEN_ADDED.has(source)) return `${who} granted ${role} to ${member} on ${where}: ${domain} is not among the allowed domains.`;
  const unknown = source === SOURCE_PARTIAL ? 'the policy before it is known only in part' : 'no earlier policy of it is known';
  return `${who} set a policy on ${where} in which ${member} holds ${role}: ${domain} is not among the allowed domains. Not necessarily granted by this change (${unknown}): the grant may be older.`;
}

/**
 * How many of one change's grants are reported one by one; the rest make one finding (restOf). IAM takes 1,500
 * members a policy: one finding each would outgrow what a transaction stores (its findings wait in the service's
 * Firestore document until published, 3 MiB a commit), and push the service's other open findings of their severity
 * or less out (the engine keeps 20, the least severe going first).
 */
export const GRANTS_ONE_BY_ONE = 10;

/** How many members, roles and domains the finding of the rest names (its `count` says how many grants). */
const REST_SHOWN = 50;

/** HIGH for a role that can change the resource or act as it (custom roles too: not known to be harmless), else MEDIUM. */
function severityOf(role: string): 'HIGH' | 'MEDIUM' {
  return CALL_OR_READ_ROLES.has(role) ? 'MEDIUM' : 'HIGH';
}

/**
 * One finding for the grants of a change past GRANTS_ONE_BY_ONE: how many, and the first REST_SHOWN members, roles
 * and domains. An event: it opens nothing, so nothing resolves it (the grants reported one by one do resolve).
 */
function restOf(rest: readonly (Granted & Outside)[], change: IamPolicyChange, who: string): Detection {
  const distinctShown = (values: readonly string[]): string[] => [...new Set(values)].slice(0, REST_SHOWN);
  const members = distinctShown(rest.map((g) => g.binding.member));
  const wide = change.scope !== 'service';
  const where = iamScopeLabel(change.scope, change.target);
  const named = `${members.slice(0, 3).join(', ')}${members.length > 3 ? ', ...' : ''}`;
  return {
    severity: rest.some((g) => severityOf(g.binding.role) === 'HIGH') ? 'HIGH' : 'MEDIUM',
    title: `Cloud Run roles granted outside the organization${wide ? ` on a whole ${change.scope}` : ''}: ${rest.length} more`,
    summary: SEEN_ADDED.has(rest[0]!.source)
      ? `${who} also granted ${rest.length} more roles on ${where} to members outside the allowed domains (${named}).`
      : `The policy ${who} set on ${where} also gives ${rest.length} more roles to members outside the allowed domains (${named}). Not necessarily granted by this change: the grants may be older.`,
    evidence: {
      scope: scopeOf(change),
      count: rest.length,
      members,
      roles: distinctShown(rest.map((g) => g.binding.role)).sort(),
      domains: distinctShown(rest.map((g) => g.domain)).sort(),
      source: rest[0]!.source,
    },
    dedupKey: [baselineKey(change.target), 'external-member', 'more', change.time],
  };
}

/** Where the policy applies, as evidence: `service`, `job`, `worker-pool`, `project`, `folder` or `organization`. */
function scopeOf(change: IamPolicyChange): string {
  return change.scope === 'service' ? (change.target.resourceType ?? 'service') : change.scope;
}

/** The member as judged when it is outside the allowed domains and not an allowed member, else undefined. */
function outsideOf(settings: ExternalMemberGrantSettings): (member: string) => Outside | undefined {
  const allowedDomain = nameMatcher(settings.allowedDomains);
  const allowedMember = nameMatcher(settings.allowMembers);
  return (member) => {
    const judged = judgedMemberOf(member);
    if (!judged || (!judged.odd && allowedDomain(judged.domain)) || allowedMember(member.toLowerCase()) || allowedMember(judged.name)) return undefined;
    return { kind: judged.kind, domain: judged.domain };
  };
}

/**
 * The user, group and domain bindings (of the roles judged at the change's scope) the change added: its delta's ADDs,
 * else those of its full policy not held just before it (all of them when no earlier policy is known).
 */
function grantedBy(change: IamPolicyChange, baseline: ServiceBaseline | undefined): Granted[] {
  const judged = (bindings: readonly IamBinding[]): IamBinding[] => bindings.filter((b) => keptMemberBinding(b, change.scope));
  if (change.delta) {
    // A REMOVE and an ADD of one pair in one delta is a condition edit (an extended expiry): nothing was granted;
    // unless the ADD takes a condition off (the REMOVE had one, the ADD has none): the role is now held for good.
    const removed = new Map(change.delta.removed.map((b) => [memberBindingKey(b), b] as const));
    return distinct(
      judged(change.delta.added).flatMap((binding) => {
        const before = removed.get(memberBindingKey(binding));
        if (!before) return [{ binding, source: SOURCE_DELTA }];
        return before.conditional === true && binding.conditional !== true ? [{ binding, source: SOURCE_LIFTED }] : [];
      }),
    );
  }
  if (!change.policy) return [];
  const before = memberBindingsBefore(baseline, change);
  // After the service's create seen here (and no delete since), its policy before was empty: known.
  const createdEmpty = before === undefined && change.scope === 'service' && createdBefore(baseline, change);
  return distinct(
    judged(change.policy).flatMap((binding) => {
      if (before === undefined) return [{ binding, source: createdEmpty ? SOURCE_DIFFERENCE : SOURCE_UNKNOWN }];
      if (before.held.has(memberCopyKey(binding))) return [];
      // A conditional copy of a pair held before is no grant: a full policy does not tell a condition put on (which
      // narrows the grant, as a delta's REMOVE and ADD of the pair) from a copy added. The copy without one, where only
      // the conditional copy was held, is a grant: the condition no longer limits it.
      if (binding.conditional === true && holdsPair(before, binding)) return [];
      return [{ binding, source: before.partial ? SOURCE_PARTIAL : SOURCE_DIFFERENCE }];
    }),
  );
}

/**
 * The grants without repeats of a pair (one member written twice in a role, in two letter cases, or held with a
 * condition and without): one finding a pair, whose id is the pair's.
 */
function distinct(granted: readonly Granted[]): Granted[] {
  const seen = new Set<string>();
  return granted.filter(({ binding: b }) => {
    const key = memberBindingKey(b);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * True when a point shows the binding's pair is no longer held: it lists neither copy (with a condition, without), and
 * it lists all (or its delta named a copy of the pair: what a point known in part says of it). A delta that removes
 * one copy leaves the other listed: the role is still held.
 */
function released(point: MemberPoint, binding: IamBinding): boolean {
  const copies = memberCopyKeys(binding);
  return !holdsPair(point, binding) && (!point.partial || copies.some((key) => point.named.has(key)));
}

function noLongerHolds(member: string, role: string): string {
  return `${member} no longer holds ${role}`;
}

/** The member and role an open finding of the rule reports. */
function grantOf(o: OpenFinding): IamBinding | undefined {
  const { member, role } = o.finding.evidence;
  return typeof member === 'string' && typeof role === 'string' ? { member, role } : undefined;
}

/**
 * True when the policy applied next after `at` (this entry arrived late) still held the pair and raised the finding
 * about it that is open now: the grant is reported already, under the newer entry's time (nothing was known before
 * it). Reported again here, one grant would be two alerts.
 */
function reportedByNextPolicy(baseline: ServiceBaseline | undefined, at: ChangeInstant, binding: IamBinding): boolean {
  const next = pointAfter(baseline?.memberBindings, at);
  const key = memberBindingKey(binding);
  if (!next || !holdsPair(readMemberPoint(next.v), binding)) return false;
  return (baseline?.open ?? []).some((o) => {
    if (o.rule !== RULE || normalizeTimestamp(o.finding.eventTime)?.ms !== next.t) return false;
    const reported = grantOf(o);
    return reported !== undefined && memberBindingKey(reported) === key;
  });
}
