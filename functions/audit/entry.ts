// The LogEntry envelope: identity, time, log kind and the AuditLog payload, read defensively.
// Accepts the REST/JSON form a log sink delivers and `gcloud logging read --format=json` writes, and the forms
// other tools re-export (Panther renames `@type` to `at_sign_type` and writes `YYYY-MM-DD HH:MM:SS.fffffffff`), and
// audit rows exported from BigQuery (bigQueryRow.ts), read as the LogEntry each was.
import { AUDIT_LOG_TYPE, logEntryOfRow } from './bigQueryRow.js';
import { asObject, asString, at, type JsonObject } from './json.js';
import type { EntryKey } from '../model/change.js';
import { cutText } from '../untrustedText.js';

export type LogKind = 'activity' | 'system_event' | 'data_access' | 'policy' | 'other';

export interface Envelope {
  readonly entry: JsonObject;
  readonly key: EntryKey;
  /** ISO 8601 UTC. */
  readonly time: string;
  readonly timeMs: number;
  readonly logKind: LogKind;
  /** The AuditLog payload, or undefined for workload and other non-audit logs. */
  readonly payload?: JsonObject;
}

export type EnvelopeResult = { readonly ok: true; readonly envelope: Envelope } | { readonly ok: false; readonly reason: string };

export function readEnvelope(value: unknown): EnvelopeResult {
  const object = asObject(value);
  if (!object) return { ok: false, reason: 'entry is not a JSON object' };
  // A LogEntry as it is, or the one a BigQuery row was.
  const row = logEntryOfRow(object);
  if (!row.ok) return row;
  const entry = row.entry;
  // Real entries carry `timestamp` at the top; some hand-edited exports moved it into the payload. One that is there
  // but not a string is unreadable, like an unreadable string: not replaced by the receive time. (null is JSON's
  // "not set", as protocol buffers' JSON reads it: missing.)
  const timestamp = entry['timestamp'];
  if (timestamp !== undefined && timestamp !== null && typeof timestamp !== 'string') return { ok: false, reason: 'timestamp is not a string' };
  const rawTime = asString(timestamp) ?? asString(at(entry, 'protoPayload', 'timestamp')) ?? asString(entry['receiveTimestamp']);
  if (!rawTime) return { ok: false, reason: 'entry has no timestamp' };
  const time = normalizeTimestamp(rawTime);
  if (!time) return { ok: false, reason: `unreadable timestamp ${JSON.stringify(cutText(rawTime, 40))}` };
  const logName = asString(entry['logName']) ?? '';
  const insertId = asString(entry['insertId']) ?? '';
  const payload = asObject(entry['protoPayload']);
  const type = payload ? (asString(payload['@type']) ?? asString(payload['at_sign_type'])) : undefined;
  return {
    ok: true,
    envelope: {
      entry,
      key: { logName, timestamp: time.iso, insertId },
      time: time.iso,
      timeMs: time.ms,
      logKind: logKindOf(logName),
      payload: payload && (type === AUDIT_LOG_TYPE || (type === undefined && looksLikeAuditLog(payload))) ? payload : undefined,
    },
  };
}

const LOG_NAME_PROJECT = /^projects\/([^/]+)\/logs\//;

/** The project of a log name `projects/PROJECT/logs/LOG_ID`; undefined for other parents (folders, organizations). */
export function projectOfLogName(logName: string): string | undefined {
  return LOG_NAME_PROJECT.exec(logName)?.[1];
}

function looksLikeAuditLog(payload: JsonObject): boolean {
  return typeof payload['serviceName'] === 'string' || typeof payload['methodName'] === 'string';
}

