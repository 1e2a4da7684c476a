// The live fallback: a console deploy whose system events never come is completed from the Cloud Run Admin API
// (v2, through @google-cloud/run) `afterSeconds` after its write, against a local gRPC server on 127.0.0.1.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MemoryBaselineStore as MemoryBaselineStoreType } from '../../functions/baseline/memory.js';
import type { RunwatchConfig } from '../../functions/config/types.js';
import type { DetectFunction } from '../../functions/detect.js';
import type { Finding } from '../../functions/findings/finding.js';
import type { DeployChange } from '../../functions/model/change.js';
import type { LogRecord } from '../../functions/runtime.js';
import type { RunServer } from '../support/runServer.js';

// Counts the imports of @google-cloud/run: the disabled case must never load it. (Tests in a file run in order:
// the disabled cases come first, before any enabled one loads it.)
const loads = vi.hoisted(() => ({ run: 0 }));
vi.mock('@google-cloud/run', async (importOriginal) => {
  loads.run += 1;
  return importOriginal();
});
// The unit project shares modules between files (isolate: false in vitest.config.ts): the modules under test are
// loaded afresh below (vi.resetModules, then dynamic imports), so a load at module level counts here too, and the
// mock ends with the file (afterAll).
vi.resetModules();
const { MemoryBaselineStore } = await import('../../functions/baseline/memory.js');
const { main } = await import('../../functions/cli/main.js');
const { ConfigError } = await import('../../functions/config/load.js');
const { ADMIN_API_LOG_NAME, observationOfRevision, parseRunEndpoint } = await import('../../functions/correlate/adminApi.js');
const { ADMIN_API_PERMISSION_HINT, createDetectFunction } = await import('../../functions/detect.js');
const { pushEvent: push } = await import('../support/pubsub.js');
const { config } = await import('../support/run.js');
const { startRunServer } = await import('../support/runServer.js');
afterAll(() => {
  vi.doUnmock('@google-cloud/run');
  vi.resetModules();
});

const FIXTURES = new URL('../fixtures/', import.meta.url);
const [WRITE] = JSON.parse(readFileSync(new URL('synthetic-seq-console-deploy.json', FIXTURES), 'utf8')) as Record<string, unknown>[];
const WRITE_MS = Date.parse('2024-05-06T22:58:04.355675Z');
const SERVICE = 'projects/test-project-1234/locations/asia-northeast1/services/cloud-run-slack-bot';
const REVISION = `${SERVICE}/revisions/cloud-run-slack-bot-00023-kiv`;
const DIGEST = `sha256:${'5e'.repeat(32)}`;
const IMAGE = `asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-source-deploy/cloud-run-slack-bot@${DIGEST}`;

// Windows every fixture time misses, and a trusted repository the deployed image is not in.
function cfg(fallback: { enabled: boolean; afterSeconds?: number }): RunwatchConfig {
  return config({
    changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }],
    correlation: { adminApiFallback: fallback },
    rules: { 'new-image-repository': { trustedRepositories: ['asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot'] } },
  });
}

/** What the v2 API answers for the service and the revision the console deploy created. */
function serveDeploy(server: RunServer, revision: Record<string, unknown> = {}): void {
  server.services.set(SERVICE, { name: SERVICE, latestCreatedRevision: REVISION, latestReadyRevision: REVISION });
  server.revisions.set(REVISION, {
    name: REVISION,
    service: SERVICE,
    createTime: { seconds: String(Math.floor(WRITE_MS / 1000) + 2), nanos: 0 },
    containers: [{ image: IMAGE }],
    serviceAccount: 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com',
    labels: { 'commit-sha': '1f2e3d4c5b6a7980a1b2c3d4e5f60718293a4b5c', 'cloud.googleapis.com/location': 'asia-northeast1' },
    conditions: [{ type: 'Ready', state: 'CONDITION_SUCCEEDED' }],
    creator: 'masatonaka1989@gmail.com',
    ...revision,
  });
}

