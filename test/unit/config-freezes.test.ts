import { describe, expect, it } from 'vitest';
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
});
