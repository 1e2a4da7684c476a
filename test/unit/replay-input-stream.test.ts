// The sequential reader (input.ts: gzip, stdin, pipes, JSON documents) keeps memory and time bounded by the line,
// not the file: a long line costs time in proportion to its length, and NDJSON whose first line is broken is read
// line by line, not held whole as a would-be JSON document (a file over 512 MB then failed: "Invalid string length").
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readFileBatches, type InputItem } from '../../functions/replay/input.js';

const entry = (i: number): string => JSON.stringify({ insertId: `e${i}`, logName: 'projects/p/logs/x', timestamp: `2024-01-01T00:00:${String(i % 60).padStart(2, '0')}Z` });

describe('replay input: the sequential reader streams', () => {
  it.each([
    ['a broken first line opening an object', '{"insertId":"cut', ['line is not JSON']],
    ['a broken first line opening an array', '[{"insertId":"cut"', ['line is not JSON']],
  ])('NDJSON with %s yields entries before the input ends', async (_name, first, reasons) => {
    let ended = false;
    const total = 2000;
    async function* chunks(): AsyncGenerator<Buffer> {
      yield Buffer.from(`${first}\n`);
      for (let i = 0; i < total; i++) yield Buffer.from(`${entry(i)}\n`);
      ended = true;
    }
    let beforeEnd = 0;
    const items: InputItem[] = [];
    for await (const batch of readFileBatches('-', Readable.from(chunks()))) {
      if (!ended) beforeEnd += batch.length;
      items.push(...batch);
    }
    expect(beforeEnd).toBeGreaterThan(total / 2);
    expect(items.filter((i) => i.kind === 'invalid').map((i) => (i.kind === 'invalid' ? i.reason : ''))).toEqual(reasons);
    expect(items.filter((i) => i.kind === 'entry')).toHaveLength(total);
    expect(items[0]).toMatchObject({ kind: 'invalid', source: 'stdin:1' }); // as the summary names it; not `-:1`
  });

  it.each([
    ['a pretty-printed array', JSON.stringify([JSON.parse(entry(2)), JSON.parse(entry(1))], null, 2), ['e1', 'e2']],
    ['a pretty-printed array of one compact entry per line', `[\n${entry(2)},\n${entry(1)}\n]\n`, ['e1', 'e2']],
    ['a pretty-printed object', JSON.stringify(JSON.parse(entry(3)), null, 2), ['e3']],
  ])('%s is still read as one document', async (_name, text, ids) => {
    const items: InputItem[] = [];
    for await (const batch of readFileBatches('-', Readable.from([Buffer.from(text)]))) items.push(...batch);
    expect(items.map((i) => (i.kind === 'entry' ? (i.value as { insertId: string }).insertId : i.reason))).toEqual(ids);
  });

  // Linear, not quadratic (before: about 20 s for 30 MiB, minutes for 60): judged by how the time grows with the
  // length, in one process, so a loaded machine (CI on 2 shared cores) slows both sizes alike and no wall-clock bound
  // is needed. Eight times the length takes about 8 times as long when linear, about 64 times when quadratic.
  it('a long line in 64 KiB chunks is read in time linear in its length', async () => {
    const piece = Buffer.alloc(64 * 1024, 0x61);
    async function readLine(mib: number): Promise<number> {
      const pieces = (mib * 1024 * 1024) / piece.length;
      async function* chunks(): AsyncGenerator<Buffer> {
        yield Buffer.from('{"insertId":"long","timestamp":"2024-01-01T00:00:00Z","pad":"');
        for (let i = 0; i < pieces; i++) yield piece;
        yield Buffer.from(`"}\n${entry(1)}\n`);
      }
      const started = performance.now();
      const items: InputItem[] = [];
      for await (const batch of readFileBatches('-', Readable.from(chunks()))) items.push(...batch);
      expect(items.map((i) => i.kind)).toEqual(['entry', 'entry']);
      return performance.now() - started;
    }
    await readLine(2); // warm up
    const small = Math.min(await readLine(6), await readLine(6));
    const large = await readLine(48);
    expect(large / small).toBeLessThan(32);
  }, 120_000);
});
