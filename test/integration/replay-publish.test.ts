// `runwatch replay --publish TOPIC` against the real Pub/Sub emulator and client library: each finding the replay
// prints also reaches the findings topic, as the detect function publishes it (its JSON, the routing attributes),
// so the notify functions deliver it; a finding that could not be published exits 1 and leaves --state as it was.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { findingAttributes } from '../../functions/pubsub/publisher.js';
import { runwatch } from '../support/cli.js';
import { receiveJson, topicWithSubscription } from '../support/pubsub.js';

const emulators = inject('runwatchEmulators');
const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;

describe.skipIf(!emulators.available)('runwatch replay --publish (Pub/Sub emulator)', () => {
  let pubsub: PubSub;
  let dir: string;
  const env = (): Record<string, string> => ({ GOOGLE_CLOUD_PROJECT: emulators.available ? emulators.projectId : '' });

  beforeAll(() => {
    if (!emulators.available) return;
    Object.assign(process.env, emulators.env);
    pubsub = new PubSub({ projectId: emulators.projectId });
    dir = mkdtempSync(join(tmpdir(), 'runwatch-replay-publish-'));
  });
  afterAll(async () => {
    await pubsub?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });


  it('publishes every finding it prints, once, with the attributes detect gives them', async () => {
    const { topic, subscription } = await topicWithSubscription(pubsub, 'findings');
    const run = await runwatch(['replay', '--format', 'ndjson', '--config', `${EXAMPLES}runwatch.yaml`, '--publish', topic, `${EXAMPLES}logs`], '', { env: env() });
    expect(run.code).toBe(0);
    const printed = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as Finding);
    expect(printed.length).toBeGreaterThan(10);
    expect(run.stderr).toContain(`published to projects/${emulators.available ? emulators.projectId : ''}/topics/${topic}: ${printed.length}\n`);
    const received = await receiveJson<Finding>(subscription, printed.length);
    const key = (f: Finding): string => `${f.id} ${f.status ?? 'active'}`;
    expect(received.map((m) => key(m.data)).sort()).toEqual(printed.map(key).sort());
    for (const message of received) {
      expect(message.attributes).toEqual(findingAttributes(message.data));
      expect(message.data).toEqual(printed.find((f) => key(f) === key(message.data)));
    }
  });

  it('a topic that does not exist: exit 1, says how many did not go out, and leaves --state as it was', async () => {
    const state = join(dir, 'state.json');
    const before = `${JSON.stringify({ format: 'runwatch-baseline', version: 1, services: {} })}\n`;
    writeFileSync(state, before);
    const run = await runwatch(['replay', '--quiet', '--format', 'ndjson', '--config', `${EXAMPLES}runwatch.yaml`, '--state', state, '--publish', `missing-${randomUUID().slice(0, 8)}`, `${EXAMPLES}logs`], '', { env: env() });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/could not publish (\d+) of \1 finding\(s\) to projects\/.+\/topics\/missing-.+ \(first: .*\); the state file is left as it was/);
    expect(readFileSync(state, 'utf8')).toBe(before);
  });

  it('on the emulator, a topic id without a project to put it in is a usage error (exit 2) before anything is read', async () => {
    const run = await runwatch(['replay', '--publish', 'findings', `${EXAMPLES}logs`], '', { env: {} });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no project for the emulator');
    expect(run.stdout).toBe('');
  });

  // README: on the emulator the project is GOOGLE_CLOUD_PROJECT or GCLOUD_PROJECT (which the Firebase emulators set),
  // else the key file's or the gcloud configuration's, as `runwatch publish` finds it; replay --publish refused all but
  // the first as "no project for the emulator".
  it('on the emulator, takes the project from GCLOUD_PROJECT as runwatch publish does', async () => {
    const { topic, subscription } = await topicWithSubscription(pubsub, 'findings');
    const projectId = emulators.available ? emulators.projectId : '';
    const run = await runwatch(['replay', '--format', 'ndjson', '--config', `${EXAMPLES}runwatch.yaml`, '--publish', topic, `${EXAMPLES}logs`], '', { env: { GCLOUD_PROJECT: projectId } });
    expect(run.stderr).not.toContain('no project for the emulator');
    expect(run.code).toBe(0);
    const printed = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as Finding);
    expect(run.stderr).toContain(`published to projects/${projectId}/topics/${topic}: ${printed.length}\n`);
    const received = await receiveJson<Finding>(subscription, printed.length);
    expect(received).toHaveLength(printed.length);
  });

  it('a malformed topic is a usage error (exit 2) before anything is read', async () => {
    const run = await runwatch(['replay', '--publish', 'projects/p/subscriptions/s', `${EXAMPLES}logs`], '', { env: env() });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--publish');
    expect(run.stdout).toBe('');
  });
});
