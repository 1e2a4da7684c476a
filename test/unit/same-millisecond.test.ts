// Two entries of one service in the same millisecond (their timestamps differ only in the sub-millisecond digits),
// delivered out of order: the older one, applied last, must not overwrite what the newer one set. Pub/Sub does not
// order deliveries; the baseline's histories are indexed by epoch milliseconds, so only the sub-millisecond digits
// the entries carry tell which of the two is in force.
import { describe, expect, it } from 'vitest';
import { applyChangeTo } from '../../functions/baseline/apply.js';
import { emptyBaseline, valueBefore, type MutableBaseline } from '../../functions/baseline/state.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { IamBinding, IamPolicyChange } from '../../functions/model/change.js';
import type { Finding } from '../../functions/findings/finding.js';
import { at, synthetic, withV1ServiceAccount, type Json } from '../support/entries.js';
import { findingsLive } from '../support/run.js';

const SA1 = 'one@acme-prod.iam.gserviceaccount.com';
const SA2 = 'two@acme-prod.iam.gserviceaccount.com';

function show(findings: readonly Finding[]): string[] {
  return findings.map((f) => `${f.rule} ${f.status ?? 'active'} ${f.eventTime}`);
}

async function run(entries: readonly Json[]): Promise<{ findings: string[]; store: MemoryBaselineStore }> {
  const store = new MemoryBaselineStore();
  const findings = show(await findingsLive(entries, undefined, undefined, undefined, store));
  return { findings, store };
}

describe('entries of one service in the same millisecond, delivered out of order', () => {
  it('a grant delivered after the revoke that followed it leaves the service private: a grant an hour later is reported', async () => {
    const grant = (ts: string): Json => at(synthetic('run-SetIamPolicy-allUsers'), ts, `grant-${ts}`);
    const revoke = at(synthetic('run-SetIamPolicy-private'), '2024-02-03T10:00:00.100900Z', 'revoke');
    const first = grant('2024-02-03T10:00:00.100100Z');
    const again = grant('2024-02-03T11:00:00Z');
    const inOrder = await run([first, revoke, again]);
    const reversed = await run([revoke, first, again]);
    expect(inOrder.findings).toContain('public-invoker-grant active 2024-02-03T11:00:00Z');
    expect(reversed.findings).toContain('public-invoker-grant active 2024-02-03T11:00:00Z');
    const key = [...inOrder.store.entries()][0]![0];
    // Private after the revoke, in either order.
    const justAfter = Date.parse('2024-02-03T10:00:00.101Z');
    expect(valueBefore((await inOrder.store.get(key))?.publicInvokers, justAfter)).toEqual([]);
    expect(valueBefore((await reversed.store.get(key))?.publicInvokers, justAfter)).toEqual([]);
  });

  it('a deploy delivered after a newer one of the same millisecond leaves the newer identity in force', async () => {
    const deploy = (ts: string, sa: string): Json => at(withV1ServiceAccount(synthetic('v1-ReplaceService-gcloud'), sa), ts, `deploy-${ts}`);
    const older = deploy('2024-05-06T22:58:04.355100Z', SA1);
    const newer = deploy('2024-05-06T22:58:04.355900Z', SA2);
    // Back to the first identity an hour later.
    const back = deploy('2024-05-06T23:58:04Z', SA1);
    const inOrder = await run([older, newer, back]);
    const reversed = await run([newer, older, back]);
    const changes = (findings: readonly string[]): string[] => findings.filter((f) => f.startsWith('service-account-change '));
    // The older, judged late, changes nothing known: the newer identity stays in force, and the deploy an hour later is a
    // change from SA2.
    expect(changes(reversed.findings)).toEqual(['service-account-change active 2024-05-06T23:58:04Z']);
    // In order, the newer is a change from the older's identity (as a millisecond later), and the deploy back is its fix.
    expect(changes(inOrder.findings)).toEqual(['service-account-change active 2024-05-06T22:58:04.355900Z', 'service-account-change resolved 2024-05-06T22:58:04.355900Z']);
  });

  it('two policy deltas of the same millisecond, applied in either order: both grants are in force', () => {
    const target = { project: 'acme-prod', service: '*' };
    const delta = (time: string, member: string): IamPolicyChange => {
      const added: IamBinding[] = [{ role: 'roles/run.invoker', member }];
      return {
        kind: 'iam-policy',
        scope: 'project',
        target,
        key: { logName: 'projects/acme-prod/logs/cloudaudit.googleapis.com%2Factivity', timestamp: time, insertId: member },
        time,
        timeMs: Date.parse(time),
        methodName: 'SetIamPolicy',
        client: {},
        delta: { added, removed: [] },
      };
    };
    const older = delta('2024-02-03T10:00:00.100100Z', 'allUsers');
    const newer = delta('2024-02-03T10:00:00.100900Z', 'allAuthenticatedUsers');
    const inOrder: MutableBaseline = emptyBaseline();
    applyChangeTo(inOrder, older);
    applyChangeTo(inOrder, newer);
    const reversed: MutableBaseline = emptyBaseline();
    applyChangeTo(reversed, newer);
    applyChangeTo(reversed, older);
    expect(inOrder.publicInvokers.at(-1)?.v).toEqual(['allAuthenticatedUsers', 'allUsers']);
    expect(reversed.publicInvokers.at(-1)?.v).toEqual(['allAuthenticatedUsers', 'allUsers']);
  });
});
