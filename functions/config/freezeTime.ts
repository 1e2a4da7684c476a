// Reads a freeze's start or end: ISO 8601, with an offset or in the configured zone.
import { DateTime } from 'luxon';

/**
 * The instant a freeze time names. One with an offset (`Z`, `+02:00`) is that instant. One without is wall time in
 * `zone`; when a clock change makes it occur twice it is the later of the two (luxon alone picks by the offset in
 * force on the day the process runs, so the same config meant different instants in summer and in winter), and one
 * that never occurs is moved forward by the hour skipped (luxon's reading).
 */
export function freezeInstant(text: string, zone: string): DateTime {
  // setZone keeps a written offset as a fixed zone: getPossibleOffsets then offers only that instant.
  const time = DateTime.fromISO(text, { zone, setZone: true });
  if (!time.isValid) return time;
  return time.getPossibleOffsets().reduce((later, candidate) => (candidate.toMillis() > later.toMillis() ? candidate : later), time);
}
