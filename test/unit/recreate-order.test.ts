// Arrival order around a delete changes nothing: a deploy of the deleted service delivered after the delete still
// joins the history that carries across it (runtime service account, repositories), so the re-created service gets
// the findings it gets in time order (a late delivery used to hide a re-created service's new identity and image).
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { Finding } from '../../functions/findings/finding.js';
import { Pipeline } from '../../functions/pipeline.js';
import { at, corpus, deleteServiceAt, variant, withOperationId, withV1Image, withV1ServiceAccount, type Json } from '../support/entries.js';
import { config } from '../support/run.js';

const create = corpus('panther__Services.CreateService__1'); // 2024-02-02T09:43:54Z, abc-test@
const ORIGINAL_IMAGE = 'us-west1-docker.pkg.dev/some-project/abc-test/run_services_create_test';
function deleteAt(timestamp: string): Json {
  return deleteServiceAt(timestamp, { project: 'some-project', location: 'us-west1', service: 'cloudrun-exfil' });
}
function deployAt(timestamp: string, method: string, account: string, image: string): Json {
  const revision = `cloudrun-exfil-00002-${timestamp.replace(/\D/g, '').slice(-3)}`;
  const renamed = variant(create, (e) => {
    e.protoPayload['methodName'] = method;
    for (const service of [(e.protoPayload['request'] as { service: unknown }).service, e.protoPayload['response']]) {
      (service as { spec: { template: { metadata: { name: string } } } }).spec.template.metadata.name = revision;
    }
  });
  return at(withOperationId(withV1Image(withV1ServiceAccount(renamed, account), image), `op-${timestamp}`), timestamp);
}
const SA_A = 'abc-test@some-project.iam.gserviceaccount.com';
const SA_I = 'intruder@some-project.iam.gserviceaccount.com';

async function run(entries: Json[]): Promise<string[]> {
  const store = new MemoryBaselineStore();
  const pipeline = new Pipeline({ config: config(), store, recentKeys: 0 });
  const out: Finding[] = [];
  let now = Date.parse('2030-01-01T00:00:00Z');
  for (const e of entries) {
    const o = await pipeline.handleEntry(e, (now += 3_600_000));
    if (o.status === 'processed') out.push(...o.findings);
    out.push(...(await pipeline.sweep((now += 3_600_000))));
  }
  return out
    .filter((f) => f.rule === 'service-account-change' || f.rule === 'new-image-repository')
    .map((f) => `${f.status === 'resolved' ? 'resolved ' : ''}${f.rule} ${f.eventTime} ${String(f.evidence['before'] ?? f.evidence['repository'])}->${String(f.evidence['after'] ?? '')}`);
}

describe('arrival order around a delete', () => {
  const replace = deployAt('2024-02-02T12:00:00Z', 'google.cloud.run.v1.Services.ReplaceService', SA_I, 'docker.io/other/img:1');
  const del = deleteAt('2024-02-03T10:00:00Z');
  const recreate = deployAt('2024-02-03T10:05:00Z', 'google.cloud.run.v1.Services.CreateService', SA_A, ORIGINAL_IMAGE);
  it('in time order vs. the pre-delete ReplaceService arriving after the delete', async () => {
    const inOrder = await run([create, replace, del, recreate]);
    const late = await run([create, del, replace, recreate]);
    // The same findings either way: the runtime identity carries across the delete, and so does the 12:00 change of
    // it, open however late it came; the move back to abc-test@ resolves it.
    expect(inOrder[2]).toBe(`resolved service-account-change 2024-02-02T12:00:00Z ${SA_A}->${SA_I}`);
    expect(late).toEqual(inOrder);
  });

  it('evasion: the whole pre-delete history arrives after the delete', async () => {
    const attacker = deployAt('2024-02-03T10:05:00Z', 'google.cloud.run.v1.Services.CreateService', SA_I, 'docker.io/attacker/exfil:1');
    const inOrder = await run([create, del, attacker]);
    const late = await run([del, create, attacker]);
    expect(late).toEqual(inOrder);
  });
  it('false positive: a pre-delete deploy from repo Y arriving after the delete, then the re-created service on Y', async () => {
    const y = deployAt('2024-02-02T12:00:00Z', 'google.cloud.run.v1.Services.ReplaceService', SA_A, 'ghcr.io/acme-y/app:1');
    const recreateY = deployAt('2024-02-03T10:05:00Z', 'google.cloud.run.v1.Services.CreateService', SA_A, 'ghcr.io/acme-y/app:2');
    const inOrder = await run([create, y, del, recreateY]);
    const late = await run([create, del, y, recreateY]);
    expect(late).toEqual(inOrder);
  });
});
