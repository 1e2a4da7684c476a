// Per-key turn-taking inside one process: transactions on one key run one after the other, others in parallel.
// A store whose transaction awaits between its read and its write (Firestore, or any store with a publish hook)
// would otherwise let two concurrent entries for one service read the same baseline and lose one's update.
export class KeyedTurns {
  /** The tail of each key's queue. */
  private readonly queues = new Map<string, Promise<void>>();

  async run<R>(key: string, work: () => Promise<R>): Promise<R> {
    const previous = this.queues.get(key);
    let done!: () => void;
    const turn = new Promise<void>((resolve) => (done = resolve));
    const queued = previous ? previous.then(() => turn) : turn;
    this.queues.set(key, queued);
    if (previous) await previous;
    try {
      return await work();
    } finally {
      done();
      if (this.queues.get(key) === queued) this.queues.delete(key);
    }
  }
}
