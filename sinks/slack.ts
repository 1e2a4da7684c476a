// Slack through @slack/web-api `chat.postMessage`: one Block Kit message per finding; a resolution is a reply in
// the original message's thread (`previousRef` = the `channel:ts` the delivery record kept), or, when the original
// never reached Slack, a standalone message that shows the whole finding as already resolved. When the original's
// delivery ran out without an answer (`originalAttemptMs`: its instance died, a timeout), it may have reached Slack
// all the same: the channel is read for it first, and found there, the resolution replies in its thread.
//
// Hostile input. Service names, labels, principals, image names, evidence and the summary are attacker
// controlled. They go ONLY into `plain_text` objects, which Slack never parses for mentions, links or formatting;
// before that, control, line-separator, bidirectional-override, zero-width and other invisible characters become
// U+FFFD (UNSAFE_CHARS) so nothing can break a line, spoof text direction or hide characters. mrkdwn carries
// only our own words and links, and even those are escaped (`&`, `<`, `>`), truncated after escaping without
// splitting an entity. Links are https URLs on console.cloud.google.com that we built (enrich, the SCC source),
// checked again here; link text has no `|`.
// `unfurl_links`/`unfurl_media` are off, `parse` is `none`, no `link_names`.
//
// Limits (Block Kit): header 150, section text 3,000, 10 fields of 2,000, 50 blocks, 40,000 for `text`. We stay
// well inside them (about 10 blocks, values cut at a few hundred characters) because Slack rejects long messages
// (`msg_blocks_too_long`) below the documented sums.
//
// Retries: `rejectRateLimitedCalls` makes a 429 come back at once with its Retry-After, and the client's own retry
// is off (`retries: 0`; its default retries for about 30 minutes). Our loop (3 attempts, backoff 0.5-3 s, each
// request cut to the time left) retries 429, HTTP 5xx, refused or reset connections and Slack's transient errors
// inside the deadline.
//
// Exactly once. chat.postMessage has no idempotency key, so every message carries its finding's id and status as
// message metadata, and an answer that leaves open whether Slack posted it (`internal_error`, `fatal_error`, HTTP 5xx,
// a reset connection, a timeout) is followed by a look at the channel (conversations.history, or .replies for a
// thread): a message our bot posted for the same finding means delivered. Absent after an answer, the message is posted
// again; absent after a timeout (Slack may still be posting it), or not read for a reason that passes (a 429 or 5xx on
// the history), it comes back `mayHaveSent` and deliverOnce keeps the claim until its lease ends; the delivery that
// takes the claim over looks again before it posts, and when that look fails for a reason that passes (a 429 on
// conversations.history, a 5xx) it posts nothing and fails retryable, so deliverOnce keeps the claim and the next
// delivery looks again. Reading the channel needs the `channels:history` scope (`groups:history` for private channels)
// and the channel's id (a name is learnt from the first post of an instance). Without them the sink does what it can:
// reset connections and 5xx answers are posted again, the other ambiguous answers wait for the lease, so a slow Slack
// gets one more post per lease at most (a rare duplicate, which we prefer to a lost alert), never one per attempt and
// Pub/Sub redelivery.
import { ErrorCode, LogLevel, WebClient, type Logger } from '@slack/web-api';
import type { ContextBlock, HeaderBlock, KnownBlock, MrkdwnElement, PlainTextElement, SectionBlock } from '@slack/web-api';
import type { SlackSinkConfig } from '../functions/config/types.js';
import { consoleLinkSubject, type EvidenceValue, type Finding, type Severity } from '../functions/findings/finding.js';
import { capitalized, resourceLabel } from '../functions/model/change.js';
import { isResolution, messageOf, retryWithinDeadline, systemClock, type RetryClock, type RetryPolicy } from './deliver.js';
import { nextStepsOf, stepsAfterResolutionOf } from './nextSteps.js';
import { sccConsoleUrl } from './scc.js';
import type { DeliveryContext, DeliveryResult, Sink } from './sink.js';
import { isHighSurrogate, logEntryLinkText, onConsoleHost, unknownFactsLine } from './text.js';
import { truncatePlain, visibleText } from '../functions/untrustedText.js';

export const SLACK_LIMITS = {
  headerText: 150,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  blocks: 50,
  messageText: 40_000,
} as const;

/** Our own budget inside those limits. */
const BUDGET = { summary: 1500, evidence: 1500, value: 300, who: 600, labels: 1000, fallback: 1000 } as const;

const SEVERITY_MARK: Readonly<Record<Severity, string>> = { CRITICAL: '🔴', HIGH: '🟠', MEDIUM: '🟡', LOW: '🔵' };
const RESOLVED_MARK = '✅';

export interface SlackMessage {
  readonly channel: string;
  readonly text: string;
  readonly blocks: readonly KnownBlock[];
  readonly thread_ts?: string;
  readonly parse: 'none';
  readonly unfurl_links: false;
  readonly unfurl_media: false;
  /** Which finding the message reports, invisible in the channel: how a later attempt finds it (findPosted). */
  readonly metadata: SlackFindingMetadata;
}

