// A worker pool has no traffic: it splits its instances among its revisions (`instanceSplits`, v2 InstanceSplit
// {type, revision, percent}, v1 WorkerPoolSpec.instanceSplits {revisionName, percent, latestRevision}), and
// `gcloud beta run worker-pools update-instance-split --to-revisions=R=100` rolls a pool back to an older revision.
// runwatch reads an instance split as a service's traffic list is read (DeployChange.traffic, takesNoTraffic,
// keepsTraffic), so every rule that follows traffic follows a pool's instances: a rollback to a revision that runs
// as another identity, a deploy whose new revision gets no instances, a masked update that leaves the split alone.
// The fixtures are synthetic (synthetic-workerpool-SOURCES.md): no real worker pool entry has been public.
import { describe, expect, it } from 'vitest';
import { parseEntry } from '../../functions/audit/normalize.js';
import type { Finding } from '../../functions/findings/finding.js';
import { deployOf } from '../support/changes.js';
import { at, synthetic, variant, type Json } from '../support/entries.js';
import { config, findingsLive, findingsOf } from '../support/run.js';

type Obj = Record<string, any>;

const create = synthetic('workerpool-v2-CreateWorkerPool'); // consumer@, v2 create
const gcloudDeploy = synthetic('workerpool-v2-UpdateWorkerPool-gcloud'); // consumer@, full body, allowMissing, no mask
const hijack = synthetic('workerpool-v2-UpdateWorkerPool'); // data-admin@, full body, no mask
const split = synthetic('workerpool-v2-UpdateWorkerPool-instance-split'); // mask instance_splits: all to queue-consumer-00002-tq5

const A = 'consumer@acme-prod.iam.gserviceaccount.com';
const B = 'data-admin@acme-prod.iam.gserviceaccount.com';
const R1 = 'queue-consumer-00001-wbv';
const R2 = 'queue-consumer-00002-tq5';
const R3 = 'queue-consumer-00003-k2d';
const R4 = 'queue-consumer-00004-m8c';

/** `entry` with `edit` applied to its request (the UpdateWorkerPoolRequest or CreateWorkerPoolRequest). */
function editRequest(entry: Json, edit: (request: Obj) => void): Json {
  return variant(entry, (e) => edit(e.protoPayload['request'] as Obj));
}

/**
 * A deploy of the pool at `time` from the fixture `entry`, its revision named `revision` (a client may name it: v2
 * `template.revision`; runwatch knows a pool's revisions by those names only) running as `email`, its instance split
 * `splits` when given, its update mask `mask` when given.
 */
function deploy(entry: Json, time: string, revision: string, email: string, options: { splits?: Obj[]; mask?: unknown } = {}): Json {
  return editRequest(at(entry, time), (request) => {
    const pool = request['workerPool'] as Obj;
    pool['template'].revision = revision;
    pool['template'].serviceAccount = email;
    if (options.splits) pool['instanceSplits'] = options.splits;
    if (options.mask !== undefined) request['updateMask'] = options.mask;
  });
}

/** The fixture's instance split write (mask `instance_splits`) at `time`, with the list `splits`. */
function splitAt(time: string, splits: Obj[]): Json {
  return editRequest(at(split, time), (request) => (request['workerPool'].instanceSplits = splits));
}

const toRevision = (revision: string, percent = 100): Obj => ({ type: 'INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION', revision, percent });
const toLatest = (percent = 100): Obj => ({ type: 'INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST', percent });

