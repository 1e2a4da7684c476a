// external-member-grant: a role on a Cloud Run service (every role), or a Cloud Run-relevant role on a project, folder
// or organization, newly granted to a user, group or domain outside rules.external-member-grant.allowedDomains.
// Real entries first (panther's v1 service policy, archicloud's project delta, panther's organization delta);
// variants of them, and of the synthetic v2 service policy, for the edge cases.
import { describe, expect, it } from 'vitest';
import { at, corpus, deleteServiceAt, synthetic, variant, type Json } from '../../support/entries.js';
import { config, findingsLive, findingsOf } from '../../support/run.js';
import type { Finding } from '../../../functions/findings/finding.js';

const RULE = 'external-member-grant';

/** The config with the rule's own settings. */
const withRule = (settings: Record<string, unknown>) => config({ rules: { [RULE]: settings } });
const ACME = withRule({ allowedDomains: ['acme.com', '*.acme.com'] });

async function externalFindings(entries: readonly unknown[], cfg = ACME): Promise<Finding[]> {
  return (await findingsOf(entries, cfg)).filter((f) => f.rule === RULE);
}

/** [member, role, status] of each finding, in order. */
const shape = (findings: readonly Finding[]): [unknown, unknown, string][] => findings.map((f) => [f.evidence['member'], f.evidence['role'], f.status ?? 'active']);

// Real: v1 Services.SetIamPolicy giving user:some.user@company.com roles/run.invoker (request and response policy).
const v1Grant = corpus('panther__Services.SetIamPolicy__1');
// Real: the same call denied (status 7): nothing changed.
const v1Denied = corpus('panther__Services.SetIamPolicy__2');
// Real: a project policy delta giving user:collaborateur0013@gmail.com roles/run.admin (with a condition).
const projectDelta = at(corpus('archicloud__SetIamPolicy__1'), '2025-11-09T20:06:41.246951Z');
// Real: an organization policy delta giving user:backdoor@example.com roles/owner.
const orgOwner = corpus('panther__SetIamPolicy__4');
// Real: a project policy delta giving user:username@gmail.com roles/viewer (reaches no Cloud Run write or call).
const projectViewer = corpus('panther__SetIamPolicy__1');
// Synthetic: a v2 Services.SetIamPolicy (request and response policy).
const v2Policy = synthetic('v2-SetIamPolicy-allUsers');

type Binding = { role: string; members: string[]; condition?: Json };

/** `entry` (a service SetIamPolicy) at `timestamp`, its policy (request and response) holding `bindings`. */
function servicePolicy(entry: Json, timestamp: string, bindings: Binding[]): Json {
  return variant(at(entry, timestamp), (e) => {
    (e.protoPayload['request'] as { policy: Json }).policy['bindings'] = bindings;
    const response = e.protoPayload['response'] as Json | undefined;
    if (response) response['bindings'] = bindings;
  });
}

/** archicloud's project delta at `timestamp`, holding `deltas`. */
function projectDeltaOf(timestamp: string, deltas: Json[]): Json {
  return variant(at(projectDelta, timestamp), (e) => {
    (e.protoPayload['serviceData'] as Json)['policyDelta'] = { bindingDeltas: deltas };
  });
}

const gmailDeveloper: Binding = { role: 'roles/run.developer', members: ['user:someone@gmail.com'] };
const acmeInvoker: Binding = { role: 'roles/run.invoker', members: ['user:alice@acme.com'] };

/** A service policy of 67 invoker users (past the 64 pairs the baseline keeps: the next policy is known only in part). */
function policyOver64(timestamp: string): Json {
  const members = Array.from({ length: 67 }, (_, i) => `user:u${String(i).padStart(3, '0')}@gmail.com`);
  return servicePolicy(v1Grant, timestamp, [{ role: 'roles/run.invoker', members }]);
}

