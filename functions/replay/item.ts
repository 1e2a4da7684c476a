// One input value to what the replay loop needs: its time (for ordering) and its normalized form. Shared by the
// main-thread reader and the worker threads so both give exactly the same items.
import { readEnvelope, timeSortKey } from '../audit/entry.js';
import { normalizeEnvelope, type ParseResult } from '../audit/normalize.js';

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
 * The items of a text of NDJSON lines (a chunk from a worker's point of view): blank lines skipped, a line that is
 * not JSON an `invalid` item, a line holding an array one item per element. `lineNumber(n)` gives the file line
 * number of the text's n-th line, for where a problem is.
 */
export function* itemsOfLines(text: string, source: string, lineNumber: (n: number) => number, watchCloudFunctions: boolean): Generator<ParsedItem> {
  let start = 0;
  for (let n = 0; start < text.length; n++) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    let line = text.slice(start, end);
    start = end + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') continue;
    const where = `${source}:${lineNumber(n)}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      yield { kind: 'invalid', reason: 'line is not JSON', source: where };
      continue;
    }
    for (const entry of Array.isArray(value) ? value : [value]) yield parseItem(entry, where, watchCloudFunctions);
  }
}
