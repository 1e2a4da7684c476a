// stderr may fail under a command too: `runwatch replay ... 2>&1 | head -1` closes it with stdout, and
// `2>&1 >/dev/null | head -1` or `2>/dev/full` close it alone. A failed write to stderr was an unhandled 'error'
// event: the process died with exit 1 mid-replay and skipped every `finally`, so a --state lock stayed behind.
// Diagnostics that cannot be written are dropped; the command goes on and exits as it would have.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../functions/cli/main.js';
import { failingStream } from '../support/cli.js';

async function run(args: readonly string[], code: string): Promise<{ code: number; stdout: string }> {
  const stdout = new PassThrough();
  const out: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  const exit = await main([...args], { stdin: Readable.from(['']), stdout, stderr: failingStream(code), env: {} });
  // Let error events still queued come out: unhandled, they would fail the test run.
  await new Promise((resolve) => setTimeout(resolve, 20));
  return { code: exit, stdout: Buffer.concat(out).toString() };
}

describe('a failing stderr ends no command early', () => {
  it.each(['EPIPE', 'ENOSPC'])('replay --state (progress and summary on stderr), %s: findings out, state written, lock gone', async (error) => {
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-stderr-'));
    const state = join(dir, 'state.json');
    const result = await run(['replay', '--format', 'ndjson', '--state', state, 'examples/logs'], error);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n').length).toBeGreaterThan(5);
    expect(existsSync(`${state}.lock`)).toBe(false);
    expect(readdirSync(dir)).toEqual(['state.json']);
    expect(Object.keys((JSON.parse(readFileSync(state, 'utf8')) as { services: object }).services).length).toBeGreaterThan(0);
  });

  it.each(['EPIPE', 'ENOSPC'])('validate-config of a bad file, %s: still exit 2', async (error) => {
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-stderr-'));
    writeFileSync(join(dir, 'bad.yaml'), 'timezone: Mars/Olympus\n');
    expect((await run(['validate-config', join(dir, 'bad.yaml')], error)).code).toBe(2);
  });

  it('an unknown command, EPIPE: still exit 2', async () => {
    expect((await run(['replya'], 'EPIPE')).code).toBe(2);
  });
});
