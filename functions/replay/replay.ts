// `runwatch replay`: historical entries through the same pipeline the live function runs, in timestamp order.
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { compareInstants, type Instant } from '../audit/entry.js';
import { normalizeOptionsOf, type ParseResult } from '../audit/normalize.js';
import type { BaselineStore } from '../baseline/store.js';
import type { RuleSettings, RunwatchConfig } from '../config/types.js';
import type { Finding } from '../findings/finding.js';
import { exceptionPath, type HeldBack } from '../engine.js';
import { Pipeline, type DueIndex, type EntryOutcome } from '../pipeline.js';
import { availableParallelism } from 'node:os';
import { MemoryBaselineStore } from '../baseline/memory.js';
import { expandPaths, type InputItem } from './input.js';
import { parsedBatches, type ParsedItem } from './item.js';
import { plainNdjson, readParsed } from './parallel.js';
import { replayPartitioned } from './partition.js';
import { ReorderBuffer } from './reorder.js';
import { compiledWorker } from './workers.js';

export interface ReplayOptions {
  readonly config: RunwatchConfig;
  /** Where baselines live; when absent, in memory (and replay may spread projects over worker threads). */
  readonly store?: BaselineStore & Partial<DueIndex>;
  readonly paths: readonly string[];
  readonly stdin?: Readable;
  /**
   * Entries from elsewhere than files (Cloud Logging's entries.list, page by page), read instead of `paths`: they
   * take the single-threaded path, whose reorder buffer puts several sources in time order.
   */
  readonly entryBatches?: AsyncIterable<readonly InputItem[]>;
  /** Only entries at or after this instant, to the nanosecond: `--since ...00.000001Z` leaves out `...00Z`. */
  readonly since?: Instant;
  /** Only entries before this instant. */
  readonly until?: Instant;
  /** How many entries the reorder buffer holds (memory bound). */
  readonly reorderCapacity?: number;
  /**
   * The store outlives this replay (`--state`): deploys still waiting for their other half at the end stay waiting
   * in it for the next replay (which may bring their system events); only those whose wait ran out by the newest
   * entry's time are completed. Otherwise everything waiting is completed with what is known.
   */
  readonly keepWaiting?: boolean;
  /**
   * Worker threads; 0 for none. Without a store and with NDJSON input only, projects are spread over this many
   * workers that do everything (default: one per core, at most 4); otherwise they only parse and normalize
   * (default: one per core but one, at least 1, at most 4). By default none for input files of less than
   * workerInputBytes in all. More than 4 are started only for large input (one per 64 MiB of input files), with a
   * warning (onWarning) when fewer are started than asked for.
   */
  readonly workers?: number;
  /** Input files of fewer bytes than this in all replay on one thread when `workers` is not given (WORKER_INPUT_BYTES). */
  readonly workerInputBytes?: number;
  readonly onFinding: (finding: Finding) => void;
  readonly onProgress?: (stats: ReplayStats) => void;
  /** Told what to warn about the input before it is read (a folder whose files were left out for their names). */
  readonly onWarning?: (warning: string) => void;
  /** Stops the replay between batches of input (it rejects with the signal's reason): its output has gone. */
  readonly signal?: AbortSignal;
  /**
   * Awaited between batches of input: a consumer of findings that cannot keep up (`--publish`, sending them to
   * Pub/Sub) holds the replay back until it has room, so its backlog stays bounded.
   */
  readonly backpressure?: () => Promise<void>;
}

export interface ReplayStats {
  entriesRead: number;
  changes: number;
  duplicates: number;
  outOfTimeRange: number;
  /** Entries delivered later than the reorder buffer could wait for. */
  outOfOrder: number;
  readonly skipped: Map<string, number>;
  readonly malformed: Map<string, number>;
  /** The first few malformed inputs (in input order: compareSources) with where they were, so a user can find them. */
  readonly malformedExamples: string[];
  readonly findingsByRule: Map<string, number>;
  /** What became of evaluated entries other than an immediate evaluation (rollouts waiting, late events...). */
  readonly notes: Map<string, number>;
  /** Every rule exception of the config, by its path (`rules.<rule>.exceptions[i]`), in the config's order. */
  readonly exceptions: string[];
  /** Findings each of them held back (by its path): never reported, counted so that a user tuning them sees what they hide. */
  readonly heldBack: Map<string, number>;
}

