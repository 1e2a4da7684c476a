// Completed rollouts (CompletedRollout) and two deploys of one millisecond. A deploy's findings are keyed by its revision, and by its time too when an earlier rollout of the service made a
// revision of that name (detectors/revision.ts deployKey): a client names its revisions, and a name is free again once
// that revision or the service is deleted. "Earlier" is to the nanosecond: a deploy under a reused name in the same
// millisecond as the earlier rollout (real audit timestamps carry nanoseconds) must get its own finding id, as a
// millisecond apart, or every sink drops it as a duplicate of the first (sinks/deliver.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileBaselineStore } from '../../functions/baseline/file.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { replay } from '../../functions/replay/replay.js';
import { subMillisecondNanos } from '../../functions/audit/entry.js';
import { parseEntry } from '../../functions/audit/normalize.js';
import { emptyBaseline, pointAt, type ServiceBaseline } from '../../functions/baseline/state.js';
import { createsRevision } from '../../functions/detectors/revision.js';
import type { Finding } from '../../functions/findings/finding.js';
import type { DeployChange } from '../../functions/model/change.js';
import { deployOf } from '../support/changes.js';
import { at, deleteServiceAt, SLACK_BOT, synthetic, v1EnvDeploy, withV1RevisionName, withV1ServiceAccount, type Json } from '../support/entries.js';
import { config, findingsLive, findingsOf } from '../support/run.js';
import { EARLIER, SA0, SA1, SA2, tag } from '../support/sameMillisecond.js';

/** The first deploy's, the delete's and the second deploy's timestamps: a millisecond apart, and in one millisecond. */
const TIMINGS = {
  'a millisecond apart': ['2024-05-06T22:58:04.353100Z', '2024-05-06T22:58:04.354500Z', '2024-05-06T22:58:04.355900Z'],
  'in the same millisecond': ['2024-05-06T22:58:04.355100Z', '2024-05-06T22:58:04.355500Z', '2024-05-06T22:58:04.355900Z'],
} as const;

const REVISION = 'cloud-run-slack-bot-release';

/** The gcloud fixture at `time`: a new image each time, running as `sa`, its revision named `revision` when given. */
function deploy(time: string, sa: string, repository: string, revision?: string): Json {
  const entry = withV1ServiceAccount(v1EnvDeploy(time, [], `${repository}/app:${tag(time)}`), sa);
  return at(revision === undefined ? entry : withV1RevisionName(entry, revision), time, `deploy-${time}`);
}

interface Case {
  readonly rule: string;
  readonly label: string;
  readonly entries: (first: string, deleted: string, second: string) => readonly Json[];
}

/** Every deploy by a person is reported: its findings are keyed by the deploy alone (deployKey). */
const PEOPLE_UNAPPROVED = config({ rules: { 'unapproved-deployer': { allowedDeployers: ['serviceAccount:*'] } } });

const CASES: readonly Case[] = [
  {
    rule: 'unapproved-deployer',
    label: 'two deploys under one revision name, the service deleted between them',
    entries: (a, d, b) => [deploy(EARLIER, SA0, 'gcr.io/acme'), deploy(a, SA1, 'gcr.io/acme', REVISION), deleteServiceAt(d, SLACK_BOT), deploy(b, SA2, 'gcr.io/acme', REVISION)],
  },
  {
    rule: 'unapproved-deployer',
    label: 'two deploys under one revision name',
    entries: (a, _d, b) => [deploy(EARLIER, SA0, 'gcr.io/acme'), deploy(a, SA1, 'gcr.io/acme', REVISION), deploy(b, SA2, 'gcr.io/acme', REVISION)],
  },
];

/** The rule's findings, by id: each id's event time (named by the entry it is of) and status. */
async function byId(c: Case, times: readonly [string, string, string], live: boolean): Promise<string[]> {
  const entries = c.entries(...times);
  const all: Finding[] = live ? await findingsLive(entries, PEOPLE_UNAPPROVED) : await findingsOf(entries, PEOPLE_UNAPPROVED);
  return grouped(all.filter((f) => f.rule === c.rule), times);
}

/** Findings grouped by id: each id's event times (named by the entry they are of) and statuses. */
function grouped(findings: readonly Finding[], times: readonly [string, string, string]): string[] {
  const names = new Map<string, string>([
    [times[0], 'first'],
    [times[1], 'delete'],
    [times[2], 'second'],
  ]);
  const ids = new Map<string, string[]>();
  for (const f of findings) ids.set(f.id, [...(ids.get(f.id) ?? []), `${names.get(f.eventTime) ?? f.eventTime} ${f.status ?? 'active'}`]);
  return [...ids.values()].map((v) => v.join(', '));
}

describe('a deploy under a revision name an earlier rollout of the same millisecond made', () => {
  for (const c of CASES) {
    for (const [how, live] of [
      ['each judged before the next arrives', true],
      ['each arriving at its own time', false],
    ] as const) {
      it(`${c.rule}: ${c.label}, ${how}: one id per deploy, as a millisecond apart`, async () => {
        const apart = await byId(c, TIMINGS['a millisecond apart'], live);
        expect(apart.filter((v) => v.startsWith('second')).length).toBe(1);
        expect(await byId(c, TIMINGS['in the same millisecond'], live)).toEqual(apart);
      });
    }
  }

  it('the same deploy twice at the very same instant: one id', async () => {
    const [a] = TIMINGS['in the same millisecond'];
    const first = deploy(a, SA1, 'gcr.io/acme', REVISION);
    const found = (await findingsLive([deploy(EARLIER, SA0, 'gcr.io/acme'), first, at(first, a, 'again')], PEOPLE_UNAPPROVED)).filter((f) => f.rule === 'unapproved-deployer' && f.eventTime === a);
    expect(found.length).toBeGreaterThan(0);
    expect(new Set(found.map((f) => f.id)).size).toBe(1);
  });
});

