// Reads log entries from files, folders and stdin in the forms people have them:
// - a JSON array (`gcloud logging read --format=json`), a single JSON object (pretty-printed or not),
// - NDJSON (one entry per line: a Cloud Storage log export, `jq -c`),
// - any of those gzip-compressed (the gzip magic bytes decide, not the name; stdin and named pipes too),
// - with or without a UTF-8 byte order mark,
// - folders, walked recursively and through symbolic links (a Cloud Storage export tree), `-` for stdin.
// Files are visited in chronological order where their path says it (export shards are named by hour).
import { closeSync, constants, createReadStream, open as openFd, openSync, statSync } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { Socket } from 'node:net';
import { constants as bufferConstants } from 'node:buffer';
import { basename, join } from 'node:path';
import { Readable, pipeline } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { readEnvelope, timeSortKey } from '../audit/entry.js';
import { lineSource } from './source.js';
import { cutDocument, largeDocumentItems, located } from './largeDocument.js';
import { jsonSyntaxProblem } from '../untrustedText.js';

/** V8's longest string, in characters: a document, or a line, is parsed whole only below it. */
const MAX_STRING_LENGTH = bufferConstants.MAX_STRING_LENGTH;

/** The reason largeDocument.ts gives a value that does not parse: a line's own in a file of NDJSON. */
const NOT_A_DOCUMENT = /^file is neither NDJSON nor one JSON document(?=: )/;

export type InputItem =
  | { readonly kind: 'entry'; readonly value: unknown; readonly source: string }
  | { readonly kind: 'invalid'; readonly reason: string; readonly source: string };

/** The files of a folder that are read: log files by their names (a file named on its own is read whatever its name). */
const ENTRY_FILE = /\.(json|jsonl|ndjson|log|txt)(\.gz)?$|\.gz$/i;
const ENTRY_FILE_NAMES = '.json, .jsonl, .ndjson, .log, .txt or .gz';

/** What a folder given as a path held: the log files read from it, and the files left out for their names. */
interface FolderContents {
  readonly folder: string;
  readonly logFiles: number;
  readonly skipped: number;
}

/**
 * The line to warn with about a folder that had files left out, or no log files at all (a mistyped folder, an
 * export in another format): undefined when every file in it is read.
 */
function folderWarning({ folder, logFiles, skipped }: FolderContents): string | undefined {
  const files = `${skipped} file${skipped === 1 ? '' : 's'} skipped: names not ending in ${ENTRY_FILE_NAMES}`;
  if (logFiles === 0) return `${folder}: no log files in it; ${skipped === 0 ? 'it holds no files' : files}`;
  return skipped > 0 ? `${folder}: ${files}` : undefined;
}

/**
 * Expands folders into their entry files and orders everything chronologically where the paths allow;
 * `onWarning` hears about each folder that had files left out for their names, or no log files at all.
 */
export async function expandPaths(paths: readonly string[], onWarning?: (warning: string) => void): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    if (path === '-') {
      files.push(path);
      continue;
    }
    const info = await stat(path);
    if (info.isDirectory()) {
      const skipped = { count: 0 };
      const found = await walkFollowingLinks(path, skipped);
      const warning = folderWarning({ folder: path, logFiles: found.length, skipped: skipped.count });
      if (warning !== undefined) onWarning?.(warning);
      files.push(...found.sort(compareChronologically));
    } else files.push(path);
  }
  return files;
}

/**
 * The entry files under `dir`, through symbolic links too (to files and to folders). Links are followed after the
 * folder's own tree is walked, so what is reachable without one keeps its own path; each folder and file is taken
 * once by its real path, so a link loop ends and a file two paths lead to is read once.
 */
async function walkFollowingLinks(dir: string, skipped: { count: number }): Promise<string[]> {
  const seen = new Set<string>();
  const links: string[] = [];
  const files = await walk(dir, seen, links, skipped);
  // In name order (walk sorts), taking the links found behind links as they come.
  for (let i = 0; i < links.length; i++) {
    const link = links[i]!;
    const kind = await linkTarget(link);
    if (kind === 'dir') files.push(...(await walk(link, seen, links, skipped)));
    else if (kind === 'file' && !ENTRY_FILE.test(basename(link))) skipped.count++;
    else if (kind === 'file' && once(seen, await realpath(link))) files.push(link);
  }
  return files;
}

