// public-invoker-grant
//
// Reads:    Cloud Run Services.SetIamPolicy (v1, v2); project, folder and organization SetIamPolicy
//           (cloudresourcemanager: v1 SetIamPolicy, v3 Projects/Folders/Organizations.SetIamPolicy); and deploys
//           (v1 CreateService / ReplaceService, v2 CreateService / UpdateService) for the invoker IAM check.
// Alerts:   a role carrying run.routes.invoke (roles/run.invoker, run.servicesInvoker, run.admin, run.developer,
//           run.sourceDeveloper: model/iam.ts INVOKER_ROLES) newly granted to
//           `allUsers` or `allAuthenticatedUsers` on a service, or on a project, folder or organization (which opens
//           every service below it);
//           and the invoker IAM check turned off (`run.googleapis.com/invoker-iam-disabled: "true"` in v1,
//           `invokerIamDisabled` in v2), which opens the service without any binding. Only what was added counts:
//           the logged policy delta, else the difference from the last known policy. Re-applying a binding the
//           service already had raises nothing, nor does a delta giving a member a role of the class it held already
//           (a downgrade from a write-capable role to the invoker role, a second invoker role). Where no earlier policy is known, a public member counts as added.
//           After the service's create, seen by its baseline (applied or still waiting for its rollout) and no delete
//           since, the earlier policy is known: a new service starts with an empty one (evidence `source`: the
//           difference from the last known policy).
//           A public member that could already call the service and is given a role that also changes it (run.admin,
//           run.developer, run.sourceDeveloper) is a grant too, of that role: the baseline keeps which public members
//           hold one (`publicWriters`; a baseline stored before it was kept says nothing of such an upgrade).
//           Public members that held an invoker role before the grant (allAuthenticatedUsers, when allUsers is added,
//           also when the same write gives it a role that changes the service) are named in evidence `alreadyPublic`:
//           the service was public before, which the sinks say.
//           A grant that arrives after its re-apply was judged (and reported as the grant) is not reported again
//           while that finding is open: one exposure, one alert.
// Options:  `rules.public-invoker-grant.allowServices` (PROJECT/SERVICE globs of services meant to be public),
//           `exceptions`, `severity`.
// Severity: HIGH on a service, CRITICAL on a project, folder or organization. A service Identity-Aware Proxy
//           guards (as known from its baseline or the write, and not turned off by a newer write known already) is
//           still HIGH: its finding says so (evidence `behindIap`), since the public reach it as soon as IAP is
//           turned off.
// Resolves: the public members removed from the invoker role (and holding no other role: a custom one may carry
//           run.routes.invoke), or the invoker IAM check turned back on, by the newest entry about it (an older
//           entry arriving late resolves nothing: when a newer entry applied before it already took its risk away,
//           it is reported and closed at once, and when newer entries still hold the risk it stays open with theirs;
//           a late check turned off that a newer write turned on again stays open all the same when the check is off
//           again at the newest point and no open finding says so: the write that turned it off again was judged
//           while this one waited for its rollout, and raised nothing, this one's word being the check before it
//           (revision.ts settingRiskInForce; ingress-opened, iap-disabled and default-url-enabled do the same);
//           the newer points policy deltas set are computed again over an entry that arrives late, so one carried up
//           to the newest closes what it takes away there);
//           an upgrade, when the members lose the roles that change the service; and everything about a service it
//           deletes.
//           A delete that arrives after entries about the service created again closes the findings dated before it and
//           none of the re-created one's (revision.ts closedByDelete), as in timestamp order; but for one some of whose
//           members the re-created one's newest entry holds the role for again (allAuthenticatedUsers alone, of a grant
//           of allUsers and allAuthenticatedUsers), or whose invoker check it turns off again, with no finding of its
//           own naming them: its write was judged before the delete was known, against this finding's value, and
//           raised nothing, where timestamp order reports it afresh (a service created again starts private). That
//           finding stays open for it, under its own time and id (revision.ts somePartReportedAgain).
// Blind spots: conditional bindings count as grants (the
//           condition is not evaluated; IAM refuses a condition on a binding to allUsers or allAuthenticatedUsers,
//           iam/docs/conditions-overview, so a write that succeeded never carries one). Custom roles that include
//           run.routes.invoke are not recognised. A policy delta's REMOVE takes a member out of one role: the
//           baseline keeps the public invoker bindings role by role (publicBindings) to know what it still holds; in a
//           baseline stored before they were kept, only that a write-capable role is still held; with nothing known
//           before, a delta's REMOVE of an invoker role shows the member held it (a downgrade is no grant). A late
//           grant whose member a newer policy moved to another role is closed at once (only the invoker roles'
//           members are kept), where in order the finding would stay open. An upgrade's finding (evidence
//           `upgradedFromInvoker`) closes when the member holds none of the roles that change the service any more
//           (it may keep the invoker role, which it held before); in a baseline stored before publicBindings, one
//           logged only as a policy delta is matched by member, not role, so removing one write-capable role of
//           several closes it. `behindIap` trusts the IAP
//           history, which keeps no turn-off judged before the write that turned IAP on was known (iap-disabled's
//           Blind spots): after such a turn-off, delivered before that write, a grant is said to be behind IAP.
import { laterPublicPoints, publicInvokersAfter, publicWritersAfter } from '../baseline/apply.js';
import { baselineKey } from '../baseline/store.js';
import { changedAfter, pointAfter, sameInstant, valueBefore, withLaterPoints, type ChangeInstant, type ServiceBaseline } from '../baseline/state.js';
import { normalizeTimestamp } from '../audit/entry.js';
import { isPublicInvokerBinding, publicMembersWhere, publicWriterMembers, READ_ONLY_INVOKER_ROLES, WRITE_CAPABLE_INVOKER_ROLES } from '../model/iam.js';
import { DELETE_METHODS, DEPLOY_METHODS, PROJECT_IAM_METHODS, SERVICE_IAM_METHODS } from './methods.js';
import { closedByDelete, createdBefore, iamScopeLabel, meantToBePublic, reportedAgainAfterDelete, riskInForce, serviceLabel, settingBefore, settingRiskInForce, somePartReportedAgain } from './revision.js';
import type { DeployChange, IamBinding, Ingress } from '../model/change.js';
import type { Detection, Detector, OpenFinding, Resolved } from './types.js';

