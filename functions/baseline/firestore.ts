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
// Document: `<collection>/<base64url(key)>` = { key, baseline, dueAtMs?, outbox, outboxSinceMs?, updatedAt };
// `dueAtMs` (a rollout waits for its other half until then) and `outboxSinceMs` (findings wait to be published
// since then) are queried by the sweep (DueIndex). The baseline is stored as JSON text and the outbox as a list of
// findings' JSON texts: they hold map keys deployers write (labels, annotations, image repositories), and Firestore
// refuses some as map keys (`__x__`, the empty key), which failed the entry's transaction on every delivery.
// Documents written by earlier builds, with both as Firestore maps, are still read.
// Keys contain `/` (PROJECT/LOCATION/SERVICE), which Firestore reads as a path separator, so the id is the base64url
// of the key (never `.`, `..`, `__...__` or a `/`; for a key too long for an id, its start and a digest), and the
// readable key is kept as a field for people browsing the console.
//
// The client library is imported on first use, not at module load, to keep the function's cold start small.
import { createHash } from 'node:crypto';
import type { DocumentData, DocumentReference, Firestore, Settings } from '@google-cloud/firestore';
import { canonicalJson } from '../audit/json.js';
import type { ServiceBaseline } from './state.js';
import { KeyedTurns } from './turns.js';
import type { Finding } from '../findings/finding.js';
import type { BaselineStore, Delivery, TransactionOutcome } from './store.js';
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

/** Where the record of each applied entry is kept: `<collection>-applied/<baseline doc id>~<entry digest>`. */
export function appliedCollectionOf(collection: string): string {
  return `${collection}-applied`;
}

/**
 * How long a record of an applied entry is meant to be kept (`expireAt`, for a Firestore TTL policy): longer than
 * a copy can wait on the detect subscription and then in the dead-letter hold until a redrive, each at most Pub/Sub's
 * 31 days (Terraform's message_retention_duration).
 */
export const APPLIED_RECORD_TTL_MS = 63 * 24 * 3600 * 1000;

/** The field of an applied-entry record the TTL policy reads (terraform/modules/runwatch/firestore.tf). */
export const APPLIED_RECORD_EXPIRY_FIELD = 'expireAt';

/**
 * The longest key whose id is its base64url (1,000 characters of id). Firestore refuses ids over 1,500 bytes, and the
 * applied-entry record adds `~` and the entry digest to it. Keys come from log entries: a refused call is logged with
 * whatever service name was asked for, not one Cloud Run accepted.
 */
const PLAIN_ID_MAX_KEY_BYTES = 750;