/**
 * Files and folders under `dir` that `seen` does not hold yet; symbolic links go to `links`, for later, and files
 * whose names are not log files' are counted in `skipped`.
 */
async function walk(dir: string, seen: Set<string>, links: string[], skipped: { count: number }): Promise<string[]> {
  const real = await realpath(dir);
  if (!once(seen, real)) return [];
  const out: string[] = [];
  const dirents = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const dirent of dirents) {
    const full = join(dir, dirent.name);
    if (dirent.isSymbolicLink()) links.push(full);
    else if (dirent.isDirectory()) out.push(...(await walk(full, seen, links, skipped)));
    else if (dirent.isFile() && !ENTRY_FILE.test(dirent.name)) skipped.count++;
    // The real path of a file that is not a link, without a realpath call per file (export trees hold thousands).
    else if (dirent.isFile() && once(seen, join(real, dirent.name))) out.push(full);
  }
  return out;
}

/** Adds `key` to `seen`; false when it was there already. */
function once(seen: Set<string>, key: string): boolean {
  if (seen.has(key)) return false;
  seen.add(key);
  return true;
}

/** What a symbolic link leads to; undefined when it leads nowhere (an editor's lock file `.#x.json` is one). */
async function linkTarget(path: string): Promise<'dir' | 'file' | undefined> {
  try {
    const info = await stat(path);
    return info.isDirectory() ? 'dir' : info.isFile() ? 'file' : undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP') return undefined;
    throw error;
  }
}

// Cloud Storage exports write `<log id>/YYYY/MM/DD/HH:MM:SS_HH:MM:SS_S0.json`; sorting on the part from the date
// on interleaves the activity and system_event folders in time order.
const EXPORT_DATE = /(\d{4})[/\\](\d{2})[/\\](\d{2})[/\\]([^/\\]+)$/;

function compareChronologically(a: string, b: string): number {
  const ka = EXPORT_DATE.exec(a);
  const kb = EXPORT_DATE.exec(b);
  const sa = ka ? `${ka[1]}${ka[2]}${ka[3]}/${ka[4]}` : a;
  const sb = kb ? `${kb[1]}${kb[2]}${kb[3]}/${kb[4]}` : b;
  return sa < sb ? -1 : sa > sb ? 1 : a < b ? -1 : a > b ? 1 : 0;
}

/** True when `head` starts with the gzip magic bytes. */
export function isGzipMagic(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** A UTF-8 byte order mark (PowerShell's `Out-File -Encoding utf8` writes one). */
export function startsWithBom(head: Uint8Array): boolean {
  return head.length >= 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf;
}

/**
 * The bytes of `file` (`-`: stdin), gunzipped when they start with the gzip magic bytes, whatever the name says.
 * Read as a stream from the start, never at a position: stdin and named pipes (`<(zcat x.gz)`) cannot seek.
 */
async function* contentOf(file: string, stdin: Readable): AsyncGenerator<Buffer> {
  const chunks = bytesOf(file === '-' ? stdin : await readStreamOf(file))[Symbol.asyncIterator]();
  // The first two bytes decide; a pipe may hand them over one at a time.
  let head = Buffer.alloc(0);
  while (head.length < 2) {
    const next = await chunks.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value]);
  }
  const bytes = prepend(head, chunks);
  if (!isGzipMagic(head)) {
    yield* bytes;
    return;
  }
  const gunzip = createGunzip();
  // Errors (and a consumer that stops early) reach every stream; they surface in the loop below.
  pipeline(Readable.from(bytes), gunzip, () => undefined);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) yield chunk;
  } catch (error) {
    // zlib's own messages ("unexpected end of file", "invalid distance too far back") do not say which file.
    const code = (error as NodeJS.ErrnoException).code;
    if (code?.startsWith('Z_')) throw new Error(`${file === '-' ? 'stdin' : file}: gzip data is damaged or cut short: ${(error as Error).message}`, { cause: error });
    throw error;
  }
}

