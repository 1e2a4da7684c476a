// A delete delivered out of order among the writes of the service before it and of the one created again under the
// name after it, for the four rules whose setting carries across the delete (revision.ts settingRestored: the
// re-created service is compared with the deleted one's setting): ingress-opened, iap-disabled, default-url-enabled,
// binary-authorization-bypass. Seeded random short histories (after a safe write delivered first: the baseline, 3 to 6
// entries: writes that set the rule's risk or not, before and after one delete), each delivered in every order (a seeded
// sample of them for 6 entries), and one fixed history (a re-created write between the delete and the newer one),
// compared with timestamp order twice on the same runs:
// - on the risk open at the end: a finding of the rule open in one and none in the other. Stale: open live where
//   timestamp order has none; lost: timestamp order has one open, the live order none (the re-created service holds the
//   risk with nothing open in any sink).
// - where both have one open, on which findings are open (eventTime and id). Extra: live has more open than timestamp
//   order (every sink shows two active findings for one risk); other: one each, another finding (the same risk reported
//   by another write, or by the same write under another id). The 'other' classes left are accepted because the rules behave so with no delete too:
//   one finding stands for a risk, not always timestamp order's (a late write's finding stands for the risk newer writes
//   hold, settingRiskInForce; a restore that arrives after the newer write that set the risk again closes nothing). The
//   'extra' class left is the rule's own with no delete as well (ingress-opened: a late finding is not closed by an
//   older opening). Each is listed in KNOWN_SETS with its reason.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { deleteServiceAt, SLACK_BOT, type Json } from '../support/entries.js';
import { findingsLive, findingsOf } from '../support/run.js';
import { seededRandom, shuffled } from '../support/random.js';
import { SETTING_RULES, SETTING_WRITES } from '../support/settingWrites.js';

interface Rule {
  readonly rule: string;
  /** A write at `time` that sets the rule's risk (`risky`) or ends it. */
  readonly write: (time: string, risky: boolean) => Json;
}

const RULES: readonly Rule[] = SETTING_RULES.map((rule) => ({ rule, write: SETTING_WRITES[rule] }));

/** One entry of a history: a write (risky or safe) or the delete, at `time`. */
interface Step {
  readonly kind: 'risky' | 'safe' | 'delete';
  readonly time: string;
}

const BASELINE = '2024-05-04T09:00:00Z';
const hhmm = (time: string): string => time.slice(11, 16);

/** A random history of 3 to 6 entries after the baseline: writes every 10 minutes from 10:00, one of them a delete with a write before and after it. */
function history(next: () => number): Step[] {
  const length = 3 + Math.floor(next() * 4);
  const deleteAt = 1 + Math.floor(next() * (length - 2));
  return Array.from({ length }, (_, i) => ({
    kind: i === deleteAt ? 'delete' : next() < 0.5 ? 'risky' : 'safe',
    time: new Date(Date.parse('2024-05-04T10:00:00Z') + i * 600_000).toISOString().replace('.000Z', 'Z'),
  }));
}

/** Every order of `items` (by index). */
function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((rest) => Array.from({ length: n }, (_, i) => [...rest.slice(0, i), n - 1, ...rest.slice(i)]));
}

/** The delivery orders tried for a history of `n` entries: all of them up to 5, a seeded sample of 120 of the 720 for 6. */
function orders(n: number, next: () => number): number[][] {
  const all = permutations(n);
  return all.length <= 120 ? all : shuffled(all, next).slice(0, 120);
}

/** The rule's findings active at the end, each as `eventTime id`, by time. */
function openAtEnd(findings: readonly Finding[], rule: string): string[] {
  const last = new Map<string, Finding>();
  for (const f of findings) if (f.rule === rule) last.set(f.id, f);
  return [...last.values()].filter((f) => (f.status ?? 'active') === 'active').map((f) => `${f.eventTime} ${f.id}`).sort();
}

const describeSteps = (steps: readonly Step[]): string => steps.map((s) => `${hhmm(s.time)} ${s.kind}`).join(', ');

interface Outcome {
  readonly rule: string;
  readonly steps: readonly Step[];
  readonly order: readonly number[];
  readonly inOrder: readonly string[];
  readonly live: readonly string[];
}

/** The entry of `step` under `rule`. */
const entryOf = (rule: Rule, s: Step): Json => (s.kind === 'delete' ? deleteServiceAt(s.time, SLACK_BOT) : rule.write(s.time, s.kind === 'risky'));

/** The rule's findings open at the end of `steps` in timestamp order, after the safe baseline write (one run per history). */
async function openInOrder(rule: Rule, steps: readonly Step[]): Promise<string[]> {
  return openAtEnd(await findingsOf([rule.write(BASELINE, false), ...steps.map((s) => entryOf(rule, s))]), rule.rule);
}

