// `runwatch import-baselines --state FILE [--project PROJECT] [--concurrency N] [--dry-run]`
// Seeds the live pipeline's baselines (Firestore, database (default), collection runwatch-baselines) with those a
// replay built from history (`runwatch replay --state FILE`), so that on a fresh install a service's first live
// deploy or IAM change is judged against its past instead of setting its baseline silently. One transaction per
// service through FirestoreBaselineStore.transact (--concurrency of them at once; the lines still in key order),
// writing only where the service has no baseline yet: the live pipeline's is newer than any replay's and is never
// overwritten. What only the replay knew of (its open findings, its deploys still waiting, the entries it applied)
// is taken out first (baseline/import.ts). Running it again writes nothing new.
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { FileBaselineStore } from '../../baseline/file.js';
import { importableBaseline, importProblem, isBaselineKey, type ImportableBaseline } from '../../baseline/import.js';
import type { ServiceBaseline } from '../../baseline/state.js';
import { UnstorableError, type BaselineStore } from '../../baseline/store.js';
import { parseGrpcEndpoint, type GrpcEndpoint } from '../../grpcEndpoint.js';
import { isProjectId } from '../../pubsub/publisher.js';
import { messageOf } from '../../../sinks/deliver.js';
import { terminalSafe } from '../../untrustedText.js';
import { within } from '../../within.js';
import { argsErrorMessage, usageErrorText, usageReminder, type Command, type CommandIo } from '../command.js';

/**
 * Services read or written at once by default. Each is a transaction of two round trips (its read, then its
 * commit), some 40 to 100 ms from outside Google's network, so 16 make 160 to 400 a second: 40,000 services in two
 * to four minutes where one at a time took half an hour or more, and within the 500 writes a second Firestore
 * advises for a new collection, and for documents whose ids are close, as these are (keys in order; the 500/50/5
 * rule).
 */
const DEFAULT_CONCURRENCY = 16;
/** The most --concurrency takes: the operations the client library puts on one gRPC channel before it opens another. */
const MAX_CONCURRENCY = 100;

/** How long the first call may take to get any answer from Firestore, the client's set-up included (redrive's bound). */
const REACH_TIMEOUT_MS = 10_000;

/**
 * How long one service's read or transaction may go without an answer once Firestore has answered. The client
 * library's own deadline of one attempt is 60 s, and it retries for up to 10 minutes (a transaction up to 10 times):
 * a network gone halfway stops the import within this, as any failure does.
 */
const ANSWER_TIMEOUT_MS = 60_000;

/** How often a long import says on stderr how far it is. */
const PROGRESS_MS = 10_000;

const USAGE = `runwatch import-baselines --state FILE [--project PROJECT] [--concurrency N] [--dry-run]

Writes the baselines a replay kept in FILE (runwatch replay --state FILE) into the live pipeline's Firestore
baselines (database (default), collection runwatch-baselines), one transaction per service, so that each service's
first live entry is judged against its history: a later deploy with another runtime service account is reported,
and a policy applied again adds no one. Only services with no live baseline yet get one: a live baseline is newer
and is never overwritten (counted as skipped), so running it again imports nothing twice. Taken out of each
baseline: the replay's open findings (no sink ever had them), its deploys still waiting for their other half, and
its record of the entries it applied (one that reaches detect as well is judged there).
Replay --until the time the log sink was created, then import as soon as you can (README "Start from history").
Prints one line per service on stdout (imported, skipped, not imported), the counts on stderr (and, every
${PROGRESS_MS / 1000} s of a long import, how many services are done).
  --state FILE       the state file of runwatch replay --state (read only; locked while it is read)
  --project PROJECT  the project of the Firestore database (default: GOOGLE_CLOUD_PROJECT)
  --concurrency N    services read or written at once, 1 to ${MAX_CONCURRENCY} (default ${DEFAULT_CONCURRENCY}); lines stay in key order
  --dry-run          read FILE and the live baselines and say what would be imported, and what not (too large for a
                     Firestore document: listed, exit 1, as the import would); write nothing
FIRESTORE_EMULATOR_HOST selects the emulator. Credentials: Application Default Credentials. A Firestore that gives no
answer within ${REACH_TIMEOUT_MS / 1000} s (${ANSWER_TIMEOUT_MS / 1000} s for one service once it has answered) ends it with exit 1; run it again to complete it.`;

