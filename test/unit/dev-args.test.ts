// `npm run dev -- --sweep-seconds N`: a value it cannot keep is a usage error (exit 2) before anything starts.
// Node's timers hold at most 2^31-1 ms (about 24.8 days): a longer interval was set to 1 ms with a
// TimeoutOverflowWarning, so asking for rare sweeps (`--sweep-seconds 3000000`) published a sweep every millisecond.
// Runs on the synthetic emulator stand-ins (test/support/devStack.ts): had dev started, they would be left to kill.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEV_MAIN, fakeSdk } from '../support/devStack.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function dev(args: readonly string[]): Promise<{ code: number | null; stderr: string; started: boolean }> {
  expect(existsSync(DEV_MAIN), 'run `npm run build` first').toBe(true);
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-dev-args-'));
  dirs.push(dir);
  const { env, pidFiles } = fakeSdk(dir);
  const child = spawn(process.execPath, [DEV_MAIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  // Refused at once, or started: then stopped here (SIGTERM stops what it started).
  const timer = setTimeout(() => child.kill('SIGTERM'), 5_000);
  const code = await exited;
  clearTimeout(timer);
  for (const file of pidFiles) {
    if (!existsSync(file)) continue;
    try {
      process.kill(Number(readFileSync(file, 'utf8').trim()), 'SIGKILL'); // our own stand-in, should one be left
    } catch {
      // gone
    }
  }
  return { code, stderr, started: stderr.includes('starting the Pub/Sub') };
}

describe('npm run dev --sweep-seconds', () => {
  it.each([['0'], ['-1'], ['abc'], ['3000000'], ['1e10'], ['Infinity']])('refuses %s with exit 2 before it starts anything', async (value) => {
    const { code, stderr, started } = await dev([`--sweep-seconds=${value}`]);
    expect(started, stderr).toBe(false);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^runwatch dev: --sweep-seconds must be/);
    expect(stderr).not.toMatch(/TimeoutOverflowWarning|\n\s+at /);
  });

  it('takes the longest interval a timer holds', async () => {
    const { stderr, started } = await dev(['--sweep-seconds', '2147483']);
    expect(started, stderr).toBe(true);
  });
});
