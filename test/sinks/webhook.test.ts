import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closedPort } from '../support/ports.js';
import { parseConfig } from '../../functions/config/load.js';
import { createNotifyFunction } from '../../functions/notify.js';
import type { LogRecord } from '../../functions/runtime.js';
import { deliverOnce } from '../../sinks/deliver.js';
import { createSink, SinkConfigurationError } from '../../sinks/index.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import { classifyWebhookStatus, renderWebhook, signBody, webhookEventId, WebhookSink, webhookUrlProblem } from '../../sinks/webhook.js';
import { makeFinding, resolutionOf, RULES } from '../support/findings.js';
import { startWebhookServer, type WebhookServer } from '../support/webhookServer.js';

const SECRET = 'whsec-test-3a1f';
const FAST = { initialDelayMs: 10, maxDelayMs: 20 };

let server: WebhookServer;
beforeAll(async () => {
  server = await startWebhookServer(SECRET);
});
afterAll(() => server.close());
beforeEach(() => {
  server.reset();
});

function sink(overrides: Partial<ConstructorParameters<typeof WebhookSink>[0]> = {}): WebhookSink {
  return new WebhookSink({ url: server.url, secret: SECRET, timeoutMs: 2_000, retry: FAST, ...overrides });
}

const deadline = (): number => Date.now() + 10_000;

describe('renderWebhook', () => {
  it('signs the exact body: HMAC-SHA256 over the finding JSON, hex, sha256= prefix (pinned)', () => {
    // Pinned with an independent tool: printf '{"a":1}' | openssl dgst -sha256 -hmac k
    expect(signBody('{"a":1}', 'k')).toBe('sha256=c3a92ff9e274cdcce27a58c15a78ec6dcbbdbd0038a87e7a11baef2028fd8bff');
  });

  it.each(RULES)('%s: the body is the finding JSON, with id and signature headers', (rule) => {
    const finding = makeFinding(rule);
    const request = renderWebhook(finding, SECRET);
    expect(JSON.parse(request.body)).toEqual(finding);
    expect(request.headers).toEqual({
      'content-type': 'application/json',
      'user-agent': 'runwatch',
      'x-runwatch-event-id': finding.id,
      'x-runwatch-finding-id': finding.id,
      'x-runwatch-signature': `sha256=${createHmac('sha256', SECRET).update(request.body).digest('hex')}`,
    });
  });

  // A name from an entry can hold half a surrogate pair (`\ud800` is valid in JSON text); JSON.stringify writes it back
  // as that escape, which strict parsers (Rust's serde_json) refuse. The other sinks send U+FFFD; so does the webhook.
  it('a lone surrogate in a name from an entry reaches the receiver as U+FFFD, not as an unpaired escape', () => {
    const finding = makeFinding('public-invoker-grant', { service: 'svc-\ud800-x', principal: 'p\udfff@acme.com' });
    const { body } = renderWebhook(finding, SECRET);
    expect(body).not.toMatch(/\\ud[89a-f][0-9a-f]{2}/i);
    expect(body.isWellFormed()).toBe(true);
    const parsed = JSON.parse(body) as { service: string; principal: string };
    expect([parsed.service, parsed.principal]).toEqual(['svc-\ufffd-x', 'p\ufffd@acme.com']);
  });

  it.each(RULES)('%s: the resolution has the same finding id but its own event id', (rule) => {
    const finding = makeFinding(rule);
    const [original, resolution] = [finding, resolutionOf(finding)].map((f) => renderWebhook(f, SECRET).headers);
    expect(resolution?.['x-runwatch-finding-id']).toBe(finding.id);
    expect(resolution?.['x-runwatch-event-id']).toBe(`${finding.id}:resolved`);
    expect(resolution?.['x-runwatch-event-id']).not.toBe(original?.['x-runwatch-event-id']);
    // A resolution marked only by status (no resolution facts) is still a resolution.
    expect(webhookEventId({ ...finding, status: 'resolved' })).toBe(`${finding.id}:resolved`);
  });
});

