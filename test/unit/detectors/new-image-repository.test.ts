import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { at, corpus, editV1Services, synthetic, variant, withOperationId, withV1Containers, withV1Image, type Json } from '../../support/entries.js';
import { config, findingsOf } from '../../support/run.js';

const gcloud = synthetic('v1-ReplaceService-gcloud');
const HOME = 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot/cloud-run-slack-bot:1f2e3d4c5b6a';

function deploy(timestamp: string, image: string) {
  return at(withOperationId(withV1Image(gcloud, image, `${image}@${timestamp}`), `op-${timestamp}`), timestamp);
}

async function imageFindings(entries: readonly unknown[], cfg = config()) {
  return (await findingsOf(entries, cfg)).filter((f) => f.rule === 'new-image-repository');
}

describe('new-image-repository', () => {
  it('fires: two v2 updates logging one body, the first masked to the identity, the second to the containers (the image rolls out then)', async () => {
    // Both fingerprints are of the whole body logged, so the second looks like no new template: the image it applies
    // is still judged.
    const masked = (timestamp: string, paths: string[]): Json =>
      at(
        variant(synthetic('v2-UpdateService'), (e) => void ((e.protoPayload['request'] as Json)['updateMask'] = { paths })),
        timestamp,
      );
    const findings = await imageFindings([synthetic('v2-CreateService'), masked('2024-06-01T11:00:00Z', ['template.service_account']), masked('2024-06-01T12:00:00Z', ['template.containers'])]);
    expect(findings.map((f) => [f.eventTime, f.evidence['repository']])).toEqual([['2024-06-01T12:00:00Z', 'docker.io/attacker']]);
  });

  it.each([
    ['Docker Hub, implicit registry', 'attacker/bot:latest', 'docker.io/attacker'],
    ['Docker Hub official image', 'nginx', 'docker.io/library'],
    ['Docker Hub under its registry API host', 'registry-1.docker.io/attacker/bot:1', 'docker.io/attacker'],
    ['Docker Hub under registry.hub.docker.com', 'registry.hub.docker.com/attacker/bot:1', 'docker.io/attacker'],
    // A port makes another host: Docker does not read docker.io:443 as Docker Hub.
    ['docker.io with a port', 'docker.io:443/attacker/bot:1', 'docker.io:443/attacker'],
    ['a registry with a port', 'registry.example.com:5000/team/bot:2', 'registry.example.com:5000/team'],
    ['Container Registry', 'gcr.io/other-project/bot@sha256:' + 'b'.repeat(64), 'gcr.io/other-project'],
    ['another Artifact Registry repository', 'asia-northeast1-docker.pkg.dev/test-project-1234/scratch/bot:1', 'asia-northeast1-docker.pkg.dev/test-project-1234/scratch'],
    // A path inside a repository is one of its own: a remote repository proxying Docker Hub keeps each namespace there.
    ['a new path inside the same Artifact Registry repository', 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot/evilcorp/bot:1', 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot/evilcorp'],
  ])('fires: %s', async (_name, image, repository) => {
    const findings = await imageFindings([deploy('2024-05-01T10:00:00Z', HOME), deploy('2024-05-02T10:00:00Z', image)]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      severity: 'HIGH',
      evidence: { repository, knownRepositories: ['asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot'], firstDeploy: false },
    });
  });

  it.each([
    ['another tag of the same image', 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot/cloud-run-slack-bot:v2'],
    ['a digest of the same image', 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot/cloud-run-slack-bot@sha256:' + 'c'.repeat(64)],
    ['another image in the same repository', 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot/worker:1'],
  ])('ignores: %s', async (_name, image) => {
    expect(await imageFindings([deploy('2024-05-01T10:00:00Z', HOME), deploy('2024-05-02T10:00:00Z', image)])).toEqual([]);
  });

  it.each([
    ['a sidecar from a new repository is reported as one', [{ image: 'attacker/collector:1' }, { image: HOME, ports: [{ containerPort: 8080 }] }], true],
    ['the serving container from a new repository, beside a known sidecar', [{ image: HOME }, { image: 'attacker/bot:1', ports: [{ containerPort: 8080 }] }], false],
    // One finding per repository: the serving container's image names it when it is in it, whatever the order.
    ['a sidecar listed first and the serving container from one new repository: reported as the serving one', [{ image: 'attacker/collector:1' }, { image: 'attacker/bot:1', ports: [{ containerPort: 8080 }] }], false],
  ])('fires: %s', async (_name, containers, sidecar) => {
    const multi = withV1Containers(deploy('2024-05-02T10:00:00Z', HOME), containers);
    const findings = await imageFindings([deploy('2024-05-01T10:00:00Z', HOME), multi]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.evidence['repository']).toMatch(/^docker\.io\/attacker$/);
    expect(findings[0]!.evidence['sidecar']).toBe(sidecar ? true : undefined);
    expect(findings[0]!.summary.includes('as a sidecar')).toBe(sidecar);
  });

  it('ignores: the first deploy when no trustedRepositories are configured', async () => {
    expect(await imageFindings([deploy('2024-05-01T10:00:00Z', 'attacker/bot')])).toEqual([]);
  });

  it('fires: the first deploy from a repository outside trustedRepositories', async () => {
    const cfg = config({ rules: { 'new-image-repository': { trustedRepositories: ['*-docker.pkg.dev/test-project-1234/*'] } } });
    const findings = await imageFindings([deploy('2024-05-01T10:00:00Z', 'attacker/bot')], cfg);
    expect(findings[0]).toMatchObject({ title: 'First deploy from an untrusted image repository', evidence: { repository: 'docker.io/attacker', firstDeploy: true } });
  });

  // Docker Hub's four host names are one registry: a team that switches spelling deploys from the repository it used.
  it.each([
    ['index.docker.io/library/nginx:2'],
    ['index.docker.io/nginx:2'],
    ['registry-1.docker.io/library/nginx:2'],
    ['registry-1.docker.io/nginx:2'],
    [`registry.hub.docker.com/nginx@sha256:${'d'.repeat(64)}`],
    ['Docker.IO/nginx:2'],
    ['docker.io/library/nginx:2'],
  ])('ignores: nginx, then the same Docker Hub repository as %s', async (image) => {
    expect(await imageFindings([deploy('2024-05-01T10:00:00Z', 'nginx'), deploy('2024-05-02T10:00:00Z', image)])).toEqual([]);
  });

  it('ignores: registry-1.docker.io/acme/app, then acme/app (one repository, whichever spelling came first)', async () => {
    expect(await imageFindings([deploy('2024-05-01T10:00:00Z', 'registry-1.docker.io/acme/app:1'), deploy('2024-05-02T10:00:00Z', 'acme/app:2')])).toEqual([]);
  });

  it('fires: the evidence keeps the reference as written and names the repository under docker.io', async () => {
    const findings = await imageFindings([deploy('2024-05-01T10:00:00Z', HOME), deploy('2024-05-02T10:00:00Z', 'registry.hub.docker.com/attacker/bot:1')]);
    expect(findings[0]?.evidence).toMatchObject({ image: 'registry.hub.docker.com/attacker/bot:1', repository: 'docker.io/attacker' });
    expect(findings[0]?.summary).toContain('deployed registry.hub.docker.com/attacker/bot:1 to ');
    expect(findings[0]?.summary).toContain('repository docker.io/attacker is');
  });

  // A trusted glob matches the repository (the path without the image name) under docker.io, however the image's
  // host was written; a glob written with one of the other host names means Docker Hub too.
  it.each([
    ['docker.io/acme', 'registry-1.docker.io/acme/app'],
    ['docker.io/acme', 'registry.hub.docker.com/acme/app:1'],
    ['docker.io/acme', 'index.docker.io/acme/app:1'],
    ['docker.io/acme', 'Registry-1.Docker.IO/acme/app:1'],
    ['docker.io/*', 'registry-1.docker.io/acme/app:1'],
    ['docker.io/library', 'registry-1.docker.io/nginx:1'],
    ['registry-1.docker.io/acme', 'acme/app:1'],
    ['index.docker.io/acme', 'docker.io/acme/app:1'],
    ['registry.hub.docker.com/*', 'registry-1.docker.io/acme/app:1'],
    // A host is case-insensitive in a glob as in an image (images' hosts are written in lower case).
    ['GCR.IO/acme', 'gcr.io/acme/api:1'],
    ['Gcr.io/acme', 'GCR.IO/acme/api:1'],
    ['Docker.io/acme', 'acme/app:1'],
    ['Registry-1.Docker.IO/acme', 'acme/app:1'],
    ['INDEX.DOCKER.IO/*', 'registry-1.docker.io/acme/app:1'],
    ['US-Docker.pkg.dev/acme/prod', 'us-docker.pkg.dev/acme/prod/team/api:1'],
    ['*-DOCKER.PKG.DEV/acme/*', 'europe-west1-docker.pkg.dev/acme/prod/api:1'],
    ['Registry.Example.com:8443/a', 'registry.example.com:8443/a/b:3'],
  ])('ignores: a first deploy trusted by %s: %s', async (glob, image) => {
    const cfg = config({ rules: { 'new-image-repository': { trustedRepositories: [glob] } } });
    expect(await imageFindings([deploy('2024-05-01T10:00:00Z', image)], cfg)).toEqual([]);
  });

  it.each([
    ['docker.io/acme', 'docker.io:443/acme/app:1', 'docker.io:443/acme'],
    ['docker.io:443/acme', 'docker.io/acme/app:1', 'docker.io/acme'],
    ['registry-1.docker.io:443/acme', 'registry-1.docker.io/acme/app:1', 'docker.io/acme'],
    ['docker.io/acme', 'hub.docker.com/acme/app:1', 'hub.docker.com/acme'],
    // A host in capitals is that host, with its port another one still. (Capitals in a path are a config error.)
    ['DOCKER.IO:443/acme', 'docker.io/acme/app:1', 'docker.io/acme'],
  ])('fires: a first deploy not trusted by %s (a port or a look-alike is another host): %s', async (glob, image, repository) => {
    const cfg = config({ rules: { 'new-image-repository': { trustedRepositories: [glob] } } });
    const findings = await imageFindings([deploy('2024-05-01T10:00:00Z', image)], cfg);
    expect(findings.map((f) => f.evidence['repository'])).toEqual([repository]);
  });

  it('ignores: a new repository that matches trustedRepositories', async () => {
    const cfg = config({ rules: { 'new-image-repository': { trustedRepositories: ['*-docker.pkg.dev/test-project-1234/*'] } } });
    const entries = [deploy('2024-05-01T10:00:00Z', HOME), deploy('2024-05-02T10:00:00Z', 'asia-northeast1-docker.pkg.dev/test-project-1234/scratch/bot:1')];
    expect(await imageFindings(entries, cfg)).toEqual([]);
  });

  // A remote repository that proxies Docker Hub: each upstream namespace is a path of its own, judged as a repository.
  it.each([
    ['nothing trusted: the new namespace is reported', [], ['asia-northeast1-docker.pkg.dev/test-project-1234/dockerhub/evilcorp']],
    ['the namespace used so far trusted: the other one is still reported', ['asia-northeast1-docker.pkg.dev/test-project-1234/dockerhub/library'], ['asia-northeast1-docker.pkg.dev/test-project-1234/dockerhub/evilcorp']],
    ['the whole Artifact Registry repository trusted (registry repository): nothing', ['asia-northeast1-docker.pkg.dev/test-project-1234/dockerhub'], []],
    ['the project trusted with a glob over the registry repository: nothing', ['*-docker.pkg.dev/test-project-1234/*'], []],
  ])('paths inside an Artifact Registry repository: %s', async (_name, extra, reported) => {
    const home = 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot';
    const cfg = config({ rules: { 'new-image-repository': { trustedRepositories: [home, ...extra] } } });
    const entries = [
      deploy('2024-05-01T10:00:00Z', HOME),
      deploy('2024-05-02T10:00:00Z', 'asia-northeast1-docker.pkg.dev/test-project-1234/dockerhub/library/nginx:1'),
      deploy('2024-05-03T10:00:00Z', 'asia-northeast1-docker.pkg.dev/test-project-1234/dockerhub/evilcorp/backdoor:1'),
    ];
    const found = (await imageFindings(entries, cfg)).map((f) => f.evidence['repository']);
    // The library namespace is reported too unless something trusts it (it is new for the service as well).
    expect(found.filter((r) => r !== 'asia-northeast1-docker.pkg.dev/test-project-1234/dockerhub/library')).toEqual(reported);
  });

  it('ignores: a console deploy that logs no image (unknown, not guessed)', async () => {
    const console = at(corpus('slackbot__Services.ReplaceService__1'), '2024-05-02T10:00:00Z');
    expect(await imageFindings([deploy('2024-05-01T10:00:00Z', HOME), console])).toEqual([]);
  });

  it('fires: v2 update to Docker Hub, digest in the evidence when the reference has one', async () => {
    const findings = await imageFindings([synthetic('v2-CreateService'), synthetic('v2-UpdateService')]);
    expect(findings[0]?.evidence).toMatchObject({ image: 'docker.io/attacker/storefront:latest', repository: 'docker.io/attacker' });
  });

  it('a repository used before, then again after a detour, does not fire twice', async () => {
    const findings = await imageFindings([
      deploy('2024-05-01T10:00:00Z', HOME),
      deploy('2024-05-02T10:00:00Z', 'attacker/bot:1'),
      deploy('2024-05-03T10:00:00Z', HOME),
      deploy('2024-05-04T10:00:00Z', 'attacker/bot:2'),
    ]);
    expect(findings.map((f) => f.eventTime)).toEqual(['2024-05-02T10:00:00Z']);
  });

  it('provenance: the commit from the commit-sha label, the pipeline from gcb-build-id', async () => {
    // The build before it had labels of its own (a deploy carrying the same ones as before gets none: provenance.test.ts).
    const earlierBuild = editV1Services(deploy('2024-05-01T10:00:00Z', HOME), (svc) => {
      const labels = (svc['metadata'] as Record<string, Record<string, string>>)['labels']!;
      labels['commit-sha'] = '0000000aaaaaaa';
      labels['gcb-build-id'] = 'b-0';
    });
    const findings = await imageFindings([earlierBuild, deploy('2024-05-02T10:00:00Z', 'attacker/bot:1')]);
    expect(findings[0]?.provenance).toEqual({
      commit: '1f2e3d4c5b6a7980a1b2c3d4e5f60718293a4b5c',
      pipeline: '5c1b2a3d-0000-4000-8000-000000000001',
      sources: { commit: 'label:commit-sha', pipeline: 'label:gcb-build-id' },
    });
  });

  // Cloud Run accepts only valid references, so one that does not parse here means the two grammars differ: the
  // image is reported, never dropped (which would leave a new repository unjudged).
  it.each([
    ['upper case in the path', 'gcr.io/Attacker/bot:1'],
    ['an empty path segment', 'gcr.io/attacker//bot'],
    ['a malformed digest', 'gcr.io/attacker/bot@sha256:abc'],
  ])('fires: an image reference that does not parse (%s)', async (_name, image) => {
    const findings = await imageFindings([deploy('2024-05-01T10:00:00Z', HOME), deploy('2024-05-02T10:00:00Z', image)]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      severity: 'HIGH',
      title: 'Image reference runwatch cannot parse',
      evidence: { image, repository: null, knownRepositories: ['asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot'], firstDeploy: false },
    });
    expect(findings[0]?.unknown).toContain('repository');
  });

  // A registry URL pasted with its login is no valid reference, so it does not parse and is shown as written: a
  // container image (Cloud Run's grammar check is the only guard) or the user-image annotation (any text the deployer
  // writes, read when the write logs no container image). The password must not reach the finding, any sink or the log.
  const GITHUB_TOKEN = `ghp_${'A1b2C3d4E5'.repeat(4)}`;
  it.each([
    ['a registry URL with its login', 'https://ci:hunter2-pw-77@registry.example/acme/app:1', 'hunter2-pw-77', 'https://ci:[hidden: a password in a URL]@registry.example/acme/app:1'],
    ['a login before the host, without a scheme', 'ci:hunter2-pw-77@registry.example/acme/app:1', 'hunter2-pw-77', 'ci:[hidden: a password in a URL]@registry.example/acme/app:1'],
    ['a password holding an @', 'ci:hunter2@pw-77@registry.example/acme/app:1', 'hunter2@pw-77', 'ci:[hidden: a password in a URL]@registry.example/acme/app:1'],
    ['a GitHub token as the user name', `https://${GITHUB_TOKEN}@ghcr.io/acme/app:1`, GITHUB_TOKEN, 'https://[hidden: a GitHub token]@ghcr.io/acme/app:1'],
    // A reference has no use for a user name: one alone before the host is a token used as a login, whatever its form.
    ['a token of no known format as the user name', 'https://s3cr3t-t0ken-77@registry.example/acme/app:1', 's3cr3t-t0ken-77', 'https://[hidden: a login]@registry.example/acme/app:1'],
    ['a token as the user name, without a scheme', 's3cr3t-t0ken-77@registry.example/acme/app:1', 's3cr3t-t0ken-77', '[hidden: a login]@registry.example/acme/app:1'],
  ])('an image reference that does not parse has its credentials hidden (%s), as a container image and as the user-image annotation', async (_name, image, secret, shown) => {
    const annotated = editV1Services(deploy('2024-05-02T10:00:00Z', 'placeholder'), (svc) => {
      const template = (svc['spec'] as { template: { metadata: Record<string, unknown>; spec: { containers: Record<string, unknown>[] } } }).template;
      delete template.spec.containers[0]!['image'];
      template.metadata['annotations'] = { ...(template.metadata['annotations'] as object | undefined), 'client.knative.dev/user-image': image };
    });
    for (const write of [deploy('2024-05-02T10:00:00Z', image), annotated]) {
      const findings = await findingsOf([deploy('2024-05-01T10:00:00Z', HOME), write]);
      expect(findings.filter((f) => f.rule === 'new-image-repository').map((f) => [f.title, f.evidence['image']])).toEqual([['Image reference runwatch cannot parse', shown]]);
      expect(JSON.stringify(findings)).not.toContain(secret);
    }
  });

  it('an image that does not parse is not remembered: the next deploy of it is reported again', async () => {
    const findings = await imageFindings([deploy('2024-05-01T10:00:00Z', HOME), deploy('2024-05-02T10:00:00Z', 'gcr.io/Attacker/bot:1'), deploy('2024-05-03T10:00:00Z', 'gcr.io/Attacker/bot:1')]);
    expect(findings.map((f) => f.eventTime)).toEqual(['2024-05-02T10:00:00Z', '2024-05-03T10:00:00Z']);
    expect(new Set(findings.map((f) => f.id)).size).toBe(2);
  });

  it('an image that does not parse on a first deploy: reported only when trustedRepositories is configured', async () => {
    expect(await imageFindings([deploy('2024-05-01T10:00:00Z', 'gcr.io/Attacker/bot:1')])).toEqual([]);
    const cfg = config({ rules: { 'new-image-repository': { trustedRepositories: ['gcr.io/*'] } } });
    const findings = await imageFindings([deploy('2024-05-01T10:00:00Z', 'gcr.io/Attacker/bot:1')], cfg);
    expect(findings[0]).toMatchObject({ title: 'Image reference runwatch cannot parse', evidence: { firstDeploy: true } });
  });

  it('a service whose images never parse: every deploy after its first is reported (the first sets the baseline)', async () => {
    const findings = await imageFindings([deploy('2024-05-01T10:00:00Z', 'gcr.io/Attacker/bot:1'), deploy('2024-05-02T10:00:00Z', 'gcr.io/Attacker/bot:2'), deploy('2024-05-03T10:00:00Z', 'gcr.io/Attacker/bot:3')]);
    expect(findings.map((f) => [f.eventTime, f.evidence['firstDeploy']])).toEqual([
      ['2024-05-02T10:00:00Z', false],
      ['2024-05-03T10:00:00Z', false],
    ]);
  });

  it('a trusted user-image annotation does not stand in for a container image that does not parse', async () => {
    const cfg = config({ rules: { 'new-image-repository': { trustedRepositories: ['asia-northeast1-docker.pkg.dev/test-project-1234/*'] } } });
    const masked = editV1Services(deploy('2024-05-02T10:00:00Z', 'gcr.io/Attacker/bot:1'), (svc) => {
      const meta = (svc['spec'] as { template: { metadata: Record<string, unknown> } }).template.metadata;
      meta['annotations'] = { ...(meta['annotations'] as object | undefined), 'client.knative.dev/user-image': HOME };
    });
    const findings = await imageFindings([deploy('2024-05-01T10:00:00Z', HOME), masked], cfg);
    expect(findings.map((f) => f.evidence['image'])).toEqual(['gcr.io/Attacker/bot:1']);
  });

  // System events logged without their containers fall back on the deployer-written user-image annotation; it must
  // not stand in for the image the write's containers name, any more than the write's own annotation does.
  it('fires: system events without containers, whose user-image annotation names a known image, do not hide the write\'s container image', async () => {
    const known = 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-source-deploy/cloud-run-slack-bot:latest';
    const [write, revisionEvent, serviceEvent] = JSON.parse(readFileSync(new URL('../../fixtures/synthetic-seq-console-deploy.json', import.meta.url), 'utf8')) as Json[];
    type Meta = { annotations: Record<string, string> };
    const revision = variant(revisionEvent!, (e) => {
      const response = e.protoPayload['response'] as { spec: Json; metadata: Meta };
      delete response.spec['containers'];
      response.metadata.annotations['client.knative.dev/user-image'] = known;
    });
    const service = variant(serviceEvent!, (e) => {
      const template = (e.protoPayload['response'] as { spec: { template: { spec: Json; metadata: Meta } } }).spec.template;
      delete template.spec['containers'];
      template.metadata.annotations['client.knative.dev/user-image'] = known;
    });
    const entries = [deploy('2024-05-01T10:00:00Z', known), withV1Containers(write!, [{ image: 'attacker/bot:1' }]), revision, service];
    const findings = await imageFindings(entries);
    expect(findings.map((f) => [f.evidence['image'], f.evidence['repository']])).toEqual([['attacker/bot:1', 'docker.io/attacker']]);
  });

  it('ignores: exempted service glob', async () => {
    const cfg = config({ rules: { 'new-image-repository': { exceptions: [{ service: 'test-project-1234/cloud-run-*' }] } } });
    expect(await imageFindings([deploy('2024-05-01T10:00:00Z', HOME), deploy('2024-05-02T10:00:00Z', 'attacker/bot:1')], cfg)).toEqual([]);
  });
});

describe('new-image-repository on a service with thousands of repositories', () => {
  it('lists at most KNOWN_REPOSITORIES_LISTED known repositories in each finding (the newest first seen), and says how many more', async () => {
    const { newImageRepository, KNOWN_REPOSITORIES_LISTED } = await import('../../../functions/detectors/new-image-repository.js');
    const { emptyBaseline } = await import('../../../functions/baseline/state.js');
    const repositories = Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`registry.example.com/team-${String(i).padStart(4, '0')}`, 1_000 + i]));
    const baseline = { ...emptyBaseline(), repositories, lastChangeMs: 3_000 };
    const images = Array.from({ length: 10 }, (_, i) => ({ reference: `evil.example.com/x${i}/app:1`, repository: `evil.example.com/x${i}`, name: `evil.example.com/x${i}/app`, tag: '1' }));
    const change = {
      kind: 'deploy', api: 'v2', operation: 'update', key: { logName: 'l', timestamp: '1970-01-01T00:00:10Z', insertId: 'i' }, time: '1970-01-01T00:00:10Z',
      timeMs: 10_000, methodName: 'google.cloud.run.v2.Services.UpdateService', client: {}, target: { project: 'p', location: 'l', service: 's' }, images, labels: {},
      templateFingerprint: 'v2:a-new-template', // the images are the template's: an update that sets them sets it
    } as const;
    const detections = newImageRepository.detect({ change, baseline, settings: config().rules['new-image-repository'], config: config() } as never);
    expect(detections).toHaveLength(10);
    for (const d of detections) {
      expect(d.evidence['knownRepositories']).toHaveLength(KNOWN_REPOSITORIES_LISTED);
      expect((d.evidence['knownRepositories'] as string[])[0]).toBe(`registry.example.com/team-${2_000 - KNOWN_REPOSITORIES_LISTED}`);
      expect(d.evidence['knownRepositoriesNotListed']).toBe(2_000 - KNOWN_REPOSITORIES_LISTED);
    }
    expect(JSON.stringify(detections).length).toBeLessThan(50_000);
  });
});

