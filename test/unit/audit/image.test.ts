import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import dockerReference from '@swimlane/docker-reference';
import { imagesOf, imagesOrAnnotated, parseImage, registryRepository } from '../../../functions/audit/image.js';
import { seededRandom } from '../../support/random.js';

/** The built module (`npm run build`, as `npm test` does first), for the child process. */
const BUILT_IMAGE_MODULE = fileURLToPath(new URL('../../../dist/functions/audit/image.js', import.meta.url));

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

describe('image references', () => {
  it.each([
    ['nginx', { repository: 'docker.io/library', name: 'docker.io/library/nginx' }],
    ['nginx:1.27', { repository: 'docker.io/library', tag: '1.27' }],
    ['acme/api:v1', { repository: 'docker.io/acme', name: 'docker.io/acme/api', tag: 'v1' }],
    ['docker.io/acme/api', { repository: 'docker.io/acme' }],
    ['gcr.io/acme/api:2024-05-01', { repository: 'gcr.io/acme', tag: '2024-05-01' }],
    [`gcr.io/acme/api@${DIGEST}`, { repository: 'gcr.io/acme', digest: DIGEST }],
    [`us-docker.pkg.dev/acme/prod/api:1.2@${DIGEST}`, { repository: 'us-docker.pkg.dev/acme/prod', name: 'us-docker.pkg.dev/acme/prod/api', tag: '1.2', digest: DIGEST }],
    // The path without the image name, in every registry: a path inside an Artifact Registry repository is a
    // repository of its own (a remote repository proxying Docker Hub keeps each namespace under its own path).
    ['us-docker.pkg.dev/acme/prod/team/api:1', { repository: 'us-docker.pkg.dev/acme/prod/team', name: 'us-docker.pkg.dev/acme/prod/team/api' }],
    ['us-docker.pkg.dev/acme/dockerhub/library/nginx', { repository: 'us-docker.pkg.dev/acme/dockerhub/library' }],
    ['gcr.io/acme/team/api:1', { repository: 'gcr.io/acme/team', name: 'gcr.io/acme/team/api' }],
    ['localhost:5000/api', { repository: 'localhost:5000' }],
    ['registry.example.com:8443/a/b:3', { repository: 'registry.example.com:8443/a', tag: '3' }],
    ['us-docker.pkg.dev/cloudrun/container/hello', { repository: 'us-docker.pkg.dev/cloudrun/container' }],
    ['index.docker.io/nginx', { repository: 'docker.io/library', name: 'docker.io/library/nginx' }],
    [`nginx@${DIGEST}`, { repository: 'docker.io/library', digest: DIGEST }],
    [`localhost:5000/api@${DIGEST}`, { repository: 'localhost:5000', name: 'localhost:5000/api', digest: DIGEST }],
    ['localhost/api:dev', { repository: 'localhost', tag: 'dev' }],
    // Host names are case-insensitive: one repository however its host is written (and a trusted glob matches it).
    ['GCR.IO/acme/api:1', { repository: 'gcr.io/acme', name: 'gcr.io/acme/api', tag: '1' }],
    ['Registry.Example.com:8443/a/b', { repository: 'registry.example.com:8443/a', name: 'registry.example.com:8443/a/b' }],
    // Docker Hub answers under four host names, one registry to Docker: each comes out as docker.io, with the
    // implicit `library/` for a single component, exactly as docker.io. The reference stays as written.
    ['index.docker.io/nginx:1', { reference: 'index.docker.io/nginx:1', repository: 'docker.io/library', name: 'docker.io/library/nginx', tag: '1' }],
    ['index.docker.io/library/nginx:2', { repository: 'docker.io/library', name: 'docker.io/library/nginx', tag: '2' }],
    [`index.docker.io/acme/app@${DIGEST}`, { repository: 'docker.io/acme', name: 'docker.io/acme/app', digest: DIGEST }],
    ['registry-1.docker.io/nginx', { reference: 'registry-1.docker.io/nginx', repository: 'docker.io/library', name: 'docker.io/library/nginx' }],
    ['registry-1.docker.io/nginx:1.27', { repository: 'docker.io/library', name: 'docker.io/library/nginx', tag: '1.27' }],
    [`registry-1.docker.io/library/nginx@${DIGEST}`, { repository: 'docker.io/library', name: 'docker.io/library/nginx', digest: DIGEST }],
    ['registry-1.docker.io/acme/app:v1', { reference: 'registry-1.docker.io/acme/app:v1', repository: 'docker.io/acme', name: 'docker.io/acme/app', tag: 'v1' }],
    ['registry-1.docker.io/acme/team/app', { repository: 'docker.io/acme/team', name: 'docker.io/acme/team/app' }],
    ['registry.hub.docker.com/nginx', { repository: 'docker.io/library', name: 'docker.io/library/nginx' }],
    [`registry.hub.docker.com/nginx:1@${DIGEST}`, { repository: 'docker.io/library', name: 'docker.io/library/nginx', tag: '1', digest: DIGEST }],
    ['registry.hub.docker.com/acme/app:2', { reference: 'registry.hub.docker.com/acme/app:2', repository: 'docker.io/acme', name: 'docker.io/acme/app', tag: '2' }],
    [`registry.hub.docker.com/acme/app@${DIGEST}`, { repository: 'docker.io/acme', name: 'docker.io/acme/app', digest: DIGEST }],
    // In any letter case (docker.io too: `library/` was added only to the host written in lower case).
    ['Docker.IO/nginx', { reference: 'Docker.IO/nginx', repository: 'docker.io/library', name: 'docker.io/library/nginx' }],
    ['INDEX.DOCKER.IO/nginx:1', { repository: 'docker.io/library', name: 'docker.io/library/nginx', tag: '1' }],
    ['Registry-1.Docker.IO/acme/app', { repository: 'docker.io/acme', name: 'docker.io/acme/app' }],
    ['Registry.Hub.Docker.com/nginx', { repository: 'docker.io/library', name: 'docker.io/library/nginx' }],
    // A port makes another host (Docker does not read `docker.io:443` as Docker Hub), and look-alikes are other hosts.
    ['docker.io:443/nginx', { repository: 'docker.io:443', name: 'docker.io:443/nginx' }],
    ['index.docker.io:443/acme/app:1', { repository: 'index.docker.io:443/acme', name: 'index.docker.io:443/acme/app' }],
    ['registry-1.docker.io:5000/nginx', { repository: 'registry-1.docker.io:5000', name: 'registry-1.docker.io:5000/nginx' }],
    ['registry.hub.docker.com:443/acme/app', { repository: 'registry.hub.docker.com:443/acme', name: 'registry.hub.docker.com:443/acme/app' }],
    ['hub.docker.com/acme/app', { repository: 'hub.docker.com/acme', name: 'hub.docker.com/acme/app' }],
    ['registry-2.docker.io/nginx', { repository: 'registry-2.docker.io', name: 'registry-2.docker.io/nginx' }],
    ['docker.io.evil.com/acme/app', { repository: 'docker.io.evil.com/acme', name: 'docker.io.evil.com/acme/app' }],
    ['evil-docker.io/nginx', { repository: 'evil-docker.io', name: 'evil-docker.io/nginx' }],
  ])('%s', (reference, expected) => {
    expect(parseImage(reference)).toMatchObject(expected);
  });

  it.each([
    '',
    'UPPER/case',
    'a//b',
    'gcr.io/acme/api:bad tag',
    `x@sha256:short`,
    'x'.repeat(2000),
    `gcr.io/acme/api@sha256:${'0'.repeat(63)}`, // sha256 needs 64 hex digits
    `gcr.io/acme/api@md5:${'0'.repeat(32)}`, // unknown algorithm
    'gcr.io/acme/api:-leading-dash',
    `gcr.io/acme/api:${'t'.repeat(129)}`,
    '0123456789abcdef'.repeat(4), // a bare image id is not a name
    'gcr.io/acme/API:1',
  ])('rejects %j', (reference) => {
    expect(parseImage(reference)).toBeUndefined();
  });

  it('imagesOf keeps a reference that does not parse, marked unparseable, and skips containers without an image', () => {
    expect(imagesOf([{ image: 'gcr.io/acme/api:1' }, { image: 'gcr.io/Acme/api' }, {}, { image: '  ' }, { image: 7 }])).toEqual([
      { reference: 'gcr.io/acme/api:1', repository: 'gcr.io/acme', name: 'gcr.io/acme/api', tag: '1' },
      { reference: 'gcr.io/Acme/api', unparseable: true },
    ]);
  });

  const PORT = [{ containerPort: 8080 }];
  const ref = (reference: string) => parseImage(reference)!;
  it.each<[string, readonly unknown[], readonly unknown[]]>([
    ['one container (ports or not) serves', [{ image: 'gcr.io/acme/api:1' }], [ref('gcr.io/acme/api:1')]],
    ['the one container with ports serves, the others are sidecars', [{ image: 'gcr.io/acme/otel:2' }, { image: 'gcr.io/acme/api:1', ports: PORT }], [{ ...ref('gcr.io/acme/otel:2'), sidecar: true }, ref('gcr.io/acme/api:1')]],
    ['empty ports declare none', [{ image: 'gcr.io/acme/otel:2', ports: [] }, { image: 'gcr.io/acme/api:1', ports: PORT }], [{ ...ref('gcr.io/acme/otel:2'), sidecar: true }, ref('gcr.io/acme/api:1')]],
    ['no container with ports: which serves is unknown, none is marked', [{ image: 'gcr.io/acme/otel:2' }, { image: 'gcr.io/acme/api:1' }], [ref('gcr.io/acme/otel:2'), ref('gcr.io/acme/api:1')]],
    ['two with ports (Cloud Run refuses it): none is marked', [{ image: 'gcr.io/acme/otel:2', ports: PORT }, { image: 'gcr.io/acme/api:1', ports: PORT }], [ref('gcr.io/acme/otel:2'), ref('gcr.io/acme/api:1')]],
    ['an image both beside and serving is the serving one', [{ image: 'gcr.io/acme/api:1' }, { image: 'gcr.io/acme/api:1', ports: PORT }], [ref('gcr.io/acme/api:1')]],
  ])('imagesOf: %s', (_name, containers, expected) => {
    expect(imagesOf(containers)).toEqual(expected);
  });

  it('imagesOf cuts a very long reference that does not parse', () => {
    const [image] = imagesOf([{ image: 'x'.repeat(5000) }]);
    expect(image).toEqual({ reference: `${'x'.repeat(1024)}…`, unparseable: true });
  });

  it.each([
    ['no container image: the annotation is read, marked as the annotation\'s', [{}], [{ reference: 'gcr.io/acme/api', repository: 'gcr.io/acme', name: 'gcr.io/acme/api', annotated: true }]],
    ['a container image that does not parse: the annotation is not read', [{ image: 'gcr.io/Evil/api' }], [{ reference: 'gcr.io/Evil/api', unparseable: true }]],
  ])('imagesOrAnnotated, %s', (_name, containers, expected) => {
    expect(imagesOrAnnotated(containers, { 'client.knative.dev/user-image': 'gcr.io/acme/api' }, undefined)).toEqual(expected);
  });

  // The library's own name expression backtracks exponentially on these: each took from seconds to forever before
  // names were checked with an expression that cannot match one string in two ways. A hung regular expression
  // cannot be interrupted in-process, so they are parsed in a child process that is killed after 20 s (a liveness
  // check, not a timing: fixed, they take well under a millisecond each).
  it('rejects at once names that almost match (no catastrophic backtracking)', () => {
    const references = [
      'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot/cloud-run-slack-bot:1f2e3d4c5b6a-2024-05-01T10:00:00Z',
      `gcr.io/acme/${'a'.repeat(80)}!`,
      `gcr.io/acme/${'a'.repeat(80)}A`,
      `${'b'.repeat(80)}:x:y`,
      `gcr.io/${'ab-'.repeat(40)}/`,
    ];
    const script = `import { parseImage } from ${JSON.stringify(BUILT_IMAGE_MODULE)};
      const refs = JSON.parse(process.argv[1]);
      process.stdout.write(JSON.stringify(refs.map((r) => parseImage(r) ?? null)));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(references)], { timeout: 20_000, encoding: 'utf8' });
    expect(child.signal, 'parsing hung and was killed').toBeNull();
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual(references.map(() => null));
  }, 30_000);

  it('a Docker Hub name under another host: the 255-character limit holds for the name as written and as docker.io gives it', () => {
    const written = 'a'.repeat(255 - 'registry.hub.docker.com/'.length);
    expect(parseImage(`registry.hub.docker.com/${written}`)).toMatchObject({ repository: 'docker.io/library', name: `docker.io/library/${written}` });
    expect(parseImage(`registry.hub.docker.com/${written}a`)).toBeUndefined();
    // 254 characters as written, 256 with `library/`: too long, as the same name under docker.io is.
    const normalized = 'a'.repeat(254 - 'index.docker.io/'.length);
    expect(parseImage(`docker.io/${normalized}`)).toBeUndefined();
    expect(parseImage(`index.docker.io/${normalized}`)).toBeUndefined();
    const fits = 'a'.repeat(255 - 'registry-1.docker.io/'.length);
    expect(parseImage(`registry-1.docker.io/${fits}`)).toMatchObject({ name: `docker.io/library/${fits}` });
  });

  it('accepts a long valid name (the limit of 255 characters) and rejects a longer one', () => {
    const component = 'a'.repeat(60);
    const name = `gcr.io/${[component, component, component].join('/')}/${'b'.repeat(255 - 7 - 3 * 61)}`;
    expect(name).toHaveLength(255);
    expect(parseImage(`${name}:1`)).toMatchObject({ repository: name.slice(0, name.lastIndexOf('/')), name });
    expect(parseImage(`${name}b:1`)).toBeUndefined();
  });
});

// parseImage matches names with its own expression (the library's backtracks exponentially) and checks tags and
// digests itself: on random short references built from the grammar's pieces (hosts, ports, separators, tags,
// digests, capitals, implicit registries) it must accept exactly what the library's parser accepts, with the same
// name, tag and digest. Short, because the library's parser takes exponential time on longer near-misses.
describe('parseImage against @swimlane/docker-reference on random references', () => {
  it('accepts and splits what the library does', () => {
    const PIECES = ['a', 'b', '0', '.', '_', '-', '/', ':', 'A', '1', '__', 'gcr.io', 'localhost', ':5000', ':v1', ':latest', 'docker.io', 'library', '@'];
    const next = seededRandom(7);
    const differences: string[] = [];
    let compared = 0;
    // The library's parse of each reference, once: its parser is a pure function of the text and nearly all of this
    // test's time (exponential on near-misses), and 8,370 samples hold 3,407 distinct references.
    const libraryParses = new Map<string, { domain?: string; repository?: string; tag?: string; digest?: string } | undefined>();
    for (let i = 0; i < 15_000 && differences.length < 5; i++) {
      let reference = '';
      for (let n = 1 + Math.floor(next() * 5); n > 0; n--) reference += PIECES[Math.floor(next() * PIECES.length)];
      if (reference.length > 9) continue;
      if (next() < 0.2) reference += `@${DIGEST}`;
      compared++;
      let library: { domain?: string; repository?: string; tag?: string; digest?: string } | undefined;
      if (libraryParses.has(reference)) {
        library = libraryParses.get(reference);
      } else {
        try {
          library = dockerReference.parseFamiliarName(reference);
        } catch {
          library = undefined;
        }
        libraryParses.set(reference, library);
      }
      // The host in lower case (case-insensitive, see above); the library keeps it as written.
      const expected = library?.domain && library.repository ? { name: `${library.domain.toLowerCase()}/${library.repository}`, tag: library.tag, digest: library.digest } : undefined;
      const ours = parseImage(reference);
      const actual = ours ? { name: ours.name, tag: ours.tag, digest: ours.digest } : undefined;
      if (JSON.stringify(actual) !== JSON.stringify(expected)) differences.push(`${reference}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`);
    }
    expect(compared).toBeGreaterThan(2_500);
    expect(differences).toEqual([]);
  });
});

describe('registryRepository: the repository a Google registry grants access to (what a trusted glob may name)', () => {
  it.each([
    ['us-docker.pkg.dev/acme/prod/team-a/api', 'us-docker.pkg.dev/acme/prod'],
    ['europe-west1-docker.pkg.dev/acme/prod/api', 'europe-west1-docker.pkg.dev/acme/prod'],
    ['docker.pkg.dev/acme/prod/a/b/c', 'docker.pkg.dev/acme/prod'],
    ['us-central1-docker.pkg.dev/example.com/acme/prod/api', 'us-central1-docker.pkg.dev/example.com/acme/prod'],
    ['gcr.io/acme/team/api', 'gcr.io/acme'],
    ['eu.gcr.io/acme/api', 'eu.gcr.io/acme'],
    ['gcr.io/example.com/acme/api', 'gcr.io/example.com/acme'],
    // Never the image name itself, and no other registry (look-alike hosts included).
    ['us-docker.pkg.dev/acme/api', undefined],
    ['gcr.io/api', undefined],
    ['docker.pkg.dev.evil.com/acme/prod/api', undefined],
    ['gcr.io.evil.com/acme/api', undefined],
    ['ghcr.io/acme/team/api', undefined],
    ['docker.io/library/nginx', undefined],
  ])('%s', (name, expected) => {
    expect(registryRepository(name)).toBe(expected);
  });
});
