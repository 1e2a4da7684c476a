// Turns one Cloud Audit Log entry into a normalized Change, or says why it is not one.
// Field paths and their evidence: ../shared/facts/audit-log-fields.md (sections 1, 2 and 5). Real entries are
// messy, so every fact is optional here; the detectors say "unknown" where one is missing.
import {
  defaultComputeServiceAccount,
  resourceNounOf,
  runtimeServiceAccountFromEmail,
  type BinaryAuthorization,
  type Change,
  type Client,
  type DeployChange,
  type DeployOperation,
  type IamBinding,
  type IamPolicyChange,
  type IamScope,
  type CodeSource,
  type ImageRef,
  type Ingress,
  type VpcEgress,
  type CodeLoadingVar,
  type PlainEnvVar,
  type PolicyDelta,
  type Principal,
  type Refusal,
  type ResourceType,
  type RuntimeServiceAccount,
  type ServiceRef,
  type TrafficShare,
  type TrafficSplit,
} from '../model/change.js';
import { projectOfLogName, readEnvelope, type Envelope } from './entry.js';
import { imagesOf, imagesOrAnnotated } from './image.js';
import { annotatedSourcesOf, sourcesOf } from './source.js';
import { codeLoadingEnvOf, plainEnvOf } from './env.js';
import { v1VpcAccess, v2VpcAccess, vpcDestinationText, vpcFacts, type VpcAccess, type WrittenVpcDestination } from './vpc.js';
import { asArray, asBoolean, asNumber, asObject, asString, at, field, numeric, stringIn, userLabels, type JsonObject } from './json.js';
import { binaryAuthorizationOf, boundedText, maskedTemplateFingerprint, templateFingerprint, templatePartsOf, v1BinaryAuthorization } from './template.js';
import { generationOfRevisionName, readRevisionObservation, type RevisionObservation } from './systemEvent.js';
import { cutText, truncatePlain } from '../untrustedText.js';
import { isPublicInvokerBinding } from '../model/iam.js';
import type { RunwatchConfig } from '../config/types.js';
import { isProjectIamMethod } from '../detectors/methods.js';
import { containerOverridesOf, v1JobFacts, v2JobFacts } from './job.js';
import { otherRunResource, runResourceTarget } from './resource.js';

/** Why an entry produced no change. Counted and reported by replay and the functions. */
export type SkipReason =
  | 'not-audit-log'
  | 'not-cloud-run'
  | 'read-only'
  | 'failed-call'
  | 'permission-denied'
  | 'managed-by-cloud-functions'
  | 'cloud-run-job'
  | 'cloud-run-worker-pool'
  | 'system-event-other'
  | 'unsupported-method'
  | 'dry-run'
  | 'no-service';

export type ParseResult =
  | { readonly kind: 'change'; readonly change: Change }
  | { readonly kind: 'observation'; readonly observation: RevisionObservation }
  | { readonly kind: 'skipped'; readonly reason: SkipReason; readonly detail?: string }
  | { readonly kind: 'malformed'; readonly reason: string };

export interface NormalizeOptions {
  /** Run the detectors on Cloud Run services managed by Cloud Functions (gen2) too. */
  readonly watchCloudFunctions?: boolean;
  /**
   * Which plain environment variables hold secrets (plaintext-secret-env's name globs, any letter case): judged here,
   * where the values are, so that only the names of those go further. Absent: variables are not read.
   */
  readonly secretEnv?: SecretEnvNames;
  /**
   * Whose values are hidden in a job run's `NAME=VALUE` arguments (plaintext-secret-env's name globs, whether or not
   * that rule is on: the arguments go to every sink). Absent: secretEnv's.
   */
  readonly secretArgs?: SecretEnvNames;
}

/**
 * What a template's variables are read with: `secretEnv` says which are reported as secrets; the values shown
 * (code-loading-env's) hide secrets by `secretArgs`, whether or not plaintext-secret-env is on, as a job run's
 * arguments do: they go to every sink.
 */
export type EnvSecrets = Pick<NormalizeOptions, 'secretEnv' | 'secretArgs'>;

/** Plain data (it travels to worker threads): see NormalizeOptions.secretEnv. */
export interface SecretEnvNames {
  readonly namePatterns: readonly string[];
  readonly allowNames: readonly string[];
}

/** The normalization a config asks for. */
export function normalizeOptionsOf(config: RunwatchConfig): NormalizeOptions {
  const secrets = config.rules['plaintext-secret-env'];
  const names: SecretEnvNames = { namePatterns: secrets.namePatterns, allowNames: secrets.allowNames };
  return {
    watchCloudFunctions: config.cloudFunctions.watch,
    ...(secrets.enabled ? { secretEnv: names } : {}),
    secretArgs: names,
  };
}

const RUN = 'run.googleapis.com';

export const CLIENT_TEXT_MAX_LENGTH = 120;
const CRM = 'cloudresourcemanager.googleapis.com';

export function parseEntry(raw: unknown, options: NormalizeOptions = {}): ParseResult {
  const envelopeResult = readEnvelope(raw);
  if (!envelopeResult.ok) return { kind: 'malformed', reason: envelopeResult.reason };
  return normalizeEnvelope(envelopeResult.envelope, options);
}

export function normalizeEnvelope(env: Envelope, options: NormalizeOptions = {}): ParseResult {
  const pp = env.payload;
  if (!pp) return { kind: 'skipped', reason: 'not-audit-log', detail: logIdOf(env.key.logName) };
  const serviceName = asString(pp['serviceName']);
  const method = asString(pp['methodName']) ?? '';

  if (env.logKind === 'system_event') {
    if (serviceName !== RUN && env.entry['resource'] && at(env.entry, 'resource', 'type') !== 'cloud_run_revision') {
      return { kind: 'skipped', reason: 'not-cloud-run', detail: serviceName ?? 'system event' };
    }
    // A job's system events (its readiness, its executions') carry nothing its admin write did not; a worker pool's
    // revision events are not read (their shape is not known: its writes are judged at once). After the check above:
    // other products have `Jobs` APIs and `.../jobs/J` resources too.
    const other = otherRunResource(method, env.entry, asString(pp['resourceName']));
    if (other) return { kind: 'skipped', reason: OTHER_RESOURCE_SKIP[other], detail: method || `${resourceNounOf(other)} system event` };
    const observation = readRevisionObservation(env, options);
    return observation ? { kind: 'observation', observation } : { kind: 'skipped', reason: 'system-event-other' };
  }
  // A job run is a Data Access entry (DATA_WRITE): read for the overrides it may carry.
  if (env.logKind === 'data_access' && serviceName === RUN && /\.Jobs\.RunJob$/.test(method)) return jobRunEntry(env, pp, method, options.secretArgs ?? options.secretEnv);
  if (env.logKind !== 'activity') return { kind: 'skipped', reason: 'read-only', detail: env.logKind };

  if (serviceName === CRM) {
    if (!isProjectIamMethod(method)) return { kind: 'skipped', reason: 'not-cloud-run', detail: `${CRM} ${method}` };
    const where = wideIamTarget(env, pp);
    const failure = failureOf(pp, undefined, env.entry['severity']);
    if (failure) return refusedIamAttempt(env, pp, failure, where) ?? failure;
    return 'kind' in where ? where : { kind: 'change', change: iamChange(env, pp, where.scope, where.target) };
  }
  if (serviceName !== RUN) return { kind: 'skipped', reason: 'not-cloud-run', detail: serviceName ?? 'no serviceName' };

  if (method.includes('InternalServices.')) {
    if (!options.watchCloudFunctions) return { kind: 'skipped', reason: 'managed-by-cloud-functions', detail: method };
  } else {
    const other = otherRunResource(method, env.entry, asString(pp['resourceName']));
    if (other === 'job') return jobEntry(env, pp, method, options);
    if (other === 'worker-pool') return workerPoolEntry(env, pp, method, options);
  }
  const api: 'v1' | 'v2' = method.startsWith('google.cloud.run.v2.') ? 'v2' : 'v1';
  const verb = method.slice(method.lastIndexOf('.') + 1);
  const failure = failureOf(pp, method, env.entry['severity']);
  if (failure) return (isDryRun(pp) ? undefined : refusedRunAttempt(env, pp, failure, api, verb)) ?? failure;
  if (isDryRun(pp)) return { kind: 'skipped', reason: 'dry-run', detail: method };

  switch (verb) {
    case 'CreateService':
    case 'CreateInternalService':
      return deployChange(env, pp, api, 'create', options);
    case 'ReplaceService':
    case 'ReplaceInternalService':
      return deployChange(env, pp, api, 'replace', options);
    case 'UpdateService':
      return deployChange(env, pp, api, 'update', options);
    case 'SetIamPolicy': {
      const where = serviceIamTarget(env, pp);
      return 'kind' in where ? where : { kind: 'change', change: iamChange(env, pp, 'service', where.target) };
    }
    case 'DeleteService': {
      const target = serviceTarget(env, pp, undefined);
      if (!target) return { kind: 'skipped', reason: 'no-service', detail: method };
      return { kind: 'change', change: { kind: 'delete', target, ...common(env, pp) } };
    }
    default:
      if (/^(Get|List|Test)/.test(verb)) return { kind: 'skipped', reason: 'read-only', detail: method };
      return { kind: 'skipped', reason: 'unsupported-method', detail: method || 'no methodName' };
  }
}

