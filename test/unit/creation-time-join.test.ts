// A revision's events tied to a write by time alone (a v2 write: its operation id is not in them) are tied by the
// revision's creation time too (`metadata.creationTimestamp`, RevisionObservation.createdMs; real entries show it
// 131-143 ms after the write that made the revision): a revision created before a write, or long after it, is not
// that write's. One principal (so the creator does not tell): a Terraform v2 write at 10:00 that made no revision
// event, then a gcloud deploy (v1, tied to its events by operation id) at 10:03:40 whose revision was created
// 10:03:40.86. Delivered events-before-write, the gcloud revision's events must not be taken for the v2 write's.
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { Finding } from '../../functions/findings/finding.js';
import { at, renamed, SEQ_V2_EVENT_OPERATION, SEQ_V2_REVISION, synthetic, variant, type Json } from '../support/entries.js';
import { gcloudEvents, gcloudWrite, v2Write } from '../support/terraformThenGcloud.js';
import { config, findingsArriving } from '../support/run.js';
import { replayedAsWritten } from '../support/replayAsWritten.js';

const strict = config({ changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }] });
const [create, createdRevision] = synthetic('seq-v2-operation') as unknown as [Json, Json];

const V2 = '2024-05-11T10:00:00Z';
const GCLOUD = '2024-05-11T10:03:40Z';
const GCLOUD_DIGEST = 'sha256:';

/** Each off-window-deploy finding: when, which revision, whether it carries a digest. */
function shown(found: readonly Finding[]): string[] {
  return found
    .filter((f) => f.rule === 'off-window-deploy' && f.status !== 'resolved')
    .map((f) => {
      const evidence = f.evidence as Record<string, unknown>;
      const digest = String(evidence['imageDigest'] ?? evidence['image'] ?? '');
      return `${f.eventTime} ${f.revision ?? 'unknown'} ${digest.includes(GCLOUD_DIGEST) ? 'digest' : 'no-digest'}`;
    })
    .sort();
}

type Order = readonly [string, readonly Json[]];
const ORDERS: readonly Order[] = [
  ['v2 write, gcloud events, gcloud write', [v2Write, gcloudEvents, gcloudWrite]],
  ['v2 write, gcloud write, gcloud events', [v2Write, gcloudWrite, gcloudEvents]],
  ['gcloud events, v2 write, gcloud write', [gcloudEvents, v2Write, gcloudWrite]],
];

/** Each entry delivered a second after its own time, or after the one before it, whichever is later. */
function arriving(entries: readonly Json[]): [Json, string][] {
  let last = 0;
  return entries.map((e) => {
    last = Math.max(last + 1000, Date.parse(String(e['timestamp'])) + 1000);
    return [e, new Date(last).toISOString()];
  });
}

describe("a revision created minutes after a v2 write is not that write's (one principal)", () => {
  const expected = [`${V2} unknown no-digest`, `${GCLOUD} cloud-run-slack-bot-00099-new digest`];
  it.each(ORDERS)('live: %s', async (_name, entries) => {
    expect(shown(await findingsArriving(arriving(entries), strict, new MemoryBaselineStore()))).toEqual(expected);
  });
  for (const mode of ['memory', 'file'] as const) {
    it.each(ORDERS)(`replay as written (${mode}): %s`, async (_name, entries) => {
      expect(shown(await replayedAsWritten(entries, strict, mode))).toEqual(expected);
    });
  }
});

// One principal's two v2 deploys 3 s apart, the revision created 140 ms after the first (before the second): its
// events, joining the first by time and principal, cannot be the second write's, so its findings do not say they
// may be (evidence.revisionMayBeOf). Created 140 ms after the second write, it is the second's (created soonest after
// it: createdFor), for certain. Created seconds after both, within CREATED_WITHIN_MS of each (its creation time does
// not decide), they still say so.
describe("one principal's two v2 deploys: a revision created before the second write is not said to be maybe the second's", () => {
  const W1 = '2024-06-03T11:00:00Z';
  const W2 = '2024-06-03T11:00:03Z';
  // Each its own image: the same template twice within a minute would be one deploy's burst.
  const write = (time: string, image: string): Json =>
    variant(at(synthetic('v2-UpdateService'), time, `w-${time}`), (e) => {
      ((((e.protoPayload['request'] as Json)['service'] as Json)['template'] as Json)['containers'] as Json[])[0]!['image'] = image;
    });
  const event = (created: string): Json =>
    variant(renamed(at(createdRevision, '2024-06-03T11:00:50Z', 'ev-one'), [[SEQ_V2_REVISION, 'storefront-00002-one'], [SEQ_V2_EVENT_OPERATION, 'op-one']]), (e) => {
      (((e.protoPayload['response'] as Json)['metadata'] as Json) as Record<string, unknown>)['creationTimestamp'] = created;
    });
  const mayBe = (found: readonly Finding[]): string[] =>
    found
      .filter((f) => f.rule === 'off-window-deploy' && f.revision === 'storefront-00002-one')
      .map((f) => `${f.eventTime} ${String((f.evidence as Record<string, unknown>)['revisionMayBeOf'] ?? 'certain')}`);
  it.each([
    ['created 140 ms after the first write', '2024-06-03T11:00:00.140Z', [`${W1} certain`]],
    // The write's timestamp and the revision's creation come from different clocks: a creation a moment before the
    // write's logged time is still its revision's.
    ['created 300 ms before the first write was logged', '2024-06-03T10:59:59.700Z', [`${W1} certain`]],
    ['created 140 ms after the second write', '2024-06-03T11:00:03.140Z', [`${W2} certain`]],
    ['created 6 s after the second write, later than the creation time tells', '2024-06-03T11:00:09.140Z', [`${W1} ${W2}`]],
  ] as const)('live: %s', async (_name, created, expected) => {
    const entries: [Json, string][] = [
      [create, '2024-06-01T10:00:01Z'],
      [createdRevision, '2024-06-01T10:00:22Z'],
      [write(W1, 'ghcr.io/acme-ci/storefront:v2'), '2024-06-03T11:00:01Z'],
      [write(W2, 'ghcr.io/acme-ci/storefront:v3'), '2024-06-03T11:00:04Z'],
      [event(created), '2024-06-03T11:00:51Z'],
    ];
    expect(mayBe(await findingsArriving(entries, strict, new MemoryBaselineStore()))).toEqual(expected);
  });
  // The first write judged without events (its wait ran out) before the second came; the revision created 8 s after
  // the second write, 11 s after the first: too late for its creation time to pick between them (createdFor), but more
  // than CREATED_WITHIN_MS after the first, so it cannot be the first's (createdOutsideWrite), judged or waiting.
  it('live: created 8 s after the second write, 11 s after the first, judged already: not said to be maybe the first\'s', async () => {
    const entries: [Json, string][] = [
      [create, '2024-06-01T10:00:01Z'],
      [createdRevision, '2024-06-01T10:00:22Z'],
      [write(W1, 'ghcr.io/acme-ci/storefront:v2'), '2024-06-03T11:00:01Z'],
      [write(W2, 'ghcr.io/acme-ci/storefront:v3'), '2024-06-03T11:10:30Z'],
      [event('2024-06-03T11:00:11.140Z'), '2024-06-03T11:10:35Z'],
    ];
    expect(mayBe(await findingsArriving(entries, strict, new MemoryBaselineStore()))).toEqual([`${W2} certain`]);
  });
});
