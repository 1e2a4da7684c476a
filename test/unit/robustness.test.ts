// Bad input loses nothing and crashes nothing: real and synthetic fixtures, changed at random (fields removed,
// replaced by values of the wrong type, by hostile strings, by other entries), go through replay and through the
// live pipeline; configs changed at random either fail validation with paths or run. Seeded, so a failure repeats:
// the seed and the case are in the assertion message. This found a config that validated and then crashed the
// first deploy it judged (an approved deployer written as `user:`).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import findingSchema from '../../schemas/finding.schema.json' with { type: 'json' };
import { normalizeOptionsOf } from '../../functions/audit/normalize.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { ConfigError, validateConfig } from '../../functions/config/load.js';
import type { RunwatchConfig } from '../../functions/config/types.js';
import type { Finding } from '../../functions/findings/finding.js';
import { Pipeline } from '../../functions/pipeline.js';
import { parseItem } from '../../functions/replay/item.js';
import { ReplayRun, type ReplayStats } from '../../functions/replay/replay.js';
import { exampleEntries, fixtureEntries } from '../support/entries.js';
import { seededRandom } from '../support/random.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const validFinding = new Ajv({ allErrors: true, strict: false }).compile(findingSchema);

/** Every entry of the fixtures and the demo logs. */
function seedEntries(): unknown[] {
  return [...fixtureEntries(), ...exampleEntries()];
}

type Node = Record<string, unknown> | unknown[];
type Path = (string | number)[];

function pathsOf(value: unknown, path: Path = [], out: Path[] = []): Path[] {
  if (path.length > 0) out.push(path);
  if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) pathsOf(child, [...path, Array.isArray(value) ? Number(key) : key], out);
  }
  return out;
}

