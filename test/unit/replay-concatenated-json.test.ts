// JSON documents one after the other in one file: `cat monday.json tuesday.json > week.json` over two
// `gcloud logging read --format=json` exports (arrays), or `jq '.[]' export.json` (pretty-printed objects). Such a file
// is neither NDJSON nor one JSON document, and replay took it whole as one malformed "entry": a week of history gave
// no finding and a summary of "1 entry read". Now each document's entries are replayed, in timestamp order as for one
// array; a document that is broken (a file cut short) is reported, by where it starts, beside the others' entries.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { replay, type ReplayStats } from '../../functions/replay/replay.js';
import { runwatch } from '../support/cli.js';
import { config } from '../support/run.js';

const exportFile = fileURLToPath(new URL('../../examples/logs/2024-05-week-19.json', import.meta.url));
const entries = JSON.parse(readFileSync(exportFile, 'utf8')) as Record<string, unknown>[];
const cfg = config({ changeWindows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }] });

function file(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'runwatch-concat-')), name);
  writeFileSync(path, text);
  return path;
}

async function run(path: string): Promise<{ findings: string[]; stats: ReplayStats }> {
  const findings: Finding[] = [];
  const stats = await replay({ config: cfg, paths: [path], workers: 0, onFinding: (f) => void findings.push(f) });
  return { findings: findings.map((f) => JSON.stringify(f)).sort(), stats };
}

const pretty = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
/** gcloud writes newest first. */
const newestFirst = (list: readonly Record<string, unknown>[]): Record<string, unknown>[] =>
  [...list].sort((a, b) => String(b['timestamp']).localeCompare(String(a['timestamp'])));

