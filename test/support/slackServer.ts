// A local Slack Web API on 127.0.0.1, speaking what @slack/web-api sends: form-encoded POSTs to /api/<method> with
// `Authorization: Bearer`, objects (`blocks`, `metadata`) as JSON strings, booleans and numbers as strings.
// Answers like Slack: `{ok:true, ...}`, or `{ok:false, error}` (HTTP 200), or 429 with Retry-After. Blocks over
// Block Kit's documented limits (50 blocks; header text 150 characters; section text 3,000; 10 fields of 2,000;
// 10 context elements) are refused as Slack refuses them: `invalid_blocks`, the reason in response_metadata.
//
// Methods: chat.postMessage (kept as a message in its channel), auth.test, and conversations.history /
// conversations.replies over the kept messages (newest first / thread order, `oldest`, `limit`, cursors; message
// metadata only with `include_all_metadata`, as Slack does).
import { serverForTests } from './serverForTests.js';
import { startHttpReceiver, type HttpReceiver, type ReceivedRequest, type ScriptedReply } from './webhookServer.js';

export const SLACK_TEST_TOKEN = 'xoxb-test-0000-token';
/** Who SLACK_TEST_TOKEN posts as (auth.test). */
export const SLACK_TEST_BOT = { botId: 'BRUNWATCH01', userId: 'URUNWATCH01' } as const;

export interface SlackPost {
  readonly token: string | undefined;
  /** Every form field, as sent (strings). */
  readonly form: Readonly<Record<string, string>>;
  /** `blocks`, parsed from its JSON string. */
  readonly blocks: unknown;
  /** The ts this server gave the message; undefined when it answered with an error or a scripted reply. */
  readonly ts?: string;
}

/** A message in a channel, as the history methods return it. */
export interface SlackStoredMessage {
  /** The channel's id. */
  readonly channel: string;
  readonly ts: string;
  readonly thread_ts?: string;
  readonly text: string;
  readonly bot_id?: string;
  readonly user?: string;
  readonly metadata?: { readonly event_type: string; readonly event_payload: Readonly<Record<string, unknown>> };
}

export interface SlackServer extends HttpReceiver {
  /** The value for SLACK_API_URL. */
  readonly apiUrl: string;
  /** Queue replies for the next chat.postMessage calls, in order (the other methods answer as Slack would). */
  script(...replies: ScriptedReply[]): void;
  /** Like script, but each of these calls posts the message first: Slack posted it, the caller cannot tell. */
  scriptAfterPosting(...replies: ScriptedReply[]): void;
  /** From now on (until reset) auth.test and the history methods answer `{ok: false, error}` (e.g. missing_scope). */
  denyHistory(error: string): void;
  /** From now on (until reset) the history methods answer HTTP 429 with this Retry-After, as Slack rate limits them. */
  rateLimitHistory(retryAfterSeconds: number): void;
  /** Undoes denyHistory and rateLimitHistory: auth.test and the history methods answer again (a rate limit that passed). */
  allowHistory(): void;
  /** Adds a message as someone else (another app, a person) posts it; returns its ts. */
  addMessage(message: Omit<SlackStoredMessage, 'ts'>): string;
  /** The chat.postMessage calls received, decoded. */
  posts(): SlackPost[];
  /** The messages in every channel, in the order they were posted. */
  messages(): SlackStoredMessage[];
  /** The calls to other methods than chat.postMessage, by method name. */
  calls(): string[];
}

/** One local Slack server for the tests of a file (serverForTests). */
export function slackServerForTests(): SlackServer {
  return serverForTests(startSlackServer, (server) => server.close());
}

