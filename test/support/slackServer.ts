// A local Slack Web API for chat.postMessage on 127.0.0.1, speaking what @slack/web-api sends: a form-encoded POST
// to /api/chat.postMessage with `Authorization: Bearer`, `blocks` as a JSON string, booleans as strings.
// Answers like Slack: `{ok:true, channel, ts}`, or `{ok:false, error}` (HTTP 200), or 429 with Retry-After.
import { startHttpReceiver, type HttpReceiver, type ReceivedRequest, type ScriptedReply } from './webhookServer.js';

export const SLACK_TEST_TOKEN = 'xoxb-test-0000-token';

export interface SlackPost {
  readonly token: string | undefined;
  /** Every form field, as sent (strings). */
  readonly form: Readonly<Record<string, string>>;
  /** `blocks`, parsed from its JSON string. */
  readonly blocks: unknown;
  /** The ts this server gave the message; undefined when it answered with an error or a scripted reply. */
  readonly ts?: string;
}

export interface SlackServer extends HttpReceiver {
  /** The value for SLACK_API_URL. */
  readonly apiUrl: string;
  /** The chat.postMessage calls received, decoded. */
  posts(): SlackPost[];
}

export async function startSlackServer(): Promise<SlackServer> {
  let counter = 0;
  const posted = new WeakMap<ReceivedRequest, string>();
  const receiver = await startHttpReceiver((request) => {
    if (request.path !== '/api/chat.postMessage') return { status: 404, body: { ok: false, error: 'unknown_method' } };
    if (request.headers.authorization !== `Bearer ${SLACK_TEST_TOKEN}`) return { status: 200, body: { ok: false, error: 'invalid_auth' } };
    const form = decode(request);
    if (!form['channel']) return { status: 200, body: { ok: false, error: 'channel_not_found' } };
    if (!form['text'] && !form['blocks']) return { status: 200, body: { ok: false, error: 'no_text' } };
    counter += 1;
    const ts = `1715652787.${String(counter).padStart(6, '0')}`;
    posted.set(request, ts);
    return { status: 200, body: { ok: true, channel: channelId(form['channel']), ts, message: { ts, thread_ts: form['thread_ts'] } } };
  });
  return {
    ...receiver,
    apiUrl: `${receiver.origin}/api/`,
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
  };
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
