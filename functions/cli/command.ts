// A CLI subcommand. main.ts keeps a registry of these; each command parses its own arguments.
import type { BackoffClock } from '../replay/loggingApi.js';
import { nearestName } from '../nearestName.js';
import { terminalSafe } from '../untrustedText.js';

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

/**
 * The message of an error from `parseArgs` over `options`. For an unknown option a letter or two from one the command
 * takes (`--sinc`), the option meant; else, for a command that takes paths, Node's advice on paths that start with a
 * dash, in words of our own (Node's ends `as in '-- "--foo"`, a quote left open).
 */
export function argsErrorMessage(error: unknown, options: Readonly<Record<string, unknown>> = {}, takesPaths = true): string {
  const message = error instanceof Error ? error.message : String(error);
  if ((error as { code?: unknown }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return message;
  const given = /^Unknown option '(--?)([^']*)'/.exec(message);
  if (!given) return message;
  const [, dashes, name] = given;
  const meant = dashes === '--' ? nearestName(name!, Object.keys(options), 3) : undefined;
  if (meant !== undefined) return `Unknown option '--${name}'; did you mean --${meant}?`;
  const option = `Unknown option '${dashes}${name}'`;
  return takesPaths ? `${option}. A path that starts with '-' goes after '--', as in: -- ${dashes}${name}` : option;
}

/**
 * A failure's message for the user. A file system error names the user's path first, then its code and words: Node's
 * own message puts the system call in front and the path last (`ENOENT: no such file or directory, stat 'x.json'`).
 */
export function failureMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { code, syscall, path } = error as NodeJS.ErrnoException;
  if (typeof code !== 'string' || typeof syscall !== 'string' || typeof path !== 'string' || !error.message.startsWith(`${code}: `)) return error.message;
  const words = error.message.slice(code.length + 2).split(`, ${syscall}`)[0];
  return `${path}: ${code}: ${words}`;
}

/** A usage error's message for a terminal: each line escaped on its own (the parser's own line breaks stay breaks). */
export function usageErrorText(message: string): string {
  return message.split('\n').map(terminalSafe).join('\n');
}

/**
 * What follows a usage error's message: the command's usage line(s), from its `usage` up to the first blank line,
 * and where the rest is. The whole help (35 lines for replay) scrolled the line saying what was wrong off the screen.
 */
export function usageReminder(name: string, usage: string): string {
  const blank = usage.indexOf('\n\n');
  return `usage: ${blank === -1 ? usage : usage.slice(0, blank)}\nrunwatch ${name} --help says more.\n`;
}
