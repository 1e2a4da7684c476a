// `npm run dev -- --sweep-seconds N` and `--config FILE`: a sweep interval it cannot keep is a usage error (exit 2) before
// anything starts, and a relative FILE is the user's path from where they typed the command.
// Node's timers hold at most 2^31-1 ms (about 24.8 days): a longer interval was set to 1 ms with a
// TimeoutOverflowWarning, so asking for rare sweeps (`--sweep-seconds 3000000`) published a sweep every millisecond.
// Runs on the synthetic emulator stand-ins (test/support/devStack.ts): had dev started, they would be left to kill.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEV_MAIN, fakeSdk } from '../support/devStack.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function dev(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stderr: string; started: boolean }> {
  expect(existsSync(DEV_MAIN), 'run `npm run build` first').toBe(true);
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-dev-args-'));
  dirs.push(dir);
  const { env, pidFiles } = fakeSdk(dir);
  const child = spawn(process.execPath, [DEV_MAIN, ...args], { env: { ...env, ...options.env }, cwd: options.cwd ?? dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  // Refused at once, or started: then stopped here as soon as it says so (SIGTERM stops what it started).
  const timer = setTimeout(() => child.kill('SIGTERM'), 10_000);
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (stderr.includes('starting the Pub/Sub')) child.kill('SIGTERM');
  });
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
  it.each([['0'], ['-1'], ['abc'], ['3000000'], ['1e10'], ['Infinity'], ['0.001'], ['0.5']])('refuses %s with exit 2 before it starts anything', async (value) => {
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

// `npm run` runs the script in the package's folder, whatever folder it was typed in (npm's INIT_CWD): a relative
// `--config` is the user's path from where they typed it, as every other command line takes it.
describe('npm run dev --config with a relative path', () => {
  it('is read from the folder npm run was started in (INIT_CWD), not the package folder', async () => {
    const typedIn = mkdtempSync(join(tmpdir(), 'runwatch-dev-args-cwd-'));
    const packageDir = mkdtempSync(join(tmpdir(), 'runwatch-dev-args-pkg-'));
    dirs.push(typedIn, packageDir);
    writeFileSync(join(typedIn, 'synthetic-dev.yaml'), 'timezone: UTC\n');
    const { stderr, started } = await dev(['--config', 'synthetic-dev.yaml'], { cwd: packageDir, env: { INIT_CWD: typedIn } });
    expect(stderr).not.toContain('cannot read');
    expect(started, stderr).toBe(true);
  });

  it('is read from the current folder when not run by npm', async () => {
    const here = mkdtempSync(join(tmpdir(), 'runwatch-dev-args-cwd-'));
    dirs.push(here);
    writeFileSync(join(here, 'synthetic-dev.yaml'), 'timezone: UTC\n');
    const { stderr, started } = await dev(['--config', 'synthetic-dev.yaml'], { cwd: here });
    expect(started, stderr).toBe(true);
  });
});
