// unapproved-deployer
//
// Reads:    Cloud Run Services.CreateService / ReplaceService (v1) and CreateService / UpdateService (v2), and their
//           job and worker pool counterparts (Jobs.CreateJob / ReplaceJob / UpdateJob, WorkerPools.*: README): the
//           principal (`authenticationInfo.principalEmail`, else `principalSubject`) and the identities it acted
//           through (`serviceAccountDelegationInfo`, original caller first).
// Alerts:   a deploy that creates a revision made by an identity outside `allowedDeployers`: every identity of the
//           call must be approved, the caller and each one it acted through, so a person who impersonates the
//           pipeline's service account is reported as that person. The usual list lets pipelines deploy (service
//           accounts, workload identity federation principals such as GitHub Actions) and no person, whether in the
//           console, with gcloud or signed in through a workforce identity pool: a revision that skipped the
//           pipeline skipped its review, tests and attestations too.
// Options:  `rules.unapproved-deployer.allowedDeployers` (principal globs: `serviceAccount:*`, `user:*@acme.com`,
//           `ci@acme-ci.iam.gserviceaccount.com`; letters in any case), `exceptions`, `severity`.
// Severity: MEDIUM.
// Blind spots: with no `allowedDeployers` (the default: who may deploy is each organization's own) the rule never
//           fires. A deploy whose entry names no principal is not judged (the finding of another rule says
//           "principal unknown"). Cloud Functions deploys read through `cloudFunctions.watch` are logged as the
//           Cloud Functions service agent, an approved service account, whoever started them. A person who holds
//           an approved service account's key is that service account to the audit log, and so is one who runs
//           gcloud on the pipeline's VM: the Compute Engine system service agent, which the audit log names in the
//           chain of every call a VM makes as its attached service account, is not checked (it minted the token; it
//           acted for no one).
import { principalMatches } from '../config/glob.js';
import { baselineKey } from '../baseline/store.js';
import { DEPLOY_METHODS } from './methods.js';
import { createsRevision, deployKey, serviceLabel, unknownDeployFacts } from './revision.js';
import type { Detection, Detector } from './types.js';

export const unapprovedDeployer: Detector<'unapproved-deployer'> = {
  id: 'unapproved-deployer',
  title: 'Deploy by an identity outside the approved deployers',
  defaultSeverity: 'MEDIUM',
  methods: DEPLOY_METHODS,
  changeKinds: ['deploy'],
  detect({ change, baseline, settings }): Detection[] {
    if (change.kind !== 'deploy' || !change.principal || settings.allowedDeployers.length === 0) return [];
    // A deploy known only from its system events made a revision too (createsRevision says so), with its creator.
    if (!createsRevision(change, baseline)) return [];
    const { id, delegationChain } = change.principal;
    // An identity may act through itself. The agent that minted a VM's token is no identity the deploy acted through.
    const identities = [...new Set([...delegationChain.filter((link) => !COMPUTE_SYSTEM_AGENT.test(link)), id])];
    const unapproved = identities.filter((identity) => !isApproved(identity, settings.allowedDeployers));
    if (unapproved.length === 0) return [];
    const who = delegationChain.length > 0 ? `${delegationChain.join(' via ')}, acting as ${id},` : id;
    return [
      {
        severity: 'MEDIUM',
        title: 'Deploy by an identity outside the approved deployers',
        summary: `${who} deployed ${serviceLabel(change.target)}; ${unapproved.join(', ')} ${unapproved.length === 1 ? 'is' : 'are'} not among the approved deployers.`,
        evidence: {
          unapproved,
          allowedDeployers: settings.allowedDeployers,
          operation: change.operation,
        },
        dedupKey: [baselineKey(change.target), ...deployKey(change, baseline)],
        unknown: unknownDeployFacts(change),
      },
    ];
  },
};

/**
 * The Compute Engine system service agent (`service-PROJECT_NUMBER@compute-system.iam.gserviceaccount.com`), which
 * the audit log names in `serviceAccountDelegationInfo` of every call a VM makes as its attached service account (it
 * mints the token the metadata server gives: the shared corpus's grafana-alloy__storage-objects-get__1). A pipeline on
 * a VM (Jenkins, a self-hosted runner) deploys as that service account; the agent chose nothing, and reporting it
 * made every such deploy a finding. Only this Google-owned domain: a customer's service account named `service-N`
 * in a project of its own is checked like any other.
 */
const COMPUTE_SYSTEM_AGENT = /^service-\d+@compute-system\.iam\.gserviceaccount\.com$/i;

function isApproved(identity: string, allowed: readonly string[]): boolean {
  for (const glob of allowed) if (principalMatches(glob, identity)) return true;
  return false;
}
