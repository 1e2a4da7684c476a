// The console sink writes one JSON line per finding to stdout: Cloud Logging reads it as a structured entry, and
// `npm run dev` or a developer's terminal shows it. Untrusted text in a finding (C1 controls, bidi overrides, line
// separators) must not act on the terminal, and the line must stay JSON with the same values.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConsoleSink } from '../../sinks/console.js';
import { makeFinding } from '../support/findings.js';
import { HOSTILE } from './hostile.js';

/** Characters that act on a terminal or change how text reads: C1 controls, DEL, bidi, line separators. */
const ACTIVE = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

async function written(summary: string): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const finding = { ...makeFinding('public-invoker-grant'), summary, principal: summary };
  expect(await new ConsoleSink(out).deliver(finding)).toEqual({ status: 'delivered' });
  return Buffer.concat(chunks).toString();
}

describe('ConsoleSink', () => {
  it.each(HOSTILE)('%s: one line of JSON, nothing active on a terminal, the values unchanged', async (_name, value) => {
    const text = await written(value);
    expect(text.endsWith('\n')).toBe(true);
    expect(text.slice(0, -1)).not.toMatch(/[\n\r]/);
    expect(text).not.toMatch(ACTIVE);
    const line = JSON.parse(text) as { severity: string; message: string; finding: { summary: string; principal: string } };
    expect(line.finding.summary).toBe(value);
    expect(line.finding.principal).toBe(value);
    expect(line.severity).toBe('ERROR');
  });

  it('C1 CSI, a right-to-left override and a line separator come out as escapes', async () => {
    const text = await written('a\u009b31mb\u202ec\u2028d');
    expect(text).toContain('a\\u009b31mb\\u202ec\\u2028d');
  });
});
