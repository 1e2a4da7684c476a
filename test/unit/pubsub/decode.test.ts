import { describe, expect, it } from 'vitest';
import { decodeAuditEvent, decodeMessage, isBase64, MESSAGE_PUBLISHED } from '../../../functions/pubsub/decode.js';

const ENTRY = { insertId: 'abc', logName: 'projects/p/logs/cloudaudit.googleapis.com%2Factivity', timestamp: '2024-05-06T22:58:04.355675Z', protoPayload: {} };
const b64 = (value: string | Buffer): string => Buffer.from(value).toString('base64');
const json = (value: unknown): string => b64(JSON.stringify(value));
const ATTRS = { 'logging.googleapis.com/timestamp': '2024-05-06T22:58:04.355675Z' };

function message(data: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { data, attributes: ATTRS, messageId: 'm-1', message_id: 'm-1', publishTime: '2024-05-06T22:58:05Z', ...extra };
}

/** What the framework hands over for a binary-mode or structured-mode CloudEvent (identical after parsing). */
function cloudEvent(data: unknown, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    specversion: '1.0',
    id: 'ce-1',
    type: MESSAGE_PUBLISHED,
    source: '//pubsub.googleapis.com/projects/p/topics/audit',
    time: '2024-05-06T22:58:05Z',
    datacontenttype: 'application/json',
    data,
    ...overrides,
  };
}

describe('decodeAuditEvent: accepted forms', () => {
  const cases: { name: string; event: unknown; messageId: string | undefined }[] = [
    { name: 'binary/structured mode CloudEvent', event: cloudEvent({ message: message(json(ENTRY)), subscription: 'projects/p/subscriptions/s' }), messageId: 'm-1' },
    {
      name: 'raw push body converted by legacyPubSubEventMiddleware',
      event: cloudEvent({ message: { '@type': 'type.googleapis.com/google.pubsub.v1.PubsubMessage', data: json(ENTRY), attributes: ATTRS, messageId: 'm-1', publishTime: 'x' } }),
      messageId: 'm-1',
    },
    { name: 'raw push body handed over unconverted', event: { message: message(json(ENTRY)), subscription: 'projects/p/subscriptions/s' }, messageId: 'm-1' },
    { name: 'CloudEvent data as JSON text', event: cloudEvent(JSON.stringify({ message: message(json(ENTRY)) })), messageId: 'm-1' },
    { name: 'CloudEvent data as bytes', event: cloudEvent(Buffer.from(JSON.stringify({ message: message(json(ENTRY)) }))), messageId: 'm-1' },
    { name: 'snake_case message_id only', event: cloudEvent({ message: { data: json(ENTRY), message_id: 'm-2' } }), messageId: 'm-2' },
    { name: 'no message id: the CloudEvent id', event: cloudEvent({ message: { data: json(ENTRY) } }), messageId: 'ce-1' },
    { name: 'URL-safe base64 without padding', event: cloudEvent({ message: { data: Buffer.from(JSON.stringify(ENTRY)).toString('base64url'), messageId: 'm-3' } }), messageId: 'm-3' },
  ];
  it.each(cases)('$name', ({ event, messageId }) => {
    const decoded = decodeAuditEvent(event);
    expect(decoded).toMatchObject({ kind: 'entry', entry: ENTRY, messageId });
  });

  it('keeps string attributes only', () => {
    const decoded = decodeAuditEvent(cloudEvent({ message: message(json(ENTRY), { attributes: { a: 'x', b: 5, c: null } }) }));
    expect(decoded.kind === 'entry' && decoded.attributes).toEqual({ a: 'x' });
  });

  it('recognizes the Cloud Scheduler sweep', () => {
    expect(decodeAuditEvent(cloudEvent({ message: message(json({ runwatch: 'sweep' })) }))).toEqual({ kind: 'sweep', messageId: 'm-1' });
  });
});