interface Harness {
  readonly detect: DetectFunction;
  readonly published: Finding[];
  readonly logs: LogRecord[];
  /** Moves the wall clock to `WRITE_MS + seconds` and sends a Cloud Scheduler sweep tick. */
  tick(seconds: number): Promise<Finding[]>;
}

let server: RunServer;
const open: DetectFunction[] = [];

async function deployed(fallback: { enabled: boolean; afterSeconds?: number }): Promise<Harness> {
  let now = WRITE_MS;
  const published: Finding[] = [];
  const logs: LogRecord[] = [];
  const detect = createDetectFunction({
    env: { FINDINGS_TOPIC: 'runwatch-findings', DEAD_LETTER_TOPIC: 'runwatch-dead-letter', RUN_API_ENDPOINT: server.endpoint },
    config: cfg(fallback),
    store: new MemoryBaselineStore(),
    publisher: {
      publish: async (_topic, data) => String(published.push(JSON.parse(data.toString('utf8')) as Finding)),
      close: async () => undefined,
    },
    log: (r) => logs.push(r),
    now: () => now,
  });
  open.push(detect);
  await detect(push(WRITE, 'write-1'));
  expect(published).toEqual([]); // the console deploy's write waits for what rolled out
  let ticks = 0;
  return {
    detect,
    published,
    logs,
    tick: async (seconds) => {
      now = WRITE_MS + seconds * 1000;
      const before = published.length;
      await detect(push({ runwatch: 'sweep' }, `sweep-${(ticks += 1)}`));
      return published.slice(before);
    },
  };
}

beforeAll(async () => {
  server = await startRunServer();
});
beforeEach(() => server.reset());
afterAll(async () => {
  await Promise.all(open.map((d) => d.close()));
  await server.close();
});

describe('Admin API fallback disabled (the default)', () => {
  it('is off by default; afterSeconds defaults to 120 and must be below waitSeconds when enabled', () => {
    expect(config().correlation).toEqual({ waitSeconds: 600, adminApiFallback: { enabled: false, afterSeconds: 120 } });
    expect(() => config({ correlation: { waitSeconds: 300, adminApiFallback: { enabled: true, afterSeconds: 300 } } })).toThrow(ConfigError);
    expect(() => config({ correlation: { adminApiFallback: { enabled: true, afterSeconds: 5 } } })).toThrow(/afterSeconds: must be >= 10/);
    expect(() => config({ correlation: { adminApiFallback: { enabled: true, after: 60 } } })).toThrow(/adminApiFallback\.after: unknown key/);
  });

  it('never loads @google-cloud/run nor calls the API: the rollout completes at waitSeconds with the image unknown', async () => {
    serveDeploy(server);
    const h = await deployed({ enabled: false });
    expect(await h.tick(120)).toEqual([]);
    expect(await h.tick(599)).toEqual([]);
    const findings = await h.tick(600);
    expect(findings.map((f) => f.rule)).toEqual(['off-window-deploy']);
    expect(findings[0]).toMatchObject({ principal: 'masatonaka1989@gmail.com', evidence: { rollout: 'unknown' } });
    expect(findings[0]?.unknown).toEqual(expect.arrayContaining(['revision', 'image']));
    expect(server.calls).toEqual([]);
    expect(loads.run).toBe(0);
    expect(Object.keys(h.detect.counts()).filter((k) => k.startsWith('adminApi.'))).toEqual([]);
  });

  it('replay never calls it, even when the config enables it', async () => {
    serveDeploy(server);
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-adminapi-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }], correlation: { adminApiFallback: { enabled: true } } }));
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const code = await main(['replay', '--config', join(dir, 'config.json'), '--format', 'ndjson', '-'], {
      stdin: Readable.from([`${JSON.stringify(WRITE)}\n`]),
      stdout: out,
      stderr: new PassThrough(),
      env: { RUN_API_ENDPOINT: server.endpoint },
    });
    expect(code).toBe(0);
    const findings = Buffer.concat(chunks).toString().trim().split('\n').map((l) => JSON.parse(l) as Finding);
    expect(findings.map((f) => [f.rule, f.evidence['rollout']])).toEqual([['off-window-deploy', 'unknown']]);
    expect(server.calls).toEqual([]);
    expect(loads.run).toBe(0);
  });
});

