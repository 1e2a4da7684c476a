import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Readable } from 'node:stream';
import { FileBaselineStore } from '../../baseline/file.js';
import { compareInstants, hasTimestampShape, normalizeTimestamp, type Instant } from '../../audit/entry.js';
import { defaultConfig, loadConfigFile } from '../../config/load.js';
import type { Finding } from '../../findings/finding.js';
import { formatSummary, formatTable, OUTPUT_FORMATS, type OutputFormat } from '../../replay/format.js';
import { byTime } from '../../replay/findingOrder.js';
import { jsonTerminalSafe, terminalSafe } from '../../untrustedText.js';
import { DEFAULT_REORDER_CAPACITY, replay, type ReplayStats } from '../../replay/replay.js';
import { releasePendingPipeOpens } from '../../replay/input.js';
import { inputOfPages, listEntries, LoggingEndpointError, parseLoggingEndpoint, type ListEntriesOptions, type LoggingEndpoint } from '../../replay/loggingApi.js';
import { loggingFilter, MAX_FILTER_LENGTH, MAX_RESOURCE_NAMES, parseResourceName, ResourceNameError } from '../../replay/loggingQuery.js';
import { argsErrorMessage, UsageError, type Command, type CommandIo } from '../command.js';
import { WatchedOutput } from '../output.js';
import { exitOnSignal } from '../signals.js';
import { FindingPublisher, type PublishReport } from '../findingPublisher.js';

const USAGE = `runwatch replay [--config FILE] [--format table|ndjson|json] [--since T] [--until T] [--state FILE]
                [--reorder-buffer N] [--workers N] [--publish TOPIC] [--quiet] PATH...
       runwatch replay --from-logging RESOURCE [--from-logging RESOURCE...] --since T [--until T] [--filter QUERY]
                [--config FILE] [--format F] [--state FILE] [--reorder-buffer N] [--publish TOPIC] [--quiet]

Replays Cloud Audit Log entries through the detectors, in timestamp order.
PATH: a JSON array (gcloud logging read --format=json), NDJSON, JSON documents one after the other (cat of
two exports, jq '.[]'), a .gz of any of those, a folder (a Cloud Storage log export tree), or - for stdin;
entries as LogEntries or as BigQuery rows (bq extract, bq query --format=json, EXPORT DATA of a log sink's
tables or of Log Analytics' _AllLogs).
Findings go to stdout; progress and a summary to stderr.
  --config FILE       rules, windows and exceptions (YAML or JSON); defaults when absent. Each option that
                      takes a value is given once (--from-logging repeats): configs are never merged
  --format F          table (default), ndjson (one finding per line) or json (one array)
  --since T, --until T  only entries in [T, until); RFC 3339, e.g. 2024-05-01T00:00:00Z or
                      2024-05-01T02:00:00+02:00, or a date (its midnight in UTC); a time without a zone is UTC,
                      one without seconds its minute's start (2024-05-01T02:00); each given once
  --state FILE        keep baselines in FILE between runs (created when missing)
  --reorder-buffer N  entries held to restore timestamp order across files (default ${DEFAULT_REORDER_CAPACITY})
  --workers N         worker threads for uncompressed NDJSON files (0: none; more than 4 only for large input,
                      one per 64 MiB). Without --state and with such files only, each takes whole projects and
                      detects on its own (default: one per core, at most 4); otherwise workers only parse
                      (default: one per core but one, at least 1, at most 4). Default for less than 64 MiB of
                      input files: none (starting threads costs more than they save)
  --publish TOPIC     also publish each finding to the findings topic (an id, or projects/P/topics/T), as the
                      detect function does: the notify functions deliver it to the sinks, each finding once (a
                      finding they already have is not sent again). Project: GOOGLE_CLOUD_PROJECT, else the
                      credentials'; PUBSUB_EMULATOR_HOST selects the emulator. A finding that could not be
                      published exits 1 and leaves --state as it was, so a second run sends it
  --quiet             no progress or summary
Reading Cloud Logging instead of files (Logging API entries.list, Application Default Credentials, needs
roles/logging.viewer on each RESOURCE):
  --from-logging RESOURCE  projects/P, folders/F, organizations/O, billingAccounts/B, a log view
                      projects/P/locations/L/buckets/B/views/V (a bare id: projects/ID); repeat for more
                      (up to ${MAX_RESOURCE_NAMES}). Reads what \`runwatch sink-filter\` selects
  --since T           required with --from-logging: the history to read starts there (no silent default)
  --filter QUERY      narrows it further (Logging query language), e.g. 'resource.labels.service_name="web"'
Environment: LOGGING_API_ENDPOINT (default https://logging.googleapis.com; https:// to a googleapis.com host, or
http:// to a loopback host, then without credentials).`;

