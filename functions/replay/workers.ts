// Worker-thread plumbing shared by both parallel replay modes (parse-only workers, parallel.ts; engine workers,
// partition.ts): finding the compiled worker modules, and the requests waiting for the workers' answers.
import { existsSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';

/**
 * A compiled worker module: beside this one when it runs compiled, or the build output when it runs from
 * TypeScript source (the test runner; `npm test` builds first). Without it replay does the work on the main thread.
 */
export function compiledWorker(name: 'worker.js' | 'engineWorker.js'): URL | undefined {
  for (const candidate of [new URL(`./${name}`, import.meta.url), new URL(`../../dist/functions/replay/${name}`, import.meta.url)]) {
    if (candidate.protocol === 'file:' && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Requests sent to worker threads, waiting for their answers by id. Once a worker fails, every request in flight
 * rejects (not only the newest), and so does every later one, at once.
 */
export class Requests<T> {
  private readonly waiting = new Map<number, { resolve: (answer: T) => void; reject: (error: Error) => void }>();
  private failure?: Error;

  /** The answer to request `id`; `send` posts the request (it is not called once the workers failed). */
  track(id: number, send: () => void): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      send();
    });
  }

  settle(id: number, answer: T): void {
    this.waiting.get(id)?.resolve(answer);
    this.waiting.delete(id);
  }

  fail(error: Error): void {
    this.failure ??= error;
    for (const pending of this.waiting.values()) pending.reject(this.failure);
    this.waiting.clear();
  }

  /**
   * Fails the requests when `worker` reports an error or stops: a worker that stops before its answers (killed,
   * out of memory) must not leave the replay waiting. `name` says which worker in the message.
   */
  watch(worker: Worker, name: string): void {
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`${name} stopped (exit code ${code})`)));
  }
}
