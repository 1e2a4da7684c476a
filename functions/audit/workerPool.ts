// Cloud Run worker pools: long-running instances of a revision template that take no requests. A worker pool's
// write carries the same template as a service's (containers, runtime service account, VPC access, labels) under
// `workerPool` instead of `service`, so the service readers read it (normalize.ts); here is what names one.
// Method names follow the API definitions (v2 `google.cloud.run.v2.WorkerPools.*`; gcloud writes through v2), the
// resource type and its labels gcloud's `worker-pools logs` filters; no real entry has been public
// (test/fixtures/synthetic-workerpool-SOURCES.md).
import type { ServiceRef } from '../model/change.js';
import { projectOfLogName, type Envelope } from './entry.js';
import { asArray, asObject, asString, at, field, numeric, type JsonObject } from './json.js';

/** True for an entry about a worker pool: its method, or its monitored resource. */
export function isWorkerPoolEntry(method: string, entry: JsonObject, resourceName: string | undefined): boolean {
  return method.includes('WorkerPools.') || at(entry, 'resource', 'type') === 'cloud_run_worker_pool' || (resourceName !== undefined && WORKER_POOL_PATH.test(resourceName));
}

// v2 `workerPools`, v1 `workerpools`.
const WORKER_POOL_PATH = /^(?:namespaces\/([^/]+)|projects\/([^/]+)\/locations\/([^/]+))\/worker[pP]ools\/([^/]+)$/;

/** The worker pool an entry is about: `resource.labels.worker_pool_name`, else its resource name in the payload or request. */
export function workerPoolTarget(env: Envelope, pp: JsonObject, body: JsonObject | undefined): ServiceRef | undefined {
  const labels = asObject(at(env.entry, 'resource', 'labels'));
  const request = asObject(pp['request']);
  const parsed =
    WORKER_POOL_PATH.exec(asString(pp['resourceName']) ?? '') ??
    WORKER_POOL_PATH.exec(asString(request?.['name']) ?? '') ??
    WORKER_POOL_PATH.exec(asString(body?.['name']) ?? '');
  const name =
    asString(labels?.['worker_pool_name']) ||
    parsed?.[4] ||
    asString(at(body, 'metadata', 'name')) ||
    asString(field(request, 'workerPoolId'));
  const project = asString(labels?.['project_id']) || parsed?.[1] || parsed?.[2] || projectOfLogName(env.key.logName);
  if (!name || !project) return undefined;
  const location =
    asString(labels?.['location']) ||
    asString(asArray(at(pp, 'resourceLocation', 'currentLocations'))[0]) ||
    parsed?.[3] ||
    /^projects\/[^/]+\/locations\/([^/]+)$/.exec(asString(request?.['parent']) ?? '')?.[1] ||
    asString(at(body, 'metadata', 'labels', 'cloud.googleapis.com/location'));
  // A v1 body's namespace is the project number in what Cloud Run stores; only digits are a number.
  const projectNumber = numeric(at(body, 'metadata', 'namespace')) ?? numeric(at(pp, 'response', 'metadata', 'namespace'));
  return { project, service: name, resourceType: 'worker-pool', ...(location ? { location } : {}), ...(projectNumber ? { projectNumber } : {}) };
}
