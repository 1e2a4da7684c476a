// A late entry whose risk newer entries still hold: it is reported, and it stays open as a risk in force, so the change
// that later takes the risk away (or the service's delete) closes it too. Otherwise the live pipeline, where Pub/Sub
// delivers without order, would leave it active in every sink for good, where replay in time order closes it.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { at, deleteServiceAt, editV1Services, SLACK_BOT, synthetic, withOperationId, withV1ServiceAccount, type Json } from '../support/entries.js';
import { findingsLive, findingsOf } from '../support/run.js';

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
