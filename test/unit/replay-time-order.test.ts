// The partitioned replay orders lines on the main thread by keys read from their raw bytes (lineKey.ts): a key must
// be exactly the one the worker computes after parsing, or absent (the line is then parsed). And the lines must
// come out as the reorder buffer lets entries out, whatever the order they were written in.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generate, random } from '../../bench/generate.js';
import type { Instant } from '../../functions/audit/entry.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { Finding } from '../../functions/findings/finding.js';
import { entriesByParsing, scannedTime, type EntryTime } from '../../functions/replay/lineKey.js';
import { replay } from '../../functions/replay/replay.js';
import { ReorderBuffer } from '../../functions/replay/reorder.js';
import { linesInTimeOrder, type LineRef } from '../../functions/replay/timeOrder.js';
import { readPlan, sizeOf } from '../../functions/replay/partition.js';
import { at, corpus, synthetic } from '../support/entries.js';
import { config } from '../support/run.js';
import { TIMESTAMP_FORMS } from '../support/timestamps.js';

const fixtures = new URL('../fixtures/', import.meta.url);

/** Every fixture entry (real corpus ones and synthetic ones), one object per entry. */
function fixtureEntries(): unknown[] {
  const out: unknown[] = [];
  for (const dir of ['', 'corpus/', 'pipeline/']) {
    const base = new URL(dir, fixtures);
    for (const name of readdirSync(base).filter((n) => n.endsWith('.json'))) {
      const value = JSON.parse(readFileSync(new URL(name, base), 'utf8')) as unknown;
      out.push(...(Array.isArray(value) ? value : [value]));
    }
  }
  return out;
}

function scanned(line: string): EntryTime | undefined {
  const bytes = Buffer.from(`xx${line}yy`); // a line inside a larger buffer, as in a chunk
  return scannedTime(bytes, 2, bytes.length - 2);
}

function parsedKey(line: string): EntryTime | undefined {
  return entriesByParsing(line)?.entries[0]?.time;
}

