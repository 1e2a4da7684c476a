// `runwatch replay --from-logging`: the CLI against a local server speaking Cloud Logging's entries:list wire
// format, compared with replaying the same real entries from a file.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { sinkFilter } from '../../functions/detectors/sinkFilter.js';
import type { BackoffClock } from '../../functions/replay/loggingApi.js';
import { applicationDefaultCredentials, DEFAULT_RETRY, listEntries, LoggingApiError, parseLoggingEndpoint } from '../../functions/replay/loggingApi.js';
import { loggingFilter, parseResourceName } from '../../functions/replay/loggingQuery.js';
import { BIN, runwatch, type Run } from '../support/cli.js';
import { at, corpus, synthetic } from '../support/entries.js';
import { pagesOf, startLoggingServer, type LoggingServer, type Reply } from '../support/loggingServer.js';

const CONFIG = `
timezone: UTC
changeWindows: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]
rules:
  new-image-repository: {trustedRepositories: ["nothing.example/*"]}
`;

/** Every real corpus entry, oldest first (as `orderBy: "timestamp asc"` returns them; those without a time first). */
function corpusEntries(): Record<string, unknown>[] {
  const dir = fileURLToPath(new URL('../fixtures/corpus/', import.meta.url));
  const entries = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => corpus(f.replace(/\.json$/, '')));
  const time = (e: Record<string, unknown>): string => (typeof e['timestamp'] === 'string' ? e['timestamp'] : '');
  return entries.sort((a, b) => (time(a) < time(b) ? -1 : time(a) > time(b) ? 1 : 0));
}

function setup(): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-logging-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, CONFIG);
  return { dir, config };
}

/** A clock that records each backoff and does not wait. */
function fakeClock(): BackoffClock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 };
}

/** The summary without its timing line's figures and the examples' sources (they name the file or the page). */
function summaryCounts(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !l.includes('e.g. ') && !l.includes('entries read...'))
    .map((l) => l.replace(/ in [\d.]+ s \(\d+\/s\)/, ''))
    .join('\n');
}

const servers: LoggingServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(reply: (request: LoggingServer['requests'][number], index: number) => Reply): Promise<LoggingServer> {
  const server = await startLoggingServer(reply);
  servers.push(server);
  return server;
}

/** Serves `pages` by token: the first request has none, each later one names the page it wants. */
function byToken(pages: Map<string | undefined, Reply>): (request: LoggingServer['requests'][number]) => Reply {
  return (request) => pages.get(request.body.pageToken) ?? { kind: 'error', code: 400, status: 'INVALID_ARGUMENT', message: 'bad page token' };
}

async function fromLogging(server: LoggingServer, args: readonly string[], clock = fakeClock()): Promise<Run> {
  return runwatch(['replay', ...args], '', { env: { LOGGING_API_ENDPOINT: server.url }, backoffClock: clock });
}

