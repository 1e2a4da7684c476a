// Attacker-controlled strings (service names, labels, principals, image names) must never become Slack markup
// (mentions, links, quotes, formatting) and must never push a message over a Block Kit limit.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { renderSlack, SLACK_LIMITS, SlackSink, type SlackMessage } from '../../sinks/slack.js';
import { makeFinding, resolutionOf, RULES, type FindingFacts } from '../support/findings.js';
import { SCC_TEST_SOURCE } from '../support/sccServer.js';
import { SLACK_TEST_TOKEN, startSlackServer, type SlackServer } from '../support/slackServer.js';
import { HOSTILE } from './hostile.js';
import { textObjects, type TextObject } from '../support/slackText.js';

const PLACEMENTS: readonly ((value: string) => Partial<FindingFacts>)[] = [
  (v) => ({ service: v }),
  (v) => ({ principal: v }),
  (v) => ({ image: `docker.io/${v}/app:1` }),
  (v) => ({ image: v }),
  (v) => ({ labels: { team: v, 'commit-sha': v, 'gcb-build-id': v } }),
  (v) => ({ labels: { [v]: 'value' } }),
  (v) => ({ justification: v }),
];

/** Every finding shape a message can take, with `facts` applied. */
function variants(facts: Partial<FindingFacts>): Finding[] {
  return RULES.flatMap((rule) => {
    const finding = makeFinding(rule, facts);
    return [finding, resolutionOf(finding, { principal: facts.principal ?? 'bob@acme.com', reason: `reverted by ${facts.service ?? 'someone'}` })];
  });
}

function renders(finding: Finding): SlackMessage[] {
  const standalone = renderSlack(finding, { channel: 'C0SECURITY', sccSource: SCC_TEST_SOURCE });
  if (finding.status !== 'resolved') return [standalone];
  return [standalone, renderSlack(finding, { channel: 'C0SECURITY', thread: { channel: 'C0SECURITY', ts: '1715652787.000100' } })];
}

/** Our own links: https on the Cloud Console, no space, `<`, `>` or `|` in the URL, no `<`, `>` or `|` in the text. */
const OWN_LINK = /<https:\/\/console\.cloud\.google\.com\/[^\s<>|]*\|[^<>|]*>/g;
/** Line-breaking, invisible and direction-changing characters (written out here, independently of slack.ts). */
const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u2800\u3164\ufeff\uffa0\ufff9-\ufffb\u{e0000}-\u{e007f}\ufe00-\ufe0f\u{e0100}-\u{e01ef}]/u;
/** The same without the line break: plain_text may hold OUR line breaks between evidence lines. */
const UNSAFE_BUT_NEWLINE =
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u2800\u3164\ufeff\uffa0\ufff9-\ufffb\u{e0000}-\u{e007f}\ufe00-\ufe0f\u{e0100}-\u{e01ef}]/u;

// The checks are plain comparisons that list what is wrong, asserted once per message: the per-hostile tests check
// ~20,000 messages, and one expect() per check (~20 a message) was four fifths of this file's time.

/** What makes `message` unsafe with `hostile` in it: markup, invisible or line-breaking characters, or a limit. */
function safetyProblems(message: SlackMessage, hostile: string): string[] {
  const problems: string[] = [];
  const texts = textObjects(message.blocks);
  const mrkdwnTexts = [message.text, ...texts.filter((t) => t.type === 'mrkdwn').map((t) => t.text)];
  for (const text of mrkdwnTexts) {
    const withoutLinks = text.replace(OWN_LINK, '');
    if (/[<>]/.test(withoutLinks)) problems.push(`mrkdwn has < or > outside our links: ${JSON.stringify(text)}`);
    if (text.replace(/&(amp|lt|gt);/g, '').includes('&')) problems.push(`mrkdwn has an unescaped &: ${JSON.stringify(text)}`);
    if (UNSAFE.test(text)) problems.push(`mrkdwn has an unsafe character: ${JSON.stringify(text)}`);
    // Formatting characters cannot be escaped in mrkdwn: the hostile text must simply never be there.
    if (hostile.trim().length >= 2 && text.includes(hostile)) problems.push(`mrkdwn holds the hostile text: ${JSON.stringify(text)}`);
  }
  for (const text of texts.filter((t) => t.type === 'plain_text')) {
    if (UNSAFE_BUT_NEWLINE.test(text.text)) problems.push(`plain_text has an unsafe character: ${JSON.stringify(text.text)}`);
    if (!(text.text.trim().length > 0)) problems.push(`plain_text is blank: ${JSON.stringify(text.text)}`);
    // A value's own line breaks and invisible characters never survive, so it cannot fake a line of ours.
    if (UNSAFE.test(hostile) && text.text.includes(hostile)) problems.push(`plain_text holds the hostile text: ${JSON.stringify(text.text)}`);
  }
  return [...problems, ...limitProblems(message)];
}

