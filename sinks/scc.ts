// Security Command Center (API v2) through the official `@google-cloud/security-center` v2 client over gRPC.
//
// A finding is upserted with `updateFinding` (no field mask: every mutable field and all source properties are
// replaced) under `SCC_SOURCE/locations/global/findings/<finding id>`: the id is deterministic (32 hex, within
// SCC's 1-32 alphanumerics), so redelivery and replay update the same SCC finding instead of adding one.
// A resolution upserts the finding too (so it exists even when the original never reached SCC) and then sets its
// state INACTIVE with `setFindingState`: in v2 `state` is output-only, that RPC is the only way to change it.
//
// Retries (outputs.md section 4): UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (quota: 1,000 writes/min),
// ABORTED, a server-side INTERNAL and ALREADY_EXISTS (an upsert that raced another write creating the same finding:
// the next one updates it), with backoff inside the deadline; so are errors without a gRPC code, which
// come from making the client or loading its credentials before any call (see getClient), and UNKNOWN, which is
// what grpc-js reports when the access token for a call cannot be fetched. Permanent: every other
// code (INVALID_ARGUMENT, NOT_FOUND for a missing source, PERMISSION_DENIED, UNAUTHENTICATED,
// FAILED_PRECONDITION), the INTERNAL grpc-js reports when it cannot serialize our request or parse the answer
// (a bug: the same bytes fail again), and JavaScript errors such as a TypeError (bugs too). Retrying is safe
// because the write is an upsert. The client's own retry is off for these methods (they are `non_idempotent` in
// its config), so ours is the only loop.
//
// Untrusted text (anyone who can deploy writes names, labels, arguments): the description, shown in the console
// and in SCC notifications, is made visible (see describe) and cut at 4,096 characters; every source property
// string at 4,096 too (the whole value stays in the audit entry that externalUri opens). SCC documents no limit
// per field, but counts 500 MB of findings uploads a day, and every upsert sends the whole finding again. The
// resource name is sent exactly as it is whenever it can name a real resource (see sccResourceName).
//
// The client library is heavy (~0.3 s to import): it is imported only when the first delivery needs it, so this
// module stays cheap for the Slack sink and the CLI, which use its naming helpers.
//
// Roles: the notify function needs roles/securitycenter.findingsEditor on the organization; creating the source
// (`runwatch scc create-source`, once) needs roles/securitycenter.sourcesEditor.
import type { protos, v2 } from '@google-cloud/security-center';
import { wideIamResource, type EvidenceValue, type Finding } from '../functions/findings/finding.js';
import { isResolution, messageOf, retryWithinDeadline, systemClock, type RetryClock, type RetryPolicy } from './deliver.js';
import type { DeliveryContext, DeliveryResult, Sink } from './sink.js';
import { GRPC_STATUS, grpcCode, parseGrpcEndpoint, type GrpcEndpoint } from '../functions/grpcEndpoint.js';
import { consoleUrl, unknownFactsLine, wellFormed } from './text.js';
import { truncatePlain, visibleText } from '../functions/untrustedText.js';

type SccFinding = protos.google.cloud.securitycenter.v2.IFinding;
type ProtoValue = protos.google.protobuf.IValue;
type SccClient = v2.SecurityCenterClient;
type SccClientOptions = NonNullable<ConstructorParameters<typeof v2.SecurityCenterClient>[0]>;
type FindingClass = 'THREAT' | 'VULNERABILITY' | 'MISCONFIGURATION' | 'OBSERVATION';

/** Without data residency, SCC v2 findings live in location `global`. */
const SCC_LOCATION = 'global';

/** The description, and each string of the source properties: a few times any real one, cut with `…`. */
const DESCRIPTION_MAX = 4096;
const PROPERTY_STRING_MAX = 4096;
/** A real Cloud Run full resource name is under 200 characters. */
const RESOURCE_NAME_MAX = 1024;
/** A longer link is left out, not cut (a cut URL opens another page); real ones are a few hundred characters. */
const EXTERNAL_URI_MAX = 2048;
/** Keys of structs inside the source properties (label keys, evidence keys). */
const PROPERTY_KEY_MAX = 256;

const SOURCE_NAME = /^organizations\/(\d+)\/sources\/(\d+)$/;

