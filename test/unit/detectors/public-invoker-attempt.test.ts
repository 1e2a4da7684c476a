// public-invoker-attempt: a call a control refused (FAILED_PRECONDITION from an organization policy such as Domain
// Restricted Sharing, or PERMISSION_DENIED) that would have opened Cloud Run to the public. Table-driven over the
// synthetic refused entries (built from real successful ones: no refused SetIamPolicy is public) and variants.
import { describe, expect, it } from 'vitest';
import { parseEntry } from '../../../functions/audit/normalize.js';
import { at, corpus, editV1Services, synthetic, variant, withOperationId, type Json } from '../../support/entries.js';
import { config, findingsLive, findingsOf } from '../../support/run.js';

const RULE = 'public-invoker-attempt';
const serviceRefused = synthetic('run-SetIamPolicy-allUsers-refused');
const projectRefused = synthetic('project-SetIamPolicy-run-invoker-allUsers-refused');
const deployDenied = synthetic('v2-UpdateService-invoker-iam-disabled-denied');
const serviceGranted = synthetic('run-SetIamPolicy-allUsers');

type Obj = Record<string, unknown>;

/** The entry with its status replaced (undefined: removed) and the severity a failure is logged at. */
function withStatus(entry: Json, status: Obj | undefined): Json {
  return variant(entry, (e) => {
    if (status === undefined) delete e.protoPayload['status'];
    else e.protoPayload['status'] = status;
  });
}

/** The refused service request asking for these bindings. */
function requesting(entry: Json, bindings: readonly { role: string; members: string[] }[]): Json {
  return variant(entry, (e) => {
    ((e.protoPayload['request'] as Obj)['policy'] as Obj)['bindings'] = bindings;
  });
}

/** The gcloud v1 deploy turning the invoker check off, refused with `status`. */
function v1DeployRefused(status: Obj, time = '2024-05-04T10:00:00Z'): Json {
  const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
    ((svc['metadata'] as Obj)['annotations'] as Obj)['run.googleapis.com/invoker-iam-disabled'] = 'true';
  });
  return at(
    variant(withOperationId(entry, 'op-refused'), (e) => {
      delete e.protoPayload['response'];
      e.protoPayload['status'] = status;
      e['severity'] = 'ERROR';
    }),
    time,
  );
}

const DRS = { code: 9, message: 'One or more users named in the policy do not belong to a permitted customer.' };

async function attempts(entries: readonly unknown[], cfg = config()) {
  return (await findingsOf(entries, cfg)).filter((f) => f.rule === RULE);
}