function assertSafe(message: SlackMessage, hostile: string): void {
  expect(safetyProblems(message, hostile)).toEqual([]);
}

/** `length` is a number no greater than `limit` (what expect(length).toBeLessThanOrEqual(limit) passes). */
const within = (length: number | undefined, limit: number): boolean => typeof length === 'number' && length <= limit;

/** Which Block Kit limits `message` goes over. */
function limitProblems(message: SlackMessage): string[] {
  const problems: string[] = [];
  if (!within(message.blocks.length, SLACK_LIMITS.blocks)) problems.push(`${message.blocks.length} blocks`);
  if (!within(message.text.length, SLACK_LIMITS.messageText)) problems.push(`message text of ${message.text.length}`);
  if (!(message.text.length > 0)) problems.push('empty message text');
  let total = 0;
  for (const block of message.blocks) {
    const b = block as unknown as { type: string; text?: TextObject; fields?: TextObject[]; elements?: TextObject[] };
    if (b.type === 'header' && !within(b.text?.text.length, SLACK_LIMITS.headerText)) problems.push(`header text of ${b.text?.text.length}`);
    if (b.text && !within(b.text.text.length, SLACK_LIMITS.sectionText)) problems.push(`${b.type} text of ${b.text.text.length}`);
    if (b.fields) {
      if (!within(b.fields.length, SLACK_LIMITS.fields)) problems.push(`${b.fields.length} fields`);
      for (const field of b.fields) if (!within(field.text.length, SLACK_LIMITS.fieldText)) problems.push(`field text of ${field.text.length}`);
    }
    if (b.elements && !within(b.elements.length, 10)) problems.push(`${b.elements.length} elements`);
    total += textObjects(block).reduce((sum, t) => sum + t.text.length, 0);
  }
  // Slack rejects messages (msg_blocks_too_long) well below the sum of the documented limits.
  if (!within(total, 10_000)) problems.push(`${total} characters of text in all`);
  return problems;
}

function assertWithinLimits(message: SlackMessage): void {
  expect(limitProblems(message)).toEqual([]);
}

