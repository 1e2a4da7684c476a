// Replay spread over worker threads by project. Every baseline (a service's, or a project's for project-wide IAM)
// belongs to one project, and replay completes a project's waiting deploys by that project's entries alone
// (PipelineOptions.projectClocks), so a worker that sees all of a project's entries, in the order one thread
// would take them, can parse, normalize and detect them on its own with the same results: nothing but raw bytes
// goes to the workers and only findings come back. The main thread puts the lines in time order from their keys
// alone (timeOrder.ts), reads them again in that order into shared memory, which the workers read in place, and
// routes each line by the project in its `logName` (`projects/P/logs/...`, else `resource.labels.project_id`),
// found without parsing.
import { closeSync, openSync, readSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { RunwatchConfig } from '../config/types.js';
import type { Finding } from '../findings/finding.js';
import { byTime } from './findingOrder.js';
import { WHOLE_LINE } from './item.js';
import { inOrder, SharedBufferPool } from './chunks.js';
import { DEFAULT_REORDER_CAPACITY, emptyStats, exceptionPaths, forEachPaced, inTimeRange, mergeStats, type ReplayOptions, type ReplayStats } from './replay.js';
import { linesInTimeOrder, type LineRef, type TimeOrder } from './timeOrder.js';
import { topLevelString, type EntryTime } from './lineKey.js';
import type { Instant } from '../audit/entry.js';
import { logEntryOfRow } from '../audit/bigQueryRow.js';
import { asObject, at } from '../audit/json.js';
import { Requests } from './workers.js';

/** To the worker: its settings and the input files once, then batches of lines in time order, then `finish`. */
export type PartitionRequest =
  | {
      readonly kind: 'start';
      readonly config: RunwatchConfig;
      readonly files: readonly string[];
      readonly since?: Instant;
      readonly until?: Instant;
    }
  /** `refs`: `[start, end, lineNumber, element, fileIndex]` per line of `bytes` (see item.ts itemsOfLineRefs). */
  | { readonly kind: 'chunk'; readonly id: number; readonly bytes: Uint8Array; readonly refs: Int32Array }
  | { readonly kind: 'finish' };

/**
 * From the worker: findings of a chunk (and an acknowledgement), or the final findings and counts. Findings travel
 * as one JSON text: for thousands of objects that is several times cheaper than the structured clone.
 */
export type PartitionResponse =
  | { readonly kind: 'chunk'; readonly id: number; readonly findings: string }
  | { readonly kind: 'finished'; readonly findings: string; readonly stats: ReplayStats }
  | { readonly kind: 'error'; readonly message: string };

/**
 * The workers' young generation. Now that they hold no entries back, almost nothing they allocate survives a
 * scavenge, and a small young generation stays in the CPU caches and costs fewer fresh pages: 16 MB replayed the
 * bench file in 3.49 s against 3.75 s with 64 MB (and 3.58 s with 8 MB), medians of six interleaved rounds.
 */
const YOUNG_GENERATION_MB = 16;
/** Chunks (of about 1 MiB, see chunks.ts) read ahead of the slowest worker. */
const IN_FLIGHT = 12;

const LOG_NAME = Buffer.from('"logName"');
const PROJECTS = Buffer.from('projects/');

/**
 * The project an entry belongs to, as bytes: the one in its top-level `logName` (`projects/P/logs/...`, written by
 * Cloud Logging). Only the top-level key counts: a `"logName"` nested in the payload (an annotation anyone who can
 * deploy writes) must not send an entry to another worker, away from its service's baseline. When the bytes
 * cannot tell, the line is parsed (rare).
 */
export function projectBytes(line: Buffer): Buffer {
  const start = topLevelString(line, LOG_NAME, undefined, false);
  if (start !== -1 && start + PROJECTS.length <= line.length && line.compare(PROJECTS, 0, PROJECTS.length, start, start + PROJECTS.length) === 0) {
    const end = line.indexOf(0x22, start); // the closing quote (the value holds no escapes)
    const slash = line.indexOf(0x2f, start + PROJECTS.length);
    return line.subarray(start + PROJECTS.length, slash === -1 || slash > end ? end : slash);
  }
  return Buffer.from(projectByParsing(line.toString('utf8')));
}

/**
 * projectBytes of a line the bytes left in doubt: its logName's project, else resource.labels.project_id. A BigQuery
 * row's, as the LogEntry it was (a Log Analytics row names its log `log_name`): its LogEntries go to the same worker.
 */
function projectByParsing(text: string): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return ''; // not JSON: reported as such by whichever worker gets it
  }
  const object = asObject(value);
  const row = object && logEntryOfRow(object);
  const entry = row?.ok ? row.entry : value; // a row that cannot be read is malformed wherever it goes
  const logName = at(entry, 'logName');
  const fromLogName = typeof logName === 'string' ? /^projects\/([^/]+)/.exec(logName)?.[1] : undefined;
  const projectId = at(entry, 'resource', 'labels', 'project_id');
  return fromLogName ?? (typeof projectId === 'string' ? projectId : '');
}