const OPTIONS = {
  state: { type: 'string' },
  project: { type: 'string' },
  concurrency: { type: 'string' },
  'dry-run': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface Options {
  readonly state: string;
  readonly projectId: string;
  readonly dryRun: boolean;
  readonly concurrency: number;
}

function parseOptions(args: readonly string[], env: CommandIo['env']): Options | { readonly error: string } {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: true }));
  } catch (error) {
    return { error: argsErrorMessage(error, OPTIONS, false) };
  }
  if (positionals.length > 0) return { error: `unexpected argument ${JSON.stringify(positionals[0])}` };
  const state = values['state'] as string | undefined;
  if (!state) return { error: '--state FILE is required' };
  const projectId = (values['project'] as string | undefined) ?? (env['GOOGLE_CLOUD_PROJECT'] || undefined);
  // Required, not the credentials' project: baselines written into the wrong project are not taken back easily.
  if (projectId === undefined) return { error: 'no project: give --project PROJECT or set GOOGLE_CLOUD_PROJECT' };
  if (!isProjectId(projectId)) return { error: `--project ${JSON.stringify(projectId)} is not a project id` };
  const concurrency = parseConcurrency(values['concurrency'] as string | undefined);
  if (concurrency === undefined) return { error: `--concurrency ${JSON.stringify(values['concurrency'])} is not a whole number from 1 to ${MAX_CONCURRENCY}` };
  return { state, projectId, dryRun: values['dry-run'] === true, concurrency };
}

/** --concurrency as a number (DEFAULT_CONCURRENCY when not given), or undefined when it is not one from 1 to MAX_CONCURRENCY. */
function parseConcurrency(given: string | undefined): number | undefined {
  if (given === undefined) return DEFAULT_CONCURRENCY;
  if (!/^\d{1,3}$/.test(given)) return undefined;
  const n = Number(given);
  return n >= 1 && n <= MAX_CONCURRENCY ? n : undefined;
}

export interface Counts {
  imported: number;
  skipped: number;
  /** Baselines Firestore can never store (over 1 MiB): listed, and the exit code is 1. */
  unstorable: number;
  openFindings: number;
  waitingDeploys: number;
  /** The newest change among the baselines imported (epoch ms), 0 when none. */
  newestChangeMs: number;
}

export const importBaselinesCommand: Command = {
  name: 'import-baselines',
  summary: "seed the live pipeline's Firestore baselines from a replay's --state file",
  usage: USAGE,
  async run(args: readonly string[], io: CommandIo): Promise<number> {
    const parsed = parseOptions(args, io.env);
    if ('error' in parsed) {
      io.stderr.write(`runwatch import-baselines: ${usageErrorText(parsed.error)}\n${usageReminder('import-baselines', USAGE)}`);
      return 2;
    }
    const baselines = await readState(parsed.state, io);
    if (baselines === undefined) return 1;
    const access = await firestoreAccessProblem(io.env);
    if (access !== undefined) {
      io.stderr.write(`runwatch import-baselines: ${access}\n`);
      return 1;
    }
    const { FirestoreBaselineStore } = await import('../../baseline/firestore.js');
    const store = new FirestoreBaselineStore({ projectId: parsed.projectId });
    const where = `projects/${terminalSafe(parsed.projectId)} (Firestore (default), collection ${store.collection})`;
    const emulator = io.env['FIRESTORE_EMULATOR_HOST'];
    const firestore = emulator ? `the Firestore emulator at ${terminalSafe(emulator)}` : `Firestore (project ${terminalSafe(parsed.projectId)})`;
    let outcome: ImportOutcome;
    let abandoned = false;
    try {
      // Before anything is written: a Firestore that never answers (no network, a proxy that swallows the connection)
      // is one line within REACH_TIMEOUT_MS, where the client library retried for up to 10 minutes.
      const reached = baselines.length === 0 ? undefined : await firstAnswer(store, baselines[0]![0]);
      if (reached !== undefined) {
        abandoned = reached === 'no answer';
        io.stderr.write(`runwatch import-baselines: ${abandoned ? `${firestore} did not answer within ${REACH_TIMEOUT_MS / 1000} s` : terminalSafe(messageOf(reached))}; nothing imported\n`);
        return 1;
      }
      const onProgress = (done: number, total: number): void => void io.stderr.write(`runwatch import-baselines: ${done} of ${total} services done...\n`);
      outcome = await importAll(store, baselines, { dryRun: parsed.dryRun, concurrency: parsed.concurrency, answerMs: ANSWER_TIMEOUT_MS, onProgress }, io.stdout);
      abandoned = outcome.abandoned === true;
    } finally {
      // A call given up on may go on retrying for minutes, and what it may still commit is one service's whole
      // baseline, which a re-run then skips. Its client is left open, to the process's exit (bin/runwatch.js exits
      // once main returns): terminated under it, the library's next attempt rejected a promise the library drops
      // (firestore's `void this._clientPool.run(...)`, "The client has already been terminated"), an unhandled
      // rejection in whatever runs the command (in CI, a later test file of the same vitest worker).
      if (!abandoned) await store.close();
    }
    const { counts, failure } = outcome;
    if (failure !== undefined) {
      const done = parsed.dryRun ? '' : ` (${counts.imported} imported before it; running the command again skips them)`;
      io.stderr.write(`runwatch import-baselines: ${terminalSafe((failure as Error).message)}${done}\n`);
      return 1;
    }
    io.stderr.write(summary(counts, where, parsed.dryRun));
    return counts.unstorable > 0 ? 1 : 0;
  },
};

