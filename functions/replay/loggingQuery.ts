// What `runwatch replay --from-logging` asks Cloud Logging for: the parent resources (`resourceNames` of
// entries.list) and the query, which is the log sink filter generated from the detectors (`runwatch sink-filter`),
// AND the replay's `[since, until)` bounds, AND the user's own `--filter`. The same entries a live sink would have
// routed, over the chosen time range: a replay from Cloud Logging sees what the live pipeline would have seen.
import { sinkFilter } from '../detectors/sinkFilter.js';

/** entries.list takes at most this many parent resources in one request. */
export const MAX_RESOURCE_NAMES = 100;
/** The Logging query language's limit on a query's length (characters). */
export const MAX_FILTER_LENGTH = 20_000;

// A project id (6-30 lowercase letters, digits, hyphens; legacy domain-scoped ids `example.com:p`) or number;
// folder and organization numbers; billing account ids (`012345-6789AB-CDEF01`). Kept loose where Google's own
// rules are (project ids of old projects break today's rules), strict on what could change the request's meaning:
// no slashes, quotes or spaces inside an id.
const ID = {
  projects: /^[a-z0-9][a-z0-9.:-]{0,99}$/,
  folders: /^\d{1,30}$/,
  organizations: /^\d{1,30}$/,
  billingAccounts: /^[A-Za-z0-9-]{1,40}$/,
} as const;
type Container = keyof typeof ID;
/** A log view (`.../locations/L/buckets/B/views/V`) may stand for its container: entries.list accepts them too. */
const VIEW = /^locations\/[a-z0-9-]{1,63}\/buckets\/[A-Za-z0-9_.-]{1,100}\/views\/[A-Za-z0-9_.-]{1,100}$/;

export class ResourceNameError extends Error {
  override readonly name = 'ResourceNameError';
}

/**
 * `--from-logging` as an entries.list resource name: `projects/P`, `folders/F`, `organizations/O`,
 * `billingAccounts/B`, or a log view under one of them; a bare id means `projects/ID`, as gcloud's `--project`.
 */
export function parseResourceName(value: string): string {
  const text = value.trim();
  const slash = text.indexOf('/');
  const kind = (slash === -1 ? 'projects' : text.slice(0, slash)) as Container;
  const rest = slash === -1 ? text : text.slice(slash + 1);
  if (!Object.hasOwn(ID, kind)) {
    throw new ResourceNameError(`${JSON.stringify(value)} is not a resource: use projects/P, folders/F, organizations/O, billingAccounts/B, a log view projects/P/locations/L/buckets/B/views/V or a bare project id`);
  }
  const next = rest.indexOf('/');
  const id = next === -1 ? rest : rest.slice(0, next);
  const view = next === -1 ? undefined : rest.slice(next + 1);
  if (!ID[kind].test(id) || (view !== undefined && !VIEW.test(view))) {
    throw new ResourceNameError(`${JSON.stringify(value)} is not a valid ${kind} resource name`);
  }
  return `${kind}/${id}${view === undefined ? '' : `/${view}`}`;
}

export interface LoggingQueryOptions {
  /** `--since` as an RFC 3339 UTC timestamp (`...Z`): the lower bound, included. */
  readonly sinceIso: string;
  /** `--until` as an RFC 3339 UTC timestamp: the upper bound, excluded. */
  readonly untilIso?: string;
  /** `--filter`: the user's own restriction, in the Logging query language. */
  readonly userFilter?: string;
}

/**
 * The entries.list filter. Every part sits on lines of its own inside parentheses: the sink filter is an `OR` of
 * two groups (the query language binds OR tighter than AND, but the parentheses leave no doubt either way) and
 * both it and a user's filter may end in a `--` comment, which runs to the end of its line.
 */
export function loggingFilter({ sinceIso, untilIso, userFilter }: LoggingQueryOptions): string {
  const bounds = [`timestamp>="${sinceIso}"`, ...(untilIso === undefined ? [] : [`timestamp<"${untilIso}"`])];
  const parts = [bounds.join(' AND '), `(\n${sinkFilter().trimEnd()}\n)`];
  if (userFilter !== undefined && userFilter.trim() !== '') parts.push(`(\n${userFilter.trim()}\n)`);
  return `${parts.join('\nAND\n')}\n`;
}
