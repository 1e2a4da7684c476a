import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { deliverOnce, resolutionKey } from '../../sinks/deliver.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import { classifyPagerDutyResponse, PagerDutySink, renderPagerDuty, renderPagerDutyEvents } from '../../sinks/pagerduty.js';
import type { DeliveryResult } from '../../sinks/sink.js';
import { makeFinding, resolutionOf, RULES } from '../support/findings.js';
import { PAGERDUTY_EVENT_MAX_BYTES, PAGERDUTY_TEST_ROUTING_KEY, startPagerDutyServer, type PagerDutyServer } from '../support/pagerdutyServer.js';
import { expectGolden } from './golden.js';
import { HOSTILE } from './hostile.js';

const FAST = { initialDelayMs: 10, maxDelayMs: 20 };
let server: PagerDutyServer;

beforeAll(async () => {
  server = await startPagerDutyServer();
});
afterAll(() => server.close());
beforeEach(() => {
  server.reset();
  server.open.clear();
});

function sink(overrides: Partial<ConstructorParameters<typeof PagerDutySink>[0]> = {}): PagerDutySink {
  return new PagerDutySink({ routingKey: PAGERDUTY_TEST_ROUTING_KEY, eventsUrl: server.eventsUrl, source: 'runwatch', retry: FAST, ...overrides });
}

const deadline = (): number => Date.now() + 10_000;

