// Realistic findings, one per rule, shaped like the engine builds them (summary, evidence, links and id derived
// from the facts), so a hostile service name or principal flows everywhere the real one would.
import type { Finding, Resolution } from '../../functions/findings/finding.js';
import { findingId } from '../../functions/findings/id.js';

export const RULES = ['public-invoker-grant', 'off-window-deploy', 'service-account-change', 'new-image-repository', 'binary-authorization-bypass', 'ingress-opened', 'plaintext-secret-env', 'unapproved-deployer', 'vpc-egress-bypass', 'public-invoker-attempt', 'job-run-overrides', 'iap-disabled', 'default-url-enabled', 'code-loading-env', 'external-member-grant'] as const;
export type TestRule = (typeof RULES)[number];

/** The facts a finding is built from; every one can be overridden (hostile-input tests do). */
export interface FindingFacts {
  readonly project: string;
  readonly location: string;
  readonly service: string;
  readonly principal: string;
  readonly revision: string;
  readonly image: string;
  /** A Binary Authorization breakglass justification: free text the deployer writes. */
  readonly justification: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly eventTime: string;
  readonly insertId: string;
}

export const DEFAULT_FACTS: FindingFacts = {
  project: 'acme-prod',
  location: 'europe-west1',
  service: 'storefront',
  principal: 'alice@acme.com',
  revision: 'storefront-00042-xuz',
  image: 'docker.io/evil-corp/storefront:latest',
  justification: 'INC-4711 checkout down, hotfix before the policy attests it',
  labels: { 'commit-sha': '3f9c2a7e1b4d8f60a5c9e2d7b1a3f4e5c6d7e8f9', 'gcb-build-id': '7d1e2c3b-4a5f-4e6d-9c8b-1a2b3c4d5e6f', 'managed-by': 'cloud-build' },
  eventTime: '2024-05-14T02:13:07.123456789Z',
  insertId: '1x9k2fe4k8a3',
};

const CONSOLE = 'https://console.cloud.google.com';

/**
 * As functions/findings/enrich.ts builds them, except that lone surrogates become U+FFFD first
 * (encodeURIComponent throws on them; hostile-input tests use them).
 */
function links(f: FindingFacts): Finding['links'] {
  const encodeURIComponent = (value: string): string => globalThis.encodeURIComponent(value.replace(/[\ud800-\udfff]/gu, '\ufffd'));
  const project = encodeURIComponent(f.project);
  const quoted = (value: string): string => `"${value.replace(/[\\"\n\r\t]/g, (c) => ({ '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!)}"`;
  const query = `insertId=${quoted(f.insertId)}\ntimestamp=${quoted(f.eventTime)}`;
  const logEntry = `${CONSOLE}/logs/query;query=${encodeURIComponent(query)};cursorTimestamp=${encodeURIComponent(f.eventTime)}?project=${project}`;
  return { console: `${CONSOLE}/run/detail/${encodeURIComponent(f.location)}/${encodeURIComponent(f.service)}/revisions?project=${project}`, logEntry };
}

/** A job's links (`service` names the job): its executions in the console, the entry in Logs Explorer. */
function jobLinks(f: FindingFacts): Finding['links'] {
  const service = links(f);
  const encodeURIComponent = (value: string): string => globalThis.encodeURIComponent(value.replace(/[\ud800-\udfff]/gu, '\ufffd'));
  return { ...service, console: `${CONSOLE}/run/jobs/details/${encodeURIComponent(f.location)}/${encodeURIComponent(f.service)}/executions?project=${encodeURIComponent(f.project)}` };
}

function base(rule: TestRule, f: FindingFacts, dedupKey: readonly string[]): Omit<Finding, 'severity' | 'title' | 'summary' | 'evidence' | 'unknown' | 'methodName'> {
  const deploy = rule !== 'public-invoker-grant' && rule !== 'public-invoker-attempt' && rule !== 'job-run-overrides' && rule !== 'external-member-grant';
  const provenance = deploy
    ? { commit: f.labels['commit-sha'], pipeline: f.labels['gcb-build-id'], sources: { commit: 'label:commit-sha', pipeline: 'label:gcb-build-id' } }
    : {};
  return {
    id: findingId(rule, dedupKey),
    rule,
    eventTime: f.eventTime,
    project: f.project,
    location: f.location,
    service: f.service,
    ...(deploy ? { revision: f.revision } : {}),
    principal: f.principal,
    resourceName: `//run.googleapis.com/projects/${f.project}/locations/${f.location}/services/${f.service}`,
    labels: deploy ? f.labels : {},
    provenance: Object.fromEntries(Object.entries(provenance).filter(([, v]) => v !== undefined)),
    logName: `projects/${f.project}/logs/cloudaudit.googleapis.com%2Factivity`,
    insertId: f.insertId,
    links: links(f),
  };
}

