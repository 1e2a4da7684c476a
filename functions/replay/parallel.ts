// Parallel input for replay: NDJSON files are cut into chunks at line ends and parsed + normalized by a pool of
// worker threads; results come back in input order. JSON documents (arrays, pretty-printed objects), gzip and
// stdin go through the sequential reader (input.ts) and are normalized on the main thread.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { parseItem, type ParsedItem } from './item.js';
import { CHUNK_BYTES, readLineChunks, SharedBufferPool } from './chunks.js';
import { expandPaths, readEntryBatches } from './input.js';

export type { ParsedItem };

export interface ChunkRequest {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly source: string;
  readonly firstLine: number;
  readonly watchCloudFunctions: boolean;
}

export interface ChunkResult {
  readonly id: number;
  readonly items: ParsedItem[];
}

export interface ParallelOptions {
  readonly stdin?: Readable;
  readonly watchCloudFunctions: boolean;
  /** Worker threads; 0 reads and parses on the main thread. Default: one per core but one, at least 1, at most 4. */
  readonly workers?: number;
}


/**
 * The compiled worker module: beside this one when it runs compiled, or the build output when it runs from
 * TypeScript source (the test runner; `npm test` builds first). Without it replay parses on the main thread.
 */
function workerScript(): URL | undefined {
  for (const candidate of [new URL('./worker.js', import.meta.url), new URL('../../dist/functions/replay/worker.js', import.meta.url)]) {
    if (candidate.protocol === 'file:' && existsSync(candidate) && !candidate.pathname.endsWith('.ts')) return candidate;
  }
  return undefined;
}

export function defaultWorkers(): number {
  // One core stays with the main thread (ordering, baselines, detectors).
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/** Normalized items of every path, in input order, in batches. */
export async function* readParsed(paths: readonly string[], options: ParallelOptions): AsyncGenerator<ParsedItem[]> {
  const workers = options.workers ?? defaultWorkers();
  const script = workers > 0 ? workerScript() : undefined;
  const pool = script ? new WorkerPool(workers, script) : undefined;
  try {
    for (const file of await expandPaths(paths)) {
      if (pool && (await isPlainNdjson(file))) yield* pool.readFile(file, options.watchCloudFunctions);
      else yield* sequential(file, options);
    }
  } finally {
    await pool?.close();
  }
}

async function* sequential(file: string, options: ParallelOptions): AsyncGenerator<ParsedItem[]> {
  for await (const batch of readEntryBatches([file], options.stdin)) {
    const out = batch.map((item): ParsedItem => (item.kind === 'invalid' ? item : parseItem(item.value, item.source, options.watchCloudFunctions)));
    yield out;
  }
}

/** An uncompressed file whose first non-blank line is a complete JSON value: NDJSON, safe to cut at line ends. */
export async function isPlainNdjson(file: string): Promise<boolean> {
  if (file === '-' || file.endsWith('.gz')) return false;
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead >= 2 && buffer[0] === 0x1f && buffer[1] === 0x8b) return false;
    const text = buffer.subarray(0, bytesRead).toString('utf8');
    const line = text.split('\n').find((l) => l.trim() !== '');
    if (line === undefined) return true;
    try {
      JSON.parse(line);
      return true;
    } catch {
      return false; // a pretty-printed document (or a line longer than 64 KiB): read it whole
    }
  } finally {
    await handle.close();
  }
}

class WorkerPool {
  private readonly workers: Worker[];
  private readonly waiting = new Map<number, { resolve: (r: ChunkResult) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private turn = 0;
  private failure?: Error;

  constructor(size: number, script: URL) {
    this.workers = Array.from({ length: size }, () => {
      const worker = new Worker(script);
      worker.on('message', (result: ChunkResult) => {
        this.waiting.get(result.id)?.resolve(result);
        this.waiting.delete(result.id);
      });
      worker.on('error', (error) => this.fail(error));
      // A worker that stops while chunks wait on it (killed, out of memory) fails the read instead of hanging it.
      worker.on('exit', (code) => this.fail(new Error(`replay parse worker stopped (exit code ${code})`)));
      return worker;
    });
  }

  /** Rejects every chunk in flight; later submissions reject at once. */
  private fail(error: Error): void {
    this.failure ??= error;
    for (const pending of this.waiting.values()) pending.reject(this.failure);
    this.waiting.clear();
  }

  private submit(bytes: Uint8Array, source: string, firstLine: number, watchCloudFunctions: boolean): Promise<ChunkResult> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const worker = this.workers[this.turn++ % this.workers.length]!;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // The bytes live in a SharedArrayBuffer: the worker reads them where they are.
      const request: ChunkRequest = { id, bytes, source, firstLine, watchCloudFunctions };
      worker.postMessage(request);
    });
  }

  /** Sends the file's line chunks to the workers, a few in flight per worker; yields their items in order. */
  async *readFile(file: string, watchCloudFunctions: boolean): AsyncGenerator<ParsedItem[]> {
    const inFlight: Promise<ChunkResult>[] = [];
    const maxInFlight = this.workers.length * 2;
    const pool = new SharedBufferPool(maxInFlight + 2);
    for await (const chunk of readLineChunks(file, CHUNK_BYTES, pool)) {
      // The worker has parsed the chunk once it answers: the buffer can be read into again.
      const parsed = this.submit(chunk.bytes, file, chunk.firstLine, watchCloudFunctions).then((result) => (pool.give(chunk.buffer), result));
      parsed.catch(() => undefined); // awaited in order below; the others must not count as unhandled when all fail
      inFlight.push(parsed);
      while (inFlight.length >= maxInFlight) yield (await inFlight.shift()!).items;
    }
    while (inFlight.length > 0) yield (await inFlight.shift()!).items;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
