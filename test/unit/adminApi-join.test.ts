// The Admin API fallback reads the latest revision for one waiting write (the newest): what it read joins that
// write's rollout, never another one ranked first. Two deploys by one principal within the wait, nothing naming
// their revisions (v2 writes): the older deploy's image must still be judged as its own.
import { expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { DeployChange } from '../../functions/model/change.js';
import { Pipeline } from '../../functions/pipeline.js';
import { synthetic } from '../support/entries.js';
import { latestRevisionReader, v2Update } from '../support/adminApiReader.js';
import { config } from '../support/run.js';

const HOME = 'europe-west1-docker.pkg.dev/acme-prod/web/storefront:2';

it('a read made for the newest write joins that write, and the older deploy is judged with its own image', async () => {
  const reads: DeployChange[] = [];
  const reader = latestRevisionReader(HOME, reads);
  const cfg = config({ correlation: { adminApiFallback: { enabled: true, afterSeconds: 60 } } });
  const store = new MemoryBaselineStore();
  const pipeline = new Pipeline({ config: cfg, store, revisionReader: reader });
  const findings = [];
  const create = synthetic('v2-CreateService');
  const attacker = v2Update('2024-06-01T11:00:00Z', 'op-attacker', 'docker.io/attacker/storefront:latest');
  const home = v2Update('2024-06-01T11:00:30Z', 'op-home', HOME);
  for (const [entry, nowMs] of [[create, Date.parse('2024-06-01T10:00:01Z')], [attacker, Date.parse('2024-06-01T11:00:01Z')], [home, Date.parse('2024-06-01T11:00:31Z')]] as const) {
    const outcome = await pipeline.handleEntry(entry, nowMs);
    if (outcome.status === 'processed') findings.push(...outcome.findings);
  }
  const pass = await pipeline.readFromAdminApi(Date.parse('2024-06-01T11:02:30Z'));
  findings.push(...pass.findings, ...(await pipeline.flush()));
  expect(reads.map((w) => w.time)).toEqual(['2024-06-01T11:00:30Z']);
  const images = findings.filter((f) => f.rule === 'new-image-repository').map((f) => [f.eventTime, f.evidence['repository']]);
  expect(images).toEqual([['2024-06-01T11:00:00Z', 'docker.io/attacker']]);
  // A read is no system event: it must not make a later write across API versions read as "made no revision".
  expect((await store.get('acme-prod/europe-west1/storefront'))?.systemEventsSeen).toBeUndefined();
});
