// The Slack message's "Who" field for a delegated call. Cloud Audit Logs name the impersonated service account as
// the principal (principalEmail) and list who acted through it in serviceAccountDelegationInfo, original caller
// first (facts/audit-log-fields.md 2.9): the GitHub workflow (a Workload Identity Federation principal) impersonated
// the CI service account, not the other way round. The summary of unapproved-deployer says it so ("<chain>, acting
// as <principal>"); the Who field beside it must not say the opposite ("<principal> (via <chain>)").
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { synthetic } from '../support/entries.js';
import { slackField } from '../support/slackText.js';
import { config, findingsOf } from '../support/run.js';

const whoField = (finding: Finding): string | undefined => slackField(finding, 'Who');

describe('Slack "Who" field of a delegated call', () => {
  it('the v2 create by a CI service account a GitHub workflow impersonated: the account, impersonated by the workflow, as the summary says', async () => {
    const cfg = config({ rules: { 'unapproved-deployer': { allowedDeployers: ['release-manager@acme.example'] } } });
    const finding = (await findingsOf([synthetic('v2-CreateService')], cfg)).find((f) => f.rule === 'unapproved-deployer');
    if (!finding?.delegationChain?.length) throw new Error('expected a delegated unapproved-deployer finding');
    const chain = finding.delegationChain.join(' → ');
    expect(finding.summary.startsWith(`${finding.delegationChain.join(' via ')}, acting as ${finding.principal},`)).toBe(true);
    expect(whoField(finding)).toBe(`${finding.principal} (impersonated by ${chain})`);
  });
});
