// The live fallback for a deploy whose system events do not come: read what rolled out through the Cloud Run
// Admin API (v2) instead.
//
// Off unless `correlation.adminApiFallback.enabled`. When on, the detect function's sweep tick looks for rollouts
// that have their admin write but no system event `afterSeconds` after the write arrived (Pipeline.readFromAdminApi)
// and, for each, reads the service (`ServicesClient.getService`) for its `latestCreatedRevision`, then that revision
// (`RevisionsClient.getRevision`): its name, container images, source code and base images (`sourceCode`,
// `baseImageUri`: the Revision's containers are the v2 Container message, read as the admin write's are) and
// environment variables, runtime service account, labels, creator and Ready condition. The result is a
// RevisionObservation fed to the engine like a revision's system event, except that it only ever joins the waiting
// rollout (Engine.processAdminApiObservation): the usual matching (operation id, revision name, else time within the
// wait) decides whether the latest revision is this write's, except that one created before the write never is (not
// even within the minute a system event may precede its write: it is the revision of the deploy before, the write's
// own not created yet), nor one of a later generation, nor one someone else created (its `creator`) where no
// generation ties it to the write (a v2 write says none).
//
// What the v2 API does not say: a Revision has no `containerStatuses` (only Instances have them), so the resolved
// digest is known only when the image was deployed by digest; otherwise it stays unknown, as without system events.
//
// Failures never lose the rollout: the call is made once per sweep tick (the client's own retries are off, the
// next tick is the retry) and the caller counts and logs a failure; the rollout then completes with the next
// successful read or when `correlation.waitSeconds` runs out, with its unknown facts reported as unknown.
// Replay never calls this: the Admin API knows the present, not the time of an old log entry.
//
// `@google-cloud/run` (google-gax, ~0.3 s to import) is imported by the first read, and this module itself only
// when the fallback is enabled, so the detect function's cold start does not grow.
//
// Roles: run.services.get and run.revisions.get on the watched projects (roles/run.viewer) for the detect
// function's service account.
import type { protos, v2 } from '@google-cloud/run';
import { isCloudFunctionsServiceAgent, type RevisionObservation } from '../audit/systemEvent.js';
import { codeLoadingEnvOf, plainEnvOf } from '../audit/env.js';
import { imagesOf } from '../audit/image.js';
import { sourcesOf } from '../audit/source.js';
import { asObject, stringIn, userLabels } from '../audit/json.js';
import type { EnvSecrets } from '../audit/normalize.js';
import {
  defaultComputeServiceAccount,
  runtimeServiceAccountFromEmail,
  type DeployChange,
  type EntryKey,
  type ImageRef,
  type RuntimeServiceAccount,
} from '../model/change.js';
import { parseGrpcEndpoint, type GrpcEndpoint } from '../grpcEndpoint.js';

type Revision = protos.google.cloud.run.v2.IRevision;
type Condition = protos.google.cloud.run.v2.ICondition;
type RunClientOptions = NonNullable<ConstructorParameters<typeof v2.ServicesClient>[0]>;

/** The logName of every observation read here: never a Cloud Logging log, so never mistaken for an entry. */
export const ADMIN_API_LOG_NAME = 'runwatch/admin-api';

export type RunEndpoint = GrpcEndpoint;

/** `RUN_API_ENDPOINT` as `host:port` (`[::1]:port` for IPv6, port 443 when absent). */
export function parseRunEndpoint(value: string): RunEndpoint {
  return parseGrpcEndpoint(value, 'RUN_API_ENDPOINT');
}

export type AdminApiRead =
  | { readonly kind: 'revision'; readonly observation: RevisionObservation }
  /** Nothing to read (no location in the write, no revision yet): not a failure. */
  | { readonly kind: 'none'; readonly reason: string };

/** Reads the revision a waiting write rolled out. Rejects when the Admin API call fails. */
export interface RevisionReader {
  read(write: DeployChange, nowMs: number): Promise<AdminApiRead>;
  close(): Promise<void>;
}

