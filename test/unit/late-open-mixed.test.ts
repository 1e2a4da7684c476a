// The late-open property (late-open.test.ts) over more kinds of entries: v1 and v2 deploys (about one v1 deploy in five
// with --no-traffic: its revision takes none of the traffic), service and project IAM policies, two services of one
// project, console deploys with their system events (or some of them), and the live
// pipeline's wall clock an hour, a minute or a second apart (deploys then still wait for their events). Whatever the
// delivery order, a rule ends with an open finding on a service exactly when it does in timestamp order, and each
// finding is reported active once and resolved at most once.
// (Two runtime identities only: with three or more, which move counts as "back to the identity before" depends on the
// findings open at the time, in timestamp order too; and deletes come last: a delete delivered after entries of the
// service created again is an older entry that comes later, compared with nothing.)
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { at, deleteServiceAt, editV1Services, renamed, SLACK_BOT, STOREFRONT_AS_SLACK_BOT, synthetic, withOperationId, withV1ServiceAccount, type Json } from '../support/entries.js';
import { consoleDeploy } from '../support/consoleDeploys.js';
import { findingsLive, findingsOf } from '../support/run.js';
import { seededRandom, shuffled } from '../support/random.js';

const RULES = ['plaintext-secret-env', 'service-account-change', 'ingress-opened', 'vpc-egress-bypass', 'public-invoker-grant'];
const IDENTITIES = ['cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com', 'ci-admin@test-project-1234.iam.gserviceaccount.com'];
const OTHER_SERVICE = 'cloud-run-other';
const CONNECTOR = { 'run.googleapis.com/vpc-access-connector': 'projects/test-project-1234/locations/asia-northeast1/connectors/egress' };
const STEPS = [3_600_000, 60_000, 1000];
const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

type Obj = Record<string, any>;
const onService = (entry: Json, service: string): Json => (service === SLACK_BOT.service ? entry : renamed(entry, [[/cloud-run-slack-bot/g, service]]));

interface Risks {
  readonly identity: string;
  readonly secret: boolean;
  readonly ingressAll: boolean;
  readonly checkOff: boolean;
  readonly egressBypassed: boolean;
  /** All the traffic to an older revision, as `gcloud run deploy --no-traffic` writes it: the new revision takes none. */
  readonly noTraffic?: boolean;
}

function v1Deploy(ms: number, service: string, risks: Risks): Json {
  const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
    const meta = svc['metadata'] as Obj;
    meta['annotations'] = { ...meta['annotations'], 'run.googleapis.com/ingress': risks.ingressAll ? 'all' : 'internal', 'run.googleapis.com/invoker-iam-disabled': String(risks.checkOff) };
    const template = (svc['spec'] as Obj)['template'] as Obj;
    template['spec']['containers'] = [{ name: 'app', image: `gcr.io/acme/app:${ms}`, env: risks.secret ? [{ name: 'DB_PASSWORD', value: 'hunter2-but-longer' }] : [] }];
    template['metadata']['annotations'] = { ...template['metadata']['annotations'], ...CONNECTOR, 'run.googleapis.com/vpc-access-egress': risks.egressBypassed ? 'private-ranges-only' : 'all-traffic' };
    if (risks.noTraffic) (svc['spec'] as Obj)['traffic'] = [{ revisionName: `${service}-00001-abc`, percent: 100 }];
  });
  return at(onService(withOperationId(withV1ServiceAccount(entry, risks.identity), `op-${service}-${ms}`), service), iso(ms), `v1-${service}-${ms}`);
}

/** A v2 UpdateService (the whole service: identity, ingress, invoker check; no VPC access, no variables). */
function v2Update(ms: number, service: string, risks: Risks): Json {
  const entry = renamed(synthetic('v2-UpdateService'), STOREFRONT_AS_SLACK_BOT) as Obj;
  const body = entry['protoPayload']['request']['service'];
  body.ingress = risks.ingressAll ? 'INGRESS_TRAFFIC_ALL' : 'INGRESS_TRAFFIC_INTERNAL_ONLY';
  body.invokerIamDisabled = risks.checkOff;
  body.template.serviceAccount = risks.identity;
  body.template.containers = [{ image: `gcr.io/acme/app:${ms}` }];
  entry['protoPayload']['response']['name'] = `projects/test-project-1234/locations/asia-northeast1/operations/v2-${service}-${ms}`;
  return at(onService(entry, service), iso(ms), `v2-${service}-${ms}`);
}

function servicePolicy(ms: number, service: string, open: boolean): Json {
  const fixture = JSON.stringify(synthetic(open ? 'run-SetIamPolicy-allUsers' : 'run-SetIamPolicy-private'));
  const moved = fixture.replaceAll('some-project', SLACK_BOT.project).replaceAll('us-west1', SLACK_BOT.location).replaceAll('cloudrun-exfil', service);
  return at(JSON.parse(moved) as Json, iso(ms), `iam-${service}-${ms}`);
}

