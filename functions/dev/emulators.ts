// Starts and stops the Pub/Sub and Firestore emulators of the Google Cloud SDK, for `npm run dev` and the
// integration tests (test/support/emulators.ts).
//
// Each emulator is a JVM started in its own process group (detached), so stopping it kills the whole group:
// the Firestore emulator's shell wrapper runs java as a *child* and killing the wrapper alone leaves the JVM
// serving (see ../shared/facts/platform.md), so we start its `java ... CloudFirestore` command directly.
// Ports are picked free on 127.0.0.1; heaps are capped; output goes to a log file, never to our stdout.
// A process-exit hook kills whatever is still running if the caller never got to stop(), and removes the log folder
// (a crash; Ctrl-C only where the caller handles the signal and exits: a signal's default action skips 'exit' hooks).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type EmulatorName = 'pubsub' | 'firestore';

/** Why the emulators cannot run here; the message says what was looked for and how to install them. */
export class EmulatorUnavailableError extends Error {
  override readonly name = 'EmulatorUnavailableError';
}

export interface EmulatorCommands {
  readonly sdkRoot: string;
  readonly java: string;
  /** The SDK's launcher script (it `exec`s java, so its pid is the JVM's). */
  readonly pubsubScript: string;
  readonly firestoreJar: string;
}

export interface RunningEmulator {
  readonly name: EmulatorName;
  /** `127.0.0.1:PORT`, the value of PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST. */
  readonly host: string;
  readonly pid: number;
  readonly logFile: string;
}

export interface RunningEmulators {
  readonly pubsub: RunningEmulator;
  readonly firestore: RunningEmulator;
  /** The environment a client needs to talk to these emulators (project id included). */
  readonly env: Readonly<Record<string, string>>;
  /** Stops both (SIGTERM to the process group, SIGKILL after a grace period) and checks they are gone. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Where to look (CLOUDSDK_ROOT, SDK_ROOT, PATH for gcloud, JAVA). Defaults to process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The project id the clients use; `demo-*` ids never reach a real project. */
  readonly projectId?: string;
  /** Max JVM heap per emulator, MiB. */
  readonly heapMb?: number;
  /** How long to wait for each emulator to answer `GET /` with Ok. */
  readonly readyTimeoutMs?: number;
}

const SDK_CANDIDATES = ['/usr/lib/google-cloud-sdk', '/usr/share/google-cloud-sdk', '/opt/google-cloud-sdk', '/google-cloud-sdk'];
const INSTALL_HINT =
  'Install the Google Cloud SDK with the emulators (`gcloud components install pubsub-emulator cloud-firestore-emulator`, ' +
  'or the apt packages google-cloud-cli-pubsub-emulator and google-cloud-cli-firestore-emulator) and Java 17 or newer, ' +
  'or set CLOUDSDK_ROOT to the SDK root.';

/** Finds the emulator launchers; throws EmulatorUnavailableError naming everything that is missing. */
async function findEmulators(env: Readonly<Record<string, string | undefined>> = process.env): Promise<EmulatorCommands> {
  const tried: string[] = [];
  const roots = [env['CLOUDSDK_ROOT'], env['SDK_ROOT']].filter((r): r is string => !!r);
  const fromGcloud = await gcloudSdkRoot(env);
  if (fromGcloud) roots.push(fromGcloud);
  roots.push(...SDK_CANDIDATES);
  let sdkRoot: string | undefined;
  for (const root of roots) {
    tried.push(root);
    if (existsSync(join(root, 'platform'))) {
      sdkRoot = root;
      break;
    }
  }
  if (!sdkRoot) throw new EmulatorUnavailableError(`Google Cloud SDK not found (looked in ${[...new Set(tried)].join(', ')}). ${INSTALL_HINT}`);
  const pubsubScript = join(sdkRoot, 'platform/pubsub-emulator/bin/cloud-pubsub-emulator');
  const firestoreJar = join(sdkRoot, 'platform/cloud-firestore-emulator/cloud-firestore-emulator.jar');
  const missing = [pubsubScript, firestoreJar].filter((p) => !existsSync(p));
  const java = env['JAVA'] ?? 'java';
  if (!(await runs(java, ['-version']))) missing.push(`${java} (Java runtime)`);
  if (missing.length > 0) throw new EmulatorUnavailableError(`emulator components missing: ${missing.join(', ')}. ${INSTALL_HINT}`);
  return { sdkRoot, java, pubsubScript, firestoreJar };
}

/** Starts both emulators on free ports and waits until both answer. On any failure nothing is left running. */
export async function startEmulators(options: StartOptions = {}): Promise<RunningEmulators> {
  const env = options.env ?? process.env;
  const commands = await findEmulators(env);
  const projectId = options.projectId ?? 'demo-runwatch';
  const heap = `-Xmx${options.heapMb ?? 256}m`;
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const logDir = mkdtempSync(join(tmpdir(), 'runwatch-emulators-'));
  liveLogDirs.add(logDir);
  installExitHook();
  const started: Started[] = [];
  try {
    const [pubsub, firestore] = await Promise.all([
      startWithRetry('pubsub', logDir, timeoutMs, started, (port) => ({
        command: commands.pubsubScript,
        args: [`--host=127.0.0.1`, `--port=${port}`],
        // The launcher script adds $JAVA_OPTS to the java command line.
        env: { ...cleanEnv(env), JAVA_OPTS: heap },
      })),
      startWithRetry('firestore', logDir, timeoutMs, started, (port) => ({
        command: commands.java,
        args: [heap, '-Duser.language=en', '-cp', commands.firestoreJar, 'com.google.cloud.datastore.emulator.firestore.CloudFirestore', `--host=127.0.0.1`, `--port=${port}`],
        env: cleanEnv(env),
      })),
    ]);
    let stopped = false;
    return {
      pubsub,
      firestore,
      env: {
        PUBSUB_EMULATOR_HOST: pubsub.host,
        FIRESTORE_EMULATOR_HOST: firestore.host,
        GOOGLE_CLOUD_PROJECT: projectId,
        METADATA_SERVER_DETECTION: 'none',
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopAll(started);
        rmSync(logDir, { recursive: true, force: true });
        liveLogDirs.delete(logDir);
      },
    };
  } catch (error) {
    await stopAll(started).catch(() => undefined);
    rmSync(logDir, { recursive: true, force: true });
    liveLogDirs.delete(logDir);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------------

interface Started extends RunningEmulator {
  readonly child: ChildProcess;
}

interface Launch {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
}

/** Process groups still running, killed synchronously if the process exits first, and their log folders, removed. */
const live = new Set<number>();
const liveLogDirs = new Set<string>();
let exitHookInstalled = false;
function track(pgid: number): void {
  live.add(pgid);
  installExitHook();
}
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const id of live) {
      try {
        process.kill(-id, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of liveLogDirs) rmSync(dir, { recursive: true, force: true });
  });
}

