// Delivery records in Firestore: one document per (sink, finding id), `<collection>/<sink>__<findingId>`.
//
// claim:    `create()` of a pending record; Firestore's create-if-absent is atomic across instances, so of any
//           number of concurrent claims exactly one wins (the others get ALREADY_EXISTS, gRPC code 6). The loser
//           reads the record; a pending record whose lease has expired (its instance died mid-delivery) is taken
//           over in a transaction, so again exactly one taker wins. A record with this claim's own token is this
//           claim: a create that went through, whose lost answer the client library retried into ALREADY_EXISTS.
// complete: marks the record delivered/resolved (merge: a resolution keeps the ref of the original delivery).
// release:  deletes a pending record after a retryable failure, only if it is still the claim this store made
//           (a precondition on the document's update time), so a slow instance never drops a newer claim.
// expire:   ends such a claim's lease at once (leaseUntilMs 0) under the same precondition, keeping the record, so
//           the next claim takes it over and is told firstClaimedMs.
//
// The client library is imported on first use (see ../functions/baseline/firestore.ts).
import { randomUUID } from 'node:crypto';
import type { DocumentData, DocumentReference, Firestore, Timestamp } from '@google-cloud/firestore';
import { createFirestore } from '../functions/baseline/firestore.js';
import { GRPC_STATUS, grpcCode } from '../functions/grpcEndpoint.js';
import { claimedAtMs, type ClaimResult, type DeliveryRecord, type DeliveryRecordStore, type DeliveryState } from './deliveryRecords.js';

const DEFAULT_DELIVERY_COLLECTION = 'runwatch-deliveries';

export interface FirestoreDeliveryRecordStoreOptions {
  readonly projectId?: string;
  readonly databaseId?: string;
  readonly collection?: string;
  /** Use this client instead of creating one; close() then leaves it open. */
  readonly firestore?: Firestore;
  /** Stamps `updatedAt` on complete(); tests pass a fixed clock. */
  readonly now?: () => number;
}

export class FirestoreDeliveryRecordStore implements DeliveryRecordStore {
  readonly collection: string;
  private client: Promise<Firestore> | undefined;
  private readonly ownsClient: boolean;
  private readonly now: () => number;
  /** The token of each claim this instance holds, so release() only drops its own claim. */
  private readonly claims = new Map<string, string>();

  constructor(private readonly options: FirestoreDeliveryRecordStoreOptions = {}) {
    this.collection = options.collection ?? DEFAULT_DELIVERY_COLLECTION;
    this.ownsClient = options.firestore === undefined;
    if (options.firestore) this.client = Promise.resolve(options.firestore);
    this.now = options.now ?? Date.now;
  }

  static docId(sink: string, findingId: string): string {
    if (sink.includes('/') || findingId.includes('/')) throw new Error(`delivery record id must not contain '/': ${sink}__${findingId}`);
    return `${sink}__${findingId}`;
  }

  async get(sink: string, findingId: string): Promise<DeliveryRecord | undefined> {
    const snapshot = await (await this.ref(sink, findingId)).get();
    return snapshot.exists ? toRecord(snapshot.data(), sink, findingId) : undefined;
  }

  async claim(sink: string, findingId: string, nowMs: number, leaseMs: number): Promise<ClaimResult> {
    const ref = await this.ref(sink, findingId);
    const id = FirestoreDeliveryRecordStore.docId(sink, findingId);
    const token = randomUUID();
    const pending = { sink, findingId, state: 'pending', leaseUntilMs: nowMs + leaseMs, updatedAt: iso(nowMs), claimToken: token };
    try {
      await ref.create(pending);
      this.claims.set(id, token);
      return { claimed: true };
    } catch (error) {
      if (grpcCode(error) !== GRPC_STATUS.ALREADY_EXISTS) throw error;
    }
    // Someone holds (or held) it. Take over only an expired pending lease; both the check and the write are
    // inside one transaction, so two instances finding the same expired lease cannot both take it.
    const db = await this.db();
    const result = await db.runTransaction(async (tx): Promise<ClaimResult> => {
      const snapshot = await tx.get(ref);
      if (!snapshot.exists) {
        tx.create(ref, pending); // released in between: claim it afresh
        return { claimed: true };
      }
      // Our own create went through and its answer was lost: the client library retried the commit (it retries
      // UNAVAILABLE) and met the document it had just written. It is this claim, not another delivery's.
      if ((snapshot.data() as { claimToken?: unknown } | undefined)?.claimToken === token) return { claimed: true };
      const record = toRecord(snapshot.data(), sink, findingId);
      if (record.state === 'pending' && (record.leaseUntilMs ?? 0) <= nowMs) {
        const firstClaimedMs = claimedAtMs(record, leaseMs, nowMs);
        tx.set(ref, { ...pending, firstClaimedMs });
        return { claimed: true, takenOverFromMs: firstClaimedMs };
      }
      return { claimed: false, record };
    });
    if (result.claimed) this.claims.set(id, token);
    return result;
  }

