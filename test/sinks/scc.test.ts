import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deliverOnce } from '../../sinks/deliver.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import {
  classifySccError,
  createSccClient,
  createSccSource,
  normalizeOrganization,
  parseSccEndpoint,
  parseSccSource,
  renderScc,
  sccCategory,
  sccConsoleUrl,
  sccFindingName,
  SccSink,
  toTimestamp,
  toValue,
} from '../../sinks/scc.js';
import { makeFinding, resolutionOf, RULES } from '../support/findings.js';
import { SCC_TEST_SOURCE, startSccServer, withoutCredentials, type CredentialFreeEnv, type SccServer } from '../support/sccServer.js';
import type { HttpReceiver } from '../support/webhookServer.js';
import { HOSTILE } from './hostile.js';
import { expectGolden } from './golden.js';

const FAST = { initialDelayMs: 10, maxDelayMs: 20 };

describe('renderScc', () => {
  it.each(RULES)('%s: golden SCC finding', (rule) => {
    expectGolden(`scc/${rule}`, renderScc(makeFinding(rule), SCC_TEST_SOURCE));
  });

  it('golden resolution: same finding, resolution time as eventTime, resolution facts added', () => {
    expectGolden('scc/resolution', renderScc(resolutionOf(makeFinding('public-invoker-grant')), SCC_TEST_SOURCE));
  });

  it.each(HOSTILE)('%s: the description (shown in the console and notifications) holds nothing invisible; sourceProperties keep the value', (_name, hostile) => {
    // Written out here, independently of untrustedText.ts: what breaks a line, hides or turns text around.
    const unsafe =
      /[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u2800\u3164\ufeff\uffa0\ufff9-\ufffb\u{e0000}-\u{e007f}\ufe00-\ufe0f\u{e0100}-\u{e01ef}]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u;
    for (const rule of RULES) {
      const finding = makeFinding(rule, { service: hostile, principal: hostile, justification: hostile });
      for (const shown of [finding, resolutionOf(finding, { principal: hostile, reason: hostile })]) {
        expect(renderScc(shown, SCC_TEST_SOURCE).description).not.toMatch(unsafe);
      }
    }
    const scc = renderScc(makeFinding('public-invoker-grant', { service: hostile }), SCC_TEST_SOURCE);
    // Kept as the entry had it (made well formed), up to 4,096 characters; longer values are cut with `…`.
    const kept = scc.sourceProperties?.['service']?.stringValue ?? '';
    if (hostile.length <= 4_096) expect(kept).toBe(hostile.toWellFormed());
    else expect([kept.length <= 4_096, kept.endsWith('…'), hostile.toWellFormed().startsWith(kept.slice(0, -1))]).toEqual([true, true, true]);
  });

  it('derives the category from the rule id', () => {
    expect(RULES.map(sccCategory)).toEqual([
      'CLOUD_RUN_PUBLIC_INVOKER_GRANT',
      'CLOUD_RUN_OFF_WINDOW_DEPLOY',
      'CLOUD_RUN_SERVICE_ACCOUNT_CHANGE',
      'CLOUD_RUN_NEW_IMAGE_REPOSITORY',
      'CLOUD_RUN_BINARY_AUTHORIZATION_BYPASS',
      'CLOUD_RUN_INGRESS_OPENED',
      'CLOUD_RUN_PLAINTEXT_SECRET_ENV',
      'CLOUD_RUN_UNAPPROVED_DEPLOYER',
      'CLOUD_RUN_VPC_EGRESS_BYPASS',
      'CLOUD_RUN_PUBLIC_INVOKER_ATTEMPT',
      'CLOUD_RUN_JOB_RUN_OVERRIDES',
      'CLOUD_RUN_IAP_DISABLED',
      'CLOUD_RUN_DEFAULT_URL_ENABLED',
      'CLOUD_RUN_CODE_LOADING_ENV',
      'CLOUD_RUN_EXTERNAL_MEMBER_GRANT',
    ]);
  });

  it('keeps nanosecond precision in eventTime and rejects what is not ISO 8601', () => {
    expect(toTimestamp('2024-05-14T02:13:07.123456789Z')).toEqual({ seconds: 1715652787, nanos: 123456789 });
    expect(toTimestamp('2024-05-14T02:13:07Z')).toEqual({ seconds: 1715652787, nanos: 0 });
    expect(toTimestamp('2024-05-14T04:13:07.5+02:00')).toEqual({ seconds: 1715652787, nanos: 500000000 });
    expect(() => toTimestamp('yesterday')).toThrow(/not an ISO 8601 timestamp/);
  });

  it('converts evidence to protobuf Values', () => {
    expect(toValue({ a: 'x', n: 2, inf: Number.POSITIVE_INFINITY, b: false, z: null, list: ['p', 'q'] })).toEqual({
      structValue: {
        fields: {
          a: { stringValue: 'x' },
          n: { numberValue: 2 },
          inf: { stringValue: 'Infinity' },
          b: { boolValue: false },
          z: { nullValue: 'NULL_VALUE' },
          list: { listValue: { values: [{ stringValue: 'p' }, { stringValue: 'q' }] } },
        },
      },
    });
  });

  it('names and links', () => {
    expect(parseSccSource(' organizations/1/sources/2 ')).toEqual({ organization: '1', source: 'organizations/1/sources/2' });
    expect(parseSccSource('projects/p/sources/2')).toBeUndefined();
    expect(sccFindingName(SCC_TEST_SOURCE, 'abc')).toBe(`${SCC_TEST_SOURCE}/locations/global/findings/abc`);
    expect(sccConsoleUrl(SCC_TEST_SOURCE, 'abc')).toBe(
      'https://console.cloud.google.com/security/command-center/findingsv2;name=organizations%2F123456789012%2Fsources%2F9876543210%2Flocations%2Fglobal%2Ffindings%2Fabc?organizationId=123456789012',
    );
    expect(sccConsoleUrl(SCC_TEST_SOURCE, 'not/an/id')).toBeUndefined();
    expect(normalizeOrganization('123')).toBe('organizations/123');
    expect(() => normalizeOrganization('acme.com')).toThrow(/not an organization id/);
  });

  it('reads SCC_API_ENDPOINT; plaintext only for loopback hosts', () => {
    expect(parseSccEndpoint('127.0.0.1:8443')).toEqual({ host: '127.0.0.1', port: 8443, insecure: true });
    expect(parseSccEndpoint('localhost:1')).toEqual({ host: 'localhost', port: 1, insecure: true });
    expect(parseSccEndpoint('[::1]:9')).toEqual({ host: '::1', port: 9, insecure: true });
    expect(parseSccEndpoint('securitycenter.me-central2.rep.googleapis.com')).toEqual({ host: 'securitycenter.me-central2.rep.googleapis.com', port: 443, insecure: false });
    expect(() => parseSccEndpoint('host:99999')).toThrow(/host:port/);
  });

  // outputs.md section 4: ABORTED and a server-side INTERNAL are transient too (they used to be dead-lettered), and
  // so is UNKNOWN: grpc-js's code for an access token it could not fetch for the call.
  // ALREADY_EXISTS: an upsert that raced another write creating the same finding (scc-already-exists.test.ts).
  it('classifies gRPC codes: UNKNOWN, ALREADY_EXISTS, UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED and INTERNAL are retryable', () => {
    const retryable = Object.values(grpc.status)
      .filter((code): code is number => typeof code === 'number' && code !== 0)
      .filter((code) => (classifySccError(Object.assign(new Error('x'), { code, details: 'x' })) as { retryable: boolean }).retryable);
    expect(retryable.sort((a, b) => a - b)).toEqual([
      grpc.status.UNKNOWN,
      grpc.status.DEADLINE_EXCEEDED,
      grpc.status.ALREADY_EXISTS,
      grpc.status.RESOURCE_EXHAUSTED,
      grpc.status.ABORTED,
      grpc.status.INTERNAL,
      grpc.status.UNAVAILABLE,
    ]);
  });

  it.each<[string, unknown, boolean]>([
    ['INTERNAL from the server', Object.assign(new Error('13 INTERNAL: backend error'), { code: 13, details: 'backend error' }), true],
    ['INTERNAL: our request does not serialize (a bug)', Object.assign(new Error('13 INTERNAL: Request message serialization failure: x'), { code: 13, details: 'Request message serialization failure: x' }), false],
    ['INTERNAL: the answer does not parse (a bug)', Object.assign(new Error('13 INTERNAL: Response message parsing error: x'), { code: 13, details: 'Response message parsing error: x' }), false],
    ['no code: the client or its credentials could not be made', new Error('Could not load the default credentials'), true],
    ['no code: the client library failed to load', new Error('cannot load the client library'), true],
    ['a TypeError (a bug)', new TypeError("Cannot read properties of undefined (reading 'name')"), false],
    ['a RangeError (a bug)', new RangeError('Invalid time value'), false],
    ['a string code is not a gRPC code', Object.assign(new Error('x'), { code: 'ECONNRESET' }), true],
    [
      'UNKNOWN: grpc-js could not get the access token for the call (nothing reached SCC)',
      Object.assign(new Error('2 UNKNOWN: Getting metadata from plugin failed with error: connect ETIMEDOUT'), { code: 2, details: 'Getting metadata from plugin failed with error: connect ETIMEDOUT' }),
      true,
    ],
  ])('%s', (_name, error, retryable) => {
    expect(classifySccError(error)).toMatchObject({ status: 'failed', retryable });
  });
});