describe('new-image-repository when a service cycles through more repositories than the baseline keeps', () => {
  it('remembers the first REPOSITORY_LIMIT, keeps reporting the ones beyond it, and never forgets the home repository', async () => {
    const { REPOSITORY_LIMIT } = await import('../../../functions/baseline/state.js');
    const minute = (i: number): string => new Date(Date.parse('2024-05-01T10:00:00Z') + i * 60_000).toISOString();
    const flood = Array.from({ length: REPOSITORY_LIMIT + 5 }, (_, i) => deploy(minute(i + 1), `registry.example.com/flood-${i}/app:1`));
    const after = REPOSITORY_LIMIT + 10;
    const entries = [
      deploy(minute(0), HOME),
      ...flood,
      deploy(minute(after), 'registry.example.com/flood-0/app:2'), // remembered: not new
      deploy(minute(after + 1), `registry.example.com/flood-${REPOSITORY_LIMIT + 2}/app:2`), // beyond the cap: new again
      deploy(minute(after + 2), HOME), // the home repository stays known
    ];
    const findings = await imageFindings(entries);
    const repositories = findings.map((f) => f.evidence['repository']);
    // Every flood repository once (the home one is the first deploy's), plus the one beyond the cap a second time.
    expect(repositories).toHaveLength(REPOSITORY_LIMIT + 5 + 1);
    expect(repositories.filter((r) => r === `registry.example.com/flood-${REPOSITORY_LIMIT + 2}`)).toHaveLength(2);
    expect(repositories.filter((r) => r === 'registry.example.com/flood-0')).toHaveLength(1);
    expect(repositories).not.toContain('asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot');
  });
});

