// What new-image-repository made of the fixtures before it read code deployed without an image (v2 `sourceCode`,
// `baseImageUri`), pinned: image-only deploys keep their findings (ids from their dedup keys, evidence, unknown facts)
// and their baselines' repositories (first seen, to the nanosecond). A change here changes what users were told and
// which finding ids their sinks hold. Rewrite the golden only on purpose: UPDATE_GOLDEN=1.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../../functions/baseline/memory.js';
import { readEnvelope } from '../../../functions/audit/entry.js';
import { Pipeline } from '../../../functions/pipeline.js';
import { type Json } from '../../support/entries.js';
import { config } from '../../support/run.js';

const GOLDEN = new URL('./golden/new-image-repository-fixtures.json', import.meta.url);

const CONFIGS = {
  default: config(),
  trusted: config({ rules: { 'new-image-repository': { trustedRepositories: ['*-docker.pkg.dev/acme-prod/*', 'gcr.io/acme'] } } }),
};

function timeOf(entry: Json): number {
  const envelope = readEnvelope(entry);
  return envelope.ok ? envelope.envelope.timeMs : 0;
}

/** Each finding's id, rule and unknown facts, new-image-repository's evidence, and each baseline's repositories. */
async function outcome(entries: readonly Json[], cfg: (typeof CONFIGS)[keyof typeof CONFIGS]) {
  const store = new MemoryBaselineStore();
  const pipeline = new Pipeline({ config: cfg, store });
  const findings = [];
  for (const entry of entries) {
    const result = await pipeline.handleEntry(entry, timeOf(entry));
    if (result.status === 'processed') findings.push(...result.findings);
  }
  findings.push(...(await pipeline.flush()));
  const repositories = [...store.entries()]
    .filter(([, baseline]) => Object.keys(baseline.repositories).length > 0)
    .map(([key, baseline]) => [key, baseline.repositories, baseline.repositoriesN ?? {}])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  return {
    findings: findings.map((f) => ({ id: f.id, rule: f.rule, unknown: f.unknown, ...(f.rule === 'new-image-repository' ? { title: f.title, summary: f.summary, evidence: f.evidence } : {}) })),
    repositories,
  };
}

const FIXTURES = new URL('../../fixtures/', import.meta.url);

/**
 * The fixture files (test/fixtures, corpus/ and pipeline/: PATH relative to test/fixtures) the golden was recorded over,
 * by name: a fixture added later is not part of what it pins (it had no "before"), and one removed fails here by name.
 */
function pinnedFiles(golden: { readonly files?: readonly string[] }): readonly string[] {
  if (process.env['UPDATE_GOLDEN'] === '1' || golden.files === undefined) {
    return ['', 'corpus/', 'pipeline/'].flatMap((dir) => readdirSync(new URL(dir, FIXTURES)).filter((name) => name.endsWith('.json') && !name.startsWith('state-')).map((name) => `${dir}${name}`));
  }
  return golden.files;
}

function entriesOf(file: string): Json[] {
  const value = JSON.parse(readFileSync(new URL(file, FIXTURES), 'utf8')) as Json | Json[];
  return Array.isArray(value) ? value : [value];
}

async function everything(files: readonly string[]) {
  const byFile = files.map(entriesOf);
  const all = byFile.flat().sort((a, b) => timeOf(a) - timeOf(b));
  const result: Record<string, unknown> = { files };
  for (const [name, cfg] of Object.entries(CONFIGS)) {
    result[`${name}: all fixtures in time order`] = await outcome(all, cfg);
    result[`${name}: each fixture file`] = Object.fromEntries(await Promise.all(files.map(async (file, i) => [file, await outcome(byFile[i]!, cfg)] as const)));
  }
  return result;
}

describe('new-image-repository over the existing fixtures', () => {
  it('gives the findings and baselines it gave before it read source code', async () => {
    const golden = JSON.parse(readFileSync(GOLDEN, 'utf8')) as { readonly files?: readonly string[] };
    const now = await everything(pinnedFiles(golden));
    if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(GOLDEN, `${JSON.stringify(now, null, 1)}\n`);
    else expect(now).toEqual(golden);
  });
});
