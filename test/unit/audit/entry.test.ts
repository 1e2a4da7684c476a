import { describe, expect, it } from 'vitest';
import { normalizeTimestamp, readEnvelope, timeSortKey } from '../../../functions/audit/entry.js';
import { TIMESTAMP_FORMS } from '../../support/timestamps.js';

/**
 * normalizeTimestamp as it was before its fast path for the canonical form, without the days and times that do
 * not exist (Date.parse rolls them over), its fraction written in 0, 3, 6 or 9 digits: the reference.
 */
function byPattern(raw: string): { iso: string; ms: number } | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$/i.exec(raw.trim());
  if (!m) return undefined;
  const [, date, clock, fraction = '', zone = 'Z'] = m;
  const [y, mo, d] = date!.split('-').map(Number) as [number, number, number];
  const [h, mi, s] = clock!.split(':').map(Number) as [number, number, number];
  const daysInMonth = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
  if (daysInMonth === undefined || d < 1 || d > daysInMonth || h > 23 || mi > 59 || s > 59) return undefined;
  const zoneText = zone.toUpperCase() === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${date}T${clock}${fraction ? fraction.slice(0, 4).padEnd(4, '0') : ''}${zoneText}`);
  if (Number.isNaN(ms)) return undefined;
  // The fraction as protocol buffers' JSON writes it: nine digits, then whole groups of three zeros dropped.
  let nanos = fraction.slice(1).padEnd(9, '0');
  while (nanos.endsWith('000')) nanos = nanos.slice(0, -3);
  const canonical = nanos === '' ? '' : `.${nanos}`;
  if (zoneText === 'Z') return { iso: `${date}T${clock}${canonical}Z`, ms };
  return { iso: `${new Date(ms).toISOString().slice(0, 19)}${canonical}Z`, ms };
}

// The canonical `...Z` form is read digit by digit; every other form goes through the pattern. Both must give what
// the pattern alone gave, or nothing where it gave nothing.
describe('timestamps', () => {
  it.each(TIMESTAMP_FORMS)('reads %s as the pattern does', (raw) => {
    expect(normalizeTimestamp(raw)).toEqual(byPattern(raw));
  });

  it('reads random canonical timestamps as the pattern does', () => {
    let seed = 5;
    const next = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const pad = (n: number, width: number): string => String(n).padStart(width, '0');
    for (let i = 0; i < 3000; i++) {
      const date = `${pad(1960 + Math.floor(next() * 100), 4)}-${pad(1 + Math.floor(next() * 12), 2)}-${pad(1 + Math.floor(next() * 31), 2)}`;
      const clock = `${pad(Math.floor(next() * 25), 2)}:${pad(Math.floor(next() * 61), 2)}:${pad(Math.floor(next() * 61), 2)}`;
      const digits = Math.floor(next() * 11);
      const fraction = digits === 0 ? '' : `.${Array.from({ length: digits }, () => Math.floor(next() * 10)).join('')}`;
      const raw = `${date}T${clock}${fraction}Z`;
      expect(normalizeTimestamp(raw)).toEqual(byPattern(raw));
    }
  });

  it.each([
    ['2024-05-06T22:58:04.355675Z', '2024-05-06T22:58:04.355675Z', Date.UTC(2024, 4, 6, 22, 58, 4, 355)],
    ['2024-05-06T22:58:04.355675123Z', '2024-05-06T22:58:04.355675123Z', Date.UTC(2024, 4, 6, 22, 58, 4, 355)],
    ['2024-05-06T22:58:04Z', '2024-05-06T22:58:04Z', Date.UTC(2024, 4, 6, 22, 58, 4)],
    ['2024-05-07T00:58:04.5+02:00', '2024-05-06T22:58:04.500Z', Date.UTC(2024, 4, 6, 22, 58, 4, 500)],
    // One instant, one identity: the fraction in 0, 3, 6 or 9 digits, as Cloud Logging writes it.
    ['2024-05-06T22:58:04.355675000Z', '2024-05-06T22:58:04.355675Z', Date.UTC(2024, 4, 6, 22, 58, 4, 355)],
    ['2024-05-06T22:58:04.35567Z', '2024-05-06T22:58:04.355670Z', Date.UTC(2024, 4, 6, 22, 58, 4, 355)], // Go's RFC3339Nano drops trailing zeros
    ['2024-05-06T22:58:04.000000Z', '2024-05-06T22:58:04Z', Date.UTC(2024, 4, 6, 22, 58, 4)],
    ['2024-05-06T22:58:04.100000000Z', '2024-05-06T22:58:04.100Z', Date.UTC(2024, 4, 6, 22, 58, 4, 100)],
    ['2024-02-02 09:44:26.653891000', '2024-02-02T09:44:26.653891Z', Date.UTC(2024, 1, 2, 9, 44, 26, 653)], // Panther, nine digits
    ['2024-02-02 09:44:26.653891982', '2024-02-02T09:44:26.653891982Z', Date.UTC(2024, 1, 2, 9, 44, 26, 653)], // Panther
    ['2024-02-29T23:59:59Z', '2024-02-29T23:59:59Z', Date.UTC(2024, 1, 29, 23, 59, 59)], // a leap day
    ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00Z', Date.UTC(2000, 1, 29)],
    ['2024-03-01T00:30:00+01:00', '2024-02-29T23:30:00Z', Date.UTC(2024, 1, 29, 23, 30)],
  ])('%s', (raw, iso, ms) => {
    expect(normalizeTimestamp(raw)).toEqual({ iso, ms });
  });

  it.each([
    'yesterday', '2024-13-45T99:00:00Z', '', '2024-05-06',
    // On no calendar: Date.parse took them for the day or minute after.
    '2024-02-30T00:00:00Z', '2023-02-29T12:00:00Z', '2024-04-31 00:00:00', '2024-05-06T24:00:00Z', '2024-05-06T24:00:00+02:00', '1900-02-29T00:00:00Z',
  ])('rejects %j', (raw) => {
    expect(normalizeTimestamp(raw)).toBeUndefined();
  });

  it('sort keys order sub-millisecond digits', () => {
    const a = normalizeTimestamp('2024-01-01T00:00:00.000100Z')!;
    const b = normalizeTimestamp('2024-01-01T00:00:00.000900Z')!;
    expect(timeSortKey(a.iso, a.ms)).toBeLessThan(timeSortKey(b.iso, b.ms));
  });

  it('reads Panther at_sign_type as the AuditLog type', () => {
    const result = readEnvelope({ timestamp: '2024-01-01 00:00:00', protoPayload: { at_sign_type: 'type.googleapis.com/google.cloud.audit.AuditLog', serviceName: 'run.googleapis.com' } });
    expect(result.ok && result.envelope.payload).toBeTruthy();
  });

  // A timestamp that is there but unreadable is reported, whether it is an unreadable string or not a string at all;
  // only a missing (empty, or null) one falls back to the receive time.
  it.each([
    [1714557600000, { ok: false, reason: 'timestamp is not a string' }],
    [{ seconds: 1714557600 }, { ok: false, reason: 'timestamp is not a string' }],
    ['yesterday', { ok: false, reason: 'unreadable timestamp "yesterday"' }],
    ['', { ok: true, envelope: { time: '2024-05-01T10:00:00Z' } }],
    [undefined, { ok: true, envelope: { time: '2024-05-01T10:00:00Z' } }],
    [null, { ok: true, envelope: { time: '2024-05-01T10:00:00Z' } }],
  ])('timestamp %j beside a receive time', (timestamp, expected) => {
    expect(readEnvelope({ timestamp, receiveTimestamp: '2024-05-01T10:00:00Z', protoPayload: {} })).toMatchObject(expected);
  });

  it('a workload log has no audit payload', () => {
    const result = readEnvelope({ timestamp: '2024-01-01T00:00:00Z', logName: 'projects/p/logs/run.googleapis.com%2Fstdout', textPayload: 'hello' });
    expect(result.ok && result.envelope.payload).toBeFalsy();
  });
});
