// A CLI subcommand. main.ts keeps a registry of these; each command parses its own arguments.
import type { BackoffClock } from '../replay/loggingApi.js';

export interface CommandIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** How commands that call an API wait before a retry; tests pass one that does not wait. Default: real time. */
  readonly backoffClock?: BackoffClock;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  /** Exit code: 0 success, 1 failure independent of findings (I/O), 2 usage or invalid config. */
  run(args: readonly string[], io: CommandIo): Promise<number>;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}
