import { randomUUID } from 'node:crypto';
import type { CloudEvent } from '@google-cloud/functions-framework';
import type { PubSub, Subscription } from '@google-cloud/pubsub';
import { MESSAGE_PUBLISHED } from '../../functions/pubsub/decode.js';

/** A Pub/Sub push as the framework hands it to the function (binary-mode CloudEvent). */
export function pushEvent(json: unknown, messageId: string): CloudEvent<unknown> {
  return {
    specversion: '1.0',
    id: messageId,
    type: MESSAGE_PUBLISHED,
    source: '//pubsub.googleapis.com/projects/demo/topics/runwatch-audit',
    data: { message: { data: Buffer.from(JSON.stringify(json)).toString('base64'), messageId, attributes: {} } },
  } as CloudEvent<unknown>;
}

/** A fresh topic (`prefix-` and a random suffix) with a subscription, so a test sees only its own messages. */
export async function topicWithSubscription(pubsub: PubSub, prefix: string): Promise<{ topic: string; subscription: Subscription }> {
  const topic = `${prefix}-${randomUUID().slice(0, 8)}`;
  const [created] = await pubsub.createTopic(topic);
  const [subscription] = await created.createSubscription(`${topic}-sub`);
  return { topic, subscription };
}

export interface ReceivedMessage<T> {
  readonly data: T;
  readonly attributes: Record<string, string>;
}

/** Pulls until `count` messages arrived (or 10 s passed), then a little longer to catch extras; closes the subscription. */
export async function receiveJson<T = unknown>(subscription: Subscription, count: number): Promise<ReceivedMessage<T>[]> {
  const received: ReceivedMessage<T>[] = [];
  subscription.on('message', (message: { data: Buffer; attributes: Record<string, string>; ack(): void }) => {
    received.push({ data: JSON.parse(message.data.toString('utf8')) as T, attributes: message.attributes });
    message.ack();
  });
  const deadline = Date.now() + 10_000;
  while (received.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setTimeout(resolve, 300));
  await subscription.close();
  return received;
}

export interface KeptMessage {
  readonly id: string;
  readonly data: string;
  readonly attributes: Record<string, string>;
}

/**
 * Every message `subscription` (a full name) still keeps, leased or not, without waiting for any lease to run out:
 * the subscription is sought back to the epoch (seek: each message it keeps is unacknowledged again and deliverable
 * at once, its lease ended; an acknowledged one is gone and stays gone), then pulled synchronously for `settleMs`,
 * each lease given back at once (ack deadline 0), so that all of it is deliverable to whatever pulls next. A plain
 * pull does not see a letter a run left in a hold when its nack was lost as the run's streaming pull closed: that
 * letter is deliverable again only once the stream's ack deadline has run out, 10 s after the run's last lease
 * extension (the emulator refuses a shorter stream_ack_deadline_seconds, and the subscription's own ack deadline does
 * not apply to a stream). Seeks, so only for a subscription of a test's own, whose messages its test published.
 */
export async function keptBy(pubsub: PubSub, subscription: string, settleMs = 500): Promise<KeptMessage[]> {
  await pubsub.subscription(subscription).seek(new Date(0));
  const client = await pubsub.getClientAsync_({ client: 'SubscriberClient' });
  const kept = new Map<string, KeptMessage>();
  const deadline = Date.now() + settleMs;
  for (;;) {
    const [response] = (await client['pull']!({ subscription, maxMessages: 100, returnImmediately: true })) as [
      { receivedMessages?: { ackId?: string; message?: { messageId?: string; data?: Uint8Array | string; attributes?: Record<string, string> } }[] },
    ];
    const received = response.receivedMessages ?? [];
    if (received.length > 0) {
      await client['modifyAckDeadline']!({ subscription, ackIds: received.map((m) => m.ackId), ackDeadlineSeconds: 0 });
      for (const { message } of received) {
        const id = message?.messageId ?? '';
        kept.set(id, { id, data: Buffer.from(message?.data ?? '').toString('utf8'), attributes: { ...message?.attributes } });
      }
    }
    if (Date.now() > deadline) return [...kept.values()];
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Waits until `count` distinct messages of `subscription` (a full name) can be delivered again, and leaves them so:
 * synchronous pulls whose leases are given back at once (ack deadline 0), so no streaming subscriber is involved.
 * For a test that runs a subscriber after one that left messages in place: a nack sent while a streaming pull
 * closes can be lost (the emulator then redelivers only when the 10 s ack deadline of the stream has run out), and
 * waiting here for what is deliverable spares the next run a wait longer than that deadline. Throws after
 * `timeoutMs` when fewer came back (what was left in place was not).
 */
export async function waitUntilDeliverable(pubsub: PubSub, subscription: string, count: number, timeoutMs = 15_000): Promise<void> {
  const client = await pubsub.getClientAsync_({ client: 'SubscriberClient' });
  const seen = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [response] = (await client['pull']!({ subscription, maxMessages: 100, returnImmediately: true })) as [
      { receivedMessages?: { ackId?: string; message?: { messageId?: string } }[] },
    ];
    const received = response.receivedMessages ?? [];
    if (received.length > 0) {
      await client['modifyAckDeadline']!({ subscription, ackIds: received.map((m) => m.ackId), ackDeadlineSeconds: 0 });
      for (const m of received) seen.add(m.message?.messageId ?? '');
    }
    if (seen.size >= count) return;
    if (Date.now() > deadline) throw new Error(`${subscription}: ${seen.size} of ${count} messages deliverable after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
