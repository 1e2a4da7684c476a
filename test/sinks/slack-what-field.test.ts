// The Slack message's "What" field: the rule and, when the finding has one, the audit method in parentheses. A
// finding raised on behalf of a newer write whose entry is not kept (README, Resolutions: `methodName` empty) and a
// deploy known only from its system event (`methodName` "(system event)") have no method to put there.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { corpus, type Json } from '../support/entries.js';
import { slackField } from '../support/slackText.js';
import { config, findingsLive, findingsOf } from '../support/run.js';

const pipeline = (name: string): Json[] => {
  const data = JSON.parse(readFileSync(new URL(`../fixtures/pipeline/synthetic-pipeline-${name}.json`, import.meta.url), 'utf8')) as Json | Json[];
  return Array.isArray(data) ? data : [data];
};

const whatField = (finding: Finding): string | undefined => slackField(finding, 'What');

describe('Slack "What" field', () => {
  it('an ingress-opened finding reported for a newer write (method not kept): the rule alone, no empty "()"', async () => {
    // deploy-7 (ingress all, 12:00) judged before the older deploy-6 (load balancer, 11:00): deploy-6 reports deploy-7's finding.
    const live = await findingsLive([...pipeline('deploy-1-first'), ...pipeline('deploy-7-ingress-all'), ...pipeline('deploy-6-ingress-load-balancer')]);
    const reported = live.find((f) => f.rule === 'ingress-opened' && f.evidence['reportedFrom'] !== undefined);
    expect(reported?.methodName).toBe('');
    expect(whatField(reported!)).toBe('ingress-opened');
  });

  it('a deploy known only from its real revision event: "(system event)" once, not in a second pair of parentheses', async () => {
    const strict = config({ timezone: 'UTC', changeWindows: [{ days: ['mon'], start: '09:00', end: '17:00' }] });
    const [finding] = (await findingsOf([corpus('aegisai__sysevent-Services.ReplaceService__2')], strict)).filter((f) => f.rule === 'off-window-deploy');
    expect(finding?.methodName).toBe('(system event)');
    expect(whatField(finding!)).toBe('off-window-deploy (system event)');
  });

  it('an audit method in parentheses after the rule, as before', async () => {
    const strict = config({ timezone: 'UTC', changeWindows: [{ days: ['mon'], start: '09:00', end: '17:00' }] });
    const [finding] = (await findingsOf([corpus('kktae-demo__Services.CreateService__1')], strict)).filter((f) => f.rule === 'off-window-deploy');
    expect(whatField(finding!)).toBe('off-window-deploy (google.cloud.run.v1.Services.CreateService)');
  });
});
