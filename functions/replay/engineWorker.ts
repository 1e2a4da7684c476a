// A replay worker that owns whole projects: it parses, normalizes and detects the lines routed to it (all of its
// projects' entries, in file order) with its own in-memory baselines, and sends back only findings and counts.
import { parentPort } from 'node:worker_threads';
import { MemoryBaselineStore } from '../baseline/memory.js';
import type { Finding } from '../findings/finding.js';
import { normalizeOptionsOf, type NormalizeOptions } from '../audit/normalize.js';
import { itemsOfLineRefs } from './item.js';
import type { PartitionRequest, PartitionResponse } from './partition.js';
import { ReplayRun } from './replay.js';

let run: ReplayRun | undefined;
let files: readonly string[] = [];
let normalize: NormalizeOptions = {};
let pending: Finding[] = [];
// Messages are applied strictly one after the other, in the order they came.
let queue: Promise<void> = Promise.resolve();

function post(message: PartitionResponse): void {
  parentPort!.postMessage(message);
}

function applyChunk(run: ReplayRun, bytes: Uint8Array, refs: Int32Array): void {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  for (const item of itemsOfLineRefs(buffer, refs, files, normalize)) run.addSync(item); // a memory store: no promise per entry
}

async function handle(request: PartitionRequest): Promise<void> {
  switch (request.kind) {
    case 'start': {
      // Validated by the main thread (RunwatchConfig is plain JSON, cloned as is): no second validation here, which
      // would load the config modules (yaml, luxon, the schema validator) into each worker once more.
      files = request.files;
      normalize = normalizeOptionsOf(request.config);
      run = new ReplayRun({
        config: request.config,
        store: new MemoryBaselineStore([], { changesInPlace: true }), // the worker's own: changed in place
        since: request.since,
        until: request.until,
        arrivesInOrder: true, // the main thread sends the lines in time order
        onFinding: (finding) => void pending.push(finding),
      });
      return;
    }
    case 'chunk':
      applyChunk(run!, request.bytes, request.refs);
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
