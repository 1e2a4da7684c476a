// vpc-egress-bypass over every delivery order of short random histories of one service, compared with timestamp order.
// Pub/Sub delivers without order, and the live pipeline judges a deploy when its rollout completes: a write older
// than one judged already comes late. Each history is 2 to 5 writes an hour apart (all-traffic egress through one of
// three destinations X, Y, Z; egress narrowed to private ranges, P; VPC access removed, N; each of those deployed with
// --no-traffic or not) and at most one delete (D). Each order is delivered live (each entry an hour after the one
// before, past every wait) and compared with the same entries delivered in timestamp order:
//   (a) the findings open at the end are timestamp order's (by time, kind and destinations before and after, as paged);
//   (b) every finding timestamp order reports is reported (ids are order-independent: the rule, kind, destination
//       after and time);
//   (c) a finding timestamp order never reports is closed at once: resolved in the delivery that reported it, or at
//       its own time (in event time it was never open);
//   (d) no finding is reported active again once resolved (a sink holds an id as one alert, opened once, closed once).
// What differs and is known is enumerated in KNOWN below: each class a predicate that matches exactly it, with its
// reason and how many differences of this seed it explains. A difference no class matches fails the test, and so does
// a class whose count changes (a fix that ends some says so there, as the rule's header does).
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { Pipeline } from '../../functions/pipeline.js';
import { at, deleteServiceAt, editV1Services, SLACK_BOT, synthetic, withOperationId, type Json } from '../support/entries.js';
import { seededRandom } from '../support/random.js';
import { config } from '../support/run.js';

const RULE = 'vpc-egress-bypass';

/** The three all-traffic destinations, as v1 template annotations, and as findings name them. */
const DESTINATIONS = {
  X: { annotations: { 'run.googleapis.com/vpc-access-connector': 'projects/test-project-1234/locations/asia-northeast1/connectors/egress' }, text: 'connector projects/test-project-1234/locations/asia-northeast1/connectors/egress' },
  Y: { annotations: { 'run.googleapis.com/vpc-access-connector': 'projects/other-proj/locations/asia-northeast1/connectors/open' }, text: 'connector projects/other-proj/locations/asia-northeast1/connectors/open' },
  Z: { annotations: { 'run.googleapis.com/network-interfaces': '[{"network":"default","subnetwork":"default"}]' }, text: 'Direct VPC subnetwork projects/test-project-1234/regions/asia-northeast1/subnetworks/default' },
} as const;
type Destination = keyof typeof DESTINATIONS;

/** One entry of a history: a deploy (all-traffic through a destination, P narrowed, N removed), or the delete D. */
type Step = `${Destination | 'P' | 'N'}${'' | '-nt'}` | 'D';

const hour = (i: number): string => `${String(10 + i).padStart(2, '0')}:00`;
const timeOf = (i: number): string => `2024-05-04T${hour(i)}:00Z`;

/** The gcloud v1 write of SLACK_BOT at `time` with `vpc` in its template annotations; --no-traffic pins an older revision. */
function deploy(time: string, vpc: Record<string, string>, noTraffic: boolean): Json {
  const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
    const template = (svc['spec'] as Json)['template'] as Json;
    (template['spec'] as Json)['containers'] = [{ image: `gcr.io/acme/app:${time}` }];
    const metadata = template['metadata'] as Json;
    metadata['annotations'] = { ...(metadata['annotations'] as Json | undefined), ...vpc };
    if (noTraffic) (svc['spec'] as Json)['traffic'] = [{ revisionName: 'hello-00002-abc', percent: 100 }];
  });
  return at(withOperationId(entry, `op-${time}`), time);
}

function entryOf(step: Step, i: number): Json {
  const time = timeOf(i);
  if (step === 'D') return deleteServiceAt(time, SLACK_BOT);
  const [what, nt] = step.split('-') as [Destination | 'P' | 'N', string | undefined];
  const vpc =
    what === 'P'
      ? { ...DESTINATIONS.X.annotations, 'run.googleapis.com/vpc-access-egress': 'private-ranges-only' }
      : what === 'N'
        ? {}
        : { ...DESTINATIONS[what].annotations, 'run.googleapis.com/vpc-access-egress': 'all-traffic' };
  return deploy(time, vpc, nt === 'nt');
}

/** A history of 2 to 5 entries: mostly all-traffic writes (that is where moves are), a quarter of deploys --no-traffic. */
function historyOf(next: () => number): Step[] {
  const steps: Step[] = [];
  const length = 2 + Math.floor(next() * 4);
  for (let i = 0; i < length; i++) {
    const r = next();
    if (r < 0.1 && !steps.includes('D')) {
      steps.push('D');
      continue;
    }
    const what = r < 0.7 ? (['X', 'Y', 'Z'] as const)[Math.floor(next() * 3)]! : r < 0.85 ? 'P' : 'N';
    steps.push(next() < 0.25 ? `${what}-nt` : what);
  }
  return steps;
}

