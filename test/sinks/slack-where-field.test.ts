// The Slack message's "Where" field for a public invoker grant on a whole project, folder or organization: the finding's
// service is `*` (every service) and its location `global`, so the field read `western-verve-123456/* (global)`, a
// service named `*` the reader looked for and could not find. It says what the grant covers instead.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { synthetic, variant } from '../support/entries.js';
import { findingsOf } from '../support/run.js';
import { slackField } from '../support/slackText.js';

const PROJECT_GRANT = synthetic('project-SetIamPolicy-run-invoker-allUsers');
const FOLDER_GRANT = variant(PROJECT_GRANT, (e) => {
  e.protoPayload['resourceName'] = 'folders/123456789';
  e['logName'] = 'folders/123456789/logs/cloudaudit.googleapis.com%2Factivity';
  e['resource'] = { type: 'folder', labels: { folder_id: '123456789' } };
});

async function grant(entry: unknown): Promise<Finding> {
  const finding = (await findingsOf([entry])).find((f) => f.rule === 'public-invoker-grant');
  if (!finding) throw new Error('no public-invoker-grant finding');
  return finding;
}

describe('Slack "Where" field of a grant above one service', () => {
  it.each([
    ['a project', PROJECT_GRANT, 'every service in project western-verve-123456'],
    ['a folder', FOLDER_GRANT, 'every service of every project in folders/123456789'],
  ])('on %s: what the grant covers, not a service named "*"', async (_name, entry, expected) => {
    const finding = await grant(entry);
    expect(finding.service).toBe('*');
    expect(slackField(finding, 'Where')).toBe(expected);
  });

  it('on one service: the project, service and region, as before', async () => {
    const finding = await grant(synthetic('run-SetIamPolicy-allUsers'));
    expect(slackField(finding, 'Where')).toBe(`${finding.project}/${finding.service}${finding.location ? ` (${finding.location})` : ''}`);
  });
});