describe('normalizing a worker pool write: its instance split is read as traffic', () => {
  const cases: readonly { name: string; entry: Json; expected: Obj }[] = [
    { name: 'the fixture: all instances to an older revision by name (mask instance_splits)', entry: split, expected: { traffic: { latestPercent: 0, named: [{ revision: R2, percent: 100 }] }, takesNoTraffic: true } },
    { name: 'the enum numbers (2: REVISION, 1: LATEST)', entry: splitAt('2025-03-11T10:48:30Z', [{ type: 2, revision: R2, percent: 10 }, { type: 1, percent: 90 }]), expected: { traffic: { latestPercent: 90, named: [{ revision: R2, percent: 10 }] } } },
    { name: 'all to LATEST', entry: splitAt('2025-03-11T10:48:30Z', [toLatest()]), expected: { traffic: { latestPercent: 100, named: [] } } },
    {
      name: 'snake_case instance_splits, the mask as a camelCase string',
      entry: editRequest(split, (request) => {
        request['workerPool'].instance_splits = request['workerPool'].instanceSplits;
        delete request['workerPool'].instanceSplits;
        request['updateMask'] = 'instanceSplits';
      }),
      expected: { traffic: { latestPercent: 0, named: [{ revision: R2, percent: 100 }] }, takesNoTraffic: true },
    },
    {
      name: 'a deploy whose new revision (named) gets no instances',
      entry: deploy(gcloudDeploy, '2025-03-11T10:18:26Z', R3, A, { splits: [toRevision(R2)] }),
      expected: { revision: R3, traffic: { latestPercent: 0, named: [{ revision: R2, percent: 100 }] }, takesNoTraffic: true },
    },
    { name: 'a split naming the revision the write makes gives it the instances', entry: deploy(gcloudDeploy, '2025-03-11T10:18:26Z', R3, A, { splits: [toRevision(R3)] }), expected: { traffic: { latestPercent: 100, named: [] } } },
    { name: 'an update mask that leaves the instance split out keeps it', entry: deploy(gcloudDeploy, '2025-03-11T10:18:26Z', R3, A, { splits: [toLatest()], mask: { paths: ['template'] } }), expected: { keepsTraffic: true } },
  ];
  it.each(cases)('$name', ({ entry, expected }) => {
    const change = deployOf(parseEntry(entry));
    expect(change).toMatchObject({ target: { resourceType: 'worker-pool' }, ...expected });
    for (const key of ['traffic', 'takesNoTraffic', 'keepsTraffic'] as const) if (!(key in expected)) expect(change[key]).toBeUndefined();
  });

  // v1 (`gcloud beta run worker-pools replace`): WorkerPoolSpec.instanceSplits {revisionName, percent, latestRevision}
  // (the v1 REST reference). The reference does not say what a split with neither a name nor latestRevision means:
  // such a list is unread (unknown), not guessed.
  const v1 = [
    { name: 'a revision by name', splits: [{ revisionName: R2, percent: 100 }], expected: { traffic: { latestPercent: 0, named: [{ revision: R2, percent: 100 }] }, takesNoTraffic: true } },
    { name: 'latestRevision', splits: [{ latestRevision: true, percent: 50 }, { revisionName: R2, percent: 50 }], expected: { traffic: { latestPercent: 50, named: [{ revision: R2, percent: 50 }] } } },
    { name: 'neither a name nor latestRevision (unread)', splits: [{ percent: 100 }], expected: {} },
  ];
  it.each(v1)('v1 ReplaceWorkerPool: $name', ({ splits, expected }) => {
    const entry = variant(synthetic('v1-ReplaceService-gcloud'), (e) => {
      e.protoPayload['methodName'] = 'google.cloud.run.v1.WorkerPools.ReplaceWorkerPool';
      e['resource'] = { type: 'cloud_run_worker_pool', labels: { project_id: 'acme-prod', location: 'us-central1', worker_pool_name: 'queue-consumer' } };
      const request = e.protoPayload['request'] as Obj;
      request['workerPool'] = request['service'];
      delete request['service'];
      delete request['workerPool'].spec.traffic;
      request['workerPool'].spec.instanceSplits = splits;
      delete e.protoPayload['response'];
    });
    const change = deployOf(parseEntry(entry));
    expect(change).toMatchObject({ api: 'v1', target: { resourceType: 'worker-pool' }, ...expected });
    for (const key of ['traffic', 'takesNoTraffic'] as const) if (!(key in expected)) expect(change[key]).toBeUndefined();
  });

  it("a service's write carrying an instanceSplits field is not read for it (a service's traffic is its traffic list)", () => {
    const service = editRequest(synthetic('v2-UpdateService-traffic-only'), (request) => {
      request['service'].instanceSplits = [toRevision('storefront-00009-zzz')];
    });
    expect(deployOf(parseEntry(service)).traffic).toEqual({ latestPercent: 0, named: [{ revision: 'storefront-00001-abc', percent: 100 }] });
  });
});

