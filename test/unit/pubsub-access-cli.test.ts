// `runwatch publish` and `runwatch redrive` where Pub/Sub cannot be reached at all: no credentials, no project.
// Each runs in a process of its own, because the client library's failures surfaced as an unhandled rejection,
// which ends a process with a stack trace.
// The last case mostly waits out redrive's 10 s reach timeout: its process starts with the file (beforeAll below) and
// the other cases run one after another beside it, instead of after it. Only two processes at a time: each case's
// process start is mostly CPU (7-11 s each beside other work on 2 cores), and the cases have time limits.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../support/cli.js';
import { synthetic } from '../support/entries.js';

/**
 * The environment of every process here: an empty HOME (no ADC file, no gcloud configuration), no metadata server,
 * and a PATH that holds no `gcloud`. Without a project from the environment or the key file, google-auth runs
 * `gcloud config config-helper` (a Python start: 9-10 s of the 15-17 s such a case took beside other work on 2 cores;
 * the key-file cases ran past their 30 s limit so). With HOME empty gcloud names no project either, so the answer is
 * the same as on a machine without the Cloud SDK (the CLI itself is started by its path and needs no PATH).
 */
function childEnv(env: Record<string, string>): Record<string, string> {
  return { HOME: mkdtempSync(join(tmpdir(), 'runwatch-access-home-')), PATH: mkdtempSync(join(tmpdir(), 'runwatch-access-path-')), METADATA_SERVER_DETECTION: 'none', ...env };
}

/** `runwatch args` with only `env` (see childEnv): its exit code and stderr. */
async function run(args: readonly string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: childEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return { code, stderr };
}

function entriesFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'runwatch-access-')), 'entries.ndjson');
  writeFileSync(file, `${JSON.stringify(synthetic('run-SetIamPolicy-allUsers'))}\n${JSON.stringify(synthetic('v2-CreateService'))}\n`);
  return file;
}

/**
 * When a process that has not ended is taken to hang, and killed. The hang the last case guards against lasted minutes;
 * a process that works took 16-19 s beside other work on 2 cores: its start (2-5 s), then the 10 s reach timeout,
 * which gax checked only between attempts (its answer came 13.5-16 s after redrive's first line; the check now keeps
 * the bound itself, test/unit/redrive-reachable.test.ts). A bound of 20 s killed it in a run of this file on a loaded
 * machine (after 20.6 s, its answer not yet given).
 */
const HUNG_MS = 45_000;

/** The run of the last suite, started before the others (see the top of the file), and how long it took. */
let unreachable: Promise<{ code: number | null; stderr: string; ms: number; lingeredMs: number }>;
beforeAll(() => {
  const started = Date.now();
  unreachable = runBounded(['redrive', '--project', 'demo-runwatch', '--wait', '1'], { PUBSUB_EMULATOR_HOST: '127.0.0.1:9' }, HUNG_MS).then((run) => ({
    ...run,
    ms: Date.now() - started,
  }));
});

const NO_CREDENTIALS = 'no Google credentials for Pub/Sub (Application Default Credentials: run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS)';

describe('the Pub/Sub commands without Google credentials', () => {
  it.each<{ name: string; args: () => string[]; env: Record<string, string> }>([
    { name: 'publish with a project', args: () => ['publish', '--project', 'demo-runwatch', entriesFile()], env: {} },
    { name: 'publish with the project from the environment', args: () => ['publish', entriesFile()], env: { GOOGLE_CLOUD_PROJECT: 'demo-runwatch' } },
    { name: 'publish without a project', args: () => ['publish', entriesFile()], env: {} },
    { name: 'redrive with a project', args: () => ['redrive', '--project', 'demo-runwatch'], env: {} },
    { name: 'redrive without a project', args: () => ['redrive'], env: {} },
  ])('$name: one line saying so, exit 1, nothing published, no stack trace', async ({ args, env }) => {
    const command = args()[0]!;
    const { code, stderr } = await run(args(), env);
    expect(code).toBe(1);
    expect(stderr).toContain(`runwatch ${command}: ${NO_CREDENTIALS}\n`);
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(stderr).not.toContain('\\u000a');
    expect(stderr).not.toMatch(/published \d+|redrove \d+/);
  }, 30_000);
});

/** A service-account key file naming no project (a key is loaded without any network; no token is asked for). */
function keyFileWithoutProject(): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const file = join(mkdtempSync(join(tmpdir(), 'runwatch-access-key-')), 'key.json');
  writeFileSync(
    file,
    JSON.stringify({
      type: 'service_account',
      client_email: 'publisher@example.iam.gserviceaccount.com',
      client_id: '1',
      private_key_id: 'k1',
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      token_uri: 'https://127.0.0.1:9/token',
    }),
  );
  return file;
}

