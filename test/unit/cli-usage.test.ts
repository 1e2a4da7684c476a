// Usage errors (exit 2) as the user reads them on stderr.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../functions/cli/main.js';
import { runwatch } from '../support/cli.js';

describe('usage errors from the option parser', () => {
  // parseArgs words "argument is ambiguous" on three lines; the whole message went through terminalSafe, so the
  // user read "ambiguous.\u000aDid you forget ...". Each line is escaped on its own now: what the user typed
  // stays escaped, the parser's own line breaks stay line breaks.
  it.each([
    [['replay', '--workers', '-1', 'examples/logs'], "Option '--workers' argument is ambiguous.\nDid you forget to specify the option argument for '--workers'?\n"],
    [['replay', '--format', '-x', 'examples/logs'], "Option '--format' argument is ambiguous.\nDid you forget to specify the option argument for '--format'?\n"],
    [['replay', '--bo\u001b[2Jgus', 'examples/logs'], "Unknown option '--bo\\u001b[2Jgus'"],
    [['replay', '--since', '-\u202e', 'examples/logs'], "Option '--since' argument is ambiguous.\nDid you forget to specify the option argument for '--since'?\nTo specify an option argument starting with a dash use '--since=-XYZ'."],
  ])('%j', async (args, expected) => {
    const stderr = new PassThrough();
    const err: Buffer[] = [];
    stderr.on('data', (c: Buffer) => err.push(c));
    const exit = await main([...args], { stdin: Readable.from(['']), stdout: new PassThrough(), stderr, env: {} });
    const text = Buffer.concat(err).toString();
    expect(exit).toBe(2);
    expect(text).toContain(expected);
    expect(text).not.toContain('\\u000a');
    expect(text).not.toMatch(/[\u001b\u202e]/);
  });
});

describe('runwatch --version', () => {
  it.each([['--version'], ['-V'], ['version']])('%s prints the package version on stdout', async (flag) => {
    const stdout = new PassThrough();
    const out: Buffer[] = [];
    stdout.on('data', (c: Buffer) => out.push(c));
    const exit = await main([flag], { stdin: Readable.from(['']), stdout, stderr: new PassThrough(), env: {} });
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(exit).toBe(0);
    expect(Buffer.concat(out).toString()).toBe(`runwatch ${version}\n`);
  });
});

describe('runwatch COMMAND --help', () => {
  // sink-filter and validate-config printed their usage line alone: nothing said what they do.
  it.each([['replay'], ['validate-config'], ['sink-filter'], ['publish'], ['scc'], ['redrive'], ['import-baselines']])('%s says what the command does, below its usage line', async (name) => {
    const run = await runwatch([name, '--help']);
    const lines = run.stdout.split('\n');
    const blank = lines.indexOf('');
    expect(run.code).toBe(0);
    expect(lines[0]).toMatch(new RegExp(`^usage: runwatch ${name}\\b`));
    // The usage (one form or more), a blank line, then a sentence.
    expect(blank).toBeGreaterThan(0);
    expect(lines[blank + 1]).toMatch(/^[A-Z].{30,}/);
  });
});