describe('renderPagerDuty', () => {
  it.each(RULES)('%s: golden trigger event', (rule) => {
    expectGolden(`pagerduty/${rule}`, renderPagerDuty(makeFinding(rule), { source: 'runwatch' }));
  });

  it('maps every severity', () => {
    const severities = (['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'] as const).map((severity) => {
      const event = renderPagerDuty(makeFinding('off-window-deploy', {}, { severity }), { source: 's' });
      return event.event_action === 'trigger' ? event.payload.severity : undefined;
    });
    expect(severities).toEqual(['critical', 'error', 'warning', 'info']);
  });

  it('a resolution is a resolve with the same dedup_key and nothing else', () => {
    const finding = makeFinding('public-invoker-grant');
    expect(renderPagerDuty(resolutionOf(finding), { source: 'runwatch' })).toStrictEqual({ event_action: 'resolve', dedup_key: finding.id });
  });

  it.each<[string, boolean, boolean | undefined, readonly string[]]>([
    ['a finding', false, undefined, ['trigger']],
    ['a finding (the flag only concerns resolutions)', false, false, ['trigger']],
    ['a resolution after its finding', true, true, ['resolve']],
    ['a resolution, nothing known about its finding', true, undefined, ['resolve']],
    ['a resolution whose finding never went out', true, false, ['trigger', 'resolve']],
  ])('events for %s', (_name, resolved, originalDelivered, actions) => {
    const finding = makeFinding('public-invoker-grant');
    const events = renderPagerDutyEvents(resolved ? resolutionOf(finding) : finding, {
      source: 'runwatch',
      ...(originalDelivered !== undefined ? { originalDelivered } : {}),
    });
    expect(events.map((e) => e.event_action)).toEqual(actions);
    expect(events.every((e) => e.dedup_key === finding.id)).toBe(true);
  });

  it('a resolution that came first is the whole finding, marked already resolved (golden), then the resolve', () => {
    const finding = makeFinding('public-invoker-grant');
    const [trigger, resolve] = renderPagerDutyEvents(resolutionOf(finding), { source: 'runwatch', originalDelivered: false });
    expectGolden('pagerduty/resolution-first-trigger', trigger);
    expect(trigger).toMatchObject({ payload: { severity: 'error', summary: expect.stringMatching(/^\[HIGH\] .* \(already resolved\): /) } });
    expect(resolve).toStrictEqual({ event_action: 'resolve', dedup_key: finding.id });
  });

  it('keeps the summary within 1,024 characters and long details bounded', () => {
    const huge = 'x'.repeat(10_000);
    const event = renderPagerDuty(makeFinding('new-image-repository', { service: huge, principal: `${huge}@acme.com`, labels: { big: huge } }), { source: 'runwatch' });
    if (event.event_action !== 'trigger') throw new Error('expected a trigger');
    expect(event.payload.summary.length).toBeLessThanOrEqual(1024);
    expect(event.payload.summary.endsWith('…')).toBe(true);
    expect(JSON.stringify(event).length).toBeLessThan(100_000);
  });

  // Written out here, independently of untrustedText.ts: what breaks a line, hides or turns text around.
  const UNSAFE =
    /[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u2800\u3164\ufeff\uffa0\ufff9-\ufffb\u{e0000}-\u{e007f}\ufe00-\ufe0f\u{e0100}-\u{e01ef}]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u;

  it.each(HOSTILE)('%s: the summary, component and group (shown as the incident and in notifications) hold nothing invisible', (_name, hostile) => {
    for (const rule of RULES) {
      const event = renderPagerDuty(makeFinding(rule, { service: hostile, principal: hostile, image: hostile, justification: hostile }), { source: 'runwatch' });
      if (event.event_action !== 'trigger') throw new Error('expected a trigger');
      for (const shown of [event.payload.summary, event.payload.component, event.payload.group]) expect(shown).not.toMatch(UNSAFE);
      expect(event.payload.summary.length).toBeLessThanOrEqual(1024);
    }
  });

  it('a service name that turns text around reads as written, the override shown as U+FFFD', () => {
    const event = renderPagerDuty(makeFinding('public-invoker-grant', { service: '\u202epay-api' }), { source: 'runwatch' });
    if (event.event_action !== 'trigger') throw new Error('expected a trigger');
    expect(event.payload.component).toBe('\ufffdpay-api');
    expect(event.payload.summary).toContain('\ufffdpay-api');
    // The details keep the value as the entry had it: evidence for whoever investigates.
    expect(event.payload.custom_details['service']).toBe('\u202epay-api');
  });

  // A job's or worker pool's console link opens the job's executions or the worker pool list, never a service's page:
  // the link text says what it opens, as Slack's does (a service of the same name may well exist).
  it.each([
    ['a service, no revision', {}, 'Cloud Run service in the Cloud Console'],
    ['a service revision', { revision: 'storefront-00042-abc' }, 'Cloud Run revisions in the Cloud Console'],
    ['a job', { resourceType: 'job' as const, revision: undefined }, 'Cloud Run job in the Cloud Console'],
    ['a worker pool', { resourceType: 'worker-pool' as const, revision: undefined }, 'Cloud Run worker pools in the Cloud Console'],
  ])('the console link of %s says what it opens', (_name, overrides, text) => {
    const base = makeFinding('off-window-deploy');
    const { revision: _revision, ...withoutRevision } = base;
    const event = renderPagerDuty({ ...withoutRevision, ...overrides }, { source: 's' });
    expect(event.event_action === 'trigger' ? event.links[0] : event).toEqual({ href: base.links.console, text });
  });

  it('never contains the routing key', () => {
    for (const rule of RULES) expect(JSON.stringify(renderPagerDuty(makeFinding(rule), { source: 'runwatch' }))).not.toContain(PAGERDUTY_TEST_ROUTING_KEY);
  });
});