describe('scannedTime', () => {
  const entries = fixtureEntries();

  it('reads the key the parser reads from every fixture entry, compact or spaced, timestamp first or last', () => {
    expect(entries.length).toBeGreaterThan(50);
    let read = 0;
    for (const entry of entries) {
      const { timestamp, ...rest } = entry as Record<string, unknown>;
      const forms = [JSON.stringify(entry), JSON.stringify(entry, null, 1).replace(/\n/g, ' '), JSON.stringify({ timestamp, ...rest }), JSON.stringify({ ...rest, timestamp })];
      for (const line of forms) {
        const expected = parsedKey(line);
        // Entries without a top-level timestamp (some sources moved it) or without a readable time are left to
        // the parser.
        if (typeof timestamp === 'string' && expected !== undefined) {
          expect(scanned(line)).toEqual(expected);
          read++;
        } else expect(scanned(line)).toBeUndefined();
      }
    }
    expect(read).toBeGreaterThan(200);
  });

  const base = { insertId: 'a', logName: 'projects/p/logs/cloudaudit.googleapis.com%2Factivity' };
  const cases: [string, string, 'scanned' | 'parse'][] = [
    ['a nested timestamp after the top-level one', JSON.stringify({ ...base, timestamp: '2024-05-01T10:00:00Z', protoPayload: { timestamp: '2030-01-01T00:00:00Z' } }), 'scanned'],
    ['a nested timestamp before it', JSON.stringify({ protoPayload: { request: { timestamp: '2030-01-01T00:00:00Z' } }, ...base, timestamp: '2024-05-01T10:00:00.5Z' }), 'scanned'],
    ['the key written twice (the parser keeps the last)', `{"timestamp":"2030-01-01T00:00:00Z","insertId":"a","timestamp":"2024-05-01T10:00:00Z"}`, 'scanned'],
    ['"timestamp" as a value', `{"field":"timestamp","timestamp":"2024-05-01T10:00:00.123456789Z"}`, 'scanned'],
    ['an escaped quote before the word', `{"note":"a \\"timestamp\\": \\"2030-01-01T00:00:00Z\\"","timestamp":"2024-05-01T10:00:00Z"}`, 'scanned'],
    ['a key ending in "timestamp after an escaped quote', `{"x\\"timestamp":"2030-01-01T00:00:00Z","timestamp":"2024-05-01T10:00:00Z"}`, 'scanned'],
    ['brackets inside strings', `{"a":"}]}{[","timestamp":"2024-05-01T10:00:00Z","b":"{{[\\\\"}`, 'scanned'],
    ['an offset', `{"timestamp":"2024-05-01T12:00:00.25+02:00"}`, 'scanned'],
    ['the space-separated form', `{"timestamp":"2024-05-01 10:00:00.123456789"}`, 'scanned'],
    ['only in the payload (hand-edited exports)', JSON.stringify({ ...base, protoPayload: { timestamp: '2024-05-01T10:00:00Z' } }), 'parse'],
    ['only a receive time', JSON.stringify({ ...base, receiveTimestamp: '2024-05-01T10:00:00Z' }), 'parse'],
    ['only a nested one (not the entry time)', JSON.stringify({ ...base, receiveTimestamp: '2024-05-01T10:00:00Z', protoPayload: { request: { timestamp: '2030-01-01T00:00:00Z' } } }), 'parse'],
    ['an escape in the value', `{"timestamp":"2024-05-01T10:00:00\\u005a"}`, 'parse'],
    ['a number', `{"timestamp":1714557600000,"receiveTimestamp":"2024-05-01T10:00:00Z"}`, 'parse'],
    ['an unreadable time', `{"timestamp":"yesterday"}`, 'parse'],
    ['an array line', `[{"timestamp":"2024-05-01T10:00:00Z"}]`, 'parse'],
  ];

  it.each(cases)('%s', (_name, line, expected) => {
    const key = scanned(line);
    if (expected === 'scanned') {
      expect(key).toBeDefined();
      expect(key).toEqual(parsedKey(line));
    } else {
      expect(key).toBeUndefined();
    }
  });

  // Every timestamp form, valid or not: the key scanned from the bytes must be the parser's exactly (sub-millisecond
  // digits included), or no key where the parser finds none.
  it.each(TIMESTAMP_FORMS)('reads the timestamp %s as the parser does', (time) => {
    const line = JSON.stringify({ ...base, timestamp: time });
    expect(scanned(line)).toEqual(parsedKey(line));
  });

  it('reads only the line itself, whatever lies before and after it in the chunk', () => {
    // Lines without a top-level timestamp after a line that is a JSON string holding a time, and before one with a
    // timestamp key: nothing of the neighbours may be taken for the line's time.
    const lines = [
      '"1990-01-01T00:00:00Z"',
      '{"receiveTimestamp":"2024-06-01T00:00:00Z","logName":"projects/p/logs/x"}',
      '{"protoPayload":{"timestamp":"2024-06-01T00:00:00Z"}}',
      '{"a":1}',
      '{"timestamp":"2031-01-01T00:00:00Z"}',
    ];
    const bytes = Buffer.from(lines.join('\n'));
    let start = 0;
    const times = lines.map((line) => {
      const end = start + Buffer.byteLength(line);
      const time = scannedTime(bytes, start, end);
      start = end + 1;
      return time;
    });
    expect(times.slice(0, 4)).toEqual([undefined, undefined, undefined, undefined]);
    expect(times[4]).toEqual(parsedKey(lines[4]!));
  });

  it('leaves a line with a key letter written as an escape to the parser (JSON.parse reads it as the same key)', () => {
    const duplicate = `{"timestamp":"2020-01-01T00:00:00Z","time\\u0073tamp":"2021-06-01T00:00:00Z"}`;
    expect(parsedKey(duplicate)?.timeMs).toBe(Date.parse('2021-06-01T00:00:00Z'));
    expect(scanned(duplicate)).toBeUndefined();
    // Other escapes (HTML-safe encoders write \u003c) keep the fast path.
    const html = `{"note":"a \\u003cb\\u003e","timestamp":"2020-01-01T00:00:00Z"}`;
    expect(scanned(html)).toEqual(parsedKey(html));
  });

  it('never disagrees with the parser on mutated entries (random cuts, nesting and escapes)', () => {
    const next = random(7);
    const lines = entries.slice(0, 40).map((e) => JSON.stringify(e));
    let checked = 0;
    for (let i = 0; i < 3000; i++) {
      let line = lines[Math.floor(next() * lines.length)]!;
      const at = Math.floor(next() * line.length);
      const insert = ['"timestamp":"2031-02-03T04:05:06Z",', '{"timestamp":"2032-01-01T00:00:00Z"},', '\\"', '"', '}', '[', ' '][Math.floor(next() * 7)]!;
      line = line.slice(0, at) + insert + line.slice(at);
      const key = scanned(line);
      if (key === undefined) continue;
      const expected = entriesByParsing(line);
      if (expected === undefined) continue; // not JSON any more: no order needed, the worker reports it
      expect(key).toEqual(expected.entries[0]?.time);
      checked++;
    }
    expect(checked).toBeGreaterThan(300);
  });
});

