// external-member-grant's member is written by whoever sets the IAM policy (and by whoever forges or re-exports the
// entry): the rule judges any `user:`, `group:` or `domain:` member without white space, so Slack markup, escaping
// tricks, invisible and direction-changing characters reach the finding's summary and evidence as they were logged.
// Each sink must show them as text: never a mention, a link or formatting in Slack; nothing invisible or
// line-breaking in PagerDuty's summary or Security Command Center's description. Findings come from the pipeline,
// over a variant of the real v1 SetIamPolicy entry.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { judgedMemberOf } from '../../functions/model/iam.js';
import { renderPagerDuty } from '../../sinks/pagerduty.js';
import { renderScc } from '../../sinks/scc.js';
import { renderSlack } from '../../sinks/slack.js';
import { at, corpus, variant } from '../support/entries.js';
import { config, findingsOf } from '../support/run.js';
import { SCC_TEST_SOURCE } from '../support/sccServer.js';
import { textObjects } from '../support/slackText.js';
import { HOSTILE } from './hostile.js';

/** Written out here, independently of untrustedText.ts: what breaks a line, hides or turns text around. */
const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u2800\u3164\ufeff\uffa0\ufff9-\ufffb\u{e0000}-\u{e007f}\ufe00-\ufe0f\u{e0100}-\u{e01ef}]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u;
/** The same without the line break: plain_text may hold OUR line breaks between evidence lines. */
const UNSAFE_BUT_NEWLINE =
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u2800\u3164\ufeff\uffa0\ufff9-\ufffb\u{e0000}-\u{e007f}\ufe00-\ufe0f\u{e0100}-\u{e01ef}]/u;
/** Our own links: https on the Cloud Console, no space, `<`, `>` or `|` in the URL or the text. */
const OWN_LINK = /<https:\/\/console\.cloud\.google\.com\/[^\s<>|]*\|[^<>|]*>/g;

const CFG = config({ rules: { 'external-member-grant': { allowedDomains: ['acme.com'] } } });

/** The hostile values as a member's local part and as a domain: member and domain both reach the finding. */
const MEMBERS = HOSTILE.flatMap(([name, value]) => [
  [`${name} (user)`, `user:${value}@evil.example`, value],
  [`${name} (domain)`, `domain:${value}`, value],
] as const).filter(([, member]) => judgedMemberOf(member) !== undefined);

async function grantOf(member: string): Promise<Finding> {
  const entry = variant(at(corpus('panther__Services.SetIamPolicy__1'), '2024-02-02T10:00:00Z'), (e) => {
    const bindings = [{ role: 'roles/run.developer', members: [member] }];
    (e.protoPayload['request'] as { policy: Record<string, unknown> }).policy['bindings'] = bindings;
    (e.protoPayload['response'] as Record<string, unknown>)['bindings'] = bindings;
  });
  const findings = (await findingsOf([entry], CFG)).filter((f) => f.rule === 'external-member-grant');
  expect(findings, member).toHaveLength(1);
  return findings[0]!;
}

/** What is unsafe in the Slack message of `finding`, with `hostile` in its member. */
function slackProblems(finding: Finding, hostile: string): string[] {
  const problems: string[] = [];
  const message = renderSlack(finding, { channel: 'C0SECURITY', sccSource: SCC_TEST_SOURCE });
  const texts = textObjects(message.blocks);
  for (const text of [message.text, ...texts.filter((t) => t.type === 'mrkdwn').map((t) => t.text)]) {
    if (/[<>]/.test(text.replace(OWN_LINK, ''))) problems.push(`mrkdwn has < or > outside our links: ${JSON.stringify(text)}`);
    if (text.replace(/&(amp|lt|gt);/g, '').includes('&')) problems.push(`mrkdwn has an unescaped &: ${JSON.stringify(text)}`);
    if (UNSAFE.test(text)) problems.push(`mrkdwn has an unsafe character: ${JSON.stringify(text)}`);
    if (hostile.trim().length >= 2 && text.includes(hostile)) problems.push(`mrkdwn holds the hostile text: ${JSON.stringify(text)}`);
  }
  for (const text of texts.filter((t) => t.type === 'plain_text')) {
    if (UNSAFE_BUT_NEWLINE.test(text.text)) problems.push(`plain_text has an unsafe character: ${JSON.stringify(text.text)}`);
  }
  return problems;
}

describe('external-member-grant: a hostile member in the sinks', () => {
  it('the rule judges enough of the hostile values for this to mean something', () => {
    expect(MEMBERS.length).toBeGreaterThan(40);
  });

  it.each(MEMBERS)('%s', async (_name, member, hostile) => {
    const finding = await grantOf(member);
    // The finding keeps the member as logged: evidence for whoever investigates.
    expect(finding.evidence['member']).toBe(member);
    expect(slackProblems(finding, hostile)).toEqual([]);
    const event = renderPagerDuty(finding, { source: 'runwatch' });
    if (event.event_action !== 'trigger') throw new Error('expected a trigger');
    expect(event.payload.summary).not.toMatch(UNSAFE);
    expect(event.payload.summary.length).toBeLessThanOrEqual(1024);
    expect(renderScc(finding, SCC_TEST_SOURCE).description).not.toMatch(UNSAFE);
  });
  // Past GRANTS_ONE_BY_ONE grants, one finding names the rest: its `members` and `domains` (arrays) and its summary carry
  // hostile members too, many at once.
  it('the finding of the rest: hostile members and domains in its arrays and summary render as text', async () => {
    const { GRANTS_ONE_BY_ONE } = await import('../../functions/detectors/external-member-grant.js');
    const members = MEMBERS.map(([, member]) => member);
    const entry = variant(at(corpus('panther__Services.SetIamPolicy__1'), '2024-02-02T10:00:00Z'), (e) => {
      const bindings = [
        { role: 'roles/run.admin', members: Array.from({ length: GRANTS_ONE_BY_ONE }, (_, i) => `user:u${i}@gmail.com`) },
        { role: 'roles/run.invoker', members },
      ];
      (e.protoPayload['request'] as { policy: Record<string, unknown> }).policy['bindings'] = bindings;
      (e.protoPayload['response'] as Record<string, unknown>)['bindings'] = bindings;
    });
    const rest = (await findingsOf([entry], CFG)).filter((f) => f.rule === 'external-member-grant' && Array.isArray(f.evidence['members']));
    expect(rest).toHaveLength(1);
    const finding = rest[0]!;
    expect((finding.evidence['members'] as string[]).length).toBeGreaterThan(10);
    expect((finding.evidence['domains'] as string[]).length).toBeGreaterThan(10);
    for (const [, , hostile] of MEMBERS) expect(slackProblems(finding, hostile), hostile).toEqual([]);
    const event = renderPagerDuty(finding, { source: 'runwatch' });
    if (event.event_action !== 'trigger') throw new Error('expected a trigger');
    expect(event.payload.summary).not.toMatch(UNSAFE);
    const scc = renderScc(finding, SCC_TEST_SOURCE);
    expect(scc.description).not.toMatch(UNSAFE);
  });
});