// A write whose revision was seen in events judged already (revisionSeen) is a deploy unless gcloud's other write of the
// burst, the same template moments after it, was judged and reported as that deploy (CompletedRollout.reportedWrite):
// the completed rollout of that very write counts, not another of its millisecond.
describe("a write's repeat, judged before it came, and another deploy of the repeat's millisecond", () => {
  const write = (time: string): DeployChange => deployOf(parseEntry(at(synthetic('v1-ReplaceService-gcloud'), time)));
  /**
   * The baseline after another deploy (template `v1:other`, judged and reported) at `other`, then the repeat of the
   * write at `repeat` (its template, judged as no deploy: reportedWrite unset), each with its completed rollout.
   */
  function baselineOf(other: string, repeat: string, fingerprint: string, repeatReported: boolean): ServiceBaseline {
    const points = [other, repeat].map((time) => write(time));
    return {
      ...emptyBaseline(),
      template: [pointAt(points[0]!, 'v1:other'), pointAt(points[1]!, fingerprint)],
      completed: [
        { t: points[0]!.timeMs, ...nanos(other), reportedWrite: true },
        { t: points[1]!.timeMs, ...nanos(repeat), ...(repeatReported ? { reportedWrite: true } : {}) },
      ],
      lastChangeMs: points[1]!.timeMs,
    } as unknown as ServiceBaseline;
  }
  /** A completed rollout's sub-millisecond digits, as the engine keeps them (none where it does not). */
  const nanos = (time: string): { n?: number } => {
    const n = subMillisecondNanos(time);
    return n > 0 ? { n } : {};
  };
  // The other deploy, the write, its repeat.
  const TIMES = {
    'a millisecond apart': ['2024-05-06T22:58:04.353100Z', '2024-05-06T22:58:04.354500Z', '2024-05-06T22:58:04.355900Z'],
    'in the same millisecond': ['2024-05-06T22:58:04.355100Z', '2024-05-06T22:58:04.355500Z', '2024-05-06T22:58:04.355900Z'],
  } as const;

  for (const repeatReported of [false, true]) {
    it(`the repeat ${repeatReported ? 'reported' : 'judged as no deploy'}: the write is ${repeatReported ? 'no' : 'a'} deploy, as a millisecond apart`, () => {
      for (const [timing, [other, at, repeat]] of Object.entries(TIMES)) {
        const change = { ...write(at), revisionSeen: true as const };
        expect(createsRevision(change, baselineOf(other, repeat, change.templateFingerprint!, repeatReported)), timing).toBe(!repeatReported);
      }
    });
  }
});

describe('replay of deploys under one revision name in one millisecond', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-same-ms-completed-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;

  /** The rule's findings replayed from one file into `mode`'s store, by id (as byId), sorted. */
  async function replayed(c: Case, times: readonly [string, string, string], mode: 'memory' | 'file' | 'workers'): Promise<string[]> {
    const path = join(dir, `${files++}.jsonl`);
    writeFileSync(path, c.entries(...times).map((e) => JSON.stringify(e)).join('\n'));
    const store = mode === 'memory' ? new MemoryBaselineStore() : mode === 'file' ? await FileBaselineStore.open(join(dir, `${files}.state.json`)) : undefined;
    const found: Finding[] = [];
    try {
      await replay({ config: PEOPLE_UNAPPROVED, ...(store ? { store } : {}), paths: [path], workers: mode === 'workers' ? 2 : 0, onFinding: (f) => void found.push(f) });
    } finally {
      if (store instanceof FileBaselineStore) await store.release();
    }
    return grouped(found.filter((f) => f.rule === c.rule), times).sort();
  }

  for (const mode of ['memory', 'file', 'workers'] as const) {
    for (const c of CASES) {
      it(`${mode}: ${c.rule}: ${c.label}: one id per deploy, as a millisecond apart`, async () => {
        const apart = await replayed(c, TIMINGS['a millisecond apart'], mode);
        expect(apart.filter((v) => v.startsWith('second')).length).toBe(1);
        expect(await replayed(c, TIMINGS['in the same millisecond'], mode)).toEqual(apart);
      });
    }
  }
});

describe('a baseline stored before completed rollouts kept their nanoseconds', () => {
  for (const c of CASES) {
    it(`${c.rule}: ${c.label}: a later deploy under the name is judged as with them`, async () => {
      const times = TIMINGS['in the same millisecond'];
      const store = new MemoryBaselineStore();
      await findingsLive(c.entries(...times), PEOPLE_UNAPPROVED, undefined, undefined, store);
      expect(JSON.stringify([...store.entries()])).toMatch(/"completed":\[[^\]]*"n":/);
      const stripped = (s: MemoryBaselineStore): MemoryBaselineStore => new MemoryBaselineStore(JSON.parse(JSON.stringify([...s.entries()]), (key, value: unknown) => (key === 'n' ? undefined : value)) as [string, never][]);
      const copy = (s: MemoryBaselineStore): MemoryBaselineStore => new MemoryBaselineStore(structuredClone([...s.entries()]));
      const next = deploy('2024-05-07T22:58:04.355100Z', SA0, 'gcr.io/acme', REVISION);
      const judged = async (s: MemoryBaselineStore): Promise<string[]> =>
        (await findingsLive([next], PEOPLE_UNAPPROVED, Date.parse('2031-01-01T00:00:00Z'), undefined, s)).filter((f) => f.rule === c.rule).map((f) => `${f.id} ${f.status ?? 'active'}`);
      expect(await judged(stripped(store))).toEqual(await judged(copy(store)));
    });
  }
});
