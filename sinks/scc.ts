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
import type { EvidenceValue, Finding } from '../functions/findings/finding.js';
import { nextStepsOf } from './nextSteps.js';
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
