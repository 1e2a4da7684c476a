// `runwatch replay --publish`: how the replay paces its publishes and what it says when stdout closes early. The
// Pub/Sub client is replaced by a counting fake here (the emulator test, test/integration/replay-publish.test.ts,
// covers the real client): what is checked is the replay's side, the backlog it allows and its exit codes.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { at, synthetic } from '../support/entries.js';

const fake = vi.hoisted(() => ({ inFlight: 0, max: 0, calls: 0, reject: false }));
vi.mock('../../functions/pubsub/publisher.js', async (original) => ({
  ...(await original<object>()),
  connectPubSub: async () => ({ close: async () => undefined }),
  PubSubPublisher: class {
    async publish(): Promise<string> {
      fake.calls++;
      fake.max = Math.max(fake.max, ++fake.inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      fake.inFlight--;
      if (fake.reject) throw new Error('PERMISSION_DENIED: the caller may not publish');
      return 'message-id';
    }
    async close(): Promise<void> {}
  },
}));
// The unit project shares modules between files (isolate: false in vitest.config.ts): the modules this mock must
// reach are loaded afresh below (vi.resetModules, then a dynamic import), and the mock ends with the file (afterAll).
vi.resetModules();
const { main } = await import('../../functions/cli/main.js');
const { MAX_IN_FLIGHT } = await import('../../functions/pubsub/publishTracker.js');
afterAll(() => {
  vi.doUnmock('../../functions/pubsub/publisher.js');
  vi.resetModules();
});

/** A public grant on each of `count` services, a second apart: one finding each. */
function grantsFile(count: number): string {
  const grant = JSON.stringify(synthetic('run-SetIamPolicy-allUsers'));
  const lines = Array.from({ length: count }, (_, i) =>
    JSON.stringify(at(JSON.parse(grant.replaceAll('cloudrun-exfil', `svc-${i}`)) as Record<string, unknown>, new Date(Date.UTC(2024, 4, 1) + i * 1000).toISOString())),
  );
  const file = join(mkdtempSync(join(tmpdir(), 'runwatch-replay-publish-')), 'in.ndjson');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

function sink(): Writable & { text: () => string } {
  let text = '';
  const out = new Writable({ write: (chunk, _encoding, done) => ((text += String(chunk)), done()) });
  return Object.assign(out, { text: () => text });
}

function replay(file: string, workers: string, stdout: Writable, stderr: Writable): Promise<number> {
  return main(['replay', '--quiet', '--workers', workers, '--format', 'ndjson', '--publish', 'findings', file], { stdin: Readable.from([]), stdout, stderr, env: { GOOGLE_CLOUD_PROJECT: 'p' } });
}

describe('runwatch replay --publish, paced and accounted for', () => {
  // Bounded by MAX_IN_FLIGHT plus one slice of findings (the replay waits between batches and slices of its output).
  it.each(['0', '2'])('--workers %s: every finding is published, with a bounded backlog', async (workers) => {
    Object.assign(fake, { inFlight: 0, max: 0, calls: 0, reject: false });
    expect(await replay(grantsFile(4000), workers, sink(), sink())).toBe(0);
    expect(fake.calls).toBe(4000);
    expect(fake.max).toBeLessThanOrEqual(MAX_IN_FLIGHT + 64);
  });

  it('a JSON array document (one batch) with more entries than the reorder buffer holds: the backlog stays bounded', async () => {
    Object.assign(fake, { inFlight: 0, max: 0, calls: 0, reject: false });
    const grant = JSON.stringify(synthetic('run-SetIamPolicy-allUsers'));
    const entries = Array.from({ length: 4000 }, (_, i) => at(JSON.parse(grant.replaceAll('cloudrun-exfil', `svc-${i}`)) as Record<string, unknown>, new Date(Date.UTC(2024, 4, 1) + i * 1000).toISOString()));
    const file = join(mkdtempSync(join(tmpdir(), 'runwatch-replay-publish-')), 'export.json');
    writeFileSync(file, JSON.stringify(entries, null, 2));
    const code = await main(['replay', '--quiet', '--workers', '0', '--reorder-buffer', '100', '--format', 'ndjson', '--publish', 'findings', file], {
      stdin: Readable.from([]),
      stdout: sink(),
      stderr: sink(),
      env: { GOOGLE_CLOUD_PROJECT: 'p' },
    });
    expect(code).toBe(0);
    expect(fake.calls).toBe(4000);
    expect(fake.max).toBeLessThanOrEqual(MAX_IN_FLIGHT + 64);
  });

  it('stdout closed early (| head -1): what was handed over still goes out, the early stop is said, a failure exits 1', async () => {
    Object.assign(fake, { inFlight: 0, max: 0, calls: 0, reject: true });
    let writes = 0;
    const closing = new Writable({ write: (_chunk, _encoding, done) => done(++writes > 1 ? Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }) : null) });
    const stderr = sink();
    const code = await replay(grantsFile(50), '0', closing, stderr);
    expect(fake.calls).toBeGreaterThan(0);
    expect(stderr.text()).toContain('stdout closed early');
    expect(stderr.text()).toMatch(/could not publish \d+ of \d+ finding\(s\) to projects\/p\/topics\/findings \(first: PERMISSION_DENIED/);
    expect(code).toBe(1);
  });

  it('stdout closed early, every publish through: exit 0', async () => {
    Object.assign(fake, { inFlight: 0, max: 0, calls: 0, reject: false });
    let writes = 0;
    const closing = new Writable({ write: (_chunk, _encoding, done) => done(++writes > 1 ? Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }) : null) });
    const stderr = sink();
    expect(await replay(grantsFile(50), '0', closing, stderr)).toBe(0);
    expect(stderr.text()).toMatch(/stdout closed early: \d+ finding\(s\) published to projects\/p\/topics\/findings/);
  });
});
