// A late entry whose risk newer entries still hold: it is reported, and it stays open as a risk in force, so the change
// that later takes the risk away (or the service's delete) closes it too. Otherwise the live pipeline, where Pub/Sub
// delivers without order, would leave it active in every sink for good, where replay in time order closes it.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { at, deleteServiceAt, editV1Services, SLACK_BOT, synthetic, withOperationId, withV1ServiceAccount, type Json } from '../support/entries.js';
import { findingsLive, findingsOf } from '../support/run.js';
import { seededRandom, shuffled } from '../support/random.js';

type Annotations = Record<string, string>;
const ORIGINAL = 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com';
const OTHER = 'ci-admin@test-project-1234.iam.gserviceaccount.com';
const PASSWORD = 'hunter2-but-longer';

interface Settings {
  readonly serviceAccount?: string;
  readonly env?: readonly Record<string, unknown>[];
  /** The service's own annotations (ingress, invoker IAM check). */
  readonly service?: Annotations;
  /** The revision template's annotations (VPC access). */
  readonly template?: Annotations;
}

/** The gcloud fixture (its whole body logged) at `time`, a new image each time (a new revision), with `settings`. */
function deploy(time: string, settings: Settings): Json {
  const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
    const meta = svc['metadata'] as Record<string, Annotations>;
    meta['annotations'] = { ...meta['annotations'], ...settings.service };
    const template = (svc['spec'] as Record<string, Record<string, Record<string, unknown>>>)['template']!;
    template['spec']!['containers'] = [{ name: 'app', image: `gcr.io/acme/app:${time.slice(11, 16).replace(':', '')}`, env: settings.env ?? [] }];
    template['metadata']!['annotations'] = { ...(template['metadata']!['annotations'] as Annotations | undefined), ...settings.template };
  });
  const withAccount = settings.serviceAccount ? withV1ServiceAccount(entry, settings.serviceAccount) : entry;
  return at(withOperationId(withAccount, `op-${time}`), time);
}

const t = (minute: number): string => `2024-05-04T10:${String(minute).padStart(2, '0')}:00Z`;
const DELETE = deleteServiceAt(t(50), SLACK_BOT);
const CONNECTOR = { 'run.googleapis.com/vpc-access-connector': 'projects/test-project-1234/locations/asia-northeast1/connectors/egress' };

/** Ids of the findings of `rule` whose last word is active. */
function stillOpen(findings: readonly Finding[], rule: string): string[] {
  const last = new Map<string, string>();
  for (const f of findings) if (f.rule === rule) last.set(f.id, f.status ?? 'active');
  return [...last].filter(([, status]) => status === 'active').map(([id]) => id);
}

