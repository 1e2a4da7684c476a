// The text of a finding's Cloud Console link says what the link opens. A public invoker grant (or a refused attempt)
// on a whole project, folder or organization links to that resource's IAM page (findings/enrich.ts linksOf), not to
// a Cloud Run service: the on-call reader who clicks "Service in the Cloud Console" for a project-wide grant lands on
// the project's IAM page instead, and a reader of the Slack message looks for a service `*` that does not exist.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { renderPagerDuty } from '../../sinks/pagerduty.js';
import { renderSlack } from '../../sinks/slack.js';
import { synthetic, variant } from '../support/entries.js';
import { makeFinding } from '../support/findings.js';
import { findingsOf } from '../support/run.js';

const PROJECT_GRANT = synthetic('project-SetIamPolicy-run-invoker-allUsers');
const PROJECT_ATTEMPT = synthetic('project-SetIamPolicy-run-invoker-allUsers-refused');
const FOLDER_GRANT = variant(PROJECT_GRANT, (e) => {
  e.protoPayload['resourceName'] = 'folders/123456789';
  e['logName'] = 'folders/123456789/logs/cloudaudit.googleapis.com%2Factivity';
  e['resource'] = { type: 'folder', labels: { folder_id: '123456789' } };
});

async function wideFinding(entry: unknown, rule: string): Promise<Finding> {
  const finding = (await findingsOf([entry])).find((f) => f.rule === rule);
  if (!finding) throw new Error(`no ${rule} finding`);
  expect(finding.links.console).toMatch(/^https:\/\/console\.cloud\.google\.com\/iam-admin\/iam\?/);
  return finding;
}

/** The Slack link texts, as `<url|text>` pairs in the links section. */
function slackLinkTexts(finding: Finding): Map<string, string> {
  const texts = new Map<string, string>();
  for (const block of renderSlack(finding, { channel: 'C1' }).blocks) {
    const text = block.type === 'section' && block.text?.type === 'mrkdwn' ? block.text.text : '';
    for (const [, url, label] of text.matchAll(/<([^|>]+)\|([^>]+)>/g)) texts.set(url!.replace(/&amp;/g, '&'), label!);
  }
  return texts;
}

describe('console link text of a project, folder or organization IAM finding', () => {
  it.each([
    ['a public grant on a project', PROJECT_GRANT, 'public-invoker-grant', 'Project IAM in the Cloud Console'],
    ['a refused public grant on a project', PROJECT_ATTEMPT, 'public-invoker-attempt', 'Project IAM in the Cloud Console'],
    ['a public grant on a folder', FOLDER_GRANT, 'public-invoker-grant', 'Folder IAM in the Cloud Console'],
  ])('%s: Slack and PagerDuty name the IAM page the link opens, not a Cloud Run service', async (_name, entry, rule, text) => {
    const finding = await wideFinding(entry, rule);
    expect(slackLinkTexts(finding).get(finding.links.console!)).toBe(text);
    const event = renderPagerDuty(finding, { source: 'runwatch' });
    if (event.event_action !== 'trigger') throw new Error('expected a trigger');
    expect(event.links.find((l) => l.href === finding.links.console)?.text).toBe(text);
  });
});

// A deploy whose revision is known links to its service's revisions tab (findings/enrich.ts linksOf): the console has
// no page of one revision to link. "Revision in the Cloud Console" promised that page.
describe('console link text of a deploy with its revision known', () => {
  it('names the revisions list the link opens', () => {
    const finding = makeFinding('off-window-deploy');
    expect(finding.revision).toBeDefined();
    expect(finding.links.console).toMatch(/\/revisions\?project=/);
    expect(slackLinkTexts(finding).get(finding.links.console!)).toBe('Revisions in the Cloud Console');
    const event = renderPagerDuty(finding, { source: 'runwatch' });
    if (event.event_action !== 'trigger') throw new Error('expected a trigger');
    expect(event.links.find((l) => l.href === finding.links.console)?.text).toBe('Cloud Run revisions in the Cloud Console');
  });
});
