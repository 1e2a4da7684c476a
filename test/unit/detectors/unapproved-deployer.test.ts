// unapproved-deployer: a revision deployed by an identity outside allowedDeployers (the caller, or anyone it acted
// through), from real corpus deploys (people in the console and gcloud, a Cloud Build service account) and
// hand-built variants of them (impersonation, workload and workforce identity federation).
import { describe, expect, it } from 'vitest';
import { at, corpus, synthetic, variant, withV1Image, type Json } from '../../support/entries.js';
import { config, findingsOf } from '../../support/run.js';

/** The entry with its authenticationInfo replaced. */
function by(entry: Json, authenticationInfo: Record<string, unknown>): Json {
  return variant(entry, (e) => {
    e.protoPayload['authenticationInfo'] = authenticationInfo;
  });
}

const gcloud = synthetic('v1-ReplaceService-gcloud');
const CI = 'deployer@acme-ci.iam.gserviceaccount.com';
const GITHUB = 'principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/subject/repo:acme/shop:ref:refs/heads/main';
const WORKFORCE = 'principal://iam.googleapis.com/locations/global/workforcePools/acme-sso/subject/alice@acme.com';

/** A human who impersonates the CI service account (gcloud --impersonate-service-account). */
const impersonated = by(gcloud, { principalEmail: CI, principalSubject: `serviceAccount:${CI}`, serviceAccountDelegationInfo: [{ firstPartyPrincipal: { principalEmail: 'alice@acme.com' } }] });
/** GitHub Actions through workload identity federation, impersonating the CI service account. */
const githubAsCi = by(gcloud, { principalEmail: CI, principalSubject: `serviceAccount:${CI}`, serviceAccountDelegationInfo: [{ principalSubject: GITHUB }] });

/** The real Cloud Build deploy (its trigger's compute service account), as if it had not failed (it did: code 3). */
const cloudBuildDeploy = variant(corpus('powerchoosers__Services.ReplaceService__1'), (e) => {
  delete e.protoPayload['status'];
  e['severity'] = 'NOTICE';
});

/** The list the README suggests: pipelines deploy (service accounts, workload identity federation), people do not. */
const pipelinesOnly = config({ rules: { 'unapproved-deployer': { allowedDeployers: ['serviceAccount:*', 'principal://iam.googleapis.com/projects/*/locations/global/workloadIdentityPools/**'] } } });

async function unapproved(entries: readonly unknown[], cfg = pipelinesOnly) {
  return (await findingsOf(entries, cfg)).filter((f) => f.rule === 'unapproved-deployer');
}