describe('an unknown option a few letters from one the command takes', () => {
  it.each([
    [['replay', '--sinc', '2024-05-01', 'examples/logs'], "runwatch replay: Unknown option '--sinc'; did you mean --since?\n"],
    [['replay', '--reorder-bufer', '10', 'examples/logs'], "runwatch replay: Unknown option '--reorder-bufer'; did you mean --reorder-buffer?\n"],
    [['redrive', '--dryrun'], "runwatch redrive: Unknown option '--dryrun'; did you mean --dry-run?\n"],
    [['publish', '--topc', 't', 'examples/logs'], "runwatch publish: Unknown option '--topc'; did you mean --topic?\n"],
    [['scc', 'create-source', '--organisation', '123'], "runwatch scc: Unknown option '--organisation'; did you mean --organization?\n"],
  ])('%j names the option meant', async (args, expected) => {
    const run = await runwatch(args);
    expect(run.code).toBe(2);
    expect(run.stderr.startsWith(expected)).toBe(true);
  });

  it.each([
    [['replay', '--bogus', 'examples/logs'], "runwatch replay: Unknown option '--bogus'. A path that starts with '-' goes after '--', as in: -- --bogus\n"],
    [['replay', '-z', 'examples/logs'], "runwatch replay: Unknown option '-z'. A path that starts with '-' goes after '--', as in: -- -z\n"],
    [['validate-config', '--strict', 'x.yaml'], "runwatch validate-config: Unknown option '--strict'. A path that starts with '-' goes after '--', as in: -- --strict\n"],
    [['sink-filter', '--json'], "runwatch sink-filter: Unknown option '--json'\n"],
    [['scc', 'create-source', '--zz'], "runwatch scc: Unknown option '--zz'\n"],
    [['redrive', '--zz'], "runwatch redrive: Unknown option '--zz'\n"],
  ])("%j, far from every option: the parser's advice on paths (for a command that takes them), its quotes balanced", async (args, expected) => {
    const run = await runwatch(args);
    expect(run.code).toBe(2);
    expect(run.stderr.startsWith(expected)).toBe(true);
  });

  it.each([['publish'], ['redrive'], ['scc', 'create-source']])('%s shows an unknown option escaped, as replay does', async (...command) => {
    const run = await runwatch([...command, '--to\u001b[2Jpic']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--to\\u001b[2Jpic');
    expect(run.stderr).not.toContain('\u001b');
  });
});

describe('an unknown command', () => {
  it.each([
    ['replya', 'runwatch: unknown command "replya"; did you mean replay?\n'],
    ['validate', 'runwatch: unknown command "validate"; did you mean validate-config?\n'],
    ['redrvie', 'runwatch: unknown command "redrvie"; did you mean redrive?\n'],
    ['nonsense', 'runwatch: unknown command "nonsense"\n'],
  ])('%s: the command meant, when one is near, then the list of commands', async (name, first) => {
    const run = await runwatch([name]);
    expect(run.code).toBe(2);
    expect(run.stderr.startsWith(first)).toBe(true);
    expect(run.stderr).toContain('\nusage: runwatch <command> [options]\n');
  });

  it('is shown escaped: JSON quoting leaves C1 controls and bidi marks as they are', async () => {
    const run = await runwatch(['\u009b2J\u202e']);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toMatch(/[\u009b\u202e]/);
  });
});

describe('validate-config names the file it checked', () => {
  it('escaped: a file name from a downloaded tree can hold terminal controls', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'runwatch-valid-')), 'ok\u001b[2J\u202e.yaml');
    writeFileSync(file, 'timezone: UTC\n');
    const run = await runwatch(['validate-config', file]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('ok\\u001b[2J');
    expect(run.stdout).toMatch(/: valid\n$/);
    expect(run.stdout).not.toMatch(/[\u001b\u202e]/);
  });
});