/** `--since` / `--until`: the instant, to the nanosecond; its canonical UTC timestamp goes into a Cloud Logging query. */
function parseTime(flag: string, value: string | undefined): Instant | undefined {
  if (value === undefined) return undefined;
  // RFC 3339 allows `t` and `z` in lower case; audit entries and the rest of runwatch write them in upper case.
  const upper = value.toUpperCase();
  // A time without seconds (`2024-05-20T10:30`), as config freezes take it, is its minute's start.
  const withSeconds = upper.replace(/^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2})(Z|[+-]\d{2}:\d{2})?$/, '$1:00$2');
  const text = withSeconds.includes('T') || withSeconds.includes(' ') ? withSeconds : `${withSeconds}T00:00:00Z`;
  const parsed = normalizeTimestamp(text);
  if (!parsed) {
    if (hasTimestampShape(text)) throw new UsageError(`${flag}: no such day or time: ${value}`); // 2024-02-30, 24:00:00
    throw new UsageError(`${flag}: not an RFC 3339 time: ${value}`);
  }
  return { iso: parsed.iso, ms: parsed.ms };
}

/** A time of day as a shell leaves it when `--since 2024-05-20 10:00:00` is not quoted: a word of its own. */
const TIME_OF_DAY = /^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Paths that cannot be what the user meant, named before anything is read: standard input twice (it is read once,
 * the second `-` read nothing), and an unquoted --since/--until time's second word (it was "ENOENT ... stat
 * '10:00:00'", exit 1). A file of that name that exists is read as any file.
 */
function checkPaths(paths: readonly string[], values: { readonly since?: string; readonly until?: string }): void {
  const stdin = paths.filter((path) => path === '-').length;
  if (stdin > 1) throw new UsageError(`- (standard input) is named ${stdin} times; it can be read once`);
  if (values.since === undefined && values.until === undefined) return;
  const time = paths.find((path) => TIME_OF_DAY.test(path) && !existsSync(path));
  if (time === undefined) return;
  // The value the user meant, when it is clear which flag the time followed; seconds added, which --since needs.
  const withSeconds = time.replace(/^(\d{1,2}:\d{2})(?!:)/, '$1:00');
  const [flag, date] = values.until === undefined ? ['--since', values.since] : values.since === undefined ? ['--until', values.until] : [];
  const example = flag ? `${flag} '${date} ${withSeconds}'` : "--since '2024-05-20 10:00:00'";
  throw new UsageError(`no file ${JSON.stringify(time)}: the time of a --since or --until with a space in it? Quote the whole value: ${example}`);
}

/**
 * A count option's value: decimal digits only, NaN for anything else. Number() alone read '' and ' ' as 0 (an unset
 * shell variable, `--workers "$N"`, ran without worker threads) and took `0x10`, `1e3` and ` 5`.
 */
function wholeNumber(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  return Number.isSafeInteger(number) ? number : Number.NaN; // so many digits that Number() made them Infinity
}

interface LoggingSource {
  readonly resourceNames: readonly string[];
  readonly filter: string;
  readonly endpoint?: LoggingEndpoint;
}

/** `--from-logging` and what goes with it, checked before anything is read; undefined when replaying files. */
function loggingSource(
  values: { readonly 'from-logging'?: string[]; readonly filter?: string; readonly workers?: string },
  positionals: readonly string[],
  since: Instant | undefined,
  until: Instant | undefined,
  env: CommandIo['env'],
): LoggingSource | undefined {
  const resources = values['from-logging'];
  if (resources === undefined) {
    if (values.filter !== undefined) throw new UsageError('--filter applies to --from-logging only (files are read whole)');
    if (positionals.length === 0) throw new UsageError('replay needs at least one PATH (or - for stdin), or --from-logging RESOURCE');
    return undefined;
  }
  if (positionals.length > 0) throw new UsageError('give PATH arguments or --from-logging, not both');
  // Without a time restriction entries.list searches the whole retention (400 days of admin activity), slowly
  // and against the read quota; the client libraries and gcloud instead add a silent 24 h default. Neither is
  // what a replay of history should do unasked, so the start is the user's to say.
  if (since === undefined) throw new UsageError('--from-logging needs --since T: the start of the history to read (e.g. --since 2024-05-01)');
  if (values.workers !== undefined) throw new UsageError('--workers applies to files only: entries from Cloud Logging are read on one thread');
  let resourceNames: string[];
  try {
    resourceNames = [...new Set(resources.map(parseResourceName))];
  } catch (error) {
    if (error instanceof ResourceNameError) throw new UsageError(`--from-logging: ${error.message}`);
    throw error;
  }
  if (resourceNames.length > MAX_RESOURCE_NAMES) throw new UsageError(`--from-logging: at most ${MAX_RESOURCE_NAMES} resources in one replay`);
  const filter = loggingFilter({ sinceIso: since.iso, untilIso: until?.iso, userFilter: values.filter });
  if (filter.length > MAX_FILTER_LENGTH) {
    throw new UsageError(`--filter is too long: the whole query would be ${filter.length} characters, Cloud Logging takes ${MAX_FILTER_LENGTH}`);
  }
  const endpointText = env['LOGGING_API_ENDPOINT'];
  let endpoint: LoggingEndpoint | undefined;
  try {
    endpoint = endpointText ? parseLoggingEndpoint(endpointText) : undefined;
  } catch (error) {
    if (error instanceof LoggingEndpointError) throw new UsageError(error.message);
    throw error;
  }
  return { resourceNames, filter, ...(endpoint ? { endpoint } : {}) };
}

