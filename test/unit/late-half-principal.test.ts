// Two v2 deploys of one service by two principals (a console user's UpdateService and a CI account's 30 s
// later, or the other way round), whose revisions' system events come late: the first write's events after its wait
// ran out, while the second write still waits. Nothing but time and principal ties a v2 write to its events (its
// operation id is not in them); the revision's `serving.knative.dev/creator` names who made it. The first write's
// events are its late half: they must not join the second write's waiting rollout (the finding would name the second
// principal with the first one's image and service account, and the second revision, coming next, would be reported
// again from its events alone). Nor may the second revision's events, delivered before their own write, join the
// first write's rollout while it waits. Each case runs through the live path (each entry judged as it arrives, a
// sweep before it) and through replay (one thread, a memory and a file store, the entries in the order given).
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { Finding } from '../../functions/findings/finding.js';
import { at, renamed, synthetic, variant, type Json } from '../support/entries.js';
import { config, findingsArriving } from '../support/run.js';
import { replayedAsWritten } from '../support/replayAsWritten.js';
import { revisionEventOf, v2WriteOf } from '../support/v2Deploys.js';

const cfg = config({
  changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }],
  rules: { 'unapproved-deployer': { allowedDeployers: ['nobody@acme.com'] } },
});
const [create, createdRevision] = synthetic('seq-v2-operation') as unknown as [Json, Json];

const CONSOLE = 'alice@acme.com';
const CI = 'deployer@acme-ci.iam.gserviceaccount.com';

/** A deployer's write and what its revision runs: each its own image (a repository of its own) and identity. */
interface Deployer {
  readonly principal: string;
  readonly image: string;
  readonly digest: string;
  readonly serviceAccount: string;
  readonly revision: string;
}

const DEPLOYERS: Record<'console' | 'ci', Omit<Deployer, 'revision'>> = {
  console: {
    principal: CONSOLE,
    image: 'docker.io/alice/storefront:hotfix',
    digest: `docker.io/alice/storefront@sha256:${'c'.repeat(64)}`,
    serviceAccount: 'storefront-debug@acme-prod.iam.gserviceaccount.com',
  },
  ci: {
    principal: CI,
    image: 'ghcr.io/acme-ci/storefront:v2',
    digest: `ghcr.io/acme-ci/storefront@sha256:${'d'.repeat(64)}`,
    serviceAccount: 'storefront-ci@acme-prod.iam.gserviceaccount.com',
  },
};

/** A v2 UpdateService (synthetic-v2-UpdateService) by `d` at `time`, deploying its image and service account. */
function v2Write(d: Deployer, time: string): Json {
  return v2WriteOf({ ...d, time }, `t-${time}`);
}

/**
 * The revision system event (synthetic-seq-v2-operation's) of `d`'s revision at `time`: its creator, image, digest,
 * the revision created 140 ms after its write at `writeTime`, as in real entries (at() alone would keep the fixture's
 * 19 s before the event, after the second write for the first revision); `noCreationTime`: without its creation time.
 */
function revisionEvent(d: Deployer, time: string, writeTime: string, noCreationTime = false): Json {
  const event = revisionEventOf({ ...d, time: writeTime }, time, `ev-${d.revision}`);
  if (!noCreationTime) return event;
  return variant(event, (e) => {
    delete (e.protoPayload['response'] as Record<string, Json>)['metadata']!['creationTimestamp'];
  });
}

/**
 * How the entries are delivered: both revisions' events after the first write's wait ran out (within the second's),
 * the first write's or the second's first; or on time, the second revision's events before its own write (Pub/Sub
 * delivers without order), while the first write waits.
 */
type Delivery = 'late, first events first' | 'late, second events first' | 'second events before their write';

interface Case {
  readonly label: string;
  readonly first: Deployer;
  readonly second: Deployer;
  readonly delivery: Delivery;
  /** The revision events logged without `metadata.creationTimestamp`. */
  readonly noCreationTime?: true;
}

