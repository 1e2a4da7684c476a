// A v2 deploy waits for its system events, which nothing but time ties to it (a v2 write's operation id is not in
// them). A service-level event is not the deploy's own: its Ready condition is the service's (its route's as well as
// its latest revision's), and it follows every change of the service, traffic and settings edits that make no
// revision included, and it carries the operation id of the service's last change. A traffic-only update made while
// the deploy waits is judged at once; the service event that follows it must not stand for the deploy: not its
// verdict (a deploy whose revision serves reported as "failed: not serving", its risk not held open), not its
// revision or operation (the deploy's own revision event, coming after, must still join it).
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { at, createdAfter, createdAt, renamed, SEQ_V2_EVENT_OPERATION, SEQ_V2_REVISION, synthetic, variant, type Json } from '../support/entries.js';
import { config, findingsLive, findingsOf } from '../support/run.js';

const ATTACKER_IMAGE = 'docker.io/attacker/storefront:latest';
const NEW_REVISION = 'storefront-00002-xyz';

const [create, createdRevision] = synthetic('seq-v2-operation') as unknown as [Json, Json];

/** The v2 update (image from docker.io, another runtime SA, the invoker check off) with an operation of its own. */
const deploy = variant(at(synthetic('v2-UpdateService'), '2024-06-01T11:00:00Z'), (e) => {
  (e.protoPayload['response'] as Json)['name'] = 'projects/acme-prod/locations/europe-west1/operations/op-deploy';
});

/** A traffic-only update 10 s later, pinning the traffic to the first revision (synthetic-v2-UpdateService-traffic-only). */
const traffic = variant(at(synthetic('v2-UpdateService-traffic-only'), '2024-06-01T11:00:10Z'), (e) => {
  (e.protoPayload['response'] as Json)['name'] = 'projects/acme-prod/locations/europe-west1/operations/op-traffic';
});

/**
 * The traffic edit's service event (synthetic-seq-console-deploy's service event, moved to storefront): the deploy's
 * revision is the latest created, the traffic is pinned to the first one, and its route is not ready.
 */
const [, , consoleServiceEvent] = synthetic('seq-console-deploy') as unknown as [Json, Json, Json];
const trafficEvent = variant(
  renamed(at(consoleServiceEvent, '2024-06-01T11:00:12Z'), [
    ['test-project-1234', 'acme-prod'],
    ['asia-northeast1-docker.pkg.dev/acme-prod/cloud-run-source-deploy/cloud-run-slack-bot:latest', ATTACKER_IMAGE],
    ['asia-northeast1', 'europe-west1'],
    ['123456789012', '210987654321'],
    ['cloud-run-slack-bot-00023-kiv', NEW_REVISION],
    ['cloud-run-slack-bot@', 'storefront-debug@'],
    ['cloud-run-slack-bot', 'storefront'],
    ['7a9d252c-a432-4fa8-a1ac-1a6fe9e135c0', 'op-traffic'],
    ['masatonaka1989@gmail.com', 'deployer@acme-ci.iam.gserviceaccount.com'],
  ]),
  (e) => {
    const response = e.protoPayload['response'] as { spec: Json; status: { conditions: Json[]; traffic: Json[] } };
    response.spec['traffic'] = [{ revisionName: SEQ_V2_REVISION, percent: 100 }];
    response.status.traffic = [{ revisionName: SEQ_V2_REVISION, percent: 100 }];
    for (const condition of response.status.conditions) {
      if (condition['type'] === 'Ready' || condition['type'] === 'RoutesReady') Object.assign(condition, { status: 'False', reason: 'RevisionMissing' });
    }
    e.protoPayload['status'] = { message: 'Ready condition status changed to False for Service storefront.' };
  },
);

/** The deploy's own revision event (synthetic-seq-v2-operation's), Ready True: its revision serves; created 140 ms after the write. */
const deployedRevision = renamed(createdAt(at(createdRevision, '2024-06-01T11:00:40Z'), createdAfter('2024-06-01T11:00:00Z')), [
  [SEQ_V2_REVISION, NEW_REVISION],
  [SEQ_V2_EVENT_OPERATION, 'op-00002'],
  ['europe-west1-docker.pkg.dev/acme-prod/web/storefront', 'docker.io/attacker/storefront'],
  ['storefront@acme-prod', 'storefront-debug@acme-prod'],
  ['"serving.knative.dev/configurationGeneration": "1"', '"serving.knative.dev/configurationGeneration": "2"'],
]);

const cfg = config();
const ofDeploy = (findings: readonly Finding[]): Finding[] => findings.filter((f) => f.eventTime === '2024-06-01T11:00:00Z' && f.rule !== 'public-invoker-grant');
// Live: each entry a second after the one before, so every event comes within the deploy's wait.
const live = (entries: Json[]): Promise<Finding[]> => findingsLive(entries, cfg, Date.parse('2030-01-01T00:00:00Z'), 1_000);

describe('a v2 deploy, a traffic-only update while it waits, and the service event that follows the update', () => {
  it('the shapes are what the test says: the event is a service event naming the deploy\'s revision, Ready False', async () => {
    const { parseEntry } = await import('../../functions/audit/normalize.js');
    const parsed = parseEntry(trafficEvent);
    expect(parsed.kind).toBe('observation');
    if (parsed.kind !== 'observation') return;
    expect(parsed.observation).toMatchObject({ level: 'service', revision: NEW_REVISION, ready: false, operationId: 'op-traffic' });
  });

  it.each<[string, (entries: Json[]) => Promise<Finding[]>]>([
    ['replay', (entries) => findingsOf(entries, cfg)],
    ['live', live],
  ])('the deploy is judged with its own revision event, serving (%s)', async (_name, run) => {
    const found = ofDeploy(await run([create, createdRevision, deploy, traffic, trafficEvent, deployedRevision]));
    expect(found.map((f) => f.rule).sort()).toEqual(['new-image-repository', 'service-account-change']);
    for (const finding of found) expect(finding).toMatchObject({ revision: NEW_REVISION, evidence: { rollout: 'serving' } });
  });

  it('guard: the deploy without the traffic update is judged the same', async () => {
    const found = ofDeploy(await findingsOf([create, createdRevision, deploy, deployedRevision], cfg));
    expect(found.map((f) => [f.rule, f.revision, f.evidence['rollout']]).sort()).toEqual([
      ['new-image-repository', NEW_REVISION, 'serving'],
      ['service-account-change', NEW_REVISION, 'serving'],
    ]);
  });
});
