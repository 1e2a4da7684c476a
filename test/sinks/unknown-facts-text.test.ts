// The facts a finding could not check (`unknown`, ids kept as the contract says) as Slack and SCC show them to a
// reader: in words (`serviceAccount` is the runtime service account, `location` the region, `admin write` the deploy's
// write that only its revision's system events stood for), and not as "Not in the audit entry", which is not why each
// is missing (a finding reported for a newer write, whose entry is not kept; a deploy known from its events alone).
import { describe, expect, it } from 'vitest';
import { renderScc } from '../../sinks/scc.js';
import { renderSlack } from '../../sinks/slack.js';
import { makeFinding } from '../support/findings.js';
import { textObjects } from '../support/slackText.js';

const finding = makeFinding('service-account-change', {}, { unknown: ['serviceAccount', 'admin write', 'location', 'image', 'repository'] });
const EXPECTED =
  "Not known, so not checked: runtime service account, the deploy's admin write (only its revision's system events were seen), region, image, image repository";

describe('the facts a finding could not check, in words', () => {
  it('Slack', () => {
    const texts = textObjects(renderSlack(finding, { channel: 'C1' }).blocks).map((t) => t.text);
    expect(texts).toContain(EXPECTED);
  });

  it('SCC', () => {
    expect(String(renderScc(finding, 'organizations/1/sources/2').description)).toContain(`${EXPECTED}.`);
  });
});
