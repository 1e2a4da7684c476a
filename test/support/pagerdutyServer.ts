// A local PagerDuty Events API v2 (`POST /v2/enqueue`) on 127.0.0.1, validating events the way the docs describe:
// 202 `{status:'success', message:'Event processed', dedup_key}`, 400 `{status:'invalid event', message, errors[]}`.
// It also tracks alerts by dedup_key so tests can see a trigger open one and a resolve close it. An event over the
// documented size limit (01-Overview.md: "Events API payloads are limited to 512 KB") is refused with a 400.
import { serverForTests } from './serverForTests.js';
import { startHttpReceiver, type HttpReceiver, type ReceivedRequest } from './webhookServer.js';

export const PAGERDUTY_TEST_ROUTING_KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';

export interface PagerDutyServer extends HttpReceiver {
  /** The value for PAGERDUTY_EVENTS_URL. */
  readonly eventsUrl: string;
  /** The parsed bodies of every /v2/enqueue request. */
  events(): Record<string, unknown>[];
  /** Open alerts by dedup_key. */
  readonly open: Set<string>;
}

/** 512 KB, read as 512 x 1,024 bytes of the request body. */
export const PAGERDUTY_EVENT_MAX_BYTES = 512 * 1024;

const ACTIONS = new Set(['trigger', 'acknowledge', 'resolve']);
const SEVERITIES = new Set(['critical', 'error', 'warning', 'info']);

export async function startPagerDutyServer(): Promise<PagerDutyServer> {
  const open = new Set<string>();
  const receiver = await startHttpReceiver((request) => {
    if (request.path !== '/v2/enqueue' || request.method !== 'POST') return { status: 404, body: { status: 'not found' } };
    if (Buffer.byteLength(request.body, 'utf8') > PAGERDUTY_EVENT_MAX_BYTES) {
      return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: ['Event is larger than 512 KB'] } };
    }
    const event = parse(request);
    const errors = event ? validate(event) : ['Event object is not valid JSON'];
    if (!event || errors.length) return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors } };
    const dedupKey = typeof event['dedup_key'] === 'string' ? event['dedup_key'] : `generated-${receiverCount()}`;
    if (event['event_action'] === 'trigger') open.add(dedupKey);
    if (event['event_action'] === 'resolve') open.delete(dedupKey);
    return { status: 202, body: { status: 'success', message: 'Event processed', dedup_key: dedupKey } };
  });
  const receiverCount = (): number => receiver.requests.length;
  return {
    ...receiver,
    eventsUrl: `${receiver.origin}/v2/enqueue`,
    open,
    events: () => receiver.requests.filter((r) => r.path === '/v2/enqueue').map((r) => parse(r) ?? {}),
  };
}

function parse(request: ReceivedRequest): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(request.body);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function validate(event: Record<string, unknown>): string[] {
  const errors: string[] = [];
  if (typeof event['routing_key'] !== 'string' || event['routing_key'].length !== 32) errors.push('Invalid routing key');
  if (!ACTIONS.has(String(event['event_action']))) errors.push("'event_action' is invalid");
  if (typeof event['dedup_key'] === 'string' && event['dedup_key'].length > 255) errors.push("'dedup_key' is too long");
  if (event['event_action'] === 'trigger') errors.push(...validatePayload(event['payload']));
  if (event['event_action'] !== 'trigger' && typeof event['dedup_key'] !== 'string') errors.push("'dedup_key' is required");
  return errors;
}

function validatePayload(payload: unknown): string[] {
  if (!payload || typeof payload !== 'object') return ["'payload' is missing or not an object"];
  const p = payload as Record<string, unknown>;
  const errors: string[] = [];
  if (typeof p['summary'] !== 'string' || p['summary'].length === 0) errors.push("'payload.summary' is missing or blank");
  else if (p['summary'].length > 1024) errors.push("'payload.summary' is too long");
  if (typeof p['source'] !== 'string' || p['source'].length === 0) errors.push("'payload.source' is missing or blank");
  if (!SEVERITIES.has(String(p['severity']))) errors.push("'payload.severity' is invalid");
  return errors;
}

/**
 * PagerDuty's alert lifecycle by dedup_key, counting pages (outputs.md 3.3): a trigger with no open alert of its key
 * opens one and pages; a trigger on an open one adds to it; a resolve closes it. While `resolvesFailAfterProcessing`,
 * a resolve is processed and then answered 502 (the gateway lost the answer). `onEvent` is called as each event is
 * processed, before it is answered.
 */
export interface PagingServer {
  readonly receiver: HttpReceiver;
  readonly open: Set<string>;
  pages: number;
  resolvesFailAfterProcessing: boolean;
  onEvent: (action: string) => void;
  /** The event_action of every request, in order. */
  actions(): string[];
  /** Back to no alert, no page, no request, no hook. */
  reset(): void;
}

/** One paging PagerDuty for the tests of a file (serverForTests). */
export function pagingServerForTests(): PagingServer {
  return serverForTests(startPagingServer, (server) => server.receiver.close());
}

export async function startPagingServer(): Promise<PagingServer> {
  const state = { open: new Set<string>(), pages: 0, resolvesFailAfterProcessing: false, onEvent: (_action: string): void => undefined };
  const receiver = await startHttpReceiver((request) => {
    const event = JSON.parse(request.body) as { event_action: string; dedup_key: string };
    if (event.event_action === 'trigger' && !state.open.has(event.dedup_key)) {
      state.open.add(event.dedup_key);
      state.pages += 1;
    }
    if (event.event_action === 'resolve') state.open.delete(event.dedup_key);
    state.onEvent(event.event_action);
    if (event.event_action === 'resolve' && state.resolvesFailAfterProcessing) return { status: 502, body: 'Bad Gateway' };
    return { status: 202, body: { status: 'success', message: 'Event processed', dedup_key: event.dedup_key } };
  });
  return Object.assign(state, {
    receiver,
    actions: () => receiver.requests.map((r) => (JSON.parse(r.body) as { event_action: string }).event_action),
    reset(): void {
      receiver.reset();
      state.open.clear();
      state.pages = 0;
      state.resolvesFailAfterProcessing = false;
      state.onEvent = () => undefined;
    },
  });
}
