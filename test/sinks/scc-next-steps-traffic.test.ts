// SCC's next steps for a service-account-change raised by traffic moved to an older revision: the fix is where the
// traffic goes, not a redeploy with the previous service account (the newest revision already runs as it).
import { describe, expect, it } from 'vitest';
import { renderScc } from '../../sinks/scc.js';
import { at, generationDeploy, synthetic, trafficToRevision, v1TrafficWrite, variant, type Json } from '../support/entries.js';
import { findingsOf } from '../support/run.js';
import { SCC_TEST_SOURCE } from '../support/sccServer.js';

const A = 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com';
const B = 'ci-admin@test-project-1234.iam.gserviceaccount.com';

describe('SCC next steps of service-account-change', () => {
  it('traffic moved to an older revision: send it back to the latest revision', async () => {
    const deploys = [generationDeploy('2024-05-01T10:00:00Z', A, 1), generationDeploy('2024-05-02T10:00:00Z', B, 2), generationDeploy('2024-05-02T12:00:00Z', A, 3)];
    const entries = [...deploys, v1TrafficWrite('2024-05-03T10:00:00Z', A, 4, [trafficToRevision(2)])];
    const finding = (await findingsOf(entries)).find((f) => f.rule === 'service-account-change' && f.evidence['servingRevision'] !== undefined && !f.status);
    if (!finding) throw new Error('expected a traffic finding');
    const steps = renderScc(finding, SCC_TEST_SOURCE).nextSteps ?? '';
    expect(steps).toContain('gcloud run services update-traffic SERVICE --to-latest');
    expect(steps).not.toContain('redeploy with the previous service account');
  });

  // A worker pool has no traffic: its instances go back with update-instance-split (its split is read as traffic).
  it('instances of a worker pool moved to an older revision: send them back to the latest revision', async () => {
    const deploy = (entry: Json, time: string, revision: string, email: string): Json =>
      variant(at(entry, time), (e) => {
        const template = (e.protoPayload['request'] as { workerPool: { template: Record<string, unknown> } }).workerPool.template;
        template['revision'] = revision;
        template['serviceAccount'] = email;
      });
    const pool = [
      deploy(synthetic('workerpool-v2-CreateWorkerPool'), '2025-03-11T10:04:31Z', 'queue-consumer-00001-wbv', 'consumer@acme-prod.iam.gserviceaccount.com'),
      deploy(synthetic('workerpool-v2-UpdateWorkerPool'), '2025-03-11T10:18:26Z', 'queue-consumer-00002-tq5', 'data-admin@acme-prod.iam.gserviceaccount.com'),
      deploy(synthetic('workerpool-v2-UpdateWorkerPool-gcloud'), '2025-03-11T10:42:07Z', 'queue-consumer-00003-k2d', 'consumer@acme-prod.iam.gserviceaccount.com'),
      synthetic('workerpool-v2-UpdateWorkerPool-instance-split'), // every instance back to queue-consumer-00002-tq5
    ];
    const finding = (await findingsOf(pool)).find((f) => f.rule === 'service-account-change' && f.evidence['servingRevision'] !== undefined && !f.status);
    if (!finding) throw new Error('expected an instance split finding');
    const steps = renderScc(finding, SCC_TEST_SOURCE).nextSteps ?? '';
    expect(steps).toContain('gcloud beta run worker-pools update-instance-split WORKER_POOL --to-latest');
    expect(steps).not.toContain('gcloud run services update-traffic');
  });

  it('a revision of its own keeps the redeploy advice', async () => {
    const finding = (await findingsOf([generationDeploy('2024-05-01T10:00:00Z', A, 1), generationDeploy('2024-05-02T10:00:00Z', B, 2)])).find((f) => f.rule === 'service-account-change');
    expect(renderScc(finding!, SCC_TEST_SOURCE).nextSteps).toContain('redeploy with the previous service account');
  });
});
