// Replay runs the pipeline without promises (handleParsedSync, for process-local stores), and changes its own
// store's baselines in place (changesInPlace); the live function runs it with promises (handleParsed) on baselines
// it never changes in place. All must do exactly the same: same outcomes, same findings, same baselines.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generate } from '../../bench/generate.js';
import { readEnvelope } from '../../functions/audit/entry.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { Pipeline, type EntryOutcome } from '../../functions/pipeline.js';
import { config } from '../support/run.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** Every fixture entry (corpus, synthetic, sequences), each twice: the copy must be a duplicate both ways. */
function fixtureEntries(): unknown[] {
  const entries: unknown[] = [];
  for (const dir of [FIXTURES, `${FIXTURES}corpus/`, `${FIXTURES}pipeline/`]) {
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
      const value: unknown = JSON.parse(readFileSync(join(dir, name), 'utf8'));
      entries.push(...(Array.isArray(value) ? value : [value]));
    }
  }
  return [...entries, ...entries.slice(0, 20)];
}

async function bothWays(entries: readonly unknown[]): Promise<void> {
  const cfg = config({
    changeWindows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
    rules: { 'new-image-repository': { trustedRepositories: ['europe-west1-docker.pkg.dev/*/*'] } },
  });
  const asyncStore = new MemoryBaselineStore();
  const syncStore = new MemoryBaselineStore();
  const inPlaceStore = new MemoryBaselineStore([], { changesInPlace: true });
  const viaPromises = new Pipeline({ config: cfg, store: asyncStore });
  const direct = new Pipeline({ config: cfg, store: syncStore });
  const inPlace = new Pipeline({ config: cfg, store: inPlaceStore });
  expect(direct.sync).toBe(true);
  const a: EntryOutcome[] = [];
  const b: EntryOutcome[] = [];
  const c: EntryOutcome[] = [];
  // Every baseline version the copying store ever held, frozen as it was stored: none may change afterwards.
  const versions: [unknown, string][] = [];
  for (const entry of entries) {
    const envelope = readEnvelope(entry);
    if (!envelope.ok) continue;
    const parsed = viaPromises.normalize(envelope.envelope);
    a.push(await viaPromises.handleParsed(parsed, envelope.envelope.timeMs));
    b.push(direct.handleParsedSync(parsed, envelope.envelope.timeMs));
    c.push(inPlace.handleParsedSync(parsed, envelope.envelope.timeMs));
    if (versions.length < 400) for (const [, baseline] of syncStore.entries()) versions.push([baseline, JSON.stringify(baseline)]);
  }
  expect(b).toEqual(a);
  expect(c).toEqual(a);
  const flushed = await viaPromises.flush();
  expect(await direct.flush()).toEqual(flushed);
  expect(await inPlace.flush()).toEqual(flushed);
  expect(new Map(syncStore.entries())).toEqual(new Map(asyncStore.entries()));
  expect(new Map(inPlaceStore.entries())).toEqual(new Map(asyncStore.entries()));
  for (const [baseline, text] of versions) expect(JSON.stringify(baseline)).toBe(text);
  expect(a.filter((o) => o.status === 'processed' && o.findings.length > 0).length).toBeGreaterThan(0);
}

describe('the synchronous pipeline (replay) and the asynchronous one (live) agree', () => {
  it('on every fixture, in order, with duplicates', async () => {
    await bothWays(fixtureEntries());
  });

  it('on the same fixtures in reverse order (late entries, system events before their writes)', async () => {
    await bothWays(fixtureEntries().reverse());
  });

  it('on generated traffic', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'runwatch-sync-')), 'entries.ndjson');
    await generate(file, 3000);
    await bothWays(readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown));
  });
});