/** The organization id and the source name from `SCC_SOURCE`; undefined when it is not `organizations/O/sources/S`. */
export function parseSccSource(value: string): { readonly organization: string; readonly source: string } | undefined {
  const match = SOURCE_NAME.exec(value.trim());
  return match?.[1] ? { organization: match[1], source: match[0] } : undefined;
}

export function sccFindingName(source: string, findingId: string): string {
  return `${source}/locations/${SCC_LOCATION}/findings/${findingId}`;
}

/** The finding in the Cloud Console (the v2 findings page, selected by name). Built only from validated parts. */
export function sccConsoleUrl(source: string, findingId: string): string | undefined {
  const parsed = parseSccSource(source);
  if (!parsed || !/^[A-Za-z0-9]{1,32}$/.test(findingId)) return undefined;
  const name = encodeURIComponent(sccFindingName(parsed.source, findingId));
  return `https://console.cloud.google.com/security/command-center/findingsv2;name=${name}?organizationId=${parsed.organization}`;
}

/** `off-window-deploy` -> `CLOUD_RUN_OFF_WINDOW_DEPLOY`. Category is immutable in SCC, so it follows the rule id. */
export function sccCategory(rule: string): string {
  return `CLOUD_RUN_${rule.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
}

/**
 * Why each class: a public service is a configuration that exposes it (MISCONFIGURATION); code from a repository
 * the service never used may be supply-chain tampering (THREAT); a deploy outside the window and a changed runtime
 * identity are changes worth a look that are not wrong in themselves (OBSERVATION); a breakglass deploy runs an
 * image no policy checked, a control switched off (MISCONFIGURATION); ingress opened to the internet exposes the service
 * past its network perimeter, and a secret in a plain environment variable is readable by every viewer
 * (MISCONFIGURATION). A deploy by someone outside the approved deployers skipped the pipeline, which is worth a look
 * and not wrong in itself (OBSERVATION). Outbound traffic taken out of the VPC leaves its controls behind
 * (MISCONFIGURATION), and so does a service IAP no longer guards, or one reachable past its load balancer again. A
 * revision whose environment loads code its image did not run is how code is slipped past image controls (THREAT). A refused attempt to open a service changed nothing and is worth a look (OBSERVATION). A role held outside the organization's domains is what Security Health Analytics reports as NON_ORG_IAM_MEMBER, a MISCONFIGURATION. Rules
 * added later start as OBSERVATION until someone decides otherwise.
 */
const FINDING_CLASS: Readonly<Record<string, FindingClass>> = {
  'public-invoker-grant': 'MISCONFIGURATION',
  'new-image-repository': 'THREAT',
  'off-window-deploy': 'OBSERVATION',
  'service-account-change': 'OBSERVATION',
  'binary-authorization-bypass': 'MISCONFIGURATION',
  'ingress-opened': 'MISCONFIGURATION',
  'plaintext-secret-env': 'MISCONFIGURATION',
  'unapproved-deployer': 'OBSERVATION',
  'vpc-egress-bypass': 'MISCONFIGURATION',
  'public-invoker-attempt': 'OBSERVATION',
  'job-run-overrides': 'OBSERVATION',
  'iap-disabled': 'MISCONFIGURATION',
  'default-url-enabled': 'MISCONFIGURATION',
  'code-loading-env': 'THREAT',
  'external-member-grant': 'MISCONFIGURATION',
};

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
function nextStepsOf(finding: Finding): string {
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

/** The SCC finding for one runwatch finding (resolutions included: same content, resolution facts added). Pure. */
export function renderScc(finding: Finding, source: string): SccFinding {
  const resolution = finding.resolution;
  return {
    name: sccFindingName(source, finding.id),
    resourceName: sccResourceName(finding.resourceName),
    category: sccCategory(finding.rule),
    findingClass: FINDING_CLASS[finding.rule] ?? 'OBSERVATION',
    severity: finding.severity,
    // event_time is "when the event took place or the finding was updated": the resolving change, once there is one.
    eventTime: toTimestamp(resolution?.time ?? finding.eventTime),
    // "Either empty or a well formed URL" (finding.proto): the finding's link, checked and percent-encoded, or none.
    externalUri: consoleUrl(finding.links.logEntry, EXTERNAL_URI_MAX) ?? '',
    description: describe(finding),
    nextSteps: nextStepsOf(finding),
    sourceProperties: sourceProperties(finding),
  };
}

/**
 * resource_name ties the finding to its asset (the console's resource view, Cloud Asset Inventory, mute rules and
 * filters on the resource), so it must be the exact full resource name: a real one goes out unchanged. Project ids,
 * locations and Cloud Run names hold only lowercase letters, digits and hyphens, and the whole name is under 200
 * characters: one with a control, bidi or invisible character, or over 1,024 characters, names no asset, so there
 * is nothing to match exactly, and it is shown as written instead (U+FFFD for each such character, cut with `…`).
 */
export function sccResourceName(resourceName: string): string {
  return truncatePlain(visibleText(resourceName), RESOURCE_NAME_MAX);
}

function describe(finding: Finding): string {
  const unknownLine = unknownFactsLine(finding.unknown);
  const unknown = unknownLine ? ` ${unknownLine}.` : '';
  // A resolution first: a long summary (names and labels anyone who can deploy writes) is what gets cut, not that and
  // why the finding closed.
  const resolved = finding.resolution ? `Resolved at ${finding.resolution.time} by ${finding.resolution.principal}: ${finding.resolution.reason}. ` : '';
  // Untrusted text shown as the finding's description in the console and in notifications: what breaks a line,
  // hides or turns text around becomes U+FFFD, as in Slack and PagerDuty (lone surrogates too, so it is UTF-8).
  // sourceProperties keep the values as the entry had them (toValue: only made well formed), as evidence.
  return truncatePlain(visibleText(`${resolved}${finding.summary}${unknown}`), DESCRIPTION_MAX);
}

function sourceProperties(finding: Finding): Record<string, ProtoValue> {
  const p = finding.provenance;
  const r = finding.resolution;
  const props: Record<string, EvidenceValue | Readonly<Record<string, EvidenceValue>> | undefined> = {
    rule: finding.rule,
    principal: finding.principal,
    delegationChain: finding.delegationChain?.length ? finding.delegationChain : undefined,
    project: finding.project,
    location: finding.location,
    service: finding.service,
    resourceType: finding.resourceType,
    // Absent facts are left out rather than faked; `notInAuditEntry` names what the entry did not say.
    revision: finding.revision,
    commit: p.commit,
    pipeline: p.pipeline,
    evidence: finding.evidence,
    labels: Object.keys(finding.labels).length ? finding.labels : undefined,
    notInAuditEntry: finding.unknown.length ? finding.unknown : undefined,
    methodName: finding.methodName,
    logName: finding.logName,
    insertId: finding.insertId,
    resolvedAt: r?.time,
    resolvedBy: r?.principal,
    resolutionReason: r?.reason,
  };
  const out: Record<string, ProtoValue> = {};
  for (const [key, value] of Object.entries(props)) if (value !== undefined) out[key] = toValue(value);
  return out;
}

type Plain = EvidenceValue | undefined | readonly Plain[] | { readonly [key: string]: Plain };

/**
 * JSON-ish value -> google.protobuf.Value (plain JSON is rejected by the client's serializer). Strings and keys are
 * made well formed (a lone surrogate would go out as bytes that are not UTF-8, and SCC would refuse the finding)
 * and cut, never inside a surrogate pair: strings at 4,096 characters, keys at 256.
 */
export function toValue(value: Plain): ProtoValue {
  if (value === null || value === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'string') return { stringValue: truncatePlain(wellFormed(value), PROPERTY_STRING_MAX) };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') return Number.isFinite(value) ? { numberValue: value } : { stringValue: String(value) };
  if (isList(value)) return { listValue: { values: value.map(toValue) } };
  const fields: Record<string, ProtoValue> = {};
  for (const [key, item] of Object.entries(value)) fields[truncatePlain(wellFormed(key), PROPERTY_KEY_MAX)] = toValue(item);
  return { structValue: { fields } };
}

function isList(value: Plain): value is readonly Plain[] {
  return Array.isArray(value);
}

const ISO = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** ISO 8601 with up to nanosecond precision -> {seconds, nanos}; a Date would be serialized as an empty Timestamp. */
export function toTimestamp(iso: string): { seconds: number; nanos: number } {
  const match = ISO.exec(iso);
  const ms = match ? Date.parse(`${match[1]}${match[3]}`) : Number.NaN;
  if (!match || Number.isNaN(ms)) throw new Error(`not an ISO 8601 timestamp: ${JSON.stringify(iso)}`);
  return { seconds: Math.floor(ms / 1000), nanos: Number((match[2] ?? '').padEnd(9, '0')) };
}

// ---------------------------------------------------------------------------------------------------------------
// Client

export type SccEndpoint = GrpcEndpoint;

/** `SCC_API_ENDPOINT` as `host:port` (`[::1]:port` for IPv6, port 443 when absent). */
export function parseSccEndpoint(value: string): SccEndpoint {
  return parseGrpcEndpoint(value, 'SCC_API_ENDPOINT');
}

/**
 * The v2 client. Default: Google's endpoint with Application Default Credentials. With an endpoint (a regional
 * endpoint, or the local test server): that host; loopback hosts get insecure channel credentials, which gax uses
 * as they are, and an explicit universe domain, which stops the ADC / metadata-server probe it otherwise makes.
 */
export async function createSccClient(endpoint?: SccEndpoint): Promise<SccClient> {
  const { v2: scc } = await import('@google-cloud/security-center');
  if (!endpoint) return new scc.SecurityCenterClient();
  const options: SccClientOptions = { apiEndpoint: endpoint.host, port: endpoint.port, universeDomain: 'googleapis.com' };
  if (endpoint.insecure) {
    // Must be the grpc-js copy google-gax uses (npm dedupes it); a second copy fails the credentials type check.
    const grpc = await import('@grpc/grpc-js');
    options.sslCreds = grpc.credentials.createInsecure();
  }
  return new scc.SecurityCenterClient(options);
}

// ---------------------------------------------------------------------------------------------------------------
// Sink

const RETRYABLE_CODES: ReadonlySet<number> = new Set([
  // grpc-js's own code for a failure it cannot name: chiefly an access token it could not fetch for the call
  // ("Getting metadata from plugin failed with error: ...": the metadata server timed out or answered 5xx, nothing
  // reached SCC), and an HTTP status from a proxy or front end that has no gRPC meaning (500). Transient; the
  // upsert is idempotent, and a cause that persists still ends on the dead-letter topic (max_delivery_attempts).
  GRPC_STATUS.UNKNOWN,
  // UpdateFinding creates a finding it does not find: two writes creating the same one at once (a redelivery whose
  // claim ran out while the first write was on its way, a replay to the sinks beside the live pipeline) leave one
  // answered ALREADY_EXISTS. The finding exists now, so the next upsert updates it (and a resolution then sets it
  // INACTIVE); permanent, it was dead-lettered and a resolved finding stayed ACTIVE.
  GRPC_STATUS.ALREADY_EXISTS,
  GRPC_STATUS.DEADLINE_EXCEEDED,
  GRPC_STATUS.RESOURCE_EXHAUSTED,
  GRPC_STATUS.ABORTED,
  GRPC_STATUS.INTERNAL,
  GRPC_STATUS.UNAVAILABLE,
]);

/** The details grpc-js gives its own INTERNAL when our request or the answer does not fit the proto. */
const CLIENT_SIDE_INTERNAL = /^(Request message serialization failure|Response message parsing error)\b/;

/** Errors of the language itself: a bug in this code or the client library, never fixed by waiting. */
const BUG_ERRORS: readonly (new (...args: never[]) => Error)[] = [TypeError, RangeError, ReferenceError, SyntaxError];

const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 4, initialDelayMs: 250, maxDelayMs: 4_000, attemptTimeoutMs: 10_000, minAttemptMs: 250 };

export interface SccSinkOptions {
  /** `organizations/O/sources/S` (SCC_SOURCE). */
  readonly source: string;
  readonly endpoint?: SccEndpoint;
  readonly retry?: Partial<RetryPolicy>;
  readonly clock?: RetryClock;
  /** Makes the client (default: createSccClient); tests make a first creation fail. */
  readonly createClient?: (endpoint?: SccEndpoint) => Promise<SccClient>;
}

export class SccSink implements Sink {
  readonly name = 'scc';
  private readonly policy: RetryPolicy;
  private readonly clock: RetryClock;
  private client: Promise<SccClient> | undefined;

  constructor(private readonly options: SccSinkOptions) {
    if (!parseSccSource(options.source)) throw new Error('SCC_SOURCE must look like organizations/ORGANIZATION_ID/sources/SOURCE_ID');
    this.policy = { ...DEFAULT_RETRY, ...options.retry };
    this.clock = options.clock ?? systemClock;
  }

  async deliver(finding: Finding, context: DeliveryContext): Promise<DeliveryResult> {
    let request: SccFinding;
    try {
      request = renderScc(finding, this.options.source);
    } catch (error) {
      return { status: 'failed', retryable: false, reason: `cannot build the SCC finding: ${messageOf(error)}` };
    }
    const resolve = isResolution(finding);
    return retryWithinDeadline((timeoutMs) => this.attempt(request, resolve, timeoutMs), context.deadlineMs, this.policy, this.clock);
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    // A client that was never made has nothing to close.
    if (client) await client.then((c) => c.close(), () => undefined);
  }

  private async attempt(request: SccFinding, resolve: boolean, timeoutMs: number): Promise<DeliveryResult> {
    const until = this.clock.now() + timeoutMs;
    const name = request.name ?? '';
    try {
      const client = await this.getClient();
      const [saved] = await client.updateFinding({ finding: request }, { timeout: timeoutMs });
      if (resolve) await client.setFindingState({ name, state: 'INACTIVE' }, { timeout: Math.max(1, until - this.clock.now()) });
      return { status: 'delivered', ref: saved.name || name };
    } catch (error) {
      return classifySccError(error);
    }
  }

  private getClient(): Promise<SccClient> {
    if (!this.client) {
      const created = (this.options.createClient ?? createSccClient)(this.options.endpoint);
      this.client = created;
      // A failed creation is not kept: the next delivery tries again instead of failing for the instance's life.
      created.catch(() => {
        if (this.client === created) this.client = undefined;
      });
    }
    return this.client;
  }
}

export function classifySccError(error: unknown): DeliveryResult {
  return { status: 'failed', retryable: isRetryableSccError(error), reason: `SCC call failed: ${messageOf(error)}` };
}

function isRetryableSccError(error: unknown): boolean {
  const code = grpcCode(error);
  if (code === undefined) return !BUG_ERRORS.some((type) => error instanceof type);
  if (code === GRPC_STATUS.INTERNAL) {
    const details = (error as { details?: unknown }).details;
    return !CLIENT_SIDE_INTERNAL.test(typeof details === 'string' ? details : '');
  }
  return RETRYABLE_CODES.has(code);
}

// ---------------------------------------------------------------------------------------------------------------
// Setup: the one-shot source creation behind `runwatch scc create-source`. Not idempotent on SCC's side (every
// call makes a new source), which is why it is a manual setup step and never runs in the functions.

export interface CreateSourceOptions {
  readonly description?: string;
  /** SCC_API_ENDPOINT, for tests and regional endpoints. */
  readonly endpoint?: SccEndpoint;
}

/** Creates a custom source under the organization (`123` or `organizations/123`) and returns its name. */
export async function createSccSource(organization: string, displayName: string, options: CreateSourceOptions = {}): Promise<string> {
  const parent = normalizeOrganization(organization);
  if (displayName.length < 1 || displayName.length > 64) throw new Error('the display name must be 1 to 64 characters');
  if ((options.description?.length ?? 0) > 1024) throw new Error('the description must be at most 1,024 characters');
  const client = await createSccClient(options.endpoint);
  try {
    const [source] = await client.createSource({ parent, source: { displayName, ...(options.description ? { description: options.description } : {}) } });
    if (!source.name) throw new Error('SCC returned a source without a name');
    return source.name;
  } finally {
    await client.close();
  }
}

export function normalizeOrganization(value: string): string {
  const match = /^(?:organizations\/)?(\d+)$/.exec(value.trim());
  if (!match) throw new Error(`not an organization id: ${JSON.stringify(value)} (expected 123456789012 or organizations/123456789012)`);
  return `organizations/${match[1]}`;
}
