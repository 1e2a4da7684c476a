// The Firestore baseline store against the in-memory one, on the same random sequences of fixture entries (some
// damaged, some shifted in time, some repeated): every baseline goes through Firestore's encoding (map keys with
// dots and slashes, empty maps and lists, nested lists, hostile strings) and back, and must change nothing. Seeded.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { Firestore } from '@google-cloud/firestore';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createFirestore, FirestoreBaselineStore } from '../../functions/baseline/firestore.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { BaselineStore } from '../../functions/baseline/store.js';
import { readEnvelope } from '../../functions/audit/entry.js';
import { Pipeline } from '../../functions/pipeline.js';
import { config } from '../support/run.js';

const emulators = inject('runwatchEmulators');
const FIXTURES = new URL('../fixtures/', import.meta.url);

const seeds: Record<string, unknown>[] = ['', 'corpus/', 'pipeline/'].flatMap((dir) =>
  readdirSync(new URL(dir, FIXTURES))
    .filter((name) => name.endsWith('.json'))
    .flatMap((name) => {
      const value: unknown = JSON.parse(readFileSync(new URL(`${dir}${name}`, FIXTURES), 'utf8'));
      return (Array.isArray(value) ? value : [value]) as Record<string, unknown>[];
    }),
);

/** Hostile values written where deployers write: label and annotation keys and values. */
const HOSTILE = ['__reserved__', 'a.b', 'a/b', '', ' ', '`', '\u0000', '\u202e', 'x'.repeat(1500), 'ünïcødé', '$ref', '[]'];

function sequence(seed: number, length: number): Record<string, unknown>[] {
  let state = seed;
  const next = (): number => ((state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff) / 0x7fffffff);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  return Array.from({ length }, (_, i) => {
    const entry = structuredClone(pick(seeds));
    const roll = next();
    if (roll < 0.3 && typeof entry['timestamp'] === 'string') {
      entry['timestamp'] = new Date(Date.parse(entry['timestamp']) + Math.floor((next() - 0.5) * 7_200_000)).toISOString();
      entry['insertId'] = `${String(entry['insertId'])}-${seed}-${i}`;
    }
    // A hostile key and value in every label and annotation map of the entry (request, response, template).
    const poison = (value: unknown): void => {
      if (value === null || typeof value !== 'object') return;
      for (const [key, child] of Object.entries(value)) {
        if ((key === 'labels' || key === 'annotations') && child !== null && typeof child === 'object' && !Array.isArray(child)) {
          (child as Record<string, unknown>)[pick(HOSTILE)] = pick(HOSTILE);
        }
        poison(child);
      }
    };
    if (roll > 0.7) poison(entry);
    return entry;
  });
}

async function run(store: BaselineStore, entries: readonly Record<string, unknown>[]): Promise<string[]> {
  const cfg = config({ rules: { 'unapproved-deployer': { allowedDeployers: ['serviceAccount:*'] } } });
  const pipeline = new Pipeline({ config: cfg, store, projectClocks: true });
  const out: string[] = [];
  for (const entry of entries) {
    const envelope = readEnvelope(entry);
    const outcome = await pipeline.handleEntry(entry, envelope.ok ? envelope.envelope.timeMs : 0);
    out.push(outcome.status === 'processed' ? `processed ${outcome.note}` : outcome.status);
    if (outcome.status === 'processed') out.push(...outcome.findings.map((f) => JSON.stringify(f)));
  }
  out.push(...(await pipeline.flush()).map((f) => JSON.stringify(f)));
  return out;
}

describe.skipIf(!emulators.available)('Firestore and in-memory baselines on random entries (emulator)', () => {
  let db: Firestore;
  beforeAll(async () => {
    if (!emulators.available) return;
    Object.assign(process.env, emulators.env);
    db = await createFirestore({ projectId: emulators.projectId });
  });
  afterAll(async () => {
    await db?.terminate();
  });

  it.each([1, 2])('seed %i: the same outcomes and findings', async (seed) => {
    const entries = sequence(seed, 150);
    const inMemory = await run(new MemoryBaselineStore(), entries);
    const firestore = new FirestoreBaselineStore({ firestore: db, collection: `differential-${randomUUID().slice(0, 8)}` });
    const inFirestore = await run(firestore, entries);
    expect(inMemory.filter((line) => line.startsWith('{')).length).toBeGreaterThan(20);
    expect(inFirestore).toEqual(inMemory);
  }, 120_000);
});
