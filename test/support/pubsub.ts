import type { CloudEvent } from '@google-cloud/functions-framework';
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
