// The engine workers of a partitioned replay own whole projects (partition.ts): a thread to which no project's line
// is routed gets nothing to do, yet it loaded the engine all the same (about 0.2 s of CPU and tens of MB each). A
// thread starts with the first line routed to it: a one-project export starts one, whatever --workers says, with the
// findings and counts of one thread. The threads here are the compiled engine worker behind a wrapper that notes
// each start in a file.
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generate } from '../../bench/generate.js';
import type { Finding } from '../../functions/findings/finding.js';
import { replayPartitioned } from '../../functions/replay/partition.js';
import { replay, type ReplayStats } from '../../functions/replay/replay.js';
import { compiledWorker } from '../../functions/replay/workers.js';
import { config } from '../support/run.js';

const dir = mkdtempSync(join(tmpdir(), 'runwatch-started-'));
const starts = join(dir, 'starts.txt');
const script = join(dir, 'counting-engine-worker.mjs');
const engine = compiledWorker('engineWorker.js');
if (!engine) throw new Error('dist/functions/replay/engineWorker.js is missing: npm run build first');
writeFileSync(starts, '');
writeFileSync(script, `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(starts)}, 'started\\n');\nawait import(${JSON.stringify(engine.href)});\n`);
const started = (): number => readFileSync(starts, 'utf8').split('\n').filter((l) => l === 'started').length;

// An exception, so that the counts name one (ReplayStats.exceptions): listed whether or not a thread started.
const cfg = config({
  changeWindows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
  rules: {
    'new-image-repository': { trustedRepositories: ['europe-west1-docker.pkg.dev/*/*'] },
    'unapproved-deployer': { allowedDeployers: ['serviceAccount:*'] },
    'public-invoker-grant': { exceptions: [{ project: 'acme-*', service: 'acme-prod/store*' }] },
  },
});

async function replayed(file: string, workers: number): Promise<{ findings: string[]; stats: ReplayStats; started: number }> {
  writeFileSync(starts, '');
  const findings: string[] = [];
  const options = { config: cfg, paths: [file], onFinding: (f: Finding) => void findings.push(JSON.stringify(f)) };
  const stats = workers === 0 ? await replay({ ...options, workers: 0 }) : await replayPartitioned(options, [file], pathToFileURL(script), workers);
  return { findings: findings.sort(), stats, started: started() };
}

/** The counts compared across modes: the engine workers count entries later than the buffer on the main thread. */
const counts = (stats: ReplayStats): ReplayStats => ({ ...stats, outOfOrder: 0 });

describe('partitioned replay starts an engine worker for the projects routed to it, not for each of --workers', () => {
  it('one project, four workers: one thread, the findings and counts of one thread', async () => {
    const file = join(dir, 'one-project.ndjson');
    const deploy = JSON.parse(readFileSync(new URL('../fixtures/synthetic-seq-console-deploy.json', import.meta.url), 'utf8')) as unknown[];
    writeFileSync(file, deploy.map((e) => `${JSON.stringify(e)}\n`).join(''));
    const one = await replayed(file, 0);
    const four = await replayed(file, 4);
    expect(one.findings.length).toBeGreaterThan(0);
    expect(four.findings).toEqual(one.findings);
    expect(counts(four.stats)).toEqual(counts(one.stats));
    expect(four.started).toBe(1);
  }, 30_000);

  it('twenty projects, four workers: four threads, the findings and counts of one thread', async () => {
    const file = join(dir, 'many-projects.ndjson');
    await generate(file, 400); // projects acme-0 to acme-19
    const one = await replayed(file, 0);
    const four = await replayed(file, 4);
    expect(four.findings).toEqual(one.findings);
    expect(counts(four.stats)).toEqual(counts(one.stats));
    expect(four.started).toBe(4);
  }, 30_000);

  it('no line at all: no thread, the counts of one thread (the exceptions listed)', async () => {
    const file = join(dir, 'empty.ndjson');
    appendFileSync(file, '');
    const one = await replayed(file, 0);
    const four = await replayed(file, 4);
    expect(one.stats.exceptions).toEqual(['rules.public-invoker-grant.exceptions[0]']);
    expect(counts(four.stats)).toEqual(counts(one.stats));
    expect(four.findings).toEqual([]);
    expect(four.started).toBe(0);
  }, 30_000);
});
