import { afterEach, describe, expect, it } from 'vitest';
import { Settings } from 'luxon';
import { parseConfig } from '../../functions/config/load.js';
import { configProblems } from '../support/config.js';
import { freezeBounds } from '../../functions/detectors/changeWindows.js';

const problems = (text: string): string[] => configProblems(text, true);

describe('config: freeze times', () => {
  it.each([
    ['a date', '2024-12-20', []],
    ['a zone-less date and time', '2024-12-20T10:00', []],
    ['UTC', '2024-12-20T10:00:00Z', []],
    ['a negative half-hour offset', '2024-12-20T10:00:00-03:30', []],
    ['a +05:45 offset', '2024-12-20T10:00:00.5+05:45', []],
    ['an offset of 25 hours', '2024-12-20T10:00:00+25:00', ['freezes[0].start']],
    ['an offset of 99:59', '2024-12-20T10:00+99:59', ['freezes[0].start']],
    ['an offset with 99 minutes', '2024-12-20T10:00+10:99', ['freezes[0].start']],
    ['an hour 25', '2024-12-20T25:00', ['freezes[0].start']],
    ['a minute 60', '2024-12-20T10:60', ['freezes[0].start']],
    ['February 30th', '2024-02-30', ['freezes[0].start']],
  ])('%s (%s)', (_name, start, expected) => {
    expect(problems(`freezes: [{start: "${start}", end: "2025-01-06"}]`)).toEqual(expected);
  });

  it.each([
    ['a date is its midnight in the zone', 'Europe/Berlin', '2024-12-20', '2024-12-19T23:00:00.000Z'],
    ['an offset wins over the zone', 'Europe/Berlin', '2024-12-20T00:00:00-03:30', '2024-12-20T03:30:00.000Z'],
    ['Kathmandu', 'Asia/Kathmandu', '2024-12-20', '2024-12-19T18:15:00.000Z'],
    ['a skipped local time moves forward', 'Europe/Berlin', '2024-03-31T02:30', '2024-03-31T01:30:00.000Z'],
  ])('freeze bounds: %s', (_name, zone, start, utc) => {
    const config = parseConfig(`timezone: ${zone}\nfreezes: [{start: "${start}", end: "2030-01-01"}]`);
    expect(new Date(freezeBounds(config.freezes[0]!, zone).start).toISOString()).toBe(utc);
  });

  // A wall time a clock change makes occur twice is read as the later of the two (README), whatever the date the
  // process runs on: luxon alone picks by the offset in force "now", so the answer flipped between summer and winter.
  describe('a time that occurs twice is the later one, in summer and in winter', () => {
    const realNow = Settings.now;
    afterEach(() => {
      Settings.now = realNow;
    });
    const ambiguous = [
      ['Berlin, autumn', 'Europe/Berlin', '2024-10-27T02:30', '2024-10-27T01:30:00.000Z'],
      ['Lord Howe, a half-hour change', 'Australia/Lord_Howe', '2024-04-07T01:45', '2024-04-06T15:15:00.000Z'],
      ['New York, autumn', 'America/New_York', '2024-11-03T01:30', '2024-11-03T06:30:00.000Z'],
      ['an explicit offset is kept as written', 'Europe/Berlin', '2024-10-27T02:30+02:00', '2024-10-27T00:30:00.000Z'],
      ['UTC inside the repeated hour is kept', 'Europe/Berlin', '2024-10-27T00:30:00Z', '2024-10-27T00:30:00.000Z'],
      ['a skipped time still moves forward', 'Europe/Berlin', '2024-03-31T02:30', '2024-03-31T01:30:00.000Z'],
    ] as const;
    const runDates = [['July', Date.UTC(2026, 6, 1)], ['December', Date.UTC(2026, 11, 1)]] as const;
    it.each(runDates.flatMap(([month, now]) => ambiguous.map(([name, ...row]) => [month, name, now, ...row] as const)))(
      'run in %s: %s',
      (_month, _name, now, zone, start, utc) => {
        Settings.now = () => now;
        const config = parseConfig(`timezone: ${zone}\nfreezes: [{start: "${start}", end: "2030-01-01"}]`);
        expect(new Date(freezeBounds(config.freezes[0]!, zone).start).toISOString()).toBe(utc);
      },
    );

    it.each(runDates)('run in %s: a freeze ending in the repeated hour is accepted and ends at its later instant', (_m, now) => {
      Settings.now = () => now;
      // Berlin repeats 02:00-03:00 that night. The start is the first 02:45 (00:45Z); the end, 02:30 without an
      // offset, is the second 02:30 (01:30Z): a 45-minute freeze. Read as the first 02:30 it ended before it began.
      const text = 'timezone: Europe/Berlin\nfreezes: [{start: "2024-10-27T02:45+02:00", end: "2024-10-27T02:30"}]';
      expect(problems(text)).toEqual([]);
      const bounds = freezeBounds(parseConfig(text).freezes[0]!, 'Europe/Berlin');
      expect(new Date(bounds.end).toISOString()).toBe('2024-10-27T01:30:00.000Z');
    });
  });
});
