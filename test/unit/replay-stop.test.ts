// A replay stopped before its end: its reader closes stdout (`| head -1`), or a signal comes (Ctrl-C, SIGTERM).
// With --state it leaves neither the lock nor a temp file behind and the state file byte for byte as it was (a
// replay cut short must not become the next one's baseline). The CLI runs in a process of its own: real pipes,
// real signals.
import { spawn, spawnSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { at, synthetic } from '../support/entries.js';
import { BIN, runwatch, spawnRunwatch } from '../support/cli.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'runwatch-stop-'));
}

/** A public invoker grant on each of `count` services, a minute apart: one finding each. */
function grants(count: number): string {
  const grant = JSON.stringify(synthetic('run-SetIamPolicy-allUsers'));
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const time = new Date(Date.UTC(2024, 4, 1) + i * 60_000).toISOString();
    lines.push(JSON.stringify(at(JSON.parse(grant.replaceAll('cloudrun-exfil', `service-${i}`)) as Record<string, unknown>, time)));
  }
  return `${lines.join('\n')}\n`;
}

/** `runwatch args | head -1 > /dev/null` as a shell runs it: runwatch's exit code (through a file) and stderr. */
async function intoHead(dir: string, args: readonly string[]): Promise<{ code: number; stderr: string }> {
  const code = join(dir, 'exit-code');
  const script = '{ "$0" "$@"; echo $? > "$EXIT_CODE"; } | head -1 > /dev/null';
  const child = spawn('sh', ['-c', script, process.execPath, BIN, ...args], { env: { PATH: process.env['PATH'], EXIT_CODE: code }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise((resolve) => child.on('close', resolve));
  return { code: Number(readFileSync(code, 'utf8')), stderr };
}

/** A state file from an earlier replay, so "unchanged" means something. */
const STATE = `${JSON.stringify({ format: 'runwatch-baseline', version: 1, services: {} })}\n`;

describe('runwatch replay: the reader closes stdout early (| head -1)', () => {
  // Far more output than a pipe buffers (64 KiB): the writes after the reader left fail with EPIPE.
  it.each([
    ['ndjson', []],
    ['table', []],
    ['json', []],
    ['ndjson', ['--state']],
    ['table', ['--state']],
    ['json', ['--state']],
    ['ndjson', ['--state', '--workers', '0']],
    ['ndjson', ['--workers', '2']], // the partitioned replay (no state, NDJSON)
  ])('--format %s %j: exit 0, nothing on stderr, the state file as it was', async (format, extra) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'in.ndjson'), grants(800));
    const state = join(dir, 'state.json');
    writeFileSync(state, STATE);
    const args = ['replay', '--quiet', '--format', format, ...extra.map((a) => (a === '--state' ? `--state=${state}` : a)), join(dir, 'in.ndjson')];
    expect(await intoHead(dir, args)).toEqual({ code: 0, stderr: '' });
    expect(readdirSync(dir).sort()).toEqual(['exit-code', 'in.ndjson', 'state.json']);
    expect(readFileSync(state, 'utf8') === STATE).toBe(true); // not toBe: the diff would be megabytes
  });

  it.each(['ndjson', 'table', 'json'])('--format %s, a reader that takes everything: the state is written back', async (format) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'in.ndjson'), grants(50));
    const state = join(dir, 'state.json');
    writeFileSync(state, STATE);
    const run = await runwatch(['replay', '--quiet', '--format', format, '--state', state, join(dir, 'in.ndjson')]);
    expect(run.code).toBe(0);
    expect(run.stdout.match(/service-\d+/g)?.length).toBeGreaterThanOrEqual(50);
    expect(Object.keys((JSON.parse(readFileSync(state, 'utf8')) as { services: object }).services)).toHaveLength(50);
    expect(readdirSync(dir).sort()).toEqual(['in.ndjson', 'state.json']);
  });
});

/** Resolves once `condition` holds; checked every 10 ms, for at most 10 s. */
async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 10_000) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Resolves once process `pid` waits in a FIFO's open for a writer: one of its threads sleeps in the kernel's
 * `wait_for_partner` (Linux: /proc/PID/task/TID/wchan). Under load the replay reaches that open well after it takes
 * the lock, and a test that acts on the pipe before then tests another case. Without /proc, a fixed 300 ms.
 */
async function waitingInPipeOpen(pid: number): Promise<void> {
  const tasks = `/proc/${pid}/task`;
  if (!existsSync(tasks)) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return;
  }
  await until(() => inPipeOpen(pid));
}

/** Whether a thread of process `pid` sleeps in a FIFO's open, waiting for the other end (see waitingInPipeOpen). */
function inPipeOpen(pid: number): boolean {
  const tasks = `/proc/${pid}/task`;
  try {
    return readdirSync(tasks).some((tid) => {
      try {
        return readFileSync(join(tasks, tid, 'wchan'), 'utf8') === 'wait_for_partner';
      } catch {
        return false; // the thread ended meanwhile
      }
    });
  } catch {
    return false; // the process ended
  }
}

