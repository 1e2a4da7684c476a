// PagerDuty Events API v2 with plain fetch (@pagerduty/pdjs hard-codes https and its timeout does not abort).
// A finding is a `trigger` whose dedup_key is the finding id: redelivery and replay update the same open alert
// instead of paging twice. A resolution is a `resolve` with the same dedup_key. PagerDuty drops a resolve when
// nothing is open, so a resolution that arrives before its finding (Pub/Sub is unordered; deliverOnce says so
// with `originalDelivered: false`, and the late finding then counts as a duplicate) is sent as the whole finding,
// a `trigger` marked already resolved, then the `resolve`: a short public exposure still pages someone. Once the
// trigger went out, deliverOnce is told (`originalSent`) and records the finding delivered before the resolve is sent:
// whether the resolve then fails or the instance dies before the records are written, the redelivery sends only the
// resolve and the late finding is a duplicate. Sending the trigger again would page twice whenever a resolve had gone
// through (PagerDuty processed one it answered with a 5xx or a timeout; one sent just before the instance died): a
// trigger after a resolve opens a new alert.
// 202 delivered; 429, 5xx and network errors retryable (Retry-After honoured, else backoff) inside the deadline;
// 400 and other statuses permanent, with PagerDuty's `errors[]` in the reason.
// The routing key is a secret: it is added to the body only at send time (never in `render`), and every reason
// is scrubbed of it in case a server echoes it back.
// Untrusted names (anyone who can deploy writes them) are bounded so an event always fits PagerDuty's 512 KB,
// which it refuses with a 400 (permanent: the finding would never page): the summary at its documented 1,024
// characters, component and group at 255, each custom_details string at 4,096; an event still over 500,000 bytes
// (many long values, or control characters, which JSON writes as six bytes each) has its details cut shorter, tier
// by tier, down to the finding id, rule and next steps (custom_details.next_steps: the text SCC and Slack carry,
// runwatch's own and never cut; not in a resolution's trigger). client_url and links[].href are https Cloud Console
// URLs only, as a URL parser writes them (percent-encoded), and left out when longer than 2,048 characters: a cut URL
// opens another page.
import { consoleLinkSubject, isCloudRunLinkSubject, type Finding, type Severity } from '../functions/findings/finding.js';
import { capitalized } from '../functions/model/change.js';
import { isResolution, parseRetryAfter, retryWithinDeadline, systemClock, type RetryClock, type RetryPolicy } from './deliver.js';
import type { DeliveryContext, DeliveryResult, Sink } from './sink.js';
import { consoleUrl, logEntryLinkText, wellFormed } from './text.js';
import { describeFetchError } from './fetchFailure.js';
import { nextStepsOf, stepsAfterResolutionOf } from './nextSteps.js';
import { truncatePlain, visibleText } from '../functions/untrustedText.js';

const DEFAULT_PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

export type PagerDutySeverity = 'critical' | 'error' | 'warning' | 'info';

const SEVERITY: Readonly<Record<Severity, PagerDutySeverity>> = { CRITICAL: 'critical', HIGH: 'error', MEDIUM: 'warning', LOW: 'info' };

/** PagerDuty's limits: summary 1,024 characters, dedup_key 255; the whole event 512 KB. */
const SUMMARY_MAX = 1024;
/**
 * component and group have no documented limit; PagerDuty's examples are a word (`mysql`, `prod-datapipe`). A
 * Cloud Run service name or project id is at most 63 characters: 255 (dedup_key's limit) cuts only hostile ones.
 */
const NAME_MAX = 255;
/** Longer URLs are left out, not cut: about what browsers and proxies reliably take. Real console links are a few hundred. */
const LINK_URL_MAX = 2048;
/** The event's JSON in UTF-8 bytes, routing key excluded: below the documented 512 KB however it is counted. */
const EVENT_MAX_BYTES = 500_000;

interface DetailLimits {
  /** UTF-16 units per string (key or value). */
  readonly string: number;
  /** Items per nested array or object (evidence values, labels). */
  readonly items: number;
}

/**
 * The details are cut with the first of these under which the event fits. The first changes nothing of an ordinary
 * finding (4,096 per string, no item limit); the last fits any finding (20 x 20 values of 64 characters).
 */
