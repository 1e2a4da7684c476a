// A delete delivered out of order among the writes of the service before it and of the one created again under the
// name after it, for the four rules whose setting carries across the delete (revision.ts settingRestored: the
// re-created service is compared with the deleted one's setting): ingress-opened, iap-disabled, default-url-enabled,
// binary-authorization-bypass. Seeded random short histories (after a safe write delivered first: the baseline, 3 to 6
// entries: writes that set the rule's risk or not, before and after one delete), each delivered in every order (a seeded
// sample of them for 6 entries), and one fixed history (a re-created write between the delete and the newer one),
// compared with timestamp order on the risk open at the end: a finding of the rule open in one and none in the other.
// Stale: open live where timestamp order has none; lost: timestamp order has one open, the live order none (the
// re-created service holds the risk with nothing open in any sink).
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { at, deleteServiceAt, editV1Services, SLACK_BOT, synthetic, withOperationId, type Json } from '../support/entries.js';
import { findingsLive, findingsOf } from '../support/run.js';
import { seededRandom, shuffled } from '../support/random.js';

type Annotations = Record<string, string>;
type Obj = Record<string, any>;

/** The gcloud v1 ReplaceService fixture (SLACK_BOT) at `time`, a new image each time, with the service's `annotations`. */
function deploy(time: string, annotations: Annotations): Json {
  const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
    const meta = svc['metadata'] as Record<string, Annotations>;
    meta['annotations'] = { ...meta['annotations'], ...annotations };
    const template = (svc['spec'] as Obj)['template'] as Obj;
    template['spec']['containers'] = [{ name: 'app', image: `gcr.io/acme/app:${time.slice(11, 16).replace(':', '')}`, env: [] }];
  });
  return at(withOperationId(entry, `op-${time}`), time);
}

interface Rule {
  readonly rule: string;
  /** A write at `time` that sets the rule's risk (`risky`) or ends it. */
  readonly write: (time: string, risky: boolean) => Json;
}

const RULES: readonly Rule[] = [
  { rule: 'ingress-opened', write: (time, risky) => deploy(time, { 'run.googleapis.com/ingress': risky ? 'all' : 'internal' }) },
  { rule: 'iap-disabled', write: (time, risky) => deploy(time, { 'run.googleapis.com/iap-enabled': String(!risky) }) },
  { rule: 'default-url-enabled', write: (time, risky) => deploy(time, { 'run.googleapis.com/default-url-disabled': String(!risky) }) },
  { rule: 'binary-authorization-bypass', write: (time, risky) => deploy(time, risky ? {} : { 'run.googleapis.com/binary-authorization': 'default' }) },
];

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

/** The eventTimes of the rule's findings active at the end. */
function openAtEnd(findings: readonly Finding[], rule: string): string[] {
  const last = new Map<string, Finding>();
  for (const f of findings) if (f.rule === rule) last.set(f.id, f);
  return [...last.values()].filter((f) => (f.status ?? 'active') === 'active').map((f) => f.eventTime).sort();
}

const describeSteps = (steps: readonly Step[]): string => steps.map((s) => `${hhmm(s.time)} ${s.kind}`).join(', ');

interface Outcome {
  readonly rule: string;
  readonly steps: readonly Step[];
  readonly order: readonly number[];
  readonly inOrder: readonly string[];
  readonly live: readonly string[];
}

async function outcome(rule: Rule, steps: readonly Step[], order: readonly number[]): Promise<Outcome> {
  const entry = (s: Step): Json => (s.kind === 'delete' ? deleteServiceAt(s.time, SLACK_BOT) : rule.write(s.time, s.kind === 'risky'));
  const first = rule.write(BASELINE, false);
  const inOrder = openAtEnd(await findingsOf([first, ...steps.map(entry)]), rule.rule);
  const live = openAtEnd(await findingsLive([first, ...order.map((i) => entry(steps[i]!))]), rule.rule);
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

const HISTORIES = 16;

/** A history tried for every rule besides the random ones: a re-created write between the delete and the newer one. */
const FIXED: readonly (readonly Step['kind'][])[] = [['risky', 'delete', 'risky', 'safe', 'risky']];

/** The fixed histories, then HISTORIES random ones drawn from `next`. */
function histories(next: () => number): Step[][] {
  const at = (i: number): string => new Date(Date.parse('2024-05-04T10:00:00Z') + i * 600_000).toISOString().replace('.000Z', 'Z');
  return [...FIXED.map((kinds) => kinds.map((kind, i) => ({ kind, time: at(i) }))), ...Array.from({ length: HISTORIES }, () => history(next))];
}

describe('a late delete among writes of the deleted and the re-created service: the risk open at the end is timestamp order\'s', () => {
  it.each(RULES.map((r, i) => [r.rule, r, i] as const))('%s', async (_name, rule, i) => {
    const next = seededRandom(4099 + 7919 * i);
    const unexplained: string[] = [];
    const used = new Set<KnownException>();
    const counts = { runs: 0, stale: 0, lost: 0 };
    for (const steps of histories(next)) {
      for (const order of orders(steps.length, next)) {
        const o = await outcome(rule, steps, order);
        counts.runs++;
        const mismatch: Mismatch | undefined = o.live.length > 0 && o.inOrder.length === 0 ? 'stale' : o.live.length === 0 && o.inOrder.length > 0 ? 'lost' : undefined;
        if (mismatch === undefined) continue;
        counts[mismatch]++;
        const known = KNOWN.find((k) => k.mismatch === mismatch && k.rules.includes(rule.rule) && k.matches(steps, order));
        if (known) used.add(known);
        else unexplained.push(`${mismatch}: ${describeSteps(steps)} delivered ${order.map((i) => hhmm(steps[i]!.time)).join(', ')} (timestamp order: [${o.inOrder.map(hhmm).join(', ')}], live: [${o.live.map(hhmm).join(', ')}])`);
      }
    }
    if (process.env['LATE_DELETE_COUNTS']) console.log(`${rule.rule}: ${JSON.stringify(counts)}`);
    expect(unexplained).toEqual([]);
    // A class fixed since is taken off the list (it would hide the bug coming back).
    expect(KNOWN.filter((k) => k.rules.includes(rule.rule) && !used.has(k)).map((k) => k.reason)).toEqual([]);
  }, 120_000);
});
