// The README is the manual: what it lists has to follow the code, which moves on without it. These checks read
// both sides (no list of names kept here): every rule of the registry in the README's rule table with its default
// severity, every environment variable the code reads named in the README, every config key of the schema, and
// every command and option `--help` shows, the file names replay reads in a folder, and the rules a delete resolves.
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../functions/cli/main.js';
import { detectors, RULE_IDS } from '../../functions/detectors/index.js';
import { runwatch } from '../support/cli.js';
import { configProblems } from '../support/config.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
/** The README's code blocks, and what it writes in backticks in its text (a span may run over a line break). */
const FENCED = [...README.matchAll(/^```[a-z]*\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
const TICKED = [...README.replace(/^```[a-z]*\n[\s\S]*?^```/gm, '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

describe('the README rule table', () => {
  const rows = new Map([...README.matchAll(/^\| `([a-z0-9-]+)` \|[^\n]*\| ([^|\n]*) \|$/gm)].map((m) => [m[1]!, m[2]!]));

  it('lists every rule of the registry, and no other', () => {
    expect([...rows.keys()].sort()).toEqual([...RULE_IDS].sort());
  });

  it.each(RULE_IDS)('%s: its default severity', (id) => {
    expect(rows.get(id)?.split(' ')[0]).toBe(detectors[id].defaultSeverity);
  });
});

describe('the rules a delete resolves', () => {
  // "Deleting a service clears ... and resolves the `a`, `b` (...) and `c` findings open on it".
  const sentence = /^\*\*Deleted services\.\*\*[\s\S]*?resolves the ([\s\S]*?) findings open on it/m.exec(README)?.[1] ?? '';

  it('are the registry\'s closedByDelete rules, as the Deleted services paragraph lists them', () => {
    const listed = [...sentence.replace(/\([^)]*\)/g, '').matchAll(/`([a-z0-9-]+)`/g)].map((m) => m[1]!);
    expect(listed.sort()).toEqual(RULE_IDS.filter((id) => detectors[id].closedByDelete === true).sort());
  });
});

/** The TypeScript and JavaScript sources under `dir`, recursively. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(ts|js|mjs)$/.test(name) && !name.endsWith('.generated.ts') ? [path] : [];
  });
}

/**
 * Variables the code reads but the README need not name: the operating system's own, and google-auth's
 * METADATA_SERVER_DETECTION, which runwatch never reads for itself (it sets it on the emulator when it is unset).
 */
const NOT_RUNWATCH_SETTINGS = new Set(['PATH', 'HOME', 'METADATA_SERVER_DETECTION']);

describe('the environment variables the code reads', () => {
  const read = new Set<string>();
  for (const file of ['functions', 'sinks', 'bin'].flatMap((dir) => sources(join(ROOT, dir)))) {
    const text = readFileSync(file, 'utf8');
    // process.env.X, process.env['X'], env.X, env['X'] (an env object handed down), required(env, 'X'), optional(env, 'X')
    for (const m of text.matchAll(/\benv(?:\.([A-Z][A-Z0-9_]+)\b|\[['"]([A-Z][A-Z0-9_]+)['"]\])|\b(?:required|optional)\(env, '([A-Z][A-Z0-9_]+)'\)/g)) {
      read.add((m[1] ?? m[2] ?? m[3])!);
    }
  }

  it('are found (the scan still sees the code)', () => {
    expect(read).toContain('RUNWATCH_CONFIG');
    expect(read).toContain('SLACK_BOT_TOKEN');
    expect(read).toContain('LOGGING_API_ENDPOINT');
  });

  it('are each named in the README', () => {
    const unnamed = [...read].filter((name) => !NOT_RUNWATCH_SETTINGS.has(name) && ![...TICKED, ...FENCED].some((t) => new RegExp(`\\b${name}\\b`).test(t)));
    expect(unnamed).toEqual([]);
  });
});

interface SchemaNode {
  readonly $ref?: string;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly items?: SchemaNode;
}

describe('the config keys of the schema', () => {
  const schema = JSON.parse(readFileSync(join(ROOT, 'schemas/config.schema.json'), 'utf8')) as SchemaNode;
  const resolve = (node: SchemaNode): SchemaNode =>
    node.$ref ? resolve(node.$ref.slice(2).split('/').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], schema) as SchemaNode) : node;
  const paths: string[][] = [];
  const walk = (node: SchemaNode, path: string[]): void => {
    const resolved = resolve(node);
    for (const [key, child] of Object.entries(resolved.properties ?? {})) {
      paths.push([...path, key]);
      // channelsBySeverity's keys are the severities, written as values elsewhere: no keys of their own to document.
      if (key !== 'channelsBySeverity') walk(child, [...path, key]);
    }
    if (resolved.items) walk(resolved.items, path);
  };
  walk(schema, []);
  /** The keys the README's YAML examples write. */
  const yamlKeys = new Set(
    FENCED.flatMap((block) => [...block.matchAll(/(?:^\s*-?\s*|[{,]\s*)([A-Za-z-]+):/gm)].map((m) => m[1]!)),
  );

  it('are found (the walk still sees the schema)', () => {
    expect(paths.map((p) => p.join('.'))).toContain('rules.new-image-repository.trustedRepositories');
    expect(paths.map((p) => p.join('.'))).toContain('sinks.slack.channel');
  });

  it('are each documented in the README', () => {
    const undocumented = paths
      .filter((path) => path[0] !== 'sinks' || path.length !== 3 || path[2] === 'minSeverity' || path[2] === 'rules')
      .map((path) => path.at(-1)!)
      .filter((key) => !yamlKeys.has(key) && !TICKED.some((t) => t.split(/[\s.:{},]+/).includes(key)));
    expect([...new Set(undocumented)]).toEqual([]);
  });

  // (`sinks.<name>.minSeverity` names `sinks`; `correlation.waitSeconds` names `correlation`.)

  // A sink's own settings are named with their sink: a bare `source` reads as PagerDuty's payload field, not as a
  // setting. Documented as `sinks.SINK.KEY`, or in backticks in the sink's own section, where `sinks.SINK` is named.
  it('of each sink are documented with their sink', () => {
    const undocumented = paths
      .filter((path) => path[0] === 'sinks' && path.length === 3 && path[2] !== 'minSeverity' && path[2] !== 'rules')
      .filter(([, sink, key]) => {
        if (TICKED.includes(`sinks.${sink}.${key}`)) return false;
        const section = README.split(/^### /m).find((s) => s.split('\n')[0]!.toLowerCase().includes(sink!)) ?? '';
        return !(section.includes(`\`sinks.${sink}`) && section.includes(`\`${key}\``));
      })
      .map((path) => path.join('.'));
    expect(undocumented).toEqual([]);
  });
});

