// new-image-repository over code deployed without an image (v2 Container `sourceCode`, `baseImageUri`): the v2
// envelope is real (test/fixtures/synthetic-v2-*), the source fields follow the v2 Container reference
// (test/fixtures/source/SOURCES.md).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseEntry } from '../../../functions/audit/normalize.js';
import { at, synthetic, variant, withOperationId, withV1Image, type Json } from '../../support/entries.js';
import { config, findingsOf } from '../../support/run.js';

const SOURCE = JSON.parse(readFileSync(new URL('../../fixtures/source/synthetic-v2-UpdateService-source.json', import.meta.url), 'utf8')) as Json;
/** storefront's first deploy: an image from europe-west1-docker.pkg.dev/acme-prod/web. */
const CREATE = synthetic('v2-CreateService');
const HOME_REPOSITORY = 'europe-west1-docker.pkg.dev/acme-prod/web';
const GOOGLE_BASE = 'europe-west1-docker.pkg.dev/serverless-runtimes/google-22/runtimes/nodejs22';

type Container = Record<string, unknown>;

const fromBucket = (bucket: string, object = 'storefront/source.tar.gz', generation = '1717239600123456'): Container => ({
  sourceCode: { cloudStorageSource: { bucket, object, generation } },
  baseImageUri: GOOGLE_BASE,
  ports: [{ containerPort: 8080 }],
});

/** The source fixture with its template's containers replaced, at `timestamp`. */
function update(timestamp: string, containers: readonly Container[]): Json {
  return at(
    variant(SOURCE, (e) => {
      const template = ((e.protoPayload['request'] as Json)['service'] as Json)['template'] as Json;
      template['containers'] = containers;
    }),
    timestamp,
  );
}

async function imageFindings(entries: readonly unknown[], cfg = config()) {
  return (await findingsOf(entries, cfg)).filter((f) => f.rule === 'new-image-repository');
}

const trusting = (...globs: string[]) => config({ rules: { 'new-image-repository': { trustedRepositories: globs } } });

describe('new-image-repository: code from a Cloud Storage bucket', () => {
  it('fires: the fixture, a source deploy from a bucket storefront never used, after image deploys', async () => {
    const findings = await imageFindings([CREATE, SOURCE]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      severity: 'HIGH',
      title: 'Code from a bucket this service never used',
      evidence: {
        source: 'cloud-storage',
        repository: 'gs://acme-src-drop',
        object: 'storefront/2024-06-01/source.tar.gz',
        generation: '1717239600123456',
        knownRepositories: [HOME_REPOSITORY],
        firstDeploy: false,
      },
    });
    expect(findings[0]!.evidence['image']).toBeUndefined();
    expect(findings[0]!.summary).toContain('deployed source code from bucket gs://acme-src-drop (no image) to acme-prod/storefront');
    // The deploy's code is known: not "image unknown".
    expect(findings[0]!.unknown).not.toContain('image');
  });

  it.each([
    ['another bucket', [fromBucket('acme-src')], [fromBucket('attacker-src')], 'gs://attacker-src', ['gs://acme-src']],
    ['a bucket after an image', [{ image: `${HOME_REPOSITORY}/storefront:1` }], [fromBucket('attacker-src')], 'gs://attacker-src', [HOME_REPOSITORY]],
    ['an image after a bucket', [fromBucket('acme-src')], [{ image: 'docker.io/attacker/storefront:1' }], 'docker.io/attacker', ['gs://acme-src']],
    ['a sidecar from a new bucket', [fromBucket('acme-src')], [fromBucket('acme-src'), { sourceCode: { cloudStorageSource: { bucket: 'attacker-src', object: 'agent.zip' } } }], 'gs://attacker-src', ['gs://acme-src']],
  ])('fires: a change within a service: %s', async (_name, before, after, repository, known) => {
    const findings = await imageFindings([update('2024-06-01T10:00:00Z', before), update('2024-06-02T10:00:00Z', after)]);
    expect(findings.map((f) => [f.evidence['repository'], f.evidence['knownRepositories']])).toEqual([[repository, known]]);
  });

  it('fires: a sidecar from a new bucket says so', async () => {
    const findings = await imageFindings([update('2024-06-01T10:00:00Z', [fromBucket('acme-src')]), update('2024-06-02T10:00:00Z', [fromBucket('acme-src'), { sourceCode: { cloudStorageSource: { bucket: 'attacker-src', object: 'agent.zip' } } }])]);
    expect(findings[0]!.evidence).toMatchObject({ sidecar: true, object: 'agent.zip' });
    expect(findings[0]!.evidence['generation']).toBeUndefined();
  });

  it('fires once for a bucket both the serving container and a sidecar use, named for the serving one', async () => {
    const sidecarFirst = [{ sourceCode: { cloudStorageSource: { bucket: 'attacker-src', object: 'agent.zip' } } }, fromBucket('attacker-src', 'agent.zip')];
    const findings = await imageFindings([CREATE, update('2024-06-02T10:00:00Z', sidecarFirst)]);
    expect(findings.map((f) => [f.evidence['repository'], f.evidence['sidecar'] ?? false])).toEqual([['gs://attacker-src', false]]);
  });

  it('fires twice, with two ids, for a base image and an image written alike that do not parse', async () => {
    const findings = await imageFindings([CREATE, update('2024-06-02T10:00:00Z', [{ image: 'Attacker/App', baseImageUri: 'Attacker/App', ports: [{ containerPort: 8080 }] }])]);
    expect(findings.map((f) => [f.title, f.evidence['baseImage'] ?? false])).toEqual([
      ['Image reference runwatch cannot parse', false],
      ['Image reference runwatch cannot parse', true],
    ]);
    expect(new Set(findings.map((f) => f.id)).size).toBe(2);
  });

  it.each([
    // The bucket is the repository: a new object, or a new folder of the bucket, is the same origin (a deploy
    // writes each upload under a new name).
    ['another object in the same bucket', fromBucket('acme-src', 'storefront/source.tar.gz'), fromBucket('acme-src', 'storefront/source-2.tar.gz', '2')],
    ['another folder of the same bucket', fromBucket('acme-src', 'storefront/2024-06-01/source.tar.gz'), fromBucket('acme-src', 'builds/9f8e7d6/source.tar.gz')],
  ])('ignores: %s', async (_name, before, after) => {
    expect(await imageFindings([update('2024-06-01T10:00:00Z', [before]), update('2024-06-02T10:00:00Z', [after])])).toEqual([]);
  });

  it.each([
    ['a bucket named whole', ['gs://acme-src-drop']],
    ['alternatives', ['gs://{acme-src-drop,acme-src-staging}']],
    ['a domain-named bucket under a wildcard', ['gs://*.builds.acme.com'], 'eu.builds.acme.com'],
  ])('ignores: a trusted bucket (%s)', async (_name, globs, bucket = 'acme-src-drop') => {
    const entry = update('2024-06-01T11:30:00Z', [fromBucket(bucket)]);
    expect(await imageFindings([CREATE, entry], trusting(HOME_REPOSITORY, ...globs))).toEqual([]);
    expect(await imageFindings([entry], trusting(...globs))).toEqual([]);
  });

  it('fires: an image repository glob never trusts a bucket (globs of buckets start with gs://)', async () => {
    const findings = await imageFindings([update('2024-06-01T10:00:00Z', [fromBucket('acme-src')])], trusting('**'));
    expect(findings.map((f) => [f.title, f.evidence['repository'], f.evidence['firstDeploy']])).toEqual([['First deploy from an untrusted bucket', 'gs://acme-src', true]]);
  });

  it('ignores: the first deploy from a bucket when no trustedRepositories are configured', async () => {
    expect(await imageFindings([update('2024-06-01T10:00:00Z', [fromBucket('acme-src')])])).toEqual([]);
  });

  it('reads the snake_case names (source_code, cloud_storage_source, base_image_uri)', async () => {
    const snake = update('2024-06-02T10:00:00Z', [
      { source_code: { cloud_storage_source: { bucket: 'attacker-src', object: 'x.zip', generation: '7' } }, base_image_uri: 'docker.io/attacker/base:1', ports: [{ container_port: 8080 }] },
    ]);
    const findings = await imageFindings([CREATE, snake]);
    expect(findings.map((f) => [f.evidence['repository'], f.evidence['object'] ?? null, f.evidence['baseImage'] ?? false]).sort()).toEqual([
      ['docker.io/attacker', null, true],
      ['gs://attacker-src', 'x.zip', false],
    ]);
  });

  it('keeps the object as plain evidence: a name with markup stays as written, out of the summary', async () => {
    const object = '<https://evil.example|click> *x* `y`\n.zip';
    const findings = await imageFindings([CREATE, update('2024-06-02T10:00:00Z', [fromBucket('attacker-src', object)])]);
    expect(findings[0]!.evidence['object']).toBe(object);
    expect(findings[0]!.summary).not.toContain('evil.example');
  });
});

