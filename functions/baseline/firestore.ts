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
// Document: `<collection>/<base64url(key)>` = { key, baseline, dueAtMs?, outbox, outboxSpilled?, outboxSpillNext?,
// outboxSinceMs?, updatedAt }; `dueAtMs` (a rollout waits for its other half until then) and `outboxSinceMs` (findings
// wait to be published since then) are queried by the sweep (DueIndex). The baseline is stored as JSON text and the
// outbox as a list of findings' JSON texts: they hold map keys deployers write (labels, annotations, image
// repositories), and Firestore refuses some as map keys (`__x__`, the empty key), which failed the entry's
// transaction on every delivery.
// The outbox holds up to OUTBOX_BYTES_LIMIT of findings: while publishing fails (a Pub/Sub outage) every transaction
// of a service adds its findings, and past 1 MiB every later transaction of the service failed. Findings beyond it
// wait in spill documents, `<doc>/<collection>-outbox/<number>` (spillCollectionOf), written in the same commit
// (`outboxSpilled` says some may wait, `outboxSpillNext` numbers the next), delivered after the outbox's and
// deleted once delivered.
// What Firestore could never store (a document over 1 MiB, a commit over COMMIT_BYTES_LIMIT: a finding made huge by its
// entry) is refused before anything is sent, with UnstorableError: it failed on every delivery, and a commit over
// 4 MiB was never answered by the emulator (the transaction, and detect's invocation, never settled).
// Documents written by earlier builds, with both as Firestore maps, are still read.
// Keys contain `/` (PROJECT/LOCATION/SERVICE), which Firestore reads as a path separator, so the id is the base64url
// of the key (never `.`, `..`, `__...__` or a `/`; for a key too long for an id, its start and a digest), and the
// readable key is kept as a field for people browsing the console.
//
// The client library is imported on first use, not at module load, to keep the function's cold start small.
import { createHash } from 'node:crypto';
import type { CollectionReference, DocumentData, DocumentReference, Firestore, Settings } from '@google-cloud/firestore';
import { canonicalJson } from '../audit/json.js';
import { skipMetadataServerOnEmulator } from '../emulatorCredentials.js';
import type { ServiceBaseline } from './state.js';
import { KeyedTurns } from './turns.js';
import type { Finding } from '../findings/finding.js';
import { findingBytes } from '../jsonBytes.js';
import { UnstorableError, type BaselineStore, type Delivery, type TransactionOutcome } from './store.js';

