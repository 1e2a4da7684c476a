// `runwatch`: the command-line entry. Each subcommand lives in commands/; this file only dispatches and turns
// errors into exit codes (0 success, 1 I/O or other failure, 2 usage or invalid config).
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError, ConfigUnreadableError } from '../config/load.js';
import { argsErrorMessage, failureMessage, UsageError, usageErrorText, usageReminder, type Command, type CommandIo } from './command.js';
import { replayCommand } from './commands/replay.js';
import { sinkFilterCommand } from './commands/sinkFilter.js';
import { validateConfigCommand } from './commands/validateConfig.js';
import { nearestName } from '../nearestName.js';
import { terminalSafe } from '../untrustedText.js';
import { isReaderGone } from './output.js';

const COMMANDS: readonly Command[] = [replayCommand, validateConfigCommand, sinkFilterCommand];

/** Commands whose modules pull in heavy clients load on demand. */
const LAZY_COMMANDS: Readonly<Record<string, { summary: string; load: () => Promise<Command> }>> = {
  publish: { summary: 'publish log files to the audit topic (feed the live pipeline)', load: async () => (await import('./commands/publish.js')).publishCommand },
  scc: { summary: 'Security Command Center setup: scc create-source --organization O', load: async () => (await import('./commands/scc.js')).sccCommand },
  redrive: { summary: 'send dead letters back to the topic they came from, once their cause is fixed', load: async () => (await import('./commands/redrive.js')).redriveCommand },
  'import-baselines': { summary: "seed the live pipeline's baselines from a replay's --state file", load: async () => (await import('./commands/importBaselines.js')).importBaselinesCommand },
};

function help(): string {
  const lines = ['usage: runwatch <command> [options]', '', 'commands:'];
  for (const c of COMMANDS) lines.push(`  ${c.name.padEnd(18)} ${c.summary}`);
  for (const [name, c] of Object.entries(LAZY_COMMANDS)) lines.push(`  ${name.padEnd(18)} ${c.summary}`);
  lines.push('', 'runwatch <command> --help shows the options of a command; runwatch --version the version.');
  return `${lines.join('\n')}\n`;
}

/**
 * The version in runwatch's package.json: the nearest one above this module, which runs from the sources
 * (functions/cli) or from the build (dist/functions/cli).
 */
function packageVersion(): string {
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    const file = new URL('package.json', dir);
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'runwatch' && typeof manifest.version === 'string') return manifest.version;
    }
    if (new URL('../', dir).href === dir.href) return 'unknown';
  }
}

/** The command a mistyped `name` most likely meant: the one it begins (`validate`), else one a letter or two away. */
function commandMeant(name: string): string | undefined {
  const names = [...COMMANDS.map((c) => c.name), ...Object.keys(LAZY_COMMANDS)];
  const begun = name.length >= 3 ? names.filter((n) => n.startsWith(name)) : [];
  if (begun.length === 1) return begun[0];
  return nearestName(name, names, 3);
}

async function findCommand(name: string): Promise<Command | undefined> {
  const eager = COMMANDS.find((c) => c.name === name);
  if (eager) return eager;
  const lazy = LAZY_COMMANDS[name];
  return lazy ? lazy.load() : undefined;
}

/** `--help` or `-h` among a command's options; after `--` they are operands (`replay -- --help` reads that file). */
function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  const options = end === -1 ? args : args.slice(0, end);
  return options.includes('--help') || options.includes('-h');
}

/**
 * Runs a command; a failed write to stdout (a reader that went away, a full disk) ends it as every other failure
 * does. Only replay watched its stdout: `sink-filter | head -0`, `--help | true` or `validate-config F > /dev/full`
 * ended in Node's "Unhandled 'error' event" and a stack trace. Now a reader that went away is no failure (exit as
 * the command said, like `git log | head`), and any other write error is one line on stderr and exit 1. A failing
 * stderr changes nothing but what the user sees.
 */
export async function main(argv: readonly string[], io: CommandIo): Promise<number> {
  // stderr carries only diagnostics (progress, warnings, the summary, errors). When it fails (`2>&1 | head -1`,
  // `2>/dev/full`), they are dropped and the command goes on: unhandled, the 'error' event ended the process
  // mid-replay and skipped every `finally` (a --state lock stayed behind). Never taken off: later writes may fail too.
  io.stderr.on('error', () => undefined);
  let writeError: Error | undefined;
  const onError = (error: Error): void => {
    writeError ??= error;
  };
  io.stdout.on('error', onError);
  try {
    const code = await dispatch(argv, io);
    // Callbacks run in write order: this one learns how every earlier write went.
    await new Promise<void>((resolve) =>
      io.stdout.write('', (error) => {
        if (error) onError(error);
        resolve();
      }),
    );
    if (writeError === undefined || isReaderGone(writeError) || code !== 0) return code;
    io.stderr.write(`runwatch: cannot write to stdout: ${terminalSafe(writeError.message)}\n`);
    return 1;
  } finally {
    // Kept for errors that come after the last write's callback; a no-op listener then, never an unhandled event.
    io.stdout.off('error', onError);
    io.stdout.on('error', () => undefined);
  }
}

async function dispatch(argv: readonly string[], io: CommandIo): Promise<number> {
  const [name, ...args] = argv;
  if (!name) {
    // A usage error like any other: to stderr, leaving stdout to what a script reads from it.
    io.stderr.write(`runwatch: no command given\n\n${help()}`);
    return 2;
  }
  // `runwatch help replay`, as `git help log`: the command's own help.
  if (name === 'help' && args[0] !== undefined) return dispatch([args[0], '--help'], io);
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(help());
    return 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    io.stdout.write(`runwatch ${packageVersion()}\n`);
    return 0;
  }
  let command: Command | undefined;
  try {
    command = await findCommand(name);
  } catch (error) {
    io.stderr.write(`runwatch: cannot load command ${name}: ${(error as Error).message}\n`);
    return 1;
  }
  if (!command) {
    const meant = commandMeant(name);
    io.stderr.write(`runwatch: unknown command ${terminalSafe(JSON.stringify(name))}${meant ? `; did you mean ${meant}?` : ''}\n\n${help()}`);
    return 2;
  }
  if (asksForHelp(args)) {
    io.stdout.write(`usage: ${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof ConfigUnreadableError) {
      io.stderr.write(`${terminalSafe(error.source)}: cannot read config: ${terminalSafe(error.failure)}\n`);
      return 1;
    }
    if (error instanceof ConfigError) {
      // Paths, keys and values come from the config file: shown escaped, like everything untrusted on a terminal.
      io.stderr.write(`${terminalSafe(error.source)}: invalid config\n${error.problems.map((p) => terminalSafe(`${p.path}: ${p.reason}`)).join('\n')}\n`);
      return 2;
    }
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      // Node's parseArgs words some messages on several lines: each is shown escaped, the breaks kept.
      const message = error instanceof UsageError ? error.message : argsErrorMessage(error); // a command's own parse (validate-config)
      io.stderr.write(`runwatch ${command.name}: ${usageErrorText(message)}\n${usageReminder(command.name, command.usage)}`);
      return 2;
    }
    io.stderr.write(`runwatch ${command.name}: ${terminalSafe(failureMessage(error))}\n`);
    return 1;
  }
}
