// What detect writes to its log for each message it is pushed: its structured records, as stdoutLog would print them
// (Cloud Logging turns each into an entry of detect's Cloud Run service). Shared by the unit test of detect's
// per-entry lines and the Terraform test that runs the module's log-based metric filter over them.
import type { CloudEvent } from '@google-cloud/functions-framework';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { BaselineStore } from '../../functions/baseline/store.js';
import { createDetectFunction } from '../../functions/detect.js';
import type { MessagePublisher } from '../../functions/pubsub/publisher.js';
import type { LogRecord } from '../../functions/runtime.js';
import { config } from './run.js';

/** One message on the audit topic: an entry (as the log sink publishes it) or any other text. */
export interface AuditTopicMessage {
  readonly id: string;
  readonly data: unknown;
}

/** The Cloud Scheduler tick (decode.ts): not an audit entry. */
export const SWEEP: unknown = { runwatch: 'sweep' };

/** A Pub/Sub push of `data` (JSON unless it is a string already), in the binary CloudEvent form detect receives. */
export function pushOf(message: AuditTopicMessage): CloudEvent<unknown> {
  const text = typeof message.data === 'string' ? message.data : JSON.stringify(message.data);
  return {
    specversion: '1.0',
    id: message.id,
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    source: '//pubsub.googleapis.com/projects/p/topics/runwatch-audit',
    data: { message: { data: Buffer.from(text, 'utf8').toString('base64'), messageId: message.id } },
  } as CloudEvent<unknown>;
}

export const ACCEPTING_PUBLISHER: MessagePublisher = { publish: async () => '1', close: async () => undefined };

/** A publisher that is down: every finding publish fails, so the message fails and Pub/Sub would redeliver it. */
export const FAILING_PUBLISHER: MessagePublisher = {
  publish: async () => {
    throw new Error('Pub/Sub unavailable');
  },
  close: async () => undefined,
};

/**
 * Pushes the messages in order to one detect instance (default config, an in-memory baseline unless `store` is given)
 * and returns every record it logged, its start-up line included. A message detect fails (it throws, Pub/Sub would
 * redeliver) does not stop the others.
 */
export async function detectLogsOf(
  messages: readonly AuditTopicMessage[],
  options: { readonly store?: BaselineStore; readonly publisher?: MessagePublisher } = {},
): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  const detect = createDetectFunction({
    env: { FINDINGS_TOPIC: 'runwatch-findings', DEAD_LETTER_TOPIC: 'runwatch-dead-letter' },
    config: config(),
    store: options.store ?? new MemoryBaselineStore(),
    publisher: options.publisher ?? ACCEPTING_PUBLISHER,
    log: (record) => records.push(record),
  });
  try {
    for (const message of messages) await detect(pushOf(message)).catch(() => undefined);
  } finally {
    await detect.close();
  }
  return records;
}