type Answer = Exclude<PartitionResponse, { readonly kind: 'error' }>;
/** The id `finish` is tracked under (chunk ids count up from 0). */
const FINISH = -1;

function findingsOf(answer: Answer): Finding[] {
  return JSON.parse(answer.findings) as Finding[];
}

class EngineWorker {
  readonly worker: Worker;
  private readonly requests = new Requests<Answer>();

  constructor(script: URL, start: PartitionRequest) {
    this.worker = new Worker(script, { resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    this.worker.on('message', (message: PartitionResponse) => {
      if (message.kind === 'error') this.requests.fail(new Error(message.message));
      else this.requests.settle(message.kind === 'chunk' ? message.id : FINISH, message);
    });
    this.requests.watch(this.worker, 'replay worker');
    this.worker.postMessage(start);
  }

  /** Sends this worker's lines of a chunk (shared memory); resolves with their findings once it applied them. */
  send(id: number, bytes: Uint8Array, refs: Int32Array): Promise<readonly Finding[]> {
    const request: PartitionRequest = { kind: 'chunk', id, bytes, refs };
    return this.requests.track(id, () => this.worker.postMessage(request, [refs.buffer as ArrayBuffer])).then(findingsOf);
  }

  async finish(): Promise<{ findings: readonly Finding[]; stats: ReplayStats }> {
    const answer = await this.requests.track(FINISH, () => this.worker.postMessage({ kind: 'finish' } satisfies PartitionRequest));
    if (answer.kind !== 'finished') throw new Error(`replay worker answered finish with a ${answer.kind}`);
    return { findings: findingsOf(answer), stats: answer.stats };
  }
}

/** The worker a project belongs to (a project's entries always go to the same one): FNV-1a over its bytes. */
function workerOf(line: Buffer, workers: number): number {
  const project = projectBytes(line);
  let hash = 0x811c9dc5;
  for (let i = 0; i < project.length; i++) hash = Math.imul(hash ^ project[i]!, 0x01000193);
  return (hash >>> 0) % workers;
}

/** Bytes of lines read into one shared buffer and sent as one batch. */
const BATCH_BYTES = 1 << 20;
/** Lines closer than this in a file are read with one read, the bytes between them included. */
const READ_GAP = 64 * 1024;
/** Input files kept open at once while lines are read again (a Cloud Storage export hour can have many shards). */
const OPEN_FILES = 64;

/** Lines read again in time order: a shared buffer, and each worker's lines in it. */
interface Batch {
  readonly buffer: Buffer;
  readonly bytes: Buffer;
  readonly refs: Int32Array[];
  readonly lines: number;
}

/**
 * Open input files, the least recently used closed beyond OPEN_FILES. Read synchronously: the reads come from the
 * page cache (the lines were read moments ago), and lines of interleaved shards are read one by one, where a
 * thread-pool round trip per read would cost more than the read.
 */
class OpenFiles {
  private readonly fds = new Map<number, number>();

  constructor(private readonly files: readonly string[]) {}

  fd(file: number): number {
    const fd = this.fds.get(file);
    if (fd !== undefined) {
      this.fds.delete(file);
      this.fds.set(file, fd); // most recently used last
      return fd;
    }
    if (this.fds.size >= OPEN_FILES) {
      const [oldest, oldestFd] = this.fds.entries().next().value as [number, number];
      this.fds.delete(oldest);
      closeSync(oldestFd);
    }
    const opened = openSync(this.files[file]!, 'r');
    this.fds.set(file, opened);
    return opened;
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

/** Reads the lines of `refs` (in their order) into buffers of `pool`, about BATCH_BYTES at a time. */
async function* batches(refs: AsyncIterable<LineRef>, files: OpenFiles, pool: SharedBufferPool, workers: number): AsyncGenerator<Batch> {
  let pending: LineRef[] = [];
  let size = 0;
  for await (const ref of refs) {
    pending.push(ref);
    size += ref.text === undefined ? ref.length : ref.text.length;
    if (size >= BATCH_BYTES) {
      yield readBatch(pending, files, pool, workers);
      pending = [];
      size = 0;
    }
  }
  if (pending.length > 0) yield readBatch(pending, files, pool, workers);
}

/** What goes into a batch's buffer: a stretch of one file holding lines, or the text of an array element. */
export type Piece =
  | { readonly kind: 'file'; readonly file: number; readonly start: number; end: number; readonly lines: LineRef[] }
  | { readonly kind: 'text'; readonly bytes: Buffer; readonly ref: LineRef };

/**
 * What to read for `lines`, in their order. Lines of one file in order go into one read with the bytes between
 * them, as long as a gap is no longer than the line after it (nor READ_GAP): usually the whole batch is one read,
 * and never more than twice the lines' own bytes is read (lines of a file grouped by project come out in time order
 * far apart).
 */
export function readPlan(lines: readonly LineRef[]): Piece[] {
  const pieces: Piece[] = [];
  for (const ref of lines) {
    if (ref.text !== undefined) {
      pieces.push({ kind: 'text', bytes: Buffer.from(ref.text), ref });
      continue;
    }
    const last = pieces[pieces.length - 1];
    if (last?.kind === 'file' && last.file === ref.file && ref.offset >= last.end && ref.offset - last.end <= Math.min(READ_GAP, ref.length)) {
      last.end = ref.offset + ref.length;
      last.lines.push(ref);
    } else pieces.push({ kind: 'file', file: ref.file, start: ref.offset, end: ref.offset + ref.length, lines: [ref] });
  }
  return pieces;
}

/** Bytes a piece takes in the batch buffer. */
export function sizeOf(piece: Piece): number {
  return piece.kind === 'file' ? piece.end - piece.start : piece.bytes.length;
}

function readBatch(lines: readonly LineRef[], files: OpenFiles, pool: SharedBufferPool, workers: number): Batch {
  const pieces = readPlan(lines);
  const total = pieces.reduce((sum, piece) => sum + sizeOf(piece), 0);
  const buffer = pool.take(total);
  const out: number[][] = Array.from({ length: workers }, () => []);
  let at = 0;
  for (const piece of pieces) {
    const length = sizeOf(piece);
    if (piece.kind === 'text') {
      piece.bytes.copy(buffer, at);
      out[piece.ref.worker]!.push(at, at + length, piece.ref.line, piece.ref.element, piece.ref.file);
    } else {
      if (readFully(files.fd(piece.file), buffer, at, length, piece.start) !== length) {
        throw new Error('an input file changed while it was replayed (a line was no longer where it was read)');
      }
      for (const ref of piece.lines) {
        const start = at + ref.offset - piece.start;
        out[ref.worker]!.push(start, start + ref.length, ref.line, WHOLE_LINE, ref.file);
      }
    }
    at += length;
  }
  return { buffer, bytes: buffer.subarray(0, total), refs: out.map((r) => Int32Array.from(r)), lines: lines.length };
}

/** Reads `length` bytes at `position` (a read may return fewer); the number read, short only at the end of the file. */
function readFully(fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, offset + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** The replay over `count` worker threads running `script` (the compiled engineWorker), of plain NDJSON `files`. */
export async function replayPartitioned(options: ReplayOptions, files: readonly string[], script: URL, count: number): Promise<ReplayStats> {
  const start: PartitionRequest = { kind: 'start', config: options.config, files, since: options.since, until: options.until };
  // A thread starts with the first line routed to it (read for its key, long before it is sent: the engine loads
  // while the reorder buffer fills): one that no project's line would reach is never started (a one-project export
  // starts one, whatever `count`), where it loaded the engine for nothing (about 0.2 s of CPU, tens of MB).
  const workers: (EngineWorker | undefined)[] = Array.from({ length: count }, () => undefined);
  const route = (line: Buffer): number => {
    const w = workerOf(line, count);
    workers[w] ??= new EngineWorker(script, start);
    return w;
  };
  const started = (): EngineWorker[] => workers.filter((w): w is EngineWorker => w !== undefined);
  const stats = emptyStats();
  // Every worker lists the config's exceptions in its counts; listed here too for when none started (no line).
  stats.exceptions.push(...exceptionPaths(options.config));
  // Paced when asked: a worker's answer can hold many findings (its last one, everything still waiting at the end).
  const emit = async (findings: readonly Finding[]): Promise<void> => {
    if (options.backpressure) await forEachPaced(findings, options.onFinding, options.backpressure);
    else for (const finding of findings) options.onFinding(finding);
  };
  const open = new OpenFiles(files);
  try {
    let id = 0;
    let nextProgress = Date.now() + 1000;
    let routed = 0;
    const order: TimeOrder = { lateCount: 0 };
    const inRange = (time: EntryTime): boolean => inTimeRange(time.timeMs, time.iso, options);
    const lines = linesInTimeOrder(files, options.reorderCapacity ?? DEFAULT_REORDER_CAPACITY, route, order, inRange);
    // A bounded number of batches in flight (memory stays bounded: about IN_FLIGHT MiB), enough that a worker held
    // up by a garbage collection never leaves the other one waiting for the reader (2 in flight cost ~8% idle).
    const pool = new SharedBufferPool(IN_FLIGHT + 4);
    const answers = inOrder(batches(lines, open, pool, count), pool, IN_FLIGHT, (batch) => {
      routed += batch.lines;
      // Answered once every worker has applied its lines.
      // A worker with lines in the batch was started when they were routed to it.
      return Promise.all(batch.refs.map((refs, w) => (refs.length === 0 ? [] : workers[w]!.send(id++, batch.bytes, refs))));
    });
    for await (const perWorker of answers) {
      options.signal?.throwIfAborted();
      for (const findings of perWorker) await emit(findings);
      if (options.onProgress && Date.now() >= nextProgress) {
        nextProgress = Date.now() + 1000;
        // The workers count what they read at the end; until then, lines routed so far.
        options.onProgress({ ...stats, entriesRead: routed });
      }
    }
    options.signal?.throwIfAborted();
    const results = await Promise.all(started().map((w) => w.finish()));
    // What the workers still held (rollouts waiting for their other half) comes out merged in time order.
    await emit(byTime(results.flatMap((r) => r.findings)));
    for (const result of results) mergeStats(stats, result.stats);
    stats.outOfOrder = order.lateCount;
    return stats;
  } finally {
    open.close();
    await Promise.all(started().map((w) => w.worker.terminate()));
  }
}
