// One input value to what the replay loop needs: its time (for ordering) and its normalized form. Shared by the
// main-thread reader and the worker threads so both give exactly the same items.
import { readEnvelope, timeSortKey } from '../audit/entry.js';
import { normalizeEnvelope, type NormalizeOptions, type ParseResult } from '../audit/normalize.js';
import type { InputItem } from './input.js';
import { lineSource } from './source.js';

/**
 * `source` says where the item came from: `file:line` for what gets reported (invalid and malformed input); the
 * worker threads give only the file for the rest (nothing reads it, and it saves a string per entry).
 */
export type ParsedItem =
  | {
      readonly kind: 'parsed';
      readonly parsed: ParseResult;
      /** The entry's time: epoch ms, its canonical timestamp (nanoseconds: the --since/--until test), its order key. */
      readonly timeMs: number;
      readonly time: string;
      readonly sortKey: number;
      readonly source: string;
    }
  | { readonly kind: 'invalid'; readonly reason: string; readonly source: string };

export function parseItem(value: unknown, source: string, normalize: NormalizeOptions): ParsedItem {
  const envelope = readEnvelope(value);
  if (!envelope.ok) return { kind: 'invalid', reason: envelope.reason, source };
  const { time, timeMs } = envelope.envelope;
  return { kind: 'parsed', timeMs, time, sortKey: timeSortKey(time, timeMs), source, parsed: normalizeEnvelope(envelope.envelope, normalize) };
}

/** Input items parsed batch by batch; an invalid item (an unreadable line) passes through as it is. */
export async function* parsedBatches(batches: AsyncIterable<readonly InputItem[]>, normalize: NormalizeOptions): AsyncGenerator<ParsedItem[]> {
  for await (const batch of batches) {
    yield batch.map((item): ParsedItem => (item.kind === 'invalid' ? item : parseItem(item.value, item.source, normalize)));
  }
}

/**
 * The items of NDJSON lines in a buffer, given as `[start, end, lineNumber]` triples (see chunks.ts lineRanges):
 * a line that is not JSON an `invalid` item, a line holding an array one item per element. Each line is decoded
 * on its own: many small strings are cheaper to make and parse than one large one.
 */
export function* itemsOfRanges(bytes: Buffer, ranges: Int32Array, file: string, normalize: NormalizeOptions): Generator<ParsedItem> {
  for (let i = 0; i < ranges.length; i += 3) {
    const line = bytes.toString('utf8', ranges[i]!, ranges[i + 1]!);
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      yield { kind: 'invalid', reason: 'line is not JSON', source: `${file}:${ranges[i + 2]!}` };
      continue;
    }
    if (!Array.isArray(value)) yield lineItem(value, file, ranges[i + 2]!, normalize);
    else for (const [element, entry] of (value as unknown[]).entries()) yield lineItem(entry, file, ranges[i + 2]!, normalize, element);
  }
}

/**
 * parseItem for an entry of an NDJSON line; what gets reported (invalid, malformed) says the line, and for an
 * element of a line holding an array its index too (`file:3[1]`).
 */
function lineItem(entry: unknown, file: string, line: number, normalize: NormalizeOptions, element = -1): ParsedItem {
  const item = parseItem(entry, file, normalize);
  return item.kind === 'invalid' || item.parsed.kind === 'malformed' ? { ...item, source: lineSource(file, line, element) } : item;
}

/** `element` of itemsOfLineRefs for a whole line (every entry it holds); else the index of the one array element. */
export const WHOLE_LINE = -1;

/**
 * The items of lines given as `[start, end, lineNumber, element, fileIndex]` tuples over `bytes` (see
 * partition.ts readBatch): `element` WHOLE_LINE for a line, else the index of the array element whose JSON the
 * bytes hold.
 */
export function* itemsOfLineRefs(bytes: Buffer, refs: Int32Array, files: readonly string[], normalize: NormalizeOptions): Generator<ParsedItem> {
  for (let i = 0; i < refs.length; i += 5) {
    const file = files[refs[i + 4]!]!;
    if (refs[i + 3] === WHOLE_LINE) yield* itemsOfRanges(bytes, refs.subarray(i, i + 3), file, normalize);
    // An element of a line that parsed, as written there (timeOrder.ts): it is JSON.
    else yield lineItem(JSON.parse(bytes.toString('utf8', refs[i]!, refs[i + 1]!)), file, refs[i + 2]!, normalize, refs[i + 3]!);
  }
}
