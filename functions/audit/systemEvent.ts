// Cloud Run system events (logName .../cloudaudit.googleapis.com%2Fsystem_event): Google-written records of a
// Ready-condition change of a service or a revision, with no principal. They are facts about a rollout (the real
// revision name, image, digest and runtime service account), never a deploy of their own.
// See ../shared/facts/audit-log-fields.md sections 2.2, 2.4 and 2.11.
import {
  defaultComputeServiceAccount,
  runtimeServiceAccountFromEmail,
  type CodeLoadingVar,
  type CodeSource,
  type EntryKey,
  type ImageRef,
  type PlainEnvVar,
  type RuntimeServiceAccount,
  type ServiceRef,
  type VpcEgress,
} from '../model/change.js';
import { normalizeTimestamp, projectOfLogName, type Envelope } from './entry.js';
import { codeLoadingEnvOf, plainEnvOf } from './env.js';
import { asArray, asNumber, asObject, asString, at, numeric, stringIn, userLabels, type JsonObject } from './json.js';
import { imagesOrAnnotated, servingContainer } from './image.js';
import type { EnvSecrets } from './normalize.js';
import { annotatedSourcesOf } from './source.js';
import { v1VpcAccess, vpcDestinationText } from './vpc.js';

export interface RevisionObservation {
  readonly key: EntryKey;
  readonly time: string;
  readonly timeMs: number;
  readonly level: 'revision' | 'service';
  readonly target: ServiceRef;
  /** The revision this event reports on (revision events), or the service's latest created revision. */
  readonly revision?: string;
  /** Ready condition: true (serving), false (rollout failed), undefined (unknown or in progress). */
  readonly ready?: boolean;
  readonly readyReason?: string;
  readonly images: readonly ImageRef[];
  /** Resolved `image@sha256:...` of the first container, revision events only. */
  readonly imageDigest?: string;
  readonly serviceAccount?: RuntimeServiceAccount;
  /** The revision's VPC egress (a revision event's annotations, a service event's template's). */
  readonly vpcEgress?: VpcEgress;
  /** Where its traffic goes when that is all of it (DeployChange.vpcDestination), from the same annotations. */
  readonly vpcDestination?: string;
  /**
   * The revision's variables as plaintext-secret-env and code-loading-env read them (audit/env.ts), from its containers
   * as the event shows them: what a console write, logged without containers, leaves unknown. Undefined when the
   * event shows no containers (or plaintext-secret-env is off, for plainEnv).
   */
  readonly plainEnv?: readonly PlainEnvVar[];
  readonly codeLoadingEnv?: readonly CodeLoadingVar[];
  /**
   * Code the revision's containers run besides their images: from a v2 Revision the Admin API returned
   * (correlate/adminApi.ts, audit/source.ts sourcesOf: `sourceCode`, `baseImageUri`), or from a system event's v1
   * Revision, whose annotations (a service event's: its template's) name them as a v1 write's template does
   * (annotatedSourcesOf: `run.googleapis.com/base-images`, `run.googleapis.com/sources`). A v1 Revision keeps its
   * template's annotations, and the Google Cloud SDK reads a revision's base images from its own
   * (`command_lib/run/printers/container_and_volume_printer_util.py` GetBaseImage). Undefined when they name none.
   */
  readonly sources?: readonly CodeSource[];
  readonly labels: Readonly<Record<string, string>>;
  /** The revision's own labels among `labels` (a service event's: its template's); undefined means all of `labels`. */
  readonly revisionLabels?: Readonly<Record<string, string>>;
  readonly operationId?: string;
  /**
   * What the event's methodName (the operation that changed the service: `/Services.CreateService`,
   * `/Services.ReplaceService`, ...) says: true for a create, false for any other method; undefined when the event
   * logs none (2021 events).
   */
  readonly createsService?: boolean;
  /**
   * When Cloud Run created the revision (a revision event's `response.metadata.creationTimestamp`, epoch ms): the
   * deploy's time, where the event's is when its Ready condition changed. Undefined for a service event (its
   * metadata is the service's, created long before), and when it is not before the event's own time.
   */
  readonly createdMs?: number;
  readonly clientName?: string;
  /** `run.googleapis.com/client-version` beside clientName (`583.0.0` for gcloud 583). */
  readonly clientVersion?: string;
  /** `serving.knative.dev/configurationGeneration` of a revision: the generation that created it. */
  readonly generation?: number;
  readonly deleting: boolean;
  /** `serving.knative.dev/creator` (revision) or `lastModifier` (service): who deployed, as Cloud Run recorded it. */
  readonly creator?: string;
  /**
   * The revision (or the service's last change) was made by the Cloud Functions service agent: Cloud Functions (2nd gen)
   * rolled it out for its function. Told by `creator` (Cloud Run sets it from the caller), not by the
   * `goog-managed-by: cloudfunctions` label or the `cloudfunctions.googleapis.com/function-id` annotation, which whoever
   * deploys can write.
   */
  readonly managedByCloudFunctions: boolean;
}

