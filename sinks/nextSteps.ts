// The next steps a finding's reader takes: per rule and case, what to check and the command that reverts the change.
// One text for every sink that shows them (SCC's `nextSteps`, Slack, PagerDuty), so the advice cannot drift apart;
// and, for a resolution shown on its own, what is left to do once the change is undone (stepsAfterResolutionOf).
// The text is runwatch's own: the only part built from finding data is the id of a project, folder or organization
// whose IAM policy a public invoker grant changed, and it goes in only in the form a real one has (WIDE_IAM).
import { wideIamResource, type Finding } from '../functions/findings/finding.js';

const NEXT_STEPS: Readonly<Record<string, string>> = {
  'public-invoker-grant':
    'Confirm the service is meant to be public. If not, remove allUsers/allAuthenticatedUsers from its roles/run.invoker binding ' +
    '(gcloud run services remove-iam-policy-binding) or turn the invoker IAM check back on, then review its request logs for calls made while it was open. ' +
    'If it is meant to be public, add it to rules.public-invoker-grant.allowServices.',
  'off-window-deploy':
    'Ask the deployer why the change could not wait for a change window, check the revision against the commit and pipeline shown, ' +
    'and roll back to the previous revision if it was not approved.',
  'service-account-change':
    'Confirm the new runtime service account was intended and holds no more roles than the service needs; ' +
    'if not, redeploy with the previous service account.',
  'new-image-repository':
    'Check that the image repository belongs to your organization and that the image was built by your pipeline; ' +
    'if the change is legitimate, add the repository to rules.new-image-repository.trustedRepositories, otherwise roll back the revision.',
  'binary-authorization-bypass':
    'Breakglass: ask the deployer for the emergency behind the justification, check the revision\'s image against your Binary Authorization policy, ' +
    'and remove the run.googleapis.com/binary-authorization-breakglass annotation (v2: binaryAuthorization.breakglassJustification) once it is over: ' +
    'every revision deployed while it is set skips the policy. ' +
    'Policy turned off: ask the deployer why, enforce it again (gcloud run services update SERVICE --binary-authorization=default, or your named policy), ' +
    'which resolves this finding, and check the images of the revisions deployed meanwhile.',
  'ingress-opened':
    'Confirm the service is meant to take requests from the internet directly. If not, set its ingress back ' +
    '(gcloud run services update --ingress internal, or internal-and-cloud-load-balancing) and review its request logs for calls made while it was open; ' +
    'if it is, add it to rules.ingress-opened.exceptions.',
  'plaintext-secret-env':
    'Treat the secret as exposed: rotate it, store the new one in Secret Manager and reference it from the service ' +
    '(gcloud run services update --update-secrets NAME=SECRET:latest), then remove the plain variable. ' +
    'If the variable holds no secret, add its name to rules.plaintext-secret-env.allowNames.',
  'unapproved-deployer':
    'Ask the deployer why the revision did not go through the pipeline, compare its image and settings with the last pipeline build, ' +
    'and roll back to the previous revision if it was not approved. If this identity may deploy, add it to rules.unapproved-deployer.allowedDeployers.',
  'vpc-egress-bypass':
    'Confirm the service is meant to reach the internet outside the VPC. If not, redeploy it with all traffic through the VPC ' +
    '(gcloud run services update --vpc-egress all-traffic) and review what it sent out meanwhile; enforce it with the organization policy ' +
    'constraints/run.allowedVPCEgress. If it is meant to, add it to rules.vpc-egress-bypass.exceptions.',
  'external-member-grant':
    'Confirm the member is meant to hold the role (a contractor or a vendor\'s account, say). If not, remove the binding ' +
    '(gcloud run services remove-iam-policy-binding, or gcloud projects remove-iam-policy-binding for a project) and review in the audit logs what the member did with it; ' +
    'Domain Restricted Sharing (the organization policy constraints/iam.allowedPolicyMemberDomains) refuses such grants. ' +
    'If the domain is the organization\'s own, add it to rules.external-member-grant.allowedDomains; a known vendor account, to allowMembers.',
  'public-invoker-attempt':
    'Nothing changed: a control refused the call. Ask the caller why the service should be public, and watch for the next step around the control ' +
    '(a change to the organization policy constraints/iam.allowedPolicyMemberDomains, or a grant through another identity). ' +
    'If such attempts are expected here, add them to rules.public-invoker-attempt.exceptions.',
  'job-run-overrides':
    'Ask the caller why the run needed other arguments or environment, and read the execution\'s logs for what it did under the job\'s service account. ' +
    'Grant run.jobs.runWithOverrides (in roles/run.developer and roles/run.admin; roles/run.invoker runs a job without overrides) only to those who may run any code as that account. ' +
    'If such runs are expected, add the caller or the job to rules.job-run-overrides.exceptions.',
  'iap-disabled':
    'Confirm the service is meant to be reached without Identity-Aware Proxy. If not, turn IAP back on ' +
    '(gcloud run services update --iap) and review its request logs for calls made while it was off; ' +
    'if it is, add it to rules.iap-disabled.exceptions.',
  'default-url-enabled':
    'Confirm the service is meant to be reached at its run.app URL, past its load balancer. If not, disable the default URL again ' +
    '(gcloud run services update --no-default-url; that closes this finding) and review its request logs for calls to the run.app address ' +
    'meanwhile; if it is, add it to rules.default-url-enabled.exceptions.',
  'code-loading-env':
    'Ask the deployer why the revision loads code through its environment, and read what the variable names (a module, agent, library or file on a ' +
    'mounted volume): that code runs as the service account, whatever the image. If it was not intended, redeploy without it ' +
    '(gcloud run services update --remove-env-vars NAME) and review what the revision did meanwhile; if it was, add it to rules.code-loading-env.exceptions.',
};

