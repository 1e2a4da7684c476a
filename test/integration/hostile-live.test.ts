// Attacker-controlled strings through the live pipeline on the emulators, from the audit entry to the servers: a
// principal, a service name and labels holding Slack markup (`<!channel>`, `<https://evil|x>`, `*bold*`), control
// characters, a fake line of ours and a fake PagerDuty routing key. The unit tests (test/sinks/slackHostile.test.ts)
// render findings built in the test; here the values come out of detect (normalization, the Firestore baseline,
// Pub/Sub attributes) and reach the real Slack and PagerDuty clients through notify. What the Slack server receives
// carries no markup but our own console links, no control or invisible characters; PagerDuty gets the configured
// routing key whatever the entry says; and no secret (Slack token, routing key, webhook secret) shows in a log, a
// finding or a dead letter, even when PagerDuty's refusal echoes the routing key.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGERDUTY_TEST_ROUTING_KEY } from '../support/pagerdutyServer.js';
import { SLACK_TEST_TOKEN } from '../support/slackServer.js';
import { emulators, expectedFindings, settle, startStack, TEST_CONFIG, waitFor, type Stack } from './stack.js';
import { textObjects } from '../support/slackText.js';

const emu = emulators();

const CONFIG = {
  ...TEST_CONFIG,
  sinks: { webhook: { minSeverity: 'LOW', timeoutSeconds: 5 }, slack: { minSeverity: 'LOW', channel: '#sec' }, pagerduty: { minSeverity: 'LOW' } },
};
const SINKS = ['webhook', 'slack', 'pagerduty'] as const;

/** Looks like a routing key (32 characters), and is not the configured one. */
const FAKE_ROUTING_KEY = 'FAKEKEYa0123456789abcdefABCDEF01';
const PRINCIPAL = `mallory<!channel>*bold*<https://evil|x>\u0007\u001b[2J\r\nWho: alice@acme.com ${FAKE_ROUTING_KEY}`;
const SERVICE = 'pay<!here>_i_<https://evil.example|y>\u0000\u001b[31m';
const LABELS = { team: '<!channel> <https://evil|x> *b*\u0007', routing_key: FAKE_ROUTING_KEY };

const fixtureText = (name: string): string => readFileSync(new URL(`../fixtures/pipeline/${name}`, import.meta.url), 'utf8');
/** `value` as it sits inside a JSON string literal. */
const inJson = (value: string): string => JSON.stringify(value).slice(1, -1);

/** The public grant, by the hostile principal on the hostile service. */
const grant = JSON.parse(fixtureText('synthetic-pipeline-public-invoker.json').replaceAll('some.user@company.com', inJson(PRINCIPAL)).replaceAll('payments-api', inJson(SERVICE))) as unknown;
/** A breakglass deploy from an untrusted repository by the hostile principal (three findings), with hostile labels. */
const deploy = ((): unknown => {
  const entry = JSON.parse(fixtureText('synthetic-pipeline-deploy-5-breakglass.json').replaceAll('masatonaka1989@gmail.com', inJson(PRINCIPAL))) as {
    protoPayload: { request: { service: { metadata: { labels?: Record<string, string> } } } };
  };
  const metadata = entry.protoPayload.request.service.metadata;
  metadata.labels = { ...metadata.labels, ...LABELS };
  return entry;
})();

/** Our own links: https on the Cloud Console, no space, `<`, `>` or `|` in the URL, none of `<>|` in the text. */
const OWN_LINK = /<https:\/\/console\.cloud\.google\.com\/[^\s<>|]*\|[^<>|]*>/g;
/** C0 and C1 controls, line and paragraph separators, direction and zero-width characters (written out here). */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/u;
const UNSAFE_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/u;
/** Pieces of the hostile values that are Slack markup, which must never reach a mrkdwn text. */
const MARKUP = ['<!channel>', '<!here>', '<https://evil', '*bold*', '_i_', '*b*', '|x>', '|y>'];

/** What is unsafe in one chat.postMessage: its notification text and blocks, as the Slack server received them. */
function slackProblems(form: Readonly<Record<string, string>>, blocks: unknown): string[] {
  const problems: string[] = [];
  const texts = textObjects(blocks);
  for (const text of [form['text'] ?? '', ...texts.filter((t) => t.type === 'mrkdwn').map((t) => t.text)]) {
    const withoutLinks = text.replace(OWN_LINK, '');
    if (/[<>]/.test(withoutLinks)) problems.push(`mrkdwn has < or > outside our links: ${JSON.stringify(text)}`);
    if (text.replace(/&(amp|lt|gt);/g, '').includes('&')) problems.push(`mrkdwn has an unescaped &: ${JSON.stringify(text)}`);
    if (UNSAFE.test(text)) problems.push(`mrkdwn has an unsafe character: ${JSON.stringify(text)}`);
    for (const piece of MARKUP) if (text.includes(piece)) problems.push(`mrkdwn holds ${piece}: ${JSON.stringify(text)}`);
  }
  for (const text of texts.filter((t) => t.type === 'plain_text')) {
    if (UNSAFE_BUT_NEWLINE.test(text.text)) problems.push(`plain_text has an unsafe character: ${JSON.stringify(text.text)}`);
  }
  // Other form fields Slack reads as markup or links: none may carry the hostile values.
  for (const [field, value] of Object.entries(form)) {
    if (field === 'blocks' || field === 'metadata') continue;
    for (const piece of MARKUP) if (value.includes(piece)) problems.push(`form field ${field} holds ${piece}`);
  }
  if (form['link_names'] === 'true' || form['link_names'] === '1') problems.push('link_names is on');
  return problems;
}

