// subMillisecondNanos and timeSortKey read the fraction digits of a timestamp after its milliseconds. They run several
// times per replayed entry (the baselines compare every change's time with their points), so they read the digits in
// place; they must give exactly what reading them as text gave, for every timestamp normalizeTimestamp writes and for
// any other text handed to them.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { normalizeTimestamp, subMillisecondNanos, timeSortKey } from '../../../functions/audit/entry.js';
import { TIMESTAMP_FORMS } from '../../support/timestamps.js';

/** subMillisecondNanos as it was written first: the digits cut out as text, padded, read as a number. */
function nanosByText(iso: string): number {
  const dot = iso.indexOf('.', 19);
  if (dot === -1) return 0;
  const sub = iso.slice(dot + 4, iso.length - 1);
  return sub ? Number(sub.padEnd(6, '0')) : 0;
}

/** timeSortKey as it was written first. */
function sortKeyByText(iso: string, ms: number): number {
  const dot = iso.indexOf('.', 19);
  if (dot === -1) return ms;
  const sub = iso.slice(dot + 4, iso.length - 1);
  return sub ? ms + Number(`0.${sub}`) : ms;
}


/** The JSON fixtures: real corpus entries (test/fixtures/corpus) and the hand-built synthetic ones. */
function fixtureFiles(): URL[] {
  const fixtures = new URL('../../fixtures/', import.meta.url);
  const corpus = new URL('corpus/', fixtures);
  return [
    ...readdirSync(corpus).filter((name) => name.endsWith('.json')).map((name) => new URL(name, corpus)),
    ...readdirSync(fixtures).filter((name) => name.endsWith('.json')).map((name) => new URL(name, fixtures)),
  ];
}

/** Canonical timestamps: those of the test fixtures (real corpus entries and synthetic ones) as normalizeTimestamp writes them, and every fraction length. */
function canonicalTimestamps(): string[] {
  const out = new Set<string>();
  for (const raw of TIMESTAMP_FORMS) {
    const time = normalizeTimestamp(raw);
    if (time) out.add(time.iso);
  }
  for (const file of fixtureFiles()) {
    for (const [, raw] of readFileSync(file, 'utf8').matchAll(/"(?:timestamp|receiveTimestamp)"\s*:\s*"([^"]+)"/g)) {
      const time = normalizeTimestamp(raw!);
      if (time) out.add(time.iso);
    }
  }
  for (let digits = 1; digits <= 9; digits++) {
    for (const fill of ['1', '9', '05']) out.add(`2024-05-06T22:58:04.${fill.repeat(9).slice(0, digits)}Z`);
  }
  return [...out];
}

describe('sub-millisecond digits read in place', () => {
  it('agree with reading them as text for every canonical timestamp', () => {
    const timestamps = canonicalTimestamps();
    expect(timestamps.length).toBeGreaterThan(30);
    for (const iso of timestamps) {
      const ms = Date.parse(iso);
      expect([iso, subMillisecondNanos(iso)]).toEqual([iso, nanosByText(iso)]);
      expect([iso, Object.is(timeSortKey(iso, ms), sortKeyByText(iso, ms))]).toEqual([iso, true]);
    }
  });

  // Nothing but canonical timestamps reaches them today; whatever else does gets what it got before, NaN included.
  it.each([...TIMESTAMP_FORMS, '2024-05-06T22:58:04.12Z', '2024-05-06T22:58:04.123 5Z', '2024-05-06T22:58:04.123e5Z', '2024-05-06T22:58:04.123-1Z', 'x', ''])('%j as before', (text) => {
    expect(Object.is(subMillisecondNanos(text), nanosByText(text))).toBe(true);
    expect(Object.is(timeSortKey(text, 5), sortKeyByText(text, 5))).toBe(true);
  });

  it('two entries of one millisecond keep their order by their digits', () => {
    const earlier = '2024-05-06T22:58:04.355000001Z';
    const later = '2024-05-06T22:58:04.3550001Z';
    expect(subMillisecondNanos(earlier)).toBeLessThan(subMillisecondNanos(later));
  });
});
