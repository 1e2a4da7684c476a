// Whole lines of an NDJSON file in chunks of about 1 MiB, each in a buffer of its own (so it can be transferred to
// a worker thread without another copy), with the number of its first line. Shared by both parallel readers.
import { open } from 'node:fs/promises';

export interface LineChunk {
  readonly bytes: Uint8Array;
  /** 1-based number of the chunk's first line in the file. */
  readonly firstLine: number;
  /** How many lines the chunk holds (the last one may lack its newline at the end of the file). */
  readonly lines: number;
}

export const CHUNK_BYTES = 1 << 20;

export async function* readLineChunks(file: string, size = CHUNK_BYTES): AsyncGenerator<LineChunk> {
  const handle = await open(file, 'r');
  try {
    let position = 0;
    let carry = Buffer.alloc(0);
    let line = 1;
    for (;;) {
      const buffer = Buffer.allocUnsafe(size);
      const { bytesRead } = await handle.read(buffer, 0, size, position);
      position += bytesRead;
      const data = carry.length > 0 ? Buffer.concat([carry, buffer.subarray(0, bytesRead)]) : buffer.subarray(0, bytesRead);
      // At the end of the file everything left is whole; before it, cut after the last newline.
      const cut = bytesRead === 0 ? data.length : data.lastIndexOf(0x0a) + 1;
      if (cut > 0) {
        const bytes = new Uint8Array(cut);
        bytes.set(data.subarray(0, cut));
        const lines = countLines(bytes);
        yield { bytes, firstLine: line, lines };
        line += lines;
      }
      carry = Buffer.from(data.subarray(cut));
      if (bytesRead === 0) return;
    }
  } finally {
    await handle.close();
  }
}

function countLines(bytes: Uint8Array): number {
  let count = 0;
  for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) count++;
  return bytes[bytes.length - 1] === 0x0a ? count : count + 1;
}
