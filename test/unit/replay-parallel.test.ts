// The worker-thread reader must give exactly what the sequential reader gives: same findings, same counts,
// whatever the chunk boundaries (the generated file spans several 1 MiB chunks).
import { mkdtempSync, appendFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generate } from '../../bench/generate.js';
import { FileBaselineStore } from '../../functions/baseline/file.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { Finding } from '../../functions/findings/finding.js';
import { projectBytes } from '../../functions/replay/partition.js';
import { replay } from '../../functions/replay/replay.js';
import { config } from '../support/run.js';
import { fixtureEntries } from '../support/entries.js';
import { seededRandom } from '../support/random.js';
import { runwatch } from '../support/cli.js';

const cfg = config({
  changeWindows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
  rules: { 'new-image-repository': { trustedRepositories: ['europe-west1-docker.pkg.dev/*/*'] } },
});

/** With a store, one thread keeps the baselines (workers only parse); without, projects are spread over workers. */
async function run(file: string, workers: number, partitioned = false) {
  const findings: Finding[] = [];
  const stats = await replay({ config: cfg, ...(partitioned ? {} : { store: new MemoryBaselineStore() }), paths: [file], workers, onFinding: (f) => void findings.push(f) });
  return { findings, stats };
}

describe('parallel replay', () => {
  it('gives the same findings and counts as the sequential reader', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'runwatch-parallel-')), 'entries.ndjson');
    await generate(file, 1500);
    appendFileSync(file, 'not json\n{"no":"timestamp"}\n');
    // Blank and whitespace-only lines, a CRLF line ending, two entries in one array line, non-ASCII text.
    const lines = readFileSync(file, 'utf8').split('\n');
    const relabelled = lines[7]!.replace('"insertId":"', '"insertId":"caf\u00e9-\u6771\u4eac-');
    appendFileSync(file, `\n   \n${relabelled}\r\n[${lines[3]},${lines[4]}]\n`);
    const sequential = await run(file, 0);
    const parallel = await run(file, 2);
    expect(sequential.stats.entriesRead).toBe(1505);
    expect(sequential.stats.duplicates).toBeGreaterThanOrEqual(2);
    expect(sequential.findings.length).toBeGreaterThan(10);
    expect(parallel.findings.map((f) => f.id)).toEqual(sequential.findings.map((f) => f.id));
    expect(parallel.stats.malformedExamples).toEqual(sequential.stats.malformedExamples);
    expect({ ...parallel.stats, malformedExamples: [] }).toEqual({ ...sequential.stats, malformedExamples: [] });
    expect(parallel.stats.malformedExamples).toEqual([`${file}:1501: line is not JSON`, `${file}:1502: entry has no timestamp`]);

    // Projects spread over two workers that parse, normalize and detect: the same findings (in another order).
    const partitioned = await run(file, 2, true);
    expect(partitioned.findings.map((f) => f.id).sort()).toEqual(sequential.findings.map((f) => f.id).sort());
    expect(partitioned.findings.map((f) => JSON.stringify(f)).sort()).toEqual(sequential.findings.map((f) => JSON.stringify(f)).sort());
    expect({ ...partitioned.stats, outOfOrder: 0 }).toEqual({ ...sequential.stats, outOfOrder: 0 });
  }, 60_000);
});

describe('partitioned replay and what deployers write', () => {
  it('a "logName" in a deploy\'s annotations does not send the entry to another worker: the same findings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-decoy-'));
    const clean = join(dir, 'clean.ndjson');
    await generate(clean, 1500);
    // The entry's own logName last (export order puts protoPayload first), and every admin write naming another
    // project in an annotation, which then comes first.
    let n = 0;
    const decoyed = readFileSync(clean, 'utf8')
      .split('\n')
      .map((line) => {
        const own = /"logName":"([^"]*)",/.exec(line);
        if (!own) return line;
        const moved = `${line.replace(own[0], '').slice(0, -1)},"logName":"${own[1]}"}`;
        return moved.replace(/"annotations":\{/g, () => `"annotations":{"logName":"projects/decoy-${n++ % 7}/logs/x",`);
      })
      .join('\n');
    expect(n).toBeGreaterThan(500);
    const file = join(dir, 'decoyed.ndjson');
    appendFileSync(file, decoyed);
    const sequential = await run(file, 0);
    const partitioned = await run(file, 2, true);
    expect(sequential.findings.length).toBeGreaterThan(10);
    expect(partitioned.findings.map((f) => JSON.stringify(f)).sort()).toEqual(sequential.findings.map((f) => JSON.stringify(f)).sort());
  }, 60_000);
});