describe('decodeAuditEvent: invalid input is reported, never thrown', () => {
  const cases: { name: string; event: unknown; reason: RegExp; data?: string }[] = [
    { name: 'not base64', event: cloudEvent({ message: message('not base64 at all!') }), reason: /not base64/, data: 'not base64 at all!' },
    { name: 'not UTF-8', event: cloudEvent({ message: message(b64(Buffer.from([0xff, 0xfe, 0xfd]))) }), reason: /not UTF-8/ },
    { name: 'not JSON', event: cloudEvent({ message: message(b64('{"insertId": ')) }), reason: /not JSON/, data: '{"insertId": ' },
    { name: 'a JSON array', event: cloudEvent({ message: message(json([ENTRY])) }), reason: /an array, not a JSON object/ },
    { name: 'JSON null', event: cloudEvent({ message: message(json(null)) }), reason: /null, not a JSON object/ },
    { name: 'a JSON string', event: cloudEvent({ message: message(json('hello')) }), reason: /a string, not a JSON object/ },
    { name: 'no data', event: cloudEvent({ message: { messageId: 'm-1', attributes: ATTRS } }), reason: /no data/ },
    { name: 'empty data (push body the middleware leaves alone)', event: { message: { data: '', messageId: 'm-1' }, subscription: 's' }, reason: /no data/ },
    { name: 'data not a string', event: cloudEvent({ message: message(42) }), reason: /a number, not a base64 string/ },
    { name: 'no message', event: cloudEvent({ subscription: 's' }), reason: /no Pub\/Sub message/ },
    { name: 'message not an object', event: cloudEvent({ message: 'x' }), reason: /no Pub\/Sub message/ },
    { name: 'CloudEvent data missing', event: cloudEvent(undefined), reason: /not a Pub\/Sub MessagePublishedData/ },
    { name: 'CloudEvent of another type', event: cloudEvent({ message: message(json(ENTRY)) }, { type: 'google.cloud.storage.object.v1.finalized' }), reason: /unexpected CloudEvent type/ },
    { name: 'CloudEvent without a type', event: cloudEvent({ message: message(json(ENTRY)) }, { type: undefined }), reason: /unexpected CloudEvent type undefined/ },
    { name: 'an empty object (framework hands over `{}`)', event: {}, reason: /no Pub\/Sub message/ },
    { name: 'null', event: null, reason: /null, not an object/ },
    { name: 'a string', event: 'hello', reason: /a string, not an object/ },
    { name: 'unknown control message', event: cloudEvent({ message: message(json({ runwatch: 'reboot' })) }), reason: /unknown runwatch control message "reboot"/ },
  ];
  it.each(cases)('$name', ({ event, reason, data }) => {
    const decoded = decodeAuditEvent(event);
    expect(decoded.kind).toBe('invalid');
    if (decoded.kind !== 'invalid') return;
    expect(decoded.reason).toMatch(reason);
    if (data !== undefined) expect(decoded.data.toString('utf8')).toBe(data);
  });

  // The reason is logged and kept as the dead letter's attribute (which `redrive --dry-run` prints): JSON.parse's
  // "Unexpected token" message quotes the text around the token, a secret in a variable included.
  it.each([
    ['a value that lost its opening quote', '{"env": [{"name": "DB_PASSWORD", "value": s3cr3t-pw-0042"}]}'],
    ['a short text', '{"p": s3cr3t-pw-0042}'],
  ])('says where data that is not JSON broke, never what it holds: %s', (_name, text) => {
    const decoded = decodeAuditEvent(cloudEvent({ message: message(b64(text)) }));
    expect(decoded).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/^message data is not JSON/) });
    expect(decoded.kind === 'invalid' && decoded.reason).not.toMatch(/s3cr3t|3cr3t|pw-00/);
  });

  it('keeps the message id and attributes of an invalid message for the dead letter', () => {
    const decoded = decodeAuditEvent(cloudEvent({ message: message(b64('nope')) }));
    expect(decoded).toMatchObject({ kind: 'invalid', messageId: 'm-1', attributes: ATTRS });
  });
});

describe('decodeMessage', () => {
  it('returns the parsed object and the original bytes', () => {
    const finding = { id: 'a'.repeat(32), rule: 'off-window-deploy' };
    const decoded = decodeMessage(cloudEvent({ message: message(json(finding)) }));
    expect(decoded).toMatchObject({ kind: 'message', json: finding, messageId: 'm-1' });
    expect(decoded.kind === 'message' && JSON.parse(decoded.data.toString('utf8'))).toEqual(finding);
  });

  it('does not treat a runwatch control object specially', () => {
    expect(decodeMessage(cloudEvent({ message: message(json({ runwatch: 'sweep' })) })).kind).toBe('message');
  });
});

describe('isBase64', () => {
  // The regular expressions it replaced, kept as the reference (they overflow V8's stack past ~4.5 M characters).
  const STANDARD = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
  const URL_SAFE = /^[A-Za-z0-9_-]*$/;
  const reference = (text: string): boolean => STANDARD.test(text) || (URL_SAFE.test(text) && text.length % 4 !== 1);

  it.each(['', 'QQ==', 'QUI=', 'QUJD', 'QUJDRA', 'QUJDR', '-_8', 'a+/=', 'a-+b', '====', 'QQ=', 'Q===', 'QQ==QQ==', 'QU JD', 'QUJD\n', 'é'])('%j as the reference says', (text) => {
    expect(isBase64(text)).toBe(reference(text));
  });

  it('agrees with the reference on 20,000 random texts of base64-ish characters', () => {
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const alphabet = 'AZaz09+/-_=. ';
    for (let n = 0; n < 20_000; n++) {
      let text = '';
      for (let length = Math.floor(next() * 12); length > 0; length--) text += alphabet[Math.floor(next() * alphabet.length)];
      expect(isBase64(text), JSON.stringify(text)).toBe(reference(text));
    }
  });

  it('reads a message of 8 MB of base64 without throwing (the regular expression overflowed at ~4.5 M)', () => {
    const data = Buffer.alloc(6_000_000, 1).toString('base64');
    expect(data.length).toBeGreaterThan(7_000_000);
    expect(isBase64(data)).toBe(true);
    expect(isBase64(`${data.slice(0, -4)}!!!!`)).toBe(false);
  });
});
