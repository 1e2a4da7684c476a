// One entry in, findings out: the path every LogEntry takes, in replay and in the detect function alike.
// parse -> normalize -> (duplicate check) -> engine (rollout correlation, baseline, detectors, enrichment).
import { readEnvelope, type Envelope } from './audit/entry.js';
import { normalizeEnvelope, normalizeOptionsOf, type NormalizeOptions, type ParseResult, type SkipReason } from './audit/normalize.js';
import { baselineKey, projectOfBaselineKey, type BaselineStore } from './baseline/store.js';
import { openedBefore } from './baseline/apply.js';
import type { RunwatchConfig } from './config/types.js';
import { Engine, END_OF_INPUT_MS, entryDigest, ROLLOUT_LIMIT, storeKeyOf, type EngineNote, type EngineOptions, type EngineResult, type EntryKeys, type Publish } from './engine.js';
import type { Finding } from './findings/finding.js';
import type { AdminApiRead, RevisionReader } from './correlate/adminApi.js';
import { openedAt, type Rollout } from './correlate/rollout.js';
import type { Change, DeployChange, EntryKey } from './model/change.js';
import type { RevisionObservation } from './audit/systemEvent.js';

export type EntryOutcome =
  | { readonly status: 'processed'; readonly findings: readonly Finding[]; readonly note: EngineNote }
  | { readonly status: 'duplicate' }
  | { readonly status: 'skipped'; readonly reason: SkipReason; readonly detail?: string }
  | { readonly status: 'malformed'; readonly reason: string };

/** A store that can list the services with a rollout due (Firestore); others are swept from memory. */
export interface DueIndex {
  dueKeys(nowMs: number): Promise<readonly string[]>;
  /** Services whose findings wait in the store's outbox since `beforeMs` or earlier (see Delivery). */
  undeliveredKeys?(beforeMs: number): Promise<readonly string[]>;
}

/**
 * How long findings wait in an outbox before the sweep publishes them: the writer that put them there publishes
 * them at once (a publish gives up after 10 s with its retries), so only a failed or interrupted publish leaves
 * them longer. Publishing twice is harmless (each sink takes a finding id once), but costs a second post.
 */
export const OUTBOX_SWEEP_AFTER_MS = 60_000;

export interface PipelineOptions {
  readonly config: RunwatchConfig;
  /** Told of each finding a rule exception held back (EngineOptions.onHeldBack): replay counts them. */
  readonly onHeldBack?: EngineOptions['onHeldBack'];
  readonly store: BaselineStore & Partial<DueIndex>;
  /**
   * How many recent entry keys this instance remembers to answer duplicates without a store round trip (the same
   * logName + timestamp + insertId). 0 turns it off. The baseline itself also remembers the entries it applied,
   * so a copy seen by another instance changes nothing either.
   */
  readonly recentKeys?: number;
  /**
   * The Cloud Run Admin API fallback (correlation.adminApiFallback), live pipeline only: readFromAdminApi uses it.
   * Not closed by the pipeline.
   */
  readonly revisionReader?: RevisionReader;
  /**
   * Replay: each project keeps its own clock. An entry completes the rollouts of its own project whose wait ran
   * out by its time, never another project's (flush and sweep still complete everything). A project's outcome then
   * depends on its own entries alone, as when replay spreads projects over worker threads: the same findings either
   * way, even for entries later than the reorder buffer could wait for. For entries in time order it changes only
   * when another project's waiting rollout is completed, never how. The live pipeline keeps one clock, the wall's.
   */
  readonly projectClocks?: boolean;
}

/** What one readFromAdminApi pass did. */
export interface AdminApiPass {
  /** Findings of rollouts the read completed (published through `publish` like the sweep's). */
  readonly findings: readonly Finding[];
  /** Rollouts whose revision was read. */
  readonly read: number;
  /** Reads that joined their rollout. */
  readonly joined: number;
  /** Reads that joined nothing: no revision yet, one that is not this write's, or already applied (see Engine). */
  readonly unmatched: number;
  /** Admin API calls that failed: the rollout keeps waiting (next tick, else correlation.waitSeconds). */
  readonly failures: readonly { readonly key: string; readonly error: unknown }[];
}

/** Services read from the Admin API at once in one pass. */
const ADMIN_API_CONCURRENCY = 4;

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

/**
 * An entry after the checks that need no store: what the engine gets, or the outcome already known. An entry for
 * the engine is its own EntryKeys (`seenKey` is the entry digest).
 */
type Admitted =
  | { readonly kind: 'done'; readonly outcome: EntryOutcome }
  | ({ readonly kind: 'change'; readonly change: Change } & EntryKeys)
  | ({ readonly kind: 'observation'; readonly observation: RevisionObservation } & EntryKeys);