describe('external-member-grant', () => {
  it.each([
    ['v1 service policy, user outside (real entry; no earlier policy known)', [v1Grant], ACME, 'MEDIUM', 'user:some.user@company.com', 'roles/run.invoker', 'company.com', 'service'],
    ['v2 service policy, run.developer to a gmail user', [servicePolicy(v2Policy, '2024-02-04T09:00:00Z', [acmeInvoker, gmailDeveloper])], ACME, 'HIGH', 'user:someone@gmail.com', 'roles/run.developer', 'gmail.com', 'service'],
    ['project delta, run.admin to a gmail user (real entry)', [projectDelta], ACME, 'HIGH', 'user:collaborateur0013@gmail.com', 'roles/run.admin', 'gmail.com', 'project'],
    ['organization delta, owner (real entry)', [orgOwner], ACME, 'HIGH', 'user:backdoor@example.com', 'roles/owner', 'example.com', 'organization'],
    ['a domain: member given the invoker role', [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [{ role: 'roles/run.invoker', members: ['domain:partner.example'] }])], ACME, 'MEDIUM', 'domain:partner.example', 'roles/run.invoker', 'partner.example', 'service'],
    ['a group: member given a custom role', [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [{ role: 'projects/p/roles/deployer', members: ['group:ops@partner.example'] }])], ACME, 'HIGH', 'group:ops@partner.example', 'projects/p/roles/deployer', 'partner.example', 'service'],
    ['the apex is not matched by *.company.com', [v1Grant], withRule({ allowedDomains: ['*.company.com'] }), 'MEDIUM', 'user:some.user@company.com', 'roles/run.invoker', 'company.com', 'service'],
    ['project serviceAccountTokenCreator (acts as every runtime service account)', [projectDeltaOf('2025-11-10T10:00:00Z', [{ action: 'ADD', role: 'roles/iam.serviceAccountTokenCreator', member: 'user:x@gmail.com' }])], ACME, 'HIGH', 'user:x@gmail.com', 'roles/iam.serviceAccountTokenCreator', 'gmail.com', 'project'],
    // Spellings IAM may hand back that are still a Google account outside: judged by the email, never skipped.
    ['a user: member with a ?uid= suffix (as deleted: members carry it)', [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [{ role: 'roles/run.admin', members: ['user:x@gmail.com?uid=123456789012345678901'] }])], ACME, 'HIGH', 'user:x@gmail.com?uid=123456789012345678901', 'roles/run.admin', 'gmail.com', 'service'],
    ['a group: member with a ?uid= suffix', [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [{ role: 'roles/run.admin', members: ['group:ops@gmail.com?uid=42'] }])], ACME, 'HIGH', 'group:ops@gmail.com?uid=42', 'roles/run.admin', 'gmail.com', 'service'],
    ['a member with white space around it', [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [{ role: 'roles/run.admin', members: [' user:x@gmail.com\t'] }])], ACME, 'HIGH', ' user:x@gmail.com\t', 'roles/run.admin', 'gmail.com', 'service'],
    // A member that is no plain email (a second @, a ? elsewhere) is outside whatever its domain seems: a glob could
    // match what follows the ? (*.acme.com matches "gmail.com?.acme.com"), and which account it is cannot be told.
    ['an @ after a ?uid= suffix (not a suffix then)', [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [{ role: 'roles/run.admin', members: ['user:x@gmail.com?uid=1@acme.com'] }])], ACME, 'HIGH', 'user:x@gmail.com?uid=1@acme.com', 'roles/run.admin', 'x@gmail.com?uid=1@acme.com', 'service'],
    ['an allowed domain before a ?', [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [{ role: 'roles/run.admin', members: ['user:x@acme.com?@evil.example'] }])], ACME, 'HIGH', 'user:x@acme.com?@evil.example', 'roles/run.admin', 'x@acme.com?@evil.example', 'service'],
    ['an allowed subdomain glob matching across a ?', [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [{ role: 'roles/run.admin', members: ['user:x@gmail.com?.acme.com'] }])], ACME, 'HIGH', 'user:x@gmail.com?.acme.com', 'roles/run.admin', 'x@gmail.com?.acme.com', 'service'],
    ['a domain: member with an @', [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [{ role: 'roles/run.admin', members: ['domain:x@evil.example'] }])], ACME, 'HIGH', 'domain:x@evil.example', 'roles/run.admin', 'x@evil.example', 'service'],
  ])('fires: %s', async (_name, entries, cfg, severity, member, role, domain, scope) => {
    const findings = await externalFindings(entries, cfg);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity, evidence: { member, role, domain, scope } });
  });

  it.each([
    ['no allowedDomains set (the rule is off until then)', [v1Grant, projectDelta], config()],
    ['the member inside allowedDomains', [v1Grant], withRule({ allowedDomains: ['company.com'] })],
    ['a subdomain matched by a glob', [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [{ role: 'roles/run.admin', members: ['user:bob@eng.acme.com'] }])], ACME],
    ['letter case: member and allowedDomains written otherwise', [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [{ role: 'roles/run.admin', members: ['user:Bob@Eng.ACME.com', 'group:Ops@COMPANY.com'] }])], withRule({ allowedDomains: ['*.Acme.COM', 'company.com'] })],
    ['a member in allowMembers', [v1Grant], withRule({ allowedDomains: ['acme.com'], allowMembers: ['user:some.user@company.com'] })],
    ['a member glob in allowMembers, any letter case', [v1Grant], withRule({ allowedDomains: ['acme.com'], allowMembers: ['USER:*@Company.com'] })],
    ['a member in allowMembers, logged with a ?uid= suffix', [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [{ role: 'roles/run.invoker', members: ['user:Some.User@company.com?uid=7'] }])], withRule({ allowedDomains: ['acme.com'], allowMembers: ['user:some.user@company.com'] })],
    ['a service account outside', [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [{ role: 'roles/run.admin', members: ['serviceAccount:ci@evil-project.iam.gserviceaccount.com'] }])], ACME],
    ['a deleted: member', [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [{ role: 'roles/run.admin', members: ['deleted:user:old@gmail.com?uid=123456789'] }])], ACME],
    ['principal:// and principalSet:// members', [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [{ role: 'roles/run.invoker', members: ['principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/subject/x', 'principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/*'] }])], ACME],
    ['allUsers (public-invoker-grant reports it)', [v2Policy], ACME],
    ['a failed call (status 7, real entry)', [v1Denied], ACME],
    ['a project role that reaches no Cloud Run write or call (roles/viewer, real entry)', [projectViewer], ACME],
    ['a service account given a project role (real entry)', [corpus('elastic__SetIamPolicy__1')], ACME],
    ['a disabled rule', [v1Grant], withRule({ enabled: false, allowedDomains: ['acme.com'] })],
  ])('ignores: %s', async (_name, entries, cfg) => {
    expect(await externalFindings(entries, cfg)).toEqual([]);
  });

  it('only what was added: a re-applied policy raises nothing, a member added to it does', async () => {
    const findings = await externalFindings([
      v1Grant,
      at(v1Grant, '2024-02-03T10:00:00Z'),
      servicePolicy(v1Grant, '2024-02-04T10:00:00Z', [{ role: 'roles/run.invoker', members: ['user:some.user@company.com', 'user:other@gmail.com'] }]),
    ]);
    expect(shape(findings)).toEqual([
      ['user:some.user@company.com', 'roles/run.invoker', 'active'],
      ['user:other@gmail.com', 'roles/run.invoker', 'active'],
    ]);
    expect(findings.map((f) => f.evidence['source'])).toEqual(['full policy (no earlier policy known)', 'difference from the last known policy']);
  });

  // The first policy runwatch sees of a resource may hold a grant made long before: the on-call engineer must not read
  // it as made by this change's principal, now. A difference from a known policy is a grant by this change.
  it.each([
    ['no earlier policy known', [v1Grant], 'user:some.user@company.com', /holds roles\/run\.invoker.*no earlier policy .*known.*may be older/],
    ['earlier policy known only in part', [policyOver64('2024-02-02T10:00:00Z'), policyOver64('2024-02-03T10:00:00Z')], 'user:u066@gmail.com', /holds roles\/run\.invoker.*known only in part.*may be older/],
    ['difference from the last known policy', [v1Grant, servicePolicy(v1Grant, '2024-02-04T10:00:00Z', [{ role: 'roles/run.invoker', members: ['user:some.user@company.com', 'user:other@gmail.com'] }])], 'user:other@gmail.com', /granted roles\/run\.invoker to user:other@gmail\.com on /],
  ])('the summary says whether the grant was seen being made: %s', async (_name, entries, member, summary) => {
    const findings = (await externalFindings(entries)).filter((f) => f.evidence['member'] === member);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.summary).toMatch(summary);
    expect(findings[0]!.title).toMatch(/Cloud Run role/);
  });

  it('a member re-applied in another letter case is the same member: nothing new', async () => {
    const upper = servicePolicy(v1Grant, '2024-02-03T10:00:00Z', [{ role: 'roles/run.invoker', members: ['user:Some.User@COMPANY.com'] }]);
    expect(shape(await externalFindings([v1Grant, upper]))).toEqual([['user:some.user@company.com', 'roles/run.invoker', 'active']]);
  });

  it('a member given a second role is a grant of that role', async () => {
    const both = servicePolicy(v1Grant, '2024-02-03T10:00:00Z', [
      { role: 'roles/run.invoker', members: ['user:some.user@company.com'] },
      { role: 'roles/run.admin', members: ['user:some.user@company.com'] },
    ]);
    expect(shape(await externalFindings([v1Grant, both]))).toEqual([
      ['user:some.user@company.com', 'roles/run.invoker', 'active'],
      ['user:some.user@company.com', 'roles/run.admin', 'active'],
    ]);
  });

  it('the same entry delivered twice: one finding, one id', async () => {
    const findings = await externalFindings([v1Grant, v1Grant]);
    expect(findings).toHaveLength(1);
    const again = await externalFindings([v1Grant]);
    expect(again[0]!.id).toBe(findings[0]!.id);
  });

  it('resolves when the member is removed (full policy), and fires again when it is given back', async () => {
    const findings = await externalFindings([
      servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [acmeInvoker]),
      servicePolicy(v1Grant, '2024-02-03T10:00:00Z', [acmeInvoker, gmailDeveloper]),
      servicePolicy(v1Grant, '2024-02-04T10:00:00Z', [acmeInvoker]),
      servicePolicy(v1Grant, '2024-02-05T10:00:00Z', [acmeInvoker, gmailDeveloper]),
    ]);
    expect(findings.map((f) => [f.eventTime.slice(0, 10), f.status ?? 'active'])).toEqual([
      ['2024-02-03', 'active'],
      ['2024-02-03', 'resolved'],
      ['2024-02-05', 'active'],
    ]);
    expect(findings[1]!.resolution?.reason).toBe('user:someone@gmail.com no longer holds roles/run.developer');
  });

  it('a member moved to another role: the old grant resolves, the new one fires', async () => {
    const findings = await externalFindings([
      servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [acmeInvoker]),
      servicePolicy(v1Grant, '2024-02-03T10:00:00Z', [acmeInvoker, gmailDeveloper]),
      servicePolicy(v1Grant, '2024-02-04T10:00:00Z', [acmeInvoker, { role: 'roles/run.invoker', members: ['user:someone@gmail.com'] }]),
    ]);
    expect(findings.map((f) => [f.evidence['role'], f.status ?? 'active'])).toEqual([
      ['roles/run.developer', 'active'],
      ['roles/run.developer', 'resolved'],
      ['roles/run.invoker', 'active'],
    ]);
  });

  it('project deltas: an ADD fires, a REMOVE of that pair resolves, a condition edit (REMOVE and ADD of one pair) is no grant', async () => {
    const member = 'user:collaborateur0013@gmail.com';
    const later = { title: 'later', expression: 'request.time < timestamp("2025-12-01T00:00:00Z")' };
    const findings = await externalFindings([
      projectDelta,
      // As IAM logs them, the REMOVEs of a conditional binding carry its condition.
      projectDeltaOf('2025-11-10T10:00:00Z', [
        { action: 'REMOVE', role: 'roles/run.admin', member, condition: { title: 'Acces temporaire Cloud Run', expression: 'request.time < timestamp("2025-11-09T21:08:00Z")' } },
        { action: 'ADD', role: 'roles/run.admin', member, condition: later },
      ]),
      projectDeltaOf('2025-11-11T10:00:00Z', [{ action: 'REMOVE', role: 'roles/run.admin', member, condition: later }]),
    ]);
    expect(shape(findings)).toEqual([
      [member, 'roles/run.admin', 'active'],
      [member, 'roles/run.admin', 'resolved'],
    ]);
    expect(findings[0]!.evidence['source']).toBe('policy delta');
  });

  // The real grant expired at 21:08 by its condition; a later delta that takes the condition off (REMOVE of the
  // conditional pair, ADD of it without one) makes it permanent: that is a grant, not a condition edit. Putting a
  // condition on (or changing one) narrows or keeps it: no grant.
  it.each([
    ['the condition taken off: a grant', [{ action: 'REMOVE', role: 'roles/run.admin', member: 'user:collaborateur0013@gmail.com', condition: { title: 'Acces temporaire Cloud Run', expression: 'request.time < timestamp("2025-11-09T21:08:00Z")' } }, { action: 'ADD', role: 'roles/run.admin', member: 'user:collaborateur0013@gmail.com' }], ['policy delta (condition removed)']],
    ['the condition changed: no grant', [{ action: 'REMOVE', role: 'roles/run.admin', member: 'user:collaborateur0013@gmail.com', condition: { title: 'a', expression: 'request.time < timestamp("2025-11-09T21:08:00Z")' } }, { action: 'ADD', role: 'roles/run.admin', member: 'user:collaborateur0013@gmail.com', condition: { title: 'b', expression: 'request.time < timestamp("2025-12-09T21:08:00Z")' } }], []],
    ['a condition put on: no grant', [{ action: 'REMOVE', role: 'roles/run.admin', member: 'user:collaborateur0013@gmail.com' }, { action: 'ADD', role: 'roles/run.admin', member: 'user:collaborateur0013@gmail.com', condition: { title: 'b', expression: 'request.time < timestamp("2025-12-09T21:08:00Z")' } }], []],
  ])('a project delta over the real conditional grant, %s', async (_name, deltas, sources) => {
    const findings = await externalFindings([projectDelta, projectDeltaOf('2025-11-10T10:00:00Z', deltas)]);
    expect(findings.filter((f) => f.eventTime.startsWith('2025-11-10')).map((f) => f.evidence['source'])).toEqual(sources);
  });

  it('a project delta REMOVE of another role leaves the grant open', async () => {
    const member = 'user:collaborateur0013@gmail.com';
    const findings = await externalFindings([projectDelta, projectDeltaOf('2025-11-11T10:00:00Z', [{ action: 'REMOVE', role: 'roles/run.invoker', member }])]);
    expect(shape(findings)).toEqual([[member, 'roles/run.admin', 'active']]);
  });

  it('an older grant arriving after a newer policy that removed the member: reported and closed at once', async () => {
    const grant = servicePolicy(v1Grant, '2024-02-03T10:00:00Z', [acmeInvoker, gmailDeveloper]);
    const findings = (await findingsLive([servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [acmeInvoker]), servicePolicy(v1Grant, '2024-02-04T10:00:00Z', [acmeInvoker]), grant], ACME)).filter((f) => f.rule === RULE);
    expect(findings.map((f) => [f.eventTime.slice(0, 10), f.status ?? 'active'])).toEqual([
      ['2024-02-03', 'active'],
      ['2024-02-03', 'resolved'],
    ]);
  });

  it('an older grant arriving after a newer policy that still holds the member: one finding for one exposure', async () => {
    const grant = servicePolicy(v1Grant, '2024-02-03T10:00:00Z', [acmeInvoker, gmailDeveloper]);
    const reapply = servicePolicy(v1Grant, '2024-02-04T10:00:00Z', [acmeInvoker, gmailDeveloper]);
    const inOrder = await externalFindings([servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [acmeInvoker]), grant, reapply]);
    expect(inOrder.map((f) => f.eventTime.slice(0, 10))).toEqual(['2024-02-03']);
    // The re-apply first (nothing known before it: it counts as the grant), then the grant itself, late.
    const late = (await findingsLive([reapply, grant], ACME)).filter((f) => f.rule === RULE);
    expect(late.map((f) => [f.eventTime.slice(0, 10), f.status ?? 'active'])).toEqual([['2024-02-04', 'active']]);
  });

  it('a late project delta ADD is not closed by newer deltas about other pairs', async () => {
    const member = 'user:collaborateur0013@gmail.com';
    const other = projectDeltaOf('2025-11-12T10:00:00Z', [{ action: 'ADD', role: 'roles/run.invoker', member: 'user:alice@acme.com' }]);
    const findings = (await findingsLive([other, projectDelta], ACME)).filter((f) => f.rule === RULE);
    expect(shape(findings)).toEqual([[member, 'roles/run.admin', 'active']]);
  });

  // A service policy logged as its delta only (no request or response), after a full policy: the points deltas set
  // are then fully known, and one that arrives late must be carried into the newer ones.
  const serviceDelta = (timestamp: string, deltas: Json[]): Json =>
    variant(at(v1Grant, timestamp), (e) => {
      delete e.protoPayload['request'];
      delete e.protoPayload['response'];
      e.protoPayload['serviceData'] = { '@type': 'type.googleapis.com/google.iam.v1.logging.AuditData', policyDelta: { bindingDeltas: deltas } };
    });
  const gmailAdd = (timestamp: string) => serviceDelta(timestamp, [{ action: 'ADD', role: 'roles/run.developer', member: 'user:someone@gmail.com' }]);
  const otherAdd = (timestamp: string) => serviceDelta(timestamp, [{ action: 'ADD', role: 'roles/run.invoker', member: 'user:bob@acme.com' }]);

  it('a late service delta ADD, after a newer delta about another pair: the grant stays open (the newer point is computed again)', async () => {
    const base = servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [acmeInvoker]);
    const findings = (await findingsLive([base, otherAdd('2024-02-04T10:00:00Z'), gmailAdd('2024-02-03T10:00:00Z')], ACME)).filter((f) => f.rule === RULE);
    expect(shape(findings)).toEqual([['user:someone@gmail.com', 'roles/run.developer', 'active']]);
  });

  it('a late service delta REMOVE, before a newer delta about another pair: it is the newest word on the pair, and resolves', async () => {
    const base = servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [acmeInvoker]);
    const remove = serviceDelta('2024-02-04T10:00:00Z', [{ action: 'REMOVE', role: 'roles/run.developer', member: 'user:someone@gmail.com' }]);
    const findings = (await findingsLive([base, gmailAdd('2024-02-03T10:00:00Z'), otherAdd('2024-02-05T10:00:00Z'), remove], ACME)).filter((f) => f.rule === RULE);
    expect(shape(findings)).toEqual([
      ['user:someone@gmail.com', 'roles/run.developer', 'active'],
      ['user:someone@gmail.com', 'roles/run.developer', 'resolved'],
    ]);
  });

  // IAM lets a member hold one role twice: once with a condition, once without. The history tells the two copies apart
  // (a full policy's binding with a `condition`, a delta's binding with one), and a finding about the pair resolves
  // only when no copy of it is held any more, as far as the point knows (one that knows the policy only in part: when
  // its delta named the pair and it lists no copy). Rows over the real project delta (its run.admin with a condition)
  // and synthetic variants of it and of the real v1 service policy.
  const member = 'user:collaborateur0013@gmail.com';
  const realCondition = (corpus('archicloud__SetIamPolicy__1') as { protoPayload: { serviceData: { policyDelta: { bindingDeltas: { condition: Json }[] } } } }).protoPayload.serviceData.policyDelta.bindingDeltas[0]!.condition;
  const adminDelta = (action: 'ADD' | 'REMOVE', conditional: boolean): Json => ({ action, role: 'roles/run.admin', member, ...(conditional ? { condition: realCondition } : {}) });
  const plainAdd = projectDeltaOf('2025-11-10T10:00:00Z', [adminDelta('ADD', false)]);
  const gmailConditional: Binding = { ...gmailDeveloper, condition: realCondition };
  const bothCopies = (timestamp: string) => servicePolicy(v1Grant, timestamp, [acmeInvoker, gmailDeveloper, gmailConditional]);
  const developerDelta = (timestamp: string, action: 'ADD' | 'REMOVE', conditional: boolean) =>
    serviceDelta(timestamp, [{ action, role: 'roles/run.developer', member: 'user:someone@gmail.com', ...(conditional ? { condition: realCondition } : {}) }]);
  const gmail = 'user:someone@gmail.com';
  it.each([
    // Project deltas: the project's policy is never known whole (points known only in part).
    ['project: a plain grant, then its conditional copy removed: still held', [plainAdd, projectDeltaOf('2025-11-11T10:00:00Z', [adminDelta('REMOVE', true)])], [[member, 'roles/run.admin', 'active']]],
    ['project: the real conditional grant, a plain copy added, the conditional copy removed: both open', [projectDelta, plainAdd, projectDeltaOf('2025-11-11T10:00:00Z', [adminDelta('REMOVE', true)])], [[member, 'roles/run.admin', 'active'], [member, 'roles/run.admin', 'active']]],
    ['project: the real conditional grant, then that copy removed: resolved', [projectDelta, projectDeltaOf('2025-11-11T10:00:00Z', [adminDelta('REMOVE', true)])], [[member, 'roles/run.admin', 'active'], [member, 'roles/run.admin', 'resolved']]],
    // A condition put on an unconditional grant (REMOVE plain, ADD conditional) is no grant, and no removal: the member
    // still holds the role, under a condition runwatch does not evaluate (it may never expire). Removing that copy ends it.
    ['project: a condition put on a plain grant: still held', [plainAdd, projectDeltaOf('2025-11-11T10:00:00Z', [adminDelta('REMOVE', false), adminDelta('ADD', true)])], [[member, 'roles/run.admin', 'active']]],
    ['project: a condition put on a plain grant, then the conditional copy removed: resolved', [plainAdd, projectDeltaOf('2025-11-11T10:00:00Z', [adminDelta('REMOVE', false), adminDelta('ADD', true)]), projectDeltaOf('2025-11-12T10:00:00Z', [adminDelta('REMOVE', true)])], [[member, 'roles/run.admin', 'active'], [member, 'roles/run.admin', 'resolved']]],
    // Service: a full policy holding the pair in both copies is one grant; a delta (the policy before it known) that
    // removes one copy leaves the other.
    ['service: both copies in one full policy: one finding', [bothCopies('2024-02-03T10:00:00Z')], [[gmail, 'roles/run.developer', 'active']]],
    ['service: both copies, then a delta removes the conditional copy: still held', [bothCopies('2024-02-03T10:00:00Z'), developerDelta('2024-02-04T10:00:00Z', 'REMOVE', true)], [[gmail, 'roles/run.developer', 'active']]],
    ['service: both copies, then a delta removes the plain copy: still held', [bothCopies('2024-02-03T10:00:00Z'), developerDelta('2024-02-04T10:00:00Z', 'REMOVE', false)], [[gmail, 'roles/run.developer', 'active']]],
    ['service: both copies, then deltas remove each: resolved', [bothCopies('2024-02-03T10:00:00Z'), developerDelta('2024-02-04T10:00:00Z', 'REMOVE', true), developerDelta('2024-02-05T10:00:00Z', 'REMOVE', false)], [[gmail, 'roles/run.developer', 'active'], [gmail, 'roles/run.developer', 'resolved']]],
    ['service: both copies, then a full policy with the conditional copy only: still held', [bothCopies('2024-02-03T10:00:00Z'), servicePolicy(v1Grant, '2024-02-04T10:00:00Z', [acmeInvoker, gmailConditional])], [[gmail, 'roles/run.developer', 'active']]],
    ['service: both copies, then a full policy with neither: resolved', [bothCopies('2024-02-03T10:00:00Z'), servicePolicy(v1Grant, '2024-02-04T10:00:00Z', [acmeInvoker])], [[gmail, 'roles/run.developer', 'active'], [gmail, 'roles/run.developer', 'resolved']]],
    // Full policies: a condition put on is no grant (as a delta's), a condition taken off is one (as a delta's).
    ['service: a full policy puts a condition on the grant: no grant, still held', [servicePolicy(v1Grant, '2024-02-03T10:00:00Z', [gmailDeveloper]), servicePolicy(v1Grant, '2024-02-04T10:00:00Z', [gmailConditional])], [[gmail, 'roles/run.developer', 'active']]],
    ['service: a full policy takes the condition off: a grant, the first still open', [servicePolicy(v1Grant, '2024-02-03T10:00:00Z', [gmailConditional]), servicePolicy(v1Grant, '2024-02-04T10:00:00Z', [gmailDeveloper])], [[gmail, 'roles/run.developer', 'active'], [gmail, 'roles/run.developer', 'active']]],
  ])('a member holding a role with and without a condition: %s', async (_name, entries, expected) => {
    expect(shape(await externalFindings(entries))).toEqual(expected);
  });

  // Late deltas (laterMemberPoints): the newer points are computed again over a late entry, copy by copy.
  it.each([
    ['both copies, the plain copy removed, then the conditional copy removed late (before it): resolved', [bothCopies('2024-02-03T10:00:00Z'), developerDelta('2024-02-05T10:00:00Z', 'REMOVE', false), developerDelta('2024-02-04T10:00:00Z', 'REMOVE', true)], [[gmail, 'roles/run.developer', 'active'], [gmail, 'roles/run.developer', 'resolved']]],
    ['both copies, the conditional copy removed, the plain copy removed late (before it): resolved', [bothCopies('2024-02-03T10:00:00Z'), developerDelta('2024-02-05T10:00:00Z', 'REMOVE', true), developerDelta('2024-02-04T10:00:00Z', 'REMOVE', false)], [[gmail, 'roles/run.developer', 'active'], [gmail, 'roles/run.developer', 'resolved']]],
    ['a plain grant arriving after a newer delta that removed only a conditional copy: open', [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [acmeInvoker]), developerDelta('2024-02-05T10:00:00Z', 'REMOVE', true), developerDelta('2024-02-04T10:00:00Z', 'ADD', false)], [[gmail, 'roles/run.developer', 'active']]],
    ['a plain grant arriving after a newer delta that removed the plain copy: reported and closed at once', [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [acmeInvoker]), developerDelta('2024-02-05T10:00:00Z', 'REMOVE', false), developerDelta('2024-02-04T10:00:00Z', 'ADD', false)], [[gmail, 'roles/run.developer', 'active'], [gmail, 'roles/run.developer', 'resolved']]],
  ])('late deltas over the two copies: %s', async (_name, entries, expected) => {
    expect(shape((await findingsLive(entries, ACME)).filter((f) => f.rule === RULE))).toEqual(expected);
  });

  // IAM refuses a condition on allUsers and allAuthenticatedUsers; were one logged, marking full-policy bindings
  // conditional must change nothing of public-invoker-grant's finding (its evidence and id).
  it('public-invoker-grant: a full policy binding with a condition gives the same finding as without', async () => {
    const publicBindings = [{ role: 'roles/run.invoker', members: ['allUsers'] }];
    const plain = servicePolicy(v2Policy, '2024-02-04T09:00:00Z', publicBindings);
    const conditional = servicePolicy(v2Policy, '2024-02-04T09:00:00Z', publicBindings.map((b) => ({ ...b, condition: realCondition })));
    const publicOf = async (entry: Json) => (await findingsOf([entry], ACME)).filter((f) => f.rule === 'public-invoker-grant').map((f) => [f.id, f.evidence]);
    const expected = await publicOf(plain);
    expect(expected).toHaveLength(1);
    expect(await publicOf(conditional)).toEqual(expected);
  });

  // Synthetic: v2 Jobs.SetIamPolicy and WorkerPools.SetIamPolicy (no real entry is public; shaped as the v2 service
  // one, with the job's and worker pool's resource and names: synthetic-job-SOURCES.md, synthetic-workerpool-SOURCES.md).
  it.each([
    ['a job', synthetic('job-v2-SetIamPolicy'), 'job', 'nightly-export', '//run.googleapis.com/projects/acme-prod/locations/us-central1/jobs/nightly-export'],
    ['a worker pool', synthetic('workerpool-v2-SetIamPolicy'), 'worker-pool', 'queue-consumer', '//run.googleapis.com/projects/acme-prod/locations/us-central1/workerPools/queue-consumer'],
  ])('fires on a role granted outside on %s, and resolves when it is removed or the resource deleted', async (_name, grant, resourceType, name, resourceName) => {
    const [finding] = await externalFindings([grant]);
    expect(finding).toMatchObject({ severity: 'HIGH', service: name, resourceType, resourceName, evidence: { member: 'user:contractor@gmail.com', role: 'roles/run.developer', domain: 'gmail.com', scope: resourceType } });
    const removed = variant(at(grant, '2025-03-12T10:00:00Z'), (e) => {
      (e.protoPayload['request'] as { policy: Json }).policy['bindings'] = [];
      (e.protoPayload['response'] as Json)['bindings'] = [];
    });
    expect((await externalFindings([grant, removed])).map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
    const deleted = synthetic(resourceType === 'job' ? 'job-v2-DeleteJob' : 'workerpool-v2-DeleteWorkerPool');
    const deletedLater = at(deleted, '2025-03-12T10:00:00Z');
    expect((await externalFindings([grant, deletedLater])).map((f) => f.resolution?.reason)).toEqual([undefined, `the ${resourceType === 'job' ? 'job' : 'worker pool'} was deleted`]);
  });

  it('a service delete resolves what was granted on it', async () => {
    const grant = servicePolicy(v1Grant, '2024-02-03T10:00:00Z', [gmailDeveloper]);
    const findings = await externalFindings([grant, deleteServiceAt('2024-02-04T10:00:00Z', { project: 'some-project', location: 'us-west1', service: 'cloudrun-exfil' })]);
    expect(findings.map((f) => [f.status ?? 'active', f.resolution?.reason])).toEqual([
      ['active', undefined],
      ['resolved', 'the service was deleted'],
    ]);
  });

  it('changing allowedDomains later judges the kept policy afresh: the history keeps every user, group and domain member', async () => {
    // Granted while inside the allowed domains, then the domain is taken off the list: the next re-apply is no grant.
    const entries = [servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [acmeInvoker, gmailDeveloper]), servicePolicy(v1Grant, '2024-02-03T10:00:00Z', [acmeInvoker, gmailDeveloper])];
    expect(await externalFindings(entries, withRule({ allowedDomains: ['acme.com', 'gmail.com'] }))).toEqual([]);
    expect(shape(await externalFindings(entries, withRule({ allowedDomains: ['acme.com'] })))).toEqual([['user:someone@gmail.com', 'roles/run.developer', 'active']]);
  });

  it('a baseline stored before the member history was kept: the policy before is unknown, an external member counts as added', async () => {
    const { externalMemberGrant } = await import('../../../functions/detectors/external-member-grant.js');
    const { emptyBaseline } = await import('../../../functions/baseline/state.js');
    const { parseEntry } = await import('../../../functions/audit/normalize.js');
    const parsed = parseEntry(v1Grant);
    if (parsed.kind !== 'change') throw new Error('not a change');
    const old = { ...emptyBaseline(), publicInvokers: [{ t: 1, v: [] }], lastChangeMs: 1 };
    const detections = externalMemberGrant.detect({ change: parsed.change, baseline: old, settings: ACME.rules[RULE], config: ACME });
    expect(detections.map((d) => [d.evidence['member'], d.evidence['source']])).toEqual([['user:some.user@company.com', 'full policy (no earlier policy known)']]);
  });

  it('past the bound of pairs kept per policy, the pairs not kept count as added again (noisy, never silent)', async () => {
    const { MEMBER_BINDINGS_LIMIT } = await import('../../../functions/baseline/apply.js');
    const members = Array.from({ length: MEMBER_BINDINGS_LIMIT + 3 }, (_, i) => `user:u${String(i).padStart(3, '0')}@gmail.com`);
    const policy = (timestamp: string) => servicePolicy(v1Grant, timestamp, [{ role: 'roles/run.invoker', members }]);
    const findings = await externalFindings([policy('2024-02-02T10:00:00Z'), policy('2024-02-03T10:00:00Z')]);
    // The first policy: every member granted (GRANTS_ONE_BY_ONE of them one by one, the others in one finding).
    expect(findings.filter((f) => f.eventTime.startsWith('2024-02-02')).reduce((n, f) => n + (typeof f.evidence['count'] === 'number' ? f.evidence['count'] : 1), 0)).toBe(MEMBER_BINDINGS_LIMIT + 3);
    expect(findings.filter((f) => f.eventTime.startsWith('2024-02-03')).map((f) => f.evidence['member'])).toEqual(members.slice(MEMBER_BINDINGS_LIMIT));
  });

  // Members as long as IAM takes (an email of up to 254 characters) in roles that reach Cloud Run: 64 such pairs a point,
  // and as many delta marks, over HISTORY_LIMIT points were 1.3 MB of the project's baseline, past the 1 MiB Firestore
  // stores a document: the Firestore store refuses an entry that would write it (UnstorableError), so the project's
  // later IAM entries that add such a point would go unread.
  it('a run of deltas granting many long members keeps the baseline far below what Firestore stores a document', async () => {
    const { MemoryBaselineStore } = await import('../../../functions/baseline/memory.js');
    const { HISTORY_LIMIT } = await import('../../../functions/baseline/state.js');
    const { MEMBER_LENGTH_LIMIT } = await import('../../../functions/model/iam.js');
    const store = new MemoryBaselineStore();
    const longMember = (p: number, i: number): string => {
      const domain = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(29)}.example`;
      return `user:${'x'.repeat(60)}${String(p).padStart(2, '0')}${String(i).padStart(2, '0')}@${domain}`;
    };
    expect(longMember(0, 0).length).toBeLessThanOrEqual(MEMBER_LENGTH_LIMIT);
    const entries = Array.from({ length: HISTORY_LIMIT + 2 }, (_, p) =>
      projectDeltaOf(new Date(Date.UTC(2025, 11, 1, p)).toISOString(), Array.from({ length: 64 }, (_, i) => ({ action: 'ADD', role: 'roles/run.admin', member: longMember(p, i) }))),
    );
    const findings = (await findingsLive(entries, ACME, undefined, undefined, store)).filter((f) => f.rule === RULE);
    expect(findings.length).toBeGreaterThan(HISTORY_LIMIT);
    const baselines = [...store.entries()].map(([, b]) => b);
    expect(baselines).toHaveLength(1);
    expect(JSON.stringify(baselines[0]).length).toBeLessThan(320_000);
  });

  // IAM takes up to 1,500 members a policy: one finding each, a transaction's findings (kept in the service's Firestore
  // document until published, 3 MiB a commit at most) could outgrow what Firestore stores, and they would push every
  // other rule's open findings on the service out (20 kept). Past a bound, the rest of one change's grants are one
  // finding that names how many and which (an event: it opens nothing, so nothing closes it).
  it('many external members granted by one change: the most severe one by one, the rest in one finding', async () => {
    const { GRANTS_ONE_BY_ONE } = await import('../../../functions/detectors/external-member-grant.js');
    const users = Array.from({ length: 40 }, (_, i) => `user:u${String(i).padStart(2, '0')}@gmail.com`);
    const entry = servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [
      { role: 'roles/run.invoker', members: users },
      { role: 'roles/run.admin', members: ['user:zz-admin@gmail.com'] },
    ]);
    const findings = await externalFindings([entry]);
    const single = findings.filter((f) => f.evidence['member'] !== undefined);
    const rest = findings.filter((f) => f.evidence['member'] === undefined);
    expect(single).toHaveLength(GRANTS_ONE_BY_ONE);
    // The HIGH grant first, then the others in order.
    expect(single.map((f) => f.evidence['member'])).toEqual(['user:zz-admin@gmail.com', ...users.slice(0, GRANTS_ONE_BY_ONE - 1)]);
    expect(rest).toHaveLength(1);
    expect(rest[0]).toMatchObject({ severity: 'MEDIUM', evidence: { count: 41 - GRANTS_ONE_BY_ONE, members: users.slice(GRANTS_ONE_BY_ONE - 1), roles: ['roles/run.invoker'], scope: 'service' } });
    // The first policy seen of the service: the rest too may have been granted long before.
    expect(rest[0]!.summary).toMatch(new RegExp(`^The policy some\\.user@company\\.com set on .* also gives ${41 - GRANTS_ONE_BY_ONE} more roles to members outside the allowed domains \\(user:u09@gmail\\.com, user:u10@gmail\\.com, user:u11@gmail\\.com, \\.\\.\\.\\)\\. Not necessarily granted by this change: the grants may be older\\.$`));
    // Only the ones reported one by one stay open: the rest is an event.
    const removed = await externalFindings([entry, servicePolicy(v1Grant, '2024-02-03T10:00:00Z', [])]);
    expect(removed.filter((f) => f.status === 'resolved')).toHaveLength(GRANTS_ONE_BY_ONE);
  });

  // IAM refuses a member longer than an email (254 characters) with its prefix, and a role name longer than a custom
  // role's: such a value is no grant IAM holds, only an entry forged or re-exported, and kept in the baseline it would
  // grow the service's document past what Firestore stores.
  it('an overlong member or role is not judged, nor kept in the baseline', async () => {
    const { MemoryBaselineStore } = await import('../../../functions/baseline/memory.js');
    const store = new MemoryBaselineStore();
    const long = `user:${'a'.repeat(100_000)}@gmail.com`;
    const longRole = `projects/p/roles/${'r'.repeat(100_000)}`;
    const entry = servicePolicy(v1Grant, '2024-02-02T10:00:00Z', [
      { role: 'roles/run.invoker', members: [long] },
      { role: longRole, members: ['user:x@gmail.com'] },
    ]);
    const findings = (await findingsLive([entry], ACME, undefined, undefined, store)).filter((f) => f.rule === RULE);
    expect(findings).toEqual([]);
    expect(JSON.stringify(await store.get('some-project/us-west1/cloudrun-exfil')).length).toBeLessThan(10_000);
  });
});
