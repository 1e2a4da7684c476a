// vpc-egress-bypass for a service deleted and created again under the name whose first write keeps the egress the
// deleted service had at its delete: narrowed to private ranges, or VPC access removed, with the deleted service's
// finding open then. The rule compares the re-created service with the deleted one's last revision, saw no change and
// raised nothing, while the delete had closed the finding ("the service was deleted"): every sink showed it resolved
// while the service under the name sent its internet traffic past the VPC's firewall rules, Cloud NAT and perimeter.
// The re-created service's first write that holds it raises the finding again (its own time and id,
// `recreatedAfterDeleteAt`, words that say the delete closed the old one), as the other setting rules do
// (recreate-risk-again.test.ts); a later write that keeps it raises nothing more, a first write that sends all traffic
// through the VPC again raises nothing, and a deleted service narrowed from its first known revision had no finding to
// close. A move is not raised again: a re-created service that keeps the deleted one's all-traffic destination made no
// change of destination (the move finding's subject), and its traffic still goes through a VPC.
// Each history runs in timestamp order (replay) and as delivered live, in order.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { at, deleteServiceAt, editV1Services, SLACK_BOT, synthetic, withOperationId, type Json } from '../support/entries.js';
import { config, findingsLive, findingsOf } from '../support/run.js';

const RULE = 'vpc-egress-bypass';
type Annotations = Record<string, string>;

const X = { 'run.googleapis.com/vpc-access-connector': 'projects/test-project-1234/locations/asia-northeast1/connectors/egress' };
const Y = { 'run.googleapis.com/vpc-access-connector': 'projects/other-proj/locations/asia-northeast1/connectors/open' };

/** What a write sets: all traffic through X or Y, private ranges only (through X), or no VPC access (N). */
const EGRESS: Readonly<Record<'X' | 'Y' | 'P' | 'N', Annotations>> = {
  X: { ...X, 'run.googleapis.com/vpc-access-egress': 'all-traffic' },
  Y: { ...Y, 'run.googleapis.com/vpc-access-egress': 'all-traffic' },
  P: { ...X, 'run.googleapis.com/vpc-access-egress': 'private-ranges-only' },
  N: {},
};
type Step = keyof typeof EGRESS | 'D';

/** The gcloud v1 ReplaceService fixture (SLACK_BOT, containers logged) at `time`, a new image, `vpc` in its template. */
function deploy(time: string, vpc: Annotations): Json {
  const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
    const template = (svc['spec'] as Json)['template'] as Json;
    (template['spec'] as Json)['containers'] = [{ image: `gcr.io/acme/app:${time.slice(11, 16).replace(':', '')}` }];
    const metadata = template['metadata'] as Json;
    metadata['annotations'] = { ...(metadata['annotations'] as Annotations | undefined), ...vpc };
  });
  return at(withOperationId(entry, `op-${time}`), time);
}

/** Steps an hour apart from 09:00. */
const timeOf = (i: number): string => `2024-05-04T${String(9 + i).padStart(2, '0')}:00:00Z`;
const entriesOf = (steps: readonly Step[]): Json[] => steps.map((s, i) => (s === 'D' ? deleteServiceAt(timeOf(i), SLACK_BOT) : deploy(timeOf(i), EGRESS[s])));

const DELETED_AT = '2024-05-04T11:00:00.000Z';
const T = { narrowed: '2024-05-04T10:00:00Z', again: '2024-05-04T12:00:00Z' };

interface History {
  readonly name: string;
  /** 09:00, 10:00, ...: the delete at 11:00. */
  readonly steps: readonly Step[];
  /** The eventTimes of the rule's findings active at the end. */
  readonly open: readonly string[];
  /** The eventTimes of every finding raised about the re-created service. */
  readonly recreated: readonly string[];
  /** For each of those: its `after`, and what its summary says the re-created service holds beside the deleted one's. */
  readonly after?: string;
  readonly says?: string;
}

const HISTORIES: readonly History[] = [
  {
    name: 'narrowed, deleted, created again still narrowed',
    steps: ['X', 'P', 'D', 'P'],
    open: [T.again],
    recreated: [T.again],
    after: 'private-ranges-only',
    says: 'created again with egress `private-ranges-only`, as the deleted service had it',
  },
  {
    name: 'VPC access removed, deleted, created again without it',
    steps: ['X', 'N', 'D', 'N'],
    open: [T.again],
    recreated: [T.again],
    after: 'none',
    says: 'created again with no VPC access, as the deleted service had it',
  },
  {
    name: 'narrowed, deleted, created again without VPC access',
    steps: ['X', 'P', 'D', 'N'],
    open: [T.again],
    recreated: [T.again],
    after: 'none',
    says: 'created again with no VPC access, where the deleted service had egress `private-ranges-only`',
  },
  {
    name: 'as the first, and a later write keeps it: only the first write raises it again',
    steps: ['X', 'P', 'D', 'P', 'P'],
    open: [T.again],
    recreated: [T.again],
    after: 'private-ranges-only',
    says: 'created again with egress `private-ranges-only`, as the deleted service had it',
  },
  { name: 'narrowed, deleted, created again sending all traffic through the VPC', steps: ['X', 'P', 'D', 'X'], open: [], recreated: [] },
  { name: 'narrowed from its first known revision (no finding to close), deleted, created again narrowed', steps: ['P', 'P', 'D', 'P'], open: [], recreated: [] },
  // The move finding is about a change of destination; the re-created service made none, and its traffic still all
  // goes through a VPC.
  { name: 'moved from X to Y, deleted, created again through Y: no move raised again', steps: ['X', 'Y', 'D', 'Y'], open: [], recreated: [] },
];

