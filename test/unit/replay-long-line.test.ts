// A line longer than V8's longest string (about 512 MiB: a month's export written compact on one line, `jq -c .
// export.json`) cannot be joined into one string: replay failed with "Invalid string length", exit 1. Such a line
// is now kept in pieces and cut into its values (largeDocument.ts). A 512 MiB line is too large for this suite, so the
// reader is given a small longest string here: every file is read through that path and compared with what the
// reader gives with V8's own limit (the line joined and parsed whole), and no string longer than the limit is joined.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFileBatches, type InputItem } from '../../functions/replay/input.js';
import { malformedKind } from '../../functions/replay/replay.js';
import { seededRandom } from '../support/random.js';

const exportFile = fileURLToPath(new URL('../../examples/logs/2024-05-week-19.json', import.meta.url));
const week = JSON.parse(readFileSync(exportFile, 'utf8')) as Record<string, unknown>[];
/** The week's entries three times over, under ids of their own: lines of ten and more entries are long lines here. */
const entries: Record<string, unknown>[] = [0, 1, 2].flatMap((k) => week.map((entry) => ({ ...entry, insertId: `${String(entry['insertId'])}-${k}` })));
const newestFirst = [...entries].sort((a, b) => String(b['timestamp']).localeCompare(String(a['timestamp'])));
const compact = (value: unknown): string => JSON.stringify(value);
const pretty = (value: unknown): string => JSON.stringify(value, null, 2);
/** Longer than any entry of the export, pretty-printed inside an array (8.3 KB at most); shorter than two. */
const LONGEST = 9_000;

afterEach(() => {
  vi.restoreAllMocks();
});

async function read(source: string, input?: Readable, longestString?: number): Promise<InputItem[]> {
  const items: InputItem[] = [];
  for await (const batch of readFileBatches(source, input, { longestString })) items.push(...batch);
  return items;
}

/** `text` written to a file of its own. */
function fileOf(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'runwatch-long-line-')), 'export.json');
  writeFileSync(file, text);
  return file;
}

/** What the reader gives for `file` with a small longest string, while no string longer than it is joined. */
async function readInPieces(file: string, input?: Readable): Promise<InputItem[]> {
  const join = Array.prototype.join;
  let longestJoined = 0;
  vi.spyOn(Array.prototype, 'join').mockImplementation(function (this: unknown[], separator?: string) {
    const joined = join.call(this, separator);
    longestJoined = Math.max(longestJoined, joined.length);
    return joined;
  });
  const items = await read(file, input, LONGEST);
  vi.restoreAllMocks();
  expect(longestJoined).toBeLessThanOrEqual(LONGEST);
  return items;
}

/** The items by source: a long line's elements go out in time order, the joined line's in the line's own order. */
const bySource = (items: InputItem[]): InputItem[] => [...items].sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));

