// The late half of a v1 deploy judged without its system events (they came after its wait: a slow startup probe, a
// delivery backlog) is that deploy's: what its revision brought in (variables, image) was in force from the write on,
// not from when its events came. A later deploy made between the two (a CI pipeline deploying a minute later with the
// same variables or image, still waiting when the late events come) keeps what the late revision brought in: it must
// be compared with it, not with the revision before, or it is reported for the same variables or image a second time,
// under its own principal (two alerts, the second one wrong). Each case runs through replay (one thread, a memory and
// a file store; and the workers, dist/) and through the live path (each entry judged as it arrives, sweeps between).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileBaselineStore } from '../../functions/baseline/file.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { ServiceBaseline } from '../../functions/baseline/state.js';
import type { Finding } from '../../functions/findings/finding.js';
import { replay } from '../../functions/replay/replay.js';
import { at, byPrincipal, consoleEnvSequence, creatorIs, renamed, SEQ_V2_EVENT_OPERATION, SEQ_V2_REVISION, synthetic, v1EnvDeploy, v2EnvUpdate, variant, type EnvList, type Json } from '../support/entries.js';
import { config, findingsArriving, findingsLive } from '../support/run.js';
import { replayedAsWritten } from '../support/replayAsWritten.js';

const cfg = config({ rules: { 'unapproved-deployer': { allowedDeployers: ['serviceAccount:*'] } } });
const CONSOLE = 'masatonaka1989@gmail.com';
const CI = 'ci@test-project-1234.iam.gserviceaccount.com';
/** The repository of the console revision's image (synthetic-seq-console-deploy). */
const SOURCE_DEPLOY = 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-source-deploy/cloud-run-slack-bot';

const RISKY: EnvList = [
  { name: 'DB_PASSWORD', value: 'hunter2-but-longer' },
  { name: 'LD_PRELOAD', value: '/mnt/nfs/libhook.so' },
];

interface Case {
  readonly label: string;
  /** The rules compared: the late revision's findings of them, and none of them for the later deploy. */
  readonly rules: readonly string[];
  /** The revision the console deploy made (its events), and the later deploy's variables and image. */
  readonly env: EnvList;
  readonly ciImage: string;
}

const CASES: readonly Case[] = [
  { label: 'the same variables (a secret, LD_PRELOAD)', rules: ['plaintext-secret-env', 'code-loading-env'], env: RISKY, ciImage: 'gcr.io/acme/app:2' },
  { label: 'an image of the same new repository', rules: ['new-image-repository'], env: [], ciImage: `${SOURCE_DEPLOY}:ci-2` },
];

/**
 * The entries of a case, with when each arrives in the live path: a deploy before (gcr.io/acme/app, no variables); the
 * console write at 22:58:04.355675 (its template logs no containers) and its revision's events at 23:18:17, after its
 * wait (600 s); between them, at 23:10, CI's gcloud deploy carrying what the console revision brought in, its own
 * events still to come.
 */
function entriesOf(c: Case): readonly [Json, string][] {
  const before = v1EnvDeploy('2024-05-06T20:00:00Z', [], 'gcr.io/acme/app:1');
  const [consoleWrite, revisionEvent, serviceEvent] = consoleEnvSequence(c.env) as [Json, Json, Json];
  const ci = byPrincipal(v1EnvDeploy('2024-05-06T23:10:00Z', c.env, c.ciImage), CI);
  return [
    [before, '2024-05-06T20:00:01Z'],
    [consoleWrite, '2024-05-06T22:58:05Z'],
    [ci, '2024-05-06T23:10:01Z'],
    [at(revisionEvent, '2024-05-06T23:18:17Z', 'late-revision'), '2024-05-06T23:18:18Z'],
    [at(serviceEvent, '2024-05-06T23:18:19Z', 'late-service'), '2024-05-06T23:18:20Z'],
  ];
}

/** Each finding of the case's rules: rule, who, and whether about the console revision. */
function shown(c: Case, found: readonly Finding[]): string[] {
  return found
    .filter((f) => c.rules.includes(f.rule))
    .map((f) => `${f.rule} ${f.status ?? 'active'} ${f.principal} ${f.revision ?? '-'}`)
    .sort();
}

