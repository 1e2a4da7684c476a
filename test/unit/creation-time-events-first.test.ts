// One principal's two v2 deploys of one service, 5 s apart, each its own image (a repository of its own), runtime
// service account and revision, both revisions' events delivered before either write (Pub/Sub delivers without
// order), the second revision's first (they came first: its image was smaller). Nothing but time and principal ties a
// v2 write to its revision's events; the revision's creation time (`metadata.creationTimestamp`, 140 ms after its
// write, as in real entries) tells which write made it. A write that arrives while both revisions' events wait takes
// the revision created soonest after it (the first write: the first revision, created 140 ms after it), not the
// events nearest after it in time (the second revision's, created 5.14 s after it: within the 10 s its creation time
// leaves, CREATED_WITHIN_MS, but not the write's). Minimized from creation-time-orders (seed 39). Each deploy must be
// reported once per rule with its own revision, image and service account: live (a second between deliveries, every
// rollout waiting) and replay as written (memory, file). So too when both revisions' events were judged alone before
// the writes came (an hour between deliveries): a write is the deploy of the events judged alone whose revision was
// created soonest after it (lateHalfOf), not of the events nearest after it.
import { describe, expect, it } from 'vitest';
import { config, findingsLive } from '../support/run.js';
import { replayedAsWritten } from '../support/replayAsWritten.js';
import { BEFORE, deployOf, revisionEvent, shown, shownFor, v2Write } from '../support/v2Deploys.js';

const cfg = config({
  changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }],
  rules: { 'unapproved-deployer': { allowedDeployers: ['nobody@acme.com'] } },
});
const CI = 'deployer@acme-ci.iam.gserviceaccount.com';

/** W2 at 11:00:00, its revision's events a minute later; W3 5 s after W2, its revision's events 25 s after it. */
const D2 = deployOf(2, Date.parse('2024-06-03T11:00:00Z'), CI, 60_000);
const D3 = deployOf(3, Date.parse('2024-06-03T11:00:05Z'), CI, 25_000);
const ORDER = [...BEFORE, revisionEvent(D3), revisionEvent(D2), v2Write(D2), v2Write(D3)];

const expected = [D2, D3].flatMap((d) => shownFor(d, d.time, 'with events')).sort();

describe("one principal's two v2 deploys 5 s apart, both revisions' events first: a write takes the revision created soonest after it", () => {
  it('live, a second between deliveries', async () => {
    expect(shown(await findingsLive(ORDER, cfg, undefined, 1000))).toEqual(expected);
  });
  it.each(['memory', 'file'] as const)('replay as written (%s)', async (mode) => {
    expect(shown(await replayedAsWritten(ORDER, cfg, mode))).toEqual(expected);
  });
});

describe("both revisions' events judged alone (an hour between deliveries), then the writes: each write is the deploy of its own revision", () => {
  // Each deploy reported once, from its events (at their time); its write, later, is that deploy: nothing more.
  const fromEvents = [D2, D3].flatMap((d) => shownFor(d, d.eventTime, 'with events')).sort();
  it('live: E3, E2, W2, W3', async () => {
    expect(shown(await findingsLive(ORDER, cfg, undefined, 3_600_000))).toEqual(fromEvents);
  });
});
