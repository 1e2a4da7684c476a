// Glob matching for config values (principals, PROJECT/SERVICE, image repositories), compiled once per list.
// `*` does not cross `/` (so `acme-prod/*` matches every service of one project); `**` does.
// Answers are remembered per value (a bounded memo): the same few repositories, principals and services come back
// on every deploy, and a picomatch call costs a microsecond or more.
import picomatch from 'picomatch';

const MEMO_LIMIT = 10_000;

function memoized(match: (value: string) => boolean): (value: string) => boolean {
  const memo = new Map<string, boolean>();
  return (value) => {
    let answer = memo.get(value);
    if (answer === undefined) {
      answer = match(value);
      if (memo.size >= MEMO_LIMIT) memo.clear();
      memo.set(value, answer);
    }
    return answer;
  };
}

const matcherCache = new WeakMap<readonly string[], (value: string) => boolean>();

export function globMatcher(globs: readonly string[]): (value: string) => boolean {
  let matcher = matcherCache.get(globs);
  if (!matcher) {
    matcher = globs.length === 0 ? () => false : memoized(picomatch(globs as string[], { dot: true }));
    matcherCache.set(globs, matcher);
  }
  return matcher;
}

const singleCache = new Map<string, (value: string) => boolean>();

export function globMatches(glob: string, value: string): boolean {
  let matcher = singleCache.get(glob);
  if (!matcher) {
    matcher = memoized(picomatch(glob, { dot: true }));
    singleCache.set(glob, matcher);
  }
  return matcher(value);
}
