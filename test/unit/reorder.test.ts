// The reorder buffer must emit exactly what a plain priority queue of the same capacity emits, and count as late
// exactly the items emitted after a newer one: whatever mix of ordered runs and stragglers comes in.
import { describe, expect, it } from 'vitest';
import { random } from '../../bench/generate.js';
import { ReorderBuffer } from '../../functions/replay/reorder.js';

interface Item {
  readonly sortKey: number;
  readonly seq: number;
}

/** The reference: a sorted array (insertion in place) as the queue, the same capacity rule. */
function reference(keys: readonly number[], capacity: number): { order: number[]; late: number } {
  const held: Item[] = [];
  const order: number[] = [];
  let last = -Infinity;
  let late = 0;
  const insert = (item: Item): void => {
    let lo = 0;
    let hi = held.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = held[mid]!;
      if (m.sortKey < item.sortKey || (m.sortKey === item.sortKey && m.seq < item.seq)) lo = mid + 1;
      else hi = mid;
    }
    held.splice(lo, 0, item);
  };
  const popMin = (): void => {
    const top = held.shift()!;
    if (top.sortKey < last) late++;
    else last = top.sortKey;
    order.push(top.seq);
  };
  keys.forEach((sortKey, seq) => {
    insert({ sortKey, seq });
    if (held.length > capacity) popMin();
  });
  while (held.length > 0) popMin();
  return { order, late };
}

function actual(keys: readonly number[], capacity: number): { order: number[]; late: number } {
  const buffer = new ReorderBuffer<Item>(capacity);
  const order: number[] = [];
  keys.forEach((sortKey, seq) => {
    const out = buffer.push({ sortKey, seq });
    if (out) order.push(out.seq);
  });
  for (let out = buffer.pop(); out; out = buffer.pop()) order.push(out.seq);
  return { order, late: buffer.lateCount };
}

function sequence(kind: string, n: number, seed: number): number[] {
  const next = random(seed);
  switch (kind) {
    case 'in order':
      return Array.from({ length: n }, (_, i) => i);
    case 'reversed':
      return Array.from({ length: n }, (_, i) => n - i);
    case 'equal keys':
      return Array.from({ length: n }, () => 7);
    case 'jittered':
      return Array.from({ length: n }, (_, i) => i + Math.floor(next() * 40) - 20);
    case 'stragglers':
      return Array.from({ length: n }, (_, i) => (next() < 0.05 ? i - Math.floor(next() * 500) : i));
    case 'two files interleaved':
      return Array.from({ length: n }, (_, i) => (i % 2 === 0 ? i : i - n / 2));
    default:
      return Array.from({ length: n }, () => Math.floor(next() * 1000));
  }
}

describe('ReorderBuffer', () => {
  const kinds = ['in order', 'reversed', 'equal keys', 'jittered', 'stragglers', 'two files interleaved', 'random'];
  const capacities = [1, 3, 64, 10_000];
  it.each(kinds.flatMap((kind) => capacities.map((capacity) => [kind, capacity] as const)))('%s, capacity %i', (kind, capacity) => {
    for (const seed of [1, 2, 3]) {
      const keys = sequence(kind, 6000, seed);
      expect(actual(keys, capacity)).toEqual(reference(keys, capacity));
    }
  });

  it('holds at most its capacity', () => {
    const buffer = new ReorderBuffer<Item>(5);
    sequence('random', 1000, 9).forEach((sortKey, seq) => {
      buffer.push({ sortKey, seq });
      expect(buffer.size).toBeLessThanOrEqual(5);
    });
  });
});
