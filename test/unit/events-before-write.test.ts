// A deploy's system events delivered before its admin write (Cloud Logging and Pub/Sub deliver without order; a write
// nacked into a backlog comes minutes later), so long before it that the events' wait runs out and they are judged
// alone: the revision is reported from its events, under its name (detectors/revision.ts deployKey). The write that
// then comes is that deploy (its operation id is the revision event's; a v2 write's is tied to its events by time and
// principal): it is not reported again, nor under another id. gcloud writes no revision name and writes twice
// (synthetic-seq-gcloud-double-write), so its writes were keyed by their time: two alerts for one deploy. Its second
// write's operation id is in the service event only (the service's last change), which names the revision the events
// reported: delivered before the first write, that write is no other deploy either. A write that
// really is another deploy (another revision) is still reported. Each case runs through the live path (an hour
// between entries: each wait runs out before the next arrives) and through replay of one file as written
// (reorderCapacity 0, a memory and a file store), where an entry of another service an hour later moves the
// project's clock past the events' wait before the write is read.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { at, creatorIs, renamed, SEQ_V2_EVENT_OPERATION, SEQ_V2_REVISION, synthetic, v1EnvDeploy, v2EnvUpdate, variant, withOperationId, withV1ServiceAccount, type Json } from '../support/entries.js';
import { config, DEPLOY_RULES, findingsLive, findingsOf } from '../support/run.js';
import { replayedAsWritten } from '../support/replayAsWritten.js';
import { EARLIER, SA0, SA1, tag } from '../support/sameMillisecond.js';

/** Every deploy of the cases is outside the change window: off-window-deploy is reported for each. */
const cfg = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }] });

// gcloud run deploy --allow-unauthenticated: two ReplaceService writes (the revision event carries the first's
// operation id, the service event the second's), two invoker re-applies, the revision's and the service's events.
const [write1, iam1, write2, iam2, revisionEvent, serviceEvent] = synthetic('seq-gcloud-double-write') as unknown as [Json, Json, Json, Json, Json, Json];
/** The deploy before: running as zero@, its image in gcr.io/acme; the double write changes both. */
const before = at(withV1ServiceAccount(v1EnvDeploy(EARLIER, [], `gcr.io/acme/app:${tag(EARLIER)}`), SA0), EARLIER, 'before');
/** Another deploy, by gcloud, 10 minutes after the double write: another template, identity and repository. */
const ANOTHER = '2024-05-07T09:20:00.000000Z';
const another = at(withOperationId(withV1ServiceAccount(v1EnvDeploy(ANOTHER, [], 'europe-docker.pkg.dev/acme/other/app:2'), SA1), 'op-another'), ANOTHER, 'another');

// A v2 update (Terraform, deployer@; no revision name) after the v2 create: a new identity and an image from Docker Hub;
// its revision's events (another operation id than the write's, as v2 events carry) 21 s after it.
const [create, createdRevision] = synthetic('seq-v2-operation') as unknown as [Json, Json];
const v2Write = v2EnvUpdate('2024-06-01T11:00:00Z', []);
const v2Events = variant(
  renamed(at(createdRevision, '2024-06-01T11:00:21Z', 'v2-update-revision'), [[SEQ_V2_REVISION, 'storefront-00002-aaa'], [SEQ_V2_EVENT_OPERATION, 'op-v2-update'], creatorIs('deployer@acme-ci.iam.gserviceaccount.com')]),
  (e) => {
    const response = e.protoPayload['response'] as Record<string, Record<string, unknown>>;
    response['spec']!['serviceAccountName'] = 'storefront-debug@acme-prod.iam.gserviceaccount.com';
    (response['spec']!['containers'] as Record<string, unknown>[])[0]!['image'] = 'docker.io/attacker/storefront:latest';
    delete response['status']!['imageDigest'];
    delete response['status']!['containerStatuses'];
  },
);

/** An entry of another service of the entries' project an hour after them: replay's clock moves past every wait. */
function tickAfter(time: string, project: string, service: string): Json {
  const tick = at(withV1ServiceAccount(v1EnvDeploy(time, [], `gcr.io/acme/tick:${tag(time)}`), SA0), time, `tick-${time}`);
  return renamed(tick, [
    ['test-project-1234', project],
    ['cloud-run-slack-bot', service],
  ]);
}
const V1_TICK = tickAfter('2024-05-07T10:10:00Z', 'test-project-1234', 'cloud-run-other-service');
const V1_TICK_LATER = tickAfter('2024-05-07T11:10:00Z', 'test-project-1234', 'cloud-run-other-service');
const V2_TICK = tickAfter('2024-06-01T12:00:00Z', 'acme-prod', 'other-service');

interface Case {
  readonly label: string;
  /** The entries in event-time order: what the deploys' findings are compared with. */
  readonly inOrder: readonly Json[];
  /** As delivered: the events (or some) before the write. */
  readonly delivered: readonly Json[];
  /** Where replay's clock is moved on: a tick (V1_TICK, V2_TICK) before each of these entries is read, in turn. */
  readonly ticksBefore: readonly (readonly [Json, Json])[];
}

