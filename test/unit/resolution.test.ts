// When a later change takes a risk away, the core emits a resolution of the original finding: same id, status
// resolved, so each sink closes what it opened (SCC INACTIVE, PagerDuty resolve, a Slack thread reply).
import { describe, expect, it } from 'vitest';
import { at, corpus, synthetic, variant, withOperationId, withV1Image, withV1ServiceAccount } from '../support/entries.js';
import { config, findingsOf } from '../support/run.js';

const replace = corpus('slackbot__Services.ReplaceService__1');
const ORIGINAL = 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com';
const OTHER = 'ci-admin@test-project-1234.iam.gserviceaccount.com';
function deploy(timestamp: string, email: string) {
  return at(withOperationId(withV1Image(withV1ServiceAccount(replace, email), 'gcr.io/test-project-1234/bot:1', timestamp), `op-${timestamp}`), timestamp);
}

describe('resolutions', () => {
  it('public grant removed: the grant finding is resolved under its own id', async () => {
    const findings = await findingsOf([synthetic('run-SetIamPolicy-allUsers'), synthetic('run-SetIamPolicy-private')]);
    expect(findings.map((f) => [f.rule, f.status ?? 'active'])).toEqual([
      ['public-invoker-grant', 'active'],
      ['public-invoker-grant', 'resolved'],
    ]);
    expect(findings[1]?.id).toBe(findings[0]?.id);
    expect(findings[1]?.resolution).toEqual({
      time: '2024-02-03T09:00:00.000000Z',
      principal: 'some.user@company.com',
      reason: 'allUsers no longer hold the invoker role',
      logName: 'projects/some-project/logs/cloudaudit.googleapis.com%2Factivity',
      insertId: 'syn-iam-3',
    });
  });

  it('a project-wide grant removed through a policy delta is resolved', async () => {
    const findings = await findingsOf([synthetic('project-SetIamPolicy-run-invoker-allUsers'), at(synthetic('project-SetIamPolicy-run-invoker-removed'), '2024-06-01T00:00:00Z')]);
    expect(findings.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
  });

  it('ignores: a later SetIamPolicy that logged neither the policy nor a delta (who holds the role is unknown)', async () => {
    const withoutPolicy = variant(synthetic('run-SetIamPolicy-private'), (e) => {
      delete (e.protoPayload['request'] as Record<string, unknown>)['policy'];
      delete e.protoPayload['response'];
    });
    const findings = await findingsOf([synthetic('run-SetIamPolicy-allUsers'), withoutPolicy]);
    expect(findings.map((f) => [f.rule, f.status ?? 'active'])).toEqual([['public-invoker-grant', 'active']]);
  });

  it('ignores: a grant that is still there after an unrelated policy change', async () => {
    const both = synthetic('run-SetIamPolicy-allUsers');
    const findings = await findingsOf([both, at(both, '2024-02-02T12:00:00Z')]);
    expect(findings.filter((f) => f.status === 'resolved')).toEqual([]);
  });

  it('service account changed back: resolved, and the change back raises no new finding', async () => {
    const findings = await findingsOf([deploy('2024-05-01T10:00:00Z', ORIGINAL), deploy('2024-05-02T10:00:00Z', OTHER), deploy('2024-05-03T10:00:00Z', ORIGINAL)]);
    expect(findings.map((f) => [f.rule, f.status ?? 'active'])).toEqual([
      ['service-account-change', 'active'],
      ['service-account-change', 'resolved'],
    ]);
    expect(findings[1]?.resolution?.reason).toBe(`runtime service account is now ${ORIGINAL}`);
  });

  it('the invoker IAM check turned back on resolves the finding', async () => {
    const findings = await findingsOf([synthetic('v2-CreateService'), synthetic('v2-UpdateService'), synthetic('v2-UpdateService-snake-case')]);
    const invoker = findings.filter((f) => f.rule === 'public-invoker-grant');
    expect(invoker.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
  });

  it('a resolution is emitted once: the same reverting entry twice resolves once', async () => {
    const revert = synthetic('run-SetIamPolicy-private');
    const findings = await findingsOf([synthetic('run-SetIamPolicy-allUsers'), revert, structuredClone(revert), at(revert, '2024-02-09T00:00:00Z')]);
    expect(findings.filter((f) => f.status === 'resolved')).toHaveLength(1);
  });

  it('resolutions are not subject to the rule\'s exceptions (a break-glass account closing a risk still closes it)', async () => {
    const cfg = config({ rules: { 'public-invoker-grant': { exceptions: [{ principal: 'some.user@company.com' }] } } });
    const open = JSON.parse(JSON.stringify(synthetic('run-SetIamPolicy-allUsers')).replaceAll('"principalEmail": "some.user@company.com"', '"principalEmail": "dev@company.com"').replaceAll('"principalEmail":"some.user@company.com"', '"principalEmail":"dev@company.com"')) as unknown;
    const findings = await findingsOf([open, synthetic('run-SetIamPolicy-private')], cfg);
    expect(findings.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
  });
});