/** `steps` delivered in `order` live, compared with `inOrder` (openInOrder of the same steps). */
async function outcome(rule: Rule, steps: readonly Step[], order: readonly number[], inOrder: readonly string[]): Promise<Outcome> {
  const live = openAtEnd(await findingsLive([rule.write(BASELINE, false), ...order.map((i) => entryOf(rule, steps[i]!))]), rule.rule);
  return { rule: rule.rule, steps, order, inOrder, live };
}

type Mismatch = 'stale' | 'lost';

interface KnownException {
  readonly mismatch: Mismatch;
  readonly rules: readonly string[];
  /** Why main gets it wrong, in one line. */
  readonly reason: string;
  readonly matches: (steps: readonly Step[], order: readonly number[]) => boolean;
}

/**
 * What main still gets wrong, by structure: each mismatch must be one of these, and each of these must still occur.
 * None left: the 'lost' class (a late write that ended the risk reported nothing for the newer re-created write where
 * another re-created write between was known; 13 ingress-opened and 13 default-url-enabled runs) and the 'stale' class
 * (a re-created write judged before the older risky write it follows arrived reported itself; 50, 93, 118 and 145 runs)
 * went with the re-created service's first write that holds the risk the delete closed raising it again: timestamp
 * order has that finding open too, and the re-created write between raises a finding of its own that stands for the risk.
 */
const KNOWN: readonly KnownException[] = [];

/** Where both orders have a finding of the rule open at the end: live has more (extra), or another one (other). */
type SetMismatch = 'extra' | 'other';

/** How the findings open at the end differ where both orders have one open; undefined when the same. */
function setMismatch(o: Outcome): SetMismatch | undefined {
  if (o.live.length === 0 || o.inOrder.length === 0 || o.live.join() === o.inOrder.join()) return undefined;
  return o.live.length > o.inOrder.length ? 'extra' : 'other';
}

interface KnownSetDifference {
  readonly mismatch: SetMismatch;
  readonly rules: readonly string[];
  /** Why, in one line: the same with no delete (see the header). */
  readonly reason: string;
  /** By structure: the history, the delete's time (HH:MM), and the eventTimes (HH:MM) open at the end in each order. */
  readonly matches: (steps: readonly Step[], deletedAt: string, live: readonly string[], inOrder: readonly string[]) => boolean;
}

const ALL_RULES = RULES.map((r) => r.rule);
/** The kinds of the steps strictly between two times (HH:MM). */
const kindsBetween = (steps: readonly Step[], from: string, to: string): Step['kind'][] => steps.filter((s) => hhmm(s.time) > from && hhmm(s.time) < to).map((s) => s.kind);

/**
 * Which findings stay open where they are not timestamp order's, by structure: each difference must be one of these,
 * and each of these must still occur. (Fixed: a late delete kept every finding dated before it open for the re-created
 * risk, where a late write had left two open; the re-created service's first write, arriving late, left the findings
 * of newer re-created writes open beside its own; iap-disabled and binary-authorization-bypass left a late turn-off's
 * finding open beside newer ones', delete or not, 68 and 140 runs here: late-delete-duplicates.)
 */
const KNOWN_SETS: readonly KnownSetDifference[] = [
  {
    mismatch: 'other',
    rules: ALL_RULES,
    reason: 'the late delete keeps the newest finding dated before it open for the risk the re-created service sets again (reportedAgainAfterDelete) where no finding of the re-created service is open when it comes (its write, judged before the delete came, raised nothing, or an older write arriving later closed its finding); as a late write\'s finding stands for newer writes\' risk with no delete (settingRiskInForce)',
    matches: (_steps, deletedAt, live, inOrder) => live.length === 1 && inOrder.length === 1 && live[0]! < deletedAt && inOrder[0]! > deletedAt,
  },
  {
    mismatch: 'other',
    rules: ALL_RULES,
    reason: 'a restore between two re-created writes that set the risk, arriving after the newer one, is not the newest word and closes nothing: the older one\'s finding stands for the risk the newer one set again, as with no delete',
    matches: (steps, deletedAt, live, inOrder) =>
      live.length === 1 && inOrder.length === 1 && deletedAt < live[0]! && live[0]! < inOrder[0]! && kindsBetween(steps, live[0]!, inOrder[0]!).includes('safe'),
  },
  {
    mismatch: 'other',
    rules: ['iap-disabled'],
    reason: 'the re-created service\'s first write that sets the risk came before the delete, judged against the deleted service\'s risky value: it raised nothing and closed nothing; a newer re-created write\'s late finding (standing for a newer one\'s risk, which no older write closes: supersededFindings) stands for the risk. With no delete the same writes leave the older finding open beside it (the extra class below); here the delete closes that one',
    matches: (steps, deletedAt, live, inOrder) =>
      live.length === 1 && inOrder.length === 1 && deletedAt < inOrder[0]! && inOrder[0]! < live[0]! && !kindsBetween(steps, deletedAt, live[0]!).includes('safe'),
  },
  {
    mismatch: 'other',
    rules: ['ingress-opened'],
    reason: 'the same write\'s finding under another id: its id names the ingress before the write, which the live order read from what had come (the baseline\'s restriction) where timestamp order names the deleted service\'s `all` (the risk raised again: riskClosedByDelete); with no delete too, an older write arriving late (internal-and-cloud-load-balancing after internal) changes the ingress before a write judged already',
    matches: (_steps, _deletedAt, live, inOrder) => live.length === 1 && inOrder.length === 1 && live[0] === inOrder[0],
  },
  {
    mismatch: 'extra',
    rules: ['ingress-opened'],
    reason: 'three or more re-created writes that open the ingress, delivered newest first before the delete came: the late finding of the middle one stands for the newest one\'s risk, and the oldest, arriving last, closes no late finding (supersededFindings), as with no delete',
    matches: (steps, deletedAt, live, inOrder) =>
      [...live, ...inOrder].every((t) => t > deletedAt) && steps.filter((s) => s.kind === 'risky' && hhmm(s.time) > deletedAt).length >= 3,
  },
];

