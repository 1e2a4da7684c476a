// Two entries of one service in the same millisecond, delivered out of order: the baseline keeps the newer one's value
// (TimePoint.n); the detectors must judge the older one, delivered late, against that newer value as they do for an
// entry a whole millisecond older: reported and closed at once when the newer one took its risk away.
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { Finding } from '../../functions/findings/finding.js';
import { at, synthetic, type Json } from '../support/entries.js';
import { findingsLive } from '../support/run.js';

function show(findings: readonly Finding[]): string[] {
  return findings.map((f) => `${f.rule} ${f.status ?? 'active'} ${f.eventTime}`);
}

async function run(entries: readonly Json[]): Promise<string[]> {
  return show(await findingsLive(entries, undefined, undefined, undefined, new MemoryBaselineStore()));
}

describe('a late entry of the same millisecond is judged against the newer one', () => {
  for (const [label, grantTime, revokeTime] of [
    ['a whole millisecond apart', '2024-02-03T10:00:00.099100Z', '2024-02-03T10:00:00.100900Z'],
    ['in the same millisecond', '2024-02-03T10:00:00.100100Z', '2024-02-03T10:00:00.100900Z'],
  ] as const) {
    it(`a grant delivered after the revoke that followed it (${label}) is not left open`, async () => {
      const grant = at(synthetic('run-SetIamPolicy-allUsers'), grantTime, 'grant');
      const revoke = at(synthetic('run-SetIamPolicy-private'), revokeTime, 'revoke');
      const reversed = await run([revoke, grant]);
      // Reported, and closed at once: the service is private (the revoke is in force).
      expect(reversed.filter((f) => f.startsWith('public-invoker-grant '))).toEqual([`public-invoker-grant active ${grantTime}`, `public-invoker-grant resolved ${grantTime}`]);
    });
  }

  it('a revoke delivered after the grant that followed it in the same millisecond does not close that grant', async () => {
    const revoke = at(synthetic('run-SetIamPolicy-private'), '2024-02-03T10:00:00.100100Z', 'revoke');
    const grant = at(synthetic('run-SetIamPolicy-allUsers'), '2024-02-03T10:00:00.100900Z', 'grant');
    const inOrder = await run([revoke, grant]);
    const reversed = await run([grant, revoke]);
    expect(inOrder).toEqual(['public-invoker-grant active 2024-02-03T10:00:00.100900Z']);
    // The grant is in force (the service is public): its finding stays open.
    expect(reversed).toEqual(inOrder);
  });
});

describe('an entry judged after an older one of its own millisecond', () => {
  for (const [label, first, second] of [
    ['a whole millisecond apart', '2024-02-03T10:00:00.099100Z', '2024-02-03T10:00:00.100900Z'],
    ['in the same millisecond', '2024-02-03T10:00:00.100100Z', '2024-02-03T10:00:00.100900Z'],
  ] as const) {
    it(`a grant applied again (${label}) is the same exposure: reported once`, async () => {
      const grant = at(synthetic('run-SetIamPolicy-allUsers'), first, 'grant');
      const again = at(synthetic('run-SetIamPolicy-allUsers'), second, 'again');
      expect(await run([grant, again])).toEqual([`public-invoker-grant active ${first}`]);
    });
  }
});
