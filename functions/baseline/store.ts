// Where baselines live: memory (tests, replay), a JSON file (replay --state), Firestore (the live pipeline).
import type { Finding } from '../findings/finding.js';
import type { ServiceBaseline } from './state.js';
import type { ResourceType } from '../model/change.js';

export interface TransactionOutcome<R> {
  /** The baseline to store; undefined leaves the stored one as it is. */
  readonly next?: ServiceBaseline;
  readonly result: R;
}

/**
 * How the findings of a transaction get out (the live pipeline publishes them): never lost, and never from a run of
 * `fn` whose baseline was not stored.
 * - A store that runs `fn` once (memory) delivers before it stores: a failed delivery stores nothing, so the
 *   redelivered entry is applied again.
 * - A store that may run `fn` again (Firestore retries a transaction another writer got to first) must not deliver
 *   from a run that does not commit: such a finding would go out with no baseline knowing it, so nothing would ever
 *   resolve it. It writes the findings to an outbox next to the baseline, in the same write, delivers them after
 *   the commit, then takes them out. What a failed delivery or a crash leaves there goes out with the key's next
 *   transaction (the redelivered entry, now already applied; the sweep; the next entry): maybe twice, with the
 *   same ids, which the sinks take once.
 * When `deliver` rejects, transact rejects.
 */
export interface Delivery<R> {
  readonly findingsOf: (result: R) => readonly Finding[];
  readonly deliver: (findings: readonly Finding[]) => Promise<void>;
}

export interface BaselineStore {
  /**
   * Reads the baseline of `key`, lets `fn` decide the next one, and stores it atomically. `fn` must be pure:
   * a transactional store may run it again when another writer got there first.
   * `entry`: the digest of the entry the transaction applies (ServiceBaseline.seen). The baseline remembers only the
   * last few entries it applied; a store that keeps a durable record of every applied entry (Firestore) shows `fn`
   * a baseline whose `seen` holds `entry` when it was applied before, however long ago (a redrive days later).
   */
  transact<R>(key: string, fn: (current: ServiceBaseline | undefined) => TransactionOutcome<R>, delivery?: Delivery<R>, entry?: string): Promise<R>;
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

/**
 * Document key of a service's baseline: `PROJECT/LOCATION/SERVICE`; a job's `PROJECT/LOCATION/job:JOB`, a worker
 * pool's `PROJECT/LOCATION/worker-pool:NAME` (they may share a service's name, and no service name has a `:`);
 * project-wide IAM uses `PROJECT/-/*`.
 * Names come from the entry unchecked, and JSON can carry half a surrogate pair (`\ud800`), which has no UTF-8 form:
 * Firestore refuses it in the document's `key` field on every delivery. It becomes U+FFFD, which is what hashing
 * (finding ids, document ids) already made of it, so ids stay what they were.
 */
export function baselineKey(ref: { project: string; location?: string; service: string; resourceType?: ResourceType }): string {
  return `${ref.project}/${ref.location ?? '-'}/${ref.resourceType ? `${ref.resourceType}:${ref.service}` : ref.service}`.toWellFormed();
}

/** The project of a baselineKey (a folder's or organization's IAM key has a `/` in it: `folders/1/-/*`). */
export function projectOfBaselineKey(key: string): string {
  return key.slice(0, key.lastIndexOf('/', key.lastIndexOf('/') - 1));
}

/**
 * What a transaction would write that the store can never hold (Firestore: a document over 1 MiB, a commit over
 * what one request takes): the same on every attempt and every delivery of the entry, so it is thrown before
 * anything is sent and the caller reports the entry (detect dead-letters it with this message as the reason)
 * instead of retrying it. Nothing of the transaction is stored.
 */
export class UnstorableError extends Error {
  override readonly name = 'UnstorableError';
}