describe('Admin API fallback enabled', () => {
  it('completes a console deploy without system events from the revision the API reports, afterSeconds after the write', async () => {
    serveDeploy(server);
    const h = await deployed({ enabled: true, afterSeconds: 120 });
    expect(await h.tick(60)).toEqual([]);
    expect(await h.tick(119)).toEqual([]);
    expect(server.calls).toEqual([]); // not before afterSeconds
    const findings = await h.tick(120);

    expect(server.calls.map((c) => [c.method, c.request['name']])).toEqual([
      ['GetService', SERVICE],
      ['GetRevision', REVISION],
    ]);
    // Plaintext to loopback with no credentials: no Application Default Credentials or metadata-server lookup.
    expect(server.calls[0]?.metadata['authorization']).toBeUndefined();
    expect(loads.run).toBe(1);

    expect(findings.map((f) => f.rule).sort()).toEqual(['new-image-repository', 'off-window-deploy']);
    for (const finding of findings) {
      expect(finding).toMatchObject({
        revision: 'cloud-run-slack-bot-00023-kiv',
        // who and when from the admin write, not from the API
        principal: 'masatonaka1989@gmail.com',
        eventTime: '2024-05-06T22:58:04.355675Z',
        insertId: 'qd23mgd4u3f',
        provenance: { commit: '1f2e3d4c5b6a7980a1b2c3d4e5f60718293a4b5c' },
        evidence: { rollout: 'serving', imageDigest: `asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-source-deploy/cloud-run-slack-bot@${DIGEST}` },
      });
      expect(finding.unknown).not.toContain('image');
      expect(finding.unknown).not.toContain('revision');
    }
    expect(findings.find((f) => f.rule === 'new-image-repository')?.evidence).toMatchObject({
      image: IMAGE,
      repository: 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-source-deploy',
    });
    expect(h.detect.counts()).toMatchObject({ 'adminApi.read': 1, 'adminApi.joined': 1 });

    // Completed: later ticks read nothing and raise nothing more.
    expect(await h.tick(600)).toEqual([]);
    expect(server.calls).toHaveLength(2);
  });

  it.each([
    ['UNAVAILABLE from GetService', (s: RunServer) => s.failAlways('GetService', { code: grpc.status.UNAVAILABLE }), grpc.status.UNAVAILABLE],
    ['NOT_FOUND for the revision', (s: RunServer) => s.revisions.clear(), grpc.status.NOT_FOUND],
    ['PERMISSION_DENIED (the role is not granted)', (s: RunServer) => s.failAlways('GetService', { code: grpc.status.PERMISSION_DENIED }), grpc.status.PERMISSION_DENIED],
  ])('%s loses nothing: counted and logged, the rollout completes at waitSeconds with the image unknown', async (_name, breakIt, code) => {
    serveDeploy(server);
    breakIt(server);
    const h = await deployed({ enabled: true, afterSeconds: 120 });
    expect(await h.tick(120)).toEqual([]);
    expect(await h.tick(300)).toEqual([]); // each tick tries again
    expect(h.detect.counts()['adminApi.failed']).toBe(2);
    const warnings = h.logs.filter((l) => l.severity === 'WARNING' && l.message.startsWith('Cloud Run Admin API read failed'));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({ service: 'test-project-1234/asia-northeast1/cloud-run-slack-bot', grpcCode: code });
    // Only a denied read points at the grant.
    expect(warnings[0]?.message.includes(ADMIN_API_PERMISSION_HINT)).toBe(code === grpc.status.PERMISSION_DENIED);

    const findings = await h.tick(600);
    expect(findings.map((f) => f.rule)).toEqual(['off-window-deploy']);
    expect(findings[0]).toMatchObject({ principal: 'masatonaka1989@gmail.com', evidence: { rollout: 'unknown' } });
    expect(findings[0]?.unknown).toEqual(expect.arrayContaining(['revision', 'image']));
    expect(h.published).toHaveLength(1);
  });

  it('a latest revision older than the write is not this deploy: nothing joins, nothing is opened, the wait completes it', async () => {
    serveDeploy(server, { createTime: { seconds: String(Math.floor(WRITE_MS / 1000) - 86_400), nanos: 0 } });
    const h = await deployed({ enabled: true, afterSeconds: 120 });
    expect(await h.tick(120)).toEqual([]);
    expect(h.detect.counts()).toMatchObject({ 'adminApi.read': 1, 'adminApi.unmatched': 1 });
    const findings = await h.tick(600);
    // One deploy, one finding per rule: the old revision opened no rollout of its own.
    expect(findings.map((f) => f.rule)).toEqual(['off-window-deploy']);
    expect(findings[0]?.unknown).toEqual(expect.arrayContaining(['image']));
    expect(await h.tick(1200)).toEqual([]);
  });
});