const DUPLICATE: Admitted = { kind: 'done', outcome: { status: 'duplicate' } };
const EVERY_PROJECT: { readonly project?: string } = {};

export class Pipeline {
  private readonly engine: Engine;
  private readonly recent: RecentKeys;
  /** Services with rollouts waiting, by their earliest deadline (what this instance has seen). */
  private readonly due = new Map<string, number>();
  private nextDueMs = Infinity;
  /** With projectClocks: the keys of `due` by project, and the earliest of their deadlines. */
  private readonly dueByProject = new Map<string, { readonly keys: Set<string>; next: number }>();
  private readonly normalizeOptions: NormalizeOptions;

  constructor(private readonly options: PipelineOptions) {
    this.engine = new Engine(options.config, options.store, options.onHeldBack ? { onHeldBack: options.onHeldBack } : {});
    this.normalizeOptions = normalizeOptionsOf(options.config);
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
    return normalizeEnvelope(envelope, this.normalizeOptions);
  }

  /**
   * With `publish`, every finding is handed to it before the baseline change that produced it is stored (in the
   * same store transaction): a failed publish leaves the entry unapplied, so its redelivery raises the findings
   * again. The outcome still lists them.
   */
  async handleParsed(parsed: ParseResult, nowMs: number, publish?: Publish): Promise<EntryOutcome> {
    const work = this.admit(parsed);
    if (work.kind === 'done') return work.outcome;
    const due = this.dueFirst(work.storeKey, nowMs);
    const earlier = due ? await this.sweepOthers(nowMs, publish, due.project) : [];
    const result =
      work.kind === 'change'
        ? await this.engine.processChange(work.change, work, nowMs, publish)
        : await this.engine.processObservation(work.observation, work, nowMs, publish);
    return this.applied(work, earlier, result);
  }

  /** True when handleParsedSync can be used: a process-local store and no publishing (replay). */
  get sync(): boolean {
    return this.engine.sync;
  }

  /** handleParsed without promises, for a store with transactSync and nothing to publish (replay). */
  handleParsedSync(parsed: ParseResult, nowMs: number): EntryOutcome {
    const work = this.admit(parsed);
    if (work.kind === 'done') return work.outcome;
    const due = this.dueFirst(work.storeKey, nowMs);
    const earlier = due ? this.sweepSync(nowMs, due.project) : [];
    const result =
      work.kind === 'change'
        ? this.engine.processChangeSync(work.change, work, nowMs)
        : this.engine.processObservationSync(work.observation, work, nowMs);
    return this.applied(work, earlier, result);
  }

  /**
   * Whether an entry of `storeKey` at `nowMs` has rollouts to complete first, and whose: with projectClocks its own
   * project's, else every project's (`project` undefined). Undefined when none is due.
   */
  private dueFirst(storeKey: string, nowMs: number): { readonly project?: string } | undefined {
    if (nowMs < this.nextDueMs) return undefined; // the earliest deadline of all: the common answer, at once
    if (!this.options.projectClocks) return EVERY_PROJECT;
    const project = projectOfBaselineKey(storeKey);
    return nowMs >= (this.dueByProject.get(project)?.next ?? Infinity) ? { project } : undefined;
  }

  /** What an entry needs from the engine, or its outcome when it needs nothing (skipped, malformed, duplicate). */
  private admit(parsed: ParseResult): Admitted {
    switch (parsed.kind) {
      case 'malformed':
        return { kind: 'done', outcome: { status: 'malformed', reason: parsed.reason } };
      case 'skipped':
        return { kind: 'done', outcome: parsed.detail ? { status: 'skipped', reason: parsed.reason, detail: parsed.detail } : { status: 'skipped', reason: parsed.reason } };
      case 'change': {
        const seenKey = entryDigest(parsed.change.key);
        if (this.recent.has(seenKey)) return DUPLICATE;
        return { kind: 'change', change: parsed.change, seenKey, storeKey: storeKeyOf(parsed.change) };
      }
      case 'observation': {
        const seenKey = entryDigest(parsed.observation.key);
        if (this.recent.has(seenKey)) return DUPLICATE;
        return { kind: 'observation', observation: parsed.observation, seenKey, storeKey: baselineKey(parsed.observation.target) };
      }
    }
  }

