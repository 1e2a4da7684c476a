// The one interface every destination implements. `notify` walks a registry of these; it never grows a branch
// per sink. A sink returns a result value instead of throwing, so the caller can tell retryable from permanent.
import type { Finding } from '../functions/findings/finding.js';

export type DeliveryResult =
  | { readonly status: 'delivered'; /** e.g. the Slack message ts or the SCC finding name. */ readonly ref?: string }
  | { readonly status: 'skipped'; readonly reason: string }
  | {
      readonly status: 'failed';
      readonly retryable: boolean;
      readonly reason: string;
      readonly retryAfterMs?: number;
      /**
       * The destination may have taken it all the same (a timeout, Slack's `fatal_error`): a sink without an
       * idempotency key must not send it again at once. Not retried within the call, and deliverOnce keeps the claim.
       */
      readonly mayHaveSent?: boolean;
    };

export interface DeliveryContext {
  /** Epoch ms by which delivery must be finished (the function's deadline); retries stop before it. */
  readonly deadlineMs: number;
  /** A reference returned by an earlier delivery of the same finding (a Slack thread ts), for resolutions. */
  readonly previousRef?: string;
  /**
   * For a resolution: whether its finding went out through this sink. `false` when the resolution came first
   * (Pub/Sub is unordered) and the finding never will: the sink must then report the whole finding, as already
   * resolved, so a brief exposure is never hidden. Set by deliverOnce; absent when nobody knows.
   */
  readonly originalDelivered?: boolean;
  /**
   * An earlier delivery of the same message through this sink began then (epoch ms) and its claim ran out without
   * an answer: it may have reached the destination. A sink without an idempotency key (Slack) looks for it there
   * before sending again. Set by deliverOnce.
   */
  readonly earlierAttemptMs?: number;
  /**
   * For a resolution told `originalDelivered: false` because it took over the original's claim after its lease ran
   * out without an answer: when that delivery of the original began (epoch ms). The original may be at the
   * destination all the same (its instance died after sending, a timeout): a sink that threads resolutions under
   * their original (Slack) looks for it there before reporting the whole finding again. Set by deliverOnce.
   */
  readonly originalAttemptMs?: number;
  /**
   * For a resolution told `originalDelivered: false` whose sink sends the finding as a step of its own before the
   * resolution's (PagerDuty: the trigger, then the resolve): called, and awaited, once that step went out, with its
   * ref. deliverOnce records the original delivered there and then, so whatever happens next (the resolve fails, the
   * instance dies before the records are written) every later delivery sends only the resolution's step and the late
   * original is a duplicate: sent again, the finding would open a new alert after a resolve that went through. Never
   * rejects; set by deliverOnce.
   */
  readonly originalSent?: (ref: string) => Promise<void>;
}

export interface Sink {
  readonly name: string;
  deliver(finding: Finding, context: DeliveryContext): Promise<DeliveryResult>;
  /** Releases clients the sink holds (the SCC gRPC channel); called when the function instance shuts down. */
  close?(): Promise<void>;
}
