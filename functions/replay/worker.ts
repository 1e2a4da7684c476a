// A replay worker thread: parses and normalizes one chunk of NDJSON lines, off the main thread.
// Normalization is pure and order-independent, so chunks can be handled anywhere; the main thread keeps the
// stateful part (ordering, baselines, rollouts) and receives only the small normalized results.
import { parentPort } from 'node:worker_threads';
import { parseItem, type ParsedItem } from './item.js';
import type { ChunkRequest, ChunkResult } from './parallel.js';

const decoder = new TextDecoder();

function handle(request: ChunkRequest): ChunkResult {
  const text = decoder.decode(request.bytes);
  const items: ParsedItem[] = [];
  let lineNo = request.firstLine - 1;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    lineNo++;
    let line = text.slice(start, end);
    start = end + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      items.push({ kind: 'invalid', reason: 'line is not JSON', source: `${request.source}:${lineNo}` });
      continue;
    }
    for (const entry of Array.isArray(value) ? value : [value]) items.push(parseItem(entry, `${request.source}:${lineNo}`, request.watchCloudFunctions));
  }
  return { id: request.id, items, lines: lineNo - request.firstLine + 1 };
}

parentPort?.on('message', (request: ChunkRequest) => {
  parentPort!.postMessage(handle(request));
});
