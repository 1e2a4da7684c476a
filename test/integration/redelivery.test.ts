// (b) Every message delivered three times (duplicate publishes, and a forced redelivery of each push after its
// work was done): each finding reaches the receiver once.
// (c) The receiver answers 500 for a while, then recovers: each finding reaches it exactly once, nothing is
// dead-lettered.
import type { CloudEvent } from '@google-cloud/functions-framework';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createFirestore, FirestoreBaselineStore } from '../../functions/baseline/firestore.js';
import { validateConfig } from '../../functions/config/load.js';
import { createDetectFunction } from '../../functions/detect.js';
import type { Finding } from '../../functions/findings/finding.js';
import { decodeMessage } from '../../functions/pubsub/decode.js';
import type { MessagePublisher } from '../../functions/pubsub/publisher.js';
import { readEnvelope } from '../../functions/audit/entry.js';
import { entryKeyString } from '../../functions/pipeline.js';
import { pushEvent } from '../support/pubsub.js';
import { countBy, emulators, expectedFindings, fixtures, hideExpectedErrors, outcomesOf, settle, startStack, TEST_CONFIG, waitFor, type Stack } from './stack.js';

const emu = emulators();

/** The fixtures the core processes as Cloud Run changes (in order): the ones findings and baselines come from. */
async function changeFixtures(): Promise<{ entries: unknown[]; expectedIds: string[] }> {
  const all = fixtures().map((f) => f.entry);
  const outcomes = await outcomesOf(all);
  const entries = all.filter((_, i) => outcomes[i]!.status === 'processed');
  const expectedIds = [...new Set((await expectedFindings(entries)).map((f) => f.id))].sort();
  return { entries, expectedIds };
}

/** An entry's identity as the pipeline reads it (logName, normalized timestamp, insertId). */
function identity(entry: unknown): string {
  const envelope = readEnvelope(entry);
  return envelope.ok ? entryKeyString(envelope.envelope.key) : JSON.stringify(entry);
}

/** Runs the real handler, then fails the first push of each message: Pub/Sub must deliver it again. */
function failFirstPushAfterWork(handler: (event: CloudEvent<unknown>) => Promise<void>): (event: CloudEvent<unknown>) => Promise<void> {
  const seen = new Set<string>();
  return async (event) => {
    await handler(event);
    const id = decodeMessage(event).messageId ?? '';
    if (!seen.has(id)) {
      seen.add(id);
      throw new Error(`forced redelivery of ${id}`);
    }
  };
}

