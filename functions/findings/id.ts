import { createHash } from 'node:crypto';

/**
 * 32 lowercase hex characters from the rule id and its dedup key: the same change always gets the same id, and
 * different keys different ids. Parts are joined with NUL; a NUL or backslash inside a part is escaped first, so no
 * two keys hash the same text (`['a\0b']` and `['a', 'b']` did). A part without either, every real name, hashes as
 * it always did: ids stay what they were.
 */
export function findingId(rule: string, dedupKey: readonly string[]): string {
  const hash = createHash('sha256');
  hash.update(rule);
  for (const part of dedupKey) hash.update(`\u0000${escapePart(part)}`);
  return hash.digest('hex').slice(0, 32);
}

function escapePart(part: string): string {
  return part.includes('\\') || part.includes('\u0000') ? part.replace(/\\/g, '\\\\').replace(/\u0000/g, '\\0') : part;
}
