// The package entry point and the functions' contracts at the HTTP edge, through the real functions-framework
// server and the emulators: both targets served from functions/index.ts configured only by the environment;
// binary, structured and plain push bodies; start-up refusal on a bad config; notify's permanent failures,
// non-findings and routing.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cloudEvent } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { Message, PubSub } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDetectFunction } from '../../functions/detect.js';
import type { Finding } from '../../functions/findings/finding.js';
import { createNotifyFunction } from '../../functions/notify.js';
import { createPubSub } from '../../functions/pubsub/publisher.js';
import { MESSAGE_PUBLISHED } from '../../functions/pubsub/decode.js';
import type { LogRecord } from '../../functions/runtime.js';
import { startWebhookServer, type WebhookServer } from '../support/webhookServer.js';
import { emulators, expectedFindings, fixtures, hideExpectedErrors, TEST_CONFIG, waitFor } from './stack.js';

const emu = emulators();

interface Pulled {
  readonly data: Buffer;
  readonly attributes: Readonly<Record<string, string>>;
}

describe.skipIf(!emu)('function entry points at the HTTP edge', () => {
  const projectId = `demo-fn-${randomUUID().slice(0, 6)}`;
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-fn-'));
  let pubsub: PubSub;
  const pulled: Record<'findings' | 'deadLetter', Pulled[]> = { findings: [], deadLetter: [] };
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    const showErrors = hideExpectedErrors(/refuses to serve|delivery to webhook failed \(retryable\)/);
    closers.push(async () => showErrors());
    pubsub = await createPubSub(projectId);
    for (const [topic, into] of [['runwatch-findings', pulled.findings], ['runwatch-dead-letter', pulled.deadLetter]] as const) {
      await pubsub.createTopic(topic);
      const [subscription] = await pubsub.createSubscription(topic, `${topic}-test`);
      subscription.on('message', (m: Message) => {
        into.push({ data: m.data, attributes: { ...m.attributes } });
        m.ack();
      });
      closers.push(() => subscription.close());
    }
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await pubsub?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function writeConfig(name: string, config: unknown): string {
    const path = join(dir, name);
    writeFileSync(path, typeof config === 'string' ? config : JSON.stringify(config));
    return path;
  }

  async function listen(server: Server): Promise<string> {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async function serve(name: string, handler: Parameters<typeof cloudEvent<unknown>>[1]): Promise<string> {
    cloudEvent<unknown>(name, handler);
    return listen(getTestServer(name));
  }

  const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64');

  describe('detect from the package main (functions/index.ts), configured by the environment only', () => {
    let url: string;
    beforeAll(async () => {
      Object.assign(process.env, {
        GOOGLE_CLOUD_PROJECT: projectId,
        RUNWATCH_CONFIG: writeConfig('detect.json', TEST_CONFIG),
        FINDINGS_TOPIC: 'runwatch-findings',
        DEAD_LETTER_TOPIC: `projects/${projectId}/topics/runwatch-dead-letter`,
      });
      await import('../../functions/index.js');
      url = await listen(getTestServer('detect'));
      // notify is registered too (its module graph is not loaded until its first call).
      expect(() => getTestServer('notify')).not.toThrow();
    });

    const publicGrant = fixtures().find((f) => f.name.endsWith('synthetic-pipeline-public-invoker.json'))!.entry as Record<string, unknown>;
    const variant = (insertId: string) => ({ ...publicGrant, insertId });

    it('accepts a binary-mode CloudEvent (what Eventarc sends)', async () => {
      const entry = variant('http-binary');
      const response = await fetch(`${url}/`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'ce-id': 'bin-1',
          'ce-specversion': '1.0',
          'ce-type': MESSAGE_PUBLISHED,
          'ce-source': `//pubsub.googleapis.com/projects/${projectId}/topics/runwatch-audit`,
          'ce-time': '2024-05-07T13:00:01Z',
        },
        body: JSON.stringify({ message: { data: b64(entry), messageId: 'bin-1', attributes: {} }, subscription: 's' }),
      });
      expect(response.status).toBe(204);
      await expectFinding(entry);
    });

    it('accepts a structured-mode CloudEvent', async () => {
      const entry = variant('http-structured');
      const response = await fetch(`${url}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents+json' },
        body: JSON.stringify({
          specversion: '1.0',
          id: 'str-1',
          type: MESSAGE_PUBLISHED,
          source: `//pubsub.googleapis.com/projects/${projectId}/topics/runwatch-audit`,
          datacontenttype: 'application/json',
          data: { message: { data: b64(entry), messageId: 'str-1' }, subscription: 's' },
        }),
      });
      expect(response.status).toBe(204);
      await expectFinding(entry);
    });

    it('accepts a raw push body on /projects/P/topics/T (converted by the framework)', async () => {
      const entry = variant('http-push');
      const response = await fetch(`${url}/projects/${projectId}/topics/runwatch-audit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message: { data: b64(entry), messageId: 'push-1', message_id: 'push-1', attributes: {} }, subscription: `projects/${projectId}/subscriptions/x` }),
      });
      expect(response.status).toBe(204);
      await expectFinding(entry);
    });

    it('acks what can never succeed and dead-letters it with the reason', async () => {
      const bodies: [string, unknown, RegExp][] = [
        ['not-base64', { message: { data: 'this is not base64!', messageId: 'bad-1' }, subscription: 's' }, /not base64/],
        ['empty', {}, /no Pub\/Sub message/],
        ['not-entry', { message: { data: b64({ hello: 'world' }), messageId: 'bad-3' }, subscription: 's' }, /no timestamp/],
      ];
      for (const [name, body] of bodies) {
        const response = await fetch(`${url}/projects/${projectId}/topics/runwatch-audit`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-case': name }, body: JSON.stringify(body) });
        expect(response.status, name).toBe(204);
      }
      await waitFor('three dead letters', () => pulled.deadLetter.filter((d) => d.attributes['function'] === 'detect').length >= 3);
      const reasons = pulled.deadLetter.filter((d) => d.attributes['function'] === 'detect').map((d) => d.attributes['reason']);
      for (const [, , reason] of bodies) expect(reasons.some((r) => reason.test(r ?? ''))).toBe(true);
    });

    async function expectFinding(entry: unknown): Promise<void> {
      const [expected] = await expectedFindings([entry]);
      expect(expected?.rule).toBe('public-invoker-grant');
      await waitFor(`finding ${expected!.id} on the findings topic`, () => pulled.findings.some((f) => f.attributes['findingId'] === expected!.id && (JSON.parse(f.data.toString()) as Finding).insertId === (entry as { insertId: string }).insertId));
      const message = pulled.findings.find((f) => f.attributes['findingId'] === expected!.id)!;
      expect(message.attributes).toEqual({ rule: 'public-invoker-grant', severity: expected!.severity, project: expected!.project, service: expected!.service, findingId: expected!.id });
    }
  });

  it('refuses to serve with an invalid config: every problem logged as path: reason, every call fails', async () => {
    const logs: LogRecord[] = [];
    const detect = createDetectFunction({
      env: { RUNWATCH_CONFIG: writeConfig('bad.yaml', 'timezone: Mars/Olympus\nchangeWindows:\n  - days: [funday]\n    start: "25:00"\n    end: "09:00"\nbogus: 1\n'), FINDINGS_TOPIC: 'a/b' },
      log: (r) => logs.push(r),
    });
    const url = await serve(`detect_refusing_${randomUUID().slice(0, 6)}`, detect);
    const post = () => fetch(`${url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: { data: b64({}), messageId: '1' } }) });
    expect((await post()).status).toBe(500);
    expect((await post()).status).toBe(500);
    const problems = logs.filter((l) => l.severity === 'CRITICAL' && l['path']).map((l) => l.message);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^env\.FINDINGS_TOPIC: /),
        expect.stringMatching(/^env\.DEAD_LETTER_TOPIC: is required/),
        expect.stringMatching(/^bogus: unknown key/),
        expect.stringMatching(/^changeWindows\[0\]\.days\[0\]: /),
      ]),
    );
    // Logged once at start-up, then one ERROR per refused invocation.
    expect(logs.filter((l) => l.severity === 'CRITICAL' && l.message.includes('refuses to serve'))).toHaveLength(1);
    expect(logs.filter((l) => l.severity === 'ERROR' && l.message.startsWith('runwatch detect cannot process messages'))).toHaveLength(2);
    expect(detect.counts()['refused']).toBe(2);
  });

  describe('notify', () => {
    let webhook: WebhookServer;
    const secret = 'notify-secret';
    let url: string;
    const logs: LogRecord[] = [];
    let notify: ReturnType<typeof createNotifyFunction>;

    beforeAll(async () => {
      webhook = await startWebhookServer(secret);
      closers.push(() => webhook.close());
      notify = createNotifyFunction({
        env: {
          ...emu!.env,
          GOOGLE_CLOUD_PROJECT: projectId,
          RUNWATCH_SINK: 'webhook',
          RUNWATCH_CONFIG: writeConfig('notify.json', { ...TEST_CONFIG, sinks: { webhook: { minSeverity: 'HIGH', timeoutSeconds: 2 } } }),
          DEAD_LETTER_TOPIC: 'runwatch-dead-letter',
          WEBHOOK_URL: webhook.url,
          WEBHOOK_SECRET: secret,
        },
        log: (r) => logs.push(r),
        deliveryBudgetMs: 3_000,
      });
      closers.push(() => notify.close());
      url = await serve(`notify_edge_${randomUUID().slice(0, 6)}`, notify);
    });

    const findingsOf = async (): Promise<Finding[]> =>
      expectedFindings(fixtures().filter((f) => f.name.includes('synthetic-pipeline')).map((f) => f.entry));
    const push = (data: string, id: string) =>
      fetch(`${url}/projects/${projectId}/topics/runwatch-findings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message: { data, messageId: id, attributes: { origin: 'test' } }, subscription: 's' }),
      });

    it('acks a finding below the sink minSeverity without delivering it, and says why', async () => {
      const medium = (await findingsOf()).find((f) => f.severity === 'MEDIUM')!;
      expect((await push(b64(medium), 'n-1')).status).toBe(204);
      expect(webhook.requests.filter((r) => r.body.includes(medium.id))).toEqual([]);
      expect(logs.some((l) => l['findingId'] === medium.id && /below the sink's minSeverity HIGH/.test(l.message))).toBe(true);
    });

    it('dead-letters a permanent delivery failure with the reason, acks it, and counts it', async () => {
      const high = (await findingsOf()).find((f) => f.severity === 'HIGH')!;
      webhook.script({ status: 400, body: 'no such hook' });
      expect((await push(b64(high), 'n-2')).status).toBe(204);
      await waitFor('the dead letter of the permanent failure', () => pulled.deadLetter.some((d) => d.attributes['function'] === 'notify' && d.attributes['stage'] === 'deliver'));
      const letter = pulled.deadLetter.find((d) => d.attributes['stage'] === 'deliver')!;
      expect(letter.attributes).toMatchObject({ sink: 'webhook', reason: 'webhook receiver answered HTTP 400', origin: 'test', originalMessageId: 'n-2' });
      expect((JSON.parse(letter.data.toString()) as Finding).id).toBe(high.id);
      expect(notify.counts()['failedPermanently']).toBe(1);
      // Not marked delivered: once the cause is fixed, the same finding goes out.
      expect((await push(b64(high), 'n-3')).status).toBe(204);
      expect(webhook.requests.filter((r) => r.body.includes(high.id) && webhook.verify(r))).toHaveLength(2);
    });

    it('answers 500 on a retryable failure, so Pub/Sub redelivers', async () => {
      const other = (await findingsOf()).filter((f) => f.severity === 'HIGH')[1]!;
      webhook.script({ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 });
      expect((await push(b64(other), 'n-4')).status).toBe(500);
      expect((await push(b64(other), 'n-4')).status).toBe(204);
    });

    it('dead-letters a message that is not a finding', async () => {
      expect((await push(b64({ id: 'nope' }), 'n-5')).status).toBe(204);
      await waitFor('the dead letter of the non-finding', () => pulled.deadLetter.some((d) => d.attributes['originalMessageId'] === 'n-5'));
      expect(pulled.deadLetter.find((d) => d.attributes['originalMessageId'] === 'n-5')!.attributes['reason']).toMatch(/^not a finding: id is not 32 lowercase hex/);
    });

    it('refuses to serve an unknown sink or one without its settings', async () => {
      for (const [sink, extra, reason] of [
        ['carrier-pigeon', {}, /unknown sink "carrier-pigeon"/],
        ['webhook', { WEBHOOK_URL: undefined }, /WEBHOOK_URL/],
      ] as const) {
        const refusing = createNotifyFunction({
          env: { RUNWATCH_SINK: sink, RUNWATCH_CONFIG: writeConfig('ok.json', TEST_CONFIG), DEAD_LETTER_TOPIC: 'dl', WEBHOOK_URL: 'http://127.0.0.1:9/x', WEBHOOK_SECRET: 's', ...extra },
          log: () => undefined,
        });
        await expect(refusing({ specversion: '1.0', id: '1', type: MESSAGE_PUBLISHED, source: 's', data: {} } as never)).rejects.toThrow(reason);
      }
    });
  });
});