/**
 * A stream of the file's bytes. A named pipe (`<(zcat x.gz)`, a FIFO) is read as a socket: read through the file
 * system it blocks a thread of libuv's pool until its writer writes or closes it, and a process cannot exit while one
 * does (a replay stopped by Ctrl-C then waited for the writer, however long it took). Its open may still wait for a
 * writer, on that pool, as opening a pipe does.
 */
async function readStreamOf(file: string): Promise<Readable> {
  const info = await stat(file);
  if (!info.isFIFO()) return createReadStream(file);
  const pending = { file, dev: info.dev, ino: info.ino };
  pendingPipeOpens.add(pending);
  try {
    const fd = await new Promise<number>((resolve, reject) => openFd(file, 'r', (error, opened) => (error ? reject(error) : resolve(opened))));
    return new Socket({ fd, readable: true, writable: false });
  } finally {
    pendingPipeOpens.delete(pending);
  }
}

/**
 * Named pipes whose open is waiting for a writer, on libuv's thread pool (see releasePendingPipeOpens), with the
 * pipe the path named when it was opened.
 */
const pendingPipeOpens = new Set<{ readonly file: string; readonly dev: number; readonly ino: number }>();

/**
 * For a process about to exit (Ctrl-C, SIGTERM): completes every open of a named pipe still waiting for its writer.
 * A pool thread blocked in open() keeps the process alive at exit (Node waits for the pool's threads) until some
 * writer comes, if ever. Opening the write end without blocking succeeds (the waiting open is its reader) and ends
 * that wait; it is closed again at once.
 */
export function releasePendingPipeOpens(): void {
  for (const { file, dev, ino } of pendingPipeOpens) {
    try {
      // Only the very pipe: a path that now names another one (replaced meanwhile) would end someone else's wait
      // with an end of input. Ours then keeps waiting, as before this existed.
      const now = statSync(file);
      if (now.dev !== dev || now.ino !== ino) continue;
      closeSync(openSync(file, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: no reader waits after all (its open completed meanwhile); ENOENT: the path is gone.
    }
  }
}

/** The chunks of `stream` as Buffers (a stream given strings, such as `Readable.from([text])`, too). */
async function* bytesOf(stream: Readable): AsyncGenerator<Buffer> {
  for await (const chunk of stream as AsyncIterable<Buffer | string>) yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
}

/** `head`, then the rest of `chunks`; stopping early stops `chunks` too (which closes the file). */
async function* prepend(head: Buffer, chunks: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  try {
    if (head.length > 0) yield head;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
  } finally {
    await chunks.return?.();
  }
}

/**
 * `bytes` as text, without a leading byte order mark (JSON.parse takes it for a broken first line): UTF-8, or UTF-16
 * when a UTF-16 mark opens it (Windows PowerShell 5.1 writes UTF-16LE with one for `>` and Out-File, so
 * `gcloud logging read ... > run.json` there gives such a file; read as UTF-8, every line of it was "not JSON").
 */
async function* textOf(bytes: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const chunks = bytes[Symbol.asyncIterator]();
  // The first two bytes decide; a pipe may hand them over one at a time.
  let head = Buffer.alloc(0);
  while (head.length < 2) {
    const next = await chunks.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value]);
  }
  const encoding = utf16Mark(head);
  const decoder = new StringDecoder(encoding === undefined ? 'utf8' : 'utf16le');
  // UTF-16BE: each pair of bytes swapped into UTF-16LE, a byte left over carried to the next chunk.
  let carry: Buffer | undefined;
  const decode = (chunk: Buffer): string => {
    if (encoding !== 'utf16be') return decoder.write(chunk);
    const joined = carry ? Buffer.concat([carry, chunk]) : chunk;
    const even = joined.length - (joined.length % 2);
    carry = even < joined.length ? Buffer.from(joined.subarray(even)) : undefined;
    return decoder.write(Buffer.from(joined.subarray(0, even)).swap16());
  };
  let atStart = true;
  const strip = (text: string): string => {
    if (!atStart || text.length === 0) return text;
    atStart = false;
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  };
  for await (const chunk of prepend(head, chunks)) {
    const text = strip(decode(chunk));
    if (text.length > 0) yield text;
  }
  // A byte left over (an odd length) is half a character: the UTF-16 decoder drops it, as it drops one of its own.
  const last = strip(`${carry ? decoder.write(carry) : ''}${decoder.end()}`);
  if (last.length > 0) yield last;
}

