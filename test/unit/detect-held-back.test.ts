// The live function logs each finding a rule exception held back (an audit trail of what the exceptions hide: one
// is a standing waiver, and who used it, and under which stated reason, should be on record), and publishes nothing
// for it.
import { expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { createDetectFunction } from '../../functions/detect.js';
import { synthetic } from '../support/entries.js';
import { config } from '../support/run.js';

function push(entry: unknown, id: string): never {
  const data = Buffer.from(JSON.stringify(entry), 'utf8').toString('base64');
  return { specversion: '1.0', id, type: 'google.cloud.pubsub.topic.v1.messagePublished', source: '//pubsub.googleapis.com/projects/p/topics/audit', data: { message: { data, messageId: id } } } as never;
}

it.each([
  ['held back by the second exception', [{ project: 'other-*' }, { principal: 'some.user@company.com', reason: 'drill' }], 1],
  ['not covered by any exception', [{ project: 'other-*' }], undefined],
])('a public invoker grant %s', async (_name, exceptions, heldBackBy) => {
  const published: Buffer[] = [];
  const logged: Record<string, unknown>[] = [];
  const detect = createDetectFunction({
    env: { FINDINGS_TOPIC: 'runwatch-findings', DEAD_LETTER_TOPIC: 'runwatch-dead-letter' },
    config: config({ rules: { 'public-invoker-grant': { exceptions } } }),
    store: new MemoryBaselineStore(),
    publisher: { publish: async (_topic, data) => String(published.push(data)), close: async () => undefined },
    log: (line) => void logged.push(line as Record<string, unknown>),
  });
  await detect(push(synthetic('v2-SetIamPolicy-allUsers'), 'm-1'));
  await detect(push(synthetic('v2-SetIamPolicy-allUsers'), 'm-1')); // redelivered: already applied, not logged again
  await detect.close();
  const heldBack = logged.filter((line) => line['heldBackBy'] !== undefined);
  if (heldBackBy === undefined) {
    expect(published).toHaveLength(1);
    expect(heldBack).toEqual([]);
    return;
  }
  expect(published).toEqual([]);
  expect(heldBack).toHaveLength(1);
  expect(heldBack[0]).toMatchObject({
    severity: 'NOTICE',
    component: 'detect',
    message: `finding held back by rules.public-invoker-grant.exceptions[${heldBackBy}]`,
    rule: 'public-invoker-grant',
    heldBackBy: `rules.public-invoker-grant.exceptions[${heldBackBy}]`,
    // The exception's own `reason` (why the waiver stands) is on the record with it: the config may change since.
    exceptionReason: 'drill',
    principal: 'some.user@company.com',
    project: 'some-project',
    service: 'cloudrun-exfil',
  });
  expect(heldBack[0]!['findingId']).toMatch(/^[0-9a-f]{32}$/);
});