describe('new-image-repository: source code inlined in the request', () => {
  const inlined = (timestamp: string): Json => update(timestamp, [{ sourceCode: { inlinedSource: { sources: [{ filename: 'index.js', content: 'require("child_process")' }] } }, baseImageUri: GOOGLE_BASE, ports: [{ containerPort: 8080 }] }]);

  it('fires each time: its origin is the deployer\'s request, never a repository to trust or remember', async () => {
    const findings = await imageFindings([CREATE, inlined('2024-06-02T10:00:00Z'), inlined('2024-06-03T10:00:00Z')]);
    expect(findings).toHaveLength(2);
    expect(findings[0]).toMatchObject({ title: 'Source code inlined in the deploy request', evidence: { source: 'inlined', repository: null, knownRepositories: [HOME_REPOSITORY], firstDeploy: false } });
    expect(findings[0]!.unknown).toContain('source');
    expect(findings[0]!.unknown).not.toContain('image');
    // The code itself is never copied into a finding.
    expect(JSON.stringify(findings)).not.toContain('child_process');
  });
});

describe('new-image-repository: source code of a kind runwatch cannot read', () => {
  /** A credential-looking value inside a source type runwatch does not know: a field's value is never copied. */
  const SECRET = 'ghp_0123456789abcdefghijklmnopqrstuvwxyzAB';
  const git = { gitSource: { url: 'https://github.com/attacker/app.git', token: SECRET } };
  const served = (container: Container): Container => ({ ...container, ports: [{ containerPort: 8080 }] });
  // 14 fields, the first (sorted) a name of 300 characters.
  const manyFields = Object.fromEntries(Array.from({ length: 14 }, (_, i) => [i === 0 ? `${'a'.repeat(300)}Source` : `x${String(i).padStart(2, '0')}Source`, { code: SECRET }]));

  // [name, containers, what the finding says of sourceCode: its field names and, when it is no object, its JSON type]
  it.each([
    ['an empty sourceCode and no image', [served({ sourceCode: {} })], { sourceCodeFields: [] }],
    ['a source type runwatch does not know (gitSource)', [served({ sourceCode: git })], { sourceCodeFields: ['gitSource'] }],
    ['the same in snake_case (source_code.git_source)', [served({ source_code: { git_source: { url: 'https://x.example/a.git', token: SECRET } } })], { sourceCodeFields: ['git_source'] }],
    ['a cloudStorageSource that is no object', [served({ sourceCode: { cloudStorageSource: `gs://attacker-src/${SECRET}.zip` } })], { sourceCodeFields: ['cloudStorageSource'] }],
    ['a sourceCode that is a string', [served({ sourceCode: `gs://attacker-src/${SECRET}.zip` })], { sourceCodeFields: [], sourceCodeType: 'string' }],
    ['a sourceCode that is an array', [served({ sourceCode: [{ gitSource: SECRET }] })], { sourceCodeFields: [], sourceCodeType: 'array' }],
    ['an unknown source type beside an image (the image is judged too)', [served({ image: `${HOME_REPOSITORY}/storefront:2`, sourceCode: git })], { sourceCodeFields: ['gitSource'] }],
    ['a Google runtime base image and an empty sourceCode', [served({ sourceCode: {}, baseImageUri: GOOGLE_BASE })], { sourceCodeFields: [] }],
    ['a sidecar with an empty sourceCode', [served({ image: `${HOME_REPOSITORY}/storefront:2` }), { sourceCode: {} }], { sourceCodeFields: [], sidecar: true }],
    // "scratch" is the placeholder of a container whose code is not in an image (audit/image.ts): no image, so an
    // empty sourceCode beside it names no code, as beside no image at all, and so does none.
    ['an empty sourceCode beside the placeholder image "scratch"', [served({ image: 'scratch', sourceCode: {} })], { sourceCodeFields: [] }],
    ['the placeholder image "scratch" and no sourceCode', [served({ image: 'scratch' })], { sourceCodeFields: [] }],
  ])('fires: %s', async (_name, containers, said) => {
    const findings = await imageFindings([CREATE, update('2024-06-02T10:00:00Z', containers)]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      severity: 'HIGH',
      title: 'Source code of a kind runwatch cannot read',
      evidence: { source: 'unknown', repository: null, ...said, knownRepositories: [HOME_REPOSITORY], firstDeploy: false },
    });
    if (!('sidecar' in said)) expect(findings[0]!.evidence['sidecar']).toBeUndefined();
    if (!('sourceCodeType' in said)) expect(findings[0]!.evidence['sourceCodeType']).toBeUndefined();
    expect(findings[0]!.summary).toMatch(/^deployer@acme-ci\.iam\.gserviceaccount\.com deployed acme-prod\/storefront \(europe-west1\) with source code runwatch cannot read/);
    expect(findings[0]!.summary).toContain('Check in the Cloud Run console');
    expect(findings[0]!.unknown).toContain('source');
    expect(findings[0]!.unknown).not.toContain('image');
    // Field names only: never what they held (code, a token), nor a sourceCode written as text.
    expect(JSON.stringify(findings)).not.toContain(SECRET);
    expect(JSON.stringify(findings)).not.toContain('attacker');
  });

  it('fires each time: never trusted, never remembered, not even by a gs:// or image glob of everything', async () => {
    const empty = (timestamp: string) => update(timestamp, [served({ sourceCode: {} })]);
    const findings = await imageFindings([CREATE, empty('2024-06-02T10:00:00Z'), empty('2024-06-03T10:00:00Z')], trusting(HOME_REPOSITORY, '**', 'gs://acme-src'));
    expect(findings.map((f) => f.evidence['source'])).toEqual(['unknown', 'unknown']);
    expect(new Set(findings.map((f) => f.id)).size).toBe(2);
  });

  it('fires on a first deploy only when trustedRepositories is configured (as inlined source)', async () => {
    const first = update('2024-06-01T10:00:00Z', [served({ sourceCode: git })]);
    expect(await imageFindings([first])).toEqual([]);
    const findings = await imageFindings([first], trusting(HOME_REPOSITORY));
    expect(findings.map((f) => [f.evidence['source'], f.evidence['firstDeploy']])).toEqual([['unknown', true]]);
  });

  it('keys two unreadable sources of one deploy apart (an empty sourceCode, an unknown source type)', async () => {
    const findings = await imageFindings([CREATE, update('2024-06-02T10:00:00Z', [served({ sourceCode: {} }), { sourceCode: git }])]);
    expect(findings.map((f) => [f.evidence['sourceCodeFields'], f.evidence['sidecar'] ?? false])).toEqual([
      [[], false],
      [['gitSource'], true],
    ]);
    expect(new Set(findings.map((f) => f.id)).size).toBe(2);
  });

  it('names at most 10 fields, each cut to 64 characters, and says how many more there were', async () => {
    const findings = await imageFindings([CREATE, update('2024-06-02T10:00:00Z', [served({ sourceCode: manyFields })])]);
    expect(findings).toHaveLength(1);
    const fields = findings[0]!.evidence['sourceCodeFields'] as string[];
    expect(fields).toHaveLength(10);
    expect(fields.every((name) => name.length <= 64)).toBe(true);
    expect(fields[0]).toMatch(/^a{63}…$/);
    expect(findings[0]!.evidence['sourceCodeFieldsNotListed']).toBe(4);
  });

  it.each([
    // sourceCode is optional (v2 Container reference): `{}` is a message set with nothing in it, which a client that
    // writes back every field of a container it read would log; the image is the code that runs.
    ['an image and an empty sourceCode', [served({ image: `${HOME_REPOSITORY}/storefront:2`, sourceCode: {} })]],
    ['an image and an empty source_code', [served({ image: `${HOME_REPOSITORY}/storefront:2`, source_code: {} })]],
    // In the JSON of a protocol buffer, null is the field left unset.
    ['an image and a null sourceCode', [served({ image: `${HOME_REPOSITORY}/storefront:2`, sourceCode: null })]],
    ['no image and a null sourceCode (the image is unknown, as before)', [served({ sourceCode: null })]],
  ])('ignores: %s', async (_name, containers) => {
    expect(await imageFindings([CREATE, update('2024-06-02T10:00:00Z', containers)])).toEqual([]);
  });

  it('judges an image beside an empty sourceCode by the image alone', async () => {
    const findings = await imageFindings([CREATE, update('2024-06-02T10:00:00Z', [served({ image: 'docker.io/attacker/storefront:1', sourceCode: {} })])]);
    expect(findings.map((f) => [f.title, f.evidence['repository']])).toEqual([['Image from a repository this service never used', 'docker.io/attacker']]);
  });

  it('leaves the image unknown to the other rules: what the deploy runs is not known', async () => {
    // 2024-06-02 is a Sunday, outside a window on Mondays: off-window-deploy reports the deploy.
    const cfg = config({ changeWindows: [{ days: ['mon'], start: '09:00', end: '17:00' }] });
    const findings = await findingsOf([CREATE, update('2024-06-02T10:00:00Z', [served({ sourceCode: {} })])], cfg);
    const offWindow = findings.filter((f) => f.rule === 'off-window-deploy' && f.eventTime.startsWith('2024-06-02'));
    expect(offWindow).toHaveLength(1);
    expect(offWindow[0]!.unknown).toContain('image');
  });

  it.each([
    ['a worker pool', 'workerpool-v2-CreateWorkerPool', 'workerpool-v2-UpdateWorkerPool', (request: Json) => (request['workerPool'] as Json)['template'] as Json, 'worker pool'],
    ['a job', 'job-v2-CreateJob', 'job-v2-UpdateJob', (request: Json) => ((request['job'] as Json)['template'] as Json)['template'] as Json, 'job'],
  ] as const)('fires: %s updated to an empty sourceCode and no image', async (_name, create, updateName, templateOf, noun) => {
    const entry = variant(synthetic(updateName), (e) => {
      templateOf(e.protoPayload['request'] as Json)['containers'] = [{ sourceCode: {} }];
    });
    const findings = await imageFindings([synthetic(create), entry]);
    expect(findings.map((f) => [f.title, f.evidence['source'], f.evidence['sourceCodeFields']])).toEqual([['Source code of a kind runwatch cannot read', 'unknown', []]]);
    expect(findings[0]!.summary).toContain(`what the ${noun} now runs`);
  });
});