describe('the Pub/Sub commands with credentials that name no project, and none given', () => {
  it.each([
    { name: 'publish', args: () => ['publish', entriesFile()] },
    { name: 'redrive', args: () => ['redrive'] },
  ])('$name: one line asking for --project, exit 1, no stack trace', async ({ name, args }) => {
    const { code, stderr } = await run(args(), { GOOGLE_APPLICATION_CREDENTIALS: keyFileWithoutProject() });
    expect(code).toBe(1);
    expect(stderr).toContain(`runwatch ${name}: no project for Pub/Sub: pass --project or set GOOGLE_CLOUD_PROJECT (the credentials name none)\n`);
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(stderr).not.toContain('\\u000a');
  }, 30_000);
});

/**
 * `run`, but the process is killed after `ms` (it then hung: code null), so none is left behind. `lingeredMs`: how
 * long the process went on after its last line on stderr.
 */
async function runBounded(
  args: readonly string[],
  env: Record<string, string>,
  ms: number,
): Promise<{ code: number | null; stderr: string; lingeredMs: number }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: childEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let lastLineAt = Date.now();
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
    lastLineAt = Date.now();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stderr, lingeredMs: Date.now() - lastLineAt };
}

describe('the Pub/Sub commands on the emulator without a project', () => {
  // The emulator needs no credentials, but topic and subscription names still need a project: without one the client
  // library threw MissingProjectIdError outside any caller (publish: a stack trace), or redrive pulled from nothing
  // and reported "redrove 0 dead letters" with exit 0. Nothing listens on the port: the check comes first.
  it.each([
    { name: 'publish', args: () => ['publish', entriesFile()] },
    { name: 'redrive', args: () => ['redrive', '--wait', '1'] },
  ])('$name: one line asking for --project, exit 1, no stack trace', async ({ name, args }) => {
    // Killed only so that none is left behind (the bugs: a stack trace, or "redrove 0" and exit 0 after --wait).
    const { code, stderr } = await runBounded(args(), { PUBSUB_EMULATOR_HOST: '127.0.0.1:9' }, 25_000);
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(stderr).toContain(`runwatch ${name}: no project for the Pub/Sub emulator: pass --project or set GOOGLE_CLOUD_PROJECT\n`);
    expect(stderr).not.toMatch(/published \d+|redrove \d+/);
    expect(code).toBe(1);
  }, 30_000);
});

describe('the Pub/Sub commands on the emulator without a project, where a metadata server is set', () => {
  // google-auth's project lookup ends with the GCE metadata server, and asks it whatever METADATA_SERVER_DETECTION
  // says (that setting only covers the credentials): up to 3 s of waiting (gcp-metadata's request timeout) before
  // the "no project" line where GCE_METADATA_HOST names a server that does not answer. The emulator needs no
  // metadata server at all: it must not be asked.
  let metadata: Server;
  let asked = 0;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    metadata = createNetServer((socket) => {
      asked++;
      sockets.add(socket); // accepted, never answered: a metadata server that hangs
    });
    await new Promise<void>((resolve) => metadata.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => metadata.close(() => resolve()));
  });

  it.each([
    { name: 'publish', args: () => ['publish', entriesFile()] },
    { name: 'redrive', args: () => ['redrive', '--wait', '1'] },
  ])('$name: the metadata server is not asked, and the line comes at once', async ({ name, args }) => {
    asked = 0;
    const { port } = metadata.address() as AddressInfo;
    const { code, stderr } = await runBounded(args(), { PUBSUB_EMULATOR_HOST: '127.0.0.1:9', GCE_METADATA_HOST: `127.0.0.1:${port}` }, 25_000);
    expect(stderr).toContain(`runwatch ${name}: no project for the Pub/Sub emulator: pass --project or set GOOGLE_CLOUD_PROJECT\n`);
    // Not asked at all (GCE_METADATA_HOST points at this counting server): so the answer does not wait for the
    // metadata server's 3 s timeout. (No wall-clock bound: the client library's load alone took 3.6 s on a loaded host.)
    expect(asked, 'connections to the metadata server').toBe(0);
    expect(code).toBe(1);
  }, 30_000);
});

describe('redrive when Pub/Sub cannot be reached', () => {
  // Nothing listens on the emulator port (the emulator not started; a network outage looks the same): the streaming
  // pull retries UNAVAILABLE out of sight, so the idle wait ran out and redrive reported "redrove 0 dead letters"
  // as a success, and then the process did not exit (the pull's channel kept it alive, minutes at least).
  it('does not report an empty redrive as done, and ends', async () => {
    const { code, stderr, ms, lingeredMs } = await unreachable; // started in beforeAll
    expect(code, `killed after ${ms} ms`).not.toBeNull(); // ended by itself, not killed (HUNG_MS)
    // Its answer given, it ends: the client library's leftover retry timers held it open for 4 to 6 s more, which
    // under load ran past the 20 s bound.
    expect(lingeredMs).toBeLessThan(2_000);
    expect(stderr).not.toContain('redrove 0 dead letters');
    // On the emulator, nothing listening is seen before any pull (publish-emulator-down.test.ts); off it, a pull that
    // gets no answer within 10 s says so (redrive.ts).
    expect(stderr).toContain('runwatch redrive: nothing answers on the Pub/Sub emulator at 127.0.0.1:9 (ECONNREFUSED)');
    expect(code).toBe(1);
  }, HUNG_MS);
});
