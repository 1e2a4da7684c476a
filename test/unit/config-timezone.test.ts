import { describe, expect, it } from 'vitest';
import { configProblems } from '../support/config.js';

const problems = (zone: string): string[] => configProblems(`timezone: ${JSON.stringify(zone)}\n`);

// Node (ICU) accepts names for a time zone that are no place's clock: an abbreviation of standard time (EST, fixed
// at UTC-05:00 all year, where New York keeps daylight saving), ICU's own three-letter names (BST is Asia/Dhaka,
// not British Summer Time; IST is India's), and the POSIX-signed Etc/GMT+N (UTC-N). Each gave change windows an
// hour or more off, half the year or all of it, with no word: each is a config error naming the place to write.
describe('config timezone', () => {
  it.each([
    ['EST', /^timezone: "EST" is UTC-05:00 all year, without daylight saving.*America\/New_York/],
    ['MST', /^timezone: "MST" is UTC-07:00 all year, without daylight saving.*America\/Denver/],
    ['est', /^timezone: "est" is UTC-05:00 all year.*America\/New_York/],
    ['BST', /^timezone: "BST" is an abbreviation, not an IANA time zone.*Asia\/Dhaka.*Europe\/London/],
    ['IST', /^timezone: "IST" is an abbreviation, not an IANA time zone.*Asia\/Kolkata.*Europe\/Dublin/],
    ['CST', /^timezone: "CST" is an abbreviation, not an IANA time zone.*America\/Chicago.*Asia\/Shanghai/],
    ['PST', /^timezone: "PST" is an abbreviation, not an IANA time zone.*America\/Los_Angeles/],
    ['AST', /^timezone: "AST" is an abbreviation, not an IANA time zone.*America\/Anchorage.*America\/Halifax/],
    ['VST', /^timezone: "VST" is an abbreviation, not an IANA time zone.*Asia\/Saigon/],
    ['Etc/GMT+5', /^timezone: "Etc\/GMT\+5" is UTC-05:00 \(POSIX inverts the sign\).*UTC-05:00 all year.*America\/New_York/],
    ['Etc/GMT-2', /^timezone: "Etc\/GMT-2" is UTC\+02:00 \(POSIX inverts the sign\)/],
    ['etc/gmt+10', /^timezone: "etc\/gmt\+10" is UTC-10:00/],
    ['SystemV/EST5EDT', /^timezone: "SystemV\/EST5EDT" is not an IANA time zone/],
  ])('rejects %s, naming the place to write', (zone, expected) => {
    const found = problems(zone);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(expected);
  });

  it.each(['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT', 'Etc/GMT+0', 'Etc/GMT-0', 'Europe/Berlin', 'America/New_York', 'US/Eastern', 'EST5EDT', 'PST8PDT', 'CET', 'GB', 'Asia/Kolkata', 'HST'])(
    'accepts %s (a place, UTC, a name with its daylight saving rules, or HST: Hawaii keeps none)',
    (zone) => {
      expect(problems(zone)).toEqual([]);
    },
  );

  // A zone mistyped was only "not an IANA time zone": the nearest zone is named when one is a few letters away.
  it.each([
    ['Europe/Berln', 'timezone: "Europe/Berln" is not an IANA time zone; did you mean Europe/Berlin?'],
    ['America/New York', 'timezone: "America/New York" is not an IANA time zone; did you mean America/New_York?'],
    ['Amercia/Chicago', 'timezone: "Amercia/Chicago" is not an IANA time zone; did you mean America/Chicago?'],
    ['Mars/Olympus', 'timezone: "Mars/Olympus" is not an IANA time zone'],
    // A city alone: the zone named after it.
    ['Berlin', 'timezone: "Berlin" is not an IANA time zone; did you mean Europe/Berlin?'],
    ['new york', 'timezone: "new york" is not an IANA time zone; did you mean America/New_York?'],
    ['Buenos Aires', 'timezone: "Buenos Aires" is not an IANA time zone; did you mean America/Buenos_Aires?'],
  ])('names the zone meant for %s', (zone, expected) => {
    expect(problems(zone)).toEqual([expected]);
  });

  it('reports a bad zone with the other problems, all at once', () => {
    expect(configProblems('timezone: EST\nfoo: 1\nchangeWindows: [{days: [mon], start: "09:00", end: "09:00"}]\n', true).sort()).toEqual([
      'changeWindows[0]',
      'foo',
      'timezone',
    ]);
  });
});
