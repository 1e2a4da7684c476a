import { describe, expect, it } from 'vitest';
import { normalizeTimestamp, readEnvelope, timeSortKey } from '../../../functions/audit/entry.js';

describe('timestamps', () => {
  it.each([
    ['2024-05-06T22:58:04.355675Z', '2024-05-06T22:58:04.355675Z', Date.UTC(2024, 4, 6, 22, 58, 4, 355)],
    ['2024-05-06T22:58:04.355675123Z', '2024-05-06T22:58:04.355675123Z', Date.UTC(2024, 4, 6, 22, 58, 4, 355)],
    ['2024-05-06T22:58:04Z', '2024-05-06T22:58:04Z', Date.UTC(2024, 4, 6, 22, 58, 4)],
    ['2024-05-07T00:58:04.5+02:00', '2024-05-06T22:58:04.5Z', Date.UTC(2024, 4, 6, 22, 58, 4, 500)],
    ['2024-02-02 09:44:26.653891982', '2024-02-02T09:44:26.653891982Z', Date.UTC(2024, 1, 2, 9, 44, 26, 653)], // Panther
  ])('%s', (raw, iso, ms) => {
    expect(normalizeTimestamp(raw)).toEqual({ iso, ms });
  });

  it.each(['yesterday', '2024-13-45T99:00:00Z', '', '2024-05-06'])('rejects %j', (raw) => {
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

  it('a workload log has no audit payload', () => {
    const result = readEnvelope({ timestamp: '2024-01-01T00:00:00Z', logName: 'projects/p/logs/run.googleapis.com%2Fstdout', textPayload: 'hello' });
    expect(result.ok && result.envelope.payload).toBeFalsy();
  });
});
