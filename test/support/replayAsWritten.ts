import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBaselineStore } from '../../functions/baseline/file.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { RunwatchConfig } from '../../functions/config/types.js';
import type { Finding } from '../../functions/findings/finding.js';
import { replay } from '../../functions/replay/replay.js';

/**
 * Replays `entries` from one NDJSON file as written: no reorder buffer (an entry later than the buffer stays as late
 * as it comes, as the live function would get it), one thread, into a fresh memory or file store. Returns every
 * finding. The file and the store's state live in a temporary folder, removed afterwards.
 */
export async function replayedAsWritten(entries: readonly unknown[], cfg: RunwatchConfig, mode: 'memory' | 'file'): Promise<Finding[]> {
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-as-written-'));
  try {
    const path = join(dir, 'entries.jsonl');
    writeFileSync(path, entries.map((e) => JSON.stringify(e)).join('\n'));
    const store = mode === 'memory' ? new MemoryBaselineStore() : await FileBaselineStore.open(join(dir, 'state.json'));
    const found: Finding[] = [];
    try {
      await replay({ config: cfg, store, paths: [path], workers: 0, reorderCapacity: 0, onFinding: (f) => void found.push(f) });
    } finally {
      if (store instanceof FileBaselineStore) await store.release();
    }
    return found;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