describe('SccSink with the real v2 client against a local gRPC server', () => {
  let server: SccServer;
  let metadataServer: HttpReceiver;
  let sink: SccSink;
  let credentialFree: CredentialFreeEnv;

  beforeAll(async () => {
    // No credentials to find, and a metadata server that records every request: a credential look-up would show.
    credentialFree = await withoutCredentials();
    metadataServer = credentialFree.metadataServer;
    server = await startSccServer();
    sink = new SccSink({ source: SCC_TEST_SOURCE, endpoint: parseSccEndpoint(server.endpoint), retry: FAST });
  });
  afterAll(async () => {
    await sink.close();
    await server.close();
    await credentialFree.restore();
  });
  beforeEach(() => server.reset());

  const deadline = (): number => Date.now() + 10_000;

  it('makes the client again after a failed creation instead of keeping the failure', async () => {
    let attempts = 0;
    const flaky = new SccSink({
      source: SCC_TEST_SOURCE,
      endpoint: parseSccEndpoint(server.endpoint),
      retry: FAST,
      createClient: (endpoint) => (++attempts === 1 ? Promise.reject(new Error('cannot load the client library')) : createSccClient(endpoint)),
    });
    try {
      const finding = makeFinding('public-invoker-grant');
      // The failed creation is retryable: the delivery's next attempt makes the client again and succeeds.
      expect(await flaky.deliver(finding, { deadlineMs: deadline() })).toEqual({ status: 'delivered', ref: sccFindingName(SCC_TEST_SOURCE, finding.id) });
      expect(attempts).toBe(2);
      expect(server.calls.map((c) => c.method)).toEqual(['UpdateFinding']);
    } finally {
      await flaky.close();
    }
  });

  it('upserts under the deterministic name with the rendered content, without any credentials', async () => {
    const finding = makeFinding('public-invoker-grant');
    const name = sccFindingName(SCC_TEST_SOURCE, finding.id);
    expect(await sink.deliver(finding, { deadlineMs: deadline() })).toEqual({ status: 'delivered', ref: name });
    const [call] = server.calls;
    expect(call?.method).toBe('UpdateFinding');
    expect(call?.metadata['authorization']).toBeUndefined();
    expect(call?.metadata['x-goog-request-params']).toBe(`finding.name=${encodeURIComponent(name)}`);
    expect(call?.request['updateMask']).toBeUndefined();
    const received = call?.request['finding'] as Record<string, unknown>;
    expect(received).toMatchObject({
      name,
      resourceName: finding.resourceName,
      category: 'CLOUD_RUN_PUBLIC_INVOKER_GRANT',
      findingClass: 'MISCONFIGURATION',
      severity: 'HIGH',
      eventTime: { seconds: '1715652787', nanos: 123456789 },
      externalUri: finding.links.logEntry,
      description: finding.summary,
    });
    expect(received['sourceProperties']).toMatchObject({
      principal: { stringValue: 'alice@acme.com' },
      evidence: { structValue: { fields: { membersGranted: { listValue: { values: [{ stringValue: 'allUsers' }] } } } } },
    });
    expect(server.findings.get(name)).toMatchObject({ state: 'ACTIVE' });
    expect(metadataServer.requests).toHaveLength(0);
  });

  it('carries provenance into source properties', async () => {
    const finding = makeFinding('off-window-deploy');
    await sink.deliver(finding, { deadlineMs: deadline() });
    const props = (server.calls[0]?.request['finding'] as Record<string, Record<string, unknown>>)['sourceProperties'];
    expect(props).toMatchObject({
      revision: { stringValue: 'storefront-00042-xuz' },
      commit: { stringValue: '3f9c2a7e1b4d8f60a5c9e2d7b1a3f4e5c6d7e8f9' },
      pipeline: { stringValue: '7d1e2c3b-4a5f-4e6d-9c8b-1a2b3c4d5e6f' },
    });
  });

  it('redelivery and replay update the same SCC finding', async () => {
    const finding = makeFinding('new-image-repository');
    await sink.deliver(finding, { deadlineMs: deadline() });
    await sink.deliver(finding, { deadlineMs: deadline() });
    expect(server.calls.map((c) => c.method)).toEqual(['UpdateFinding', 'UpdateFinding']);
    expect(server.findings.size).toBe(1);
  });

  it('a resolution sets the finding INACTIVE', async () => {
    const finding = makeFinding('public-invoker-grant');
    await sink.deliver(finding, { deadlineMs: deadline() });
    expect(await sink.deliver(resolutionOf(finding), { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    const name = sccFindingName(SCC_TEST_SOURCE, finding.id);
    expect(server.calls.map((c) => c.method)).toEqual(['UpdateFinding', 'UpdateFinding', 'SetFindingState']);
    expect(server.calls[2]?.request).toEqual({ name, state: 'INACTIVE' });
    expect(server.findings.get(name)).toMatchObject({ state: 'INACTIVE' });
    // A later redelivery of the original must not reopen it (state is output-only on update).
    await sink.deliver(finding, { deadlineMs: deadline() });
    expect(server.findings.get(name)).toMatchObject({ state: 'INACTIVE' });
  });

  it('a resolution whose original never reached SCC still records it, inactive', async () => {
    const finding = makeFinding('service-account-change');
    await sink.deliver(resolutionOf(finding), { deadlineMs: deadline() });
    expect(server.findings.get(sccFindingName(SCC_TEST_SOURCE, finding.id))).toMatchObject({ state: 'INACTIVE', category: 'CLOUD_RUN_SERVICE_ACCOUNT_CHANGE' });
  });

  it.each([
    ['UNAVAILABLE', grpc.status.UNAVAILABLE],
    ['RESOURCE_EXHAUSTED', grpc.status.RESOURCE_EXHAUSTED],
    ['DEADLINE_EXCEEDED', grpc.status.DEADLINE_EXCEEDED],
  ])('retries %s and then delivers', async (_name, code) => {
    server.fail('UpdateFinding', { code, details: 'try later' }, { code, details: 'try later' });
    expect(await sink.deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    expect(server.calls).toHaveLength(3);
  });

  it('a slow server hits the attempt timeout (client-side DEADLINE_EXCEEDED) and is retried', async () => {
    server.fail('UpdateFinding', { code: grpc.status.OK, delayMs: 1_000 });
    const slowSink = new SccSink({ source: SCC_TEST_SOURCE, endpoint: parseSccEndpoint(server.endpoint), retry: { ...FAST, attemptTimeoutMs: 200 } });
    try {
      expect(await slowSink.deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
      expect(server.calls).toHaveLength(2);
    } finally {
      await slowSink.close();
    }
  });

  it('gives up inside the deadline with a retryable failure', async () => {
    server.fail('UpdateFinding', ...Array.from({ length: 10 }, () => ({ code: grpc.status.UNAVAILABLE, details: 'down' })));
    const result = await sink.deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() });
    expect(result).toEqual({ status: 'failed', retryable: true, reason: 'SCC call failed: 14 UNAVAILABLE: down' });
    expect(server.calls).toHaveLength(4);
  });

  it.each([
    ['ABORTED', grpc.status.ABORTED],
    ['INTERNAL', grpc.status.INTERNAL],
  ])('%s from the server is retried, then the upsert goes through', async (_name, code) => {
    server.fail('UpdateFinding', { code, details: 'transient' });
    const finding = makeFinding('off-window-deploy');
    expect(await sink.deliver(finding, { deadlineMs: deadline() })).toEqual({ status: 'delivered', ref: sccFindingName(SCC_TEST_SOURCE, finding.id) });
    expect(server.calls).toHaveLength(2);
  });

  it('a request the real client cannot serialize is INTERNAL on the client side: permanent', async () => {
    const client = await createSccClient(parseSccEndpoint(server.endpoint));
    try {
      const bad = { finding: { name: sccFindingName(SCC_TEST_SOURCE, 'abc'), sourceProperties: { x: 5 } } } as unknown as Parameters<typeof client.updateFinding>[0];
      const error = await client.updateFinding(bad, { timeout: 2_000 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: grpc.status.INTERNAL });
      expect(classifySccError(error)).toMatchObject({ status: 'failed', retryable: false });
      expect(server.calls).toHaveLength(0);
    } finally {
      await client.close();
    }
  });

  it.each([
    ['PERMISSION_DENIED', grpc.status.PERMISSION_DENIED],
    ['INVALID_ARGUMENT', grpc.status.INVALID_ARGUMENT],
    ['UNAUTHENTICATED', grpc.status.UNAUTHENTICATED],
    ['FAILED_PRECONDITION', grpc.status.FAILED_PRECONDITION],
  ])('%s is permanent and not retried', async (name, code) => {
    server.fail('UpdateFinding', { code, details: 'no' });
    const result = await sink.deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() });
    expect(result).toEqual({ status: 'failed', retryable: false, reason: `SCC call failed: ${code} ${name}: no` });
    expect(server.calls).toHaveLength(1);
  });

  it('a source that does not exist is permanent (NOT_FOUND from the server)', async () => {
    const other = new SccSink({ source: 'organizations/123456789012/sources/1', endpoint: parseSccEndpoint(server.endpoint), retry: FAST });
    try {
      expect(await other.deliver(makeFinding('off-window-deploy'), { deadlineMs: deadline() })).toMatchObject({ status: 'failed', retryable: false });
      expect(server.calls).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  it('a finding the client cannot serialize (bad eventTime) is permanent and never sent', async () => {
    const result = await sink.deliver(makeFinding('off-window-deploy', { eventTime: 'not a time' }), { deadlineMs: deadline() });
    expect(result).toEqual({ status: 'failed', retryable: false, reason: 'cannot build the SCC finding: not an ISO 8601 timestamp: "not a time"' });
    expect(server.calls).toHaveLength(0);
  });

  it('hostile strings reach SCC as data, and every upsert is accepted', async () => {
    for (const [, hostile] of HOSTILE.slice(0, 30)) {
      const finding = makeFinding('new-image-repository', { service: hostile, principal: hostile, image: hostile, labels: { [hostile || 'empty']: hostile } });
      expect(await sink.deliver(finding, { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    }
    expect(server.findings.size).toBe(30);
  });

  it('untrusted text is bounded: the description and every source property string at 4,096 characters, cut whole (never half a surrogate pair)', async () => {
    // A job run's overriding arguments are the caller's own text (a whole script after `-c`), and the principal is in
    // the description: both reached SCC whole, in every upsert of the finding (SCC counts 500 MB of findings a day).
    const finding = makeFinding('job-run-overrides', { principal: `${'😀'.repeat(10_000)}@acme.com`, justification: 'x'.repeat(100_000) });
    expect(await sink.deliver(finding, { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    const received = server.calls[0]?.request['finding'] as { description: string; sourceProperties: Record<string, unknown> };
    expect(received.description.length).toBeLessThanOrEqual(4_096);
    expect(received.description.endsWith('…')).toBe(true);
    expect(received.description.isWellFormed()).toBe(true);
    const strings: string[] = [];
    const walk = (value: unknown): void => {
      if (typeof value === 'string') strings.push(value);
      else if (value && typeof value === 'object') Object.values(value).forEach(walk);
    };
    walk(received.sourceProperties);
    expect(Math.max(...strings.map((v) => v.length))).toBeLessThanOrEqual(4_096);
    expect(strings.every((v) => v.isWellFormed())).toBe(true);
    expect(received.sourceProperties['principal']).toMatchObject({ stringValue: `${'😀'.repeat(2_047)}…` });
  });

  it('a resource name that cannot be a real one (bidi, invisible characters) reaches SCC visible: the console shows it as written', async () => {
    // No project, location or Cloud Run name holds such characters, so no asset has this name: nothing to match exactly.
    const finding = makeFinding('public-invoker-grant', { service: '\u202eyrotnevni-yap\u200b' });
    await sink.deliver(finding, { deadlineMs: deadline() });
    const received = server.calls[0]?.request['finding'] as { resourceName: string };
    expect(received.resourceName).toBe('//run.googleapis.com/projects/acme-prod/locations/europe-west1/services/\ufffdyrotnevni-yap\ufffd');
  });

  it('a resource name of 20,000 characters reaches SCC cut at 1,024 (a real one is under 200)', async () => {
    const finding = makeFinding('public-invoker-grant', { service: 'a'.repeat(20_000) });
    await sink.deliver(finding, { deadlineMs: deadline() });
    const received = server.calls[0]?.request['finding'] as { resourceName: string };
    expect(received.resourceName.length).toBeLessThanOrEqual(1_024);
    expect(received.resourceName.startsWith('//run.googleapis.com/projects/acme-prod/locations/europe-west1/services/aaaa')).toBe(true);
  });

  // The finding's links come off the findings topic, where notify checks only what it routes by.
  it.each([
    ['raw quotes, spaces and a bidi override', 'https://console.cloud.google.com/logs/query;query=insertId="a b\u202e|c"?project=acme prod', 'https://console.cloud.google.com/logs/query;query=insertId=%22a%20b%E2%80%AE%7Cc%22?project=acme%20prod'],
    ['a javascript: URL', 'javascript:alert(document.cookie)', ''],
    ['another host', 'https://evil.example/logs', ''],
  ])('externalUri with %s: SCC gets an https Cloud Console URL, percent-encoded, or none', async (_name, logEntry, expected) => {
    const finding = makeFinding('public-invoker-grant');
    expect(await sink.deliver({ ...finding, links: { ...finding.links, logEntry } }, { deadlineMs: deadline() })).toMatchObject({ status: 'delivered' });
    expect((server.calls[0]?.request['finding'] as { externalUri: string }).externalUri).toBe(expected);
  });

  it('a redelivered finding is written once through deliverOnce, and resolved once', async () => {
    const records = new MemoryDeliveryRecordStore();
    const finding = makeFinding('public-invoker-grant');
    const outcomes = [];
    for (const f of [finding, finding, resolutionOf(finding), resolutionOf(finding), finding]) {
      outcomes.push((await deliverOnce({ sink, finding: f, records, nowMs: Date.now(), deadlineMs: deadline() })).status);
    }
    expect(outcomes).toEqual(['delivered', 'duplicate', 'delivered', 'duplicate', 'duplicate']);
    expect(server.calls.map((c) => c.method)).toEqual(['UpdateFinding', 'UpdateFinding', 'SetFindingState']);
  });

  it('createSccSource creates an organization-level source and returns its name', async () => {
    const name = await createSccSource('123456789012', 'runwatch', { description: 'test', endpoint: parseSccEndpoint(server.endpoint) });
    expect(name).toMatch(/^organizations\/123456789012\/sources\/\d+$/);
    expect(server.sources.has(name)).toBe(true);
    expect(server.calls.at(-1)).toMatchObject({ method: 'CreateSource', request: { parent: 'organizations/123456789012', source: { displayName: 'runwatch', description: 'test' } } });
    await expect(createSccSource('organizations/1', '', { endpoint: parseSccEndpoint(server.endpoint) })).rejects.toThrow(/1 to 64/);
  });

  it('no test in this file made a credential or metadata look-up', () => {
    expect(metadataServer.requests).toHaveLength(0);
  });
});

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// In production gax gives the channel Application Default Credentials: TLS, plus an access token fetched for each
// call (from the metadata server on Cloud Run). When that fetch fails (the metadata server times out or answers
// 5xx), grpc-js fails the call before anything reaches SCC, with UNKNOWN "Getting metadata from plugin failed with
// error: ...": a transient failure of the credentials, to be retried like one, not dead-lettered.
describe.skipIf(!hasOpenssl())('SccSink when the access token cannot be fetched for a call', () => {
  let dir: string;
  let server: SccServer;
  let ca: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'runwatch-tls-'));
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    ca = readFileSync(cert);
    server = await startSccServer(grpc.ServerCredentials.createSsl(null, [{ cert_chain: ca, private_key: readFileSync(key) }], false));
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('retries, and the next call upserts the finding with the token', async () => {
    let fetches = 0;
    const credentials = {
      // What gax hands grpc-js: the auth client's headers for each call; the first fetch fails as gaxios fails.
      getRequestHeaders: (): Promise<Record<string, string>> => {
        fetches += 1;
        if (fetches === 1) {
          const error = new Error('request to http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token failed, reason: connect ETIMEDOUT');
          return Promise.reject(Object.assign(error, { code: 'ETIMEDOUT' }));
        }
        return Promise.resolve({ authorization: 'Bearer ya29.test-token' });
      },
    };
    const endpoint = parseSccEndpoint(server.endpoint);
    const sink = new SccSink({
      source: SCC_TEST_SOURCE,
      endpoint,
      retry: FAST,
      createClient: async () => {
        const { v2 } = await import('@google-cloud/security-center');
        const sslCreds = grpc.credentials.combineChannelCredentials(grpc.credentials.createSsl(ca), grpc.credentials.createFromGoogleCredential(credentials));
        return new v2.SecurityCenterClient({ apiEndpoint: endpoint.host, port: endpoint.port, universeDomain: 'googleapis.com', sslCreds });
      },
    });
    try {
      const finding = makeFinding('public-invoker-grant');
      expect(await sink.deliver(finding, { deadlineMs: Date.now() + 10_000 })).toEqual({ status: 'delivered', ref: sccFindingName(SCC_TEST_SOURCE, finding.id) });
      expect(fetches).toBe(2);
      expect(server.calls.map((c) => [c.method, c.metadata['authorization']])).toEqual([['UpdateFinding', 'Bearer ya29.test-token']]);
    } finally {
      await sink.close();
    }
  });
});
