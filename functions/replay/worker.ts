// A replay worker thread: parses and normalizes one chunk of NDJSON lines, off the main thread.
// Normalization is pure and order-independent, so chunks can be handled anywhere; the main thread keeps the
// stateful part (ordering, baselines, rollouts) and receives only the small normalized results.
import { parentPort } from 'node:worker_threads';
import { readEnvelope, timeSortKey } from '../audit/entry.js';
import { normalizeEnvelope } from '../audit/normalize.js';
import type { ChunkRequest, ChunkResult, ParsedItem } from './parallel.js';

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
    for (const entry of Array.isArray(value) ? value : [value]) {
      const envelope = readEnvelope(entry);
      if (!envelope.ok) {
        items.push({ kind: 'invalid', reason: envelope.reason, source: `${request.source}:${lineNo}` });
        continue;
      }
      const { time, timeMs } = envelope.envelope;
      items.push({
        kind: 'parsed',
        timeMs,
        sortKey: timeSortKey(time, timeMs),
        source: `${request.source}:${lineNo}`,
        parsed: normalizeEnvelope(envelope.envelope, { watchCloudFunctions: request.watchCloudFunctions }),
      });
    }
  }
  return { id: request.id, items, lines: lineNo - request.firstLine + 1 };
}

parentPort?.on('message', (request: ChunkRequest) => {
  parentPort!.postMessage(handle(request));
});
