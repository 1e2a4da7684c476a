// One entry in, findings out: the path every LogEntry takes, in replay and in the detect function alike.
// parse -> normalize -> (duplicate check) -> engine (baseline + detectors + enrichment).
import type { BaselineStore } from './baseline/store.js';
import type { RunwatchConfig } from './config/types.js';
import { Engine } from './engine.js';
import type { Finding } from './findings/finding.js';
import { normalizeEnvelope, type ParseResult, type SkipReason } from './audit/normalize.js';
import { readEnvelope, type Envelope } from './audit/entry.js';
import type { EntryKey } from './model/change.js';

export type EntryOutcome =
  | { readonly status: 'processed'; readonly findings: readonly Finding[] }
  | { readonly status: 'duplicate' }
  | { readonly status: 'skipped'; readonly reason: SkipReason | 'system-event'; readonly detail?: string }
  | { readonly status: 'malformed'; readonly reason: string };

export interface PipelineOptions {
  readonly config: RunwatchConfig;
  readonly store: BaselineStore;
  /**
   * How many recent entry keys to remember for duplicate detection (the same logName + timestamp + insertId).
   * Findings have deterministic ids, so a duplicate that slips past this window still gives the same id.
   */
  readonly recentKeys?: number;
}

export function entryKeyString(key: EntryKey): string {
  return `${key.logName}\u0000${key.timestamp}\u0000${key.insertId}`;
}

/** A bounded set of recently seen keys (insertion order eviction). */
class RecentKeys {
  private readonly keys = new Set<string>();
  constructor(private readonly limit: number) {}

  /** Adds the key; false when it was already there. */
  add(key: string): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    if (this.keys.size > this.limit) {
      const oldest = this.keys.values().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
    return true;
  }
}

export class Pipeline {
  private readonly engine: Engine;
  private readonly recent: RecentKeys;

  constructor(private readonly options: PipelineOptions) {
    this.engine = new Engine(options.config, options.store);
    this.recent = new RecentKeys(options.recentKeys ?? 100_000);
  }

  /**
   * Processes one LogEntry (parsed JSON). `nowMs` is the wall clock of the live pipeline (replay passes the
   * entry stream's own time): it bounds how long one half of a deploy waits for the other.
   */
  /** Emits what is still waiting at the end of the input (replay) or the end of an instance's life. */
  async flush(): Promise<readonly Finding[]> {
    return [];
  }

  async handleEntry(raw: unknown, nowMs?: number): Promise<EntryOutcome> {
    const envelope = readEnvelope(raw);
    if (!envelope.ok) return { status: 'malformed', reason: envelope.reason };
    return this.handleEnvelope(envelope.envelope, nowMs);
  }

  /** The same for an entry whose envelope the caller already read. */
  handleEnvelope(envelope: Envelope, nowMs?: number): Promise<EntryOutcome> {
    return this.handleParsed(this.normalize(envelope), nowMs);
  }

  /** Normalization alone: pure, order-independent, so replay runs it before re-ordering and keeps only the result. */
  normalize(envelope: Envelope): ParseResult {
    return normalizeEnvelope(envelope, { watchCloudFunctions: this.options.config.cloudFunctions.watch });
  }

  async handleParsed(parsed: ParseResult, _nowMs?: number): Promise<EntryOutcome> {
    switch (parsed.kind) {
      case 'malformed':
        return { status: 'malformed', reason: parsed.reason };
      case 'skipped':
        return { status: 'skipped', reason: parsed.reason, ...(parsed.detail ? { detail: parsed.detail } : {}) };
      case 'observation':
        return { status: 'skipped', reason: 'system-event' };
      case 'change': {
        if (!this.recent.add(entryKeyString(parsed.change.key))) return { status: 'duplicate' };
        return { status: 'processed', findings: await this.engine.process(parsed.change) };
      }
    }
  }
}