describe.skipIf(!emu)('live pipeline on the emulators: hostile strings and secrets', () => {
  let s: Stack<(typeof SINKS)[number]>;
  beforeAll(async () => {
    s = await startStack(emu!, { name: 'hostile', sinks: SINKS, config: CONFIG });
  });
  afterAll(async () => {
    await s?.close();
  });

  // ~10 s on 2 cores beside other work; each wait is bounded and named, the limit guards against a hang.
  it('Slack gets no markup or control characters, PagerDuty the configured key, and no secret shows anywhere', async () => {
    const expected = await expectedFindings([grant, deploy], CONFIG);
    const ids = expected.map((f) => f.id).sort();
    expect(new Set(expected.map((f) => f.rule))).toEqual(new Set(['public-invoker-grant', 'new-image-repository', 'binary-authorization-bypass', 'unapproved-deployer']));
    expect(expected.every((f) => f.principal === PRINCIPAL)).toBe(true); // the values reach the findings as they were
    // PagerDuty refuses the first event, echoing the routing key (as an error text may): dead-lettered, permanent.
    s.pagerduty.script({ status: 400, body: { status: 'invalid event', message: `Event object is invalid for ${PAGERDUTY_TEST_ROUTING_KEY}`, errors: [`routing_key ${PAGERDUTY_TEST_ROUTING_KEY} refused`] } });

    for (const entry of [grant, deploy]) {
      const id = await s.publishAudit(entry);
      await waitFor('detect to handle the entry', () => s.detected.some((o) => o.messageId === id && o.outcome !== 'failed'), 20_000);
    }
    const done = () => SINKS.every((sink) => new Set(s.notified.filter((o) => o.sink === sink).map((o) => o.findingId)).size >= ids.length) && s.deadLetters.length >= 1;
    await waitFor('every finding handled by every sink, and the refused one dead-lettered', done, 20_000, () => JSON.stringify(s.notified));
    await settle(() => s.notified.length + s.slack.requests.length + s.pagerduty.requests.length + s.webhook.requests.length + s.deadLetters.length);

    // Slack: every finding posted once, nothing in any post is markup of theirs or a control character.
    const posts = s.slack.posts();
    expect(posts.filter((p) => p.ts)).toHaveLength(ids.length);
    for (const post of posts) expect(slackProblems(post.form, post.blocks)).toEqual([]);
    // The values are shown, neutralized, not dropped: the principal's plain part is in every post.
    for (const post of posts) expect(JSON.stringify(post.blocks)).toContain('mallory');
    expect(posts.every((p) => p.token === SLACK_TEST_TOKEN)).toBe(true); // in the Authorization header only

    // PagerDuty: the configured key on every event, never the one the entry carried; all but the refused one delivered.
    const events = s.pagerduty.events();
    expect(events).toHaveLength(ids.length);
    expect(events.every((e) => e['routing_key'] === PAGERDUTY_TEST_ROUTING_KEY)).toBe(true);
    expect(s.notified.filter((o) => o.sink === 'pagerduty').map((o) => o.outcome).sort()).toEqual(['dead-lettered', ...ids.slice(1).map(() => 'delivered')]);
    for (const e of events) expect(UNSAFE.test(String((e['payload'] as { summary?: unknown })['summary']))).toBe(false);

    // The webhook gets the findings as detect made them (its receiver escapes for itself), signed.
    expect(s.receivedFindingIds().sort()).toEqual(ids);

    // No secret in a log record, a finding (what every sink and the findings topic get) or a dead letter.
    expect(s.deadLetters).toHaveLength(1);
    expect(s.deadLetters[0]!.attributes['reason']).toMatch(/^PagerDuty answered HTTP 400/);
    const everything = [
      ...s.logs.map((l) => JSON.stringify(l)),
      ...s.webhook.requests.map((r) => r.body),
      ...s.slack.requests.map((r) => r.body),
      ...s.deadLetters.map((d) => `${d.data.toString('utf8')} ${JSON.stringify(d.attributes)}`),
      ...s.notified.map((o) => JSON.stringify(o)),
    ].join('\n');
    for (const secret of [SLACK_TEST_TOKEN, PAGERDUTY_TEST_ROUTING_KEY, s.webhook.secret]) expect(everything.includes(secret), `a secret shows: ${secret}`).toBe(false);
  }, 60_000);
});
