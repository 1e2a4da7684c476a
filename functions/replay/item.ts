// One input value to what the replay loop needs: its time (for ordering) and its normalized form. Shared by the
// main-thread reader and the worker threads so both give exactly the same items.
import { readEnvelope, timeSortKey } from '../audit/entry.js';
import { normalizeEnvelope, type ParseResult } from '../audit/normalize.js';

/**
 * `source` says where the item came from: `file:line` for what gets reported (invalid and malformed input); the
 * worker threads give only the file for the rest (nothing reads it, and it saves a string per entry).
 */
export type ParsedItem =
  | { readonly kind: 'parsed'; readonly parsed: ParseResult; readonly timeMs: number; readonly sortKey: number; readonly source: string }
  | { readonly kind: 'invalid'; readonly reason: string; readonly source: string };

export function parseItem(value: unknown, source: string, watchCloudFunctions: boolean): ParsedItem {
  const envelope = readEnvelope(value);
  if (!envelope.ok) return { kind: 'invalid', reason: envelope.reason, source };
  const { time, timeMs } = envelope.envelope;
  return { kind: 'parsed', timeMs, sortKey: timeSortKey(time, timeMs), source, parsed: normalizeEnvelope(envelope.envelope, { watchCloudFunctions }) };
}

/**
 * The items of NDJSON lines in a buffer, given as `[start, end, lineNumber]` triples (see chunks.ts lineRanges):
 * a line that is not JSON an `invalid` item, a line holding an array one item per element. Each line is decoded
 * on its own: many small strings are cheaper to make and parse than one large one.
 */
export function* itemsOfRanges(bytes: Buffer, ranges: Int32Array, file: string, watchCloudFunctions: boolean): Generator<ParsedItem> {
  for (let i = 0; i < ranges.length; i += 3) {
    const line = bytes.toString('utf8', ranges[i]!, ranges[i + 1]!);
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      yield { kind: 'invalid', reason: 'line is not JSON', source: `${file}:${ranges[i + 2]!}` };
      continue;
    }
    if (!Array.isArray(value)) yield lineItem(value, file, ranges[i + 2]!, watchCloudFunctions);
    else for (const entry of value as unknown[]) yield lineItem(entry, file, ranges[i + 2]!, watchCloudFunctions);
  }
}

/** parseItem for an entry of an NDJSON line; what gets reported (invalid, malformed) says the line. */
function lineItem(entry: unknown, file: string, line: number, watchCloudFunctions: boolean): ParsedItem {
  const item = parseItem(entry, file, watchCloudFunctions);
  return item.kind === 'invalid' || item.parsed.kind === 'malformed' ? { ...item, source: `${file}:${line}` } : item;
}

/**
 * The items of lines given as `[start, end, lineNumber, element, fileIndex]` tuples over `bytes` (see partition.ts):
 * `element` -1 for every entry of the line, else that element of the array the line holds. The elements of one
 * array line come one after the other, and the line is parsed once for them.
 */
export function* itemsOfLineRefs(bytes: Buffer, refs: Int32Array, files: readonly string[], watchCloudFunctions: boolean): Generator<ParsedItem> {
  let parsedStart = -1;
  let parsed: unknown;
  for (let i = 0; i < refs.length; i += 5) {
    const start = refs[i]!;
    const end = refs[i + 1]!;
    const line = refs[i + 2]!;
    const element = refs[i + 3]!;
    const file = files[refs[i + 4]!]!;
    if (element < 0) {
      yield* itemsOfRanges(bytes, refs.subarray(i, i + 3), file, watchCloudFunctions);
      continue;
    }
    if (start !== parsedStart) {
      parsed = JSON.parse(bytes.toString('utf8', start, end)); // the main thread parsed it already: it is JSON
      parsedStart = start;
    }
    yield lineItem((parsed as unknown[])[element], file, line, watchCloudFunctions);
  }
}
