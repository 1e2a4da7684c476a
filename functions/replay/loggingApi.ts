// Cloud Logging API v2 `entries.list` over REST (`POST {endpoint}/v2/entries:list`), page after page.
//
// REST, not `@google-cloud/logging`'s gRPC client: the REST API returns each LogEntry as the camelCase JSON that
// `gcloud logging read --format=json` prints and a log sink publishes, which is what the normalizer reads. Over
// gRPC an audit entry's `protoPayload` is a `google.protobuf.Any` whose request and response are `Struct`s, to be
// turned back into that JSON by hand.
//
// Credentials: Application Default Credentials (google-auth-library), scope logging.read. `LOGGING_API_ENDPOINT`
// points the client elsewhere: an `https://` URL of a googleapis.com host (a regional or private endpoint), or (tests)
// an `http://` URL of a loopback host, and then no credentials are looked up or sent, as with the emulators; any
// other URL is refused, so a token never goes to another host nor crosses a network in the clear.
//
// Failures: entries.list has a per-project read quota; HTTP 429 (RESOURCE_EXHAUSTED), 500, 502, 503
// (UNAVAILABLE), 504 and network errors are retried with exponential backoff and jitter, a bounded number of
// times. Everything else (400 INVALID_ARGUMENT: a bad filter; 401, 403: credentials or permission; 404: no such
// resource) is fatal at once, with the API's own message.
import { setTimeout as sleepFor } from 'node:timers/promises';
import { cutText, terminalSafe } from '../untrustedText.js';
import type { InputItem } from './input.js';

export const DEFAULT_LOGGING_ENDPOINT = 'https://logging.googleapis.com';
const SCOPE = 'https://www.googleapis.com/auth/logging.read';
/** entries.list returns at most 1,000 entries a page. */
export const PAGE_SIZE = 1000;

export interface LoggingEndpoint {
  /** Base URL, without a trailing slash: `https://logging.googleapis.com`, or a local server's `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** A plaintext loopback endpoint (a local test server): no credentials are looked up or sent. */
  readonly anonymous: boolean;
}

export class LoggingEndpointError extends Error {
  override readonly name = 'LoggingEndpointError';
}

/** `LOGGING_API_ENDPOINT`: `https://host[:port]`, or `http://` to a loopback host only. */
export function parseLoggingEndpoint(value: string): LoggingEndpoint {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new LoggingEndpointError('LOGGING_API_ENDPOINT must be a URL such as https://logging.googleapis.com or http://127.0.0.1:PORT');
  }
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    throw new LoggingEndpointError('LOGGING_API_ENDPOINT must be a scheme, host and port only (no path, query or user name)');
  }
  const base = `${url.protocol}//${url.host}`;
  // Credentials go with every request: only to Google's API hosts (regional, private and restricted endpoints are
  // all under googleapis.com), never to whatever host the variable names.
  if (url.protocol === 'https:' && (url.hostname === 'googleapis.com' || url.hostname.endsWith('.googleapis.com'))) return { url: base, anonymous: false };
  if (url.protocol === 'https:') throw new LoggingEndpointError('LOGGING_API_ENDPOINT: https is allowed to a googleapis.com host only (the request carries Google credentials)');
  if (url.protocol === 'http:' && isLoopback(url.hostname)) return { url: base, anonymous: true };
  if (url.protocol === 'http:') throw new LoggingEndpointError('LOGGING_API_ENDPOINT: plain http is allowed to a loopback host only (credentials are never sent unencrypted)');
  throw new LoggingEndpointError('LOGGING_API_ENDPOINT must use https (or http to a loopback host)');
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

export interface ListEntriesRequest {
  readonly resourceNames: readonly string[];
  readonly filter: string;
}

export interface RetryOptions {
  /** Attempts per page in all, the first one included. */
  readonly maxAttempts: number;
  /** Backoff before the second attempt; doubles per attempt up to maxDelayMs, with jitter (50-100 %). */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Upper bound of one request: a query over a long range can take a while before its first page. */
  readonly attemptTimeoutMs: number;
}

/**
 * A quota is per minute: six retries whose backoff ceilings add up to about two minutes (jittered, at least one)
 * outlast a minute's exhausted quota.
 */
export const DEFAULT_RETRY: RetryOptions = { maxAttempts: 7, initialDelayMs: 2000, maxDelayMs: 60_000, attemptTimeoutMs: 120_000 };

/** Waits between attempts; tests pass one that does not wait. */
export interface BackoffClock {
  /** Resolves after `ms`, or rejects once `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** In [0, 1): the jitter source. */
  random(): number;
}

export const realBackoffClock: BackoffClock = {
  sleep: (ms, signal) => sleepFor(ms, undefined, signal ? { signal } : undefined),
  random: () => Math.random(),
};

