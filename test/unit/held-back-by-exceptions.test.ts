// Tuning exceptions on history: `runwatch replay` says what each rule exception held back (findings the rule raised
// that the exception kept from the output), and which exceptions held back nothing (a glob that no longer matches,
// or one for a rule that never fires on this history). The findings themselves are as before: none of these.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runwatch } from '../support/cli.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-held-back-'));
  dirs.push(dir);
  return dir;
}

const EXAMPLES = new URL('../../examples/', import.meta.url);
const EXAMPLE_CONFIG = readFileSync(new URL('runwatch.yaml', EXAMPLES), 'utf8');

/** The example config with other rules.off-window-deploy and rules.public-invoker-grant exceptions. */
function tunedConfig(): string {
  const config = EXAMPLE_CONFIG.replace(
    '        reason: incident response account\n',
    '        reason: incident response account\n      - principal: "dana@acme.example"\n        reason: on call\n',
  ).replace('  public-invoker-grant:\n', '  public-invoker-grant:\n    exceptions:\n      - project: "acme-*"\n        service: "acme-prod/store*"\n');
  if (!config.includes('dana@acme.example') || !config.includes('acme-prod/store*')) throw new Error('examples/runwatch.yaml changed: adapt tunedConfig');
  return config;
}

/** Every entry of examples/logs, as one NDJSON file (the partitioned replay reads NDJSON only). */
function examplesAsNdjson(dir: string): string {
  const lines: string[] = [];
  for (const name of readdirSync(new URL('logs/', EXAMPLES)).sort()) {
    const text = readFileSync(new URL(`logs/${name}`, EXAMPLES), 'utf8');
    const entries: unknown[] = name.endsWith('.json') ? (JSON.parse(text) as unknown[]) : text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as unknown);
    for (const entry of entries) lines.push(JSON.stringify(entry));
  }
  const file = join(dir, 'examples.ndjson');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

const rulesOf = (stdout: string): string[] => stdout.trim().split('\n').map((line) => { const f = JSON.parse(line) as { rule: string; service: string; status?: string }; return `${f.rule} ${f.service} ${f.status ?? 'active'}`; }).sort();

describe('replay: what rule exceptions held back', () => {
  it.each([
    ['one thread', '0'],
    ['worker threads owning whole projects', '2'],
  ])('counts each exception`s held-back findings and names the exceptions that held back nothing (%s)', async (_mode, workers) => {
    const dir = tempDir();
    const logs = examplesAsNdjson(dir);
    writeFileSync(join(dir, 'example.yaml'), EXAMPLE_CONFIG);
    writeFileSync(join(dir, 'tuned.yaml'), tunedConfig());
    const before = await runwatch(['replay', '--config', join(dir, 'example.yaml'), '--format', 'ndjson', '--workers', workers, logs]);
    const after = await runwatch(['replay', '--config', join(dir, 'tuned.yaml'), '--format', 'ndjson', '--workers', workers, logs]);
    expect(before.code).toBe(0);
    expect(after.code).toBe(0);
    // The findings the new exceptions cover are gone, and nothing else changed.
    const gone = rulesOf(before.stdout).filter((line) => !rulesOf(after.stdout).includes(line));
    expect(gone).toEqual(['off-window-deploy nightly-export active', 'off-window-deploy storefront active', 'public-invoker-grant storefront active', 'public-invoker-grant storefront resolved']);
    expect(rulesOf(after.stdout).filter((line) => !rulesOf(before.stdout).includes(line))).toEqual([]);
    expect(after.stderr).toContain(
      [
        '  held back by exceptions: 3',
        '    rules.off-window-deploy.exceptions[1]: 2',
        '    rules.public-invoker-grant.exceptions[0]: 1',
        '  exceptions that held back nothing: rules.off-window-deploy.exceptions[0]',
      ].join('\n'),
    );
    // The example config's one exception (the break-glass account) never matched these logs.
    expect(before.stderr).toContain('  held back by exceptions: 0\n  exceptions that held back nothing: rules.off-window-deploy.exceptions[0]\n');
  });

  it('a config without exceptions says nothing of them', async () => {
    const dir = tempDir();
    const logs = examplesAsNdjson(dir);
    const run = await runwatch(['replay', '--format', 'ndjson', logs]);
    expect(run.code).toBe(0);
    expect(run.stderr).not.toMatch(/held back/);
  });
});