/** A call to Firestore that got no answer in time (the import stops there, and does not wait for it). */
class NotAnswered extends Error {
  override readonly name = 'NotAnswered';
}

/**
 * Undefined once Firestore answers a read of `key` (a baseline or none) within REACH_TIMEOUT_MS; else its error, or
 * 'no answer'.
 */
async function firstAnswer(store: ImportTarget, key: string): Promise<unknown> {
  try {
    await answered(store.get(key), REACH_TIMEOUT_MS, '');
    return undefined;
  } catch (error) {
    return error instanceof NotAnswered ? 'no answer' : error;
  }
}

/** `work`'s outcome, or a NotAnswered rejection once `ms` have passed without one (`about`: what it was for). */
async function answered<T>(work: Promise<T>, ms: number, about: string): Promise<T> {
  const outcome = await within(work, ms);
  if (outcome === undefined) throw new NotAnswered(`Firestore did not answer within ${ms / 1000} s${about}`);
  if ('error' in outcome) throw outcome.error;
  return outcome.answer;
}

/** What importAll writes to: the live store (FirestoreBaselineStore), or one a test makes answer late. */
export interface ImportTarget extends Pick<BaselineStore, 'get' | 'transact'> {
  /** What transact refuses `baseline` as the first baseline of `key` with, measured without writing (--dry-run). */
  unstorable(key: string, baseline: ServiceBaseline): UnstorableError | undefined;
}

export interface ImportOptions {
  /** Read the live baselines and say what would be imported; write nothing. */
  readonly dryRun: boolean;
  /** Services read or written at once (DEFAULT_CONCURRENCY). */
  readonly concurrency: number;
  /** How long one service's read or transaction may go unanswered before the import stops (default ANSWER_TIMEOUT_MS). */
  readonly answerMs?: number;
  /** Told how many services are done (their lines written) of how many, at most every `progressMs` (PROGRESS_MS). */
  readonly onProgress?: (done: number, total: number) => void;
  readonly progressMs?: number;
}

export interface ImportOutcome {
  readonly counts: Counts;
  /** The read or write that failed (the import stopped there), if one did. */
  readonly failure?: unknown;
  /**
   * A call went unanswered for answerMs and was given up on (the failure returned, or one beside it): it may still
   * be pending, so the client must be closed without waiting for it.
   */
  readonly abandoned?: true;
}

/** What became of one service: its line and what it adds to the counts. */
interface ServiceResult {
  readonly key: string;
  readonly outcome: 'imported' | 'skipped' | UnstorableError;
  readonly stripped: ImportableBaseline['stripped'];
  readonly lastChangeMs: number;
}

/**
 * Imports `baselines` (in key order) into `target`, `options.concurrency` services at a time, one line per service
 * on `stdout` in key order whatever order Firestore answers in (users compare runs). A read or write that fails
 * starts nothing more: once those in flight have ended, every service done is listed (in key order) and the failure
 * returned with the counts.
 */
