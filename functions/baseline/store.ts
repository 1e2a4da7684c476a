// Where baselines live: memory (tests, replay), a JSON file (replay --state), Firestore (the live pipeline).
import type { ServiceBaseline } from './state.js';

export interface TransactionOutcome<R> {
  /** The baseline to store; undefined leaves the stored one as it is. */
  readonly next?: ServiceBaseline;
  readonly result: R;
}

/**
 * Runs after `fn` and before the new baseline is stored: when it throws, nothing is stored and transact rejects.
 * The live pipeline publishes the findings here, so a failed publish leaves the entry unapplied for its
 * redelivery (instead of applied with its findings lost). It may run more than once, like `fn`.
 */
export type BeforeCommit<R> = (result: R) => Promise<void>;

export interface BaselineStore {
  /**
   * Reads the baseline of `key`, lets `fn` decide the next one, and stores it atomically. `fn` must be pure:
   * a transactional store may run it again when another writer got there first.
   */
  transact<R>(key: string, fn: (current: ServiceBaseline | undefined) => TransactionOutcome<R>, beforeCommit?: BeforeCommit<R>): Promise<R>;
  /**
   * The same as transact without a promise, for process-local stores (memory, file): replay runs millions of
   * these and a promise chain per entry shows in its profile. Absent on remote stores.
   */
  transactSync?<R>(key: string, fn: (current: ServiceBaseline | undefined) => TransactionOutcome<R>): R;
  /**
   * True when `fn` of transactSync may change the baseline it is given in place instead of building a new one: only
   * for a store that is the sole holder of its baselines, hands them to no one else while a transaction runs, and
   * never runs `fn` twice. A `fn` that throws may then leave a baseline half changed, so the store is given up with
   * the run (replay's own memory store: a failed replay ends).
   */
  readonly changesInPlace?: boolean;
  get(key: string): Promise<ServiceBaseline | undefined>;
  close(): Promise<void>;
}

/** Document key of a service's baseline: `PROJECT/LOCATION/SERVICE`; project-wide IAM uses `PROJECT/-/*`. */
export function baselineKey(ref: { project: string; location?: string; service: string }): string {
  return `${ref.project}/${ref.location ?? '-'}/${ref.service}`;
}