export async function startSlackServer(): Promise<SlackServer> {
  let counter = 0;
  const posted = new WeakMap<ReceivedRequest, string>();
  const stored: SlackStoredMessage[] = [];
  const postQueue: { readonly reply: ScriptedReply; readonly post: boolean }[] = [];
  let historyDenied: string | undefined;
  let historyLimitedFor: number | undefined;
  const nextTs = (): string => {
    counter += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(counter).padStart(6, '0')}`;
  };
  const ok = (body: object): ScriptedReply => ({ status: 200, body: { ok: true, ...body } });

  const receiver = await startHttpReceiver((request) => {
    const method = /^\/api\/([a-zA-Z.]+)$/.exec(request.path)?.[1];
    if (request.headers.authorization !== `Bearer ${SLACK_TEST_TOKEN}`) return slackError('invalid_auth');
    const form = decode(request);
    switch (method) {
      case 'chat.postMessage': {
        const scripted = postQueue.shift();
        if (scripted && !scripted.post) return scripted.reply;
        if (!form['channel']) return slackError('channel_not_found');
        if (!form['text'] && !form['blocks']) return slackError('no_text');
        const blockProblem = form['blocks'] ? blocksProblem(JSON.parse(form['blocks']) as unknown) : undefined;
        if (blockProblem) return { status: 200, body: { ok: false, error: 'invalid_blocks', response_metadata: { messages: [`[ERROR] ${blockProblem}`] } } };
        const ts = nextTs();
        const channel = channelId(form['channel']);
        const metadata = form['metadata'] ? (JSON.parse(form['metadata']) as SlackStoredMessage['metadata']) : undefined;
        stored.push({
          channel,
          ts,
          ...(form['thread_ts'] ? { thread_ts: form['thread_ts'] } : {}),
          text: form['text'] ?? '',
          bot_id: SLACK_TEST_BOT.botId,
          user: SLACK_TEST_BOT.userId,
          ...(metadata ? { metadata } : {}),
        });
        if (scripted) return scripted.reply;
        posted.set(request, ts);
        return ok({ channel, ts, message: { ts, thread_ts: form['thread_ts'] } });
      }
      case 'auth.test':
        return historyDenied ? slackError(historyDenied) : ok({ user_id: SLACK_TEST_BOT.userId, bot_id: SLACK_TEST_BOT.botId, team_id: 'T0TEST' });
      case 'conversations.history':
      case 'conversations.replies': {
        if (historyDenied) return slackError(historyDenied);
        if (historyLimitedFor !== undefined) return slackRateLimited(historyLimitedFor);
        const channel = form['channel'] ?? '';
        if (!/^[CGD][A-Z0-9]+$/.test(channel)) return slackError('channel_not_found');
        const oldest = Number(form['oldest'] ?? 0);
        const after = (m: SlackStoredMessage): boolean => (form['inclusive'] === 'true' ? Number(m.ts) >= oldest : Number(m.ts) > oldest);
        const inChannel = stored.filter((m) => m.channel === channel && after(m));
        const selected =
          method === 'conversations.history'
            ? inChannel.filter((m) => m.thread_ts === undefined || m.thread_ts === m.ts).reverse()
            : inChannel.filter((m) => m.ts === form['ts'] || m.thread_ts === form['ts']);
        const limit = Math.min(Number(form['limit'] ?? 15) || 15, 15);
        const offset = Number(form['cursor'] ?? 0) || 0;
        const page = selected.slice(offset, offset + limit);
        const more = offset + limit < selected.length;
        const withMetadata = form['include_all_metadata'] === 'true';
        return ok({
          messages: page.map(({ channel: _channel, metadata, ...m }) => ({ type: 'message', ...m, ...(withMetadata && metadata ? { metadata } : {}) })),
          has_more: more,
          response_metadata: { next_cursor: more ? String(offset + limit) : '' },
        });
      }
      default:
        return { status: 404, body: { ok: false, error: 'unknown_method' } };
    }
  });
  return {
    ...receiver,
    apiUrl: `${receiver.origin}/api/`,
    script: (...replies) => postQueue.push(...replies.map((reply) => ({ reply, post: false }))),
    scriptAfterPosting: (...replies) => postQueue.push(...replies.map((reply) => ({ reply, post: true }))),
    denyHistory: (error) => {
      historyDenied = error;
    },
    rateLimitHistory: (retryAfterSeconds) => {
      historyLimitedFor = retryAfterSeconds;
    },
    allowHistory: () => {
      historyDenied = undefined;
      historyLimitedFor = undefined;
    },
    addMessage: (message) => {
      const ts = nextTs();
      stored.push({ ...message, ts });
      return ts;
    },
    reset: () => {
      receiver.reset();
      postQueue.length = 0;
      stored.length = 0;
      historyDenied = undefined;
      historyLimitedFor = undefined;
    },
    posts: () =>
      receiver.requests
        .filter((r) => r.path === '/api/chat.postMessage')
        .map((r) => {
          const form = decode(r);
          const ts = posted.get(r);
          return {
            token: r.headers.authorization?.replace(/^Bearer /, ''),
            form,
            blocks: form['blocks'] ? (JSON.parse(form['blocks']) as unknown) : undefined,
            ...(ts ? { ts } : {}),
          };
        }),
    messages: () => [...stored],
    calls: () => receiver.requests.map((r) => r.path.replace(/^\/api\//, '')).filter((m) => m !== 'chat.postMessage'),
  };
}

/** The first Block Kit limit `blocks` break, in Slack's words and json-pointer; undefined when none. */
function blocksProblem(blocks: unknown): string | undefined {
  if (!Array.isArray(blocks)) return 'must be an array [json-pointer:/blocks]';
  if (blocks.length > 50) return 'no more than 50 items allowed [json-pointer:/blocks]';
  for (const [i, block] of blocks.entries()) {
    const b = (block ?? {}) as { type?: unknown; text?: { text?: unknown }; fields?: unknown; elements?: unknown };
    const textMax = b.type === 'header' ? 150 : 3000;
    if (typeof b.text?.text === 'string' && b.text.text.length > textMax) return `must be less than ${textMax + 1} characters [json-pointer:/blocks/${i}/text/text]`;
    if (Array.isArray(b.fields)) {
      if (b.fields.length > 10) return `no more than 10 items allowed [json-pointer:/blocks/${i}/fields]`;
      for (const [j, field] of b.fields.entries()) {
        const text = (field as { text?: unknown }).text;
        if (typeof text === 'string' && text.length > 2000) return `must be less than 2001 characters [json-pointer:/blocks/${i}/fields/${j}/text]`;
      }
    }
    if (Array.isArray(b.elements) && b.elements.length > 10) return `no more than 10 items allowed [json-pointer:/blocks/${i}/elements]`;
  }
  return undefined;
}

function decode(request: ReceivedRequest): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(request.body));
}

/** Slack answers with the channel id even when a name was given. */
function channelId(channel: string): string {
  return channel.startsWith('#') ? `C${channel.slice(1).toUpperCase().replace(/[^A-Z0-9]/g, '')}` : channel;
}

export function slackError(error: string): ScriptedReply {
  return { status: 200, body: { ok: false, error } };
}

export function slackRateLimited(retryAfterSeconds: number): ScriptedReply {
  return { status: 429, headers: { 'retry-after': String(retryAfterSeconds) }, body: { ok: false, error: 'ratelimited' } };
}
