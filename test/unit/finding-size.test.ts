// The findings one transaction raises share the service's Firestore document (its outbox) with the baseline until they
// are published: a finding's labels are bounded (FINDING_LABELS_BYTES_LIMIT), and so are the findings a transaction
// raises from the rollouts it completes (DUE_FINDINGS_BYTES_LIMIT), the rest staying due for the next transaction.
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { DUE_FINDINGS_BYTES_LIMIT } from '../../functions/engine.js';
import { boundedLabels, FINDING_LABELS_BYTES_LIMIT } from '../../functions/findings/enrich.js';
import type { Finding } from '../../functions/findings/finding.js';
import { Pipeline } from '../../functions/pipeline.js';
import { deleteServiceAt, editV1Services, SLACK_BOT, v1EnvDeploy, withV1ServiceAccount, type Json } from '../support/entries.js';
import { config } from '../support/run.js';

const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value), 'utf8');
const labelsBytes = (labels: Readonly<Record<string, string>>): number =>
  Object.entries(labels).reduce((sum, [k, v]) => sum + Buffer.byteLength(k, 'utf8') + Buffer.byteLength(v, 'utf8'), 0);

/** `count` labels of 63 characters, name and value, in `letter` (Georgian: 3 bytes of UTF-8 each). */
const manyLabels = (prefix: string, i: number, count: number, letter: string): Record<string, string> =>
  Object.fromEntries(Array.from({ length: count }, (_, k) => [`${prefix}${k}`.padEnd(63, letter), `${i}`.padEnd(63, letter)]));

describe('boundedLabels', () => {
  it('keeps ordinary labels as they are', () => {
    const labels = { 'commit-sha': 'a'.repeat(40), 'build-id': 'b-1', team: 'payments' };
    expect(boundedLabels(labels, ['commit-sha'])).toEqual({ labels, omitted: 0 });
  });

  it('keeps the provenance labels whole, then the others in key order while they fit, and counts the rest', () => {
    const labels = { ...manyLabels('s', 1, 64, 'ა'), 'zz-commit': 'c'.repeat(63) };
    const { labels: kept, omitted } = boundedLabels(labels, ['zz-commit']);
    expect(labelsBytes(kept)).toBeLessThanOrEqual(FINDING_LABELS_BYTES_LIMIT);
    expect(kept['zz-commit']).toBe('c'.repeat(63));
    const others = Object.keys(kept).filter((k) => k !== 'zz-commit');
    expect(others).toEqual(Object.keys(labels).filter((k) => k !== 'zz-commit').sort().slice(0, others.length));
    expect(omitted).toBe(Object.keys(labels).length - Object.keys(kept).length);
    expect(omitted).toBeGreaterThan(0);
    // Whatever order the entry listed them in.
    expect(boundedLabels(Object.fromEntries(Object.entries(labels).reverse()), ['zz-commit'])).toEqual({ labels: kept, omitted });
  });
});

const G = 'ა';
const t0 = Date.parse('2024-06-01T10:00:00Z');
/** A deploy outside every window, by an unapproved deployer, with a plain-text secret and a code-loading variable. */
function deploy(i: number, labelCount: number): Json {
  const env = [{ name: `DB_PASSWORD_${i}`, value: 'hunter2hunter2' }, { name: 'NODE_OPTIONS', value: `--require /tmp/x${i}.js` }];
  const entry = withV1ServiceAccount(v1EnvDeploy(new Date(t0 + i * 10_000).toISOString(), env, `evil${i}.example.com/x/y:${i}`), `sa${i}@acme.iam.gserviceaccount.com`);
  return editV1Services(entry, (svc) => {
    (svc['metadata'] as Record<string, unknown>)['labels'] = { ...manyLabels('s', i, labelCount, G), 'commit-sha': `${i}`.padEnd(40, 'f') };
    const template = (svc['spec'] as Record<string, Record<string, unknown>>)['template']!;
    (template['metadata'] as Record<string, unknown>)['labels'] = manyLabels('t', i, labelCount, G);
  });
}

const CONFIG = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }], rules: { 'unapproved-deployer': { allowedDeployers: ['user:release@acme.example'] } } });

/** `n` deploys inside one wait, then a sweep after it: every publish (one a transaction) and the findings. */
async function burst(n: number, labelCount: number): Promise<{ publishes: number[]; findings: Finding[] }> {
  const pipeline = new Pipeline({ config: CONFIG, store: new MemoryBaselineStore(), recentKeys: 0 });
  const publishes: number[] = [];
  const findings: Finding[] = [];
  const publish = async (f: readonly Finding[]): Promise<void> => {
    publishes.push(bytes(f));
    findings.push(...f);
  };
  for (let i = 0; i < n; i++) await pipeline.handleEntry(deploy(i, labelCount), t0 + i * 10_000 + 1_000, publish);
  await pipeline.sweep(t0 + 7_200_000, publish);
  return { publishes, findings };
}