describe('new-image-repository: base images (baseImageUri)', () => {
  it.each([
    ['with no trustedRepositories', config()],
    ['with trustedRepositories naming only the service\'s own registry', trusting(`${HOME_REPOSITORY}`)],
  ])('ignores: a Google runtime base image on a service whose baseline never saw one (automatic base image updates), %s', async (_name, cfg) => {
    const enrolled = update('2024-06-02T10:00:00Z', [{ image: `${HOME_REPOSITORY}/storefront:2`, baseImageUri: GOOGLE_BASE, ports: [{ containerPort: 8080 }] }]);
    const other = update('2024-06-03T10:00:00Z', [{ image: `${HOME_REPOSITORY}/storefront:3`, baseImageUri: 'us-central1-docker.pkg.dev/serverless-runtimes/google-24/runtimes/python313', ports: [{ containerPort: 8080 }] }]);
    expect(await imageFindings([CREATE, enrolled, other], cfg)).toEqual([]);
  });

  it('fires: a base image from a repository the service never used, said to be a base image', async () => {
    const entry = update('2024-06-02T10:00:00Z', [{ image: `${HOME_REPOSITORY}/storefront:2`, baseImageUri: 'ghcr.io/attacker/runtime:nodejs22', ports: [{ containerPort: 8080 }] }]);
    const findings = await imageFindings([CREATE, entry]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ evidence: { image: 'ghcr.io/attacker/runtime:nodejs22', repository: 'ghcr.io/attacker', baseImage: true } });
    expect(findings[0]!.summary).toContain('as a base image');
    // Remembered: the next deploy on it is not reported again.
    const again = update('2024-06-03T10:00:00Z', [{ image: `${HOME_REPOSITORY}/storefront:3`, baseImageUri: 'ghcr.io/attacker/runtime:nodejs24', ports: [{ containerPort: 8080 }] }]);
    expect(await imageFindings([CREATE, entry, again])).toHaveLength(1);
  });

  it('a Google base image\'s tag is never taken for the service\'s commit', async () => {
    const entry = variant(update('2024-06-02T10:00:00Z', [{ image: `${HOME_REPOSITORY}/storefront:latest`, baseImageUri: 'ghcr.io/attacker/runtime:1a2b3c4d', ports: [{ containerPort: 8080 }] }]), (e) => {
      delete (((e.protoPayload['request'] as Json)['service'] as Json)['template'] as Json)['labels'];
    });
    const findings = await imageFindings([CREATE, entry]);
    expect(findings[0]!.provenance.commit).toBeUndefined();
  });
});

