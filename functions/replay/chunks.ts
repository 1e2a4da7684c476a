// Whole lines of an NDJSON file in chunks of about 1 MiB, each in a SharedArrayBuffer of its own: worker threads
// read a chunk where it lies (no copy to send it, however many workers share it), and each decodes only its own
// lines. Shared by both parallel readers, as is the loop that sends the chunks and takes the answers in order.
import { constants as bufferConstants } from 'node:buffer';
import { open } from 'node:fs/promises';

export interface LineChunk {
  /** The chunk's bytes: whole lines, backed by a SharedArrayBuffer. */
  readonly bytes: Buffer;
  /** 1-based number of the chunk's first line in the file. */
  readonly firstLine: number;
  /** How many lines the chunk holds (the last one may lack its newline at the end of the file). */
  readonly lines: number;
  /** Where the chunk's first byte lies in the file. */
  readonly position: number;
}

const CHUNK_BYTES = 1 << 20;

/**
 * Shared buffers handed back once every worker is done with their chunk, and read into again. Fresh memory costs
 * a page fault per 4 KiB on first touch: a fresh buffer per chunk was ~100,000 faults (about 0.5 s of kernel time)
 * per 400 MB read.
 */
export class SharedBufferPool {
  private readonly free: Buffer[] = [];

  constructor(private readonly limit = 32) {}

  /** A buffer of at least `size` bytes; new ones get a quarter more, so the next read's carried line fits too. */
  take(size: number): Buffer {
    const index = this.free.findIndex((b) => b.length >= size);
    if (index >= 0) return this.free.splice(index, 1)[0]!;
    return Buffer.from(new SharedArrayBuffer(size + (size >> 2)));
  }

  give(buffer: Buffer): void {
    if (this.free.length < this.limit) this.free.push(buffer);
  }
}

/**
 * Reads `file` in chunks of whole lines, each in a buffer from `pool`: give `chunk.buffer` back once nothing reads
 * the chunk any more. A line of more bytes than `longestLine` (V8's longest string, about 512 MiB, unless a test
 * says less) is refused by name: a worker could not make it one string ("Cannot create a string longer than
 * 0x1fffffe8 characters", which named neither file nor line), while the sequential reader reads it in pieces.
 */
export async function* readLineChunks(file: string, pool: SharedBufferPool, longestLine = bufferConstants.MAX_STRING_LENGTH): AsyncGenerator<LineChunk & { readonly buffer: Buffer }> {
  const handle = await open(file, 'r');
  try {
    let position = 0;
    let carry = Buffer.alloc(0);
    let line = 1;
    for (;;) {
      // The unfinished line of the previous read goes first, then the next CHUNK_BYTES of the file.
      // A line longer than a chunk is read in ever larger reads (as long as what is carried), so a line of n bytes
      // is copied O(n) times in all, not once per MiB of it (a 150 MB line then took minutes).
      const want = Math.max(CHUNK_BYTES, carry.length);
      const buffer = pool.take(carry.length + want);
      carry.copy(buffer);
      const { bytesRead } = await handle.read(buffer, carry.length, want, position);
      position += bytesRead;
      const filled = carry.length + bytesRead;
      const chunkPosition = position - filled;
      // At the end of the file everything left is whole; before it, cut after the last newline.
      const cut = bytesRead === 0 ? filled : buffer.lastIndexOf(0x0a, filled - 1) + 1;
      if (cut > 0) {
        const bytes = buffer.subarray(0, cut);
        const { lines, longest, longestLine: at } = countLines(bytes);
        if (longest > longestLine) throw new Error(`${file}:${line + at}: a line of ${longest.toLocaleString('en-US')} bytes, over the longest string worker threads can take (${longestLine.toLocaleString('en-US')} characters); \`--workers 0\` reads it in pieces`);
        yield { bytes, firstLine: line, lines, position: chunkPosition, buffer };
        line += lines;
      }
      carry = Buffer.from(buffer.subarray(cut, filled));
      if (cut === 0) pool.give(buffer); // nothing yielded from it
      // Refused as soon as it is over, not once its end is read: reads as large as what is carried asked for twice a
      // line's length (a buffer over 4 GiB for a 2 GiB line) before the refusal.
      if (bytesRead > 0 && carry.length > longestLine) throw new Error(`${file}:${line}: a line of more than ${carry.length.toLocaleString('en-US')} bytes, over the longest string worker threads can take (${longestLine.toLocaleString('en-US')} characters); \`--workers 0\` reads it in pieces`);
      if (bytesRead === 0) return;
    }
  } finally {
    await handle.close();
  }
}