describe('runwatch replay --state: SIGINT and SIGTERM', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s: the lock goes, the state file stays as it was, exit %i', async (signal, code) => {
    const dir = tempDir();
    const state = join(dir, 'state.json');
    writeFileSync(state, STATE);
    const run = spawnRunwatch(['replay', '--quiet', '--format', 'ndjson', '--state', state, '-']);
    // Some entries, and stdin left open: the replay reads them and waits for more.
    run.child.stdin.write(grants(5));
    await until(() => existsSync(`${state}.lock`));
    run.child.kill(signal);
    expect(await run.exited).toBe(code);
    expect(run.stderr()).toBe('');
    expect(readdirSync(dir)).toEqual(['state.json']);
    expect(readFileSync(state, 'utf8')).toBe(STATE);
    // The next replay is not blocked.
    expect((await runwatch(['replay', '--quiet', '--state', state, '-'], grants(5))).code).toBe(0);
  });
});

/** `replay --state` of a fresh named pipe, in a process of its own. */
function replayFromPipe(): { dir: string; state: string; fifo: string; run: ReturnType<typeof spawnRunwatch> } {
  const dir = tempDir();
  const state = join(dir, 'state.json');
  writeFileSync(state, STATE);
  const fifo = join(dir, 'in.pipe');
  expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
  return { dir, state, fifo, run: spawnRunwatch(['replay', '--quiet', '--format', 'ndjson', '--state', state, fifo]) };
}

/** Its exit code or signal, or a message when it still runs 5 s on. */
function exitedWithin5s(run: ReturnType<typeof spawnRunwatch>): Promise<unknown> {
  return Promise.race([run.exited, new Promise((resolve) => setTimeout(() => resolve('still running 5 s after SIGTERM'), 5_000))]);
}

// A named pipe (`<(zcat x.gz)`, a FIFO) whose writer stays: read through libuv's thread pool, a blocked read kept
// the process from exiting after the signal (the lock was gone, the process waited for the writer).
describe('runwatch replay --state from a named pipe: SIGTERM', () => {
  it('its writer stays open: exits at once with 143, the lock gone', async () => {
    const { dir, state, fifo, run } = replayFromPipe();
    const writer = await open(fifo, 'w'); // once the replay opened it
    try {
      await writer.write(grants(5));
      await until(() => existsSync(`${state}.lock`));
      run.child.kill('SIGTERM');
      expect(await exitedWithin5s(run)).toBe(143);
      expect(readdirSync(dir).sort()).toEqual(['in.pipe', 'state.json']);
      expect(readFileSync(state, 'utf8')).toBe(STATE);
    } finally {
      await writer.close();
      await run.exited;
    }
  });

  it('no writer yet (its open still waiting): exits at once with 143, the lock gone', async () => {
    const { dir, state, fifo, run } = replayFromPipe();
    try {
      await until(() => existsSync(`${state}.lock`));
      await waitingInPipeOpen(run.child.pid!); // the replay is waiting in the pipe's open by now
      run.child.kill('SIGTERM');
      expect(await exitedWithin5s(run)).toBe(143);
      expect(readdirSync(dir).sort()).toEqual(['in.pipe', 'state.json']);
      expect(readFileSync(state, 'utf8')).toBe(STATE);
    } finally {
      // A writer that comes after all lets a replay that did not exit go (so the test never leaves it behind).
      if (run.child.exitCode === null && run.child.signalCode === null) await (await open(fifo, 'w')).close();
      await run.exited;
    }
  });

  it("the path replaced by another pipe meanwhile: that pipe's reader is left alone", async () => {
    const { state, fifo, run } = replayFromPipe();
    let otherEnded = false;
    try {
      await until(() => existsSync(`${state}.lock`));
      await waitingInPipeOpen(run.child.pid!); // its open holds the old pipe before the path is replaced
      renameSync(fifo, `${fifo}.old`);
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
      const reader = spawn('cat', [fifo], { stdio: 'ignore' });
      reader.on('exit', () => (otherEnded = true));
      // The other reader waits in its open of the new pipe (were it not there yet, a write-open of the path by the
      // replay would fail with ENXIO, and the case would not be tested; a fixed 200 ms here assumed cat had started).
      await waitingInPipeOpen(reader.pid!);
      run.child.kill('SIGTERM');
      // The replay has handled the signal once its lock is gone (the pending pipe opens are released before that);
      // a write-open of the new pipe would have ended the other reader's open then: it still waits in it.
      await until(() => !existsSync(`${state}.lock`));
      if (existsSync(`/proc/${reader.pid}`)) expect(inPipeOpen(reader.pid!), "the other pipe's reader still waits for a writer").toBe(true);
      else await new Promise((resolve) => setTimeout(resolve, 500)); // no /proc, or the reader gone: its exit seen by now
      expect(otherEnded, "the other pipe's reader ended: its open was given a writer").toBe(false);
      // Its own pipe still waits for a writer: one comes, and the replay exits as the signal asked.
      await (await open(`${fifo}.old`, 'w')).close();
      expect(await run.exited).toBe(143);
      await (await open(fifo, 'w')).close();
      // The reader may have exited before a listener added now would hear it (under load): `otherEnded` heard it.
      if (!otherEnded) await new Promise((resolve) => reader.on('exit', resolve));
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
      await run.exited;
    }
  });
});