function logKindOf(logName: string): LogKind {
  const slash = logName.lastIndexOf('/');
  const id = logName.slice(slash + 1);
  switch (id) {
    case 'cloudaudit.googleapis.com%2Factivity':
      return 'activity';
    case 'cloudaudit.googleapis.com%2Fsystem_event':
      return 'system_event';
    case 'cloudaudit.googleapis.com%2Fdata_access':
      return 'data_access';
    case 'cloudaudit.googleapis.com%2Fpolicy':
      return 'policy';
    default:
      // A missing logName (some test data) is read as an admin activity entry; workload logs have their own names.
      return logName === '' ? 'activity' : 'other';
  }
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$/i;

/** True when `raw` is written as a timestamp normalizeTimestamp reads, whether or not its day and time exist. */
export function hasTimestampShape(raw: string): boolean {
  return RFC3339.test(raw.trim());
}

/**
 * RFC 3339 with up to nanosecond precision, or the space-separated zone-less form (read as UTC); a day or time of
 * day that does not exist (2024-02-30, 24:00:00) is none. Returns a canonical ISO string and epoch ms. The string is
 * part of the entry's identity (and so of finding ids): its fraction is written as protocol buffers' JSON writes a
 * Timestamp, and Cloud Logging every entry, with 0, 3, 6 or 9 digits (`.5` is `.500`, `.355675000` is `.355675`),
 * so one entry re-exported with another number of digits (Panther writes nine) is the same entry.
 */
export function normalizeTimestamp(raw: string): { iso: string; ms: number } | undefined {
  const ms = canonicalUtcMs(raw);
  if (ms === undefined) {
    const byPattern = normalizeByPattern(raw);
    return byPattern && { iso: withCanonicalFraction(byPattern.iso), ms: byPattern.ms };
  }
  return { iso: withCanonicalFraction(raw), ms };
}

/**
 * `iso` (`...THH:MM:SS[.fraction]Z`) with its fraction in 0, 3, 6 or 9 digits: the fewest of those that hold its
 * value. Google's own timestamps are already so and come back as they are, unchanged (the common case is checked
 * first, without building a string).
 */
export function withCanonicalFraction(iso: string): string {
  const digitsCount = iso.length - 21; // `...SS.` is 20 characters, `Z` one
  if (digitsCount <= 0) return iso;
  if ((digitsCount === 3 || digitsCount === 6 || digitsCount === 9) && !iso.endsWith('000Z')) return iso;
  const nanos = iso.slice(20, iso.length - 1).padEnd(9, '0');
  const fraction = nanos === '000000000' ? '' : nanos.endsWith('000000') ? `.${nanos.slice(0, 3)}` : nanos.endsWith('000') ? `.${nanos.slice(0, 6)}` : `.${nanos}`;
  return `${iso.slice(0, 19)}${fraction}Z`;
}

/** The number written by the ASCII digits `text[start..end)`, or -1 when one is not a digit. */
function digits(text: string, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/**
 * Epoch ms of a timestamp already in the canonical form, `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (how Cloud Logging
 * writes every one), read digit by digit: the same value normalizeByPattern gives (the first three fraction digits
 * count), without its regular expression, Date.parse and strings; every replayed line goes through here twice (its
 * order key, then its entry). Anything else, and dates this does not check as Date.parse does (years before 1970,
 * day 29 and later, hour 24, the 60th second), is left to normalizeByPattern: undefined.
 */
function canonicalUtcMs(raw: string): number | undefined {
  const length = raw.length;
  if (length < 20 || length > 30 || raw.charCodeAt(length - 1) !== 0x5a /* Z */) return undefined;
  if (raw.charCodeAt(4) !== 0x2d || raw.charCodeAt(7) !== 0x2d || raw.charCodeAt(10) !== 0x54 || raw.charCodeAt(13) !== 0x3a || raw.charCodeAt(16) !== 0x3a) {
    return undefined;
  }
  const year = digits(raw, 0, 4);
  const month = digits(raw, 5, 7);
  const day = digits(raw, 8, 10);
  const hour = digits(raw, 11, 13);
  const minute = digits(raw, 14, 16);
  const second = digits(raw, 17, 19);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 28 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
    return undefined;
  }
  let ms = 0;
  if (length > 20) {
    // `.` and 1 to 9 digits; the first three are milliseconds.
    if (raw.charCodeAt(19) !== 0x2e || length < 22) return undefined;
    if (digits(raw, 20, length - 1) < 0) return undefined;
    ms = digits(raw, 20, Math.min(23, length - 1));
    for (let i = Math.min(23, length - 1) - 20; i < 3; i++) ms *= 10;
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

function normalizeByPattern(raw: string): { iso: string; ms: number } | undefined {
  const m = RFC3339.exec(raw.trim());
  if (!m) return undefined;
  const [, date, clock, fraction = '', zone = 'Z'] = m;
  if (!onTheCalendar(date!, clock!)) return undefined;
  const zoneText = zone.toUpperCase() === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const msFraction = fraction ? fraction.slice(0, 4).padEnd(4, '0') : '';
  const ms = Date.parse(`${date}T${clock}${msFraction}${zoneText}`);
  if (Number.isNaN(ms)) return undefined;
  if (zoneText === 'Z') return { iso: `${date}T${clock}${fraction}Z`, ms };
  // Express offsets in UTC so equal instants compare equal as strings too.
  const utc = new Date(ms).toISOString().slice(0, 19);
  return { iso: `${utc}${fraction}Z`, ms };
}

/**
 * Whether `date` (`YYYY-MM-DD`) and `clock` (`hh:mm:ss`) name a day and a time of day that exist. Date.parse rolls
 * the day over the end of the month (2024-02-30 is March 1st) and reads 24:00:00 as the next midnight: the fields
 * must come back as they were written.
 */
function onTheCalendar(date: string, clock: string): boolean {
  const [year, month, day] = date.split('-').map(Number) as [number, number, number];
  const [hour, minute, second] = clock.split(':').map(Number) as [number, number, number];
  const at = new Date(0);
  at.setUTCFullYear(year, month - 1, day); // not Date.UTC: it reads years 0-99 as 1900-1999
  at.setUTCHours(hour, minute, second);
  return (
    at.getUTCFullYear() === year &&
    at.getUTCMonth() === month - 1 &&
    at.getUTCDate() === day &&
    at.getUTCHours() === hour &&
    at.getUTCMinutes() === minute &&
    at.getUTCSeconds() === second
  );
}

/**
 * An instant to the nanosecond: `ms` the whole epoch milliseconds, `iso` the canonical UTC timestamp
 * (normalizeTimestamp), which keeps up to nine fraction digits.
 */
export interface Instant {
  readonly ms: number;
  readonly iso: string;
}

/**
 * Negative, zero or positive as `a` is before, at or after `b`, to the nanosecond. Sort keys (timeSortKey) cannot
 * tell this: near 2024 one float64 of milliseconds resolves ~244 ns, so `...59.999999999Z` and the next second
 * had the same key.
 */
export function compareInstants(aMs: number, aIso: string, bMs: number, bIso: string): number {
  return aMs !== bMs ? aMs - bMs : subMillisecondNanos(aIso) - subMillisecondNanos(bIso);
}

/** The fraction digits of a canonical timestamp after the milliseconds, as nanoseconds (0 to 999,999). */
export function subMillisecondNanos(iso: string): number {
  const dot = iso.indexOf('.', 19);
  if (dot === -1) return 0;
  // Read digit by digit, without the slice and the padded copy of it per call: the baselines compare every
  // entry's time with their points (state.ts), several times an entry. Anything but 1 to 6 digits there (no
  // canonical timestamp has it) takes the string way, whatever it gives.
  const start = dot + 4;
  const end = iso.length - 1;
  const value = end - start <= 6 ? digits(iso, start, end) : -1;
  if (value < 0) return subMillisecondNanosOfText(iso.slice(start, end));
  return end - start <= 0 ? 0 : value * POWERS_OF_TEN[6 - (end - start)]!;
}

function subMillisecondNanosOfText(sub: string): number {
  return sub ? Number(sub.padEnd(6, '0')) : 0;
}

/** Sort key for an ISO UTC timestamp with up to 9 fraction digits: ms plus the sub-ms digits. */
export function timeSortKey(iso: string, ms: number): number {
  const dot = iso.indexOf('.', 19);
  if (dot === -1) return ms;
  // As subMillisecondNanos, without strings: `0.ddd` read as text and the integer ddd divided by its power of ten
  // are the same double (both are the correctly rounded value of the same fraction).
  const start = dot + 4;
  const end = iso.length - 1;
  const count = end - start;
  const value = count <= 6 ? digits(iso, start, end) : -1;
  if (value < 0) {
    const sub = iso.slice(start, end);
    return sub ? ms + Number(`0.${sub}`) : ms;
  }
  return count <= 0 ? ms : ms + value / POWERS_OF_TEN[count]!;
}

const POWERS_OF_TEN = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];
