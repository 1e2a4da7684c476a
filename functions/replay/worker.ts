// A replay worker thread: parses and normalizes one chunk of NDJSON lines, off the main thread.
// Normalization is pure and order-independent, so chunks can be handled anywhere; the main thread keeps the
// stateful part (ordering, baselines, rollouts) and receives only the small normalized results.
import { parentPort } from 'node:worker_threads';
import { itemsOfRanges } from './item.js';
import { lineRanges } from './chunks.js';
import type { ChunkRequest, ChunkResult } from './parallel.js';

function handle(request: ChunkRequest): ChunkResult {
  const bytes = Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.length);
  const items = [...itemsOfRanges(bytes, lineRanges(bytes, request.firstLine), request.source, request.normalize)];
  return { id: request.id, items };
}

parentPort?.on('message', (request: ChunkRequest) => {
  parentPort!.postMessage(handle(request));
});
