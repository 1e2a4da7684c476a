// canonicalJson (the template fingerprint's text) must be JSON.stringify of the value with every object's keys in
// Array#sort order, whatever way it puts them in order: a fingerprint that changed would report every service's
// next deploy as a template change against the fingerprints its baseline holds.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../functions/audit/json.js';

/**
 * The reference, written out by hand: each object's keys in Array#sort order (an object built in that order would
 * not do: JSON.stringify lists integer-like keys first, in numeric order), values as JSON.stringify writes them.
 */
function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : reference(v))).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object).sort().filter((key) => object[key] !== undefined);
  return `{${keys.map((key) => `${JSON.stringify(key)}:${reference(object[key])}`).join(',')}}`;
}

/** Every entry of the test corpus (real Cloud Audit Log entries, test/fixtures/corpus), whole: templates and all. */
function corpusEntries(): unknown[] {
  const dir = new URL('../../fixtures/corpus/', import.meta.url);
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .map((name) => JSON.parse(readFileSync(new URL(name, dir), 'utf8')) as unknown);
}

describe('canonicalJson', () => {
  it('is JSON.stringify with sorted keys for every corpus entry', () => {
    const entries = corpusEntries();
    expect(entries.length).toBeGreaterThan(30);
    for (const entry of entries) expect(canonicalJson(entry)).toBe(reference(entry));
  });

  // Hand-built (synthetic) key sets: reversed, shuffled, longer than a small sort, integer-like keys (which
  // Object.keys lists first, in numeric order), letter case, non-ASCII and astral keys (UTF-16 code unit order).
  const keySets: Record<string, string[]> = {
    reversed: ['z', 'y', 'x', 'b', 'a'],
    shuffled: ['containers', 'serviceAccountName', 'timeoutSeconds', 'containerConcurrency', 'volumes', 'annotations', 'labels'],
    many: Array.from({ length: 70 }, (_, i) => `k${(i * 37) % 70}`),
    exactlyAtTheLimit: Array.from({ length: 32 }, (_, i) => `k${(i * 13) % 32}`),
    integerLike: ['10', '9', '1', 'a', '100', '02'],
    letterCase: ['b', 'B', 'a', 'A', '_', '~'],
    unicode: ['é', 'e', 'z', '\u{1F600}', '\uFF5E', 'ä', ''],
  };
  it.each(Object.entries(keySets))('puts %s keys in Array#sort order', (_name, keys) => {
    const object = Object.fromEntries(keys.map((k, i) => [k, { [keys[(i + 1) % keys.length]!]: i, nested: [keys.length - i, { b: 1, a: 2 }] }]));
    expect(canonicalJson(object)).toBe(reference(object));
  });

  it('leaves out undefined values as JSON.stringify does, and writes null for a bare undefined', () => {
    expect(canonicalJson({ b: undefined, a: 1, c: [undefined, 2] })).toBe('{"a":1,"c":[null,2]}');
    expect(canonicalJson(undefined)).toBe('null');
  });
});
