import { describe, expect, it } from 'vitest';
import { at, corpus, deleteServiceAt, synthetic, variant, type Json } from '../../support/entries.js';
import { config, findingsLive, findingsOf } from '../../support/run.js';

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

  // A full policy without a delta: the baseline knows allUsers could already call the service. A role that lets the
  // public change it (deploy, set its policy) is a new grant all the same.
  describe('a public invoker given a role that changes the service (full policies)', () => {
    const withBindings = (timestamp: string, bindings: Json[]): Json =>
      variant(at(allUsers, timestamp), (e) => {
        // The request's new policy, and the response: the policy as stored (what runwatch reads first).
        (e.protoPayload['request'] as { policy: Json }).policy['bindings'] = bindings;
        (e.protoPayload['response'] as Json)['bindings'] = bindings;
      });
    const invoker = { role: 'roles/run.invoker', members: ['allUsers', 'user:some.user@company.com'] };
    const admin = { role: 'roles/run.admin', members: ['allUsers'] };
    const developer = { role: 'roles/run.developer', members: ['allUsers'] };
    it.each([
      ['run.admin added beside run.invoker', [invoker, admin], [['roles/run.admin']]],
      ['run.invoker replaced by run.developer', [developer], [['roles/run.developer']]],
      ['run.invoker kept (re-applied)', [invoker], []],
    ])('%s', async (_name, bindings, roles) => {
      const findings = await publicFindings([allUsers, withBindings('2024-02-03T10:00:00Z', bindings)]);
      expect(findings.slice(1).map((f) => f.evidence['roles'])).toEqual(roles);
      for (const f of findings.slice(1)) expect(f).toMatchObject({ severity: 'HIGH', evidence: { membersGranted: ['allUsers'], source: 'difference from the last known policy' } });
    });

    it('ignores run.admin re-applied to the public (already held)', async () => {
      const findings = await publicFindings([withBindings('2024-02-02T10:00:00Z', [invoker, admin]), withBindings('2024-02-03T10:00:00Z', [invoker, admin])]);
      expect(findings.map((f) => f.evidence['roles'])).toEqual([['roles/run.admin', 'roles/run.invoker']]);
    });

    it('says nothing of an upgrade on a baseline stored before the writers were kept (unknown, not guessed)', async () => {
      const { publicInvokerGrant } = await import('../../../functions/detectors/public-invoker-grant.js');
      const { emptyBaseline } = await import('../../../functions/baseline/state.js');
      const { parseEntry } = await import('../../../functions/audit/normalize.js');
      const parsed = parseEntry(withBindings('2024-02-03T10:00:00Z', [invoker, admin]));
      if (parsed.kind !== 'change') throw new Error('not a change');
      const detect = (baseline: object) => publicInvokerGrant.detect({ change: parsed.change, baseline, settings: config().rules['public-invoker-grant'], config: config() } as never);
      const held = { ...emptyBaseline(), publicInvokers: [{ t: 1, v: ['allUsers'] }], lastChangeMs: 1 };
      expect(detect(held)).toEqual([]);
      expect(detect({ ...held, publicWriters: [{ t: 1, v: [] }] }).map((d) => d.evidence['roles'])).toEqual([['roles/run.admin']]);
    });

    // An upgrade's risk is the write access: taken back to the invoker role alone, it is over (the invoker risk is
    // older and has its own finding). A fresh grant of a write-capable role reports the invoker access too.
    it.each([
      ['upgrade, taken back to run.invoker: resolved', [allUsers, withBindings('2024-02-03T10:00:00Z', [invoker, admin]), withBindings('2024-02-04T10:00:00Z', [invoker])], [['2024-02-02', 'active'], ['2024-02-03', 'active'], ['2024-02-03', 'resolved']]],
      ['upgrade, taken back to run.servicesInvoker: resolved', [allUsers, withBindings('2024-02-03T10:00:00Z', [invoker, admin]), withBindings('2024-02-04T10:00:00Z', [{ role: 'roles/run.servicesInvoker', members: ['allUsers'] }])], [['2024-02-02', 'active'], ['2024-02-03', 'active'], ['2024-02-03', 'resolved']]],
      ['upgrade, moved to run.developer: stays open', [allUsers, withBindings('2024-02-03T10:00:00Z', [invoker, admin]), withBindings('2024-02-04T10:00:00Z', [invoker, developer])], [['2024-02-02', 'active'], ['2024-02-03', 'active']]],
      ['upgrade, moved to a custom role: stays open', [allUsers, withBindings('2024-02-03T10:00:00Z', [invoker, admin]), withBindings('2024-02-04T10:00:00Z', [invoker, { role: 'projects/p/roles/deployer', members: ['allUsers'] }])], [['2024-02-02', 'active'], ['2024-02-03', 'active']]],
      ['fresh run.admin grant, taken back to run.invoker: stays open', [withBindings('2024-02-03T10:00:00Z', [admin]), withBindings('2024-02-04T10:00:00Z', [invoker])], [['2024-02-03', 'active']]],
    ])('%s', async (_name, entries, expected) => {
      const findings = await publicFindings(entries);
      expect(findings.map((f) => [f.eventTime.slice(0, 10), f.status ?? 'active'])).toEqual(expected);
      const upgrades = findings.filter((f) => f.evidence['upgradedFromInvoker'] === true && f.status !== 'resolved');
      expect(upgrades.map((f) => [f.eventTime.slice(0, 10), f.evidence['roles']])).toEqual(_name.startsWith('upgrade') ? [['2024-02-03', ['roles/run.admin']]] : []);
    });

    it('an upgrade judged late, after a newer policy took the write role back, is reported and closed at once', async () => {
      const upgrade = withBindings('2024-02-03T10:00:00Z', [invoker, admin]);
      const findings = await findingsLive([allUsers, withBindings('2024-02-04T10:00:00Z', [invoker]), upgrade]);
      const late = findings.filter((f) => f.rule === 'public-invoker-grant' && f.eventTime.startsWith('2024-02-03'));
      expect(late.map((f) => [f.status ?? 'active', f.evidence['upgradedFromInvoker']])).toEqual([
        ['active', true],
        ['resolved', true],
      ]);
    });

    it('fires again when the role is taken away and given back', async () => {
      const entries = [allUsers, withBindings('2024-02-03T10:00:00Z', [invoker, admin]), withBindings('2024-02-04T10:00:00Z', [invoker]), withBindings('2024-02-05T10:00:00Z', [invoker, admin])];
      expect((await publicFindings(entries)).map((f) => [f.eventTime.slice(0, 10), f.evidence['roles'], f.status ?? 'active'])).toEqual([
        ['2024-02-02', ['roles/run.invoker'], 'active'],
        ['2024-02-03', ['roles/run.admin'], 'active'],
        ['2024-02-03', ['roles/run.admin'], 'resolved'],
        ['2024-02-05', ['roles/run.admin'], 'active'],
      ]);
    });
  });

  it('the project finding names the project scope and resource', async () => {
    const [finding] = await publicFindings([synthetic('project-SetIamPolicy-run-invoker-allUsers')]);
    expect(finding).toMatchObject({ service: '*', location: 'global', resourceName: '//cloudresourcemanager.googleapis.com/projects/western-verve-123456', evidence: { scope: 'project', source: 'policy delta' } });
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

  // Editing the condition of an existing public binding (extending an expiry) is logged as REMOVE and ADD of the same
  // member and role in one delta: nobody gained the role, so it is not a second "granted to the public".
  it('a condition edit on the public binding (REMOVE and ADD of the same member and role) is no new grant', async () => {
    const grant = synthetic('project-SetIamPolicy-run-invoker-allUsers');
    const conditionEdit = variant(at(grant, '2024-02-05T10:00:00Z'), (e) => {
      const delta = (e.protoPayload['serviceData'] as Json)['policyDelta'] as { bindingDeltas: Json[] };
      const adds = delta.bindingDeltas.filter((d) => d['action'] === 'ADD');
      delta.bindingDeltas = [
        ...adds.map((d) => ({ ...d, action: 'REMOVE', condition: { title: 'until March', expression: 'request.time < timestamp("2024-03-01T00:00:00Z")' } })),
        ...adds.map((d) => ({ ...d, condition: { title: 'until April', expression: 'request.time < timestamp("2024-04-01T00:00:00Z")' } })),
      ];
    });
    expect(await publicFindings([grant])).toHaveLength(1);
    expect(await publicFindings([conditionEdit])).toEqual([]);
    const both = await publicFindings([grant, conditionEdit]);
    expect(both.map((f) => f.status ?? 'active')).toEqual(['active']); // nor a resolution: the binding stays public
  });

  // A policy logged as its delta only: the real archicloud entry's shape (a project policy from `gcloud projects
  // add-iam-policy-binding`, no request or response; Resource Manager refuses allUsers on a project, so there it models
  // the reading, not a grant IAM would take), and a Cloud Run service's SetIamPolicy logged the same way. A REMOVE
  // takes the member out of that one role: it still calls the service through any other invoker role it holds, so
  // what it was granted there is not over. An ADD that gives a member a role of the class it already holds (one that
  // only calls the service, or one that changes it) grants nothing new, as a full policy's difference and
  // public-invoker-attempt say.
  const projectDelta = (timestamp: string, deltas: Json[]): Json =>
    variant(at(corpus('archicloud__SetIamPolicy__1'), timestamp), (e) => {
      (e.protoPayload['serviceData'] as Json)['policyDelta'] = { bindingDeltas: deltas };
    });
  const serviceDelta = (timestamp: string, deltas: Json[]): Json =>
    variant(at(allUsers, timestamp), (e) => {
      delete e.protoPayload['request'];
      delete e.protoPayload['response'];
      e.protoPayload['serviceData'] = { '@type': 'type.googleapis.com/google.iam.v1.logging.AuditData', policyDelta: { bindingDeltas: deltas } };
    });
  describe.each([
    ['on a Cloud Run service', serviceDelta],
    ['on a project', projectDelta],
  ])('policy deltas only, %s: a member taken out of, or given, one invoker role while it holds another', (_where, logged) => {
    const deltaOnly = (timestamp: string, action: 'ADD' | 'REMOVE', role: string): Json => logged(timestamp, [{ action, role, member: 'allUsers' }]);
    const moved = (timestamp: string, from: string, to: string): Json =>
      logged(timestamp, [
        { action: 'REMOVE', role: from, member: 'allUsers' },
        { action: 'ADD', role: to, member: 'allUsers' },
      ]);
    it.each([
      [
        'run.invoker removed, run.admin kept: the run.admin grant stays open',
        [deltaOnly('2025-11-10T10:00:00Z', 'ADD', 'roles/run.admin'), deltaOnly('2025-11-11T10:00:00Z', 'ADD', 'roles/run.invoker'), deltaOnly('2025-11-12T10:00:00Z', 'REMOVE', 'roles/run.invoker')],
        // (The run.invoker ADD gives the public nothing they did not hold: no finding of its own.)
        [['2025-11-10', 'roles/run.admin', 'active']],
      ],
      [
        'run.admin removed, run.invoker kept: the invoker grant stays open, the upgrade is over',
        [deltaOnly('2025-11-10T10:00:00Z', 'ADD', 'roles/run.invoker'), deltaOnly('2025-11-11T10:00:00Z', 'ADD', 'roles/run.admin'), deltaOnly('2025-11-12T10:00:00Z', 'REMOVE', 'roles/run.admin')],
        [['2025-11-10', 'roles/run.invoker', 'active'], ['2025-11-11', 'roles/run.admin', 'resolved']],
      ],
      [
        'run.invoker removed, run.servicesInvoker kept: the grant stays open',
        [deltaOnly('2025-11-10T10:00:00Z', 'ADD', 'roles/run.servicesInvoker'), deltaOnly('2025-11-11T10:00:00Z', 'ADD', 'roles/run.invoker'), deltaOnly('2025-11-12T10:00:00Z', 'REMOVE', 'roles/run.invoker')],
        [['2025-11-10', 'roles/run.servicesInvoker', 'active']],
      ],
      [
        'run.admin removed, run.developer kept: the grant stays open',
        [deltaOnly('2025-11-10T10:00:00Z', 'ADD', 'roles/run.developer'), deltaOnly('2025-11-11T10:00:00Z', 'ADD', 'roles/run.admin'), deltaOnly('2025-11-12T10:00:00Z', 'REMOVE', 'roles/run.admin')],
        [['2025-11-10', 'roles/run.developer', 'active']],
      ],
      [
        'the only invoker role removed: resolved',
        [deltaOnly('2025-11-10T10:00:00Z', 'ADD', 'roles/run.invoker'), deltaOnly('2025-11-12T10:00:00Z', 'REMOVE', 'roles/run.invoker')],
        [['2025-11-10', 'roles/run.invoker', 'resolved']],
      ],
      [
        'run.admin moved to run.invoker in one delta (a downgrade): no new grant, the run.admin grant stays open',
        [deltaOnly('2025-11-10T10:00:00Z', 'ADD', 'roles/run.admin'), moved('2025-11-12T10:00:00Z', 'roles/run.admin', 'roles/run.invoker')],
        [['2025-11-10', 'roles/run.admin', 'active']],
      ],
      [
        'run.invoker moved to run.admin in one delta (an upgrade): a grant of run.admin',
        [deltaOnly('2025-11-10T10:00:00Z', 'ADD', 'roles/run.invoker'), moved('2025-11-12T10:00:00Z', 'roles/run.invoker', 'roles/run.admin')],
        [['2025-11-10', 'roles/run.invoker', 'active'], ['2025-11-12', 'roles/run.admin', 'active']],
      ],
      // Nothing known before: the delta's REMOVE itself shows the public held the role it names (found by BG).
      [
        'run.admin moved to run.invoker in one delta, nothing known before: no grant (the public held run.admin)',
        [moved('2025-11-12T10:00:00Z', 'roles/run.admin', 'roles/run.invoker')],
        [],
      ],
      [
        'run.invoker moved to run.admin in one delta, nothing known before: a grant of run.admin',
        [moved('2025-11-12T10:00:00Z', 'roles/run.invoker', 'roles/run.admin')],
        [['2025-11-12', 'roles/run.admin', 'active']],
      ],
      [
        'run.servicesInvoker added beside run.invoker: nothing new',
        [deltaOnly('2025-11-10T10:00:00Z', 'ADD', 'roles/run.invoker'), deltaOnly('2025-11-12T10:00:00Z', 'ADD', 'roles/run.servicesInvoker')],
        [['2025-11-10', 'roles/run.invoker', 'active']],
      ],
    ])('%s', async (_name, entries, expected) => {
      const findings = await publicFindings(entries);
      // The newest word on each finding (a resolved one is reported again, resolved).
      const last = new Map(findings.map((f) => [f.id, [f.eventTime.slice(0, 10), (f.evidence['roles'] as string[]).join(','), f.status ?? 'active']]));
      expect([...last.values()].sort()).toEqual(expected);
    });

    // Pub/Sub delivers without order: a delta giving a second role of the class, delivered after a newer delta that took
    // the first role away, leaves the member public. The newer REMOVE closed the grant with what it knew; the late ADD
    // must leave a finding open, as the three in time order do.
    it.each([
      ['run.invoker, run.servicesInvoker beside it, run.invoker removed', 'roles/run.invoker', 'roles/run.servicesInvoker'],
      ['run.admin, run.invoker beside it, run.admin removed', 'roles/run.admin', 'roles/run.invoker'],
      ['run.admin, run.developer beside it, run.admin removed', 'roles/run.admin', 'roles/run.developer'],
    ])('delivered grant, removal, then the second role (late): a finding stays open (%s)', async (_name, first, second) => {
      const grant = deltaOnly('2025-11-10T10:00:00Z', 'ADD', first);
      const secondRole = deltaOnly('2025-11-11T10:00:00Z', 'ADD', second);
      const removal = deltaOnly('2025-11-12T10:00:00Z', 'REMOVE', first);
      const open = (findings: readonly { id: string; rule: string; status?: string }[]): number => {
        const last = new Map(findings.filter((f) => f.rule === 'public-invoker-grant').map((f) => [f.id, f.status ?? 'active']));
        return [...last.values()].filter((s) => s === 'active').length;
      };
      expect(open(await findingsOf([grant, secondRole, removal]))).toBe(1);
      expect(open(await findingsLive([grant, removal, secondRole]))).toBe(1);
    });

    // The other way round: the REMOVE arrives after a newer delta that named none of the public bindings (a user given a
    // role). In time order the grant is closed; delivered late, the newer point (carried with the REMOVE) holds nobody
    // public either, so the REMOVE's word is the newest there is on them.
    it('delivered grant, an unrelated newer delta, then the removal (late): the grant is closed, as in time order', async () => {
      const grant = deltaOnly('2025-11-10T10:00:00Z', 'ADD', 'roles/run.invoker');
      const removal = deltaOnly('2025-11-11T10:00:00Z', 'REMOVE', 'roles/run.invoker');
      const unrelated = logged('2025-11-12T10:00:00Z', [{ action: 'ADD', role: 'roles/run.viewer', member: 'user:some.user@company.com' }]);
      const last = (findings: readonly { id: string; rule: string; status?: string }[]): string[] => [...new Map(findings.filter((f) => f.rule === 'public-invoker-grant').map((f) => [f.id, f.status ?? 'active'])).values()];
      expect(last(await findingsOf([grant, removal, unrelated]))).toEqual(['resolved']);
      expect(last(await findingsLive([grant, unrelated, removal]))).toEqual(['resolved']);
    });
  });

  // The same with the second role given by a full policy (a Cloud Run SetIamPolicy logged with its response): the
  // newer delta point, computed without it, must take it.
  it('delivered grant, removal, then a full policy holding the second role (late): a finding stays open', async () => {
    const grant = serviceDelta('2025-11-10T10:00:00Z', [{ action: 'ADD', role: 'roles/run.invoker', member: 'allUsers' }]);
    const bothRoles = variant(at(allUsers, '2025-11-11T10:00:00Z'), (e) => {
      const bindings = [{ role: 'roles/run.invoker', members: ['allUsers'] }, { role: 'roles/run.servicesInvoker', members: ['allUsers'] }];
      (e.protoPayload['request'] as { policy: Json }).policy['bindings'] = bindings;
      (e.protoPayload['response'] as Json)['bindings'] = bindings;
    });
    const removal = serviceDelta('2025-11-12T10:00:00Z', [{ action: 'REMOVE', role: 'roles/run.invoker', member: 'allUsers' }]);
    const open = (findings: readonly { id: string; rule: string; status?: string }[]): number =>
      [...new Map(findings.filter((f) => f.rule === 'public-invoker-grant').map((f) => [f.id, f.status ?? 'active'])).values()].filter((s) => s === 'active').length;
    expect(open(await findingsOf([grant, bothRoles, removal]))).toBe(1);
    expect(open(await findingsLive([grant, removal, bothRoles]))).toBe(1);
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
      ['2024-02-02T09:44:25.921Z', 'active'],
      ['2024-02-02T09:44:25.921Z', 'resolved'],
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

  // Pub/Sub delivers without order: a grant can arrive after the change that took it away. It happened, so it is
  // reported; it is no longer in force, so it is closed at once: no sink keeps an alert open for a private service.
  const idsAndStatuses = (findings: readonly { id: string; status?: string }[]) => findings.map((f) => `${f.id} ${f.status ?? 'active'}`);

  it('a grant that arrives after its removal: reported and closed at once, as in order', async () => {
    const removal = at(privatePolicy, '2024-02-03T09:00:00Z');
    const inOrder = await publicFindings([allUsers, removal]);
    const late = await publicFindings([removal, allUsers]);
    expect(idsAndStatuses(late)).toEqual(idsAndStatuses(inOrder));
    expect(late[1]!.resolution).toMatchObject({ time: inOrder[1]!.resolution!.time, principal: 'unknown' });
    expect(late[1]!.resolution!.reason).toContain('allUsers no longer hold the invoker role');
    // Granted again later: a new exposure, reported as such.
    const again = await publicFindings([removal, allUsers, at(allUsers, '2024-02-04T09:00:00Z')]);
    expect(again.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved', 'active']);
  });

  it('a grant that arrives after a newer policy that still holds it stays open with it (nothing closes it)', async () => {
    const both = variant(at(allUsers, '2024-02-03T09:00:00Z'), (e) => {
      const bindings = [{ role: 'roles/run.invoker', members: ['allUsers', 'allAuthenticatedUsers'] }];
      (e.protoPayload['request'] as Json)['policy'] = { bindings };
      e.protoPayload['response'] = { bindings };
    });
    const late = await publicFindings([both, allUsers]);
    expect(late.map((f) => f.status ?? 'active')).toEqual(['active']);
  });

  it('the invoker IAM check turned off by a deploy that arrives after the one that turned it on again: closed at once', async () => {
    const deploy = corpus('slackbot__Services.ReplaceService__1');
    const invokerCheck = (off: boolean, timestamp: string): Json =>
      variant(at(deploy, timestamp), (e) => {
        const svc = (e.protoPayload['request'] as { service: { metadata: { annotations: Record<string, string> } } }).service;
        svc.metadata.annotations['run.googleapis.com/invoker-iam-disabled'] = off ? 'true' : 'false';
      });
    const off = invokerCheck(true, '2024-05-01T00:00:00Z');
    const on = invokerCheck(false, '2024-05-02T00:00:00Z');
    // An hour of wall clock between deliveries: each deploy's wait for its system events is over by the next one.
    const inOrder = (await findingsLive([off, on])).filter((f) => f.rule === 'public-invoker-grant');
    const late = (await findingsLive([on, off])).filter((f) => f.rule === 'public-invoker-grant');
    expect(inOrder.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
    expect(idsAndStatuses(late)).toEqual(idsAndStatuses(inOrder));
    expect(late[1]!.resolution).toMatchObject({ time: '2024-05-02T00:00:00Z', reason: expect.stringContaining('the invoker IAM check is on again') as unknown });
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

  // Who can call a service with the check off depends on its ingress: the internet only with `all`.
  describe('the invoker-check summary says who can call the service, by its ingress', () => {
    type Annotated = { metadata?: { annotations?: Record<string, string> } };
    const withIngress = (entry: Json, ingress: string | undefined, invokerCheckOff: boolean, timestamp: string): Json =>
      variant(at(entry, timestamp), (e) => {
        const request = (e.protoPayload['request'] as { service: Annotated }).service;
        for (const svc of [request, e.protoPayload['response'] as Annotated]) {
          const annotations = svc.metadata!.annotations!;
          delete annotations['run.googleapis.com/ingress'];
          delete annotations['run.googleapis.com/ingress-status'];
          if (ingress !== undefined) annotations['run.googleapis.com/ingress'] = ingress;
          if (invokerCheckOff) annotations['run.googleapis.com/invoker-iam-disabled'] = 'true';
        }
      });
    const deploy = corpus('slackbot__Services.ReplaceService__1');
    type V2Request = { service: Record<string, unknown>; updateMask?: { paths: string[] } };
    const v2Internal = variant(synthetic('v2-CreateService'), (e) => void ((e.protoPayload['request'] as V2Request).service['ingress'] = 'INGRESS_TRAFFIC_INTERNAL_ONLY'));
    const v2InvokerCheckOff = variant(synthetic('v2-UpdateService'), (e) => {
      const request = e.protoPayload['request'] as V2Request;
      request.service = { name: request.service['name'], invokerIamDisabled: true };
      request.updateMask = { paths: ['invoker_iam_disabled'] };
    });
    it.each([
      ['all', [withIngress(deploy, 'all', true, '2024-05-01T00:00:00Z')], 'all', 'anyone on the internet can call it.'],
      ['internal', [withIngress(deploy, 'internal', true, '2024-05-01T00:00:00Z')], 'internal', 'anyone who reaches it from inside its networks (ingress internal'],
      ['internal and load balancers', [withIngress(deploy, 'internal-and-cloud-load-balancing', true, '2024-05-01T00:00:00Z')], 'internal-and-cloud-load-balancing', 'through a Cloud Load Balancer'],
      [
        'none (v2)',
        [variant(synthetic('v2-CreateService'), (e) => void Object.assign((e.protoPayload['request'] as V2Request).service, { ingress: 'INGRESS_TRAFFIC_NONE', invokerIamDisabled: true }))],
        'none',
        'no traffic reaches it while its ingress is none',
      ],
      ['not logged, none known before', [withIngress(deploy, undefined, true, '2024-05-01T00:00:00Z')], 'unknown', 'ingress unknown'],
      // A v1 write is a full PUT: one that leaves the annotation out sets the default (all), not the earlier value.
      [
        'not logged by a v1 write, internal before it',
        [withIngress(deploy, 'internal', false, '2024-04-01T00:00:00Z'), withIngress(deploy, undefined, true, '2024-05-01T00:00:00Z')],
        'unknown',
        'ingress unknown',
      ],
      // A v2 update whose mask leaves ingress alone keeps the one in force.
      ['left alone by a v2 update mask, internal before it', [v2Internal, v2InvokerCheckOff], 'internal', 'ingress internal'],
      // The ingress carries across a delete: a v2 create that leaves it out (the default, all) must not leave the
      // deleted service's internal ingress in force for the service created again.
      [
        'left alone by a v2 update mask, the service created again by a v2 create that left ingress out (all), internal before the delete',
        [
          at(v2Internal, '2024-06-01T09:00:00Z'),
          variant(deleteServiceAt('2024-06-01T09:30:00Z', { project: 'acme-prod', location: 'europe-west1', service: 'storefront' }), (e) => {
            e.protoPayload['methodName'] = 'google.cloud.run.v2.Services.DeleteService';
            e.protoPayload['resourceName'] = 'projects/acme-prod/locations/europe-west1/services/storefront';
          }),
          variant(synthetic('v2-CreateService'), (e) => void delete (e.protoPayload['request'] as V2Request).service['ingress']),
          v2InvokerCheckOff,
        ],
        'all',
        'anyone on the internet can call it.',
      ],
    ])('%s', async (_name, entries, ingress, words) => {
      const [finding, ...more] = await publicFindings(entries);
      expect(more).toEqual([]);
      // The title must not contradict the summary: internal ingress is not "public" (a reader told the service was public
      // while the summary said only callers inside its networks reach it). Unknown, all and load balancers (which may be
      // external) are.
      const title =
        ingress === 'internal'
          ? 'Invoker IAM check disabled: no identity needed inside its networks'
          : ingress === 'none'
            ? 'Invoker IAM check disabled: no identity needed once ingress opens'
            : 'Invoker IAM check disabled: service is public';
      expect(finding).toMatchObject({ title, evidence: { ingress } });
      expect(finding!.summary).toContain(words);
      if (ingress !== 'all') expect(finding!.summary).not.toContain('anyone on the internet can call it');
    });
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

  // Predefined roles that carry run.routes.invoke besides the invoker role (Cloud Run IAM roles page: run.developer
  // lists run.routes.*).
  it.each(['roles/run.developer', 'roles/run.sourceDeveloper'])('fires: %s granted to allUsers on a service and on a project', async (role) => {
    const onService = variant(allUsers, (e) => {
      for (const side of [(e.protoPayload['request'] as Json)['policy'], e.protoPayload['response']] as { bindings: { role: string }[] }[]) side.bindings[0]!.role = role;
    });
    const onProject = variant(synthetic('project-SetIamPolicy-run-invoker-allUsers'), (e) => {
      for (const d of ((e.protoPayload['serviceData'] as Json)['policyDelta'] as { bindingDeltas: { role: string }[] }).bindingDeltas) d.role = role;
      for (const b of ((e.protoPayload['response'] as Json | undefined)?.['bindings'] ?? []) as { role: string; members: string[] }[]) if (b.members.includes('allUsers')) b.role = role;
      for (const b of (((e.protoPayload['request'] as Json)['policy'] as Json | undefined)?.['bindings'] ?? []) as { role: string; members: string[] }[]) if (b.members.includes('allUsers')) b.role = role;
    });
    expect((await publicFindings([onService])).map((f) => [f.severity, f.evidence['roles']])).toEqual([['HIGH', [role]]]);
    expect((await publicFindings([onProject])).map((f) => [f.severity, f.evidence['roles']])).toEqual([['CRITICAL', [role]]]);
  });

  // The only real Cloud Run SetIamPolicy sample logs no response: the request's policy is then all there is, and IAM
  // applies only the fields its mask names.
  describe('a SetIamPolicy logged without a response, with an update mask', () => {
    const requestOnly = (entry: Json, timestamp: string, updateMask?: unknown): Json =>
      variant(at(entry, timestamp), (e) => {
        delete e.protoPayload['response'];
        if (updateMask !== undefined) (e.protoPayload['request'] as Json)['updateMask'] = updateMask;
      });

    it.each([
      ['"etag"', 'etag'],
      ['"auditConfigs"', 'auditConfigs'],
      ['{paths: ["audit_configs"]}', { paths: ['audit_configs'] }],
    ])('a mask without bindings (%s) neither grants nor resolves', async (_name, mask) => {
      expect(await publicFindings([requestOnly(allUsers, '2024-02-02T09:44:25Z', mask)])).toEqual([]);
      const granted = requestOnly(allUsers, '2024-02-02T09:44:25Z');
      const findings = await publicFindings([granted, requestOnly(privatePolicy, '2024-02-03T09:00:00Z', mask)]);
      expect(findings.map((f) => f.status ?? 'active')).toEqual(['active']);
    });

    it.each([
      ['no mask (IAM uses bindings,etag)', undefined],
      ['"bindings,etag"', 'bindings,etag'],
      ['{paths: ["bindings"]}', { paths: ['bindings'] }],
    ])('a mask naming bindings (%s) grants and resolves', async (_name, mask) => {
      const findings = await publicFindings([requestOnly(allUsers, '2024-02-02T09:44:25Z', mask), requestOnly(privatePolicy, '2024-02-03T09:00:00Z', mask)]);
      expect(findings.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
    });
  });

  describe('a deleted service', () => {
    const target = { project: 'some-project', location: 'us-west1', service: 'cloudrun-exfil' };
    const invokerCheckOff = synthetic('v2-UpdateService');

    it('its public grant is resolved by the delete; granted again after a re-create, one finding is open, not two', async () => {
      const findings = await publicFindings([allUsers, deleteServiceAt('2024-02-03T09:00:00Z', target), at(allUsers, '2024-02-04T09:00:00Z')]);
      expect(findings.map((f) => [f.eventTime, f.status ?? 'active', f.resolution?.reason])).toEqual([
        ['2024-02-02T09:44:25.921Z', 'active', undefined],
        ['2024-02-02T09:44:25.921Z', 'resolved', 'the service was deleted'],
        ['2024-02-04T09:00:00Z', 'active', undefined],
      ]);
    });

    it('a delete that arrives late, after the re-created service was granted again, closes nothing', async () => {
      // The re-grant raised nothing (the delete was not known yet): the open finding is what still says "public".
      const findings = await publicFindings([allUsers, at(allUsers, '2024-02-04T09:00:00Z', 'regrant'), deleteServiceAt('2024-02-03T09:00:00Z', target)]);
      expect(findings.map((f) => f.status ?? 'active')).toEqual(['active']);
    });

    // A delete delivered after the re-created service's first entries closes nothing of what they say again (the
    // case above), but a service created again starts private: a grant of the deleted service stays closed by the
    // delete whatever the order, unless the re-created service was made public again.
    it('a delete that arrives late, after a private re-create and the deleted service\'s grant, closes the grant, as in time order', async () => {
      const deleted = deleteServiceAt('2024-02-03T09:00:00Z', target);
      const recreate = at(corpus('panther__Services.CreateService__1'), '2024-02-04T09:00:00Z', 'recreate'); // cloudrun-exfil, no grant
      const inOrder = (await findingsOf([allUsers, deleted, recreate])).filter((f) => f.rule === 'public-invoker-grant');
      expect(inOrder.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
      const late = (await findingsLive([recreate, allUsers, deleted])).filter((f) => f.rule === 'public-invoker-grant');
      expect(late.map((f) => `${f.id} ${f.status ?? 'active'}`)).toEqual(inOrder.map((f) => `${f.id} ${f.status ?? 'active'}`));
    });

    it('the invoker IAM check turned off is resolved by the delete too', async () => {
      const [off] = await publicFindings([invokerCheckOff]);
      expect(off).toMatchObject({ evidence: { invokerIamDisabled: true } });
      const t = new Date(Date.parse(off!.eventTime) + 60_000).toISOString();
      const findings = await publicFindings([invokerCheckOff, deleteServiceAt(t, { project: off!.project, location: off!.location!, service: off!.service })]);
      expect(findings.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
    });
  });

  // A folder's or organization's policy is inherited by every project below it (entries logged at that level, e.g.
  // by an organization sink or `replay --from-logging organizations/O`).
  describe('on a folder or an organization', () => {
    const projectGrant = synthetic('project-SetIamPolicy-run-invoker-allUsers');
    const projectRemoval = synthetic('project-SetIamPolicy-run-invoker-removed');
    const above = (entry: Json, resourceName: string, timestamp?: string): Json =>
      variant(timestamp ? at(entry, timestamp) : entry, (e) => {
        const [kind, id] = resourceName.split('/') as [string, string];
        e['logName'] = `${resourceName}/logs/cloudaudit.googleapis.com%2Factivity`;
        e['resource'] = kind === 'folders' ? { type: 'folder', labels: { folder_id: id } } : { type: 'organization', labels: { organization_id: id } };
        e.protoPayload['resourceName'] = resourceName;
        (e.protoPayload['request'] as Json)['resource'] = resourceName;
      });

    it.each([
      ['organizations/888888888888', 'organization', 'organizationId=888888888888'],
      ['folders/4567', 'folder', 'folder=4567'],
    ])('fires CRITICAL: allUsers granted the invoker role on %s', async (resourceName, scope, query) => {
      const [finding, ...rest] = await publicFindings([above(projectGrant, resourceName)]);
      expect(rest).toEqual([]);
      expect(finding).toMatchObject({
        severity: 'CRITICAL',
        title: `Cloud Run invoker granted to the public on a whole ${scope}`,
        project: resourceName,
        service: '*',
        resourceName: `//cloudresourcemanager.googleapis.com/${resourceName}`,
        evidence: { scope, membersGranted: ['allUsers'], source: 'policy delta' },
        links: { console: `https://console.cloud.google.com/iam-admin/iam?${query}` },
      });
      expect(finding!.location).toBe('global'); // a policy above any region, in force in all of them
      expect(finding!.summary).toContain(`${resourceName.replace('s/', ' ')} (every Cloud Run service in it)`);
      expect(finding!.links.logEntry).toMatch(new RegExp(`\\?${query}$`));
    });

    // An entry that names no resourceName (nor a request resource) is still about the folder or organization its
    // resource and logName name: not skipped as "a project SetIamPolicy without a project".
    it.each([['organizations/888888888888'], ['folders/4567']])('fires on %s for an entry that names no resourceName', async (resourceName) => {
      const bare = variant(above(projectGrant, resourceName), (e) => {
        delete e.protoPayload['resourceName'];
        delete (e.protoPayload['request'] as Json)['resource'];
      });
      const [finding, ...rest] = await publicFindings([bare]);
      expect(rest).toEqual([]);
      expect(finding).toMatchObject({ severity: 'CRITICAL', project: resourceName, service: '*', resourceName: `//cloudresourcemanager.googleapis.com/${resourceName}` });
    });

    it('resolves when the grant is removed there; a project of the same number is another scope', async () => {
      const org = 'organizations/888888888888';
      const findings = await publicFindings([above(projectGrant, org), above(projectRemoval, org, '2020-05-16T00:00:00Z')]);
      expect(findings.map((f) => [f.project, f.status ?? 'active'])).toEqual([[org, 'active'], [org, 'resolved']]);
      const elsewhere = await publicFindings([above(projectGrant, org), at(projectRemoval, '2020-05-16T00:00:00Z')]);
      expect(elsewhere.map((f) => f.status ?? 'active')).toEqual(['active']);
    });

    it('ignores: an owner granted to a user on an organization (real entry)', async () => {
      expect(await publicFindings([corpus('panther__SetIamPolicy__4')])).toEqual([]);
    });

    it.each([
      ['a project exception matching its resource name exempts it', { project: 'organizations/*' }, 0],
      ['a project exception by project id does not', { project: '*' }, 1],
      ['a service exception does not', { service: '**' }, 1],
    ])('%s', async (_name, exception, count) => {
      const cfg = config({ rules: { 'public-invoker-grant': { exceptions: [exception] } } });
      expect(await publicFindings([above(projectGrant, 'organizations/888888888888')], cfg)).toHaveLength(count);
    });
  });

  // Google's audit catalog (googleapis/google-cloudevents json/audit/service_catalog.json) lists, for
  // cloudresourcemanager.googleapis.com, `SetIamPolicy` (v1) and the v3 API's own names:
  // google.cloud.resourcemanager.v3.{Projects,Folders,Organizations}.SetIamPolicy (the client libraries and
  // anything built on them call v3). The entry is the v1 one's (same AuditLog, same policyDelta) under the v3 name.
  describe('a grant through the Resource Manager v3 API', () => {
    const v3Project = synthetic('project-SetIamPolicy-v3-run-invoker-allUsers');
    const v3Above = (resourceName: string, method: string): Json =>
      variant(v3Project, (e) => {
        const [kind, id] = resourceName.split('/') as [string, string];
        e['logName'] = `${resourceName}/logs/cloudaudit.googleapis.com%2Factivity`;
        e['resource'] = kind === 'folders' ? { type: 'folder', labels: { folder_id: id } } : { type: 'organization', labels: { organization_id: id } };
        e.protoPayload['methodName'] = method;
        e.protoPayload['resourceName'] = resourceName;
        (e.protoPayload['request'] as Json)['resource'] = resourceName;
      });

    it.each([
      ['on a project', v3Project, 'project', 'western-verve-123456'],
      ['on a folder', v3Above('folders/4567', 'google.cloud.resourcemanager.v3.Folders.SetIamPolicy'), 'folder', 'folders/4567'],
      ['on an organization', v3Above('organizations/888888888888', 'google.cloud.resourcemanager.v3.Organizations.SetIamPolicy'), 'organization', 'organizations/888888888888'],
    ])('fires CRITICAL: allUsers granted the invoker role %s', async (_name, entry, scope, project) => {
      const findings = await publicFindings([entry]);
      expect(findings).toHaveLength(1);
      expect(findings[0]).toMatchObject({ severity: 'CRITICAL', project, service: '*', evidence: { scope, membersGranted: ['allUsers'], source: 'policy delta' } });
    });

    it('the log sink filter lets the v3 methods through', async () => {
      const { sinkFilter } = await import('../../../functions/detectors/sinkFilter.js');
      for (const kind of ['Projects', 'Folders', 'Organizations']) expect(sinkFilter()).toContain(`"google.cloud.resourcemanager.v3.${kind}.SetIamPolicy"`);
    });
  });
});

// What the service's write still waiting for its rollout set is in force from its time (revision.ts settingBefore):
// IAP a create turned on guards the service from then, as the live pipeline sees it once that rollout completed.
describe('public-invoker-grant: IAP a deploy still waiting for its rollout turned on', () => {
  const iapCreate = variant(synthetic('v2-CreateService'), (e) => {
    ((e.protoPayload['request'] as Record<string, unknown>)['service'] as Record<string, unknown>)['iapEnabled'] = true;
  });
  const checkOff = at(
    variant(synthetic('v2-UpdateService'), (e) => {
      const request = e.protoPayload['request'] as Record<string, unknown>;
      (request['service'] as Record<string, unknown>)['invokerIamDisabled'] = true;
      request['updateMask'] = 'invokerIamDisabled';
    }),
    '2024-06-01T10:00:10Z',
  );
  it.each([
    ['replay (the create waits for its system events)', findingsOf],
    ['live (the create completed before the update came)', findingsLive],
  ])('the invoker check turned off 10 s after a create that turned IAP on is said to be behind IAP: %s', async (_name, run) => {
    const findings = (await run([iapCreate, checkOff])).filter((f) => f.rule === 'public-invoker-grant');
    expect(findings.map((f) => [f.eventTime, f.evidence['behindIap']])).toEqual([['2024-06-01T10:00:10Z', true]]);
  });
});

// A service starts with an empty IAM policy: after its create, seen by this baseline, the earlier policy is known (no
// one held a role), and a grant is the difference from it. The real Panther capture: the console create of
// some-project/cloudrun-exfil (panther__Services.CreateService__1, 09:43:54) and the grant of allUsers that followed
// (synthetic-run-SetIamPolicy-allUsers, 31 s later, while the create still waits for its rollout; or hours later,
// the create judged and applied by then).
describe('public-invoker-grant: the policy before a grant, after the service was created', () => {
  const create = corpus('panther__Services.CreateService__1');
  const EXFIL = { project: 'some-project', location: 'us-west1', service: 'cloudrun-exfil' };
  const later = at(allUsers, '2024-02-02T12:00:00Z');
  it.each([
    ['no create seen', [allUsers], 'full policy (no earlier policy known)'],
    ['the create just before (still waiting for its rollout)', [create, allUsers], 'difference from the last known policy'],
    ['the create hours before (judged and applied)', [create, later], 'difference from the last known policy'],
    ['the create, then a delete: the create was the deleted service\'s', [create, deleteServiceAt('2024-02-02T11:00:00Z', EXFIL), later], 'full policy (no earlier policy known)'],
  ])('%s', async (_name, entries, source) => {
    for (const findings of [await publicFindings(entries), (await findingsLive(entries)).filter((f) => f.rule === 'public-invoker-grant')]) {
      expect(findings.map((f) => [f.evidence['membersGranted'], f.evidence['source']])).toEqual([[['allUsers'], source]]);
    }
  });
});