describe('new-image-repository: jobs and worker pools share the container shape', () => {
  it('fires: a worker pool updated to code from a new bucket', async () => {
    const pool = variant(synthetic('workerpool-v2-UpdateWorkerPool'), (e) => {
      const template = ((e.protoPayload['request'] as Json)['workerPool'] as Json)['template'] as Json;
      template['containers'] = [{ sourceCode: { cloudStorageSource: { bucket: 'attacker-src', object: 'consumer.zip' } } }];
    });
    const findings = await imageFindings([synthetic('workerpool-v2-CreateWorkerPool'), pool]);
    expect(findings.map((f) => [f.evidence['repository'], f.title])).toEqual([['gs://attacker-src', 'Code from a bucket this worker pool never used']]);
  });

  it('fires: a job updated to code from a new bucket', async () => {
    const job = variant(synthetic('job-v2-UpdateJob'), (e) => {
      const task = (((e.protoPayload['request'] as Json)['job'] as Json)['template'] as Json)['template'] as Json;
      task['containers'] = [{ sourceCode: { cloudStorageSource: { bucket: 'attacker-src', object: 'export.zip' } } }];
    });
    const findings = await imageFindings([synthetic('job-v2-CreateJob'), job]);
    expect(findings.map((f) => [f.evidence['repository'], f.title])).toEqual([['gs://attacker-src', 'Code from a bucket this job never used']]);
  });
});