export function baselineDocId(key: string): string {
  // Every UTF-8 lead byte is < 0xF8, so the first base64url character is never `-` or `_`: no `__x__` ids.
  const bytes = Buffer.from(key, 'utf8');
  if (bytes.length <= PLAIN_ID_MAX_KEY_BYTES) return bytes.toString('base64url');
  // A longer key: the start of its id, then `~` (never in base64url, so no plain id is ever the same) and its digest.
  return `${bytes.subarray(0, PLAIN_ID_MAX_KEY_BYTES).toString('base64url')}~${createHash('sha256').update(bytes).digest('base64url')}`;
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

  async transact<R>(key: string, fn: (current: ServiceBaseline | undefined) => TransactionOutcome<R>, delivery?: Delivery<R>, entry?: string): Promise<R> {
    // Within this instance, changes to one key take turns: concurrent copies of one entry (duplicates are
    // common) then cost one transaction and some plain reads instead of contending inside Firestore, where a
    // lost race costs a client backoff of a second or more. Across instances the transaction does the work.
    return this.turns.run(key, () => this.transactNow(key, fn, delivery, entry));
  }

  private async transactNow<R>(key: string, fn: (current: ServiceBaseline | undefined) => TransactionOutcome<R>, delivery?: Delivery<R>, entry?: string): Promise<R> {
    const db = await this.db();
    const ref = db.collection(this.collection).doc(baselineDocId(key));
    // The baseline's own `seen` holds only its last SEEN_LIMIT entries: a copy delivered later than that (a
    // redelivery after a long publish outage, a redrive of dead letters days later) was applied again, and a deploy
    // it re-opened was reported a second time under another id. An applied entry also gets a record of its own.
    const appliedRef = entry !== undefined ? db.collection(appliedCollectionOf(this.collection)).doc(`${baselineDocId(key)}~${entry}`) : undefined;
    // Firestore runs the function again when another writer got to the document first: findings are only ever
    // delivered from the run that committed, through the document's outbox (see Delivery).
    let outbox: readonly Finding[] = [];
    const result = await db.runTransaction(
      async (tx) => {
        const [snapshot, applied] = appliedRef ? await tx.getAll(ref, appliedRef) : [await tx.get(ref), undefined];
        const data = snapshot!.exists ? snapshot!.data() : undefined;
        const stored = snapshot!.exists ? readBaseline(data, key) : undefined;
        const appliedBefore = applied?.exists === true && stored !== undefined && !(stored.seen ?? []).includes(entry!);
        const current = appliedBefore ? { ...stored, seen: [...(stored.seen ?? []), entry!] } : stored;
        const outcome = fn(current);
        const fresh = delivery ? delivery.findingsOf(outcome.result) : [];
        // What earlier deliveries left stays in the document whoever writes it (a transaction without a delivery too).
        const left = outboxOf(data);
        outbox = fresh.length > 0 ? [...left, ...fresh] : left;
        const since = outbox.length === 0 ? undefined : left.length > 0 ? (outboxSinceOf(data) ?? Date.now()) : Date.now();
        // A change already folded in (a redelivery) leaves the baseline as it is: nothing to write. Compared with
        // keys sorted (Firestore may return map keys in another order than they were written) and undefined dropped
        // (the stored document never has them: ignoreUndefinedProperties).
        const changed = outcome.next !== undefined && !(current !== undefined && canonicalJson(outcome.next) === canonicalJson(current));
        const next = changed ? outcome.next : current;
        if (next && (changed || fresh.length > 0)) tx.set(ref, documentOf(key, next, outbox, since));
        if (appliedRef && !applied?.exists && changed && next?.seen?.includes(entry!)) tx.set(appliedRef, { key, entry, appliedAt: new Date(), [APPLIED_RECORD_EXPIRY_FIELD]: new Date(Date.now() + APPLIED_RECORD_TTL_MS) });
        return outcome.result;
      },
      { maxAttempts: this.options.maxAttempts ?? 10 },
    );
    if (delivery && outbox.length > 0) {
      // A failed delivery rejects: the entry's redelivery (already applied) finds the findings still in the outbox.
      await delivery.deliver(outbox);
      await this.takeOutOfOutbox(ref, outbox);
    }
    return result;
  }

  /**
   * Removes delivered findings from the outbox (a finding and its resolution share an id: told apart by status),
   * leaving what another writer added meanwhile. What is left was added by a writer publishing it now: its wait
   * counts from now, so the sweep does not publish it at the same time.
   */
  private async takeOutOfOutbox(ref: DocumentReference, delivered: readonly Finding[]): Promise<void> {
    const done = new Set(delivered.map(outboxKey));
    const db = await this.db();
    const { FieldValue } = await import('@google-cloud/firestore');
    await db.runTransaction(async (tx) => {
      const snapshot = await tx.get(ref);
      const outbox = outboxOf(snapshot.exists ? snapshot.data() : undefined);
      const left = outbox.filter((f) => !done.has(outboxKey(f)));
      if (left.length === outbox.length) return;
      const stored = storedOutbox(left);
      tx.update(ref, left.length === 0 ? { outbox: stored, outboxSinceMs: FieldValue.delete() } : { outbox: stored, outboxSinceMs: Date.now() });
    });
  }

  /** Keys of the baselines with a rollout due by `nowMs` (the sweep's query; `dueAtMs` is a top-level field). */
  async dueKeys(nowMs: number): Promise<readonly string[]> {
    const db = await this.db();
    const snapshot = await db.collection(this.collection).where('dueAtMs', '<=', nowMs).select('key').get();
    return keysOf(snapshot.docs);
  }

  /**
   * Keys of the baselines whose outbox holds findings since `beforeMs` or earlier: their publish failed (or the
   * instance stopped) and no entry of the service came since to publish them (the sweep's query).
   */
  async undeliveredKeys(beforeMs: number): Promise<readonly string[]> {
    const db = await this.db();
    const snapshot = await db.collection(this.collection).where('outboxSinceMs', '<=', beforeMs).select('key').get();
    return keysOf(snapshot.docs);
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

/**
 * The stored document. `dueAtMs` is repeated at the top so the sweep can query it, and `outboxSinceMs` says since
 * when the outbox holds findings; each is absent when nothing waits.
 */
function documentOf(key: string, baseline: ServiceBaseline, outbox: readonly Finding[], outboxSinceMs: number | undefined): DocumentData {
  return {
    key,
    baseline: JSON.stringify(baseline),
    ...(baseline.dueAtMs !== undefined ? { dueAtMs: baseline.dueAtMs } : {}),
    outbox: storedOutbox(outbox),
    ...(outboxSinceMs !== undefined ? { outboxSinceMs } : {}),
    updatedAt: new Date(),
  };
}

function keysOf(docs: readonly { get(field: string): unknown }[]): string[] {
  return docs.map((doc) => doc.get('key')).filter((key): key is string => typeof key === 'string');
}

function outboxSinceOf(data: DocumentData | undefined): number | undefined {
  const since = (data as { outboxSinceMs?: unknown } | undefined)?.outboxSinceMs;
  return typeof since === 'number' ? since : undefined;
}

/** The outbox as the document stores it: one JSON text per finding (outboxOf reads it back). */
function storedOutbox(findings: readonly Finding[]): string[] {
  return findings.map((f) => JSON.stringify(f));
}

/** The findings a document holds for delivery (none in documents written before the outbox existed). */
function outboxOf(data: DocumentData | undefined): readonly Finding[] {
  const outbox = (data as { outbox?: unknown } | undefined)?.outbox;
  // JSON texts; findings as Firestore maps in documents written before.
  return Array.isArray(outbox) ? outbox.map((f: unknown) => (typeof f === 'string' ? (JSON.parse(f) as Finding) : (f as Finding))) : [];
}

function outboxKey(finding: Finding): string {
  return `${finding.id}:${finding.status ?? 'active'}`;
}

function readBaseline(data: DocumentData | undefined, key: string): ServiceBaseline {
  const stored = (data as { baseline?: unknown } | undefined)?.baseline;
  let baseline: unknown = stored; // a Firestore map in documents written before the JSON text
  if (typeof stored === 'string') {
    try {
      baseline = JSON.parse(stored);
    } catch {
      throw new BaselineDocumentError(`baseline document for ${key} holds no readable JSON; refusing to overwrite it`);
    }
  }
  if (!baseline || typeof baseline !== 'object' || (baseline as { version?: unknown }).version !== 1) {
    throw new BaselineDocumentError(`baseline document for ${key} has no version 1 baseline; refusing to overwrite it`);
  }
  return baseline as ServiceBaseline;
}