  async complete(sink: string, findingId: string, state: Exclude<DeliveryState, 'pending'>, ref?: string): Promise<void> {
    const doc = await this.ref(sink, findingId);
    const { FieldValue } = await import('@google-cloud/firestore');
    // merge: a resolution without a ref keeps the ref (the Slack thread ts) of the original delivery.
    await doc.set(
      {
        sink,
        findingId,
        state,
        ...(ref !== undefined ? { ref } : {}),
        updatedAt: iso(this.now()),
        leaseUntilMs: FieldValue.delete(),
        claimToken: FieldValue.delete(),
      },
      { merge: true },
    );
    this.claims.delete(FirestoreDeliveryRecordStore.docId(sink, findingId));
  }

  async release(sink: string, findingId: string): Promise<void> {
    await this.withOwnClaim(sink, findingId, (ref, lastUpdateTime) => ref.delete({ lastUpdateTime }));
  }

  async expire(sink: string, findingId: string): Promise<void> {
    await this.withOwnClaim(sink, findingId, (ref, lastUpdateTime) => ref.update({ leaseUntilMs: 0 }, { lastUpdateTime }));
  }

  /**
   * Runs `change` (release: drop; expire: end the lease) on a pending claim, only ours when we know which is ours, and
   * only if the document is still as read (a precondition on its update time): changed meanwhile, it is not ours.
   */
  private async withOwnClaim(sink: string, findingId: string, change: (ref: DocumentReference, lastUpdateTime: Timestamp) => Promise<unknown>): Promise<void> {
    const id = FirestoreDeliveryRecordStore.docId(sink, findingId);
    const token = this.claims.get(id);
    this.claims.delete(id);
    const ref = await this.ref(sink, findingId);
    const snapshot = await ref.get();
    if (!snapshot.exists) return;
    const data = snapshot.data() as { state?: unknown; claimToken?: unknown } | undefined;
    if (data?.state !== 'pending' || (token !== undefined && data.claimToken !== token)) return;
    try {
      await change(ref, snapshot.updateTime!);
    } catch (error) {
      const code = grpcCode(error);
      if (code !== GRPC_STATUS.FAILED_PRECONDITION && code !== GRPC_STATUS.NOT_FOUND) throw error; // changed meanwhile: not ours
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client && this.ownsClient) await (await client).terminate();
  }

  private async ref(sink: string, findingId: string) {
    return (await this.db()).collection(this.collection).doc(FirestoreDeliveryRecordStore.docId(sink, findingId));
  }

  private db(): Promise<Firestore> {
    this.client ??= createFirestore({
      ...(this.options.projectId ? { projectId: this.options.projectId } : {}),
      ...(this.options.databaseId ? { databaseId: this.options.databaseId } : {}),
    }).catch((error: unknown) => {
      this.client = undefined;
      throw error;
    });
    return this.client;
  }
}

const STATES: readonly DeliveryState[] = ['pending', 'delivered', 'resolved'];

function toRecord(data: DocumentData | undefined, sink: string, findingId: string): DeliveryRecord {
  const state = data?.['state'];
  if (!STATES.includes(state as DeliveryState)) {
    throw new Error(`delivery record ${sink}__${findingId} has an unknown state ${JSON.stringify(state)}`);
  }
  const ref = data?.['ref'];
  const lease = data?.['leaseUntilMs'];
  const updatedAt = data?.['updatedAt'];
  const firstClaimed = data?.['firstClaimedMs'];
  return {
    sink,
    findingId,
    state: state as DeliveryState,
    ...(typeof ref === 'string' ? { ref } : {}),
    ...(typeof lease === 'number' ? { leaseUntilMs: lease } : {}),
    ...(typeof firstClaimed === 'number' ? { firstClaimedMs: firstClaimed } : {}),
    updatedAt: typeof updatedAt === 'string' ? updatedAt : '',
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