describe('WebhookSink against a local receiver', () => {
  it('POSTs a body the receiver can verify, and a resolution with status resolved', async () => {
    const finding = makeFinding('new-image-repository');
    expect(await sink().deliver(finding, { deadlineMs: deadline() })).toEqual({ status: 'delivered', ref: 'http-204' });
    expect(await sink().deliver(resolutionOf(finding), { deadlineMs: deadline() })).toEqual({ status: 'delivered', ref: 'http-204' });
    const [first, second] = server.requests;
    expect(first?.method).toBe('POST');
    expect(first && server.verify(first)).toBe(true);
    expect(first?.headers['x-runwatch-finding-id']).toBe(finding.id);
    expect(JSON.parse(first?.body ?? '')).toEqual(finding);
    expect(JSON.parse(second?.body ?? '')).toMatchObject({ id: finding.id, status: 'resolved' });
  });

  it('a wrong secret is rejected by the receiver: permanent failure (401)', async () => {
    const result = await sink({ secret: 'wrong' }).deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() });
    expect(result).toEqual({ status: 'failed', retryable: false, reason: 'webhook receiver answered HTTP 401' });
    expect(server.requests).toHaveLength(1);
  });

  it.each([500, 502, 503, 408])('retries HTTP %i and then delivers', async (status) => {
    server.script({ status });
    expect(await sink().deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() })).toEqual({ status: 'delivered', ref: 'http-204' });
    expect(server.requests).toHaveLength(2);
  });

  it('honours Retry-After on 429', async () => {
    server.script({ status: 429, headers: { 'retry-after': '1' } });
    const started = Date.now();
    expect(await sink().deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    expect(server.requests).toHaveLength(2);
    expect((server.requests[1]?.receivedAtMs ?? 0) - (server.requests[0]?.receivedAtMs ?? 0)).toBeGreaterThanOrEqual(950);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('gives up with a retryable failure when every attempt fails', async () => {
    server.script({ status: 503 }, { status: 503 }, { status: 503 });
    expect(await sink().deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() })).toEqual({
      status: 'failed',
      retryable: true,
      reason: 'webhook receiver answered HTTP 503',
    });
    expect(server.requests).toHaveLength(3);
  });

  it('treats a dropped connection and a timeout as retryable', async () => {
    server.script({ destroy: true });
    expect(await sink().deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    server.script({ hang: true }, { hang: true });
    const result = await sink({ timeoutMs: 200, retry: { ...FAST, maxAttempts: 2 } }).deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() });
    expect(result).toEqual({ status: 'failed', retryable: true, reason: 'webhook request failed: timed out' });
  });

  it('does not follow redirects and never puts the URL or secret in a reason', async () => {
    server.script({ status: 302, headers: { location: 'https://elsewhere.example/' } });
    const secretUrl = `${server.url}?token=s3cr3t`;
    const result = await sink({ url: secretUrl }).deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() });
    expect(result).toEqual({ status: 'failed', retryable: false, reason: 'webhook receiver answered HTTP 302' });
    const refused = await new WebhookSink({ url: `http://127.0.0.1:${await closedPort()}/x?token=s3cr3t`, secret: SECRET, timeoutMs: 500, retry: { ...FAST, maxAttempts: 1 } }).deliver(
      makeFinding('off-window-deploy'),
      { deadlineMs: deadline() },
    );
    expect(refused).toEqual({ status: 'failed', retryable: true, reason: 'webhook request failed: ECONNREFUSED' });
    expect(JSON.stringify([result, refused])).not.toMatch(/s3cr3t|whsec/);
  });

  it('a URL fetch can never reach is permanent, not retried (port 9 is on the fetch spec bad-port list)', async () => {
    const result = await new WebhookSink({ url: 'http://127.0.0.1:9/x?token=s3cr3t', secret: SECRET, timeoutMs: 500, retry: FAST }).deliver(makeFinding('off-window-deploy'), {
      deadlineMs: deadline(),
    });
    expect(result).toEqual({ status: 'failed', retryable: false, reason: 'webhook request failed: the URL uses a port fetch never connects to' });
  });

  it('a receiver that de-duplicates on X-Runwatch-Event-Id keeps the resolution and drops only redeliveries', async () => {
    const finding = makeFinding('public-invoker-grant');
    for (const f of [finding, finding, resolutionOf(finding), resolutionOf(finding)]) {
      expect(await sink().deliver(f, { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    }
    const seen = new Map<string, string>();
    for (const request of server.requests) seen.set(String(request.headers['x-runwatch-event-id']), request.body);
    expect([...seen.keys()]).toEqual([finding.id, `${finding.id}:resolved`]);
    expect(JSON.parse(seen.get(`${finding.id}:resolved`) ?? '{}')).toMatchObject({ id: finding.id, status: 'resolved' });
  });

  it('a redelivered finding reaches the receiver once through deliverOnce', async () => {
    const records = new MemoryDeliveryRecordStore();
    const finding = makeFinding('service-account-change');
    const first = await deliverOnce({ sink: sink(), finding, records, nowMs: Date.now(), deadlineMs: deadline() });
    const second = await deliverOnce({ sink: sink(), finding, records, nowMs: Date.now(), deadlineMs: deadline() });
    expect([first.status, second.status]).toEqual(['delivered', 'duplicate']);
    expect(server.requests).toHaveLength(1);
  });
});


describe('credentials and tokens in WEBHOOK_URL never leak', () => {
  const PASSWORD = 'S3cr3tT0ken';
  const TOKEN = 'qT0k3nInQuery';
  const config = parseConfig('sinks: { webhook: { minSeverity: LOW, timeoutSeconds: 1 } }');
  const WHY = /must not contain a user name or password.*X-Runwatch-Signature.*WEBHOOK_SECRET/;

  it.each([
    [`https://hookuser:${PASSWORD}@hooks.example/runwatch`],
    [`https://hookuser@hooks.example/runwatch`],
    [`http://:${PASSWORD}@127.0.0.1:8080/hook`],
  ])('%s is refused when the sink is built, saying why and without quoting it', async (url) => {
    expect(webhookUrlProblem(url)).toMatch(WHY);
    const error = (await createSink('webhook', { WEBHOOK_URL: url, WEBHOOK_SECRET: SECRET }, config).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(SinkConfigurationError);
    expect(error.message).toMatch(WHY);
    expect(() => new WebhookSink({ url, secret: SECRET, timeoutMs: 1_000 })).toThrow(WHY);
    expect(`${error.message} ${webhookUrlProblem(url)}`).not.toMatch(/S3cr3t|hookuser|hooks\.example|127\.0\.0\.1/);
  });

  it.each([['https://hooks.example/runwatch'], ['https://hooks.example/services/T0/B0/abc?token=x'], ['http://127.0.0.1:8080/hook']])('%s is accepted', (url) => {
    expect(webhookUrlProblem(url)).toBeUndefined();
  });

  /** One message through the real notify function serving the webhook sink; everything it logged, threw and dead-lettered. */
  async function notifyOnce(url: string): Promise<{ thrown: unknown; logs: LogRecord[]; deadLetters: Readonly<Record<string, string>>[] }> {
    const logs: LogRecord[] = [];
    const deadLetters: Readonly<Record<string, string>>[] = [];
    const notify = createNotifyFunction({
      env: { RUNWATCH_SINK: 'webhook', DEAD_LETTER_TOPIC: 'dead-letter', WEBHOOK_URL: url, WEBHOOK_SECRET: SECRET },
      config,
      records: new MemoryDeliveryRecordStore(),
      publisher: { publish: async (_topic, _data, attributes) => (deadLetters.push(attributes), 'dl-1'), close: async () => undefined },
      log: (record) => void logs.push(record),
      deliveryBudgetMs: 1_500,
    });
    const data = Buffer.from(JSON.stringify(makeFinding('public-invoker-grant'))).toString('base64');
    const event = { specversion: '1.0', id: 'e1', source: 's', type: 'google.cloud.pubsub.topic.v1.messagePublished', data: { message: { data, messageId: 'm1' } } };
    let thrown: unknown;
    try {
      await notify(event as never);
    } catch (error) {
      thrown = error;
    }
    await notify.close();
    return { thrown, logs, deadLetters };
  }

  it('credentials in the URL: notify refuses to start, and says why without the password', async () => {
    const { thrown, logs } = await notifyOnce(`https://hookuser:${PASSWORD}@127.0.0.1:8443/hook`);
    expect((thrown as Error).message).toMatch(WHY);
    expect(logs.some((l) => WHY.test(l.message))).toBe(true);
    // The problem is named where it is: the variable, not RUNWATCH_SINK.
    expect(logs.find((l) => WHY.test(l.message))).toMatchObject({ path: 'env.WEBHOOK_URL' });
    expect(`${String(thrown)} ${(thrown as Error).stack} ${JSON.stringify(logs)}`).not.toMatch(/S3cr3t|hookuser/);
  });

  it('a token in the URL: not in the retry error, the logs or the dead letter', async () => {
    const retried = await notifyOnce(`http://127.0.0.1:${await closedPort()}/hook?token=${TOKEN}`);
    expect((retried.thrown as Error).message).toMatch(/retryable.*ECONNREFUSED/);
    const dropped = await notifyOnce(`http://127.0.0.1:9/hook?token=${TOKEN}`);
    expect(dropped.thrown).toBeUndefined();
    expect(dropped.deadLetters).toHaveLength(1);
    expect(dropped.deadLetters[0]?.['reason']).toBe('webhook request failed: the URL uses a port fetch never connects to');
    for (const run of [retried, dropped]) expect(`${String(run.thrown)} ${JSON.stringify(run.logs)} ${JSON.stringify(run.deadLetters)}`).not.toContain(TOKEN);
  });
});

describe('classifyWebhookStatus', () => {
  it.each([
    [200, 'delivered'],
    [202, 'delivered'],
    [400, false],
    [404, false],
    [410, false],
    [408, true],
    [429, true],
    [500, true],
    [504, true],
  ] as const)('HTTP %i', (status, expected) => {
    const result = classifyWebhookStatus(status, undefined);
    if (expected === 'delivered') expect(result.status).toBe('delivered');
    else expect(result).toMatchObject({ status: 'failed', retryable: expected });
  });
});
