// A JSON document over V8's longest string (about 512 MiB: a month of a busy organization's `gcloud logging read
// --format=json`) cannot be joined into one string to be parsed: replay failed with "Invalid string length", exit 1.
// Such a document is cut into its values from the file's lines instead (largeDocument.ts). A 512 MiB file is too
// large for this suite, so the cutting is checked here against the whole-document reader on the same texts: the
// same entries, in the same order, under the same names, however the text is split into pieces.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readFileBatches, type InputItem } from '../../functions/replay/input.js';
import { documentPieces, largeDocumentItems } from '../../functions/replay/largeDocument.js';
import { seededRandom } from '../support/random.js';

const exportFile = fileURLToPath(new URL('../../examples/logs/2024-05-week-19.json', import.meta.url));
const entries = JSON.parse(readFileSync(exportFile, 'utf8')) as Record<string, unknown>[];
const newestFirst = [...entries].sort((a, b) => String(b['timestamp']).localeCompare(String(a['timestamp'])));
const pretty = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
const tricky = entries.map((e, i) => ({ ...e, labels: { note: `}{ ][ \\" "}" {"[ , ${i}` } }));

/** What the whole-document reader gives for `text` (as a file named `source`). */
async function wholeReader(text: string): Promise<{ items: InputItem[]; source: string }> {
  const source = join(mkdtempSync(join(tmpdir(), 'runwatch-large-')), 'export.json');
  writeFileSync(source, text);
  const items: InputItem[] = [];
  for await (const batch of readFileBatches(source)) items.push(...batch);
  return { items, source };
}

/** `text` as the reader holds a document: its lines, each followed by a '\n' of its own. */
function asLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.flatMap((line) => [line, '\n']);
}

/** `text` cut at random places (seeded), down to single characters: the cutting must not depend on where. */
function atRandom(text: string, seed: number): string[] {
  const next = seededRandom(seed);
  const out: string[] = [];
  for (let i = 0; i < text.length; ) {
    const size = 1 + Math.floor(next() * (next() < 0.3 ? 3 : 400));
    out.push(text.slice(i, i + size));
    i += size;
  }
  return out;
}

const cutUp = (source: string, segments: readonly string[]): InputItem[] => [...largeDocumentItems(source, segments, 1)].flat();

describe('a document too large for one string is cut into its values', () => {
  it.each([
    ['one pretty-printed array, newest first (gcloud)', () => pretty(newestFirst)],
    ['two arrays one after the other (cat of two exports)', () => pretty(newestFirst.slice(0, 3)) + pretty(newestFirst.slice(3))],
    ["pretty-printed objects one after the other (jq '.[]')", () => newestFirst.map((e) => pretty(e)).join('')],
    ['strings holding brackets, quotes and escapes', () => pretty(tricky)],
    ['CRLF line ends and blank lines', () => `\r\n${pretty(newestFirst).replace(/\n/g, '\r\n')}\r\n`],
  ])('%s: the entries, order and names of the whole-document reader', async (_name, make) => {
    const text = make();
    const whole = await wholeReader(text);
    expect(whole.items.every((item) => item.kind === 'entry')).toBe(true);
    expect(whole.items).toHaveLength(entries.length);
    expect(cutUp(whole.source, asLines(text))).toEqual(whole.items);
    for (const seed of [1, 2, 3]) expect(cutUp(whole.source, atRandom(text, seed))).toEqual(whole.items);
  });

  it('null, numbers and strings among the elements are values of their own (reported, as an array of them is)', () => {
    const pieces = [...documentPieces(['[1, "a,]b", null,', '\n {"x": [1, {"y": "}"}]}, true]\n'], 1)];
    expect(pieces.map((p) => [p.text, p.line, p.element, p.cut])).toEqual([
      ['1', 1, 0, false],
      ['"a,]b"', 1, 1, false],
      ['null', 1, 2, false],
      ['{"x": [1, {"y": "}"}]}', 2, 3, false],
      ['true', 2, 4, false],
    ]);
  });

  it('a file cut short: the whole values go out in time order, the cut one is reported where it starts', () => {
    const text = pretty(newestFirst).slice(0, -300);
    const items = cutUp('export.json', atRandom(text, 7));
    const invalid = items.filter((item) => item.kind === 'invalid');
    expect(invalid).toEqual([{ kind: 'invalid', reason: expect.stringMatching(/^file is neither NDJSON nor one JSON document: .*(at the end of the file|end of JSON input)$/), source: `export.json[${entries.length - 1}]` }]);
    const times = items.flatMap((item) => (item.kind === 'entry' ? [String((item.value as { timestamp: string }).timestamp)] : []));
    expect(times).toHaveLength(entries.length - 1);
    expect(times).toEqual([...times].sort());
  });

  it('stray characters between top-level values are values of their own, which do not parse', () => {
    const text = `${JSON.stringify(entries[0])},\n${JSON.stringify(entries[1])}\n]`;
    const items = cutUp('x.json', asLines(text));
    expect(items.filter((item) => item.kind === 'entry')).toHaveLength(2);
    expect(items.filter((item) => item.kind === 'invalid').map((item) => item.source)).toEqual(['x.json:1', 'x.json:3']);
  });
});
