// One principal's two v2 deploys of one service, 30 s apart, each its own image (a repository of its own) and runtime
// service account. Nothing but time and principal ties a v2 write to its revision's events (its operation id is not in
// them), and the creator is the same for both; the revision's creation time is what tells them apart
// (`metadata.creationTimestamp`, 131-143 ms after the write that made it in real entries; here 140 ms). A revision
// created 140 ms after the second write is that write's, not the first's (the oldest waiting), and one created 140 ms
// after the first is the first's (created before the second: createdOutsideWrite). Each deploy must be reported with
// its own revision, image and service account, and without `evidence.revisionMayBeOf`: the entries do tell.
// Delivered late (after the first write's wait ran out, within the second's) or on time, either revision's events
// first, or the second revision's events before the second write (only the first waits when they come: created 30 s
// after it, they are not its revision); through the live path (each entry judged as it arrives, a sweep before it) and through replay as written (one
// thread, no reorder buffer, a memory and a file store). Guards: two writes within one second, which the two clocks
// cannot tell apart, keep `revisionMayBeOf`; so do revision events without a creation time (late-half-principal).
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { Finding } from '../../functions/findings/finding.js';
import { at, renamed, synthetic, type Json } from '../support/entries.js';
import { config, findingsArriving } from '../support/run.js';
import { replayedAsWritten } from '../support/replayAsWritten.js';
import { revisionEventOf, shownFor, v2WriteOf } from '../support/v2Deploys.js';

const cfg = config({
  changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }],
  rules: { 'unapproved-deployer': { allowedDeployers: ['nobody@acme.com'] } },
});
const [create, createdRevision] = synthetic('seq-v2-operation') as unknown as [Json, Json];

const CI = 'deployer@acme-ci.iam.gserviceaccount.com';

/** A deploy: its write's time, what its revision runs, and the revision's name. */
interface Deploy {
  readonly time: string;
  readonly image: string;
  readonly digest: string;
  readonly serviceAccount: string;
  readonly revision: string;
}

function deploysAt(first: string, second: string): readonly [Deploy, Deploy] {
  return [
    {
      time: first,
      image: 'docker.io/acme/storefront:hotfix',
      digest: `docker.io/acme/storefront@sha256:${'c'.repeat(64)}`,
      serviceAccount: 'storefront-debug@acme-prod.iam.gserviceaccount.com',
      revision: 'storefront-00002-one',
    },
    {
      time: second,
      image: 'ghcr.io/acme-ci/storefront:v3',
      digest: `ghcr.io/acme-ci/storefront@sha256:${'f'.repeat(64)}`,
      serviceAccount: 'storefront-ci@acme-prod.iam.gserviceaccount.com',
      revision: 'storefront-00003-two',
    },
  ];
}

/** A v2 UpdateService (synthetic-v2-UpdateService) by CI at the deploy's time, deploying its image and identity. */
function v2Write(d: Deploy): Json {
  return v2WriteOf({ ...d, principal: CI }, `w-${d.revision}`);
}

/** The revision system event (synthetic-seq-v2-operation's) of `d`'s revision at `time`, created 140 ms after its write. */
function revisionEvent(d: Deploy, time: string): Json {
  return revisionEventOf({ ...d, principal: CI }, time, `ev-${d.revision}`);
}

/**
 * Another service's deploy in the project, after the first write's wait and within the second's: in replay, whose
 * "now" is the time of the entry read, it completes the first write without its events.
 */
const OTHER_SERVICE = at(renamed(create, [['services/storefront', 'services/checkout'], ['"storefront"', '"checkout"']]), '2024-06-03T11:10:10Z', 'other-service');

type Delivery =
  | 'late, first events first'
  | 'late, second events first'
  | 'on time, first events first'
  | 'on time, second events first'
  | 'on time, second events before the second write';

/** The revisions' events happen after both writes (each within its write's wait): at E1 and E2. */
const E1 = '2024-06-03T11:00:50Z';
const E2 = '2024-06-03T11:01:00Z';

