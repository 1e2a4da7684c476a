// The live pipeline's baseline store: one Firestore document per service baseline, read-modify-written in a
// transaction, so concurrent deliveries for one service (several function instances, Pub/Sub redeliveries) never
// lose an update. Firestore retries a transaction that lost a race: `fn` runs again on the newer baseline, which
// is why BaselineStore requires it to be pure.
//
// A change that is already in the baseline (a redelivery) writes nothing.
//
// Ordering: the baseline keeps time-indexed histories (state.ts), so an entry that arrives late is folded in at
// its own time and never overwrites newer state; this store only has to make each read-modify-write atomic.
//
// Document: `<collection>/<base64url(key)>` = { key, baseline, dueAtMs?, updatedAt }; `dueAtMs` (a rollout waits
// for its other half until then) is queried by the sweep (DueIndex). Keys contain `/` (PROJECT/LOCATION/
// SERVICE), which Firestore reads as a path separator, so the id is the base64url of the key (never `.`, `..`,
// `__...__` or a `/`), and the readable key is kept as a field for people browsing the console.
//
// The client library is imported on first use, not at module load, to keep the function's cold start small.
import type { DocumentData, Firestore, Settings } from '@google-cloud/firestore';
import { canonicalJson } from '../audit/json.js';
import type { ServiceBaseline } from './state.js';
import { KeyedTurns } from './turns.js';
import type { BaselineStore, BeforeCommit, TransactionOutcome } from './store.js';
import type { DueIndex } from '../pipeline.js';

export const DEFAULT_BASELINE_COLLECTION = 'runwatch-baselines';

export interface FirestoreBaselineStoreOptions {
  /** Defaults to the environment's project (GOOGLE_CLOUD_PROJECT, or the metadata server in the cloud). */
  readonly projectId?: string;
  /** Non-default database id. */
  readonly databaseId?: string;
  readonly collection?: string;
  /** Use this client instead of creating one (tests share one); close() then leaves it open. */
  readonly firestore?: Firestore;
  /** Attempts per transaction before the contention error is thrown (the message is then redelivered). */
  readonly maxAttempts?: number;
}

/** A stored document that is not a baseline this version can read: never guessed at, always reported. */
export class BaselineDocumentError extends Error {
  override readonly name = 'BaselineDocumentError';
}

export function baselineDocId(key: string): string {
  // Every UTF-8 lead byte is < 0xF8, so the first base64url character is never `-` or `_`: no `__x__` ids.
  return Buffer.from(key, 'utf8').toString('base64url');
}

export class FirestoreBaselineStore implements BaselineStore, DueIndex {
  readonly collection: string;
  private client: Promise<Firestore> | undefined;
  private readonly ownsClient: boolean;
  private readonly turns = new KeyedTurns();

  constructor(private readonly options: FirestoreBaselineStoreOptions = {}) {
    this.collection = options.collection ?? DEFAULT_BASELINE_COLLECTION;
    this.ownsClient = options.firestore === undefined;
    if (options.firestore) this.client = Promise.resolve(options.firestore);
  }

  async transact<R>(key: string, fn: (current: ServiceBaseline | undefined) => TransactionOutcome<R>, beforeCommit?: BeforeCommit<R>): Promise<R> {
    // Within this instance, changes to one key take turns: concurrent copies of one entry (duplicates are
    // common) then cost one transaction and some plain reads instead of contending inside Firestore, where a
    // lost race costs a client backoff of a second or more. Across instances the transaction does the work.
    return this.turns.run(key, () => this.transactNow(key, fn, beforeCommit));
  }

  private async transactNow<R>(key: string, fn: (current: ServiceBaseline | undefined) => TransactionOutcome<R>, beforeCommit?: BeforeCommit<R>): Promise<R> {
    const db = await this.db();
    const ref = db.collection(this.collection).doc(baselineDocId(key));
    return db.runTransaction(
      async (tx) => {
        const snapshot = await tx.get(ref);
        const current = snapshot.exists ? readBaseline(snapshot.data(), key) : undefined;
        const outcome = fn(current);
        // Publishing inside the transaction: a failure aborts it, so the redelivered entry is applied again.
        if (beforeCommit) await beforeCommit(outcome.result);
        // A change already folded in (a redelivery) leaves the baseline as it is: nothing to write. Compared with
        // keys sorted (Firestore may return map keys in another order than they were written) and undefined dropped
        // (the stored document never has them: ignoreUndefinedProperties).
        if (outcome.next && !(current !== undefined && canonicalJson(outcome.next) === canonicalJson(current))) tx.set(ref, documentOf(key, outcome.next));
        return outcome.result;
      },
      { maxAttempts: this.options.maxAttempts ?? 10 },
    );
  }

  /** Keys of the baselines with a rollout due by `nowMs` (the sweep's query; `dueAtMs` is a top-level field). */
  async dueKeys(nowMs: number): Promise<readonly string[]> {
    const db = await this.db();
    const snapshot = await db.collection(this.collection).where('dueAtMs', '<=', nowMs).select('key').get();
    return snapshot.docs.map((doc) => doc.get('key') as unknown).filter((key): key is string => typeof key === 'string');
  }

  async get(key: string): Promise<ServiceBaseline | undefined> {
    const db = await this.db();
    const snapshot = await db.collection(this.collection).doc(baselineDocId(key)).get();
    return snapshot.exists ? readBaseline(snapshot.data(), key) : undefined;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client && this.ownsClient) await (await client).terminate();
  }

  private db(): Promise<Firestore> {
    this.client ??= createFirestore({
      ...(this.options.projectId ? { projectId: this.options.projectId } : {}),
      ...(this.options.databaseId ? { databaseId: this.options.databaseId } : {}),
    }).catch((error: unknown) => {
      this.client = undefined; // let the next call try again
      throw error;
    });
    return this.client;
  }
}

/** Loads the Firestore client library on demand. `undefined` values in documents are dropped, not rejected. */
export async function createFirestore(settings: Settings = {}): Promise<Firestore> {
  const { Firestore } = await import('@google-cloud/firestore');
  return new Firestore({ ignoreUndefinedProperties: true, ...settings });
}

/** The stored document. `dueAtMs` is repeated at the top so the sweep can query it; absent when nothing waits. */
function documentOf(key: string, baseline: ServiceBaseline): DocumentData {
  return { key, baseline, ...(baseline.dueAtMs !== undefined ? { dueAtMs: baseline.dueAtMs } : {}), updatedAt: new Date() };
}

function readBaseline(data: DocumentData | undefined, key: string): ServiceBaseline {
  const baseline = (data as { baseline?: unknown } | undefined)?.baseline;
  if (!baseline || typeof baseline !== 'object' || (baseline as { version?: unknown }).version !== 1) {
    throw new BaselineDocumentError(`baseline document for ${key} has no version 1 baseline; refusing to overwrite it`);
  }
  return baseline as ServiceBaseline;
}
