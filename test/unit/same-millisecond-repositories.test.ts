// new-image-repository and two deploys of one service in the same millisecond: the baseline remembers when each image
// repository was first seen, and real audit timestamps carry nanoseconds, so the later deploy must be judged against
// the earlier one as when a whole millisecond lies between them (in order, delivered the other way round, or waiting
// for their system events together), and the finding must name the deploy that first used the repository.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileBaselineStore } from '../../functions/baseline/file.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { replay } from '../../functions/replay/replay.js';
import type { Finding } from '../../functions/findings/finding.js';
import { at, v1EnvDeploy, type Json } from '../support/entries.js';
import { config, findingsLive, findingsOf } from '../support/run.js';
import { EARLIER, TIMINGS, tag } from '../support/sameMillisecond.js';

/** The gcloud fixture at `time` running an image of the service's usual repository (gcr.io/acme). */
const known = (time: string): Json => v1EnvDeploy(time, [], `gcr.io/acme/app:${tag(time)}`);
/** The gcloud fixture at `time` running an image of a repository the service never used before the case. */
const fresh = (time: string): Json => v1EnvDeploy(time, [], `us-docker.pkg.dev/acme/new/app:${tag(time)}`);
interface Case {
  readonly label: string;
  readonly before: readonly Json[];
  /** The two entries, the earlier first. */
  readonly pair: (a: string, b: string) => readonly [Json, Json];
}

const CASES: readonly Case[] = [
  { label: 'a new repository used by both deploys', before: [known(EARLIER)], pair: (a, b) => [fresh(a), fresh(b)] },
  { label: 'the usual repository, then a new one', before: [known(EARLIER)], pair: (a, b) => [known(a), fresh(b)] },
  { label: "the service's first deploy, then one from a new repository", before: [], pair: (a, b) => [known(a), fresh(b)] },
];

/** A finding as compared across timings: its times named by the entry they are of. */
function shown(finding: Finding, a: string, b: string): string {
  const { rule, status, eventTime, severity, title, evidence, id } = finding;
  return JSON.stringify({ rule, status: status ?? 'active', eventTime, severity, title, evidence, id: id.length > 0 }).replaceAll(a, 'A').replaceAll(b, 'B').replaceAll(tag(a), 'A').replaceAll(tag(b), 'B');
}

async function findings(c: Case, a: string, b: string, reversed: boolean, live: boolean): Promise<string[]> {
  const [first, second] = c.pair(a, b);
  const entries = [...c.before, ...(reversed ? [second, first] : [first, second])];
  const all = live ? await findingsLive(entries, config(), undefined, undefined, new MemoryBaselineStore()) : await findingsOf(entries, config());
  return all.filter((f) => f.rule === 'new-image-repository').map((f) => shown(f, a, b));
}

describe('new-image-repository judges two deploys of the same millisecond by their nanoseconds', () => {
  for (const c of CASES) {
    for (const [order, reversed] of [
      ['in order', false],
      ['the later one delivered first', true],
    ] as const) {
      it(`${c.label}, ${order}, each judged before the next arrives: as a millisecond apart`, async () => {
        const apart = await findings(c, ...TIMINGS['a millisecond apart'], reversed, true);
        const same = await findings(c, ...TIMINGS['in the same millisecond'], reversed, true);
        // (A first deploy delivered after the second raises nothing either way: neither is new against the other.)
        if (!reversed) expect(apart.length).toBeGreaterThan(0);
        expect(same).toEqual(apart);
      });
      it(`${c.label}, ${order}, waiting for their system events together: as in order, a millisecond apart`, async () => {
        const inOrder = await findings(c, ...TIMINGS['a millisecond apart'], false, false);
        const same = await findings(c, ...TIMINGS['in the same millisecond'], reversed, false);
        expect(inOrder.length).toBeGreaterThan(0);
        expect(same).toEqual(inOrder);
      });
    }
  }

  it('a new repository used by both: only the earlier deploy is reported, in order', async () => {
    const [a, b] = TIMINGS['in the same millisecond'];
    const found = (await findingsLive([known(EARLIER), fresh(a), fresh(b)])).filter((f) => f.rule === 'new-image-repository');
    expect(found.map((f) => f.eventTime)).toEqual([a]);
  });

  it('the same deploy twice at the very same instant: reported once', async () => {
    const [a] = TIMINGS['in the same millisecond'];
    const entry = fresh(a);
    const ids = async (entries: readonly Json[]): Promise<string[]> => [...new Set((await findingsLive(entries)).filter((f) => f.rule === 'new-image-repository').map((f) => f.id))];
    const once = await ids([known(EARLIER), entry]);
    expect(once).toHaveLength(1);
    expect(await ids([known(EARLIER), entry, at(entry, a, 'again')])).toEqual(once);
  });
});

