// A v1 deploy whose system events were taken, by time alone, for a v2 write's late half (its write came after they
// were judged): its write, tied to them by its operation id, is the deploy after all, and the v2 write gets its span
// back for its own events.
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../../functions/baseline/memory.js';
import type { Finding } from '../../../functions/findings/finding.js';
import { Pipeline } from '../../../functions/pipeline.js';
import { at, synthetic, variant, type Json } from '../../support/entries.js';
import { gcloudEvents as createdGcloudEvents, gcloudWrite, toSlackBot, USER, v2Write, withoutCreationTime } from '../../support/terraformThenGcloud.js';
import { config, findingsLive, findingsOf } from '../../support/run.js';

const HOUR = 3_600_000;
const strict = config({ changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }] });
const [, createdRevision] = synthetic('seq-v2-operation') as unknown as [Json, Json];

/**
 * The live pipeline: each entry delivered at its wall-clock time (an hour apart unless given), the scheduler's sweep
 * after each, and a last sweep an hour after the last delivery.
 */
async function live(entries: readonly (Json | readonly [Json, number])[], store = new MemoryBaselineStore(), start = Date.parse('2030-01-01T00:00:00Z')): Promise<Finding[]> {
  const pipeline = new Pipeline({ config: strict, store });
  const out: Finding[] = [];
  let now = start;
  for (const arrival of entries) {
    const [entry, at] = Array.isArray(arrival) ? (arrival as readonly [Json, number]) : [arrival as Json, now + HOUR];
    now = at;
    const outcome = await pipeline.handleEntry(entry, now);
    if (outcome.status === 'processed') out.push(...outcome.findings);
    out.push(...(await pipeline.sweep(now)));
  }
  out.push(...(await pipeline.sweep(now + HOUR)), ...(await pipeline.flush()));
  return out;
}
// The gcloud revision's events logged without a creation time: time and principal alone take them for the v2 write's
// late half (with one, created 3 min 40 s after the v2 write, they are not its revision: creation-time-late-half).
const gcloudEvents = withoutCreationTime(createdGcloudEvents);
const offWindow = (found: readonly Finding[]) => found.filter((f) => f.rule === 'off-window-deploy');

// The user runs Terraform (v2 write, no event in its wait), then deploys with gcloud (v1, operation 7a9d252c-...).
const gcloudWrite2 = variant(at(gcloudWrite, '2024-05-11T10:03:54Z'), (e) => {
  (((e.protoPayload['response'] as Json)['metadata'] as Json)['annotations'] as Json)['run.googleapis.com/operation-id'] = '0b0b0b0b-0000-4000-8000-000000000002';
});
const v2Events = toSlackBot(at(createdRevision, '2024-05-11T10:00:21Z'), 'cloud-run-slack-bot-00098-tfm', 'op-terraform');

describe("a v1 write whose events were taken by time for a v2 write's late half", () => {
  it('is still reported once the live sweep completes it (not only at the end of the input)', async () => {
    const found = offWindow(await live([v2Write, gcloudEvents, gcloudWrite]));
    expect(found.map((f) => f.eventTime)).toEqual(['2024-05-11T10:00:00Z', '2024-05-11T10:03:40Z']);
    // Judged at once (its events came already), under the revision they named.
    expect(found[1]).toMatchObject({ revision: 'cloud-run-slack-bot-00099-new', principal: USER });
  });

  it('in replay too, in any order of the three', async () => {
    for (const order of [[v2Write, gcloudEvents, gcloudWrite], [gcloudEvents, v2Write, gcloudWrite], [v2Write, gcloudWrite, gcloudEvents]]) {
      const found = offWindow(await findingsOf(order, strict));
      expect(found.map((f) => f.eventTime).sort()).toEqual(['2024-05-11T10:00:00Z', '2024-05-11T10:03:40Z']);
    }
  });

  it('gives the v2 write its span back: its own revision events, arriving later, are no second deploy', async () => {
    const found = offWindow(await findingsLive([v2Write, gcloudEvents, gcloudWrite, v2Events], strict));
    expect(found.map((f) => f.revision)).not.toContain('cloud-run-slack-bot-00098-tfm');
  });
});

