// A baseline's lists change by copy (the stored baseline may be shared, or its transaction run again) or in place
// (a store that allows it: replay's own). Both must give the same lists; a copy must leave its input as it was.
import { describe, expect, it } from 'vitest';
import { random } from '../../bench/generate.js';
import { COPY_EDITS, HISTORY_LIMIT, IN_PLACE_EDITS, type TimePoint } from '../../functions/baseline/state.js';

describe('baseline list edits', () => {
  it('append: both keep the newest `limit` items; the copy leaves its input alone', () => {
    let copied: readonly number[] = [];
    const inPlace: number[] = [];
    for (let i = 0; i < 200; i++) {
      const before = [...copied];
      const next = COPY_EDITS.append(copied, i, 64);
      expect(copied).toEqual(before);
      copied = next;
      expect(IN_PLACE_EDITS.append(inPlace, i, 64)).toBe(inPlace);
      expect(inPlace).toEqual(copied);
    }
    expect(copied).toEqual(Array.from({ length: 64 }, (_, i) => 136 + i));
  });

  it('record: points in time order, one per time, the newest HISTORY_LIMIT kept, late points included', () => {
    const next = random(7);
    let copied: readonly TimePoint<string>[] = [];
    const inPlace: TimePoint<string>[] = [];
    const latest = new Map<number, string>();
    for (let i = 0; i < 2000; i++) {
      // Mostly newer times; one in four late (before the newest), some at a time already recorded.
      const t = next() < 0.75 ? i * 10 : Math.max(0, i * 10 - Math.floor(next() * 400));
      const v = `v${i}`;
      latest.set(t, v);
      const before = copied.map((p) => ({ ...p }));
      const result = COPY_EDITS.record(copied, t, v);
      expect(copied).toEqual(before);
      copied = result;
      IN_PLACE_EDITS.record(inPlace, t, v);
      expect(inPlace).toEqual(copied);
      expect(copied.length).toBeLessThanOrEqual(HISTORY_LIMIT);
      // One expect per check of the whole list, not per point (2000 rounds of up to 32 points each: most of the file's
      // time was vitest's own work per expect): the points out of time order (none), and each point's value against
      // the latest one recorded at its time.
      expect(copied.filter((point, k) => k > 0 && !(copied[k - 1]!.t < point.t))).toEqual([]);
      expect(copied.map((point) => point.v)).toEqual(copied.map((point) => latest.get(point.t)));
    }
    expect(copied.length).toBe(HISTORY_LIMIT);
  });
});
