// Replay spread over worker threads by project. Every baseline (a service's, or a project's for project-wide IAM)
// belongs to one project, so a worker that sees all of a project's entries, in file order, can parse, normalize
// and detect them on its own with the same results as one thread: nothing but raw bytes goes to the workers and
// only findings come back. The main thread only reads the files (into shared memory, which the workers read in
// place) and routes each line by the project in its `logName` (`projects/P/logs/...`, else
// `resource.labels.project_id`), found without parsing the JSON.
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { RunwatchConfig } from '../config/types.js';
import type { Finding } from '../findings/finding.js';
import { byTime } from './format.js';
import { CHUNK_BYTES, lineRanges, readLineChunks, SharedBufferPool } from './chunks.js';
import { expandPaths } from './input.js';
import { isPlainNdjson } from './parallel.js';
import { emptyStats, mergeStats, type ReplayOptions, type ReplayStats } from './replay.js';

/** To the worker: its settings once, then chunks of lines with their line numbers, then `finish`. */
export type PartitionRequest =
  | {
      readonly kind: 'start';
      readonly config: RunwatchConfig;
      readonly sinceMs?: number;
      readonly untilMs?: number;
      readonly reorderCapacity?: number;
    }
  | { readonly kind: 'chunk'; readonly id: number; readonly source: string; readonly bytes: Uint8Array; readonly ranges: Int32Array }
  | { readonly kind: 'finish' };

/**
 * From the worker: findings of a chunk (and an acknowledgement), or the final findings and counts. Findings travel
 * as one JSON text: for thousands of objects that is several times cheaper than the structured clone.
 */
export type PartitionResponse =
  | { readonly kind: 'chunk'; readonly id: number; readonly findings: string }
  | { readonly kind: 'finished'; readonly findings: string; readonly stats: ReplayStats }
  | { readonly kind: 'error'; readonly message: string };

const YOUNG_GENERATION_MB = 64;
/** Chunks (of CHUNK_BYTES) read ahead of the slowest worker. */
const IN_FLIGHT = 12;

function engineWorkerScript(): URL | undefined {
  for (const candidate of [new URL('./engineWorker.js', import.meta.url), new URL('../../dist/functions/replay/engineWorker.js', import.meta.url)]) {
    if (existsSync(candidate) && !candidate.pathname.endsWith('.ts')) return candidate;
  }
  return undefined;
}

/** True when every input is an uncompressed NDJSON file (what can be cut at line ends and routed). */
export async function partitionable(paths: readonly string[]): Promise<boolean> {
  if (paths.includes('-') || !engineWorkerScript()) return false;
  const files = await expandPaths(paths);
  for (const file of files) if (!(await isPlainNdjson(file))) return false;
  return files.length > 0;
}

const LOG_NAME = Buffer.from('"logName"');
const PROJECT_ID = Buffer.from('"project_id"');
const PROJECTS = Buffer.from('projects/');

/** The value of a `"key": "value"` pair in a line, as bytes, without parsing the JSON. */
function stringValue(line: Buffer, key: Buffer): Buffer | undefined {
  const at = line.indexOf(key);
  if (at === -1) return undefined;
  let i = at + key.length;
  while (i < line.length && (line[i] === 0x20 || line[i] === 0x3a)) i++; // spaces and the colon
  if (line[i] !== 0x22) return undefined;
  const end = line.indexOf(0x22, i + 1);
  return end === -1 ? undefined : line.subarray(i + 1, end);
}

const NONE = Buffer.alloc(0);

/** The project an entry belongs to, as bytes of its raw line. Entries without one all go to the same worker. */
export function projectBytes(line: Buffer): Buffer {
  const logName = stringValue(line, LOG_NAME);
  if (logName && logName.subarray(0, PROJECTS.length).equals(PROJECTS)) {
    const slash = logName.indexOf(0x2f, PROJECTS.length);
    return logName.subarray(PROJECTS.length, slash === -1 ? logName.length : slash);
  }
  return stringValue(line, PROJECT_ID) ?? NONE;
}


