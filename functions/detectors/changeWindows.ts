// Change windows and freezes, evaluated on the wall clock of the configured IANA zone (luxon does the
// zone arithmetic, so DST transitions are handled: a 09:00 window is 09:00 local in summer and in winter).
import { DateTime } from 'luxon';
import type { ChangeWindow, Day, Freeze } from '../config/types.js';

const DAYS: readonly Day[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export interface TimeVerdict {
  /** The local wall-clock time, ISO 8601 with offset. */
  readonly localTime: string;
  readonly day: Day;
  /** The window the time falls in, when any. */
  readonly window?: ChangeWindow;
  /** The freeze the time falls in, when any: it overrides every window. */
  readonly freeze?: Freeze;
  /** True when the time is inside a window (or no windows are configured) and in no freeze. */
  readonly allowed: boolean;
}

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

/** Is the local time inside `[start, end)` on one of the days? An end at or before start runs past midnight. */
export function inWindow(window: ChangeWindow, day: Day, minuteOfDay: number): boolean {
  const start = minutes(window.start);
  const end = minutes(window.end);
  if (start < end) return window.days.includes(day) && minuteOfDay >= start && minuteOfDay < end;
  // Overnight: the part after start belongs to the listed day, the part before end to the day after it.
  const previous = DAYS[(DAYS.indexOf(day) + 6) % 7]!;
  return (window.days.includes(day) && minuteOfDay >= start) || (window.days.includes(previous) && minuteOfDay < end);
}

const boundsCache = new WeakMap<Freeze, { zone: string; start: number; end: number }>();

/** Freeze bounds in epoch ms; a time without an offset is read in `zone`. Cached per (frozen) config object. */
export function freezeBounds(freeze: Freeze, zone: string): { start: number; end: number } {
  const cached = boundsCache.get(freeze);
  if (cached && cached.zone === zone) return cached;
  const bounds = {
    zone,
    start: DateTime.fromISO(freeze.start, { zone }).toMillis(),
    end: DateTime.fromISO(freeze.end, { zone }).toMillis(),
  };
  boundsCache.set(freeze, bounds);
  return bounds;
}

export function evaluateTime(timeMs: number, zone: string, windows: readonly ChangeWindow[], freezes: readonly Freeze[]): TimeVerdict {
  const local = DateTime.fromMillis(timeMs, { zone });
  const day = DAYS[local.weekday - 1]!;
  // Fractional minutes keep [start, end) exact: 16:59:59.9 is inside a window ending at 17:00.
  const minuteOfDay = local.hour * 60 + local.minute + (local.second + local.millisecond / 1000) / 60;
  const freeze = freezes.find((f) => {
    const { start, end } = freezeBounds(f, zone);
    return timeMs >= start && timeMs < end;
  });
  const window = windows.find((w) => inWindow(w, day, minuteOfDay));
  return {
    localTime: local.toISO({ suppressMilliseconds: true }) ?? new Date(timeMs).toISOString(),
    day,
    ...(window ? { window } : {}),
    ...(freeze ? { freeze } : {}),
    allowed: !freeze && (windows.length === 0 || window !== undefined),
  };
}

export function describeWindow(window: ChangeWindow): string {
  const label = `${window.days.join(',')} ${window.start}-${window.end}`;
  return window.name ? `${window.name} (${label})` : label;
}
