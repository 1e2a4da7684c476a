// Provenance on findings: commit and pipeline from the labels `provenanceLabels` names, else a commit from the image
// tag, only when the tag looks like a commit id (Cloud Build tags with `$SHORT_SHA` or `$COMMIT_SHA`), never a date or a number.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { at, corpus, deleteServiceAt, editV1Services, SLACK_BOT, synthetic, variant, withOperationId, withV1Containers, withV1Image } from '../support/entries.js';
import { config, findingsOf } from '../support/run.js';
import { provenanceLabelsKey, provenanceLabelsOf, provenanceLabelTexts } from '../../functions/findings/enrich.js';

const EAGER = config({ timezone: 'UTC', changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }] });

/** The gcloud fixture deploying `image`, without its provenance labels (a deploy that is not Cloud Build's). */
function unlabelledDeploy(image: string) {
  const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
    const labels = (svc['metadata'] as Record<string, unknown>)['labels'] as Record<string, string>;
    delete labels['commit-sha'];
    delete labels['gcb-build-id'];
  });
  return at(withOperationId(withV1Image(entry, image), 'op-1'), '2024-05-04T10:00:00Z');
}

async function provenanceOfDeploy(image: string) {
  const findings = await findingsOf([unlabelledDeploy(image)], EAGER);
  expect(findings.map((f) => f.rule)).toEqual(['off-window-deploy']);
  return findings[0]!.provenance;
}

const REPO = 'gcr.io/power-choosers-crm/power-choosers-crm';

describe('commit from an image tag', () => {
  it('a full commit id (the tag of the real Cloud Build deploy in powerchoosers__Services.ReplaceService__1) is the commit', async () => {
    const image = corpus('powerchoosers__Services.ReplaceService__1') as { protoPayload: { request: { service: { spec: { template: { spec: { containers: { image: string }[] } } } } } } };
    const real = image.protoPayload.request.service.spec.template.spec.containers[0]!.image;
    expect(real).toBe(`${REPO}:adf44bbf9bff2e8b9af6a9891c235622eada20fe`);
    expect(await provenanceOfDeploy(real)).toEqual({ commit: 'adf44bbf9bff2e8b9af6a9891c235622eada20fe', sources: { commit: 'image-tag' } });
  });

  it.each([
    ["a 7-digit short id (Cloud Build's $SHORT_SHA)", '1f2e3d4'],
    ['a 12-digit short id', '1f2e3d4c5b6a'],
    ['39 hex digits', 'adf44bbf9bff2e8b9af6a9891c235622eada20f'],
  ])('%s as the tag is the commit, said to come from the tag', async (_name, tag) => {
    expect(await provenanceOfDeploy(`${REPO}:${tag}`)).toEqual({ commit: tag, sources: { commit: 'image-tag' } });
  });

  it.each([
    ['a date', '20240501'],
    ['a build number', '1234567'],
    ['a word spelt in hex', 'deadbeef'],
    ['a version of hex digits only', '1000000000'],
    ['a short id of digits only (unconfirmed: left unknown)', '1234560'],
    ['too short', 'a1b2c3'],
    ['41 hex digits', 'adf44bbf9bff2e8b9af6a9891c235622eada20fe1'],
    ['upper-case hex (git writes lower case)', 'ADF44BB'],
    ['a sha256 content digest written as a tag', 'ab12'.repeat(16)],
  ])('%s as the tag is not a commit', async (_name, tag) => {
    expect(await provenanceOfDeploy(`${REPO}:${tag}`)).toEqual({});
  });
});

/** The gcloud fixture (no provenance labels) deploying `containers` (a multi-container revision: sidecars). */
function unlabelledMultiContainer(containers: readonly Record<string, unknown>[]) {
  return withV1Containers(unlabelledDeploy(`${REPO}:latest`), containers);
}

/** The v2 CreateService fixture without its template's provenance labels, its service changed by `edit`. */
function variantOfV2(edit: (service: Record<string, unknown>) => void) {
  return variant(synthetic('v2-CreateService'), (e) => {
    const service = (e.protoPayload['request'] as Record<string, Record<string, unknown>>)['service']!;
    delete (service['template'] as Record<string, unknown>)['labels'];
    edit(service);
  });
}