function permutations(n: number): number[][] {
  const out: number[][] = [];
  const walk = (prefix: number[], rest: number[]): void => {
    if (rest.length === 0) out.push(prefix);
    rest.forEach((r, i) => walk([...prefix, r], [...rest.slice(0, i), ...rest.slice(i + 1)]));
  };
  walk([], [...Array(n).keys()]);
  return out;
}

/** A finding of the rule and the delivery (0-based: the entry handled, or the sweep after it) that emitted it. */
interface Emitted {
  readonly finding: Finding;
  readonly delivery: number;
}

/** Delivers `entries` live in the order given, an hour apart, a sweep before each; the rule's findings, in order. */
async function deliver(entries: readonly Json[]): Promise<Emitted[]> {
  const pipeline = new Pipeline({ config: config(), store: new MemoryBaselineStore() });
  const out: Emitted[] = [];
  let now = Date.parse('2030-01-01T00:00:00Z');
  const keep = (findings: readonly Finding[], delivery: number): void => {
    for (const finding of findings) if (finding.rule === RULE) out.push({ finding, delivery });
  };
  for (const [i, entry] of entries.entries()) {
    now += 3_600_000;
    keep(await pipeline.sweep(now), i - 1);
    const outcome = await pipeline.handleEntry(entry, now);
    if (outcome.status === 'processed') keep(outcome.findings, i);
  }
  keep(await pipeline.sweep(now + 3_600_000), entries.length - 1);
  keep(await pipeline.flush(), entries.length - 1);
  return out;
}

const SHORT = new Map<unknown, string>([...Object.entries(DESTINATIONS).map(([name, d]) => [d.text, name] as const), ['all-traffic', 'all'], ['private-ranges-only', 'P'], ['none', 'N']]);

/** `11:00 X->Y` for a move, `11:00 all->P` for a narrowing: its time and what it says it went from and to. */
function label(f: Finding): string {
  const text = (value: unknown): string => SHORT.get(value) ?? String(value);
  return `${f.eventTime.slice(11, 16)} ${text(f.evidence['before'])}->${text(f.evidence['after'])}`;
}

/** What a run told of each finding: its first report (as paged), its last word, and whether it was closed at once. */
interface Story {
  readonly first: Finding;
  readonly last: Finding;
  readonly closedAtOnce: boolean;
  /** Reported active again after it was resolved: sinks take a finding's id as one alert, opened once, closed once. */
  readonly reopened: boolean;
}

function storiesOf(emitted: readonly Emitted[]): Map<string, Story> {
  const stories = new Map<string, Story & { firstDelivery: number }>();
  for (const { finding, delivery } of emitted) {
    const story = stories.get(finding.id);
    if (story === undefined) {
      stories.set(finding.id, { first: finding, last: finding, closedAtOnce: false, reopened: false, firstDelivery: delivery });
      continue;
    }
    const closedAtOnce = finding.status === 'resolved' && (delivery === story.firstDelivery || finding.resolution?.time === finding.eventTime);
    const reopened = story.reopened || (story.last.status === 'resolved' && finding.status !== 'resolved');
    stories.set(finding.id, { ...story, last: finding, closedAtOnce, reopened });
  }
  return stories;
}

/** How one delivery order differs from timestamp order about one finding (see the file's head: (a), (b), (c)). */
type Kind = 'reported again after it was resolved' | 'open, not in timestamp order' | 'not open, open in timestamp order' | 'paged with another destination before' | 'never reported' | 'extra';

/** One finding of a history's delivery order that differs from timestamp order, and what became of it in each. */
interface Difference {
  readonly history: readonly Step[];
  readonly order: readonly number[];
  readonly kind: Kind;
  /** Its story in timestamp order, and in this order (each undefined where that order never reported it). */
  readonly inOrder?: Story;
  readonly delivered?: Story;
  /** Every finding's story in timestamp order. */
  readonly all: readonly Story[];
}

