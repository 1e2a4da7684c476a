// When a later change takes a risk away, the core emits a resolution of the original finding: same id, status
// resolved, so each sink closes what it opened (SCC INACTIVE, PagerDuty resolve, a Slack thread reply).
import { describe, expect, it } from 'vitest';
import { at, corpus, synthetic, variant, withOperationId, withV1Image, withV1ServiceAccount } from '../support/entries.js';
import { config, findingsLive, findingsOf } from '../support/run.js';

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
      time: '2024-02-03T09:00:00Z', // the fixture's .000000Z as Cloud Logging writes it
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

  // Log entries can arrive late (Pub/Sub redelivery, several sinks, replay across files): an older entry about a
  // fact that a newer entry already set is history. It may still be reported, but it never closes the risk the
  // newer entry opened (a risk of its own that newer entries still hold stays open: late-open.test.ts); when a newer entry
  // already took its risk away, it is closed at once.
  describe('an older entry that arrives late', () => {
    const grant = synthetic('run-SetIamPolicy-allUsers'); // 2024-02-02T09:44:25.921Z
    const revoke = synthetic('run-SetIamPolicy-private');
    const summary = (findings: readonly { rule: string; status?: string }[]): string[] => findings.map((f) => `${f.rule} ${f.status ?? 'active'}`);

    it('a late removal does not resolve a newer grant', async () => {
      const findings = await findingsOf([at(revoke, '2024-02-01T00:00:00Z'), grant, at(revoke, '2024-02-02T00:00:00Z')]);
      expect(summary(findings)).toEqual(['public-invoker-grant active']);
    });

    it('the newest removal still resolves it', async () => {
      const findings = await findingsOf([at(revoke, '2024-02-01T00:00:00Z'), grant, at(revoke, '2024-02-02T00:00:00Z'), at(revoke, '2024-02-03T00:00:00Z')]);
      expect(summary(findings)).toEqual(['public-invoker-grant active', 'public-invoker-grant resolved']);
    });

    it('a late grant is reported and closed at once by the newer removal applied before it; the removal after it resolves nothing', async () => {
      const findings = await findingsOf([at(revoke, '2024-02-01T00:00:00Z'), at(revoke, '2024-02-03T00:00:00Z'), grant, at(revoke, '2024-02-04T00:00:00Z')]);
      expect(summary(findings)).toEqual(['public-invoker-grant active', 'public-invoker-grant resolved']);
      expect(findings[1]!.resolution).toMatchObject({ time: '2024-02-03T00:00:00Z', principal: 'unknown' });
    });

    it('a late change of identity that a newer revision (judged first, beyond the wait) changed back: reported and closed at once', async () => {
      const only = async (entries: unknown[]) => (await findingsLive(entries)).filter((f) => f.rule === 'service-account-change');
      const [first, changed, back] = [deploy('2024-05-01T10:00:00Z', ORIGINAL), deploy('2024-05-02T10:00:00Z', OTHER), deploy('2024-05-03T10:00:00Z', ORIGINAL)];
      const inOrder = await only([first, changed, back]);
      const late = await only([first, back, changed]);
      expect(summary(inOrder)).toEqual(['service-account-change active', 'service-account-change resolved']);
      expect(late.map((f) => `${f.id} ${f.status ?? 'active'}`)).toEqual(inOrder.map((f) => `${f.id} ${f.status ?? 'active'}`));
      expect(late[1]!.resolution).toMatchObject({ time: '2024-05-03T10:00:00Z', reason: `runtime service account is now ${ORIGINAL}` });
    });

    it('a late deploy with the check on does not resolve a newer deploy that turned it off', async () => {
      const [create, disable, enable] = [synthetic('v2-CreateService'), synthetic('v2-UpdateService'), synthetic('v2-UpdateService-snake-case')];
      const late = at(enable, '2024-06-01T10:30:00Z'); // between the create (10:00, on) and the update (11:00, off)
      const invoker = (await findingsLive([create, disable, late])).filter((f) => f.rule === 'public-invoker-grant');
      expect(summary(invoker)).toEqual(['public-invoker-grant active']);
      // In order, the same three entries resolve it (the 12:00 entry is the newest).
      const inOrder = (await findingsLive([create, disable, enable])).filter((f) => f.rule === 'public-invoker-grant');
      expect(summary(inOrder)).toEqual(['public-invoker-grant active', 'public-invoker-grant resolved']);
    });

    it.each([
      ['between the two', '2024-05-01T22:00:00Z'],
      ['before both (nothing known before it)', '2024-04-01T10:00:00Z'],
    ])('a late deploy with a third identity, %s, does not resolve the change of identity', async (_name, time) => {
      const third = 'intruder@test-project-1234.iam.gserviceaccount.com';
      const findings = await findingsLive([deploy('2024-05-01T10:00:00Z', ORIGINAL), deploy('2024-05-02T10:00:00Z', OTHER), deploy(time, third)]);
      const changes = findings.filter((f) => f.rule === 'service-account-change');
      expect(changes[0]?.evidence).toMatchObject({ before: ORIGINAL, after: OTHER });
      expect(changes.filter((f) => f.status === 'resolved' && f.id === changes[0]!.id)).toEqual([]);
      // The third identity's own change (reported, between the two) was taken away by the newer deploy: closed.
      expect(changes.slice(1).map((f) => f.status ?? 'active')).toEqual(time === '2024-05-01T22:00:00Z' ? ['active', 'resolved'] : []);
    });
  });

  it('the last binding removed (a policy logged without bindings) resolves the grant, and a new grant is a new finding', async () => {
    const emptied = variant(at(synthetic('run-SetIamPolicy-private'), '2024-02-03T09:00:00Z'), (e) => {
      e.protoPayload['request'] = { '@type': 'type.googleapis.com/google.iam.v1.SetIamPolicyRequest', policy: { etag: 'BwYQYvUoBxs=' } };
      e.protoPayload['response'] = { '@type': 'type.googleapis.com/google.iam.v1.Policy', etag: 'BwYQYvUoBxt=' };
    });
    const grant = synthetic('run-SetIamPolicy-allUsers');
    const findings = await findingsOf([grant, emptied, at(grant, '2024-02-04T09:00:00Z')]);
    expect(findings.map((f) => `${f.rule} ${f.status ?? 'active'}`)).toEqual(['public-invoker-grant active', 'public-invoker-grant resolved', 'public-invoker-grant active']);
    expect(findings[2]?.id).not.toBe(findings[0]?.id);
  });
});
