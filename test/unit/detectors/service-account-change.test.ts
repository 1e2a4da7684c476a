import { describe, expect, it } from 'vitest';
import { at, corpus, deleteServiceAt, editV1Services, SLACK_BOT, synthetic, variant, withOperationId, withV1Image, withV1ServiceAccount } from '../../support/entries.js';
import { config, findingsLive, findingsOf } from '../../support/run.js';

const replace = corpus('slackbot__Services.ReplaceService__1'); // SA cloud-run-slack-bot@test-project-1234...
const ORIGINAL = 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com';
const OTHER = 'ci-admin@test-project-1234.iam.gserviceaccount.com';

/** A deploy of the same service at `timestamp` running as `email` (a new template each time). */
function deploy(timestamp: string, email: string | undefined) {
  return at(withOperationId(withV1Image(withV1ServiceAccount(replace, email), 'gcr.io/test-project-1234/bot:1', timestamp), `op-${timestamp}`), timestamp);
}

async function saFindings(entries: readonly unknown[], cfg = config()) {
  return (await findingsOf(entries, cfg)).filter((f) => f.rule === 'service-account-change');
}

describe('service-account-change', () => {
  it('fires: a later revision runs as another service account', async () => {
    const findings = await saFindings([deploy('2024-05-01T10:00:00Z', ORIGINAL), deploy('2024-05-02T10:00:00Z', OTHER)]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'MEDIUM', evidence: { before: ORIGINAL, after: OTHER, toDefaultComputeServiceAccount: false } });
  });

  it('fires HIGH: a move to the default compute SA (resolved from the project number)', async () => {
    const findings = await saFindings([deploy('2024-05-01T10:00:00Z', ORIGINAL), deploy('2024-05-02T10:00:00Z', undefined)]);
    expect(findings[0]).toMatchObject({
      severity: 'HIGH',
      title: 'Service now runs as the default compute service account',
      evidence: { before: ORIGINAL, after: '123456789012-compute@developer.gserviceaccount.com' },
    });
  });

  // An email's letter case names no other account (Google compares service account emails without it): a deployer
  // who writes the default compute SA in capitals must not lower the finding to MEDIUM, nor a change of case raise one.
  it.each([
    ['the default compute SA in capitals: still HIGH', '123456789012-COMPUTE@Developer.GServiceAccount.com', 'HIGH', '123456789012-compute@developer.gserviceaccount.com'],
    ['another account in mixed case: MEDIUM, named in lower case', 'CI-Admin@Test-Project-1234.iam.gserviceaccount.com', 'MEDIUM', OTHER],
  ])('letter case: %s', async (_name, email, severity, after) => {
    const findings = await saFindings([deploy('2024-05-01T10:00:00Z', ORIGINAL), deploy('2024-05-02T10:00:00Z', email)]);
    expect(findings.map((f) => [f.severity, f.evidence['after']])).toEqual([[severity, after]]);
  });

  it('ignores: the same account written in other letter case', async () => {
    expect(await saFindings([deploy('2024-05-01T10:00:00Z', ORIGINAL), deploy('2024-05-02T10:00:00Z', ORIGINAL.toUpperCase())])).toEqual([]);
  });

  it('fires HIGH: a move to the App Engine default SA (Editor by default, like the compute one)', async () => {
    const appEngine = 'test-project-1234@appspot.gserviceaccount.com';
    const findings = await saFindings([deploy('2024-05-01T10:00:00Z', ORIGINAL), deploy('2024-05-02T10:00:00Z', appEngine)]);
    expect(findings[0]).toMatchObject({
      severity: 'HIGH',
      title: 'Service now runs as the App Engine default service account',
      evidence: { before: ORIGINAL, after: appEngine, toDefaultComputeServiceAccount: false, toAppEngineDefaultServiceAccount: true },
    });
  });

  it('back to the previous identity: no new finding, the open one is resolved', async () => {
    const findings = await saFindings([deploy('2024-05-01T10:00:00Z', ORIGINAL), deploy('2024-05-02T10:00:00Z', OTHER), deploy('2024-05-03T10:00:00Z', ORIGINAL)]);
    expect(findings.map((f) => [f.status ?? 'active', f.evidence['after']])).toEqual([
      ['active', OTHER],
      ['resolved', OTHER],
    ]);
  });

  // `gcloud run deploy --no-traffic` (or a traffic list naming older revisions only): the new revision runs as the
  // old identity but takes none of the traffic, which stays with the revision the finding is about. Moving back that
  // way must not close the finding (an attacker would deploy the fix with --no-traffic seconds after the change).
  const noTraffic = (entry: ReturnType<typeof deploy>, serving: string) =>
    editV1Services(entry, (svc) => void ((svc['spec'] as Record<string, unknown>)['traffic'] = [{ revisionName: serving, percent: 100 }]));
  it('back to the previous identity with --no-traffic: the open finding stays open until a revision that takes traffic', async () => {
    const entries = [deploy('2024-05-01T10:00:00Z', ORIGINAL), deploy('2024-05-02T10:00:00Z', OTHER), noTraffic(deploy('2024-05-03T10:00:00Z', ORIGINAL), 'cloud-run-slack-bot-00023-rfg')];
    expect((await saFindings(entries)).map((f) => [f.status ?? 'active', f.evidence['after']])).toEqual([['active', OTHER]]);
    // The next deploy that serves (its traffic to the latest revision) runs as ORIGINAL: the finding is over.
    const findings = await saFindings([...entries, deploy('2024-05-04T10:00:00Z', ORIGINAL)]);
    expect(findings.map((f) => [f.status ?? 'active', f.evidence['after']])).toEqual([
      ['active', OTHER],
      ['resolved', OTHER],
    ]);
  });

  // Shares always add up to 100: a list whose shares are all left out is not read as sending nothing to the new
  // revision (as Cloud Run defaults it is unknown here), so the move back closes the finding, as before.
  it('back to the previous identity with a traffic list without shares: resolved, as before', async () => {
    const entries = [deploy('2024-05-01T10:00:00Z', ORIGINAL), deploy('2024-05-02T10:00:00Z', OTHER), editV1Services(deploy('2024-05-03T10:00:00Z', ORIGINAL), (svc) => void ((svc['spec'] as Record<string, unknown>)['traffic'] = [{ revisionName: 'cloud-run-slack-bot-00023-rfg' }]))];
    expect((await saFindings(entries)).map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
  });

  it('back to the previous identity through the v2 API with a traffic list naming the older revision: stays open', async () => {
    const v2 = synthetic('v2-UpdateService');
    const v2Deploy = (timestamp: string, email: string, traffic?: readonly Record<string, unknown>[]) =>
      variant(at(v2, timestamp), (e) => {
        const service = (e.protoPayload['request'] as { service: Record<string, any> }).service;
        service['template']['serviceAccount'] = email;
        if (traffic) service['traffic'] = traffic;
      });
    const findings = await saFindings([
      v2Deploy('2024-05-01T10:00:00Z', ORIGINAL),
      v2Deploy('2024-05-02T10:00:00Z', OTHER),
      v2Deploy('2024-05-03T10:00:00Z', ORIGINAL, [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: 'storefront-00002-abc', percent: 100 }, { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', tag: 'fix' }]),
    ]);
    expect(findings.map((f) => [f.status ?? 'active', f.evidence['after']])).toEqual([['active', OTHER]]);
  });

  it('fires HIGH: back to the default compute SA, even when an open finding reports the move away from it', async () => {
    // Months ago the service left the default SA (a MEDIUM finding nobody closed); now someone moves it back.
    const findings = await saFindings([deploy('2024-02-01T10:00:00Z', undefined), deploy('2024-02-02T10:00:00Z', ORIGINAL), deploy('2024-05-02T10:00:00Z', undefined)]);
    expect(findings.map((f) => [f.status ?? 'active', f.severity, f.evidence['after']])).toEqual([
      ['active', 'MEDIUM', ORIGINAL],
      ['resolved', 'MEDIUM', ORIGINAL],
      ['active', 'HIGH', '123456789012-compute@developer.gserviceaccount.com'],
    ]);
  });

  // Only `all` asks v1 for a dry run: a write with any other dryRun value that Cloud Run persisted is a deploy.
  it('fires: a change of identity written with dryRun=false', async () => {
    const marked = variant(deploy('2024-05-02T10:00:00Z', OTHER), (e) => void ((e.protoPayload['request'] as Record<string, unknown>)['dryRun'] = 'false'));
    const findings = await saFindings([deploy('2024-05-01T10:00:00Z', ORIGINAL), marked]);
    expect(findings.map((f) => f.evidence['after'])).toEqual([OTHER]);
  });

  it('fires: v2 CreateService then UpdateService with another identity', async () => {
    const findings = await saFindings([synthetic('v2-CreateService'), synthetic('v2-UpdateService')]);
    expect(findings[0]?.evidence).toMatchObject({
      before: 'storefront@acme-prod.iam.gserviceaccount.com',
      after: 'storefront-debug@acme-prod.iam.gserviceaccount.com',
    });
  });

  it.each([
    ['the first deploy of a service (it sets the baseline)', () => [deploy('2024-05-01T10:00:00Z', OTHER)]],
    ['the same identity again', () => [deploy('2024-05-01T10:00:00Z', ORIGINAL), deploy('2024-05-02T10:00:00Z', ORIGINAL)]],
    ['a failed write with another identity', () => [deploy('2024-05-01T10:00:00Z', ORIGINAL), at(withV1ServiceAccount(corpus('slackbot__Services.ReplaceService__2'), OTHER), '2024-05-02T10:00:00Z')]],
    ['an IAM change in between', () => [deploy('2024-05-01T10:00:00Z', ORIGINAL), corpus('panther__Services.SetIamPolicy__1')]],
    ['a v2 traffic-only update', () => [synthetic('v2-CreateService'), synthetic('v2-UpdateService-traffic-only')]],
  ])('ignores: %s', async (_name, entries) => {
    expect(await saFindings(entries())).toEqual([]);
  });

  it('ignores: the default compute SA spelled out vs left implicit with an unknown project number', async () => {
    const implicit = deploy('2024-05-02T10:00:00Z', undefined);
    const noNumber = JSON.parse(JSON.stringify(implicit).replaceAll('"namespace":"123456789012",', '')) as unknown;
    expect(await saFindings([deploy('2024-05-01T10:00:00Z', '123456789012-compute@developer.gserviceaccount.com'), noNumber])).toEqual([]);
  });

  it('out of order within the correlation wait: entries are put back in time order', async () => {
    // t2 (OTHER) arrives before the older t1 (ORIGINAL); both wait for their rollout, complete in time order.
    const findings = await saFindings([deploy('2024-05-01T10:05:00Z', OTHER), deploy('2024-05-01T10:00:00Z', ORIGINAL), deploy('2024-05-03T10:00:00Z', OTHER)]);
    expect(findings.map((f) => [f.eventTime, f.evidence['before'], f.evidence['after']])).toEqual([['2024-05-01T10:05:00Z', ORIGINAL, OTHER]]);
  });

  // The same delivered out of order: a --no-traffic revision judged first ends nothing, so a late change of identity
  // before it stays open, and a late deploy back to the identity before closes it, as in timestamp order.
  const live = async (entries: readonly unknown[]) => (await findingsLive(entries)).filter((f) => f.rule === 'service-account-change').map((f) => `${f.id} ${f.status ?? 'active'} ${f.resolution?.time ?? ''}`);
  it.each([
    ['a change of identity arriving after a --no-traffic revision back to the one before', ['10:00', '12:00', '11:00'], ['10:00', '11:00', '12:00'], 'active'],
    ['a deploy back to the identity before, arriving after a --no-traffic revision', ['10:00', '11:00', '13:00', '12:00'], ['10:00', '11:00', '12:00', '13:00'], 'active,resolved'],
  ])('out of order with --no-traffic: %s', async (_name, delivered, ordered, statuses) => {
    const day = (hhmm: string): string => `2024-05-02T${hhmm}:00Z`;
    const entries: Record<string, ReturnType<typeof deploy>> = {
      '10:00': deploy(day('10:00'), ORIGINAL),
      '11:00': deploy(day('11:00'), OTHER),
      '12:00': delivered.length === 3 ? noTraffic(deploy(day('12:00'), ORIGINAL), 'cloud-run-slack-bot-00023-rfg') : deploy(day('12:00'), ORIGINAL),
      '13:00': noTraffic(deploy(day('13:00'), ORIGINAL), 'cloud-run-slack-bot-00023-rfg'),
    };
    const inOrder = await live(ordered.map((t) => entries[t]!));
    expect(inOrder.map((f) => f.split(' ')[1]).join(',')).toBe(statuses);
    expect(await live(delivered.map((t) => entries[t]!))).toEqual(inOrder);
  });

  // A late deploy back to the identity before a change, with a newer --no-traffic revision after it that runs as the
  // changed identity again: in timestamp order that revision is judged against the late deploy, a change of its own
  // (reported, open: it takes no traffic, but nothing closes it). Live it was judged against the change before the
  // late deploy, of its own identity, and raised nothing; the late deploy closes the finding before it.
  it('out of order with --no-traffic: a late deploy back to the identity before reports the newer --no-traffic revision that changed it again', async () => {
    const day = (hhmm: string): string => `2024-05-02T${hhmm}:00Z`;
    const entries: Record<string, unknown> = {
      '10:00': deploy(day('10:00'), ORIGINAL),
      '11:00': deploy(day('11:00'), OTHER),
      '12:00': deploy(day('12:00'), ORIGINAL),
      '13:00': noTraffic(deploy(day('13:00'), OTHER), 'cloud-run-slack-bot-00023-rfg'),
    };
    const inOrder = await live(['10:00', '11:00', '12:00', '13:00'].map((t) => entries[t]!));
    expect(inOrder.map((f) => f.split(' ')[1]).join(',')).toBe('active,resolved,active');
    expect(await live(['10:00', '11:00', '13:00', '12:00'].map((t) => entries[t]!))).toEqual(inOrder);
  });

  // The other side: a newer revision that may have reported itself and been closed since, or whose finding a principal
  // exception may have held back (who made it is not kept), is not reported again by the late deploy.
  it('a late deploy does not report a newer change of identity that a principal exception may have held back', async () => {
    const day = (hhmm: string): string => `2024-05-02T${hhmm}:00Z`;
    const byCi = (entry: ReturnType<typeof deploy>) => variant(entry, (e) => void ((e.protoPayload['authenticationInfo'] as Record<string, unknown>)['principalEmail'] = 'ci@acme.iam.gserviceaccount.com'));
    const delivered = [deploy(day('10:00'), ORIGINAL), byCi(noTraffic(deploy(day('13:00'), OTHER), 'cloud-run-slack-bot-00023-rfg')), deploy(day('11:00'), OTHER), deploy(day('12:00'), ORIGINAL)];
    const findings = await findingsLive(delivered, config({ rules: { 'service-account-change': { exceptions: [{ principal: 'ci@*' }] } } }));
    expect(findings.filter((f) => f.rule === 'service-account-change' && f.eventTime === day('13:00'))).toEqual([]);
  });

  it("a late job write does not report a newer write's change of identity that reported itself and was closed since", async () => {
    const job = (time: string, email: string) => at(variant(synthetic('job-v2-UpdateJob'), (e) => void (((e.protoPayload['request'] as Record<string, any>)['job']['template']['template'] as Record<string, unknown>)['serviceAccount'] = email)), time);
    const day = (hhmm: string): string => `2025-03-10T${hhmm}:00Z`;
    // 13:00 is judged against 10:00 (another identity) and reports itself; 14:00 closes it; 11:00 and 12:00 come late.
    const delivered = [job(day('10:00'), ORIGINAL), job(day('13:00'), OTHER), job(day('14:00'), ORIGINAL), job(day('11:00'), OTHER), job(day('12:00'), ORIGINAL)];
    const newer = (await findingsLive(delivered)).filter((f) => f.rule === 'service-account-change' && f.eventTime === day('13:00'));
    expect(newer.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
  });

  // A change of identity stays open across the service's delete (README, Deleted services), and so does what left it
  // open: a --no-traffic revision back to the identity before, then the delete. A late change of identity that comes
  // after the delete (the --no-traffic revision's entry before it or after it) is judged against the same history.
  it.each([
    ['the --no-traffic revision delivered before the delete', ['10:00', '12:00', '13:00', '11:00']],
    ['the --no-traffic revision delivered after the delete', ['10:00', '13:00', '12:00', '11:00']],
  ])('out of order with --no-traffic, then the delete: a late change of identity stays open, %s', async (_name, delivered) => {
    const day = (hhmm: string): string => `2024-05-02T${hhmm}:00Z`;
    const entries: Record<string, unknown> = {
      '10:00': deploy(day('10:00'), ORIGINAL),
      '11:00': deploy(day('11:00'), OTHER),
      '12:00': noTraffic(deploy(day('12:00'), ORIGINAL), 'cloud-run-slack-bot-00023-rfg'),
      '13:00': deleteServiceAt(day('13:00'), SLACK_BOT),
    };
    const inOrder = await live(['10:00', '11:00', '12:00', '13:00'].map((t) => entries[t]!));
    expect(inOrder.map((f) => f.split(' ')[1]).join(',')).toBe('active');
    expect(await live(delivered.map((t) => entries[t]!))).toEqual(inOrder);
  });

  it('out of order beyond the wait: an older entry arriving late never overwrites newer state', async () => {
    // t2 and t3 complete; t1 arrives days late. t1 finds no earlier state; t3 still compares with t2.
    const findings = await saFindings([deploy('2024-05-02T10:00:00Z', OTHER), deploy('2024-05-03T10:00:00Z', OTHER), deploy('2024-05-01T10:00:00Z', ORIGINAL), deploy('2024-05-04T10:00:00Z', OTHER)]);
    expect(findings).toEqual([]);
  });

  it('the same change seen twice gives one finding id', async () => {
    const second = deploy('2024-05-02T10:00:00Z', OTHER);
    const findings = await saFindings([deploy('2024-05-01T10:00:00Z', ORIGINAL), second, structuredClone(second)]);
    expect(new Set(findings.map((f) => f.id)).size).toBe(1);
  });

  // A client may name its revision (v1 template.metadata.name, v2 template.revision), and a name is free again once
  // that revision, or the service, is deleted. Each sink takes a finding id once (sinks/deliver.ts): a later change
  // that reused the name of a reported one must not get its id, or it is dropped as a duplicate of the old alert.
  it('a later change of identity under a revision name an earlier one used gets its own id', async () => {
    const named = (timestamp: string, email: string, revision: string) =>
      editV1Services(deploy(timestamp, email), (svc) => {
        ((svc['spec'] as Record<string, Record<string, Record<string, unknown>>>)['template']!['metadata']!)['name'] = revision;
      });
    const findings = await saFindings([
      named('2024-05-01T10:00:00Z', ORIGINAL, 'cloud-run-slack-bot-a'),
      named('2024-05-02T10:00:00Z', OTHER, 'cloud-run-slack-bot-b'),
      named('2024-05-03T10:00:00Z', ORIGINAL, 'cloud-run-slack-bot-c'),
      // (revision cloud-run-slack-bot-b deleted meanwhile, or the service deleted and created again)
      named('2024-06-03T10:00:00Z', OTHER, 'cloud-run-slack-bot-b'),
    ]);
    const active = findings.filter((f) => f.status !== 'resolved');
    expect(active.map((f) => f.eventTime)).toEqual(['2024-05-02T10:00:00Z', '2024-06-03T10:00:00Z']);
    expect(active[0]!.id).not.toBe(active[1]!.id);
  });

  it('ignores: exempted principal', async () => {
    const cfg = config({ rules: { 'service-account-change': { exceptions: [{ principal: '*@gmail.com', reason: 'owner' }] } } });
    expect(await saFindings([deploy('2024-05-01T10:00:00Z', ORIGINAL), deploy('2024-05-02T10:00:00Z', OTHER)], cfg)).toEqual([]);
  });

  it('severity can be raised in the config', async () => {
    const cfg = config({ rules: { 'service-account-change': { severity: 'CRITICAL' } } });
    const findings = await saFindings([deploy('2024-05-01T10:00:00Z', ORIGINAL), deploy('2024-05-02T10:00:00Z', OTHER)], cfg);
    expect(findings[0]?.severity).toBe('CRITICAL');
  });
});

// A failed rollout records none of its revision's facts (Engine.finalize): a burst's later write that sets a service
// setting (judged on its own after the rollout) must not record them either, nor report the failed revision again.
describe('service-account-change: a failed rollout whose burst has a later write that sets the ingress', () => {
  const [failing, failedEvent] = synthetic('seq-failed-rollout') as unknown as [Record<string, unknown>, Record<string, unknown>];
  const KEPT = 'aegis@computeengine-506321.iam.gserviceaccount.com';
  const MOVED = 'mover@computeengine-506321.iam.gserviceaccount.com';
  const withIngress = (entry: Record<string, unknown>, ingress: string) =>
    editV1Services(entry, (svc) => {
      const annotations = (svc['metadata'] as Record<string, Record<string, string>>)['annotations']!;
      annotations['run.googleapis.com/ingress'] = ingress;
      delete annotations['run.googleapis.com/ingress-status'];
    });
  // The service ran as KEPT (another image); the failing write (its revision never Ready) moves it to MOVED.
  const before = withOperationId(at(withV1ServiceAccount(withV1Image(failing, 'us-docker.pkg.dev/cloudrun/container/hello:earlier'), KEPT), '2026-09-17T02:00:00Z'), 'op-before');
  const write = withV1ServiceAccount(failing, MOVED);
  // gcloud's second write of the same template 10 s later, by its own operation, restricting the ingress.
  const burst = withOperationId(at(withIngress(write, 'internal'), '2026-09-18T02:24:29.902Z'), 'op-burst');
  // A day later a deploy of another image as MOVED, which does serve (the failed one ran as what its events say).
  const serving = withOperationId(at(withV1Image(write, 'us-central1-docker.pkg.dev/computeengine-506321/cloud-run-source-deploy/aegis-ai:v2'), '2026-09-19T02:00:00Z'), 'op-serving');
  it.each([
    ['without the burst write', [before, write, failedEvent, serving]],
    ['with the burst write', [before, write, burst, failedEvent, serving]],
  ])('%s: the failed move and the serving one are each reported once', async (_name, entries) => {
    const findings = await saFindings(entries);
    expect(findings.map((f) => [f.eventTime, f.evidence['before'], String(f.evidence['rollout'] ?? '').split(' ')[0]])).toEqual([
      ['2026-09-18T02:24:19.902Z', KEPT, 'failed'],
      ['2026-09-19T02:00:00Z', KEPT, 'unknown'],
    ]);
  });
});