/** The emulator must not inherit emulator hosts or credentials meant for something else. */
function cleanEnv(env: Readonly<Record<string, string | undefined>>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const key of ['PATH', 'HOME', 'LANG', 'TMPDIR', 'JAVA_HOME']) if (env[key] !== undefined) out[key] = env[key];
  return out;
}

async function startWithRetry(name: EmulatorName, logDir: string, timeoutMs: number, started: Started[], launch: (port: number) => Launch): Promise<Started> {
  let lastError: unknown;
  // A free port can be taken between our probe and the JVM's bind: try again with a new one.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const logFile = join(logDir, `${name}-${attempt}.log`);
    const emulator = spawnEmulator(name, port, logFile, launch(port));
    started.push(emulator);
    try {
      await waitReady(emulator, timeoutMs);
      return emulator;
    } catch (error) {
      lastError = error;
      await stopOne(emulator).catch(() => undefined);
      started.splice(started.indexOf(emulator), 1);
    }
  }
  throw lastError;
}

function spawnEmulator(name: EmulatorName, port: number, logFile: string, launch: Launch): Started {
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(launch.command, launch.args, { detached: true, stdio: ['ignore', fd, fd], env: launch.env });
  } finally {
    closeSync(fd); // the child has its own copy
  }
  if (child.pid === undefined) throw new Error(`could not start the ${name} emulator (${launch.command})`);
  track(child.pid);
  child.on('error', () => undefined); // reported through waitReady (exit before ready)
  return { name, host: `127.0.0.1:${port}`, pid: child.pid, logFile, child };
}

async function waitReady(emulator: Started, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (emulator.child.exitCode !== null || emulator.child.signalCode !== null) {
      throw new Error(`the ${emulator.name} emulator exited before it was ready (code ${emulator.child.exitCode ?? emulator.child.signalCode}):\n${tail(emulator.logFile)}`);
    }
    try {
      const response = await fetch(`http://${emulator.host}/`, { signal: AbortSignal.timeout(1_000) });
      const text = await response.text();
      if (response.ok && text.trim() === 'Ok') return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`the ${emulator.name} emulator did not answer on ${emulator.host} within ${timeoutMs} ms:\n${tail(emulator.logFile)}`);
}

async function stopAll(started: readonly Started[]): Promise<void> {
  const results = await Promise.allSettled(started.map(stopOne));
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String(r.reason));
  if (failures.length > 0) throw new Error(`emulators left running: ${failures.join('; ')}`);
}

/** SIGTERM to the group, SIGKILL after 5 s, then checks that no process of the group is left. */
async function stopOne(emulator: Started): Promise<void> {
  const pgid = emulator.pid;
  if (!groupAlive(pgid)) {
    live.delete(pgid);
    return;
  }
  signalGroup(pgid, 'SIGTERM');
  if (!(await waitGone(pgid, 5_000))) {
    signalGroup(pgid, 'SIGKILL');
    if (!(await waitGone(pgid, 5_000))) throw new Error(`${emulator.name} emulator (process group ${pgid}) survived SIGKILL`);
  }
  live.delete(pgid);
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** True while any process of the group exists (a zombie included, until Node reaps it). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!groupAlive(pgid)) return true;
    await sleep(50);
  }
  return !groupAlive(pgid);
}

/** Ports this process handed out (freePort): the kernel offers a port again once the probe that found it closed. */
const handedOut = new Set<number>();

/**
 * A port free on 127.0.0.1 now, never one handed out before in this process: the two emulators (and the dev
 * pipeline's functions) take theirs at the same moment, and a second emulator given the first one's port would fail
 * to bind while the first one's "Ok" was taken for its readiness. `probe` finds a free port (the kernel's port 0).
 */
export async function freePort(probe: () => Promise<number> = kernelFreePort): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await probe();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free port that was not handed out already');
}

function kernelFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** Resolves once something accepts connections on 127.0.0.1:`port` (a function process started by the caller). */
export async function waitListening(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`no function listening on port ${port} after ${timeoutMs} ms`);
}

function gcloudSdkRoot(env: Readonly<Record<string, string | undefined>>): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('gcloud', ['info', '--format=value(installation.sdk_root)'], { timeout: 15_000, env: { PATH: env['PATH'] ?? '', HOME: env['HOME'] ?? '' } }, (error, stdout) => {
      resolve(error ? undefined : stdout.trim() || undefined);
    });
  });
}

function runs(command: string, args: readonly string[]): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 15_000 }, (error) => resolve(!error));
  });
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
