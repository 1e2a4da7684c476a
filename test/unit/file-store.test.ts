// `runwatch replay --state FILE`: baselines kept in one JSON file between replays.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileBaselineStore } from '../../functions/baseline/file.js';
import { emptyBaseline } from '../../functions/baseline/state.js';

const stateIn = (): string => join(mkdtempSync(join(tmpdir(), 'runwatch-state-')), 'state.json');

describe('FileBaselineStore', () => {
  it('keeps baselines from one open to the next, written at close', async () => {
    const path = stateIn();
    const first = await FileBaselineStore.open(path);
    first.transactSync('p/l/s', () => ({ next: { ...emptyBaseline(), lastChangeMs: 5 }, result: undefined }));
    await first.close();
    const second = await FileBaselineStore.open(path);
    expect(await second.get('p/l/s')).toMatchObject({ version: 1, lastChangeMs: 5 });
    await second.release();
  });

  it('two replays cannot use one state file at once (the last to finish would drop the other\'s baselines)', async () => {
    const path = stateIn();
    const first = await FileBaselineStore.open(path);
    await expect(FileBaselineStore.open(path)).rejects.toThrow(`state file ${path} is in use by another replay (process ${process.pid}); if none is running, delete ${path}.lock`);
    await first.close();
    const again = await FileBaselineStore.open(path); // free once closed
    await again.release();
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('release lets the file go unchanged (a replay that failed)', async () => {
    const path = stateIn();
    writeFileSync(path, JSON.stringify({ format: 'runwatch-baseline', version: 1, services: {} }));
    const store = await FileBaselineStore.open(path);
    store.transactSync('p/l/s', () => ({ next: emptyBaseline(), result: undefined }));
    await store.release();
    await store.release(); // twice is fine
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ format: 'runwatch-baseline', version: 1, services: {} });
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('a write-back that fails (here the path became a folder) leaves no temp file; release lets the lock go', async () => {
    const path = stateIn();
    const store = await FileBaselineStore.open(path);
    mkdirSync(path);
    writeFileSync(join(path, 'x'), '');
    await expect(store.close()).rejects.toThrow();
    await store.release();
    expect(readdirSync(dirname(path))).toEqual(['state.json']);
  });

  // What a signal during the write-back does (cli/signals.ts): the file ends whole, the lock and temp file gone.
  it('release while close writes lets the write finish first', async () => {
    const path = stateIn();
    writeFileSync(path, JSON.stringify({ format: 'runwatch-baseline', version: 1, services: {} }));
    const store = await FileBaselineStore.open(path);
    store.transactSync('p/l/s', () => ({ next: { ...emptyBaseline(), lastChangeMs: 5 }, result: undefined }));
    const closing = store.close();
    await store.release();
    expect(readdirSync(dirname(path))).toEqual(['state.json']);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ services: { 'p/l/s': { lastChangeMs: 5 } } });
    await closing;
  });

  it('close after release writes nothing (an interrupted replay still running)', async () => {
    const path = stateIn();
    const before = JSON.stringify({ format: 'runwatch-baseline', version: 1, services: {} });
    writeFileSync(path, before);
    const store = await FileBaselineStore.open(path);
    store.transactSync('p/l/s', () => ({ next: emptyBaseline(), result: undefined }));
    await store.release();
    await expect(store.close()).rejects.toThrow(`state file ${path} was let go without being written`);
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(readdirSync(dirname(path))).toEqual(['state.json']);
  });

  it.each([
    ['not JSON', '{', 'is not JSON; move it away to start afresh'],
    ['null', 'null', 'is not a runwatch baseline (format runwatch-baseline, version 1)'],
    ['another format', '{"format": "x", "version": 1, "services": {}}', 'is not a runwatch baseline'],
    ['a service without its histories', '{"format": "runwatch-baseline", "version": 1, "services": {"p/l/s": {"version": 1}}}', 'the baseline of "p/l/s" is not one runwatch wrote'],
    ['a service that is not an object', '{"format": "runwatch-baseline", "version": 1, "services": {"p/l/s": null}}', 'the baseline of "p/l/s" is not one runwatch wrote'],
  ])('refuses a state file that is %s, with a clear error, and leaves no lock', async (_name, text, message) => {
    const path = stateIn();
    writeFileSync(path, text);
    await expect(FileBaselineStore.open(path)).rejects.toThrow(message);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });
});
