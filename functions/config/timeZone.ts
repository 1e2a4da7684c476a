// Which `timezone` values are a place's clock. Node (ICU) accepts more names than the IANA database's places, and
// some of them read as a clock other than the one a user who writes them means:
// - EST and MST are IANA names for a fixed offset (the clocks of America/Panama and America/Phoenix): a user who
//   writes EST for New York gets windows an hour off from March to November (HST is accepted: it is Honolulu's clock,
//   and Hawaii keeps no daylight saving, so it reads as the user who writes it means);
// - ICU's own three-letter names (from Java), which the IANA database does not have: BST is Asia/Dhaka, not British
//   Summer Time; IST is India, not Ireland or Israel; CST is Chicago, not China; AST is Anchorage, not the Atlantic;
// - Etc/GMT+N is N hours *behind* UTC (POSIX signs), and keeps no daylight saving: Etc/GMT+5 is UTC-05:00;
// - SystemV/... names are ICU's, not IANA's.
// Names with daylight saving rules of their own (EST5EDT, CET, US/Eastern, GB) are IANA's and read as one expects.
import { FixedOffsetZone, IANAZone } from 'luxon';
import { nearestName } from '../nearestName.js';

/** ICU's three-letter names that the IANA database does not have, with the places users most often mean by them. */
const ICU_ABBREVIATIONS: Readonly<Record<string, string>> = {
  ACT: 'Australia/Darwin',
  AET: 'Australia/Sydney',
  AGT: 'America/Argentina/Buenos_Aires',
  ART: 'Africa/Cairo or America/Argentina/Buenos_Aires',
  AST: 'America/Halifax, America/Anchorage or Asia/Riyadh',
  BET: 'America/Sao_Paulo',
  BST: 'Europe/London or Asia/Dhaka',
  CAT: 'Africa/Maputo',
  CNT: 'America/St_Johns',
  CST: 'America/Chicago, Asia/Shanghai or America/Havana',
  CTT: 'Asia/Shanghai',
  EAT: 'Africa/Nairobi',
  ECT: 'Europe/Paris or America/Guayaquil',
  IET: 'America/Indiana/Indianapolis',
  IST: 'Asia/Kolkata, Europe/Dublin or Asia/Jerusalem',
  JST: 'Asia/Tokyo',
  MIT: 'Pacific/Apia',
  NET: 'Asia/Yerevan',
  NST: 'America/St_Johns or Pacific/Auckland',
  PLT: 'Asia/Karachi',
  PNT: 'America/Phoenix',
  PRT: 'America/Puerto_Rico',
  PST: 'America/Los_Angeles, Asia/Manila or Asia/Karachi',
  SST: 'Asia/Singapore or Pacific/Guadalcanal',
  VST: 'Asia/Ho_Chi_Minh',
};

/** IANA's fixed-offset abbreviations of standard time, with the places that keep daylight saving beside them. */
const FIXED_ABBREVIATIONS: Readonly<Record<string, string>> = {
  EST: 'America/New_York (Eastern time, with daylight saving), or America/Panama (UTC-05:00 all year)',
  MST: 'America/Denver (Mountain time, with daylight saving), or America/Phoenix (UTC-07:00 all year)',
};

const PLACE = 'write the IANA zone of the place whose clock the windows follow (Area/City)';

/** An offset from UTC in minutes as `UTC-05:00`. */
function offsetText(minutes: number): string {
  return `UTC${FixedOffsetZone.instance(minutes).formatOffset(0, 'short')}`;
}

/** The zone ICU reads a name as (its canonical name), for a message. */
function readAs(name: string): string {
  try {
    return new Intl.DateTimeFormat('en', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return name;
  }
}

/**
 * The zones to suggest for a mistyped one: the runtime's canonical zones (ICU's, which keep some older names, such as
 * Asia/Calcutta beside Asia/Kolkata, which it reads too) and UTC. Only places: no abbreviation or Etc/GMT+N.
 */
function knownZones(): string[] {
  return [...Intl.supportedValuesOf('timeZone'), 'UTC'];
}

/** The zone named after a city written alone (`Berlin`, `new york`: Europe/Berlin, America/New_York), if any. */
function zoneOfCity(name: string): string | undefined {
  if (name.includes('/')) return undefined;
  const city = name.trim().replace(/\s+/g, '_').toLowerCase();
  return knownZones().find((zone) => zone.includes('/') && zone.slice(zone.lastIndexOf('/') + 1).toLowerCase() === city);
}

/** Why `name` cannot be the config's `timezone`, or undefined for a zone that is a place's clock (or UTC). */
export function timeZoneProblem(name: string): string | undefined {
  if (!IANAZone.isValidZone(name)) {
    const meant = zoneOfCity(name) ?? nearestName(name, knownZones(), 4);
    return `${JSON.stringify(name)} is not an IANA time zone${meant === undefined ? '' : `; did you mean ${meant}?`}`;
  }
  const upper = name.toUpperCase();
  const fixed = FIXED_ABBREVIATIONS[upper];
  if (fixed !== undefined) {
    const offset = offsetText(IANAZone.create(name).offset(Date.now()));
    return `${JSON.stringify(name)} is ${offset} all year, without daylight saving: ${PLACE}, such as ${fixed}`;
  }
  const meant = Object.hasOwn(ICU_ABBREVIATIONS, upper) ? ICU_ABBREVIATIONS[upper] : undefined;
  if (meant !== undefined) {
    return `${JSON.stringify(name)} is an abbreviation, not an IANA time zone: several places share it, and Node reads it as ${readAs(name)}; ${PLACE}, such as ${meant}`;
  }
  const etc = /^etc\/gmt([+-])(\d+)$/i.exec(name);
  if (etc && Number(etc[2]) !== 0) {
    const minutes = IANAZone.create(name).offset(Date.now());
    return (
      `${JSON.stringify(name)} is ${offsetText(minutes)} (POSIX inverts the sign), not ${offsetText(-minutes)}, and ${offsetText(minutes)} all year, ` +
      `without daylight saving: ${PLACE}, such as America/New_York or Europe/Berlin, or UTC`
    );
  }
  if (/^systemv\//i.test(name)) return `${JSON.stringify(name)} is not an IANA time zone (an old System V name Node still reads): ${PLACE}, such as America/New_York`;
  return undefined;
}
