#!/usr/bin/env node
// Cold-start cost of each function entry point: the time to import what an instance loads before (and, for the
// clients, at) its first invocation. Every measurement runs in a fresh `node` process, so nothing is cached
// between runs; the median of several runs is printed. Needs the build (`npm run build`).
//
//   node bench/coldstart.mjs [--runs N] [--check]
//
// --check exits 1 when `detect` misses its target (300 ms), for CI.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist/functions');
const DETECT_TARGET_MS = 300;

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, check: { type: 'boolean', default: false } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error('--runs must be a positive integer');
  process.exit(2);
}
if (!existsSync(join(DIST, 'index.js'))) {
  console.error(`${join(DIST, 'index.js')} is missing: run \`npm run build\` first.`);
  process.exit(1);
}

const file = (path) => pathToFileURL(join(DIST, path)).href;

/** What each measurement imports, in order, in one fresh process. */
const SCENARIOS = [
  {
    name: 'index (framework + both registrations)',
    imports: [file('index.js')],
  },
  {
    name: 'detect',
    note: 'index + the detect module graph (config, core, decode): loaded by the first invocation',
    imports: [file('index.js'), file('detect.js')],
    target: DETECT_TARGET_MS,
  },
  {
    name: 'notify',
    note: 'index + the notify module graph (routing, delivery records, sink registry)',
    imports: [file('index.js'), file('notify.js'), pathToFileURL(join(ROOT, 'dist/sinks/index.js')).href],
  },
  {
    name: 'detect clients (first invocation)',
    note: 'the lazily imported @google-cloud/pubsub and @google-cloud/firestore',
    imports: [file('index.js'), file('detect.js'), '@google-cloud/pubsub', '@google-cloud/firestore'],
  },
];

function measureOnce(imports) {
  // The imports are timed inside the child, after Node itself has started.
  const script = `
    const start = performance.now();
    for (const specifier of ${JSON.stringify(imports)}) await import(specifier);
    process.stdout.write(String(performance.now() - start));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production' },
    encoding: 'utf8',
  });
  return Number(out);
}

function median(xs) {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

measureOnce([file('index.js')]); // warm the OS file cache; not counted
let missed = false;
for (const scenario of SCENARIOS) {
  const times = Array.from({ length: runs }, () => measureOnce(scenario.imports));
  const ms = Math.round(median(times));
  let verdict = '';
  if (scenario.target !== undefined) {
    const ok = ms < scenario.target;
    missed ||= !ok;
    verdict = ok ? ` (target < ${scenario.target} ms: ok)` : ` (target < ${scenario.target} ms: MISSED)`;
  }
  const spread = `min ${Math.round(Math.min(...times))}, max ${Math.round(Math.max(...times))}`;
  console.log(`${scenario.name} import: ${ms} ms${verdict}   [median of ${runs}; ${spread}]${scenario.note ? `  ${scenario.note}` : ''}`);
}
if (values.check && missed) process.exit(1);