/** The UTF-16 byte order mark `head` starts with, if any (FF FE: little-endian, FE FF: big-endian). */
function utf16Mark(head: Uint8Array): 'utf16le' | 'utf16be' | undefined {
  if (head.length < 2) return undefined;
  if (head[0] === 0xff && head[1] === 0xfe) return 'utf16le';
  if (head[0] === 0xfe && head[1] === 0xff) return 'utf16be';
  return undefined;
}

/** Entries of every path, one file after the other. Unparseable lines are yielded as `invalid`, never thrown. */
export async function* readEntries(
  paths: readonly string[],
  stdin: Readable = process.stdin,
  onWarning?: (warning: string) => void,
): AsyncGenerator<InputItem> {
  for (const file of await expandPaths(paths, onWarning)) {
    for await (const batch of readFileBatches(file, stdin)) yield* batch;
  }
}

/**
 * The entries of one file (a path expandPaths gave, or `-`) in batches, one per chunk read: replay reads millions
 * of entries, a promise per entry adds up.
 */
export async function* readFileBatches(file: string, stdin: Readable = process.stdin, options: ReadOptions = {}): AsyncGenerator<InputItem[]> {
  // Standard input is named as the gzip error names it: `-:3` in a summary read as a typo.
  yield* readFile(file === '-' ? 'stdin' : file, textOf(contentOf(file, stdin)), options.longestString ?? MAX_STRING_LENGTH);
}

export interface ReadOptions {
  /**
   * The longest text, in characters, joined into one string: a line or document longer is read in pieces
   * (largeDocument.ts). V8's own limit, unless a test sets a smaller one to reach that path with small files.
   */
  readonly longestString?: number;
}

/**
 * Line by line as NDJSON; a first line that does not parse alone but opens a JSON document (`[` or `{`) switches to
 * reading the whole file as one document (an array of entries or a single entry), and so does such a second line
 * after a first one holding a whole array or object (`jq -c` output or one entry on a line, then a pretty-printed
 * export: documents one after the other). A
 * file that is one array, pretty-printed or on one line, goes out in timestamp order (see inTimeOrder). A document
 * that turns out to be NDJSON whose first line is broken (a line holding a whole object or array inside an open
 * value, then another line opening one: no JSON document goes on so) goes back to line by line at once, so such a
 * file is not held whole either. At the top level such a line is a document of its own (an empty export's `[]`
 * among others): the file is then documents one after the other. (A first line that is broken yet balanced,
 * `{"a":1,}`, is so held whole, its lines then reported one by one when at least half of them parse: see parseDocument.)
 */