// Each case: a starting deploy (10:00), the risk set at 10:20 and again at 10:30, and a change that takes it away at
// 10:50. Delivered with 10:30 before 10:20, an hour of wall clock apart, so 10:30 is judged first.
const CASES: readonly [string, string, Json, Json, Json, Json][] = [
  [
    'plaintext-secret-env, closed by a revision without the variable',
    'plaintext-secret-env',
    deploy(t(0), {}),
    deploy(t(20), { env: [{ name: 'DB_PASSWORD', value: PASSWORD }] }),
    deploy(t(30), { env: [{ name: 'DB_PASSWORD', value: PASSWORD }] }),
    deploy(t(50), { env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'latest' } } }] }),
  ],
  [
    'plaintext-secret-env, closed by the delete',
    'plaintext-secret-env',
    deploy(t(0), {}),
    deploy(t(20), { env: [{ name: 'DB_PASSWORD', value: PASSWORD }] }),
    deploy(t(30), { env: [{ name: 'DB_PASSWORD', value: PASSWORD }] }),
    DELETE,
  ],
  [
    'service-account-change, closed by the change back',
    'service-account-change',
    deploy(t(0), { serviceAccount: ORIGINAL }),
    deploy(t(20), { serviceAccount: OTHER }),
    deploy(t(30), { serviceAccount: OTHER }),
    deploy(t(50), { serviceAccount: ORIGINAL }),
  ],
  [
    'ingress-opened, closed by the ingress restricted again',
    'ingress-opened',
    deploy(t(0), { service: { 'run.googleapis.com/ingress': 'internal' } }),
    deploy(t(20), { service: { 'run.googleapis.com/ingress': 'all' } }),
    deploy(t(30), { service: { 'run.googleapis.com/ingress': 'all' } }),
    deploy(t(50), { service: { 'run.googleapis.com/ingress': 'internal' } }),
  ],
  [
    'ingress-opened, closed by the delete',
    'ingress-opened',
    deploy(t(0), { service: { 'run.googleapis.com/ingress': 'internal' } }),
    deploy(t(20), { service: { 'run.googleapis.com/ingress': 'all' } }),
    deploy(t(30), { service: { 'run.googleapis.com/ingress': 'all' } }),
    DELETE,
  ],
  [
    'vpc-egress-bypass, closed by all traffic through the VPC again',
    'vpc-egress-bypass',
    deploy(t(0), { template: { ...CONNECTOR, 'run.googleapis.com/vpc-access-egress': 'all-traffic' } }),
    deploy(t(20), { template: { ...CONNECTOR, 'run.googleapis.com/vpc-access-egress': 'private-ranges-only' } }),
    deploy(t(30), { template: { ...CONNECTOR, 'run.googleapis.com/vpc-access-egress': 'private-ranges-only' } }),
    deploy(t(50), { template: { ...CONNECTOR, 'run.googleapis.com/vpc-access-egress': 'all-traffic' } }),
  ],
  [
    'public-invoker-grant (invoker IAM check off), closed by the check on again',
    'public-invoker-grant',
    deploy(t(0), {}),
    deploy(t(20), { service: { 'run.googleapis.com/invoker-iam-disabled': 'true' } }),
    deploy(t(30), { service: { 'run.googleapis.com/invoker-iam-disabled': 'true' } }),
    deploy(t(50), { service: { 'run.googleapis.com/invoker-iam-disabled': 'false' } }),
  ],
  [
    'public-invoker-grant (invoker IAM check off), closed by the delete',
    'public-invoker-grant',
    deploy(t(0), {}),
    deploy(t(20), { service: { 'run.googleapis.com/invoker-iam-disabled': 'true' } }),
    deploy(t(30), { service: { 'run.googleapis.com/invoker-iam-disabled': 'true' } }),
    DELETE,
  ],
];