describe('replay --publish: the project the topic is put in', () => {
  // The functions refuse to start on such a GOOGLE_CLOUD_PROJECT; the replay read every entry and then failed each publish.
  it('a GOOGLE_CLOUD_PROJECT that is no project id (a trailing newline) is a usage error (exit 2) before anything is read', async () => {
    const run = await runwatch(['replay', '--quiet', '--publish', 'findings', 'examples/logs'], '', { env: { GOOGLE_CLOUD_PROJECT: 'acme-prod\n', PUBSUB_EMULATOR_HOST: '127.0.0.1:9' } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('GOOGLE_CLOUD_PROJECT');
    expect(run.stdout).toBe('');
  });
});

describe('replay --workers and --reorder-buffer take decimal whole numbers only', () => {
  // Number() read '' and ' ' as 0 (so `--workers ''`, an unset shell variable, silently ran without worker threads)
  // and '0x10', '1e3' or ' 5' as numbers the help never offers.
  it.each([
    [['--workers', ''], '--workers must be an integer from 0 to 64'],
    [['--workers', ' '], '--workers must be an integer from 0 to 64'],
    [['--workers', '0x2'], '--workers must be an integer from 0 to 64'],
    [['--reorder-buffer', '0x10'], '--reorder-buffer must be a positive integer'],
    [['--reorder-buffer', ' 5'], '--reorder-buffer must be a positive integer'],
    [['--reorder-buffer', '1e3'], '--reorder-buffer must be a positive integer'],
    // Digits too many for a number: Number() makes them Infinity, a buffer without bound.
    [['--reorder-buffer', `1${'0'.repeat(400)}`], '--reorder-buffer must be a positive integer'],
    [['--workers', `1${'0'.repeat(400)}`], '--workers must be an integer from 0 to 64'],
  ])('%j is a usage error', async (option, message) => {
    const run = await runwatch(['replay', '--quiet', ...option, 'examples/logs']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`runwatch replay: ${message}`);
    expect(run.stdout).toBe('');
  });

  it.each([[['--workers', '0']], [['--workers', '2']], [['--reorder-buffer', '1000']]])('%j is taken', async (option) => {
    const run = await runwatch(['replay', '--quiet', '--format', 'ndjson', ...option, 'examples/logs']);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toBe('');
  });
});

describe('a usage error, on a terminal', () => {
  // Each usage error printed the command's whole --help after its one line (35 lines for replay): the line saying
  // what was wrong scrolled off the top of the screen, under option texts the user did not ask for. Now the error,
  // the command's usage line(s), and where the rest is.
  it.each([
    [['replay', '--format', 'yaml', 'examples/logs']],
    [['replay', '--bogus', 'examples/logs']],
    [['replay', '--since', '2024-02-30', 'examples/logs']],
    [['replay']],
    [['validate-config']],
    [['sink-filter', 'extra']],
    [['publish']],
    [['publish', '--topc', 't', 'examples/logs']],
    [['scc']],
    [['redrive', '--dryrun']],
  ])('%j: the error, the usage lines, and a pointer to --help', async (args) => {
    const name = args[0]!;
    const help = (await runwatch([name, '--help'])).stdout.split('\n');
    const synopsis = help.slice(0, help.indexOf(''));
    const description = help[help.indexOf('') + 1]!;
    const run = await runwatch(args);
    expect(run.code).toBe(2);
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^runwatch ${name}: \\S`));
    expect(run.stderr).toContain(`${synopsis.join('\n')}\n`);
    expect(run.stderr).not.toContain(description);
    expect(lines.at(-1)).toBe(`runwatch ${name} --help says more.`); // validate-config and sink-filter take no options
    expect(lines.length).toBeLessThanOrEqual(1 + synopsis.length + 2);
  });
});

describe('small usage slips, each named', () => {
  it('runwatch help CMD prints what CMD --help prints', async () => {
    for (const name of ['replay', 'validate-config', 'publish']) {
      const viaHelp = await runwatch(['help', name]);
      const viaFlag = await runwatch([name, '--help']);
      expect(viaHelp.code).toBe(0);
      expect(viaHelp.stdout).toBe(viaFlag.stdout);
      expect(viaHelp.stdout).toMatch(new RegExp(`^usage: runwatch ${name}`));
    }
    const unknown = await runwatch(['help', 'replya']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^runwatch: unknown command "replya"; did you mean replay\?/);
  });

  it.each([
    [['replay', '-', '-']],
    [['replay', '--workers', '2', '-', 'examples/logs', '-']],
  ])('%j: standard input named twice is a usage error (it can be read once)', async (args) => {
    const run = await runwatch(args, '');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^runwatch replay: - \(standard input\) is named 2 times; it can be read once\n/);
  });

  it.each([
    [['replay', '--since', '2024-05-20', '00:00:00', 'examples/logs'], '00:00:00', "--since '2024-05-20 00:00:00'"],
    [['replay', '--until', '2024-05-20', '23:59:59.5Z', 'examples/logs'], '23:59:59.5Z', "--until '2024-05-20 23:59:59.5Z'"],
    [['replay', '--since', '2024-05-20', '10:30', 'examples/logs'], '10:30', "--since '2024-05-20 10:30:00'"],
    [['replay', '--since', '2024-05-01', '--until', '2024-05-20', '10:30', 'examples/logs'], '10:30', "--since '2024-05-20 10:00:00'"],
  ])('%j: an unquoted time of day after --since/--until is named as such, not as a missing file', async (args, time, quoted) => {
    const run = await runwatch(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`runwatch replay: no file "${time}": the time of a --since or --until with a space in it? Quote the whole value: ${quoted}\n`);
  });

  it('a file named like a time of day that exists is read as any file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-timefile-'));
    writeFileSync(join(dir, '10:30'), readFileSync('examples/logs/2024-05-week-21.ndjson'));
    const run = await runwatch(['replay', '--format', 'ndjson', '--since', '2024-05-01', join(dir, '10:30')]);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toBe('');
  });
});

describe('--since and --until as config freezes take them', () => {
  // A freeze takes `2024-05-20T10:30` (no seconds); --since refused it as "not an RFC 3339 time".
  it.each([
    ['2024-05-21T18:00', '2024-05-21T18:00:00Z'],
    ['2024-05-21 18:00', '2024-05-21T18:00:00Z'],
    ['2024-05-21T20:00+02:00', '2024-05-21T18:00:00Z'],
    ['2024-05-21t18:00z', '2024-05-21T18:00:00Z'],
  ])('--since %s replays what --since %s does', async (short, full) => {
    const a = await runwatch(['replay', '--format', 'ndjson', '--since', short, 'examples/logs']);
    const b = await runwatch(['replay', '--format', 'ndjson', '--since', full, 'examples/logs']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).not.toBe('');
  });

  it.each([
    [['--since', '2024-05-01', '--since', '2024-05-20'], '--since'],
    [['--until', '2024-05-01', '--until=2024-05-20'], '--until'],
  ])('%j: given twice is a usage error (the first was dropped silently)', async (flags, flag) => {
    const run = await runwatch(['replay', ...flags, 'examples/logs']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^runwatch replay: ${flag} is given twice; give it once\\n`));
  });
});