/** The writes, 30 s apart, and their revisions' events (each in its write's wait, after both writes). */
const W1 = '2024-06-03T11:00:00Z';
const W2 = '2024-06-03T11:00:30Z';
const E1 = '2024-06-03T11:00:50Z';
const E2 = '2024-06-03T11:01:00Z';

const DELIVERIES: readonly Delivery[] = ['late, first events first', 'late, second events first', 'second events before their write'];

const CASES: readonly Case[] = (['console', 'ci'] as const).flatMap((firstName) => {
  const secondName = firstName === 'console' ? 'ci' : 'console';
  const first: Deployer = { ...DEPLOYERS[firstName], revision: 'storefront-00002-one' };
  const second: Deployer = { ...DEPLOYERS[secondName], revision: 'storefront-00003-two' };
  return DELIVERIES.map((delivery) => ({ label: `${firstName} writes first, ${secondName} 30 s later; ${delivery}`, first, second, delivery }));
});

/**
 * Another service's deploy in the project, after the first write's wait and within the second's: in replay, whose
 * "now" is the time of the entry read, it completes the first write without its events (the sweep of what is due).
 */
const OTHER_SERVICE = at(renamed(create, [['services/storefront', 'services/checkout'], ['"storefront"', '"checkout"']]), '2024-06-03T11:10:10Z', 'other-service');

/** The entries of a case in delivery order, with when each arrives in the live path. */
function entriesOf(c: Case): readonly [Json, string][] {
  const w1 = v2Write(c.first, W1);
  const w2 = v2Write(c.second, W2);
  const e1 = revisionEvent(c.first, E1, W1, c.noCreationTime);
  const e2 = revisionEvent(c.second, E2, W2, c.noCreationTime);
  const before: [Json, string][] = [
    [create, '2024-06-01T10:00:01Z'],
    [createdRevision, '2024-06-01T10:00:22Z'],
  ];
  if (c.delivery === 'second events before their write') {
    return [...before, [w1, '2024-06-03T11:00:01Z'], [e2, '2024-06-03T11:01:01Z'], [w2, '2024-06-03T11:01:02Z'], [e1, '2024-06-03T11:01:03Z']];
  }
  // The writes on time; the events after the first write's wait (600 s from its arrival) ran out, within the second's.
  const [a, b] = c.delivery === 'late, second events first' ? [e2, e1] : [e1, e2];
  return [...before, [w1, '2024-06-03T11:00:01Z'], [w2, '2024-06-03T11:00:31Z'], [OTHER_SERVICE, '2024-06-03T11:10:11Z'], [a, '2024-06-03T11:10:12Z'], [b, '2024-06-03T11:10:13Z']];
}

const JUDGED = new Set(['off-window-deploy', 'unapproved-deployer', 'new-image-repository', 'service-account-change']);

/** Each finding of the two deploys (not the create's): rule, who, which revision, which image and identity. */
function shown(found: readonly Finding[]): string[] {
  return found
    .filter((f) => JUDGED.has(f.rule) && f.service === 'storefront' && f.eventTime >= '2024-06-03' && f.status !== 'resolved')
    .map((f) => {
      const evidence = f.evidence as Record<string, unknown>;
      const what = f.rule === 'new-image-repository' ? String(evidence['imageDigest'] ?? evidence['image'] ?? '?') : f.rule === 'service-account-change' ? String(evidence['after'] ?? '?') : '';
      return `${f.rule} ${f.principal} ${f.revision ?? '-'} ${what}`.trim();
    })
    .sort();
}

/** The findings of a deploy judged with its revision's events. */
function withEvents(d: Deployer): string[] {
  return [
    `off-window-deploy ${d.principal} ${d.revision}`,
    `unapproved-deployer ${d.principal} ${d.revision}`,
    `new-image-repository ${d.principal} ${d.revision} ${d.digest}`,
    `service-account-change ${d.principal} ${d.revision} ${d.serviceAccount}`,
  ];
}

