// The live pipeline publishes findings inside the store transaction that records them: a failed publish leaves the
// entry unapplied, so its redelivery raises the same findings instead of losing them.
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { Finding } from '../../functions/findings/finding.js';
import { Pipeline } from '../../functions/pipeline.js';
import { synthetic } from '../support/entries.js';
import { config } from '../support/run.js';

describe('publishing before the baseline is stored', () => {
  it('a failed publish loses nothing: the redelivery raises and publishes the same finding', async () => {
    const store = new MemoryBaselineStore();
    const pipeline = new Pipeline({ config: config(), store });
    const grant = synthetic('run-SetIamPolicy-allUsers');
    const failing = async (): Promise<void> => {
      throw new Error('Pub/Sub unavailable');
    };
    await expect(pipeline.handleEntry(grant, 0, failing)).rejects.toThrow('Pub/Sub unavailable');
    expect(store.size).toBe(0); // nothing stored: the entry is not applied

    const published: Finding[] = [];
    const outcome = await pipeline.handleEntry(grant, 0, async (f) => void published.push(...f));
    expect(outcome).toMatchObject({ status: 'processed' });
    expect(published.map((f) => f.rule)).toEqual(['public-invoker-grant']);

    // Once applied and published, a further copy is a duplicate and publishes nothing.
    const again: Finding[] = [];
    expect(await new Pipeline({ config: config(), store }).handleEntry(grant, 0, async (f) => void again.push(...f))).toEqual({ status: 'duplicate' });
    expect(again).toEqual([]);
  });

  it('a sweep whose publish fails leaves the rollout waiting for the next sweep', async () => {
    const store = new MemoryBaselineStore();
    const cfg = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }] });
    const pipeline = new Pipeline({ config: cfg, store });
    const create = synthetic('v2-CreateService');
    const t = Date.parse('2024-06-01T10:00:00.123456Z');
    expect(await pipeline.handleEntry(create, t)).toMatchObject({ status: 'processed', findings: [], note: 'waiting-for-rollout' });
    await expect(pipeline.sweep(t + 600_000, async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    const published: Finding[] = [];
    await pipeline.sweep(t + 900_000, async (f) => void published.push(...f));
    expect(published.map((f) => f.rule)).toEqual(['off-window-deploy']);
  });
});
