// gcloud writes twice for one deploy (synthetic-seq-gcloud-double-write: two ReplaceService writes of one template,
// 14 s apart, each with an operation id of its own; the revision event carries the first's, the service event the
// second's). Delivered second write first, so long before the first that its wait runs out, the second write is judged
// alone as the deploy; the first write, arriving after it, is a write whose repeat was judged (detectors/revision.ts
// repeatedBeforeItCame), no deploy of its own. The revision's events that come after both writes are that deploy's
// late half, tied to it by the operation id of either write of the burst: the revision event's is the first write's,
// which made no completed entry of its own. They are not reported as a deploy of their own: each rule keeps the one id
// the second write's findings have (as when the events never come). A later, separate deploy is still reported.
// (The revision's events between the writes: test/unit/double-write-events-between.test.ts. Not handled there: the
// revision event judged alone before the first write and the service event came, e.g. [before, iam1, write2, iam2,
// revisionEvent, serviceEvent, write1] or [before, revisionEvent, write2, iam2, write1, iam1, serviceEvent] live, an
// hour between entries: nothing logged ties the revision event's operation, the first write's, to the second write
// when either is judged, so each is reported as a deploy. See README "Real deploys".)
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { at, renamed, synthetic, v1EnvDeploy, withOperationId, withV1ServiceAccount, type Json } from '../support/entries.js';
import { config, DEPLOY_RULES, findingsLive } from '../support/run.js';
import { replayedAsWritten } from '../support/replayAsWritten.js';
import { EARLIER, SA0, SA1, tag } from '../support/sameMillisecond.js';

const cfg = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }] });
const [write1, iam1, write2, iam2, revisionEvent, serviceEvent] = synthetic('seq-gcloud-double-write') as unknown as [Json, Json, Json, Json, Json, Json];
/** The deploy before: running as zero@, its image in gcr.io/acme; the double write changes both. */
const before = at(withV1ServiceAccount(v1EnvDeploy(EARLIER, [], `gcr.io/acme/app:${tag(EARLIER)}`), SA0), EARLIER, 'before');
/** Another deploy, by gcloud, 10 minutes after the double write: another template, identity and repository. */
const ANOTHER = '2024-05-07T09:20:00.000000Z';
const another = at(withOperationId(withV1ServiceAccount(v1EnvDeploy(ANOTHER, [], 'europe-docker.pkg.dev/acme/other/app:2'), SA1), 'op-another'), ANOTHER, 'another');

/** An entry of another service an hour after `time`'s entries: replay's clock moves past every wait. */
function tickAt(time: string): Json {
  return renamed(at(withV1ServiceAccount(v1EnvDeploy(time, [], `gcr.io/acme/tick:${tag(time)}`), SA0), time, `tick-${time}`), [['cloud-run-slack-bot', 'cloud-run-other-service']]);
}
const TICK = tickAt('2024-05-07T10:10:00Z');

/** The deploy rules' findings about the double write (not the deploy before, nor `another`): the ids of each rule. */
function idsByRule(found: readonly Finding[]): Record<string, string[]> {
  const out: Record<string, Set<string>> = {};
  for (const f of found) {
    if (!DEPLOY_RULES.has(f.rule) || f.eventTime === EARLIER || f.eventTime.startsWith('2024-05-07T09:20') || f.status === 'resolved') continue;
    (out[f.rule] ??= new Set()).add(f.id);
  }
  return Object.fromEntries(Object.entries(out).map(([rule, ids]) => [rule, [...ids].sort()]));
}

interface Case {
  readonly label: string;
  readonly delivered: readonly Json[];
  /** Replay: TICK is read before this entry (the second write's wait runs out before the first write is read). */
  readonly tickBefore: Json;
}

