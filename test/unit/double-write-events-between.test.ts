// gcloud writes twice for one deploy (synthetic-seq-gcloud-double-write: two ReplaceService writes of one template,
// 14 s apart, each with an operation id of its own; the revision event carries the first's, the service event the
// second's and names the revision as the service's latest). Two delivery orders, each through the live pipeline
// (findingsArriving: a sweep before each entry; findingsLive: a second between entries) and replay of one file as
// written (reorderCapacity 0, a memory and a file store; an entry of another service an hour later moves the project's
// clock past the waits):
//   A. [before, iam1, write2, iam2, revisionEvent, serviceEvent, write1]: the second write judged alone first (its wait
//      ran out), then the revision's events, the first write last;
//   B. [before, iam1, revisionEvent, write2, iam2, write1, serviceEvent]: the revision event first, the service event
//      last.
//   A2 (found with A). [before, iam1, write2, iam2, serviceEvent, revisionEvent, write1]: as A, the service event first.
// One deploy: one id per rule. Where the second write was judged alone before any event came, its findings (keyed by
// its time: it names no revision) are out before the first write is known, so the ids are those the same writes get
// without events (as in double-write-late-events); otherwise those of event-time order.
// Not handled (README "Real deploys"): the revision event judged alone (its wait ran out) before the service event
// came, in A with an hour between entries, and in B when the second write was judged alone too: nothing logged ties
// the revision event's operation (the first write's) to the second write when either is judged, so each is reported
// as a deploy (A: off-window-deploy twice; B: all three rules twice).
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { at, renamed, synthetic, v1EnvDeploy, withOperationId, withV1ServiceAccount, type Json } from '../support/entries.js';
import { config, DEPLOY_RULES, findingsArriving, findingsLive } from '../support/run.js';
import { replayedAsWritten } from '../support/replayAsWritten.js';
import { EARLIER, SA0, SA1, tag } from '../support/sameMillisecond.js';

const cfg = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }] });
const [write1, iam1, write2, iam2, revisionEvent, serviceEvent] = synthetic('seq-gcloud-double-write') as unknown as [Json, Json, Json, Json, Json, Json];
/** The deploy before: running as zero@, its image in gcr.io/acme; the double write changes both. */
const before = at(withV1ServiceAccount(v1EnvDeploy(EARLIER, [], `gcr.io/acme/app:${tag(EARLIER)}`), SA0), EARLIER, 'before');
/** Another deploy, by gcloud, 10 minutes after the double write: another template, identity and repository. */
const ANOTHER = '2024-05-07T09:20:00.000000Z';
const another = at(withOperationId(withV1ServiceAccount(v1EnvDeploy(ANOTHER, [], 'europe-docker.pkg.dev/acme/other/app:2'), SA1), 'op-another'), ANOTHER, 'another');
const ANOTHER_RULES = ['new-image-repository', 'off-window-deploy', 'service-account-change'];

/** An entry of another service at `time`: replay's clock moves past every wait of the double write. */
function tickAt(time: string): Json {
  return renamed(at(withV1ServiceAccount(v1EnvDeploy(time, [], `gcr.io/acme/tick:${tag(time)}`), SA0), time, `tick-${time}`), [['cloud-run-slack-bot', 'cloud-run-other-service']]);
}
const T1 = tickAt('2024-05-07T10:10:00Z');
const T2 = tickAt('2024-05-07T11:10:00Z');
const T3 = tickAt('2024-05-07T12:10:00Z');

const A = [before, iam1, write2, iam2, revisionEvent, serviceEvent, write1];
const A2 = [before, iam1, write2, iam2, serviceEvent, revisionEvent, write1];
const B = [before, iam1, revisionEvent, write2, iam2, write1, serviceEvent];
const IN_ORDER = [before, iam1, write1, iam2, write2, revisionEvent, serviceEvent];
const events = new Set([revisionEvent, serviceEvent]);
const withoutEvents = (entries: readonly Json[]): Json[] => entries.filter((e) => !events.has(e));

/** The deploy rules' findings about the double write (not the deploy before, nor `another`, nor a tick): the ids of each rule. */
function idsByRule(found: readonly Finding[]): Record<string, string[]> {
  const out: Record<string, Set<string>> = {};
  for (const f of found) {
    if (!DEPLOY_RULES.has(f.rule) || f.eventTime === EARLIER || f.eventTime.startsWith('2024-05-07T09:20') || f.status === 'resolved' || f.service.includes('other-service')) continue;
    (out[f.rule] ??= new Set()).add(f.id);
  }
  return Object.fromEntries(Object.entries(out).map(([rule, ids]) => [rule, [...ids].sort()]));
}

/** `another`'s own findings (it is a separate deploy: reported). */
function anotherRules(found: readonly Finding[]): string[] {
  return found.filter((f) => DEPLOY_RULES.has(f.rule) && f.eventTime === '2024-05-07T09:20:00Z' && f.status !== 'resolved').map((f) => f.rule).sort();
}