describe('Admin API fallback: the revision\'s environment variables', () => {
  // The v2 EnvVar's value and value_source are a oneof: a variable from Secret Manager is a reference, not a value.
  it.each([
    ['a password in plain text: plaintext-secret-env', [{ name: 'DB_PASSWORD', value: 'hunter2-but-longer' }], ['plaintext-secret-env']],
    ['the password from Secret Manager: nothing', [{ name: 'DB_PASSWORD', valueSource: { secretKeyRef: { secret: 'db-password', version: 'latest' } } }], []],
    ['a variable set empty: nothing', [{ name: 'DB_PASSWORD', value: '' }], []],
  ])('%s', async (_name, env, rules) => {
    serveDeploy(server, { containers: [{ image: IMAGE, env }] });
    const h = await deployed({ enabled: true, afterSeconds: 120 });
    const findings = await h.tick(120);
    const secretRules = findings.map((f) => f.rule).filter((r) => r === 'plaintext-secret-env');
    expect(secretRules).toEqual(rules);
    expect(JSON.stringify(findings)).not.toContain('hunter2');
  });

  it('reads a value, a Secret Manager reference and an empty value as the audit log shows them', () => {
    const write = { target: { project: 'p', location: 'europe-west1', service: 's', projectNumber: '42' } } as DeployChange;
    // With the oneof member named by `values`, and `value` filled with its proto3 default where it was not sent.
    const env = [
      { name: 'NODE_OPTIONS', value: '--require /mnt/bucket/hook.js', valueSource: null, values: 'value' },
      { name: 'LD_PRELOAD', value: '', valueSource: { secretKeyRef: { secret: 'preload', version: '3' } }, values: 'valueSource' },
      { name: 'BASH_ENV', value: '', valueSource: null },
    ];
    const o = observationOfRevision(write, { name: 'x/revisions/s-1', containers: [{ image: 'gcr.io/p/s:v2', env }] }, 0, {});
    expect(o.codeLoadingEnv?.map((v) => [v.name, v.value, v.loadsCode])).toEqual([
      ['NODE_OPTIONS', '--require /mnt/bucket/hook.js', true],
      ['LD_PRELOAD', '[Secret Manager: preload:3]', true],
      ['BASH_ENV', '', false], // set empty: loads nothing
    ]);
  });
});