const DETAIL_TIERS: readonly DetailLimits[] = [
  { string: 4096, items: Number.POSITIVE_INFINITY },
  { string: 1024, items: 100 },
  { string: 256, items: 50 },
  { string: 64, items: 20 },
];

export interface PagerDutyLink {
  readonly href: string;
  readonly text: string;
}

export type DetailValue = string | number | boolean | null | readonly DetailValue[] | { readonly [key: string]: DetailValue };

export interface PagerDutyTrigger {
  readonly event_action: 'trigger';
  readonly dedup_key: string;
  readonly client: string;
  readonly client_url?: string;
  readonly payload: {
    readonly summary: string;
    readonly source: string;
    readonly severity: PagerDutySeverity;
    readonly timestamp: string;
    readonly component: string;
    readonly group: string;
    readonly class: string;
    readonly custom_details: Readonly<Record<string, DetailValue>>;
  };
  readonly links: readonly PagerDutyLink[];
}

export interface PagerDutyResolve {
  readonly event_action: 'resolve';
  readonly dedup_key: string;
}

/** The event without its routing key. */
export type PagerDutyEvent = PagerDutyTrigger | PagerDutyResolve;

export interface PagerDutyRenderOptions {
  /** sinks.pagerduty.source: what PagerDuty shows as the affected system's source. */
  readonly source: string;
}

export function renderPagerDuty(finding: Finding, options: PagerDutyRenderOptions): PagerDutyEvent {
  if (isResolution(finding)) return { event_action: 'resolve', dedup_key: finding.id };
  return renderTrigger(finding, options);
}

/**
 * The events one delivery sends, in order: the finding's trigger, or its resolve, or - for a resolution whose
 * finding never reached PagerDuty (`originalDelivered: false`) - the whole finding as a trigger marked already
 * resolved, then the resolve, both with the finding id as dedup_key.
 */
export function renderPagerDutyEvents(finding: Finding, options: PagerDutyRenderOptions & { readonly originalDelivered?: boolean }): PagerDutyEvent[] {
  const event = renderPagerDuty(finding, options);
  return event.event_action === 'resolve' && options.originalDelivered === false ? [renderTrigger(finding, options), event] : [event];
}

function renderTrigger(finding: Finding, options: PagerDutyRenderOptions): PagerDutyTrigger {
  const resolved = isResolution(finding) ? ' (already resolved)' : '';
  const clientUrl = consoleUrl(finding.links.console, LINK_URL_MAX);
  const event: PagerDutyTrigger = {
    event_action: 'trigger',
    dedup_key: finding.id,
    client: 'runwatch',
    ...(clientUrl ? { client_url: clientUrl } : {}),
    payload: {
      // Shown as the incident title and read out in push, SMS and phone notifications: nothing in it may break a
      // line, turn text around or hide (a service named `\u202e...` would otherwise read backwards).
      summary: truncatePlain(visibleText(`[${finding.severity}] ${finding.title}${resolved}: ${finding.summary}`), SUMMARY_MAX),
      source: options.source,
      severity: SEVERITY[finding.severity],
      timestamp: finding.eventTime,
      component: truncatePlain(visibleText(finding.service), NAME_MAX),
      group: truncatePlain(visibleText(finding.project), NAME_MAX),
      class: finding.rule,
      custom_details: {},
    },
    links: linksOf(finding),
  };
  return withinBudget(event, detailsOf(finding));
}

/**
 * Details never cut: the next steps, what the paged engineer needs most after the summary (which is no detail, and
 * is never cut either). They are runwatch's own text (sinks/nextSteps.ts), under 1,000 characters: the only
 * part built from the finding is a project's, folder's or organization's id, and only in the form a real one has.
 */
const UNCUT_DETAILS: ReadonlySet<string> = new Set(['next_steps']);

/**
 * `event` with the details cut by the first tier under which it fits EVENT_MAX_BYTES (UNCUT_DETAILS as they are); at
 * worst only the finding id, rule and next steps.
 */