/** What is expected: the console revision's findings, once, and none for CI's deploy. */
function expected(c: Case): string[] {
  return c.rules.map((rule) => `${rule} active ${CONSOLE} cloud-run-slack-bot-00023-kiv`).sort();
}

/** The live path: each entry handled when it arrives, a sweep (the scheduler's tick) before it; `store` kept. */
function live(entries: readonly [Json, string][], store: MemoryBaselineStore, end = true): Promise<Finding[]> {
  return findingsArriving(entries, cfg, store, end);
}

describe('the late half of a console deploy is recorded at its write, a later deploy waiting when it comes', () => {
  for (const c of CASES) {
    it(`live: ${c.label}: reported once, for the console deploy`, async () => {
      expect(shown(c, await live(entriesOf(c), new MemoryBaselineStore()))).toEqual(expected(c));
    });
  }

  const dir = mkdtempSync(join(tmpdir(), 'runwatch-late-half-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;

  async function replayed(c: Case, mode: 'memory' | 'file' | 'workers'): Promise<Finding[]> {
    const path = join(dir, `${files++}.jsonl`);
    writeFileSync(path, entriesOf(c).map(([entry]) => JSON.stringify(entry)).join('\n'));
    const store = mode === 'memory' ? new MemoryBaselineStore() : mode === 'file' ? await FileBaselineStore.open(join(dir, `${files}.state.json`)) : undefined;
    const found: Finding[] = [];
    try {
      await replay({ config: cfg, ...(store ? { store } : {}), paths: [path], workers: mode === 'workers' ? 2 : 0, onFinding: (f) => void found.push(f) });
    } finally {
      if (store instanceof FileBaselineStore) await store.release();
    }
    return found;
  }

  for (const mode of ['memory', 'file', 'workers'] as const) {
    for (const c of CASES) {
      it(`replay (${mode}): ${c.label}: reported once, for the console deploy`, async () => {
        expect(shown(c, await replayed(c, mode))).toEqual(expected(c));
      });
    }
  }

  for (const c of CASES) {
    it(`guard: ${c.label}: without the later deploy, the console revision is reported so already`, async () => {
      const alone = entriesOf(c).filter(([entry]) => !JSON.stringify(entry).includes(CI));
      expect(alone).toHaveLength(4);
      expect(shown(c, await live(alone, new MemoryBaselineStore()))).toEqual(expected(c));
    });
  }
});

describe('a baseline stored before the write\'s timestamp was kept with its completed entry', () => {
  /** The store's baselines without CompletedRollout.time (and Rollout.writeTime), as stored before they were kept. */
  function asStoredBefore(store: MemoryBaselineStore): MemoryBaselineStore {
    const old = [...store.entries()].map(([key, baseline]): [string, ServiceBaseline] => {
      const copy = structuredClone(baseline) as unknown as { completed?: Record<string, unknown>[]; rollouts?: Record<string, unknown>[] };
      for (const c of copy.completed ?? []) delete c['time'];
      for (const r of copy.rollouts ?? []) delete r['writeTime'];
      return [key, copy as unknown as ServiceBaseline];
    });
    return new MemoryBaselineStore(old);
  }

  for (const c of CASES) {
    it(`${c.label}: the late half is still recorded at its write (its millisecond)`, async () => {
      const entries = entriesOf(c);
      const store = new MemoryBaselineStore();
      // Up to CI's deploy: the console write judged without its events, CI's waiting.
      const first = await live(entries.slice(0, 3), store, false);
      const rest = await live(entries.slice(3), asStoredBefore(store));
      expect(shown(c, [...first, ...rest])).toEqual(expected(c));
    });

    it(`${c.label}: a late half waiting for its Ready condition when stored is still recorded at its write (its millisecond)`, async () => {
      const entries = entriesOf(c);
      // The revision's event without its conditions, nor the status message that states the Ready condition too: the
      // late half waits for the service's event.
      const [revisionEvent, arrival] = entries[3]!;
      const pending = variant(revisionEvent, (e) => {
        delete ((e.protoPayload['response'] as Record<string, Record<string, unknown>>)['status']!)['conditions'];
        delete e.protoPayload['status'];
      });
      const store = new MemoryBaselineStore();
      const first = await live([...entries.slice(0, 3), [pending, arrival]], store, false);
      const waiting = [...store.entries()].flatMap(([, baseline]) => baseline.rollouts ?? []).filter((r) => r.ofJudgedWrite === true);
      expect(waiting).toHaveLength(1);
      const rest = await live(entries.slice(4), asStoredBefore(store));
      expect(shown(c, [...first, ...rest])).toEqual(expected(c));
    });
  }
});

describe('the late half is recorded at its write to the nanosecond', () => {
  // CI's deploy of the same variables just before the console write (a millisecond before it, or in its millisecond a
  // few hundred nanoseconds before it), delivered after the console revision's late events were judged: CI set them
  // first, so it is reported (as well as the console revision, judged before CI's deploy came). Recorded at the start
  // of the write's millisecond, the late half would pass for older than CI's deploy in the same millisecond.
  const c = CASES[0]!;
  async function run(ciTime: string): Promise<string[]> {
    const [before, consoleWrite, , lateRevision, lateService] = entriesOf(c) as readonly [Json, string][] as [[Json, string], [Json, string], [Json, string], [Json, string], [Json, string]];
    const ci = byPrincipal(v1EnvDeploy(ciTime, c.env, c.ciImage), CI);
    const found = await live([before, consoleWrite, lateRevision, lateService, [ci, '2024-05-06T23:19:00Z']], new MemoryBaselineStore());
    return shown(c, found).map((f) => f.replace(ciTime, 'CI'));
  }

  it('CI a few hundred nanoseconds before the console write, in its millisecond: as a millisecond before it', async () => {
    const apart = await run('2024-05-06T22:58:04.354100Z');
    expect(apart).toEqual([...expected(c), ...c.rules.map((rule) => `${rule} active ${CI} -`)].sort());
    expect(await run('2024-05-06T22:58:04.355100Z')).toEqual(apart);
  });
});

describe('the late half of a v2 write, tied to it by time and principal, is recorded at the write', () => {
  // A v2 write (Terraform, deployer@) sets a secret in plain text and is judged without its revision's events; another
  // principal's v2 update 10 s later drops it (closing that finding); the first write's revision events come after
  // the wait and are claimed by time and principal as its late half. Recorded at their own time, they put the secret
  // back in force after the update that dropped it: a deploy half an hour later that sets it again was not reported.
  const SECRET = { name: 'DB_PASSWORD', value: 'hunter2hunter2' };
  const RELEASE = 'release@acme-ci.iam.gserviceaccount.com';
  const [create, createdRevision] = synthetic('seq-v2-operation') as unknown as [Json, Json];
  const write = v2EnvUpdate('2024-06-01T11:00:00Z', [SECRET]);
  const dropped = byPrincipal(v2EnvUpdate('2024-06-01T11:00:10Z', []), RELEASE);
  const lateEvents = variant(
    renamed(at(createdRevision, '2024-06-01T11:00:21Z'), [[SEQ_V2_REVISION, 'storefront-00002-aaa'], [SEQ_V2_EVENT_OPERATION, 'op-late'], creatorIs('deployer@acme-ci.iam.gserviceaccount.com')]),
    (e) => {
      const spec = (e.protoPayload['response'] as Record<string, Record<string, unknown>>)['spec']!;
      (spec['containers'] as Record<string, unknown>[])[0]!['env'] = [SECRET];
    },
  );
  const again = byPrincipal(v2EnvUpdate('2024-06-01T11:30:00Z', [SECRET]), RELEASE);
  const secretsOf = (found: readonly Finding[]): string[] =>
    found.filter((f) => f.rule === 'plaintext-secret-env' && f.principal === RELEASE).map((f) => `${f.status ?? 'active'} ${f.eventTime}`);

  it('live (each entry judged before the next arrives): the deploy that sets the secret again is reported', async () => {
    expect(secretsOf(await findingsLive([create, createdRevision, write, dropped, lateEvents, again], cfg))).toEqual(['active 2024-06-01T11:30:00Z']);
  });

  for (const mode of ['memory', 'file'] as const) {
    it(`replay (${mode}), the events delivered last, past the reorder buffer: the same`, async () => {
      const found = await replayedAsWritten([create, createdRevision, write, dropped, again, lateEvents], cfg, mode);
      expect(secretsOf(found)).toEqual(['active 2024-06-01T11:30:00Z']);
    });
  }
});
