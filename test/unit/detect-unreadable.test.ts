// An entry the normalizer cannot get through fails the same way on every delivery: it is dead-lettered with the
// reason and acknowledged, not answered with a 500 that Pub/Sub retries until it gives up without saying why.
import { expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { createDetectFunction, type DetectObservation } from '../../functions/detect.js';
import { synthetic } from '../support/entries.js';
import { config } from '../support/run.js';

function push(data: string, id: string): never {
  return {
    specversion: '1.0',
    id,
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    source: '//pubsub.googleapis.com/projects/p/topics/audit',
    data: { message: { data: Buffer.from(data, 'utf8').toString('base64'), messageId: id } },
  } as never;
}

it('dead-letters an entry nested too deeply to normalize, with the reason, and acknowledges it', async () => {
  const observed: DetectObservation[] = [];
  const letters: Record<string, string>[] = [];
  const detect = createDetectFunction({
    env: { FINDINGS_TOPIC: 'runwatch-findings', DEAD_LETTER_TOPIC: 'runwatch-dead-letter' },
    config: config(),
    store: new MemoryBaselineStore(),
    publisher: {
      publish: async (topic, _data, attributes) => String(topic === 'runwatch-dead-letter' ? letters.push(attributes) : 0),
      close: async () => undefined,
    },
    log: () => undefined,
    observe: (o) => observed.push(o),
  });
  const entry = synthetic('v2-CreateService') as { protoPayload: { request: { service: { template: Record<string, unknown> } } } };
  entry.protoPayload.request.service.template['nested'] = 'NESTED';
  // Valid JSON (JSON.parse takes it), far deeper than any real audit entry.
  const text = JSON.stringify(entry).replace('"NESTED"', `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`);
  await expect(detect(push(text, 'deep-1'))).resolves.toBeUndefined();
  expect(observed).toEqual([{ outcome: 'dead-lettered', messageId: 'deep-1', reason: expect.stringMatching(/^entry cannot be normalized: /) }]);
  expect(letters).toEqual([expect.objectContaining({ stage: 'parse', function: 'detect', originalMessageId: 'deep-1' })]);
  await detect.close();
});
