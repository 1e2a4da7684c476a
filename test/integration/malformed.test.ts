// (d) 1,000 malformed messages mixed with valid ones: every valid finding is delivered, every malformed message
// lands on the dead-letter topic with its reason and its original data, and the function keeps serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countBy, emulators, expectedFindings, fixtures, outcomesOf, settle, startStack, waitFor, type Stack } from './stack.js';

const emu = emulators();

interface Malformed {
  readonly data: Buffer;
  readonly reason: RegExp;
  readonly stage: 'decode' | 'parse';
}

/** Eight ways a message can be broken; `i` makes each message distinct. */
const KINDS: readonly ((i: number) => Malformed)[] = [
  (i) => ({ data: Buffer.from(`not json ${i}`), reason: /^message data is not JSON/, stage: 'decode' }),
  (i) => ({ data: Buffer.from(JSON.stringify([i])), reason: /^message data is an array, not a JSON object$/, stage: 'decode' }),
  (i) => ({ data: Buffer.from(JSON.stringify(`entry ${i}`)), reason: /^message data is a string, not a JSON object$/, stage: 'decode' }),
  (i) => ({ data: Buffer.from([0xc3, 0x28, i % 256, 0xff]), reason: /^message data is not UTF-8 text$/, stage: 'decode' }),
  () => ({ data: Buffer.alloc(0), reason: /^message has no data$/, stage: 'decode' }),
  (i) => ({ data: Buffer.from(JSON.stringify({ runwatch: `reboot-${i}` })), reason: /^unknown runwatch control message/, stage: 'decode' }),
  (i) => ({ data: Buffer.from(JSON.stringify({ insertId: `no-time-${i}`, protoPayload: {} })), reason: /^entry has no timestamp$/, stage: 'parse' }),
  (i) => ({ data: Buffer.from(JSON.stringify({ insertId: `bad-time-${i}`, timestamp: `yesterday ${i}` })), reason: /^unreadable timestamp/, stage: 'parse' }),
];

describe.skipIf(!emu)('live pipeline on the emulators: malformed input', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(emu!, { name: 'malformed' });
  });
  afterAll(async () => {
    await stack?.close();
  });

  // Every valid fixture in turn with a burst of malformed messages before it, then 1,000 dead letters to collect:
  // 29.5 s on 2 cores beside other work, 38.6 s with two busy loops more, against the project's 60 s, less than one of
  // its own waits (60 s for the dead letters). Each wait has a bound that names what it awaited; the test's limit
  // only guards against a hang: 180 s.
  it('dead-letters 1,000 malformed messages with their reasons and still delivers every valid finding', async () => {
    const all = fixtures().map((f) => f.entry);
    const outcomes = await outcomesOf(all);
    const valid = all.filter((_, i) => outcomes[i]!.status === 'processed');
    const expectedIds = [...new Set((await expectedFindings(valid)).map((f) => f.id))].sort();

    const total = 1_000;
    const malformed = Array.from({ length: total }, (_, i) => KINDS[i % KINDS.length]!(i));
    const perEntry = Math.ceil(total / valid.length);
    let next = 0;
    // Between two valid entries (published in order, each awaited), a burst of malformed ones, not awaited.
    const bursts: Promise<string[]>[] = [];
    for (const entry of valid) {
      const burst = malformed.slice(next, next + perEntry).map((m, j) => stack.publishAuditRaw(m.data, { 'malformed-id': String(next + j) }));
      next += burst.length;
      bursts.push(Promise.all(burst));
      const id = await stack.publishAudit(entry);
      await waitFor('the valid entry to be handled', () => stack.detected.some((o) => o.messageId === id), 30_000);
    }
    await Promise.all(bursts);
    await stack.sweep();

    await waitFor('every valid finding at the webhook', () => new Set(stack.receivedFindingIds()).size >= expectedIds.length, 30_000);
    await waitFor(`${total} dead letters`, () => stack.deadLetters.length >= total, 60_000, () => `${stack.deadLetters.length} so far`);
    await settle(() => stack.deadLetters.length + stack.webhook.requests.length + stack.detected.length);

    const received = stack.receivedFindingIds();
    expect([...new Set(received)].sort()).toEqual(expectedIds);
    expect([...countBy(received).values()].every((n) => n === 1)).toBe(true);

    expect(stack.deadLetters).toHaveLength(total);
    const byId = new Map(stack.deadLetters.map((d) => [d.attributes['malformed-id'], d]));
    expect(byId.size).toBe(total);
    for (const [i, m] of malformed.entries()) {
      const letter = byId.get(String(i));
      expect(letter, `dead letter of malformed message ${i}`).toBeDefined();
      expect(letter!.attributes['reason']).toMatch(m.reason);
      expect(letter!.attributes).toMatchObject({ stage: m.stage, function: 'detect' });
      expect(letter!.attributes['originalMessageId']).toBeTruthy();
      expect(letter!.data.equals(m.data)).toBe(true); // the original bytes, for inspection or replay
    }

    const counts = stack.detect.counts();
    expect(counts['failed'] ?? 0).toBe(0); // nothing thrown: no message was left to Pub/Sub's retries
    expect(counts['deadLettered']).toBe(total);
    expect((counts['invalid'] ?? 0) + (counts['malformed'] ?? 0)).toBe(total);
    expect(stack.logs.filter((l) => l.message.startsWith('message dead-lettered:'))).toHaveLength(total);
  }, 180_000);
});