describe('the deploy change: source code in the normalized model', () => {
  it('reads the bucket, object, generation and base image of the fixture', () => {
    const change = deployOf(SOURCE);
    expect(change.images).toEqual([]);
    expect(change.sources).toEqual([
      { kind: 'cloud-storage', bucket: 'acme-src-drop', repository: 'gs://acme-src-drop', object: 'storefront/2024-06-01/source.tar.gz', generation: '1717239600123456' },
      { kind: 'base-image', image: expect.objectContaining({ reference: GOOGLE_BASE, repository: 'europe-west1-docker.pkg.dev/serverless-runtimes/google-22/runtimes' }) },
    ]);
  });

  it.each([
    ['an empty sourceCode', { sourceCode: {} }, [{ kind: 'unknown', fields: [] }]],
    ['a source type runwatch does not know', { sourceCode: { gitSource: { url: 'https://x.example/a.git' } } }, [{ kind: 'unknown', fields: ['gitSource'] }]],
    ['a sourceCode that is a number', { sourceCode: 7 }, [{ kind: 'unknown', fields: [], written: 'number' }]],
    ['an image and an empty sourceCode', { image: `${HOME_REPOSITORY}/storefront:2`, sourceCode: {} }, undefined],
  ])('reads a sourceCode runwatch cannot read as a source of unknown kind: %s', (_name, container, sources) => {
    expect(deployOf(update('2024-06-02T10:00:00Z', [container])).sources).toEqual(sources);
  });

  it.each([
    ['a v1 gcloud write', synthetic('v1-ReplaceService-gcloud')],
    ['a v2 create', CREATE],
    ['a v2 update with a sidecar', synthetic('v2-UpdateService-sidecar')],
    ['a v2 snake_case update', synthetic('v2-UpdateService-snake-case')],
  ])('image-only deploys have no sources field: %s', (_name, entry) => {
    expect('sources' in deployOf(entry)).toBe(false);
  });
});

describe('new-image-repository: null source members (proto3 JSON writes null for a field left unset)', () => {
  const served = (container: Container): Container => ({ ...container, ports: [{ containerPort: 8080 }] });
  const IMAGE = `${HOME_REPOSITORY}/storefront:2`;

  it.each([
    ['an image and {inlinedSource: null}', served({ image: IMAGE, sourceCode: { inlinedSource: null } })],
    ['an image and {inlined_source: null}', served({ image: IMAGE, source_code: { inlined_source: null } })],
    ['an image and {cloudStorageSource: null, inlinedSource: null}', served({ image: IMAGE, sourceCode: { cloudStorageSource: null, inlinedSource: null } })],
  ])('ignores: %s (a sourceCode holding nothing beside an image)', async (_name, container) => {
    expect(await imageFindings([CREATE, update('2024-06-02T10:00:00Z', [container])])).toEqual([]);
  });

  it.each([
    ['no image and {inlinedSource: null}', served({ sourceCode: { inlinedSource: null } }), []],
    ['no image and {cloudStorageSource: null, inlinedSource: null}', served({ sourceCode: { cloudStorageSource: null, inlinedSource: null } }), []],
    ['the placeholder image "scratch" and {inlinedSource: null}', served({ image: 'scratch', sourceCode: { inlinedSource: null } }), []],
    ['{inlinedSource: null} beside a source type runwatch does not know', served({ sourceCode: { inlinedSource: null, gitSource: { url: 'https://x.example/a.git' } } }), ['gitSource']],
  ])('fires as source code runwatch cannot read, not as inlined source: %s', async (_name, container, fields) => {
    const findings = await imageFindings([CREATE, update('2024-06-02T10:00:00Z', [container])]);
    expect(findings.map((f) => [f.title, f.evidence['source'], f.evidence['sourceCodeFields']])).toEqual([['Source code of a kind runwatch cannot read', 'unknown', fields]]);
  });

  it('a bucket beside {inlinedSource: null} is the bucket', async () => {
    const container = served({ sourceCode: { cloudStorageSource: { bucket: 'attacker-src', object: 'app.zip' }, inlinedSource: null } });
    const findings = await imageFindings([CREATE, update('2024-06-02T10:00:00Z', [container])]);
    expect(findings.map((f) => [f.evidence['source'], f.evidence['repository']])).toEqual([['cloud-storage', 'gs://attacker-src']]);
  });
});

/** The synthetic v1 write both v1 blocks below vary (test/fixtures/source/SOURCES.md). */
const V1 = JSON.parse(readFileSync(new URL('../../fixtures/source/synthetic-v1-ReplaceService-base-images.json', import.meta.url), 'utf8')) as Json;
const V1_HOME = 'gcr.io/power-choosers-crm';

/** The v1 fixture at `timestamp`, its template (the request's service and the response's alike) edited by `edit`. */
function v1Variant(timestamp: string, edit: (annotations: Json, spec: Json) => void): Json {
  return at(
    variant(V1, (e) => {
      for (const service of [(e.protoPayload['request'] as Json)['service'] as Json, e.protoPayload['response'] as Json]) {
        const template = (service['spec'] as Json)['template'] as Json;
        edit((template['metadata'] as Json)['annotations'] as Json, template['spec'] as Json);
      }
    }),
    timestamp,
  );
}

function deployOf(entry: Json) {
  const result = parseEntry(entry);
  if (result.kind !== 'change' || result.change.kind !== 'deploy') throw new Error(`not a deploy: ${result.kind}`);
  return result.change;
}

/**
 * A v1 (Knative) write: test/fixtures/source/synthetic-v1-ReplaceService-base-images.json (built on the real gcloud v1
 * ReplaceService of corpus/powerchoosers__Services.ReplaceService__1.json), whose template enrols its container
 * `placeholder-1` in automatic base image updates: the `run.googleapis.com/base-images` annotation (a JSON map of
 * container name to base image) and `runtimeClassName: run.googleapis.com/linux-base-image-update`.
 */
