// `npm run bench`: replay throughput against a bare readline + JSON.parse loop over the same NDJSON file.
// Both run in this process, interleaved, several rounds. Each round's ratio compares two runs made seconds apart,
// so it holds when the machine's speed drifts (shared VMs do, by 20% and more); the median of those ratios is the
// result. Target: ratio >= 0.8.
import { createReadStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { validateConfig } from '../functions/config/load.js';
import { replay } from '../functions/replay/replay.js';
import { generate } from './generate.js';

const ENTRIES = Number(process.env['BENCH_ENTRIES'] ?? 100_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const dataDir = fileURLToPath(new URL('../../bench/data/', import.meta.url));
const file = `${dataDir}entries-${ENTRIES}.ndjson`;

const config = validateConfig({
  timezone: 'Europe/Berlin',
  // Most deploys land inside the windows, as in a healthy organisation; a few percent are findings.
  changeWindows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', end: '23:00' }],
  freezes: [{ start: '2024-03-01T00:00:00', end: '2024-03-08T00:00:00', reason: 'bench freeze' }],
  rules: { 'new-image-repository': { trustedRepositories: ['europe-west1-docker.pkg.dev/*/*'] } },
});

async function bareParse(): Promise<number> {
  let count = 0;
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.length === 0) continue;
    const entry = JSON.parse(line) as { insertId?: string };
    if (entry.insertId) count++;
  }
  return count;
}

async function runReplay(): Promise<void> {
  await replay({ config, paths: [file], onFinding: () => undefined });
}

/** Seconds `fn` takes. */
async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    process.stderr.write(`generating ${ENTRIES} entries into ${file}...\n`);
    await generate(file, ENTRIES);
  }
  const size = statSync(file).size;
  process.stdout.write(`input: ${ENTRIES} entries, ${(size / 1e6).toFixed(1)} MB (${Math.round(size / ENTRIES)} B/entry), ${ROUNDS} rounds\n`);
  await bareParse(); // warm up both paths and the page cache
  await runReplay();
  const bare: number[] = [];
  const ours: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    bare.push(await time(bareParse));
    ours.push(await time(runReplay));
  }
  const bareRate = ENTRIES / median(bare);
  const replayRate = ENTRIES / median(ours);
  const ratios = bare.map((b, i) => b / ours[i]!);
  process.stdout.write(`bare readline + JSON.parse: ${Math.round(bareRate)} entries/s (median ${median(bare).toFixed(3)} s)\n`);
  process.stdout.write(`runwatch replay:            ${Math.round(replayRate)} entries/s (median ${median(ours).toFixed(3)} s)\n`);
  process.stdout.write(`ratio per round: ${ratios.map((r) => r.toFixed(2)).join(' ')}\n`);
  process.stdout.write(`ratio replay/bare: ${median(ratios).toFixed(2)}x, median of the rounds (target >= 0.80x)\n`);
}

await main();
