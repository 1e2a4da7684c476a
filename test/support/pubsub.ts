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
