// `runwatch replay`: historical entries through the same pipeline the live function runs, in timestamp order.
import type { Readable } from 'node:stream';
import type { ParseResult } from '../audit/normalize.js';
import type { BaselineStore } from '../baseline/store.js';
import type { RunwatchConfig } from '../config/types.js';
import type { Finding } from '../findings/finding.js';
import { Pipeline } from '../pipeline.js';
import { readParsed } from './parallel.js';
import { ReorderBuffer } from './reorder.js';

export interface ReplayOptions {
  readonly config: RunwatchConfig;
  readonly store: BaselineStore;
  readonly paths: readonly string[];
  readonly stdin?: Readable;
  /** Only entries at or after this time (epoch ms). */
  readonly sinceMs?: number;
  /** Only entries before this time (epoch ms). */
  readonly untilMs?: number;
  /** How many entries the reorder buffer holds (memory bound). */
  readonly reorderCapacity?: number;
  /** Worker threads that parse and normalize NDJSON input; 0 for none. Default: one per core but one, at least 1, at most 4. */
  readonly workers?: number;
  readonly onFinding: (finding: Finding) => void;
  readonly onProgress?: (stats: ReplayStats) => void;
}

export interface ReplayStats {
  entriesRead: number;
  changes: number;
  duplicates: number;
  outOfTimeRange: number;
  /** Entries delivered later than the reorder buffer could wait for. */
  outOfOrder: number;
  readonly skipped: Map<string, number>;
  readonly malformed: Map<string, number>;
  /** The first few malformed inputs with where they were, so a user can find them. */
  readonly malformedExamples: string[];
  readonly findingsByRule: Map<string, number>;
  /** What became of evaluated entries other than an immediate evaluation (rollouts waiting, late events...). */
  readonly notes: Map<string, number>;
}

/** What the reorder buffer holds: the normalized result, not the (large) raw entry. */
interface Pending {
  readonly sortKey: number;
  readonly seq: number;
  readonly timeMs: number;
  readonly source: string;
  readonly parsed: ParseResult;
}

export const DEFAULT_REORDER_CAPACITY = 50_000;
const MALFORMED_EXAMPLES = 10;

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

export async function replay(options: ReplayOptions): Promise<ReplayStats> {
  const stats: ReplayStats = {
    entriesRead: 0,
    changes: 0,
    duplicates: 0,
    outOfTimeRange: 0,
    outOfOrder: 0,
    skipped: new Map(),
    malformed: new Map(),
    malformedExamples: [],
    findingsByRule: new Map(),
    notes: new Map(),
  };
  const pipeline = new Pipeline({ config: options.config, store: options.store });
  const buffer = new ReorderBuffer<Pending>(options.reorderCapacity ?? DEFAULT_REORDER_CAPACITY);
  const noteMalformed = (reason: string, source: string): void => {
    bump(stats.malformed, reason);
    if (stats.malformedExamples.length < MALFORMED_EXAMPLES) stats.malformedExamples.push(`${source}: ${reason}`);
  };

  const emit = (findings: readonly Finding[]): void => {
    for (const finding of findings) {
      bump(stats.findingsByRule, finding.status === 'resolved' ? `${finding.rule} (resolved)` : finding.rule);
      options.onFinding(finding);
    }
  };

  const process = async (item: Pending): Promise<void> => {
    const outcome = await pipeline.handleParsed(item.parsed, item.timeMs);
    switch (outcome.status) {
      case 'processed':
        stats.changes++;
        if (outcome.note !== 'evaluated') bump(stats.notes, outcome.note);
        emit(outcome.findings);
        break;
      case 'duplicate':
        stats.duplicates++;
        break;
      case 'skipped':
        bump(stats.skipped, outcome.reason);
        break;
      case 'malformed':
        noteMalformed(outcome.reason, item.source);
        break;
    }
  };

  let seq = 0;
  let nextProgress = Date.now() + 1000;
  const input = readParsed(options.paths, {
    ...(options.stdin ? { stdin: options.stdin } : {}),
    watchCloudFunctions: options.config.cloudFunctions.watch,
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
  });
  for await (const batch of input) {
    for (const item of batch) {
      stats.entriesRead++;
      if (item.kind === 'invalid') {
        noteMalformed(item.reason, item.source);
        continue;
      }
      const { timeMs, parsed } = item;
      if ((options.sinceMs !== undefined && timeMs < options.sinceMs) || (options.untilMs !== undefined && timeMs >= options.untilMs)) {
        stats.outOfTimeRange++;
        continue;
      }
      if (parsed.kind === 'skipped' || parsed.kind === 'malformed') {
        // Order does not matter for what is not evaluated: count it now instead of buffering it.
        await process({ sortKey: 0, seq: 0, timeMs, source: item.source, parsed });
        continue;
      }
      const ready = buffer.push({ sortKey: item.sortKey, seq: seq++, timeMs, source: item.source, parsed });
      if (ready) await process(ready);
    }
    if (options.onProgress && Date.now() >= nextProgress) {
      nextProgress = Date.now() + 1000;
      options.onProgress(stats);
    }
  }
  for (let item = buffer.pop(); item; item = buffer.pop()) await process(item);
  // Deploys still waiting for their other half: evaluated with what is known.
  emit(await pipeline.flush());
  stats.outOfOrder = buffer.lateCount;
  return stats;
}
