// `runwatch publish` and `replay --publish` with PUBSUB_EMULATOR_HOST set where nothing listens (the emulator not
// started yet, `npm run dev` stopped, a port from yesterday's run): each publish waited out the client library's
// 10 s total timeout, and then every entry was counted FAILED under a gax message of a thousand characters. Nothing is
// read or published now: one line says that nothing answers there, exit 1.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { BIN } from '../support/cli.js';

/** The built CLI in a process of its own (the client library reads PUBSUB_EMULATOR_HOST from the process). */
function runwatchProcess(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env['PATH'], ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** A port on 127.0.0.1 that nothing listens on (one just given back by the system). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('the Pub/Sub emulator named by PUBSUB_EMULATOR_HOST does not answer', () => {
  it.each([
    ['publish', ['publish', 'examples/logs']],
    ['replay --publish', ['replay', '--quiet', '--format', 'ndjson', '--publish', 'runwatch-findings', 'examples/logs']],
  ])('%s: one line saying so, exit 1, nothing read or published', { timeout: 60_000 }, async (_name, args) => {
    const host = `127.0.0.1:${await closedPort()}`;
    const run = await runwatchProcess(args, { PUBSUB_EMULATOR_HOST: host, GOOGLE_CLOUD_PROJECT: 'demo-runwatch' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`nothing answers on the Pub/Sub emulator at ${host} (ECONNREFUSED): start it (npm run dev prints where it listens) or unset PUBSUB_EMULATOR_HOST`);
    expect(run.stderr).not.toMatch(/FAILED|Total timeout|Previous errors/);
    expect(run.stdout).toBe('');
  });
});
