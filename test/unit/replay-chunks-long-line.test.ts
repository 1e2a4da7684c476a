// readLineChunks (the parallel and partitioned replays' reader) carries an unfinished line into the next read: a
// line far longer than a chunk must not be copied again for every MiB of it (quadratic time and allocation). A line
// longer than one string can be is refused by name (worker threads cannot take it), with the way to read it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lineRanges, readLineChunks, SharedBufferPool } from '../../functions/replay/chunks.js';

/** A buffer pool that counts the bytes asked of it. */
function countingPool(): { pool: SharedBufferPool; requested: () => number } {
  const pool = new SharedBufferPool(2);
  let requested = 0;
  const take = pool.take.bind(pool);
  pool.take = (size: number): Buffer => {
    requested += size;
    return take(size);
  };
  return { pool, requested: () => requested };
}

describe('readLineChunks: long lines', () => {
  it.each([
    ['5 MiB', 5],
    ['48 MiB', 48],
  ])('a line of %s is read whole with buffer space linear in its length', async (_name, mib) => {
    const file = join(mkdtempSync(join(tmpdir(), 'runwatch-chunks-')), 'long.ndjson');
    const long = `{"pad":"${'x'.repeat(mib * 1024 * 1024)}"}`;
    writeFileSync(file, `{"a":1}\n${long}\n{"b":2}\n`);
    const { pool, requested } = countingPool();
    const lengths: number[] = [];
    for await (const chunk of readLineChunks(file, pool)) {
      const ranges = lineRanges(chunk.bytes, chunk.firstLine);
      for (let i = 0; i < ranges.length; i += 3) lengths.push(ranges[i + 1]! - ranges[i]!);
      pool.give(chunk.buffer);
    }
    expect(lengths).toEqual([7, long.length, 7]);
    expect(requested()).toBeLessThan(6 * long.length + 4 * 1024 * 1024);
  }, 60_000);

  it('a line longer than the longest string is refused where it starts, with the way to read it', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'runwatch-chunks-')), 'long.ndjson');
    writeFileSync(file, `{"a":1}\n{"b":2}\n[${'{"c":3},'.repeat(2000)}{"c":3}]\n{"d":4}\n`);
    const pool = new SharedBufferPool(2);
    const lines: number[] = [];
    const read = async (): Promise<void> => {
      for await (const chunk of readLineChunks(file, pool, 10_000)) lines.push(chunk.lines);
    };
    await expect(read()).rejects.toThrow(`${file}:3: a line of 16,009 bytes, over the longest string worker threads can take (10,000 characters); \`--workers 0\` reads it in pieces`);
  });

  it('a line longer than the longest string is refused once that much of it is read, not after reading all of it', async () => {
    // Reading on to its end carried the whole line, in reads as large as what was carried: a line of 2 GiB and more
    // asked for a buffer of twice that before the refusal (or failed to allocate it, with no file or line named).
    const file = join(mkdtempSync(join(tmpdir(), 'runwatch-chunks-')), 'long.ndjson');
    writeFileSync(file, `{"a":1}\n{"pad":"${'x'.repeat(16 * 1024 * 1024)}"}\n{"b":2}\n`);
    const { pool, requested } = countingPool();
    const read = async (): Promise<void> => {
      for await (const chunk of readLineChunks(file, pool, 10_000)) pool.give(chunk.buffer);
    };
    await expect(read()).rejects.toThrow(`${file}:2: a line of`);
    expect(requested()).toBeLessThan(4 * 1024 * 1024);
  });
});
