// Claims taken over one after the other (each attempt's lease ran out, its sink may have sent): the newest is told
// when the first of them was made, so a sink looks for its earlier message from there (Slack's channel check).
import { describe, expect, it } from 'vitest';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';

describe('MemoryDeliveryRecordStore: a chain of taken-over claims', () => {
  it.each([
    ['a fresh claim', [1_000], { claimed: true }],
    ['one taken over', [1_000, 5_000], { claimed: true, takenOverFromMs: 1_000 }],
    ['one taken over from a claim that had taken over another', [1_000, 5_000, 9_000], { claimed: true, takenOverFromMs: 1_000 }],
  ])('%s', async (_name, times, expected) => {
    const store = new MemoryDeliveryRecordStore(() => 0);
    let last: unknown;
    for (const nowMs of times) last = await store.claim('slack', 'f1', nowMs, 1_000);
    expect(last).toEqual(expected);
  });

  it('a released claim starts the chain afresh', async () => {
    const store = new MemoryDeliveryRecordStore(() => 0);
    await store.claim('slack', 'f1', 1_000, 1_000);
    await store.claim('slack', 'f1', 5_000, 1_000);
    await store.release('slack', 'f1');
    expect(await store.claim('slack', 'f1', 9_000, 1_000)).toEqual({ claimed: true });
  });

  it('an expired claim (expire) is kept, and the next claim takes it over told when the first was made', async () => {
    const store = new MemoryDeliveryRecordStore(() => 0);
    await store.claim('slack', 'f1', 1_000, 1_000);
    await store.claim('slack', 'f1', 5_000, 60_000);
    expect(await store.claim('slack', 'f1', 6_000, 60_000)).toMatchObject({ claimed: false });
    await store.expire('slack', 'f1');
    expect(await store.claim('slack', 'f1', 6_000, 60_000)).toEqual({ claimed: true, takenOverFromMs: 1_000 });
    await store.complete('slack', 'f1', 'delivered');
    await store.expire('slack', 'f1');
    expect(await store.get('slack', 'f1')).toMatchObject({ state: 'delivered' });
  });
});
