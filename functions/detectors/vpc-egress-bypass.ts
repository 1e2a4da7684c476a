// vpc-egress-bypass
//
// Reads:    Cloud Run deploys of services, jobs and worker pools (v1 CreateService / ReplaceService, v2
//           CreateService / UpdateService, and their job and worker pool counterparts) for the
//           revision's VPC egress (v1: the template annotations `run.googleapis.com/vpc-access-connector`,
//           `run.googleapis.com/network-interfaces` and `run.googleapis.com/vpc-access-egress`; v2:
//           `template.vpcAccess`; the revision's own annotations in the deploy's system events win), and deletes.
// Alerts:   a revision whose outbound traffic no longer all goes through the service's VPC network, where the
//           revision before sent all of it there (egress `all-traffic`): egress set to `private-ranges-only`, or
//           VPC access removed. Traffic to the internet then leaves Cloud Run directly, past the VPC's firewall
//           rules, its Cloud NAT (and the fixed addresses partners allow) and the VPC Service Controls perimeter
//           that only all-traffic egress enforces: a path to move data out. A service deleted and created again
//           under the name is compared with the deleted one's last revision (evidence `recreatedAfterDeleteAt`, when
//           the delete is known): deleting a service and creating it again with the defaults (no VPC access) would
//           otherwise hide the change.
// Options:  `rules.vpc-egress-bypass.exceptions` (principal, project, service globs), `severity`.
// Severity: MEDIUM.
// Resolves: a newer revision that sends all traffic through the VPC again and takes traffic (one whose write sends
//           all of it to older revisions, `gcloud run deploy --no-traffic`, leaves the one reported serving), or the
//           service deleted. A late revision whose egress a newer one that took traffic already sent through the VPC
//           again is reported and closed at once; one whose egress newer revisions keep stays open with theirs.
// Blind spots: a service's first known revision sets the baseline, so a service created without VPC egress
//           raises nothing (the organization policy `run.allowedVPCEgress` is the control for that), unless an
//           earlier service under the name sent all of its traffic through the VPC. A re-created service judged
//           before its delete arrives is reported without `recreatedAfterDeleteAt`. Console writes
//           are logged without their containers: one that removes VPC access entirely is seen only through its
//           system events (one that keeps a connector and narrows the egress is seen in the write); so is a v2
//           template (or job task spec) set whole but logged without containers (a job has no system events: unknown). A v2 update
//           mask that names only some fields of `template.vpc_access`, and a v1 egress value that reads as neither
//           setting, say nothing. Only the egress setting is compared, not which network it goes through: a
//           revision that keeps all-traffic egress but moves to another connector or network (one without the
//           firewall rules or Cloud NAT of the one before) raises nothing.
import { baselineKey } from '../baseline/store.js';
import { deletedBetween, pointBefore, servedChangeAfter } from '../baseline/state.js';
import type { VpcEgress } from '../model/change.js';
import { DELETE_METHODS, DEPLOY_METHODS } from './methods.js';
import { closableBy, closedByDelete, riskInForce, resourceNoun, serviceLabel } from './revision.js';
import type { Detection, Detector, Resolved } from './types.js';

/** What the new setting does, in the words of the finding. */
const NOW: Readonly<Record<Exclude<VpcEgress, 'all-traffic'>, string>> = {
  'private-ranges-only': 'only traffic to private addresses goes through the VPC now',
  none: 'its VPC access was removed',
};

export const vpcEgressBypass: Detector<'vpc-egress-bypass'> = {
  id: 'vpc-egress-bypass',
  title: 'Cloud Run egress no longer goes through the VPC',
  defaultSeverity: 'MEDIUM',
  methods: [...DEPLOY_METHODS, ...DELETE_METHODS],
  changeKinds: ['deploy', 'delete'],
  closedByDelete: true,
  detect({ change, baseline }): Detection[] {
    if (change.kind !== 'deploy' || change.vpcEgress === undefined || change.vpcEgress === 'all-traffic') return [];
    const before = pointBefore(baseline?.vpcEgress, change);
    if (before?.v !== 'all-traffic') return [];
    // The egress before is the deleted service's: the service was created again under the name.
    const recreatedAfterDeleteAt = deletedBetween(baseline, before, change);
    const who = change.principal?.id ?? 'An unknown principal';
    const after = change.vpcEgress;
    return [
      {
        severity: 'MEDIUM',
        title: 'Cloud Run egress no longer goes through the VPC',
        summary:
          `${who} deployed ${serviceLabel(change.target)} with VPC egress ${after === 'none' ? 'removed' : after}, where all of its outbound traffic went ` +
          `through its VPC network${recreatedAfterDeleteAt ? ` (the deleted ${resourceNoun(change.target)}'s, before it was deleted at ${recreatedAfterDeleteAt} and created again)` : ''}: ` +
          `${NOW[after]}, and traffic to the internet leaves directly, past the VPC's firewall rules, Cloud NAT and VPC Service Controls.`,
        evidence: { before: 'all-traffic', after, api: change.api, operation: change.operation, ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}) },
        dedupKey: [baselineKey(change.target), 'vpc-egress', after, change.time],
        // A late entry: closed at once when a newer revision that took the traffic already sent it all through the VPC again.
        ...riskInForce(baseline?.vpcEgress, change, (egress) => egress === 'all-traffic', () => 'all of its outbound traffic goes through the VPC again', baseline?.tookNoTraffic),
      },
    ];
  },
  resolves({ change, baseline }, open): Resolved[] {
    if (change.kind === 'delete') return closedByDelete(open, change, baseline?.vpcEgress);
    // A revision that takes none of the traffic (--no-traffic) leaves the one reported serving.
    if (change.kind !== 'deploy' || change.vpcEgress !== 'all-traffic' || change.takesNoTraffic || servedChangeAfter(baseline?.vpcEgress, change, baseline?.tookNoTraffic)) return [];
    return closableBy(open, baseline?.vpcEgress, change).map((o) => ({ id: o.finding.id, reason: 'all of its outbound traffic goes through the VPC again' }));
  },
};