/** Each finding's last state, by id. */
const lastOf = (findings: readonly Finding[]): Finding[] => [...new Map(findings.filter((f) => f.rule === RULE).map((f) => [f.id, f])).values()];

describe('vpc-egress-bypass: a service created again with the egress its delete closed the finding on is reported again', () => {
  it.each(HISTORIES.map((h) => [`[${h.steps.join(' ')}] ${h.name}`, h] as const))('%s', async (_label, h) => {
    for (const run of [findingsOf, findingsLive]) {
      const last = lastOf(await run(entriesOf(h.steps), config()));
      expect(last.filter((f) => f.status !== 'resolved').map((f) => f.eventTime), run.name).toEqual(h.open);
      const recreated = last.filter((f) => Date.parse(f.eventTime) > Date.parse(DELETED_AT));
      expect(recreated.map((f) => f.eventTime), run.name).toEqual(h.recreated);
      for (const f of recreated) {
        expect(f.evidence, run.name).toMatchObject({ before: 'all-traffic', after: h.after, recreatedAfterDeleteAt: DELETED_AT });
        expect(f.summary, run.name).toContain(`${h.says}: the finding about the deleted service was closed by its delete at ${DELETED_AT}`);
        // Its own id: not the deleted service's finding, which the delete closed.
        const deleted = last.find((o) => o.eventTime === T.narrowed);
        expect(deleted?.status, run.name).toBe('resolved');
        expect(deleted?.resolution?.reason, run.name).toBe('the service was deleted');
        expect(f.id, run.name).not.toBe(deleted?.id);
      }
    }
  });
});

// Delivered live out of order: what the first write was judged without arrives after it. The finding raised again is
// timestamp order's (its time and id), reported on that write's behalf where it raised nothing: by the delete, or by
// the all-traffic write of the deleted service that shows its finding open at the delete (`evidence.reportedFrom`,
// principal unknown); and a newer write judged as the re-created service's first is closed at its own time when its
// older first write comes (in timestamp order it raises nothing).
interface Late {
  readonly name: string;
  readonly steps: readonly Step[];
  /** The delivery order, as indexes into `steps`. */
  readonly order: readonly number[];
  /** What reported the finding raised again, where the first write did not itself. */
  readonly reportedFrom?: string;
  /** The eventTime of a finding judged as the first write, closed at its own time, if any. */
  readonly closedAtItsTime?: string;
}

const LATE: readonly Late[] = [
  { name: 'the delete delivered after the re-created write', steps: ['X', 'P', 'D', 'N'], order: [0, 1, 3, 2], reportedFrom: 'the delete, which arrived later' },
  { name: "the deleted service's all-traffic write delivered last", steps: ['X', 'P', 'D', 'N'], order: [1, 2, 3, 0], reportedFrom: 'an older write that arrived later' },
  { name: "the re-created service's first write delivered after its second", steps: ['X', 'P', 'D', 'P', 'N'], order: [0, 1, 2, 4, 3], closedAtItsTime: '2024-05-04T13:00:00Z' },
];

describe('vpc-egress-bypass: the finding raised again for a re-created service, delivered out of order', () => {
  it.each(LATE.map((l) => [`[${l.steps.join(' ')}] delivered ${l.order.join('')}: ${l.name}`, l] as const))('%s', async (_label, l) => {
    const entries = entriesOf(l.steps);
    const inOrder = lastOf(await findingsOf(entries, config()));
    const delivered = lastOf(await findingsLive(l.order.map((i) => entries[i]!), config()));
    const openOf = (findings: readonly Finding[]): string[] => findings.filter((f) => f.status !== 'resolved').map((f) => `${f.eventTime} ${f.id}`);
    expect(openOf(delivered)).toEqual(openOf(inOrder));
    const again = delivered.find((f) => f.eventTime === T.again)!;
    expect(again.status).not.toBe('resolved');
    expect(again.evidence).toMatchObject({ before: 'all-traffic', recreatedAfterDeleteAt: DELETED_AT });
    expect(again.summary).toContain(`the finding about the deleted service was closed by its delete at ${DELETED_AT}`);
    if (l.reportedFrom !== undefined) {
      expect(again).toMatchObject({ principal: 'unknown', evidence: { reportedFrom: l.reportedFrom } });
    }
    if (l.closedAtItsTime !== undefined) {
      const closed = delivered.find((f) => f.eventTime === l.closedAtItsTime);
      expect(closed?.resolution?.time).toBe(l.closedAtItsTime);
    }
  });
});