export async function importAll(target: ImportTarget, baselines: readonly [string, ServiceBaseline][], options: ImportOptions, stdout: NodeJS.WritableStream): Promise<ImportOutcome> {
  const counts: Counts = { imported: 0, skipped: 0, unstorable: 0, openFindings: 0, waitingDeploys: 0, newestChangeMs: 0 };
  const progressMs = options.progressMs ?? PROGRESS_MS;
  let nextProgress = performance.now() + progressMs;
  let done = 0;
  const take = (result: ServiceResult): void => {
    done++;
    if (options.onProgress && done < baselines.length && performance.now() >= nextProgress) {
      nextProgress = performance.now() + progressMs;
      options.onProgress(done, baselines.length);
    }
    const key = terminalSafe(result.key);
    const { outcome } = result;
    if (outcome instanceof UnstorableError) {
      // Never stored however often it is tried: the others still get theirs (stopping here left every key after it out).
      stdout.write(`not imported ${key} (${terminalSafe(outcome.message)})\n`);
      counts.unstorable++;
    } else if (outcome === 'skipped') {
      stdout.write(`skipped ${key} (a live baseline is there)\n`);
      counts.skipped++;
    } else {
      stdout.write(`${options.dryRun ? 'would import' : 'imported'} ${key}\n`);
      counts.imported++;
      counts.openFindings += result.stripped.openFindings;
      counts.waitingDeploys += result.stripped.waitingDeploys;
      counts.newestChangeMs = Math.max(counts.newestChangeMs, result.lastChangeMs);
    }
  };
  const answerMs = options.answerMs ?? ANSWER_TIMEOUT_MS;
  let abandoned = false;
  const work = async (i: number): Promise<ServiceResult> => {
    try {
      return await answered(importService(target, baselines[i]!, options.dryRun), answerMs, ` for ${baselines[i]![0]}`);
    } catch (error) {
      // Also when an earlier failure already stopped the import: this call is pending all the same.
      if (error instanceof NotAnswered) abandoned = true;
      throw error;
    }
  };
  const failed = await inOrder(baselines.length, options.concurrency, work, take);
  return { counts, ...(failed !== undefined ? { failure: failed.error } : {}), ...(abandoned ? { abandoned: true as const } : {}) };
}

async function importService(target: ImportTarget, [key, replayed]: readonly [string, ServiceBaseline], dryRun: boolean): Promise<ServiceResult> {
  const { baseline, stripped } = importableBaseline(replayed);
  // The dry run measures the document the write would send, so it lists what the write would refuse.
  const outcome = dryRun ? ((await target.get(key)) ? 'skipped' : (target.unstorable(key, baseline) ?? 'imported')) : await importOne(target, key, baseline);
  return { key, outcome, stripped, lastChangeMs: baseline.lastChangeMs };
}

/**
 * Runs `work(i)` for each i below `count`, at most `limit` at once, and hands each result to `take` in the order of
 * i, as soon as it and every one before it are there. The first failure starts nothing more; once the work in flight
 * has ended, the results there are handed over (in order, gaps left) and the failure returned.
 */
