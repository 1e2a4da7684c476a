// The console sink writes one JSON line per finding to stdout: Cloud Logging reads it as a structured entry, and
// `npm run dev` or a developer's terminal shows it. Untrusted text in a finding (C1 controls, bidi overrides, line
// separators) must not act on the terminal, and the line must stay JSON with the same values.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConsoleSink } from '../../sinks/console.js';
import { synthetic } from '../support/entries.js';
import { makeFinding, resolutionOf } from '../support/findings.js';
import { findingsOf } from '../support/run.js';
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

// Cloud Logging decodes the JSON: what the line escaped is back in the entry. Its `message` is the entry's summary line
// in Logs Explorer and the text of log-based alert notifications, read rendered like a Slack message or a PagerDuty
// title: a service named `\u202e...` read backwards there, a line separator pushed the rest of the summary off the
// line. The `finding` keeps the values as the entry had them (as evidence, like PagerDuty's custom_details).
describe('ConsoleSink message, as Cloud Logging shows it', () => {
  /** Written out here, independently of untrustedText.ts: what breaks a line, hides or turns text around. */
  const UNSAFE =
    /[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u2800\u3164\ufeff\uffa0\ufff9-\ufffb\u{e0000}-\u{e007f}\ufe00-\ufe0f\u{e0100}-\u{e01ef}]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u;

  it.each(HOSTILE)('%s in the service and principal: nothing in the decoded message breaks a line, hides or turns text around', async (_name, value) => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const finding = makeFinding('public-invoker-grant', { service: value, principal: value });
    await new ConsoleSink(out).deliver(finding);
    const line = JSON.parse(Buffer.concat(chunks).toString()) as { message: string; finding: { service: string; principal: string } };
    expect(line.message).not.toMatch(UNSAFE);
    expect(line.message.startsWith('[runwatch] Cloud Run invoker granted to the public: ')).toBe(true);
    expect(line.finding.service).toBe(value);
    expect(line.finding.principal).toBe(value);
  });
});

// A resolution reaches the console sink like every other finding (same id, `status: "resolved"`). Its line's
// `message` is what Logs Explorer shows and a log-based alert sends: it must read as the close of the alert, with
// when, who and why, never as the original alert written a second time.
describe('ConsoleSink message of a resolution', () => {
  it('the real project grant removed again: "Resolved", the reason, who and when; not the grant as a new alert', async () => {
    const findings = await findingsOf([synthetic('project-SetIamPolicy-run-invoker-allUsers'), synthetic('project-SetIamPolicy-run-invoker-removed')]);
    const resolution = findings.find((f) => f.rule === 'public-invoker-grant' && f.status === 'resolved');
    if (!resolution?.resolution) throw new Error('expected the grant resolved');
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    await new ConsoleSink(out).deliver(resolution);
    const line = JSON.parse(Buffer.concat(chunks).toString()) as { message: string; finding: { status: string } };
    expect(line.finding.status).toBe('resolved');
    expect(line.message).toBe(
      `[runwatch] Resolved: ${resolution.title}: ${resolution.resolution.reason} (by ${resolution.resolution.principal} at ${resolution.resolution.time})`,
    );
    expect(line.message).not.toContain(resolution.summary);
  });

  // A log-based alert on severity >= ERROR (or >= NOTICE, for LOW findings too) paged again for the close of what it
  // paged for: the line's severity is Cloud Logging's INFO, the finding's own severity stays in `finding`.
  it("is logged at INFO, below every finding's level, its finding keeping its severity", async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const finding = makeFinding('public-invoker-grant');
    await new ConsoleSink(out).deliver(finding);
    await new ConsoleSink(out).deliver(resolutionOf(finding));
    const [opened, resolved] = Buffer.concat(chunks).toString().trim().split('\n').map((l) => JSON.parse(l) as { severity: string; finding: { severity: string } });
    expect(opened).toMatchObject({ severity: 'ERROR', finding: { severity: 'HIGH' } });
    expect(resolved).toMatchObject({ severity: 'INFO', finding: { severity: 'HIGH' } });
  });

  it('shows what in the reason could break a line or turn text around as U+FFFD, as in the finding message', async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    await new ConsoleSink(out).deliver(resolutionOf(makeFinding('public-invoker-grant'), { reason: 'runtime service account is now a\u2028b\u202ec' }));
    const line = JSON.parse(Buffer.concat(chunks).toString()) as { message: string };
    expect(line.message.startsWith('[runwatch] Resolved: Cloud Run invoker granted to the public: runtime service account is now a\ufffdb\ufffdc (by ')).toBe(true);
  });
});