describe('the findings of one transaction', () => {
  it('carry bounded labels with the provenance label whole, and the same ids as with few labels', async () => {
    const large = await burst(8, 64);
    const small = await burst(8, 1);
    for (const f of large.findings) {
      expect(labelsBytes(f.labels)).toBeLessThanOrEqual(FINDING_LABELS_BYTES_LIMIT);
      expect(f.labels['commit-sha']).toMatch(/^[0-9]f+$/);
      expect(f.evidence['labelsOmitted']).toBeGreaterThan(0);
    }
    expect(large.findings.every((f) => bytes(f) < 8 * 1024)).toBe(true);
    // Ids come from the rules' dedup keys, not the labels.
    const ids = (findings: Finding[]): string[] => findings.filter((f) => f.rule === 'off-window-deploy').map((f) => f.id);
    expect(ids(large.findings)).toHaveLength(8);
    expect(ids(large.findings)).toEqual(ids(small.findings));
  });

  it('a sweep that completes 64 waiting deploys publishes them over several transactions, each bounded, none lost', async () => {
    const { publishes, findings } = await burst(64, 12);
    expect(new Set(findings.filter((f) => f.rule === 'off-window-deploy').map((f) => f.insertId)).size).toBe(64);
    // One rollout's findings past the bound at most (the one that reached it); without the bound, one of 855 KB.
    expect(publishes.length).toBeGreaterThan(4);
    for (const size of publishes) expect(size).toBeLessThan(Math.min(DUE_FINDINGS_BYTES_LIMIT + 64 * 1024, 320 * 1024));
    expect(Math.max(...publishes)).toBeGreaterThan(DUE_FINDINGS_BYTES_LIMIT / 2);
    // Replay (no publish, the sweep at the end of the input) reports the same findings.
    const replay = new Pipeline({ config: CONFIG, store: new MemoryBaselineStore(), recentKeys: 0 });
    const replayed: Finding[] = [];
    for (let i = 0; i < 64; i++) {
      const outcome = await replay.handleEntry(deploy(i, 12), t0 + i * 10_000 + 1_000);
      if (outcome.status === 'processed') replayed.push(...outcome.findings);
    }
    replayed.push(...(await replay.flush()));
    const key = (f: Finding): string => `${f.id} ${f.status ?? 'active'}`;
    expect(replayed.map(key).sort()).toEqual(findings.map(key).sort());
  });

  it('a delete with 64 deploys waiting before it completes them over several transactions, then applies the delete; replay agrees', async () => {
    const run = async (live: boolean): Promise<{ publishes: number[]; findings: Finding[] }> => {
      const store = new MemoryBaselineStore();
      const pipeline = new Pipeline({ config: CONFIG, store, recentKeys: 0 });
      const publishes: number[] = [];
      const findings: Finding[] = [];
      const publish = live
        ? async (f: readonly Finding[]): Promise<void> => {
            publishes.push(bytes(f));
            findings.push(...f);
          }
        : undefined;
      const entries = [...Array.from({ length: 64 }, (_, i) => [deploy(i, 6), t0 + i * 10_000 + 1_000] as const), [deleteServiceAt(new Date(t0 + 650_000).toISOString(), SLACK_BOT, 'del-1'), t0 + 651_000] as const];
      for (const [entry, nowMs] of entries) {
        const outcome = await pipeline.handleEntry(entry, nowMs, publish);
        if (!live && outcome.status === 'processed') findings.push(...outcome.findings);
      }
      const [, baseline] = [...store.entries()][0]!;
      expect(baseline.deletedAtMs).toBe(t0 + 650_000);
      expect(baseline.rollouts ?? []).toEqual([]);
      return { publishes, findings };
    };
    const live = await run(true);
    expect(new Set(live.findings.filter((f) => f.rule === 'off-window-deploy').map((f) => f.insertId)).size).toBe(64);
    expect(live.publishes.length).toBeGreaterThan(4);
    for (const size of live.publishes) expect(size).toBeLessThan(320 * 1024);
    const key = (f: Finding): string => `${f.id} ${f.status ?? 'active'}`;
    expect((await run(false)).findings.map(key)).toEqual(live.findings.map(key));
  });
});
