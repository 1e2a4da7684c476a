// Replay spread over worker threads by project. Every baseline (a service's, or a project's for project-wide IAM)
// belongs to one project, so a worker that sees all of a project's entries, in file order, can parse, normalize
// and detect them on its own with the same results as one thread: nothing but raw bytes goes to the workers and
// only findings come back. The main thread only reads the files (into shared memory, which the workers read in
// place) and routes each line by the project in its `logName` (`projects/P/logs/...`, else
// `resource.labels.project_id`), found without parsing the JSON.
import { Worker } from 'node:worker_threads';
import type { RunwatchConfig } from '../config/types.js';
import type { Finding } from '../findings/finding.js';
import { byTime } from './format.js';
import { answersInOrder, lineRanges } from './chunks.js';
import { emptyStats, mergeStats, type ReplayOptions, type ReplayStats } from './replay.js';
import { Requests } from './workers.js';

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
/** Chunks (of about 1 MiB, see chunks.ts) read ahead of the slowest worker. */
const IN_FLIGHT = 12;

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
    // A larger young generation: parsing 4 KB entries makes short-lived garbage, scavenged less often this way.
    this.worker = new Worker(script, { resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    this.worker.on('message', (message: PartitionResponse) => {
      if (message.kind === 'error') this.requests.fail(new Error(message.message));
      else this.requests.settle(message.kind === 'chunk' ? message.id : FINISH, message);
    });
    this.requests.watch(this.worker, 'replay worker');
    this.worker.postMessage(start);
  }

  /** Sends this worker's lines of a chunk (shared memory); resolves with their findings once it applied them. */
  send(id: number, source: string, bytes: Uint8Array, ranges: Int32Array): Promise<readonly Finding[]> {
    const request: PartitionRequest = { kind: 'chunk', id, source, bytes, ranges };
    return this.requests.track(id, () => this.worker.postMessage(request, [ranges.buffer as ArrayBuffer])).then(findingsOf);
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

/** The replay over `count` worker threads running `script` (the compiled engineWorker), of plain NDJSON `files`. */
export async function replayPartitioned(options: ReplayOptions, files: readonly string[], script: URL, count: number): Promise<ReplayStats> {
  const start: PartitionRequest = {
    kind: 'start',
    config: options.config,
    sinceMs: options.sinceMs,
    untilMs: options.untilMs,
    reorderCapacity: options.reorderCapacity,
  };
  const workers = Array.from({ length: count }, () => new EngineWorker(script, start));
  const stats = emptyStats();
  const emit = (findings: readonly Finding[]): void => {
    for (const finding of findings) options.onFinding(finding);
  };
  try {
    let id = 0;
    let nextProgress = Date.now() + 1000;
    let routed = 0;
    // A bounded number of chunks in flight (memory stays bounded: about IN_FLIGHT MiB), enough that a worker held
    // up by a garbage collection never leaves the other one waiting for the reader (2 in flight cost ~8% idle).
    const answers = answersInOrder(files, IN_FLIGHT, (chunk, file) => {
      routed += chunk.lines;
      const perWorker = route(chunk.bytes, chunk.firstLine, workers.length);
      // Answered once every worker has applied its lines.
      return Promise.all(perWorker.map((ranges, w) => workers[w]!.send(id++, file, chunk.bytes, ranges)));
    });
    for await (const perWorker of answers) {
      for (const findings of perWorker) emit(findings);
      if (options.onProgress && Date.now() >= nextProgress) {
        nextProgress = Date.now() + 1000;
        // The workers count what they read at the end; until then, lines routed so far.
        options.onProgress({ ...stats, entriesRead: routed });
      }
    }
    const results = await Promise.all(workers.map((w) => w.finish()));
    // What the workers still held (their reorder buffers, waiting rollouts) comes out merged in time order.
    emit(byTime(results.flatMap((r) => r.findings)));
    for (const result of results) mergeStats(stats, result.stats);
    return stats;
  } finally {
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }
}