const HOUR = 3_600_000;
const START = Date.parse('2030-01-01T00:00:00Z');
/** Live arrivals: an hour apart, except that an entry listed in `soon` comes a second after the one before it. */
function arriving(entries: readonly Json[], soon: readonly Json[]): [Json, string][] {
  let now = START;
  return entries.map((e) => {
    now += soon.includes(e) ? 1000 : HOUR;
    return [e, new Date(now).toISOString()];
  });
}

interface Case {
  readonly label: string;
  /** What the double write's findings are; `expected` is what the same run of `reference` gives. */
  readonly run: (entries: readonly Json[]) => Promise<Finding[]>;
  readonly delivered: readonly Json[];
  readonly reference: readonly Json[];
  /** How `reference` is run, when not as `run` (replay of the entries in event-time order: no ticks). */
  readonly runReference?: (entries: readonly Json[]) => Promise<Finding[]>;
}

const replayWith = (ticks: readonly (readonly [Json, Json])[], mode: 'memory' | 'file') => (entries: readonly Json[]) => {
  const list = [...entries];
  for (const [tick, next] of ticks) if (list.includes(next)) list.splice(list.indexOf(next), 0, tick);
  return replayedAsWritten(list, cfg, mode);
};

const CASES: readonly Case[] = [
  // The second write judged alone; the service event comes a second after the revision event, while it waits: the
  // service event ties the revision to the second write's operation (the service's last change), whose entry awaits
  // its events.
  { label: 'A, live: the second write judged alone, then the revision and service events a second apart', run: (e) => findingsArriving(arriving(e, [serviceEvent]), cfg), delivered: A, reference: withoutEvents(A) },
  // The service event, of the second write's operation, names the revision as the service's latest before the
  // revision's own event comes (an hour later, or a second): that write made it or none.
  { label: 'A2, live: the second write judged alone, then the service event, the revision event an hour later', run: (e) => findingsLive(e, cfg), delivered: A2, reference: withoutEvents(A2) },
  { label: 'A2, live: the second write judged alone, then the service and revision events a second apart', run: (e) => findingsArriving(arriving(e, [revisionEvent]), cfg), delivered: A2, reference: withoutEvents(A2) },
  { label: 'A, live: a second between entries', run: (e) => findingsLive(e, cfg, undefined, 1000), delivered: A, reference: IN_ORDER },
  { label: 'B, live: a second between entries', run: (e) => findingsLive(e, cfg, undefined, 1000), delivered: B, reference: IN_ORDER },
  ...(['memory', 'file'] as const).flatMap((mode): Case[] => [
    {
      label: `A, replay (${mode}): the second write judged alone, then the revision and service events, then the first write`,
      run: replayWith([[T1, revisionEvent], [T2, write1]], mode),
      delivered: A,
      reference: [before, iam1, write2, iam2, T1, T2, write1],
    },
    {
      label: `A2, replay (${mode}): the second write judged alone, then the service event, the revision event after every wait ran out`,
      run: replayWith([[T1, serviceEvent], [T2, revisionEvent], [T3, write1]], mode),
      delivered: A2,
      reference: [before, iam1, write2, iam2, T1, T2, T3, write1],
    },
    { label: `A, replay (${mode}): the first write after every wait ran out`, run: replayWith([[T1, write1]], mode), delivered: A, reference: IN_ORDER, runReference: replayWith([], mode) },
    {
      label: `B, replay (${mode}): the revision event judged alone, the service event after every wait ran out`,
      run: replayWith([[T1, write2], [T2, serviceEvent]], mode),
      delivered: B,
      reference: IN_ORDER,
      runReference: replayWith([], mode),
    },
    { label: `B, replay (${mode}): the service event after every wait ran out`, run: replayWith([[T1, serviceEvent]], mode), delivered: B, reference: IN_ORDER, runReference: replayWith([], mode) },
  ]),
];

describe("gcloud's double write, the revision's events between or around its writes: one id per rule", () => {
  for (const c of CASES) {
    it(`${c.label}: one id per rule`, async () => {
      const expected = idsByRule(await (c.runReference ?? c.run)(c.reference));
      expect(Object.keys(expected).sort()).toEqual(['new-image-repository', 'off-window-deploy', 'service-account-change']);
      for (const list of Object.values(expected)) expect(list).toHaveLength(1);
      expect(idsByRule(await c.run(c.delivered))).toEqual(expected);
    });

    // A later, separate deploy by the same principal (`another`: gcloud's, 10 minutes later, another runtime identity
    // and repository) is still reported, under ids of its own, and the double write's ids stay as they were.
    it(`${c.label}, then another deploy 10 minutes later: reported`, async () => {
      const found = await c.run([...c.delivered, another]);
      expect(anotherRules(found)).toEqual(ANOTHER_RULES);
      expect(idsByRule(found)).toEqual(idsByRule(await c.run(c.delivered)));
    });
  }
});
