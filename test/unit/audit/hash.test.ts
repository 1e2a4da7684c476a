import { describe, expect, it } from 'vitest';
import { fnv1a } from '../../../functions/audit/hash.js';

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
