// Every command's stdout may fail under it: a reader that went away (`runwatch sink-filter | head -0`), a full disk
// (`> /dev/full`). Only replay watched its stdout; the others ended in Node's "Unhandled 'error' event" and a
// stack trace.
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../functions/cli/main.js';
import { failingStream } from '../support/cli.js';

async function run(args: readonly string[], code: string): Promise<{ code: number; stderr: string }> {
  const stderr = new PassThrough();
  const err: Buffer[] = [];
  stderr.on('data', (c: Buffer) => err.push(c));
  const exit = await main([...args], { stdin: Readable.from(['']), stdout: failingStream(code), stderr, env: {} });
  // Let error events still queued come out: unhandled, they would fail the test run.
  await new Promise((resolve) => setTimeout(resolve, 20));
  return { code: exit, stderr: Buffer.concat(err).toString() };
}

describe('a failing stdout ends every command without a stack trace', () => {
  it.each([
    [['sink-filter'], 'EPIPE', 0],
    [['--help'], 'EPIPE', 0],
    [['replay', '--help'], 'EPIPE', 0],
    [['validate-config', 'examples/runwatch.yaml'], 'EPIPE', 0],
    [['sink-filter'], 'ENOSPC', 1],
    [['--help'], 'ENOSPC', 1],
    [['replay', '--help'], 'ENOSPC', 1],
    [['validate-config', 'examples/runwatch.yaml'], 'ENOSPC', 1],
    [['replay', '--quiet', '--format', 'ndjson', 'examples/logs'], 'EPIPE', 0],
    [['replay', '--quiet', '--format', 'ndjson', 'examples/logs'], 'ENOSPC', 1],
  ])('%j with %s exits %d', async (args, error, expected) => {
    const result = await run(args, error);
    expect(result.code).toBe(expected);
    if (expected === 0) expect(result.stderr).toBe('');
    else expect(result.stderr).toMatch(new RegExp(`^runwatch[^\\n]*: .*ENOSPC: write failed\\n$`));
  });
});
