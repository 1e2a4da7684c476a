// Glob matching for config values (principals, PROJECT/SERVICE, image repositories), compiled once per list.
// `*` does not cross `/` (so `acme-prod/*` matches every service of one project); `**` does.
// Answers are remembered per value (a bounded memo): the same few repositories, principals and services come back
// on every deploy, and a picomatch call costs a microsecond or more.
import picomatch from 'picomatch';
import { memoize } from '../audit/memo.js';

const MEMO_LIMIT = 10_000;

type Matcher = (value: string) => boolean;

/** Compiled lists, by the list itself (the config's, the usual case) and by its text (a copy: worker messages). */
const byList = { exact: new WeakMap<readonly string[], Matcher>(), nocase: new WeakMap<readonly string[], Matcher>() };
const byText = new Map<string, Matcher>();

function matcherOf(globs: readonly string[], nocase: boolean): Matcher {
  const lists = nocase ? byList.nocase : byList.exact;
  let matcher = lists.get(globs);
  if (!matcher) {
    const key = `${nocase ? 'i' : 'c'}\n${globs.join('\n')}`;
    matcher = byText.get(key);
    if (!matcher) {
      matcher = globs.length === 0 ? () => false : memoize<string, boolean>(picomatch(globs as string[], { dot: true, nocase }), MEMO_LIMIT);
      if (byText.size >= 64) byText.clear(); // a config has a few lists; tests make more
      byText.set(key, matcher);
    }
    lists.set(globs, matcher);
  }
  return matcher;
}

export function globMatcher(globs: readonly string[]): Matcher {
  return matcherOf(globs, false);
}

/** globMatcher in any letter case, for names that are written either way (environment variables). */
export function nameMatcher(globs: readonly string[]): Matcher {
  return matcherOf(globs, true);
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

/**
 * The kind an audit entry's principal is: its member prefix, a federated identity (`principal://`, `principalSet://`:
 * workload identity federation, never a Google user), else a service account by its email domain, else a user.
 */
function principalKind(principal: string): string {
  const prefix = MEMBER_PREFIX.exec(principal)?.[1];
  if (prefix) return prefix.toLowerCase();
  if (/^principal(set)?:\/\//i.test(principal)) return 'federated';
  return /\.gserviceaccount\.com$/i.test(principal) ? 'serviceaccount' : 'user';
}

/**
 * A principal glob against a principal as logged (`principalEmail`, or `principalSubject` with its `user:` prefix):
 * member prefixes are left out on both sides and letters compare without case, as Google compares emails. A glob
 * with a prefix keeps its kind: `serviceAccount:*` matches service accounts only, `user:*` Google users only (not
 * federated `principal://` identities: match those by their own URI).
 */
/**
 * True for an identity that is a person: a Google account (`user:`, or an email outside `*.gserviceaccount.com`) or
 * a workforce identity federation principal (`principal://iam.googleapis.com/locations/global/workforcePools/...`).
 * Not a service account, a Google service agent, a workload identity (a pipeline), nor a third party's bare subject
 * claim (`repo:acme/shop:ref:refs/heads/main`).
 */
export function isPerson(principal: string): boolean {
  const kind = principalKind(principal);
  if (kind === 'federated') return /\/workforcePools\//i.test(principal);
  return kind === 'user' && (/^user:/i.test(principal) || principal.includes('@'));
}

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

/**
 * The bucket glob of a trustedRepositories glob that names buckets (`gs://BUCKET`, the scheme in any letter case, as
 * a URL's is), without its scheme; undefined for an image repository glob. Config validation and new-image-repository
 * tell the two kinds apart by it alone.
 */
export function bucketGlobOf(glob: string): string | undefined {
  return /^gs:\/\//i.test(glob) ? glob.slice('gs://'.length) : undefined;
}
