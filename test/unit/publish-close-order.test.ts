// `runwatch publish` closes its publisher and the Pub/Sub client only after every publish it started has settled
// (test/unit/publish-pending.test.ts shows what closing earlier does with the real client library: the last
// publishes fail). The client is replaced by a fake that notes what was still in flight when it was closed.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { at, synthetic } from '../support/entries.js';

const fake = vi.hoisted(() => ({ inFlight: 0, published: 0, reject: false, atClose: [] as { what: string; inFlight: number }[] }));
vi.mock('../../functions/pubsub/publisher.js', async (original) => ({
  ...(await original<object>()),
  connectPubSub: async () => ({ close: async () => void fake.atClose.push({ what: 'client', inFlight: fake.inFlight }) }),
  PubSubPublisher: class {
    async publish(): Promise<string> {
      fake.inFlight++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      fake.inFlight--;
      if (fake.reject) throw new Error('PERMISSION_DENIED: the caller may not publish');
      fake.published++;
      return 'message-id';
    }
    async close(): Promise<void> {
      fake.atClose.push({ what: 'publisher', inFlight: fake.inFlight });
    }
  },
}));

// The unit project shares modules between files (isolate: false in vitest.config.ts): the modules this mock must
// reach are loaded afresh below (vi.resetModules, then a dynamic import), and the mock ends with the file (afterAll).
vi.resetModules();
const { runwatch } = await import('../support/cli.js');
afterAll(() => {
  vi.doUnmock('../../functions/pubsub/publisher.js');
  vi.resetModules();
});

function entriesFile(count: number): string {
  const deploy = synthetic('v1-ReplaceService-gcloud');
  const lines = Array.from({ length: count }, (_, i) => JSON.stringify(at(deploy, new Date(Date.UTC(2024, 4, 1) + i * 1000).toISOString(), `e-${i}`)));
  const file = join(mkdtempSync(join(tmpdir(), 'runwatch-publish-close-')), 'entries.ndjson');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe('runwatch publish closes the client once nothing is in flight', () => {
  it.each([
    { name: 'one entry', entries: 1, reject: false, code: 0, summary: 'published 1 entry\n' },
    { name: 'more entries than may be in flight', entries: 1200, reject: false, code: 0, summary: 'published 1200 entries\n' },
    { name: 'every publish refused', entries: 3, reject: true, code: 1, summary: 'published 0 entries, 3 FAILED (first: ' },
  ])('$name: the publisher and the client closed with no publish in flight', async ({ entries, reject, code, summary }) => {
    Object.assign(fake, { inFlight: 0, published: 0, reject, atClose: [] });
    const run = await runwatch(['publish', '--topic', 'runwatch-audit', '--project', 'demo-runwatch', entriesFile(entries)]);
    expect(run.stderr).toContain(summary);
    expect(run.code).toBe(code);
    expect(fake.published).toBe(reject ? 0 : entries);
    expect(fake.atClose).toEqual([
      { what: 'publisher', inFlight: 0 },
      { what: 'client', inFlight: 0 },
    ]);
  });
});