/** Credentials as request headers (`Authorization: Bearer ...`), looked up once and refreshed by the library. */
export type HeaderSource = () => Promise<Headers | Record<string, string>>;

export interface ListEntriesOptions {
  readonly endpoint?: LoggingEndpoint;
  /** Default: Application Default Credentials; none for an anonymous (loopback) endpoint. */
  readonly headers?: HeaderSource;
  readonly retry?: RetryOptions;
  readonly clock?: BackoffClock;
  readonly pageSize?: number;
  /** Stops the listing: the request in flight and any backoff end, and the listing rejects with the reason. */
  readonly signal?: AbortSignal;
  /** Told about each retry (on stderr in the CLI). */
  readonly onRetry?: (message: string) => void;
}

/** A page of entries as the API returned them (any JSON: each entry is checked by the replay like a file's). */
export interface EntriesPage {
  readonly entries: readonly unknown[];
  /** 1 for the first page. */
  readonly page: number;
}

/** A failure entries.list will not get over: the CLI reports its message and exits 1. */
export class LoggingApiError extends Error {
  override readonly name = 'LoggingApiError';
}

type Attempt =
  | { readonly ok: true; readonly body: { readonly entries: readonly unknown[]; readonly nextPageToken?: string } }
  | { readonly ok: false; readonly retryable: boolean; readonly reason: string };

/** Every page of entries.list for `request`, oldest entries first, following `nextPageToken` to the end. */
export async function* listEntries(request: ListEntriesRequest, options: ListEntriesOptions = {}): AsyncGenerator<EntriesPage> {
  const endpoint = options.endpoint ?? { url: DEFAULT_LOGGING_ENDPOINT, anonymous: false };
  const headers = options.headers ?? (endpoint.anonymous ? async () => ({}) : applicationDefaultCredentials());
  const retry = options.retry ?? DEFAULT_RETRY;
  const clock = options.clock ?? realBackoffClock;
  const where = request.resourceNames.join(', ');
  let pageToken: string | undefined;
  for (let page = 1; ; page++) {
    const body = JSON.stringify({
      resourceNames: request.resourceNames,
      filter: request.filter,
      orderBy: 'timestamp asc',
      pageSize: options.pageSize ?? PAGE_SIZE,
      ...(pageToken === undefined ? {} : { pageToken }),
    });
    let result: Attempt | undefined;
    for (let attempt = 1; attempt <= retry.maxAttempts; attempt++) {
      result = await post(`${endpoint.url}/v2/entries:list`, body, headers, retry.attemptTimeoutMs, options.signal);
      if (result.ok || !result.retryable || attempt === retry.maxAttempts) break;
      const wait = backoffMs(attempt, retry, clock.random());
      options.onRetry?.(`entries.list for ${where} (page ${page}): ${result.reason}; attempt ${attempt + 1} of ${retry.maxAttempts} in ${(wait / 1000).toFixed(1)} s`);
      await abortable(clock.sleep(wait, options.signal), options.signal);
    }
    if (!result!.ok) {
      const tries = result!.retryable ? ` (gave up after ${retry.maxAttempts} attempts)` : '';
      throw new LoggingApiError(`Cloud Logging entries.list for ${where} failed${tries}: ${result!.reason}`);
    }
    yield { entries: result!.body.entries, page };
    pageToken = result!.body.nextPageToken;
    // An empty page may still have a token (the API stops after a while searching a sparse range): follow it.
    if (!pageToken) return;
  }
}

export function backoffMs(attemptNumber: number, retry: RetryOptions, random: number): number {
  const ceiling = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (attemptNumber - 1));
  return Math.round(ceiling * (0.5 + random / 2));
}

/** What google-auth-library's GoogleAuth gives here: request headers with a fresh token. */
export interface CredentialSource {
  getRequestHeaders(url?: string): Promise<Headers | Record<string, string>>;
}

/** Loaded on first use: google-auth-library is large, and not needed for file replays. */
async function loadGoogleAuth(): Promise<CredentialSource> {
  const { GoogleAuth } = await import('google-auth-library');
  return new GoogleAuth({ scopes: [SCOPE] });
}

/**
 * Application Default Credentials. Failing the first time means there are none: fatal, with how to get them. Once
 * they worked, a failure is a token refresh that failed (the metadata server or the token endpoint, hourly in a long
 * replay): thrown as it is, so the page's attempt is retried like any network error.
 */
