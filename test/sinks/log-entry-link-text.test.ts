// A finding reported on behalf of a newer write whose entry is not kept (README, Resolutions) has no insertId and no
// logName: its Logs Explorer link can only query the project at the finding's time, which may list several entries.
// Its text must not promise "the" audit log entry.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { renderPagerDuty } from '../../sinks/pagerduty.js';
import { renderSlack } from '../../sinks/slack.js';
import { makeFinding } from '../support/findings.js';

function slackLinkText(finding: Finding): string | undefined {
  for (const block of renderSlack(finding, { channel: 'C1' }).blocks) {
    const text = block.type === 'section' && block.text?.type === 'mrkdwn' ? block.text.text : '';
    for (const [, url, label] of text.matchAll(/<([^|>]+)\|([^>]+)>/g)) if (url!.replace(/&amp;/g, '&') === finding.links.logEntry) return label;
  }
  return undefined;
}

function pagerDutyLinkText(finding: Finding): string | undefined {
  const event = renderPagerDuty(finding, { source: 'runwatch' });
  if (event.event_action !== 'trigger') throw new Error('expected a trigger');
  return event.links?.find((l) => l.href === finding.links.logEntry)?.text;
}

describe('the Logs Explorer link text', () => {
  it('an entry named by its insertId: the audit log entry', () => {
    const finding = makeFinding('ingress-opened');
    expect(slackLinkText(finding)).toBe('Audit log entry');
    expect(pagerDutyLinkText(finding)).toBe('Audit log entry in Logs Explorer');
  });

  it('no insertId and no log name (reported for a newer write): the entries at its time', () => {
    const finding = makeFinding('ingress-opened', {}, { insertId: '', logName: '' });
    expect(slackLinkText(finding)).toBe('Audit log entries at that time');
    expect(pagerDutyLinkText(finding)).toBe('Audit log entries at that time in Logs Explorer');
  });
});