/** A copy of `value` with one to three of its fields removed or replaced by one of `replacements` or another seed. */
function mutant(value: unknown, next: () => number, replacements: readonly unknown[], others: readonly unknown[]): unknown {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const copy: unknown = structuredClone(value);
  for (let n = 1 + Math.floor(next() * 3); n > 0; n--) {
    const paths = pathsOf(copy);
    if (paths.length === 0) break;
    const path = pick(paths);
    let parent = copy as Node;
    for (const key of path.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[key] as Node;
    const key = path[path.length - 1]!;
    const roll = next();
    if (roll < 0.3) {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else {
      (parent as Record<string | number, unknown>)[key] = structuredClone(roll < 0.9 ? pick(replacements) : pick(others));
    }
  }
  return copy;
}

/** Wrong types, empty and huge strings, hostile text, impossible times, prototype keys. */
const ENTRY_VALUES: readonly unknown[] = [
  null, 0, -1, 1.5, 1e308, true, '', ' ', '0', 'x', '\u0000', 'a'.repeat(5000), [], {}, [null], [{}], { a: 1 },
  'projects/', 'namespaces//services/', 'projects/p/locations//services/s', '2024-02-30T25:61:00Z', '1970-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999999999Z', '0001-01-01T00:00:00Z', '1890-06-01T12:00:00.5+00:53', 'allUsers', ['allUsers'], 'roles/run.invoker', '<!channel> <https://evil.example|x>',
  'a:b@sha256:zz', 'gcr.io', 'localhost:5000/x', '__proto__', 'constructor', { ['__proto__']: { polluted: true } },
];

const CONFIG = validateConfig({
  timezone: 'Europe/Berlin',
  changeWindows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
  freezes: [{ start: '2024-03-01T00:00:00', end: '2024-03-08T00:00:00', reason: 'freeze' }],
  rules: {
    'new-image-repository': { trustedRepositories: ['gcr.io/trusted/*'] },
    'unapproved-deployer': { allowedDeployers: ['serviceAccount:*', '*@trusted.example'] },
  },
});

/** What each entry became: the counts must add up to the entries read (nothing is lost). */
function accounted(stats: ReplayStats): number {
  const sum = (map: Map<string, number>): number => [...map.values()].reduce((a, b) => a + b, 0);
  return stats.changes + stats.duplicates + stats.outOfTimeRange + sum(stats.skipped) + sum(stats.malformed);
}

function invalidFindings(findings: readonly Finding[]): string[] {
  return findings.filter((f) => !validFinding(f)).map((f) => `${f.rule}: ${JSON.stringify(validFinding.errors)}`);
}

describe('random damage to real entries', () => {
  const seeds = seedEntries();
  const GROUPS = 300;

  // A group: an intact entry, then one, two damaged copies of it and one of another, in time order or not.
  function groups(seed: number): unknown[][] {
    const next = seededRandom(seed);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
    return Array.from({ length: GROUPS }, () => {
      const base = pick(seeds);
      return [pick(seeds), base, mutant(base, next, ENTRY_VALUES, seeds), mutant(pick(seeds), next, ENTRY_VALUES, seeds), mutant(base, next, ENTRY_VALUES, seeds), base];
    });
  }

  it.each([1, 2, 3])('replay (seed %i): never throws, counts every entry, every finding meets the contract', async (seed) => {
    const normalize = normalizeOptionsOf(CONFIG);
    for (const [i, group] of groups(seed).entries()) {
      const findings: Finding[] = [];
      const run = new ReplayRun({ config: CONFIG, store: new MemoryBaselineStore([], { changesInPlace: true }), onFinding: (f) => void findings.push(f) });
      for (const entry of group) run.addSync(parseItem(entry, 'fuzz', normalize));
      const stats = await run.finish();
      const where = `seed ${seed}, group ${i}: ${JSON.stringify(group).slice(0, 300)}`;
      expect(stats.entriesRead, where).toBe(group.length);
      expect(accounted(stats), where).toBe(group.length);
      expect(invalidFindings(findings), where).toEqual([]);
    }
  });

  it.each([4, 5])('the live pipeline (seed %i): every entry gets an outcome, every finding meets the contract', async (seed) => {
    const next = seededRandom(seed * 7919);
    for (const [i, group] of groups(seed).entries()) {
      const pipeline = new Pipeline({ config: CONFIG, store: new MemoryBaselineStore() });
      const findings: Finding[] = [];
      let nowMs = Date.parse('2030-01-01T00:00:00Z');
      const where = `seed ${seed}, group ${i}: ${JSON.stringify(group).slice(0, 300)}`;
      for (const entry of group) {
        nowMs += next() < 0.5 ? 1_000 : 3_600_000; // some rollouts still wait when the next entry comes, some do not
        const outcome = await pipeline.handleEntry(entry, nowMs);
        expect(['processed', 'duplicate', 'skipped', 'malformed'], where).toContain(outcome.status);
        if (outcome.status === 'processed') findings.push(...outcome.findings);
      }
      findings.push(...(await pipeline.flush()));
      expect(invalidFindings(findings), where).toEqual([]);
    }
  });
});

describe('random damage to a full config', () => {
  const example = parseYaml(readFileSync(`${ROOT}examples/runwatch.yaml`, 'utf8')) as Record<string, unknown>;
  const full = {
    ...example,
    provenanceLabels: { commit: ['commit-sha'], pipeline: ['gcb-build-id'] },
    correlation: { waitSeconds: 30 },
    sinks: { slack: { minSeverity: 'HIGH', channel: '#security' } },
  };
  const CONFIG_VALUES: readonly unknown[] = [
    null, 0, -1, 25, 1.5, 86400, 1e9, true, '', 'x', '*', '**', '!*', '?', '[', '[a-', '{a,b', '(a|b', '\\', '/', '*/', '/*',
    'user:', 'USER:', 'serviceAccount:', 'serviceAccount:**', 'user:user:', 'group:x@y', '24:00', '00:00', '23:59', '9:00',
    ' 09:00', '09:00:00', '2024-02-30T00:00:00', '2024-03-31T02:30:00', '2024-05-20T00:00:00Z', 'America/New_York', 'UTC',
    'Etc/GMT+14', 'Mars/Base', 'Europe/Berlin ', [], {}, ['mon'], ['sat', 'sat'], ['xxx'], [''], { a: 1 }, 'HIGH', 'CRITICAL',
    'a'.repeat(3000),
  ];
  const entries = seedEntries();

  it.each([1, 2])('seed %i: a config either fails with path: reason problems or runs every fixture', async (seed) => {
    const next = seededRandom(seed);
    let accepted = 0;
    for (let i = 0; i < 400; i++) {
      const raw = mutant(full, next, CONFIG_VALUES, [example['rules'], example['changeWindows']]);
      const where = `seed ${seed}, case ${i}: ${JSON.stringify(raw)}`;
      let config: RunwatchConfig;
      try {
        config = validateConfig(raw, 'fuzz');
      } catch (error) {
        expect(error, where).toBeInstanceOf(ConfigError);
        const { problems } = error as ConfigError;
        expect(problems.length, where).toBeGreaterThan(0);
        expect(problems.filter((p) => p.path === '' || p.reason === ''), where).toEqual([]);
        continue;
      }
      accepted++;
      const run = new ReplayRun({ config, store: new MemoryBaselineStore([], { changesInPlace: true }), onFinding: () => undefined });
      const normalize = normalizeOptionsOf(config);
      for (const entry of entries) run.addSync(parseItem(entry, 'fuzz', normalize));
      await expect(run.finish(), where).resolves.toBeDefined();
    }
    expect(accepted).toBeGreaterThan(50); // the damage leaves enough valid configs to run
  });
});