  private applied(work: Exclude<Admitted, { kind: 'done' }>, earlier: readonly Finding[], result: EngineResult): EntryOutcome {
    this.track(work.storeKey, result);
    // Remembered only once applied: a failure (store, publish) must leave the redelivery free to try again.
    this.recent.add(work.seenKey);
    if (result.note === 'already-applied' && earlier.length === 0) return { status: 'duplicate' };
    return { status: 'processed', findings: earlier.length === 0 ? result.findings : [...earlier, ...result.findings], note: result.note };
  }

  /**
   * Completes every rollout whose wait ran out by `nowMs` (the live pipeline's Cloud Scheduler tick). With
   * `publish`, services whose findings a failed publish left in the store's outbox (OUTBOX_SWEEP_AFTER_MS ago or
   * longer) get a transaction too, which publishes them.
   */
  async sweep(nowMs: number, publish?: Publish): Promise<readonly Finding[]> {
    const { findings, failure } = await this.sweepEach(nowMs, publish);
    if (failure) throw failure.error;
    return findings;
  }

  /**
   * The sweep an entry runs first when this instance knows of rollouts due: other services' work, so its failure
   * is not the entry's (what it could not complete stays due, or in the store's outbox, for the next sweep).
   */
  private async sweepOthers(nowMs: number, publish: Publish | undefined, project: string | undefined): Promise<readonly Finding[]> {
    try {
      return (await this.sweepEach(nowMs, publish, project)).findings;
    } catch {
      return []; // the due index could not be read: the next sweep reads it again
    }
  }

  /**
   * Every due key is tried: one service whose transaction keeps failing (a document the store refuses) must not
   * keep the others waiting. The first failure is returned with what the others raised.
   */
  private async sweepEach(nowMs: number, publish: Publish | undefined, project?: string): Promise<{ findings: Finding[]; failure?: { error: unknown } }> {
    const findings: Finding[] = [];
    const keys = await this.dueKeys(nowMs);
    if (publish && this.options.store.undeliveredKeys) for (const key of await this.options.store.undeliveredKeys(nowMs - OUTBOX_SWEEP_AFTER_MS)) keys.add(key);
    if (project !== undefined) for (const key of keys) if (projectOfBaselineKey(key) !== project) keys.delete(key);
    let failure: { error: unknown } | undefined;
    for (const key of keys) {
      try {
        // A transaction completes rollouts up to DUE_FINDINGS_BYTES_LIMIT of findings: the rest stay due, for the next.
        for (let turn = 0; turn <= ROLLOUT_LIMIT; turn++) {
          const result = await this.engine.completeDue(key, nowMs, publish);
          this.track(key, result);
          findings.push(...result.findings);
          if (result.dueAtMs === undefined || result.dueAtMs > nowMs) break;
        }
      } catch (error) {
        failure ??= { error };
      }
    }
    return failure ? { findings, failure } : { findings };
  }

  /** sweep for a process-local store (no due index to query). */
  private sweepSync(nowMs: number, project?: string): readonly Finding[] {
    const findings: Finding[] = [];
    for (const key of this.dueKeysInMemory(nowMs, project)) {
      // As in sweepEach: what one transaction left due, the next completes.
      for (let turn = 0; turn <= ROLLOUT_LIMIT; turn++) {
        const result = this.engine.completeDueSync(key, nowMs);
        this.track(key, result);
        findings.push(...result.findings);
        if (result.dueAtMs === undefined || result.dueAtMs > nowMs) break;
      }
    }
    return findings;
  }

  /** Services with a rollout due by `byMs`: those this instance saw, and those the store's due index lists. */
  private async dueKeys(byMs: number): Promise<Set<string>> {
    const keys = this.dueKeysInMemory(byMs);
    if (this.options.store.dueKeys) for (const key of await this.options.store.dueKeys(byMs)) keys.add(key);
    return keys;
  }

  private dueKeysInMemory(byMs: number, project?: string): Set<string> {
    const keys = new Set<string>();
    if (project !== undefined) {
      for (const key of this.dueByProject.get(project)?.keys ?? []) if (this.due.get(key)! <= byMs) keys.add(key);
    } else {
      for (const [key, dueAt] of this.due) if (dueAt <= byMs) keys.add(key);
    }
    return keys;
  }

