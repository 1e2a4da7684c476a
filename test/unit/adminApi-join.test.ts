// The Admin API fallback reads the latest revision for one waiting write (the newest): what it read joins that
// write's rollout, never another one ranked first. Two deploys by one principal within the wait, nothing naming
// their revisions (v2 writes): the older deploy's image must still be judged as its own.
import { expect, it } from 'vitest';
import { parseImage } from '../../functions/audit/image.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { ADMIN_API_LOG_NAME, type RevisionReader } from '../../functions/correlate/adminApi.js';
import type { DeployChange } from '../../functions/model/change.js';
import { Pipeline } from '../../functions/pipeline.js';
import { at, synthetic, variant, type Json } from '../support/entries.js';
import { config } from '../support/run.js';

const HOME = 'europe-west1-docker.pkg.dev/acme-prod/web/storefront:2';

/** The v2 update at `timestamp` with its own operation and this image. */
function update(timestamp: string, operation: string, image: string): Json {
  return variant(at(synthetic('v2-UpdateService'), timestamp), (e) => {
    (e.protoPayload['response'] as Json)['name'] = `projects/acme-prod/locations/europe-west1/operations/${operation}`;
    const template = ((e.protoPayload['request'] as Json)['service'] as Json)['template'] as { containers: { image: string }[] };
    template.containers[0]!.image = image;
  });
}

it('a read made for the newest write joins that write, and the older deploy is judged with its own image', async () => {
  const reads: DeployChange[] = [];
  const reader: RevisionReader = {
    async read(write, nowMs) {
      reads.push(write);
      const time = new Date(nowMs).toISOString();
      return {
        kind: 'revision',
        observation: {
          key: { logName: ADMIN_API_LOG_NAME, timestamp: time, insertId: 'admin-api-read-1' },
          time,
          timeMs: nowMs,
          level: 'revision',
          target: write.target,
          revision: 'storefront-00003-abc',
          ready: true,
          images: [parseImage(HOME)!],
          labels: {},
          deleting: false,
          managedByCloudFunctions: false,
          creator: write.principal?.id,
        },
      };
    },
    close: async () => undefined,
  };
  const cfg = config({ correlation: { adminApiFallback: { enabled: true, afterSeconds: 60 } } });
  const store = new MemoryBaselineStore();
  const pipeline = new Pipeline({ config: cfg, store, revisionReader: reader });
  const findings = [];
  const create = synthetic('v2-CreateService');
  const attacker = update('2024-06-01T11:00:00Z', 'op-attacker', 'docker.io/attacker/storefront:latest');
  const home = update('2024-06-01T11:00:30Z', 'op-home', HOME);
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
