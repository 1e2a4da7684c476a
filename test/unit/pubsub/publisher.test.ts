import { describe, expect, it } from 'vitest';
import { ATTRIBUTE_VALUE_MAX_BYTES, attributeValue, publishDeadLetter, PubSubPublisher, type MessagePublisher } from '../../../functions/pubsub/publisher.js';
import { closedPort } from '../../support/ports.js';

const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

describe('attributeValue: at most 1024 bytes of UTF-8, never half a character', () => {
  it.each<[string, string, number]>([
    // [name, text, expected length of the kept prefix in UTF-16 units]
    ['short ASCII is kept whole', 'x'.repeat(10), 10],
    ['exactly 1024 ASCII bytes are kept whole', 'x'.repeat(1024), 1024],
    ['1025 ASCII bytes: 1021 kept, then ...', 'x'.repeat(1025), 1021],
    ['exactly 1024 bytes of two-byte characters are kept whole', 'é'.repeat(512), 512],
    ['CJK (3 bytes each): 340 characters = 1020 bytes fit before ...', '漢'.repeat(1000), 340],
    ['emoji (4 bytes, a surrogate pair each): 255 = 1020 bytes', '😀'.repeat(1000), 510],
    ['an emoji straddling the cut is left out whole', `${'x'.repeat(1019)}😀${'x'.repeat(10)}`, 1019],
    ['a CJK character straddling the cut is left out whole', `${'x'.repeat(1019)}漢${'x'.repeat(10)}`, 1019],
    ['a character ending exactly at the budget is kept', `${'x'.repeat(1017)}😀${'x'.repeat(10)}`, 1019],
    ['mixed ASCII, CJK and emoji (9 bytes, 5 units a group)', 'ab漢😀'.repeat(300), 5 * 113 + 2],
  ])('%s', (_name, text, kept) => {
    const value = attributeValue(text);
    expect(bytes(value)).toBeLessThanOrEqual(ATTRIBUTE_VALUE_MAX_BYTES);
    expect(value).not.toMatch(LONE_SURROGATE);
    if (kept === text.length) {
      expect(value).toBe(text);
    } else {
      expect(value).toBe(`${text.slice(0, kept)}...`);
      // The longest prefix that fits: one more code point would not.
      const next = String.fromCodePoint(text.codePointAt(kept) ?? 0);
      expect(bytes(`${text.slice(0, kept)}${next}...`)).toBeGreaterThan(ATTRIBUTE_VALUE_MAX_BYTES);
    }
  });

  it('takes a smaller byte budget (the short reasons decode shows)', () => {
    expect(attributeValue('漢'.repeat(100), 80)).toBe(`${'漢'.repeat(25)}...`);
    expect(attributeValue('short', 80)).toBe('short');
  });
});

describe('publishDeadLetter', () => {
  it('keeps the reason and every original attribute within 1024 bytes, CJK and emoji included', async () => {
    const sent: Readonly<Record<string, string>>[] = [];
    const publisher: MessagePublisher = { publish: async (_topic, _data, attributes) => (sent.push(attributes), 'id-1'), close: async () => undefined };
    await publishDeadLetter(publisher, 'dead-letter', {
      data: Buffer.from('{}'),
      attributes: { label: '服务'.repeat(600), emoji: '🔥'.repeat(600) },
      reason: `not a finding: ${'無効'.repeat(600)}`,
      stage: 'decode',
      function: 'notify',
      messageId: 'm-1',
    });
    const [attributes] = sent;
    for (const key of ['label', 'emoji', 'reason']) {
      const value = attributes?.[key] ?? '';
      expect(bytes(value), key).toBeLessThanOrEqual(ATTRIBUTE_VALUE_MAX_BYTES);
      expect(bytes(value), key).toBeGreaterThan(ATTRIBUTE_VALUE_MAX_BYTES - 8);
      expect(value).not.toMatch(LONE_SURROGATE);
    }
  });
});

describe('PubSubPublisher', () => {
  // A Pub/Sub outage: the client's default retries would run 60 s, the functions' whole timeout and ack deadline.
  it('gives up a publish that cannot get through within its timeout, retries included', async () => {
    const { PubSub } = await import('@google-cloud/pubsub');
    const closed = await closedPort();
    // Without this google-auth looks for credentials on the GCE metadata server (169.254.169.254): traffic off the
    // loopback, and seconds of waiting that ran this test past its time limit on a loaded machine.
    const detection = process.env['METADATA_SERVER_DETECTION'];
    process.env['METADATA_SERVER_DETECTION'] = 'none';
    const pubsub = new PubSub({ projectId: 'runwatch-test', apiEndpoint: `127.0.0.1:${closed}` }); // loopback: plaintext, no credentials
    const publisher = new PubSubPublisher({ pubsub, publishTimeoutMs: 1_500 });
    const started = performance.now();
    try {
      // google-gax's own timeout, or, when its reconnect backoff overshoots, the publisher's hard limit at twice it.
      await expect(publisher.publish('runwatch-findings', Buffer.from('{}'), {})).rejects.toThrow(/exceeded 1500 milliseconds|did not complete within 3000 ms/);
      expect(performance.now() - started).toBeLessThan(10_000);
    } finally {
      await publisher.close();
      await pubsub.close();
      if (detection === undefined) delete process.env['METADATA_SERVER_DETECTION'];
      else process.env['METADATA_SERVER_DETECTION'] = detection;
    }
    // google-gax checks the total only between attempts, so a 1.5 s budget took 2 to 13.5 s here (connection
    // backoff) before the publisher's own limit: the bound that matters is asserted above.
  }, 15_000);
});