describe('commit from the serving container\'s image tag, not a sidecar\'s', () => {
  const PORTS = [{ containerPort: 8080, name: 'http1' }];
  const SIDECAR = 'us-docker.pkg.dev/acme/tools/collector:9f8e7d6c5b4a';

  it.each<[string, readonly Record<string, unknown>[], object]>([
    ['the sidecar first, tagged with its own commit; the serving container tagged with one too', [{ image: SIDECAR }, { image: `${REPO}:0a1b2c3d4e5f`, ports: PORTS }], { commit: '0a1b2c3d4e5f', sources: { commit: 'image-tag' } }],
    ['the sidecar tagged with a commit, the serving container with a version: no commit', [{ image: SIDECAR }, { image: `${REPO}:v1.4.2`, ports: PORTS }], {}],
    ['the serving container first, the sidecar after it', [{ image: `${REPO}:v1.4.2`, ports: PORTS }, { image: SIDECAR }], {}],
    ['one container, without ports (the default port): it serves', [{ image: `${REPO}:0a1b2c3d4e5f` }], { commit: '0a1b2c3d4e5f', sources: { commit: 'image-tag' } }],
  ])('%s', async (_name, containers, provenance) => {
    const findings = await findingsOf([unlabelledMultiContainer(containers)], EAGER);
    expect(findings.map((f) => f.rule)).toEqual(['off-window-deploy']);
    expect(findings[0]!.provenance).toEqual(provenance);
  });

  it('the multi-container fixture: the commit is the serving container\'s tag, the sidecar listed first is said apart', async () => {
    const findings = await findingsOf([synthetic('v2-UpdateService-sidecar')], config({ rules: { 'new-image-repository': { trustedRepositories: ['europe-west1-docker.pkg.dev/acme-prod/*'] } } }));
    // No change windows configured: the sidecar's repository is the one finding.
    expect(findings.map((f) => [f.rule, f.provenance.commit, f.evidence['sidecar']])).toEqual([['new-image-repository', '4c5d6e7f8a9b', true]]);
  });

  it('v2: the container with ports serves', async () => {
    const entry = variantOfV2((service) => {
      (service['template'] as Record<string, unknown>)['containers'] = [{ image: SIDECAR }, { image: `${REPO}:v1.4.2`, ports: [{ containerPort: 8080 }] }];
    });
    const findings = await findingsOf([entry], EAGER);
    expect(findings.map((f) => f.rule)).toContain('off-window-deploy');
    expect(findings.find((f) => f.rule === 'off-window-deploy')!.provenance).toEqual({});
  });
});

describe('provenance labels', () => {
  it('a console deploy with no labels: no provenance, no labels', async () => {
    const findings = await findingsOf([corpus('kktae-demo__Services.CreateService__1')], EAGER);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ labels: {}, provenance: {} });
  });
});

// A service label stays on the service from deploy to deploy (a console or script deploy keeps the labels an earlier
// Cloud Build deploy set on the service): the revision's own provenance labels come first, whatever their name.
describe('revision labels before service labels', () => {
  const NEW = '0123456789abcdef0123456789abcdef01234567';

  it('v1: a commit label in the template wins over another commit label on the service', async () => {
    // The gcloud fixture carries commit-sha and gcb-build-id on the service (Cloud Build's labels).
    const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
      const template = (svc['spec'] as Record<string, Record<string, Record<string, unknown>>>)['template']!['metadata']!;
      template['labels'] = { ...(template['labels'] as Record<string, string>), 'git-commit': NEW, 'pipeline-id': 'run-42' };
    });
    const findings = await findingsOf([at(entry, '2024-05-04T10:00:00Z')], EAGER);
    expect(findings[0]?.labels).toMatchObject({ 'commit-sha': '1f2e3d4c5b6a7980a1b2c3d4e5f60718293a4b5c', 'git-commit': NEW, 'pipeline-id': 'run-42' });
    expect(findings[0]?.provenance).toEqual({ commit: NEW, pipeline: 'run-42', sources: { commit: 'label:git-commit', pipeline: 'label:pipeline-id' } });
  });

  it('v2: template.labels win over service labels', async () => {
    const entry = synthetic('v2-UpdateService') as { protoPayload: { request: { service: { labels: Record<string, string>; template: { labels: Record<string, string> } } } } };
    const service = entry.protoPayload.request.service;
    service.labels = { ...service.labels, 'commit-sha': 'ffffffffffffffffffffffffffffffffffffffff', 'build-id': 'stale-build' };
    service.template.labels = { commit: NEW, 'gcb-build-id': 'b-1234' };
    const findings = await findingsOf([entry], EAGER);
    const offWindow = findings.find((f) => f.rule === 'off-window-deploy');
    expect(offWindow?.provenance).toEqual({ commit: NEW, pipeline: 'b-1234', sources: { commit: 'label:commit', pipeline: 'label:gcb-build-id' } });
  });

  it("system events: the rolled-out revision's label wins over the write's service label", async () => {
    const entries = (JSON.parse(readFileSync(new URL('../fixtures/synthetic-seq-gcloud-double-write.json', import.meta.url), 'utf8')) as Record<string, unknown>[]).map((entry) => {
      if (entry['insertId'] !== 'syn-rev-24') return entry;
      const copy = structuredClone(entry) as { protoPayload: { response: { metadata: { labels: Record<string, string> } } } };
      copy.protoPayload.response.metadata.labels['git-commit'] = NEW;
      return copy;
    });
    const findings = await findingsOf(entries, EAGER);
    const deploy = findings.find((f) => f.rule === 'off-window-deploy');
    expect(deploy?.provenance.commit).toBe(NEW);
    expect(deploy?.provenance.sources?.['commit']).toBe('label:git-commit');
  });

  it('service labels still count when the revision has none (the real Cloud Build deploy puts gcb-trigger-id on the service only)', async () => {
    const findings = await findingsOf([at(synthetic('v1-ReplaceService-gcloud'), '2024-05-04T10:00:00Z')], EAGER);
    expect(findings[0]?.provenance).toEqual({
      commit: '1f2e3d4c5b6a7980a1b2c3d4e5f60718293a4b5c',
      pipeline: '5c1b2a3d-0000-4000-8000-000000000001',
      sources: { commit: 'label:commit-sha', pipeline: 'label:gcb-build-id' },
    });
  });
});

