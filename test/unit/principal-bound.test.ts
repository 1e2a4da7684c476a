// A principal (and each identity it acted through) is kept to PRINCIPAL_MAX_LENGTH characters: the entry's text goes
// into the finding twice (principal, summary) and into the baseline, and a forged 1 MiB one made a finding no
// Firestore document holds (test/integration/oversized-entry.test.ts shows it end to end).
import { describe, expect, it } from 'vitest';
import { parseEntry, PRINCIPAL_MAX_LENGTH } from '../../functions/audit/normalize.js';
import { synthetic, variant, type Json } from '../support/entries.js';

const deployBy = (principal: string, link: string): Json =>
  variant(synthetic('v1-ReplaceService-gcloud'), (copy) => {
    copy.protoPayload['authenticationInfo'] = {
      principalEmail: principal,
      serviceAccountDelegationInfo: [{ firstPartyPrincipal: { principalEmail: link } }],
    };
  });

function principalOf(entry: Json): { id: string; delegationChain: readonly string[] } {
  const result = parseEntry(entry);
  expect(result.kind).toBe('change');
  return (result as { change: { principal: { id: string; delegationChain: readonly string[] } } }).change.principal;
}

describe('principal length bound', () => {
  it('keeps a principal of the bound whole, and cuts a longer one (and a longer delegation link) to it, ending …', () => {
    const atBound = `${'a'.repeat(PRINCIPAL_MAX_LENGTH - 8)}@acme.co`;
    expect(principalOf(deployBy(atBound, 'deployer@p.iam.gserviceaccount.com'))).toEqual({ id: atBound, delegationChain: ['deployer@p.iam.gserviceaccount.com'] });

    const huge = `${'p'.repeat(1024 * 1024)}@acme.com`;
    const cut = principalOf(deployBy(huge, huge));
    expect(cut.id).toHaveLength(PRINCIPAL_MAX_LENGTH);
    expect(cut.id).toBe(`${'p'.repeat(PRINCIPAL_MAX_LENGTH - 1)}…`);
    expect(cut.delegationChain).toEqual([cut.id]);
  });
});