/** Message metadata (Slack's `event_type` / `event_payload`): our own finding id and status, nothing from the logs. */
export interface SlackFindingMetadata {
  readonly event_type: typeof SLACK_EVENT_TYPE;
  readonly event_payload: { readonly finding_id: string; readonly status: 'active' | 'resolved' };
}

export const SLACK_EVENT_TYPE = 'runwatch_finding';

export interface SlackRenderOptions {
  readonly channel: string;
  /** SCC_SOURCE, when the SCC sink runs too: the message then links to the SCC finding. */
  readonly sccSource?: string;
  /** The original message, for a resolution: the reply goes into its thread. */
  readonly thread?: SlackRef;
}

export interface SlackRef {
  readonly channel: string;
  readonly ts: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Text safety

/** The three characters Slack treats as control characters in mrkdwn; nothing else is entity-encoded. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Like truncatePlain, for escaped mrkdwn: never leaves a partial `&amp;` / `&lt;` / `&gt;` behind. */
export function truncateEscaped(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = max - 1;
  const amp = text.lastIndexOf('&', cut - 1);
  // An entity starting at `amp` is at most 5 long (`&amp;`): if its `;` lies at or past the cut, drop it whole.
  if (amp >= 0 && cut - amp < 5 && text.indexOf(';', amp) >= cut) cut = amp;
  if (isHighSurrogate(text.charCodeAt(cut - 1))) cut -= 1;
  return `${text.slice(0, cut)}…`;
}

/**
 * A plain_text object from lines of untrusted text: each line neutralized (so no value can add a line break of
 * its own), joined by our line breaks, cut, never empty (Slack rejects empty text).
 */
function plain(text: string | readonly string[], max: number): PlainTextElement {
  const lines = typeof text === 'string' ? [text] : text;
  const clean = truncatePlain(lines.map(visibleText).join('\n'), max);
  return { type: 'plain_text', text: clean.trim() ? clean : '(empty)', emoji: false };
}

/** mrkdwn for OUR words only (labels, link texts); escaped anyway. */
function mrkdwn(text: string, max: number = SLACK_LIMITS.sectionText): MrkdwnElement {
  return { type: 'mrkdwn', text: truncateEscaped(escapeMrkdwn(visibleText(text)), max), verbatim: true };
}

/**
 * Real console URLs are a few hundred characters; three links must fit one 3,000-character section. Counted as the
 * URL goes into the message, encoded and escaped: `*`, `_` and `~` become three characters each, `&` five.
 */
const MAX_LINK_URL = 900;

/**
 * `<url|text>` for an https URL on the Cloud Console, or undefined: no other link ever reaches a message. The
 * URL embeds names from the audit entry (percent-encoded by enrich); `*`, `_` and `~`, which URL encoding leaves
 * alone, are encoded too, so no fragment of a hostile name can read as formatting. A URL longer than MAX_LINK_URL
 * once encoded and escaped is left out (a cut URL opens another page).
 */
export function slackLink(url: string | undefined, text: string): string | undefined {
  if (!url || url.length > MAX_LINK_URL || !isOwnUrl(url)) return undefined;
  const inert = escapeMrkdwn(url.replace(/[*_~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`));
  if (inert.length > MAX_LINK_URL) return undefined;
  return `<${inert}|${escapeMrkdwn(text.replace(/[|<>]/g, ' '))}>`;
}

function isOwnUrl(url: string): boolean {
  // Printable ASCII only, and none of the characters that would end or split a Slack link.
  if (!/^[\x21-\x7e]+$/.test(url) || /[<>|"`]/.test(url)) return false;
  try {
    return onConsoleHost(new URL(url));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering (pure)

/** Rule first (the more specific), then severity, then the default channel. */
export function slackChannelFor(finding: Finding, config: SlackSinkConfig): string | undefined {
  return config.channelsByRule?.[finding.rule] ?? config.channelsBySeverity?.[finding.severity] ?? config.channel;
}

/** `channel:ts` as returned in a delivery's ref; undefined for anything else. */
export function parseSlackRef(ref: string | undefined): SlackRef | undefined {
  const match = ref ? /^([A-Za-z0-9#_-]+):(\d+\.\d+)$/.exec(ref) : null;
  return match?.[1] && match[2] ? { channel: match[1], ts: match[2] } : undefined;
}

export function renderSlack(finding: Finding, options: SlackRenderOptions): SlackMessage {
  const resolved = isResolution(finding);
  if (resolved && options.thread) return renderThreadReply(finding, options.thread);
  const headline = resolved ? `${RESOLVED_MARK} Resolved · ${finding.title}` : `${SEVERITY_MARK[finding.severity] ?? ''} ${finding.severity} · ${finding.title}`;
  const blocks: KnownBlock[] = [
    header(headline),
    ...(resolved ? [resolutionSection(finding)] : []),
    { type: 'section', text: plain(finding.summary, BUDGET.summary) },
    factsSection([
      ['Who', who(finding), BUDGET.who],
      ['Where', where(finding), BUDGET.value],
      ['When', formatTime(finding.eventTime), BUDGET.value],
      ['What', what(finding), BUDGET.value],
    ]),
    ...provenanceBlocks(finding),
    ...evidenceBlocks(finding),
    ...labelBlocks(finding),
    ...unknownBlocks(finding),
    nextStepsSection(resolved ? stepsAfterResolutionOf(finding) : nextStepsOf(finding)),
    ...linkBlocks(finding, options.sccSource),
    footer(finding),
  ];
  return message(options.channel, fallbackText(finding, resolved), blocks, finding);
}

function renderThreadReply(finding: Finding, thread: SlackRef): SlackMessage {
  const blocks: KnownBlock[] = [resolutionSection(finding), footer(finding)];
  return { ...message(thread.channel, fallbackText(finding, true), blocks, finding), thread_ts: thread.ts };
}

function message(channel: string, text: string, blocks: KnownBlock[], finding: Finding): SlackMessage {
  return { channel, text, blocks, parse: 'none', unfurl_links: false, unfurl_media: false, metadata: metadataOf(finding) };
}

export function metadataOf(finding: Finding): SlackFindingMetadata {
  return { event_type: SLACK_EVENT_TYPE, event_payload: { finding_id: finding.id, status: isResolution(finding) ? 'resolved' : 'active' } };
}

/** The notification text: our title only (no untrusted values), escaped as mrkdwn because Slack parses it. */
function fallbackText(finding: Finding, resolved: boolean): string {
  const text = resolved ? `${RESOLVED_MARK} Resolved: ${finding.title}` : `${SEVERITY_MARK[finding.severity] ?? ''} ${finding.severity}: ${finding.title}`;
  return truncateEscaped(escapeMrkdwn(visibleText(text)), BUDGET.fallback);
}

function header(text: string): HeaderBlock {
  return { type: 'header', text: plain(text, SLACK_LIMITS.headerText) };
}

function resolutionSection(finding: Finding): SectionBlock {
  const r = finding.resolution;
  const text = r ? `${RESOLVED_MARK} Resolved ${formatTime(r.time)} by ${r.principal}: ${r.reason}` : `${RESOLVED_MARK} Resolved.`;
  return { type: 'section', text: plain(text, BUDGET.summary) };
}

/** Label / value pairs as a two-column grid: the label in mrkdwn (ours), the value in plain_text (theirs). */
function factsSection(facts: readonly (readonly [string, string, number])[]): SectionBlock {
  return { type: 'section', fields: facts.flatMap(([label, value, max]) => [mrkdwn(`*${label}*`, SLACK_LIMITS.fieldText), plain(value, max)]) };
}

/** Revision and provenance, for changes that have them (deploys); an IAM change shows none of the three. */
function provenanceBlocks(finding: Finding): SectionBlock[] {
  const { commit, pipeline } = finding.provenance;
  if (!finding.revision && !commit && !pipeline) return [];
  return [
    factsSection([
      ['Revision', finding.revision ?? 'unknown', BUDGET.value],
      ['Commit', commit ?? 'unknown', BUDGET.value],
      ['Pipeline', pipeline ?? 'unknown', BUDGET.value],
    ]),
  ];
}

/**
 * The principal and, for a delegated call, who impersonated it: Cloud Audit Logs log the impersonated service account
 * as the principal and list the callers that acted through it original caller first (serviceAccountDelegationInfo).
 */
function who(finding: Finding): string {
  const chain = finding.delegationChain?.length ? ` (impersonated by ${finding.delegationChain.join(' → ')})` : '';
  return `${finding.principal}${chain}`;
}

/**
 * The rule, then the audit method in parentheses. A finding raised for a newer write whose entry is not kept has no
 * method (`methodName` empty), and a deploy known only from its system event has `(system event)`, parenthesized already.
 */
function what(finding: Finding): string {
  const method = finding.methodName;
  return method === '' ? finding.rule : method.startsWith('(') && method.endsWith(')') ? `${finding.rule} ${method}` : `${finding.rule} (${method})`;
}

/**
 * Where the change is: the resource (`project/service (region)`), or for an IAM policy above one service (its service
 * `*`, findings/enrich.ts) what that policy covers, not a service named `*` the reader would look for.
 */
function where(finding: Finding): string {
  if (finding.service !== '*') return resourceLabel(finding);
  const subject = consoleLinkSubject(finding);
  if (subject === 'project IAM') return `every service in project ${finding.project}`;
  if (subject === 'folder IAM' || subject === 'organization IAM') return `every service of every project in ${finding.project}`;
  return resourceLabel(finding);
}

function evidenceBlocks(finding: Finding): SectionBlock[] {
  const lines = evidenceLines(finding);
  return lines.length ? [{ type: 'section', text: plain(lines, BUDGET.evidence) }] : [];
}

/** "Change: before → after" first (what the reader wants), then every evidence entry. */
function evidenceLines(finding: Finding): string[] {
  const change = changeOf(finding);
  const rest = Object.entries(finding.evidence).filter(([key]) => key !== 'before' && key !== 'after');
  // A command's arguments as a JSON array: joined with ", " an argument holding a comma read as two, and `-c, curl ...`
  // hid where one ended (job-run-overrides).
  const shown = (key: string, value: EvidenceValue): string => (key === 'args' && Array.isArray(value) ? JSON.stringify(value) : formatValue(value));
  return [...(change ? [`Change: ${change}`] : []), ...rest.map(([key, value]) => `${key}: ${shown(key, value)}`)];
}

function changeOf(finding: Finding): string | undefined {
  const e = finding.evidence;
  if (e['before'] !== undefined && e['after'] !== undefined) return `${formatValue(e['before'])} → ${formatValue(e['after'])}`;
  if (finding.rule === 'new-image-repository' && e['repository'] !== undefined) {
    const known = formatValue(e['knownRepositories'] ?? null);
    return `${known === '(none)' || known === 'unknown' ? 'no earlier repository' : known} → ${newCodeOrigin(e)}`;
  }
  if (finding.rule === 'public-invoker-grant') {
    if (e['invokerIamDisabled'] === true) return 'invoker IAM check on → off';
    if (e['membersGranted'] !== undefined) return `${grantedBefore(e)} → ${formatValue(e['membersGranted'])} (${formatValue(e['roles'] ?? null)})`;
  }
  return undefined;
}

/**
 * Where new-image-repository's code came from, in words: the repository (a bucket's `gs://BUCKET`), said to be a base
 * image's where it is one; source inlined in the request, or of a kind runwatch cannot read, which have none.
 */
function newCodeOrigin(e: Readonly<Record<string, EvidenceValue>>): string {
  if (e['source'] === 'inlined') return 'source code inlined in the request';
  if (e['source'] === 'unknown') return 'source code runwatch cannot read';
  const repository = formatValue(e['repository']);
  return e['baseImage'] === true ? `${repository} (base image)` : repository;
}

/**
 * The policy before a public invoker grant, as far as the finding knows it: unknown when runwatch never saw an earlier
 * policy (the grant counts as added, README), the members' invoker role when the grant gave public invokers a role
 * that changes the service (upgradedFromInvoker), the other public members when some could call it already
 * (alreadyPublic), else not public.
 */
function grantedBefore(e: Readonly<Record<string, EvidenceValue>>): string {
  if (e['source'] === 'full policy (no earlier policy known)') return 'unknown (no earlier policy known)';
  if (e['upgradedFromInvoker'] === true) return `${formatValue(e['membersGranted'])} (invoker)`;
  if (e['alreadyPublic'] !== undefined) return `public (${formatValue(e['alreadyPublic'])})`;
  return 'not public';
}

function formatValue(value: EvidenceValue | undefined): string {
  if (value === null || value === undefined) return 'unknown';
  if (Array.isArray(value)) return value.length ? value.join(', ') : '(none)';
  return String(value);
}

function labelBlocks(finding: Finding): ContextBlock[] {
  const entries = Object.entries(finding.labels);
  if (entries.length === 0) return [];
  const text = `Labels: ${entries.map(([k, v]) => `${k}=${v}`).join(', ')}`;
  return [{ type: 'context', elements: [plain(text, BUDGET.labels)] }];
}

function unknownBlocks(finding: Finding): ContextBlock[] {
  const line = unknownFactsLine(finding.unknown);
  return line === undefined ? [] : [{ type: 'context', elements: [plain(line, BUDGET.value)] }];
}

/**
 * What the reader should check and the command that reverts the change, as SCC's next steps say it (one text:
 * sinks/nextSteps.ts), in a section of its own: full width, so it reads on a phone as a paragraph, not in a narrow
 * field or the small grey type of a context block. The text is runwatch's own; the one part built from the finding
 * (a project's, folder's or organization's id) goes in only in the form a real id has, and the whole goes through
 * the same escaping as every mrkdwn text (verbatim: no auto-linking of `run.app` or `gs://BUCKET`). Its only `_` are
 * inside words (`WORKER_POOL`, `PROJECT_ID`), which Slack does not format; a test keeps every text so. Under 1,000
 * characters, well inside the 3,000 of a section (cut without splitting an entity all the same). The bold label opens
 * the paragraph rather than a line of its own: mrkdwn() shows a line break, like every control character, as U+FFFD.
 * A resolution shown on its own (its finding never reached Slack) says what is left to do instead: the change is
 * undone, and the revert would have the reader undo it again. A reply sits in the thread of the original, which
 * carries the steps.
 */
function nextStepsSection(steps: string): SectionBlock {
  return { type: 'section', text: mrkdwn(`*Next steps:* ${steps}`) };
}

function linkBlocks(finding: Finding, sccSource: string | undefined): SectionBlock[] {
  const links = [
    slackLink(finding.links.console, `${capitalized(consoleLinkSubject(finding))} in the Cloud Console`),
    slackLink(finding.links.logEntry, logEntryLinkText(finding)),
    slackLink(sccSource ? sccConsoleUrl(sccSource, finding.id) : undefined, 'SCC finding'),
  ].filter((l): l is string => l !== undefined);
  // Links are built from our own https URLs and escaped already: this is the one mrkdwn text with `<…>` in it.
  return links.length ? [{ type: 'section', text: { type: 'mrkdwn', text: links.join(' · '), verbatim: true } }] : [];
}

function footer(finding: Finding): ContextBlock {
  return { type: 'context', elements: [plain(`runwatch · finding ${finding.id} · rule ${finding.rule}`, BUDGET.value)] };
}

/** `2024-05-14T02:13:07.123456789Z` -> `2024-05-14 02:13:07 UTC`; anything unreadable is shown as given. */
export function formatTime(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

// ---------------------------------------------------------------------------------------------------------------
// Sending

/** Slack errors that say "try again later". */
const TRANSIENT_PLATFORM_ERRORS: ReadonlySet<string> = new Set(['ratelimited', 'rate_limited', 'service_unavailable', 'request_timeout']);
/** Slack errors after which the message may have posted (outputs.md 4): tried again only after the claim's lease. */
const AMBIGUOUS_PLATFORM_ERRORS: ReadonlySet<string> = new Set(['internal_error', 'fatal_error']);

const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, initialDelayMs: 500, maxDelayMs: 3_000, attemptTimeoutMs: 10_000, minAttemptMs: 250 };

export interface SlackSinkOptions {
  readonly token: string;
  /** SLACK_API_URL; default https://slack.com/api/. */
  readonly apiUrl?: string;
  readonly config: SlackSinkConfig;
  readonly sccSource?: string;
  readonly retry?: Partial<RetryPolicy>;
  readonly clock?: RetryClock;
}

export class SlackSink implements Sink {
  readonly name = 'slack';
  private readonly policy: RetryPolicy;
  private readonly clock: RetryClock;
  /** Channel ids Slack answered for the names in the config (the history methods take ids only). */
  private readonly channelIds = new Map<string, string>();
  /** Who the token posts as (auth.test), once asked. */
  private identity: Promise<SlackIdentity> | undefined;

  constructor(private readonly options: SlackSinkOptions) {
    this.policy = { ...DEFAULT_RETRY, ...options.retry };
    this.clock = options.clock ?? systemClock;
  }

  async deliver(finding: Finding, context: DeliveryContext): Promise<DeliveryResult> {
    // Only a resolution replies in a thread; it goes where the original went, whatever the config says now.
    const resolving = isResolution(finding);
    let thread = resolving ? parseSlackRef(context.previousRef) : undefined;
    if (resolving && !thread && context.originalAttemptMs !== undefined) {
      // The original's delivery ran out without an answer (its instance died, a timeout): it may be in the channel.
      // Found there, the resolution is a reply in its thread, not the whole finding posted a second time.
      const original = await this.findOriginal(finding, context.originalAttemptMs, context.deadlineMs);
      if (original.kind === 'found') thread = parseSlackRef(original.ref);
      else if (original.kind === 'unknown' && original.transient) return notLookedYet(original);
    }
    const channel = thread?.channel ?? slackChannelFor(finding, this.options.config);
    if (!channel) {
      return { status: 'failed', retryable: false, reason: `no Slack channel configured for rule ${finding.rule} / severity ${finding.severity}` };
    }
    const msg = renderSlack(finding, {
      channel,
      ...(this.options.sccSource ? { sccSource: this.options.sccSource } : {}),
      ...(thread ? { thread } : {}),
    });
    if (context.earlierAttemptMs !== undefined) {
      // An earlier delivery's claim ran out without an answer: its message may be in the channel already.
      const earlier = await this.findPosted(msg, context.earlierAttemptMs, context.deadlineMs);
      if (earlier.kind === 'found') return { status: 'delivered', ref: earlier.ref };
      if (earlier.kind === 'unknown' && earlier.transient) return notLookedYet(earlier);
    }
    return retryWithinDeadline((timeoutMs) => this.attempt(msg, timeoutMs, context.deadlineMs), context.deadlineMs, this.policy, this.clock);
  }

  /** The original's message, posted by our bot since `sinceMs`: the thread to reply in when found. */
  private async findOriginal(finding: Finding, sinceMs: number, deadlineMs: number): Promise<SlackLookup> {
    const channel = slackChannelFor(finding, this.options.config);
    if (!channel) return { kind: 'absent' };
    return this.findPosted({ channel, metadata: { event_type: SLACK_EVENT_TYPE, event_payload: { finding_id: finding.id, status: 'active' } } }, sinceMs, deadlineMs);
  }

  /**
   * One post. When the answer leaves open whether Slack posted the message, the channel is read before anything
   * else: found there, it is delivered; not there after an answer (Slack's `internal_error`, HTTP 5xx, a reset
   * connection), it is posted again; not there after a timeout (Slack may still be posting it), or when the
   * channel cannot be read (no history scope, a channel configured by name), the failure stands as it was. A read
   * that failed for a reason that passes (a 429, a 5xx: Slack degraded answers both so) is no answer either way: the
   * message may be there, so it is not posted again now (`mayHaveSent`: deliverOnce keeps the claim, and the delivery
   * after its lease looks again).
   */
  private async attempt(msg: SlackMessage, timeoutMs: number, deadlineMs: number): Promise<DeliveryResult> {
    const startedMs = this.clock.now();
    const { result, uncertain } = await this.post(msg, timeoutMs);
    if (result.status !== 'failed' || !uncertain) return result;
    const look = await this.findPosted(msg, startedMs, deadlineMs);
    switch (look.kind) {
      case 'found':
        return { status: 'delivered', ref: look.ref };
      case 'absent':
        return uncertain === 'may-still-post' ? result : { status: 'failed', retryable: true, reason: `${result.reason} (the message is not in the channel)` };
      case 'unknown': {
        const reason = `${result.reason}; the channel could not be checked for the message: ${look.reason}`;
        return look.transient ? { ...result, retryable: true, mayHaveSent: true, reason } : { ...result, reason };
      }
    }
  }

  private client(timeoutMs: number): WebClient {
    // A client per call: its request timeout is fixed at construction and must shrink as the deadline nears.
    return new WebClient(this.options.token, {
      ...(this.options.apiUrl ? { slackApiUrl: this.options.apiUrl } : {}),
      timeout: timeoutMs,
      // The client's `timeout` bounds the wait for the answer's headers, then only the silence between its bytes: an
      // answer that trickles in would keep the call (and the delivery, past its deadline and its claim's lease)
      // going for as long. A wall clock per request cuts it (see WALL_CLOCK_CUT in classify).
      requestInterceptor: (config) => {
        config.signal = AbortSignal.timeout(timeoutMs);
        return config;
      },
      rejectRateLimitedCalls: true,
      retryConfig: { retries: 0 },
      logger: SILENT_LOGGER,
    });
  }

  private async post(msg: SlackMessage, timeoutMs: number): Promise<SlackOutcome> {
    try {
      const response = await this.client(timeoutMs).chat.postMessage({ ...msg, blocks: [...msg.blocks] });
      const ts = typeof response.ts === 'string' ? response.ts : undefined;
      const channel = typeof response.channel === 'string' ? response.channel : msg.channel;
      if (channel !== msg.channel && CHANNEL_ID.test(channel)) this.channelIds.set(msg.channel, channel);
      return { result: { status: 'delivered', ...(ts ? { ref: `${channel}:${ts}` } : {}) } };
    } catch (error) {
      return classify(error, this.options.token);
    }
  }

  /**
   * Looks for the message in its channel (or thread), posted since `sinceMs` by this token's bot: a message carries
   * its finding's id and status as metadata. Needs the `channels:history` scope (`groups:history` for a private
   * channel) and a channel id; without them the answer is `unknown` and the caller does what it did before.
   */
  private async findPosted(msg: Pick<SlackMessage, 'channel' | 'thread_ts' | 'metadata'>, sinceMs: number, deadlineMs: number): Promise<SlackLookup> {
    const channel = CHANNEL_ID.test(msg.channel) ? msg.channel : this.channelIds.get(msg.channel);
    if (!channel) return { kind: 'unknown', transient: false, reason: `channel ${msg.channel} is configured by name, not id` };
    const method = msg.thread_ts ? 'conversations.replies' : 'conversations.history';
    try {
      const me = await this.whoAmI(deadlineMs);
      const oldest = slackTs(sinceMs - LOOKUP_SKEW_MS);
      let cursor: string | undefined;
      for (let page = 0; page < LOOKUP_PAGES; page++) {
        const left = deadlineMs - this.clock.now();
        if (left < this.policy.minAttemptMs) return { kind: 'unknown', transient: true, reason: 'no time left to read it' };
        const client = this.client(Math.min(this.policy.attemptTimeoutMs, left));
        const args = { channel, oldest, inclusive: true, include_all_metadata: true, limit: LOOKUP_PAGE, ...(cursor ? { cursor } : {}) };
        const response = msg.thread_ts ? await client.conversations.replies({ ...args, ts: msg.thread_ts }) : await client.conversations.history(args);
        const hit = response.messages?.find((m) => postedBy(m, me) && sameFinding(m.metadata, msg.metadata));
        if (typeof hit?.ts === 'string') return { kind: 'found', ref: `${channel}:${hit.ts}` };
        cursor = response.response_metadata?.next_cursor || undefined;
        if (!response.has_more || !cursor) return { kind: 'absent' };
      }
      return { kind: 'unknown', transient: false, reason: `more than ${LOOKUP_PAGE * LOOKUP_PAGES} messages since the attempt` };
    } catch (error) {
      const { result } = classify(error, this.options.token);
      const failed = result.status === 'failed' ? result : undefined;
      // A rate limit, a 5xx, a network error pass; a missing scope or an unknown channel do not.
      return {
        kind: 'unknown',
        transient: failed?.retryable ?? false,
        reason: `${method}: ${failed ? failed.reason.replace(/^Slack rejected the message: /, '') : 'no answer'}`,
        ...(failed?.retryAfterMs !== undefined ? { retryAfterMs: failed.retryAfterMs } : {}),
      };
    }
  }

  /** auth.test, once per sink (asked again after a failure). */
  private whoAmI(deadlineMs: number): Promise<SlackIdentity> {
    this.identity ??= this.client(Math.max(1, Math.min(this.policy.attemptTimeoutMs, deadlineMs - this.clock.now())))
      .auth.test()
      .then((r) => {
        const identity = { botId: typeof r.bot_id === 'string' ? r.bot_id : undefined, userId: typeof r.user_id === 'string' ? r.user_id : undefined };
        if (!identity.botId && !identity.userId) throw new Error('auth.test named neither a bot nor a user');
        return identity;
      });
    return this.identity.catch((error: unknown) => {
      this.identity = undefined;
      throw error;
    });
  }
}

/** How much earlier than an attempt began a message it posted may be stamped (Slack's clock against ours). */
const LOOKUP_SKEW_MS = 60_000;
/** Messages per history page: the most Slack gives apps outside its Marketplace. */
const LOOKUP_PAGE = 15;
const LOOKUP_PAGES = 4;
/** A channel id (`C…`, `G…`, `D…`); chat.postMessage also takes a name, the history methods do not. */
const CHANNEL_ID = /^[CGD][A-Z0-9]{6,}$/;

interface SlackIdentity {
  readonly botId: string | undefined;
  readonly userId: string | undefined;
}

/**
 * What a look at the channel found. `unknown` says why it could not look: `transient` when a later look may (a rate
 * limit, a 5xx, a network error, no time left), with Slack's Retry-After when it gave one.
 */
type SlackLookup =
  | { readonly kind: 'found'; readonly ref: string }
  | { readonly kind: 'absent' }
  | { readonly kind: 'unknown'; readonly transient: boolean; readonly reason: string; readonly retryAfterMs?: number };

/**
 * An earlier attempt may have posted the message and the channel could not be read for it this time, for a reason
 * that passes (Slack rate limits conversations.history, a Tier 3 method, in the same bursts that leave claims behind):
 * nothing is posted. deliverOnce keeps the claim this delivery took over, so the next delivery looks again; posting
 * blind put a second copy of the alert in the channel. A look that can never work (no history scope, a channel
 * given by name) still posts, as before: a rare copy rather than an alert never sent.
 */
function notLookedYet(look: Extract<SlackLookup, { kind: 'unknown' }>): DeliveryResult {
  return {
    status: 'failed',
    retryable: true,
    reason: `an earlier attempt may have posted it and the channel could not be read for it (${look.reason}); not posted until it can be`,
    ...(look.retryAfterMs !== undefined ? { retryAfterMs: look.retryAfterMs } : {}),
  };
}

/**
 * After a failed post, whether Slack may hold the message all the same: `may-have-posted` when it answered (or the
 * connection broke) and is done with it, `may-still-post` when the request timed out and may still be in progress.
 */
type Uncertainty = 'may-have-posted' | 'may-still-post';

interface SlackOutcome {
  readonly result: DeliveryResult;
  readonly uncertain?: Uncertainty;
}

/** Slack's `ts` format (seconds, six decimals) of epoch ms. */
function slackTs(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(6);
}

/** Metadata is visible to every app in the channel; only a message this token's bot posted counts. */
function postedBy(message: { readonly bot_id?: string; readonly user?: string }, me: SlackIdentity): boolean {
  return me.botId !== undefined ? message.bot_id === me.botId : message.user === me.userId;
}

function sameFinding(metadata: { readonly event_type?: string; readonly event_payload?: object } | undefined, ours: SlackFindingMetadata): boolean {
  if (metadata?.event_type !== ours.event_type) return false;
  const payload = (metadata.event_payload ?? {}) as Partial<Record<string, unknown>>;
  return payload['finding_id'] === ours.event_payload.finding_id && payload['status'] === ours.event_payload.status;
}

/**
 * The client's own logger, silenced. At its error level it prints each `[ERROR]` line of an answer's
 * response_metadata.messages as it arrives, before classifySlackError takes the token out of it (a server or proxy
 * echoing the request would print the token); those lines are in the failure's reason, which notify logs.
 */
const SILENT_LOGGER: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => LogLevel.ERROR,
  setName: () => undefined,
};

interface SlackClientError {
  readonly code?: unknown;
  readonly retryAfter?: unknown;
  readonly statusCode?: unknown;
  readonly data?: { readonly error?: unknown; readonly response_metadata?: { readonly messages?: unknown } };
  readonly original?: { readonly code?: unknown; readonly name?: unknown };
}

/** What Slack's Web API writes as an error: `invalid_auth`, `channel_not_found`, ... */
const SLACK_ERROR_CODE = /^[a-z0-9_.]{1,64}$/;

/**
 * A failed chat.postMessage as a delivery result. The reason is logged and kept with a dead letter: the `token`
 * (when given) is taken out of whatever the server sent before anything is cut, so not even part of it is left.
 */
export function classifySlackError(error: unknown, token?: string): DeliveryResult {
  return classify(error, token).result;
}

/** Connection errors that mean the request never reached Slack. */
const NEVER_SENT = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)$/;

/** What axios reports for a request its signal aborted: only the wall clock of SlackSink.client aborts one. */
const WALL_CLOCK_CUT = /^(ERR_CANCELED|CanceledError)$/;

function classify(error: unknown, token: string | undefined): SlackOutcome {
  const e = (error && typeof error === 'object' ? error : {}) as SlackClientError;
  const scrub = (text: string): string => (token ? text.split(token).join('[token]') : text);
  const failed = (retryable: boolean, reason: string, extra: { retryAfterMs?: number; mayHaveSent?: true } = {}): DeliveryResult => ({ status: 'failed', retryable, reason, ...extra });
  switch (e.code) {
    case ErrorCode.RateLimitedError: {
      const seconds = typeof e.retryAfter === 'number' ? e.retryAfter : 1;
      return { result: failed(true, `Slack rate limited the call (Retry-After ${seconds} s)`, { retryAfterMs: seconds * 1000 }) };
    }
    case ErrorCode.PlatformError: {
      const code = typeof e.data?.error === 'string' ? e.data.error : 'unknown_error';
      if (!SLACK_ERROR_CODE.test(code)) {
        // The client reads an answer that is not JSON (a proxy's page, say) as `{ ok: false, error: <the body> }`:
        // not Slack's verdict on the message, so retried, and the body (which may echo the request) left out.
        return { result: failed(true, `Slack answered with something that is not a Slack API response (${code.length} characters)`) };
      }
      const messages = e.data?.response_metadata?.messages;
      const details = Array.isArray(messages) ? ` (${truncatePlain(scrub(messages.filter((m) => typeof m === 'string').join('; ')), 500)})` : '';
      const reason = `Slack rejected the message: ${code}${details}`;
      if (AMBIGUOUS_PLATFORM_ERRORS.has(code)) return { result: failed(true, reason, { mayHaveSent: true }), uncertain: 'may-have-posted' };
      return { result: failed(TRANSIENT_PLATFORM_ERRORS.has(code), reason) };
    }
    case ErrorCode.HTTPError: {
      const status = typeof e.statusCode === 'number' ? e.statusCode : 0;
      // A gateway timeout is a timeout: Slack may still be posting the message. Other 5xx answers end its work.
      if (status === 504) return { result: failed(true, 'Slack answered HTTP 504', { mayHaveSent: true }), uncertain: 'may-still-post' };
      const result = failed(status >= 500 || status === 0, `Slack answered HTTP ${status}`);
      return status >= 500 ? { result, uncertain: 'may-have-posted' } : { result };
    }
    case ErrorCode.RequestError: {
      const reported = typeof e.original?.code === 'string' ? e.original.code : typeof e.original?.name === 'string' ? e.original.name : 'network error';
      const cause = WALL_CLOCK_CUT.test(reported) ? 'TimeoutError' : reported;
      // A request that timed out reached Slack, which may have posted it (and may still): not posted again at once.
      // A refused connection never reached it; a reset one most likely did not post, and is posted again unless the
      // channel shows it did.
      const timedOut = /^(ECONNABORTED|ETIMEDOUT|ESOCKETTIMEDOUT|TimeoutError|AbortError)$/.test(cause);
      const result = failed(true, `Slack request failed: ${cause}`, timedOut ? { mayHaveSent: true } : {});
      return timedOut ? { result, uncertain: 'may-still-post' } : NEVER_SENT.test(cause) ? { result } : { result, uncertain: 'may-have-posted' };
    }
    default:
      // The wall clock cut the request before axios made it (the client rethrows axios' own error then): never sent.
      if (typeof e.code === 'string' && WALL_CLOCK_CUT.test(e.code)) return { result: failed(true, 'Slack request failed: TimeoutError (before it was sent)') };
      // A 429 without a usable Retry-After surfaces as a plain Error from the client (see outputs.md 2.3).
      if (/^Retry header did not contain a valid timeout/.test(messageOf(error))) {
        return { result: failed(true, 'Slack rate limited the call without a usable Retry-After') };
      }
      return { result: failed(false, `unexpected error from the Slack client: ${scrub(messageOf(error))}`) };
  }
}