// A deploy that sets no labels (the console, `gcloud run deploy` without `--labels`) keeps the service's and the
// template's labels as they were: those of the Cloud Build run that deployed before it. Named as this deploy's
// commit and pipeline, they would vouch for a hand-made revision with that build's name.
describe('provenance labels unchanged since the previous deploy', () => {
  const COMMIT = '1f2e3d4c5b6a7980a1b2c3d4e5f60718293a4b5c';
  const BUILD = '5c1b2a3d-0000-4000-8000-000000000001';
  const IMAGE = 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot/cloud-run-slack-bot';

  /** The gcloud fixture at `time`, deploying `image`, its Cloud Build labels set to `labels` (absent: removed). */
  function deploy(time: string, image: string, labels: { commit?: string; build?: string }) {
    const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
      const meta = svc['metadata'] as Record<string, Record<string, string>>;
      const { 'commit-sha': _commit, 'gcb-build-id': _build, ...rest } = meta['labels']!;
      meta['labels'] = { ...rest, ...(labels.commit ? { 'commit-sha': labels.commit } : {}), ...(labels.build ? { 'gcb-build-id': labels.build } : {}) };
    });
    return at(withOperationId(withV1Image(entry, image), `op-${time}`), time);
  }

  const ciDeploy = deploy('2024-05-04T10:00:00Z', `${IMAGE}:1f2e3d4c5b6a`, { commit: COMMIT, build: BUILD });

  it('a later deploy carrying the same commit and build labels gets no commit or pipeline from them, and says why', async () => {
    const manual = deploy('2024-05-04T11:00:00Z', `${IMAGE}:hotfix`, { commit: COMMIT, build: BUILD });
    const [first, second] = await findingsOf([ciDeploy, manual], EAGER);
    expect(first?.provenance).toMatchObject({ commit: COMMIT, pipeline: BUILD });
    expect(second?.provenance).toEqual({});
    expect(second?.evidence['unchangedProvenanceLabels']).toEqual([`commit-sha=${COMMIT}`, `gcb-build-id=${BUILD}`]);
    expect(second?.summary).toContain('unchanged since the previous deploy');
    expect(second?.labels).toMatchObject({ 'commit-sha': COMMIT, 'gcb-build-id': BUILD }); // the labels themselves stay
  });

  it('the commit then comes from the image tag when the new image is tagged with one', async () => {
    const manual = deploy('2024-05-04T11:00:00Z', `${IMAGE}:0a1b2c3d4e5f`, { commit: COMMIT, build: BUILD });
    const findings = await findingsOf([ciDeploy, manual], EAGER);
    expect(findings[1]?.provenance).toEqual({ commit: '0a1b2c3d4e5f', sources: { commit: 'image-tag' } });
  });

  it.each<[string, { commit: string; build?: string }]>([
    ['a new build of the same commit (a re-run)', { commit: COMMIT, build: 'b-2' }],
    ['a new commit and build', { commit: 'aaaaaaa1111111', build: 'b-2' }],
    ['a new commit label where there was none', { commit: 'aaaaaaa1111111' }],
  ])('%s is the deploy\'s own provenance', async (_name, labels) => {
    const next = deploy('2024-05-04T11:00:00Z', `${IMAGE}:latest`, labels);
    const findings = await findingsOf([ciDeploy, next], EAGER);
    expect(findings[1]?.provenance).toMatchObject({ commit: labels.commit, ...(labels.build ? { pipeline: labels.build } : {}) });
    expect(findings[1]?.evidence['unchangedProvenanceLabels']).toBeUndefined();
  });

  it('a service\'s first deploy, or the first after the service was deleted, has nothing to be unchanged from', async () => {
    const again = deploy('2024-05-04T12:00:00Z', `${IMAGE}:latest`, { commit: COMMIT, build: BUILD });
    const findings = await findingsOf([ciDeploy, deleteServiceAt('2024-05-04T11:00:00Z', SLACK_BOT), again], EAGER);
    const deploys = findings.filter((f) => f.rule === 'off-window-deploy');
    expect(deploys.map((f) => f.provenance.pipeline)).toEqual([BUILD, BUILD]);
  });

  it("Cloud Build's trigger label (the same on every deploy of the trigger) is never taken for left over", async () => {
    // The real Cloud Build deploy (powerchoosers): gcb-trigger-id on the service, the commit in the image tag.
    const triggerOnly = (time: string, tag: string) =>
      editV1Services(deploy(time, `${IMAGE}:${tag}`, {}), (svc) => {
        (svc['metadata'] as Record<string, Record<string, string>>)['labels']!['gcb-trigger-id'] = 't-9';
      });
    const findings = await findingsOf([triggerOnly('2024-05-04T10:00:00Z', '1a2b3c4d5e6f'), triggerOnly('2024-05-04T11:00:00Z', '0a1b2c3d4e5f')], EAGER);
    expect(findings[1]?.provenance).toEqual({ commit: '0a1b2c3d4e5f', pipeline: 'trigger:t-9', sources: { commit: 'image-tag', pipeline: 'label:gcb-trigger-id' } });
    expect(findings[1]?.evidence['unchangedProvenanceLabels']).toBeUndefined();
  });

  it('a commit label unchanged beside the trigger label: both left out (the labels were not written)', async () => {
    const labelled = (time: string) =>
      editV1Services(deploy(time, `${IMAGE}:build-${time}`, { commit: COMMIT }), (svc) => {
        (svc['metadata'] as Record<string, Record<string, string>>)['labels']!['gcb-trigger-id'] = 't-9';
      });
    const findings = await findingsOf([labelled('2024-05-04T10:00:00Z'), labelled('2024-05-04T11:00:00Z')], EAGER);
    expect(findings[1]?.provenance).toEqual({});
    expect(findings[1]?.evidence['unchangedProvenanceLabels']).toEqual([`commit-sha=${COMMIT}`]);
  });

  it('compares with the deploy before it in time, whichever arrives first', async () => {
    const earlier = deploy('2024-05-04T09:00:00Z', `${IMAGE}:latest`, { commit: 'aaaaaaa1111111', build: 'b-0' });
    const manual = deploy('2024-05-04T11:00:00Z', `${IMAGE}:hotfix`, { commit: COMMIT, build: BUILD });
    // The 09:00 deploy arrives last: the 11:00 one is still compared with the 10:00 one.
    const findings = await findingsOf([ciDeploy, manual, earlier], EAGER);
    const byTime = new Map(findings.map((f) => [f.eventTime, f]));
    expect(byTime.get('2024-05-04T11:00:00Z')?.provenance).toEqual({});
    expect(byTime.get('2024-05-04T09:00:00Z')?.provenance).toMatchObject({ pipeline: 'b-0' });
  });
});

describe('provenanceLabelsKey: what the baseline keeps of each deploy', () => {
  const cfg = config();
  it.each<[string, Record<string, string>, Record<string, string> | undefined]>([
    ['none', { 'managed-by': 'x' }, undefined],
    ['commit and build on the service', { 'commit-sha': 'abc1234', 'gcb-build-id': 'b-1' }, {}],
    ['the revision overrides the service', { 'commit-sha': 'abc1234', 'git-commit': 'def5678', 'gcb-build-id': 'b-1' }, { 'git-commit': 'def5678' }],
    ['the trigger stands for the pipeline', { 'commit-sha': 'abc1234', 'gcb-trigger-id': 't-9' }, undefined],
    ['only a pipeline', { 'build-id': 'b-2' }, {}],
    ['empty values count as absent', { 'commit-sha': '', commit: 'c0ffee1', 'gcb-build-id': '' }, { 'commit-sha': '' }],
  ])('%s: the texts provenance reads, one per line', (_name, labels, revisionLabels) => {
    const merged = { ...labels, ...revisionLabels };
    expect(provenanceLabelsKey(merged, revisionLabels, cfg)).toBe(provenanceLabelTexts(provenanceLabelsOf(merged, revisionLabels, cfg)).join('\n'));
  });
});