/**
 * A Cloud Run job's admin write: its create, replace (v1) or update (v2) is a deploy of the job, its delete a delete,
 * its SetIamPolicy an IAM change (runResourceIamEntry). Its executions are not read.
 */
function jobEntry(env: Envelope, pp: JsonObject, method: string, options: NormalizeOptions): ParseResult {
  if (isSetIamPolicy(method)) return runResourceIamEntry(env, pp, method, 'job');
  const write = adminWrite(env, pp, method, JOB_VERBS, 'cloud-run-job', '.Jobs.');
  if ('kind' in write) return write;
  const { api, operation, logged } = write;
  if (operation === 'delete') return deleteOf(env, pp, method, runResourceTarget(env, pp, 'job', undefined));
  // The completion entry of a v2 operation: the same write, logged again without its facts (a job waits for no
  // rollout that it could complete).
  if (logged?.completion) return { kind: 'skipped', reason: 'cloud-run-job', detail: `${method} (operation completion)` };
  const facts = api === 'v1' ? v1JobFacts(pp, options) : v2JobFacts(pp, options);
  const target = runResourceTarget(env, pp, 'job', asObject(at(pp, 'request', 'job')) ?? asObject(pp['response']));
  if (!target) return { kind: 'skipped', reason: 'no-service', detail: method };
  // Every job write sets the whole template (a v1 PUT; v2 takes no update mask): none logged leaves it unknown.
  return { kind: 'change', change: deployOf(env, pp, api, operation, target, facts, true, logged) };
}

const JOB_VERBS: Readonly<Record<string, DeployOperation | 'delete'>> = { CreateJob: 'create', ReplaceJob: 'replace', UpdateJob: 'update', DeleteJob: 'delete' };
const WORKER_POOL_VERBS: Readonly<Record<string, DeployOperation | 'delete'>> = {
  CreateWorkerPool: 'create',
  ReplaceWorkerPool: 'replace',
  UpdateWorkerPool: 'update',
  DeleteWorkerPool: 'delete',
};

/** How each other kind of resource's calls are skipped when they are no write of it (ResourceType). */
const OTHER_RESOURCE_SKIP: Readonly<Record<ResourceType, SkipReason>> = { job: 'cloud-run-job', 'worker-pool': 'cloud-run-worker-pool' };

/**
 * A job's or worker pool's admin call as a write: its API version, operation (by the method's verb among `verbs`,
 * only when the method names `service`, if given) and logged operation; or why it is no change: a read, another call
 * (`other`), a failed call, a dry run.
 */
function adminWrite(
  env: Envelope,
  pp: JsonObject,
  method: string,
  verbs: Readonly<Record<string, DeployOperation | 'delete'>>,
  other: SkipReason,
  service?: string,
): { readonly api: 'v1' | 'v2'; readonly operation: DeployOperation | 'delete'; readonly logged: ReturnType<typeof loggedOperation> } | ParseResult {
  const api: 'v1' | 'v2' = method.startsWith('google.cloud.run.v2.') ? 'v2' : 'v1';
  const verb = method.slice(method.lastIndexOf('.') + 1);
  const operation = Object.hasOwn(verbs, verb) && (service === undefined || method.includes(service)) ? verbs[verb] : undefined;
  if (!operation) {
    if (/^(Get|List)/.test(verb)) return { kind: 'skipped', reason: 'read-only', detail: method };
    return { kind: 'skipped', reason: other, detail: method || 'no methodName' };
  }
  const failure = failureOf(pp, method, env.entry['severity']);
  if (failure) return failure;
  if (isDryRun(pp)) return { kind: 'skipped', reason: 'dry-run', detail: method };
  return { api, operation, logged: api === 'v2' ? loggedOperation(env) : undefined };
}

function isSetIamPolicy(method: string): boolean {
  return method.endsWith('.SetIamPolicy');
}

/**
 * A job's or worker pool's SetIamPolicy: an IAM change of the resource, read as a service's (the policy as stored, else
 * the request's; a delta when logged). external-member-grant judges it; Cloud Run refuses the public on both, so a
 * refused attempt is no public-invoker-attempt: a failed call is skipped.
 */
function runResourceIamEntry(env: Envelope, pp: JsonObject, method: string, resourceType: ResourceType): ParseResult {
  const failure = failureOf(pp, method, env.entry['severity']);
  if (failure) return failure;
  const target = runResourceTarget(env, pp, resourceType, undefined);
  if (!target) return { kind: 'skipped', reason: 'no-service', detail: method };
  return { kind: 'change', change: iamChange(env, pp, 'service', target) };
}

/** The delete of `target`, or no change when the entry names none. */
function deleteOf(env: Envelope, pp: JsonObject, method: string, target: ServiceRef | undefined): ParseResult {
  return target ? { kind: 'change', change: { kind: 'delete', target, ...common(env, pp) } } : { kind: 'skipped', reason: 'no-service', detail: method };
}

/**
 * A job run (`Jobs.RunJob`, v1 or v2): a change only when it overrides its containers' arguments or environment
 * (`overrides.containerOverrides`), which runs the caller's choice under the job's runtime service account. A plain
 * run, or one overriding the task count or timeout only, runs the template as deployed (the deploy rules judged it).
 */
function jobRunEntry(env: Envelope, pp: JsonObject, method: string, secretEnv: SecretEnvNames | undefined): ParseResult {
  const failure = failureOf(pp, method, env.entry['severity']);
  if (failure) return failure;
  if (isDryRun(pp)) return { kind: 'skipped', reason: 'dry-run', detail: method };
  // The completion entry of the run's operation: the same run, logged again (its first entry was the run).
  if (loggedOperation(env)?.completion) return { kind: 'skipped', reason: 'cloud-run-job', detail: `${method} (operation completion)` };
  // v1: perhaps logged inside the body gcloud's client wraps it in (`runJobRequest`), as REST clients send it.
  const request = asObject(pp['request']);
  const overrides = asObject(field(request, 'overrides')) ?? asObject(field(asObject(field(request, 'runJobRequest')), 'overrides'));
  const containerOverrides = containerOverridesOf(overrides, secretEnv);
  if (containerOverrides.length === 0) return { kind: 'skipped', reason: 'cloud-run-job', detail: `${method} (no container overrides)` };
  const target = runResourceTarget(env, pp, 'job', undefined);
  if (!target) return { kind: 'skipped', reason: 'no-service', detail: method };
  const taskCount = asNumber(field(overrides, 'taskCount'));
  const timeoutSeconds = asNumber(field(overrides, 'timeoutSeconds')); // v1; v2 writes a Duration, `timeout`
  const timeout = asString(field(overrides, 'timeout')) ?? (timeoutSeconds !== undefined ? `${timeoutSeconds}s` : undefined);
  return {
    kind: 'change',
    change: { kind: 'job-run', target, containerOverrides, ...(taskCount !== undefined ? { taskCount } : {}), ...(timeout ? { timeout: truncatePlain(timeout, 40) } : {}), ...common(env, pp) },
  };
}

/**
 * A Cloud Run worker pool's admin write: its create, replace (v1) or update (v2) is a deploy of its revision template,
 * read as a service's is (the body under `workerPool`), its delete a delete. It takes no requests, so nothing of
 * ingress or the invoker check is read (its instance split is read as traffic: SPLIT_READINGS); its SetIamPolicy is
 * an IAM change (runResourceIamEntry: external-member-grant judges who is given a role on it). Judged at once, as a
 * job is: a worker pool's revision events are not read.
 */
