// Delivery records: one per (sink, finding id), so a redelivered finding is never sent twice to a sink that has
// no idempotency key of its own (Slack). Created with a create-if-absent (Firestore `create()`) before sending.
export type DeliveryState = 'pending' | 'delivered' | 'resolved';

export interface DeliveryRecord {
  readonly sink: string;
  readonly findingId: string;
  readonly state: DeliveryState;
  /** What the sink returned (Slack message ts, SCC finding name), for threading and resolutions. */
  readonly ref?: string;
  /** A pending claim older than this (epoch ms) is considered abandoned (the instance died mid-delivery). */
  readonly leaseUntilMs?: number;
  /**
   * A pending claim that took over expired ones: when the first of them was made (epoch ms). Each may have sent, so
   * a sink looking for its earlier message looks from there (see ClaimResult.takenOverFromMs).
   */
  readonly firstClaimedMs?: number;
  readonly updatedAt: string;
}

export type ClaimResult =
  | {
      readonly claimed: true;
      /**
       * When this claim took over an earlier one whose lease ran out without an answer (its instance died, or its
       * sink may have sent: see deliverOnce), when that claim, or the first of the claims it had itself taken over,
       * was made (epoch ms). Absent for a fresh claim.
       */
      readonly takenOverFromMs?: number;
    }
  | { readonly claimed: false; readonly record: DeliveryRecord };

export interface DeliveryRecordStore {
  get(sink: string, findingId: string): Promise<DeliveryRecord | undefined>;
  /**
   * Creates a `pending` record if none exists (or the existing pending lease has expired) and returns claimed;
   * otherwise returns the existing record untouched. Must be atomic across instances.
   */
  claim(sink: string, findingId: string, nowMs: number, leaseMs: number): Promise<ClaimResult>;
  /** Moves the record to `delivered` (or `resolved`), keeping `ref` when given. */
  complete(sink: string, findingId: string, state: Exclude<DeliveryState, 'pending'>, ref?: string): Promise<void>;
  /** Drops a pending claim after a retryable failure, so the redelivery may try again. */
  release(sink: string, findingId: string): Promise<void>;
  /**
   * Ends a pending claim of ours at once without dropping it: the next claim takes it over and is told when the first
   * of the claims it stands for was made (takenOverFromMs). For stepping back from a claim that stands for an attempt
   * that may have sent. Like release, it leaves anything but our own pending claim untouched.
   */
  expire(sink: string, findingId: string): Promise<void>;
}

/**
 * When the pending claim `record` was made (its `updatedAt`), or the first claim it took over (`firstClaimedMs`);
 * for an unreadable stamp, a lease of `leaseMs` before
 * the claim ran out, else `nowMs` less that lease.
 */
export function claimedAtMs(record: DeliveryRecord, leaseMs: number, nowMs: number): number {
  if (record.firstClaimedMs !== undefined) return record.firstClaimedMs;
  const stamped = Date.parse(record.updatedAt);
  return Number.isFinite(stamped) ? stamped : (record.leaseUntilMs ?? nowMs) - leaseMs;
}