/**
 * Said of a service Identity-Aware Proxy guards: IAP passes the IAM check as its own service agent, so the public
 * members reach the service only once IAP is off. Still reported, at the same severity: the exposure is one setting
 * away, and turning IAP off then raises nothing new here (iap-disabled reports it).
 */
const BEHIND_IAP = ' Identity-Aware Proxy still guards it: the public reach it only once IAP is turned off (iap-disabled reports that).';

/**
 * True when Identity-Aware Proxy guards the service a change at `timeMs` opens: on just before it (or as the change
 * itself sets it, `own`), and not turned off by a newer write known already (a change delivered late: the public
 * reach the service now).
 */
function iapGuards(baseline: ServiceBaseline | undefined, timeMs: number, own?: boolean): boolean {
  const pick = (write: DeployChange): boolean | undefined => write.iapEnabled;
  if ((own ?? settingBefore(baseline, baseline?.iapEnabled, timeMs, pick)?.v) !== true) return false;
  const newest = settingBefore(baseline, baseline?.iapEnabled, Number.POSITIVE_INFINITY, pick);
  return !(newest && newest.t > timeMs && newest.v === false);
}

export const publicInvokerGrant: Detector<'public-invoker-grant'> = {
  id: 'public-invoker-grant',
  title: 'Cloud Run service opened to the public',
  defaultSeverity: 'HIGH',
  methods: [...SERVICE_IAM_METHODS, ...PROJECT_IAM_METHODS, ...DEPLOY_METHODS, ...DELETE_METHODS],
  changeKinds: ['iam-policy', 'deploy', 'delete'],
  closedByDelete: true,
  serviceSettings: true,
  detect({ change, baseline, settings }): Detection[] {
    const who = change.principal?.id ?? 'An unknown principal';
    if (change.kind === 'deploy') {
      if (change.invokerIamDisabled !== true) return [];
      if (meantToBePublic(settings.allowServices, change.target)) return [];
      if (settingBefore(baseline, baseline?.invokerIamDisabled, change.timeMs, (write) => write.invokerIamDisabled)?.v === true) return [];
      // The write's own ingress, else, for a v2 update (its mask may leave ingress alone), the one in force before
      // it. A v1 write is a full PUT and a create starts afresh: one logged without its ingress set one this entry
      // does not show (the default `all`, when it left the annotation out), so the one before it is no guide.
      const ingress = change.ingress ?? (change.api === 'v2' && change.operation === 'update' ? (settingBefore(baseline, baseline?.ingress, change.timeMs, (write) => write.ingress)?.v as Ingress | undefined) : undefined);
      const behindIap = iapGuards(baseline, change.timeMs, change.iapEnabled);
      return [
        {
          severity: 'HIGH',
          title: invokerCheckOffTitle(ingress),
          summary: `${who} turned off the invoker IAM check on ${serviceLabel(change.target)}: ${whoCanCall(ingress)}${behindIap ? BEHIND_IAP : ''}`,
          evidence: { invokerIamDisabled: true, api: change.api, ingress: ingress ?? 'unknown', ...(behindIap ? { behindIap: true } : {}) },
          dedupKey: [baselineKey(change.target), 'invoker-iam-disabled', change.time],
          // A late entry: a newer deploy already set the check, so this one is history, not the risk in force.
          ...settingRiskInForce(baseline, baseline?.invokerIamDisabled, change, (disabled) => disabled === false, () => 'the invoker IAM check is on again', 'public-invoker-grant', (o) => o.finding.evidence['invokerIamDisabled'] === true),
        },
      ];
    }
    if (change.kind !== 'iam-policy') return [];
    const projectWide = change.scope !== 'service';
    if (!projectWide && meantToBePublic(settings.allowServices, change.target)) return [];

    // The members before this policy, when known (the engine always passes a baseline, maybe an empty one): as just
    // before it, an older point of its own millisecond included, as its delta is applied (baseline/apply.ts).
    const knownBefore = valueBefore(baseline?.publicInvokers, change);
    // An entry that arrives late holds in the newer points deltas set (baseline/apply.ts laterPublicPoints).
    const later = laterPublicPoints(baseline, change);
    const invokersHistory = withLaterPoints(baseline?.publicInvokers, later, (p) => p.invokers);
    const writersHistory = withLaterPoints(baseline?.publicWriters, later, (p) => p.writers);
    // A member held already is granted all the same when a newer entry, applied before this one, took it out of that
    // class (an invoker, a writer) where this entry keeps it there: that entry closed what was reported of it.
    const freedLater = (member: string, writer: boolean): boolean => {
      const stored = writer ? baseline?.publicWriters : baseline?.publicInvokers;
      return later.some((p) => (writer ? p.writers : p.invokers).includes(member) && !(stored?.find((point) => sameInstant(point, p))?.v.includes(member) ?? false));
    };
    let added: { role: string; member: string }[];
    if (change.delta) {
      // A REMOVE and an ADD of the same member and role in one delta is a condition edit (an extended expiry, say):
      // the member held the role before it too, so nobody was granted anything.
      const removed = new Set(change.delta.removed.map((b) => `${b.role}\n${b.member}`));
      // Nor is a role of the class a member already held (one that calls the service, one that changes it) a grant:
      // a downgrade from run.admin to run.invoker, or a second invoker role, gives the public nothing new, as the
      // difference from a full policy says. (Where the writers before are not known, a write-capable role counts.)
      // The delta's own REMOVEs show what a member held just before it, known or not (a downgrade seen alone).
      const removedInvoker = change.delta.removed.filter(isPublicInvokerBinding);
      const held = new Set([...(knownBefore ?? []), ...removedInvoker.map((b) => b.member)]);
      const writersHeld = new Set([...(valueBefore(baseline?.publicWriters, change) ?? []), ...removedInvoker.filter((b) => WRITE_CAPABLE_INVOKER_ROLES.has(b.role)).map((b) => b.member)]);
      const heldAlready = (b: IamBinding): boolean => held.has(b.member) && (!WRITE_CAPABLE_INVOKER_ROLES.has(b.role) || writersHeld.has(b.member)) && !freedLater(b.member, WRITE_CAPABLE_INVOKER_ROLES.has(b.role));
      added = change.delta.added
        .filter((b) => isPublicInvokerBinding(b) && !removed.has(`${b.role}\n${b.member}`) && !heldAlready(b))
        .map((b) => ({ role: b.role, member: b.member }));
    } else {
      const before = new Set(knownBefore ?? []);
      const after = publicInvokersAfter(baseline, change) ?? [];
      // Every invoker role a new member holds (a policy may give it several).
      const rolesOf = (member: string): string[] => {
        const roles = (change.policy ?? []).filter((b) => b.member === member && isPublicInvokerBinding(b)).map((b) => b.role);
        return roles.length > 0 ? roles : ['roles/run.invoker'];
      };
      added = after.filter((m) => !before.has(m) || freedLater(m, false)).flatMap((member) => rolesOf(member).map((role) => ({ member, role })));
      // A member that could already call the service and now holds a role that changes it: a grant all the same.
      // Only where the writers before are known (baselines stored before they were kept say nothing about them).
      const writersBefore = valueBefore(baseline?.publicWriters, change);
      if (knownBefore !== undefined && writersBefore !== undefined) {
        const writerRoleOf = (member: string): string => change.policy!.find((b) => b.member === member && WRITE_CAPABLE_INVOKER_ROLES.has(b.role))!.role;
        for (const member of publicWriterMembers(change.policy ?? [])) {
          if (before.has(member) && !freedLater(member, false) && (!writersBefore.includes(member) || freedLater(member, true))) added.push({ member, role: writerRoleOf(member) });
        }
      }
    }
    if (added.length === 0) return [];
    const members = [...new Set(added.map((a) => a.member))].sort();
    if (reportedByNextPolicy(baseline, change, members)) return [];
    const roles = [...new Set(added.map((a) => a.role))].sort();
    // Members who could already call the service, given only roles that also change it: the risk this finding
    // reports is the write access, and it ends when they lose it (they may stay invokers: that risk is older).
    const upgrade = knownBefore !== undefined && members.every((m) => knownBefore.includes(m)) && roles.every((r) => WRITE_CAPABLE_INVOKER_ROLES.has(r));
    const behindIap = !projectWide && iapGuards(baseline, change.timeMs);
    // Every public invoker before, also one this write gives a role that changes the service beside a new member.
    const alreadyPublic = upgrade ? [] : [...(knownBefore ?? [])].sort();
    return [
      {
        severity: projectWide ? 'CRITICAL' : 'HIGH',
        title: projectWide ? `Cloud Run invoker granted to the public on a whole ${change.scope}` : 'Cloud Run invoker granted to the public',
        summary: `${who} granted ${roles.join(', ')} to ${members.join(' and ')} on ${iamScopeLabel(change.scope, change.target)}.${behindIap ? BEHIND_IAP : ''}`,
        evidence: {
          scope: change.scope,
          membersGranted: members,
          roles,
          // After the service's create seen here, the policy before is known: empty (createdBefore).
          source: change.delta ? 'policy delta' : knownBefore !== undefined || (!projectWide && createdBefore(baseline, change)) ? 'difference from the last known policy' : 'full policy (no earlier policy known)',
          ...(upgrade ? { upgradedFromInvoker: true } : {}),
          // Other public members that could call it already (allAuthenticatedUsers before allUsers is added): it was public before.
          ...(alreadyPublic.length > 0 ? { alreadyPublic } : {}),
          ...(behindIap ? { behindIap: true } : {}),
        },
        dedupKey: [baselineKey(change.target), members.join(','), roles.join(','), change.time],
        // (A member a newer policy moved to another role counts as gone: see Blind spots.)
        ...(upgrade
          ? riskInForce(writersHistory, change, (held) => members.every((m) => !held.includes(m)), () => noLongerWriters(members))
          : riskInForce(invokersHistory, change, (held) => members.every((m) => !held.includes(m)), () => `${members.join(' and ')} no longer hold the invoker role`)),
      },
    ];
  },
  resolves({ change, baseline }, open): Resolved[] {
    if (change.kind === 'delete') {
      // The service is gone, and its IAM policy and settings with it (a service re-created under the name starts
      // private): what the rule raised about it is closed. A delete that arrives late, after entries about the
      // re-created service's policy or invoker check, closes what is dated before it (closedByDelete), but for what
      // those entries say again and no finding of theirs reports (a re-grant that raised nothing, because the delete
      // was not known yet, is covered by the open finding): their members public again, their check off again. A
      // service created again starts private, so an entry after the delete that says anything else (a create with
      // the check on, a policy without them) is no word for the deleted service's finding.
      // A finding names every member its policy granted and stays open while any of them holds the role: one member
      // held again (allAuthenticatedUsers alone, of allUsers and allAuthenticatedUsers) is a risk it stands for.
      const heldAgain = (o: OpenFinding, recreated: readonly OpenFinding[]): boolean => {
        if (o.finding.evidence['invokerIamDisabled'] === true) {
          return reportedAgainAfterDelete(baseline?.invokerIamDisabled, change, (off) => off, false) && !recreated.some((r) => r.finding.evidence['invokerIamDisabled'] === true);
        }
        const granted = grantedOf(o);
        if (granted === undefined) return false;
        const upgrade = o.finding.evidence['upgradedFromInvoker'];
        const held = upgrade === true ? baseline?.publicWriters : baseline?.publicInvokers;
        const holds = (member: string) => (members: readonly string[]): boolean => members.includes(member);
        return somePartReportedAgain(granted, held, change, holds, recreated, (r) => (r.finding.evidence['upgradedFromInvoker'] === upgrade ? (grantedOf(r) ?? []) : []), (a, b) => a === b);
      };
      return closedByDelete(open, change, [baseline?.invokerIamDisabled, baseline?.publicInvokers, baseline?.publicWriters], heldAgain);
    }
    if (change.kind === 'deploy') {
      // Only the newest word on the check closes anything: an older entry that arrives late does not.
      if (change.invokerIamDisabled !== false || changedAfter(baseline?.invokerIamDisabled, change)) return [];
      return open
        .filter((o) => o.finding.evidence['invokerIamDisabled'] === true)
        .map((o) => ({ id: o.finding.id, reason: 'the invoker IAM check is on again' }));
    }
    if (change.kind !== 'iam-policy') return [];
    // The newer points policy deltas set are computed again over an entry that arrives late (baseline/apply.ts
    // laterPublicPoints): when that reaches the newest, what it leaves there is the newest word on the members.
    const later = laterPublicPoints(baseline, change);
    const newest = later[later.length - 1];
    const newestStored = baseline?.publicInvokers[baseline.publicInvokers.length - 1];
    const carriedToNewest = newest !== undefined && newestStored !== undefined && sameInstant(newest, newestStored);
    if (!carriedToNewest && changedAfter(baseline?.publicInvokers, change)) return [];
    // An entry that logged neither the policy nor a delta says nothing about who holds the role: it closes nothing
    // (the baseline keeps its members for the same reason, baseline/apply.ts).
    const members = carriedToNewest ? newest.invokers : publicInvokersAfter(baseline, change);
    if (members === undefined) return [];
    const bindings = change.policy ?? change.delta?.added ?? [];
    const after = new Set(members);
    // A public member moved to another role (a custom one may carry run.routes.invoke) is not shown to be gone.
    for (const member of publicMembersWhere(bindings, () => true)) after.add(member);
    // For an upgrade, the write-capable roles: what a member keeps of the invoker roles alone does not change the
    // service; any other role (a custom one may carry run.services.update) is not shown to be harmless.
    const writers = new Set((carriedToNewest ? newest.writers : publicWritersAfter(baseline, change)) ?? []);
    for (const member of publicMembersWhere(bindings, (role) => !READ_ONLY_INVOKER_ROLES.has(role))) writers.add(member);
    const resolved: Resolved[] = [];
    for (const o of open) {
      const granted = o.finding.evidence['membersGranted'];
      if (!Array.isArray(granted)) continue;
      const membersGranted = granted as readonly string[];
      if (membersGranted.every((m) => !after.has(m))) resolved.push({ id: o.finding.id, reason: `${membersGranted.join(' and ')} no longer hold the invoker role` });
      else if (o.finding.evidence['upgradedFromInvoker'] === true && membersGranted.every((m) => !writers.has(m))) resolved.push({ id: o.finding.id, reason: noLongerWriters(membersGranted) });
    }
    return resolved;
  },
};

