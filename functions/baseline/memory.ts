import type { ServiceBaseline } from './state.js';
import { KeyedTurns } from './turns.js';
import type { BaselineStore, Delivery, TransactionOutcome } from './store.js';

/**
 * A process-local store. Without a beforeCommit a transaction runs to completion before anything else reads; with
 * one (it awaits a publish between read and write), transactions on one key take turns.
 */
export class MemoryBaselineStore implements BaselineStore {
  protected readonly data = new Map<string, ServiceBaseline>();
  private readonly turns = new KeyedTurns();
  readonly changesInPlace: boolean;

  /**
   * `changesInPlace`: transactSync lets the engine change stored baselines where they lie (see BaselineStore); for a
   * store that lives and dies with one replay, and whose baselines are read only through transactions meanwhile.
   */
  constructor(initial?: Iterable<[string, ServiceBaseline]>, options: { readonly changesInPlace?: boolean } = {}) {
    if (initial) for (const [key, value] of initial) this.data.set(key, value);
    this.changesInPlace = options.changesInPlace ?? false;
  }

  async transact<R>(key: string, fn: (current: ServiceBaseline | undefined) => TransactionOutcome<R>, delivery?: Delivery<R>): Promise<R> {
    // Without a delivery nothing is awaited: the baseline is stored before transact returns, as by transactSync.
    if (!delivery) return this.transactSync(key, fn);
    return this.turns.run(key, async () => {
      const outcome = fn(this.data.get(key));
      // `fn` runs once here: delivering first, a failed delivery stores nothing (see Delivery).
      const findings = delivery.findingsOf(outcome.result);
      if (findings.length > 0) await delivery.deliver(findings);
      return this.commit(key, outcome);
    });
  }

  /** The same as transact, without a promise: replay runs millions of these. */
  transactSync<R>(key: string, fn: (current: ServiceBaseline | undefined) => TransactionOutcome<R>): R {
    return this.commit(key, fn(this.data.get(key)));
  }

  private commit<R>(key: string, outcome: TransactionOutcome<R>): R {
    if (outcome.next) this.data.set(key, outcome.next);
    return outcome.result;
  }

  get(key: string): Promise<ServiceBaseline | undefined> {
    return Promise.resolve(this.data.get(key));
  }

  entries(): IterableIterator<[string, ServiceBaseline]> {
    return this.data.entries();
  }

  get size(): number {
    return this.data.size;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