export function applicationDefaultCredentials(load: () => Promise<CredentialSource> = loadGoogleAuth): HeaderSource {
  let auth: Promise<CredentialSource> | undefined;
  let worked = false;
  return async () => {
    auth ??= load();
    try {
      const headers = await (await auth).getRequestHeaders();
      worked = true;
      return headers;
    } catch (error) {
      if (worked) throw error;
      throw new LoggingApiError(
        `no Google credentials for Cloud Logging (Application Default Credentials: run \`gcloud auth application-default login\`, or set GOOGLE_APPLICATION_CREDENTIALS): ${printable((error as Error).message)}`,
      );
    }
  };
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts (the promise itself is left to settle). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}

/** Rejects with the signal's own reason once it aborts (timers/promises rejects with an AbortError instead). */
async function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    signal?.throwIfAborted();
    throw error;
  }
}

async function post(url: string, body: string, headers: HeaderSource, timeoutMs: number, signal: AbortSignal | undefined): Promise<Attempt> {
  signal?.throwIfAborted();
  // The attempt's time limit covers the credentials too: a token refresh can hang (a metadata server gone quiet).
  const timeout = AbortSignal.timeout(timeoutMs);
  const attempt = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let credentials: Headers | Record<string, string>;
  try {
    credentials = await untilAborted(headers(), attempt);
  } catch (error) {
    if (error instanceof LoggingApiError) throw error; // no credentials at all: retrying will not help
    signal?.throwIfAborted();
    const reason = timeout.aborted ? 'timed out' : printable(error instanceof Error ? error.message : String(error));
    return { ok: false, retryable: true, reason: `credentials could not be refreshed: ${reason}` };
  }
  const requestHeaders = new Headers(credentials);
  requestHeaders.set('content-type', 'application/json');
  requestHeaders.set('accept', 'application/json');
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: requestHeaders,
      body,
      signal: attempt,
    });
    text = await response.text();
  } catch (error) {
    signal?.throwIfAborted(); // the replay was stopped (its reader went away): no retry, no error of ours
    return { ok: false, retryable: true, reason: networkReason(error) };
  }
  if (response.ok) {
    const parsed = parseJson(text);
    const entries = (parsed as { entries?: unknown } | undefined)?.entries ?? [];
    const token = (parsed as { nextPageToken?: unknown } | undefined)?.nextPageToken;
    if (parsed === undefined || typeof parsed !== 'object' || !Array.isArray(entries) || (token !== undefined && typeof token !== 'string')) {
      return { ok: false, retryable: false, reason: `HTTP ${response.status} with a body that is not a ListLogEntriesResponse` };
    }
    return { ok: true, body: { entries, ...(token ? { nextPageToken: token } : {}) } };
  }
  return { ok: false, retryable: RETRYABLE_STATUS.has(response.status), reason: apiErrorReason(response.status, text) };
}

/** RESOURCE_EXHAUSTED (429), INTERNAL (500), bad gateway (502), UNAVAILABLE (503), DEADLINE_EXCEEDED (504). */
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

/** `403 PERMISSION_DENIED: <the API's message>` from Google's error JSON (`{"error":{code,message,status}}`). */
export function apiErrorReason(httpStatus: number, text: string): string {
  const error = (parseJson(text) as { error?: { message?: unknown; status?: unknown } } | undefined)?.error;
  const status = typeof error?.status === 'string' ? ` ${printable(error.status)}` : '';
  const message = typeof error?.message === 'string' ? `: ${printable(error.message)}` : ' (no Google API error in the response)';
  return `HTTP ${httpStatus}${status}${message}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function networkReason(error: unknown): string {
  const name = error instanceof Error ? error.name : 'error';
  if (name === 'TimeoutError' || name === 'AbortError') return 'request timed out';
  const cause = error instanceof Error ? (error as Error & { cause?: { code?: unknown } }).cause : undefined;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  return `network error${code ? ` (${printable(code)})` : ''}`;
}

/** A server's text for a terminal (escape sequences shown escaped), at most 1,000 characters. */
function printable(text: string): string {
  const safe = terminalSafe(text);
  return safe.length > 1000 ? `${cutText(safe, 1000)}...` : safe;
}

/**
 * The pages as the replay reads input: each entry with where it came from (page, position, insertId), which the
 * summary names when the entry is malformed.
 */
export async function* inputOfPages(pages: AsyncIterable<EntriesPage>): AsyncGenerator<InputItem[]> {
  for await (const { entries, page } of pages) {
    yield entries.map((value, i): InputItem => ({ kind: 'entry', value, source: `Cloud Logging page ${page}, entry ${i + 1}${insertIdOf(value)}` }));
  }
}

function insertIdOf(entry: unknown): string {
  const id = (entry as { insertId?: unknown } | null)?.insertId;
  return typeof id === 'string' ? ` (insertId ${printable(cutText(id, 100))})` : '';
}