function noLongerWriters(members: readonly string[]): string {
  return `${members.join(' and ')} no longer hold a role that changes the service`;
}

/**
 * True when the policy applied next after `at` (this entry arrived late) still held `members` and raised the
 * finding about them that is open now: the exposure this entry began is reported already. gcloud re-applies the
 * invoker binding seconds after granting it, and Pub/Sub may deliver the re-apply first, which then reads as the
 * grant; the grant itself, reported too, would be a second alert under another id for one exposure. (Not the case
 * when the next policy no longer held them, nor when what it raised is closed: this entry then says something new.)
 */
function reportedByNextPolicy(baseline: ServiceBaseline | undefined, at: ChangeInstant, members: readonly string[]): boolean {
  // Next to the nanosecond: a re-apply in the same millisecond holds a point of its own (TimePoint.n).
  const next = pointAfter(baseline?.publicInvokers, at);
  if (!next || !members.every((m) => next.v.includes(m))) return false;
  return (baseline?.open ?? []).some((o) => {
    if (o.rule !== 'public-invoker-grant' || normalizeTimestamp(o.finding.eventTime)?.ms !== next.t) return false;
    const granted = o.finding.evidence['membersGranted'];
    return Array.isArray(granted) && members.every((m) => granted.includes(m));
  });
}

