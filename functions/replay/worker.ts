// A replay worker thread: parses and normalizes one chunk of NDJSON lines, off the main thread.
// Normalization is pure and order-independent, so chunks can be handled anywhere; the main thread keeps the
// stateful part (ordering, baselines, rollouts) and receives only the small normalized results.
import { parentPort } from 'node:worker_threads';
import { itemsOfLines } from './item.js';
import type { ChunkRequest, ChunkResult } from './parallel.js';

const decoder = new TextDecoder();

function handle(request: ChunkRequest): ChunkResult {
  const items = [...itemsOfLines(decoder.decode(request.bytes), request.source, (n) => request.firstLine + n, request.watchCloudFunctions)];
  return { id: request.id, items };
}

parentPort?.on('message', (request: ChunkRequest) => {
  parentPort!.postMessage(handle(request));
});
