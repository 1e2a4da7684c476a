// Decodes what functions-framework hands a `cloudEvent` handler for a Pub/Sub message, in every form it comes:
// - binary mode (Eventarc: `ce-*` headers, body = MessagePublishedData) and structured mode
//   (`application/cloudevents+json`): both give a CloudEvent whose `data` is `{ message, subscription }`;
// - a raw push body `{ message, subscription }` on a path `/projects/P/topics/T`: the framework's
//   legacyPubSubEventMiddleware converts it to the same CloudEvent shape (`data.message` gets an `@type`);
// - a raw push body the middleware leaves alone (it needs `message.data` and `message.messageId`): the
//   framework does no CloudEvent validation and hands the body over as the "event" itself.
// `data` may also arrive as JSON text or bytes when the sender used another content type.
// Pure: no I/O, no clock. Every input gives a result; nothing throws.
import { attributeValue } from './publisher.js';
import { jsonSyntaxProblem } from '../untrustedText.js';

export const MESSAGE_PUBLISHED = 'google.cloud.pubsub.topic.v1.messagePublished';

/** How much of an unexpected value a reason quotes. */
const SHOWN_MAX = 80;

export type Attributes = Readonly<Record<string, string>>;

export type DecodedMessage =
  | {
      readonly kind: 'message';
      /** The message data, parsed as JSON (always a plain object). */
      readonly json: Readonly<Record<string, unknown>>;
      readonly data: Buffer;
      readonly messageId: string | undefined;
      readonly attributes: Attributes;
    }
  | InvalidMessage;

export interface InvalidMessage {
  readonly kind: 'invalid';
  readonly reason: string;
  readonly messageId: string | undefined;
  readonly attributes: Attributes;
  /** The original message bytes when there were any (decoded from base64 where that worked), for the dead-letter topic. */
  readonly data: Buffer;
}

export type AuditMessage =
  | { readonly kind: 'entry'; readonly entry: unknown; readonly messageId: string | undefined; readonly attributes: Attributes; readonly data: Buffer }
  | { readonly kind: 'sweep'; readonly messageId: string | undefined }
  | InvalidMessage;

/** The audit topic: a LogEntry from the log sink, or `{"runwatch":"sweep"}` from Cloud Scheduler. */
export function decodeAuditEvent(event: unknown): AuditMessage {
  const decoded = decodeMessage(event);
  if (decoded.kind === 'invalid') return decoded;
  const control = decoded.json['runwatch'];
  if (control !== undefined) {
    if (control === 'sweep') return { kind: 'sweep', messageId: decoded.messageId };
    return invalid(`unknown runwatch control message ${attributeValue(JSON.stringify(control), SHOWN_MAX)}`, decoded.messageId, decoded.attributes, decoded.data);
  }
  return { kind: 'entry', entry: decoded.json, messageId: decoded.messageId, attributes: decoded.attributes, data: decoded.data };
}

/** Any Pub/Sub message whose data is one JSON object (a LogEntry, a finding). */
export function decodeMessage(event: unknown): DecodedMessage {
  const located = locateMessage(event);
  if ('reason' in located) return invalid(located.reason, located.messageId, {}, located.raw);
  const { message, fallbackId } = located;
  const messageId = stringField(message, 'messageId') ?? stringField(message, 'message_id') ?? fallbackId;
  const attributes = readAttributes(message['attributes']);
  const encoded = message['data'];
  if (encoded === undefined || encoded === null || encoded === '') return invalid('message has no data', messageId, attributes, Buffer.alloc(0));
  if (typeof encoded !== 'string') return invalid(`message data is ${describe(encoded)}, not a base64 string`, messageId, attributes, Buffer.from(safeJson(encoded), 'utf8'));
  if (!isBase64(encoded)) return invalid('message data is not base64', messageId, attributes, Buffer.from(encoded, 'utf8'));
  const data = Buffer.from(encoded, 'base64');
  let text: string;
  try {
    text = UTF8.decode(data);
  } catch {
    return invalid('message data is not UTF-8 text', messageId, attributes, data);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return invalid(`message data is not JSON: ${jsonSyntaxProblem(error)}`, messageId, attributes, data);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return invalid(`message data is ${describe(json)}, not a JSON object`, messageId, attributes, data);
  }
  return { kind: 'message', json: json as Record<string, unknown>, data, messageId, attributes };
}

// ---------------------------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

type Located = { readonly message: Obj; readonly fallbackId: string | undefined } | { readonly reason: string; readonly messageId: string | undefined; readonly raw: Buffer };

function locateMessage(event: unknown): Located {
  if (!isObject(event)) return { reason: `event is ${describe(event)}, not an object`, messageId: undefined, raw: Buffer.from(safeJson(event), 'utf8') };
  const eventId = stringField(event, 'id');
  const type = event['type'];
  const isCloudEvent = typeof event['specversion'] === 'string' || typeof type === 'string';
  let body: unknown;
  if (isCloudEvent) {
    if (type !== MESSAGE_PUBLISHED) {
      return { reason: `unexpected CloudEvent type ${attributeValue(safeJson(type), SHOWN_MAX)} (want ${MESSAGE_PUBLISHED})`, messageId: eventId, raw: Buffer.from(safeJson(event), 'utf8') };
    }
    body = parseData(event['data']);
  } else {
    body = event; // a push body handed over unconverted
  }
  if (!isObject(body)) return { reason: `event data is ${describe(body)}, not a Pub/Sub MessagePublishedData object`, messageId: eventId, raw: Buffer.from(safeJson(event), 'utf8') };
  const message = body['message'];
  if (!isObject(message)) return { reason: 'event has no Pub/Sub message', messageId: eventId, raw: Buffer.from(safeJson(event), 'utf8') };
  return { message, fallbackId: eventId };
}

/** CloudEvent data: already parsed (application/json), or JSON text / bytes under another content type. */
function parseData(data: unknown): unknown {
  let text: string | undefined;
  if (typeof data === 'string') text = data;
  else if (data instanceof Uint8Array) text = Buffer.from(data).toString('utf8');
  if (text === undefined) return data;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Rejects invalid UTF-8 instead of replacing it; keeps no state between calls (no `stream`), so one serves all. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Strict: Buffer.from(x, 'base64') silently skips invalid characters, so the text is checked first. Standard
 * base64 (`+/`, padded to a multiple of 4) or base64url (`-_`, unpadded). Read character by character: a regular
 * expression over a message of a few megabytes (Pub/Sub allows 10 MB) overflows V8's regular expression stack.
 */
export function isBase64(text: string): boolean {
  let end = text.length;
  while (end > 0 && text.length - end < 2 && text.charCodeAt(end - 1) === 0x3d) end--; // up to two `=`
  let standard = true;
  let url = end === text.length;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) continue;
    if (c === 0x2b || c === 0x2f) url = false; // + /
    else if (c === 0x2d || c === 0x5f) standard = false; // - _
    else return false;
  }
  return (standard && text.length % 4 === 0) || (url && text.length % 4 !== 1);
}

function readAttributes(value: unknown): Attributes {
  if (!isObject(value)) return {};
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) if (typeof v === 'string') out[key] = v;
  return out;
}

function invalid(reason: string, messageId: string | undefined, attributes: Attributes, data: Buffer): InvalidMessage {
  return { kind: 'invalid', reason, messageId, attributes, data };
}

function isObject(value: unknown): value is Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function stringField(obj: Obj, key: string): string | undefined {
  const value = obj[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'bytes';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