async function saFindings(entries: readonly Json[]): Promise<Finding[]> {
  return (await findingsOf(entries, config())).filter((f) => f.rule === 'service-account-change');
}
/** status, before, after, the revision the instances went to (null: a deploy's finding). */
const summary = (findings: readonly Finding[]) => findings.map((f) => [f.status ?? 'active', f.evidence['before'], f.evidence['after'], f.evidence['servingRevision'] ?? null]);

// R1 ran as A; R2 as B (reported A to B); R3 back to A (resolved). Instances sent back to R2 run the pool as B again,
// with no deploy to show it.
const history = (): Json[] => [deploy(create, '2025-03-11T10:04:31Z', R1, A), deploy(hijack, '2025-03-11T10:18:26Z', R2, B), deploy(gcloudDeploy, '2025-03-11T10:42:07Z', R3, A)];
const REPORTED = [
  ['active', A, B, null],
  ['resolved', A, B, null],
];

describe('service-account-change: a worker pool rolled back to an older revision', () => {
  const cases: readonly { name: string; entries: () => Json[]; expected: unknown[][] }[] = [
    { name: 'fires: all instances to an older revision of another identity (update-instance-split --to-revisions)', entries: () => [...history(), splitAt('2025-03-11T10:48:30Z', [toRevision(R2)])], expected: [...REPORTED, ['active', A, B, R2]] },
    { name: 'fires: a share of the instances (the enum number 2 for REVISION)', entries: () => [...history(), splitAt('2025-03-11T10:48:30Z', [{ type: 1, percent: 75 }, { type: 2, revision: R2, percent: 25 }])], expected: [...REPORTED, ['active', A, B, R2]] },
    {
      name: 'fires: a full write (gcloud echoes the pool back) that sends the instances to the older revision',
      entries: () => [...history(), deploy(gcloudDeploy, '2025-03-11T10:48:30Z', R3, A, { splits: [toRevision(R2)] })],
      expected: [...REPORTED, ['active', A, B, R2]],
    },
    {
      name: 'silent: back to an older revision of the same identity',
      entries: () => [deploy(create, '2025-03-11T10:04:31Z', R1, A), deploy(gcloudDeploy, '2025-03-11T10:18:26Z', R2, A), splitAt('2025-03-11T10:48:30Z', [toRevision(R1)])],
      expected: [],
    },
    {
      name: 'silent: an older revision whose deploy runwatch never saw (its identity unknown)',
      entries: () => [...history(), splitAt('2025-03-11T10:48:30Z', [toRevision('queue-consumer-00000-old')])],
      expected: REPORTED,
    },
    {
      name: 'resolved: the instances sent back to LATEST (update-instance-split --to-latest)',
      entries: () => [...history(), splitAt('2025-03-11T10:48:30Z', [toRevision(R2)]), splitAt('2025-03-11T10:50:00Z', [toLatest()])],
      expected: [...REPORTED, ['active', A, B, R2], ['resolved', A, B, R2]],
    },
    {
      name: 'resolved: a new revision that takes the instances (no mask, no split: all to the latest)',
      entries: () => [...history(), splitAt('2025-03-11T10:48:30Z', [toRevision(R2)]), deploy(gcloudDeploy, '2025-03-11T10:50:00Z', R4, A)],
      expected: [...REPORTED, ['active', A, B, R2], ['resolved', A, B, R2]],
    },
    {
      name: 'open: a new revision whose update mask leaves the instance split out (the instances stay on the older revision)',
      entries: () => [...history(), splitAt('2025-03-11T10:48:30Z', [toRevision(R2)]), deploy(gcloudDeploy, '2025-03-11T10:50:00Z', R4, A, { splits: [toLatest()], mask: { paths: ['template'] } })],
      expected: [...REPORTED, ['active', A, B, R2]],
    },
    {
      name: 'open: a deploy that gives its new revision no instances leaves the one reported running them',
      entries: () => [deploy(create, '2025-03-11T10:04:31Z', R1, A), deploy(hijack, '2025-03-11T10:18:26Z', R2, B), deploy(gcloudDeploy, '2025-03-11T10:42:07Z', R3, A, { splits: [toRevision(R2)] })],
      expected: [['active', A, B, null]],
    },
    {
      name: 'resolved: then LATEST gives that revision the instances',
      entries: () => [deploy(create, '2025-03-11T10:04:31Z', R1, A), deploy(hijack, '2025-03-11T10:18:26Z', R2, B), deploy(gcloudDeploy, '2025-03-11T10:42:07Z', R3, A, { splits: [toRevision(R2)] }), splitAt('2025-03-11T10:50:00Z', [toLatest()])],
      expected: REPORTED,
    },
  ];
  it.each(cases)('$name', async ({ entries, expected }) => {
    expect(summary(await saFindings(entries()))).toEqual(expected);
  });

  it('says instances, names the worker pool and the revision, in replay and live alike', async () => {
    for (const run of [findingsOf, findingsLive]) {
      const findings = (await run([...history(), splitAt('2025-03-11T10:48:30Z', [toRevision(R2)])], config())).filter((f) => f.rule === 'service-account-change');
      const rollback = findings.find((f) => f.evidence['servingRevision'] === R2);
      expect(rollback).toMatchObject({
        severity: 'MEDIUM',
        title: 'Instances moved to a revision that runs as another service account',
        resourceType: 'worker-pool',
        revision: R2,
        principal: 'dev-lead@acme.example',
        evidence: { before: A, after: B, trafficPercent: 100 },
      });
      expect(rollback!.summary).toBe(
        `dev-lead@acme.example sent 100% of the instances of worker pool acme-prod/queue-consumer (us-central1) to its older revision ${R2}, which runs as ${B}; its newest revision runs as ${A}.`,
      );
    }
  });
});

