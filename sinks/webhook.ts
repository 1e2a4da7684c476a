// The generic webhook sink: POSTs the finding JSON to WEBHOOK_URL, signed so the receiver can check it came from
// us and was not altered: `X-Runwatch-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes, key
// WEBHOOK_SECRET>`. A resolution is the same finding with `status: "resolved"` and `resolution`, so it carries the
// same `X-Runwatch-Finding-Id` (which finding it is about); `X-Runwatch-Event-Id` is what a receiver
// de-duplicates on: the finding id for the finding, `<id>:resolved` for its resolution, the same on every
// redelivery of either.
// 2xx delivered; 408, 429, 5xx and network errors retryable (Retry-After honoured); any other status, and a
// request that cannot be built, permanent. Redirects are not followed (the signature covers the body, not a URL we
// did not choose). Neither the URL (it may carry a token) nor the secret ever appears in a result: reasons come
// from status codes and error codes (fetchFailure.ts) and are scrubbed once more before they leave the sink.
// A URL with a user name or password is refused when the sink is built (see webhookUrlProblem).
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Finding } from '../functions/findings/finding.js';
import { isResolution, parseRetryAfter, retryWithinDeadline, systemClock, type RetryClock, type RetryPolicy } from './deliver.js';
import { describeFetchError, redactUrls } from './fetchFailure.js';
import type { DeliveryContext, DeliveryResult, Sink } from './sink.js';
import { wellFormed } from './text.js';

export interface WebhookRequest {
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface WebhookSinkOptions {
  readonly url: string;
  readonly secret: string;
  /** sinks.webhook.timeoutSeconds, in ms: the bound of one request. */
  readonly timeoutMs: number;
  readonly retry?: Partial<RetryPolicy>;
  readonly clock?: RetryClock;
}

const DEFAULT_RETRY: Omit<RetryPolicy, 'attemptTimeoutMs'> = { maxAttempts: 3, initialDelayMs: 500, maxDelayMs: 4_000, minAttemptMs: 250 };

/**
 * Why `url` cannot be the webhook URL, or undefined. Credentials in the URL (`https://user:password@host/`) are
 * refused: fetch will not send them, and a URL is the kind of text that ends up in error messages and logs. The
 * message never quotes the URL.
 */
export function webhookUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'WEBHOOK_URL must be an http(s) URL';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'WEBHOOK_URL must be an http(s) URL';
  if (parsed.username !== '' || parsed.password !== '') {
    return (
      'WEBHOOK_URL must not contain a user name or password (user:password@host): credentials in a URL leak into error ' +
      'messages and logs, and fetch refuses to send them. runwatch authenticates each request with the ' +
      'X-Runwatch-Signature header (HMAC-SHA256 of the body, keyed with WEBHOOK_SECRET): remove the credentials from ' +
      'the URL and have the receiver verify the signature instead'
    );
  }
  return undefined;
}

/** The `X-Runwatch-Signature` value for a body: a string is signed as its UTF-8 bytes, bytes as they are. */
export function signBody(body: string | Uint8Array, secret: string): string {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return `sha256=${createHmac('sha256', secret).update(bytes).digest('hex')}`;
}

/** For a receiver: does `header` sign `body` (the bytes as received) under `secret`? Compared in constant time. */
export function verifySignature(body: string | Uint8Array, header: string, secret: string): boolean {
  const given = Buffer.from(header);
  const expected = Buffer.from(signBody(body, secret));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** `X-Runwatch-Event-Id`: one per event, not per finding, so de-duplicating on it never drops a resolution. */
export function webhookEventId(finding: Finding): string {
  return isResolution(finding) ? `${finding.id}:resolved` : finding.id;
}

/**
 * JSON.stringify's replacer for a body in well-formed Unicode: names and labels come from entries, and half a surrogate
 * pair (valid in their JSON) would go out as an unpaired `\uD800` escape, which strict parsers (Rust's serde_json)
 * refuse. Strings and object keys take U+FFFD instead, as every other sink sends.
 */
function wellFormedJson(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return wellFormed(value);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const entries = Object.entries(value);
  return entries.every(([key]) => key.isWellFormed()) ? value : Object.fromEntries(entries.map(([key, item]) => [wellFormed(key), item]));
}

/** The request for one finding. Pure: the body is the finding JSON, byte for byte what the signature covers. */
export function renderWebhook(finding: Finding, secret: string): WebhookRequest {
  const body = JSON.stringify(finding, wellFormedJson);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'runwatch',
      'x-runwatch-event-id': webhookEventId(finding),
      'x-runwatch-finding-id': finding.id,
      'x-runwatch-signature': signBody(body, secret),
    },
  };
}

export class WebhookSink implements Sink {
  readonly name = 'webhook';
  private readonly policy: RetryPolicy;

  private readonly secrets: readonly string[];

  constructor(private readonly options: WebhookSinkOptions) {
    const problem = webhookUrlProblem(options.url);
    if (problem) throw new Error(problem);
    this.policy = { ...DEFAULT_RETRY, attemptTimeoutMs: options.timeoutMs, ...options.retry };
    const { href, pathname, search } = new URL(options.url);
    // What a reason must never show: the URL as given and as parsed, its path and query (tokens live there, as
    // in Slack's hooks.slack.com/services/T/B/TOKEN), the signing secret.
    this.secrets = [options.url, href, pathname, search, options.secret];
  }

  async deliver(finding: Finding, context: DeliveryContext): Promise<DeliveryResult> {
    const request = renderWebhook(finding, this.options.secret);
    const clock = this.options.clock ?? systemClock;
    const result = await retryWithinDeadline((timeoutMs) => this.post(request, timeoutMs, clock), context.deadlineMs, this.policy, clock);
    return result.status === 'failed' ? { ...result, reason: redactUrls(result.reason, this.secrets) } : result;
  }

  private async post(request: WebhookRequest, timeoutMs: number, clock: RetryClock): Promise<DeliveryResult> {
    let response: Response;
    try {
      response = await fetch(this.options.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const failure = describeFetchError(error);
      return { status: 'failed', retryable: failure.retryable, reason: `webhook request failed: ${failure.reason}` };
    }
    // Drain the body so the connection is reused; its content is not part of the contract.
    await response.arrayBuffer().catch(() => undefined);
    return classifyWebhookStatus(response.status, parseRetryAfter(response.headers.get('retry-after'), clock.now()));
  }
}

export function classifyWebhookStatus(status: number, retryAfterMs: number | undefined): DeliveryResult {
  if (status >= 200 && status < 300) return { status: 'delivered', ref: `http-${status}` };
  const retryable = status === 408 || status === 429 || status >= 500;
  return {
    status: 'failed',
    retryable,
    reason: `webhook receiver answered HTTP ${status}`,
    ...(retryable && retryAfterMs !== undefined ? { retryAfterMs } : {}),
  };
}