function workerPoolEntry(env: Envelope, pp: JsonObject, method: string, options: NormalizeOptions): ParseResult {
  if (isSetIamPolicy(method)) return runResourceIamEntry(env, pp, method, 'worker-pool');
  const write = adminWrite(env, pp, method, WORKER_POOL_VERBS, 'cloud-run-worker-pool');
  if ('kind' in write) return write;
  const { api, operation, logged } = write;
  const body = asObject(field(asObject(pp['request']), 'workerPool'));
  if (operation === 'delete') return deleteOf(env, pp, method, runResourceTarget(env, pp, 'worker-pool', undefined));
  // The completion entry of a v2 operation: the same write, logged again without its facts (no rollout waits for it).
  if (logged?.completion) return { kind: 'skipped', reason: 'cloud-run-worker-pool', detail: `${method} (operation completion)` };
  const read = api === 'v1' ? v1Facts(pp, options, 'workerPool') : v2Facts(pp, options, operation === 'create', 'workerPool');
  // A v1 template logged without its containers (as console writes of services are) does not say what runs, nor
  // (unless it names one) who it runs as, and no system event will here: both unknown, and it counts as a deploy.
  // (Containers, not images: the deployer's `client.knative.dev/user-image` annotation names an image without them.)
  const containersLogged = asArray(at(read.knative, 'spec', 'template', 'spec', 'containers')).length > 0;
  const facts: DeployFacts = api === 'v1' && !containersLogged ? { ...read, templateFingerprint: undefined, serviceAccount: read.serviceAccount?.kind === 'explicit' ? read.serviceAccount : undefined } : read;
  const target = runResourceTarget(env, pp, 'worker-pool', body ?? asObject(pp['response']));
  if (!target) return { kind: 'skipped', reason: 'no-service', detail: method };
  // Nothing of a service's request path: a worker pool takes no requests. (Its revision, when the client named it, is
  // shown but never keys a finding: deployKey.)
  const change = deployOf(env, pp, api, operation, target, { ...facts, ...NO_REQUEST_PATH }, api === 'v1', logged);
  // A forced revision is a deploy of the same template: what a mutable tag points to may have changed.
  const request = asObject(pp['request']);
  const forced = request?.['forceNewRevision'] === true || request?.['force_new_revision'] === true;
  return { kind: 'change', change: forced ? { ...change, forcesRevision: true } : change };
}

function logIdOf(logName: string): string {
  return decodeURIComponent(logName.slice(logName.lastIndexOf('/') + 1)) || 'no logName';
}

/**
 * A call that only validated the request and changed nothing: v2 `validateOnly` (`validate_only`), v1 `dryRun`
 * (`all`). It must neither raise findings nor resolve them, nor enter the baseline. v1's `dryRun` is a free string
 * whose only supported value is `all` (Kubernetes writes `All`): any other is refused (a failed call) or not a dry
 * run, and the caller writes it, so `dryRun=false` must not hide a write that persisted.
 */
function isDryRun(pp: JsonObject): boolean {
  const request = asObject(pp['request']);
  if (!request) return false;
  if (request['validateOnly'] === true || request['validate_only'] === true) return true;
  const dryRun = request['dryRun'] ?? request['dry_run'];
  return typeof dryRun === 'string' ? dryRun.toLowerCase() === 'all' : dryRun === true;
}

/**
 * Failed calls are not changes: a non-zero status, or every authorization check denied. A status whose code cannot
 * be read leaves the outcome unknown: reported as malformed rather than taken for a success (which would raise
 * findings and move the baseline for a write that may have failed). The code is an int32, which protocol buffers'
 * JSON writes as a number and parsers also accept as a string of digits; a missing or null code (and status) is OK
 * (proto3 JSON leaves out a code of 0), unless the entry's severity says the call failed: Cloud Audit Logs write
 * failed admin calls at ERROR with their code, so ERROR (or worse) without one is a trimmed entry whose outcome
 * is unknown.
 */
function failureOf(pp: JsonObject, detail: string | undefined, severity: unknown): ParseResult | undefined {
  const status = pp['status'];
  let code: unknown;
  if (status !== undefined && status !== null) {
    const statusObject = asObject(status);
    if (!statusObject) return { kind: 'malformed', reason: 'protoPayload.status is not an object' };
    code = statusObject['code'];
    if (code !== undefined && code !== null) {
      const value = asNumber(code);
      if (value === undefined) return { kind: 'malformed', reason: 'protoPayload.status.code is not a number' };
      if (value !== 0) return skipped('failed-call', detail);
    }
  }
  const authz = asArray(pp['authorizationInfo']);
  if (authz.length > 0 && authz.every((a) => asObject(a)?.['granted'] === false)) return skipped('permission-denied', detail);
  // After the denial check: a denied call is known to have changed nothing, whatever its code says.
  if ((code === undefined || code === null) && typeof severity === 'string' && FAILURE_SEVERITIES.has(severity)) {
    return { kind: 'malformed', reason: `severity ${severity} without protoPayload.status.code: the outcome is unknown` };
  }
  return undefined;
}

/** LogSeverity names at which a call did not succeed (ERROR and above). */
const FAILURE_SEVERITIES: ReadonlySet<string> = new Set(['ERROR', 'CRITICAL', 'ALERT', 'EMERGENCY']);

/** A skip, with its detail only when there is one (results are compared as data). */
function skipped(reason: SkipReason, detail: string | undefined): Extract<ParseResult, { kind: 'skipped' }> {
  return detail === undefined ? { kind: 'skipped', reason } : { kind: 'skipped', reason, detail };
}

// ---------------------------------------------------------------------------------------------------------------
// Refused attempts

/**
 * The codes of a call a control refused, as gRPC names them: the caller lacked a permission (a deployer without
 * run.services.setIamPolicy turning the invoker check off), or a policy forbade it (Domain Restricted Sharing answers
 * `FAILED_PRECONDITION: One or more users named in the policy do not belong to a permitted customer`). Other failures
 * (a conflict, an invalid request, an outage) are retried or fixed by the caller and say nothing of intent.
 */
const REFUSALS: ReadonlyMap<number, Refusal['codeName']> = new Map([
  [7, 'PERMISSION_DENIED'],
  [9, 'FAILED_PRECONDITION'],
]);
/** A status message is Google's, but may quote the request: kept short, as untrusted text. */
export const REFUSAL_MESSAGE_MAX_LENGTH = 300;

/**
 * Why a failed call was refused, or undefined when it failed otherwise. Every check denied is PERMISSION_DENIED.
 * `aboveServices`: a project, folder or organization policy, where INVALID_ARGUMENT is a refusal too: Resource
 * Manager's setIamPolicy says "Project does not support allUsers and allAuthenticatedUsers as members", so asking
 * for them there is refused as an invalid argument (a service's policy takes them: there it says nothing of intent).
 */
function refusalOf(pp: JsonObject, failure: Extract<ParseResult, { kind: 'skipped' }>, aboveServices = false): Refusal | undefined {
  const status = asObject(pp['status']);
  const message = asString(status?.['message']);
  const code = failure.reason === 'permission-denied' ? 7 : asNumber(status?.['code']);
  const codeName = code === undefined ? undefined : code === 3 && aboveServices ? 'INVALID_ARGUMENT' : REFUSALS.get(code);
  if (!codeName) return undefined;
  return { code: code as Refusal['code'], codeName, ...(message ? { message: truncatePlain(message, REFUSAL_MESSAGE_MAX_LENGTH) } : {}) };
}

/** A refused SetIamPolicy whose requested policy granted the public an invoker role; else undefined. */
function refusedIamAttempt(env: Envelope, pp: JsonObject, failure: ParseResult, where: IamTarget): ParseResult | undefined {
  if (failure.kind !== 'skipped' || 'kind' in where) return undefined;
  const refusal = refusalOf(pp, failure, where.scope !== 'service');
  if (!refusal) return undefined;
  const publicInvokers = (requestedPolicy(asObject(pp['request'])) ?? []).filter(isPublicInvokerBinding);
  if (publicInvokers.length === 0) return undefined;
  return { kind: 'change', change: { kind: 'refused', attempt: 'iam-policy', scope: where.scope, target: where.target, refusal, publicInvokers, ...common(env, pp) } };
}

