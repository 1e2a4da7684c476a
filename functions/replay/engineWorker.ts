// A replay worker that owns whole projects: it parses, normalizes and detects the lines routed to it (all of its
// projects' entries, in file order) with its own in-memory baselines, and sends back only findings and counts.
import { parentPort } from 'node:worker_threads';
import { MemoryBaselineStore } from '../baseline/memory.js';
import { validateConfig } from '../config/load.js';
import type { Finding } from '../findings/finding.js';
import { parseItem } from './item.js';
import type { PartitionRequest, PartitionResponse } from './partition.js';
import { ReplayRun } from './replay.js';

const decoder = new TextDecoder();
let run: ReplayRun | undefined;
let watchCloudFunctions = false;
let pending: Finding[] = [];
// Messages are applied strictly one after the other, in the order they came.
let queue: Promise<void> = Promise.resolve();

function post(message: PartitionResponse): void {
  parentPort!.postMessage(message);
}

async function applyChunk(source: string, bytes: Uint8Array, lines: Int32Array): Promise<void> {
  const text = decoder.decode(bytes);
  let start = 0;
  for (let n = 0; n < lines.length; n++) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    let line = text.slice(start, end);
    start = end + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') continue;
    const where = `${source}:${lines[n]}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      await run!.add({ kind: 'invalid', reason: 'line is not JSON', source: where });
      continue;
    }
    for (const entry of Array.isArray(value) ? value : [value]) await run!.add(parseItem(entry, where, watchCloudFunctions));
  }
}

async function handle(request: PartitionRequest): Promise<void> {
  switch (request.kind) {
    case 'start': {
      const config = validateConfig(request.config, 'replay');
      watchCloudFunctions = config.cloudFunctions.watch;
      run = new ReplayRun({
        config,
        store: new MemoryBaselineStore(),
        ...(request.sinceMs !== undefined ? { sinceMs: request.sinceMs } : {}),
        ...(request.untilMs !== undefined ? { untilMs: request.untilMs } : {}),
        ...(request.reorderCapacity !== undefined ? { reorderCapacity: request.reorderCapacity } : {}),
        onFinding: (finding) => void pending.push(finding),
      });
      return;
    }
    case 'chunk':
      await applyChunk(request.source, request.bytes, request.lines);
      post({ kind: 'chunk', id: request.id, findings: JSON.stringify(pending) });
      pending = [];
      return;
    case 'finish': {
      const stats = await run!.finish();
      post({ kind: 'finished', findings: JSON.stringify(pending), stats });
      pending = [];
      return;
    }
  }
}

parentPort?.on('message', (request: PartitionRequest) => {
  queue = queue.then(() => handle(request)).catch((error: unknown) => post({ kind: 'error', message: error instanceof Error ? error.message : String(error) }));
});
