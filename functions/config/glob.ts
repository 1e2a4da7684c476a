// Glob matching for config values (principals, PROJECT/SERVICE, image repositories), compiled once per list.
// `*` does not cross `/` (so `acme-prod/*` matches every service of one project); `**` does.
// Answers are remembered per value (a bounded memo): the same few repositories, principals and services come back
// on every deploy, and a picomatch call costs a microsecond or more.
import picomatch from 'picomatch';
import { memoize } from '../audit/memo.js';

const MEMO_LIMIT = 10_000;

const matcherCache = new WeakMap<readonly string[], (value: string) => boolean>();

export function globMatcher(globs: readonly string[]): (value: string) => boolean {
  let matcher = matcherCache.get(globs);
  if (!matcher) {
    matcher = globs.length === 0 ? () => false : memoize<string, boolean>(picomatch(globs as string[], { dot: true }), MEMO_LIMIT);
    matcherCache.set(globs, matcher);
  }
  return matcher;
}

/** By the globs' text: replay's parse workers receive the lists anew with each chunk of lines. */
const nameCache = new Map<string, (value: string) => boolean>();

/** globMatcher in any letter case, for names that are written either way (environment variables). */
export function nameMatcher(globs: readonly string[]): (value: string) => boolean {
  const key = globs.join('\n');
  let matcher = nameCache.get(key);
  if (!matcher) {
    matcher = globs.length === 0 ? () => false : memoize<string, boolean>(picomatch(globs as string[], { dot: true, nocase: true }), MEMO_LIMIT);
    if (nameCache.size >= 64) nameCache.clear(); // a config has two lists; tests make a few more
    nameCache.set(key, matcher);
  }
  return matcher;
}

const singleCache = new Map<string, (value: string) => boolean>();

export function globMatches(glob: string, value: string): boolean {
  let matcher = singleCache.get(glob);
  if (!matcher) {
    matcher = memoize<string, boolean>(picomatch(glob, { dot: true }), MEMO_LIMIT);
    singleCache.set(glob, matcher);
  }
  return matcher(value);
}

/** IAM member prefixes: `serviceAccount:ci@acme.iam.gserviceaccount.com` and `ci@acme.iam...` are one principal. */
const MEMBER_PREFIX = /^(user|serviceAccount|group|domain):/i;
const principalCache = new Map<string, { readonly kind: string | undefined; readonly matches: (value: string) => boolean }>();

/** The kind an audit entry's principal is: its member prefix, else a service account by its email domain, else a user. */
function principalKind(principal: string): string {
  const prefix = MEMBER_PREFIX.exec(principal)?.[1];
  if (prefix) return prefix.toLowerCase();
  return /\.gserviceaccount\.com$/i.test(principal) ? 'serviceaccount' : 'user';
}

/**
 * A principal glob against a principal as logged (`principalEmail`, or `principalSubject` with its `user:` prefix):
 * member prefixes are left out on both sides and letters compare without case, as Google compares emails. A glob
 * with a prefix keeps its kind: `serviceAccount:*` matches service accounts only, `user:*` everyone else.
 */
export function principalMatches(glob: string, principal: string): boolean {
  let matcher = principalCache.get(glob);
  if (!matcher) {
    const kind = MEMBER_PREFIX.exec(glob)?.[1]?.toLowerCase();
    matcher = { kind, matches: memoize<string, boolean>(picomatch(glob.replace(MEMBER_PREFIX, ''), { dot: true, nocase: true }), MEMO_LIMIT) };
    principalCache.set(glob, matcher);
  }
  if (matcher.kind !== undefined && matcher.kind !== principalKind(principal)) return false;
  return matcher.matches(principal.replace(MEMBER_PREFIX, ''));
}