describe('replay: JSON documents one after the other in one file', () => {
  const reference = (async () => run(file('all.ndjson', entries.map((e) => JSON.stringify(e)).join('\n') + '\n')))();

  it.each([
    ['two gcloud exports joined by cat (arrays, newest first)', () => pretty(newestFirst(entries.slice(0, 3))) + pretty(newestFirst(entries.slice(3)))],
    ["jq '.[]' output (pretty-printed objects)", () => entries.map((e) => pretty(e)).join('')],
    ['objects on one line, nothing between them', () => entries.map((e) => JSON.stringify(e)).join('') + '\n'],
    ['arrays and objects mixed, blank lines and CRLF between them', () => `\r\n${pretty(entries.slice(0, 2)).replace(/\n/g, '\r\n')}\r\n\r\n${entries.slice(2).map((e) => pretty(e)).join('\n')}`],
  ])('%s: every entry, the findings of the same entries as NDJSON', async (_name, text) => {
    const { findings, stats } = await run(file('week.json', text()));
    const expected = await reference;
    expect(stats.entriesRead).toBe(entries.length);
    expect([...stats.malformed]).toEqual([]);
    expect(findings).toEqual(expected.findings);
    expect(findings.length).toBeGreaterThan(0);
  });

  it.each([
    ['an export, then an empty one (gcloud writes [] when no entry matched)', () => pretty(newestFirst(entries)) + '[]\n'],
    ['an empty export pretty-printed, then an export', () => '[\n]\n' + pretty(newestFirst(entries))],
    ['an empty array, then entries as jq .[] writes them', () => '[\n  ]\n' + entries.map((e) => pretty(e)).join('')],
  ])('%s: an empty array counts as a document, every entry is replayed', async (_name, text) => {
    const { findings, stats } = await run(file('week.json', text()));
    expect(stats.entriesRead).toBe(entries.length);
    expect([...stats.malformed]).toEqual([]);
    expect(findings).toEqual((await reference).findings);
  });

  it.each([
    ['an empty export ([] on one line, as gcloud writes it), then an export', () => '[]\n' + pretty(newestFirst(entries))],
    ["an empty export, a blank line, then entries as jq '.[]' writes them", () => '[]\n\n' + entries.map((e) => pretty(e)).join('')],
    ['two empty exports, then one', () => '[]\n[ ]\n' + pretty(newestFirst(entries))],
    ['three daily exports, the middle one empty ([] on a line of its own)', () => pretty(newestFirst(entries.slice(0, 3))) + '[]\n' + pretty(newestFirst(entries.slice(3)))],
    ['a pretty-printed export, one on a line of its own (jq -c), then another pretty-printed one', () => `${pretty(newestFirst(entries.slice(0, 2)))}${JSON.stringify(newestFirst(entries.slice(2, 4)))}\n${pretty(newestFirst(entries.slice(4)))}`],
    ['an export on one line (jq -c), then a pretty-printed one', () => `${JSON.stringify(newestFirst(entries.slice(0, 3)))}\n${pretty(newestFirst(entries.slice(3)))}`],
    ['an entry on one line (jq -c .[0]), then a pretty-printed export', () => `${JSON.stringify(entries[0])}\n${pretty(newestFirst(entries.slice(1)))}`],
    ["an entry on one line, a blank line, then entries as jq '.[]' writes them", () => `${JSON.stringify(entries[0])}\n\n${entries.slice(1).map((e) => pretty(e)).join('')}`],
  ])('%s: read as documents one after the other, with worker threads or without', async (_name, text) => {
    const path = file('week.json', text());
    const expected = (await reference).findings;
    for (const workers of [0, 2]) {
      const findings: Finding[] = [];
      const stats = await replay({ config: cfg, paths: [path], workers, onFinding: (f) => void findings.push(f) });
      expect({ workers, read: stats.entriesRead, malformed: [...stats.malformed] }).toEqual({ workers, read: entries.length, malformed: [] });
      expect(findings.map((f) => JSON.stringify(f)).sort()).toEqual(expected);
    }
  });

  it('a long export on one line (jq -c), then a short pretty-printed one: the pretty one is a document, not lines of NDJSON', async () => {
    // The check for NDJSON with a broken first line counted the first line's entries against the other lines: 300
    // entries on one line outnumbered the pretty export's 200-odd lines, and each of those was reported as a line
    // that is not JSON, its entry lost.
    const many = Array.from({ length: 300 }, (_, i) => ({ ...entries[i % entries.length]!, insertId: `synthetic-copy-${i}` }));
    const path = file('month-then-day.json', `${JSON.stringify(newestFirst(many))}\n${pretty(newestFirst(entries.slice(0, 1)))}`);
    for (const workers of [0, 2]) {
      const stats = await replay({ config: cfg, paths: [path], workers, onFinding: () => undefined });
      expect({ workers, read: stats.entriesRead, malformed: [...stats.malformed] }).toEqual({ workers, read: many.length + 1, malformed: [] });
    }
  });

  it('empty exports pretty-printed one after the other hold no entry, and nothing malformed', async () => {
    const { stats } = await run(file('empty.json', '[\n]\n[\n  ]\n'));
    expect(stats.entriesRead).toBe(0);
    expect([...stats.malformed]).toEqual([]);
  });

  it('strings holding braces, brackets and escaped quotes do not end a document', async () => {
    const tricky = entries.map((e, i) => ({ ...e, labels: { note: `}{ ][ \\" "}" {"[` + String(i) } }));
    const { stats } = await run(file('tricky.json', tricky.map((e) => pretty(e)).join('')));
    expect(stats.entriesRead).toBe(entries.length);
    expect([...stats.malformed]).toEqual([]);
  });

  it('a document cut short after whole ones: every whole entry replayed, the cut one reported where it starts', async () => {
    const whole = pretty(entries.slice(0, 5));
    const cut = pretty(entries.slice(5)).slice(0, -200);
    const path = file('cut.json', whole + cut);
    const { stats } = await run(path);
    expect(stats.entriesRead).toBe(entries.length); // seven whole entries and the cut one
    const lines = (whole + cut).split('\n');
    const line = lines.findLastIndex((l) => l === '  {') + 1; // where the cut entry starts
    expect([...stats.malformed]).toEqual([['file is neither NDJSON nor one JSON document', 1]]);
    expect(stats.malformedExamples).toHaveLength(1);
    expect(stats.malformedExamples[0]).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}\\[2\\]: file is neither NDJSON nor one JSON document: .*(at the end of the file|end of JSON input)$`));
  });

  it('through the CLI, from standard input too', async () => {
    const text = pretty(newestFirst(entries.slice(0, 4))) + pretty(newestFirst(entries.slice(4)));
    const path = file('week.json', text);
    const fromFile = await runwatch(['replay', '--format', 'ndjson', path]);
    const fromStdin = await runwatch(['replay', '--format', 'ndjson', '-'], text);
    expect(fromFile.code).toBe(0);
    expect(fromFile.stderr).toContain(`${entries.length} entries read`);
    expect(fromFile.stderr).not.toContain('malformed');
    expect(fromStdin.stdout).toBe(fromFile.stdout);
    const ndjson = await runwatch(['replay', '--format', 'ndjson', file('all.ndjson', entries.map((e) => JSON.stringify(e)).join('\n') + '\n')]);
    expect(fromFile.stdout).toBe(ndjson.stdout);
    expect(fromFile.stdout).not.toBe('');
  });
});