describe('replay of the two deploys, the later one first', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-same-ms-repo-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;

  /** The case's entries, the later deploy first, replayed from one file into `mode`'s store (`reorder`: its buffer on). */
  async function replayed(c: Case, a: string, b: string, mode: 'memory' | 'file' | 'workers', reorder: boolean): Promise<string[]> {
    const [first, second] = c.pair(a, b);
    const path = join(dir, `${files++}.jsonl`);
    writeFileSync(path, [...c.before, second, first].map((e) => JSON.stringify(e)).join('\n'));
    const store = mode === 'memory' ? new MemoryBaselineStore() : mode === 'file' ? await FileBaselineStore.open(join(dir, `${files}.state.json`)) : undefined;
    const found: Finding[] = [];
    try {
      await replay({ config: config(), ...(store ? { store } : {}), paths: [path], workers: mode === 'workers' ? 2 : 0, ...(reorder ? {} : { reorderCapacity: 0 }), onFinding: (f) => void found.push(f) });
    } finally {
      if (store instanceof FileBaselineStore) await store.release();
    }
    return found.filter((f) => f.rule === 'new-image-repository').map((f) => shown(f, a, b)).sort();
  }

  for (const mode of ['memory', 'file', 'workers'] as const) {
    for (const c of CASES) {
      it(`${mode}: ${c.label}: as a millisecond apart, and as in order once reordered`, async () => {
        const inOrder = (await findings(c, ...TIMINGS['a millisecond apart'], false, false)).sort();
        expect(await replayed(c, ...TIMINGS['in the same millisecond'], mode, false)).toEqual(await replayed(c, ...TIMINGS['a millisecond apart'], mode, false));
        expect(await replayed(c, ...TIMINGS['in the same millisecond'], mode, true)).toEqual(inOrder);
      });
    }
  }
});

describe('a baseline stored before the repositories kept their nanoseconds', () => {
  /** The store's baselines as stored without sub-millisecond digits. */
  function withoutNanoseconds(store: MemoryBaselineStore): MemoryBaselineStore {
    const stripped = JSON.parse(JSON.stringify([...store.entries()]), (key, value: unknown) => (key === 'n' || key === 'repositoriesN' ? undefined : value)) as [string, never][];
    return new MemoryBaselineStore(stripped);
  }

  for (const c of CASES) {
    it(`${c.label}: the next deploy is judged as with them`, async () => {
      const [a, b] = TIMINGS['in the same millisecond'];
      const store = new MemoryBaselineStore();
      await findingsLive([...c.before, ...c.pair(a, b)], config(), undefined, undefined, store);
      const old = withoutNanoseconds(store);
      // Deploys an hour on, from each repository.
      for (const next of [known('2024-05-06T23:58:04.355100Z'), fresh('2024-05-06T23:58:04.355100Z'), v1EnvDeploy('2024-05-06T23:58:04.355100Z', [], 'docker.io/other/app:1')]) {
        const judged = async (s: MemoryBaselineStore): Promise<string[]> =>
          (await findingsLive([next], config(), Date.parse('2031-01-01T00:00:00Z'), undefined, s)).filter((f) => f.rule === 'new-image-repository').map((f) => shown(f, a, b));
        expect(await judged(new MemoryBaselineStore([...old.entries()].map(([k, v]) => [k, structuredClone(v)])))).toEqual(await judged(new MemoryBaselineStore([...store.entries()].map(([k, v]) => [k, structuredClone(v)]))));
      }
    });
  }
});
