import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SlackSinkConfig } from '../../functions/config/types.js';
import { deliverOnce } from '../../sinks/deliver.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import {
  classifySlackError,
  escapeMrkdwn,
  metadataOf,
  formatTime,
  parseSlackRef,
  renderSlack,
  slackChannelFor,
  slackLink,
  SlackSink,
  truncateEscaped,
} from '../../sinks/slack.js';
import { makeFinding, resolutionOf, RULES } from '../support/findings.js';
import { SCC_TEST_SOURCE } from '../support/sccServer.js';
import { SLACK_TEST_BOT, SLACK_TEST_TOKEN, slackError, slackRateLimited, startSlackServer, type SlackServer, type SlackStoredMessage } from '../support/slackServer.js';
import { expectGolden } from './golden.js';

const FAST = { initialDelayMs: 10, maxDelayMs: 20 };
const CONFIG: SlackSinkConfig = {
  minSeverity: 'LOW',
  channel: '#security-alerts',
  channelsBySeverity: { CRITICAL: '#security-oncall' },
  channelsByRule: { 'off-window-deploy': '#deploys' },
};

let server: SlackServer;
beforeAll(async () => {
  server = await startSlackServer();
});
afterAll(() => server.close());
beforeEach(() => {
  server.reset();
});

function sink(overrides: Partial<ConstructorParameters<typeof SlackSink>[0]> = {}): SlackSink {
  return new SlackSink({ token: SLACK_TEST_TOKEN, apiUrl: server.apiUrl, config: CONFIG, sccSource: SCC_TEST_SOURCE, retry: FAST, ...overrides });
}

const deadline = (): number => Date.now() + 10_000;
const slackResponse = (body: object) => ({ status: 200, body });

describe('renderSlack', () => {
  it.each(RULES)('%s: golden message', (rule) => {
    const finding = makeFinding(rule);
    expectGolden(`slack/${rule}`, renderSlack(finding, { channel: slackChannelFor(finding, CONFIG) ?? '', sccSource: SCC_TEST_SOURCE }));
  });

  it('golden thread reply for a resolution', () => {
    const finding = resolutionOf(makeFinding('public-invoker-grant'));
    expectGolden('slack/resolution-thread-reply', renderSlack(finding, { channel: '#ignored', thread: { channel: 'CSECURITYALERTS', ts: '1715652787.000100' } }));
  });

  it('golden standalone message for a resolution whose original never reached Slack', () => {
    const finding = resolutionOf(makeFinding('service-account-change'), {
      reason: 'the service runs as storefront@acme-prod.iam.gserviceaccount.com again',
    });
    expectGolden('slack/resolution-standalone', renderSlack(finding, { channel: '#security-alerts' }));
  });

  it('links only to the SCC finding when the SCC source is known', () => {
    const finding = makeFinding('public-invoker-grant');
    const withScc = JSON.stringify(renderSlack(finding, { channel: 'C1', sccSource: SCC_TEST_SOURCE }));
    const withoutScc = JSON.stringify(renderSlack(finding, { channel: 'C1' }));
    expect(withScc).toContain('|SCC finding>');
    expect(withoutScc).not.toContain('SCC finding');
  });

  it('drops links that are not https on the Cloud Console', () => {
    const finding = makeFinding('off-window-deploy', {}, { links: { console: 'javascript:alert(1)', logEntry: 'https://evil.example/|x' } });
    const text = JSON.stringify(renderSlack(finding, { channel: 'C1' }));
    expect(text).not.toContain('javascript');
    expect(text).not.toContain('evil.example');
  });
});