// Entries later than the reorder buffer could wait for: a project's rollouts must not be completed by another
// project's entries, which its worker never sees, or the findings would depend on --workers.
describe('entries later than the reorder buffer holds', () => {
  it('complete a project\'s rollouts by that project\'s entries alone: the same findings with and without workers', async () => {
    const [write, revisionEvent, serviceEvent] = JSON.parse(readFileSync(new URL('../fixtures/synthetic-seq-console-deploy.json', import.meta.url), 'utf8')) as Record<string, unknown>[];
    /** The console deploy's write again, in another project, an hour later: its entries do not concern the first. */
    const elsewhere = (minute: number): string =>
      JSON.stringify(write)
        .replaceAll('test-project-1234', 'other-project')
        .replace(/"timestamp":"[^"]*"/, `"timestamp":"2024-05-06T23:${minute}:00Z"`)
        .replace(/"insertId":"[^"]*"/, `"insertId":"other-${minute}"`);
    // With room for one entry, the other project's entries come out between the write and its system events.
    const lines = [JSON.stringify(write), elsewhere(58), elsewhere(59), JSON.stringify(revisionEvent), JSON.stringify(serviceEvent)];
    const file = join(mkdtempSync(join(tmpdir(), 'runwatch-late-')), 'entries.ndjson');
    appendFileSync(file, `${lines.join('\n')}\n`);
    const replayed = async (workers: number, reorderCapacity: number, store?: FileBaselineStore) => {
      const findings: Finding[] = [];
      const stats = await replay({ config: cfg, paths: [file], workers, reorderCapacity, store, onFinding: (f) => void findings.push(f) });
      await store?.close();
      return { findings: findings.map((f) => JSON.stringify(f)).sort(), stats };
    };
    const inOrder = await replayed(0, 1000);
    const late = await replayed(0, 1);
    const lateOnWorkers = await replayed(2, 1);
    const lateWithState = await replayed(0, 1, await FileBaselineStore.open(join(dirname(file), 'state.json')));
    expect(late.stats.outOfOrder).toBe(2);
    expect(lateOnWorkers.stats.outOfOrder).toBe(2);
    expect(lateWithState.findings).toEqual(late.findings);
    // The system events still join their write: the image they name is judged (console writes log none).
    expect(inOrder.findings.some((f) => f.includes('"rule":"new-image-repository"'))).toBe(true);
    expect(late.findings).toEqual(inOrder.findings);
    expect(lateOnWorkers.findings).toEqual(late.findings);
  }, 30_000);
});

// Differential: random files made of every fixture entry (shuffled, repeated, shifted in time, two to a line,
// broken lines, blank lines, CRLF), replayed on one thread and on two workers, with a reorder buffer that holds
// them all and with one that holds a single entry. Seeded: a failure repeats.
describe('one thread and two workers on random input', () => {
  const seeds = fixtureEntries();

  function randomFile(seed: number): string {
    const next = seededRandom(seed);
    const pick = (): Record<string, unknown> => structuredClone(seeds[Math.floor(next() * seeds.length)]) as Record<string, unknown>;
    const lines: string[] = [];
    for (let i = 0; i < 300; i++) {
      const roll = next();
      const entry = pick();
      if (roll < 0.04) lines.push('{"broken": ');
      else if (roll < 0.07) lines.push('');
      else if (roll < 0.12) lines.push(JSON.stringify([entry, pick()]));
      else {
        if (roll < 0.35 && typeof entry['timestamp'] === 'string') {
          // A copy elsewhere in time: a distinct entry (its own insertId) of the same service.
          entry['timestamp'] = new Date(Date.parse(entry['timestamp']) + Math.floor((next() - 0.5) * 7_200_000)).toISOString();
          entry['insertId'] = `${String(entry['insertId'])}-${i}`;
        }
        lines.push(JSON.stringify(entry));
      }
    }
    const file = join(mkdtempSync(join(tmpdir(), 'runwatch-differential-')), 'entries.ndjson');
    appendFileSync(file, lines.join(seed % 2 === 0 ? '\r\n' : '\n'));
    return file;
  }

  it.each([1, 2, 3])('seed %i: the same findings and counts', async (seed) => {
    const file = randomFile(seed);
    for (const reorderCapacity of [1000, 1]) {
      const replayed = async (workers: number) => {
        const findings: string[] = [];
        const stats = await replay({ config: cfg, paths: [file], workers, reorderCapacity, onFinding: (f) => void findings.push(JSON.stringify(f)) });
        return { findings: findings.sort(), stats };
      };
      const one = await replayed(0);
      const two = await replayed(2);
      expect(one.findings.length).toBeGreaterThan(20);
      expect(two.findings, `seed ${seed}, reorder buffer ${reorderCapacity}`).toEqual(one.findings);
      expect({ ...two.stats, malformedExamples: [] }).toEqual({ ...one.stats, malformedExamples: [] });
    }
  }, 60_000);
});

