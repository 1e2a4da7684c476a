// Two notify instances (each with its own Firestore record store, as two function instances have) against the
// Firestore emulator and the local Slack server: a message Pub/Sub redelivers while the first delivery is still in
// flight, or after the instance holding the claim died, reaches the channel once.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { createNotifyFunction, type NotifyFunction } from '../../functions/notify.js';
import type { MessagePublisher } from '../../functions/pubsub/publisher.js';
import { FirestoreDeliveryRecordStore } from '../../sinks/firestoreRecords.js';
import { metadataOf, SlackSink } from '../../sinks/slack.js';
import { pushEvent } from '../support/pubsub.js';
import { SLACK_TEST_BOT, SLACK_TEST_TOKEN, startSlackServer, type SlackServer } from '../support/slackServer.js';
import { emulators, expectedFindings, fixtures, TEST_CONFIG } from './stack.js';

const emu = emulators();
const CHANNEL = 'CSECURITY01';

describe.skipIf(!emu)('notify: two instances, one Slack post', () => {
  const projectId = `demo-inst-${randomUUID().slice(0, 6)}`;
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-inst-'));
  let slack: SlackServer;
  const closers: (() => Promise<unknown>)[] = [];
  const deadLetters: string[] = [];
  const publisher: MessagePublisher = {
    publish: (_topic, data) => {
      deadLetters.push(data.toString('utf8'));
      return Promise.resolve(String(deadLetters.length));
    },
    close: () => Promise.resolve(),
  };

  beforeAll(async () => {
    slack = await startSlackServer();
    closers.push(() => slack.close());
  });
  beforeEach(() => slack.reset());
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  const config = { ...TEST_CONFIG, sinks: { slack: { minSeverity: 'LOW', channel: CHANNEL } } };
  const configPath = (): string => {
    const path = join(dir, 'config.json');
    writeFileSync(path, JSON.stringify(config));
    return path;
  };

  /** One function instance: its own sink, and its own Firestore record store (made by notify from the env). */
  function instance(): NotifyFunction {
    const notify = createNotifyFunction({
      env: { ...emu!.env, GOOGLE_CLOUD_PROJECT: projectId, RUNWATCH_SINK: 'slack', RUNWATCH_CONFIG: configPath(), DEAD_LETTER_TOPIC: 'runwatch-dead-letter' },
      sink: new SlackSink({ token: SLACK_TEST_TOKEN, apiUrl: slack.apiUrl, config: config.sinks.slack as never, retry: { attemptTimeoutMs: 1_500 } }),
      publisher,
      log: () => undefined,
      deliveryBudgetMs: 20_000,
    });
    closers.push(() => notify.close());
    return notify;
  }

  const aFinding = async (n: number): Promise<Finding> => {
    const all = await expectedFindings(fixtures().filter((f) => f.name.includes('synthetic-pipeline')).map((f) => f.entry));
    return all[n]!;
  };
  const postsOf = (finding: Finding): number => slack.messages().filter((m) => m.metadata?.event_payload['finding_id'] === finding.id).length;

  it('a redelivery while the first delivery is in flight (Slack posted, its answer late) is refused, then a duplicate', async () => {
    const finding = await aFinding(0);
    const [a, b] = [instance(), instance()];
    slack.scriptAfterPosting({ hang: true }); // Slack posts it, the answer never comes: the first attempt times out
    const first = a(pushEvent(finding, 'm-1'));
    const started = Date.now();
    // A bound against a hang only (the post took up to 5 s on a loaded 2-core host): what races is what follows it.
    while (slack.posts().length === 0 && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 10));
    expect(slack.posts()).toHaveLength(1);
    // Pub/Sub's ack deadline ran out on the first push: the copy goes to the other instance, and is refused (500).
    await expect(b(pushEvent(finding, 'm-1'))).rejects.toThrow(/another delivery holds the claim/);
    // The first finds its message in the channel after the timeout: delivered, not posted again.
    await first;
    await b(pushEvent(finding, 'm-1'));
    expect(b.counts()['duplicate']).toBe(1);
    expect(postsOf(finding)).toBe(1);
    expect(slack.posts()).toHaveLength(1);
    expect(deadLetters).toEqual([]);
  }, 60_000);

  it('a claim whose instance died (after Slack posted) is taken over once its lease ran out, and nothing is posted again', async () => {
    const finding = await aFinding(1);
    // The instance that died: claimed (lease already over), posted, never marked the record.
    const dead = new FirestoreDeliveryRecordStore({ projectId });
    closers.push(() => dead.close());
    const claimedAt = Date.now() - 120_000;
    expect(await dead.claim('slack', finding.id, claimedAt, 60_000)).toEqual({ claimed: true });
    slack.addMessage({ channel: CHANNEL, text: finding.title, bot_id: SLACK_TEST_BOT.botId, user: SLACK_TEST_BOT.userId, metadata: metadataOf(finding) });
    const [b, c] = [instance(), instance()];
    const results = await Promise.allSettled([b(pushEvent(finding, 'm-2')), c(pushEvent(finding, 'm-2'))]);
    // One takes the expired claim over and finds the message; the other is refused while it does, or sees it delivered.
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
    expect(slack.posts()).toHaveLength(0);
    expect(postsOf(finding)).toBe(1);
    expect((await dead.get('slack', finding.id))?.state).toBe('delivered');
  }, 30_000);
});
