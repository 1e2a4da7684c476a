// Parallel input for replay: NDJSON files are cut into chunks at line ends and parsed + normalized by a pool of
// worker threads; results come back in input order. JSON documents (arrays, pretty-printed objects), gzip and
// stdin go through the sequential reader (input.ts) and are normalized on the main thread.
import { availableParallelism } from 'node:os';
import { open, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { NormalizeOptions } from '../audit/normalize.js';
import { parsedBatches, type ParsedItem } from './item.js';
import { answersInOrder } from './chunks.js';
import { isEmptyArray, isGzipMagic, parses, readFileBatches, startsWithBom } from './input.js';
import { compiledWorker, Requests } from './workers.js';

export interface ChunkRequest {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly source: string;
  readonly firstLine: number;
  readonly normalize: NormalizeOptions;
}

export interface ChunkResult {
  readonly id: number;
  readonly items: ParsedItem[];
}

export interface ParallelOptions {
  readonly stdin?: Readable;
  readonly normalize: NormalizeOptions;
  /** Worker threads; 0 reads and parses on the main thread. Default: one per core but one, at least 1, at most 4. */
  readonly workers?: number;
  /** Per file, whether it is plain NDJSON (isPlainNdjson), when already known; otherwise it is looked at here. */
  readonly ndjson?: readonly boolean[];
}

function defaultWorkers(): number {
  // One core stays with the main thread (ordering, baselines, detectors).
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/** Normalized items of every file (expanded already: see expandPaths), in input order, in batches. */
export async function* readParsed(files: readonly string[], options: ParallelOptions): AsyncGenerator<ParsedItem[]> {
  const workers = options.workers ?? defaultWorkers();
  const script = workers > 0 ? compiledWorker('worker.js') : undefined;
  // Started with the first file that can be cut into lines: the others (JSON arrays, gzip, stdin) would leave it idle.
  let pool: WorkerPool | undefined;
  try {
    for (const [i, file] of files.entries()) {
      if (script && (options.ndjson?.[i] ?? (await isPlainNdjson(file)))) yield* (pool ??= new WorkerPool(workers, script)).readFile(file, options.normalize);
      else yield* sequential(file, options);
    }
  } finally {
    await pool?.close();
  }
}

function sequential(file: string, options: ParallelOptions): AsyncGenerator<ParsedItem[]> {
  return parsedBatches(readFileBatches(file, options.stdin), options.normalize);
}

/** isPlainNdjson of each file, one after the other. */
export async function plainNdjson(files: readonly string[]): Promise<boolean[]> {
  const out: boolean[] = [];
  for (const file of files) out.push(await isPlainNdjson(file));
  return out;
}

/**
 * A regular, uncompressed file whose first non-blank line is a complete JSON value: NDJSON, safe to cut at line
 * ends. The bytes decide, as in the sequential reader (input.ts), which takes everything else: gzip (whatever the
 * name), a byte order mark first, one line holding an array (a JSON document, which it puts in time order), and
 * what is not a regular file (stdin, a named pipe: they cannot be read at a position, nor twice).
 */
async function isPlainNdjson(file: string): Promise<boolean> {
  if (file === '-') return false;
  // stat, not open: opening a named pipe to look would take its data from the reader that comes after.
  const info = await stat(file);
  if (!info.isFile()) return false;
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const head = buffer.subarray(0, bytesRead);
    if (isGzipMagic(head) || startsWithBom(head)) return false;
    const lines = head.toString('utf8').split('\n');
    // Empty arrays first are passed over, as the sequential reader passes over them (an empty export's `[]`).
    const first = lines.findIndex((l) => l.trim() !== '' && !isEmptyArray(l));
    // Blank as far as the head goes: empty, or what follows (a pretty-printed document?) is not seen.
    if (first === -1) return bytesRead >= info.size;
    let value: unknown;
    try {
      value = JSON.parse(lines[first]!);
    } catch {
      return false; // a pretty-printed document (or a line longer than 64 KiB): read it whole
    }
    // A line holding an array is NDJSON only beside other lines: alone (as far as the head shows), it may be the
    // whole file, which the sequential reader puts in time order. And a line holding an array or an object only when
    // the next one is JSON too: else a document starts there (`cat empty.json export.json`: `[]`, then a
    // pretty-printed export; one entry on a line, then an export), which the sequential reader reads as documents one
    // after the other. (A document's opening line is short: a next line longer than the head is NDJSON's.)
    if (typeof value !== 'object' || value === null) return true;
    const next = lines.findIndex((l, i) => i > first && l.trim() !== '');
    if (next === -1 || (next === lines.length - 1 && bytesRead < info.size)) return !Array.isArray(value); // not seen whole
    const opens = /^\s*[[{]/.test(lines[next]!);
    return !opens || parses(lines[next]!); // a broken line that opens nothing is NDJSON's, as in the sequential reader
  } finally {
    await handle.close();
  }
}

class WorkerPool {
  private readonly workers: Worker[];
  private readonly requests = new Requests<ParsedItem[]>();
  private nextId = 0;
  private turn = 0;

  constructor(size: number, script: URL) {
    this.workers = Array.from({ length: size }, () => {
      const worker = new Worker(script);
      worker.on('message', (result: ChunkResult) => this.requests.settle(result.id, result.items));
      this.requests.watch(worker, 'replay parse worker');
      return worker;
    });
  }

  private submit(bytes: Uint8Array, source: string, firstLine: number, normalize: NormalizeOptions): Promise<ParsedItem[]> {
    const id = this.nextId++;
    const worker = this.workers[this.turn++ % this.workers.length]!;
    // The bytes live in a SharedArrayBuffer: the worker reads them where they are.
    return this.requests.track(id, () => worker.postMessage({ id, bytes, source, firstLine, normalize } satisfies ChunkRequest));
  }

  /** Sends the file's line chunks to the workers, up to two in flight per worker; yields their items in order. */
  readFile(file: string, normalize: NormalizeOptions): AsyncGenerator<ParsedItem[]> {
    return answersInOrder([file], this.workers.length * 2 - 1, (chunk) => this.submit(chunk.bytes, file, chunk.firstLine, normalize));
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
