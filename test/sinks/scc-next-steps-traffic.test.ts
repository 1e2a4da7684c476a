// SCC's next steps for a service-account-change raised by traffic moved to an older revision: the fix is where the
// traffic goes, not a redeploy with the previous service account (the newest revision already runs as it).
import { describe, expect, it } from 'vitest';
import { renderScc } from '../../sinks/scc.js';
import { generationDeploy, trafficToRevision, v1TrafficWrite } from '../support/entries.js';
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

  it('a revision of its own keeps the redeploy advice', async () => {
    const finding = (await findingsOf([generationDeploy('2024-05-01T10:00:00Z', A, 1), generationDeploy('2024-05-02T10:00:00Z', B, 2)])).find((f) => f.rule === 'service-account-change');
    expect(renderScc(finding!, SCC_TEST_SOURCE).nextSteps).toContain('redeploy with the previous service account');
  });
});
