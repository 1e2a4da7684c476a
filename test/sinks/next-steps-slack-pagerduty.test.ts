// A new user's review: "findings rarely say what to do". SCC's findings carried next steps per rule and case (what to
// check, the command that reverts the change: sinks/nextSteps.ts), but the engineer paged in Slack or PagerDuty got
// none of it. Both now carry the same text as SCC, from the same function: Slack in the message of an open finding,
// PagerDuty in the trigger's custom_details.next_steps. A resolution in the thread of its finding carries none (the
// change is undone already); one shown on its own says what is left to do.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { nextStepsOf, stepsAfterResolutionOf } from '../../sinks/nextSteps.js';
import { PagerDutySink, renderPagerDuty, renderPagerDutyEvents } from '../../sinks/pagerduty.js';
import { renderScc } from '../../sinks/scc.js';
import { escapeMrkdwn, renderSlack, SLACK_LIMITS, SlackSink, type SlackMessage } from '../../sinks/slack.js';
import { generationDeploy, synthetic, variant, type Json } from '../support/entries.js';
import { makeFinding, resolutionOf, RULES } from '../support/findings.js';
import { PAGERDUTY_EVENT_MAX_BYTES, PAGERDUTY_TEST_ROUTING_KEY, startPagerDutyServer, type PagerDutyServer } from '../support/pagerdutyServer.js';
import { findingsOf } from '../support/run.js';
import { SCC_TEST_SOURCE } from '../support/sccServer.js';
import { SLACK_TEST_TOKEN, startSlackServer, type SlackServer } from '../support/slackServer.js';
import { textObjects, type TextObject } from '../support/slackText.js';
import { HOSTILE } from './hostile.js';

const PROJECT_GRANT = synthetic('project-SetIamPolicy-run-invoker-allUsers');
const FOLDER_GRANT = variant(PROJECT_GRANT, (e) => {
  e.protoPayload['resourceName'] = 'folders/123456789';
  e['logName'] = 'folders/123456789/logs/cloudaudit.googleapis.com%2Factivity';
  e['resource'] = { type: 'folder', labels: { folder_id: '123456789' } };
});
const ORGANIZATION_GRANT = variant(PROJECT_GRANT, (e) => {
  e.protoPayload['resourceName'] = 'organizations/123456789012';
  e['logName'] = 'organizations/123456789012/logs/cloudaudit.googleapis.com%2Factivity';
  e['resource'] = { type: 'organization', labels: { organization_id: '123456789012' } };
});
const A = 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com';
const B = 'ci-admin@test-project-1234.iam.gserviceaccount.com';

async function findingOf(entries: readonly Json[], rule: string): Promise<Finding> {
  const finding = (await findingsOf(entries)).find((f) => f.rule === rule && !f.status);
  if (!finding) throw new Error(`expected a ${rule} finding`);
  return finding;
}

/**
 * Every rule's finding, and the cases whose steps are built from the finding: a public grant on a project, folder or
 * organization (its id goes into the command and the exception), and a runtime service account changed by a deploy.
 */
const CASES: readonly (readonly [string, () => Promise<Finding> | Finding])[] = [
  ...RULES.map((rule) => [rule, () => makeFinding(rule)] as const),
  ['public grant on a project (real entry)', () => findingOf([PROJECT_GRANT], 'public-invoker-grant')],
  ['public grant on a folder', () => findingOf([FOLDER_GRANT], 'public-invoker-grant')],
  ['public grant on an organization', () => findingOf([ORGANIZATION_GRANT], 'public-invoker-grant')],
  ['service account changed by a deploy', () => findingOf([generationDeploy('2024-05-01T10:00:00Z', A, 1), generationDeploy('2024-05-02T10:00:00Z', B, 2)], 'service-account-change')],
];

/** A wide grant whose resource id is hostile: it never goes into the command (PROJECT_ID stands for it). */
function hostileWideGrant(kind: 'projects' | 'folders' | 'organizations', id: string): Finding {
  return makeFinding('public-invoker-grant', {}, { resourceName: `//cloudresourcemanager.googleapis.com/${kind}/${id}`, service: '*' });
}

/** The text objects of `message` that hold `steps` (escaped as mrkdwn, or as they are in plain_text). */
function stepsTexts(message: SlackMessage, steps: string): TextObject[] {
  return textObjects(message.blocks).filter((t) => t.text.includes(t.type === 'mrkdwn' ? escapeMrkdwn(steps) : steps));
}

/**
 * What in a mrkdwn text could be markup: `<` or `>` (links, mentions), an `&` that starts no entity, `*`, `~` or a
 * backtick outside a bold `Next steps` label, an `_` that is not inside a word (Slack leaves `WORKER_POOL` alone).
 */