describe('runwatch replay --from-logging', () => {
  it('gives the findings and counts a file replay of the same entries gives, following every page', async () => {
    const { dir, config } = setup();
    const entries = corpusEntries();
    const file = join(dir, 'entries.json');
    writeFileSync(file, JSON.stringify(entries));
    const range = ['--since', '2020-01-01', '--until', '2026-01-01T00:00:00Z'];
    const server = await serve(byToken(pagesOf(entries, 4)));
    const run = await fromLogging(server, [
      '--from-logging', 'acme-prod', '--from-logging', 'folders/123456',
      '--filter', 'resource.labels.service_name!="ignored" -- a comment the query language allows',
      ...range, '--config', config, '--format', 'json',
    ]);
    const fromFile = await runwatch(['replay', ...range, '--config', config, '--format', 'json', file]);
    expect(run.stderr).not.toMatch(/entries\.list|attempt/);
    expect(run.code).toBe(0);
    expect(fromFile.code).toBe(0);
    const findings = JSON.parse(run.stdout) as { rule: string; eventTime: string }[];
    expect(findings.map((f) => f.rule)).toEqual(['off-window-deploy', 'new-image-repository', 'off-window-deploy']);
    expect(run.stdout).toBe(fromFile.stdout);
    expect(summaryCounts(run.stderr)).toBe(summaryCounts(fromFile.stderr));
    expect(run.stderr).toContain(`${entries.length} entries read`);
    expect(run.stderr).toMatch(/malformed: 3\n\s+entry has no timestamp: 3/);
    expect(run.stderr).toMatch(/e\.g\. Cloud Logging page \d+, entry \d+(?: \(insertId [^)]*\))?: entry has no timestamp/);

    // Every page was asked for once, with the same query: the detectors' sink filter, the bounds, the user's filter.
    const pageCount = Math.ceil(entries.length / 4);
    expect(server.requests.map((r) => r.body.pageToken)).toEqual([undefined, ...Array.from({ length: pageCount - 1 }, (_, i) => `p${i + 2}`)]);
    for (const request of server.requests) {
      expect(request).toMatchObject({ method: 'POST', path: '/v2/entries:list' });
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['authorization']).toBeUndefined(); // a loopback endpoint: no credentials looked up or sent
      expect(request.body).toMatchObject({ resourceNames: ['projects/acme-prod', 'folders/123456'], orderBy: 'timestamp asc', pageSize: 1000 });
      expect(request.body.filter).toBe(
        'timestamp>="2020-01-01T00:00:00Z" AND timestamp<"2026-01-01T00:00:00Z"\nAND\n(\n' +
          `${sinkFilter().trimEnd()}\n)\nAND\n(\nresource.labels.service_name!="ignored" -- a comment the query language allows\n)\n`,
      );
    }
  });

  it('follows a token past empty pages, and reads an open-ended range without an upper bound', async () => {
    const entries = corpusEntries().filter((e) => typeof e['timestamp'] === 'string');
    const pages = new Map<string | undefined, Reply>([
      [undefined, { kind: 'page', entries: [], nextPageToken: 'a' }],
      ['a', { kind: 'page', entries: entries.slice(0, 10), nextPageToken: 'b' }],
      ['b', { kind: 'page', entries: [], nextPageToken: 'c' }],
      ['c', { kind: 'page', entries: entries.slice(10) }],
    ]);
    const server = await serve(byToken(pages));
    const run = await fromLogging(server, ['--from-logging', 'projects/acme-prod', '--since', '2020-01-01', '--format', 'ndjson', '--quiet']);
    expect(run.code).toBe(0);
    expect(server.requests.map((r) => r.body.pageToken)).toEqual([undefined, 'a', 'b', 'c']);
    expect(server.requests[0]!.body.filter).toMatch(/^timestamp>="2020-01-01T00:00:00Z"\nAND\n\(/);
    expect(server.requests[0]!.body.filter).not.toContain('timestamp<');
    expect(run.stderr).toBe('');
  });

  it('retries 429 RESOURCE_EXHAUSTED, 5xx and unreadable gateway answers with growing backoff, then carries on', async () => {
    const { config } = setup();
    const entries = corpusEntries();
    const pages = pagesOf(entries, 20);
    // Page 1: 429, then a proxy's HTML 502, then served; page 2: 503 UNAVAILABLE, then served.
    const script: (Reply | undefined)[] = [
      { kind: 'error', code: 429, status: 'RESOURCE_EXHAUSTED', message: "Quota exceeded for quota metric 'Read requests' of service 'logging.googleapis.com'" },
      { kind: 'raw', httpStatus: 502, body: '<html>Bad Gateway</html>' },
      undefined,
      { kind: 'error', code: 503, status: 'UNAVAILABLE', message: 'The service is currently unavailable.' },
    ];
    const server = await serve((request, index) => script[index] ?? byToken(pages)(request));
    const clock = fakeClock();
    const run = await fromLogging(server, ['--from-logging', 'acme-prod', '--since', '2020-01-01', '--config', config, '--format', 'json'], clock);
    const fromServerWithoutFailures = await fromLogging(await serve(byToken(pages)), ['--from-logging', 'acme-prod', '--since', '2020-01-01', '--config', config, '--format', 'json']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(fromServerWithoutFailures.stdout);
    // Two of them are revisions of aegis-ai known only from their system events (their writes are not in the corpus).
    expect(JSON.parse(run.stdout)).toHaveLength(6);
    expect(server.requests.map((r) => r.body.pageToken)).toEqual([undefined, undefined, undefined, 'p2', 'p2']);
    // 2 s, then 4 s (jitter 0.5 gives three quarters of each ceiling); page 2 starts again at 2 s.
    expect(clock.sleeps).toEqual([1500, 3000, 1500]);
    expect(run.stderr).toContain('HTTP 429 RESOURCE_EXHAUSTED: Quota exceeded');
    expect(run.stderr).toContain('HTTP 502 (no Google API error in the response); attempt 3 of 7');
    expect(run.stderr).toContain('HTTP 503 UNAVAILABLE: The service is currently unavailable.');
  });

  it('gives up after a bounded number of attempts, exit 1 naming the resource and the API error', async () => {
    const server = await serve(() => ({ kind: 'error', code: 429, status: 'RESOURCE_EXHAUSTED', message: 'Quota exceeded' }));
    const clock = fakeClock();
    const run = await fromLogging(server, ['--from-logging', 'acme-prod', '--since', '2024-05-01', '--format', 'ndjson'], clock);
    expect(run.code).toBe(1);
    expect(server.requests).toHaveLength(7);
    expect(clock.sleeps).toEqual([1500, 3000, 6000, 12000, 24000, 45000]); // capped at 60 s, jittered
    expect(run.stderr).toContain('runwatch replay: Cloud Logging entries.list for projects/acme-prod failed (gave up after 7 attempts): HTTP 429 RESOURCE_EXHAUSTED: Quota exceeded\n');
    expect(run.stdout).toBe('');
  });

  const FATAL = [
    { code: 400, status: 'INVALID_ARGUMENT', message: 'Unparseable filter: syntax error at line 30, column 1, token ")"' },
    { code: 401, status: 'UNAUTHENTICATED', message: 'Request had invalid authentication credentials.' },
    { code: 403, status: 'PERMISSION_DENIED', message: "Permission 'logging.logEntries.list' denied on resource (or it may not exist)." },
    { code: 404, status: 'NOT_FOUND', message: 'Requested entity was not found.' },
  ];
  it.each(FATAL)('stops at once on $code $status, exit 1 with the API message', async ({ code, status, message }) => {
    const server = await serve(() => ({ kind: 'error', code, status, message }));
    const clock = fakeClock();
    const run = await fromLogging(server, ['--from-logging', 'organizations/42', '--since', '2024-05-01'], clock);
    expect(run.code).toBe(1);
    expect(server.requests).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
    expect(run.stderr).toBe(`runwatch replay: Cloud Logging entries.list for organizations/42 failed: HTTP ${code} ${status}: ${message}\n`);
  });

  it('shows escape sequences in an API error message escaped, never raw on the terminal', async () => {
    const server = await serve(() => ({ kind: 'error', code: 403, status: 'PERMISSION_DENIED', message: 'denied \u001b[2J\u001b]0;pwned\u0007' }));
    const run = await fromLogging(server, ['--from-logging', 'acme-prod', '--since', '2024-05-01']);
    expect(run.code).toBe(1);
    expect(run.stderr).not.toContain('\u001b');
    expect(run.stderr).toContain('denied \\u001b[2J\\u001b]0;pwned\\u0007');
  });

  it('counts entries that are not log entries as malformed, never fatal', async () => {
    const entries = [42, 'text', null, corpusEntries().at(-1)];
    const server = await serve(byToken(pagesOf(entries, 10)));
    const run = await fromLogging(server, ['--from-logging', 'acme-prod', '--since', '2020-01-01']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('4 entries read');
    expect(run.stderr).toMatch(/malformed: 3/);
  });

  it('fails, exit 1, on a 200 answer that is not a ListLogEntriesResponse', async () => {
    const server = await serve(() => ({ kind: 'raw', httpStatus: 200, body: '<html>captive portal</html>' }));
    const run = await fromLogging(server, ['--from-logging', 'acme-prod', '--since', '2020-01-01']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('HTTP 200 with a body that is not a ListLogEntriesResponse');
  });

  const USAGE: readonly { readonly name: string; readonly args: readonly string[]; readonly error: RegExp; readonly env?: Record<string, string> }[] = [
    { name: 'PATH and --from-logging', args: ['--from-logging', 'acme-prod', '--since', '2024-05-01', 'x.json'], error: /PATH arguments or --from-logging, not both/ },
    { name: 'no --since', args: ['--from-logging', 'acme-prod'], error: /--from-logging needs --since T/ },
    { name: '--filter without --from-logging', args: ['--filter', 'severity>=ERROR', 'x.json'], error: /--filter applies to --from-logging only/ },
    { name: '--workers with --from-logging', args: ['--from-logging', 'acme-prod', '--since', '2024-05-01', '--workers', '2'], error: /--workers applies to files only/ },
    { name: 'an unknown kind of resource', args: ['--from-logging', 'buckets/x', '--since', '2024-05-01'], error: /"buckets\/x" is not a resource: use projects\/P, folders\/F, organizations\/O, billingAccounts\/B, a log view projects\/P\/locations\/L\/buckets\/B\/views\/V or a bare project id$/m },
    { name: 'a project id with a quote', args: ['--from-logging', 'projects/a"b', '--since', '2024-05-01'], error: /is not a valid projects resource name/ },
    { name: 'an empty folder id', args: ['--from-logging', 'folders/', '--since', '2024-05-01'], error: /is not a valid folders resource name/ },
    { name: 'a non-numeric organization', args: ['--from-logging', 'organizations/acme', '--since', '2024-05-01'], error: /is not a valid organizations resource name/ },
    { name: 'a query over the length limit', args: ['--from-logging', 'acme-prod', '--since', '2024-05-01', '--filter', `"${'x'.repeat(20_000)}"`], error: /--filter is too long/ },
    { name: 'an empty range', args: ['--from-logging', 'acme-prod', '--since', '2024-05-02', '--until', '2024-05-01'], error: /is not before --until/ },
    {
      name: 'plain http to a host that is not loopback',
      args: ['--from-logging', 'acme-prod', '--since', '2024-05-01'],
      env: { LOGGING_API_ENDPOINT: 'http://logging.example.com:8080' },
      error: /plain http is allowed to a loopback host only/,
    },
  ];
  it.each(USAGE)('is a usage error, exit 2, with nothing asked: $name', async ({ args, error, env }) => {
    const server = await serve(() => ({ kind: 'page', entries: [] }));
    const run = await runwatch(['replay', ...args], '', { env: env ?? { LOGGING_API_ENDPOINT: server.url }, backoffClock: fakeClock() });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(error);
    expect(run.stderr).toContain('usage: runwatch replay');
    expect(server.requests).toHaveLength(0);
  });

  it('documents --from-logging in replay --help', async () => {
    const run = await runwatch(['replay', '--help']);
    expect(run.code).toBe(0);
    for (const text of ['--from-logging RESOURCE', '--filter QUERY', 'LOGGING_API_ENDPOINT', 'roles/logging.viewer']) expect(run.stdout).toContain(text);
  });
});

describe('parseResourceName', () => {
  it.each([
    ['acme-prod', 'projects/acme-prod'],
    ['  acme-prod ', 'projects/acme-prod'],
    ['123456789012', 'projects/123456789012'],
    ['example.com:legacy-project', 'projects/example.com:legacy-project'],
    ['projects/acme-prod', 'projects/acme-prod'],
    ['folders/123456', 'folders/123456'],
    ['organizations/42', 'organizations/42'],
    ['billingAccounts/012345-6789AB-CDEF01', 'billingAccounts/012345-6789AB-CDEF01'],
    ['projects/acme-prod/locations/global/buckets/_Default/views/_AllLogs', 'projects/acme-prod/locations/global/buckets/_Default/views/_AllLogs'],
  ])('%s -> %s', (input, expected) => expect(parseResourceName(input)).toBe(expected));

  it.each(['', 'projects/', 'projects/a b', 'projects/Acme', 'projects/a/b', 'folders/abc', 'org/1', 'organizations/1/locations/x', 'billingAccounts/a"b', '-x'])(
    'refuses %j',
    (input) => expect(() => parseResourceName(input)).toThrow(/not/),
  );
});

describe('loggingFilter', () => {
  it('leaves out an empty user filter and keeps the sink filter whole', () => {
    const filter = loggingFilter({ sinceIso: '2024-05-01T00:00:00Z', userFilter: '  ' });
    expect(filter).toBe(`timestamp>="2024-05-01T00:00:00Z"\nAND\n(\n${sinkFilter().trimEnd()}\n)\n`);
  });
});

describe('parseLoggingEndpoint', () => {
  it.each([
    ['https://logging.googleapis.com', { url: 'https://logging.googleapis.com', anonymous: false }],
    ['https://logging.googleapis.com/', { url: 'https://logging.googleapis.com', anonymous: false }],
    ['https://logging.us-central1.rep.googleapis.com', { url: 'https://logging.us-central1.rep.googleapis.com', anonymous: false }],
    ['http://127.0.0.1:8089', { url: 'http://127.0.0.1:8089', anonymous: true }],
    ['http://localhost:8089', { url: 'http://localhost:8089', anonymous: true }],
    ['http://[::1]:8089', { url: 'http://[::1]:8089', anonymous: true }],
  ])('%s', (input, expected) => expect(parseLoggingEndpoint(input)).toEqual(expected));

  it.each(['https://logging.example.com', 'https://googleapis.com.evil.example', 'http://10.0.0.1:8089', 'http://logging.example.com', 'ftp://127.0.0.1', 'https://u:p@logging.googleapis.com', 'https://logging.googleapis.com/v2', '127.0.0.1:8089x', 'not a url'])(
    'refuses %s',
    (input) => expect(() => parseLoggingEndpoint(input)).toThrow(/LOGGING_API_ENDPOINT/),
  );
});

/** A public invoker grant on each of `count` services, a minute apart: one finding each (real v1 shape). */
function grants(count: number): Record<string, unknown>[] {
  const grant = JSON.stringify(synthetic('run-SetIamPolicy-allUsers'));
  return Array.from({ length: count }, (_, i) =>
    at(JSON.parse(grant.replaceAll('cloudrun-exfil', `service-${i}`)) as Record<string, unknown>, new Date(Date.UTC(2024, 4, 1) + i * 60_000).toISOString()),
  );
}

/** Page 1: `entries`; the request for page 2 is never answered (a slow query still running). */
async function thenHang(entries: readonly unknown[]): Promise<LoggingServer> {
  return serve((request) => (request.body.pageToken === undefined ? { kind: 'page', entries, nextPageToken: 'p2' } : { kind: 'hang' }));
}

describe('runwatch replay --from-logging, stopped before the end (a process of its own)', () => {
  it('a reader that closes stdout (| head -1) stops the replay, page 2 still awaited or not: exit 0, nothing on stderr', async () => {
    // Far more findings than a pipe buffers, let out of a small reorder buffer as page 1 is read: writes fail
    // with EPIPE while page 1 is processed or page 2 is in flight; either way the replay stops and does not hang.
    const server = await thenHang(grants(800));
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-logging-'));
    const exitCode = join(dir, 'exit-code');
    const script = '{ "$0" "$@"; echo $? > "$EXIT_CODE"; } | head -1 > /dev/null';
    const args = ['replay', '--quiet', '--format', 'ndjson', '--reorder-buffer', '10', '--from-logging', 'acme-prod', '--since', '2024-01-01'];
    const child = spawn('sh', ['-c', script, process.execPath, BIN, ...args], {
      env: { PATH: process.env['PATH'], EXIT_CODE: exitCode, LOGGING_API_ENDPOINT: server.url },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    await new Promise((resolve) => child.on('close', resolve));
    expect({ code: Number(readFileSync(exitCode, 'utf8')), stderr }).toEqual({ code: 0, stderr: '' });
    expect(server.requests[0]!.body.pageToken).toBeUndefined();
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('with --state, %s while a page is awaited: the lock goes, the state file stays, exit %i', async (signal, code) => {
    const server = await thenHang(grants(3));
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-logging-'));
    const state = join(dir, 'state.json');
    const before = `${JSON.stringify({ format: 'runwatch-baseline', version: 1, services: {} })}\n`;
    writeFileSync(state, before);
    const child = spawn(process.execPath, [BIN, 'replay', '--quiet', '--format', 'ndjson', '--state', state, '--from-logging', 'acme-prod', '--since', '2024-01-01'], {
      env: { LOGGING_API_ENDPOINT: server.url },
    });
    let ended = false;
    const exited = new Promise<number | NodeJS.Signals>((resolve) => child.on('close', (c, s) => resolve(c ?? s!))).finally(() => (ended = true));
    // Until page 2 is asked for (the replay then waits on it: the case), or the replay ended first. No deadline of its
    // own: 10 s of waiting here was 3x what the process start took beside two busy loops on 2 cores (3.8 s, and
    // `runwatch --help` took 4.9 s alone at load 12); the test's time limit is the guard against a replay that never asks.
    while (server.requests.length < 2) {
      if (ended) throw new Error(`the replay ended (${await exited}) before it asked for page 2`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    child.kill(signal);
    expect(await exited).toBe(code);
    expect(readdirSync(dir)).toEqual(['state.json']);
    expect(readFileSync(state, 'utf8')).toBe(before);
  });
});

describe('listEntries', () => {
  const endpoint = (server: LoggingServer): ReturnType<typeof parseLoggingEndpoint> => parseLoggingEndpoint(server.url);
  const request = { resourceNames: ['projects/acme-prod'], filter: 'timestamp>="2024-01-01T00:00:00Z"' };

  it('sends the credentials its header source gives, on every page', async () => {
    const server = await serve(byToken(pagesOf([1, 2, 3], 2)));
    let lookups = 0;
    const headers = async (): Promise<Record<string, string>> => ({ authorization: `Bearer token-${++lookups}` });
    const pages = [];
    for await (const page of listEntries(request, { endpoint: endpoint(server), headers })) pages.push(page);
    expect(pages).toEqual([{ entries: [1, 2], page: 1 }, { entries: [3], page: 2 }]);
    expect(server.requests.map((r) => r.headers['authorization'])).toEqual(['Bearer token-1', 'Bearer token-2']);
  });

  it('a credential refresh that fails is retried like a network error; the page is still read once', async () => {
    const server = await serve(byToken(pagesOf([1, 2, 3], 2)));
    let lookups = 0;
    const headers = async (): Promise<Record<string, string>> => {
      lookups++;
      if (lookups === 2) throw new Error('socket hang up (metadata server)');
      return { authorization: `Bearer token-${lookups}` };
    };
    const retries: string[] = [];
    const pages = [];
    for await (const page of listEntries(request, { endpoint: endpoint(server), headers, clock: fakeClock(), onRetry: (m) => retries.push(m) })) pages.push(page);
    expect(pages).toEqual([{ entries: [1, 2], page: 1 }, { entries: [3], page: 2 }]);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toContain('credentials could not be refreshed: socket hang up (metadata server)');
    expect(server.requests.map((r) => r.headers['authorization'])).toEqual(['Bearer token-1', 'Bearer token-3']);
  });

  it('Application Default Credentials: none at the start is fatal with how to log in; a refresh failing later is retried', async () => {
    const failing = applicationDefaultCredentials(async () => ({ getRequestHeaders: async () => Promise.reject(new Error('Could not load the default credentials')) }));
    await expect(failing()).rejects.toThrow(LoggingApiError);
    await expect(failing()).rejects.toThrow(/gcloud auth application-default login.*Could not load the default credentials/);

    const server = await serve(byToken(pagesOf([1, 2, 3], 2)));
    let lookups = 0;
    const flaky = applicationDefaultCredentials(async () => ({
      getRequestHeaders: async () => (++lookups === 2 ? Promise.reject(new Error('metadata server: socket hang up')) : { authorization: `Bearer t${lookups}` }),
    }));
    const retries: string[] = [];
    const pages = [];
    for await (const page of listEntries(request, { endpoint: endpoint(server), headers: flaky, clock: fakeClock(), onRetry: (m) => retries.push(m) })) pages.push(page);
    expect(pages.map((p) => p.entries)).toEqual([[1, 2], [3]]);
    expect(retries).toEqual([expect.stringContaining('credentials could not be refreshed: metadata server: socket hang up')]);
    await expect(listEntries(request, { endpoint: endpoint(server), headers: failing }).next()).rejects.toThrow(LoggingApiError);
  });

  it('a credential lookup that hangs is bounded by the attempt time limit and retried; an abort ends it at once', async () => {
    const server = await serve(byToken(pagesOf([1], 2)));
    let lookups = 0;
    const hangOnce = async (): Promise<Record<string, string>> => (++lookups === 1 ? new Promise<never>(() => undefined) : { authorization: 'Bearer t' });
    const retry = { ...DEFAULT_RETRY, attemptTimeoutMs: 50 };
    const retries: string[] = [];
    const pages = [];
    for await (const page of listEntries(request, { endpoint: endpoint(server), headers: hangOnce, retry, clock: fakeClock(), onRetry: (m) => retries.push(m) })) pages.push(page);
    expect(pages).toEqual([{ entries: [1], page: 1 }]);
    expect(retries[0]).toContain('credentials could not be refreshed: timed out');

    const controller = new AbortController();
    const reason = new Error('stopped');
    setTimeout(() => controller.abort(reason), 20);
    const hang = async (): Promise<Record<string, string>> => new Promise<never>(() => undefined);
    await expect(listEntries(request, { endpoint: endpoint(server), headers: hang, signal: controller.signal }).next()).rejects.toBe(reason);
  });

  it('ends the request in flight and rejects with the reason the signal was aborted with', async () => {
    const server = await serve(() => ({ kind: 'hang' }));
    const controller = new AbortController();
    const reason = new Error('stdout closed');
    setTimeout(() => controller.abort(reason), 20);
    const started = Date.now();
    await expect(listEntries(request, { endpoint: endpoint(server), signal: controller.signal }).next()).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('ends a backoff wait (real timers) and rejects with the reason', async () => {
    const server = await serve(() => ({ kind: 'error', code: 503, status: 'UNAVAILABLE', message: 'try later' }));
    const controller = new AbortController();
    const reason = new Error('interrupted');
    const retry = { ...DEFAULT_RETRY, initialDelayMs: 60_000 };
    const listing = listEntries(request, { endpoint: endpoint(server), signal: controller.signal, retry, onRetry: () => setTimeout(() => controller.abort(reason), 20) });
    const started = Date.now();
    await expect(listing.next()).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(server.requests).toHaveLength(1);
  });
});
