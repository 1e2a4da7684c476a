// What a rejected `fetch` means for delivery, shared by the HTTP sinks (webhook, PagerDuty). No imports.
//
// Node's fetch rejects in three ways: a timeout or abort (a DOMException named TimeoutError / AbortError); a
// network failure, always `TypeError('fetch failed')` with the socket error as `cause` (ECONNREFUSED, ENOTFOUND,
// UND_ERR_SOCKET, ...); and a request that could not even be built, a TypeError without a network cause (an
// invalid URL, credentials in the URL, a bad header value). Only the first two can succeed on retry.
//
// The reason is built from error names and codes only, never from messages: the messages of the third kind quote
// the full URL, user name and password included ("Request cannot be constructed from a URL that includes
// credentials: https://user:secret@host/hook"), and a URL may carry a token in its path or query.

export interface FetchFailure {
  readonly retryable: boolean;
  readonly reason: string;
}

/** Ports fetch refuses to connect to, whatever the server (the fetch spec's "bad port" list): no retry helps. */
const BAD_PORT = 'bad port';

export function describeFetchError(error: unknown): FetchFailure {
  const name = error instanceof Error ? error.name : typeof error;
  if (name === 'TimeoutError' || name === 'AbortError') return { retryable: true, reason: 'timed out' };
  const cause = error instanceof Error ? (error as Error & { cause?: unknown }).cause : undefined;
  if (error instanceof TypeError && error.message === 'fetch failed') {
    if (cause instanceof Error && cause.message === BAD_PORT) return { retryable: false, reason: 'the URL uses a port fetch never connects to' };
    return { retryable: true, reason: codeOf(cause) ?? nameOf(cause) ?? 'network error' };
  }
  const code = codeOf(cause) ?? codeOf(error);
  return { retryable: false, reason: `the request could not be built (${name}${code ? ` ${code}` : ''}); check the URL and headers` };
}

/**
 * Replaces anything that looks like a URL (scheme://...) with `[url]`, and each of `secrets` (the configured URL,
 * its password, ...) with `[redacted]`: the last line of defence for text that is about to be logged.
 */
export function redactUrls(text: string, secrets: readonly string[] = []): string {
  let out = text;
  // Longest first, so a URL is replaced whole before the password inside it.
  for (const secret of [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length)) out = out.split(secret).join('[redacted]');
  return out.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '[url]');
}

function codeOf(value: unknown): string | undefined {
  const code = value && typeof value === 'object' && 'code' in value ? (value as { code: unknown }).code : undefined;
  return typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code) ? code : undefined;
}

function nameOf(value: unknown): string | undefined {
  return value instanceof Error && /^[A-Za-z]{1,64}$/.test(value.name) && value.name !== 'Error' ? value.name : undefined;
}