const iso = (ms: number): string => new Date(ms).toISOString();
const entryLine = (ms: number, id: string): string => JSON.stringify({ insertId: id, logName: 'projects/p/logs/x', timestamp: iso(ms) });

async function collect(files: string[], capacity: number): Promise<{ refs: LineRef[]; late: number }> {
  const order = { lateCount: 0 };
  const refs: LineRef[] = [];
  for await (const ref of linesInTimeOrder(files, capacity, () => 0, order)) refs.push(ref);
  return { refs, late: order.lateCount };
}

describe('linesInTimeOrder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-order-'));

  it('puts lines in time order across files, arrays element by element, unreadable lines at once', async () => {
    const t0 = Date.parse('2024-05-01T10:00:00Z');
    const a = join(dir, 'a.ndjson');
    const b = join(dir, 'b.ndjson');
    writeFileSync(a, [entryLine(t0 + 3000, 'a1'), 'not json', entryLine(t0 + 1000, 'a2'), `[${entryLine(t0 + 5000, 'a3')},${entryLine(t0 + 500, 'a4')},{"no":"time"}]`].join('\n'));
    writeFileSync(b, `\r\n${entryLine(t0 + 2000, 'b1')}\r\n\n${entryLine(t0 + 4000, 'b2')}`);
    const { refs, late } = await collect([a, b], 100);
    // Array elements come with their own JSON, named here by their insertId.
    const where = refs.map((r) => `${r.file}:${r.line}${r.text ? `[${(JSON.parse(r.text) as { insertId?: string }).insertId ?? '-'}]` : ''}`);
    // The unreadable ones come out when read (before everything held), the rest by time.
    expect(where).toEqual(['0:2', '0:4[-]', '0:4[a4]', '0:3', '1:2', '0:1', '1:4', '0:4[a3]']);
    expect(late).toBe(0);
    // Offsets and lengths point at the lines themselves (without the CRLF).
    const bText = readFileSync(b);
    const b1 = refs.find((r) => r.file === 1 && r.line === 2)!;
    expect(bText.toString('utf8', b1.offset, b1.offset + b1.length)).toBe(entryLine(t0 + 2000, 'b1'));
  });

  it('lets out exactly what the reorder buffer lets out, and counts the entries later than it could wait for', async () => {
    const next = random(11);
    const t0 = Date.parse('2024-05-01T00:00:00Z');
    // Mostly ordered, with stragglers up to 40 entries late, over three files (the first chunk boundary included).
    const times = Array.from({ length: 3000 }, (_, i) => t0 + i * 1000 - (next() < 0.1 ? Math.floor(next() * 40) * 1000 : 0));
    const files = [0, 1, 2].map((f) => join(dir, `part-${f}.ndjson`));
    files.forEach((file, f) => writeFileSync(file, times.slice(f * 1000, (f + 1) * 1000).map((t, i) => entryLine(t, `e${f * 1000 + i}`)).join('\n') + '\n'));
    const wide = await collect(files, 64);
    const keys = wide.refs.map((r) => r.sortKey);
    expect(keys).toEqual([...keys].sort((x, y) => x - y));
    expect(wide.refs).toHaveLength(3000);
    expect(wide.late).toBe(0);
    // Too small a buffer: some come out late, exactly those the reorder buffer itself lets out late.
    const narrow = await collect(files, 8);
    const reference = new ReorderBuffer<{ sortKey: number; seq: number }>(8);
    const expected: number[] = [];
    times.forEach((t, seq) => {
      const out = reference.push({ sortKey: t, seq });
      if (out) expected.push(out.seq);
    });
    for (let out = reference.pop(); out; out = reference.pop()) expected.push(out.seq);
    expect(narrow.refs.map((r) => r.seq)).toEqual(expected);
    expect(narrow.late).toBe(reference.lateCount);
    expect(narrow.late).toBeGreaterThan(0);
  });
});

const REPLAY_CONFIG = config({
  changeWindows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
  rules: { 'new-image-repository': { trustedRepositories: ['europe-west1-docker.pkg.dev/*/*'] } },
});

