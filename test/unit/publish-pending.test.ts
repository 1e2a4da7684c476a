// `runwatch publish` ends only once every publish it started has its answer: the client is closed after that, not
// while the last ones are still on their way (or waiting for a retry), which failed them ("The client has already
// been closed") and exited 1 with entries unpublished. Against a local Publisher gRPC server and the real client
// library, which PUBSUB_EMULATOR_HOST points at it.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runwatch } from '../support/cli.js';
import { at, synthetic } from '../support/entries.js';
import { closeNow, listenLocal, loadProtoJson } from '../support/grpc.js';

interface PublishRequest {
  readonly messages: readonly unknown[];
}

/** A Pub/Sub Publisher that answers every Publish, the first `failFirst` of them with UNAVAILABLE (retried by the client). */
class PublisherServer {
  readonly server = new grpc.Server();
  endpoint = '';
  attempts = 0;
  accepted = 0;
  failFirst = 0;

  async start(): Promise<void> {
    const root = loadProtoJson('@google-cloud/pubsub/build/protos/protos.json') as unknown as { google: { pubsub: { v1: { Publisher: { service: grpc.ServiceDefinition } } } } };
    this.server.addService(root.google.pubsub.v1.Publisher.service, {
      Publish: (call: grpc.ServerUnaryCall<PublishRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        if (++this.attempts <= this.failFirst) return callback({ code: grpc.status.UNAVAILABLE, details: 'try again' });
        this.accepted += call.request.messages.length;
        callback(null, { messageIds: call.request.messages.map((_, i) => `m-${this.attempts}-${i}`) });
      },
    });
    this.endpoint = await listenLocal(this.server);
  }
}

function entriesFile(count: number): string {
  const deploy = synthetic('v1-ReplaceService-gcloud');
  const lines = Array.from({ length: count }, (_, i) => JSON.stringify(at(deploy, new Date(Date.UTC(2024, 4, 1) + i * 1000).toISOString(), `e-${i}`)));
  const file = join(mkdtempSync(join(tmpdir(), 'runwatch-publish-pending-')), 'entries.ndjson');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe('runwatch publish waits for its publishes before it closes the client', () => {
  const pubsub = new PublisherServer();
  let previous: string | undefined;

  beforeAll(async () => {
    await pubsub.start();
    // The client library reads the emulator host from the process environment.
    previous = process.env['PUBSUB_EMULATOR_HOST'];
    process.env['PUBSUB_EMULATOR_HOST'] = pubsub.endpoint;
  });
  afterAll(async () => {
    if (previous === undefined) delete process.env['PUBSUB_EMULATOR_HOST'];
    else process.env['PUBSUB_EMULATOR_HOST'] = previous;
    await closeNow(pubsub.server);
  });

  it.each([
    { name: 'one entry', entries: 1, failFirst: 0 },
    { name: 'one entry, its first Publish UNAVAILABLE (retried)', entries: 1, failFirst: 1 },
    { name: 'fifty entries', entries: 50, failFirst: 0 },
    { name: 'fifty entries, the first Publish UNAVAILABLE (retried)', entries: 50, failFirst: 1 },
    { name: 'more entries than may be in flight (MAX_IN_FLIGHT), the first Publish UNAVAILABLE', entries: 700, failFirst: 1 },
  ])('$name: every entry published, exit 0', async ({ entries, failFirst }) => {
    Object.assign(pubsub, { attempts: 0, accepted: 0, failFirst });
    const run = await runwatch(['publish', '--topic', 'runwatch-audit', '--project', 'demo-runwatch', entriesFile(entries)], '', { env: { PUBSUB_EMULATOR_HOST: pubsub.endpoint } });
    expect(run.stderr).toContain(`published ${entries} entr${entries === 1 ? 'y' : 'ies'}\n`);
    expect(run.stderr).not.toContain('FAILED');
    expect(run.code).toBe(0);
    expect(pubsub.accepted).toBe(entries);
  });

  // A file that fails partway (a download cut short): the entries before the failure went out. The line saying why
  // it stopped said nothing of them, so the user could not tell whether to publish again (it is safe: detect drops
  // duplicates) or what reached the topic.
  // Ctrl-C in the middle (a long `publish -` from a pipe, a folder of a month's exports): it ended with 130 and nothing
  // said what had reached the topic.
  it('stopped by SIGINT: how many entries were published before it, exit 130', async () => {
    Object.assign(pubsub, { attempts: 0, accepted: 0, failFirst: 0 });
    const child = spawn(process.execPath, [BIN, 'publish', '--topic', 'runwatch-audit', '--project', 'demo-runwatch', '-'], {
      env: { PATH: process.env['PATH'], PUBSUB_EMULATOR_HOST: pubsub.endpoint },
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // Some entries, and stdin left open: it publishes them and waits for more.
    child.stdin.write(readFileSync(entriesFile(20)));
    const deadline = Date.now() + 20_000;
    while (pubsub.accepted < 20 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pubsub.accepted).toBe(20);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('published 20 entries before it was stopped (publishing again is safe: detect drops the duplicates)\n');
  }, 30_000);

  it('a .gz cut short: the error, and how many entries were published before it, exit 1', async () => {
    Object.assign(pubsub, { attempts: 0, accepted: 0, failFirst: 0 });
    const whole = gzipSync(readFileSync(entriesFile(3000)));
    const cut = join(mkdtempSync(join(tmpdir(), 'runwatch-publish-cut-')), 'cut.ndjson.gz');
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    const run = await runwatch(['publish', '--topic', 'runwatch-audit', '--project', 'demo-runwatch', cut], '', { env: { PUBSUB_EMULATOR_HOST: pubsub.endpoint } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('gzip data is damaged or cut short');
    expect(pubsub.accepted).toBeGreaterThan(0);
    expect(run.stderr).toContain(`published ${pubsub.accepted} entries before it stopped (publishing the file again is safe: detect drops the duplicates)\n`);
  });
});
