// Found by late-open-mixed's console-deploy property run with 20x its seeds (13 of 7,200 histories): a write that
// turns the invoker IAM check off and still waits for its revision's events holds the check's word for the writes
// judged meanwhile (detectors/revision.ts settingBefore), so a newer write that turns it off again raises nothing: the
// waiting write will report it. When an older write that turns the check back on arrives between them, the waiting
// write, judged after it, is history (closed at once: the check was on again), and the newer write's risk, in force,
// was reported by no one. In timestamp order: the first finding closed by the second write, the third opens one.
// Each case: console deploys (synthetic-seq-console-deploy) 5 minutes apart after a safe first one: W1 at 23:05 moves
// to another runtime identity (a new revision: it waits for its events, none logged) and turns the check off, W2 at
// 23:10 moves back with the check on, W3 at 23:15 moves back with the check off (no new revision: judged at once).
// The same with the ingress (ingress-opened: W1 opens it to all, W2 restricts it to internal, W3 opens it again; the
// check on throughout), IAP (iap-disabled: off, on, off; the first deploy turned it on), the default URL
// (default-url-enabled: back on, disabled, on; the first deploy disabled it, the ingress `all` throughout) and the
// Binary Authorization policy (binary-authorization-bypass: removed, `default`, removed; the first deploy enforced
// `default`; these writes log the revision's container, so that a missing annotation reads as none:
// support/consoleDeploys.ts).
// (late-open-mixed's console deploys meant to vary the ingress, but their replace matched no text of the fixture's
// JSON, so every one kept its `all`.)
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import type { Json } from '../support/entries.js';
import { consoleDeploy, type ConsoleSettings } from '../support/consoleDeploys.js';
import { findingsLive, findingsOf } from '../support/run.js';

const OWN = 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com';
const OTHER = 'ci-admin@test-project-1234.iam.gserviceaccount.com';

/** Ids of the findings of `rule` whose last word is active. */
function open(findings: readonly Finding[], rule: string): string[] {
  const last = new Map<string, string>();
  for (const f of findings) if (f.rule === rule) last.set(f.id, f.status ?? 'active');
  return [...last].filter(([, status]) => status === 'active').map(([id]) => id);
}
/** Findings of the rule not reported active once, then resolved at most once. */
function badLifecycles(findings: readonly Finding[], rule: string): string[] {
  const statuses = new Map<string, string[]>();
  for (const f of findings) if (f.rule === rule) statuses.set(f.id, [...(statuses.get(f.id) ?? []), f.status ?? 'active']);
  return [...statuses].filter(([, s]) => s[0] !== 'active' || s.length > 2 || (s.length === 2 && s[1] !== 'resolved')).map(([id, s]) => `${id} ${s.join(',')}`);
}

/** A setting whose risk W1 and W3 set and the first deploy, W2 and W4 take away: its rule and both settings. */
interface Setting {
  readonly what: string;
  readonly rule: string;
  readonly safe: ConsoleSettings;
  readonly risky: ConsoleSettings;
  readonly riskAtEnd: string;
  readonly takenAway: string;
}

const SETTINGS: readonly Setting[] = [
  { what: 'the invoker check off', rule: 'public-invoker-grant', safe: { checkOff: false, ingress: 'all' }, risky: { checkOff: true, ingress: 'all' }, riskAtEnd: 'the check off', takenAway: 'turns the check on again' },
  { what: 'the ingress open', rule: 'ingress-opened', safe: { checkOff: false, ingress: 'internal' }, risky: { checkOff: false, ingress: 'all' }, riskAtEnd: 'the ingress open', takenAway: 'restricts it again' },
  { what: 'IAP off', rule: 'iap-disabled', safe: { checkOff: false, ingress: 'all', iap: true }, risky: { checkOff: false, ingress: 'all', iap: false }, riskAtEnd: 'IAP off', takenAway: 'turns IAP on again' },
  { what: 'Binary Authorization off', rule: 'binary-authorization-bypass', safe: { checkOff: false, ingress: 'all', binaryAuthorization: 'default' }, risky: { checkOff: false, ingress: 'all', binaryAuthorization: null }, riskAtEnd: 'the policy off', takenAway: 'enforces the policy again' },
  { what: 'the default URL on', rule: 'default-url-enabled', safe: { checkOff: false, ingress: 'all', urlDisabled: true }, risky: { checkOff: false, ingress: 'all', urlDisabled: false }, riskAtEnd: 'the URL on', takenAway: 'disables the URL again' },
];

describe.each(SETTINGS)('a waiting write held $what for a newer write, an older write took it away between them', ({ rule, safe, risky, riskAtEnd, takenAway }) => {
  const FIRST = consoleDeploy(0, OWN, safe, 2);
  const [W1] = consoleDeploy(1, OTHER, risky, 0) as [Json];
  const [W2] = consoleDeploy(2, OWN, safe, 0) as [Json];
  const [W3] = consoleDeploy(3, OWN, risky, 0) as [Json];
  const [W4] = consoleDeploy(4, OWN, safe, 0) as [Json];

  it(`timestamp order: ${riskAtEnd} at the end, one finding open`, async () => {
    expect(open(await findingsOf([...FIRST, W1, W2, W3]), rule)).toHaveLength(1);
  });

  it.each([
    ['W1 W3 W2', 60_000, [W1, W3, W2]],
    ['W1 W3 W2', 1000, [W1, W3, W2]],
    ['W3 W1 W2', 60_000, [W3, W1, W2]], // W3 judged before W1 came: it raises its own (guard)
    ['W1 W3 W2', 3_600_000, [W1, W3, W2]], // each judged before the next comes: W3 raises its own (guard)
  ] as const)(`delivered %s, %i ms apart: ${riskAtEnd} at the end is reported, open`, async (_order, stepMs, order) => {
    const live = await findingsLive([...FIRST, ...order], undefined, undefined, stepMs);
    expect(open(live, rule)).toHaveLength(1);
    expect(badLifecycles(live, rule)).toEqual([]);
  });

  it.each([60_000, 1000])(`guard: W4 (23:20) ${takenAway} after them, %i ms apart: nothing is left open`, async (stepMs) => {
    const live = await findingsLive([...FIRST, W1, W3, W2, W4], undefined, undefined, stepMs);
    expect(open(live, rule)).toEqual([]);
    expect(badLifecycles(live, rule)).toEqual([]);
  });
});