const CASES: readonly Case[] = [
  { label: 'second write, first write, then the revision and service events', delivered: [before, iam1, write2, iam2, write1, revisionEvent, serviceEvent], tickBefore: write1 },
  { label: 'second write, first write, then the service and revision events', delivered: [before, iam1, write2, iam2, write1, serviceEvent, revisionEvent], tickBefore: write1 },
  {
    label: 'second write, first write, the events, then another deploy 10 minutes later',
    delivered: [before, iam1, write2, iam2, write1, revisionEvent, serviceEvent, another],
    tickBefore: write1,
  },
];

/** What each case is compared with: the same writes, no events. */
const WITHOUT_EVENTS: readonly Json[] = [before, iam1, write2, iam2, write1];

describe("gcloud's second write judged alone, then the first write, then the revision's events: their late half", () => {
  for (const c of CASES) {
    it(`live, an hour between entries: ${c.label}: one id per rule, the second write's`, async () => {
      const expected = idsByRule(await findingsLive(WITHOUT_EVENTS, cfg));
      expect(Object.keys(expected).sort()).toEqual(['new-image-repository', 'off-window-deploy', 'service-account-change']);
      expect(idsByRule(await findingsLive(c.delivered, cfg))).toEqual(expected);
    });
  }

  it('live: the other deploy after the double write is reported, under ids of its own', async () => {
    const found = await findingsLive(CASES[2]!.delivered, cfg);
    const own = found.filter((f) => DEPLOY_RULES.has(f.rule) && f.eventTime === '2024-05-07T09:20:00Z' && f.status !== 'resolved').map((f) => f.rule);
    expect(own.sort()).toEqual(['new-image-repository', 'off-window-deploy', 'service-account-change']);
  });

  for (const mode of ['memory', 'file'] as const) {
    for (const c of CASES) {
      it(`replay (${mode}, reorderCapacity 0): ${c.label}: one id per rule, the second write's`, async () => {
        const expected = idsByRule((await replayedAsWritten([before, iam1, write2, iam2, TICK, write1], cfg, mode)).filter((f) => !f.service.includes('other-service')));
        const entries = [...c.delivered];
        entries.splice(entries.indexOf(c.tickBefore), 0, TICK);
        const found = (await replayedAsWritten(entries, cfg, mode)).filter((f) => !f.service.includes('other-service'));
        expect(idsByRule(found)).toEqual(expected);
        if (c.delivered.includes(another)) {
          const own = found.filter((f) => DEPLOY_RULES.has(f.rule) && f.eventTime === '2024-05-07T09:20:00Z' && f.status !== 'resolved').map((f) => f.rule);
          expect(own.sort()).toEqual(['new-image-repository', 'off-window-deploy', 'service-account-change']);
        }
      });
    }
  }

  it("live: the first write's operation id is kept with the second write's completed entry; a baseline stored before that (no such field, restarted between the writes) still loads and ties the events", async () => {
    const whole = idsByRule(await findingsLive(CASES[0]!.delivered, cfg));
    const store = new MemoryBaselineStore();
    await findingsLive([before, iam1, write2, iam2], cfg, undefined, undefined, store);
    const stored = [...store.entries()].map(([key, value]) => [key, structuredClone(value)] as [string, typeof value]);
    expect(stored.flatMap(([, b]) => b.completed ?? []).some((c) => c.repeatOperationIds !== undefined)).toBe(false);
    const restarted = new MemoryBaselineStore(stored);
    const rest = await findingsLive([write1, revisionEvent, serviceEvent], cfg, Date.parse('2031-01-01T00:00:00Z'), undefined, restarted);
    const first = await findingsLive([before, iam1, write2, iam2], cfg);
    expect(idsByRule([...first, ...rest])).toEqual(whole);
    const kept = [...restarted.entries()].flatMap(([, b]) => b.completed ?? []).filter((c) => c.repeatOperationIds !== undefined);
    expect(kept.map((c) => c.repeatOperationIds)).toEqual([['11111111-aaaa-4bbb-8ccc-000000000001']]);
  });
});
