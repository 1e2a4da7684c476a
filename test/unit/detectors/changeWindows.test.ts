import { describe, expect, it } from 'vitest';
import { DateTime, IANAZone } from 'luxon';
import { evaluateTime } from '../../../functions/detectors/changeWindows.js';
import type { ChangeWindow } from '../../../functions/config/types.js';
import { seededRandom } from '../../support/random.js';

const window: ChangeWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '09:00', end: '17:00' };

describe('evaluateTime: the local wall clock', () => {
  // Zones whose offset changed at a minute that is not a quarter hour of UTC (tzdata): the offset must be the one in
  // force at the instant itself, not at the start of its 15-minute slot.
  it.each([
    ['Antarctica/Casey', '2020-10-03T16:01:00Z', '2020-10-04T03:01:00+11:00'],
    ['Antarctica/Casey', '2020-10-03T16:14:59Z', '2020-10-04T03:14:59+11:00'],
    ['Antarctica/Casey', '2020-10-03T16:00:59Z', '2020-10-04T00:00:59+08:00'],
    ['America/St_Johns', '2010-03-14T03:31:00Z', '2010-03-14T01:01:00-02:30'],
    ['America/St_Johns', '2010-03-14T03:30:59Z', '2010-03-14T00:00:59-03:30'],
    ['America/Goose_Bay', '2010-03-14T04:01:00Z', '2010-03-14T01:01:00-03:00'],
    ['Asia/Gaza', '2010-03-26T22:05:00Z', '2010-03-27T01:05:00+03:00'],
    ['Europe/Berlin', '2024-03-31T01:00:00Z', '2024-03-31T03:00:00+02:00'],
    ['Australia/Lord_Howe', '2024-04-06T15:00:00Z', '2024-04-07T01:30:00+10:30'],
    // Local mean time (before a zone's first standard offset) is off UTC by minutes and seconds: an RFC 3339 offset
    // has whole minutes (written as luxon writes it). A timestamp this old is forged, but its finding still
    // says it in a well-formed time; it showed `-00:16.133333333333333`.
    ['Africa/Abidjan', '1905-09-09T16:15:07.925Z', '1905-09-09T15:58:59.925-00:16'],
    ['Europe/Berlin', '1890-01-01T12:00:00Z', '1890-01-01T12:53:28+00:53'],
  ])('%s at %s is %s', (zone, utc, local) => {
    const timeMs = Date.parse(utc);
    expect(evaluateTime(timeMs, zone, [window], []).localTime()).toBe(local);
    // The offset luxon gives for the instant itself.
    expect(local.endsWith(IANAZone.create(zone).formatOffset(timeMs, 'short'))).toBe(true);
  });
});

// evaluateTime caches offsets per 15-minute slot of UTC; luxon computes each instant on its own. Around every
// offset transition of these zones (DST, zones that moved, transitions off the quarter hour) and at random
// instants, both must give the same wall clock and weekday.
describe('evaluateTime against luxon, around every transition 2000-2030', () => {
  const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
  const ZONES = [
    'UTC', 'Europe/Berlin', 'Europe/London', 'Europe/Dublin', 'Europe/Moscow', 'Europe/Istanbul', 'America/New_York',
    'America/Sao_Paulo', 'America/St_Johns', 'America/Goose_Bay', 'America/Havana', 'America/Santiago', 'Asia/Gaza',
    'Asia/Tehran', 'Asia/Kolkata', 'Asia/Kathmandu', 'Asia/Tokyo', 'Australia/Lord_Howe', 'Australia/Adelaide',
    'Antarctica/Casey', 'Antarctica/Troll', 'Pacific/Apia', 'Pacific/Chatham', 'Pacific/Kiritimati', 'Africa/Casablanca',
  ];
  const from = Date.parse('2000-01-01T00:00:00Z');
  const to = Date.parse('2030-01-01T00:00:00Z');
  const DAY_MS = 86_400_000;

  it.each(ZONES)('%s', (zone) => {
    const iana = IANAZone.create(zone);
    const instants: number[] = [];
    for (let t = from, previous = iana.offset(from); t < to; t += DAY_MS) {
      const offset = iana.offset(t);
      if (offset === previous) continue;
      let low = t - DAY_MS;
      let high = t;
      while (high - low > 1) {
        const middle = Math.floor((low + high) / 2);
        if (iana.offset(middle) === previous) low = middle;
        else high = middle;
      }
      instants.push(high - 60_001, high - 1, high, high + 1, high + 59_999);
      previous = offset;
    }
    const next = seededRandom(zone.length);
    for (let i = 0; i < 200; i++) instants.push(from + Math.floor(next() * (to - from)));
    const wrong = instants.filter((t) => {
      const reference = DateTime.fromMillis(t, { zone });
      const verdict = evaluateTime(t, zone, [], []);
      // luxon writes UTC itself as `Z`; the finding says `+00:00`, as for every other zone.
      return verdict.localTime() !== reference.toISO({ suppressMilliseconds: true })!.replace(/Z$/, '+00:00') || verdict.day !== DAYS[reference.weekday - 1];
    });
    expect(wrong.map((t) => new Date(t).toISOString())).toEqual([]);
    if (zone !== 'UTC' && zone !== 'Asia/Kolkata' && zone !== 'Asia/Kathmandu' && zone !== 'Asia/Tokyo' && zone !== 'Pacific/Kiritimati') {
      expect(instants.length).toBeGreaterThan(200); // the zone has transitions in these years: they were found
    }
  });
});
