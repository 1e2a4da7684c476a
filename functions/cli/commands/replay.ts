import { parseArgs } from 'node:util';
import type { Readable } from 'node:stream';
import { FileBaselineStore } from '../../baseline/file.js';
import { hasTimestampShape, normalizeTimestamp, timeSortKey } from '../../audit/entry.js';
import { defaultConfig, loadConfigFile } from '../../config/load.js';
import type { Finding } from '../../findings/finding.js';
import { byTime, formatSummary, formatTable, OUTPUT_FORMATS, type OutputFormat } from '../../replay/format.js';
import { DEFAULT_REORDER_CAPACITY, replay, type ReplayStats } from '../../replay/replay.js';
import { UsageError, type Command, type CommandIo } from '../command.js';
import { WatchedOutput } from '../output.js';
import { exitOnSignal } from '../signals.js';

const USAGE = `runwatch replay [--config FILE] [--format table|ndjson|json] [--since T] [--until T] [--state FILE]
                [--reorder-buffer N] [--workers N] PATH...

Replays Cloud Audit Log entries through the detectors, in timestamp order.
PATH: a JSON array (gcloud logging read --format=json), NDJSON, a .gz of either, a folder (a Cloud Storage
log export tree), or - for stdin. Findings go to stdout; progress and a summary to stderr.
  --config FILE       rules, windows and exceptions (YAML or JSON); defaults when absent
  --format F          table (default), ndjson (one finding per line) or json (one array)
  --since T, --until T  only entries in [T, until); RFC 3339, e.g. 2024-05-01T00:00:00Z
  --state FILE        keep baselines in FILE between runs (created when missing)
  --reorder-buffer N  entries held to restore timestamp order across files (default ${DEFAULT_REORDER_CAPACITY})
  --workers N         worker threads for NDJSON input (default: per core, at most 4; 0: none). Without --state,
                      each takes whole projects and detects on its own; with it, workers only parse
  --quiet             no progress or summary`;

function parseTime(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.includes('T') || value.includes(' ') ? value : `${value}T00:00:00Z`;
  const parsed = normalizeTimestamp(text);
  if (!parsed) {
    if (hasTimestampShape(text)) throw new UsageError(`${flag}: no such day or time: ${value}`); // 2024-02-30, 24:00:00
    throw new UsageError(`${flag}: not an RFC 3339 time: ${value}`);
  }
  return timeSortKey(parsed.iso, parsed.ms); // sub-millisecond digits count, as in the entries' order
}

export const replayCommand: Command = {
  name: 'replay',
  summary: 'replay historical audit logs through the detectors',
  usage: USAGE,
  async run(args, io: CommandIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        format: { type: 'string', default: 'table' },
        since: { type: 'string' },
        until: { type: 'string' },
        state: { type: 'string' },
        'reorder-buffer': { type: 'string' },
        workers: { type: 'string' },
        quiet: { type: 'boolean', default: false },
      },
    });
    if (positionals.length === 0) throw new UsageError('replay needs at least one PATH (or - for stdin)');
    const format = values.format as OutputFormat;
    if (!OUTPUT_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${OUTPUT_FORMATS.join(', ')}`);
    const sinceMs = parseTime('--since', values.since);
    const untilMs = parseTime('--until', values.until);
    if (sinceMs !== undefined && untilMs !== undefined && sinceMs >= untilMs) {
      throw new UsageError(`--since ${values.since} is not before --until ${values.until}: no entry is in [since, until)`);
    }
    const reorderCapacity = values['reorder-buffer'] === undefined ? undefined : Number(values['reorder-buffer']);
    if (reorderCapacity !== undefined && !(Number.isInteger(reorderCapacity) && reorderCapacity > 0)) {
      throw new UsageError('--reorder-buffer must be a positive integer');
    }

    const workers = values.workers === undefined ? undefined : Number(values.workers);
    if (workers !== undefined && !(Number.isInteger(workers) && workers >= 0 && workers <= 64)) throw new UsageError('--workers must be an integer from 0 to 64');
    const config = values.config ? await loadConfigFile(values.config) : defaultConfig();
    const output = new WatchedOutput(io.stdout);
    const collected: Finding[] = [];
    const onFinding =
      format === 'ndjson' ? (f: Finding): void => output.write(`${JSON.stringify(f)}\n`) : (f: Finding): void => void collected.push(f);
    const opening = values.state ? FileBaselineStore.open(values.state) : undefined;
    // Ctrl-C or SIGTERM: the state file is let go first (lock removed, never half written, no temp file left),
    // then the process ends with 130 or 143.
    const ignoreSignals = opening ? exitOnSignal(async () => (await opening.catch(() => undefined))?.release()) : () => undefined;
    const started = performance.now();
    let store: FileBaselineStore | undefined;
    let stats: ReplayStats;
    try {
      store = await opening;
      if (store?.tookOverFrom !== undefined) {
        io.stderr.write(`runwatch replay: ${values.state}.lock was left by process ${store.tookOverFrom}, which no longer runs: taken over\n`);
      }
      stats = await replay({
        config,
        store,
        paths: positionals,
        stdin: io.stdin as Readable,
        sinceMs,
        untilMs,
        reorderCapacity,
        keepWaiting: store !== undefined,
        workers,
        onFinding,
        onWarning: (warning) => void io.stderr.write(`runwatch replay: warning: ${warning}\n`),
        onProgress: values.quiet ? undefined : (s) => void io.stderr.write(`runwatch replay: ${s.entriesRead} entries read...\n`),
        signal: output.signal,
      });
      if (format === 'table') output.write(formatTable(collected));
      else if (format === 'json') output.write(`${JSON.stringify(byTime(collected), null, 2)}\n`);
      // The state is written back only once every finding has been handed to stdout: a replay whose findings did
      // not all get out leaves it as it was, so the next replay reports them again.
      await output.flushed();
      await store?.close();
    } catch (error) {
      // The reader went away (`| head`): stop quietly with exit 0, as `git log | head` does; nothing is wrong
      // with the replay, and what the reader took is all it wanted.
      if (output.readerGone && error === output.signal.reason) return 0;
      throw error;
    } finally {
      await store?.release(); // a replay that failed or stopped leaves the state file as it was, and unlocked
      ignoreSignals();
    }
    if (!values.quiet) io.stderr.write(formatSummary(stats, (performance.now() - started) / 1000));
    return 0;
  },
};