/** A refused Cloud Run write that would have opened a service: its IAM policy, or a deploy turning the invoker check off. */
function refusedRunAttempt(env: Envelope, pp: JsonObject, failure: ParseResult, api: 'v1' | 'v2', verb: string): ParseResult | undefined {
  if (verb === 'SetIamPolicy') return refusedIamAttempt(env, pp, failure, serviceIamTarget(env, pp));
  if (failure.kind !== 'skipped' || !DEPLOY_VERBS.has(verb)) return undefined;
  const refusal = refusalOf(pp, failure);
  if (!refusal) return undefined;
  // A failed write logs no response: what it asked for is its request. (Its environment variables are not judged.)
  const facts = api === 'v1' ? v1Facts(pp, {}) : v2Facts(pp, {});
  if (facts.invokerIamDisabled !== true) return undefined;
  const target = serviceTarget(env, pp, facts.knative);
  if (!target) return undefined;
  return {
    kind: 'change',
    change: { kind: 'refused', attempt: 'invoker-iam-disabled', scope: 'service', target, refusal, publicInvokers: [], ...common(env, pp, facts.annotations) },
  };
}

const DEPLOY_VERBS: ReadonlySet<string> = new Set(['CreateService', 'ReplaceService', 'UpdateService', 'CreateInternalService', 'ReplaceInternalService']);

/** The fields every change has; `annotations` are the service's, where the client names itself (v1 deploys). */
function common(env: Envelope, pp: JsonObject, annotations?: JsonObject): Pick<DeployChange, 'key' | 'time' | 'timeMs' | 'methodName' | 'principal' | 'client'> {
  return {
    key: env.key,
    time: env.time,
    timeMs: env.timeMs,
    methodName: asString(pp['methodName']) ?? '',
    principal: principalOf(pp),
    client: clientOf(pp, annotations),
  };
}

/**
 * The longest principal (and delegation link) kept whole. Real ones are far shorter (an email is at most 254
 * characters; a workload or workforce identity's principal://... name a few hundred), but the entry's text is what
 * the finding shows (principal, summary) and the baseline keeps: a forged one of 1 MiB made a finding of 2 MiB,
 * more than a Firestore document holds, and detect's invocation on the entry never returned (over 300 s on the
 * emulators, nothing logged), so every delivery ran until the function's timeout.
 * A longer one is cut (ending in `…`), so it matches no allowedDeployers pattern of a real principal.
 */
export const PRINCIPAL_MAX_LENGTH = 1_024;

function principalOf(pp: JsonObject): Principal | undefined {
  const auth = asObject(pp['authenticationInfo']);
  const id = boundedText(asString(auth?.['principalEmail']) ?? asString(auth?.['principalSubject']), PRINCIPAL_MAX_LENGTH);
  if (!id) return undefined;
  const chain: string[] = [];
  for (const item of asArray(auth?.['serviceAccountDelegationInfo'])) {
    // Google's principalSubject (`principal://.../workforcePools/...`) before the IdP's own `sub` claim, which may sit
    // beside it (audit_log.proto): a claim (an opaque user id at most IdPs) does not say the identity is a person.
    const link =
      asString(at(item, 'firstPartyPrincipal', 'principalEmail')) ??
      asString(at(item, 'principalSubject')) ??
      asString(at(item, 'thirdPartyPrincipal', 'thirdPartyClaims', 'sub'));
    if (link) chain.push(truncatePlain(link, PRINCIPAL_MAX_LENGTH));
  }
  return { id, delegationChain: chain };
}

function clientOf(pp: JsonObject, annotations: JsonObject | undefined): Client {
  const meta = asObject(pp['requestMetadata']);
  const fullUserAgent = asString(meta?.['callerSuppliedUserAgent']);
  // Kept short: findings show the client, not the whole user agent (which can be kilobytes of anyone's text). The
  // client is recognised on the whole of it: a marker can come after the first 160 characters.
  const userAgent = fullUserAgent === undefined ? undefined : cutText(fullUserAgent, 160);
  const callerIp = asString(meta?.['callerIp']) ?? asString(meta?.['callerIP']);
  const name = boundedText(stringIn(annotations, 'run.googleapis.com/client-name'), CLIENT_TEXT_MAX_LENGTH) ?? clientFromUserAgent(fullUserAgent);
  const version = boundedText(stringIn(annotations, 'run.googleapis.com/client-version'), CLIENT_TEXT_MAX_LENGTH);
  return { name, version, userAgent, callerIp };
}