export interface AdminApiReaderOptions {
  /** RUN_API_ENDPOINT: a regional endpoint, or the local test server. Default: run.googleapis.com with ADC. */
  readonly endpoint?: RunEndpoint;
  /** Deadline of each call (one attempt; the next sweep tick is the retry). */
  readonly timeoutMs?: number;
  /** How the revision's variables are read (audit/normalize.ts normalizeOptionsOf), as a system event's would be. */
  readonly secrets?: EnvSecrets;
}

interface Clients {
  readonly services: v2.ServicesClient;
  readonly revisions: v2.RevisionsClient;
}

/** Cloud Run Admin API v2 over gRPC, through `@google-cloud/run`. */
export class AdminApiRevisionReader implements RevisionReader {
  private clients: Promise<Clients> | undefined;
  private readonly timeoutMs: number;

  constructor(private readonly options: AdminApiReaderOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async read(write: DeployChange, nowMs: number): Promise<AdminApiRead> {
    const { project, location, service } = write.target;
    if (!location) return { kind: 'none', reason: 'the admin write names no location' };
    const clients = await this.connect();
    const call = { timeout: this.timeoutMs, retry: null };
    const [svc] = await clients.services.getService({ name: `projects/${project}/locations/${location}/services/${service}` }, call);
    const latest = svc.latestCreatedRevision;
    if (!latest) return { kind: 'none', reason: 'the service has no revision yet' };
    const [revision] = await clients.revisions.getRevision({ name: latest }, call);
    return { kind: 'revision', observation: observationOfRevision(write, revision, nowMs, this.options.secrets) };
  }

  async close(): Promise<void> {
    const clients = this.clients;
    this.clients = undefined;
    if (!clients) return;
    const c = await clients.catch(() => undefined);
    if (c) await Promise.all([c.services.close(), c.revisions.close()]);
  }

  private connect(): Promise<Clients> {
    this.clients ??= createRunClients(this.options.endpoint);
    // A failed import or construction is tried again by the next read.
    this.clients.catch(() => (this.clients = undefined));
    return this.clients;
  }
}

/**
 * The v2 clients. Default: Google's endpoint with Application Default Credentials. With an endpoint: that host;
 * loopback hosts get insecure channel credentials and an explicit universe domain, which stops the ADC /
 * metadata-server probe gax otherwise makes (as sinks/scc.ts does for SCC_API_ENDPOINT).
 */
async function createRunClients(endpoint: RunEndpoint | undefined): Promise<Clients> {
  const { v2: run } = await import('@google-cloud/run');
  const options: RunClientOptions = endpoint ? { apiEndpoint: endpoint.host, port: endpoint.port, universeDomain: 'googleapis.com' } : {};
  if (endpoint?.insecure) {
    // Must be the grpc-js copy google-gax uses (npm dedupes it); a second copy fails the credentials type check.
    const grpc = await import('@grpc/grpc-js');
    options.sslCreds = grpc.credentials.createInsecure();
  }
  return { services: new run.ServicesClient(options), revisions: new run.RevisionsClient(options) };
}

/**
 * A v2 Revision as the observation a revision's system event would give. Pure. The key is synthetic
 * (logName `runwatch/admin-api`, the revision's create time, its name as insertId): an entry key that no log has.
 */
export function observationOfRevision(write: DeployChange, revision: Revision, nowMs: number, secrets: EnvSecrets = {}): RevisionObservation {
  const name = revision.name ?? '';
  const revisionName = name.slice(name.lastIndexOf('/') + 1) || undefined;
  const createdMs = timestampMs(revision.createTime);
  const timeMs = createdMs ?? nowMs;
  const time = new Date(timeMs).toISOString();
  const key: EntryKey = { logName: ADMIN_API_LOG_NAME, timestamp: time, insertId: name || `${write.target.service}@${time}` };
  const annotations = asObject(revision.annotations);
  const labels = asObject(revision.labels);
  const containers = (revision.containers ?? []).map(withEnvAsLogged);
  const images = imagesOf(containers);
  // The v2 Container message, as in the admin write: its source code and base image read the same way.
  const sources = sourcesOf(containers);
  const email = revision.serviceAccount || undefined;
  const serviceAccount: RuntimeServiceAccount = email ? runtimeServiceAccountFromEmail(email) : defaultComputeServiceAccount(write.target.projectNumber);
  const ready = readyCondition(revision.conditions ?? []);
  const operationId = stringIn(annotations, 'run.googleapis.com/operation-id');
  const clientName = stringIn(annotations, 'run.googleapis.com/client-name');
  const creator = revision.creator || undefined;
  const imageDigest = digestOf(images);
  return {
    key,
    time,
    timeMs,
    level: 'revision',
    target: write.target,
    ...(revisionName ? { revision: revisionName } : {}),
    ...(ready.ready !== undefined ? { ready: ready.ready } : {}),
    ...(ready.reason ? { readyReason: ready.reason } : {}),
    images,
    ...(imageDigest ? { imageDigest } : {}),
    serviceAccount,
    ...(containers.length > 0 ? { codeLoadingEnv: codeLoadingEnvOf(containers, secrets) } : {}),
    ...(secrets.secretEnv && containers.length > 0 ? { plainEnv: plainEnvOf(containers, secrets.secretEnv) } : {}),
    ...(sources.length > 0 ? { sources } : {}),
    labels: userLabels(labels),
    ...(operationId ? { operationId } : {}),
    ...(clientName ? { clientName } : {}),
    deleting: timestampMs(revision.deleteTime) !== undefined,
    ...(creator ? { creator } : {}),
    managedByCloudFunctions: isCloudFunctionsServiceAgent(creator),
  };
}

type Container = protos.google.cloud.run.v2.IContainer;
type EnvVar = protos.google.cloud.run.v2.IEnvVar;

/**
 * A container with its variables as an audit log shows them: `value` or `valueSource`, never both. `@google-cloud/run`
 * leaves out the member of the `values` oneof that was not sent and names the one that was (`values`); a decoder
 * that filled in proto3 defaults would also give a variable from Secret Manager a `value` of "", so the member named
 * decides.
 */
function withEnvAsLogged(container: Container): Container {
  if (!container.env || container.env.length === 0) return container;
  return { ...container, env: container.env.map(envAsLogged) };
}

function envAsLogged(variable: EnvVar): EnvVar {
  const member = (variable as EnvVar & { values?: string }).values;
  const fromSource = member === 'valueSource' || (member === undefined && variable.valueSource != null);
  return fromSource ? { name: variable.name, valueSource: variable.valueSource } : { name: variable.name, value: variable.value ?? '' };
}

/**
 * `name@sha256:...` of the serving container (the first that is no sidecar), when it was deployed by digest (v2
 * revisions report no resolved digest).
 */
function digestOf(images: readonly ImageRef[]): string | undefined {
  const serving = images.find((image) => image.unparseable || !image.sidecar);
  return serving && !serving.unparseable && serving.digest ? `${serving.name}@${serving.digest}` : undefined;
}

const CONDITION_FAILED = 3;
const CONDITION_SUCCEEDED = 4;

/** The Ready condition: SUCCEEDED is serving, FAILED is a failed rollout, anything else (pending, reconciling) unknown. */
function readyCondition(conditions: readonly Condition[]): { ready?: boolean; reason?: string } {
  const condition = conditions.find((c) => c.type === 'Ready');
  if (!condition) return {};
  const state = condition.state;
  const ready = state === 'CONDITION_SUCCEEDED' || state === CONDITION_SUCCEEDED ? true : state === 'CONDITION_FAILED' || state === CONDITION_FAILED ? false : undefined;
  const reason = reasonText(condition.revisionReason) ?? reasonText(condition.reason);
  return { ...(ready !== undefined ? { ready } : {}), ...(reason ? { reason } : {}) };
}

/** `HEALTH_CHECK_CONTAINER_ERROR` -> `HealthCheckContainerError`, as the system events spell reasons. */
function reasonText(reason: unknown): string | undefined {
  if (typeof reason !== 'string' || reason === '' || reason.endsWith('_UNDEFINED')) return undefined;
  return reason
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

function timestampMs(ts: protos.google.protobuf.ITimestamp | null | undefined): number | undefined {
  if (!ts || ts.seconds === null || ts.seconds === undefined) return undefined;
  const seconds = Number(ts.seconds);
  if (!Number.isFinite(seconds) || seconds <= 0) return undefined;
  return seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}
