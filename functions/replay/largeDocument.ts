// A JSON document too large to be one string. V8 caps a string at about 512 MiB (buffer.constants.MAX_STRING_LENGTH
// characters), and a month of a busy organization's audit logs from `gcloud logging read --format=json` is more: the
// file's lines, joined to be parsed whole, failed with "Invalid string length" (and so did a line that long: the
// same export written compact on one line, `jq -c . export.json`). Here the lines, and the pieces of such a line,
// are never joined: the values at the top level, and the elements of top-level arrays, are cut out by bracket depth (brackets inside
// strings do not count) and parsed one by one. Their texts are kept (the file's size in memory, as before), each
// with its time, so that the entries still go out in timestamp order as one array's do (gcloud writes newest first);
// each is parsed a second time as it goes out, in batches, instead of all at once.
import { readEnvelope, timeSortKey } from '../audit/entry.js';
import { jsonSyntaxProblem } from '../untrustedText.js';
import type { InputItem } from './input.js';
import { lineSource } from './source.js';

/** One value cut from the document: an element of a top-level array, or a top-level value of its own. */
export interface DocumentPiece {
  readonly text: string;
  /** The file's line the value starts on. */
  readonly line: number;
  /** Its index in the top-level array it belongs to; -1 for a top-level value. */
  readonly element: number;
  /** The document ended inside it (a file cut short). */
  readonly cut: boolean;
}

/** What documentPieces found at the top level besides the pieces: its arrays, empty ones (`[]`) included. */
export interface DocumentShape {
  arrays: number;
}

const enum At {
  /** Between top-level values. */
  Top,
  /** Inside a top-level array, between its elements. */
  Elements,
}

/**
 * The values of a document given as consecutive pieces of its text (`segments`, which start on the file's line
 * `firstLine`): each element of a top-level array, and each other top-level value. A stray character between values
 * (a `,` after a top-level object, say) is a piece of its own, which fails to parse. `shape.arrays` counts the
 * top-level arrays, empty ones too (`cat export.json empty.json`, gcloud writing `[]` when nothing matched).
 */
export function* documentPieces(segments: readonly string[], firstLine: number, shape: DocumentShape = { arrays: 0 }): Generator<DocumentPiece> {
  let line = firstLine;
  let at = At.Top;
  let element = 0;
  // The value being cut out: its parts so far, where it started, the depth of its brackets, its string state.
  let parts: string[] | undefined;
  let start = 0;
  let startLine = 0;
  let startElement = -1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let scalar = false;
  let taken = 0; // characters of the value read so far
  const open = (segmentStart: number, asElement: boolean): void => {
    parts = [];
    taken = 0;
    start = segmentStart;
    startLine = line;
    startElement = asElement ? element++ : -1;
    depth = 0;
    inString = false;
    escaped = false;
  };

  for (const segment of segments) {
    for (let i = 0; i < segment.length; i++) {
      const c = segment.charCodeAt(i);
      if (parts === undefined) {
        if (c === 0x0a) line++;
        if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
        if (at === At.Elements) {
          if (c === 0x2c) continue; // between elements
          if (c === 0x5d) {
            at = At.Top; // the array's end
            continue;
          }
          open(i, true);
        } else if (c === 0x5b) {
          at = At.Elements;
          element = 0;
          shape.arrays++; // counted as it opens: an empty array has no element to count it by
          continue;
        } else open(i, false);
        scalar = c !== 0x7b && c !== 0x5b;
        if (!scalar) {
          depth = 1;
          taken = 1;
          continue;
        }
      }
      // Inside a value: find its end.
      if (c === 0x0a) line++;
      let endsBefore = false; // the value ends before this character (a scalar's comma, bracket or white space)
      let endsAfter = false; // the value ends with this character (its closing bracket)
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 0x5c) escaped = true;
        else if (c === 0x22) inString = false;
      } else if (c === 0x22) inString = true;
      else if (scalar) {
        // A number, true, false, null (or junk): up to the next separator of the level it is on.
        endsBefore = taken > 0 && (c === 0x2c || c === 0x5d || c === 0x7d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || (at === At.Top && (c === 0x7b || c === 0x5b)));
      } else if (c === 0x7b || c === 0x5b) depth++;
      else if ((c === 0x7d || c === 0x5d) && --depth === 0) endsAfter = true;
      taken++;
      if (endsBefore || endsAfter) {
        const end = endsAfter ? i + 1 : i;
        parts!.push(segment.slice(start, end));
        yield { text: parts!.join(''), line: startLine, element: startElement, cut: false };
        parts = undefined;
        if (endsBefore) i--; // the separator is read again, between values
        if (endsBefore && c === 0x0a) line--; // and so is its line break
      }
    }
    if (parts !== undefined) {
      parts.push(start === 0 ? segment : segment.slice(start));
      start = 0;
    }
  }
  if (parts !== undefined) yield { text: parts.join(''), line: startLine, element: startElement, cut: !scalar || inString };
}

