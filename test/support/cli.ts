import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../functions/cli/main.js';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI in process, with an empty environment; `stdin` is one text, or chunks handed over one by one. */
export async function runwatch(args: readonly string[], stdin: string | readonly (Buffer | string)[] = ''): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await main([...args], { stdin: Readable.from(typeof stdin === 'string' ? [stdin] : stdin), stdout, stderr, env: {} });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/** The built CLI (`npm run build` first), for what needs a process of its own: closed pipes, signals. */
export const BIN = fileURLToPath(new URL('../../bin/runwatch.js', import.meta.url));