describe.skipIf(!emu)('live pipeline on the emulators: redelivery and outages', () => {
  let stack: Stack | undefined;
  let showErrors: () => void;
  beforeAll(() => {
    showErrors = hideExpectedErrors(/forced redelivery of|delivery to webhook failed \(retryable\)/);
  });
  afterAll(() => showErrors());
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('delivers each finding once when every message arrives three times', async () => {
    const { entries, expectedIds } = await changeFixtures();
    expect(expectedIds.length).toBeGreaterThanOrEqual(5);
    const s = (stack = await startStack(emu!, { name: 'triple', wrapDetect: failFirstPushAfterWork, wrapNotify: failFirstPushAfterWork }));

    for (const entry of entries) {
      const ids = await Promise.all([s.publishAudit(entry), s.publishAudit(entry), s.publishAudit(entry)]);
      // In order, like the corpus test: the next entry goes out once this one has been processed at least once.
      await waitFor('the entry to be handled', () => s.detected.some((o) => o.outcome !== 'failed' && ids.includes(o.messageId ?? '')));
    }
    await s.sweep();
    await waitFor('every finding at the webhook', () => new Set(s.receivedFindingIds()).size >= expectedIds.length, 30_000);
    await settle(() => s.webhook.requests.length + s.detected.length + s.notified.length);

    const received = s.receivedFindingIds();
    expect([...new Set(received)].sort()).toEqual(expectedIds);
    expect([...countBy(received).entries()].filter(([, n]) => n !== 1)).toEqual([]);
    // Six pushes per entry (3 publishes x 2): processed once, the other five acknowledged as duplicates (entries
    // that share their identity with an earlier one, as some corpus entries do, are duplicates all six times).
    const unique = new Set(entries.map(identity)).size;
    expect(s.detect.counts()['processed']).toBe(unique);
    expect(s.detect.counts()['duplicates']).toBe(entries.length * 6 - unique);
    // Every finding pushed to notify twice (the forced redelivery): delivered once, then a duplicate.
    expect(s.notified.filter((o) => o.outcome === 'delivered')).toHaveLength(expectedIds.length);
    expect(s.notified.filter((o) => o.outcome === 'duplicate').length).toBeGreaterThanOrEqual(expectedIds.length);
    expect(s.deadLetters).toEqual([]);
  });

  it('delivers each finding exactly once through a receiver outage, and dead-letters nothing', async () => {
    const { entries, expectedIds } = await changeFixtures();
    const s = (stack = await startStack(emu!, { name: 'outage', maxDeliveryAttempts: 10 }));
    const failures = 12;
    s.webhook.script(...Array.from({ length: failures }, () => ({ status: 500, body: 'receiver down' })));

    for (const entry of entries) {
      const id = await s.publishAudit(entry);
      await waitFor('the entry to be processed', () => s.detected.some((o) => o.messageId === id));
    }
    await s.sweep();
    await waitFor('every finding at the webhook after the outage', () => new Set(s.receivedFindingIds(s.webhook.requests.slice(failures))).size >= expectedIds.length, 45_000, () =>
      JSON.stringify({ requests: s.webhook.requests.length, notified: s.notified.slice(-5) }),
    );
    await settle(() => s.webhook.requests.length + s.notified.length + s.deadLetters.length);

    const accepted = s.receivedFindingIds(s.webhook.requests.slice(failures));
    expect([...new Set(accepted)].sort()).toEqual(expectedIds);
    expect([...countBy(accepted).entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(s.notified.filter((o) => o.outcome === 'retry').length).toBeGreaterThan(0); // the outage was felt
    expect(s.notified.filter((o) => o.outcome === 'delivered')).toHaveLength(expectedIds.length);
    expect(s.deadLetters).toEqual([]);
    expect(s.notify.counts()['deadLettered'] ?? 0).toBe(0);
  });

  // The baseline remembers the entries it applied: a copy handled by another instance (or after a restart)
  // changes nothing and publishes nothing.
  it('a copy processed by another instance publishes no finding the first instance did not', async () => {
    const published = (into: Finding[]): MessagePublisher => ({
      publish: async (_topic, data) => {
        into.push(JSON.parse(data.toString('utf8')) as Finding);
        return String(into.length);
      },
      close: async () => undefined,
    });
    const db = await createFirestore({ projectId: emu!.projectId });
    const collection = `baselines-${randomUUID().slice(0, 8)}`;
    const instance = (into: Finding[]) =>
      createDetectFunction({
        env: { FINDINGS_TOPIC: 'runwatch-findings', DEAD_LETTER_TOPIC: 'runwatch-dead-letter' },
        config: validateConfig(TEST_CONFIG, 'test'),
        store: new FirestoreBaselineStore({ firestore: db, collection }),
        publisher: published(into),
        log: () => undefined,
      });
    try {
      const [first, second] = [[] as Finding[], [] as Finding[]];
      const a = instance(first);
      const b = instance(second);
      const [deploy1, deploy2] = fixtures().filter((f) => /deploy-[12]-/.test(f.name)).map((f) => f.entry);
      await a(pushEvent(deploy1, 'm-1'));
      await a(pushEvent(deploy2, 'm-2'));
      await a(pushEvent({ runwatch: 'sweep' }, 'm-3'));
      expect(first.map((f) => f.rule)).toContain('service-account-change');
      await b(pushEvent(deploy2, 'm-2')); // Pub/Sub redelivered m-2 to another instance
      await b(pushEvent({ runwatch: 'sweep' }, 'm-4'));
      const firstSeen = new Set(first.map((f) => `${f.id}/${f.status ?? 'active'}`));
      expect(second.map((f) => `${f.id}/${f.status ?? 'active'}`).filter((k) => !firstSeen.has(k))).toEqual([]);
    } finally {
      await db.terminate();
    }
  });
});
