// UpdateWorkerPool's `force_new_revision` makes a new revision from the template even when it did not change: the
// way to have a worker pool pull again what a mutable tag (`:latest`) now points to. Cloud Run made a revision, so it
// is a deploy (off-window, by whom), whatever the template's fingerprint says.
import { describe, expect, it } from 'vitest';
import { at, synthetic, variant, type Json } from '../support/entries.js';
import { config, findingsLive, findingsOf } from '../support/run.js';

const create = synthetic('workerpool-v2-CreateWorkerPool'); // 10:04, inside the window below

/** An UpdateWorkerPool at 10:42 (outside the window) writing the template `create` wrote, with `extra` in its request. */
function sameTemplateUpdate(extra: Json): Json {
  return variant(at(create, '2025-03-11T10:42:00Z'), (e) => {
    e.protoPayload['methodName'] = 'google.cloud.run.v2.WorkerPools.UpdateWorkerPool';
    const request = e.protoPayload['request'] as Record<string, any>;
    const pool = { ...request['workerPool'], name: 'projects/acme-prod/locations/us-central1/workerPools/queue-consumer' };
    e.protoPayload['request'] = { '@type': 'type.googleapis.com/google.cloud.run.v2.UpdateWorkerPoolRequest', workerPool: pool, ...extra };
  });
}

const cfg = config({ timezone: 'UTC', changeWindows: [{ days: ['tue'], start: '10:00', end: '10:10' }] });

describe('an UpdateWorkerPool of the same template', () => {
  const cases = [
    { name: 'with forceNewRevision', extra: { forceNewRevision: true }, deploy: true },
    { name: 'with force_new_revision (snake_case)', extra: { force_new_revision: true }, deploy: true },
    { name: 'with forceNewRevision and allowMissing (gcloud)', extra: { forceNewRevision: true, allowMissing: true }, deploy: true },
    { name: 'without it', extra: {}, deploy: false },
    { name: 'with forceNewRevision false', extra: { forceNewRevision: false }, deploy: false },
  ];
  it.each(cases)('$name: a deploy is $deploy', async ({ extra, deploy }) => {
    for (const run of [findingsOf, findingsLive]) {
      const findings = await run([create, sameTemplateUpdate(extra)], cfg);
      expect(findings.filter((f) => f.rule === 'off-window-deploy').map((f) => f.eventTime)).toEqual(deploy ? ['2025-03-11T10:42:00Z'] : []);
    }
  });
});
