// A finding is published with attributes for subscription filters. Pub/Sub refuses a message whose attribute value is
// over 1024 bytes (INVALID_ARGUMENT), and that refusal would repeat on every delivery: project and service come from
// the entry, so they are cut to fit while the finding itself keeps them whole.
import { expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { createDetectFunction } from '../../functions/detect.js';
import type { Finding } from '../../functions/findings/finding.js';
import { ATTRIBUTE_VALUE_MAX_BYTES } from '../../functions/pubsub/publisher.js';
import { synthetic } from '../support/entries.js';
import { config } from '../support/run.js';

function push(entry: unknown, id: string): never {
  const data = Buffer.from(JSON.stringify(entry), 'utf8').toString('base64');
  return { specversion: '1.0', id, type: 'google.cloud.pubsub.topic.v1.messagePublished', source: '//pubsub.googleapis.com/projects/p/topics/audit', data: { message: { data, messageId: id } } } as never;
}

const longService = `svc-${'é'.repeat(700)}`; // 1,404 bytes of UTF-8

it.each([
  ['an ordinary service', 'api', 'api'],
  ['a service name over 1024 bytes', longService, undefined],
])('publishes a finding for %s with every attribute within Pub/Sub limits', async (_name, service, expectedAttribute) => {
  const published: { data: Buffer; attributes: Record<string, string> }[] = [];
  const detect = createDetectFunction({
    env: { FINDINGS_TOPIC: 'runwatch-findings', DEAD_LETTER_TOPIC: 'runwatch-dead-letter' },
    config: config(),
    store: new MemoryBaselineStore(),
    publisher: { publish: async (_topic, data, attributes) => String(published.push({ data, attributes })), close: async () => undefined },
    log: () => undefined,
  });
  const entry = JSON.parse(JSON.stringify(synthetic('v2-SetIamPolicy-allUsers')).replaceAll(/\/services\/[^"/]+/g, `/services/${service}`));
  await detect(push(entry, 'm-1'));
  await detect.close();
  expect(published).toHaveLength(1);
  const { data, attributes } = published[0]!;
  const finding = JSON.parse(data.toString('utf8')) as Finding;
  expect(finding.service).toBe(service);
  for (const value of Object.values(attributes)) expect(Buffer.byteLength(value, 'utf8')).toBeLessThanOrEqual(ATTRIBUTE_VALUE_MAX_BYTES);
  expect(attributes).toMatchObject({ rule: 'public-invoker-grant', findingId: finding.id, project: finding.project });
  if (expectedAttribute !== undefined) expect(attributes['service']).toBe(finding.service);
  else {
    expect(attributes['service']).toMatch(/\.\.\.$/);
    expect(finding.service.startsWith(attributes['service']!.slice(0, -3))).toBe(true);
  }
});