function loggingOptions(logging: LoggingSource, io: CommandIo, quiet: boolean, signal: AbortSignal): ListEntriesOptions {
  return {
    ...(logging.endpoint ? { endpoint: logging.endpoint } : {}),
    ...(io.backoffClock ? { clock: io.backoffClock } : {}),
    signal,
    ...(quiet ? {} : { onRetry: (message: string) => void io.stderr.write(`runwatch replay: ${terminalSafe(message)}\n`) }),
  };
}

const OPTIONS = {
  config: { type: 'string' },
  format: { type: 'string', default: 'table' },
  since: { type: 'string' },
  until: { type: 'string' },
  state: { type: 'string' },
  'reorder-buffer': { type: 'string' },
  workers: { type: 'string' },
  'from-logging': { type: 'string', multiple: true },
  filter: { type: 'string' },
  publish: { type: 'string' },
  quiet: { type: 'boolean', default: false },
} as const;

/** The options that take one value: every one but --from-logging (repeatable) and --quiet (a flag, the same twice). */
const SINGLE_VALUED = (Object.keys(OPTIONS) as (keyof typeof OPTIONS)[]).filter((name) => OPTIONS[name].type === 'string' && !('multiple' in OPTIONS[name]));

function parseReplayArgs(args: readonly string[]) {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], allowPositionals: true, options: OPTIONS, tokens: true });
  } catch (error) {
    throw new UsageError(argsErrorMessage(error, OPTIONS));
  }
  // parseArgs keeps the last of an option given twice: a range written `--since A --since B` lost A, and
  // `--config base.yaml --config prod.yaml` (layered as helm's -f layers) replayed with prod.yaml alone, without a word.
  for (const name of SINGLE_VALUED) {
    if (parsed.tokens.filter((token) => token.kind === 'option' && token.name === name).length > 1) {
      throw new UsageError(`--${name} is given twice; give it once${name === 'config' ? ': one config file is read, never several merged' : ''}`);
    }
  }
  return parsed;
}

