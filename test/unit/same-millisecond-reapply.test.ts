// gcloud applies an invoker binding and re-applies it moments later; Pub/Sub may deliver the re-apply first, which
// then reads as the grant and is reported. The grant itself, delivered late, is the same exposure: not reported again
// while that finding is open (public-invoker-grant reportedByNextPolicy). Also when the two share a millisecond.
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { Finding } from '../../functions/findings/finding.js';
import { at, synthetic, type Json } from '../support/entries.js';
import { findingsLive } from '../support/run.js';

async function run(entries: readonly Json[]): Promise<string[]> {
  const findings: readonly Finding[] = await findingsLive(entries, undefined, undefined, undefined, new MemoryBaselineStore());
  return findings.map((f) => `${f.rule} ${f.status ?? 'active'} ${f.eventTime}`);
}

describe('a grant delivered after its re-apply was reported as the grant', () => {
  for (const [label, grantTime, againTime] of [
    ['a whole millisecond apart', '2024-02-03T10:00:00.099100Z', '2024-02-03T10:00:00.100900Z'],
    ['in the same millisecond', '2024-02-03T10:00:00.100100Z', '2024-02-03T10:00:00.100900Z'],
  ] as const) {
    it(`is not reported a second time (${label})`, async () => {
      const grant = at(synthetic('run-SetIamPolicy-allUsers'), grantTime, 'grant');
      const again = at(synthetic('run-SetIamPolicy-allUsers'), againTime, 'again');
      expect(await run([again, grant])).toEqual([`public-invoker-grant active ${againTime}`]);
    });
  }
});