describe('new-image-repository: base images of a v1 write (run.googleapis.com/base-images)', () => {
  const V1_GOOGLE_BASE = 'us-south1-docker.pkg.dev/serverless-runtimes/google-22/runtimes/nodejs22';
  const ATTACKER_BASE = 'ghcr.io/attacker/runtime:nodejs22';
  const BEFORE = '2025-11-10T10:00:00Z';
  const AFTER = '2025-11-11T10:00:00Z';

  /**
   * The fixture at `timestamp` (the request's service and the response's alike), its template's base-images annotation
   * set to `annotation` (removed when undefined, with the runtime class), its containers edited by `edit`.
   */
  function v1Write(timestamp: string, annotation: string | undefined, edit?: (containers: Json[], spec: Json) => void): Json {
    return v1Variant(timestamp, (annotations, spec) => {
      if (annotation === undefined) {
        delete annotations['run.googleapis.com/base-images'];
        delete spec['runtimeClassName'];
      } else annotations['run.googleapis.com/base-images'] = annotation;
      edit?.(spec['containers'] as Json[], spec);
    });
  }
  const imageOnly = () => v1Write(BEFORE, undefined);
  const baseOf = (image: string, name = 'placeholder-1') => JSON.stringify({ [name]: image });

  it("reads the fixture's base image into the deploy's sources, as v2's baseImageUri", () => {
    expect(deployOf(V1).sources).toEqual([{ kind: 'base-image', image: expect.objectContaining({ reference: V1_GOOGLE_BASE, repository: 'us-south1-docker.pkg.dev/serverless-runtimes/google-22/runtimes' }) }]);
  });

  it("ignores: the fixture, Google's runtime base image, after image deploys (and on a first deploy with trustedRepositories)", async () => {
    expect(await imageFindings([imageOnly(), at(V1, AFTER)])).toEqual([]);
    expect(await imageFindings([at(V1, AFTER)], trusting(V1_HOME))).toEqual([]);
  });

  const twoContainers = (containers: Json[]): void => {
    containers[0]!['ports'] = [{ containerPort: 8080, name: 'http1' }];
    containers.push({ image: `${V1_HOME}/collector:1`, name: 'collector' });
  };

  it.each([
    ['the named container', baseOf(ATTACKER_BASE), undefined, false],
    ['an unnamed container (key "")', baseOf(ATTACKER_BASE, ''), (containers: Json[]) => delete containers[0]!['name'], false],
    ['a sidecar', baseOf(ATTACKER_BASE, 'collector'), twoContainers, true],
    ['a name no container has (judged all the same)', baseOf(ATTACKER_BASE, 'worker'), undefined, false],
    ['a console write that logs no containers', baseOf(ATTACKER_BASE), (_c: Json[], spec: Json) => delete spec['containers'], false],
    ['an annotation without the runtime class', baseOf(ATTACKER_BASE), (_c: Json[], spec: Json) => delete spec['runtimeClassName'], false],
  ] as const)('fires: a base image from a repository the service never used, for %s', async (_name, annotation, edit, sidecar) => {
    const findings = await imageFindings([imageOnly(), v1Write(AFTER, annotation, edit)]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ evidence: { image: ATTACKER_BASE, repository: 'ghcr.io/attacker', baseImage: true, knownRepositories: [V1_HOME], firstDeploy: false } });
    expect(findings[0]!.evidence['sidecar'] ?? false).toBe(sidecar);
    expect(findings[0]!.summary).toContain(sidecar ? "as a sidecar's base image" : 'as a base image');
  });

  it('remembers it: the next v1 deploy on that base image is not reported again', async () => {
    const again = v1Write('2025-11-12T10:00:00Z', baseOf('ghcr.io/attacker/runtime:nodejs24'));
    expect(await imageFindings([imageOnly(), v1Write(AFTER, baseOf(ATTACKER_BASE)), again])).toHaveLength(1);
  });

  it('reads each container of the map once, in container order', () => {
    const annotation = JSON.stringify({ collector: ATTACKER_BASE, 'placeholder-1': V1_GOOGLE_BASE });
    expect(deployOf(v1Write(AFTER, annotation, twoContainers)).sources?.map((s) => [s.kind === 'base-image' ? s.image.reference : s.kind, s.sidecar ?? false])).toEqual([
      [V1_GOOGLE_BASE, false],
      [ATTACKER_BASE, true],
    ]);
  });

  it.each([
    ['not JSON', 'nodejs22'],
    ['a JSON array', JSON.stringify([ATTACKER_BASE])],
    ['a value that is no string', JSON.stringify({ 'placeholder-1': 7 })],
    ['an empty map', '{}'],
  ])('reads nothing from an annotation that names no base image: %s', async (_name, annotation) => {
    expect(deployOf(v1Write(AFTER, annotation)).sources).toBeUndefined();
    expect(await imageFindings([imageOnly(), v1Write(AFTER, annotation)])).toEqual([]);
  });
});

/**
 * `gcloud alpha run deploy --source DIR --no-build` (Google Cloud SDK, `surface/run/deploy.py` _IsNoBuildFromSource:
 * `container_args.image = 'scratch'`; `command_lib/run/config_changes.py` SourcesAnnotationChange: "a string
 * representation of a json map of container_name -> GCS objects. E.g.: '{"foo":"gs://my-bucket/my-object"}'", under
 * `api_lib/run/revision.py` SOURCES_ANNOTATION `run.googleapis.com/sources`): a v1 write whose container's image is
 * the placeholder `scratch` and whose code is an object in a bucket, named in a template annotation.
 */
