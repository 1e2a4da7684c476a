// public-invoker-attempt
//
// Reads:    failed Cloud Run Services.SetIamPolicy (v1, v2) and project, folder or organization SetIamPolicy
//           (cloudresourcemanager), and failed deploys (v1 CreateService / ReplaceService, v2 CreateService /
//           UpdateService), that a control refused: status 9 FAILED_PRECONDITION (an organization policy, such as
//           Domain Restricted Sharing, `constraints/iam.allowedPolicyMemberDomains`, which rejects `allUsers`) or
//           7 PERMISSION_DENIED (the caller lacks the permission; every authorization check denied counts too), and on a
//           project, folder or organization policy 3 INVALID_ARGUMENT (Resource Manager's setIamPolicy: "Project does
//           not support allUsers and allAuthenticatedUsers as members"; nobody can open every service of a project
//           that way, but someone asked).
// Alerts:   such a refused call that would have opened Cloud Run to the public: a requested policy granting an
//           invoker role (model/iam.ts INVOKER_ROLES) to `allUsers` or `allAuthenticatedUsers`, or a deploy turning
//           the invoker IAM check off. Nothing changed, but someone tried: often a developer who will ask for an
//           exception, sometimes the first step of going around the control (the next may be relaxing the
//           organization policy). Only what the attempt would have added counts: a public member the service (or
//           project) already held as an invoker, as its baseline knows, raises nothing (a role that would also let
//           the public change the service, run.admin, run.developer, run.sourceDeveloper, still counts unless the
//           member already held one of those).
// Options:  `rules.public-invoker-attempt.exceptions` (principal, project, service globs), `severity`; services
//           in `rules.public-invoker-grant.allowServices` are meant to be public: an attempt there raises nothing.
// Severity: LOW on a service, MEDIUM on a project, folder or organization (which would have opened every service
//           below it).
// Resolves: nothing (no risk is in force).
// Blind spots: other failures (ABORTED on a concurrent policy change, INVALID_ARGUMENT on a service, an outage) are not attempts
//           a control stopped and raise nothing; when the caller retries with success, public-invoker-grant reports
//           it. The shape of a refused entry is taken from successful ones (failed writes log their request and no
//           response); the status message is Google's text, kept as evidence but cut to 300 characters. A dry run
//           (`validateOnly`) that was refused is not an attempt. "Already held" is the baseline's word when the
//           entry is judged: delivered before the earlier grant that made a member public (live, out of order), or
//           after a delete that cleared the service's policy, a refused edit that still lists that member reports it
//           (evidence `source: no earlier policy known`) where replay, in time order, does not. After the service's
//           create, seen by its baseline and no delete since, the earlier policy is known (a new service starts with
//           an empty one): `source: difference from the last known policy`.
import { baselineKey } from '../baseline/store.js';
import { valueBefore } from '../baseline/state.js';
import type { RefusedChange } from '../model/change.js';
import { WRITE_CAPABLE_INVOKER_ROLES } from '../model/iam.js';
import { DEPLOY_METHODS, PROJECT_IAM_METHODS, SERVICE_IAM_METHODS } from './methods.js';
import { createdBefore, iamScopeLabel, meantToBePublic, serviceLabel, settingBefore } from './revision.js';
import type { Detection, Detector } from './types.js';

export const publicInvokerAttempt: Detector<'public-invoker-attempt'> = {
  id: 'public-invoker-attempt',
  title: 'Refused attempt to open a Cloud Run service to the public',
  defaultSeverity: 'LOW',
  methods: [...SERVICE_IAM_METHODS, ...PROJECT_IAM_METHODS, ...DEPLOY_METHODS],
  changeKinds: ['refused'],
  detect({ change, baseline, config }): Detection[] {
    if (change.kind !== 'refused') return [];
    const who = change.principal?.id ?? 'An unknown principal';
    const refused = refusedText(change);
    const evidence = { refusedWith: change.refusal.codeName, statusMessage: change.refusal.message ?? 'unknown' };
    const unknown = change.refusal.message ? [] : ['status message'];
    if (change.scope === 'service' && meantToBePublic(config.rules['public-invoker-grant'].allowServices, change.target)) return [];
    if (change.attempt === 'invoker-iam-disabled') {
      if (settingBefore(baseline, baseline?.invokerIamDisabled, change.timeMs, (write) => write.invokerIamDisabled)?.v === true) return [];
      return [
        {
          severity: 'LOW',
          title: 'Refused attempt to turn off the invoker IAM check',
          summary: `${who} tried to turn off the invoker IAM check on ${serviceLabel(change.target)}, which would have let anyone who reaches it call it; ${refused}`,
          evidence: { ...evidence, attempted: 'invoker IAM check off' },
          dedupKey: [baselineKey(change.target), 'invoker-iam-disabled', change.time],
          unknown,
        },
      ];
    }
    // As just before the attempt, an older point of its own millisecond included (TimePoint.n).
    const knownBefore = valueBefore(baseline?.publicInvokers, change);
    const held = new Set(knownBefore ?? []);
    // The baseline keeps who held an invoker role, and which of them a role that changes the service: asking for a
    // role of the class a member already holds adds nothing. (Where the writers are not known, a baseline stored
    // before they were kept, a write-capable role still counts.)
    const writers = new Set(valueBefore(baseline?.publicWriters, change) ?? []);
    const attempted = change.publicInvokers.filter((b) => !(held.has(b.member) && (!WRITE_CAPABLE_INVOKER_ROLES.has(b.role) || writers.has(b.member))));
    if (attempted.length === 0) return [];
    const members = [...new Set(attempted.map((b) => b.member))].sort();
    const roles = [...new Set(attempted.map((b) => b.role))].sort();
    const projectWide = change.scope !== 'service';
    return [
      {
        severity: projectWide ? 'MEDIUM' : 'LOW',
        title: projectWide ? `Refused attempt to grant the Cloud Run invoker to the public on a whole ${change.scope}` : 'Refused attempt to grant the Cloud Run invoker to the public',
        summary: `${who} tried to grant ${roles.join(', ')} to ${members.join(' and ')} on ${iamScopeLabel(change.scope, change.target)}; ${refused}`,
        evidence: {
          ...evidence,
          scope: change.scope,
          membersAttempted: members,
          roles,
          // After the service's create seen here, the policy before is known: empty (revision.ts createdBefore).
          source: knownBefore !== undefined || (!projectWide && createdBefore(baseline, change)) ? 'difference from the last known policy' : 'no earlier policy known',
        },
        dedupKey: [baselineKey(change.target), members.join(','), roles.join(','), change.time],
        unknown,
      },
    ];
  },
};

function refusedText(change: RefusedChange): string {
  switch (change.refusal.code) {
    case 9:
      return 'it was refused (FAILED_PRECONDITION: an organization policy such as Domain Restricted Sharing forbids it), so nothing changed.';
    case 7:
      return 'it was refused (PERMISSION_DENIED: the caller lacks the permission), so nothing changed.';
    case 3:
      return `it was refused (INVALID_ARGUMENT: IAM takes no allUsers or allAuthenticatedUsers on a ${change.scope}), so nothing changed.`;
  }
}