describe('public-invoker-attempt', () => {
  it.each([
    ['v1 service policy refused by Domain Restricted Sharing', [serviceRefused], 'LOW', { scope: 'service', membersAttempted: ['allUsers'], refusedWith: 'FAILED_PRECONDITION' }],
    [
      'v2 service policy for allAuthenticatedUsers',
      [
        variant(requesting(serviceRefused, [{ role: 'roles/run.invoker', members: ['allAuthenticatedUsers'] }]), (e) => {
          e.protoPayload['methodName'] = 'google.cloud.run.v2.Services.SetIamPolicy';
        }),
      ],
      'LOW',
      { scope: 'service', membersAttempted: ['allAuthenticatedUsers'], roles: ['roles/run.invoker'] },
    ],
    ['project policy (the whole policy in the request, no delta)', [projectRefused], 'MEDIUM', { scope: 'project', membersAttempted: ['allUsers'] }],
    [
      'project policy through the Resource Manager v3 API (its own methodName in Google\'s audit catalog)',
      [variant(projectRefused, (e) => void (e.protoPayload['methodName'] = 'google.cloud.resourcemanager.v3.Projects.SetIamPolicy'))],
      'MEDIUM',
      { scope: 'project', membersAttempted: ['allUsers'] },
    ],
    [
      'organization policy',
      [
        variant(projectRefused, (e) => {
          e.protoPayload['resourceName'] = 'organizations/123456789012';
          e['resource'] = { type: 'organization', labels: { organization_id: '123456789012' } };
        }),
      ],
      'MEDIUM',
      { scope: 'organization' },
    ],
    ['v2 update turning the invoker check off, PERMISSION_DENIED', [deployDenied], 'LOW', { attempted: 'invoker IAM check off', refusedWith: 'PERMISSION_DENIED' }],
    ['v1 replace turning the invoker check off, refused by an organization policy', [v1DeployRefused({ code: 9, message: 'Constraint violated' })], 'LOW', { attempted: 'invoker IAM check off', refusedWith: 'FAILED_PRECONDITION' }],
    [
      'every authorization check denied, no status code',
      [
        variant(withStatus(serviceRefused, undefined), (e) => {
          for (const check of e.protoPayload['authorizationInfo'] as Obj[]) check['granted'] = false;
          e['severity'] = 'NOTICE';
        }),
      ],
      'LOW',
      { refusedWith: 'PERMISSION_DENIED', statusMessage: 'unknown' },
    ],
    ['a status code written as a string of digits', [withStatus(serviceRefused, { code: '9' })], 'LOW', { refusedWith: 'FAILED_PRECONDITION' }],
    // Resource Manager's projects.setIamPolicy (v1, v1beta1, v3): "Project does not support allUsers and
    // allAuthenticatedUsers as members in a Binding of a Policy". Asking for them there is refused as an invalid
    // argument, and the asking is what there is to see: nobody can open every service of a project that way.
    [
      'project policy refused as INVALID_ARGUMENT (Resource Manager takes no public member on a project)',
      [withStatus(projectRefused, { code: 3, message: 'Request contains an invalid argument.' })],
      'MEDIUM',
      { scope: 'project', membersAttempted: ['allUsers'], refusedWith: 'INVALID_ARGUMENT' },
    ],
  ])('fires: %s', async (_name, entries, severity, evidence) => {
    const findings = await attempts(entries);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity, evidence });
    expect(findings[0]!.summary).toContain('refused');
    expect(findings[0]!.summary).toContain('nothing changed');
    expect(findings[0]!.status).toBeUndefined();
  });

  it('names who tried, what and where, with the status message as evidence', async () => {
    const [finding] = await attempts([serviceRefused]);
    expect(finding).toMatchObject({
      principal: 'some.user@company.com',
      project: 'some-project',
      location: 'us-west1',
      service: 'cloudrun-exfil',
      resourceName: '//run.googleapis.com/projects/some-project/locations/us-west1/services/cloudrun-exfil',
      title: 'Refused attempt to grant the Cloud Run invoker to the public',
      evidence: { statusMessage: DRS.message },
      unknown: [],
    });
    expect(finding!.summary).toBe(
      'some.user@company.com tried to grant roles/run.invoker to allUsers on some-project/cloudrun-exfil (us-west1); it was refused ' +
        '(FAILED_PRECONDITION: an organization policy such as Domain Restricted Sharing forbids it), so nothing changed.',
    );
    const [project] = await attempts([projectRefused]);
    expect(project).toMatchObject({ service: '*', resourceName: '//cloudresourcemanager.googleapis.com/projects/western-verve-123456' });
    expect(project!.links.console).toContain('/iam-admin/iam?project=western-verve-123456');
  });

  it('cuts a long status message (it may quote the request) to 300 characters', async () => {
    const [finding] = await attempts([withStatus(serviceRefused, { code: 9, message: `denied: ${'x'.repeat(5_000)}` })]);
    const message = finding!.evidence['statusMessage'] as string;
    expect(message).toHaveLength(300);
    expect(message.endsWith('…')).toBe(true);
  });

  it.each([
    ['the same request succeeded (public-invoker-grant reports it)', [serviceGranted]],
    ['ABORTED: a concurrent policy change, retried by the caller', [withStatus(serviceRefused, { code: 10, message: 'There were concurrent policy changes.' })]],
    ['INVALID_ARGUMENT on a service (a malformed request says nothing of intent)', [withStatus(serviceRefused, { code: 3, message: 'Invalid argument' })]],
    ['UNAVAILABLE', [withStatus(serviceRefused, { code: 14 })]],
    ['a refused policy without a public member (an outside user refused)', [requesting(serviceRefused, [{ role: 'roles/run.invoker', members: ['user:partner@example.org'] }])]],
    ['a refused policy granting the public a role that does not invoke', [requesting(serviceRefused, [{ role: 'roles/run.viewer', members: ['allUsers'] }])]],
    [
      'a refused request whose mask leaves the bindings alone',
      [
        variant(serviceRefused, (e) => {
          (e.protoPayload['request'] as Obj)['updateMask'] = 'auditConfigs';
        }),
      ],
    ],
    [
      'a refused deploy that leaves the invoker check on',
      [
        variant(deployDenied, (e) => {
          const request = e.protoPayload['request'] as Obj;
          (request['service'] as Obj)['invokerIamDisabled'] = false;
        }),
      ],
    ],
    [
      'a refused deploy whose mask does not name the invoker check',
      [
        variant(deployDenied, (e) => {
          (e.protoPayload['request'] as Obj)['updateMask'] = 'labels';
        }),
      ],
    ],
    [
      'a refused dry run (validateOnly)',
      [
        variant(deployDenied, (e) => {
          (e.protoPayload['request'] as Obj)['validateOnly'] = true;
        }),
      ],
    ],
    [
      'a member the service already held: a refused edit of another binding',
      [
        serviceGranted,
        at(
          requesting(serviceRefused, [
            { role: 'roles/run.invoker', members: ['allUsers', 'user:some.user@company.com'] },
            { role: 'roles/run.invoker', members: ['user:partner@example.org'] },
          ]),
          '2024-02-02T10:00:00Z',
        ),
      ],
    ],
  ])('ignores: %s', async (_name, entries) => {
    expect(await attempts(entries)).toEqual([]);
  });

  it('ignores a refused deploy on a service whose invoker check is already off', async () => {
    const off = variant(synthetic('v2-UpdateService'), (e) => {
      e['timestamp'] = '2024-06-01T11:00:00Z';
    });
    const findings = await findingsOf([off, deployDenied]);
    expect(findings.filter((f) => f.rule === 'public-invoker-grant')).toHaveLength(1);
    expect(findings.filter((f) => f.rule === RULE)).toEqual([]);
  });

  it('ignores it too when the deploy that turned the check off still waits for its rollout (live, seconds apart)', async () => {
    const off = variant(synthetic('v2-UpdateService'), (e) => {
      e['timestamp'] = '2024-06-01T11:00:00Z';
    });
    const findings = await findingsLive([off, deployDenied], config(), Date.parse('2030-01-01T00:00:00Z'), 3_000);
    expect(findings.filter((f) => f.rule === RULE)).toEqual([]);
  });

  it('only what the attempt would add: the refused member, not the ones already held', async () => {
    const both = at(requesting(serviceRefused, [{ role: 'roles/run.invoker', members: ['allUsers', 'allAuthenticatedUsers'] }]), '2024-02-02T10:00:00Z');
    const findings = await attempts([serviceGranted, both]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.evidence['membersAttempted']).toEqual(['allAuthenticatedUsers']);
  });

  it('a stronger role for a member already public is still an attempt (allUsers holds the invoker, run.admin is asked)', async () => {
    const upgrade = at(
      requesting(serviceRefused, [
        { role: 'roles/run.invoker', members: ['allUsers'] },
        { role: 'roles/run.admin', members: ['allUsers'] },
      ]),
      '2024-02-02T10:00:00Z',
    );
    const findings = await attempts([serviceGranted, upgrade]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.evidence).toMatchObject({ membersAttempted: ['allUsers'], roles: ['roles/run.admin'], source: 'difference from the last known policy' });
    const projectUpgrade = at(
      variant(projectRefused, (e) => {
        (((e.protoPayload['request'] as Obj)['policy'] as Obj)['bindings'] as Obj[]).push({ role: 'roles/run.admin', members: ['allUsers'] });
      }),
      '2020-05-15T04:00:00Z',
    );
    const project = await attempts([at(synthetic('project-SetIamPolicy-run-invoker-allUsers'), '2020-05-15T03:00:00Z'), projectUpgrade]);
    expect(project.map((f) => f.evidence['roles'])).toEqual([['roles/run.admin']]);
  });

  it('ignores a write-capable role asked for a member that already holds one (the baseline keeps which members do)', async () => {
    const adminPolicy = variant(serviceGranted, (e) => {
      const bindings = [{ role: 'roles/run.invoker', members: ['allUsers'] }, { role: 'roles/run.developer', members: ['allUsers'] }];
      ((e.protoPayload['request'] as Obj)['policy'] as Obj)['bindings'] = bindings;
      (e.protoPayload['response'] as Obj)['bindings'] = bindings;
    });
    const again = at(requesting(serviceRefused, [{ role: 'roles/run.admin', members: ['allUsers'] }]), '2024-02-02T10:00:00Z');
    expect(await attempts([adminPolicy, again])).toEqual([]);
    // allAuthenticatedUsers holds nothing yet: asked alongside, it is the attempt.
    const both = at(requesting(serviceRefused, [{ role: 'roles/run.admin', members: ['allUsers', 'allAuthenticatedUsers'] }]), '2024-02-02T10:00:00Z');
    expect((await attempts([adminPolicy, both])).map((f) => f.evidence['membersAttempted'])).toEqual([['allAuthenticatedUsers']]);
  });

  it('says whether an earlier policy of the service was known', async () => {
    const [alone] = await attempts([serviceRefused]);
    expect(alone!.evidence['source']).toBe('no earlier policy known');
  });

  it("ignores services meant to be public (public-invoker-grant's allowServices), not a whole project", async () => {
    const cfg = config({ rules: { 'public-invoker-grant': { allowServices: ['some-project/cloudrun-*', '*/*'] } } });
    expect(await attempts([serviceRefused], cfg)).toEqual([]);
    expect(await attempts([projectRefused], cfg)).toHaveLength(1);
    expect(await attempts([deployDenied], config({ rules: { 'public-invoker-grant': { allowServices: ['acme-prod/storefront'] } } }))).toEqual([]);
  });

  it('an attempt changes no baseline: the later successful grant is still reported as a grant', async () => {
    const grantLater = at(serviceGranted, '2024-02-02T10:00:00Z');
    const findings = await findingsOf([serviceRefused, grantLater]);
    expect(findings.map((f) => f.rule).sort()).toEqual(['public-invoker-attempt', 'public-invoker-grant']);
  });

  it('the same entry twice gives one finding', async () => {
    expect(await attempts([serviceRefused, serviceRefused])).toHaveLength(1);
  });

  it('respects enabled, exceptions and severity', async () => {
    expect(await attempts([serviceRefused], config({ rules: { [RULE]: { enabled: false } } }))).toEqual([]);
    expect(await attempts([serviceRefused], config({ rules: { [RULE]: { exceptions: [{ principal: 'user:some.user@company.com' }] } } }))).toEqual([]);
    expect(await attempts([projectRefused], config({ rules: { [RULE]: { exceptions: [{ service: '*/cloudrun-*' }] } } }))).toHaveLength(1);
    const [raised] = await attempts([serviceRefused], config({ rules: { [RULE]: { severity: 'HIGH' } } }));
    expect(raised!.severity).toBe('HIGH');
  });

  it('normalizes to a refused change only when the attempt would open something; other failures stay skipped', () => {
    expect(parseEntry(serviceRefused)).toMatchObject({ kind: 'change', change: { kind: 'refused', attempt: 'iam-policy', refusal: { code: 9, codeName: 'FAILED_PRECONDITION' } } });
    expect(parseEntry(deployDenied)).toMatchObject({ kind: 'change', change: { kind: 'refused', attempt: 'invoker-iam-disabled', publicInvokers: [] } });
    expect(parseEntry(withStatus(serviceRefused, { code: 10 }))).toEqual({ kind: 'skipped', reason: 'failed-call', detail: 'google.cloud.run.v1.Services.SetIamPolicy' });
    expect(parseEntry(requesting(serviceRefused, [{ role: 'roles/run.invoker', members: ['user:partner@example.org'] }]))).toMatchObject({ kind: 'skipped', reason: 'failed-call' });
    expect(parseEntry(withStatus(serviceRefused, { code: 'nine' }))).toMatchObject({ kind: 'malformed' });
  });
});

// A service starts with an empty IAM policy: after its create, seen by this baseline (the real Panther console create
// of some-project/cloudrun-exfil, panther__Services.CreateService__1), the earlier policy is known, and the refused
// grant that follows (synthetic-run-SetIamPolicy-allUsers-refused, moved after it) is compared with it.
describe('public-invoker-attempt: the policy before an attempt, after the service was created', () => {
  const create = corpus('panther__Services.CreateService__1');
  it.each([
    ['no create seen', [at(serviceRefused, '2024-02-02T09:44:25.921000Z')], 'no earlier policy known'],
    ['the create just before (still waiting for its rollout)', [create, at(serviceRefused, '2024-02-02T09:44:25.921000Z')], 'difference from the last known policy'],
    ['the create hours before (judged and applied)', [create, at(serviceRefused, '2024-02-02T12:00:00Z')], 'difference from the last known policy'],
  ])('%s', async (_name, entries, source) => {
    for (const findings of [await findingsOf(entries), await findingsLive(entries)]) {
      expect(findings.filter((f) => f.rule === RULE).map((f) => [f.evidence['membersAttempted'], f.evidence['source']])).toEqual([[['allUsers'], source]]);
    }
  });
});