describe('revision rules: a worker pool revision that gets no instances is not what runs', () => {
  // code-loading-env: R2 loads code through NODE_OPTIONS (reported); R3 drops it, but a split pins every instance to R2.
  const loadsCode = (entry: Json): Json => editRequest(entry, (request) => request['workerPool'].template.containers[0].env.push({ name: 'NODE_OPTIONS', value: '--require /tmp/hook.js' }));
  const codeCases: readonly { name: string; last: Json; expected: string[] }[] = [
    { name: 'a new revision without it that runs the instances closes it', last: deploy(gcloudDeploy, '2025-03-11T10:42:07Z', R3, A), expected: ['active', 'resolved'] },
    { name: 'a new revision without it given no instances leaves it open', last: deploy(gcloudDeploy, '2025-03-11T10:42:07Z', R3, A, { splits: [toRevision(R2)] }), expected: ['active'] },
  ];
  it.each(codeCases)('code-loading-env: $name', async ({ last, expected }) => {
    const entries = [deploy(create, '2025-03-11T10:04:31Z', R1, A), loadsCode(deploy(gcloudDeploy, '2025-03-11T10:18:26Z', R2, A)), last];
    const findings = (await findingsOf(entries, config())).filter((f) => f.rule === 'code-loading-env');
    expect(findings.map((f) => f.status ?? 'active')).toEqual(expected);
    expect(findings[0]).toMatchObject({ resourceType: 'worker-pool', evidence: { variables: ['NODE_OPTIONS'] } });
  });

  // vpc-egress-bypass: R2 sends its traffic past the VPC (reported); R3 sends all of it through the VPC again, but a
  // split pins every instance to R2: R2 still runs, and the finding stays open until a revision that runs takes over.
  const privateRanges = (entry: Json): Json => editRequest(entry, (request) => (request['workerPool'].template.vpcAccess.egress = 'PRIVATE_RANGES_ONLY'));
  const cases: readonly { name: string; last: Json[]; expected: string }[] = [
    { name: 'a new revision that runs the instances closes it', last: [deploy(gcloudDeploy, '2025-03-11T10:42:07Z', R3, A)], expected: 'resolved' },
    { name: 'a new revision given no instances leaves it open', last: [deploy(gcloudDeploy, '2025-03-11T10:42:07Z', R3, A, { splits: [toRevision(R2)] })], expected: 'active' },
  ];
  it.each(cases)('vpc-egress-bypass: $name', async ({ last, expected }) => {
    const entries = [deploy(create, '2025-03-11T10:04:31Z', R1, A), privateRanges(deploy(gcloudDeploy, '2025-03-11T10:18:26Z', R2, A)), ...last];
    const findings = (await findingsOf(entries, config())).filter((f) => f.rule === 'vpc-egress-bypass');
    expect(findings.map((f) => f.status ?? 'active')).toEqual(expected === 'resolved' ? ['active', 'resolved'] : ['active']);
    expect(findings[0]).toMatchObject({ resourceType: 'worker-pool', evidence: { before: 'all-traffic', after: 'private-ranges-only' } });
  });

  // The same for all-traffic egress moved to another subnetwork: R3 back on R1's subnetwork ends it only where it runs.
  const movedSubnet = (entry: Json): Json => editRequest(entry, (request) => (request['workerPool'].template.vpcAccess.networkInterfaces = [{ network: 'acme-vpc', subnetwork: 'acme-open-us-central1' }]));
  it.each(cases)('vpc-egress-bypass, egress moved: $name', async ({ last, expected }) => {
    const entries = [deploy(create, '2025-03-11T10:04:31Z', R1, A), movedSubnet(deploy(gcloudDeploy, '2025-03-11T10:18:26Z', R2, A)), ...last];
    const findings = (await findingsOf(entries, config())).filter((f) => f.rule === 'vpc-egress-bypass');
    expect(findings.map((f) => f.status ?? 'active')).toEqual(expected === 'resolved' ? ['active', 'resolved'] : ['active']);
    expect(findings[0]).toMatchObject({ resourceType: 'worker-pool', evidence: { egress: 'all-traffic', after: 'Direct VPC subnetwork projects/acme-prod/regions/us-central1/subnetworks/acme-open-us-central1' } });
  });
});

