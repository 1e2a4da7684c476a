// stdout as a command writes its results to it, read by something that may go away before they are all written
// (`runwatch replay ... | head -1`). Node reports a write to a closed pipe as an 'error' event (EPIPE); unhandled,
// it ended the process with a stack trace and skipped every `finally` (a --state lock stayed behind). Here it
// becomes an abort the command checks: it stops, cleans up, and treats the reader's leaving as no failure.

/** The error of a write to a pipe whose reader has gone. */
export function isReaderGone(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
}

export class WatchedOutput {
  private readonly controller = new AbortController();

  constructor(private readonly stream: NodeJS.WritableStream) {
    // Never taken off: the 'error' event of a failed write can come after the write's callback (see flushed), and
    // process.stdout stays usable after one, so later writes can fail again.
    stream.on('error', (error: Error) => this.fail(error));
  }

  /** Aborted with the stream's first error: long work stops at its next check. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The reader went away (EPIPE) before everything was written. */
  get readerGone(): boolean {
    return this.signal.aborted && isReaderGone(this.signal.reason);
  }

  /** Writes `text`; throws the stream's error once there was one (nothing more can reach the reader). */
  write(text: string): void {
    this.signal.throwIfAborted();
    this.stream.write(text, (error) => {
      if (error) this.fail(error);
    });
  }

  /** Resolves once everything written so far has been handed over; rejects with the stream's error, if any. */
  async flushed(): Promise<void> {
    // Callbacks run in write order: this one runs after those of every earlier write.
    await new Promise<void>((resolve) =>
      this.stream.write('', (error) => {
        if (error) this.fail(error);
        resolve();
      }),
    );
    this.signal.throwIfAborted();
  }

  private fail(error: Error): void {
    if (!this.signal.aborted) this.controller.abort(error);
  }
}
