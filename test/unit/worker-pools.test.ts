// Cloud Run worker pools: a worker pool's create and update (v2; gcloud deploys through UpdateWorkerPool with
// allowMissing) are deploys of its revision template, read as a service's are (containers, runtime service account,
// VPC access, labels; an update mask says what a write sets) and judged at once by the template rules, in a baseline
// of its own. A worker pool takes no requests: no ingress, invoker or IAM rule applies. No real entry has been
// public: the fixtures are synthetic, built from the Admin API definitions (synthetic-workerpool-SOURCES.md).
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import findingSchema from '../../schemas/finding.schema.json' with { type: 'json' };
import { parseEntry } from '../../functions/audit/normalize.js';
import { deployOf } from '../support/changes.js';
import { storeKeyOf } from '../../functions/engine.js';
import type { Finding } from '../../functions/findings/finding.js';
import { sinkFilter } from '../../functions/detectors/sinkFilter.js';
import { at, synthetic, variant, type Json } from '../support/entries.js';
import { config, findingsLive, findingsOf } from '../support/run.js';

const create = synthetic('workerpool-v2-CreateWorkerPool'); // 10:04, consumer@, us-docker.pkg.dev/acme-prod/workers
const gcloudDeploy = synthetic('workerpool-v2-UpdateWorkerPool-gcloud'); // 10:18, a new tag from the same repository
const labelsOnly = synthetic('workerpool-v2-UpdateWorkerPool-masked'); // 10:31, mask `labels`
const hijack = synthetic('workerpool-v2-UpdateWorkerPool'); // 10:42, data-admin@, ghcr.io/attacker
const remove = synthetic('workerpool-v2-DeleteWorkerPool'); // 10:55

const POOL = { project: 'acme-prod', location: 'us-central1', service: 'queue-consumer', resourceType: 'worker-pool' } as const;
const CONSUMER = 'consumer@acme-prod.iam.gserviceaccount.com';
const DATA_ADMIN = 'data-admin@acme-prod.iam.gserviceaccount.com';

/** The entry with `edit` applied to its request's WorkerPool. */
/**
 * A v1 Knative-style worker pool write (`gcloud beta run worker-pools replace`), made from the v1 service fixture and
 * logged without a response, its WorkerPool edited by `edit`.
 */
function v1WorkerPoolWrite(edit: (pool: Record<string, any>) => void): Json {
  return variant(synthetic('v1-ReplaceService-gcloud'), (e) => {
    e.protoPayload['methodName'] = 'google.cloud.run.v1.WorkerPools.ReplaceWorkerPool';
    e['resource'] = { type: 'cloud_run_worker_pool', labels: { project_id: 'acme-prod', location: 'us-central1', worker_pool_name: 'queue-consumer' } };
    const request = e.protoPayload['request'] as Record<string, any>;
    request['workerPool'] = request['service'];
    delete request['service'];
    delete e.protoPayload['response'];
    edit(request['workerPool']);
  });
}

function editPool(entry: Json, edit: (pool: Record<string, any>) => void): Json {
  return variant(entry, (e) => edit((e.protoPayload['request'] as { workerPool: Record<string, any> }).workerPool));
}

