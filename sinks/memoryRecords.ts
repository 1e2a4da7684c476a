// An in-memory DeliveryRecordStore: for the CLI (replay to sinks in one process), tests, and as the reference
// behaviour the Firestore store must match. One process only: every method runs to completion before the next
// reads (no await inside), which is what makes `claim` atomic here.
import { claimedAtMs, type ClaimResult, type DeliveryRecord, type DeliveryRecordStore, type DeliveryState } from './deliveryRecords.js';

export class MemoryDeliveryRecordStore implements DeliveryRecordStore {
  private readonly records = new Map<string, DeliveryRecord>();

  /** `now` stamps `updatedAt`; tests pass a fixed clock. */
  constructor(private readonly now: () => number = Date.now) {}

  get(sink: string, findingId: string): Promise<DeliveryRecord | undefined> {
    return Promise.resolve(this.records.get(keyOf(sink, findingId)));
  }

  claim(sink: string, findingId: string, nowMs: number, leaseMs: number): Promise<ClaimResult> {
    const key = keyOf(sink, findingId);
    const existing = this.records.get(key);
    const abandoned = existing?.state === 'pending' && (existing.leaseUntilMs ?? 0) <= nowMs;
    if (existing && !abandoned) return Promise.resolve({ claimed: false, record: existing });
    const firstClaimedMs = abandoned ? claimedAtMs(existing, leaseMs, nowMs) : undefined;
    this.records.set(key, { sink, findingId, state: 'pending', leaseUntilMs: nowMs + leaseMs, ...(firstClaimedMs !== undefined ? { firstClaimedMs } : {}), updatedAt: iso(nowMs) });
    return Promise.resolve(firstClaimedMs !== undefined ? { claimed: true, takenOverFromMs: firstClaimedMs } : { claimed: true });
  }

  complete(sink: string, findingId: string, state: Exclude<DeliveryState, 'pending'>, ref?: string): Promise<void> {
    const key = keyOf(sink, findingId);
    // Keep the earlier ref when none is given: a resolution must not lose the Slack thread ts of the original.
    const keptRef = ref ?? this.records.get(key)?.ref;
    this.records.set(key, { sink, findingId, state, ...(keptRef !== undefined ? { ref: keptRef } : {}), updatedAt: iso(this.now()) });
    return Promise.resolve();
  }

  release(sink: string, findingId: string): Promise<void> {
    const key = keyOf(sink, findingId);
    // Only a pending claim is dropped: a release racing a completed delivery must not erase the record.
    if (this.records.get(key)?.state === 'pending') this.records.delete(key);
    return Promise.resolve();
  }

  expire(sink: string, findingId: string): Promise<void> {
    const key = keyOf(sink, findingId);
    const existing = this.records.get(key);
    if (existing?.state === 'pending') this.records.set(key, { ...existing, leaseUntilMs: 0 });
    return Promise.resolve();
  }

  /** Every record, for tests and the CLI summary. */
  all(): readonly DeliveryRecord[] {
    return [...this.records.values()];
  }
}

function keyOf(sink: string, findingId: string): string {
  return `${sink}\u0000${findingId}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