describe('new-image-repository: source code of a v1 write (run.googleapis.com/sources, image "scratch")', () => {
  const BEFORE = '2025-11-10T10:00:00Z';
  const AFTER = '2025-11-11T10:00:00Z';

  /** The fixture at `timestamp`, without base images, its container's image `image` and its sources annotation `sources`. */
  function v1Write(timestamp: string, image: string | undefined, sources: string | undefined): Json {
    return v1Variant(timestamp, (annotations, spec) => {
      delete annotations['run.googleapis.com/base-images'];
      delete spec['runtimeClassName'];
      if (sources === undefined) delete annotations['run.googleapis.com/sources'];
      else annotations['run.googleapis.com/sources'] = sources;
      const container = (spec['containers'] as Json[])[0]!;
      if (image === undefined) delete container['image'];
      else container['image'] = image;
    });
  }
  const imageOnly = (): Json => v1Write(BEFORE, `${V1_HOME}/app:1`, undefined);
  const fromObject = (url: string, name = 'placeholder-1'): string => JSON.stringify({ [name]: url });

  it('reads the object into the deploy\'s sources as v2\'s cloudStorageSource, and "scratch" as no image', () => {
    const change = deployOf(v1Write(AFTER, 'scratch', fromObject('gs://attacker-drop/app/source.zip')));
    expect(change.images).toEqual([]);
    expect(change.sources).toEqual([{ kind: 'cloud-storage', bucket: 'attacker-drop', repository: 'gs://attacker-drop', object: 'app/source.zip' }]);
  });

  // The SDK's own URL form (`command_lib/run/sourcedeploys/sources.py` GetGsutilUri:
  // `gs://<bucket>/<object>(#<generation>)`; --no-build clears the generation today, under a TODO to restore it) and
  // spellings a deployer may write by hand.
  it.each([
    ['a generation after "#"', 'gs://attacker-drop/app/source.zip#1717239600123456', { bucket: 'attacker-drop', repository: 'gs://attacker-drop', object: 'app/source.zip', generation: '1717239600123456' }],
    ['a "#" that is no generation (part of the object name)', 'gs://attacker-drop/app/v#2.zip', { bucket: 'attacker-drop', repository: 'gs://attacker-drop', object: 'app/v#2.zip' }],
    ['blanks around the URL', '  gs://attacker-drop/app/source.zip\n', { bucket: 'attacker-drop', repository: 'gs://attacker-drop', object: 'app/source.zip' }],
    ['a bucket named with dots', 'gs://src.attacker.example/app.zip', { bucket: 'src.attacker.example', repository: 'gs://src.attacker.example', object: 'app.zip' }],
  ])('reads the object URL: %s', (_name, url, source) => {
    expect(deployOf(v1Write(AFTER, 'scratch', fromObject(url))).sources).toEqual([{ kind: 'cloud-storage', ...source }]);
  });

  it.each([
    ['the named container', fromObject('gs://attacker-drop/app/source.zip')],
    ['an unnamed container (key "")', fromObject('gs://attacker-drop/app/source.zip', '')],
  ])('fires once, for the bucket and not for "scratch": %s', async (_name, sources) => {
    const findings = await imageFindings([imageOnly(), v1Write(AFTER, 'scratch', sources)]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ evidence: { source: 'cloud-storage', repository: 'gs://attacker-drop', object: 'app/source.zip', knownRepositories: [V1_HOME] } });
  });

  it('ignores: a trusted bucket, and the same bucket again', async () => {
    expect(await imageFindings([imageOnly(), v1Write(AFTER, 'scratch', fromObject('gs://acme-src/app/1.zip'))], trusting(V1_HOME, 'gs://acme-src'))).toEqual([]);
    const again = v1Write('2025-11-12T10:00:00Z', 'scratch', fromObject('gs://attacker-drop/app/2.zip'));
    expect(await imageFindings([imageOnly(), v1Write(AFTER, 'scratch', fromObject('gs://attacker-drop/app/1.zip')), again])).toHaveLength(1);
  });

  it.each([
    ['not JSON', 'gs://attacker-drop/app.zip'],
    ['a JSON array', JSON.stringify(['gs://attacker-drop/app.zip'])],
    ['an empty map', '{}'],
  ])('an annotation that names no object beside an image reads nothing: %s', async (_name, sources) => {
    expect(deployOf(v1Write(AFTER, `${V1_HOME}/app:2`, sources)).sources).toBeUndefined();
    expect(await imageFindings([imageOnly(), v1Write(AFTER, `${V1_HOME}/app:2`, sources)])).toEqual([]);
  });

  // The placeholder names no image: where no object is read for its container, the code it runs is unknown, not absent
  // (before, "scratch" beside an annotation runwatch cannot read, or none, raised nothing at all).
  it.each([
    ['no sources annotation', undefined],
    ['an annotation that is not JSON', 'gs://attacker-drop/app.zip'],
    ['a JSON array', JSON.stringify(['gs://attacker-drop/app.zip'])],
    ['an empty map', '{}'],
    ['a value that is no string', JSON.stringify({ 'placeholder-1': { bucket: 'attacker-drop', object: 'app.zip' } })],
    ['a blank-padded placeholder', '{}', ' scratch '],
  ])('fires as source code runwatch cannot read: image "scratch" and no object read for its container: %s', async (_name, sources, image = 'scratch') => {
    const findings = await imageFindings([imageOnly(), v1Write(AFTER, image, sources)]);
    expect(findings.map((f) => [f.title, f.evidence['source'], f.evidence['repository'], f.evidence['sourceCodeFields']])).toEqual([
      ['Source code of a kind runwatch cannot read', 'unknown', null, []],
    ]);
  });

  // A v1 write has no sourceCode: the finding names what the deployer wrote instead, so whoever is paged knows where to look.
  it.each([
    ['a value that is not a gs:// URL', 'scratch', fromObject('https://attacker.example/app.zip'), 'its run.googleapis.com/sources entry is not a gs:// URL'],
    ['"scratch" and no object read', 'scratch', '{}', 'its container image is "scratch" and run.googleapis.com/sources names no object for it that runwatch can read'],
  ])('says which annotation named the code, not a sourceCode: %s', async (_name, image, sources, said) => {
    const findings = await imageFindings([imageOnly(), v1Write(AFTER, image, sources)]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.summary).toContain(`with source code runwatch cannot read (${said})`);
    expect(findings[0]!.summary).not.toContain('sourceCode');
    expect(findings[0]!.evidence).toMatchObject({ source: 'unknown', sourceAnnotation: 'run.googleapis.com/sources' });
    expect(JSON.stringify(findings[0])).not.toContain('attacker.example');
  });

  // A revision has at most 10 containers, and runwatch reads no more names than that; a console write logs no
  // containers, so which names run is not known: ten decoys naming a trusted bucket must not hide the eleventh.
  // (JSON.parse lists integer-like keys first, whatever their place in the text.)
  it.each([
    ['after ten decoys', [...Array.from({ length: 10 }, (_, i) => [`decoy-${i}`, 'gs://acme-src/app.zip']), ['placeholder-1', 'gs://attacker-drop/app.zip']]],
    ['behind ten integer-like names', [['placeholder-1', 'gs://attacker-drop/app.zip'], ...Array.from({ length: 10 }, (_, i) => [String(i), 'gs://acme-src/app.zip'])]],
  ])('fires for names past the tenth in a write logged without containers: %s', async (_name, entries) => {
    const consoleWrite = variant(v1Write(AFTER, 'scratch', JSON.stringify(Object.fromEntries(entries))), (e) => {
      delete ((((e.protoPayload['request'] as Json)['service'] as Json)['spec'] as Json)['template'] as Json)['spec'];
    });
    const findings = await imageFindings([imageOnly(), consoleWrite], trusting(V1_HOME, 'gs://acme-src'));
    expect(findings.map((f) => [f.title, f.evidence['source'], f.evidence['sourceAnnotation'], f.evidence['sourceNamesNotRead']])).toEqual([
      ['Source code of a kind runwatch cannot read', 'unknown', 'run.googleapis.com/sources', 1],
    ]);
    expect(findings[0]!.summary).toContain('(its run.googleapis.com/sources names 1 container more than a revision can have: not read)');
  });

  it('a value that is not a gs:// URL is source code runwatch cannot read', () => {
    expect(deployOf(v1Write(AFTER, 'scratch', fromObject('https://attacker.example/app.zip'))).sources).toEqual([expect.objectContaining({ kind: 'unknown' })]);
  });
});