function where(f: FindingFacts): string {
  return `${f.project}/${f.service} (${f.location})`;
}

function repositoryOf(image: string): string {
  const withoutDigest = image.split('@')[0] ?? image;
  const slash = withoutDigest.lastIndexOf('/');
  return slash > 0 ? withoutDigest.slice(0, slash) : withoutDigest;
}

const BUILDERS: Readonly<Record<TestRule, (f: FindingFacts) => Finding>> = {
  'public-invoker-grant': (f) => ({
    ...base('public-invoker-grant', f, [`${f.project}/${f.location}/${f.service}`, 'allUsers', 'roles/run.invoker', f.eventTime]),
    severity: 'HIGH',
    title: 'Cloud Run invoker granted to the public',
    summary: `${f.principal} granted roles/run.invoker to allUsers on ${where(f)}.`,
    evidence: { scope: 'service', membersGranted: ['allUsers'], roles: ['roles/run.invoker'], source: 'policy delta' },
    unknown: [],
    methodName: 'google.cloud.run.v1.Services.SetIamPolicy',
  }),
  'off-window-deploy': (f) => ({
    ...base('off-window-deploy', f, [`${f.project}/${f.location}/${f.service}`, f.revision]),
    severity: 'MEDIUM',
    title: 'Deploy outside a change window',
    summary: `${f.principal} deployed ${where(f)} at 2024-05-14 04:13 (tue), outside every change window.`,
    evidence: { localTime: '2024-05-14 04:13', timezone: 'Europe/Berlin', day: 'tue', windows: ['mon-fri 09:00-17:00'], operation: 'replace' },
    unknown: [],
    methodName: 'google.cloud.run.v1.Services.ReplaceService',
  }),
  'service-account-change': (f) => ({
    ...base('service-account-change', f, [`${f.project}/${f.location}/${f.service}`, `storefront@${f.project}.iam.gserviceaccount.com`, `ci-deployer@${f.project}.iam.gserviceaccount.com`, f.revision]),
    severity: 'MEDIUM',
    title: 'Runtime service account changed',
    summary: `${f.principal} changed the runtime identity of ${where(f)} from storefront@${f.project}.iam.gserviceaccount.com to ci-deployer@${f.project}.iam.gserviceaccount.com.`,
    evidence: {
      before: `storefront@${f.project}.iam.gserviceaccount.com`,
      after: `ci-deployer@${f.project}.iam.gserviceaccount.com`,
      toDefaultComputeServiceAccount: false,
    },
    unknown: ['image'],
    methodName: 'google.cloud.run.v2.Services.UpdateService',
  }),
  'new-image-repository': (f) => ({
    ...base('new-image-repository', f, [`${f.project}/${f.location}/${f.service}`, repositoryOf(f.image), f.revision]),
    severity: 'HIGH',
    title: 'Image from a repository this service never used',
    summary: `${f.principal} deployed ${f.image} to ${where(f)}: repository ${repositoryOf(f.image)} is new for this service.`,
    evidence: {
      image: f.image,
      repository: repositoryOf(f.image),
      knownRepositories: ['europe-docker.pkg.dev/acme-prod/apps'],
      firstDeploy: false,
    },
    unknown: [],
    methodName: 'google.cloud.run.v1.Services.ReplaceService',
  }),
  'binary-authorization-bypass': (f) => ({
    ...base('binary-authorization-bypass', f, [`${f.project}/${f.location}/${f.service}`, f.revision]),
    severity: 'HIGH',
    title: 'Deploy that bypasses Binary Authorization (breakglass)',
    summary: `${f.principal} deployed ${where(f)} with Binary Authorization breakglass: the image was not checked against the policy "default".`,
    evidence: { justification: f.justification, policy: 'default', operation: 'replace' },
    unknown: [],
    methodName: 'google.cloud.run.v1.Services.ReplaceService',
  }),
  'ingress-opened': (f) => ({
    ...base('ingress-opened', f, [`${f.project}/${f.location}/${f.service}`, 'ingress', 'internal-and-cloud-load-balancing', f.eventTime]),
    severity: 'MEDIUM',
    title: 'Cloud Run service ingress opened to the internet',
    summary:
      `${f.principal} set the ingress of ${where(f)} from internal-and-cloud-load-balancing to all: requests from the internet now reach it ` +
      'directly, past the load balancer in front of it (and its Cloud Armor policy or IAP). Callers still need the invoker role.',
    evidence: { before: 'internal-and-cloud-load-balancing', after: 'all', api: 'v2' },
    unknown: [],
    methodName: 'google.cloud.run.v2.Services.UpdateService',
  }),
  'plaintext-secret-env': (f) => ({
    ...base('plaintext-secret-env', f, [`${f.project}/${f.location}/${f.service}`, 'plaintext-secret-env', 'DB_PASSWORD', f.eventTime]),
    severity: 'HIGH',
    title: 'Secret in a plain environment variable',
    summary:
      `${f.principal} deployed ${where(f)} with an environment variable DB_PASSWORD set to a secret in plain text: anyone who can view the ` +
      'service (roles/run.viewer) or read its audit logs can read it. Reference a Secret Manager secret instead, and rotate the secret.',
    evidence: { variables: ['DB_PASSWORD'], why: ['DB_PASSWORD: a secret by its name'], operation: 'replace' },
    unknown: [],
    methodName: 'google.cloud.run.v1.Services.ReplaceService',
  }),
  'unapproved-deployer': (f) => ({
    ...base('unapproved-deployer', f, [`${f.project}/${f.location}/${f.service}`, f.revision]),
    severity: 'MEDIUM',
    title: 'Deploy by an identity outside the approved deployers',
    summary: `${f.principal} deployed ${where(f)}; ${f.principal} is not among the approved deployers.`,
    evidence: { unapproved: [f.principal], allowedDeployers: ['serviceAccount:*'], operation: 'replace' },
    unknown: [],
    methodName: 'google.cloud.run.v1.Services.ReplaceService',
  }),
  'vpc-egress-bypass': (f) => ({
    ...base('vpc-egress-bypass', f, [`${f.project}/${f.location}/${f.service}`, 'vpc-egress', 'private-ranges-only', f.eventTime]),
    severity: 'MEDIUM',
    title: 'Cloud Run egress no longer goes through the VPC',
    summary:
      `${f.principal} deployed ${where(f)} with VPC egress private-ranges-only, where all of its outbound traffic went through its VPC network: ` +
      "only traffic to private addresses goes through the VPC now, and traffic to the internet leaves directly, past the VPC's firewall rules, Cloud NAT and VPC Service Controls.",
    evidence: { before: 'all-traffic', after: 'private-ranges-only', api: 'v1', operation: 'replace' },
    unknown: [],
    methodName: 'google.cloud.run.v1.Services.ReplaceService',
  }),
  'public-invoker-attempt': (f) => ({
    ...base('public-invoker-attempt', f, [`${f.project}/${f.location}/${f.service}`, 'allUsers', 'roles/run.invoker', f.eventTime]),
    severity: 'LOW',
    title: 'Refused attempt to grant the Cloud Run invoker to the public',
    summary:
      `${f.principal} tried to grant roles/run.invoker to allUsers on ${where(f)}; it was refused ` +
      '(FAILED_PRECONDITION: an organization policy such as Domain Restricted Sharing forbids it), so nothing changed.',
    evidence: {
      refusedWith: 'FAILED_PRECONDITION',
      statusMessage: 'One or more users named in the policy do not belong to a permitted customer.',
      scope: 'service',
      membersAttempted: ['allUsers'],
      roles: ['roles/run.invoker'],
      source: 'difference from the last known policy',
    },
    unknown: [],
    methodName: 'google.cloud.run.v2.Services.SetIamPolicy',
  }),
  // A job (named by `service`): a run overriding its arguments, the deployer's free text among them.
  'job-run-overrides': (f) => ({
    ...base('job-run-overrides', f, [`${f.project}/${f.location}/job:${f.service}`, 'job-run', f.eventTime, f.insertId]),
    resourceType: 'job',
    resourceName: `//run.googleapis.com/projects/${f.project}/locations/${f.location}/jobs/${f.service}`,
    logName: `projects/${f.project}/logs/cloudaudit.googleapis.com%2Fdata_access`,
    links: jobLinks(f),
    severity: 'HIGH',
    title: 'Job run with overridden arguments',
    summary:
      `${f.principal} ran job ${where(f)} overriding its arguments and environment variable EXPORT_TARGET: its runtime service account ` +
      `(exporter@${f.project}.iam.gserviceaccount.com) ran what the caller chose, not only what the job's template says.`,
    evidence: {
      containers: ['(unnamed)'],
      args: ['-c', f.justification],
      environmentVariables: ['EXPORT_TARGET'],
      runtimeServiceAccount: `exporter@${f.project}.iam.gserviceaccount.com`,
    },
    unknown: [],
    methodName: 'google.cloud.run.v2.Jobs.RunJob',
  }),
  'iap-disabled': (f) => ({
    ...base('iap-disabled', f, [`${f.project}/${f.location}/${f.service}`, 'iap', f.eventTime]),
    severity: 'HIGH',
    title: 'Identity-Aware Proxy turned off on a Cloud Run service',
    summary:
      `${f.principal} turned Identity-Aware Proxy off on ${where(f)}: requests no longer pass its access policy. ` +
      'It can be called without an identity (allUsers hold its invoker role): IAP was its only gate, and anyone on the internet can now call it.',
    evidence: { before: 'IAP on', after: 'IAP off', api: 'v2', publicInvokers: ['allUsers'] },
    unknown: [],
    methodName: 'google.cloud.run.v2.Services.UpdateService',
  }),
  'default-url-enabled': (f) => ({
    ...base('default-url-enabled', f, [`${f.project}/${f.location}/${f.service}`, 'default-url', f.eventTime]),
    severity: 'MEDIUM',
    title: 'Cloud Run default URL turned back on',
    summary:
      `${f.principal} turned the default run.app URL of ${where(f)} back on: requests from the internet reach it at its run.app address directly, ` +
      'past the load balancer in front of it (its Cloud Armor policy, IAP, logging). Callers still need the invoker role.',
    evidence: { before: 'default URL disabled', after: 'default URL on', ingress: 'all', api: 'v1' },
    unknown: [],
    methodName: 'google.cloud.run.v1.Services.ReplaceService',
  }),
  'external-member-grant': (f) => ({
    ...base('external-member-grant', f, [`${f.project}/${f.location}/${f.service}`, 'external-member', 'user:contractor@gmail.com', 'roles/run.developer', f.eventTime]),
    severity: 'HIGH',
    title: 'Cloud Run role granted outside the organization',
    summary: `${f.principal} granted roles/run.developer to user:contractor@gmail.com on ${where(f)}: gmail.com is not among the allowed domains.`,
    evidence: { scope: 'service', member: 'user:contractor@gmail.com', role: 'roles/run.developer', domain: 'gmail.com', memberKind: 'user', source: 'difference from the last known policy' },
    unknown: [],
    methodName: 'google.cloud.run.v2.Services.SetIamPolicy',
  }),
  'code-loading-env': (f) => {
    // The value is the deployer's own text: hostile-input tests put theirs there through the justification.
    const value = `app/NODE_OPTIONS=--require /mnt/uploads/${f.justification}`;
    return {
      ...base('code-loading-env', f, [`${f.project}/${f.location}/${f.service}`, 'code-loading-env', 'app/NODE_OPTIONS#Zm9vYmFyZm9vYmFyZm9vYmFy', f.eventTime]),
      severity: 'MEDIUM',
      title: 'Environment variable that loads code set',
      summary:
        `${f.principal} deployed ${where(f)} and changed app/NODE_OPTIONS, a variable that makes its runtime load code: ` +
        'the service now loads code named in its environment, not built into its image.',
      evidence: { variables: ['app/NODE_OPTIONS'], values: [value], changed: ['app/NODE_OPTIONS'], binaryAuthorizationEnforced: false, operation: 'replace' },
      unknown: [],
      methodName: 'google.cloud.run.v1.Services.ReplaceService',
    };
  },
};

/** A realistic finding for `rule`; `facts` change what it is built from, `overrides` patch the result. */
export function makeFinding(rule: TestRule, facts: Partial<FindingFacts> = {}, overrides: Partial<Finding> = {}): Finding {
  return { ...BUILDERS[rule]({ ...DEFAULT_FACTS, ...facts }), ...overrides };
}

export const DEFAULT_RESOLUTION: Resolution = {
  time: '2024-05-14T02:41:55.5Z',
  principal: 'bob@acme.com',
  reason: 'allUsers no longer holds roles/run.invoker on the service',
  logName: 'projects/acme-prod/logs/cloudaudit.googleapis.com%2Factivity',
  insertId: '7q2m4ls0d1c9',
};

/** The resolution of `finding`: the same finding (same id), marked resolved. */
export function resolutionOf(finding: Finding, resolution: Partial<Resolution> = {}): Finding {
  return { ...finding, status: 'resolved', resolution: { ...DEFAULT_RESOLUTION, ...resolution } };
}