describe('normalizing worker pool entries', () => {
  const deploys = [
    { name: 'CreateWorkerPool', entry: create, operation: 'create', serviceAccount: CONSUMER, repository: 'us-docker.pkg.dev/acme-prod/workers' },
    { name: 'UpdateWorkerPool from gcloud (allowMissing, no mask)', entry: gcloudDeploy, operation: 'update', serviceAccount: CONSUMER, repository: 'us-docker.pkg.dev/acme-prod/workers' },
    { name: 'UpdateWorkerPool (no mask)', entry: hijack, operation: 'update', serviceAccount: DATA_ADMIN, repository: 'ghcr.io/attacker' },
  ] as const;
  it.each(deploys)('$name is a deploy of the worker pool', ({ entry, operation, serviceAccount, repository }) => {
    const change = deployOf(parseEntry(entry));
    expect(change).toMatchObject({ api: 'v2', operation, target: POOL });
    expect(change.serviceAccount).toEqual({ kind: 'explicit', email: serviceAccount });
    expect(change.images.map((i) => (i.unparseable ? i.reference : i.repository))).toEqual([repository]);
    expect(change.vpcEgress).toBe('all-traffic');
    expect(change.templateFingerprint).toMatch(/^v2:/);
    // Nothing of a service's request path: a worker pool takes no requests.
    expect(change.ingress).toBeUndefined();
    expect(change.ingressIfCreated).toBeUndefined();
    expect(change.invokerIamDisabled).toBeUndefined();
  });

  it('an update mask naming only the labels sets no template', () => {
    const change = deployOf(parseEntry(labelsOnly));
    expect(change.templateFingerprint).toBeUndefined();
    expect(change.serviceAccount).toBeUndefined();
    expect(change.images).toEqual([]);
  });

  it('a delete is a delete of the worker pool; a worker pool and a service of one name have their own baselines', () => {
    expect(parseEntry(remove)).toMatchObject({ kind: 'change', change: { kind: 'delete', target: POOL } });
    expect(storeKeyOf(deployOf(parseEntry(create)))).toBe('acme-prod/us-central1/worker-pool:queue-consumer');
  });

  it('reads v1 names and snake_case bodies', () => {
    const v1Path = variant(create, (e) => {
      delete e['resource'];
      e.protoPayload['resourceName'] = 'namespaces/acme-prod/workerpools/queue-consumer';
    });
    expect(deployOf(parseEntry(v1Path)).target).toMatchObject({ project: 'acme-prod', service: 'queue-consumer', resourceType: 'worker-pool' });
    const snake = variant(create, (e) => {
      const request = e.protoPayload['request'] as Record<string, any>;
      request['worker_pool'] = request['workerPool'];
      delete request['workerPool'];
      request['worker_pool'].template.service_account = request['worker_pool'].template.serviceAccount;
      delete request['worker_pool'].template.serviceAccount;
    });
    expect(deployOf(parseEntry(snake)).serviceAccount).toEqual({ kind: 'explicit', email: CONSUMER });
  });

  it('reads a v1 write\'s base images (run.googleapis.com/base-images), as a service\'s', () => {
    const base = 'ghcr.io/attacker/runtime:nodejs22';
    const v1 = v1WorkerPoolWrite((pool) => {
      const template = pool['spec'].template;
      template.metadata.annotations['run.googleapis.com/base-images'] = JSON.stringify({ [template.spec.containers[0].name ?? '']: base });
      template.spec.runtimeClassName = 'run.googleapis.com/linux-base-image-update';
    });
    expect(deployOf(parseEntry(v1)).sources).toEqual([{ kind: 'base-image', image: expect.objectContaining({ reference: base, repository: 'ghcr.io/attacker' }) }]);
  });

  it('a v1 write logged without its containers leaves the template and the default identity unknown (no event will say)', () => {
    // A v1 Knative-style body, as `gcloud beta run worker-pools replace` sends, logged without its containers.
    const v1 = v1WorkerPoolWrite((pool) => delete pool['spec'].template.spec.containers);
    const named = deployOf(parseEntry(v1));
    expect(named).toMatchObject({ api: 'v1', operation: 'replace', target: POOL, templateUnknown: true, images: [] });
    expect(named.templateFingerprint).toBeUndefined();
    expect(named.serviceAccount?.kind).toBe('explicit'); // it names one
    const unnamed = deployOf(parseEntry(variant(v1, (e) => delete (e.protoPayload['request'] as Record<string, any>)['workerPool'].spec.template.spec.serviceAccountName)));
    expect(unnamed.serviceAccount).toBeUndefined();
  });

  // The deployer writes `client.knative.dev/user-image` (real v1 entries logged without containers carry it): an image
  // it names is no sign that the containers were logged, and no event will say what runs or who it runs as.
  const annotated = [
    { name: 'on the template', where: (pool: Record<string, any>) => pool['spec'].template.metadata },
    { name: 'on the worker pool', where: (pool: Record<string, any>) => pool['metadata'] },
  ];
  it.each(annotated)('a v1 write logged without its containers, its image annotated $name, leaves the template and the default identity unknown', ({ where }) => {
    const v1 = v1WorkerPoolWrite((pool) => {
      delete pool['spec'].template.spec.containers;
      delete pool['spec'].template.spec.serviceAccountName;
      const meta = where(pool);
      meta.annotations = { ...meta.annotations, 'client.knative.dev/user-image': 'us-docker.pkg.dev/acme-prod/workers/consumer:4f5a6b7' };
    });
    const change = deployOf(parseEntry(v1));
    expect(change).toMatchObject({ api: 'v1', target: POOL, templateUnknown: true });
    expect(change.templateFingerprint).toBeUndefined();
    expect(change.serviceAccount).toBeUndefined();
  });

  // Read for external-member-grant (a role granted outside the organization).
  it('a SetIamPolicy is an IAM change of the worker pool, with its policy', () => {
    const result = parseEntry(synthetic('workerpool-v2-SetIamPolicy'));
    expect(result).toMatchObject({ kind: 'change', change: { kind: 'iam-policy', scope: 'service', target: POOL, policy: [{ role: 'roles/run.developer', member: 'user:contractor@gmail.com' }, { role: 'roles/run.invoker', member: 'group:data-team@acme.com' }] } });
  });

  const skips: readonly { name: string; entry: Json; reason: string }[] = [
    { name: 'a failed SetIamPolicy', entry: variant(synthetic('workerpool-v2-SetIamPolicy'), (e) => (e.protoPayload['status'] = { code: 9, message: 'precondition' })), reason: 'failed-call' },
    {
      name: "a worker pool's system event",
      entry: variant(create, (e) => {
        e['logName'] = 'projects/acme-prod/logs/cloudaudit.googleapis.com%2Fsystem_event';
        e.protoPayload['methodName'] = '/WorkerPools.UpdateWorkerPool';
        delete e.protoPayload['authenticationInfo'];
      }),
      reason: 'cloud-run-worker-pool',
    },
    { name: 'a GetWorkerPool', entry: variant(remove, (e) => (e.protoPayload['methodName'] = 'google.cloud.run.v2.WorkerPools.GetWorkerPool')), reason: 'read-only' },
    { name: 'a validateOnly update', entry: variant(hijack, (e) => ((e.protoPayload['request'] as Json)['validateOnly'] = true)), reason: 'dry-run' },
    { name: 'a failed update', entry: variant(hijack, (e) => (e.protoPayload['status'] = { code: 9, message: 'precondition' })), reason: 'failed-call' },
    { name: 'the completion entry of an update', entry: variant(hijack, (e) => (e['operation'] = { id: 'op', producer: 'run.googleapis.com', last: true })), reason: 'cloud-run-worker-pool' },
  ];
  it.each(skips)('$name is no change ($reason)', ({ entry, reason }) => {
    expect(parseEntry(entry)).toMatchObject({ kind: 'skipped', reason });
  });

  // v1 too: a write the sink does not ask for never reaches runwatch, and `gcloud beta run worker-pools replace` writes
  // through v1 (names by analogy with v1 Services and Jobs: a name no entry carries costs nothing).
  const filtered = [
    ...['CreateWorkerPool', 'UpdateWorkerPool', 'DeleteWorkerPool'].map((verb) => `google.cloud.run.v2.WorkerPools.${verb}`),
    ...['CreateWorkerPool', 'ReplaceWorkerPool', 'DeleteWorkerPool'].map((verb) => `google.cloud.run.v1.WorkerPools.${verb}`),
  ];
  it.each(filtered)('the log sink filter asks for %s', (method) => {
    expect(sinkFilter()).toContain(`"${method}"`);
  });
});