/** The entries in delivery order, with when each arrives in the live path. */
function entriesOf([first, second]: readonly [Deploy, Deploy], delivery: Delivery): readonly [Json, string][] {
  const plus = (time: string, ms: number): string => new Date(Date.parse(time) + ms).toISOString();
  const w1: [Json, string] = [v2Write(first), plus(first.time, 1_000)];
  const w2: [Json, string] = [v2Write(second), plus(second.time, 1_000)];
  const e1 = revisionEvent(first, E1);
  const e2 = revisionEvent(second, E2);
  const before: [Json, string][] = [
    [create, '2024-06-01T10:00:01Z'],
    [createdRevision, '2024-06-01T10:00:22Z'],
  ];
  switch (delivery) {
    // The writes on time; the events after the first write's wait (600 s from its arrival) ran out, within the second's.
    case 'late, first events first':
      return [...before, w1, w2, [OTHER_SERVICE, '2024-06-03T11:10:11Z'], [e1, '2024-06-03T11:10:12Z'], [e2, '2024-06-03T11:10:13Z']];
    case 'late, second events first':
      return [...before, w1, w2, [OTHER_SERVICE, '2024-06-03T11:10:11Z'], [e2, '2024-06-03T11:10:12Z'], [e1, '2024-06-03T11:10:13Z']];
    // Both writes waiting when the events come.
    case 'on time, first events first':
      return [...before, w1, w2, [e1, '2024-06-03T11:01:01Z'], [e2, '2024-06-03T11:01:02Z']];
    case 'on time, second events first':
      return [...before, w1, w2, [e2, '2024-06-03T11:01:01Z'], [e1, '2024-06-03T11:01:02Z']];
    // The second write delivered late (a minute after the first, after its own revision's events), the first's
    // events last: when the second revision's events come only the first write waits, and the revision was created
    // 30 s after it.
    case 'on time, second events before the second write':
      return [...before, w1, [e2, '2024-06-03T11:01:01Z'], [w2[0], '2024-06-03T11:01:02Z'], [e1, '2024-06-03T11:01:03Z']];
  }
}

const JUDGED = new Set(['off-window-deploy', 'unapproved-deployer', 'new-image-repository', 'service-account-change']);

/** Each finding of the two deploys (not the create's): rule, when, which revision, image or identity, and any doubt. */
function shown(found: readonly Finding[]): string[] {
  return found
    .filter((f) => JUDGED.has(f.rule) && f.service === 'storefront' && f.eventTime >= '2024-06-03' && f.status !== 'resolved')
    .map((f) => {
      const evidence = f.evidence as Record<string, unknown>;
      const what = f.rule === 'new-image-repository' ? String(evidence['imageDigest'] ?? evidence['image'] ?? '?') : f.rule === 'service-account-change' ? String(evidence['after'] ?? '?') : '';
      const doubt = evidence['revisionMayBeOf'] !== undefined ? ` revisionMayBeOf=${String(evidence['revisionMayBeOf'])}` : '';
      return `${f.rule} ${f.eventTime} ${f.revision ?? '-'} ${what}${doubt}`.replace(/ +/g, ' ').trim();
    })
    .sort();
}

/** The findings of a deploy judged with its own revision's events. */
function withEvents(d: Deploy): string[] {
  return shownFor(d, d.time, 'with events');
}

/** The findings of a deploy judged when its wait ran out, on what its write carries (its late events raise no more). */
function withoutEvents(d: Deploy): string[] {
  return shownFor(d, d.time, 'write alone');
}

const DELIVERIES: readonly Delivery[] = [
  'late, first events first',
  'late, second events first',
  'on time, first events first',
  'on time, second events first',
  'on time, second events before the second write',
];

const run = {
  live: (entries: readonly [Json, string][]) => findingsArriving(entries, cfg, new MemoryBaselineStore()),
  'replay (memory)': (entries: readonly [Json, string][]) => replayedAsWritten(entries.map(([e]) => e), cfg, 'memory'),
  'replay (file)': (entries: readonly [Json, string][]) => replayedAsWritten(entries.map(([e]) => e), cfg, 'file'),
} as const;
const PATHS = Object.keys(run) as (keyof typeof run)[];