async function* readFile(source: string, text: AsyncIterable<string>, longest: number): AsyncGenerator<InputItem[]> {
  let lineNo = 0;
  let sawContent = false;
  let documentMode = false;
  let documentLine = 1;
  const document: string[] = [];
  /** The document's last non-blank line holds a whole JSON object or array on its own, inside another value. */
  let documentValueLine = false;
  // The bracket depth of `document[0..depthScanned)` (brackets in strings do not count; a string never spans lines),
  // found only when a line holds a whole value: most documents have no such line, and pay nothing.
  let depth = 0;
  let depthScanned = 0;
  const depthBefore = (end: number): number => {
    for (; depthScanned < end; depthScanned++) {
      const part = document[depthScanned]!;
      let inString = false;
      let escaped = false;
      for (let i = 0; i < part.length; i++) {
        const c = part.charCodeAt(i);
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 0x5c) escaped = true;
          else if (c === 0x22) inString = false;
        } else if (c === 0x22) inString = true;
        else if (c === 0x7b || c === 0x5b) depth++;
        else if (c === 0x7d || c === 0x5d) depth--;
      }
    }
    return depth;
  };
  // A first line holding an array or an object waits for the next line: when there is none, the file is one array
  // (`jq -c`), put in time order. It is kept as text too: a document opening on the next line makes it the first of
  // documents one after the other (`cat empty.json export.json`, gcloud writing `[]` when nothing matched; `jq -c`
  // output or one entry written on one line, then a pretty-printed export).
  let firstValue: { readonly value: object; readonly line: number; readonly text: string } | undefined;

  const handleDocumentLine = (line: string, batch: InputItem[]): void => {
    document.push(line, '\n');
    if (isBlank(line)) return;
    documentIsLongLine = false;
    const trimmed = line.trim();
    const opens = trimmed[0] === '[' || trimmed[0] === '{';
    if (documentValueLine && opens) {
      // After a closing `}` or `]` inside a value a JSON document goes on with `,`, `]` or `}` only, never with a
      // value: this is NDJSON, its first line broken (left open). Its lines so far are reported one by one, the rest
      // read line by line.
      documentMode = false;
      batch.push(...linesOfText(source, document.join(''), documentLine));
      document.length = 0;
      depth = 0;
      depthScanned = 0;
      return;
    }
    const closes = trimmed.endsWith('}') || trimmed.endsWith(']');
    // At the top level such a line is a document of its own, which another may follow (`cat` of an empty day's `[]`
    // between two exports): the file is then read as documents one after the other.
    documentValueLine = !holdsLongLine && opens && closes && parses(trimmed) && depthBefore(document.length - 2) > 0;
  };

  // The document holds a line too long for one string, in pieces: depthBefore takes a part for whole lines (a string
  // ends in it), so the check for NDJSON with a broken first line is off; no NDJSON line is that long anyway.
  let holdsLongLine = false;
  // The document is that one line (blank lines aside): its elements are named as a line's (`FILE:1[i]`).
  let documentIsLongLine = false;

  /** The document opens with `line` (a line, or a long line's pieces), after the first line's value if it waits. */
  const startDocument = (pending: typeof firstValue, line: readonly string[]): void => {
    documentMode = true;
    if (pending) {
      // The first line's value is the first document; the blank lines between keep the file's line numbers.
      documentLine = pending.line;
      document.push(pending.text, '\n'.repeat(lineNo - pending.line));
    } else documentLine = lineNo;
    for (const part of line) document.push(part);
    document.push('\n');
  };

  /** The entries of the first line's value, which waited for the next line: NDJSON's after all. */
  const waitedEntries = (pending: typeof firstValue): InputItem[] => {
    const items: InputItem[] = [];
    if (pending) pushEntries(items, pending.value, source, pending.line);
    return items;
  };

  /**
   * A line too long for one string (a whole export written compact on one line: `jq -c . export.json` over a busy
   * month), as its pieces: never joined. Inside a document it is part of it; opening the file it opens one; else (a
   * line among NDJSON's, a line after a first line's value: NDJSON too, as a line that parses makes it) it is cut
   * into its values on its own, as a document too large for one string is, its elements then in time order.
   */
  function* longLine(pieces: readonly string[]): Generator<InputItem[]> {
    lineNo++;
    const first = firstNonBlank(pieces);
    if (first === undefined) {
      if (documentMode) document.push('\n'); // the document's later lines keep their numbers
      return;
    }
    if (documentMode) {
      for (const part of pieces) document.push(part);
      document.push('\n');
      holdsLongLine = true;
      documentIsLongLine = false;
      documentValueLine = false;
      return;
    }
    const firstContent = !sawContent;
    sawContent = true;
    const pending = firstValue;
    firstValue = undefined;
    if (firstContent && (first === '[' || first === '{')) {
      startDocument(undefined, pieces);
      holdsLongLine = true;
      documentIsLongLine = true;
      return;
    }
    const waited = waitedEntries(pending);
    if (waited.length > 0) yield waited;
    // A line of NDJSON: what does not parse is that line's, not the file's (as handleLine says of a short one).
    for (const batch of largeDocumentItems(source, pieces, lineNo, true)) {
      yield batch.map((item) => (item.kind === 'invalid' ? { ...item, reason: item.reason.replace(NOT_A_DOCUMENT, 'line is not JSON') } : item));
    }
  }

  const handleLine = (raw: string, batch: InputItem[]): void => {
    lineNo++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (documentMode) {
      handleDocumentLine(line, batch);
      return;
    }
    if (line.length === 0 || isBlank(line)) return;
    // An empty array before anything else (`cat sunday.json monday.json tuesday.json` over exports, gcloud writing
    // `[]` for a day that matched nothing) holds nothing and decides nothing: what comes next is read as the first.
    if (!sawContent && isEmptyArray(line)) return;
    const firstContent = !sawContent;
    sawContent = true;
    const pending = firstValue;
    firstValue = undefined;
    const flush = (): void => {
      for (const item of waitedEntries(pending)) batch.push(item); // not push(...): an array of 100,000s of entries
    };
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      const first = line.trimStart()[0];
      if ((firstContent || pending) && (first === '[' || first === '{')) {
        startDocument(pending, [line]);
        return;
      }
      flush();
      batch.push({ kind: 'invalid', reason: 'line is not JSON', source: `${source}:${lineNo}` });
      return;
    }
    flush();
    if (firstContent && typeof value === 'object' && value !== null) {
      firstValue = { value, line: lineNo, text: line };
    } else {
      pushEntries(batch, value, source, lineNo);
    }
  };

  // The pieces of a line not finished yet: joined once its end comes, so a line of many chunks is copied once
  // (joining it to each new chunk and searching it again for a newline took time growing with its square). A line
  // longer than one string can be is never joined: `long` (see longLine).
  const partial: string[] = [];
  let partialChars = 0;
  let long = false;
  const addPiece = (piece: string): void => {
    if (!long && partialChars + piece.length > longest) long = true;
    partial.push(piece);
    partialChars += piece.length;
  };
  const takePieces = (): string[] => {
    const pieces = partial.splice(0);
    partialChars = 0;
    long = false;
    return pieces;
  };
  for await (const chunk of text) {
    let batch: InputItem[] = [];
    let start = 0;
    for (let newline = chunk.indexOf('\n'); newline !== -1; newline = chunk.indexOf('\n', start)) {
      let raw = chunk.slice(start, newline);
      start = newline + 1;
      if (partial.length > 0 || raw.length > longest) {
        addPiece(raw);
        if (long) {
          if (batch.length > 0) yield batch; // what came before it goes first
          batch = [];
          yield* longLine(takePieces());
          continue;
        }
        raw = takePieces().join('');
      }
      handleLine(raw, batch);
    }
    if (start < chunk.length) addPiece(start === 0 ? chunk : chunk.slice(start));
    if (batch.length > 0) yield batch;
  }
  // The last line when it has no newline: it may still switch to document mode (a one-line document).
  if (long) yield* longLine(takePieces());
  else if (partial.length > 0) {
    const batch: InputItem[] = [];
    handleLine(takePieces().join(''), batch);
    if (batch.length > 0) yield batch;
  }
  if (firstValue) {
    const { value, line } = firstValue;
    if (Array.isArray(value)) yield inTimeOrder(value).map((i): InputItem => ({ kind: 'entry', value: value[i], source: lineSource(source, line, i) }));
    else yield waitedEntries(firstValue);
  }
  if (documentMode) {
    let chars = 0;
    for (const part of document) chars += part.length;
    // Joined, a document over V8's longest string failed with "Invalid string length": it is cut up instead.
    if (chars > longest) yield* largeDocumentItems(source, document, documentLine, documentIsLongLine);
    else yield [...parseDocument(source, document.join(''), documentLine)];
  }
}

