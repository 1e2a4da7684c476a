// One principal's two v2 deploys of one service less than CREATED_WITHIN_MS (10 s) apart, the second revision's events
// delivered before the second write and after the first (minimized from creation-time-orders, takenByEarlierWrite).
// Nothing but time and principal ties a v2 write to its revision's events; the revision's creation time (140 ms after
// its write, as in real entries: 131-143 ms) tells which write made it, but only once that write has come: the first
// write, finding the second revision's events waiting (created 8.9 s after it, within 10 s), must not take them at
// once, nor the second revision's events the first write waiting, while a write they were created sooner after may
// still come. Each deploy must be reported once per rule, by its principal, at its write's time, with its own
// revision, image and service account (test/support/v2Deploys.ts violations). Nor may the first write take them when
// its own wait runs out while theirs still runs (the second write may still come in it). Delivered an hour apart (each
// entry judged alone before the next) the entries cannot tell: left out (creation-time-orders, takenByEarlierWrite).
// Writes less than CREATED_DECIDES_MS (5 s) apart are left out: a revision created within 5 s of a write joins it at
// once (creation-time-prompt-join: how long an update takes to create its revision is known from no real pair, and
// every such deploy would otherwise wait the whole 600 s), so there the first write still takes the second revision.
// Guard: a write and a revision created 6-9 s after it (a slow control plane), alone, are still one deploy, reported
// once, whichever comes first: joined when the wait runs out, or (an hour between deliveries) as each other's late
// half.
import { describe, expect, it } from 'vitest';
import { createdAfter, createdAt, type Json } from '../support/entries.js';
import { config, findingsArriving, findingsLive } from '../support/run.js';
import { replayedAsWritten } from '../support/replayAsWritten.js';
import { BEFORE, deployOf, revisionEvent, v2Write, violations, type Deploy } from '../support/v2Deploys.js';

const cfg = config({
  changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }],
  rules: { 'unapproved-deployer': { allowedDeployers: ['nobody@acme.com'] } },
});
const CI = 'deployer@acme-ci.iam.gserviceaccount.com';
const START = Date.parse('2024-06-03T11:00:00Z');

/** W2 at 11:00:00, W3 `apartMs` later; each revision created 140 ms after its write, its events 20 s after the write. */
function pair(apartMs: number): { readonly deploys: Deploy[]; readonly W2: Json; readonly W3: Json; readonly E2: Json; readonly E3: Json } {
  const d2 = deployOf(2, START, CI, 20_000);
  const d3 = deployOf(3, START + apartMs, CI, 20_000);
  return { deploys: [d2, d3], W2: v2Write(d2), W3: v2Write(d3), E2: revisionEvent(d2), E3: revisionEvent(d3) };
}

const NEAR = pair(8_800);
const NEARER = pair(5_500);

/** Delivery orders in which the first write (or the second revision's events) comes while the other waits alone. */
const ORDERS: readonly (readonly [string, readonly Json[], readonly Deploy[]])[] = [
  ['E3, W2, E2, W3 (W3 8.8 s after W2)', [NEAR.E3, NEAR.W2, NEAR.E2, NEAR.W3], NEAR.deploys],
  ['W2, E3, E2, W3 (W3 8.8 s after W2)', [NEAR.W2, NEAR.E3, NEAR.E2, NEAR.W3], NEAR.deploys],
  ['E3, W2, W3, E2 (W3 8.8 s after W2)', [NEAR.E3, NEAR.W2, NEAR.W3, NEAR.E2], NEAR.deploys],
  ['E3, W2, E2, W3 (W3 5.5 s after W2)', [NEARER.E3, NEARER.W2, NEARER.E2, NEARER.W3], NEARER.deploys],
  ['W2, E3, W3, E2 (W3 5.5 s after W2)', [NEARER.W2, NEARER.E3, NEARER.W3, NEARER.E2], NEARER.deploys],
];

/** One deploy whose revision was created `createdMs` after its write (a slow control plane), its events 20 s later. */
function slow(createdMs: number): { readonly deploys: Deploy[]; readonly W: Json; readonly E: Json } {
  const d = deployOf(2, START, CI, 20_000);
  return { deploys: [d], W: v2Write(d), E: createdAt(revisionEvent(d), createdAfter(d.time, createdMs)) };
}

const GUARDS: readonly (readonly [string, readonly Json[], readonly Deploy[]])[] = [6_000, 9_000].flatMap((ms) => {
  const { deploys, W, E } = slow(ms);
  return [
    [`W, E (revision created ${ms / 1000} s after its write)`, [W, E], deploys],
    [`E, W (revision created ${ms / 1000} s after its write)`, [E, W], deploys],
  ] as const;
});

describe("one principal's two v2 writes less than 10 s apart: the first does not take the second's revision while the second may still come", () => {
  it.each(ORDERS)('replay as written: %s', async (_name, order, deploys) => {
    expect(violations(await replayedAsWritten([...BEFORE, ...order], cfg, 'memory'), deploys)).toEqual([]);
  });
  it.each(ORDERS)('live, a second between deliveries: %s', async (_name, order, deploys) => {
    expect(violations(await findingsLive([...BEFORE, ...order], cfg, undefined, 1000), deploys)).toEqual([]);
  });
  it.each(ORDERS)('live, a minute between deliveries: %s', async (_name, order, deploys) => {
    expect(violations(await findingsLive([...BEFORE, ...order], cfg, undefined, 60_000), deploys)).toEqual([]);
  });
});

describe('the wait of both halves', () => {
  // W2 arrives first; E3 (created 8.9 s after it) 5 minutes later; W2's wait (600 s) runs out before W3 comes, 12
  // minutes after W2, but E3's does not: W2 must not take E3 then (E3 may still see a write it was created sooner after).
  it('live: the first write\'s wait runs out while the second revision\'s still runs: the second write, come in it, takes its revision', async () => {
    const arrival = (minutes: number): string => new Date(Date.parse('2030-01-01T00:00:00Z') + minutes * 60_000).toISOString();
    const entries: [Json, string][] = [
      [BEFORE[0]!, arrival(-60)],
      [BEFORE[1]!, arrival(-59)],
      [NEAR.W2, arrival(0)],
      [NEAR.E3, arrival(5)],
      [NEAR.W3, arrival(12)],
      [NEAR.E2, arrival(13)],
    ];
    expect(violations(await findingsArriving(entries, cfg), NEAR.deploys)).toEqual([]);
  });
});

describe('guard: one v2 write and its revision created 6-9 s after it, alone, are one deploy', () => {
  it.each(GUARDS)('replay as written: %s', async (_name, order, deploys) => {
    expect(violations(await replayedAsWritten([...BEFORE, ...order], cfg, 'memory'), deploys)).toEqual([]);
  });
  it.each([1000, 60_000, 3_600_000])('live, %i ms between deliveries', async (stepMs) => {
    for (const [name, order, deploys] of GUARDS) {
      expect(violations(await findingsLive([...BEFORE, ...order], cfg, undefined, stepMs), deploys), name).toEqual([]);
    }
  });
});
