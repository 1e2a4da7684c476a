import { describe, expect, it } from 'vitest';
import { at, corpus, synthetic, variant, type Json } from '../../support/entries.js';
import { config, findingsOf } from '../../support/run.js';

async function publicFindings(entries: readonly unknown[], cfg = config()) {
  return (await findingsOf(entries, cfg)).filter((f) => f.rule === 'public-invoker-grant');
}

const allUsers = synthetic('run-SetIamPolicy-allUsers');
const privatePolicy = synthetic('run-SetIamPolicy-private');

describe('public-invoker-grant', () => {
  it.each([
    ['allUsers on a service (no earlier policy known: counts as added)', [allUsers], 'HIGH', ['allUsers']],
    ['allAuthenticatedUsers on a service', [synthetic('run-SetIamPolicy-allAuthenticatedUsers')], 'HIGH', ['allAuthenticatedUsers']],
    ['allUsers through the v2 API', [synthetic('v2-SetIamPolicy-allUsers')], 'HIGH', ['allUsers']],
    ['allUsers on a whole project (policy delta)', [synthetic('project-SetIamPolicy-run-invoker-allUsers')], 'CRITICAL', ['allUsers']],
  ])('fires: %s', async (_name, entries, severity, members) => {
    const findings = await publicFindings(entries);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity, evidence: { membersGranted: members } });
  });

  it('the project finding names the project scope and resource', async () => {
    const [finding] = await publicFindings([synthetic('project-SetIamPolicy-run-invoker-allUsers')]);
    expect(finding).toMatchObject({ service: '*', resourceName: '//cloudresourcemanager.googleapis.com/projects/western-verve-123456', evidence: { scope: 'project', source: 'policy delta' } });
  });

  it.each([
    ['a grant to a user only (real entry)', [corpus('panther__Services.SetIamPolicy__1')]],
    ['a denied SetIamPolicy (real entry)', [corpus('panther__Services.SetIamPolicy__2')]],
    ['allUsers on a Cloud Storage bucket (real entry)', [corpus('panther__storage-setIamPermissions__1')]],
    ['run.admin to a user on a project (real entry)', [corpus('archicloud__SetIamPolicy__1')]],
    ['a project delta that removes the public invoker', [synthetic('project-SetIamPolicy-run-invoker-removed')]],
  ])('ignores: %s', async (_name, entries) => {
    expect(await publicFindings(entries)).toEqual([]);
  });

  it('evidence says where the grant was read: the full policy when none was known before, else the difference', async () => {
    const findings = await publicFindings([allUsers, at(privatePolicy, '2024-02-03T10:00:00Z'), at(allUsers, '2024-02-04T10:00:00Z')]);
    expect(findings.filter((f) => f.status !== 'resolved').map((f) => f.evidence['source'])).toEqual([
      'full policy (no earlier policy known)',
      'difference from the last known policy',
    ]);
  });

  it('a re-applied binding raises nothing: only transitions count', async () => {
    const again = at(allUsers, '2024-02-02T11:00:00Z');
    const findings = await publicFindings([allUsers, again, at(allUsers, '2024-02-02T12:00:00Z')]);
    expect(findings).toHaveLength(1);
  });

  it('granted, removed, granted again: two findings', async () => {
    const findings = await publicFindings([allUsers, privatePolicy, at(allUsers, '2024-02-05T09:00:00Z')]);
    expect(findings.map((f) => [f.eventTime, f.status ?? 'active'])).toEqual([
      ['2024-02-02T09:44:25.921000Z', 'active'],
      ['2024-02-02T09:44:25.921000Z', 'resolved'],
      ['2024-02-05T09:00:00Z', 'active'],
    ]);
  });

  it('allUsers moved from the invoker role to a custom one stays open (the custom role may carry run.routes.invoke)', async () => {
    const toCustomRole = (role: string, timestamp: string) =>
      variant(at(allUsers, timestamp), (e) => {
        for (const side of [(e.protoPayload['request'] as Json)['policy'], e.protoPayload['response']] as { bindings: { role: string }[] }[]) {
          side.bindings[0]!.role = role;
        }
      });
    const custom = await publicFindings([allUsers, toCustomRole('projects/some-project/roles/callers', '2024-02-03T09:00:00Z')]);
    expect(custom.map((f) => f.status ?? 'active')).toEqual(['active']);
    // Removed from every role: resolved.
    const removed = await publicFindings([allUsers, at(privatePolicy, '2024-02-03T09:00:00Z')]);
    expect(removed.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
  });

  it('a public member added next to an existing one is reported alone', async () => {
    const both = variant(allUsers, (e) => {
      e['timestamp'] = '2024-02-06T09:00:00Z';
      e['insertId'] = 'both';
      const bindings = [{ role: 'roles/run.invoker', members: ['allUsers', 'allAuthenticatedUsers'] }];
      (e.protoPayload['response'] as Record<string, unknown>)['bindings'] = bindings;
    });
    const findings = await publicFindings([allUsers, both]);
    expect(findings.map((f) => f.evidence['membersGranted'])).toEqual([['allUsers'], ['allAuthenticatedUsers']]);
  });

  it('fires: the invoker IAM check turned off in a v2 update', async () => {
    const findings = await publicFindings([synthetic('v2-CreateService'), synthetic('v2-UpdateService')]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ title: 'Invoker IAM check disabled: service is public', evidence: { invokerIamDisabled: true } });
  });

  it('fires once: the invoker-iam-disabled annotation in v1, kept on the next deploy', async () => {
    const open = variant(corpus('slackbot__Services.ReplaceService__1'), (e) => {
      const svc = (e.protoPayload['request'] as { service: { metadata: { annotations: Record<string, string> } } }).service;
      svc.metadata.annotations['run.googleapis.com/invoker-iam-disabled'] = 'true';
    });
    const findings = await publicFindings([at(corpus('slackbot__Services.ReplaceService__1'), '2024-05-01T00:00:00Z'), open, at(open, '2024-05-08T00:00:00Z')]);
    expect(findings).toHaveLength(1);
  });

  it('ignores: services meant to be public (allowServices)', async () => {
    const cfg = config({ rules: { 'public-invoker-grant': { allowServices: ['some-project/cloudrun-*'] } } });
    expect(await publicFindings([allUsers], cfg)).toEqual([]);
  });

  it('allowServices does not exempt a project-wide grant', async () => {
    const cfg = config({ rules: { 'public-invoker-grant': { allowServices: ['*/*'] } } });
    expect(await publicFindings([synthetic('project-SetIamPolicy-run-invoker-allUsers')], cfg)).toHaveLength(1);
  });

  // A project-wide change has no service: a PROJECT/SERVICE exception (whose `*` would match the literal service
  // name `*`) must not silence a whole project opened to the public; an exception by project does.
  it.each([
    ['a PROJECT/SERVICE exception does not exempt a project-wide grant', { service: 'western-verve-123456/*' }, 1],
    ['a ** service exception neither', { service: '**' }, 1],
    ['a project exception does', { project: 'western-verve-*' }, 0],
  ])('%s', async (_name, exception, count) => {
    const cfg = config({ rules: { 'public-invoker-grant': { exceptions: [exception] } } });
    expect(await publicFindings([synthetic('project-SetIamPolicy-run-invoker-allUsers')], cfg)).toHaveLength(count);
  });

  it.each([
    ['lowered', 'MEDIUM', ['MEDIUM', 'CRITICAL']],
    ['raised: the whole project never ranks below one service', 'CRITICAL', ['CRITICAL', 'CRITICAL']],
  ])('a configured severity replaces the default one (%s); a whole project opened stays at least CRITICAL', async (_name, severity, expected) => {
    const cfg = config({ rules: { 'public-invoker-grant': { severity } } });
    const [service] = await publicFindings([allUsers], cfg);
    const [project] = await publicFindings([synthetic('project-SetIamPolicy-run-invoker-allUsers')], cfg);
    expect([service?.severity, project?.severity]).toEqual(expected);
  });
});