const HISTORIES = 16;

/** A history tried for every rule besides the random ones: a re-created write between the delete and the newer one. */
const FIXED: readonly (readonly Step['kind'][])[] = [['risky', 'delete', 'risky', 'safe', 'risky']];

/** The fixed histories, then HISTORIES random ones drawn from `next`. */
function histories(next: () => number): Step[][] {
  const at = (i: number): string => new Date(Date.parse('2024-05-04T10:00:00Z') + i * 600_000).toISOString().replace('.000Z', 'Z');
  return [...FIXED.map((kinds) => kinds.map((kind, i) => ({ kind, time: at(i) }))), ...Array.from({ length: HISTORIES }, () => history(next))];
}

describe('a late delete among writes of the deleted and the re-created service: the risk open at the end is timestamp order\'s, and one finding stands for it', () => {
  it.each(RULES.map((r, i) => [r.rule, r, i] as const))('%s', async (_name, rule, i) => {
    const next = seededRandom(4099 + 7919 * i);
    const unexplained: string[] = [];
    const used = new Set<KnownException>();
    const unexplainedSets: string[] = [];
    const usedSets = new Set<KnownSetDifference>();
    const counts = { runs: 0, stale: 0, lost: 0, extra: 0, other: 0 };
    for (const steps of histories(next)) {
      const inOrder = await openInOrder(rule, steps);
      for (const order of orders(steps.length, next)) {
        const o = await outcome(rule, steps, order, inOrder);
        counts.runs++;
        const delivered = `${describeSteps(steps)} delivered ${order.map((i) => hhmm(steps[i]!.time)).join(', ')} (timestamp order: [${o.inOrder.map(hhmm).join(', ')}], live: [${o.live.map(hhmm).join(', ')}])`;
        const setDifference = setMismatch(o);
        if (setDifference !== undefined) {
          counts[setDifference]++;
          const deletedAt = hhmm(steps.find((s) => s.kind === 'delete')!.time);
          const known = KNOWN_SETS.find((k) => k.mismatch === setDifference && k.rules.includes(rule.rule) && k.matches(steps, deletedAt, o.live.map(hhmm), o.inOrder.map(hhmm)));
          if (known) usedSets.add(known);
          else unexplainedSets.push(`${setDifference}: ${delivered}`);
        }
        const mismatch: Mismatch | undefined = o.live.length > 0 && o.inOrder.length === 0 ? 'stale' : o.live.length === 0 && o.inOrder.length > 0 ? 'lost' : undefined;
        if (mismatch === undefined) continue;
        counts[mismatch]++;
        const known = KNOWN.find((k) => k.mismatch === mismatch && k.rules.includes(rule.rule) && k.matches(steps, order));
        if (known) used.add(known);
        else unexplained.push(`${mismatch}: ${delivered}`);
      }
    }
    if (process.env['LATE_DELETE_COUNTS']) console.log(`${rule.rule}: ${JSON.stringify(counts)}`);
    expect(unexplained).toEqual([]);
    // A class fixed since is taken off the list (it would hide the bug coming back).
    expect(KNOWN.filter((k) => k.rules.includes(rule.rule) && !used.has(k)).map((k) => k.reason)).toEqual([]);
    // Which findings are open, where both orders have one: every difference is a known class, and each still occurs.
    expect(unexplainedSets).toEqual([]);
    expect(KNOWN_SETS.filter((k) => k.rules.includes(rule.rule) && !usedSets.has(k)).map((k) => k.reason)).toEqual([]);
  }, 120_000);
});