/** True when `line` is `[]`, white space aside. */
export function isEmptyArray(line: string): boolean {
  return /^\s*\[\s*\]\s*$/.test(line);
}

/** True when `text` is JSON on its own. */
export function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** `text` as one JSON document; `firstLine`: the file's line it starts on. */
function* parseDocument(source: string, text: string, firstLine: number): Generator<InputItem> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // Not one document either: NDJSON whose first line is broken, when at least half its lines parse (each broken
    // line is then reported on its own); else documents one after the other (`cat` of two exports, `jq '.[]'`); else
    // one broken document (its lines are fragments), reported once. Lines, not entries: a line holding an array of
    // many (`jq -c` of a month), counted by its entries, outweighed a pretty-printed export after it, whose every
    // line was then reported on its own.
    const tally = { parsing: 0, broken: 0 };
    const lines = linesOfText(source, text, firstLine, tally);
    if (lines.length > tally.broken && tally.parsing >= tally.broken) yield* lines;
    else yield* documentsInARow(source, text, firstLine) ?? [{ kind: 'invalid', reason: `file is neither NDJSON nor one JSON document: ${located(jsonSyntaxProblem(error), text, firstLine)}`, source }];
    return;
  }
  if (Array.isArray(value)) {
    for (const i of inTimeOrder(value)) yield { kind: 'entry', value: value[i], source: `${source}[${i}]` };
  } else {
    yield { kind: 'entry', value, source };
  }
}