export { UnstorableError } from './store.js';
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
    let spilled = false;
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
        // The document's own outbox takes findings up to OUTBOX_BYTES_LIMIT; the rest wait in spill documents.
        const left = outboxOf(data);
        const spill = spillOf(data);
        const placed = placeInOutbox(left, fresh);
        outbox = placed.kept.length > 0 ? [...left, ...placed.kept] : left;
        spilled = spill.spilled || placed.spill.length > 0;
        const waitedBefore = left.length > 0 || spill.spilled;
        const since = outbox.length === 0 && !spilled ? undefined : waitedBefore ? (outboxSinceOf(data) ?? Date.now()) : Date.now();
        // A change already folded in (a redelivery) leaves the baseline as it is: nothing to write. Compared with
        // keys sorted (Firestore may return map keys in another order than they were written) and undefined dropped
        // (the stored document never has them: ignoreUndefinedProperties).
        const changed = outcome.next !== undefined && !(current !== undefined && canonicalJson(outcome.next) === canonicalJson(current));
        const next = changed ? outcome.next : current;
        // Measured before anything is set: a write Firestore can never take fails the transaction here, at once and
        // with the reason (UnstorableError), instead of on every delivery, or never (see writableOrThrow).
        const writes: [DocumentReference, DocumentData][] = [];
        if (next && (changed || fresh.length > 0)) {
          writes.push([ref, documentOf(key, next, outbox, since, { spilled, next: spill.next + placed.spill.length })]);
          placed.spill.forEach((findings, i) => writes.push([spillRef(ref, spill.next + i), { key, findings: storedOutbox(findings), addedAt: new Date() }]));
        }
        if (appliedRef && !applied?.exists && changed && next?.seen?.includes(entry!)) writes.push([appliedRef, { key, entry, appliedAt: new Date(), [APPLIED_RECORD_EXPIRY_FIELD]: new Date(Date.now() + APPLIED_RECORD_TTL_MS) }]);
        writableOrThrow(key, writes.map(([target, data]) => [target.path, data] as const), fresh.length);
        for (const [target, data] of writes) tx.set(target, data);
        return outcome.result;
      },
      { maxAttempts: this.options.maxAttempts ?? 10 },
    );
    if (delivery && (outbox.length > 0 || spilled)) {
      // The oldest spill documents go out with the document's outbox, SPILL_DELIVERY_BYTES_LIMIT of them at a time,
      // up to SPILL_DELIVERY_ROUNDS times: the rest of a long outage's backlog goes with the next transactions.
      // A failed delivery rejects: the entry's redelivery (already applied) finds the findings still in the outbox.
      let first: readonly Finding[] = outbox;
      for (let round = 0, more = spilled; round === 0 || (more && round < SPILL_DELIVERY_ROUNDS); round++) {
        const spill: SpillBatch = more ? await readSpill(ref) : { docs: [], more: false };
        const findings = spill.docs.length > 0 ? [...first, ...spill.docs.flatMap((d) => d.findings)] : first;
        if (findings.length > 0) await delivery.deliver(findings);
        await this.takeOutOfOutbox(ref, first, spill.docs.map((d) => d.id), spill.more);
        first = [];
        more = spill.more;
      }
    }
    return result;
  }

  /**
   * Removes delivered findings from the outbox (a finding and its resolution share an id: told apart by status),
   * and the delivered spill documents (written once, delivered whole), leaving what another writer added meanwhile.
   * What is left was added by a writer publishing it now: its wait counts from now, so the sweep does not publish it
   * at the same time; unless spill documents were left because one delivery takes only so many (`more`): those keep
   * their wait, so the next sweep publishes them.
   */
  private async takeOutOfOutbox(ref: DocumentReference, delivered: readonly Finding[], spillIds: readonly string[], more: boolean): Promise<void> {
    const done = new Set(delivered.map(outboxKey));
    const taken = new Set(spillIds);
    const db = await this.db();
    const { FieldPath, FieldValue } = await import('@google-cloud/firestore');
    await db.runTransaction(async (tx) => {
      // Only the fields this reads: the baseline itself (its JSON text, as large as the service's histories) was just
      // read and written by the transaction whose findings these are, and it is not written here.
      const [snapshot] = await tx.getAll(ref, { fieldMask: OUTBOX_FIELDS });
      const data = snapshot!.exists ? snapshot!.data() : undefined;
      const outbox = outboxOf(data);
      const left = outbox.filter((f) => !done.has(outboxKey(f)));
      const wasSpilled = spillOf(data).spilled;
      // The oldest spill documents: those delivered (the oldest when read) and, past them, whether any other is left.
      const spill = wasSpilled ? (await tx.get(spillOfDocument(ref).orderBy(FieldPath.documentId()).limit(taken.size + 1))).docs : [];
      const gone = spill.filter((d) => taken.has(d.id));
      const spillLeft = spill.length > gone.length;
      if (left.length === outbox.length && gone.length === 0 && spillLeft === wasSpilled) return;
      for (const d of gone) tx.delete(d.ref);
      const since = left.length === 0 && !spillLeft ? FieldValue.delete() : more && spillLeft ? (outboxSinceOf(data) ?? Date.now()) : Date.now();
      tx.update(ref, { outbox: storedOutbox(left), outboxSpilled: spillLeft ? true : FieldValue.delete(), outboxSinceMs: since });
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

  /**
   * The UnstorableError transact throws when it writes `baseline` as the first document of `key` with no findings, or
   * undefined when that document can be stored: the same document measured by the same check (writableOrThrow),
   * with nothing sent. What `runwatch import-baselines --dry-run` lists, so that it says what the import then refuses.
   */
  unstorable(key: string, baseline: ServiceBaseline): UnstorableError | undefined {
    const document = documentOf(key, baseline, [], undefined, { spilled: false, next: 0 });
    try {
      writableOrThrow(key, [[`${this.collection}/${baselineDocId(key)}`, document]], 0);
      return undefined;
    } catch (error) {
      if (error instanceof UnstorableError) return error;
      throw error;
    }
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
  skipMetadataServerOnEmulator('FIRESTORE_EMULATOR_HOST');
  const { Firestore } = await import('@google-cloud/firestore');
  return new Firestore({ ignoreUndefinedProperties: true, ...settings });
}

/**
 * The stored document. `dueAtMs` is repeated at the top so the sweep can query it, and `outboxSinceMs` says since
 * when the outbox holds findings; each is absent when nothing waits.
 */
function documentOf(key: string, baseline: ServiceBaseline, outbox: readonly Finding[], outboxSinceMs: number | undefined, spill: Spill): DocumentData {
  return {
    key,
    baseline: JSON.stringify(baseline),
    ...(baseline.dueAtMs !== undefined ? { dueAtMs: baseline.dueAtMs } : {}),
    outbox: storedOutbox(outbox),
    ...(spill.spilled ? { outboxSpilled: true } : {}),
    ...(spill.next > 0 ? { outboxSpillNext: spill.next } : {}),
    ...(outboxSinceMs !== undefined ? { outboxSinceMs } : {}),
    updatedAt: new Date(),
  };
}

/**
 * Bytes of findings (their JSON texts, UTF-8) the baseline document's own outbox takes. Each transaction's findings
 * are bounded (DUE_FINDINGS_BYTES_LIMIT, engine.ts), but what waits for a publish is not: while publishing fails (a
 * Pub/Sub outage), every transaction of a service adds its findings, and once the document passed Firestore's 1 MiB
 * every later transaction of the service failed. Findings beyond this wait in spill documents instead.
 */
export const OUTBOX_BYTES_LIMIT = 192 * 1024;

/**
 * The largest document this store writes: Firestore's 1 MiB (1,048,576 bytes, its name and fields included), less
 * room for what storedBytes leaves out. A larger one is refused (INVALID_ARGUMENT) on every attempt.
 */
export const DOCUMENT_BYTES_LIMIT = 1024 * 1024 - 8 * 1024;

/**
 * The most one commit writes. Firestore takes requests up to 10 MiB, but its emulator never answers a commit over
 * about 4 MiB (gRPC's default message limit): the client waited forever, and with it detect's invocation (no error,
 * no log, no outcome; in Cloud Functions, until the function's timeout, then Pub/Sub's dead letter without a reason).
 * A transaction's own findings are bounded far below this (DUE_FINDINGS_BYTES_LIMIT, engine.ts; the outbox and each
 * spill document), so only a finding made huge by its entry reaches it.
 */
export const COMMIT_BYTES_LIMIT = 3 * 1024 * 1024;

/**
 * Throws UnstorableError when a document of `writes` (each its path in the database and its fields) is over DOCUMENT_BYTES_LIMIT or all of them over
 * COMMIT_BYTES_LIMIT: a finding (or a baseline) of that size never gets stored, however often it is tried.
 */
function writableOrThrow(key: string, writes: readonly (readonly [path: string, data: DocumentData])[], findings: number): void {
  let total = 0;
  for (const [path, data] of writes) {
    const bytes = Buffer.byteLength(path, 'utf8') + 16 + storedBytes(data);
    total += bytes;
    if (bytes > DOCUMENT_BYTES_LIMIT) {
      throw new UnstorableError(`entry cannot be stored: it would write a document of ${bytes} bytes for ${shortKey(key)} (its baseline and ${findings} finding(s); Firestore stores at most 1 MiB a document)`);
    }
  }
  if (total > COMMIT_BYTES_LIMIT) {
    throw new UnstorableError(`entry cannot be stored: it would write ${total} bytes in one commit for ${shortKey(key)} (its baseline and ${findings} finding(s); at most ${COMMIT_BYTES_LIMIT})`);
  }
}

/** A key for a message: keys come from entries, and a log line need not carry a huge one whole. */
function shortKey(key: string): string {
  return key.length > 200 ? `${key.slice(0, 200)}…` : key;
}

/**
 * Firestore's size of a field value (cloud.google.com/firestore/docs/storage-size): a string its UTF-8 bytes + 1, a
 * number or date 8, a boolean or null 1, an array or map the sum of its values (and of a map's keys, each + 1).
 */
export function storedBytes(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8') + 1;
  if (typeof value === 'number' || value instanceof Date) return 8;
  if (typeof value === 'boolean' || value === null) return 1;
  if (value === undefined) return 0; // dropped (ignoreUndefinedProperties)
  if (Array.isArray(value)) {
    let total = 0;
    for (const item of value) total += storedBytes(item);
    return total;
  }
  if (typeof value === 'object') {
    let total = 0;
    for (const [k, v] of Object.entries(value)) total += Buffer.byteLength(k, 'utf8') + 1 + storedBytes(v);
    return total;
  }
  return 8; // sentinels (FieldValue) are never written by tx.set here
}

/** Bytes of findings one spill document holds (Firestore takes 1 MiB a document). */
const SPILL_BYTES_LIMIT = 512 * 1024;

/** Bytes of spill documents one delivery takes (at least one document): a long outage's backlog goes out in turns. */
const SPILL_DELIVERY_BYTES_LIMIT = 1024 * 1024;

/** The fields of a baseline document that takeOutOfOutbox reads (and the only ones it writes). */
const OUTBOX_FIELDS = ['outbox', 'outboxSpilled', 'outboxSinceMs'];

/** Deliveries of spill documents one transaction makes at most. */
const SPILL_DELIVERY_ROUNDS = 8;

/** Spill documents read at once when delivering. */
const SPILL_READ_LIMIT = 32;

/**
 * The subcollection of each baseline document that holds the findings its outbox had no room for:
 * `<collection>/<doc id>/<collection>-outbox/<sequence number, 16 digits>` = { key, findings (JSON texts), addedAt }.
 * Each is written once, in the transaction that raised its findings, and deleted once delivered whole. (Named after
 * the collection: Firestore's field settings, such as the index exemption in Terraform, go by the subcollection's name.)
 */
export function spillCollectionOf(collection: string): string {
  return `${collection}-outbox`;
}

/** What a baseline document says of its spill documents: whether any may wait, and the next one's number. */
interface Spill {
  readonly spilled: boolean;
  readonly next: number;
}

function spillOf(data: DocumentData | undefined): Spill {
  const { outboxSpilled, outboxSpillNext } = (data ?? {}) as { outboxSpilled?: unknown; outboxSpillNext?: unknown };
  return { spilled: outboxSpilled === true, next: typeof outboxSpillNext === 'number' ? outboxSpillNext : 0 };
}

function spillRef(ref: DocumentReference, seq: number): DocumentReference {
  return spillOfDocument(ref).doc(String(seq).padStart(16, '0'));
}

/** The spill subcollection of a baseline document. */
function spillOfDocument(ref: DocumentReference): CollectionReference {
  return ref.collection(spillCollectionOf(ref.parent.id));
}

/**
 * The fresh findings the document's outbox takes (in order, while the outbox stays within OUTBOX_BYTES_LIMIT), and
 * the rest in spill documents of at most SPILL_BYTES_LIMIT each (a finding is never split).
 */
function placeInOutbox(left: readonly Finding[], fresh: readonly Finding[]): { kept: readonly Finding[]; spill: readonly (readonly Finding[])[] } {
  if (fresh.length === 0) return { kept: fresh, spill: [] };
  let bytes = 0;
  for (const f of left) bytes += findingBytes(f);
  let i = 0;
  for (; i < fresh.length; i++) {
    const size = findingBytes(fresh[i]!);
    if (bytes + size > OUTBOX_BYTES_LIMIT) break;
    bytes += size;
  }
  const spill: Finding[][] = [];
  let chunk: Finding[] = [];
  let chunkBytes = 0;
  for (const f of fresh.slice(i)) {
    const size = findingBytes(f);
    if (chunk.length > 0 && chunkBytes + size > SPILL_BYTES_LIMIT) {
      spill.push(chunk);
      chunk = [];
      chunkBytes = 0;
    }
    chunk.push(f);
    chunkBytes += size;
  }
  if (chunk.length > 0) spill.push(chunk);
  return { kept: fresh.slice(0, i), spill };
}

interface SpillBatch {
  readonly docs: readonly { readonly id: string; readonly findings: readonly Finding[] }[];
  readonly more: boolean;
}

/**
 * The oldest spill documents, up to SPILL_DELIVERY_BYTES_LIMIT of findings (at least one document), and whether
 * more wait. Read after the commit, outside the transaction: what it reads is only ever delivered and deleted.
 */
async function readSpill(ref: DocumentReference): Promise<SpillBatch> {
  const { FieldPath } = await import('@google-cloud/firestore');
  const snapshot = await spillOfDocument(ref).orderBy(FieldPath.documentId()).limit(SPILL_READ_LIMIT).get();
  const docs: { id: string; findings: Finding[] }[] = [];
  let bytes = 0;
  for (const doc of snapshot.docs) {
    if (docs.length > 0 && bytes >= SPILL_DELIVERY_BYTES_LIMIT) break;
    const texts = doc.get('findings') as unknown;
    const findings = Array.isArray(texts) ? texts.filter((t): t is string => typeof t === 'string') : [];
    for (const text of findings) bytes += Buffer.byteLength(text, 'utf8');
    docs.push({ id: doc.id, findings: findings.map((text) => JSON.parse(text) as Finding) });
  }
  return { docs, more: docs.length < snapshot.docs.length || snapshot.docs.length === SPILL_READ_LIMIT };
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