describe("Admin API fallback: the revision's code (v2 Container sourceCode, baseImageUri)", () => {
  const GOOGLE_BASE = 'asia-northeast1-docker.pkg.dev/serverless-runtimes/google-22/runtimes/nodejs22';
  const fromBucket = { cloudStorageSource: { bucket: 'attacker-src', object: 'cloud-run-slack-bot/source.zip', generation: '1717239600123456' } };

  // A console source deploy logs no containers: what the revision runs is read from the API, source and base image too.
  it('judges the code of a console deploy the Admin API reports: a bucket no trustedRepositories glob names', async () => {
    serveDeploy(server, { containers: [{ image: IMAGE, sourceCode: fromBucket, baseImageUri: GOOGLE_BASE }] });
    const h = await deployed({ enabled: true, afterSeconds: 120 });
    const findings = (await h.tick(120)).filter((f) => f.rule === 'new-image-repository');
    expect(findings.map((f) => [f.title, f.evidence['repository']])).toEqual([
      ['First deploy from an untrusted image repository', 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-source-deploy'],
      ['First deploy from an untrusted bucket', 'gs://attacker-src'],
    ]);
    // The int64 generation as the client decodes it (a string), the object as the API stored it.
    expect(findings[1]?.evidence).toMatchObject({ source: 'cloud-storage', object: 'cloud-run-slack-bot/source.zip', generation: '1717239600123456', firstDeploy: true });
  });

  it('judges a base image the Admin API reports that is not one of Google\'s', async () => {
    serveDeploy(server, { containers: [{ image: IMAGE, baseImageUri: 'ghcr.io/attacker/runtime:nodejs22' }] });
    const h = await deployed({ enabled: true, afterSeconds: 120 });
    const findings = (await h.tick(120)).filter((f) => f.rule === 'new-image-repository');
    expect(findings.map((f) => [f.evidence['repository'], f.evidence['baseImage'] ?? false])).toEqual([
      ['asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-source-deploy', false],
      ['ghcr.io/attacker', true],
    ]);
  });

  it.each([
    ['plain objects', { sourceCode: fromBucket, baseImageUri: GOOGLE_BASE }],
    // As google-gax decodes a message (defaults: true, oneofs: true): the oneof member named, int64 as a string.
    ['as the client decodes them', { sourceCode: { ...fromBucket, sourceType: 'cloudStorageSource' }, baseImageUri: GOOGLE_BASE }],
  ])('reads a revision\'s sourceCode and baseImageUri through the admin write\'s readers: %s', (_name, code) => {
    const write = { target: { project: 'p', location: 'europe-west1', service: 's', projectNumber: '42' } } as DeployChange;
    const o = observationOfRevision(write, { name: 'x/revisions/s-1', containers: [{ image: 'gcr.io/p/s:v2', ...code }] }, 0);
    expect(o).toMatchObject({
      sources: [
        { kind: 'cloud-storage', bucket: 'attacker-src', repository: 'gs://attacker-src', object: 'cloud-run-slack-bot/source.zip', generation: '1717239600123456' },
        { kind: 'base-image', image: expect.objectContaining({ reference: GOOGLE_BASE }) },
      ],
    });
  });

  it('reads no sources from a revision whose containers name none (unset fields: null, "")', () => {
    const write = { target: { project: 'p', location: 'europe-west1', service: 's', projectNumber: '42' } } as DeployChange;
    const o = observationOfRevision(write, { name: 'x/revisions/s-1', containers: [{ image: 'gcr.io/p/s:v2', sourceCode: null, baseImageUri: '' }] }, 0);
    expect('sources' in o).toBe(false);
  });
});

describe('reading a v2 Revision', () => {
  const write = { target: { project: 'p', location: 'europe-west1', service: 's', projectNumber: '42' } } as DeployChange;

  it('a failed revision deployed by tag: Ready False with its reason, no digest, default compute SA, a synthetic key', () => {
    const o = observationOfRevision(
      write,
      {
        name: 'projects/p/locations/europe-west1/services/s/revisions/s-00002-abc',
        createTime: { seconds: '1700000000', nanos: 500_000_000 },
        containers: [{ image: 'gcr.io/p/s:v2' }],
        serviceAccount: '',
        conditions: [
          { type: 'ContainerHealthy', state: 'CONDITION_FAILED' },
          { type: 'Ready', state: 'CONDITION_FAILED', revisionReason: 'HEALTH_CHECK_CONTAINER_ERROR' },
        ],
        annotations: { 'run.googleapis.com/operation-id': 'op-1' },
      },
      0,
    );
    expect(o).toMatchObject({
      key: { logName: ADMIN_API_LOG_NAME, timestamp: '2023-11-14T22:13:20.500Z', insertId: 'projects/p/locations/europe-west1/services/s/revisions/s-00002-abc' },
      level: 'revision',
      revision: 's-00002-abc',
      ready: false,
      readyReason: 'HealthCheckContainerError',
      images: [{ reference: 'gcr.io/p/s:v2', repository: 'gcr.io/p' }],
      serviceAccount: { kind: 'default-compute', email: '42-compute@developer.gserviceaccount.com' },
      operationId: 'op-1',
      deleting: false,
    });
    expect(o.imageDigest).toBeUndefined();
  });

  it("a multi-container revision by digest: the digest is the serving container's, not a sidecar's listed first", () => {
    const sidecar = `gcr.io/p/collector@sha256:${'a'.repeat(64)}`;
    const serving = `gcr.io/p/s@sha256:${'b'.repeat(64)}`;
    const o = observationOfRevision(write, { name: 'x/revisions/s-1', containers: [{ image: sidecar, ports: [] }, { image: serving, ports: [{ containerPort: 8080 }] }] }, 0);
    expect(o.imageDigest).toBe(serving);
    expect(o.images.map((i) => [i.reference, !i.unparseable && i.sidecar === true])).toEqual([[sidecar, true], [serving, false]]);
  });

  it('a revision still reconciling has no verdict', () => {
    expect(observationOfRevision(write, { name: 'x/revisions/s-1', conditions: [{ type: 'Ready', state: 'CONDITION_RECONCILING' }] }, 0).ready).toBeUndefined();
  });

  it('RUN_API_ENDPOINT: plaintext only for loopback hosts', () => {
    expect(parseRunEndpoint('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080, insecure: true });
    expect(parseRunEndpoint('[::1]:9')).toEqual({ host: '::1', port: 9, insecure: true });
    expect(parseRunEndpoint('europe-west1-run.googleapis.com')).toEqual({ host: 'europe-west1-run.googleapis.com', port: 443, insecure: false });
    expect(() => parseRunEndpoint('a:b:c')).toThrow(/RUN_API_ENDPOINT/);
  });
});

describe('Admin API fallback with a service whose store transaction keeps failing', () => {
  it('the sweep tick still completes the other services, then fails (to be retried)', async () => {
    serveDeploy(server);
    const poisoned = new Set<string>();
    class PoisonableStore extends MemoryBaselineStore {
      override async transact<R>(...args: Parameters<MemoryBaselineStoreType['transact']>): Promise<R> {
        if (poisoned.has(args[0])) throw new Error(`3 INVALID_ARGUMENT: the document of ${args[0]} is too large`);
        return super.transact(...(args as [string, never, never])) as Promise<R>;
      }
    }
    let now = WRITE_MS;
    const published: Finding[] = [];
    const detect = createDetectFunction({
      env: { FINDINGS_TOPIC: 'runwatch-findings', DEAD_LETTER_TOPIC: 'runwatch-dead-letter', RUN_API_ENDPOINT: server.endpoint },
      config: cfg({ enabled: true, afterSeconds: 120 }),
      store: new PoisonableStore(),
      publisher: { publish: async (_topic, data) => String(published.push(JSON.parse(data.toString('utf8')) as Finding)), close: async () => undefined },
      log: () => undefined,
      now: () => now,
    });
    open.push(detect);
    const other = JSON.parse(JSON.stringify(WRITE).replaceAll('cloud-run-slack-bot', 'other-service').replace(/"insertId":"[^"]*"/, '"insertId":"other-1"')) as Record<string, unknown>;
    await detect(push(WRITE, 'write-1'));
    await detect(push(other, 'write-2'));
    poisoned.add('test-project-1234/asia-northeast1/cloud-run-slack-bot');
    now = WRITE_MS + 600_000;
    await expect(detect(push({ runwatch: 'sweep' }, 'sweep-1'))).rejects.toThrow('too large');
    expect(published.map((f) => `${f.rule} ${f.service}`)).toEqual(['off-window-deploy other-service']);
  });
});
