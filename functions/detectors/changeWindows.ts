// Change windows and freezes, evaluated on the wall clock of the configured IANA zone (luxon does the
// zone arithmetic, so DST transitions are handled: a 09:00 window is 09:00 local in summer and in winter).
import { IANAZone } from 'luxon';
import { memoize } from '../audit/memo.js';
import { freezeInstant } from '../config/freezeTime.js';
import type { ChangeWindow, Day, Freeze } from '../config/types.js';

const DAYS: readonly Day[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export interface TimeVerdict {
  /** The local wall-clock time, ISO 8601 with offset (formatted only when asked: most deploys are in a window). */
  readonly localTime: () => string;
  readonly day: Day;
  /** The window the time falls in, when any. */
  readonly window?: ChangeWindow;
  /** The freeze the time falls in, when any: it overrides every window. */
  readonly freeze?: Freeze;
  /** True when the time is inside a window (or no windows are configured) and in no freeze. */
  readonly allowed: boolean;
}

const minuteCache = new Map<string, number>();
function minutes(hhmm: string): number {
  let value = minuteCache.get(hhmm);
  if (value === undefined) {
    const [h, m] = hhmm.split(':');
    value = Number(h) * 60 + Number(m);
    minuteCache.set(hhmm, value);
  }
  return value;
}

/** Is the local time inside `[start, end)` on one of the days? An end before start runs past midnight (equal: refused by the config check). */
function inWindow(window: ChangeWindow, day: Day, minuteOfDay: number): boolean {
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
    start: freezeInstant(freeze.start, zone).toMillis(),
    end: freezeInstant(freeze.end, zone).toMillis(),
  };
  boundsCache.set(freeze, bounds);
  return bounds;
}

// Zone offsets change only at transitions, almost all of them on a quarter hour of UTC: the offset is looked up once
// per (zone, 15-minute slot) and the wall clock computed with plain Date arithmetic. Not every transition is on a
// quarter hour (America/St_Johns and America/Goose_Bay until 2011 and Asia/Gaza changed at 00:01 local,
// Antarctica/Casey at 16:01 UTC): a slot whose first and last millisecond have different offsets holds a transition,
// and a time in it is looked up on its own.
const SLOT_MS = 15 * 60 * 1000;
const SLOTS_PER_ZONE = 50_000;
const offsetCache = new Map<string, (slot: number) => number>();

function offsetMinutes(zone: string, timeMs: number): number {
  let offsetOfSlot = offsetCache.get(zone);
  if (!offsetOfSlot) {
    const iana = IANAZone.create(zone);
    // NaN marks a slot with a transition inside it.
    offsetOfSlot = memoize((slot: number) => {
      const first = iana.offset(slot * SLOT_MS);
      return first === iana.offset((slot + 1) * SLOT_MS - 1) ? first : Number.NaN;
    }, SLOTS_PER_ZONE);
    offsetCache.set(zone, offsetOfSlot);
  }
  const offset = offsetOfSlot(Math.floor(timeMs / SLOT_MS));
  return Number.isNaN(offset) ? IANAZone.create(zone).offset(timeMs) : offset;
}

function formatLocal(localMs: number, offset: number): string {
  const sign = offset < 0 ? '-' : '+';
  // Whole minutes, as RFC 3339 (and luxon) write them: local mean time, before a zone's first standard offset, is
  // off UTC by minutes and seconds.
  const abs = Math.trunc(Math.abs(offset));
  const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  const iso = new Date(localMs).toISOString();
  const ms = iso.slice(19, 23);
  return `${iso.slice(0, 19)}${ms === '.000' ? '' : ms}${zone}`;
}

export function evaluateTime(timeMs: number, zone: string, windows: readonly ChangeWindow[], freezes: readonly Freeze[]): TimeVerdict {
  const offset = offsetMinutes(zone, timeMs);
  const local = new Date(timeMs + offset * 60_000);
  const day = DAYS[(local.getUTCDay() + 6) % 7]!;
  // Fractional minutes keep [start, end) exact: 16:59:59.9 is inside a window ending at 17:00.
  const minuteOfDay = local.getUTCHours() * 60 + local.getUTCMinutes() + (local.getUTCSeconds() + local.getUTCMilliseconds() / 1000) / 60;
  const freeze = freezes.find((f) => {
    const { start, end } = freezeBounds(f, zone);
    return timeMs >= start && timeMs < end;
  });
  const window = windows.find((w) => inWindow(w, day, minuteOfDay));
  const verdict: { -readonly [K in keyof TimeVerdict]: TimeVerdict[K] } = {
    localTime: () => formatLocal(local.getTime(), offset),
    day,
    allowed: !freeze && (windows.length === 0 || window !== undefined),
  };
  if (window) verdict.window = window;
  if (freeze) verdict.freeze = freeze;
  return verdict;
}

export function describeWindow(window: ChangeWindow): string {
  const label = `${window.days.join(',')} ${window.start}-${window.end}`;
  return window.name ? `${window.name} (${label})` : label;
}