const validFinding = new Ajv({ allErrors: true, strict: false }).compile(findingSchema);

function summary(findings: readonly Finding[]): string[] {
  return findings.map((f) => `${f.eventTime.slice(11, 19)} ${f.rule}${f.status === 'resolved' ? ` (resolved at ${f.resolution!.time.slice(11, 19)})` : ''}`).sort();
}

describe('judging worker pool deploys', () => {
  it('a hijacked worker pool is reported at once, as a worker pool, and a labels-only update is no deploy', async () => {
    const cfg = config({ timezone: 'UTC', changeWindows: [{ days: ['tue'], start: '10:00', end: '10:35' }] });
    for (const run of [findingsOf, findingsLive]) {
      const findings = await run([create, gcloudDeploy, labelsOnly, hijack, remove], cfg);
      // 10:42 is after the window closed; the labels-only write at 10:31 was inside it, and is no deploy anyway.
      expect(summary(findings)).toEqual(['10:42:07 new-image-repository', '10:42:07 off-window-deploy', '10:42:07 service-account-change']);
      for (const finding of findings) {
        expect(validFinding(finding), JSON.stringify(validFinding.errors)).toBe(true);
        expect(finding).toMatchObject({
          service: 'queue-consumer',
          resourceType: 'worker-pool',
          resourceName: '//run.googleapis.com/projects/acme-prod/locations/us-central1/workerPools/queue-consumer',
          links: { console: 'https://console.cloud.google.com/run/worker-pools?project=acme-prod' },
        });
        expect(finding.summary).toContain('worker pool acme-prod/queue-consumer (us-central1)');
        expect(finding.evidence['rollout']).toBeUndefined();
      }
      expect(findings.find((f) => f.rule === 'service-account-change')?.evidence).toMatchObject({ before: CONSUMER, after: DATA_ADMIN });
      expect(findings.find((f) => f.rule === 'new-image-repository')?.title).toBe('Image from a repository this worker pool never used');
    }
  });

  it('a finding names the revision the client named, but is keyed by time (a name is free again after a delete)', async () => {
    const named = editPool(hijack, (pool) => (pool['template'].revision = 'queue-consumer-evil'));
    const [finding] = (await findingsOf([create, named])).filter((f) => f.rule === 'service-account-change');
    expect(finding).toMatchObject({ revision: 'queue-consumer-evil' });
    expect(finding!.unknown).not.toContain('revision');
    const unnamed = (await findingsOf([create, hijack])).find((f) => f.rule === 'service-account-change');
    expect(unnamed!.unknown).toContain('revision');
    expect(unnamed!.id).toBe(finding!.id); // the same deploy, named or not: keyed by its time
  });

  it('a labels-only update outside the window raises nothing', async () => {
    const cfg = config({ timezone: 'UTC', changeWindows: [{ days: ['tue'], start: '10:00', end: '10:10' }] });
    const findings = await findingsOf([create, at(labelsOnly, '2025-03-11T10:31:45Z')], cfg);
    expect(findings).toEqual([]);
  });

  it('a worker pool created again as the default compute SA is reported against the deleted one', async () => {
    const recreate = editPool(at(create, '2025-03-11T11:00:00Z'), (pool) => delete pool['template'].serviceAccount);
    const findings = (await findingsOf([create, remove, recreate])).filter((f) => f.rule === 'service-account-change');
    expect(findings.map((f) => f.title)).toEqual(['Worker pool now runs as the default compute service account']);
    expect(findings[0]!.summary).toContain('before the worker pool was deleted');
  });
});
