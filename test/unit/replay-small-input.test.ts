// Worker threads only where they pay: each loads the engine and warms up on its own (about 0.25 s of CPU before its
// first line, README "Both cores work"), so by default a replay of little input runs on one thread, and a replay
// whose files cannot be cut into lines (JSON arrays, gzip) starts no parse worker it would leave idle. Threads are
// counted through process 'worker' events, which Node emits for every Worker this process creates.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { Finding } from '../../functions/findings/finding.js';
import { replay, WORKER_INPUT_BYTES, type ReplayOptions } from '../../functions/replay/replay.js';
import { config } from '../support/run.js';

const logs = fileURLToPath(new URL('../../examples/logs/', import.meta.url));
const ndjson = join(logs, '2024-05-week-21.ndjson');
const jsonArray = join(logs, '2024-05-week-19.json');
const cfg = config({ changeWindows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }] });

let started = 0;
const count = (): void => void started++;
beforeEach(() => {
  started = 0;
  process.on('worker', count);
});
afterEach(() => void process.off('worker', count));

async function run(options: Partial<ReplayOptions>): Promise<string[]> {
  const findings: Finding[] = [];
  await replay({ config: cfg, paths: [], ...options, onFinding: (f) => void findings.push(f) });
  return findings.map((f) => JSON.stringify(f)).sort();
}

describe('replay starts worker threads only where they pay', () => {
  const oneThread = (paths: string[]) => run({ paths, workers: 0 });

  it.each([
    ['one small NDJSON file', [ndjson]],
    ['the example folder (NDJSON and a JSON array)', [logs]],
  ])('%s, no --workers: one thread, its findings', async (_name, paths) => {
    const reference = await oneThread(paths);
    expect(started).toBe(0);
    const found = await run({ paths });
    expect(started).toBe(0);
    expect(found).toEqual(reference);
    expect(found.length).toBeGreaterThan(0);
  });

  it('no --workers and input of WORKER_INPUT_BYTES or more: engine workers, one per core (at most 4)', async () => {
    const reference = await oneThread([ndjson]);
    const found = await run({ paths: [ndjson], workerInputBytes: 1 });
    expect(started).toBeGreaterThanOrEqual(2);
    expect(found).toEqual(reference);
    expect(WORKER_INPUT_BYTES).toBe(64 * 1024 * 1024);
  });

  it('--workers given: started whatever the input size', async () => {
    const found = await run({ paths: [ndjson], workers: 2 });
    expect(started).toBe(2);
    expect(found).toEqual(await oneThread([ndjson]));
  });

  it('parse workers asked for, but no file can be cut into lines (a JSON array): none started', async () => {
    const store = new MemoryBaselineStore();
    const found = await run({ paths: [jsonArray], workers: 2, store });
    expect(started).toBe(0);
    expect(found).toEqual(await run({ paths: [jsonArray], workers: 0, store: new MemoryBaselineStore() }));
  });

  it('parse workers for the NDJSON files among others: started once a file needs them', async () => {
    const found = await run({ paths: [jsonArray, ndjson], workers: 2, store: new MemoryBaselineStore() });
    expect(started).toBe(2);
    expect(found).toEqual(await run({ paths: [jsonArray, ndjson], workers: 0, store: new MemoryBaselineStore() }));
  });
});
