// Time order for the partitioned replay, decided on the main thread from the lines' keys alone: every line of the
// input is scanned for its timestamp (lineKey.ts) and goes through a reorder buffer of line *references* (a few
// numbers each), which lets them out in timestamp order. The bytes are read again when a line comes out, so the
// workers get their lines in evaluation order and hold nothing back: the held entries are neither parsed objects
// in a worker's heap (copied and marked by every collection while they wait) nor raw bytes.
import { lineRanges, readLineChunks, SharedBufferPool } from './chunks.js';
import { elementRanges, entriesByParsing, scannedTime, type EntryTime } from './lineKey.js';
import { ReorderBuffer } from './reorder.js';

/** One entry of the input: where its line lies, and which worker owns it. */
export interface LineRef {
  readonly sortKey: number;
  readonly seq: number;
  /** Index of the file in the replay's file list. */
  readonly file: number;
  /** Byte offset of the line in the file, and its length (without the line end). */
  readonly offset: number;
  readonly length: number;
  /** 1-based line number, for what gets reported. */
  readonly line: number;
  readonly worker: number;
  /**
   * For an element of a line holding an array of entries: the element's JSON as written, which the worker reads
   * instead of the line (each element has its own time; reading the whole line again for each would cost its size
   * each time).
   */
  readonly text: string | undefined;
  /** The element's index in its line's array (with `text`), for what gets reported; -1 for a whole line. */
  readonly element: number;
}

export interface TimeOrder {
  /** Lines that came out after a newer one (later than the buffer could wait for); known once all came out. */
  lateCount: number;
}

/**
 * The lines of `files` in timestamp order, as long as none is more than `capacity` entries late (later ones come
 * out as soon as they are read, and are counted in `order.lateCount`): the reorder buffer of the single-threaded
 * replay (ReplayRun), entry for entry. Lines without a readable time (not JSON, no timestamp) and entries outside
 * `inRange` come out at once: they are only counted and reported. A broken line whose timestamp still reads (a
 * truncated entry) takes a place like an entry, where the single-threaded replay gives it none: with more disorder
 * than the buffer holds, which entries come out late can differ by such lines. `workerOf` picks a line's worker
 * from its bytes.
 */
export async function* linesInTimeOrder(
  files: readonly string[],
  capacity: number,
  workerOf: (line: Buffer) => number,
  order: TimeOrder,
  inRange: (time: EntryTime) => boolean = () => true,
): AsyncGenerator<LineRef> {
  const pool = new SharedBufferPool(2);
  const buffer = new ReorderBuffer<LineRef>(capacity);
  let seq = 0;
  /** What comes out now for an entry: itself when it is not ordered (no time, out of range), else maybe an older one. */
  const admit = (time: EntryTime | undefined, file: number, offset: number, length: number, line: number, worker: number, text?: string, element = -1): LineRef | undefined => {
    if (!time || !inRange(time)) return lineRef(0, 0, file, offset, length, line, worker, text, element);
    return buffer.push(lineRef(time.sortKey, seq++, file, offset, length, line, worker, text, element));
  };
  for (const [file, path] of files.entries()) {
    for await (const chunk of readLineChunks(path, pool)) {
      const { bytes, position } = chunk;
      const ranges = lineRanges(bytes, chunk.firstLine);
      for (let i = 0; i < ranges.length; i += 3) {
        const start = ranges[i]!;
        const end = ranges[i + 1]!;
        const offset = position + start;
        const line = ranges[i + 2]!;
        const worker = workerOf(bytes.subarray(start, end));
        const scanned = scannedTime(bytes, start, end);
        if (scanned) {
          const out = admit(scanned, file, offset, end - start, line, worker);
          if (out) yield out;
          continue;
        }
        // The bytes left a doubt (rare: arrays, escapes, no top-level timestamp): parsed here, as the worker will.
        // Not JSON: one entry without a time, which the worker reports.
        const parsed = entriesByParsing(bytes.toString('utf8', start, end)) ?? { array: false, entries: [{ value: undefined, time: undefined }] };
        // Each element as written in the line (see elementRanges), not re-serialized.
        const elements = parsed.array ? elementRanges(bytes.subarray(start, end)) : undefined;
        for (const [element, { time }] of parsed.entries.entries()) {
          // An element goes to the worker of its own project: one line can hold entries of many projects.
          const text = elements ? bytes.toString('utf8', start + elements[2 * element]!, start + elements[2 * element + 1]!) : undefined;
          const out = admit(time, file, offset, end - start, line, text === undefined ? worker : workerOf(Buffer.from(text)), text, text === undefined ? -1 : element);
          if (out) yield out;
        }
      }
      pool.give(chunk.buffer);
    }
  }
  for (let ref = buffer.pop(); ref; ref = buffer.pop()) yield ref;
  order.lateCount = buffer.lateCount;
}

/** Every LineRef made here, so they all share one shape (the reorder buffer compares tens of them per line). */
function lineRef(sortKey: number, seq: number, file: number, offset: number, length: number, line: number, worker: number, text: string | undefined, element: number): LineRef {
  return { sortKey, seq, file, offset, length, line, worker, text, element };
}
