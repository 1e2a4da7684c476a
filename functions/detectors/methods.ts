// The audit methods the rules read, by name, shared by the detector declarations.
import type { AuditMethod } from './types.js';

const RUN = 'run.googleapis.com';

export const DEPLOY_METHODS: readonly AuditMethod[] = [
  { serviceName: RUN, methodName: 'google.cloud.run.v1.Services.CreateService' },
  { serviceName: RUN, methodName: 'google.cloud.run.v1.Services.ReplaceService' },
  { serviceName: RUN, methodName: 'google.cloud.run.v2.Services.CreateService' },
  { serviceName: RUN, methodName: 'google.cloud.run.v2.Services.UpdateService' },
  // Cloud Run jobs: a job's execution template is deployed like a service's revision template (audit/job.ts).
  { serviceName: RUN, methodName: 'google.cloud.run.v1.Jobs.CreateJob' },
  { serviceName: RUN, methodName: 'google.cloud.run.v1.Jobs.ReplaceJob' },
  { serviceName: RUN, methodName: 'google.cloud.run.v2.Jobs.CreateJob' },
  { serviceName: RUN, methodName: 'google.cloud.run.v2.Jobs.UpdateJob' },
  // Cloud Run worker pools (audit/normalize.ts workerPoolEntry): gcloud writes them through v2, and through v1 by
  // `gcloud beta ... replace`, whose names follow v1 Services' and Jobs' (unverified; asked for all the same: a write
  // the sink leaves out is never judged, and a name no entry carries costs nothing).
  { serviceName: RUN, methodName: 'google.cloud.run.v1.WorkerPools.CreateWorkerPool' },
  { serviceName: RUN, methodName: 'google.cloud.run.v1.WorkerPools.ReplaceWorkerPool' },
  { serviceName: RUN, methodName: 'google.cloud.run.v2.WorkerPools.CreateWorkerPool' },
  { serviceName: RUN, methodName: 'google.cloud.run.v2.WorkerPools.UpdateWorkerPool' },
];

export const SERVICE_IAM_METHODS: readonly AuditMethod[] = [
  { serviceName: RUN, methodName: 'google.cloud.run.v1.Services.SetIamPolicy' },
  { serviceName: RUN, methodName: 'google.cloud.run.v2.Services.SetIamPolicy' },
];

/**
 * Cloud Run jobs' and worker pools' own IAM policies (external-member-grant): v2 `Jobs.SetIamPolicy` is in Google's
 * audit catalog and v1 in the Cloud Run audit logging page; `SetIamPolicy` is an RPC of `google.cloud.run.v2.WorkerPools`
 * (the generated clients' descriptors list it), logged under its full name as the other RPCs are (no logged entry
 * seen: a name no entry carries costs nothing in the filter).
 */
export const RUN_RESOURCE_IAM_METHODS: readonly AuditMethod[] = [
  { serviceName: RUN, methodName: 'google.cloud.run.v1.Jobs.SetIamPolicy' },
  { serviceName: RUN, methodName: 'google.cloud.run.v2.Jobs.SetIamPolicy' },
  { serviceName: RUN, methodName: 'google.cloud.run.v2.WorkerPools.SetIamPolicy' },
];

/**
 * Project, folder and organization policies: the v1 API logs `SetIamPolicy`; the v3 API (the client libraries) logs
 * its own names (Google's audit catalog, googleapis/google-cloudevents json/audit/service_catalog.json).
 */
export const PROJECT_IAM_METHODS: readonly AuditMethod[] = [
  { serviceName: 'cloudresourcemanager.googleapis.com', methodName: 'SetIamPolicy' },
  { serviceName: 'cloudresourcemanager.googleapis.com', methodName: 'google.cloud.resourcemanager.v3.Projects.SetIamPolicy' },
  { serviceName: 'cloudresourcemanager.googleapis.com', methodName: 'google.cloud.resourcemanager.v3.Folders.SetIamPolicy' },
  { serviceName: 'cloudresourcemanager.googleapis.com', methodName: 'google.cloud.resourcemanager.v3.Organizations.SetIamPolicy' },
];

/** True for a methodName PROJECT_IAM_METHODS lists. */
export function isProjectIamMethod(methodName: string): boolean {
  return PROJECT_IAM_METHODS.some((m) => m.methodName === methodName);
}

/** Cloud Functions (gen2) write their backing Cloud Run services through these; read when `cloudFunctions.watch`. */
export const CLOUD_FUNCTIONS_METHODS: readonly AuditMethod[] = [
  { serviceName: RUN, methodName: 'google.cloud.serverless.internal.InternalServices.CreateInternalService' },
  { serviceName: RUN, methodName: 'google.cloud.serverless.internal.InternalServices.ReplaceInternalService' },
];

/**
 * Job runs: DATA_WRITE, logged in the Data Access log, which is off unless enabled for run.googleapis.com. Read for
 * their overrides (job-run-overrides).
 */
export const JOB_RUN_METHODS: readonly AuditMethod[] = [
  { serviceName: RUN, methodName: 'google.cloud.run.v1.Jobs.RunJob', log: 'data_access' },
  { serviceName: RUN, methodName: 'google.cloud.run.v2.Jobs.RunJob', log: 'data_access' },
];

/** Deletes reset a service's (or a job's, or a worker pool's) baseline, so every rule that keeps one reads them. */
export const DELETE_METHODS: readonly AuditMethod[] = [
  { serviceName: RUN, methodName: 'google.cloud.run.v1.Services.DeleteService' },
  { serviceName: RUN, methodName: 'google.cloud.run.v2.Services.DeleteService' },
  { serviceName: RUN, methodName: 'google.cloud.run.v1.Jobs.DeleteJob' },
  { serviceName: RUN, methodName: 'google.cloud.run.v2.Jobs.DeleteJob' },
  { serviceName: RUN, methodName: 'google.cloud.run.v1.WorkerPools.DeleteWorkerPool' },
  { serviceName: RUN, methodName: 'google.cloud.run.v2.WorkerPools.DeleteWorkerPool' },
];
