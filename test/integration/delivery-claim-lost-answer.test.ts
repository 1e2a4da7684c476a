// A delivery claim is a Firestore create(). The client library retries a commit answered UNAVAILABLE (its config:
// Commit retries UNAVAILABLE and RESOURCE_EXHAUSTED), and a commit that went through but whose answer was lost meets,
// on that retry, the document it just wrote: ALREADY_EXISTS. The store then took its own fresh claim for another
// delivery's: "another delivery holds the claim" until its lease ran out (75 s), every Pub/Sub redelivery meanwhile
// refused, and the delivery that finally took it over was told an earlier attempt might have posted (Slack read the
// channel first). A claim that carries this claim's token is this claim.
import { randomUUID } from 'node:crypto';
import { DocumentReference } from '@google-cloud/firestore';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { FirestoreDeliveryRecordStore } from '../../sinks/firestoreRecords.js';
import { emulators } from './stack.js';

const emu = emulators();

describe.skipIf(!emu)('FirestoreDeliveryRecordStore: a claim whose create went through but whose answer was lost', () => {
  const store = new FirestoreDeliveryRecordStore({ projectId: `demo-lost-${randomUUID().slice(0, 6)}`, collection: `deliveries-${randomUUID().slice(0, 8)}` });
  afterEach(() => vi.restoreAllMocks());
  afterAll(() => store.close());

  it('is still this delivery\'s claim, and a second delivery of the finding is refused', async () => {
    const create = DocumentReference.prototype.create;
    // The commit is written, then the client's retry of it is refused as the document now exists.
    vi.spyOn(DocumentReference.prototype, 'create').mockImplementationOnce(async function (this: DocumentReference, data) {
      await create.call(this, data);
      throw Object.assign(new Error('6 ALREADY_EXISTS: Document already exists'), { code: 6 });
    });
    const finding = 'a'.repeat(32);
    expect(await store.claim('slack', finding, 1_000, 75_000)).toEqual({ claimed: true });
    const other = await store.claim('slack', finding, 2_000, 75_000);
    expect(other).toMatchObject({ claimed: false, record: { state: 'pending', leaseUntilMs: 76_000 } });
    // And it is this store's to release (a retryable failure of its sink), after which a redelivery claims afresh.
    await store.release('slack', finding);
    expect(await store.claim('slack', finding, 3_000, 75_000)).toEqual({ claimed: true });
  });
});