const CASES: readonly Case[] = [
  {
    label: 'v1 double write: revision event, service event, then both writes',
    inOrder: [before, write1, iam1, write2, iam2, revisionEvent, serviceEvent],
    delivered: [before, revisionEvent, serviceEvent, write1, iam1, write2, iam2],
    ticksBefore: [[V1_TICK, write1]],
  },
  {
    label: 'v1 double write: revision event, then both writes, the service event last',
    inOrder: [before, write1, iam1, write2, iam2, revisionEvent, serviceEvent],
    delivered: [before, revisionEvent, write1, iam1, write2, iam2, serviceEvent],
    ticksBefore: [[V1_TICK, write1]],
  },
  {
    label: 'v1 double write: service event, revision event, then both writes',
    inOrder: [before, write1, iam1, write2, iam2, revisionEvent, serviceEvent],
    delivered: [before, serviceEvent, revisionEvent, write1, iam1, write2, iam2],
    ticksBefore: [[V1_TICK, write1]],
  },
  {
    // The service event carries the second write's operation id and names the revision the events reported: that
    // write made no other revision.
    label: 'v1 double write: revision event, service event, then the second write before the first',
    inOrder: [before, write1, iam1, write2, iam2, revisionEvent, serviceEvent],
    delivered: [before, revisionEvent, serviceEvent, iam1, write2, iam2, write1],
    ticksBefore: [
      [V1_TICK, iam1],
      [V1_TICK_LATER, write1],
    ],
  },
  {
    label: 'v1 double write, events first, then another deploy 10 minutes later (reported)',
    inOrder: [before, write1, iam1, write2, iam2, revisionEvent, serviceEvent, another],
    delivered: [before, revisionEvent, serviceEvent, write1, iam1, write2, iam2, another],
    ticksBefore: [[V1_TICK, write1]],
  },
  {
    label: 'v2 update without a revision name: its revision event, then the write',
    inOrder: [create, createdRevision, v2Write, v2Events],
    delivered: [create, createdRevision, v2Events, v2Write],
    ticksBefore: [[V2_TICK, v2Write]],
  },
];

/**
 * The findings, one line per distinct id: `rule id`, sorted (the service settings the writes apply, the invoker check a
 * v2 write turns off, are judged as ever). Each is reported active once: another entry of a deploy reported already
 * raises nothing again, not even under the same id.
 */
function findingIds(found: readonly Finding[]): string[] {
  const active = found.filter((f) => f.status !== 'resolved');
  const twice = active.filter((f, i) => active.findIndex((g) => g.id === f.id) !== i).map((f) => `${f.rule} ${f.id} again at ${f.eventTime}`);
  expect(twice).toEqual([]);
  return active.map((f) => `${f.rule} ${f.id}`).sort();
}

/** What the cases compare with: the entries in event-time order, each deploy reported once per rule. */
async function reference(c: Case): Promise<string[]> {
  const ids = findingIds(await findingsOf(c.inOrder, cfg));
  const rules = ids.map((line) => line.split(' ')[0]!);
  // The cases' deploys each raise something: the comparison is not between two empty lists.
  expect(rules).toEqual(expect.arrayContaining(['off-window-deploy', 'service-account-change', 'new-image-repository']));
  return ids;
}

describe('events judged alone before their write came: the write is that deploy, not another', () => {
  for (const c of CASES) {
    it(`live: ${c.label}: each finding once, under the id it has in event-time order`, async () => {
      expect(findingIds(await findingsLive(c.delivered, cfg))).toEqual(await reference(c));
    });
  }

  it('live: the other deploy after the double write is reported, under ids of its own', async () => {
    const found = await findingsLive(CASES.find((c) => c.label.includes('another deploy'))!.delivered, cfg);
    const ownIds = found.filter((f) => DEPLOY_RULES.has(f.rule) && f.eventTime === '2024-05-07T09:20:00Z').map((f) => f.rule);
    expect(ownIds.sort()).toEqual(['new-image-repository', 'off-window-deploy', 'service-account-change']);
  });

  async function replayed(c: Case, mode: 'memory' | 'file'): Promise<Finding[]> {
    const entries = [...c.delivered];
    for (const [tick, next] of c.ticksBefore) entries.splice(entries.indexOf(next), 0, tick);
    return replayedAsWritten(entries, cfg, mode);
  }

  for (const mode of ['memory', 'file'] as const) {
    for (const c of CASES) {
      it(`replay (${mode}, reorderCapacity 0): ${c.label}: each finding once, under the id it has in event-time order`, async () => {
        const found = (await replayed(c, mode)).filter((f) => !f.service.includes('other-service'));
        expect(findingIds(found)).toEqual(await reference(c));
      });
    }
  }
});
