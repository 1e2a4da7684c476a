// Provenance on findings: commit and pipeline from the labels `provenanceLabels` names, else a commit from the image
// tag, only when the tag is a commit id (Cloud Build tags with `$COMMIT_SHA`, 40 hex digits), never any hex-looking tag.
import { describe, expect, it } from 'vitest';
import { at, corpus, editV1Services, synthetic, withOperationId, withV1Image } from '../support/entries.js';
import { config, findingsOf } from '../support/run.js';

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
    ['a date', '20240501'],
    ['a build number', '1234567'],
    ['a word spelt in hex', 'deadbeef'],
    ['a version of hex digits only', '1000000000'],
    ['a short commit id, unconfirmed (any 7 hex digits)', '1f2e3d4'],
    ['a 12-digit short id', '1f2e3d4c5b6a'],
    ['39 hex digits', 'adf44bbf9bff2e8b9af6a9891c235622eada20f'],
    ['a sha256 content digest written as a tag', 'a'.repeat(64)],
  ])('%s as the tag is not a commit', async (_name, tag) => {
    expect(await provenanceOfDeploy(`${REPO}:${tag}`)).toEqual({});
  });
});

describe('provenance labels', () => {
  it('a console deploy with no labels: no provenance, no labels', async () => {
    const findings = await findingsOf([corpus('kktae-demo__Services.CreateService__1')], EAGER);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ labels: {}, provenance: {} });
  });
});
