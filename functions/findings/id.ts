import { createHash } from 'node:crypto';

/** 32 lowercase hex characters from the rule id and its dedup key: the same change always gets the same id. */
export function findingId(rule: string, dedupKey: readonly string[]): string {
  const hash = createHash('sha256');
  hash.update(rule);
  for (const part of dedupKey) hash.update(`\u0000${part}`);
  return hash.digest('hex').slice(0, 32);
}