function projectPolicy(ms: number, open: boolean): Json {
  const entry = renamed(synthetic(open ? 'project-SetIamPolicy-run-invoker-allUsers' : 'project-SetIamPolicy-run-invoker-removed'), [[/western-verve-123456/g, SLACK_BOT.project]]);
  return at(entry, iso(ms), `project-${ms}`);
}

/** The k-th console deploy (test/support/consoleDeploys.ts): its ingress `all` or internal, the check off or on. */
function deploy(k: number, identity: string, ingressAll: boolean, checkOff: boolean, events: number): Json[] {
  return consoleDeploy(k, identity, { checkOff, ingress: ingressAll ? 'all' : 'internal' }, events);
}

const byTime = (entries: readonly Json[]): Json[] => [...entries].sort((a, b) => String(a['timestamp']).localeCompare(String(b['timestamp'])));

/** Per rule and service, whether a finding of it ends active. */
function openRisks(findings: readonly Finding[]): string[] {
  const last = new Map<string, Finding>();
  for (const f of findings) if (RULES.includes(f.rule)) last.set(f.id, f);
  return [...new Set([...last.values()].filter((f) => (f.status ?? 'active') === 'active').map((f) => `${f.rule} on ${f.service}`))].sort();
}

/** Findings not reported once as active and then resolved at most once. */
function badLifecycles(findings: readonly Finding[]): string[] {
  const statuses = new Map<string, string[]>();
  for (const f of findings) statuses.set(f.id, [...(statuses.get(f.id) ?? []), f.status ?? 'active']);
  return [...statuses].filter(([, s]) => s[0] !== 'active' || s.length > 2 || (s.length === 2 && s[1] !== 'resolved')).map(([id, s]) => `${id} ${s.join(',')}`);
}

async function expectSameRisks(entries: readonly Json[], first: readonly Json[], next: () => number, what: string): Promise<void> {
  const inOrder = await findingsOf(byTime([...first, ...entries]));
  const delivered = [...first, ...shuffled(entries, next)];
  const stepMs = STEPS[Math.floor(next() * STEPS.length)]!;
  const live = await findingsLive(delivered, undefined, undefined, stepMs);
  const order = `${what}, ${stepMs / 1000} s apart, delivered ${delivered.map((e) => `${String(e['timestamp']).slice(11, 19)} ${String((e['protoPayload'] as Obj)['methodName']).split('.').pop()}`).join(', ')}`;
  expect(openRisks(live), order).toEqual(openRisks(inOrder));
  expect(badLifecycles(live), order).toEqual([]);
}

describe('live delivery orders of mixed entries end with the risks timestamp order ends with', () => {
  const start = Date.parse('2024-05-04T10:00:00Z');

  it.each(Array.from({ length: 30 }, (_, i) => i + 1))('deploys, IAM policies, two services, seed %i', async (seed) => {
    const next = seededRandom(seed * 7919);
    for (let scenario = 0; scenario < 12; scenario++) {
      const services = next() < 0.5 ? [SLACK_BOT.service] : [SLACK_BOT.service, OTHER_SERVICE];
      const first: Json[] = [];
      const entries: Json[] = [];
      for (const [s, service] of services.entries()) {
        // A safe first deploy of each service, delivered first: the baseline.
        first.push(v1Deploy(start + s * 1000, service, { identity: IDENTITIES[0]!, secret: false, ingressAll: false, checkOff: false, egressBypassed: false }));
        const count = 2 + Math.floor(next() * 6);
        for (let i = 1; i <= count; i++) {
          const ms = start + i * 300_000 + s * 1000;
          const risky = (): boolean => next() < 0.5;
          const kind = next();
          const risks = (): Risks => ({ identity: IDENTITIES[Math.floor(next() * 2)]!, secret: risky(), ingressAll: risky(), checkOff: risky(), egressBypassed: risky(), noTraffic: next() < 0.2 });
          if (kind < 0.45) entries.push(v1Deploy(ms, service, risks()));
          else if (kind < 0.6) entries.push(v2Update(ms, service, risks()));
          else if (kind < 0.85) entries.push(servicePolicy(ms, service, risky()));
          else entries.push(projectPolicy(ms, risky()));
        }
        if (next() < 0.3) entries.push(deleteServiceAt(iso(start + (count + 1) * 300_000 + s * 1000), { ...SLACK_BOT, service }, `delete-${service}`));
      }
      await expectSameRisks(entries, first, next, `seed ${seed} scenario ${scenario}`);
    }
  });

  it.each(Array.from({ length: 30 }, (_, i) => i + 1))('console deploys with their system events, seed %i', async (seed) => {
    const next = seededRandom(seed * 15485863);
    for (let scenario = 0; scenario < 12; scenario++) {
      const first = deploy(0, IDENTITIES[0]!, false, false, 2);
      const entries = Array.from({ length: 2 + Math.floor(next() * 6) }, (_, i) =>
        deploy(i + 1, IDENTITIES[Math.floor(next() * 2)]!, next() < 0.5, next() < 0.5, Math.floor(next() * 3)),
      ).flat();
      await expectSameRisks(entries, first, next, `seed ${seed} scenario ${scenario}`);
    }
  });
});
