import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deliverOnce } from '../../sinks/deliver.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import { classifyWebhookStatus, renderWebhook, signBody, WebhookSink } from '../../sinks/webhook.js';
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
      'x-runwatch-finding-id': finding.id,
      'x-runwatch-signature': `sha256=${createHmac('sha256', SECRET).update(request.body).digest('hex')}`,
    });
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
    const refused = await new WebhookSink({ url: 'http://127.0.0.1:9/x?token=s3cr3t', secret: SECRET, timeoutMs: 500, retry: { ...FAST, maxAttempts: 1 } }).deliver(
      makeFinding('off-window-deploy'),
      { deadlineMs: deadline() },
    );
    expect(refused).toMatchObject({ status: 'failed', retryable: true });
    expect(JSON.stringify([result, refused])).not.toMatch(/s3cr3t|whsec/);
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