/** What the reorder buffer holds: the normalized result, not the (large) raw entry. */
interface Pending {
  readonly sortKey: number;
  readonly seq: number;
  readonly timeMs: number;
  readonly source: string;
  readonly parsed: ParseResult;
}

/** What goes to the pipeline: an entry's time, where it came from, and its normalized form. */
type Ready = Pick<Pending, 'timeMs' | 'source' | 'parsed'>;

export const DEFAULT_REORDER_CAPACITY = 50_000;
const MALFORMED_EXAMPLES = 10;

/**
 * What a malformed-entry reason is counted under in the summary: the reason without the input's own text that some
 * reasons quote (`unreadable timestamp "2024-02-30T..."`, a JSON parser's message with its position). Counted by
 * the whole reason, every distinct bad value took a summary line and a map entry of its own: an export whose
 * timestamps are all in a foreign format printed one line per entry. The examples keep the whole reason.
 */
export function malformedKind(reason: string): string {
  return reason.replace(/ "(?:[^"\\]|\\.)*"$/, '').replace(/^(file is neither NDJSON nor one JSON document|line is not JSON): [^]*$/, '$1');
}

function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

/** `--since` / `--until`: whether an entry's time (epoch ms, canonical timestamp) is in `[since, until)`; either end open when absent. */
export function inTimeRange(timeMs: number, iso: string, { since, until }: { readonly since?: Instant; readonly until?: Instant }): boolean {
  return (since === undefined || compareInstants(timeMs, iso, since.ms, since.iso) >= 0) && (until === undefined || compareInstants(timeMs, iso, until.ms, until.iso) < 0);
}

export function emptyStats(): ReplayStats {
  return {
    entriesRead: 0,
    changes: 0,
    duplicates: 0,
    outOfTimeRange: 0,
    outOfOrder: 0,
    skipped: new Map(),
    malformed: new Map(),
    malformedExamples: [],
    findingsByRule: new Map(),
    notes: new Map(),
    exceptions: [],
    heldBack: new Map(),
  };
}

/** Adds the counts of `other` into `into` (replays split over worker threads). */
export function mergeStats(into: ReplayStats, other: ReplayStats): void {
  into.entriesRead += other.entriesRead;
  into.changes += other.changes;
  into.duplicates += other.duplicates;
  into.outOfTimeRange += other.outOfTimeRange;
  into.outOfOrder += other.outOfOrder;
  for (const [k, v] of other.skipped) bump(into.skipped, k, v);
  for (const [k, v] of other.malformed) bump(into.malformed, k, v);
  for (const [k, v] of other.findingsByRule) bump(into.findingsByRule, k, v);
  for (const [k, v] of other.notes) bump(into.notes, k, v);
  for (const path of other.exceptions) if (!into.exceptions.includes(path)) into.exceptions.push(path);
  for (const [k, v] of other.heldBack) bump(into.heldBack, k, v);
  for (const example of other.malformedExamples) keepExample(into.malformedExamples, example);
}

/**
 * Adds `example` to `examples` (in input order, see compareSources) when it is among the MALFORMED_EXAMPLES first.
 * The first in input order, not the first met: one thread meets an entry that normalizes as malformed when it leaves
 * the reorder buffer, after lines that are not JSON read later, and each engine worker meets only its own projects'
 * entries; every mode names the same examples only if all keep the first of the input.
 */
function keepExample(examples: string[], example: string): void {
  let at = examples.length;
  while (at > 0 && compareSources(example, examples[at - 1]!) < 0) at--;
  if (at >= MALFORMED_EXAMPLES) return;
  examples.splice(at, 0, example);
  examples.splice(MALFORMED_EXAMPLES);
}

const DIGITS_OR_NOT = /\d+|\D+/g;

/**
 * Input order of `where: reason` texts (`file:line`, `file:line[element]`, `file[index]`, `Cloud Logging page P,
 * entry E`): as text, except that a run of digits counts as its number (`f:9` before `f:10`, `f:3` before `f:3[0]`).
 * A total order, so merging the examples of several workers gives one result whatever their order.
 */