/** service-account-change raised by traffic moved to an older revision (evidence.servingRevision). */
const TRAFFIC_NEXT_STEPS =
  'Confirm the traffic was meant to go to the older revision named in this finding, and that its runtime service account holds no more roles ' +
  'than the service needs. If not, send the traffic back to the latest revision (gcloud run services update-traffic SERVICE --to-latest, ' +
  'or --to-revisions with the revisions meant to serve), which resolves this finding, and review what the service did meanwhile.';

/** The same, for a worker pool's instances (its instance split, read as traffic): a pool has no traffic to move. */
const INSTANCES_NEXT_STEPS =
  'Confirm the instances were meant to go to the older revision named in this finding, and that its runtime service account holds no more roles ' +
  'than the worker pool needs. If not, send the instances back to the latest revision (gcloud beta run worker-pools update-instance-split WORKER_POOL --to-latest, ' +
  'or --to-revisions with the revisions meant to run), which resolves this finding, and review what the worker pool did meanwhile.';

/**
 * vpc-egress-bypass's next steps for all-traffic egress moved to another network or connector (evidence `egress`
 * all-traffic, `before` and `after` the destinations): the egress setting is as it was, the path is not.
 */
const VPC_MOVED_NEXT_STEPS =
  'Confirm the service is meant to send its traffic through the network or connector it uses now (evidence: after), and that its egress firewall rules, ' +
  'Cloud NAT addresses and VPC Service Controls perimeter hold that traffic as those of the one before (evidence: before) did. If not, redeploy it through the one before ' +
  '(gcloud run services update SERVICE --vpc-connector CONNECTOR, or for Direct VPC --network NETWORK --subnet SUBNET --network-tags TAGS; jobs and worker pools likewise) ' +
  'and review what it sent out meanwhile. If it is meant to, add it to rules.vpc-egress-bypass.exceptions.';

/** new-image-repository's next steps for code that is not the service's image (evidence `source`, `baseImage`). */
const SOURCE_NEXT_STEPS = {
  bucket:
    'Check that the bucket belongs to your organization, who can write to it, and that the object named in the evidence (its generation) was uploaded by your pipeline; ' +
    'if the change is legitimate, add the bucket (gs://BUCKET) to rules.new-image-repository.trustedRepositories, otherwise roll back the revision.',
  inlined:
    'The source code was inlined in the deploy request itself: ask the deployer where it came from and compare it with your source repository; ' +
    'deploy from your pipeline instead, and roll back the revision if the code was not reviewed.',
  unknown:
    'The deploy runs source code runwatch cannot read (a source type it does not know, or none named where there is no image: the fields are in the evidence): ' +
    'open the revision (or the job or worker pool) in the Cloud Run console to see where its code came from and ask the deployer; roll it back unless your pipeline built and reviewed it. ' +
    'No trustedRepositories entry can trust such code: it is reported on every deploy.',
  baseImage:
    "Check that the base image's repository belongs to your organization or to Google (Google's runtime base images are REGION-docker.pkg.dev/serverless-runtimes/...); " +
    'if the change is legitimate, add the repository to rules.new-image-repository.trustedRepositories, otherwise roll back the revision.',
} as const;

/**
 * The next steps for a new-image-repository finding about a bucket, inlined source, source of a kind runwatch cannot
 * read or a base image; undefined for an image.
 */
function sourceNextSteps(evidence: Finding['evidence']): string | undefined {
  if (evidence['source'] === 'cloud-storage') return SOURCE_NEXT_STEPS.bucket;
  if (evidence['source'] === 'inlined') return SOURCE_NEXT_STEPS.inlined;
  if (evidence['source'] === 'unknown') return SOURCE_NEXT_STEPS.unknown;
  return evidence['baseImage'] === true ? SOURCE_NEXT_STEPS.baseImage : undefined;
}

const DEFAULT_NEXT_STEPS = 'Review the change in the audit entry linked from this finding and revert it if it was not intended.';

