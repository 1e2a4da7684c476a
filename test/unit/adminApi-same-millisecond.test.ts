// The Admin API fallback reads the latest revision for the service's newest waiting write (pipeline.ts waitingWrite).
// "Newest" is to the nanosecond: of two writes waiting in the same millisecond (real audit timestamps carry
// nanoseconds), the later one is read for, in either delivery order, as when a millisecond lies between them.
import { describe, expect, it } from 'vitest';
import { parseImage } from '../../functions/audit/image.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { ADMIN_API_LOG_NAME, type RevisionReader } from '../../functions/correlate/adminApi.js';
import type { DeployChange } from '../../functions/model/change.js';
import { Pipeline } from '../../functions/pipeline.js';
import { at, synthetic, variant, type Json } from '../support/entries.js';
import { config } from '../support/run.js';

/** The two writes' timestamps (after the fixture's create): a millisecond apart, and in one millisecond. */
const TIMINGS = {
  'a millisecond apart': ['2024-06-01T11:00:00.354100Z', '2024-06-01T11:00:00.355900Z'],
  'in the same millisecond': ['2024-06-01T11:00:00.355100Z', '2024-06-01T11:00:00.355900Z'],
} as const;

/** The v2 update at `timestamp` with its own operation and this image. */
function update(timestamp: string, operation: string, image: string): Json {
  return variant(at(synthetic('v2-UpdateService'), timestamp), (e) => {
    (e.protoPayload['response'] as Json)['name'] = `projects/acme-prod/locations/europe-west1/operations/${operation}`;
    const template = ((e.protoPayload['request'] as Json)['service'] as Json)['template'] as { containers: { image: string }[] };
    template.containers[0]!.image = image;
  });
}

/** The writes the fallback read for, after a create and two updates at `a` and `b` (the later delivered first when `reversed`). */
async function readFor(a: string, b: string, reversed: boolean): Promise<string[]> {
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
          images: [parseImage('europe-west1-docker.pkg.dev/acme-prod/web/storefront:2')!],
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
  const pipeline = new Pipeline({ config: cfg, store: new MemoryBaselineStore(), revisionReader: reader });
  const first = update(a, 'op-first', 'europe-west1-docker.pkg.dev/acme-prod/web/storefront:1');
  const second = update(b, 'op-second', 'europe-west1-docker.pkg.dev/acme-prod/web/storefront:2');
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