async function inOrder<R>(count: number, limit: number, work: (i: number) => Promise<R>, take: (result: R) => void): Promise<{ readonly error: unknown } | undefined> {
  const waiting = new Map<number, R>(); // done, not handed over: an earlier one is still in flight
  let started = 0;
  let handed = 0;
  let failed: { readonly error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failed === undefined && started < count) {
      const i = started++;
      try {
        waiting.set(i, await work(i));
      } catch (error) {
        failed ??= { error };
        return;
      }
      for (; waiting.has(handed); handed++) {
        take(waiting.get(handed)!);
        waiting.delete(handed);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  if (failed !== undefined) for (const i of [...waiting.keys()].sort((a, b) => a - b)) take(waiting.get(i)!);
  return failed;
}

/**
 * Writes `baseline` as the baseline of `key` unless the key has one: one transaction, whose check and write are atomic.
 * A baseline Firestore can never store (UnstorableError, refused before anything is sent) is returned, not thrown.
 */
async function importOne(store: ImportTarget, key: string, baseline: ServiceBaseline): Promise<'imported' | 'skipped' | UnstorableError> {
  try {
    return await store.transact(key, (current) => (current !== undefined ? { result: 'skipped' as const } : { next: baseline, result: 'imported' as const }));
  } catch (error) {
    if (error instanceof UnstorableError) return error;
    throw error;
  }
}

/**
 * Why Firestore cannot be reached at all from here, or undefined (the emulator needs no credentials). Without
 * credentials the client library's channel set-up failed outside any caller: the process ended with a stack trace.
 */
async function firestoreAccessProblem(env: CommandIo['env']): Promise<string | undefined> {
  const emulator = env['FIRESTORE_EMULATOR_HOST'];
  if (emulator) return emulatorProblem(emulator);
  const { GoogleAuth } = await import('google-auth-library');
  try {
    await new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/datastore'] }).getClient();
    return undefined;
  } catch {
    return 'no Google credentials for Firestore (Application Default Credentials: run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS)';
  }
}

/**
 * Why nothing answers on the Firestore emulator at `host` (HOST:PORT), or undefined once something accepts a TCP
 * connection there. Where nothing listened, the client library retried each call for minutes, saying nothing.
 */
async function emulatorProblem(host: string): Promise<string | undefined> {
  let endpoint: GrpcEndpoint;
  try {
    endpoint = parseGrpcEndpoint(host, 'FIRESTORE_EMULATOR_HOST');
  } catch {
    return `FIRESTORE_EMULATOR_HOST ${terminalSafe(JSON.stringify(host))} is not HOST:PORT`;
  }
  const { tcpConnectProblem } = await import('../../tcpAnswer.js');
  const problem = await tcpConnectProblem(endpoint.host, endpoint.port);
  return problem === undefined ? undefined : `nothing answers on the Firestore emulator at ${terminalSafe(host)} (${terminalSafe(problem)}): start it or unset FIRESTORE_EMULATOR_HOST`;
}

/** The baselines of the state file, by key in order; undefined (the reason on stderr) when it cannot be read. */
async function readState(path: string, io: CommandIo): Promise<[string, ServiceBaseline][] | undefined> {
  try {
    await stat(path);
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    io.stderr.write(`runwatch import-baselines: ${missing ? `state file ${terminalSafe(path)} does not exist (runwatch replay --state FILE writes it)` : terminalSafe((error as Error).message)}\n`);
    return undefined;
  }
  let file: FileBaselineStore;
  try {
    // Through the replay's own reader: the same checks, and its lock keeps a replay from writing the file meanwhile.
    file = await FileBaselineStore.open(path);
  } catch (error) {
    io.stderr.write(`runwatch import-baselines: ${terminalSafe((error as Error).message)}\n`);
    return undefined;
  }
  let entries: [string, ServiceBaseline][];
  try {
    entries = [...file.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  } finally {
    await file.release();
  }
  // All or nothing: a file with one baseline the live pipeline cannot take was edited by hand or by someone else.
  const nowMs = Date.now();
  for (const [key, baseline] of entries) {
    if (!isBaselineKey(key)) {
      io.stderr.write(`runwatch import-baselines: state file ${terminalSafe(path)}: ${terminalSafe(JSON.stringify(key))} is not a baseline key (PROJECT/LOCATION/SERVICE) that runwatch writes; nothing imported\n`);
      return undefined;
    }
    const problem = importProblem(baseline, nowMs);
    if (problem === undefined) continue;
    io.stderr.write(`runwatch import-baselines: state file ${terminalSafe(path)}: the baseline of ${terminalSafe(key)} has ${problem}; nothing imported\n`);
    return undefined;
  }
  return entries;
}

function summary(counts: Counts, where: string, dryRun: boolean): string {
  const lines = [
    `${dryRun ? 'would import' : 'imported'} ${counts.imported} baseline(s) into ${where}; ${counts.skipped} skipped: a live baseline is there, never overwritten`,
  ];
  if (counts.unstorable > 0) {
    lines.push(`${counts.unstorable} not imported: too large for a Firestore document (listed above); their services' first live entries are judged without history`);
  }
  if (counts.openFindings > 0 || counts.waitingDeploys > 0) {
    lines.push(`left out of them: ${counts.openFindings} open finding(s) and ${counts.waitingDeploys} deploy(s) still waiting, which no sink ever had`);
  }
  if (counts.newestChangeMs > 0) {
    lines.push(`newest change ${dryRun ? 'to import' : 'imported'}: ${new Date(counts.newestChangeMs).toISOString()} (the log sink should be newer: replay --until the time it was created)`);
  }
  return `${lines.join('\n')}\n`;
}
