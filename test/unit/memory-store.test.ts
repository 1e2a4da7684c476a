// The memory store with a publish hook awaits between its read and its write (the live pipeline in local mode):
// two concurrent entries for one service must not read the same baseline and lose one's update.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { emptyBaseline } from '../../functions/baseline/state.js';
import type { Delivery } from '../../functions/baseline/store.js';
import { makeFinding } from '../support/findings.js';

/** A delivery of one finding per transaction, done by `deliver`. */
function delivering<R>(deliver: () => Promise<void>): Delivery<R> {
  const finding = makeFinding('public-invoker-grant');
  return { findingsOf: () => [finding], deliver };
}

/** A transaction that counts itself in lastChangeMs and publishes slowly. */
function increment(store: MemoryBaselineStore, key: string, publishMs: number): Promise<number> {
  return store.transact(
    key,
    (current) => {
      const next = { ...(current ?? emptyBaseline()), lastChangeMs: (current?.lastChangeMs ?? 0) + 1 };
      return { next, result: next.lastChangeMs };
    },
    delivering(() => sleep(publishMs)),
  );
}

describe('MemoryBaselineStore with a publish hook', () => {
  it('runs concurrent transactions on one key one after the other: no update is lost', async () => {
    const store = new MemoryBaselineStore();
    const results = await Promise.all([increment(store, 'p/l/s', 20), increment(store, 'p/l/s', 5), increment(store, 'p/l/s', 1)]);
    expect(results).toEqual([1, 2, 3]);
    expect((await store.get('p/l/s'))?.lastChangeMs).toBe(3);
  });

  it('runs transactions on different keys side by side', async () => {
    const store = new MemoryBaselineStore();
    let active = 0;
    let most = 0;
    const publish = async (): Promise<void> => {
      most = Math.max(most, ++active);
      await sleep(10);
      active--;
    };
    await Promise.all(Array.from({ length: 5 }, (_, i) => store.transact(`p/l/s${i}`, () => ({ next: emptyBaseline(), result: i }), delivering(publish))));
    expect(most).toBe(5);
  });

  it('a failed publish stores nothing and lets the next transaction in', async () => {
    const store = new MemoryBaselineStore();
    const failing = store.transact('k', () => ({ next: { ...emptyBaseline(), lastChangeMs: 9 }, result: 9 }), delivering(() => Promise.reject(new Error('publish failed'))));
    await expect(failing).rejects.toThrow('publish failed');
    expect(await store.get('k')).toBeUndefined();
    expect(await increment(store, 'k', 1)).toBe(1);
  });
});

describe('MemoryBaselineStore delivery', () => {
  it('delivers nothing when a transaction has no findings', async () => {
    const store = new MemoryBaselineStore();
    let calls = 0;
    await store.transact('k', () => ({ next: emptyBaseline(), result: 0 }), { findingsOf: () => [], deliver: async () => void calls++ });
    expect(calls).toBe(0);
    expect(await store.get('k')).toEqual(emptyBaseline());
  });
});
