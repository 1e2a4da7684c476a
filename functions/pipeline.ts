// One entry in, findings out: the path every LogEntry takes, in replay and in the detect function alike.
// parse -> normalize -> (duplicate check) -> engine (rollout correlation, baseline, detectors, enrichment).
import { readEnvelope, type Envelope } from './audit/entry.js';
import { normalizeEnvelope, type ParseResult, type SkipReason } from './audit/normalize.js';
import { baselineKey, type BaselineStore } from './baseline/store.js';
import type { RunwatchConfig } from './config/types.js';
import { Engine, entryDigest, storeKeyOf, type EngineNote, type EngineResult, type Publish } from './engine.js';
import type { Finding } from './findings/finding.js';
import type { EntryKey } from './model/change.js';

export type EntryOutcome =
  | { readonly status: 'processed'; readonly findings: readonly Finding[]; readonly note: EngineNote }
  | { readonly status: 'duplicate' }
  | { readonly status: 'skipped'; readonly reason: SkipReason; readonly detail?: string }
  | { readonly status: 'malformed'; readonly reason: string };

/** A store that can list the services with a rollout due (Firestore); others are swept from memory. */
export interface DueIndex {
  dueKeys(nowMs: number): Promise<readonly string[]>;
}

export interface PipelineOptions {
  readonly config: RunwatchConfig;
  readonly store: BaselineStore & Partial<DueIndex>;
  /**
   * How many recent entry keys this instance remembers to answer duplicates without a store round trip (the same
   * logName + timestamp + insertId). 0 turns it off. The baseline itself also remembers the entries it applied,
   * so a copy seen by another instance changes nothing either.
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

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(key: string): void {
    if (this.limit === 0 || this.keys.has(key)) return;
    this.keys.add(key);
    if (this.keys.size > this.limit) {
      const oldest = this.keys.values().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
  }
}

export class Pipeline {
  private readonly engine: Engine;
  private readonly recent: RecentKeys;
  /** Services with rollouts waiting, by their earliest deadline (what this instance has seen). */
  private readonly due = new Map<string, number>();
  private nextDueMs = Infinity;

  constructor(private readonly options: PipelineOptions) {
    this.engine = new Engine(options.config, options.store);
    this.recent = new RecentKeys(options.recentKeys ?? 100_000);
  }

  /**
   * Processes one LogEntry (parsed JSON). `nowMs` is the wall clock of the live pipeline (replay passes the
   * entry stream's own time): rollouts whose wait is over complete first, their findings returned with this entry's.
   */
  async handleEntry(raw: unknown, nowMs: number, publish?: Publish): Promise<EntryOutcome> {
    const envelope = readEnvelope(raw);
    if (!envelope.ok) return { status: 'malformed', reason: envelope.reason };
    return this.handleEnvelope(envelope.envelope, nowMs, publish);
  }

  /** The same for an entry whose envelope the caller already read. */
  handleEnvelope(envelope: Envelope, nowMs: number, publish?: Publish): Promise<EntryOutcome> {
    return this.handleParsed(this.normalize(envelope), nowMs, publish);
  }

  /** Normalization alone: pure, order-independent, so replay runs it before re-ordering and keeps only the result. */
  normalize(envelope: Envelope): ParseResult {
    return normalizeEnvelope(envelope, { watchCloudFunctions: this.options.config.cloudFunctions.watch });
  }

  /**
   * With `publish`, every finding is handed to it before the baseline change that produced it is stored (in the
   * same store transaction): a failed publish leaves the entry unapplied, so its redelivery raises the findings
   * again. The outcome still lists them.
   */
  async handleParsed(parsed: ParseResult, nowMs: number, publish?: Publish): Promise<EntryOutcome> {
    switch (parsed.kind) {
      case 'malformed':
        return { status: 'malformed', reason: parsed.reason };
      case 'skipped':
        return { status: 'skipped', reason: parsed.reason, ...(parsed.detail ? { detail: parsed.detail } : {}) };
      case 'observation':
      case 'change': {
        const key = entryDigest(parsed.kind === 'change' ? parsed.change.key : parsed.observation.key);
        if (this.recent.has(key)) return { status: 'duplicate' };
        const earlier = nowMs >= this.nextDueMs ? await this.sweep(nowMs, publish) : [];
        const result =
          parsed.kind === 'change'
            ? await this.engine.processChange(parsed.change, nowMs, key, publish)
            : await this.engine.processObservation(parsed.observation, nowMs, key, publish);
        this.track(parsed.kind === 'change' ? storeKeyOf(parsed.change) : baselineKey(parsed.observation.target), result);
        // Remembered only once applied: a failure (store, publish) must leave the redelivery free to try again.
        this.recent.add(key);
        if (result.note === 'already-applied' && earlier.length === 0) return { status: 'duplicate' };
        return { status: 'processed', findings: [...earlier, ...result.findings], note: result.note };
      }
    }
  }

  /** Completes every rollout whose wait ran out by `nowMs` (the live pipeline's Cloud Scheduler tick). */
  async sweep(nowMs: number, publish?: Publish): Promise<readonly Finding[]> {
    const keys = new Set<string>();
    for (const [key, dueAt] of this.due) if (dueAt <= nowMs) keys.add(key);
    if (this.options.store.dueKeys) for (const key of await this.options.store.dueKeys(nowMs)) keys.add(key);
    const findings: Finding[] = [];
    for (const key of keys) {
      const result = await this.engine.completeDue(key, nowMs, publish);
      this.track(key, result);
      findings.push(...result.findings);
    }
    return findings;
  }

  /** Completes everything still waiting, whatever its deadline: the end of a replay. */
  flush(): Promise<readonly Finding[]> {
    return this.sweep(Number.MAX_SAFE_INTEGER);
  }

  private track(key: string, result: EngineResult): void {
    if (result.dueAtMs === undefined) this.due.delete(key);
    else this.due.set(key, result.dueAtMs);
    let next = Infinity;
    for (const dueAt of this.due.values()) if (dueAt < next) next = dueAt;
    this.nextDueMs = next;
  }
}
