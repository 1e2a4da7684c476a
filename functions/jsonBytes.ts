// Sizes of values as stored JSON (UTF-8 bytes), measured once per object: what keeps a Firestore document (1 MiB)
// and a transaction's findings within their bounds is counted on every entry, of objects never changed in place.
import type { Finding } from './findings/finding.js';

/** The UTF-8 bytes of `value` as JSON, measured once per object (`sizes`: objects never changed in place). */
export function jsonBytesOnce<T extends object>(sizes: WeakMap<T, number>, value: T): number {
  let size = sizes.get(value);
  if (size === undefined) {
    size = Buffer.byteLength(JSON.stringify(value), 'utf8');
    sizes.set(value, size);
  }
  return size;
}

/** Findings are never changed in place: the size of each is measured once, by the engine and the store alike. */
const findingSizes = new WeakMap<Finding, number>();

/** The UTF-8 bytes of `finding` as JSON. */
export function findingBytes(finding: Finding): number {
  return jsonBytesOnce(findingSizes, finding);
}