describe('a line too long for one string is read in pieces', () => {
  it.each([
    ['one compact array, the whole file (jq -c)', () => `${compact(newestFirst)}\n`],
    ['one compact array without a newline at the end', () => compact(newestFirst)],
    ['CRLF, blank lines around', () => `\r\n\r\n${compact(newestFirst)}\r\n\r\n`],
    ['a compact array, then a pretty-printed export (documents one after the other)', () => `${compact(newestFirst.slice(0, 12))}\n${pretty(newestFirst.slice(12))}\n`],
    ['a pretty-printed export, then a compact array', () => `${pretty(newestFirst.slice(0, 2))}\n${compact(newestFirst.slice(2))}\n`],
    ['compact objects one after the other on one line', () => `${newestFirst.map(compact).join('')}\n`],
  ])('%s: the entries, order and names of the reader that joins the line', async (_name, make) => {
    const file = fileOf(make());
    const whole = await read(file);
    expect(whole.filter((item) => item.kind === 'entry')).toHaveLength(entries.length);
    expect(await readInPieces(file)).toEqual(whole);
  });

  it('a long line among NDJSON lines: its elements, named by its line, and the lines after it as before', async () => {
    const [first, ...rest] = newestFirst;
    const file = fileOf(`${compact(first)}\n${compact(rest.slice(0, 10))}\n${' '.repeat(LONGEST + 1)}\n{not json\n${compact(rest[10])}\n${compact(rest[11])}`);
    const whole = await read(file);
    expect(whole.map((item) => item.source)).toEqual([`${file}:1`, ...Array.from({ length: 10 }, (_, i) => `${file}:2[${i}]`), `${file}:4`, `${file}:5`, `${file}:6`]);
    const pieces = await readInPieces(file);
    expect(bySource(pieces)).toEqual(bySource(whole));
    // What comes before the long line goes out before it, what comes after after it; its own elements in time order
    // (a document's order: the joined line keeps the line's own, newest first here).
    expect(pieces[0]!.source).toBe(`${file}:1`);
    const times = (items: InputItem[]): string[] => items.map((item) => String((item as { value: { timestamp: string } }).value.timestamp));
    expect(times(pieces.slice(1, 11))).toEqual(times(whole.slice(1, 11)).reverse());
    expect(pieces.slice(-3).map((item) => item.source)).toEqual([`${file}:4`, `${file}:5`, `${file}:6`]);
  });

  it('a short array on the first line, then a long one: NDJSON, as when the long line is joined', async () => {
    const file = fileOf(`${compact([newestFirst[0]])}\n${compact(newestFirst.slice(1))}\n`);
    const whole = await read(file);
    expect(whole.map((item) => item.source)).toEqual([`${file}:1[0]`, ...Array.from({ length: entries.length - 1 }, (_, i) => `${file}:2[${i}]`)]);
    expect(bySource(await readInPieces(file))).toEqual(bySource(whole));
  });

  it('a cut-short compact array: the whole entries, and the cut one reported where it starts', async () => {
    const text = compact(newestFirst).slice(0, -500);
    const items = await readInPieces(fileOf(text));
    expect(items.filter((item) => item.kind === 'entry')).toHaveLength(entries.length - 1);
    expect(items.filter((item) => item.kind === 'invalid')).toEqual([
      { kind: 'invalid', reason: expect.stringMatching(/^file is neither NDJSON nor one JSON document: /), source: expect.stringMatching(new RegExp(`export\\.json:1\\[${entries.length - 1}\\]$`)) },
    ]);
  });

  it('a cut-short long line after NDJSON lines is reported as a line that is not JSON, as a short one is', async () => {
    // The file is NDJSON: what is broken is that line, not the file (the reason is what the summary counts under).
    const [first, ...rest] = newestFirst;
    const file = fileOf(`${compact(first)}\n${compact(rest).slice(0, -500)}`);
    const whole = await read(file);
    expect(whole.filter((item) => item.kind === 'invalid')).toEqual([{ kind: 'invalid', reason: 'line is not JSON', source: `${file}:2` }]);
    const invalid = (await readInPieces(file)).filter((item) => item.kind === 'invalid');
    expect(invalid).toEqual([{ kind: 'invalid', reason: expect.stringMatching(/^line is not JSON: /), source: `${file}:2[${rest.length - 1}]` }]);
    expect(malformedKind((invalid[0] as { reason: string }).reason)).toBe('line is not JSON'); // counted with the short ones
  });

  it('from stdin, its chunks split anywhere', async () => {
    const text = `${compact(newestFirst)}\n`;
    const whole = await read('-', Readable.from([Buffer.from(text)]));
    const next = seededRandom(5);
    const chunks: Buffer[] = [];
    for (let i = 0; i < text.length; ) {
      const size = 1 + Math.floor(next() * 3000);
      chunks.push(Buffer.from(text.slice(i, i + size)));
      i += size;
    }
    expect(await readInPieces('-', Readable.from(chunks))).toEqual(whole);
  });
});