/** How many entries go out in one batch: each is parsed again as it goes. */
const BATCH = 1000;

/** A document cut into its values: how many values its top level holds, what did not parse, and its entries. */
export interface CutDocument {
  /** Values at the top level (an array counts once). */
  readonly topLevel: number;
  /** Values that did not parse, each reported where it starts. */
  readonly invalid: readonly InputItem[];
  /** How many entries parsed. */
  readonly entries: number;
  /** The entries in timestamp order (as inTimeOrder puts one array's), in batches (each parsed again as it goes, unless kept). */
  batches(): Generator<InputItem[]>;
}

/**
 * `segments` (consecutive pieces of a document's text, from the file's line `firstLine`) cut into their values. The
 * elements of a file that is one array are named as parseDocument names them (`FILE[i]`); other values by the line
 * they start on (`FILE:LINE`, `FILE:LINE[i]`). `keepValues`: the values are kept as parsed, not parsed again.
 * `oneLine`: the text is one line of the file, whose elements are named as the line reader names those of a line
 * holding an array (`FILE:LINE[i]`), even when it is the whole file.
 */
export function cutDocument(source: string, segments: readonly string[], firstLine: number, keepValues = false, oneLine = false): CutDocument {
  const shape: DocumentShape = { arrays: 0 };
  const pieces = [...documentPieces(segments, firstLine, shape)];
  const { arrays } = shape;
  const values = pieces.filter((p) => p.element === -1).length;
  const oneArray = arrays === 1 && values === 0 && !oneLine;
  // A value parsed is kept as its text (parsed again as it goes out: a document too large for one string is too large
  // to hold parsed too), or, with `keepValues`, as parsed.
  const kept: { readonly text?: string; readonly value?: unknown; readonly source: string; readonly key: number }[] = [];
  const invalid: InputItem[] = [];
  for (const piece of pieces) {
    const named = oneArray ? `${source}[${piece.element}]` : lineSource(source, piece.line, piece.element);
    let value: unknown;
    try {
      value = JSON.parse(piece.text);
    } catch (error) {
      invalid.push({ kind: 'invalid', reason: `file is neither NDJSON nor one JSON document: ${located(jsonSyntaxProblem(error), piece.text, piece.line)}`, source: named });
      continue;
    }
    const read = readEnvelope(value);
    const key = read.ok ? timeSortKey(read.envelope.time, read.envelope.timeMs) : Number.NEGATIVE_INFINITY;
    kept.push(keepValues ? { value, source: named, key } : { text: piece.text, source: named, key });
  }
  return {
    topLevel: arrays + values,
    invalid,
    entries: kept.length,
    *batches() {
      const order = Array.from(kept.keys()).sort((a, b) => kept[a]!.key - kept[b]!.key || a - b);
      for (let i = 0; i < order.length; i += BATCH) {
        yield order.slice(i, i + BATCH).map((k): InputItem => {
          const { text, value, source: named } = kept[k]!;
          return { kind: 'entry', value: text === undefined ? value : JSON.parse(text), source: named };
        });
      }
    },
  };
}

/**
 * The entries of a document too large for one string, in batches; what does not parse is reported first. `oneLine`:
 * the document is one line of the file (see cutDocument).
 */
export function* largeDocumentItems(source: string, segments: readonly string[], firstLine: number, oneLine = false): Generator<InputItem[]> {
  const cut = cutDocument(source, segments, firstLine, false, oneLine);
  if (cut.invalid.length > 0) yield [...cut.invalid];
  yield* cut.batches();
}

/**
 * JSON.parse's `at position N` (a character offset in `text`, which starts on the file's line `firstLine`) as the
 * line and column of the file an editor goes to, or as the end of the file when nothing but blanks follows (a file
 * cut short: a download that stopped).
 */
export function located(problem: string, text: string, firstLine: number): string {
  return problem.replace(/ at position (\d+)$/, (_, digits: string) => {
    const position = Number(digits);
    if (text.slice(position).trim() === '') return ' at the end of the file';
    const before = text.slice(0, position);
    const lineStart = before.lastIndexOf('\n') + 1;
    return ` at line ${firstLine + before.split('\n').length - 1}, column ${position - lineStart + 1}`;
  });
}