/**
 * Each deployer reported once per rule, with its own revision, image and identity. A write judged when its wait ran
 * out is judged on what it carries (the revision unknown); its late events, claimed as its late half, raise nothing
 * more (what they bring in is that write's).
 */
function expected(c: Case): string[] {
  const first = c.first;
  const firstFindings =
    c.delivery === 'second events before their write'
      ? withEvents(first)
      : [
          `off-window-deploy ${first.principal} -`,
          `unapproved-deployer ${first.principal} -`,
          `new-image-repository ${first.principal} - ${first.image}`,
          `service-account-change ${first.principal} - ${first.serviceAccount}`,
        ];
  return [...firstFindings, ...withEvents(c.second)].sort();
}

/** Replay of a case's entries in the order given (no reorder buffer: the events as late as they come), one thread. */
async function replayed(c: Case, mode: 'memory' | 'file'): Promise<Finding[]> {
  return replayedAsWritten(entriesOf(c).map(([entry]) => entry), cfg, mode);
}

describe("late revision events of two principals' v2 deploys join each its own deploy", () => {
  for (const c of CASES) {
    it(`live: ${c.label}`, async () => {
      expect(shown(await findingsArriving(entriesOf(c), cfg, new MemoryBaselineStore()))).toEqual(expected(c));
    });
  }

  for (const mode of ['memory', 'file'] as const) {
    for (const c of CASES) {
      it(`replay (${mode}): ${c.label}`, async () => {
        expect(shown(await replayed(c, mode))).toEqual(expected(c));
      });
    }
  }
});

describe("late revision events of one principal's two v2 deploys, without a creation time: which write's they are is said to be uncertain", () => {
  // The same CI account deploys twice, 30 s apart: neither an operation id nor the creator ties the first revision's
  // events, delivered after the first write's wait ran out, to one write or the other (both are within their waits, by
  // their principal), nor, logged without a `metadata.creationTimestamp`, the revision's creation time (with one, it
  // does: creation-time-owner). They join the write still waiting, as before; its findings say the revision may be the
  // other write's, rather than passing the guess off as known.
  const first: Deployer = { ...DEPLOYERS.ci, revision: 'storefront-00002-one' };
  const second: Deployer = { ...DEPLOYERS.ci, image: 'ghcr.io/acme-ci/storefront:v3', digest: `ghcr.io/acme-ci/storefront@sha256:${'f'.repeat(64)}`, revision: 'storefront-00003-two' };
  const c: Case = { label: 'ci twice', first, second, delivery: 'late, first events first', noCreationTime: true };

  /** The second write's findings judged with a revision's events: the revision, and whose it may be. */
  const uncertain = (found: readonly Finding[]): string[] =>
    found
      .filter((f) => JUDGED.has(f.rule) && f.service === 'storefront' && f.eventTime === W2 && f.revision !== undefined)
      .map((f) => `${f.rule} ${f.revision} ${String((f.evidence as Record<string, unknown>)['revisionMayBeOf'] ?? 'certain')}`)
      .sort();

  it('live: the findings of the write the events joined say the revision may be the other write\'s', async () => {
    const found = uncertain(await findingsArriving(entriesOf(c), cfg, new MemoryBaselineStore()));
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((f) => f.endsWith(` ${W1}`))).toBe(true);
  });

  for (const mode of ['memory', 'file'] as const) {
    it(`replay (${mode}): the same`, async () => {
      const found = uncertain(await replayed(c, mode));
      expect(found.length).toBeGreaterThan(0);
      expect(found.every((f) => f.endsWith(` ${W1}`))).toBe(true);
    });
  }

  it('guard: two principals, the creator tells: no uncertainty', async () => {
    const two: Case = { label: 'two', first: { ...DEPLOYERS.console, revision: first.revision }, second, delivery: 'late, first events first', noCreationTime: true };
    const found = uncertain(await findingsArriving(entriesOf(two), cfg, new MemoryBaselineStore()));
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((f) => f.endsWith(' certain'))).toBe(true);
  });
});
