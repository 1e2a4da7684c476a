// Glob matching for config values (principals, PROJECT/SERVICE, image repositories), compiled once per list.
// `*` does not cross `/` (so `acme-prod/*` matches every service of one project); `**` does.
import picomatch from 'picomatch';

const matcherCache = new WeakMap<readonly string[], (value: string) => boolean>();

export function globMatcher(globs: readonly string[]): (value: string) => boolean {
  let matcher = matcherCache.get(globs);
  if (!matcher) {
    matcher = globs.length === 0 ? () => false : picomatch(globs as string[], { dot: true });
    matcherCache.set(globs, matcher);
  }
  return matcher;
}

const singleCache = new Map<string, (value: string) => boolean>();

export function globMatches(glob: string, value: string): boolean {
  let matcher = singleCache.get(glob);
  if (!matcher) {
    matcher = picomatch(glob, { dot: true });
    singleCache.set(glob, matcher);
  }
  return matcher(value);
}