  /**
   * The Admin API fallback (correlate/adminApi.ts), for the live pipeline's sweep tick, before `sweep`: every
   * service whose newest rollout has its admin write but no system event `afterSeconds` after the write arrived
   * (counted like the wait: from the write's time, or the wall clock when it arrived later) gets its latest
   * revision read, fed to the engine like a revision's system event. Does nothing without a reader.
   * A failed API call is returned in `failures`, never thrown: the rollout keeps waiting. Store and publish
   * failures are thrown, as by `sweep`, once every read has settled.
   */
  async readFromAdminApi(nowMs: number, publish?: Publish): Promise<AdminApiPass> {
    const reader = this.options.revisionReader;
    const empty: AdminApiPass = { findings: [], read: 0, joined: 0, unmatched: 0, failures: [] };
    const settings = this.options.config.correlation.adminApiFallback;
    if (!reader || !settings.enabled) return empty;
    const waitMs = this.options.config.correlation.waitSeconds * 1000;
    const afterMs = settings.afterSeconds * 1000;
    // A rollout is read when deadline - wait + after <= now; the service's dueAtMs (its oldest deadline) is at most
    // that of any of its rollouts, so the services due by now + wait - after hold every candidate.
    const keys = await this.dueKeys(nowMs + waitMs - afterMs);

    const findings: Finding[] = [];
    const failures: { key: string; error: unknown }[] = [];
    let read = 0;
    let joined = 0;
    let unmatched = 0;
    const queue = [...keys];
    const worker = async (): Promise<void> => {
      for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
        const write = waitingWrite((await this.options.store.get(key))?.rollouts ?? [], waitMs, afterMs, nowMs);
        if (!write) continue;
        let answer: AdminApiRead;
        try {
          answer = await reader.read(write, nowMs);
        } catch (error) {
          failures.push({ key, error });
          continue;
        }
        read += 1;
        if (answer.kind === 'none') {
          unmatched += 1;
          continue;
        }
        const result = await this.engine.processAdminApiObservation(answer.observation, nowMs, publish, write.key);
        this.track(key, result);
        findings.push(...result.findings);
        if (result.note === 'joined-rollout' || result.note === 'evaluated') joined += 1;
        else unmatched += 1;
      }
    };
    const settled = await Promise.allSettled(Array.from({ length: Math.min(ADMIN_API_CONCURRENCY, queue.length) }, worker));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return { findings, read, joined, unmatched, failures };
  }

  /** Services this instance saw with a rollout still waiting for its other half. */
  get servicesWaiting(): number {
    return this.due.size;
  }

  /** Completes everything still waiting, whatever its deadline: the end of a replay. */
  flush(): Promise<readonly Finding[]> {
    return this.sync && !this.options.store.dueKeys ? Promise.resolve(this.sweepSync(END_OF_INPUT_MS)) : this.sweep(END_OF_INPUT_MS);
  }

  private track(key: string, result: EngineResult): void {
    const before = this.due.get(key);
    const after = result.dueAtMs;
    if (before === after) return;
    if (after === undefined) this.due.delete(key);
    else this.due.set(key, after);
    if (after !== undefined && after < this.nextDueMs) this.nextDueMs = after;
    else if (before === this.nextDueMs) {
      // The earliest deadline went away or moved later: find the new earliest (rare: most entries change neither).
      let next = Infinity;
      for (const dueAt of this.due.values()) if (dueAt < next) next = dueAt;
      this.nextDueMs = next;
    }
    if (this.options.projectClocks) this.trackProject(key, before, after);
  }

  /** track's bookkeeping by project (projectClocks), the earliest deadline found again only when it went away. */
  private trackProject(key: string, before: number | undefined, after: number | undefined): void {
    const project = projectOfBaselineKey(key);
    const waiting = this.dueByProject.get(project);
    if (!waiting) {
      if (after !== undefined) this.dueByProject.set(project, { keys: new Set([key]), next: after });
      return;
    }
    if (after === undefined) waiting.keys.delete(key);
    else waiting.keys.add(key);
    if (waiting.keys.size === 0) this.dueByProject.delete(project);
    else if (after !== undefined && after < waiting.next) waiting.next = after;
    else if (before === waiting.next) {
      let next = Infinity;
      for (const k of waiting.keys) next = Math.min(next, this.due.get(k)!);
      waiting.next = next;
    }
  }
}

/**
 * The write of the service's newest rollout when it still has no system event `afterMs` after it arrived.
 * Older rollouts are left to the wait: the service's latest revision can only be the newest deploy's. Newest to the
 * nanosecond (openedBefore: the opening entry's sub-millisecond digits), so of two rollouts opened in one millisecond
 * the later is read for, whichever arrived first.
 */
function waitingWrite(rollouts: readonly Rollout[], waitMs: number, afterMs: number, nowMs: number): DeployChange | undefined {
  let newest: Rollout | undefined;
  for (const r of rollouts) if (newest === undefined || r.openedMs > newest.openedMs || (r.openedMs === newest.openedMs && openedBefore(newest, openedAt(r)))) newest = r;
  if (!newest?.write || newest.observed) return undefined;
  return newest.deadlineMs - waitMs + afterMs <= nowMs ? newest.write : undefined;
}