/** A system event's methodName for a create (`/Services.CreateService`; a job's `/Jobs.CreateJob`). */
const CREATE_METHOD = /^\/(?:Services|Jobs|WorkerPools)\.Create(?:Service|Job|WorkerPool)$/;

const REVISION_PATH = /^namespaces\/([^/]+)\/revisions\/([^/]+)$/;
const SERVICE_PATH = /^namespaces\/([^/]+)\/services\/([^/]+)$/;

export function readRevisionObservation(env: Envelope, secrets: EnvSecrets = {}): RevisionObservation | undefined {
  const pp = env.payload;
  if (!pp) return undefined;
  const response = asObject(pp['response']);
  const resourceName = asString(pp['resourceName']) ?? '';
  const labels = asObject(at(env.entry, 'resource', 'labels'));
  const kind = asString(response?.['kind']);
  const revisionMatch = REVISION_PATH.exec(resourceName);
  const serviceMatch = SERVICE_PATH.exec(resourceName);
  const level: 'revision' | 'service' | undefined =
    kind === 'Revision' || revisionMatch ? 'revision' : kind === 'Service' || serviceMatch ? 'service' : undefined;
  if (!level) return undefined;

  const metadata = asObject(response?.['metadata']);
  const metaLabels = asObject(metadata?.['labels']);
  const annotations = asObject(metadata?.['annotations']);
  const project = asString(labels?.['project_id']) ?? revisionMatch?.[1] ?? serviceMatch?.[1] ?? projectOfLogName(env.key.logName);
  const service =
    asString(labels?.['service_name']) ??
    stringIn(metaLabels, 'serving.knative.dev/service') ??
    serviceMatch?.[2] ??
    (level === 'service' ? asString(metadata?.['name']) : serviceOfRevisionName(revisionMatch?.[2]));
  if (!project || !service) return undefined;
  const location = asString(labels?.['location']) ?? stringIn(metaLabels, 'cloud.googleapis.com/location');
  const projectNumber = numeric(metadata?.['namespace']);
  const target: ServiceRef = { project, service, location, projectNumber };

  // Revision: spec is the revision spec. Service: the template inside the service spec.
  const spec = level === 'revision' ? asObject(response?.['spec']) : asObject(at(response, 'spec', 'template', 'spec'));
  const templateMeta = level === 'service' ? asObject(at(response, 'spec', 'template', 'metadata')) : undefined;
  const status = asObject(response?.['status']);
  const revision =
    level === 'revision'
      ? (asString(labels?.['revision_name']) ?? revisionMatch?.[2] ?? asString(metadata?.['name']))
      : (asString(status?.['latestCreatedRevisionName']) ?? asString(templateMeta?.['name']));

  const containers = asArray(spec?.['containers']);
  const templateAnnotations = asObject(templateMeta?.['annotations']);
  const images = imagesOrAnnotated(containers, templateAnnotations, annotations);
  // The revision's own annotations: a revision event's, a service event's template's.
  const revisionAnnotations = level === 'revision' ? annotations : templateAnnotations;
  const digestRef = asString(status?.['imageDigest']) ?? servingDigest(asArray(status?.['containerStatuses']), containers);
  const email = asString(spec?.['serviceAccountName']);
  let serviceAccount: RuntimeServiceAccount | undefined;
  if (email) serviceAccount = runtimeServiceAccountFromEmail(email);
  else if (spec) serviceAccount = defaultComputeServiceAccount(projectNumber);

  // Without a Ready condition (entries logged without their response, or with it trimmed), the status message Cloud
  // Run wrote says it (`Ready condition status changed to True for Service S.`), of this service or revision; else an
  // ERROR-severity event is a failed one.
  const statusMessage = asString(at(pp, 'status', 'message')) ?? '';
  const condition = readyCondition(status);
  const told = condition.ready === undefined ? readyFromMessage(statusMessage, level, level === 'revision' ? revision : service) : undefined;
  const ready =
    condition.ready !== undefined
      ? condition
      : told !== undefined
        ? { ready: told }
        : !status && asString(env.entry['severity']) === 'ERROR'
          ? { ready: false, reason: 'severity ERROR' }
          : condition;
  const operationId = stringIn(annotations, 'run.googleapis.com/operation-id');
  const vpc = spec ? v1VpcAccess(revisionAnnotations, containers.length > 0) : undefined;
  // Used where the write names none (correlate/rollout.ts rolledOut): a console write may log no containers.
  const sources = annotatedSourcesOf(containers, revisionAnnotations);
  const method = asString(pp['methodName']) || undefined;
  const created = level === 'revision' ? asString(metadata?.['creationTimestamp']) : undefined;
  const createdMs = created === undefined ? undefined : normalizeTimestamp(created)?.ms;
  const clientName = stringIn(annotations, 'run.googleapis.com/client-name');
  const clientVersion = stringIn(annotations, 'run.googleapis.com/client-version');
  const generation = asNumber(stringIn(metaLabels, 'serving.knative.dev/configurationGeneration'));
  // A revision event's labels are the revision's; a service event's are the service's, its template's the revision's.
  const revisionLabels = level === 'revision' ? userLabels(metaLabels) : userLabels(templateMeta?.['labels']);
  const eventLabels = level === 'revision' ? revisionLabels : { ...userLabels(metaLabels), ...revisionLabels };
  const creator = stringIn(annotations, level === 'revision' ? 'serving.knative.dev/creator' : 'serving.knative.dev/lastModifier');
  return {
    key: env.key,
    time: env.time,
    timeMs: env.timeMs,
    level,
    target,
    revision,
    ready: ready.ready,
    readyReason: ready.reason,
    images,
    imageDigest: digestRef && digestRef.includes('@') ? digestRef : undefined,
    serviceAccount,
    vpcEgress: vpc?.egress,
    vpcDestination: vpc?.destination ? vpcDestinationText(vpc.destination, target) : undefined,
    plainEnv: secrets.secretEnv && containers.length > 0 ? plainEnvOf(containers, secrets.secretEnv) : undefined,
    codeLoadingEnv: containers.length > 0 ? codeLoadingEnvOf(containers, secrets) : undefined,
    ...(sources.length > 0 ? { sources } : {}),
    labels: eventLabels,
    revisionLabels,
    operationId,
    ...(method !== undefined ? { createsService: CREATE_METHOD.test(method) } : {}),
    ...(createdMs !== undefined && createdMs <= env.timeMs ? { createdMs } : {}),
    clientName,
    ...(clientVersion !== undefined ? { clientVersion } : {}),
    generation,
    deleting: asString(metadata?.['deletionTimestamp']) !== undefined || /Deletion in progress/i.test(statusMessage),
    creator,
    managedByCloudFunctions: isCloudFunctionsServiceAgent(creator),
  };
}

