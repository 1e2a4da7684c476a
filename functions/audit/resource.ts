// Cloud Run resources other than services that run a template under a runtime service account (jobs, worker pools):
// which one an entry is about, and the one it names. What each writes is read by audit/job.ts and, for worker pools,
// by the service readers (normalize.ts). Method names and resource labels: test/fixtures/synthetic-job-SOURCES.md and
// synthetic-workerpool-SOURCES.md (no real entry of either has been public).
import type { ResourceType, ServiceRef } from '../model/change.js';
import { projectOfLogName, type Envelope } from './entry.js';
import { asArray, asObject, asString, at, field, numeric, type JsonObject } from './json.js';

/** How an entry names a resource of each kind: its `resource.labels` key, its path (v1 and v2), the create's id field. */
const NAMING: Readonly<Record<ResourceType, { readonly label: string; readonly path: RegExp; readonly idField: string }>> = {
  job: { label: 'job_name', path: /^(?:namespaces\/([^/]+)|projects\/([^/]+)\/locations\/([^/]+))\/jobs\/([^/]+)$/, idField: 'jobId' },
  // v2 `workerPools`, v1 `workerpools`.
  'worker-pool': { label: 'worker_pool_name', path: /^(?:namespaces\/([^/]+)|projects\/([^/]+)\/locations\/([^/]+))\/worker[pP]ools\/([^/]+)$/, idField: 'workerPoolId' },
};

/**
 * The kind of resource other than a service an entry is about, by its method (a job's executions count as the
 * job's), its monitored resource or its resource name; undefined for a service's entry. Read once per entry (it runs
 * for every Cloud Run entry).
 */
export function otherRunResource(method: string, entry: JsonObject, resourceName: string | undefined): ResourceType | undefined {
  const type = at(entry, 'resource', 'type');
  if (
    method.includes('.Jobs.') ||
    method.startsWith('/Jobs.') ||
    method.includes('.Executions.') ||
    method.startsWith('/Executions.') ||
    type === 'cloud_run_job' ||
    (resourceName !== undefined && NAMING.job.path.test(resourceName))
  ) {
    return 'job';
  }
  if (method.includes('WorkerPools.') || type === 'cloud_run_worker_pool' || (resourceName !== undefined && NAMING['worker-pool'].path.test(resourceName))) {
    return 'worker-pool';
  }
  return undefined;
}

/**
 * The job or worker pool an entry is about: its `resource.labels`, else its resource name in the payload, the request
 * or `body` (the resource the write sends, else as stored: the response). A v1 body's namespace is the project number
 * in what Cloud Run stores; the request may write the project id there, and only digits are a number.
 */
export function runResourceTarget(env: Envelope, pp: JsonObject, resourceType: ResourceType, body: JsonObject | undefined): ServiceRef | undefined {
  const naming = NAMING[resourceType];
  const labels = asObject(at(env.entry, 'resource', 'labels'));
  const request = asObject(pp['request']);
  const response = asObject(pp['response']);
  const parsed =
    naming.path.exec(asString(pp['resourceName']) ?? '') ?? naming.path.exec(asString(request?.['name']) ?? '') ?? naming.path.exec(asString(body?.['name']) ?? '');
  const name = asString(labels?.[naming.label]) ?? parsed?.[4] ?? asString(at(body, 'metadata', 'name')) ?? asString(field(request, naming.idField));
  const project = asString(labels?.['project_id']) ?? parsed?.[1] ?? parsed?.[2] ?? projectOfLogName(env.key.logName);
  if (!name || !project) return undefined;
  const location =
    asString(labels?.['location']) ??
    asString(asArray(at(pp, 'resourceLocation', 'currentLocations'))[0]) ??
    parsed?.[3] ??
    /^projects\/[^/]+\/locations\/([^/]+)$/.exec(asString(request?.['parent']) ?? '')?.[1] ??
    asString(at(body, 'metadata', 'labels', 'cloud.googleapis.com/location')) ??
    asString(at(response, 'metadata', 'labels', 'cloud.googleapis.com/location'));
  const projectNumber = numeric(at(body, 'metadata', 'namespace')) ?? numeric(at(response, 'metadata', 'namespace'));
  return { project, service: name, resourceType, ...(location ? { location } : {}), ...(projectNumber ? { projectNumber } : {}) };
}