describe('Slack text helpers', () => {
  it('escapes exactly &, < and >', () => {
    expect(escapeMrkdwn(`<!channel> & <@U1> "'*_~\``)).toBe(`&lt;!channel&gt; &amp; &lt;@U1&gt; "'*_~\``);
  });

  it('never cuts an entity or a surrogate pair in half', () => {
    const escaped = escapeMrkdwn('ab<<<<');
    for (let max = 3; max <= escaped.length; max += 1) {
      const cut = truncateEscaped(escaped, max);
      expect(cut.length).toBeLessThanOrEqual(max);
      expect(cut.replace(/&(amp|lt|gt);/g, '')).not.toContain('&');
    }
    expect(truncateEscaped('ab😀cd', 4)).toBe('ab…');
  });

  it('builds links from Cloud Console https URLs only, with no | in the text', () => {
    expect(slackLink('https://console.cloud.google.com/run?project=a&b=c', 'A | B')).toBe('<https://console.cloud.google.com/run?project=a&amp;b=c|A   B>');
    for (const url of ['http://console.cloud.google.com/', 'https://console.cloud.google.com.evil.example/', 'https://user@console.cloud.google.com/', 'https://console.cloud.google.com/a|b', 'https://console.cloud.google.com/<x>', 'mailto:a@b.c', 'https://console.cloud.google.com/ a']) {
      expect(slackLink(url, 'x')).toBeUndefined();
    }
  });

  it('parses channel:ts refs and nothing else', () => {
    expect(parseSlackRef('C123:1715652787.000100')).toEqual({ channel: 'C123', ts: '1715652787.000100' });
    expect(parseSlackRef('C123')).toBeUndefined();
    expect(parseSlackRef('C1:2:3')).toBeUndefined();
    expect(parseSlackRef(undefined)).toBeUndefined();
  });

  it('formats times in UTC', () => {
    expect(formatTime('2024-05-14T02:13:07.123456789Z')).toBe('2024-05-14 02:13:07 UTC');
    expect(formatTime('yesterday')).toBe('yesterday');
  });

  it('picks the channel by rule, then severity, then the default', () => {
    expect(slackChannelFor(makeFinding('off-window-deploy', {}, { severity: 'CRITICAL' }), CONFIG)).toBe('#deploys');
    expect(slackChannelFor(makeFinding('public-invoker-grant', {}, { severity: 'CRITICAL' }), CONFIG)).toBe('#security-oncall');
    expect(slackChannelFor(makeFinding('public-invoker-grant'), CONFIG)).toBe('#security-alerts');
    expect(slackChannelFor(makeFinding('public-invoker-grant'), { minSeverity: 'LOW' })).toBeUndefined();
  });
});