function withinBudget(event: PagerDutyTrigger, details: Readonly<Record<string, DetailValue>>): PagerDutyTrigger {
  const withDetails = (custom_details: Readonly<Record<string, DetailValue>>): PagerDutyTrigger => ({ ...event, payload: { ...event.payload, custom_details } });
  for (const limits of DETAIL_TIERS) {
    const candidate = withDetails(Object.fromEntries(Object.entries(details).map(([key, value]) => [key, UNCUT_DETAILS.has(key) ? value : capStrings(value, limits)])));
    if (Buffer.byteLength(JSON.stringify(candidate), 'utf8') <= EVENT_MAX_BYTES) return candidate;
  }
  return withDetails({
    finding_id: details['finding_id'] ?? null,
    rule: details['rule'] ?? null,
    ...(details['next_steps'] !== undefined ? { next_steps: details['next_steps'] } : {}),
    details_left_out: 'too large for one PagerDuty event (512 KB): see the audit entry',
  });
}

function detailsOf(finding: Finding): Record<string, DetailValue> {
  const details: Record<string, DetailValue> = {
    finding_id: finding.id,
    rule: finding.rule,
    // What to do, as SCC and Slack say it. For a resolution (the trigger of one that came before its finding), what is
    // left to do: the change is undone, and the revert would have the reader undo it again.
    next_steps: isResolution(finding) ? stepsAfterResolutionOf(finding) : nextStepsOf(finding),
    principal: finding.principal,
    ...(finding.delegationChain?.length ? { delegation_chain: finding.delegationChain } : {}),
    project: finding.project,
    ...(finding.location ? { location: finding.location } : {}),
    service: finding.service,
    ...(finding.resourceType ? { resource_type: finding.resourceType } : {}),
    // Absent facts are left out rather than faked; `not_in_audit_entry` names what the entry did not say.
    ...(finding.revision ? { revision: finding.revision } : {}),
    resource_name: finding.resourceName,
    ...(finding.provenance.commit ? { commit: finding.provenance.commit } : {}),
    ...(finding.provenance.pipeline ? { pipeline: finding.provenance.pipeline } : {}),
    event_time: finding.eventTime,
    method: finding.methodName,
    evidence: finding.evidence,
    labels: finding.labels,
    ...(finding.unknown.length ? { not_in_audit_entry: finding.unknown } : {}),
    log_name: finding.logName,
    insert_id: finding.insertId,
    // Only a resolution that came before its finding is ever rendered as a trigger with these.
    ...(isResolution(finding) ? { status: 'resolved' } : {}),
    ...(finding.resolution
      ? { resolved_at: finding.resolution.time, resolved_by: finding.resolution.principal, resolution_reason: finding.resolution.reason }
      : {}),
  };
  return details;
}

function linksOf(finding: Finding): PagerDutyLink[] {
  const links: PagerDutyLink[] = [];
  const console = consoleUrl(finding.links.console, LINK_URL_MAX);
  if (console) {
    // A project's, folder's or organization's IAM page is no Cloud Run page: it is named as Slack names it.
    const subject = consoleLinkSubject(finding);
    links.push({ href: console, text: `${isCloudRunLinkSubject(subject) ? `Cloud Run ${subject}` : capitalized(subject)} in the Cloud Console` });
  }
  const logEntry = consoleUrl(finding.links.logEntry, LINK_URL_MAX);
  if (logEntry) links.push({ href: logEntry, text: `${logEntryLinkText(finding)} in Logs Explorer` });
  return links;
}

/**
 * Strings cut, and made well formed (JSON.stringify writes a lone surrogate as an escape such as `\ud83d`, which
 * strict JSON parsers refuse); nested arrays and objects keep `limits.items` items and say how many more there were.
 */
function capStrings(value: DetailValue, limits: DetailLimits): DetailValue {
  if (typeof value === 'string') return truncatePlain(wellFormed(value), limits.string);
  if (Array.isArray(value)) {
    const kept = value.slice(0, limits.items).map((v: DetailValue) => capStrings(v, limits));
    return value.length > limits.items ? [...kept, `… and ${value.length - limits.items} more`] : kept;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    const kept = entries.slice(0, limits.items).map(([k, v]) => [truncatePlain(wellFormed(k), Math.min(256, limits.string)), capStrings(v as DetailValue, limits)]);
    return Object.fromEntries(entries.length > limits.items ? [...kept, ['…', `${entries.length - limits.items} more`]] : kept);
  }
  return value;
}

export interface PagerDutySinkOptions {
  readonly routingKey: string;
  readonly eventsUrl?: string;
  readonly source: string;
  readonly retry?: Partial<RetryPolicy>;
  readonly clock?: RetryClock;
}

