// What both function entry points (detect, notify) share: structured logs, start-up configuration that fails
// closed, the choice of state backend, counters. The environment is read here and in the entry points only, and
// always passed in as a plain object, so tests hand over exactly the variables they mean.
import type { BaselineStore } from './baseline/store.js';
import { ConfigError, loadConfigFile, type ConfigProblem } from './config/load.js';
import type { RunwatchConfig } from './config/types.js';
import { isProjectId } from './pubsub/publisher.js';
import { jsonTerminalSafe } from './untrustedText.js';

// detect and notify take their helpers from here; the sinks (deliver.ts) import errors.js directly.
export { errorMessage } from './errors.js';

export type Env = Readonly<Record<string, string | undefined>>;

// ---- logs ------------------------------------------------------------------------------------------------------

export type LogSeverity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL';

/** One structured log line: Cloud Logging reads `severity` and `message` from JSON on stdout. */
export interface LogRecord {
  readonly severity: LogSeverity;
  readonly message: string;
  readonly [field: string]: unknown;
}

export type LogSink = (record: LogRecord) => void;

/**
 * Writes a record as one JSON line. Records quote what deployers wrote (the service names of the findings an entry
 * raised, a skipped entry's method): C1 controls, line separators, bidi and invisible characters leave as `\u`
 * escapes (jsonTerminalSafe, as the console sink writes them), so a terminal that shows stdout (`functions-framework`
 * in a shell) is not driven by them, and Cloud Logging reads the same values.
 */
export const stdoutLog: LogSink = (record) => {
  process.stdout.write(`${jsonTerminalSafe(JSON.stringify(record))}\n`);
};

// ---- start-up ----------------------------------------------------------------------------------------------------

/** The instance cannot serve (invalid config or environment). Every invocation fails with it, loudly. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
  constructor(
    readonly component: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(`runwatch ${component} refuses to serve: ${problems.map((p) => `${p.path}: ${p.reason}`).join('; ')}`);
  }
}

/**
 * Loads and validates RUNWATCH_CONFIG; on failure returns the problems (every one, as `path: reason`) together
 * with the environment problems the caller found, so one log shows everything that is wrong.
 */
export async function loadFunctionConfig(env: Env): Promise<{ config?: RunwatchConfig; problems: ConfigProblem[] }> {
  const path = env['RUNWATCH_CONFIG'];
  if (!path) return { problems: [{ path: 'env.RUNWATCH_CONFIG', reason: 'is required (path to the runwatch config file)' }] };
  try {
    return { config: await loadConfigFile(path), problems: [] };
  } catch (error) {
    if (error instanceof ConfigError) return { problems: error.problems.map((p) => ({ path: p.path, reason: `${p.reason} (in ${path})` })) };
    throw error;
  }
}

/**
 * GOOGLE_CLOUD_PROJECT, when set, names every Firestore document and Pub/Sub topic the function uses: a value that is
 * no project id (a trailing newline or space, say) would pass start-up and then fail every message, so it is a
 * start-up problem like the others.
 */
export function projectProblems(env: Env): ConfigProblem[] {
  const project = env['GOOGLE_CLOUD_PROJECT'];
  if (!project || isProjectId(project)) return [];
  return [{ path: 'env.GOOGLE_CLOUD_PROJECT', reason: `${JSON.stringify(project)} is not a project id (lowercase letters, digits and hyphens, a letter first; or domain-scoped, example.com:my-project)` }];
}

/**
 * Runs `init` once per instance. A StartupError is kept (the instance stays refused: restarting it is the fix);
 * any other failure (a client that could not load) is retried by the next invocation.
 */
export function startOnce<T>(init: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= init().catch((error: unknown) => {
      if (!(error instanceof StartupError)) pending = undefined;
      throw error;
    });
    return pending;
  };
}

/** Logs every start-up problem on its own line (so log-based alerts can match them) and a summary. */
export function logStartupError(log: LogSink, error: StartupError): void {
  for (const problem of error.problems) {
    log({ severity: 'CRITICAL', message: `${problem.path}: ${problem.reason}`, component: error.component, path: problem.path, reason: problem.reason });
  }
  log({ severity: 'CRITICAL', message: `runwatch ${error.component} refuses to serve: ${error.problems.length} problem(s) above; fix them and redeploy`, component: error.component });
}

// ---- state backend ---------------------------------------------------------------------------------------------

export type StateBackend =
  | { readonly kind: 'firestore'; readonly projectId?: string; readonly reason: string }
  | { readonly kind: 'memory'; readonly reason: string };

/**
 * Firestore when an emulator is configured or we run in the cloud (a project is set, or K_SERVICE says Cloud
 * Run / Cloud Functions); the embedded memory store otherwise (per instance: for local experiments only).
 */
export function stateBackend(env: Env): StateBackend {
  const projectId = env['GOOGLE_CLOUD_PROJECT'] || undefined;
  const withProject = projectId ? { projectId } : {};
  if (env['FIRESTORE_EMULATOR_HOST']) return { kind: 'firestore', ...withProject, reason: `FIRESTORE_EMULATOR_HOST=${env['FIRESTORE_EMULATOR_HOST']}` };
  if (env['K_SERVICE']) return { kind: 'firestore', ...withProject, reason: `running in the cloud (K_SERVICE=${env['K_SERVICE']})` };
  if (projectId) return { kind: 'firestore', projectId, reason: `GOOGLE_CLOUD_PROJECT=${projectId}` };
  return { kind: 'memory', reason: 'no FIRESTORE_EMULATOR_HOST, GOOGLE_CLOUD_PROJECT or K_SERVICE: state lives in this instance only' };
}

/**
 * DELIVERY_DATABASE: the Firestore database notify keeps its delivery records in (Terraform: `<prefix>-deliveries`,
 * the only database its account may use, so a compromised notify function cannot touch detect's baselines in
 * (default)). Unset or empty: no database named, the client's (default), as before the variable existed. A value that
 * is no database id (4-63 lowercase letters, digits and hyphens, a letter first, no hyphen last; or `(default)`) is a
 * start-up problem: it would otherwise fail every message.
 */
export function deliveryDatabase(env: Env): { readonly ok: true; readonly databaseId?: string } | { readonly ok: false; readonly reason: string } {
  const value = env['DELIVERY_DATABASE'];
  if (!value) return { ok: true };
  if (value === '(default)' || /^[a-z][a-z0-9-]{2,61}[a-z0-9]$/.test(value)) return { ok: true, databaseId: value };
  return {
    ok: false,
    reason: `${JSON.stringify(value)} is not a Firestore database id (4-63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen; or (default))`,
  };
}

export async function openBaselineStore(backend: StateBackend): Promise<BaselineStore> {
  if (backend.kind === 'memory') {
    const { MemoryBaselineStore } = await import('./baseline/memory.js');
    return new MemoryBaselineStore();
  }
  const { FirestoreBaselineStore } = await import('./baseline/firestore.js');
  return new FirestoreBaselineStore(backend.projectId ? { projectId: backend.projectId } : {});
}

// ---- counters --------------------------------------------------------------------------------------------------

/** Per-instance counters, included in log lines so a log query shows totals without a metrics backend. */
export class Counters {
  private readonly values = new Map<string, number>();

  add(name: string, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }

  snapshot(): Readonly<Record<string, number>> {
    return Object.fromEntries([...this.values.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}