describe('SlackSink against a local Web API', () => {
  it('posts the rendered message with the token, no unfurling, and returns channel:ts', async () => {
    const finding = makeFinding('new-image-repository');
    const result = await sink().deliver(finding, { deadlineMs: deadline() });
    expect(result).toMatchObject({ status: 'delivered', ref: expect.stringMatching(/^CSECURITYALERTS:\d{10}\.\d{6}$/) });
    const [post] = server.posts();
    const expected = renderSlack(finding, { channel: '#security-alerts', sccSource: SCC_TEST_SOURCE });
    expect(post?.token).toBe(SLACK_TEST_TOKEN);
    expect(post?.blocks).toEqual(expected.blocks);
    expect(post?.form).toMatchObject({ channel: '#security-alerts', text: expected.text, unfurl_links: 'false', unfurl_media: 'false', parse: 'none' });
    expect(post?.form).not.toHaveProperty('thread_ts');
    expect(post?.form).not.toHaveProperty('link_names');
    // Our finding id and status only, as message metadata: what a later attempt looks for in the channel.
    expect(JSON.parse(post?.form['metadata'] ?? '{}')).toEqual({ event_type: 'runwatch_finding', event_payload: { finding_id: finding.id, status: 'active' } });
  });

  it('routes to the rule channel', async () => {
    await sink().deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() });
    expect(server.posts()[0]?.form['channel']).toBe('#deploys');
  });

  it('a channel-less config is a permanent failure that names the rule', async () => {
    const result = await sink({ config: { minSeverity: 'LOW' } }).deliver(makeFinding('service-account-change'), { deadlineMs: deadline() });
    expect(result).toEqual({ status: 'failed', retryable: false, reason: 'no Slack channel configured for rule service-account-change / severity MEDIUM' });
    expect(server.requests).toHaveLength(0);
  });

  it('honours Retry-After on 429 (rejectRateLimitedCalls: the client does not sleep on its own)', async () => {
    server.script(slackRateLimited(1));
    const result = await sink().deliver(makeFinding('public-invoker-grant'), { deadlineMs: deadline() });
    expect(result).toMatchObject({ status: 'delivered' });
    expect(server.requests).toHaveLength(2);
    expect((server.requests[1]?.receivedAtMs ?? 0) - (server.requests[0]?.receivedAtMs ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it('hands a Retry-After longer than the time left back at once', async () => {
    server.script(slackRateLimited(30));
    const started = Date.now();
    const result = await sink().deliver(makeFinding('public-invoker-grant'), { deadlineMs: Date.now() + 5_000 });
    expect(result).toEqual({ status: 'failed', retryable: true, reason: 'Slack rate limited the call (Retry-After 30 s)', retryAfterMs: 30_000 });
    expect(server.requests).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('retries a 429 without Retry-After with its own backoff', async () => {
    server.script({ status: 429, body: { ok: false, error: 'ratelimited' } });
    expect(await sink().deliver(makeFinding('public-invoker-grant'), { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    expect(server.requests).toHaveLength(2);
  });

  it.each(['channel_not_found', 'not_in_channel', 'is_archived', 'invalid_blocks', 'msg_too_long', 'invalid_auth', 'missing_scope'])(
    '%s is permanent and not retried',
    async (error) => {
      server.script(slackError(error));
      const result = await sink().deliver(makeFinding('public-invoker-grant'), { deadlineMs: deadline() });
      expect(result).toEqual({ status: 'failed', retryable: false, reason: `Slack rejected the message: ${error}` });
      expect(server.requests).toHaveLength(1);
    },
  );

  it('a wrong token is permanent (invalid_auth from the server)', async () => {
    const result = await sink({ token: 'xoxb-wrong' }).deliver(makeFinding('public-invoker-grant'), { deadlineMs: deadline() });
    expect(result).toEqual({ status: 'failed', retryable: false, reason: 'Slack rejected the message: invalid_auth' });
    expect(JSON.stringify(result)).not.toContain('xoxb');
  });

  // A server that echoes the request (a proxy's block page, a misbehaving gateway): the token must not reach the
  // reason, which is logged and stored with the dead letter; a page that is not a Slack API answer is no Slack error
  // code, and not a permanent rejection either.
  it('a 200 page that is not a Slack API answer is retried, and its text (echoing the token) stays out of the reason', async () => {
    const page = { status: 200, headers: { 'content-type': 'text/html' }, body: `<html><pre>Authorization: Bearer ${SLACK_TEST_TOKEN}</pre>${'x'.repeat(300_000)}</html>` };
    server.script(page, page, page);
    const result = await sink().deliver(makeFinding('public-invoker-grant'), { deadlineMs: deadline() });
    expect(result).toEqual({ status: 'failed', retryable: true, reason: `Slack answered with something that is not a Slack API response (${page.body.length} characters)` });
    expect(server.requests).toHaveLength(3);
  });

  it.each([
    [slackResponse({ ok: false, error: 'invalid_auth', response_metadata: { messages: [`token Bearer ${SLACK_TEST_TOKEN}`] } }), 'Slack rejected the message: invalid_auth (token Bearer [token])'],
    [slackResponse({ ok: false, error: `invalid_auth for ${SLACK_TEST_TOKEN}` }), `Slack answered with something that is not a Slack API response (${17 + SLACK_TEST_TOKEN.length} characters)`],
    [slackResponse({ ok: false, error: 'invalid_auth', response_metadata: { messages: [`${'m'.repeat(480)} ${SLACK_TEST_TOKEN}`] } }), `Slack rejected the message: invalid_auth (${'m'.repeat(480)} [token])`],
  ])('a Slack error echoing the token (%#)', async (reply, reason) => {
    server.script(reply, reply, reply);
    const result = await sink().deliver(makeFinding('public-invoker-grant'), { deadlineMs: deadline() });
    expect(result).toMatchObject({ status: 'failed', reason });
    expect(JSON.stringify(result)).not.toContain(SLACK_TEST_TOKEN.slice(0, 12));
  });

  // The client itself logs every `[ERROR]` line of response_metadata.messages, before our scrubbing runs.
  it('the Slack client logs nothing that holds the token', async () => {
    const echo = slackResponse({ ok: false, error: 'invalid_arguments', response_metadata: { messages: [`[ERROR] bad request for token ${SLACK_TEST_TOKEN}`] } });
    server.script(echo);
    const lines: string[] = [];
    const spies = (['log', 'error', 'warn', 'info', 'debug'] as const).map((method) =>
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' '))),
    );
    try {
      const result = await sink().deliver(makeFinding('public-invoker-grant'), { deadlineMs: deadline() });
      expect(result).toMatchObject({ status: 'failed', retryable: false });
    } finally {
      spies.forEach((spy) => spy.mockRestore());
    }
    expect(lines.join('\n')).not.toContain(SLACK_TEST_TOKEN.slice(0, 12));
  });

  it.each([
    ['HTTP 500', { status: 500, body: 'oops' }],
    ['HTTP 503', { status: 503 }],
    ['dropped connection', { destroy: true } as const],
  ])('retries %s and then delivers', async (_name, reply) => {
    server.script(reply);
    expect(await sink().deliver(makeFinding('public-invoker-grant'), { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    expect(server.requests).toHaveLength(2);
  });

  it('bounds retries: three attempts, then a retryable failure', async () => {
    server.script({ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 });
    const result = await sink().deliver(makeFinding('public-invoker-grant'), { deadlineMs: deadline() });
    // Each 500 may have posted, but a channel given by name cannot be read (the history methods take ids).
    expect(result).toEqual({
      status: 'failed',
      retryable: true,
      reason: 'Slack answered HTTP 500; the channel could not be checked for the message: channel #security-alerts is configured by name, not id',
    });
    expect(server.requests).toHaveLength(3);
  });

  // Slack may have posted (outputs.md 4): not retried here, and marked so deliverOnce keeps its claim.
  it('a hanging server times out at the attempt timeout, and the post is not repeated (it may have gone out)', async () => {
    server.script({ hang: true }, { hang: true }, { hang: true });
    const started = Date.now();
    const result = await sink({ retry: { ...FAST, attemptTimeoutMs: 300 } }).deliver(makeFinding('public-invoker-grant'), { deadlineMs: Date.now() + 5_000 });
    expect(result).toMatchObject({ status: 'failed', retryable: true, mayHaveSent: true });
    expect((result as { reason: string }).reason).toMatch(/^Slack request failed: /);
    expect(server.requests).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1_200);
  });

  it.each(['internal_error', 'fatal_error'])('%s may mean it posted: not repeated, and marked so', async (error) => {
    server.script(slackError(error));
    const result = await sink().deliver(makeFinding('public-invoker-grant'), { deadlineMs: deadline() });
    expect(result).toEqual({
      status: 'failed',
      retryable: true,
      mayHaveSent: true,
      reason: `Slack rejected the message: ${error}; the channel could not be checked for the message: channel #security-alerts is configured by name, not id`,
    });
    expect(server.requests).toHaveLength(1);
  });

  it('delivers once through deliverOnce, and the resolution replies in the original thread', async () => {
    const records = new MemoryDeliveryRecordStore();
    const finding = makeFinding('public-invoker-grant');
    const first = await deliverOnce({ sink: sink(), finding, records, nowMs: Date.now(), deadlineMs: deadline() });
    const again = await deliverOnce({ sink: sink(), finding, records, nowMs: Date.now(), deadlineMs: deadline() });
    const ref = first.status === 'delivered' ? first.ref : undefined;
    expect(ref).toMatch(/^CSECURITYALERTS:\d+\.\d+$/);
    expect(again).toEqual({ status: 'duplicate', reason: 'already delivered', ref });
    expect(server.posts()).toHaveLength(1);

    const resolved = await deliverOnce({ sink: sink(), finding: resolutionOf(finding), records, nowMs: Date.now(), deadlineMs: deadline() });
    const resolvedAgain = await deliverOnce({ sink: sink(), finding: resolutionOf(finding), records, nowMs: Date.now(), deadlineMs: deadline() });
    expect(resolved).toMatchObject({ status: 'delivered', ref: expect.stringMatching(/^CSECURITYALERTS:\d+\.\d+$/) });
    expect(resolvedAgain.status).toBe('duplicate');
    const posts = server.posts();
    expect(posts).toHaveLength(2);
    expect(posts[1]?.form).toMatchObject({ channel: 'CSECURITYALERTS', thread_ts: ref?.split(':')[1] });
    expect(posts[1]?.blocks).toEqual(renderSlack(resolutionOf(finding), { channel: 'x', thread: { channel: 'CSECURITYALERTS', ts: ref?.split(':')[1] ?? '' } }).blocks);
    expect(posts[1]?.form).not.toHaveProperty('reply_broadcast');
  });
  it('a resolution that arrives before its finding posts one standalone resolved message; the late finding is not posted', async () => {
    const records = new MemoryDeliveryRecordStore();
    const finding = makeFinding('service-account-change');
    const resolved = await deliverOnce({ sink: sink(), finding: resolutionOf(finding), records, nowMs: Date.now(), deadlineMs: deadline() });
    const late = await deliverOnce({ sink: sink(), finding, records, nowMs: Date.now(), deadlineMs: deadline() });
    expect(resolved.status).toBe('delivered');
    expect(late).toEqual({ status: 'duplicate', reason: 'already resolved' });
    const posts = server.posts();
    expect(posts).toHaveLength(1);
    expect(posts[0]?.form).toMatchObject({ channel: '#security-alerts' });
    expect(posts[0]?.form).not.toHaveProperty('thread_ts');
    expect(posts[0]?.blocks).toEqual(renderSlack(resolutionOf(finding), { channel: '#security-alerts', sccSource: SCC_TEST_SOURCE }).blocks);
  });

  it('an active finding never goes into a thread, even if handed a previousRef', async () => {
    await sink().deliver(makeFinding('public-invoker-grant'), { deadlineMs: deadline(), previousRef: 'COTHER:1715652787.000001' });
    expect(server.posts()[0]?.form).toMatchObject({ channel: '#security-alerts' });
    expect(server.posts()[0]?.form).not.toHaveProperty('thread_ts');
  });
});

describe('SlackSink: an answer that leaves open whether Slack posted is checked in the channel', () => {
  /** Channels by id: the history methods take ids only. */
  const BY_ID: SlackSinkConfig = { minSeverity: 'LOW', channel: 'C0SECALERTS' };
  const byId = (overrides: Partial<ConstructorParameters<typeof SlackSink>[0]> = {}): SlackSink => sink({ config: BY_ID, ...overrides });
  const ourMessages = (): SlackStoredMessage[] => server.messages().filter((m) => m.bot_id === SLACK_TEST_BOT.botId);

  it.each([
    ['internal_error', slackError('internal_error')],
    ['fatal_error', slackError('fatal_error')],
    ['HTTP 500', { status: 500 }],
    ['HTTP 502', { status: 502, body: 'bad gateway' }],
    ['a reset connection', { destroy: true } as const],
  ])('Slack posted, then %s: found in the channel, delivered, not posted again', async (_name, reply) => {
    server.scriptAfterPosting(reply);
    const finding = makeFinding('public-invoker-grant');
    const result = await byId().deliver(finding, { deadlineMs: deadline() });
    const [message] = ourMessages();
    expect(result).toEqual({ status: 'delivered', ref: `C0SECALERTS:${message?.ts}` });
    expect(ourMessages()).toHaveLength(1);
    expect(server.posts()).toHaveLength(1);
    expect(server.calls()).toEqual(['auth.test', 'conversations.history']);
    const history = server.requests.find((r) => r.path === '/api/conversations.history');
    expect(Object.fromEntries(new URLSearchParams(history?.body))).toMatchObject({ channel: 'C0SECALERTS', include_all_metadata: 'true', inclusive: 'true', limit: '15' });
  });

  it.each([
    ['internal_error', slackError('internal_error')],
    ['HTTP 500', { status: 500 }],
    ['a reset connection', { destroy: true } as const],
  ])('Slack did not post, then %s: not in the channel, so posted again at once', async (_name, reply) => {
    server.script(reply);
    const result = await byId().deliver(makeFinding('public-invoker-grant'), { deadlineMs: deadline() });
    expect(result).toMatchObject({ status: 'delivered' });
    expect(ourMessages()).toHaveLength(1);
    expect(server.posts()).toHaveLength(2);
  });

  it('a timeout after Slack posted: found, delivered without waiting for the lease', async () => {
    server.scriptAfterPosting({ hang: true });
    const result = await byId({ retry: { ...FAST, attemptTimeoutMs: 300 } }).deliver(makeFinding('public-invoker-grant'), { deadlineMs: Date.now() + 5_000 });
    expect(result).toEqual({ status: 'delivered', ref: `C0SECALERTS:${ourMessages()[0]?.ts}` });
    expect(server.posts()).toHaveLength(1);
  });

  // The client's `timeout` bounds the wait for the answer's headers, then only the silence between bytes: an answer
  // that trickles in kept an attempt (and the delivery, past its deadline and its claim's lease) going for as long.
  it('an answer that trickles in is cut at the attempt timeout, and the delivery ends before its deadline', async () => {
    const body = { ok: true, channel: 'C0SECALERTS', ts: '1715000000.000100', padding: 'x'.repeat(40) };
    server.scriptAfterPosting({ status: 200, body, trickleMs: 50 }); // about 5 s for the whole answer
    const started = Date.now();
    const result = await byId({ retry: { ...FAST, attemptTimeoutMs: 300 } }).deliver(makeFinding('public-invoker-grant'), { deadlineMs: started + 2_000 });
    expect(Date.now() - started).toBeLessThan(2_000);
    // Slack posted it: the look at the channel after the cut finds it.
    expect(result).toEqual({ status: 'delivered', ref: `C0SECALERTS:${ourMessages()[0]?.ts}` });
    expect(server.posts()).toHaveLength(1);
  });

  it.each([
    ['a timeout', { hang: true } as const],
    ['HTTP 504', { status: 504 }],
  ])('%s and not in the channel: Slack may still post it, so it is not posted again (the claim waits)', async (_name, reply) => {
    server.script(reply);
    const result = await byId({ retry: { ...FAST, attemptTimeoutMs: 300 } }).deliver(makeFinding('public-invoker-grant'), { deadlineMs: Date.now() + 5_000 });
    expect(result).toMatchObject({ status: 'failed', retryable: true, mayHaveSent: true });
    expect(server.posts()).toHaveLength(1);
  });

  it('without the history scope, an ambiguous answer stands: not posted again, and the reason says why', async () => {
    server.denyHistory('missing_scope');
    server.scriptAfterPosting(slackError('internal_error'));
    const result = await byId().deliver(makeFinding('public-invoker-grant'), { deadlineMs: deadline() });
    expect(result).toEqual({
      status: 'failed',
      retryable: true,
      mayHaveSent: true,
      reason: 'Slack rejected the message: internal_error; the channel could not be checked for the message: conversations.history: missing_scope',
    });
    expect(server.posts()).toHaveLength(1);
  });

  it("a look-alike message from another app (same metadata) does not count as ours", async () => {
    const finding = makeFinding('public-invoker-grant');
    server.addMessage({ channel: 'C0SECALERTS', text: 'fake', bot_id: 'BOTHERAPP1', user: 'UOTHERAPP1', metadata: metadataOf(finding) });
    server.script(slackError('internal_error'));
    const result = await byId().deliver(finding, { deadlineMs: deadline() });
    expect(result).toMatchObject({ status: 'delivered' });
    expect(ourMessages()).toHaveLength(1);
  });

  it('the same finding resolved is another message: its active original does not count', async () => {
    const finding = makeFinding('public-invoker-grant');
    server.addMessage({ channel: 'C0SECALERTS', text: 'original', bot_id: SLACK_TEST_BOT.botId, metadata: metadataOf(finding) });
    server.script(slackError('internal_error'));
    const result = await byId().deliver(resolutionOf(finding), { deadlineMs: deadline(), originalDelivered: false });
    expect(result).toMatchObject({ status: 'delivered' });
    expect(ourMessages().map((m) => m.metadata?.event_payload['status'])).toEqual(['active', 'resolved']);
  });

  it('told of an earlier attempt, it looks before posting, paging through a busy channel (15 a page)', async () => {
    const finding = makeFinding('public-invoker-grant');
    const earlierMs = Date.now();
    const ours = server.addMessage({ channel: 'C0SECALERTS', text: 'ours', bot_id: SLACK_TEST_BOT.botId, metadata: metadataOf(finding) });
    // Newest first: the 20 messages after ours fill the first page and a part of the second.
    for (let i = 0; i < 20; i++) server.addMessage({ channel: 'C0SECALERTS', text: `chatter ${i}`, user: 'UPERSON001' });
    const result = await byId().deliver(finding, { deadlineMs: deadline(), earlierAttemptMs: earlierMs });
    expect(result).toEqual({ status: 'delivered', ref: `C0SECALERTS:${ours}` });
    expect(server.posts()).toHaveLength(0);
    expect(server.calls()).toEqual(['auth.test', 'conversations.history', 'conversations.history']);
  });

  it('told of an earlier attempt whose message is not there, it posts', async () => {
    const result = await byId().deliver(makeFinding('public-invoker-grant'), { deadlineMs: deadline(), earlierAttemptMs: Date.now() - 5_000 });
    expect(result).toMatchObject({ status: 'delivered' });
    expect(server.posts()).toHaveLength(1);
  });

  it('a resolution replying in a thread is looked for in that thread (conversations.replies)', async () => {
    const thread = 'C0SECALERTS:1715652787.000100';
    server.scriptAfterPosting({ status: 500 });
    const result = await byId().deliver(resolutionOf(makeFinding('public-invoker-grant')), { deadlineMs: deadline(), previousRef: thread, originalDelivered: true });
    const [reply] = ourMessages();
    expect(reply?.thread_ts).toBe('1715652787.000100');
    expect(result).toEqual({ status: 'delivered', ref: `C0SECALERTS:${reply?.ts}` });
    expect(server.calls()).toEqual(['auth.test', 'conversations.replies']);
  });

  it("a channel configured by name is looked for once a post told its id", async () => {
    const s = sink();
    expect(await s.deliver(makeFinding('public-invoker-grant'), { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    server.scriptAfterPosting(slackError('internal_error'));
    const second = makeFinding('public-invoker-grant', {}, { id: 'f00d0000000000000000000000000002' });
    expect(await s.deliver(second, { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    expect(ourMessages()).toHaveLength(2);
    expect(server.calls()).toEqual(['auth.test', 'conversations.history']);
  });
});

describe('deliverOnce with Slack: a claim that ran out after an ambiguous answer', () => {
  const BY_ID: SlackSinkConfig = { minSeverity: 'LOW', channel: 'C0SECALERTS' };
  const slow = (): SlackSink => sink({ config: BY_ID, retry: { ...FAST, attemptTimeoutMs: 300 } });
  const LEASE_MS = 1_000;

  async function timedOutThenPostedLate(finding: ReturnType<typeof makeFinding>, records: MemoryDeliveryRecordStore, startMs: number): Promise<string> {
    server.script({ hang: true });
    const first = await deliverOnce({ sink: slow(), finding, records, nowMs: startMs, deadlineMs: Date.now() + 5_000, leaseMs: LEASE_MS });
    expect(first).toMatchObject({ status: 'failed', retryable: true });
    // Slack finishes the timed-out post after we stopped looking.
    return server.addMessage({ channel: 'C0SECALERTS', text: 'late', bot_id: SLACK_TEST_BOT.botId, user: SLACK_TEST_BOT.userId, metadata: metadataOf(finding) });
  }

  it('the delivery that takes the claim over finds the late message and does not post it again', async () => {
    const records = new MemoryDeliveryRecordStore();
    const finding = makeFinding('public-invoker-grant');
    const startMs = Date.now();
    const lateTs = await timedOutThenPostedLate(finding, records, startMs);
    // Before the lease ends a redelivery waits; after it, the next one looks first.
    expect(await deliverOnce({ sink: slow(), finding, records, nowMs: startMs + 10, deadlineMs: deadline() })).toMatchObject({ status: 'failed', retryable: true });
    const again = await deliverOnce({ sink: slow(), finding, records, nowMs: startMs + LEASE_MS + 1, deadlineMs: deadline() });
    expect(again).toEqual({ status: 'delivered', ref: `C0SECALERTS:${lateTs}` });
    expect(server.posts()).toHaveLength(1);
    expect(await records.get('slack', finding.id)).toMatchObject({ state: 'delivered', ref: `C0SECALERTS:${lateTs}` });
  });

  it('a resolution that came first and timed out: its late original, past the lease, is not posted as an open alert', async () => {
    const records = new MemoryDeliveryRecordStore();
    const finding = makeFinding('public-invoker-grant');
    const startMs = Date.now();
    const lateTs = await timedOutThenPostedLate(resolutionOf(finding), records, startMs);
    // The original's redelivery comes first once the lease is over: the resolved message is in the channel already.
    expect(await deliverOnce({ sink: slow(), finding, records, nowMs: startMs + LEASE_MS + 1, deadlineMs: deadline() })).toMatchObject({ status: 'failed', retryable: true });
    expect(server.posts()).toHaveLength(1);
    // The resolution's redelivery finds its late message; from then on the original is a duplicate.
    expect(await deliverOnce({ sink: slow(), finding: resolutionOf(finding), records, nowMs: startMs + LEASE_MS + 2, deadlineMs: deadline() })).toEqual({
      status: 'delivered',
      ref: `C0SECALERTS:${lateTs}`,
    });
    expect(await deliverOnce({ sink: slow(), finding, records, nowMs: startMs + LEASE_MS + 3, deadlineMs: deadline() })).toMatchObject({ status: 'duplicate', reason: 'already resolved' });
    expect(server.posts()).toHaveLength(1);
  });

  it('without the history scope it posts again after the lease (a rare duplicate, never a lost alert)', async () => {
    const records = new MemoryDeliveryRecordStore();
    const finding = makeFinding('public-invoker-grant');
    const startMs = Date.now();
    await timedOutThenPostedLate(finding, records, startMs);
    server.denyHistory('missing_scope');
    const again = await deliverOnce({ sink: slow(), finding, records, nowMs: startMs + LEASE_MS + 1, deadlineMs: deadline() });
    expect(again).toMatchObject({ status: 'delivered' });
    expect(server.posts()).toHaveLength(2);
  });
});

describe('classifySlackError', () => {
  it('reads the client error codes', () => {
    expect(classifySlackError({ code: 'slack_webapi_rate_limited_error', retryAfter: 7 })).toEqual({
      status: 'failed',
      retryable: true,
      reason: 'Slack rate limited the call (Retry-After 7 s)',
      retryAfterMs: 7_000,
    });
    expect(classifySlackError({ code: 'slack_webapi_platform_error', data: { error: 'invalid_blocks', response_metadata: { messages: ['[ERROR] bad'] } } })).toEqual({
      status: 'failed',
      retryable: false,
      reason: 'Slack rejected the message: invalid_blocks ([ERROR] bad)',
    });
    expect(classifySlackError({ code: 'slack_webapi_http_error', statusCode: 404 })).toMatchObject({ retryable: false });
    expect(classifySlackError({ code: 'slack_webapi_request_error', original: { code: 'ECONNREFUSED' } })).toEqual({
      status: 'failed',
      retryable: true,
      reason: 'Slack request failed: ECONNREFUSED',
    });
    expect(classifySlackError(new TypeError('bug'))).toMatchObject({ retryable: false });
  });

  it("the attempt's wall clock cutting a request: a timeout once it was sent, a plain retry before", () => {
    // Sent (axios made the request): the client wraps the cancel as a request error; Slack may still post it.
    expect(classifySlackError({ code: 'slack_webapi_request_error', original: { code: 'ERR_CANCELED', name: 'CanceledError' } })).toEqual({
      status: 'failed',
      retryable: true,
      mayHaveSent: true,
      reason: 'Slack request failed: TimeoutError',
    });
    // Cut before axios made the request (a stalled event loop): the client throws axios' own error, unwrapped.
    expect(classifySlackError(Object.assign(new Error('canceled'), { name: 'CanceledError', code: 'ERR_CANCELED' }))).toMatchObject({ status: 'failed', retryable: true });
  });
});
