// System events: a Cloud Run job's are skipped as cloud-run-job; another product's whose method names a `Jobs` API
// (Dataflow, Cloud Batch, Vertex AI) is not Cloud Run at all, and its skip must say so (replay counts skips by reason).
import { describe, expect, it } from 'vitest';
import { parseEntry } from '../../functions/audit/normalize.js';
import { synthetic, variant, type Json } from '../support/entries.js';

const systemEvent = synthetic('job-sysevent-UpdateJob');

/** The job's system event as another product would log it. */
function fromOtherProduct(serviceName: string, method: string, resourceType: string): Json {
  return variant(systemEvent, (e) => {
    e.protoPayload['serviceName'] = serviceName;
    e.protoPayload['methodName'] = method;
    e.protoPayload['resourceName'] = 'projects/acme-prod/locations/us-central1/jobs/nightly-export';
    e['resource'] = { type: resourceType, labels: { project_id: 'acme-prod', location: 'us-central1' } };
  });
}

describe('system events that name jobs', () => {
  const cases: readonly { name: string; entry: Json; reason: string }[] = [
    { name: "a Cloud Run job's", entry: systemEvent, reason: 'cloud-run-job' },
    { name: "Dataflow's", entry: fromOtherProduct('dataflow.googleapis.com', 'google.dataflow.v1beta3.Jobs.UpdateJob', 'dataflow_step'), reason: 'not-cloud-run' },
    { name: "Vertex AI's", entry: fromOtherProduct('aiplatform.googleapis.com', 'google.cloud.aiplatform.v1.JobService.CreateCustomJob', 'aiplatform.googleapis.com/CustomJob'), reason: 'not-cloud-run' },
  ];
  it.each(cases)('$name is skipped as $reason', ({ entry, reason }) => {
    expect(parseEntry(entry)).toMatchObject({ kind: 'skipped', reason });
  });
});