export const replayCommand: Command = {
  name: 'replay',
  summary: 'replay historical audit logs through the detectors',
  usage: USAGE,
  async run(args, io: CommandIo): Promise<number> {
    const { values, positionals } = parseReplayArgs(args);
    const format = values.format as OutputFormat;
    if (!OUTPUT_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${OUTPUT_FORMATS.join(', ')}`);
    const since = parseTime('--since', values.since);
    const until = parseTime('--until', values.until);
    checkPaths(positionals, values);
    if (since !== undefined && until !== undefined && compareInstants(since.ms, since.iso, until.ms, until.iso) >= 0) {
      throw new UsageError(`--since ${values.since} is not before --until ${values.until}: no entry is in [since, until)`);
    }
    const logging = loggingSource(values, positionals, since, until, io.env);
    const reorderCapacity = wholeNumber(values['reorder-buffer']);
    if (reorderCapacity !== undefined && !(reorderCapacity > 0)) {
      throw new UsageError('--reorder-buffer must be a positive integer');
    }

    const workers = wholeNumber(values.workers);
    if (workers !== undefined && !(workers >= 0 && workers <= 64)) throw new UsageError('--workers must be an integer from 0 to 64');
    const config = values.config ? await loadConfigFile(values.config) : defaultConfig();
    // Connected before anything is read: a topic or credentials problem stops the replay at once.
    const publisher = values.publish !== undefined ? await FindingPublisher.open(values.publish, io.env) : undefined;
    const output = new WatchedOutput(io.stdout);
    const collected: Finding[] = [];
    const print =
      format === 'ndjson' ? (f: Finding): void => output.write(`${jsonTerminalSafe(JSON.stringify(f))}\n`) : (f: Finding): void => void collected.push(f);
    const onFinding = publisher
      ? (f: Finding): void => {
          print(f);
          publisher.publish(f);
        }
      : print;
    // Ctrl-C or SIGTERM: the state file is let go first (lock removed, never half written, no temp file left),
    // then the process ends with 130 or 143. Listening starts before the lock is taken: the lock file is created on
    // libuv's thread pool, and a signal that came between its creation and the listener killed the process outright
    // and left the lock behind (seen under load: the lock file was there, the replay died of the SIGTERM).
    let opening: Promise<FileBaselineStore> | undefined;
    let published: PublishReport | undefined;
    const signals = values.state
      ? exitOnSignal(async () => {
          releasePendingPipeOpens(); // else the process waits at exit for a named pipe's writer
          await (await opening?.catch(() => undefined))?.release();
        })
      : undefined;
    opening = values.state ? FileBaselineStore.open(values.state) : undefined;
    const started = performance.now();
    let store: FileBaselineStore | undefined;
    let stats: ReplayStats;
    try {
      store = await opening;
      if (store?.tookOverFrom !== undefined) {
        const left = store.tookOverFrom === 'unreadable' ? 'naming no process, over a minute ago (a replay that died creating it)' : `by process ${store.tookOverFrom}, which no longer runs`;
        io.stderr.write(`runwatch replay: ${terminalSafe(`${store.path}.lock was left ${left}`)}: taken over\n`);
      }
      stats = await replay({
        config,
        store,
        paths: positionals,
        stdin: io.stdin as Readable,
        ...(logging ? { entryBatches: inputOfPages(listEntries(logging, loggingOptions(logging, io, values.quiet, output.signal))) } : {}),
        since,
        until,
        reorderCapacity,
        keepWaiting: store !== undefined,
        workers,
        onFinding,
        onWarning: (warning) => void io.stderr.write(`runwatch replay: warning: ${terminalSafe(warning)}\n`),
        onProgress: values.quiet ? undefined : (s) => void io.stderr.write(`runwatch replay: ${s.entriesRead} entries read...\n`),
        signal: output.signal,
        ...(publisher ? { backpressure: () => publisher.waitForRoom() } : {}),
      });
      if (format === 'table') output.write(formatTable(collected));
      else if (format === 'json') output.write(`${jsonTerminalSafe(JSON.stringify(byTime(collected), null, 2))}\n`);
      // The state is written back only once every finding has been handed to stdout: a replay whose findings did
      // not all get out leaves it as it was, so the next replay reports them again.
      await output.flushed();
      // Likewise for the findings topic: with one not published, the state stays as it was.
      published = await publisher?.finish();
      if (published && published.failed > 0) {
        reportUnpublished(io, published, store !== undefined);
        return 1;
      }
      await store?.close();
    } catch (error) {
      if (signals?.stopping) return await signals.exiting(); // what the signal's cleanup caused is no failure
      // The reader went away (`| head`): stop quietly with exit 0, as `git log | head` does; nothing is wrong
      // with the replay, and what the reader took is all it wanted. Findings already handed to --publish still go
      // out; that the replay stopped before the rest is said, and a publish that failed is still an exit 1.
      if (output.readerGone && error === output.signal.reason) {
        const report = await publisher?.finish();
        if (!report) return 0;
        io.stderr.write(`runwatch replay: stdout closed early: ${report.published} finding(s) published to ${terminalSafe(report.topic)}; the replay stopped before the rest\n`);
        if (report.failed === 0) return 0;
        reportUnpublished(io, report, store !== undefined);
        return 1;
      }
      throw error;
    } finally {
      await store?.release(); // a replay that failed or stopped leaves the state file as it was, and unlocked
      await publisher?.close();
      signals?.off();
    }
    if (signals?.stopping) return await signals.exiting(); // the replay ended as the signal came: its code, no summary
    if (!values.quiet) {
      io.stderr.write(formatSummary(stats, (performance.now() - started) / 1000));
      if (published) io.stderr.write(`  published to ${terminalSafe(published.topic)}: ${published.published}\n`);
    }
    return 0;
  },
};

function reportUnpublished(io: CommandIo, report: PublishReport, withState: boolean): void {
  io.stderr.write(
    `runwatch replay: could not publish ${report.failed} of ${report.failed + report.published} finding(s) to ${terminalSafe(report.topic)} (first: ${terminalSafe(report.firstError ?? '?')})${withState ? '; the state file is left as it was' : ''}\n`,
  );
}