function markupIn(text: string): string[] {
  const body = text.replace(/^\*Next steps:?\*/, '');
  const problems: string[] = [];
  if (/[<>]/.test(body)) problems.push('< or >');
  if (body.replace(/&(amp|lt|gt);/g, '').includes('&')) problems.push('an unescaped &');
  if (/[*~`]/.test(body)) problems.push('*, ~ or `');
  if (/(^|\W)_|_(\W|$)/.test(body)) problems.push('an _ at a word boundary');
  return problems;
}

/** The one block with the steps: a section or context block, plain text or verbatim mrkdwn with no markup of its own. */
function expectSlackSteps(message: SlackMessage, steps: string): void {
  const texts = stepsTexts(message, steps);
  expect(texts, 'exactly one text holds the next steps').toHaveLength(1);
  const text = texts[0]!;
  expect(text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
  if (text.type === 'mrkdwn') {
    expect(text).toMatchObject({ verbatim: true });
    expect(markupIn(text.text)).toEqual([]);
  }
  expect(text.text).toMatch(/^\*?Next steps\b/);
  // Not in the notification text: it stays the severity and title.
  expect(message.text).not.toContain(steps.slice(0, 40));
}

describe('Slack and PagerDuty carry the next steps SCC carries', () => {
  it.each(CASES)('%s: the Slack message and the PagerDuty trigger hold the same steps as the SCC finding', async (_name, make) => {
    const finding = await make();
    const steps = nextStepsOf(finding);
    expect(renderScc(finding, SCC_TEST_SOURCE).nextSteps).toBe(steps);
    // What slack.ts and pagerduty.ts count on: never cut by PagerDuty's tiers, far inside a Slack section.
    expect(steps.length).toBeLessThan(1_000);
    expectSlackSteps(renderSlack(finding, { channel: 'C0SECURITY', sccSource: SCC_TEST_SOURCE }), steps);
    const event = renderPagerDuty(finding, { source: 'runwatch' });
    if (event.event_action !== 'trigger') throw new Error('expected a trigger');
    expect(event.payload.custom_details['next_steps']).toBe(steps);
  });

  it.each(['projects', 'folders', 'organizations'] as const)('a grant on %s puts the real id in the command; Slack shows it as text, not a link or formatting', async (kind) => {
    const finding = await findingOf([{ projects: PROJECT_GRANT, folders: FOLDER_GRANT, organizations: ORGANIZATION_GRANT }[kind]], 'public-invoker-grant');
    const message = renderSlack(finding, { channel: 'C1' });
    expectSlackSteps(message, nextStepsOf(finding));
    const [steps] = stepsTexts(message, nextStepsOf(finding));
    expect(steps?.text).toMatch(/remove-iam-policy-binding [a-z0-9-]+ --member=allUsers --role=roles\/run\.invoker/);
    expect(steps?.text).toMatch(/rules\.public-invoker-grant\.exceptions \[\{project: "[a-z0-9/-]+"\}\]/);
  });

  it.each(HOSTILE)('a wide grant on a resource named %s: the steps name a placeholder, and stay inert in Slack', (_name, hostile) => {
    for (const kind of ['projects', 'folders', 'organizations'] as const) {
      const finding = hostileWideGrant(kind, hostile);
      const steps = nextStepsOf(finding);
      if (hostile.trim()) expect(steps).not.toContain(hostile);
      expectSlackSteps(renderSlack(finding, { channel: 'C1', sccSource: SCC_TEST_SOURCE }), steps);
    }
  });

  it('a resolution in the thread of its finding carries none, nor does the PagerDuty resolve event: the original has them', () => {
    const finding = makeFinding('public-invoker-grant');
    const resolved = resolutionOf(finding);
    const reply = renderSlack(resolved, { channel: 'C1', thread: { channel: 'C1', ts: '1715652787.000100' } });
    expect(stepsTexts(reply, nextStepsOf(finding))).toEqual([]);
    expect(JSON.stringify(reply.blocks)).not.toContain('Next steps');
    const [resolve] = renderPagerDutyEvents(resolved, { source: 'runwatch', originalDelivered: true });
    expect(JSON.stringify(resolve)).not.toContain('next_steps');
  });

  // A resolution that reaches Slack or PagerDuty before its finding (the finding's delivery failed, or it was raised
  // closed at once from a late entry) is shown on its own: the whole finding, already resolved, in Slack; an incident
  // triggered and resolved in PagerDuty. No original carries the steps there. Not the revert (it is undone), but what
  // is left: review what happened while the change was in place; rotate a secret that was in plain text all the same.
  it.each(CASES)('%s: a resolution shown on its own says what is left to do, in Slack and in the PagerDuty trigger', async (_name, make) => {
    const resolved = resolutionOf(await make());
    const steps = stepsAfterResolutionOf(resolved);
    expect(steps).not.toBe(nextStepsOf(resolved));
    expect(steps.length).toBeLessThan(1_000);
    expectSlackSteps(renderSlack(resolved, { channel: 'C0SECURITY', sccSource: SCC_TEST_SOURCE }), steps);
    const [trigger, resolve] = renderPagerDutyEvents(resolved, { source: 'runwatch', originalDelivered: false });
    if (trigger?.event_action !== 'trigger') throw new Error('expected a trigger first');
    expect(trigger.payload.custom_details['next_steps']).toBe(steps);
    expect(JSON.stringify(resolve)).not.toContain('next_steps');
  });

  it('a plain-text secret is to be rotated even once the variable is gone; an opened service\'s calls meanwhile reviewed', () => {
    expect(stepsAfterResolutionOf(resolutionOf(makeFinding('plaintext-secret-env')))).toMatch(/^Rotate the secret/);
    for (const rule of ['public-invoker-grant', 'ingress-opened', 'iap-disabled', 'default-url-enabled'] as const) {
      expect(stepsAfterResolutionOf(resolutionOf(makeFinding(rule))), rule).toMatch(/request logs/);
    }
  });
});

describe('PagerDuty: where the next steps sit in the 512 KB cut', () => {
  it('right after the finding id and rule, never cut: an event cut to fit keeps them whole, and the summary', () => {
    // synthetic-worst-case evidence (pagerduty.test.ts): 60 keys of 60 values of 500 control characters, 11 MB as JSON.
    const value = '\u0007'.repeat(500);
    const evidence = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`key${i}`, Array.from({ length: 60 }, () => value)]));
    const ordinary = makeFinding('binary-authorization-bypass');
    const finding = { ...ordinary, evidence };
    const event = renderPagerDuty(finding, { source: 'runwatch' });
    if (event.event_action !== 'trigger') throw new Error('expected a trigger');
    expect(Buffer.byteLength(JSON.stringify(event), 'utf8')).toBeLessThanOrEqual(500_000);
    expect(Object.keys(event.payload.custom_details).slice(0, 3)).toEqual(['finding_id', 'rule', 'next_steps']);
    expect(event.payload.custom_details['next_steps']).toBe(nextStepsOf(finding));
    const whole = renderPagerDuty(ordinary, { source: 'runwatch' });
    expect(event.payload.summary).toBe(whole.event_action === 'trigger' ? whole.payload.summary : undefined);
  });
});

