// One service whose store transaction keeps failing (a document Firestore refuses: over 1 MiB, not a version 1
// baseline) must not stop the other services: neither the entries of other services (whose instance completes due
// rollouts first) nor the sweep's work on the other due services.
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { Delivery, TransactionOutcome } from '../../functions/baseline/store.js';
import type { ServiceBaseline } from '../../functions/baseline/state.js';
import type { Finding } from '../../functions/findings/finding.js';
import { Pipeline } from '../../functions/pipeline.js';
import { at, synthetic, variant, type Json } from '../support/entries.js';
import { config } from '../support/run.js';

class PoisonableStore extends MemoryBaselineStore {
  readonly poisoned = new Set<string>();
  override async transact<R>(key: string, fn: (current: ServiceBaseline | undefined) => TransactionOutcome<R>, delivery?: Delivery<R>): Promise<R> {
    if (this.poisoned.has(key)) throw new Error(`3 INVALID_ARGUMENT: document for ${key} is too large`);
    return super.transact(key, fn, delivery);
  }
}

function service(entry: Json, name: string): Json {
  return variant(entry, (e) => {
    const text = JSON.stringify(e).replaceAll('services/storefront', `services/${name}`).replaceAll('"service_name":"storefront"', `"service_name":"${name}"`);
    Object.assign(e, JSON.parse(text));
  });
}

describe('a service whose transactions keep failing', () => {
  const cfg = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }] });
  const t = Date.parse('2024-06-01T10:00:00.123456Z');
  const create = synthetic('v2-CreateService');
  const publish = (into: Finding[]) => async (f: readonly Finding[]): Promise<void> => void into.push(...f);

  it('does not fail the entries of other services on the instance that saw it', async () => {
    const store = new PoisonableStore();
    const pipeline = new Pipeline({ config: cfg, store, recentKeys: 0 });
    expect(await pipeline.handleEntry(service(create, 'poisoned'), t, publish([]))).toMatchObject({ note: 'waiting-for-rollout' });
    store.poisoned.add('acme-prod/europe-west1/poisoned');
    const published: Finding[] = [];
    const other = at(service(create, 'healthy'), '2024-06-01T10:20:00Z');
    // The poisoned service's rollout is due: it is tried first, and its failure is not this entry's.
    expect(await pipeline.handleEntry(other, t + 1_200_000, publish(published))).toMatchObject({ status: 'processed' });
    expect(await store.get('acme-prod/europe-west1/healthy')).toBeDefined();
  });

  it('the sweep completes every other due service, then reports the failure', async () => {
    const store = new PoisonableStore();
    const pipeline = new Pipeline({ config: cfg, store, recentKeys: 0 });
    await pipeline.handleEntry(service(create, 'poisoned'), t, publish([]));
    await pipeline.handleEntry(service(create, 'healthy'), t, publish([]));
    store.poisoned.add('acme-prod/europe-west1/poisoned');
    const published: Finding[] = [];
    await expect(pipeline.sweep(t + 900_000, publish(published))).rejects.toThrow('too large');
    expect(published.map((f) => `${f.rule} ${f.service}`)).toEqual(['off-window-deploy healthy']);
    expect((await store.get('acme-prod/europe-west1/healthy'))?.rollouts ?? []).toEqual([]);
  });
});
