// `npm run dev` stopped by Ctrl-C (SIGINT) or SIGTERM while it starts: the emulators take seconds to come up (far
// more on a busy machine), and each runs in a process group of its own (detached), so a terminal's Ctrl-C does not
// reach them. They must go with `npm run dev` all the same, not serve on as orphans.
//
// The emulators here are synthetic stand-ins (`synthetic-*` scripts under a fake SDK root) that record their pid and
// never answer, so the signal always comes during start-up; the dev stack runs from dist/ (`npm run build` first).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEV_MAIN, fakeSdk } from '../support/devStack.js';

const dirs: string[] = [];
const pids: number[] = [];

afterAll(() => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL'); // only our own stand-ins, should a test have left them
    } catch {
      // gone, as it should be
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((done) => setTimeout(done, 50));
  }
  return check();
}

describe('npm run dev: a signal during start-up', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s stops the emulators it started and exits %i', async (signal, code) => {
    expect(existsSync(DEV_MAIN), 'run `npm run build` first').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-dev-signals-'));
    dirs.push(dir);
    const { env, pidFiles } = fakeSdk(dir);
    const child = spawn(process.execPath, [DEV_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (exitCode) => done(exitCode)));
    // Both emulators started (and still starting: they never answer).
    expect(await until(() => pidFiles.every((file) => existsSync(file) && readFileSync(file, 'utf8').trim() !== ''), 20_000), stderr).toBe(true);
    const emulatorPids = pidFiles.map((file) => Number(readFileSync(file, 'utf8').trim()));
    pids.push(...emulatorPids);
    expect(emulatorPids.every(alive)).toBe(true);

    child.kill(signal);
    const exitCode = await exited;
    expect(await until(() => !emulatorPids.some(alive), 10_000), `emulators left running: ${emulatorPids.filter(alive).join(', ')}`).toBe(true);
    expect(exitCode).toBe(code);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    // Nor its temporary folders (its config, the emulators' logs), made in TMPDIR, which is `dir` here.
    expect(readdirSync(dir).filter((name) => name.startsWith('runwatch-'))).toEqual([]);
  });
});
