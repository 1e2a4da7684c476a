// Found by late-open-mixed's console-deploy property run with 20x its seeds (13 of 7,200 histories): a write that
// turns the invoker IAM check off and still waits for its revision's events holds the check's word for the writes
// judged meanwhile (detectors/revision.ts settingBefore), so a newer write that turns it off again raises nothing: the
// waiting write will report it. When an older write that turns the check back on arrives between them, the waiting
// write, judged after it, is history (closed at once: the check was on again), and the newer write's risk, in force,
// was reported by no one. In timestamp order: the first finding closed by the second write, the third opens one.
// Each case: console deploys (synthetic-seq-console-deploy) 5 minutes apart after a safe first one: W1 at 23:05 moves
// to another runtime identity (a new revision: it waits for its events, none logged) and turns the check off, W2 at
// 23:10 moves back with the check on, W3 at 23:15 moves back with the check off (no new revision: judged at once).
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import type { Json } from '../support/entries.js';
import { consoleDeploy } from '../support/consoleDeploys.js';
import { findingsLive, findingsOf } from '../support/run.js';

const OWN = 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com';
const OTHER = 'ci-admin@test-project-1234.iam.gserviceaccount.com';

/** The k-th console deploy (test/support/consoleDeploys.ts): the check off or on, `ingress`, IAP and the URL when given. */
function deploy(k: number, identity: string, checkOff: boolean, events: number, ingress = 'all', iap?: boolean, urlDisabled?: boolean): Json[] {
  return consoleDeploy(k, identity, { checkOff, ingress, ...(iap !== undefined ? { iap } : {}), ...(urlDisabled !== undefined ? { urlDisabled } : {}) }, events);
}

const FIRST = deploy(0, OWN, false, 2);
const [W1] = deploy(1, OTHER, true, 0) as [Json];
const [W2] = deploy(2, OWN, false, 0) as [Json];
const [W3] = deploy(3, OWN, true, 0) as [Json];
const [W4] = deploy(4, OWN, false, 0) as [Json];

/** Ids of the findings of `rule` whose last word is active. */
function open(findings: readonly Finding[], rule = 'public-invoker-grant'): string[] {
  const last = new Map<string, string>();
  for (const f of findings) if (f.rule === rule) last.set(f.id, f.status ?? 'active');
  return [...last].filter(([, status]) => status === 'active').map(([id]) => id);
}
/** Findings of the rule not reported active once, then resolved at most once. */
function badLifecycles(findings: readonly Finding[], rule = 'public-invoker-grant'): string[] {
  const statuses = new Map<string, string[]>();
  for (const f of findings) if (f.rule === rule) statuses.set(f.id, [...(statuses.get(f.id) ?? []), f.status ?? 'active']);
  return [...statuses].filter(([, s]) => s[0] !== 'active' || s.length > 2 || (s.length === 2 && s[1] !== 'resolved')).map(([id, s]) => `${id} ${s.join(',')}`);
}

describe('a waiting write held the invoker check off for a newer write, an older write turned it on between them', () => {
  it('timestamp order: the check is off at the end, one finding open', async () => {
    expect(open(await findingsOf([...FIRST, W1, W2, W3]))).toHaveLength(1);
  });

  it.each([
    ['W1 W3 W2', 60_000, [W1, W3, W2]],
    ['W1 W3 W2', 1000, [W1, W3, W2]],
    ['W3 W1 W2', 60_000, [W3, W1, W2]], // W3 judged before W1 came: it raises its own (guard)
    ['W1 W3 W2', 3_600_000, [W1, W3, W2]], // each judged before the next comes: W3 raises its own (guard)
  ] as const)('delivered %s, %i ms apart: the check off at the end is reported, open', async (_order, stepMs, order) => {
    const live = await findingsLive([...FIRST, ...order], undefined, undefined, stepMs);
    expect(open(live)).toHaveLength(1);
    expect(badLifecycles(live)).toEqual([]);
  });

  it.each([60_000, 1000])('guard: W4 (23:20) turns the check on again after them, %i ms apart: nothing is left open', async (stepMs) => {
    const live = await findingsLive([...FIRST, W1, W3, W2, W4], undefined, undefined, stepMs);
    expect(open(live)).toEqual([]);
    expect(badLifecycles(live)).toEqual([]);
  });
});

