// package.json's `engines.node` is the oldest Node the package says it runs on: every Node API it uses must be there.
// A newer API imported by name from a builtin fails the whole program at load time on an older Node ("does not
// provide an export named ..."), not only the code that calls it. Each row: an API the sources use, found by its
// import, and the first Node 20 release that has it (the Node documentation's "Added in").
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.generated.ts'))
    .map((file) => readFileSync(join(ROOT, dir, file), 'utf8'));
}
const code = [...sources('functions'), ...sources('sinks')].join('\n');

/** [API, how its use reads in the sources, the first Node 20.x that has it]. */
const APIS: readonly [string, RegExp, string][] = [
  // crypto.hash: "Added in: v21.7.0, v20.12.0" (nodejs.org/api/crypto.html#cryptohashalgorithm-data-outputencoding).
  ['crypto.hash', /import\s*\{[^}]*\bhash\b[^}]*\}\s*from\s*'node:crypto'/, '20.12.0'],
];

function minimum(range: string): number[] {
  const match = /^>=\s*(\d+)\.(\d+)(?:\.(\d+))?$/.exec(range.trim());
  if (!match) throw new Error(`engines.node ${JSON.stringify(range)} is not of the form >=X.Y[.Z]`);
  return [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)];
}

function atLeast(version: number[], wanted: string): boolean {
  const w = wanted.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (version[i] !== w[i]) return version[i]! > w[i]!;
  return true;
}

describe("package.json's engines.node", () => {
  it.each(APIS.filter(([, used]) => used.test(code)))('is at least the Node that has %s', (_api, _used, since) => {
    expect(atLeast(minimum(engines), since), `engines.node ${engines} is older than ${since}`).toBe(true);
  });
});