/**
 * A console deploy (test/fixtures/synthetic-seq-console-deploy.json: the write logs no containers, its revision's and
 * service's system events carry them) whose revision names its code in template annotations. A v1 Revision keeps its
 * template's annotations (the fixture's revision event has its template's `autoscaling.knative.dev/maxScale`), and the
 * Google Cloud SDK reads a revision's base images from its own annotations (`command_lib/run/printers/
 * container_and_volume_printer_util.py` GetBaseImage, called by revision_printer.py with the Revision's annotations).
 */
describe('new-image-repository: code named in the annotations of a console deploy\'s system events', () => {
  const [WRITE, REVISION_EVENT, SERVICE_EVENT] = JSON.parse(readFileSync(new URL('../../fixtures/synthetic-seq-console-deploy.json', import.meta.url), 'utf8')) as Json[];
  /** The image the events show: the service's own, deployed before. */
  const HOME = 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-source-deploy/cloud-run-slack-bot:latest';
  const EARLIER = at(withOperationId(withV1Image(synthetic('v1-ReplaceService-gcloud'), HOME, `${HOME}@1`), 'op-1'), '2024-05-01T10:00:00Z');
  const CONTAINER = 'cloud-run-slack-bot-1';
  const ASIA_GOOGLE_BASE = 'asia-northeast1-docker.pkg.dev/serverless-runtimes/google-22/runtimes/nodejs22';

  /** The console sequence, its events' revision template annotated with `annotations`, its container's image `image`. */
  function consoleDeploy(annotations: Record<string, string>, image?: string): Json[] {
    type Meta = { annotations: Record<string, string> };
    type Spec = { containers: Json[] };
    const revision = variant(REVISION_EVENT!, (e) => {
      const response = e.protoPayload['response'] as { spec: Spec; metadata: Meta };
      Object.assign(response.metadata.annotations, annotations);
      if (image !== undefined) response.spec.containers[0]!['image'] = image;
    });
    const service = variant(SERVICE_EVENT!, (e) => {
      const template = (e.protoPayload['response'] as { spec: { template: { spec: Spec; metadata: Meta } } }).spec.template;
      Object.assign(template.metadata.annotations, annotations);
      if (image !== undefined) template.spec.containers[0]!['image'] = image;
    });
    return [WRITE!, revision, service];
  }

  it.each([
    ['a base image (run.googleapis.com/base-images)', { 'run.googleapis.com/base-images': JSON.stringify({ [CONTAINER]: 'ghcr.io/attacker/runtime:nodejs22' }) }, undefined, ['ghcr.io/attacker', true]],
    ['an object (run.googleapis.com/sources, image "scratch")', { 'run.googleapis.com/sources': JSON.stringify({ [CONTAINER]: 'gs://attacker-drop/app/source.zip' }) }, 'scratch', ['gs://attacker-drop', null]],
  ] as const)('fires: %s the write did not log', async (_name, annotations, image, [repository, baseImage]) => {
    const findings = await imageFindings([EARLIER, ...consoleDeploy(annotations, image)]);
    expect(findings.map((f) => [f.evidence['repository'], f.evidence['baseImage'] ?? null])).toEqual([[repository, baseImage]]);
  });

  it("ignores: Google's runtime base image, and no annotation at all", async () => {
    expect(await imageFindings([EARLIER, ...consoleDeploy({ 'run.googleapis.com/base-images': JSON.stringify({ [CONTAINER]: ASIA_GOOGLE_BASE }) })])).toEqual([]);
    expect(await imageFindings([EARLIER, ...consoleDeploy({})])).toEqual([]);
  });
});
