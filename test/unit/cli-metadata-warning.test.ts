// Without Google credentials, the commands that need them say so in one line (README: `runwatch redrive` "says so in
// one line and exits 1", as `runwatch publish` does). google-auth, having found no key file and no ADC file, asks the
// GCE metadata server last; where none answers as one (a laptop, CI: on this machine both of its fast-fail requests
// fail, an error without a code), gcp-metadata printed a Node warning after runwatch's line:
//   (node:123) MetadataLookupWarning: received unexpected error = All promises were rejected code = UNKNOWN
//   (Use `node --trace-warnings ...` to show where the warning was created)
// Here the metadata server is a local one answering 403 (GCE_METADATA_HOST), which takes the same path to the
// warning without any request leaving the machine. Not 500: gaxios retries a 5xx three times with backoff, about
// 2.1 s of waiting in each process before the same warning (with runwatch's filter taken out of bin/runwatch.js,
// either status prints it: "received unexpected error = ... code = 403"). Each command runs in a process of its
// own: the warning is printed by the process.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../support/cli.js';
import { synthetic } from '../support/entries.js';

let server: Server;
let metadataHost: string;
let requests = 0;
beforeAll(async () => {
  server = createServer((_, response) => {
    requests++;
    response.writeHead(403).end('not a metadata server');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  metadataHost = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/**
 * `runwatch args` with an empty HOME (no ADC file, no gcloud configuration), a PATH without gcloud, and the local
 * metadata server; METADATA_SERVER_DETECTION unset, as on a user's machine.
 */
async function run(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const env = { HOME: mkdtempSync(join(tmpdir(), 'runwatch-md-home-')), PATH: mkdtempSync(join(tmpdir(), 'runwatch-md-path-')), GCE_METADATA_HOST: metadataHost };
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stderr };
}

describe('a command without Google credentials, where no metadata server answers', () => {
  it.each([
    ['publish', () => ['publish', '--project', 'demo-runwatch', entriesFile()], /^runwatch publish: no Google credentials for Pub\/Sub /m],
    ['replay --from-logging', () => ['replay', '--from-logging', 'demo-runwatch', '--since', '2024-05-01'], /^runwatch replay: no Google credentials for Cloud Logging /m],
    // README (--publish): "No credentials or project stop the replay before it reads anything": the file named does
    // not exist, so a replay that read first would fail on it instead (ENOENT) and never name the credentials.
    ['replay --publish', () => ['replay', '--publish', 'runwatch-findings', join(mkdtempSync(join(tmpdir(), 'runwatch-md-')), 'not-read.ndjson')], /^runwatch replay: no Google credentials for Pub\/Sub /m],
    // The Firestore client's channel set-up failed outside any caller: a stack trace, and no line of runwatch's.
    ['import-baselines', () => ['import-baselines', '--project', 'demo-runwatch', '--state', stateFile()], /^runwatch import-baselines: no Google credentials for Firestore /m],
  ])('%s: says so in its one line, and no Node warning follows', async (_, args, line) => {
    const before = requests;
    const { code, stderr } = await run(args());
    expect(requests).toBeGreaterThan(before); // google-auth did ask the metadata server
    expect(code).toBe(1);
    expect(stderr).toMatch(line);
    expect(stderr).not.toContain('MetadataLookupWarning');
    expect(stderr).not.toContain('--trace-warnings');
    expect(stderr).not.toMatch(/^\s+at /m); // no stack trace
  }, 30_000);
});

/** A state file as `runwatch replay --state` writes it, of one synthetic service. */
function stateFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'runwatch-md-')), 'state.json');
  const baseline = { version: 1, serviceAccount: [], template: [], repositories: {}, publicInvokers: [], invokerIamDisabled: [], ingress: [], lastChangeMs: 1714990323120 };
  writeFileSync(file, JSON.stringify({ format: 'runwatch-baseline', version: 1, services: { 'acme-prod/europe-west1/storefront': baseline } }));
  return file;
}

function entriesFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'runwatch-md-')), 'entries.ndjson');
  writeFileSync(file, `${JSON.stringify(synthetic('v2-CreateService'))}\n`);
  return file;
}