/** The replay of `files` on one thread (`partitioned` false) or partitioned over two workers: its findings and counts. */
async function replayOnce(files: string[], reorderCapacity: number, partitioned: boolean, range: { since?: Instant; until?: Instant } = {}) {
  const findings: Finding[] = [];
  const stats = await replay({
    config: REPLAY_CONFIG,
    ...(partitioned ? {} : { store: new MemoryBaselineStore() }),
    paths: files,
    workers: partitioned ? 2 : 0,
    reorderCapacity,
    ...range,
    onFinding: (f) => void findings.push(f),
  });
  return { findings: findings.map((f) => JSON.stringify(f)).sort(), stats };
}

async function runBoth(files: string[], reorderCapacity: number, range: { since?: Instant; until?: Instant } = {}) {
  return { single: await replayOnce(files, reorderCapacity, false, range), partitioned: await replayOnce(files, reorderCapacity, true, range) };
}

/**
 * The time limit of the tests below that replay generated input: CPU work (1,400 to 3,000 entries, on one thread and
 * partitioned, a few times each). The longest took 7 s on its own, 13.5 s beside other work on two cores and 27 s with
 * two busy loops more, against 60 s. The limit guards against a hang (a partitioned replay waiting for a worker that
 * never answers), not speed, and a hang still fails at 120 s.
 */
const REPLAY_TEST_MS = 120_000;

/** `count` generated entries (bench/generate.ts) in `entries.ndjson` of a new folder, and their lines. */
async function generated(count: number): Promise<{ dir: string; file: string; lines: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-order-'));
  const file = join(dir, 'entries.ndjson');
  await generate(file, count);
  return { dir, file, lines: readFileSync(file, 'utf8').trim().split('\n') };
}

describe('partitioned replay of shuffled input', () => {
  it('reads lines again from many interleaved shards (more than it keeps open)', async () => {
    const { dir, file: all, lines } = await generated(1400);
    // 70 shards, each spanning the whole time range (as the shards of one export hour do), read one after another.
    const shards = Array.from({ length: 70 }, (_, s) => join(dir, `shard-${String(s).padStart(2, '0')}.ndjson`));
    shards.forEach((file, s) => writeFileSync(file, lines.filter((_, i) => i % 70 === s).join('\n') + '\n'));
    const { single, partitioned } = await runBoth(shards, 2000);
    const original = { single: await replayOnce([all], 10, false) }; // the reference: one thread
    expect(single.stats.outOfOrder).toBe(0);
    expect(single.findings.length).toBeGreaterThan(10);
    expect(partitioned.findings).toEqual(single.findings);
    expect(partitioned.stats).toEqual(single.stats);
    expect(single.findings).toEqual(original.single.findings);
    // A buffer too small for that disorder: the same entries come out late both ways (the order is global, not one
    // buffer per worker, and every entry with a time takes a place). What a late entry then finds can differ:
    // rollouts waiting in other projects are completed by another project's entries in one thread only.
    const narrow = await runBoth(shards, 50);
    expect(narrow.single.stats.outOfOrder).toBeGreaterThan(100);
    expect(narrow.partitioned.stats.outOfOrder).toBe(narrow.single.stats.outOfOrder);
  }, REPLAY_TEST_MS);

  it('gives the findings and counts of the single-threaded replay', async () => {
    const { dir, file: ordered, lines } = await generated(2000);
    // Jitter within 30 entries, then split over two files: the buffer restores the order.
    const next = random(5);
    const jittered = lines.map((line, i) => ({ line, at: i + next() * 30 })).sort((x, y) => x.at - y.at).map((x) => x.line);
    const files = [join(dir, 'one.ndjson'), join(dir, 'two.ndjson')];
    writeFileSync(files[0]!, jittered.slice(0, 900).join('\n') + '\n');
    writeFileSync(files[1]!, jittered.slice(900).join('\n') + '\n');
    const { single, partitioned } = await runBoth(files, 100);
    const original = { single: await replayOnce([ordered], 100, false) }; // the reference: one thread
    expect(single.findings.length).toBeGreaterThan(10);
    expect(partitioned.findings).toEqual(single.findings);
    expect(partitioned.stats).toEqual(single.stats);
    expect(single.findings).toEqual(original.single.findings);
    expect(single.stats).toEqual(original.single.stats);
    // --since / --until: out-of-range entries are counted, not ordered, the same both ways.
    const first = Date.parse(JSON.parse(lines[0]!).timestamp as string);
    const instant = (ms: number): Instant => ({ ms, iso: new Date(ms).toISOString() });
    const range = { since: instant(first + 3_600_000), until: instant(first + 6 * 3_600_000) };
    const ranged = await runBoth(files, 100, range);
    expect(ranged.single.stats.outOfTimeRange).toBeGreaterThan(100);
    expect(ranged.single.findings.length).toBeGreaterThan(0);
    expect(ranged.partitioned.findings).toEqual(ranged.single.findings);
    expect(ranged.partitioned.stats).toEqual(ranged.single.stats);
  }, REPLAY_TEST_MS);
});

