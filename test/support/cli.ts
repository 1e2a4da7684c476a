import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { PassThrough, Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { CommandIo } from '../../functions/cli/command.js';
import { main } from '../../functions/cli/main.js';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** What a test may give the CLI besides its arguments: an environment (default empty), a backoff clock. */
export type RunOptions = Partial<Pick<CommandIo, 'env' | 'backoffClock'>>;

/** The CLI in process, with an empty environment; `stdin` is one text, or chunks handed over one by one. */
export async function runwatch(args: readonly string[], stdin: string | readonly (Buffer | string)[] = '', options: RunOptions = {}): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await main([...args], { stdin: Readable.from(typeof stdin === 'string' ? [stdin] : stdin), stdout, stderr, env: options.env ?? {}, ...(options.backoffClock ? { backoffClock: options.backoffClock } : {}) });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/** The built CLI (`npm run build` first), for what needs a process of its own: closed pipes, signals. */
export const BIN = fileURLToPath(new URL('../../bin/runwatch.js', import.meta.url));


/** `runwatch args` in a process of its own, stdio piped; `exited`: its exit code, or the signal that ended it. */
export function spawnRunwatch(args: readonly string[], cwd?: string): { child: ChildProcessWithoutNullStreams; stderr: () => string; exited: Promise<number | NodeJS.Signals> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: {}, cwd });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | NodeJS.Signals>((resolve) => child.on('close', (code, signal) => resolve(code ?? signal!)));
  return { child, stderr: () => stderr, exited };
}

/** A stdout or stderr whose every write fails with `code`, as a closed pipe (EPIPE) or a full disk (ENOSPC) fails. */
export function failingStream(code: string): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback(Object.assign(new Error(`${code}: write failed`), { code }));
    },
  });
}