describe('a write whose revision was seen in events judged already (revisionSeen)', () => {
  it('creates a revision whatever the template before it says; reportedAsDeploy and revisionKept still win', async () => {
    const { createsRevision } = await import('../../../functions/detectors/revision.js');
    const { parseEntry } = await import('../../../functions/audit/normalize.js');
    const { emptyBaseline } = await import('../../../functions/baseline/state.js');
    const parsed = parseEntry(gcloudWrite);
    if (parsed.kind !== 'change' || parsed.change.kind !== 'deploy') throw new Error('not a deploy');
    const write = parsed.change;
    // The very template in force before it: an ordinary write would have made no revision.
    const baseline = { ...emptyBaseline(), template: [{ t: write.timeMs - 1, v: write.templateFingerprint! }], lastChangeMs: write.timeMs - 1 };
    expect(createsRevision(write, baseline)).toBe(false);
    expect(createsRevision({ ...write, revisionSeen: true }, baseline)).toBe(true);
    expect(createsRevision({ ...write, revisionSeen: true, reportedAsDeploy: true }, baseline)).toBe(false);
    expect(createsRevision({ ...write, revisionSeen: true, revisionKept: true }, baseline)).toBe(false);
  });
});

// gcloud writes twice, the second write with an operation id of its own: delivered second-first, after the events
// were taken by time, the first write is still the deploy (it does not count as a repeat of the second, nor join
// the second's cross-API rollout that waits for a revision event already used up).
describe("gcloud's second write delivered before the first, after the events were taken by time", () => {
  const t0 = Date.parse('2030-01-01T00:00:00Z');
  const BOTH = ['2024-05-11T10:00:00Z', '2024-05-11T10:03:40Z'];
  it.each([
    ['first write first', [[v2Write, t0], [gcloudEvents, t0 + HOUR], [gcloudWrite, t0 + 2 * HOUR], [gcloudWrite2, t0 + 3 * HOUR]]],
    ['second write first, an hour apart', [[v2Write, t0], [gcloudEvents, t0 + HOUR], [gcloudWrite2, t0 + 2 * HOUR], [gcloudWrite, t0 + 3 * HOUR]]],
    ['second write first, the first a minute later', [[v2Write, t0], [gcloudEvents, t0 + HOUR], [gcloudWrite2, t0 + 2 * HOUR], [gcloudWrite, t0 + 2 * HOUR + 60_000]]],
  ] as [string, [Json, number][]][])('%s: the gcloud deploy is reported once', async (_name, arrivals) => {
    expect(offWindow(await live(arrivals)).map((f) => f.eventTime).sort()).toEqual(BOTH);
  });
});

// The other way round: gcloud's second write judged as the deploy (its cross-API wait ran out before any event of
// the service came) before its events and its first write: the first write is that deploy, not another one.
describe("gcloud's second write judged as the deploy before its events and its first write came", () => {
  it.each([
    ['v2, write2, events, write1', [v2Write, gcloudWrite2, gcloudEvents, gcloudWrite]],
    ['write2, v2, events, write1', [gcloudWrite2, v2Write, gcloudEvents, gcloudWrite]],
  ] as [string, Json[]][])('%s: the gcloud deploy is reported once', async (_name, entries) => {
    const gcloudDeploys = offWindow(await live(entries)).filter((f) => f.status !== 'resolved' && f.eventTime >= '2024-05-11T10:03:00Z');
    expect(gcloudDeploys).toHaveLength(1);
  });
});

describe('a baseline stored before completed rollouts said whether their write was reported (reportedWrite)', () => {
  const oldEvents = toSlackBot(at(createdRevision, '2024-05-11T09:00:00Z'), 'cloud-run-slack-bot-00097-old', 'op-old');
  it("gcloud's second write judged as no revision there: the first write, tied to events taken by time, is reported", async () => {
    const t0 = Date.parse('2030-01-01T00:00:00Z');
    // The service's events seen; the v2 write reported alone; gcloud's second write (across APIs) waits out: no revision.
    const before = new MemoryBaselineStore();
    await live([oldEvents, v2Write, gcloudWrite2], before, t0);
    // As an earlier version stored it: without the flag on any completed rollout.
    const stored = new MemoryBaselineStore([...before.entries()].map(([key, b]) => [key, { ...b, completed: b.completed?.map(({ reportedWrite: _absent, ...c }) => c) }]));
    const found = offWindow(await live([gcloudEvents, gcloudWrite], stored, t0 + 10 * HOUR));
    expect(found.map((f) => f.eventTime)).toEqual(['2024-05-11T10:03:40Z']);
  });
});