function clientFromUserAgent(ua: string | undefined): string | undefined {
  if (!ua) return undefined;
  if (ua.startsWith('google-cloud-sdk')) return 'gcloud';
  if (/^Terraform\//.test(ua) || ua.includes('terraform-provider-google')) return 'terraform';
  if (ua.startsWith('FirebaseCLI/')) return 'firebase-cli';
  if (ua.startsWith('Mozilla/')) return 'browser';
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Target service

const SERVICE_PATH = /^(?:namespaces\/([^/]+)|projects\/([^/]+)\/locations\/([^/]+))\/services\/([^/]+)$/;

function serviceTarget(env: Envelope, pp: JsonObject, knative: JsonObject | undefined): ServiceRef | undefined {
  const labels = asObject(at(env.entry, 'resource', 'labels'));
  const resourceName = asString(pp['resourceName']) ?? '';
  const parsed = SERVICE_PATH.exec(resourceName) ?? SERVICE_PATH.exec(asString(at(pp, 'request', 'name')) ?? '');
  const requestService = asObject(at(pp, 'request', 'service'));
  const v2Name = SERVICE_PATH.exec(asString(requestService?.['name']) ?? '');
  const service =
    asString(labels?.['service_name']) ??
    parsed?.[4] ??
    v2Name?.[4] ??
    asString(at(requestService, 'metadata', 'name')) ??
    asString(at(pp, 'request', 'serviceId')) ??
    asString(at(pp, 'request', 'service_id'));
  const project =
    asString(labels?.['project_id']) ??
    parsed?.[1] ??
    parsed?.[2] ??
    v2Name?.[2] ??
    projectOfLogName(env.key.logName);
  if (!service || !project) return undefined;
  const location =
    asString(labels?.['location']) ??
    firstString(at(pp, 'resourceLocation', 'currentLocations')) ??
    parsed?.[3] ??
    v2Name?.[3] ??
    /^projects\/[^/]+\/locations\/([^/]+)$/.exec(asString(at(pp, 'request', 'parent')) ?? '')?.[1] ??
    asString(at(knative, 'metadata', 'labels', 'cloud.googleapis.com/location'));
  const projectNumber = numeric(at(knative, 'metadata', 'namespace')) ?? numeric(at(pp, 'response', 'metadata', 'namespace'));
  return { project, service, location, projectNumber };
}

function firstString(value: unknown): string | undefined {
  return asString(asArray(value)[0]);
}

// ---------------------------------------------------------------------------------------------------------------
// Deploys

function deployChange(env: Envelope, pp: JsonObject, api: 'v1' | 'v2', operation: DeployOperation, secrets: EnvSecrets): ParseResult {
  const logged = api === 'v2' ? loggedOperation(env) : undefined;
  // The completion entry of a v2 operation: who, when and which operation; the facts are the first entry's.
  const facts = api === 'v1' ? v1Facts(pp, secrets) : logged?.completion ? NO_FACTS : v2Facts(pp, secrets, operation === 'create');
  const target = serviceTarget(env, pp, facts.knative);
  if (!target) return { kind: 'skipped', reason: 'no-service', detail: asString(pp['methodName']) };
  // A v1 write (a Knative Service, a full PUT) always sets a template: none logged leaves it unknown.
  const change = deployOf(env, pp, api, operation, target, facts, api === 'v1', logged);
  return { kind: 'change', change };
}

/**
 * The deploy a write's facts make of `target`: the one shape services, jobs and worker pools share. `setsTemplate`:
 * the write sets a template whatever its entry logged (a full write), so none logged leaves the template unknown.
 */
function deployOf(
  env: Envelope,
  pp: JsonObject,
  api: 'v1' | 'v2',
  operation: DeployOperation,
  target: ServiceRef,
  facts: DeployFacts,
  setsTemplate: boolean,
  logged: { readonly id?: string; readonly completion?: true } | undefined,
): DeployChange {
  let serviceAccount = facts.serviceAccount;
  if (serviceAccount?.kind === 'default-compute' && !serviceAccount.email) serviceAccount = defaultComputeServiceAccount(target.projectNumber);
  return {
    kind: 'deploy',
    api,
    operation,
    ...common(env, pp, facts.annotations),
    target,
    images: facts.images,
    // Only where the write names some: an image-only deploy's change is as it always was.
    ...(facts.sources && facts.sources.length > 0 ? { sources: facts.sources } : {}),
    labels: facts.labels,
    ...(facts.revisionLabels ? { revisionLabels: facts.revisionLabels } : {}),
    revision: facts.revision,
    ...(facts.generation !== undefined ? { generation: facts.generation } : {}),
    templateFingerprint: facts.templateFingerprint,
    templateUnknown: setsTemplate && !facts.templateFingerprint ? true : undefined,
    serviceAccount,
    ingress: facts.ingress,
    ...(facts.ingressIfCreated ? { ingressIfCreated: facts.ingressIfCreated } : {}),
    binaryAuthorization: facts.binaryAuthorization,
    plainEnv: facts.plainEnv,
    codeLoadingEnv: facts.codeLoadingEnv,
    vpcEgress: facts.vpcEgress,
    vpcDestination: facts.vpcDestination ? vpcDestinationText(facts.vpcDestination, target) : undefined,
    invokerIamDisabled: facts.invokerIamDisabled,
    iapEnabled: facts.iapEnabled,
    defaultUrlDisabled: facts.defaultUrlDisabled,
    // A create makes the service's only revision: it serves whatever the list says.
    ...(facts.takesNoTraffic && operation !== 'create' ? { takesNoTraffic: true as const } : {}),
    ...(facts.traffic && operation !== 'create' ? { traffic: facts.traffic } : {}),
    ...(facts.keepsTraffic && operation !== 'create' ? { keepsTraffic: true as const } : {}),
    ...(facts.iapEnabledIfCreated !== undefined ? { iapEnabledIfCreated: facts.iapEnabledIfCreated } : {}),
    ...(facts.defaultUrlDisabledIfCreated !== undefined ? { defaultUrlDisabledIfCreated: facts.defaultUrlDisabledIfCreated } : {}),
    operationId: logged?.id ?? facts.operationId,
    operationCompletion: logged?.completion,
  };
}

/**
 * The LogEntry's `operation` of a v2 write: a long-running operation may be logged as a first entry (the request)
 * and a last one (its completion, without the request), both with the same `operation.id`.
 */
function loggedOperation(env: Envelope): { readonly id?: string; readonly completion?: true } | undefined {
  const operation = asObject(env.entry['operation']);
  if (!operation) return undefined;
  const completion = operation['last'] === true && operation['first'] !== true;
  return completion ? { id: asString(operation['id']), completion } : { id: asString(operation['id']) };
}

/** What a write sets, as its entry says (undefined: it does not say); jobs' and worker pools' too. */
export interface DeployFacts {
  readonly knative?: JsonObject;
  /** The service's annotations as logged (read key by key, never copied). */
  readonly annotations: JsonObject | undefined;
  readonly revision?: string;
  readonly generation?: number;
  readonly templateFingerprint?: string;
  readonly serviceAccount?: RuntimeServiceAccount;
  readonly images: readonly ImageRef[];
  /** Code the containers run besides their images (v2 sourceCode, baseImageUri; v1 base-images); undefined or empty: none. */
  readonly sources?: readonly CodeSource[];
  readonly labels: Record<string, string>;
  /** The template's own labels (also in `labels`). */
  readonly revisionLabels?: Record<string, string>;
  readonly ingress?: Ingress;
  readonly ingressIfCreated?: Ingress;
  readonly binaryAuthorization?: BinaryAuthorization;
  readonly plainEnv?: readonly PlainEnvVar[];
  readonly codeLoadingEnv?: readonly CodeLoadingVar[];
  readonly vpcEgress?: VpcEgress;
  /** Where all-traffic egress goes, as written (read against the service's project and region in deployOf). */
  readonly vpcDestination?: WrittenVpcDestination;
  readonly invokerIamDisabled?: boolean;
  readonly iapEnabled?: boolean;
  readonly defaultUrlDisabled?: boolean;
  /** The write's traffic list sends none of the traffic to the revision it makes (DeployChange.takesNoTraffic). */
  readonly takesNoTraffic?: true;
  /** A v2 update mask leaves the traffic out (DeployChange.keepsTraffic). */
  readonly keepsTraffic?: true;
  /** How the write's traffic list shares the requests out (DeployChange.traffic). */
  readonly traffic?: TrafficSplit;
  readonly iapEnabledIfCreated?: boolean;
  readonly defaultUrlDisabledIfCreated?: boolean;
  readonly operationId?: string;
}

const NO_FACTS: DeployFacts = { annotations: undefined, images: [], labels: {} };

/**
 * The facts of a service's request path (who may call it, and how): none for a worker pool, which takes no requests.
 * (Its instance split is read as traffic by v1Facts and v2Facts: SPLIT_READINGS.)
 */
const NO_REQUEST_PATH = {
  ingress: undefined,
  ingressIfCreated: undefined,
  invokerIamDisabled: undefined,
  iapEnabled: undefined,
  iapEnabledIfCreated: undefined,
  defaultUrlDisabled: undefined,
  defaultUrlDisabledIfCreated: undefined,
} as const satisfies Partial<DeployFacts>;

/**
 * A boolean annotation as Go's strconv.ParseBool reads it (Knative and Kubernetes parse annotations that way; which
 * parser Cloud Run uses for this one is not verified, so every spelling of true counts as true): `'unreadable'`
 * for anything else, undefined when absent.
 */
function annotationBoolean(value: string | undefined): boolean | 'unreadable' | undefined {
  if (value === undefined) return undefined;
  if (PARSE_BOOL_TRUE.has(value)) return true;
  if (PARSE_BOOL_FALSE.has(value)) return false;
  return 'unreadable';
}
const PARSE_BOOL_TRUE: ReadonlySet<string> = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const PARSE_BOOL_FALSE: ReadonlySet<string> = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** v1: a Knative Service (a full PUT) in the request, echoed with server fields in the response. */
function v1Facts(pp: JsonObject, secrets: EnvSecrets, body: 'service' | 'workerPool' = 'service'): DeployFacts {
  const response = asObject(pp['response']);
  const knative = asObject(field(asObject(pp['request']), body)) ?? response;
  const template = asObject(at(knative, 'spec', 'template'));
  const templateMeta = asObject(template?.['metadata']);
  const templateSpec = asObject(template?.['spec']);
  const annotations = asObject(at(knative, 'metadata', 'annotations'));
  const templateAnnotations = asObject(templateMeta?.['annotations']);
  const revisionLabels = userLabels(templateMeta?.['labels']);
  const labels = { ...userLabels(at(knative, 'metadata', 'labels')), ...revisionLabels };

  let serviceAccount: RuntimeServiceAccount | undefined;
  if (template) {
    const email = asString(templateSpec?.['serviceAccountName']);
    serviceAccount = email ? runtimeServiceAccountFromEmail(email) : defaultComputeServiceAccount(undefined);
  }
  const containers = asArray(templateSpec?.['containers']);
  const images = imagesOrAnnotated(containers, templateAnnotations, annotations);
  // Service settings: as the request wrote them, else as the response (the service as stored) shows them, which
  // also carries what the server filled in (e.g. the default ingress a request left out).
  const stored = asObject(at(response, 'metadata', 'annotations'));
  const setting = (key: string): string | undefined => stringIn(annotations, key) ?? stringIn(stored, key);
  // An ingress the request wrote in a form this reader does not know is taken from the service as stored (Cloud Run
  // may accept spellings it does not list): else a write could open a service behind a value read as unknown.
  const ingress = ingressOf(stringIn(annotations, INGRESS_ANNOTATION)) ?? ingressOf(stringIn(stored, INGRESS_ANNOTATION));
  const binauthzPolicy = setting('run.googleapis.com/binary-authorization');
  const breakglass = setting('run.googleapis.com/binary-authorization-breakglass');
  // Boolean service settings, each read so that neither side can hide the risky value (v1Flag): the invoker check
  // turned off, IAP or a disabled default URL turned off.
  const bodyLogged = knative !== undefined;
  const invokerIamDisabled = v1Flag('run.googleapis.com/invoker-iam-disabled', annotations, stored, bodyLogged, true);
  const iapEnabled = v1Flag(IAP_ANNOTATION, annotations, stored, bodyLogged, false);
  const defaultUrlDisabled = v1Flag(DEFAULT_URL_DISABLED_ANNOTATION, annotations, stored, bodyLogged, false);
  // The request carries the operation id of the previous write; the response carries this one.
  const operationId = asString(at(response, 'metadata', 'annotations', 'run.googleapis.com/operation-id'));
  const revision = asString(templateMeta?.['name']);
  return {
    knative,
    annotations,
    revision,
    generation: v1RevisionGeneration(response),
    templateFingerprint: template ? templateFingerprint('v1', template) : undefined,
    serviceAccount,
    images,
    // Its base images (automatic base image updates), which v2 names in each container's baseImageUri.
    sources: annotatedSourcesOf(containers, templateAnnotations),
    labels,
    revisionLabels,
    ingress,
    binaryAuthorization: annotations || stored ? v1BinaryAuthorization(binauthzPolicy, breakglass, containers.length > 0) : undefined,
    // Console writes log no containers: their variables are unknown, not "none".
    plainEnv: secrets.secretEnv && containers.length > 0 ? plainEnvOf(containers, secrets.secretEnv) : undefined,
    codeLoadingEnv: containers.length > 0 ? codeLoadingEnvOf(containers, secrets) : undefined,
    ...vpcFacts(template ? (v1VpcAccess(templateAnnotations, containers.length > 0) ?? storedVpcAccess(response, knative)) : undefined),
    invokerIamDisabled,
    iapEnabled,
    defaultUrlDisabled,
    ...trafficFacts(asArray(at(knative, 'spec', SPLIT_READINGS[body].v1Field)), revision, SPLIT_READINGS[body].v1),
    operationId,
  };
}

/**
 * The configuration generation a v1 write's revision is numbered after (`SERVICE-0000G-xxx`, its
 * `serving.knative.dev/configurationGeneration`). The response's `metadata.generation` is the service's: a write of the
 * traffic alone (a tag, `update-traffic`) moves it on without making a revision, and the numbers drift apart. The
 * stored status is one write stale: where it is the previous write's (`observedGeneration` one below the service's
 * generation), `latestCreatedRevisionName` names the latest revision made before this write, numbered K, and the next
 * one is K+1. Otherwise (no such status, or a revision the client named) the service's generation, right until the
 * service's first write of the traffic alone.
 */
function v1RevisionGeneration(response: JsonObject | undefined): number | undefined {
  const generation = asNumber(at(response, 'metadata', 'generation'));
  const status = asObject(response?.['status']);
  const service = asString(at(response, 'metadata', 'name'));
  if (generation === undefined || !status || !service || asNumber(status['observedGeneration']) !== generation - 1) return generation;
  const latestCreated = generationOfRevisionName(asString(status['latestCreatedRevisionName']), service);
  return latestCreated !== undefined ? latestCreated + 1 : generation;
}

const INGRESS_ANNOTATION = 'run.googleapis.com/ingress';
const IAP_ANNOTATION = 'run.googleapis.com/iap-enabled';
const DEFAULT_URL_DISABLED_ANNOTATION = 'run.googleapis.com/default-url-disabled';

/**
 * A v1 boolean service annotation after the write, as Go's ParseBool reads it. The `risky` value (the invoker check
 * off: true; IAP on, the default URL disabled: false) wins when either side says it (the request as written, the
 * service as stored in the response), so neither side can hide it; else the other value when either says it (a
 * request that leaves the annotation out of a service that keeps it). A v1 write is a full PUT: an annotation missing
 * from both is false, as in a service that never had it. A value that reads as neither leaves it unknown (it neither
 * raises nor resolves anything), and so does an entry logged without a body.
 */
function v1Flag(key: string, written: JsonObject | undefined, stored: JsonObject | undefined, bodyLogged: boolean, risky: boolean): boolean | undefined {
  const sides = [stringIn(written, key), stringIn(stored, key)].map(annotationBoolean);
  if (sides.includes(risky)) return risky;
  if (sides.includes('unreadable')) return undefined;
  if (sides.includes(!risky)) return !risky;
  return bodyLogged ? false : undefined;
}

/**
 * The VPC egress of the template as stored (the response), for a write whose own template does not say it in a form
 * read here (an egress value spelled otherwise, or a body logged without its containers): the stored one is in force.
 */
function storedVpcAccess(response: JsonObject | undefined, written: JsonObject | undefined): VpcAccess | undefined {
  if (!response || written === response) return undefined;
  const stored = asObject(at(response, 'spec', 'template'));
  return stored ? v1VpcAccess(asObject(at(stored, 'metadata', 'annotations')), asArray(at(stored, 'spec', 'containers')).length > 0) : undefined;
}

/** How a traffic target names the revision it sends to: the latest one, or one by name (undefined: neither, unread). */
interface TrafficReading {
  readonly latest: (target: JsonObject) => boolean;
  readonly named: (target: JsonObject) => string | undefined;
}
/**
 * v1: `latestRevision` "must be false if RevisionName is set" and "defaults to true otherwise" (the API reference), so
 * a target that names no revision and leaves it out follows the latest revision too. A target written `false` without
 * a name, or naming a configuration (`configurationName`, "not supported in Cloud Run"), is unread.
 */
const V1_TRAFFIC: TrafficReading = {
  latest: (t) => {
    const latest = asBoolean(t['latestRevision']);
    if (latest !== undefined) return latest;
    return t['latestRevision'] === undefined && !asString(t['revisionName']) && !asString(t['configurationName']);
  },
  named: (t) => asString(t['revisionName']) || undefined,
};
/**
 * A v2 list's targets {type, revision, percent}: `type` names the latest revision by the enum's name or by its number
 * (LATEST is 1 in TrafficTargetAllocationType and InstanceSplitAllocationType alike), else the revision is named.
 */
function v2Reading(latestType: string): TrafficReading {
  return {
    latest: (t) => {
      const type = field(t, 'type');
      return type === latestType || type === 1;
    },
    named: (t) => asString(field(t, 'revision')),
  };
}
const V2_TRAFFIC = v2Reading('TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST');
/**
 * A worker pool's v1 InstanceSplit {revisionName, percent, latestRevision}. Unlike TrafficTarget, the reference says
 * nothing of what a split naming no revision and leaving latestRevision out means: unread, not taken for the latest.
 */
const V1_INSTANCE_SPLIT: TrafficReading = {
  latest: (t) => asBoolean(t['latestRevision']) === true,
  named: (t) => asString(t['revisionName']) || undefined,
};
/** A worker pool's v2 InstanceSplit {type, revision, percent} (InstanceSplitAllocationType: LATEST is 1, REVISION 2). */
const V2_INSTANCE_SPLIT = v2Reading('INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST');

/**
 * Where a write's traffic list is, and how its targets are read: a service's traffic; a worker pool's instance split.
 * A worker pool takes no requests, but splits its instances among its revisions as a service splits its traffic
 * (`gcloud beta run worker-pools update-instance-split --to-revisions=R=100` rolls it back to an older revision):
 * an instance split is traffic here, read into DeployChange.traffic, takesNoTraffic and keepsTraffic, so every rule
 * that follows a service's traffic follows a pool's instances.
 */
const SPLIT_READINGS: Readonly<Record<'service' | 'workerPool', { readonly v1Field: string; readonly v1: TrafficReading; readonly v2Field: string; readonly maskPath: string; readonly v2: TrafficReading }>> = {
  service: { v1Field: 'traffic', v1: V1_TRAFFIC, v2Field: 'traffic', maskPath: 'traffic', v2: V2_TRAFFIC },
  workerPool: { v1Field: 'instanceSplits', v1: V1_INSTANCE_SPLIT, v2Field: 'instanceSplits', maskPath: 'instance_splits', v2: V2_INSTANCE_SPLIT },
};

/**
 * How a write's traffic list (v1 `spec.traffic`, v2 `traffic`) shares the service's requests out (TrafficSplit): the
 * latest revision's share (a target that follows the latest, or names the revision the write makes) and the other
 * revisions given one, by name. Undefined when the list is empty or missing (Cloud Run then sends all of it to the
 * latest revision), has a target with a share this reader cannot place (neither the latest revision nor one by name;
 * one with no share sends nothing, wherever it points), or gives no share at all (shares add up to 100; one left out everywhere is defaulted in a way not read here): unknown.
 */
function trafficSplitOf(targets: readonly unknown[], revision: string | undefined, reading: TrafficReading): TrafficSplit | undefined {
  if (targets.length === 0) return undefined;
  let latestPercent = 0;
  let total = 0;
  const named: TrafficShare[] = [];
  for (const item of targets) {
    const target = asObject(item);
    if (!target) return undefined;
    // The JSON of a protocol buffer leaves a 0 percent out; so may a v1 client. A target with no share (a tag alone)
    // sends nothing wherever it points: one this reader cannot place must not leave the shares beside it unknown.
    const percent = asNumber(field(target, 'percent')) ?? 0;
    if (percent <= 0) continue;
    const latest = reading.latest(target);
    const name = reading.named(target);
    if (!latest && name === undefined) return undefined;
    total += percent;
    if (latest || (revision !== undefined && name === revision)) latestPercent += percent;
    else named.push({ revision: name!, percent });
  }
  return total > 0 ? { latestPercent, named } : undefined;
}

/**
 * The traffic facts of a write's list: the split (trafficSplitOf), and whether it sends none of the service's traffic
 * to the revision the write makes: every target with a share names another revision (`gcloud run deploy --no-traffic`
 * pins the traffic to the revision serving before it). The new revision then serves nothing and the one before it
 * keeps running: a revision-level risk of that one is not over. An unknown split counts as serving, as before.
 */
function trafficFacts(targets: readonly unknown[], revision: string | undefined, reading: TrafficReading): Pick<DeployFacts, 'traffic' | 'takesNoTraffic'> {
  const traffic = trafficSplitOf(targets, revision, reading);
  if (!traffic) return {};
  return traffic.latestPercent === 0 ? { traffic, takesNoTraffic: true } : { traffic };
}

/**
 * v2: a google.cloud.run.v2.Service in the request (camelCase or snake_case); the response is a long-running
 * operation. An update mask, when present, says which fields the write sets: a field outside it is not read (the
 * server ignored it, whatever the body says), and a field inside it but missing from the body was set to its
 * default (the JSON of a protocol buffer leaves out `false`, empty strings and empty messages).
 */
function v2Facts(pp: JsonObject, secrets: EnvSecrets, create = false, body: 'service' | 'workerPool' = 'service'): DeployFacts {
  const request = asObject(pp['request']);
  const service = asObject(field(request, body));
  const split = SPLIT_READINGS[body];
  const mask = updateMaskOf(request);
  const sets = (path: string): boolean => maskSets(mask, path);
  const touches = (path: string): boolean => maskTouches(mask, path);
  const template = touches('template') ? asObject(field(service, 'template')) : undefined;
  const revisionLabels = sets('template.labels') ? userLabels(field(template, 'labels')) : {};
  const labels = {
    ...(sets('labels') ? userLabels(field(service, 'labels')) : {}),
    ...revisionLabels,
  };
  let serviceAccount: RuntimeServiceAccount | undefined;
  if (sets('template.service_account')) {
    const email = asString(field(template, 'serviceAccount'));
    // No service account in a template that is set (a full write, or a mask naming it) is the default compute SA.
    if (email) serviceAccount = runtimeServiceAccountFromEmail(email);
    else if (template || (mask && service)) serviceAccount = defaultComputeServiceAccount(undefined);
  }
  const containers = touches('template.containers') ? asArray(field(template, 'containers')) : undefined;
  const images = containers ? imagesOf(containers) : [];
  const sources = containers ? sourcesOf(containers) : undefined;
  // A create that leaves the ingress out (or unspecified: the JSON of a protocol buffer omits it) gets Cloud Run's
  // default, all, as a v1 create's stored annotation shows.
  const writtenIngress = v2IngressName(field(service, 'ingress'));
  const ingressLeftOut = writtenIngress === undefined || writtenIngress === 'INGRESS_TRAFFIC_UNSPECIFIED';
  const ingress = sets('ingress') ? (create && service && ingressLeftOut ? 'all' : ingressOf(writtenIngress)) : undefined;
  // An update with allowMissing creates a service that does not exist, at the default too (the engine decides).
  const upsert = !create && (request?.['allowMissing'] === true || request?.['allow_missing'] === true);
  const binauthz = touches('binary_authorization') ? asObject(field(service, 'binaryAuthorization')) : undefined;
  // Set by the write (a full write, or a mask naming it): an empty or missing message means not enforced. A mask
  // naming only some of its fields leaves the policy as it was, unknown here, unless it names the policy fields.
  // A mask that leaves it out leaves both as they were: unknown here, but known to be unchanged.
  let binaryAuthorization = service && mask ? binaryAuthorizationOf(undefined, undefined, false, false) : undefined;
  if (service && touches('binary_authorization')) {
    const setsPolicy = sets('binary_authorization') || (sets('binary_authorization.use_default') && sets('binary_authorization.policy'));
    const setsBreakglass = sets('binary_authorization.breakglass_justification');
    const policy = asBoolean(field(binauthz, 'useDefault')) ? 'default' : asString(field(binauthz, 'policy'));
    const breakglass = asString(field(binauthz, 'breakglassJustification'));
    binaryAuthorization = binaryAuthorizationOf(policy, breakglass, setsPolicy, setsBreakglass);
  }
  const invokerIamDisabled = service && sets('invoker_iam_disabled') ? (asBoolean(field(service, 'invokerIamDisabled')) ?? false) : undefined;
  // As invokerIamDisabled: the JSON of a protocol buffer leaves out `false`.
  const iapEnabled = service && sets('iap_enabled') ? (asBoolean(field(service, 'iapEnabled')) ?? false) : undefined;
  const defaultUrlDisabled = service && sets('default_uri_disabled') ? (asBoolean(field(service, 'defaultUriDisabled')) ?? false) : undefined;
  // An upsert whose mask leaves IAP out creates a missing service without it, unless its body turns it on.
  const iapLeftOut = upsert && service && iapEnabled === undefined && asBoolean(field(service, 'iapEnabled')) !== true;
  // Likewise with its default URL on, unless its body disables it.
  const defaultUrlLeftOut = upsert && service && defaultUrlDisabled === undefined && asBoolean(field(service, 'defaultUriDisabled')) !== true;
  const revision = sets('template.revision') ? asString(field(template, 'revision')) : undefined;
  return {
    annotations: asObject(field(service, 'annotations')),
    revision,
    // The whole template as logged, masked or not, with the template paths a mask names and its parts' fingerprints:
    // the baseline composes the template a masked write leaves in force from the writes before it (a fingerprint of
    // the masked part alone made the next full write with the same template a new revision: keepsTemplateInForce).
    templateFingerprint: template ? maskedTemplateFingerprint(templateFingerprint('v2', template), sets('template') ? undefined : mask!.filter((p) => p.startsWith('template.')).sort(), templatePartsOf(template)) : undefined,
    serviceAccount,
    images,
    sources,
    labels,
    revisionLabels,
    ingress,
    ...(upsert && service && ingressLeftOut ? { ingressIfCreated: 'all' as const } : {}),
    binaryAuthorization,
    // A template set without containers (a full write needs one) says nothing about them.
    plainEnv: secrets.secretEnv && containers && containers.length > 0 ? plainEnvOf(containers, secrets.secretEnv) : undefined,
    codeLoadingEnv: containers && containers.length > 0 ? codeLoadingEnvOf(containers, secrets) : undefined,
    // Only a write that sets the whole of `template.vpc_access` says where the traffic goes (a mask naming one of its
    // fields leaves the others as they were, unknown here); a template set whole but logged without its containers
    // is not visibly whole, so there no vpcAccess is no word on it (a mask naming vpc_access alone needs no containers).
    ...vpcFacts(template && sets('template.vpc_access') ? v2VpcAccess(asObject(field(template, 'vpcAccess')), !sets('template') || (containers?.length ?? 0) > 0) : undefined),
    invokerIamDisabled,
    iapEnabled,
    defaultUrlDisabled,
    ...(sets(split.maskPath) ? trafficFacts(asArray(field(service, split.v2Field)), asString(field(template, 'revision')), split.v2) : { keepsTraffic: true as const }),
    ...(iapLeftOut ? { iapEnabledIfCreated: false } : {}),
    ...(defaultUrlLeftOut ? { defaultUrlDisabledIfCreated: false } : {}),
  };
}

/**
 * The update mask's paths in snake_case (`template.service_account`), however the entry spells them: a FieldMask in
 * JSON is one comma-separated string of camelCase paths (`updateMask: "template.serviceAccount,invokerIamDisabled"`);
 * APIs that log their requests in snake_case write `update_mask: {paths: [...]}` (audit-log-fields.md section 1).
 * Undefined when there is none: the write sets every field.
 */
function updateMaskOf(request: JsonObject | undefined): readonly string[] | undefined {
  const mask = field(request, 'updateMask');
  const raw = typeof mask === 'string' ? mask.split(',') : asArray(Array.isArray(mask) ? mask : asObject(mask)?.['paths']).flatMap((p) => (typeof p === 'string' ? p.split(',') : []));
  const paths = raw.map((p) => snakePath(p.trim())).filter(Boolean);
  return paths.length > 0 ? paths : undefined;
}

function snakePath(path: string): string {
  return path.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** True when the write sets the field at `path` (snake_case): no mask, `*`, the path itself or a parent of it. */
function maskSets(mask: readonly string[] | undefined, path: string): boolean {
  return !mask || mask.some((p) => p === '*' || p === path || path.startsWith(`${p}.`));
}

/** True when the write sets the field at `path` or any field inside it. */
function maskTouches(mask: readonly string[] | undefined, path: string): boolean {
  return maskSets(mask, path) || mask!.some((p) => p.startsWith(`${path}.`));
}

/**
 * A v2 `ingress` as its enum name: the JSON of a protocol buffer may write an enum as its number (IngressTraffic, in
 * google.cloud.run.v2), read as vpc.ts reads the VPC egress. Undefined for anything else.
 */
function v2IngressName(value: unknown): string | undefined {
  return typeof value === 'number' ? V2_INGRESS_NAMES[value] : asString(value);
}
const V2_INGRESS_NAMES: readonly string[] = ['INGRESS_TRAFFIC_UNSPECIFIED', 'INGRESS_TRAFFIC_ALL', 'INGRESS_TRAFFIC_INTERNAL_ONLY', 'INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER', 'INGRESS_TRAFFIC_NONE'];

function ingressOf(value: string | undefined): Ingress | undefined {
  switch (value) {
    case 'all':
    case 'INGRESS_TRAFFIC_ALL':
      return 'all';
    case 'internal':
    case 'INGRESS_TRAFFIC_INTERNAL_ONLY':
      return 'internal';
    case 'internal-and-cloud-load-balancing':
    case 'INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER':
      return 'internal-and-cloud-load-balancing';
    case 'INGRESS_TRAFFIC_NONE':
      return 'none';
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// IAM

/** Where an IAM policy applies, or why the entry names no such place. */
type IamTarget = { readonly scope: IamScope; readonly target: ServiceRef } | Extract<ParseResult, { kind: 'skipped' }>;

function serviceIamTarget(env: Envelope, pp: JsonObject): IamTarget {
  // v1 Services.SetIamPolicy logs an empty resource.labels.service_name: the service comes from resourceName.
  const resourcePath = asString(pp['resourceName']) ?? asString(at(pp, 'request', 'resource')) ?? '';
  const match = SERVICE_PATH.exec(resourcePath);
  const base = serviceTarget(env, pp, undefined);
  const service = match?.[4] ?? base?.service;
  const project = base?.project ?? match?.[1] ?? match?.[2];
  if (!service || !project) return skipped('no-service', asString(pp['methodName']));
  const location = base?.location ?? match?.[3];
  return { scope: 'service', target: { project, service, location } };
}

/** A cloudresourcemanager SetIamPolicy: a project's, a folder's or an organization's policy. */
function wideIamTarget(env: Envelope, pp: JsonObject): IamTarget {
  const resourceName = asString(pp['resourceName']) ?? asString(at(pp, 'request', 'resource')) ?? aboveProjectOf(env) ?? '';
  // A folder's or organization's policy is inherited by every project below it, and their Cloud Run services.
  const above = /^(folders|organizations)\/([^/]+)$/.exec(resourceName);
  if (above) return { scope: above[1] === 'folders' ? 'folder' : 'organization', target: { project: resourceName, service: '*' } };
  if (resourceName && !resourceName.startsWith('projects/')) return skipped('not-cloud-run', `SetIamPolicy on ${resourceName.split('/')[0]}`);
  const project =
    asString(at(env.entry, 'resource', 'labels', 'project_id')) ??
    /^projects\/([^/]+)$/.exec(resourceName)?.[1] ??
    projectOfLogName(env.key.logName);
  if (!project) return skipped('no-service', 'project SetIamPolicy without a project');
  return { scope: 'project', target: { project, service: '*' } };
}

/**
 * The folder or organization an entry that names no resource is about: its monitored resource (`folder` with
 * `folder_id`, `organization` with `organization_id`), else its logName (`folders/F/logs/...`), as Cloud Logging
 * writes an entry logged at that level.
 */
function aboveProjectOf(env: Envelope): string | undefined {
  const type = asString(at(env.entry, 'resource', 'type'));
  const id = type === 'folder' ? asString(at(env.entry, 'resource', 'labels', 'folder_id')) : type === 'organization' ? asString(at(env.entry, 'resource', 'labels', 'organization_id')) : undefined;
  if (id) return `${type === 'folder' ? 'folders' : 'organizations'}/${id}`;
  return /^((?:folders|organizations)\/[^/]+)\/logs\//.exec(env.key.logName)?.[1];
}

function iamChange(env: Envelope, pp: JsonObject, scope: IamScope, target: ServiceRef): IamPolicyChange {
  const deltas = asArray(at(pp, 'serviceData', 'policyDelta', 'bindingDeltas'));
  let delta: PolicyDelta | undefined;
  if (deltas.length > 0) {
    const added: IamBinding[] = [];
    const removed: IamBinding[] = [];
    for (const d of deltas) {
      const role = asString(at(d, 'role'));
      const member = asString(at(d, 'member'));
      if (!role || !member) continue;
      const action = asString(at(d, 'action'));
      const binding: IamBinding = hasCondition(d) ? { role, member, conditional: true } : { role, member };
      if (action === 'ADD') added.push(binding);
      else if (action === 'REMOVE') removed.push(binding);
    }
    delta = { added, removed };
  }
  return { kind: 'iam-policy', scope, target, ...common(env, pp), delta, policy: loggedPolicy(pp) };
}

/**
 * The policy an entry logged, as bindings: the response (the policy as stored), else the request's new policy.
 * A logged policy without `bindings` is an empty one (the JSON of a protocol buffer leaves empty lists out: the
 * last binding removed logs `{"etag": ...}`); undefined when the entry logged no policy at all.
 */
function loggedPolicy(pp: JsonObject): IamBinding[] | undefined {
  const response = asObject(pp['response']);
  if (response && (Array.isArray(response['bindings']) || isPolicy(response))) return bindingsOf(asArray(response['bindings']));
  return requestedPolicy(asObject(pp['request']));
}

/** The bindings a SetIamPolicy request sets; undefined when it sets none (no policy, or a mask without bindings). */
function requestedPolicy(request: JsonObject | undefined): IamBinding[] | undefined {
  const requested = asObject(request?.['policy']);
  if (!requested) return undefined;
  // IAM sets only the policy fields the request's mask names (`bindings,etag` when there is none): bindings sent
  // with a mask that leaves them out changed nothing, and say nothing of who holds a role now.
  const mask = updateMaskOf(request);
  if (mask !== undefined && !mask.includes('bindings')) return undefined;
  return bindingsOf(asArray(requested['bindings']));
}

/** A response that is an IAM policy (its type, or the etag every policy carries). */
function isPolicy(response: JsonObject): boolean {
  const type = asString(response['@type']);
  return type !== undefined ? type.endsWith('google.iam.v1.Policy') : asString(response['etag']) !== undefined;
}

/**
 * A policy's bindings, one per member. A binding with a `condition` is marked `conditional`: IAM lets a member hold one
 * role twice, with a condition and without, and external-member-grant must tell the two copies apart (removing one
 * leaves the other).
 */
function bindingsOf(bindings: readonly unknown[]): IamBinding[] {
  const out: IamBinding[] = [];
  for (const binding of bindings) {
    const role = asString(at(binding, 'role'));
    if (!role) continue;
    const conditional = hasCondition(binding);
    for (const member of asArray(at(binding, 'members'))) {
      if (typeof member === 'string' && member) out.push(conditional ? { role, member, conditional: true } : { role, member });
    }
  }
  return out;
}

/** True when a policy's binding or a delta's binding carries an IAM condition (any value but null). */
function hasCondition(binding: unknown): boolean {
  const condition = at(binding, 'condition');
  return condition !== undefined && condition !== null;
}