/** The Cloud Functions service agent, `service-PROJECT_NUMBER@gcf-admin-robot.iam.gserviceaccount.com`. */
const CLOUD_FUNCTIONS_SERVICE_AGENT = /^service-\d+@gcf-admin-robot\.iam\.gserviceaccount\.com$/i;

/** True when `principal` is the Cloud Functions service agent (the caller Cloud Run records as a revision's creator). */
export function isCloudFunctionsServiceAgent(principal: string | undefined): boolean {
  return principal !== undefined && CLOUD_FUNCTIONS_SERVICE_AGENT.test(principal);
}

/**
 * The configuration generation that created a revision, from its name as Cloud Run gives it, `SERVICE-NNNNN-xxx`
 * (an Admin API v2 revision shows no `serving.knative.dev/configurationGeneration` label); undefined for a name the
 * client chose.
 */
export function generationOfRevisionName(revision: string | undefined, service: string): number | undefined {
  if (!revision?.startsWith(`${service}-`)) return undefined;
  const match = /^-(\d{5})-[a-z0-9]{3}$/.exec(revision.slice(service.length));
  return match ? Number(match[1]) : undefined;
}

/**
 * The service of a revision named the way Cloud Run names them, `SERVICE-NNNNN-xxx` (generation, then a random
 * suffix): for events logged without resource labels or response.
 */
function serviceOfRevisionName(revision: string | undefined): string | undefined {
  return revision ? /^([a-z](?:[-a-z0-9]*[a-z0-9])?)-\d{5}-[a-z0-9]{3}$/.exec(revision)?.[1] : undefined;
}

/**
 * The Ready condition a system event's status message reports (`Ready condition status changed to True for Service
 * hello2.`, `... to False for Revision R with message: ...`), when it is about this service or revision (`level`,
 * `name`); undefined for any other message (`Unknown`, another resource, other words).
 */
function readyFromMessage(message: string, level: 'revision' | 'service', name: string | undefined): boolean | undefined {
  const match = /^Ready condition status changed to (True|False) for (Service|Revision) ([^\s]+?)(?:\.|\s+with message:|$)/.exec(message);
  if (!match || match[2] !== (level === 'revision' ? 'Revision' : 'Service') || (name !== undefined && match[3] !== name)) return undefined;
  return match[1] === 'True';
}

function readyCondition(status: JsonObject | undefined): { ready?: boolean; reason?: string } {
  for (const condition of asArray(status?.['conditions'])) {
    if (asString(at(condition, 'type')) !== 'Ready') continue;
    const value = asString(at(condition, 'status'));
    const reason = asString(at(condition, 'reason'));
    return { ready: value === 'True' ? true : value === 'False' ? false : undefined, reason };
  }
  return {};
}

/**
 * The resolved digest in a revision's container statuses: the serving container's (its status has its name) in a
 * multi-container revision, else the first.
 */
function servingDigest(statuses: readonly unknown[], containers: readonly unknown[]): string | undefined {
  const name = asString(asObject(servingContainer(containers))?.['name']);
  const status = (name === undefined ? undefined : statuses.find((s) => asString(asObject(s)?.['name']) === name)) ?? statuses[0];
  return asString(at(status, 'imageDigest'));
}