describe('partitioned replay when a worker fails', () => {
  it('rejects with the worker error instead of waiting forever, whatever is in flight', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'runwatch-fail-')), 'entries.ndjson');
    await generate(file, 6000); // several chunks in flight when the workers fail on their first message
    const broken = { ...cfg, cloudFunctions: undefined } as unknown as typeof cfg;
    await expect(replay({ config: broken, paths: [file], workers: 2, onFinding: () => undefined })).rejects.toThrow(/cloudFunctions|undefined/);
  }, 30_000);
});

describe('projectBytes', () => {
  it.each([
    ['{"logName":"projects/acme-1/logs/cloudaudit.googleapis.com%2Factivity","x":1}', 'acme-1'],
    ['{"insertId":"a", "logName" : "projects/p2/logs/x"}', 'p2'],
    ['{"logName":"organizations/1/logs/x","resource":{"labels":{"project_id":"from-labels"}}}', 'from-labels'],
    ['{"resource":{"labels":{"project_id":"only-labels"}}}', 'only-labels'],
    ['{"insertId":"none"}', ''],
    // Anyone who can deploy writes annotations and labels: a nested "logName" or "project_id" must not move the
    // entry to another worker, away from its service's baseline.
    ['{"protoPayload":{"request":{"service":{"metadata":{"annotations":{"logName":"projects/decoy/logs/x"}}}}},"logName":"projects/real/logs/a"}', 'real'],
    ['{"protoPayload":{"labels":{"project_id":"decoy"}},"logName":"organizations/1/logs/x","resource":{"labels":{"project_id":"real"}}}', 'real'],
    ['{"protoPayload":{"note":"\\"logName\\":\\"projects/decoy/logs/x\\""},"logName":"projects/real/logs/a"}', 'real'],
    // An escape that may spell the key: parsed, as the worker will.
    ['{"log\\u004eame":"projects/escaped/logs/a"}', 'escaped'],
  ])('%s -> %j', (line, project) => {
    expect(projectBytes(Buffer.from(line)).toString()).toBe(project);
  });
});

// plaintext-secret-env's name globs are applied where the values are, while entries are normalized: on the main
// thread, in the parse workers and in the engine workers alike.
describe('replay threads and the secret-variable names of the config', () => {
  const plainSecret = JSON.parse(readFileSync(new URL('../fixtures/pipeline/synthetic-pipeline-deploy-8-plain-secret.json', import.meta.url), 'utf8')) as unknown;

  it.each([
    ['default names', {}, ['DB_PASSWORD']],
    ['DB_PASSWORD allowed (any letter case)', { allowNames: ['db_*'] }, []],
    ['only *_LEVEL names are secrets (LOG_LEVEL is short: not one)', { namePatterns: ['*_LEVEL'] }, []],
    ['the rule off', { enabled: false }, []],
  ])('%s: the same in every mode', async (_name, rule, expected) => {
    const file = join(mkdtempSync(join(tmpdir(), 'runwatch-env-')), 'entries.ndjson');
    appendFileSync(file, `${JSON.stringify(plainSecret)}\n`);
    const settings = config({ rules: { 'plaintext-secret-env': rule } });
    for (const mode of [{ workers: 0, store: new MemoryBaselineStore() }, { workers: 2, store: new MemoryBaselineStore() }, { workers: 2 }]) {
      const findings: Finding[] = [];
      await replay({ config: settings, paths: [file], ...mode, onFinding: (f) => void findings.push(f) });
      const secrets = findings.filter((f) => f.rule === 'plaintext-secret-env').flatMap((f) => f.evidence['variables'] as string[]);
      expect(secrets, JSON.stringify({ workers: mode.workers, store: 'store' in mode })).toEqual(expected);
    }
  });
});

describe('--workers beyond what the input can keep busy', () => {
  // Each worker thread loads the engine and warms up (about 0.5 s and tens of MB: README, Development) whatever its
  // share of the input: `--workers 64` on this 53 KB file ran 68 s and took 950 MB, `--workers 16` 16 s, against 3 s
  // on one thread. More than 4 are started only for input that keeps them busy (one per 64 MiB), and a warning says so.
  const file = fileURLToPath(new URL('../../examples/logs/2024-05-week-21.ndjson', import.meta.url));

  it('starts at most 4 for a small file, saying so, with the findings of one thread', async () => {
    const many = await runwatch(['replay', '--workers', '16', '--format', 'ndjson', '--quiet', file]);
    const one = await runwatch(['replay', '--workers', '0', '--format', 'ndjson', '--quiet', file]);
    expect(many.code).toBe(0);
    expect(many.stderr).toMatch(/^runwatch replay: warning: 16 worker threads asked for, at most 4 started: 60 KiB of input keeps no more busy \(one per 64 MiB beyond 4\)$/m);
    expect(many.stdout.split('\n').sort()).toEqual(one.stdout.split('\n').sort());
    expect(one.stderr).toBe('');
  }, 120_000);

  it('says nothing when no more than 4 are asked for', async () => {
    const run = await runwatch(['replay', '--workers', '4', '--format', 'ndjson', '--quiet', file]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
  });
});