/**
 * The line chunks of `files` go to worker threads through `send` (the workers read the shared bytes in place);
 * their answers come out in chunk order. At most `ahead` chunks are read ahead of the oldest unanswered one, so
 * memory stays bounded; a chunk's buffer is read into again once it is answered.
 */
export function answersInOrder<T>(files: readonly string[], ahead: number, send: (chunk: LineChunk, file: string) => Promise<T>): AsyncGenerator<T> {
  const pool = new SharedBufferPool(ahead + 4);
  async function* chunks(): AsyncGenerator<LineChunk & { readonly buffer: Buffer; readonly file: string }> {
    for (const file of files) for await (const chunk of readLineChunks(file, pool)) yield { ...chunk, file };
  }
  return inOrder(chunks(), pool, ahead, (chunk) => send(chunk, chunk.file));
}

/**
 * Sends each chunk (its bytes in a buffer of `pool`) through `send`; yields the answers in chunk order, with at
 * most `ahead` chunks unanswered. A chunk's buffer goes back to the pool once it is answered.
 */
export async function* inOrder<C extends { readonly buffer: Buffer }, T>(
  chunks: AsyncIterable<C>,
  pool: SharedBufferPool,
  ahead: number,
  send: (chunk: C) => Promise<T>,
): AsyncGenerator<T> {
  const inFlight: Promise<T>[] = [];
  for await (const chunk of chunks) {
    const answered = send(chunk).then((answer) => (pool.give(chunk.buffer), answer));
    // Awaited in order below; when a worker fails every chunk in flight rejects at once, and only the oldest is
    // being awaited: the others must not count as unhandled rejections (which would end the process).
    answered.catch(() => undefined);
    inFlight.push(answered);
    while (inFlight.length > ahead) yield await inFlight.shift()!;
  }
  while (inFlight.length > 0) yield await inFlight.shift()!;
}

/** How many lines `bytes` holds, and the longest (its bytes, without the newline; its index among them). */
function countLines(bytes: Buffer): { lines: number; longest: number; longestLine: number } {
  let count = 0;
  let longest = 0;
  let longestLine = 0;
  let start = 0;
  for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) {
    if (i - start > longest) {
      longest = i - start;
      longestLine = count;
    }
    count++;
    start = i + 1;
  }
  if (bytes.length - start > longest) {
    longest = bytes.length - start;
    longestLine = count;
  }
  return { lines: bytes[bytes.length - 1] === 0x0a ? count : count + 1, longest, longestLine };
}

/**
 * The line ranges of a chunk as `[start, end, lineNumber]` triples (end excludes the newline and a `\r` before it),
 * blank lines left out.
 */
export function lineRanges(bytes: Buffer, firstLine: number): Int32Array {
  const out: number[] = [];
  let line = firstLine;
  for (let start = 0; start < bytes.length; line++) {
    let end = bytes.indexOf(0x0a, start);
    const next = end === -1 ? bytes.length : end + 1;
    if (end === -1) end = bytes.length;
    if (end > start && bytes[end - 1] === 0x0d) end--;
    if (!isBlank(bytes, start, end)) out.push(start, end, line);
    start = next;
  }
  return Int32Array.from(out);
}

function isBlank(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}
