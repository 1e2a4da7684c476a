// Publishing many messages from the CLI (`runwatch publish`, `replay --publish`) without waiting for each: a bounded
// number in flight, and an account of what got out.
import { errorMessage } from '../errors.js';
import type { MessagePublisher } from './publisher.js';

/**
 * Publishes in flight before waitForRoom waits: the client library batches them, and each has a deadline from when
 * it was handed over, so a backlog without bound would time out (and hold every message in memory) on a slow topic.
 */
export const MAX_IN_FLIGHT = 500;

export interface PublishCount {
  readonly published: number;
  readonly failed: number;
  /** The first failure: where its message came from (`label`), and the client library's message. */
  readonly firstError?: string;
}

export class PublishTracker {
  private published = 0;
  private failed = 0;
  private firstError: string | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly publisher: MessagePublisher) {}

  /** Publishes one message; its outcome is counted (never thrown), and told by finish(). */
  publish(topic: string, data: Buffer, attributes: Readonly<Record<string, string>>, label?: string): void {
    const sent = this.publisher.publish(topic, data, attributes).then(
      () => {
        this.published++;
      },
      (error: unknown) => {
        this.failed++;
        this.firstError ??= label === undefined ? errorMessage(error) : `${label}: ${errorMessage(error)}`;
      },
    );
    const tracked = sent.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Resolves once fewer than MAX_IN_FLIGHT publishes are in flight. */
  async waitForRoom(): Promise<void> {
    while (this.inFlight.size >= MAX_IN_FLIGHT) await Promise.race(this.inFlight);
  }

  /** What got out and what did not so far, without waiting for the publishes still in flight. */
  soFar(): PublishCount & { readonly inFlight: number } {
    return { published: this.published, failed: this.failed, inFlight: this.inFlight.size, ...(this.firstError !== undefined ? { firstError: this.firstError } : {}) };
  }

  /** Waits for every publish still in flight; what got out and what did not. */
  async finish(): Promise<PublishCount> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    return { published: this.published, failed: this.failed, ...(this.firstError !== undefined ? { firstError: this.firstError } : {}) };
  }
}
