// A worker pool's deploy findings must each get an id of their own. A client names a worker pool's revisions (v2
// `template.revision`, v1 `spec.template.metadata.name`), and a name is free again once that revision or the pool is
// deleted. A service's deploys keyed by revision are told apart by the rollouts the baseline records; a worker pool
// is judged at once and records none, so a later deploy under an earlier name must not get the earlier finding's id,
// which every sink has taken already and drops as a duplicate.
import { describe, expect, it } from 'vitest';
import { at, synthetic, variant, type Json } from '../support/entries.js';
import { config, findingsLive, findingsOf } from '../support/run.js';

const create = synthetic('workerpool-v2-CreateWorkerPool'); // 10:04
const gcloudDeploy = synthetic('workerpool-v2-UpdateWorkerPool-gcloud'); // 10:18
const hijack = synthetic('workerpool-v2-UpdateWorkerPool'); // 10:42, data-admin@, ghcr.io/attacker
const remove = synthetic('workerpool-v2-DeleteWorkerPool'); // 10:55

/** The entry with its template's revision named `name` (v2 `template.revision`). */
function revisionNamed(entry: Json, name: string): Json {
  return variant(entry, (e) => ((e.protoPayload['request'] as { workerPool: { template: Record<string, unknown> } }).workerPool.template['revision'] = name));
}

// Every deploy below is outside the window (Mondays only) and by no approved deployer.
const cfg = config({
  timezone: 'UTC',
  changeWindows: [{ days: ['mon'], start: '10:00', end: '10:10' }],
  rules: { 'unapproved-deployer': { allowedDeployers: ['user:nobody@acme.example'] } },
});

describe('a worker pool revision name used again', () => {
  const cases = [
    {
      name: 'the pool deleted and created again under the same revision name',
      entries: [revisionNamed(create, 'queue-consumer-r1'), remove, revisionNamed(at(create, '2025-03-11T11:00:00Z'), 'queue-consumer-r1')],
      deploys: 2,
    },
    {
      name: 'a revision deleted and its name used again by a later deploy of the pool',
      entries: [revisionNamed(create, 'queue-consumer-r1'), revisionNamed(gcloudDeploy, 'queue-consumer-r2'), revisionNamed(hijack, 'queue-consumer-r1')],
      deploys: 3,
    },
  ];
  it.each(cases)('$name: each deploy is its own finding', async ({ entries, deploys }) => {
    for (const run of [findingsOf, findingsLive]) {
      const findings = await run(entries, cfg);
      for (const rule of ['off-window-deploy', 'unapproved-deployer']) {
        const ids = findings.filter((f) => f.rule === rule && f.status !== 'resolved').map((f) => f.id);
        expect(ids, rule).toHaveLength(deploys);
        expect(new Set(ids).size, `${rule}: ids ${ids.join(', ')}`).toBe(deploys);
      }
    }
  });
});