// The same with the ingress (ingress-opened): W1 opens it to all (the check on), W2 restricts it to internal, W3 opens
// it again. (late-open-mixed's console deploys meant to vary the ingress, but their replace matched no text of the
// fixture's JSON, so every one kept its `all`.)
describe('a waiting write held the ingress open for a newer write, an older write restricted it between them', () => {
  const FIRST_INTERNAL = deploy(0, OWN, false, 2, 'internal');
  const [I1] = deploy(1, OTHER, false, 0, 'all') as [Json];
  const [I2] = deploy(2, OWN, false, 0, 'internal') as [Json];
  const [I3] = deploy(3, OWN, false, 0, 'all') as [Json];
  const [I4] = deploy(4, OWN, false, 0, 'internal') as [Json];

  it('timestamp order: the ingress is all at the end, one finding open', async () => {
    expect(open(await findingsOf([...FIRST_INTERNAL, I1, I2, I3]), 'ingress-opened')).toHaveLength(1);
  });

  it.each([
    ['W1 W3 W2', 60_000, [I1, I3, I2]],
    ['W1 W3 W2', 1000, [I1, I3, I2]],
    ['W3 W1 W2', 60_000, [I3, I1, I2]], // W3 judged before W1 came: it raises its own (guard)
    ['W1 W3 W2', 3_600_000, [I1, I3, I2]], // each judged before the next comes (guard)
  ] as const)('delivered %s, %i ms apart: the ingress open at the end is reported, open', async (_order, stepMs, order) => {
    const live = await findingsLive([...FIRST_INTERNAL, ...order], undefined, undefined, stepMs);
    expect(open(live, 'ingress-opened')).toHaveLength(1);
    expect(badLifecycles(live, 'ingress-opened')).toEqual([]);
  });

  it.each([60_000, 1000])('guard: W4 (23:20) restricts it again after them, %i ms apart: nothing is left open', async (stepMs) => {
    const live = await findingsLive([...FIRST_INTERNAL, I1, I3, I2, I4], undefined, undefined, stepMs);
    expect(open(live, 'ingress-opened')).toEqual([]);
    expect(badLifecycles(live, 'ingress-opened')).toEqual([]);
  });
});

// The same with IAP (iap-disabled): W1 turns it off, W2 on again, W3 off again (the first deploy turned it on).
describe('a waiting write held IAP off for a newer write, an older write turned it on between them', () => {
  const FIRST_IAP = deploy(0, OWN, false, 2, 'all', true);
  const [P1] = deploy(1, OTHER, false, 0, 'all', false) as [Json];
  const [P2] = deploy(2, OWN, false, 0, 'all', true) as [Json];
  const [P3] = deploy(3, OWN, false, 0, 'all', false) as [Json];
  const [P4] = deploy(4, OWN, false, 0, 'all', true) as [Json];

  it('timestamp order: IAP is off at the end, one finding open', async () => {
    expect(open(await findingsOf([...FIRST_IAP, P1, P2, P3]), 'iap-disabled')).toHaveLength(1);
  });

  it.each([
    ['W1 W3 W2', 60_000, [P1, P3, P2]],
    ['W1 W3 W2', 1000, [P1, P3, P2]],
    ['W3 W1 W2', 60_000, [P3, P1, P2]], // W3 judged before W1 came: it raises its own (guard)
    ['W1 W3 W2', 3_600_000, [P1, P3, P2]], // each judged before the next comes (guard)
  ] as const)('delivered %s, %i ms apart: IAP off at the end is reported, open', async (_order, stepMs, order) => {
    const live = await findingsLive([...FIRST_IAP, ...order], undefined, undefined, stepMs);
    expect(open(live, 'iap-disabled')).toHaveLength(1);
    expect(badLifecycles(live, 'iap-disabled')).toEqual([]);
  });

  it.each([60_000, 1000])('guard: W4 (23:20) turns IAP on again after them, %i ms apart: nothing is left open', async (stepMs) => {
    const live = await findingsLive([...FIRST_IAP, P1, P3, P2, P4], undefined, undefined, stepMs);
    expect(open(live, 'iap-disabled')).toEqual([]);
    expect(badLifecycles(live, 'iap-disabled')).toEqual([]);
  });
});

// The same with the default URL (default-url-enabled): W1 turns it back on, W2 disables it, W3 turns it on again (the
// first deploy disabled it), the ingress `all` throughout.
describe('a waiting write held the default URL on for a newer write, an older write disabled it between them', () => {
  const FIRST_NO_URL = deploy(0, OWN, false, 2, 'all', undefined, true);
  const [U1] = deploy(1, OTHER, false, 0, 'all', undefined, false) as [Json];
  const [U2] = deploy(2, OWN, false, 0, 'all', undefined, true) as [Json];
  const [U3] = deploy(3, OWN, false, 0, 'all', undefined, false) as [Json];
  const [U4] = deploy(4, OWN, false, 0, 'all', undefined, true) as [Json];

  it('timestamp order: the URL is on at the end, one finding open', async () => {
    expect(open(await findingsOf([...FIRST_NO_URL, U1, U2, U3]), 'default-url-enabled')).toHaveLength(1);
  });

  it.each([
    ['W1 W3 W2', 60_000, [U1, U3, U2]],
    ['W1 W3 W2', 1000, [U1, U3, U2]],
    ['W3 W1 W2', 60_000, [U3, U1, U2]], // W3 judged before W1 came: it raises its own (guard)
    ['W1 W3 W2', 3_600_000, [U1, U3, U2]], // each judged before the next comes (guard)
  ] as const)('delivered %s, %i ms apart: the URL on at the end is reported, open', async (_order, stepMs, order) => {
    const live = await findingsLive([...FIRST_NO_URL, ...order], undefined, undefined, stepMs);
    expect(open(live, 'default-url-enabled')).toHaveLength(1);
    expect(badLifecycles(live, 'default-url-enabled')).toEqual([]);
  });

  it.each([60_000, 1000])('guard: W4 (23:20) disables the URL again after them, %i ms apart: nothing is left open', async (stepMs) => {
    const live = await findingsLive([...FIRST_NO_URL, U1, U3, U2, U4], undefined, undefined, stepMs);
    expect(open(live, 'default-url-enabled')).toEqual([]);
    expect(badLifecycles(live, 'default-url-enabled')).toEqual([]);
  });
});
