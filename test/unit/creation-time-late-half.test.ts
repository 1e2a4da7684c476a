// One principal's two v2 deploys of one service, 30 s apart, each its own image (a repository of its own), runtime
// service account and revision, delivered to the live pipeline an hour apart (each write judged without its events,
// or events judged without their write, before the next entry comes). Nothing but time and principal ties a v2 write
// to its revision's events, so a write judged without its events and events judged without their write wait, each for
// its other half (CompletedRollout.otherHalf, lateHalfOf). The revision's creation time (`metadata.creationTimestamp`,
// 140 ms after its write, as in real entries) tells which: a revision created before a write, or more than 10 s after
// it (createdOutsideWrite), is not that write's revision, whichever half came first. Minimized from
// creation-time-orders (seeds 25, 35 and 28). Each deploy must be reported once per rule, with its own revision
// (none when judged without its events), image and service account.
import { describe, expect, it } from 'vitest';
import type { Json } from '../support/entries.js';
import { config, findingsLive } from '../support/run.js';
import { BEFORE, deployOf, revisionEvent, shown, shownFor, v2Write, type Deploy } from '../support/v2Deploys.js';

const cfg = config({
  changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }],
  rules: { 'unapproved-deployer': { allowedDeployers: ['nobody@acme.com'] } },
});
const CI = 'deployer@acme-ci.iam.gserviceaccount.com';

/** W2 at 11:00:00, its revision's events 20 s later; W3 30 s after W2, its revision's events 30 s after it. */
const D2 = deployOf(2, Date.parse('2024-06-03T11:00:00Z'), CI, 20_000);
const D3 = deployOf(3, Date.parse('2024-06-03T11:00:30Z'), CI, 30_000);
const W2 = v2Write(D2);
const W3 = v2Write(D3);
const E2 = revisionEvent(D2);
const E3 = revisionEvent(D3);
/** The first deploy with its revision's events 40 s after its write: after the second write. */
const D2_LATE = deployOf(2, Date.parse('2024-06-03T11:00:00Z'), CI, 40_000);
const E2_LATE = revisionEvent(D2_LATE);

/** A deploy reported from its write alone (its events, later, are its late half: nothing more). */
function fromWrite(d: Deploy): string[] {
  return shownFor(d, d.time, 'write alone');
}

/** A deploy reported from its revision's events alone, at their time (its write, later, is that deploy: nothing more). */
function fromEvents(d: Deploy): string[] {
  return shownFor(d, d.eventTime, 'with events');
}

const CASES: readonly (readonly [string, readonly Json[], readonly string[]])[] = [
  // The second revision's events judged alone; the first write, then, must not take them as its own (they were created
  // 30 s after it): the second write does.
  ['E3, W2, W3 (the first write after the second revision was judged alone)', [E3, W2, W3], [...fromEvents(D3), ...fromWrite(D2)]],
  // The second write judged without its events; the first revision's events, after it (created before it), are not its
  // late half: the first write, later, takes them.
  ['W3, E2, W2 (the first revision after the second write was judged alone)', [W3, E2_LATE, W2], [...fromWrite(D3), ...fromEvents(D2_LATE)]],
  // The first write judged without its events; the second revision's (created 30 s after it) are not its late half,
  // but the first revision's, later, are.
  ['W2, E3, W3, E2 (the second revision after the first write was judged alone)', [W2, E3, W3, E2], [...fromWrite(D2), ...fromEvents(D3)]],
];

describe("one principal's two v2 deploys, an hour between deliveries: a revision is not the late half of a write it was not created soon after", () => {
  it.each(CASES)('live: %s', async (_name, order, expected) => {
    expect(shown(await findingsLive([...BEFORE, ...order], cfg, undefined, 3_600_000))).toEqual([...expected].sort());
  });
});
