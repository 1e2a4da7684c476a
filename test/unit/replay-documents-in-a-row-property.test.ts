// Property: however real entries are split into JSON documents written one after the other in one file (arrays,
// empty ones included, and objects; pretty-printed or on a line of their own; blank lines and CRLF between), the
// sequential reader gives every entry once and nothing malformed, each named by the line its value starts on.
// Seeded (test/support/random.ts): a failure repeats with its seed. (Values that start on one line share its name.)
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readFileBatches, type InputItem } from '../../functions/replay/input.js';
import { seededRandom } from '../support/random.js';

const corpus = fileURLToPath(new URL('../fixtures/corpus/', import.meta.url));
const entries = readdirSync(corpus)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name) => JSON.parse(readFileSync(join(corpus, name), 'utf8')) as unknown)
  .filter((value) => value !== null && typeof value === 'object' && !Array.isArray(value));

/** Entries in random documents: the first pretty-printed or an empty export's `[]`, later ones in any form. */
function documents(seed: number): { text: string; placed: unknown[] } {
  const next = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const rest = entries.slice(0, 1 + Math.floor(next() * entries.length));
  let text = '';
  const placed: unknown[] = [];
  let first = true;
  while (rest.length > 0 || first) {
    const kind = pick(['array', 'array', 'empty', 'object']);
    const value = kind === 'object' ? rest.shift() : kind === 'empty' ? [] : rest.splice(0, 1 + Math.floor(next() * 4));
    if (value === undefined) continue;
    placed.push(...(Array.isArray(value) ? value : [value]));
    const oneLine = !first && next() < 0.3;
    text += oneLine || kind === 'empty' ? JSON.stringify(value) : JSON.stringify(value, null, pick([1, 2, '\t']));
    text += pick(['\n', '\n', '\n\n', '\r\n', ' ']);
    first = false;
  }
  return { text, placed };
}

async function read(text: string): Promise<{ items: InputItem[]; lines: string[]; source: string }> {
  const source = join(mkdtempSync(join(tmpdir(), 'runwatch-row-')), 'week.json');
  writeFileSync(source, text);
  const items: InputItem[] = [];
  for await (const batch of readFileBatches(source)) items.push(...batch);
  return { items, lines: text.split('\n'), source };
}

describe('documents one after the other, split at random (seeded)', () => {
  it('has real entries to split', () => expect(entries.length).toBeGreaterThan(20));

  it.each(Array.from({ length: 40 }, (_, i) => i + 1))('seed %i: every entry once, none malformed, named where it starts', async (seed) => {
    const { text, placed: expected } = documents(seed);
    const { items, lines, source } = await read(text);
    expect(items.filter((i) => i.kind === 'invalid')).toEqual([]);
    const got = items.map((i) => (i.kind === 'entry' ? i.value : undefined));
    expect(got.map((v) => JSON.stringify(v)).sort()).toEqual(expected.map((v) => JSON.stringify(v)).sort());
    for (const item of items) {
      // FILE (one document), FILE[i] (one array), FILE:LINE or FILE:LINE[i]: the line holds the value's start.
      const at = new RegExp(`^${source.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?::(\\d+))?(?:\\[(\\d+)\\])?$`).exec(item.source);
      expect(at, item.source).not.toBeNull();
      if (at![1] !== undefined) expect(lines[Number(at![1]) - 1], item.source).toMatch(/[[{]/);
    }
  });
});