const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 4, initialDelayMs: 500, maxDelayMs: 5_000, attemptTimeoutMs: 10_000, minAttemptMs: 250 };

export class PagerDutySink implements Sink {
  readonly name = 'pagerduty';
  private readonly policy: RetryPolicy;
  private readonly url: string;

  constructor(private readonly options: PagerDutySinkOptions) {
    this.policy = { ...DEFAULT_RETRY, ...options.retry };
    this.url = options.eventsUrl ?? DEFAULT_PAGERDUTY_EVENTS_URL;
  }

  async deliver(finding: Finding, context: DeliveryContext): Promise<DeliveryResult> {
    const events = renderPagerDutyEvents(finding, {
      source: this.options.source,
      ...(context.originalDelivered !== undefined ? { originalDelivered: context.originalDelivered } : {}),
    });
    const clock = this.options.clock ?? systemClock;
    // One retry loop per event, inside the one deadline: a failed resolve does not send the trigger again here.
    for (const [index, event] of events.entries()) {
      const body = JSON.stringify({ routing_key: this.options.routingKey, ...event });
      const result = await retryWithinDeadline((timeoutMs) => this.send(body, timeoutMs, clock), context.deadlineMs, this.policy, clock);
      if (result.status !== 'delivered') {
        const partly = index > 0 ? ` (the ${events[0]?.event_action} went out, the ${event.event_action} did not)` : '';
        return this.scrub(result.status === 'failed' ? { ...result, reason: `${result.reason}${partly}` } : result);
      }
      // The trigger of a resolution that came first is out: recorded before the resolve, so no later delivery sends it again.
      if (event.event_action === 'trigger' && index < events.length - 1) await context.originalSent?.(finding.id);
    }
    // The ref is the dedup_key we sent (PagerDuty echoes it): the handle of the alert, whatever the response said.
    return { status: 'delivered', ref: finding.id };
  }

  private async send(body: string, timeoutMs: number, clock: RetryClock): Promise<DeliveryResult> {
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'runwatch' },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const failure = describeFetchError(error);
      return { status: 'failed', retryable: failure.retryable, reason: `PagerDuty request failed: ${failure.reason}` };
    }
    // The key comes out of the body before the reason cuts its texts: a cut echo would leave part of it.
    const text = this.withoutKey(await response.text().catch(() => ''));
    return classifyPagerDutyResponse(response.status, text, parseRetryAfter(response.headers.get('retry-after'), clock.now()));
  }

  /** Belt and braces: whatever a server sent back, the routing key never leaves this object. */
  private scrub(result: DeliveryResult): DeliveryResult {
    const key = this.options.routingKey;
    if (!key) return result;
    if (result.status !== 'delivered') return { ...result, reason: this.withoutKey(result.reason) };
    return result.ref?.includes(key) ? { status: 'delivered' } : result;
  }

  private withoutKey(text: string): string {
    const key = this.options.routingKey;
    return key ? text.split(key).join('[routing key]') : text;
  }
}

interface PagerDutyResponseBody {
  readonly status?: unknown;
  readonly message?: unknown;
  readonly dedup_key?: unknown;
  readonly errors?: unknown;
}

export function classifyPagerDutyResponse(status: number, text: string, retryAfterMs: number | undefined): DeliveryResult {
  const body = parseBody(text);
  if (status >= 200 && status < 300) {
    return { status: 'delivered', ...(typeof body.dedup_key === 'string' ? { ref: body.dedup_key } : {}) };
  }
  const retryable = status === 429 || status >= 500;
  return {
    status: 'failed',
    retryable,
    reason: `PagerDuty answered HTTP ${status}${describeErrors(body)}`,
    ...(retryable && retryAfterMs !== undefined ? { retryAfterMs } : {}),
  };
}

function parseBody(text: string): PagerDutyResponseBody {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' ? (parsed as PagerDutyResponseBody) : {};
  } catch {
    return {};
  }
}

function describeErrors(body: PagerDutyResponseBody): string {
  const message = typeof body.message === 'string' ? `: ${truncatePlain(body.message, 200)}` : '';
  const errors = Array.isArray(body.errors) ? body.errors.filter((e): e is string => typeof e === 'string') : [];
  return `${message}${errors.length ? `; errors: ${errors.map((e) => truncatePlain(e, 200)).join('; ')}` : ''}`;
}