describe('hostile strings in Slack messages', () => {
  it('has at least 50 hostile strings', () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(50);
  });

  it.each(HOSTILE)('%s: no markup, within limits, in every placement and message shape', (_name, hostile) => {
    for (const place of PLACEMENTS) {
      for (const finding of variants(place(hostile))) {
        for (const message of renders(finding)) assertSafe(message, hostile);
      }
    }
  });

  it('all of them at once, in every placement at the same time', () => {
    for (const [, hostile] of HOSTILE) {
      const facts: Partial<FindingFacts> = { service: hostile, principal: hostile, image: hostile, labels: { [hostile]: hostile, 'commit-sha': hostile } };
      for (const finding of variants(facts)) for (const message of renders(finding)) assertSafe(message, hostile);
    }
  });

  it.each<[string, string]>([
    ['line separator U+2028', '\u2028'],
    ['paragraph separator U+2029', '\u2029'],
    ['soft hyphen U+00AD', '\u00ad'],
    ['Hangul choseong filler U+115F', '\u115f'],
    ['Hangul jungseong filler U+1160', '\u1160'],
    ['Hangul filler U+3164', '\u3164'],
    ['halfwidth Hangul filler U+FFA0', '\uffa0'],
    ['combining grapheme joiner U+034F', '\u034f'],
    ['Mongolian vowel separator U+180E', '\u180e'],
    ['Khmer inherent vowel U+17B4', '\u17b4'],
    ['inhibit symmetric swapping U+206A', '\u206a'],
    ['blank Braille pattern U+2800', '\u2800'],
    ['interlinear annotation anchor U+FFF9', '\ufff9'],
    ['tag letter U+E0041 (a surrogate pair)', '\u{e0041}'],
    ['next line U+0085', '\u0085'],
    ['vertical tab', '\u000b'],
    ['zero-width joiner', '\u200d'],
  ])('%s in a value becomes U+FFFD: it cannot add a line or hide', (_name, char) => {
    const finding = makeFinding('public-invoker-grant', { principal: `mallory@evil.com${char}Who: alice@acme.com` });
    const plain = textObjects(renderSlack(finding, { channel: 'C1' }).blocks).filter((t) => t.type === 'plain_text').map((t) => t.text);
    expect(plain).toContain('mallory@evil.com\ufffdWho: alice@acme.com');
    expect(plain.join('\n')).not.toContain(char);
  });

  it('leaves visible text alone: accents, CJK, Hangul syllables, emoji, ordinary spaces', () => {
    const visible = 'José 東京 한국어 🔥 a\u00a0b';
    const finding = makeFinding('public-invoker-grant', { principal: visible });
    const plain = textObjects(renderSlack(finding, { channel: 'C1' }).blocks).filter((t) => t.type === 'plain_text').map((t) => t.text);
    expect(plain).toContain(visible);
  });

  it('shows untrusted values as plain text (neutralized), not hidden', () => {
    const finding = makeFinding('new-image-repository', { principal: '<!channel>\u202e', service: '*svc*' });
    const message = renderSlack(finding, { channel: 'C1' });
    const plain = textObjects(message.blocks).filter((t) => t.type === 'plain_text').map((t) => t.text);
    expect(plain).toContain('<!channel>\ufffd');
    expect(plain).toContain('acme-prod/*svc* (europe-west1)');
  });
});

describe('hostile strings through the real client and a local Slack', () => {
  let server: SlackServer;
  beforeAll(async () => {
    server = await startSlackServer();
  });
  afterAll(() => server.close());
  beforeEach(() => server.reset());

  // `*`, `_` and `~` are percent-encoded in a link (three characters each) and `&` escaped (five), after the 900
  // characters a link may have were counted: three such links made the section 4,700 characters, over Block Kit's
  // 3,000, and Slack refused the message (invalid_blocks, permanent): the finding never reached the channel.
  it.each(['*', '_', '~'])('a name of 800 %s posts: the links section stays within 3,000 characters', async (c) => {
    const sink = new SlackSink({ token: SLACK_TEST_TOKEN, apiUrl: server.apiUrl, config: { minSeverity: 'LOW', channel: 'C0SECURITY' }, sccSource: SCC_TEST_SOURCE, retry: { maxAttempts: 1 } });
    const finding = makeFinding('public-invoker-grant', { service: c.repeat(800), insertId: c.repeat(300) });
    expect(await sink.deliver(finding, { deadlineMs: Date.now() + 5_000 })).toMatchObject({ status: 'delivered' });
    assertWithinLimits(renderSlack(finding, { channel: 'C0SECURITY', sccSource: SCC_TEST_SOURCE }));
  });

  it('every hostile finding posts, and Slack receives exactly the safe blocks we rendered', async () => {
    const sink = new SlackSink({ token: SLACK_TEST_TOKEN, apiUrl: server.apiUrl, config: { minSeverity: 'LOW', channel: 'C0SECURITY' }, retry: { maxAttempts: 1 } });
    const sent: SlackMessage[] = [];
    for (const [, hostile] of HOSTILE) {
      const finding = makeFinding('new-image-repository', { service: hostile, principal: hostile, image: hostile, labels: { team: hostile } });
      expect(await sink.deliver(finding, { deadlineMs: Date.now() + 5_000 })).toMatchObject({ status: 'delivered' });
      sent.push(renderSlack(finding, { channel: 'C0SECURITY' }));
    }
    const posts = server.posts();
    expect(posts).toHaveLength(HOSTILE.length);
    posts.forEach((post, i) => {
      expect(post.blocks).toEqual(sent[i]?.blocks);
      expect(post.form['unfurl_links']).toBe('false');
    });
  });
});