/**
 * Who can call a service without an identity, by its ingress: the internet only with `all`. Internal ingress
 * still lets in anything on its VPC networks and the project's other services, and an external load balancer
 * in front of `internal-and-cloud-load-balancing` puts it on the internet again; HIGH all the same.
 */
/**
 * The title of the invoker IAM check turned off: not "public" where the summary (whoCanCall) says only callers inside
 * its networks reach it, or none while its ingress is none. A load balancer may be external, and an unknown ingress
 * may be all: public.
 */
function invokerCheckOffTitle(ingress: Ingress | undefined): string {
  if (ingress === 'internal') return 'Invoker IAM check disabled: no identity needed inside its networks';
  if (ingress === 'none') return 'Invoker IAM check disabled: no identity needed once ingress opens';
  return 'Invoker IAM check disabled: service is public';
}

function whoCanCall(ingress: Ingress | undefined): string {
  switch (ingress) {
    case 'all':
      return 'anyone on the internet can call it.';
    case 'internal':
      return 'anyone who reaches it from inside its networks (ingress internal: VPC networks, Shared VPC, other services of the project) can call it without an identity.';
    case 'internal-and-cloud-load-balancing':
      return 'anyone who reaches it through a Cloud Load Balancer (from the internet, when it is external) or from inside its networks can call it without an identity.';
    case 'none':
      return 'no traffic reaches it while its ingress is none, but anyone who can reach it once ingress is opened can call it without an identity.';
    case undefined:
      return 'anyone who can reach it (ingress unknown: the internet, when it is "all") can call it without an identity.';
  }
}

/** The public members an open finding of the rule reports granted (evidence `membersGranted`), if it names them. */
function grantedOf(o: OpenFinding): readonly string[] | undefined {
  const granted = o.finding.evidence['membersGranted'];
  return Array.isArray(granted) ? (granted as readonly string[]) : undefined;
}