function differences(history: readonly Step[], order: readonly number[], inOrder: Map<string, Story>, delivered: Map<string, Story>): Difference[] {
  const out: Difference[] = [];
  const add = (kind: Kind, id: string): void => void out.push({ history, order, kind, all: [...inOrder.values()], ...(inOrder.has(id) ? { inOrder: inOrder.get(id)! } : {}), ...(delivered.has(id) ? { delivered: delivered.get(id)! } : {}) });
  const isOpen = (s: Story | undefined): boolean => s !== undefined && s.last.status !== 'resolved';
  for (const id of new Set([...inOrder.keys(), ...delivered.keys()])) {
    const [want, got] = [inOrder.get(id), delivered.get(id)];
    if (isOpen(got) && !isOpen(want)) add('open, not in timestamp order', id);
    if (isOpen(want) && !isOpen(got)) add('not open, open in timestamp order', id);
    if (isOpen(want) && isOpen(got) && label(want!.first) !== label(got!.first)) add('paged with another destination before', id);
    if (want !== undefined && got === undefined) add('never reported', id);
    if (want === undefined && got !== undefined && !got.closedAtOnce) add('extra', id);
    if (got?.reopened === true) add('reported again after it was resolved', id);
  }
  return out;
}

const describeDifference = (d: Difference): string =>
  `[${d.history.join(' ')}] order ${d.order.join('')} ${d.kind}: ${d.delivered ? label(d.delivered.first) : ''}${d.inOrder && d.delivered ? ' / in order ' : ''}${d.inOrder ? label(d.inOrder.first) : ''}`;

/**
 * Known differences, each matched by the class it belongs to (a predicate over the history, the delivery order and
 * the finding), with the reason it is left. A difference no class matches fails the test.
 */
interface KnownClass {
  /** How many differences of this run it explains: a fix that ends some, or a change that adds some, says so here. */
  readonly count: number;
  readonly reason: string;
  readonly matches: (d: Difference) => boolean;
}

/** The index in its history of the entry a finding is about (its eventTime: entries are an hour apart from 10:00). */
const indexOf = (f: Finding): number => Number(f.eventTime.slice(11, 13)) - 10;
const position = (d: Difference, i: number): number => d.order.indexOf(i);
const story = (d: Difference): Story => (d.delivered ?? d.inOrder)!;
const isMove = (f: Finding): boolean => f.evidence['egress'] === 'all-traffic';

const KNOWN: readonly KnownClass[] = [
  {
    count: 230,
    reason: 'a paged move is not sent again when an older write shows another destination before it (its id names none)',
    matches: (d) => d.kind === 'paged with another destination before',
  },
  {
    count: 2,
    reason: 'a move to where a late write between had gone, closed by a delete before that write came (in order: no move)',
    matches: (d) => {
      const f = story(d).first;
      const before = d.history[indexOf(f) - 1];
      return d.kind === 'extra' && isMove(f) && d.delivered?.last.resolution?.reason === 'the service was deleted' && before?.split('-')[0] === d.history[indexOf(f)]!.split('-')[0] && position(d, indexOf(f) - 1) > position(d, indexOf(f));
    },
  },
  {
    count: 64,
    reason: 'a narrowing judged against all-traffic before an older narrowing between arrived stays open (in order no finding; closing it may reopen it)',
    matches: (d) => {
      const f = story(d).first;
      const before = d.history[indexOf(f) - 1];
      return (d.kind === 'extra' || d.kind === 'open, not in timestamp order') && !isMove(f) && (before?.startsWith('P') === true || before?.startsWith('N') === true) && position(d, indexOf(f) - 1) > position(d, indexOf(f));
    },
  },
];

const SEED = 20261207;
const HISTORIES = 40;

describe('vpc-egress-bypass: every delivery order of random short histories gives what timestamp order gives', () => {
  it(`seed ${SEED}, ${HISTORIES} histories of 2 to 5 entries: no difference but the known ones`, async () => {
    const next = seededRandom(SEED);
    const unexplained: string[] = [];
    const explained = new Map<KnownClass, number>();
    let orders = 0;
    let movesInOrder = 0;
    for (let h = 0; h < HISTORIES; h++) {
      const history = historyOf(next);
      const entries = history.map(entryOf);
      const inOrder = storiesOf(await deliver(entries));
      movesInOrder += [...inOrder.values()].filter((s) => s.first.evidence['egress'] === 'all-traffic').length;
      for (const order of permutations(entries.length)) {
        orders++;
        const delivered = storiesOf(await deliver(order.map((i) => entries[i]!)));
        for (const d of differences(history, order, inOrder, delivered)) {
          const known = KNOWN.find((k) => k.matches(d));
          if (known) explained.set(known, (explained.get(known) ?? 0) + 1);
          else unexplained.push(`#${h} ${describeDifference(d)}`);
        }
      }
    }
    // The histories are worth checking: they move the egress, and many orders are replayed.
    expect(movesInOrder).toBeGreaterThan(HISTORIES / 2);
    expect(orders).toBeGreaterThan(1000);
    expect(unexplained).toEqual([]);
    expect(KNOWN.map((k) => `${explained.get(k) ?? 0} ${k.reason}`)).toEqual(KNOWN.map((k) => `${k.count} ${k.reason}`));
  }, 60_000);
});