/** What removes a binding from each such policy, and the form of an id that may go into the command as it is. */
const WIDE_IAM: Readonly<Record<string, { readonly noun: string; readonly command: string; readonly id: RegExp; readonly exception: (id: string) => string }>> = {
  projects: { noun: 'project', command: 'gcloud projects remove-iam-policy-binding', id: /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, exception: (id) => id },
  folders: { noun: 'folder', command: 'gcloud resource-manager folders remove-iam-policy-binding', id: /^[0-9]{1,32}$/, exception: (id) => `folders/${id}` },
  organizations: { noun: 'organization', command: 'gcloud organizations remove-iam-policy-binding', id: /^[0-9]{1,32}$/, exception: (id) => `organizations/${id}` },
};

/**
 * The next steps for `finding`. A public invoker grant on a whole project, folder or organization is removed from
 * that policy (not a service's), and `allowServices` does not cover it (the detector reads it for a service's own
 * policy only): a project exception does. The id goes into the command only in the form a real one has (it comes
 * from the entry, and a reader may paste the command); the members and role are the usual public ones.
 */
export function nextStepsOf(finding: Finding): string {
  const wide = finding.rule === 'public-invoker-grant' ? wideIamResource(finding.resourceName) : undefined;
  const scope = wide ? WIDE_IAM[wide.kind] : undefined;
  if (finding.rule === 'service-account-change' && finding.evidence['servingRevision'] !== undefined) return finding.resourceType === 'worker-pool' ? INSTANCES_NEXT_STEPS : TRAFFIC_NEXT_STEPS;
  if (finding.rule === 'vpc-egress-bypass' && finding.evidence['egress'] === 'all-traffic') return VPC_MOVED_NEXT_STEPS;
  if (finding.rule === 'new-image-repository') {
    const source = sourceNextSteps(finding.evidence);
    if (source) return source;
  }
  if (!wide || !scope) return NEXT_STEPS[finding.rule] ?? DEFAULT_NEXT_STEPS;
  const id = scope.id.test(wide.id) ? wide.id : `${scope.noun.toUpperCase()}_ID`;
  return (
    `Confirm that every Cloud Run service in the ${scope.noun} is meant to be public: they all inherit this policy. ` +
    `If not, remove the public members from its roles/run.invoker binding (${scope.command} ${id} --member=allUsers --role=roles/run.invoker, ` +
    `and --member=allAuthenticatedUsers likewise if this finding lists it), then review the request logs of its services for calls made while it was open. ` +
    `If it is meant to be public, add a project exception: rules.public-invoker-grant.exceptions [{project: "${scope.exception(id)}"}].`
  );
}

/**
 * What is left to do once the change is undone, by rule: the time it was in place to review (from the finding's time
 * to the resolution's), and for a secret in plain text the rotation, which no later revision undoes (the value stays
 * in the earlier revision's configuration and in the audit log).
 */
const AFTER_RESOLUTION_STEPS: Readonly<Record<string, string>> = {
  'public-invoker-grant': 'Undone already. Review the request logs for calls made while it was public (from the change to its resolution), and ask who opened it and why.',
  'ingress-opened': 'Undone already. Review its request logs for calls that reached it from the internet while its ingress was open (from the change to its resolution).',
  'iap-disabled': 'Undone already. Review its request logs for calls made while Identity-Aware Proxy was off (from the change to its resolution).',
  'default-url-enabled': 'Undone already. Review its request logs for calls to its run.app address while the URL was on (from the change to its resolution).',
  'binary-authorization-bypass': 'Undone already. Check the images of the revisions deployed while the policy was off against your Binary Authorization policy.',
  'vpc-egress-bypass': 'Undone already. Review what the service sent out while its traffic did not all go through the VPC it used before (from the change to its resolution).',
  'plaintext-secret-env':
    'Rotate the secret all the same: the variable is gone from the serving revision, but its value stays in the earlier revision\'s configuration and in the audit log. ' +
    'Store the new one in Secret Manager and reference it from the service.',
  'code-loading-env': 'Undone already. Read what the variable named and review what the revision did while it loaded that code: it ran as the service account, whatever the image.',
  'external-member-grant': 'Undone already. Review in the audit logs what the member did while it held the role.',
  'service-account-change': 'Undone already. Review what the service did while it ran as that identity, and that the identity holds no more roles than it needs.',
};

/**
 * The steps for a resolution shown on its own: Slack's standalone message and PagerDuty's trigger for a resolution
 * whose finding never reached them, where no original carries nextStepsOf's. Not those: the change is undone, and
 * they would have the reader revert it again.
 */
export function stepsAfterResolutionOf(finding: Finding): string {
  return AFTER_RESOLUTION_STEPS[finding.rule] ?? 'Undone already. Review what happened while the change was in place, in the audit entry linked from this finding.';
}