describe('a late entry whose risk newer entries still hold', () => {
  it.each(CASES)('%s', async (_name, rule, start, older, newer, closing) => {
    const inOrder = await findingsOf([start, older, newer, closing]);
    const live = await findingsLive([start, newer, older, closing]);
    // The late entry is reported (the premise: otherwise there is nothing to close).
    expect(live.filter((f) => f.rule === rule && f.eventTime === t(20))).not.toEqual([]);
    expect(stillOpen(inOrder, rule)).toEqual([]);
    expect(stillOpen(live, rule)).toEqual([]);
  });

  it.each(CASES)('%s: without the closing change, the late finding stays active', async (_name, rule, start, older, newer) => {
    const live = await findingsLive([start, newer, older]);
    const late = live.filter((f) => f.rule === rule && f.eventTime === t(20));
    expect(late.map((f) => f.status ?? 'active')).toEqual(['active']);
  });

  it('the closing change resolves the late finding once, under its own id', async () => {
    const [, , start, older, newer, closing] = CASES[0]!;
    const live = (await findingsLive([start, newer, older, closing])).filter((f) => f.rule === 'plaintext-secret-env');
    const late = live.filter((f) => f.eventTime === t(20));
    expect(late.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
    expect(late[1]!.id).toBe(late[0]!.id);
    expect(late[1]!.resolution).toMatchObject({ time: t(50), reason: 'the variables are no longer set to secrets in plain text' });
  });
});

describe('service-account-change: late deploys that change the identity back', () => {
  const sa = (minute: number, email: string): Json => deploy(t(minute), { serviceAccount: email });
  const summary = (findings: readonly Finding[]): string[] =>
    findings.filter((f) => f.rule === 'service-account-change').map((f) => `${f.eventTime.slice(11, 16)} ${String(f.evidence['after']).split('@')[0]} ${f.status ?? 'active'}`);

  it('a late move back to the identity before the change is the fix, not a new change (as in timestamp order)', async () => {
    // 10:05 moves to OTHER, 10:10 back, 10:15 and 10:20 keep the original; 10:20 comes before 10:10 and 10:15.
    const entries = [sa(0, ORIGINAL), sa(5, OTHER), sa(20, ORIGINAL), sa(15, ORIGINAL), sa(10, ORIGINAL)];
    const live = await findingsLive(entries);
    expect(summary(live)).toEqual(['10:05 ci-admin active', '10:05 ci-admin resolved']);
    expect(stillOpen(live, 'service-account-change')).toEqual([]);
  });

  it('still reports a late move back to a default service account', async () => {
    const DEFAULT = '123456789-compute@developer.gserviceaccount.com';
    const entries = [sa(0, DEFAULT), sa(5, OTHER), sa(20, DEFAULT), sa(10, DEFAULT)];
    const late = (await findingsLive(entries)).filter((f) => f.rule === 'service-account-change' && f.eventTime === t(10));
    expect(late.map((f) => [f.severity, f.status ?? 'active'])).toEqual([['HIGH', 'active']]);
  });

  it('a change of identity delivered after the delete of its service, and the move back after it: closed, as in timestamp order', async () => {
    const entries = [sa(0, ORIGINAL), DELETE, sa(5, OTHER), sa(10, ORIGINAL)];
    const inOrder = await findingsOf([sa(0, ORIGINAL), sa(5, OTHER), sa(10, ORIGINAL), DELETE]);
    expect(stillOpen(inOrder, 'service-account-change')).toEqual([]);
    expect(stillOpen(await findingsLive(entries), 'service-account-change')).toEqual([]);
  });
});

// Seeded random histories of one service: deploys that set or clear each risk, and IAM policies that grant or
// revoke public access, delivered in any order, sometimes with a delete at the end. Whatever the delivery order, the
// live pipeline ends with a rule's findings all closed exactly when timestamp order does: no finding stays active in
// a sink for a risk that is gone, and a risk in force keeps one open. (Which entry raises a risk can differ: the
// first one delivered sets the baseline.)
describe('live delivery orders end with the risks timestamp order ends with', () => {
  const RULES = ['plaintext-secret-env', 'service-account-change', 'ingress-opened', 'vpc-egress-bypass', 'public-invoker-grant'];

  function randomDeploy(minute: number, next: () => number): Json {
    const risky = (): boolean => next() < 0.5;
    return deploy(t(minute), {
      serviceAccount: risky() ? OTHER : ORIGINAL,
      env: risky() ? [{ name: 'DB_PASSWORD', value: PASSWORD }] : [],
      service: { 'run.googleapis.com/ingress': risky() ? 'all' : 'internal', 'run.googleapis.com/invoker-iam-disabled': risky() ? 'true' : 'false' },
      template: { ...CONNECTOR, 'run.googleapis.com/vpc-access-egress': risky() ? 'private-ranges-only' : 'all-traffic' },
    });
  }

  /** The service's IAM policy at `minute`: allUsers invokers, or only a user. */
  function iamPolicy(minute: number, open: boolean): Json {
    const fixture = JSON.stringify(synthetic(open ? 'run-SetIamPolicy-allUsers' : 'run-SetIamPolicy-private'));
    const onService = fixture.replaceAll('some-project', SLACK_BOT.project).replaceAll('us-west1', SLACK_BOT.location).replaceAll('cloudrun-exfil', SLACK_BOT.service);
    return at(JSON.parse(onService) as Json, t(minute));
  }

  it.each(Array.from({ length: 40 }, (_, i) => i + 1))('seed %i', async (seed) => {
    const next = seededRandom(seed);
    for (let scenario = 0; scenario < 12; scenario++) {
      // A safe first deploy known first (the baseline), then 2-5 deploys 5 minutes apart, and maybe a delete.
      const start = deploy(t(0), { serviceAccount: ORIGINAL, service: { 'run.googleapis.com/ingress': 'internal' }, template: { ...CONNECTOR, 'run.googleapis.com/vpc-access-egress': 'all-traffic' } });
      const deploys = Array.from({ length: 2 + Math.floor(next() * 5) }, (_, i) => (next() < 0.3 ? iamPolicy(5 * (i + 1), next() < 0.5) : randomDeploy(5 * (i + 1), next)));
      const entries = next() < 0.3 ? [...deploys, DELETE] : deploys;
      const inOrder = await findingsOf([start, ...entries]);
      const delivered = [start, ...shuffled(entries, next)];
      const live = await findingsLive(delivered);
      for (const rule of RULES) {
        const order = delivered.map((e) => String(e['timestamp']).slice(11, 16)).join(' ');
        // Open or closed alike: a risk in force is never lost, and none is left active that is gone.
        expect(stillOpen(live, rule).length > 0, `seed ${seed} scenario ${scenario}, ${rule}, delivered ${order}`).toBe(stillOpen(inOrder, rule).length > 0);
      }
    }
  });
});

// Late findings kept open count toward the service's OPEN_LIMIT (20) like any other: they must not push out an older
// finding the newer entries never touched, which before they were kept open a later change still closed.
describe('late findings kept open and the limit of open findings per service', () => {
  function policy(minute: number, open: boolean): Json {
    const fixture = JSON.stringify(synthetic(open ? 'run-SetIamPolicy-allUsers' : 'run-SetIamPolicy-private'));
    const onService = fixture.replaceAll('some-project', SLACK_BOT.project).replaceAll('us-west1', SLACK_BOT.location).replaceAll('cloudrun-exfil', SLACK_BOT.service);
    return at(JSON.parse(onService) as Json, t(minute));
  }
  const safe = { serviceAccount: ORIGINAL, service: { 'run.googleapis.com/ingress': 'internal', 'run.googleapis.com/invoker-iam-disabled': 'false' }, template: { ...CONNECTOR, 'run.googleapis.com/vpc-access-egress': 'all-traffic' } };
  // Five risks at once: another identity, a secret in plain text, ingress all with the invoker check off, VPC egress bypassed.
  const risky = (minute: number): Json =>
    deploy(t(minute), {
      serviceAccount: OTHER,
      env: [{ name: 'DB_PASSWORD', value: PASSWORD }],
      service: { 'run.googleapis.com/ingress': 'all', 'run.googleapis.com/invoker-iam-disabled': 'true' },
      template: { ...CONNECTOR, 'run.googleapis.com/vpc-access-egress': 'private-ranges-only' },
    });

  it('a public grant revoked after late deploys kept their risks open is still closed, as in timestamp order', async () => {
    const grant = policy(1, true);
    const deploys = [5, 10, 15, 20, 25].map(risky);
    const closing = [policy(30, false), deploy(t(35), safe)];
    const inOrder = await findingsOf([deploy(t(0), safe), grant, ...deploys, ...closing]);
    const live = await findingsLive([deploy(t(0), safe), grant, ...[...deploys].reverse(), ...closing]);
    const grantId = (findings: readonly Finding[]): string | undefined => findings.find((f) => f.rule === 'public-invoker-grant' && f.eventTime === t(1))?.id;
    expect(stillOpen(inOrder, 'public-invoker-grant')).not.toContain(grantId(inOrder));
    expect(grantId(live)).toBeDefined();
    expect(stillOpen(live, 'public-invoker-grant')).not.toContain(grantId(live));
  });
});