describe('through the real clients and the local servers', () => {
  let slack: SlackServer;
  let pagerduty: PagerDutyServer;
  beforeAll(async () => {
    [slack, pagerduty] = await Promise.all([startSlackServer(), startPagerDutyServer()]);
  });
  afterAll(async () => {
    await Promise.all([slack.close(), pagerduty.close()]);
  });
  beforeEach(() => {
    slack.reset();
    pagerduty.reset();
    pagerduty.open.clear();
  });
  const deadline = (): number => Date.now() + 10_000;

  it.each(RULES)('%s: Slack receives the steps in the message, PagerDuty in the trigger; a resolution gets none', async (rule) => {
    const finding = makeFinding(rule);
    const steps = nextStepsOf(finding);
    const slackSink = new SlackSink({ token: SLACK_TEST_TOKEN, apiUrl: slack.apiUrl, config: { minSeverity: 'LOW', channel: 'C0SECURITY' }, retry: { maxAttempts: 1 } });
    const posted = await slackSink.deliver(finding, { deadlineMs: deadline() });
    expect(posted).toMatchObject({ status: 'delivered' });
    const ref = posted.status === 'delivered' ? posted.ref : undefined;
    expect(await slackSink.deliver(resolutionOf(finding), { deadlineMs: deadline(), ...(ref ? { previousRef: ref } : {}) })).toMatchObject({ status: 'delivered' });
    const [post, reply] = slack.posts();
    expect(textObjects(post?.blocks).filter((t) => t.text.includes(escapeMrkdwn(steps)))).toHaveLength(1);
    expect(reply?.form['thread_ts']).toBeDefined();
    expect(JSON.stringify(reply?.blocks)).not.toContain('Next steps');

    const pagerdutySink = new PagerDutySink({ routingKey: PAGERDUTY_TEST_ROUTING_KEY, eventsUrl: pagerduty.eventsUrl, source: 'runwatch', retry: { maxAttempts: 1 } });
    expect(await pagerdutySink.deliver(finding, { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    expect(await pagerdutySink.deliver(resolutionOf(finding), { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    const [trigger, resolve] = pagerduty.events();
    expect((trigger?.['payload'] as { custom_details: Record<string, unknown> }).custom_details['next_steps']).toBe(steps);
    expect(resolve).toMatchObject({ event_action: 'resolve' });
    expect(JSON.stringify(resolve)).not.toContain('next_steps');
    expect(pagerduty.requests.every((r) => Buffer.byteLength(r.body, 'utf8') <= PAGERDUTY_EVENT_MAX_BYTES)).toBe(true);
  });
});