describe("one principal's two v2 deploys 30 s apart: each revision, created 140 ms after its own write, is that write's", () => {
  const deploys = deploysAt('2024-06-03T11:00:00Z', '2024-06-03T11:00:30Z');
  const [first, second] = deploys;
  const cases = PATHS.flatMap((path) => DELIVERIES.map((delivery) => [`${path}: ${delivery}`, path, delivery] as const));
  it.each(cases)('%s', async (_name, path, delivery) => {
    const expected = [...(delivery.startsWith('late') ? withoutEvents(first) : withEvents(first)), ...withEvents(second)].sort();
    expect(shown(await run[path](entriesOf(deploys, delivery)))).toEqual(expected);
  });
});

describe('guard: two writes within one second, which the creation time cannot tell apart, keep revisionMayBeOf', () => {
  // 500 ms apart: each revision created 140 ms after its write, the first's before the second write (within the two
  // clocks' skew), the second's after both.
  const deploys = deploysAt('2024-06-03T11:00:00Z', '2024-06-03T11:00:00.500Z');
  // Both waiting when the events come (half a second apart, both writes' waits run out together).
  const cases = PATHS.flatMap((path) => (['on time, first events first', 'on time, second events first'] as const).map((delivery) => [`${path}: ${delivery}`, path, delivery] as const));
  it.each(cases)('%s', async (_name, path, delivery) => {
    const found = shown(await run[path](entriesOf(deploys, delivery)));
    expect(found.some((f) => f.includes(' revisionMayBeOf='))).toBe(true);
  });
});

describe("both writes judged without their events (both waits ran out): each revision's late half is its own write's", () => {
  // Each revision's events, claimed by time and principal as the late half of a write judged without them, fill in
  // what that write did not say at its instant (CompletedRollout.filledAt: the second revision's repository, say).
  // The nearest write before the events is the second for both; the creation time says which is whose.
  const deploys = deploysAt('2024-06-03T11:00:00Z', '2024-06-03T11:00:30Z');
  const [first, second] = deploys;
  /** Another entry of the project after both writes' waits ran out (the second's at 11:10:31). */
  const later = at(OTHER_SERVICE, '2024-06-03T11:10:40Z', 'other-service-later');

  /** For each write (its time), the operation of the events that took its span, and where those filled in. */
  async function claims(order: readonly [Deploy, Deploy]): Promise<string[]> {
    const store = new MemoryBaselineStore();
    const entries: [Json, string][] = [
      [create, '2024-06-01T10:00:01Z'],
      [createdRevision, '2024-06-01T10:00:22Z'],
      [v2Write(first), '2024-06-03T11:00:01Z'],
      [v2Write(second), '2024-06-03T11:00:31Z'],
      [OTHER_SERVICE, '2024-06-03T11:10:11Z'],
      [later, '2024-06-03T11:10:41Z'],
      ...order.map((d, i): [Json, string] => [revisionEvent(d, d === first ? E1 : E2), `2024-06-03T11:10:4${2 + i}Z`]),
    ];
    await findingsArriving(entries, cfg, store);
    const completed = (await store.get('acme-prod/europe-west1/storefront'))?.completed ?? [];
    const writes = completed.filter((c) => c.withoutWrite !== true && c.t >= Date.parse('2024-06-03')).map((c) => `write ${new Date(c.t).toISOString()} taken by ${c.otherHalf?.takenBy ?? '-'}`);
    const filled = completed.filter((c) => c.claimedByTime === true).map((c) => `${c.revision} filled in at ${c.filledAt ? new Date(c.filledAt.t).toISOString() : '-'}`);
    return [...writes, ...filled].sort();
  }

  it.each([
    ['first events first', [first, second]],
    ['second events first', [second, first]],
  ] as const)('live: %s', async (_name, order) => {
    expect(await claims(order)).toEqual(
      [
        `write ${new Date(first.time).toISOString()} taken by op-${first.revision}`,
        `write ${new Date(second.time).toISOString()} taken by op-${second.revision}`,
        `${first.revision} filled in at ${new Date(first.time).toISOString()}`,
        `${second.revision} filled in at ${new Date(second.time).toISOString()}`,
      ].sort(),
    );
  });
});
