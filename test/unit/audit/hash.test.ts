import { describe, expect, it } from 'vitest';
import { fnv1a, fnv1aJoined } from '../../../functions/audit/hash.js';

describe('fnv1a (64-bit)', () => {
  // Reference values of FNV-1a 64 for ASCII input (from the FNV test suite).
  it.each([
    ['', 'cbf29ce484222325'],
    ['a', 'af63dc4c8601ec8c'],
    ['foobar', '85944171f73967e8'],
  ])('%j', (input, expected) => {
    expect(fnv1a(input)).toBe(expected);
  });
});

describe('fnv1aJoined', () => {
  it.each([
    ['projects/p/logs/cloudaudit.googleapis.com%2Factivity', '2024-05-06T22:58:04.355675Z', 'abc123'],
    ['', '', ''],
    ['projects/caf\u00e9/logs/x', '2024-01-01T00:00:00Z', '\u6771\u4eac-\ud83d\ude00'],
  ])('equals fnv1a of the parts joined by NUL, first and cached call alike: %j', (a, b, c) => {
    const whole = fnv1a(`${a}\u0000${b}\u0000${c}`);
    expect(fnv1aJoined(a, b, c)).toBe(whole);
    expect(fnv1aJoined(a, b, c)).toBe(whole);
    expect(fnv1aJoined(a, `${b}x`, c)).toBe(fnv1a(`${a}\u0000${b}x\u0000${c}`));
  });
});