describe('PagerDutySink against a local Events API', () => {
  it('triggers with the routing key and dedup_key, and the server accepts the event', async () => {
    const finding = makeFinding('public-invoker-grant');
    expect(await sink().deliver(finding, { deadlineMs: deadline() })).toEqual({ status: 'delivered', ref: finding.id });
    const [event] = server.events();
    expect(event).toEqual({ routing_key: PAGERDUTY_TEST_ROUTING_KEY, ...renderPagerDuty(finding, { source: 'runwatch' }) });
    expect(server.requests[0]?.headers['content-type']).toBe('application/json');
    expect(server.open.has(finding.id)).toBe(true);
  });

  it('resolves the alert it opened', async () => {
    const finding = makeFinding('public-invoker-grant');
    await sink().deliver(finding, { deadlineMs: deadline() });
    expect(await sink().deliver(resolutionOf(finding), { deadlineMs: deadline() })).toEqual({ status: 'delivered', ref: finding.id });
    expect(server.events()[1]).toEqual({ routing_key: PAGERDUTY_TEST_ROUTING_KEY, event_action: 'resolve', dedup_key: finding.id });
    expect(server.open.size).toBe(0);
  });

  it('400 is permanent, with PagerDuty errors[] in the reason', async () => {
    const result = await sink({ routingKey: 'too-short' }).deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() });
    expect(result).toEqual({ status: 'failed', retryable: false, reason: 'PagerDuty answered HTTP 400: Event object is invalid; errors: Invalid routing key' });
    expect(server.requests).toHaveLength(1);
  });

  it('retries 5xx and then delivers', async () => {
    server.script({ status: 500 }, { status: 503, body: 'unavailable' });
    expect(await sink().deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    expect(server.requests).toHaveLength(3);
  });

  it('honours Retry-After on 429', async () => {
    server.script({ status: 429, headers: { 'retry-after': '1' }, body: 'Request Limit Exceeded' });
    expect(await sink().deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    expect(server.requests).toHaveLength(2);
    expect((server.requests[1]?.receivedAtMs ?? 0) - (server.requests[0]?.receivedAtMs ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it('a Retry-After beyond the deadline is handed back at once (Pub/Sub redelivery does the waiting)', async () => {
    server.script({ status: 429, headers: { 'retry-after': '120' } });
    const started = Date.now();
    const result = await sink().deliver(makeFinding('off-window-deploy'), { deadlineMs: Date.now() + 5_000 });
    expect(result).toEqual({ status: 'failed', retryable: true, reason: 'PagerDuty answered HTTP 429', retryAfterMs: 120_000 });
    expect(server.requests).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('network errors and timeouts are retryable', async () => {
    server.script({ destroy: true });
    expect(await sink().deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    server.script({ hang: true });
    const result = await sink({ retry: { ...FAST, maxAttempts: 1, attemptTimeoutMs: 200 } }).deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() });
    expect(result).toEqual({ status: 'failed', retryable: true, reason: 'PagerDuty request failed: timed out' });
  });

  it('a resolution delivered before its finding pages once and resolves once; the late finding is a duplicate', async () => {
    const records = new MemoryDeliveryRecordStore();
    const finding = makeFinding('public-invoker-grant', {}, { severity: 'CRITICAL' });
    const resolution = resolutionOf(finding);
    const outcomes = [];
    for (const f of [resolution, resolution, finding, finding, resolution]) {
      outcomes.push((await deliverOnce({ sink: sink(), finding: f, records, nowMs: Date.now(), deadlineMs: deadline() })).status);
    }
    expect(outcomes).toEqual(['delivered', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
    const events = server.events();
    expect(events.map((e) => [e['event_action'], e['dedup_key']])).toEqual([
      ['trigger', finding.id],
      ['resolve', finding.id],
    ]);
    expect(events[0]).toMatchObject({ routing_key: PAGERDUTY_TEST_ROUTING_KEY, payload: { severity: 'critical', custom_details: { status: 'resolved', resolved_by: 'bob@acme.com' } } });
    expect(server.open.size).toBe(0);
  });

  it('a resolution that came first whose records were never written: the late original past the lease opens no new alert', async () => {
    // The resolution went out (trigger, resolve), then its instance died before marking its claims: they stay pending.
    const records = new MemoryDeliveryRecordStore();
    const finding = makeFinding('public-invoker-grant', {}, { severity: 'CRITICAL' });
    const resolution = resolutionOf(finding);
    const startMs = Date.now();
    const leaseMs = 1_000;
    await records.claim('pagerduty', resolutionKey(finding.id), startMs, leaseMs);
    await records.claim('pagerduty', finding.id, startMs, leaseMs);
    expect(await sink().deliver(resolution, { deadlineMs: deadline(), originalDelivered: false })).toEqual({ status: 'delivered', ref: finding.id });
    expect(server.open.size).toBe(0);
    // The original's redelivery comes once the lease is over, before the resolution's: it must not page again.
    expect(await deliverOnce({ sink: sink(), finding, records, nowMs: startMs + leaseMs, deadlineMs: deadline() })).toMatchObject({ status: 'failed', retryable: true });
    expect(server.open.size).toBe(0);
    expect(await deliverOnce({ sink: sink(), finding: resolution, records, nowMs: startMs + leaseMs + 1, deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    expect(await deliverOnce({ sink: sink(), finding, records, nowMs: startMs + leaseMs + 2, deadlineMs: deadline() })).toMatchObject({ status: 'duplicate', reason: 'already resolved' });
    expect(server.events().filter((e) => e['event_action'] === 'trigger').every((e) => (e['payload'] as { custom_details: { status?: string } }).custom_details.status === 'resolved')).toBe(true);
    expect(server.open.size).toBe(0);
  });

  it('in order, the finding triggers and its resolution only resolves', async () => {
    const records = new MemoryDeliveryRecordStore();
    const finding = makeFinding('public-invoker-grant');
    for (const f of [finding, resolutionOf(finding)]) await deliverOnce({ sink: sink(), finding: f, records, nowMs: Date.now(), deadlineMs: deadline() });
    expect(server.events().map((e) => e['event_action'])).toEqual(['trigger', 'resolve']);
    expect(server.open.size).toBe(0);
  });

  it('a resolve that fails after the trigger: only the resolve is retried, and a permanent failure says the trigger went out', async () => {
    const resolution = resolutionOf(makeFinding('public-invoker-grant'));
    server.script({ status: 202, body: { status: 'success' } }, { status: 503 });
    expect(await sink().deliver(resolution, { deadlineMs: deadline(), originalDelivered: false })).toEqual({ status: 'delivered', ref: resolution.id });
    expect(server.events().map((e) => e['event_action'])).toEqual(['trigger', 'resolve', 'resolve']);
    server.reset();
    server.script({ status: 202, body: { status: 'success' } }, { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: ['bad'] } });
    expect(await sink().deliver(resolution, { deadlineMs: deadline(), originalDelivered: false })).toEqual({
      status: 'failed',
      retryable: false,
      reason: 'PagerDuty answered HTTP 400: Event object is invalid; errors: bad (the trigger went out, the resolve did not)',
    });
  });

  it('a redelivered finding is sent once through deliverOnce', async () => {
    const records = new MemoryDeliveryRecordStore();
    const finding = makeFinding('new-image-repository');
    const outcomes = [];
    for (let i = 0; i < 3; i += 1) outcomes.push(await deliverOnce({ sink: sink(), finding, records, nowMs: Date.now(), deadlineMs: deadline() }));
    expect(outcomes.map((o) => o.status)).toEqual(['delivered', 'duplicate', 'duplicate']);
    expect(server.requests).toHaveLength(1);
  });
});

describe('untrusted names: sizes and links against the local Events API (512 KB per event)', () => {
  const trigger = (finding: Parameters<typeof renderPagerDuty>[0]): Extract<ReturnType<typeof renderPagerDuty>, { event_action: 'trigger' }> => {
    const event = renderPagerDuty(finding, { source: 'runwatch' });
    if (event.event_action !== 'trigger') throw new Error('expected a trigger');
    return event;
  };
  const bodyBytes = (): number => Buffer.byteLength(server.requests[0]?.body ?? '', 'utf8');

  it('a service name of 30,000 CJK characters (90 KB in its audit entry, which may hold 512 KiB) is delivered, not refused as too large', async () => {
    // The name is in component, and twice percent-encoded (9 characters each) in client_url and the console link:
    // 90 KB of name made a 650 KB event, which PagerDuty refuses (400, permanent): the finding never paged anyone.
    const finding = makeFinding('public-invoker-grant', { service: '日'.repeat(30_000) });
    expect(await sink().deliver(finding, { deadlineMs: deadline() })).toEqual({ status: 'delivered', ref: finding.id });
    expect(bodyBytes()).toBeLessThanOrEqual(PAGERDUTY_EVENT_MAX_BYTES);
    expect(server.open.has(finding.id)).toBe(true);
    const event = trigger(finding);
    expect(event.payload.component.length).toBeLessThanOrEqual(255);
    expect(event.payload.component.endsWith('…')).toBe(true);
    // A cut URL would open some other page: the too-long console link is left out, the audit entry's stays.
    expect(event.client_url).toBeUndefined();
    expect(event.links).toEqual([{ href: finding.links.logEntry, text: 'Audit log entry in Logs Explorer' }]);
  });

  it('a project name of 30,000 characters is cut in group, as the service is in component', () => {
    const event = trigger(makeFinding('off-window-deploy', { project: 'p'.repeat(30_000) }));
    expect(event.payload.group).toBe(`${'p'.repeat(254)}…`);
  });

  it('labels whose JSON is six times their size (control characters are written \\u0001) still fit one event', async () => {
    // 100 labels of 4,000 control characters: 400 KB in the entry, 2.4 MB as JSON even with each value cut at 4,096.
    const labels = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`label-${i}`, '\u0001'.repeat(4_000)]));
    const finding = makeFinding('off-window-deploy', { labels });
    expect(await sink().deliver(finding, { deadlineMs: deadline() })).toEqual({ status: 'delivered', ref: finding.id });
    expect(bodyBytes()).toBeLessThanOrEqual(PAGERDUTY_EVENT_MAX_BYTES);
    // What fits is kept: the finding id and rule always, and the details cut shorter rather than dropped.
    const details = trigger(finding).payload.custom_details;
    expect(details).toMatchObject({ finding_id: finding.id, rule: 'off-window-deploy', principal: 'alice@acme.com' });
  });

  it('synthetic-worst-case evidence (60 keys of 60 values of 500 control characters, 11 MB as JSON) is cut to fit, the id and rule kept', () => {
    const value = '\u0007'.repeat(500);
    const evidence = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`key${i}`, Array.from({ length: 60 }, () => value)]));
    const finding = { ...makeFinding('off-window-deploy'), evidence };
    const event = trigger(finding);
    expect(Buffer.byteLength(JSON.stringify(event), 'utf8')).toBeLessThanOrEqual(500_000);
    expect(event.payload.custom_details).toMatchObject({ finding_id: finding.id, rule: 'off-window-deploy' });
    const kept = event.payload.custom_details['evidence'] as Record<string, string[]>;
    // Cut, and saying so: fewer keys and values, each shorter, with how many more there were.
    expect(kept['…']).toMatch(/^\d+ more$/);
    expect(kept['key0']?.at(-1)).toMatch(/^… and \d+ more$/);
  });

  it('an ordinary finding keeps every detail as it was (the budget only bites on oversized ones)', () => {
    const finding = makeFinding('new-image-repository');
    const details = trigger(finding).payload.custom_details;
    expect(details['labels']).toEqual(finding.labels);
    expect(details['evidence']).toEqual(finding.evidence);
  });

  // Links come from the finding, which the notify function reads off the findings topic checking only the fields it
  // routes by: PagerDuty makes client_url and every href a clickable link in the incident, so they are checked here
  // as Slack checks them (https on the Cloud Console, nothing else).
  it.each([
    ['javascript:', 'javascript:alert(document.cookie)//console.cloud.google.com/'],
    ['another host', 'https://console.cloud.google.com.evil.example/run'],
    ['user info', 'https://console.cloud.google.com@evil.example/run'],
    ['plain http', 'http://console.cloud.google.com/run'],
    ['not a URL', 'storefront'],
  ])('a link that is not an https Cloud Console URL (%s) is left out', (_name, url) => {
    const finding = makeFinding('public-invoker-grant');
    const event = trigger({ ...finding, links: { console: url, logEntry: url } });
    expect(event.client_url).toBeUndefined();
    expect(event.links).toEqual([]);
  });

  it('a console link with raw characters goes out percent-encoded, a valid URL of printable ASCII', () => {
    const finding = makeFinding('public-invoker-grant');
    const raw = 'https://console.cloud.google.com/run/detail/europe-west1/a b\u202e"<x>|y/revisions?project=acme prod';
    const event = trigger({ ...finding, links: { ...finding.links, console: raw } });
    const encoded = 'https://console.cloud.google.com/run/detail/europe-west1/a%20b%E2%80%AE%22%3Cx%3E%7Cy/revisions?project=acme%20prod';
    expect(event.client_url).toBe(encoded);
    expect(event.links[0]?.href).toBe(encoded);
  });

  it.each(HOSTILE)('%s: every link is an https Cloud Console URL of printable ASCII, as a URL parser writes it', (_name, hostile) => {
    for (const rule of RULES) {
      const event = trigger(makeFinding(rule, { service: hostile, project: hostile, location: hostile, insertId: hostile }));
      for (const href of [event.client_url, ...event.links.map((l) => l.href)].filter((h): h is string => h !== undefined)) {
        expect(href).toMatch(/^https:\/\/console\.cloud\.google\.com\/[\x21-\x7e]*$/);
        expect(href).toMatch(/^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]*$/);
        expect(new URL(href).href).toBe(href);
        expect(href.length).toBeLessThanOrEqual(2_048);
      }
      expect(event.payload.component.length).toBeLessThanOrEqual(255);
      expect(event.payload.group.length).toBeLessThanOrEqual(255);
    }
  });
});

describe('the routing key never leaks', () => {
  const writes: string[] = [];
  beforeEach(() => {
    writes.length = 0;
    const capture = (chunk: unknown): boolean => (writes.push(String(chunk)), true);
    vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void writes.push(args.map(String).join(' ')));
  });
  afterEach(() => vi.restoreAllMocks());

  it('not in results, reasons or any output, whatever the server answers (even when it echoes the key)', async () => {
    const results: DeliveryResult[] = [];
    const finding = makeFinding('public-invoker-grant');
    const echo = { status: 'invalid event', message: `bad key ${PAGERDUTY_TEST_ROUTING_KEY}`, errors: [`routing_key ${PAGERDUTY_TEST_ROUTING_KEY} is disabled`] };
    server.script({ status: 400, body: echo }, { status: 500, body: echo }, { status: 500 }, { status: 500 }, { status: 500 }, { destroy: true });
    results.push(await sink({ retry: { ...FAST, maxAttempts: 1 } }).deliver(finding, { deadlineMs: deadline() }));
    results.push(await sink({ retry: { ...FAST, maxAttempts: 4 } }).deliver(finding, { deadlineMs: deadline() }));
    results.push(await sink({ retry: { ...FAST, maxAttempts: 1 } }).deliver(finding, { deadlineMs: deadline() }));
    results.push(await sink().deliver(finding, { deadlineMs: deadline() }));
    results.push(await sink().deliver(resolutionOf(finding), { deadlineMs: deadline() }));
    results.push(await sink({ eventsUrl: 'http://127.0.0.1:9/v2/enqueue', retry: { ...FAST, maxAttempts: 1 } }).deliver(finding, { deadlineMs: deadline() }));
    expect(results[0]).toEqual({
      status: 'failed',
      retryable: false,
      reason: 'PagerDuty answered HTTP 400: bad key [routing key]; errors: routing_key [routing key] is disabled',
    });
    expect(results.map((r) => r.status)).toEqual(['failed', 'failed', 'failed', 'delivered', 'delivered', 'failed']);
    expect(JSON.stringify(results)).not.toContain(PAGERDUTY_TEST_ROUTING_KEY);
    expect(writes.join('\n')).not.toContain(PAGERDUTY_TEST_ROUTING_KEY);
    // The key did go where it belongs: in the request body.
    expect(server.events().some((e) => e['routing_key'] === PAGERDUTY_TEST_ROUTING_KEY)).toBe(true);
  });

  it('not even in part where the reason cuts a long echo', async () => {
    // The reason keeps 200 characters of a message: cut first, the echo left the key's first half behind.
    server.script({ status: 400, body: { status: 'invalid event', message: `${'x'.repeat(180)} key ${PAGERDUTY_TEST_ROUTING_KEY}` } });
    const result = await sink({ retry: { ...FAST, maxAttempts: 1 } }).deliver(makeFinding('public-invoker-grant'), { deadlineMs: deadline() });
    expect(result).toMatchObject({ status: 'failed', reason: `PagerDuty answered HTTP 400: ${'x'.repeat(180)} key [routing key]` });
    expect(JSON.stringify(result)).not.toContain(PAGERDUTY_TEST_ROUTING_KEY.slice(0, 8));
  });
});

describe('classifyPagerDutyResponse', () => {
  it.each([
    [202, '{"status":"success","message":"Event processed","dedup_key":"k"}', { status: 'delivered', ref: 'k' }],
    [202, 'not json', { status: 'delivered' }],
    [400, '{"status":"invalid event","message":"Event object is invalid","errors":["Length of \'dedup_key\' is too long"]}', { status: 'failed', retryable: false }],
    [403, '', { status: 'failed', retryable: false }],
    [429, 'Request Limit Exceeded', { status: 'failed', retryable: true }],
    [502, '<html>', { status: 'failed', retryable: true }],
  ] as const)('HTTP %i', (status, body, expected) => {
    expect(classifyPagerDutyResponse(status, body, undefined)).toMatchObject(expected);
  });
});
