// new-image-repository over code deployed without an image (v2 Container `sourceCode`, `baseImageUri`): the v2
// envelope is real (test/fixtures/synthetic-v2-*), the source fields follow the v2 Container reference
// (test/fixtures/source/SOURCES.md).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseEntry } from '../../../functions/audit/normalize.js';
import { at, synthetic, variant, type Json } from '../../support/entries.js';
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
  function changeOf(entry: Json) {
    const result = parseEntry(entry);
    if (result.kind !== 'change' || result.change.kind !== 'deploy') throw new Error(`not a deploy: ${result.kind}`);
    return result.change;
  }

  it('reads the bucket, object, generation and base image of the fixture', () => {
    const change = changeOf(SOURCE);
    expect(change.images).toEqual([]);
    expect(change.sources).toEqual([
      { kind: 'cloud-storage', bucket: 'acme-src-drop', repository: 'gs://acme-src-drop', object: 'storefront/2024-06-01/source.tar.gz', generation: '1717239600123456' },
      { kind: 'base-image', image: expect.objectContaining({ reference: GOOGLE_BASE, repository: 'europe-west1-docker.pkg.dev/serverless-runtimes/google-22/runtimes' }) },
    ]);
  });

  it.each([
    ['a v1 gcloud write', synthetic('v1-ReplaceService-gcloud')],
    ['a v2 create', CREATE],
    ['a v2 update with a sidecar', synthetic('v2-UpdateService-sidecar')],
    ['a v2 snake_case update', synthetic('v2-UpdateService-snake-case')],
  ])('image-only deploys have no sources field: %s', (_name, entry) => {
    expect('sources' in changeOf(entry)).toBe(false);
  });
});