// Only a change that creates a revision is a deploy (DESIGN: a traffic-only change is none): an instance split alone,
// masked or echoed whole with the template in force (as gcloud sends it), makes no revision of the pool.
describe('an instance split alone is no deploy', () => {
  const cases: readonly { name: string; write: Json }[] = [
    { name: 'masked to instance_splits', write: splitAt('2025-03-11T20:00:00Z', [toRevision(R1)]) },
    { name: 'the whole pool echoed back, its template as in force', write: deploy(gcloudDeploy, '2025-03-11T20:00:00Z', R2, A, { splits: [toRevision(R1)] }) },
  ];
  it.each(cases)('$name: no off-window-deploy, no unapproved-deployer', async ({ write }) => {
    const cfg = config({ timezone: 'UTC', changeWindows: [{ days: ['tue'], start: '10:00', end: '11:00' }], rules: { 'unapproved-deployer': { allowedDeployers: ['serviceAccount:*'] } } });
    const history = [deploy(create, '2025-03-11T10:04:31Z', R1, A), deploy(gcloudDeploy, '2025-03-11T10:18:26Z', R2, A)];
    const before = await findingsOf(history, cfg);
    const after = await findingsOf([...history, write], cfg);
    expect(after.map((f) => f.id)).toEqual(before.map((f) => f.id));
  });
});