describe('unapproved-deployer', () => {
  it.each([
    ['a person creates a service in the console (real, v1)', [corpus('kktae-demo__Services.CreateService__1')], ['kktae@mz.co.kr']],
    ['a person creates a service (real, v1, with principalSubject)', [corpus('panther__Services.CreateService__1')], ['some.user@company.com']],
    ['a person deploys with gcloud (real ReplaceService)', [corpus('slackbot__Services.ReplaceService__1')], ['masatonaka1989@gmail.com']],
    ['a person deploys through the v2 API', [by(synthetic('v2-CreateService'), { principalEmail: 'bob@acme.com' })], ['bob@acme.com']],
    ['a person impersonates the CI service account', [impersonated], ['alice@acme.com']],
    ['a person signed in through a workforce identity pool (no email)', [by(gcloud, { principalSubject: WORKFORCE })], [WORKFORCE]],
    [
      'a workforce person impersonates the CI service account, the IdP claims logged beside the principal subject',
      [by(gcloud, { principalEmail: CI, serviceAccountDelegationInfo: [{ principalSubject: WORKFORCE, thirdPartyPrincipal: { thirdPartyClaims: { sub: '00u1a2b3c4D5e6F7g8h9' } } }] })],
      [WORKFORCE],
    ],
    ['a system event alone names its creator (the admin write is missing)', synthetic('seq-system-events-only') as unknown as unknown[], ['masatonaka1989@gmail.com']],
  ])('fires: %s', async (_name, entries, who) => {
    const findings = await unapproved(entries);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'MEDIUM', evidence: { unapproved: who } });
    expect(findings[0]!.summary).toContain('not among the approved deployers');
  });

  it('names the chain of a deploy made through impersonation', async () => {
    const [finding] = await unapproved([impersonated]);
    expect(finding!.summary).toMatch(/^alice@acme\.com, acting as deployer@acme-ci\.iam\.gserviceaccount\.com, deployed test-project-1234\/cloud-run-slack-bot/);
    expect(finding).toMatchObject({ principal: CI, delegationChain: ['alice@acme.com'] });
  });

  it('names each unapproved identity once, however often the chain lists it', async () => {
    const twice = by(gcloud, { principalEmail: 'alice@acme.com', serviceAccountDelegationInfo: [{ firstPartyPrincipal: { principalEmail: 'alice@acme.com' } }] });
    expect((await unapproved([twice]))[0]?.evidence['unapproved']).toEqual(['alice@acme.com']);
  });

  it('fires for a service account the configuration does not approve, and for each identity of a chain it does not', async () => {
    const onlyCi = config({ rules: { 'unapproved-deployer': { allowedDeployers: [`serviceAccount:${CI}`] } } });
    const cloudBuild = await unapproved([cloudBuildDeploy], onlyCi);
    expect(cloudBuild).toHaveLength(1);
    expect(cloudBuild[0]!.evidence['unapproved']).toEqual(['792458658491-compute@developer.gserviceaccount.com']);
    // GitHub's federated principal is not in this list: the CI account it acted as does not make it approved.
    expect((await unapproved([githubAsCi], onlyCi))[0]?.evidence['unapproved']).toEqual([GITHUB]);
  });

  it.each([
    ['a Cloud Build service account deploys (real, the default allows service accounts)', [cloudBuildDeploy], pipelinesOnly],
    ['the CI service account deploys through the v2 API', [synthetic('v2-CreateService')], pipelinesOnly],
    ['GitHub Actions deploys through workload identity federation, as the CI service account', [githubAsCi], pipelinesOnly],
    ['GitHub Actions deploys with its federated principal alone', [by(gcloud, { principalSubject: GITHUB })], pipelinesOnly],
    [
      'GitHub Actions as the CI service account, its token claims logged beside the principal subject',
      [by(gcloud, { principalEmail: CI, serviceAccountDelegationInfo: [{ principalSubject: GITHUB, thirdPartyPrincipal: { thirdPartyClaims: { sub: 'repo:acme/shop:ref:refs/heads/main' } } }] })],
      pipelinesOnly,
    ],
    ['a person the configuration approves (user: and a domain glob, any letter case)', [corpus('panther__Services.CreateService__1')], config({ rules: { 'unapproved-deployer': { allowedDeployers: ['user:*@Company.com'] } } })],
    ['an entry that names no principal (real)', [corpus('secfilling__Services.ReplaceService__1')], pipelinesOnly],
    ['a person changes only traffic (no new revision)', [synthetic('v2-CreateService'), by(synthetic('v2-UpdateService-traffic-only'), { principalEmail: 'bob@acme.com' })], pipelinesOnly],
    ['a person changes IAM, not a revision (real)', [corpus('panther__Services.SetIamPolicy__1')], pipelinesOnly],
    ['a failed deploy by a person', [variant(corpus('slackbot__Services.ReplaceService__1'), (e) => (e.protoPayload['status'] = { code: 7, message: 'PERMISSION_DENIED' }))], pipelinesOnly],
    ['a person deploys, and no allowedDeployers are configured (the default)', [corpus('slackbot__Services.ReplaceService__1')], config()],
    ['a person deploys, with the rule disabled', [corpus('slackbot__Services.ReplaceService__1')], config({ rules: { 'unapproved-deployer': { ...pipelinesOnly.rules['unapproved-deployer'], enabled: false } } })],
    ['a break-glass account in the rule exceptions', [corpus('slackbot__Services.ReplaceService__1')], config({ rules: { 'unapproved-deployer': { ...pipelinesOnly.rules['unapproved-deployer'], exceptions: [{ principal: 'masatonaka1989@gmail.com', reason: 'break glass' }] } } })],
  ])('ignores: %s', async (_name, entries, cfg) => {
    expect(await unapproved(entries, cfg)).toEqual([]);
  });

  // A pipeline on a Compute Engine VM (Jenkins, a self-hosted runner) calls as the VM's service account, whose token the
  // Compute Engine system service agent mints: the audit log names the agent as a link of the chain, in the real shape
  // of the shared corpus's grafana-alloy__storage-objects-get__1 (the compute default SA through
  // service-1040409107725@compute-system.iam.gserviceaccount.com). The agent chose nothing: the deploy is the pipeline's.
  const onlyCi = config({ rules: { 'unapproved-deployer': { allowedDeployers: [`serviceAccount:${CI}`] } } });
  const throughVm = (agent: string): Json => by(gcloud, { principalEmail: CI, serviceAccountDelegationInfo: [{ firstPartyPrincipal: { principalEmail: agent } }] });
  it.each([
    ['the Compute Engine system service agent', 'service-1040409107725@compute-system.iam.gserviceaccount.com', []],
    // A service account of a customer's project named like the agent is one like any other.
    ['a service account named like the agent in another project', 'service-1040409107725@acme-ci.iam.gserviceaccount.com', ['service-1040409107725@acme-ci.iam.gserviceaccount.com']],
  ])('the approved CI service account deploying from a VM, its token minted through %s', async (_name, agent, expected) => {
    expect((await unapproved([throughVm(agent)], onlyCi)).map((f) => f.evidence['unapproved'])).toEqual(expected.length > 0 ? [expected] : []);
  });

  it('reports a v2 deploy once: its operation\'s first entry, system event and completion entry are one deploy', async () => {
    const sequence = (synthetic('seq-v2-operation') as unknown as Json[]).map((e) => (e['protoPayload'] as Json)['authenticationInfo'] ? by(e, { principalEmail: 'bob@acme.com' }) : e);
    expect(sequence).toHaveLength(3);
    const findings = await unapproved(sequence);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.evidence['unapproved']).toEqual(['bob@acme.com']);
  });

  it('reports a revision once, and each revision a person deploys', async () => {
    const first = at(withV1Image(gcloud, 'gcr.io/acme/shop:1'), '2024-05-04T10:00:00Z');
    const again = at(withV1Image(gcloud, 'gcr.io/acme/shop:1'), '2024-05-04T10:00:00Z', first['insertId'] as string); // the same entry twice
    const second = at(withV1Image(gcloud, 'gcr.io/acme/shop:2'), '2024-05-04T11:00:00Z');
    const findings = await unapproved([first, again, second]);
    expect(findings).toHaveLength(2);
    expect(new Set(findings.map((f) => f.id)).size).toBe(2);
  });
});