/**
 * The entries of JSON documents written one after the other (`cat monday.json tuesday.json`: two gcloud exports;
 * `jq '.[]'`: pretty-printed objects), all in timestamp order as one array's; a value that does not parse (an entry
 * a file cut short ends inside) is reported where it starts. Undefined unless `text` holds two values or more at its
 * top level and one entry parses (or none fails: empty arrays): a single broken document is reported as such by the
 * caller.
 */
function documentsInARow(source: string, text: string, firstLine: number): InputItem[] | undefined {
  const cut = cutDocument(source, [text], firstLine, true); // the text is held whole already: its values may be too
  // No entry and something that did not parse: one broken document. No entry and nothing broken: empty arrays.
  if (cut.topLevel < 2 || (cut.entries === 0 && cut.invalid.length > 0)) return undefined;
  return [...cut.invalid, ...[...cut.batches()].flat()];
}

/**
 * The indices of `entries` in timestamp order, stable. `gcloud logging read --format=json` writes newest first:
 * an array of more entries than the reorder buffer holds would reach it more disordered than it can mend. The time
 * is read as replay reads it (readEnvelope), so this is replay's order; entries without one go first (they are
 * reported as malformed, wherever they are).
 */
function inTimeOrder(entries: readonly unknown[]): number[] {
  const keys = new Float64Array(entries.length);
  entries.forEach((entry, i) => {
    const read = readEnvelope(entry);
    keys[i] = read.ok ? timeSortKey(read.envelope.time, read.envelope.timeMs) : -Infinity;
  });
  return Array.from(entries.keys()).sort((a, b) => keys[a]! - keys[b]! || a - b);
}

/**
 * Every line of `text` as NDJSON: entries (a line holding an array gives its elements), broken lines invalid.
 * `tally`, when given, counts the non-blank lines that parse and those that do not.
 */
function linesOfText(source: string, text: string, firstLine: number, tally?: { parsing: number; broken: number }): InputItem[] {
  const items: InputItem[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (isBlank(line)) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      if (tally) tally.broken++;
      items.push({ kind: 'invalid', reason: 'line is not JSON', source: `${source}:${firstLine + i}` });
      return;
    }
    if (tally) tally.parsing++;
    pushEntries(items, value, source, firstLine + i);
  });
  return items;
}

/** The entries of one NDJSON line's value: the elements of an array, else the value itself. */
function pushEntries(into: InputItem[], value: unknown, file: string, line: number): void {
  if (Array.isArray(value)) for (const [element, entry] of (value as unknown[]).entries()) into.push({ kind: 'entry', value: entry, source: lineSource(file, line, element) });
  else into.push({ kind: 'entry', value, source: lineSource(file, line, -1) });
}

/** The first character of `pieces` (one line's text) that is not white space; undefined when there is none. */
function firstNonBlank(pieces: readonly string[]): string | undefined {
  for (const piece of pieces) {
    const trimmed = piece.trimStart();
    if (trimmed.length > 0) return trimmed[0];
  }
  return undefined;
}

function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}

