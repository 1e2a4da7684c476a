// The time order key of an NDJSON line, read from its raw bytes without parsing the JSON: the partitioned replay
// orders every line on the main thread by these keys alone (timeOrder.ts), so no worker holds entries back.
// It must give exactly the key the worker computes after parsing (item.ts: readEnvelope, then timeSortKey);
// whenever the bytes leave any doubt, the line is parsed instead (entriesByParsing).
import { normalizeTimestamp, readEnvelope, timeSortKey } from '../audit/entry.js';

/** An entry's time as the replay uses it: the order key (with sub-millisecond digits), epoch ms, the canonical text. */
export interface EntryTime {
  readonly sortKey: number;
  readonly timeMs: number;
  readonly iso: string;
}

const KEY = Buffer.from('"timestamp"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The time of a line holding one LogEntry object, from its top-level `"timestamp"` string; undefined when the
 * bytes alone cannot tell (no top-level timestamp, an escaped value, a key that may be written with escapes, not
 * an object): parse it then.
 */
export function scannedTime(bytes: Buffer, start: number, end: number): EntryTime | undefined {
  // The line on its own: no search may run past its ends into the rest of the chunk.
  const line = bytes.subarray(start, end);
  // From the end: the last top-level `timestamp` is the one JSON.parse keeps, and entries usually end with it.
  const value = topLevelString(line, KEY, TIMESTAMP_LETTERS, true);
  if (value === -1) return undefined;
  const time = normalizeTimestamp(line.toString('utf8', value, line.indexOf(QUOTE, value)));
  return time ? { sortKey: timeSortKey(time.iso, time.ms), timeMs: time.ms, iso: time.iso } : undefined;
}

/**
 * Where the string value of a top-level `key` starts in a line holding one JSON object (just after its opening
 * quote; the next quote closes it), found from the bytes alone; -1 when they cannot tell (no such key at the top
 * level, an escape in the value, a `\u00XX` escape that may spell one of the key's `letters`, not an object). A key
 * nested in the payload (where anyone who can deploy writes annotations and labels) never counts. `last`: the last
 * occurrence wins (what JSON.parse keeps of a repeated key, so a key spelled with escapes after it would win: the
 * `letters` check), else the first (cheaper when the key comes early; Cloud Logging writes each top-level key once,
 * and a key spelled with escapes is then only missed: the line is parsed). Runs for every line: no allocation.
 */
export function topLevelString(line: Buffer, key: Buffer, letters: ReadonlySet<string> | undefined, last: boolean): number {
  const length = line.length;
  let first = 0;
  while (first < length && isSpace(line[first]!)) first++;
  if (line[first] !== 0x7b) return -1; // `{`: arrays and anything else are parsed
  // JSON.parse reads `"time\u0073tamp"` as `timestamp` too: a line with such an escape is parsed.
  if (letters && mayEscapeKeyLetters(line, letters)) return -1;
  let found = -1;
  for (let at = last ? line.lastIndexOf(key) : line.indexOf(key); at !== -1; at = last ? (at === 0 ? -1 : line.lastIndexOf(key, at - 1)) : line.indexOf(key, at + 1)) {
    // A quote inside a string is escaped, so the key is a string token, unless its first quote is escaped.
    if (escaped(line, at)) continue;
    let colon = at + key.length;
    while (colon < length && isSpace(line[colon]!)) colon++;
    if (line[colon] !== 0x3a) continue; // a value, not a key
    if (depthAt(line, at, at + key.length) !== 1) continue; // a nested field, e.g. inside the payload
    found = colon;
    break;
  }
  if (found === -1) return -1;
  let open = found + 1;
  while (open < length && isSpace(line[open]!)) open++;
  if (line[open] !== QUOTE) return -1;
  const close = line.indexOf(QUOTE, open + 1);
  if (close === -1) return -1;
  for (let i = open + 1; i < close; i++) if (line[i] === BACKSLASH) return -1;
  return open + 1;
}

const UNICODE_ESCAPE = Buffer.from('\\u00');
/** The letters of a key as the hex digits of a `\u00XX` escape (lower case). */
function escapeLetters(key: string): ReadonlySet<string> {
  return new Set(Array.from(key, (c) => c.charCodeAt(0).toString(16).padStart(2, '0').toLowerCase()));
}
const TIMESTAMP_LETTERS = escapeLetters('timestamp');

/** True when the line holds a `\u00XX` escape of one of `letters` (anywhere: keys are not told apart here). */
function mayEscapeKeyLetters(line: Buffer, letters: ReadonlySet<string>): boolean {
  for (let at = line.indexOf(UNICODE_ESCAPE); at !== -1; at = line.indexOf(UNICODE_ESCAPE, at + 1)) {
    if (letters.has(line.toString('latin1', at + 4, at + 6).toLowerCase())) return true;
  }
  return false;
}

/** An entry of a parsed line, with its time as the worker reads it (undefined when it has no readable time). */
export interface ParsedEntry {
  readonly value: unknown;
  readonly time: EntryTime | undefined;
}

/**
 * The entries of a parsed line (an object is one entry, an array one per element) with their times. Undefined for
 * a line that is not JSON.
 */
export function entriesByParsing(line: string): { readonly array: boolean; readonly entries: ParsedEntry[] } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const array = Array.isArray(value);
  const entries = (array ? (value as unknown[]) : [value]).map((entry): ParsedEntry => {
    const envelope = readEnvelope(entry);
    if (!envelope.ok) return { value: entry, time: undefined };
    const { time, timeMs } = envelope.envelope;
    return { value: entry, time: { sortKey: timeSortKey(time, timeMs), timeMs, iso: time } };
  });
  return { array, entries };
}