/** What `runwatch ARGS` writes to stdout. */
async function helpText(args: readonly string[]): Promise<string> {
  const stdout = new PassThrough();
  const out: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  expect(await main([...args], { stdin: Readable.from(['']), stdout, stderr: new PassThrough(), env: {} })).toBe(0);
  return Buffer.concat(out).toString();
}

// The Configuration section's example is what a reader copies first: a key renamed or a check added since would
// make it a config runwatch refuses.
describe("the README's YAML config examples", () => {
  const examples = [...README.matchAll(/^```yaml\n([\s\S]*?)^```/gm)].map((m) => m[1]!);

  it('are found', () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  it.each(examples.map((text, i) => [i, text] as const))('#%i is a config validate-config accepts', (_i, text) => {
    expect(configProblems(text)).toEqual([]);
  });
});

describe('the commands and options `--help` shows', () => {
  it('are each in the README', async () => {
    const top = await helpText(['--help']);
    const commands = [...top.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]!);
    expect(commands).toContain('replay');
    const missing: string[] = [];
    // Its own options (--help, --version), not those the command summaries mention.
    const own = top.split('\n').filter((line) => !/^ {2}[a-z]/.test(line)).join('\n');
    for (const [flag] of own.matchAll(/--[a-z][a-z-]+/g)) if (!README.includes(`runwatch ${flag}`) && !README.includes(`runwatch <command> ${flag}`)) missing.push(`runwatch ${flag}`);
    for (const command of commands) {
      if (!README.includes(`runwatch ${command}`)) missing.push(`runwatch ${command}`);
      for (const [flag] of (await helpText([command, '--help'])).matchAll(/--[a-z][a-z-]+/g)) {
        if (!new RegExp(`${flag}(?![a-z-])`).test(README)) missing.push(`${command} ${flag}`);
      }
    }
    expect([...new Set(missing)]).toEqual([]);
  });
});

describe('the file names replay reads in a folder', () => {
  it('are those the README lists', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-readme-'));
    writeFileSync(join(dir, 'notes.md'), '#');
    const run = await runwatch(['replay', '--quiet', dir]);
    const warned = /names not ending in ([^\n]+)/.exec(run.stderr)?.[1];
    expect(warned).toBeDefined();
    const listed = /In a folder only files whose names end in ([^:]+?) \(in any letter case\)/.exec(README.replace(/\s+/g, ' '))?.[1];
    expect(listed).toBeDefined();
    const names = (text: string): string[] => [...text.matchAll(/\.[a-z]+/g)].map((m) => m[0]).sort();
    expect(names(listed!)).toEqual(names(warned!));
  });
});