class EngineWorker {
  readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (findings: readonly Finding[]) => void; reject: (error: Error) => void }>();
  private finished?: { resolve: (r: { findings: readonly Finding[]; stats: ReplayStats }) => void; reject: (error: Error) => void };
  private failure?: Error;

  constructor(script: URL, start: PartitionRequest) {
    // A larger young generation: parsing 4 KB entries makes short-lived garbage, scavenged less often this way.
    this.worker = new Worker(script, { resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    this.worker.on('message', (message: PartitionResponse) => {
      if (message.kind === 'chunk') {
        this.waiting.get(message.id)?.resolve(JSON.parse(message.findings) as Finding[]);
        this.waiting.delete(message.id);
      } else if (message.kind === 'finished') {
        this.finished?.resolve({ findings: JSON.parse(message.findings) as Finding[], stats: message.stats });
        this.finished = undefined;
      } else this.fail(new Error(message.message));
    });
    this.worker.on('error', (error) => this.fail(error));
    // A worker that stops before its last answer (killed, out of memory) must not leave the replay waiting.
    this.worker.on('exit', (code) => this.fail(new Error(`replay worker stopped (exit code ${code})`)));
    this.worker.postMessage(start);
  }

  /** Rejects everything still waiting on this worker (every chunk in flight, not only the newest). */
  private fail(error: Error): void {
    this.failure ??= error;
    for (const pending of this.waiting.values()) pending.reject(this.failure);
    this.waiting.clear();
    this.finished?.reject(this.failure);
    this.finished = undefined;
  }

  /** Sends this worker's lines of a chunk (shared memory); resolves with their findings once it applied them. */
  send(id: number, source: string, bytes: Uint8Array, ranges: Int32Array): Promise<readonly Finding[]> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      const request: PartitionRequest = { kind: 'chunk', id, source, bytes, ranges };
      this.worker.postMessage(request, [ranges.buffer as ArrayBuffer]);
    });
  }

  finish(): Promise<{ findings: readonly Finding[]; stats: ReplayStats }> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.finished = { resolve, reject };
      this.worker.postMessage({ kind: 'finish' } satisfies PartitionRequest);
    });
  }
}

/** The worker a project belongs to (a project's entries always go to the same one): FNV-1a over its bytes. */
function workerOf(line: Buffer, workers: number): number {
  const project = projectBytes(line);
  let hash = 0x811c9dc5;
  for (let i = 0; i < project.length; i++) hash = Math.imul(hash ^ project[i]!, 0x01000193);
  return (hash >>> 0) % workers;
}

/**
 * Splits one chunk of whole lines into the lines of each worker, as `[start, end, lineNumber]` triples over the
 * chunk (which every worker reads where it lies: it is shared memory).
 */
function route(data: Buffer, firstLine: number, workers: number): Int32Array[] {
  const ranges = lineRanges(data, firstLine);
  if (workers === 1) return [ranges];
  const out: number[][] = Array.from({ length: workers }, () => []);
  for (let i = 0; i < ranges.length; i += 3) {
    const start = ranges[i]!;
    const end = ranges[i + 1]!;
    out[workerOf(data.subarray(start, end), workers)]!.push(start, end, ranges[i + 2]!);
  }
  return out.map((r) => Int32Array.from(r));
}

/** The replay over worker threads, or undefined when no worker module is available. */
export async function replayPartitioned(options: ReplayOptions, count: number): Promise<ReplayStats | undefined> {
  const script = engineWorkerScript();
  if (!script) return undefined;
  const start: PartitionRequest = {
    kind: 'start',
    config: options.config,
    ...(options.sinceMs !== undefined ? { sinceMs: options.sinceMs } : {}),
    ...(options.untilMs !== undefined ? { untilMs: options.untilMs } : {}),
    ...(options.reorderCapacity !== undefined ? { reorderCapacity: options.reorderCapacity } : {}),
  };
  const workers = Array.from({ length: count }, () => new EngineWorker(script, start));
  const stats = emptyStats();
  const emit = (findings: readonly Finding[]): void => {
    for (const finding of findings) options.onFinding(finding);
  };
  try {
    let id = 0;
    // A bounded number of chunks in flight (memory stays bounded: about IN_FLIGHT MiB), enough that a worker held
    // up by a garbage collection never leaves the other one waiting for the reader (2 in flight cost ~8% idle).
    const inFlight: Promise<readonly (readonly Finding[])[]>[] = [];
    let nextProgress = Date.now() + 1000;
    let routed = 0;
    const pool = new SharedBufferPool(IN_FLIGHT + 4);
    for (const file of await expandPaths(options.paths)) {
      for await (const chunk of readLineChunks(file, CHUNK_BYTES, pool)) {
        const perWorker = route(chunk.bytes, chunk.firstLine, workers.length);
        const done = Promise.all(perWorker.map((ranges, w) => workers[w]!.send(id++, file, chunk.bytes, ranges)));
        // Every worker has applied its lines: the buffer can be read into again.
        const applied = done.then((findings) => (pool.give(chunk.buffer), findings));
        // Awaited in order below; when a worker fails every chunk in flight rejects at once, and only the oldest is
        // being awaited: the others must not count as unhandled rejections (which would end the process).
        applied.catch(() => undefined);
        inFlight.push(applied);
        routed += chunk.lines;
        while (inFlight.length > IN_FLIGHT) for (const f of await inFlight.shift()!) emit(f);
        if (options.onProgress && Date.now() >= nextProgress) {
          nextProgress = Date.now() + 1000;
          // The workers count what they read at the end; until then, lines routed so far.
          options.onProgress({ ...stats, entriesRead: routed });
        }
      }
    }
    for (const pending of inFlight) for (const f of await pending) emit(f);
    const results = await Promise.all(workers.map((w) => w.finish()));
    // What the workers still held (their reorder buffers, waiting rollouts) comes out merged in time order.
    emit(byTime(results.flatMap((r) => r.findings)));
    for (const result of results) mergeStats(stats, result.stats);
    return stats;
  } finally {
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }
}
