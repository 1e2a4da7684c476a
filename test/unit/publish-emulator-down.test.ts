// `runwatch publish` and `replay --publish` with PUBSUB_EMULATOR_HOST set where nothing listens (the emulator not
// started yet, `npm run dev` stopped, a port from yesterday's run): each publish waited out the client library's
// 10 s total timeout, and then every entry was counted FAILED under a gax message of a thousand characters. Nothing is
// read or published now: one line says that nothing answers there, exit 1.
// The CLI runs in process (test/support/cli.ts): nothing here is about the process itself, and a process of its own
// cost each case 1 to 2 s of CPU to load the CLI and the client library again.
import { describe, expect, it } from 'vitest';
import { runwatch, type Run } from '../support/cli.js';
import { closedPort } from '../support/ports.js';

/**
 * `runwatch args` in process with `env`, which is also the process environment for the run: the client library reads
 * PUBSUB_EMULATOR_HOST from the process, and createPubSub sets METADATA_SERVER_DETECTION there on the emulator. Both
 * are put back as they were.
 */
async function runwatchWithProcessEnv(args: readonly string[], env: Record<string, string>): Promise<Run> {
  const names = [...Object.keys(env), 'METADATA_SERVER_DETECTION'];
  const before = new Map(names.map((name) => [name, process.env[name]]));
  Object.assign(process.env, env);
  try {
    return await runwatch(args, '', { env });
  } finally {
    for (const [name, value] of before) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

describe('the Pub/Sub emulator named by PUBSUB_EMULATOR_HOST does not answer', () => {
  it.each([
    ['publish', ['publish', 'examples/logs']],
    ['replay --publish', ['replay', '--quiet', '--format', 'ndjson', '--publish', 'runwatch-findings', 'examples/logs']],
  ])('%s: one line saying so, exit 1, nothing read or published', { timeout: 60_000 }, async (_name, args) => {
    const host = `127.0.0.1:${await closedPort()}`;
    const run = await runwatchWithProcessEnv(args, { PUBSUB_EMULATOR_HOST: host, GOOGLE_CLOUD_PROJECT: 'demo-runwatch' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`nothing answers on the Pub/Sub emulator at ${host} (ECONNREFUSED): start it (npm run dev prints where it listens) or unset PUBSUB_EMULATOR_HOST`);
    expect(run.stderr).not.toMatch(/FAILED|Total timeout|Previous errors/);
    expect(run.stdout).toBe('');
  });
});