function compareSources(a: string, b: string): number {
  const pa = a.match(DIGITS_OR_NOT) ?? [];
  const pb = b.match(DIGITS_OR_NOT) ?? [];
  for (let i = 0; i < pa.length && i < pb.length; i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    if (isDigit(x) && isDigit(y)) {
      const nx = x.replace(/^0+(?=\d)/, '');
      const ny = y.replace(/^0+(?=\d)/, '');
      if (nx.length !== ny.length) return nx.length - ny.length;
      if (nx !== ny) return nx < ny ? -1 : 1;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

function isDigit(token: string): boolean {
  const c = token.charCodeAt(0);
  return c >= 0x30 && c <= 0x39;
}

export interface ReplayRunOptions {
  readonly config: RunwatchConfig;
  readonly store: BaselineStore & Partial<DueIndex>;
  readonly since?: Instant;
  readonly until?: Instant;
  readonly reorderCapacity?: number;
  /** Items come in evaluation order already (the partitioned replay orders them on the main thread): no buffer. */
  readonly arrivesInOrder?: boolean;
  /** See ReplayOptions.keepWaiting. */
  readonly keepWaiting?: boolean;
  readonly onFinding: (finding: Finding) => void;
  /** See ReplayOptions.backpressure: awaited while finish() drains what the reorder buffer still holds. */
  readonly backpressure?: () => Promise<void>;
}

/** Steps between two waits for ReplayOptions.backpressure: entries let in or out, findings handed on. */
const PACE_SLICE = 64;

/**
 * Runs `step` on each item, waiting for `backpressure` after every PACE_SLICE and once at the end: a consumer of
 * findings that cannot keep up (ReplayOptions.backpressure) holds the replay back.
 */
export async function forEachPaced<T>(items: Iterable<T>, step: (item: T) => void | Promise<void>, backpressure: () => Promise<void>): Promise<void> {
  let done = 0;
  for (const item of items) {
    await step(item);
    if (++done % PACE_SLICE === 0) await backpressure();
  }
  await backpressure();
}

/** The paths of the config's rule exceptions (ReplayStats.exceptions), rule by rule in the config's order. */
export function exceptionPaths(config: RunwatchConfig): string[] {
  return (Object.entries(config.rules) as [string, RuleSettings][]).flatMap(([rule, settings]) => settings.exceptions.map((_, index) => exceptionPath(rule, index)));
}

/** The stateful half of a replay: items in (any order within the buffer), findings out, counts kept. */
export class ReplayRun {
  readonly stats = emptyStats();
  private readonly pipeline: Pipeline;
  private readonly buffer: ReorderBuffer<Pending>;
  private seq = 0;
  /** The newest entry time seen: where the replay's clock stands at the end. */
  private newestMs = -Infinity;

  constructor(readonly options: ReplayRunOptions) {
    // Each project's own clock: the same findings whether projects share this thread or are spread over workers.
    this.stats.exceptions.push(...exceptionPaths(options.config));
    const onHeldBack = ({ rule, exception }: HeldBack): void => bump(this.stats.heldBack, exceptionPath(rule, exception));
    this.pipeline = new Pipeline({ config: options.config, store: options.store, projectClocks: true, onHeldBack });
    this.buffer = new ReorderBuffer<Pending>(options.reorderCapacity ?? DEFAULT_REORDER_CAPACITY);
  }

  /** True when addSync can be used (a process-local store): replay's hot loop then makes no promise per entry. */
  get sync(): boolean {
    return this.pipeline.sync;
  }

  async add(item: ParsedItem): Promise<void> {
    const ready = this.admit(item);
    if (ready) await this.process(ready);
  }

  /** add for a process-local store (see `sync`). */
  addSync(item: ParsedItem): void {
    const ready = this.admit(item);
    if (ready) this.count(ready, this.pipeline.handleParsedSync(ready.parsed, ready.timeMs));
  }

  /** Counts the item; returns what is ready for the pipeline (this item, or an older one the buffer lets go). */
  private admit(item: ParsedItem): Ready | undefined {
    const stats = this.stats;
    stats.entriesRead++;
    if (item.kind === 'invalid') {
      this.noteMalformed(item.reason, item.source);
      return undefined;
    }
    const { timeMs, parsed } = item;
    if (!inTimeRange(item.timeMs, item.time, this.options)) {
      stats.outOfTimeRange++;
      return undefined;
    }
    if (timeMs > this.newestMs) this.newestMs = timeMs;
    if (this.options.arrivesInOrder) return item;
    // Skipped and malformed entries wait too, though order does not matter for them: every entry with a time takes
    // a place in the buffer, as in the partitioned replay's order (timeOrder.ts), so both let out the same entries
    // late when the input is more disordered than the buffer holds.
    return this.buffer.push({ sortKey: item.sortKey, seq: this.seq++, timeMs, source: item.source, parsed });
  }

  /** Drains the reorder buffer and completes what still waits for its other half. */
  async finish(): Promise<ReplayStats> {
    let drained = 0;
    for (let item = this.buffer.pop(); item; item = this.buffer.pop()) {
      if (this.sync) this.count(item, this.pipeline.handleParsedSync(item.parsed, item.timeMs));
      else await this.process(item);
      if (this.options.backpressure && ++drained % PACE_SLICE === 0) await this.options.backpressure();
    }
    if (this.options.keepWaiting) {
      // Only what the next entry would have completed; the rest waits in the store for the next replay.
      await this.emitPaced(await this.pipeline.sweep(this.newestMs));
      // Counted over the whole store (a file store knows every service kept waiting, not only this replay's).
      const waiting = this.options.store.dueKeys ? (await this.options.store.dueKeys(Number.MAX_SAFE_INTEGER)).length : this.pipeline.servicesWaiting;
      if (waiting > 0) bump(this.stats.notes, 'services with deploys still waiting (kept in the state file)', waiting);
    } else {
      // Deploys still waiting for their other half: evaluated with what is known.
      await this.emitPaced(await this.pipeline.flush());
    }
    this.stats.outOfOrder = this.buffer.lateCount;
    return this.stats;
  }

  private noteMalformed(reason: string, source: string): void {
    bump(this.stats.malformed, malformedKind(reason));
    keepExample(this.stats.malformedExamples, `${source}: ${reason}`);
  }

  /** emit, waiting for ReplayOptions.backpressure as it goes. */
  private async emitPaced(findings: readonly Finding[]): Promise<void> {
    if (this.options.backpressure) await forEachPaced(findings, (finding) => this.emitOne(finding), this.options.backpressure);
    else this.emit(findings);
  }

  private emit(findings: readonly Finding[]): void {
    for (const finding of findings) this.emitOne(finding);
  }

  private emitOne(finding: Finding): void {
    bump(this.stats.findingsByRule, finding.status === 'resolved' ? `${finding.rule} (resolved)` : finding.rule);
    this.options.onFinding(finding);
  }

  private async process(item: Ready): Promise<void> {
    this.count(item, await this.pipeline.handleParsed(item.parsed, item.timeMs));
  }

  private count(item: Ready, outcome: EntryOutcome): void {
    switch (outcome.status) {
      case 'processed':
        this.stats.changes++;
        if (outcome.note !== 'evaluated') bump(this.stats.notes, outcome.note);
        this.emit(outcome.findings);
        break;
      case 'duplicate':
        this.stats.duplicates++;
        break;
      case 'skipped':
        bump(this.stats.skipped, outcome.reason);
        break;
      case 'malformed':
        this.noteMalformed(outcome.reason, item.source);
        break;
    }
  }
}

export async function replay(options: ReplayOptions): Promise<ReplayStats> {
  if (options.entryBatches) return replayInOneThread(options, parsedBatches(options.entryBatches, normalizeOptionsOf(options.config)));
  const files = await expandPaths(options.paths, options.onWarning);
  const workers = await workersFor(options.workers, files, options.workerInputBytes ?? WORKER_INPUT_BYTES, options.onWarning);
  // Without a store to keep, and with NDJSON input only (the large-history case), whole projects go to worker
  // threads (one per core: the main thread only orders, reads and routes lines) that parse, normalize and detect;
  // otherwise one thread keeps all baselines and workers (one per core but one) only parse.
  const partitionWorkers = workers ?? Math.min(4, availableParallelism());
  const engine = !options.store && partitionWorkers > 1 ? compiledWorker('engineWorker.js') : undefined;
  // Which files can be cut at line ends, looked at once: for the partitioned replay, else for the parse workers.
  const ndjson = engine ? await plainNdjson(files) : undefined;
  if (engine && files.length > 0 && ndjson?.every(Boolean)) return replayPartitioned(options, files, engine, partitionWorkers);
  const input = readParsed(files, {
    stdin: options.stdin,
    normalize: normalizeOptionsOf(options.config),
    workers,
    ndjson,
  });
  return replayInOneThread(options, input);
}

/** Worker threads started whatever the input's size: as many as the default ever starts. */
const WORKERS_FOR_ANY_INPUT = 4;
/** Input that keeps one more worker busy beyond those. */
const BYTES_PER_WORKER = 64 * 1024 * 1024;

/**
 * Input files of fewer bytes than this in all replay on one thread unless `--workers` says otherwise. Threads start
 * cold: each loads the engine (about 0.25 s of CPU before its first line) and warms up on its own share. Measured on
 * 2 cores, bench-shaped NDJSON, `runwatch replay` as a user runs it (default against `--workers 0`, 2026-12-07):
 * 1,000 entries (3.9 MB) 0.77 s against 0.49 s; 10,000 (39 MB) 2.0 s against 1.6 s; 30,000 (118 MB) 2.5-3.3 s
 * against 2.8-3.4 s, about even; 100,000 (394 MB) 6.1 s against 8.3 s. With more cores the threads win sooner.
 */
export const WORKER_INPUT_BYTES = 64 * 1024 * 1024;

/**
 * The worker threads to start when `requested` were asked for: more than 4 only for input files that keep them busy,
 * one per 64 MiB. Each loads the engine and warms up, about 0.5 s and tens of MB whatever its share (README,
 * Development), which the replay of a small file paid 64 times over for `--workers 64` (68 s, 950 MB, against 3 s on
 * one thread). Not asked for: none for input files of fewer than `smallInput` bytes, else the defaults (undefined).
 * Standard input counts for nothing: it is read on the main thread.
 */
async function workersFor(requested: number | undefined, files: readonly string[], smallInput: number, onWarning?: (warning: string) => void): Promise<number | undefined> {
  if (requested !== undefined && requested <= WORKERS_FOR_ANY_INPUT) return requested;
  if (requested === undefined) return (await inputBytes(files, smallInput)) < smallInput ? 0 : undefined;
  const bytes = await inputBytes(files);
  const workers = Math.min(requested, Math.max(WORKERS_FOR_ANY_INPUT, Math.floor(bytes / BYTES_PER_WORKER)));
  if (workers < requested) {
    onWarning?.(`${requested} worker threads asked for, at most ${workers} started: ${sizeText(bytes)} of input keeps no more busy (one per 64 MiB beyond ${WORKERS_FOR_ANY_INPUT})`);
  }
  return workers;
}

/** The size of the input files in all (standard input counts for nothing), or the first sum that reaches `enough`. */
async function inputBytes(files: readonly string[], enough = Number.POSITIVE_INFINITY): Promise<number> {
  let bytes = 0;
  for (const file of files) {
    if (bytes >= enough) break; // a Cloud Storage export can have thousands of shards: stat no more than needed
    if (file !== '-') bytes += await stat(file).then((s) => s.size, () => 0);
  }
  return bytes;
}

function sizeText(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${Math.round(bytes / (1024 * 1024))} MiB`;
  return `${(bytes / (1024 * 1024 * 1024)).toFixed(1)} GiB`;
}

/** The replay loop where one thread keeps every baseline: items in, in batches; findings out. */
async function replayInOneThread(options: ReplayOptions, input: AsyncIterable<readonly ParsedItem[]>): Promise<ReplayStats> {
  // A store of the replay's own lives and dies with it: the engine may change its baselines in place.
  const run = new ReplayRun({ ...options, store: options.store ?? new MemoryBaselineStore([], { changesInPlace: true }) });
  let nextProgress = Date.now() + 1000;
  for await (const batch of input) {
    options.signal?.throwIfAborted();
    // Paced by item: one batch can be a whole JSON document (`gcloud logging read --format=json`), which lets out
    // as many findings as it holds entries beyond the reorder buffer.
    if (options.backpressure) await forEachPaced(batch, (item) => (run.sync ? run.addSync(item) : run.add(item)), options.backpressure);
    else if (run.sync) for (const item of batch) run.addSync(item);
    else for (const item of batch) await run.add(item);
    if (options.onProgress && Date.now() >= nextProgress) {
      nextProgress = Date.now() + 1000;
      options.onProgress(run.stats);
    }
  }
  options.signal?.throwIfAborted();
  return run.finish();
}
