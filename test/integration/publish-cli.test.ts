// `runwatch publish` against the real Pub/Sub emulator and client library: one message per entry, as a Cloud
// Logging sink publishes it (the entry's JSON, the `logging.googleapis.com/timestamp` attribute), from NDJSON, JSON
// arrays and folders; a BigQuery row as the LogEntry it was; unreadable entries and files skipped for their names are
// reported, never published.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseEntry } from '../../functions/audit/normalize.js';
import { at, corpus, synthetic, type Json } from '../support/entries.js';
import { BIN, runwatch } from '../support/cli.js';
import { receiveJson, topicWithSubscription } from '../support/pubsub.js';

const emulators = inject('runwatchEmulators');

describe.skipIf(!emulators.available)('runwatch publish (Pub/Sub emulator)', () => {
  let pubsub: PubSub;
  let dir: string;

  beforeAll(() => {
    if (!emulators.available) return;
    Object.assign(process.env, emulators.env);
    pubsub = new PubSub({ projectId: emulators.projectId });
    dir = mkdtempSync(join(tmpdir(), 'runwatch-publish-'));
  });
  afterAll(async () => {
    await pubsub?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh topic with a subscription, so each test sees only its own messages. */

  const entries: Json[] = [
    at(synthetic('v1-ReplaceService-gcloud'), '2024-05-01T10:00:00.123456Z', 'p-1'),
    at(corpus('slackbot__Services.ReplaceService__1'), '2024-05-01T10:05:00Z', 'p-2'),
    at(synthetic('run-SetIamPolicy-allUsers'), '2024-05-01T10:06:00Z', 'p-3'),
  ];

  it('publishes each entry of a folder once, with its timestamp attribute, and warns about the files it skips', async () => {
    const { topic, subscription } = await topicWithSubscription(pubsub, 'publish');
    const folder = join(dir, 'export');
    mkdirSync(join(folder, 'run.googleapis.com', '2024', '05', '01'), { recursive: true });
    writeFileSync(join(folder, 'run.googleapis.com', '2024', '05', '01', '10:00:00_10:59:59_S0.json'), `${entries.slice(0, 2).map((e) => JSON.stringify(e)).join('\n')}\n`);
    writeFileSync(join(folder, 'array.json'), JSON.stringify([entries[2]]));
    writeFileSync(join(folder, 'README.md'), 'not a log file');
    writeFileSync(join(folder, 'notes.csv'), 'a,b');

    const run = await runwatch(['publish', '--topic', topic, '--project', emulators.available ? emulators.projectId : '', folder]);
    expect(run.stderr).toContain(`runwatch publish: warning: ${folder}: 2 files skipped`);
    expect(run.stderr).toContain('published 3 entries');
    expect(run.code).toBe(0);

    const received = await receiveJson(subscription, 3);
    expect(received.map((m) => (m.data as { insertId: string }).insertId).sort()).toEqual(['p-1', 'p-2', 'p-3']);
    for (const message of received) {
      const entry = entries.find((e) => e['insertId'] === (message.data as Json)['insertId']);
      expect(message.data).toEqual(entry);
      expect(message.attributes).toEqual({ 'logging.googleapis.com/timestamp': entry?.['timestamp'] });
    }
  });

  it('reports unreadable entries with where they are and publishes the rest', async () => {
    const { topic, subscription } = await topicWithSubscription(pubsub, 'publish');
    const file = join(dir, 'mixed.ndjson');
    writeFileSync(file, `${JSON.stringify(entries[0])}\n{not json\n${JSON.stringify(entries[2])}\n`);
    const run = await runwatch(['publish', '--topic', topic, '--project', emulators.available ? emulators.projectId : '', file]);
    expect(run.stderr).toMatch(new RegExp(`skipped ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: `));
    expect(run.stderr).toContain('published 2 entries, 1 unreadable skipped');
    expect(run.code).toBe(0);
    const received = await receiveJson(subscription, 2);
    expect(received.map((m) => (m.data as { insertId: string }).insertId).sort()).toEqual(['p-1', 'p-3']);
  });

  it('skips what replay counts as malformed (not an object, an unreadable timestamp), saying why', async () => {
    const { topic, subscription } = await topicWithSubscription(pubsub, 'publish');
    const file = join(dir, 'malformed.ndjson');
    const lines = [entries[0], 1, 'text', { ...entries[2], timestamp: '2024-02-30T10:00:00Z' }, { ...entries[2], timestamp: 1714557960 }, entries[2]];
    writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const run = await runwatch(['publish', '--topic', topic, '--project', emulators.available ? emulators.projectId : '', file]);
    expect(run.stderr).toContain(`${file}:2: entry is not a JSON object`);
    expect(run.stderr).toContain(`${file}:3: entry is not a JSON object`);
    expect(run.stderr).toContain(`${file}:4: unreadable timestamp "2024-02-30T10:00:00Z"`);
    expect(run.stderr).toContain(`${file}:5: timestamp is not a string`);
    expect(run.stderr).toContain('published 2 entries, 4 unreadable skipped');
    expect(run.code).toBe(0);
    const received = await receiveJson(subscription, 2);
    expect(received.map((m) => (m.data as { insertId: string }).insertId).sort()).toEqual(['p-1', 'p-3']);
  });

  it('publishes a BigQuery row as the LogEntry it was, its time in RFC 3339 as the timestamp attribute', async () => {
    const { topic, subscription } = await topicWithSubscription(pubsub, 'publish');
    const fixtures = new URL('../fixtures/', import.meta.url);
    // A sink row (`bq extract`, time `2024-05-06 22:58:04.355675 UTC`) and a Log Analytics row of one real entry.
    const rows = ['sink', 'analytics'].map((shape) => readFileSync(new URL(`synthetic-bq-${shape}-v1-ReplaceService.ndjson`, fixtures), 'utf8').trim());
    const file = join(dir, 'rows.ndjson');
    writeFileSync(file, `${rows.join('\n')}\n`);
    const run = await runwatch(['publish', '--topic', topic, '--project', emulators.available ? emulators.projectId : '', file]);
    expect(run.stderr).toContain('published 2 entries');
    expect(run.code).toBe(0);
    const original = corpus('slackbot__Services.ReplaceService__1');
    const received = await receiveJson(subscription, 2);
    expect(received).toHaveLength(2);
    for (const message of received) {
      // What the detect function reads of it is what it reads of the entry; a LogEntry, as a Cloud Logging sink sends.
      expect(Object.keys(message.data as Json)).toContain('protoPayload');
      expect(parseEntry(message.data)).toEqual(parseEntry(original));
      expect(message.attributes).toEqual({ 'logging.googleapis.com/timestamp': original['timestamp'] });
    }
  });

  // `bq query --format=json` prints a TIMESTAMP to the second without a zone (bigQueryRow.ts); what goes out is the
  // RFC 3339 a sink would send, in the LogEntry and its attribute alike.
  it('publishes a row as `bq query` prints it (time `2024-05-06 22:58:04`) with its time in RFC 3339', async () => {
    const { topic, subscription } = await topicWithSubscription(pubsub, 'publish');
    const fixtures = new URL('../fixtures/', import.meta.url);
    const row = JSON.parse(readFileSync(new URL('synthetic-bq-sink-v1-ReplaceService.ndjson', fixtures), 'utf8')) as Json;
    const printed = { ...row, timestamp: '2024-05-06 22:58:04', receiveTimestamp: '2024-05-06 22:58:04' };
    const file = join(dir, 'bq-query.json');
    writeFileSync(file, JSON.stringify([printed]));
    const run = await runwatch(['publish', '--topic', topic, '--project', emulators.available ? emulators.projectId : '', file]);
    expect(run.stderr).toContain('published 1 entry');
    expect(run.code).toBe(0);
    const [message] = await receiveJson(subscription, 1);
    expect(message?.attributes).toEqual({ 'logging.googleapis.com/timestamp': '2024-05-06T22:58:04Z' });
    expect(message?.data).toMatchObject({ timestamp: '2024-05-06T22:58:04Z', receiveTimestamp: '2024-05-06T22:58:04Z' });
  });

  // The client library takes the project from the environment the way Google's tools set it (GCLOUD_PROJECT, which
  // the Firebase emulators set, or the gcloud configuration), on the emulator as with credentials; publish did too
  // before the check that refuses the emulator without --project or GOOGLE_CLOUD_PROJECT.
  it('takes the project the client library finds in GCLOUD_PROJECT on the emulator', async () => {
    const { topic, subscription } = await topicWithSubscription(pubsub, 'publish');
    const file = join(dir, 'gcloud-project.ndjson');
    writeFileSync(file, `${JSON.stringify(entries[0])}\n`);
    const home = mkdtempSync(join(tmpdir(), 'runwatch-publish-home-'));
    const child = spawn(process.execPath, [BIN, 'publish', '--topic', topic, file], {
      env: { HOME: home, METADATA_SERVER_DETECTION: 'none', PUBSUB_EMULATOR_HOST: emulators.available ? emulators.pubsubHost : '', GCLOUD_PROJECT: emulators.available ? emulators.projectId : '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    rmSync(home, { recursive: true, force: true });
    expect(stderr).toContain('published 1 entry');
    // Where it publishes is said as it is: the project GCLOUD_PROJECT names, not "the credentials" (the emulator has none).
    expect(stderr).toContain(`publishing to projects/${emulators.available ? emulators.projectId : ''}/topics/${topic} on the emulator`);
    expect(stderr).not.toContain('project from the credentials');
    expect(code).toBe(0);
    const received = await receiveJson(subscription, 1);
    expect(received.map((m) => (m.data as { insertId: string }).insertId)).toEqual(['p-1']);
  });
});

// Nothing is published, so no emulator is needed: the folder warning is checked wherever the tests run.
describe('runwatch publish, a folder without log files', () => {
  it('a folder without log files says so and publishes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-publish-empty-'));
    const folder = join(dir, 'empty');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'notes.txt.bak'), 'x');
    const run = await runwatch(['publish', '--topic', 'never-created', '--project', 'demo-runwatch', folder]);
    expect(run.stderr).toContain(`runwatch publish: warning: ${folder}: no log files in it; 1 file skipped`);
    expect(run.stderr).toContain('published 0 entries');
    expect(run.code).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});
