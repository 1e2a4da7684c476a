// The Admin API fallback reads the latest revision for the service's newest waiting write (pipeline.ts waitingWrite).
// "Newest" is to the nanosecond: of two writes waiting in the same millisecond (real audit timestamps carry
// nanoseconds), the later one is read for, in either delivery order, as when a millisecond lies between them.
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { DeployChange } from '../../functions/model/change.js';
import { Pipeline } from '../../functions/pipeline.js';
import { synthetic } from '../support/entries.js';
import { latestRevisionReader, v2Update } from '../support/adminApiReader.js';
import { config } from '../support/run.js';

/** The two writes' timestamps (after the fixture's create): a millisecond apart, and in one millisecond. */
const TIMINGS = {
  'a millisecond apart': ['2024-06-01T11:00:00.354100Z', '2024-06-01T11:00:00.355900Z'],
  'in the same millisecond': ['2024-06-01T11:00:00.355100Z', '2024-06-01T11:00:00.355900Z'],
} as const;

/** The writes the fallback read for, after a create and two updates at `a` and `b` (the later delivered first when `reversed`). */
async function readFor(a: string, b: string, reversed: boolean): Promise<string[]> {
  const reads: DeployChange[] = [];
  const reader = latestRevisionReader('europe-west1-docker.pkg.dev/acme-prod/web/storefront:2', reads);
  const cfg = config({ correlation: { adminApiFallback: { enabled: true, afterSeconds: 60 } } });
  const pipeline = new Pipeline({ config: cfg, store: new MemoryBaselineStore(), revisionReader: reader });
  const first = v2Update(a, 'op-first', 'europe-west1-docker.pkg.dev/acme-prod/web/storefront:1');
  const second = v2Update(b, 'op-second', 'europe-west1-docker.pkg.dev/acme-prod/web/storefront:2');
  const arrival = Date.parse('2024-06-01T11:00:01Z');
  await pipeline.handleEntry(synthetic('v2-CreateService'), Date.parse('2024-06-01T10:00:01Z'));
  for (const entry of reversed ? [second, first] : [first, second]) await pipeline.handleEntry(entry, arrival);
  await pipeline.readFromAdminApi(arrival + 120_000);
  await pipeline.flush();
  return reads.map((w) => (w.time === a ? 'earlier' : w.time === b ? 'later' : w.time));
}

describe('the Admin API fallback reads for the newest of two writes waiting in one millisecond', () => {
  for (const [order, reversed] of [
    ['in order', false],
    ['the later one delivered first', true],
  ] as const) {
    it(`${order}: the later write, as a millisecond apart`, async () => {
      const apart = await readFor(...TIMINGS['a millisecond apart'], reversed);
      expect(apart).toEqual(['later']);
      expect(await readFor(...TIMINGS['in the same millisecond'], reversed)).toEqual(apart);
    });
  }
});