describe('replay options that take one value, given twice', () => {
  // parseArgs keeps the last of an option given twice, and replay refused that for --since and --until only. A user
  // who layers configs as `helm -f base -f prod` does (`--config base.yaml --config prod.yaml`) replayed with
  // prod.yaml alone: base.yaml's windows, exceptions and trusted repositories were gone, without a word. Likewise a
  // second --state (whose baselines were then read and written?), --format, --publish, --workers, --reorder-buffer
  // and --filter. Each is a usage error now, before anything is read; --from-logging repeats by design.
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-twice-'));
  it.each([
    [['--config', 'examples/runwatch.yaml', '--config', 'examples/runwatch.yaml', 'examples/logs'], '--config'],
    [['--state', join(dir, 'a.json'), `--state=${join(dir, 'b.json')}`, 'examples/logs'], '--state'],
    [['--format', 'json', '--format', 'ndjson', 'examples/logs'], '--format'],
    [['--publish', 'findings', '--publish', 'other', 'examples/logs'], '--publish'],
    [['--workers', '0', '--workers', '2', 'examples/logs'], '--workers'],
    [['--reorder-buffer', '10', '--reorder-buffer', '20', 'examples/logs'], '--reorder-buffer'],
    // An empty range too, so that before the fix this stopped with a usage error rather than calling the API.
    [['--from-logging', 'acme-prod', '--since', '2024-05-01', '--until', '2024-04-01', '--filter', 'a', '--filter', 'b'], '--filter'],
  ])('%j: a usage error naming the option', async (args, flag) => {
    // A project no topic can be in: before the fix, --publish stopped at it (exit 2), reaching for no Pub/Sub.
    const run = await runwatch(['replay', '--quiet', ...args], '', { env: { GOOGLE_CLOUD_PROJECT: 'acme-prod\n', PUBSUB_EMULATOR_HOST: '127.0.0.1:9' } });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^runwatch replay: ${flag} is given twice; give it once`));
    expect(run.stdout).toBe('');
  });

  it('--config twice says that configs are not merged', async () => {
    const run = await runwatch(['replay', '--config', 'examples/runwatch.yaml', '--config', 'examples/runwatch.yaml', 'examples/logs']);
    expect(run.stderr).toContain('runwatch replay: --config is given twice; give it once: one config file is read, never several merged\n');
  });

  it.each([
    [['--from-logging', 'acme-prod', '--from-logging', 'acme-staging', '--since', '2024-05-01', '--until', '2024-04-01']],
    [['--quiet', '--quiet', 'examples/logs']],
  ])('%j: options that may repeat are taken', async (args) => {
    const run = await runwatch(['replay', ...args]);
    expect(run.stderr).not.toContain('given twice');
  });
});
