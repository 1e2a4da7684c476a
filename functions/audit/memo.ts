// A bounded memo for pure functions of one key. When `limit` answers are held the memo is emptied and refills:
// the working sets (repositories, image names, log names, zone slots) are small, but their keys come from log
// entries, so an unbounded map would grow with whatever anyone writes.
export function memoize<K, V>(fn: (key: K) => V, limit: number): (key: K) => V {
  const memo = new Map<K, V>();
  return (key) => {
    const cached = memo.get(key);
    // `has` only for an undefined answer: undefined (and null) results are remembered too.
    if (cached !== undefined || memo.has(key)) return cached as V;
    const value = fn(key);
    if (memo.size >= limit) memo.clear();
    memo.set(key, value);
    return value;
  };
}