/**
 * Where each element of a line holding a JSON array lies: `[start, end)` pairs of byte offsets in `line`. The line
 * must be JSON (it parsed). An element is then handed on as it is written: its JSON.stringify would not always be
 * (a number beyond a double's range parses as Infinity and is written back as null).
 */
export function elementRanges(line: Buffer): number[] {
  const ranges: number[] = [];
  let depth = 0;
  let start = -1;
  let end = -1;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (isSpace(c)) continue;
    if (depth === 1 && (c === 0x2c || c === 0x5d)) {
      // `,` or the array's own `]`: the element before it ends.
      if (start !== -1) ranges.push(start, end);
      start = -1;
      if (c === 0x5d) depth--;
      continue;
    }
    if (depth === 1 && start === -1) start = i;
    if (c === QUOTE) {
      for (i++; line[i] !== QUOTE; i++) if (line[i] === BACKSLASH) i++;
    } else if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) depth--;
    end = i + 1;
  }
  return ranges;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** True when the byte at `at` follows an odd number of backslashes. */
function escaped(line: Buffer, at: number): boolean {
  let count = 0;
  for (let i = at - 1; i >= 0 && line[i] === BACKSLASH; i--) count++;
  return count % 2 === 1;
}

/**
 * How many objects and arrays are open at the key token `[at, after)`, counted from whichever end of the line is
 * nearer: entries put their timestamp first or last, so this reads a few dozen bytes. Strings are skipped by their
 * unescaped quotes.
 */
function depthAt(line: Buffer, at: number, after: number): number {
  if (at <= line.length - at) {
    let depth = 0;
    let inString = false;
    for (let i = 0; i < at; i++) {
      const c = line[i]!;
      if (inString) {
        if (c === BACKSLASH) i++;
        else if (c === QUOTE) inString = false;
      } else if (c === QUOTE) inString = true;
      else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) depth--;
    }
    return inString ? -1 : depth;
  }
  // Backwards from the end of a complete value (outside any string there): closers open, openers close.
  let depth = 0;
  let inString = false;
  for (let i = line.length - 1; i >= after; i--) {
    const c = line[i]!;
    if (c === QUOTE && !escaped(line, i)) inString = !inString;
    else if (inString) continue;
    else if (c === 0x7d || c === 0x5d) depth++;
    else if (c === 0x7b || c === 0x5b) depth--;
  }
  return inString ? -1 : depth;
}
