// Typed, defensive accessors over parsed JSON. An odd or missing field reads as undefined, never throws.

export type JsonObject = { readonly [key: string]: unknown };

export function asObject(value: unknown): JsonObject | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

export function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A non-empty string, else undefined. */
export function asString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function asBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return undefined;
}

export function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  return undefined;
}

/** A string of decimal digits (a project number, as `metadata.namespace` carries it), else undefined. */
export function numeric(value: unknown): string | undefined {
  const s = asString(value);
  return s && /^\d+$/.test(s) ? s : undefined;
}

/** Reads `value[a][b][c][d]`; undefined as soon as a step is not an object. Fixed arity: no array per call. */
export function at(value: unknown, a: string, b?: string, c?: string, d?: string): unknown {
  let current = step(value, a);
  if (b === undefined || current === undefined) return current;
  current = step(current, b);
  if (c === undefined || current === undefined) return current;
  current = step(current, c);
  if (d === undefined || current === undefined) return current;
  return step(current, d);
}

function step(value: unknown, key: string): unknown {
  return asObject(value)?.[key];
}

/**
 * Some Google APIs log request fields in snake_case (`service_account`) while the REST form is camelCase.
 * Reads the camelCase key, then its snake_case spelling.
 */
export function field(object: JsonObject | undefined, camelKey: string): unknown {
  if (!object) return undefined;
  const value = object[camelKey];
  if (value !== undefined) return value;
  return object[camelToSnake(camelKey)];
}

const snakeCache = new Map<string, string>();
function camelToSnake(key: string): string {
  let snake = snakeCache.get(key);
  if (snake === undefined) {
    snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    snakeCache.set(key, snake);
  }
  return snake;
}

/** A string value of a map-like object (labels, annotations), empty strings included; undefined otherwise. */
export function stringIn(object: JsonObject | undefined, key: string): string | undefined {
  // No own-property check needed: nothing an object inherits from Object.prototype is a string.
  const value = object?.[key];
  return typeof value === 'string' ? value : undefined;
}

/** String values of a map-like object (labels, annotations); non-string values, and keys `keep` refuses, are dropped. */
function stringMap(value: unknown, keep?: (key: string) => boolean): Record<string, string> {
  const object = asObject(value);
  const out: Record<string, string> = {};
  if (!object) return out;
  for (const key of Object.keys(object)) {
    const v = object[key];
    if (typeof v === 'string' && (!keep || keep(key))) out[key] = v;
  }
  return out;
}

/**
 * The user's labels of a label map (what `provenanceLabels` and the finding's `labels` are read from). Labels Cloud
 * Run and Knative set themselves (`serving.knative.dev/route`, `cloud.googleapis.com/location`, ...) all carry a
 * `prefix/`; Google Cloud resource labels cannot contain `/`, so a slash marks system bookkeeping.
 */
export function userLabels(value: unknown): Record<string, string> {
  return stringMap(value, isUserLabel);
}

function isUserLabel(key: string): boolean {
  return !key.includes('/');
}

/** Canonical JSON (sorted keys): equal for equal data whatever the key order of the source. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const object = value as JsonObject;
  const keys = Object.keys(object);
  sortKeys(keys);
  let out = '{';
  let first = true;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const v = object[key];
    if (v === undefined) continue;
    out += (first ? '' : ',') + quotedKey(key) + ':' + canonicalJson(v);
    first = false;
  }
  return `${out}}`;
}

/** JSON-quoted keys, cached: templates repeat the same few dozen keys (a bounded cache; anyone can add keys). */
const quotedKeys = new Map<string, string>();
const QUOTED_KEYS_LIMIT = 10_000;

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (quotedKeys.size < QUOTED_KEYS_LIMIT) quotedKeys.set(key, quoted);
  }
  return quoted;
}

/** Keys up to this many are put in order by insertion, in place: Array#sort allocates work arrays on every call. */
const INSERTION_SORT_MAX = 32;

/**
 * Sorts `keys` in place as Array#sort does (by UTF-16 code units; keys of one object are distinct, so the order is
 * the same whatever the algorithm). Templates are canonicalized once per deploy, a few dozen small objects each,
 * mostly not in order (the API writes fields in its own order): an insertion sort of a few keys allocates nothing.
 */
function sortKeys(keys: string[]): void {
  if (keys.length > INSERTION_SORT_MAX) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    if (keys[j]! <= key) continue;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
}
