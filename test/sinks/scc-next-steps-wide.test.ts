// SCC's next steps are what the on-call engineer runs. For a public invoker grant on a whole project or folder (the
// CRITICAL finding) the service-level advice is wrong twice: `gcloud run services remove-iam-policy-binding` does not
// touch a project's or folder's policy, and `allowServices` does not cover a project-wide grant (the detector reads it
// only for a service's own policy).
import { describe, expect, it } from 'vitest';
import { renderScc } from '../../sinks/scc.js';
import { synthetic, variant } from '../support/entries.js';
import { findingsOf } from '../support/run.js';
import { SCC_TEST_SOURCE } from '../support/sccServer.js';

const PROJECT_GRANT = synthetic('project-SetIamPolicy-run-invoker-allUsers');
const FOLDER_GRANT = variant(PROJECT_GRANT, (e) => {
  e.protoPayload['resourceName'] = 'folders/123456789';
  e['logName'] = 'folders/123456789/logs/cloudaudit.googleapis.com%2Factivity';
  e['resource'] = { type: 'folder', labels: { folder_id: '123456789' } };
});

describe('SCC next steps of a public invoker grant above one service', () => {
  it.each([
    ['a project', PROJECT_GRANT, 'gcloud projects remove-iam-policy-binding western-verve-123456 --member=allUsers --role=roles/run.invoker'],
    ['a folder', FOLDER_GRANT, 'gcloud resource-manager folders remove-iam-policy-binding 123456789 --member=allUsers --role=roles/run.invoker'],
  ])('on %s: the command that removes it from that policy, and an exception by project, not allowServices', async (_name, entry, command) => {
    const finding = (await findingsOf([entry])).find((f) => f.rule === 'public-invoker-grant');
    if (!finding) throw new Error('expected a public-invoker-grant finding');
    const steps = renderScc(finding, SCC_TEST_SOURCE).nextSteps ?? '';
    expect(steps).toContain(command);
    expect(steps).not.toContain('gcloud run services');
    expect(steps).not.toContain('allowServices');
    expect(steps).toContain('rules.public-invoker-grant.exceptions');
  });

  it('a service grant keeps the service-level steps', async () => {
    const finding = (await findingsOf([synthetic('run-SetIamPolicy-allUsers')])).find((f) => f.rule === 'public-invoker-grant');
    expect(renderScc(finding!, SCC_TEST_SOURCE).nextSteps).toContain('gcloud run services remove-iam-policy-binding');
  });
});