describe('reorder buffer places', () => {
  it('are taken by every entry with a time, skipped ones too, the same in every replay mode', async () => {
    // A deploy at 03:00, a Cloud Build entry (skipped) at 04:00, a deploy at 02:00; room for one entry. The skipped
    // entry pushes the 03:00 deploy out before the 02:00 one arrives: one entry late, in every mode.
    const deploy = synthetic('v1-ReplaceService-gcloud');
    const file = join(mkdtempSync(join(tmpdir(), 'runwatch-places-')), 'entries.ndjson');
    const lines = [at(deploy, '2024-05-01T03:00:00Z', 'a'), at(corpus('aegisai__CloudBuild.CreateBuild__1'), '2024-05-01T04:00:00Z', 'b'), at(deploy, '2024-05-01T02:00:00Z', 'c')];
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const { single, partitioned } = await runBoth([file], 1);
    expect(single.stats.skipped.size).toBe(1);
    expect(single.stats.outOfOrder).toBe(1);
    expect(partitioned.stats).toEqual(single.stats);
  }, 30_000);
});

describe('a line holding a whole export as one array', () => {
  it('is read once, its entries ordered one by one, with the single-threaded findings', async () => {
    const { dir, file: ndjson, lines: entries } = await generated(3000);
    // 12 MB on one line (`jq -c .` of a `gcloud logging read --format=json` export), newest first as gcloud
    // writes it, with a nested array that is no entry; reading the line again for each element would be 36 GB. The
    // first line is a plain entry, so the file counts as NDJSON and is partitioned.
    const file = join(dir, 'export.ndjson');
    writeFileSync(file, `${entries[0]}\n[${entries.slice(1).reverse().join(',')},[1]]\n`);
    const { single, partitioned } = await runBoth([file], 5000);
    expect(single.stats.entriesRead).toBe(3001);
    expect(single.stats.malformed.get('entry is not a JSON object')).toBe(1);
    expect(single.stats.outOfOrder).toBe(0);
    expect(partitioned.findings).toEqual(single.findings);
    expect(partitioned.stats).toEqual(single.stats);
    expect(single.findings).toEqual((await replayOnce([ndjson], 5000, false)).findings);
  }, REPLAY_TEST_MS);
});

describe('readPlan', () => {
  const ref = (offset: number, length: number, file = 0, text?: string): LineRef => ({ sortKey: 0, seq: 0, file, offset, length, line: 1, worker: 0, text, element: text === undefined ? -1 : 0 });

  it('reads lines in order with the bytes between them as one read, an array element from its text', () => {
    const plan = readPlan([ref(0, 100), ref(101, 100), ref(203, 50), ref(0, 10, 0, '{"a":1}'), ref(260, 10)]);
    expect(plan.map((p) => (p.kind === 'file' ? [p.start, p.end, p.lines.length] : ['text', p.bytes.toString()]))).toEqual([
      [0, 253, 3],
      ['text', '{"a":1}'],
      [260, 270, 1],
    ]);
  });

  it('never reads more than twice the lines themselves, however far apart they come out', () => {
    // A file grouped by project (blocks of 45 KB, each in time order) comes out a line from each block in turn.
    const lines: LineRef[] = [];
    for (let i = 0; i < 200; i++) for (let block = 0; block < 20; block++) lines.push(ref(block * 45_000 + i * 200, 199));
    const plan = readPlan(lines);
    const read = plan.reduce((sum, p) => sum + sizeOf(p), 0);
    expect(read).toBeLessThanOrEqual(2 * 199 * lines.length);
    // Out of order or in another file: a read of its own.
    expect(readPlan([ref(500, 10), ref(100, 10), ref(520, 10, 1)])).toHaveLength(3);
  });
});
