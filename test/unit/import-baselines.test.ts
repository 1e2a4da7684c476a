// `runwatch import-baselines`: what of a replay's baseline goes into the live store (importableBaseline), and the
// command's own arguments. The writes themselves, against the Firestore emulator: test/integration/import-baselines.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importableBaseline } from '../../functions/baseline/import.js';
import { emptyBaseline, type ServiceBaseline } from '../../functions/baseline/state.js';
import { runwatch } from '../support/cli.js';
import { closedPort } from '../support/ports.js';

/** The baselines a replay of the demo logs keeps (`runwatch replay --state`), by key. */
async function demoState(): Promise<Record<string, ServiceBaseline>> {
  const state = join(mkdtempSync(join(tmpdir(), 'runwatch-import-')), 'state.json');
  const run = await runwatch(['replay', '--quiet', '--format', 'ndjson', '--state', state, 'examples/logs']);
  expect(run.code).toBe(0);
  const { readFileSync } = await import('node:fs');
  return (JSON.parse(readFileSync(state, 'utf8')) as { services: Record<string, ServiceBaseline> }).services;
}

/** A baseline as runwatch stored them before the optional histories, rollouts and open findings existed. */
const SYNTHETIC_OLD_SHAPE: ServiceBaseline = {
  version: 1,
  serviceAccount: [{ t: 1714990323120, v: 'storefront@acme-prod.iam.gserviceaccount.com' }],
  template: [{ t: 1714990323120, v: 'fp-1' }],
  repositories: { 'europe-west1-docker.pkg.dev/acme-prod/web': 1714990323120 },
  publicInvokers: [{ t: 1714990400000, v: ['allUsers'] }],
  invokerIamDisabled: [],
  ingress: [{ t: 1714990323120, v: 'all' }],
  lastChangeMs: 1714990400000,
};

describe('importableBaseline', () => {
  let services: Record<string, ServiceBaseline>;
  beforeAll(async () => {
    services = await demoState();
  });

  it('the demo replay leaves open findings and applied entries to strip (else the cases below prove nothing)', () => {
    expect(Object.values(services).some((b) => (b.open ?? []).length > 0)).toBe(true);
    expect(Object.values(services).every((b) => (b.seen ?? []).length > 0)).toBe(true);
  });

  it('keeps every fact of each demo baseline and takes out its open findings and the entries it applied', () => {
    for (const [key, baseline] of Object.entries(services)) {
      const { baseline: imported, stripped } = importableBaseline(baseline);
      const { open, rollouts, dueAtMs, seen: _seen, ...facts } = baseline;
      expect(imported, key).toEqual(facts);
      expect(imported, key).not.toHaveProperty('open');
      expect(imported, key).not.toHaveProperty('seen');
      expect(stripped, key).toEqual({ openFindings: open?.length ?? 0, waitingDeploys: rollouts?.length ?? 0 });
      expect(dueAtMs, key).toBeUndefined();
    }
  });

  it.each([
    ['synthetic old shape (no optional histories, nothing open or waiting)', SYNTHETIC_OLD_SHAPE, SYNTHETIC_OLD_SHAPE, { openFindings: 0, waitingDeploys: 0 }],
    ['an empty baseline', emptyBaseline(), emptyBaseline(), { openFindings: 0, waitingDeploys: 0 }],
    [
      'synthetic: deploys still waiting for their other half, and the wait the sweep would read',
      { ...SYNTHETIC_OLD_SHAPE, rollouts: [{ openedMs: 1714990500000, deadlineMs: 1714990560000, writes: 1 }, { openedMs: 1714990501000, deadlineMs: 1714990561000, writes: 2 }], dueAtMs: 1714990560000 } as ServiceBaseline,
      SYNTHETIC_OLD_SHAPE,
      { openFindings: 0, waitingDeploys: 2 },
    ],
    [
      'synthetic: an empty open list and the entries already applied (taken out: detect would take them as its own and judge them never)',
      { ...SYNTHETIC_OLD_SHAPE, open: [], seen: ['d1', 'd2'], completed: [], systemEventsSeen: true } as ServiceBaseline,
      { ...SYNTHETIC_OLD_SHAPE, completed: [], systemEventsSeen: true },
      { openFindings: 0, waitingDeploys: 0 },
    ],
  ])('%s', (_name, given, expected, stripped) => {
    const before = structuredClone(given);
    const out = importableBaseline(given);
    expect(out.baseline).toEqual(expected);
    expect(out.stripped).toEqual(stripped);
    expect(given).toEqual(before); // its input is not changed
  });
});

describe('runwatch import-baselines: arguments', () => {
  it('is listed by runwatch --help', async () => {
    const run = await runwatch(['--help']);
    expect(run.stdout).toMatch(/^ {2}import-baselines {2,}\S/m);
  });

  it.each([
    [['import-baselines'], { GOOGLE_CLOUD_PROJECT: 'acme-sec' }, 'runwatch import-baselines: --state FILE is required'],
    [['import-baselines', '--state', 'x.json', 'extra'], { GOOGLE_CLOUD_PROJECT: 'acme-sec' }, 'runwatch import-baselines: unexpected argument "extra"'],
    [['import-baselines', '--state', 'x.json'], {}, 'runwatch import-baselines: no project: give --project PROJECT or set GOOGLE_CLOUD_PROJECT'],
    [['import-baselines', '--state', 'x.json', '--project', 'Not A Project'], {}, 'runwatch import-baselines: --project "Not A Project" is not a project id'],
    [['import-baselines', '--dryrun'], {}, "runwatch import-baselines: Unknown option '--dryrun'; did you mean --dry-run?"],
    [['import-baselines', '--state', 'x.json', '--concurrency', '0'], { GOOGLE_CLOUD_PROJECT: 'acme-sec' }, 'runwatch import-baselines: --concurrency "0" is not a whole number from 1 to 100'],
    [['import-baselines', '--state', 'x.json', '--concurrency', '101'], { GOOGLE_CLOUD_PROJECT: 'acme-sec' }, 'runwatch import-baselines: --concurrency "101" is not a whole number from 1 to 100'],
    [['import-baselines', '--state', 'x.json', '--concurrency', '8x'], { GOOGLE_CLOUD_PROJECT: 'acme-sec' }, 'runwatch import-baselines: --concurrency "8x" is not a whole number from 1 to 100'],
  ])('%j: a usage error (exit 2) saying what is wrong, before anything is read', async (args, env, first) => {
    const run = await runwatch(args, '', { env });
    expect(run.code).toBe(2);
    expect(run.stderr.split('\n')[0]).toBe(first);
    expect(run.stderr).toContain('usage: runwatch import-baselines --state FILE');
  });

  it('a state file that does not exist is an I/O failure (exit 1), not an import of nothing', async () => {
    const missing = join(mkdtempSync(join(tmpdir(), 'runwatch-import-')), 'nope.json');
    const run = await runwatch(['import-baselines', '--state', missing], '', { env: { GOOGLE_CLOUD_PROJECT: 'acme-sec' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`runwatch import-baselines: state file ${missing} does not exist (runwatch replay --state FILE writes it)\n`);
  });

  it('an emulator that is not listening is one line and exit 1 at once (the client library retried for minutes)', async () => {
    const state = join(mkdtempSync(join(tmpdir(), 'runwatch-import-')), 'state.json');
    writeFileSync(state, JSON.stringify({ format: 'runwatch-baseline', version: 1, services: { 'acme-prod/europe-west1/storefront': SYNTHETIC_OLD_SHAPE } }));
    const host = `127.0.0.1:${await closedPort()}`;
    const started = Date.now();
    const run = await runwatch(['import-baselines', '--state', state], '', { env: { GOOGLE_CLOUD_PROJECT: 'acme-sec', FIRESTORE_EMULATOR_HOST: host } });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`runwatch import-baselines: nothing answers on the Firestore emulator at ${host} (ECONNREFUSED): start it or unset FIRESTORE_EMULATOR_HOST\n`);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  // A hand-edited state file the replay reader once took (it checked that the five first histories were lists, no
  // more): each was written into the live store as it was, and a later entry of the service failed its transaction
  // there (`creates` a text: a TypeError on every delivery, then the dead letter) or was judged against points of no
  // time. The state file's reader now refuses them, for the replay and the import alike.
  it.each([
    ['synthetic: an optional history that is no list', { creates: 'yes' }, 'creates'],
    ['synthetic: a point with no time', { memberBindings: [{ v: ['roles/run.invoker user:eve@evil.example'] }] }, 'memberBindings'],
    ['synthetic: a point of a first history with a text time', { serviceAccount: [{ t: '2024-05-06', v: 'a@b' }] }, 'serviceAccount'],
    ['synthetic: revision identities that are no list', { revisionIdentities: { r: 'storefront-00001-abc' } }, 'revisionIdentities'],
    ['synthetic: completed rollouts with no time', { completed: [{}] }, 'completed'],
    ['synthetic: a repository first seen at a text time', { repositories: { 'europe-west1-docker.pkg.dev/acme-prod/web': 'then' } }, 'repositories'],
    ['synthetic: a delete at no number', { deletedAtMs: 'now' }, 'deletedAtMs'],
  ])('%s: refused before anything is written, naming the service and the field (exit 1)', async (_name, edit, field) => {
    const state = join(mkdtempSync(join(tmpdir(), 'runwatch-import-')), 'state.json');
    const key = 'acme-prod/europe-west1/\u001b[2Jstorefront';
    writeFileSync(state, JSON.stringify({ format: 'runwatch-baseline', version: 1, services: { 'acme-prod/europe-west1/checkout': SYNTHETIC_OLD_SHAPE, [key]: { ...SYNTHETIC_OLD_SHAPE, ...edit } } }));
    const host = `127.0.0.1:${await closedPort()}`;
    const run = await runwatch(['import-baselines', '--state', state], '', { env: { GOOGLE_CLOUD_PROJECT: 'acme-sec', FIRESTORE_EMULATOR_HOST: host } });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`runwatch import-baselines: state file ${state}: the baseline of "acme-prod/europe-west1/\\u001b[2Jstorefront" is not one runwatch wrote (version 1): its ${field} is not in the form this version writes; move the file away to start afresh\n`);
  });

  // A state file holds what was logged, so no time in it is later than now. A hand edit that dates the service's delete
  // (or a fact) in the future hid what the live pipeline then saw: every later entry was "about the deleted service",
  // so a public invoker grant of storefront was published together with its own resolution, and its policy never
  // recorded; a fact in the future made every live entry late, so it closed nothing.
  const FUTURE = Date.parse('2100-01-01T00:00:00.000Z');
  it.each([
    ['synthetic: a delete dated in the future', { deletedAtMs: FUTURE }, 'deletedAtMs'],
    ['synthetic: a last change dated in the future', { lastChangeMs: FUTURE }, 'lastChangeMs'],
    ['synthetic: a history point dated in the future', { publicInvokers: [{ t: FUTURE, v: [] }] }, 'publicInvokers'],
    ['synthetic: a repository first seen in the future', { repositories: { 'europe-west1-docker.pkg.dev/acme-prod/web': FUTURE } }, 'repositories'],
    ['synthetic: a completed rollout in the future', { completed: [{ t: FUTURE }] }, 'completed'],
  ])('%s: refused before anything is written (exit 1)', async (_name, edit, field) => {
    const state = join(mkdtempSync(join(tmpdir(), 'runwatch-import-')), 'state.json');
    writeFileSync(state, JSON.stringify({ format: 'runwatch-baseline', version: 1, services: { 'acme-prod/europe-west1/storefront': { ...SYNTHETIC_OLD_SHAPE, ...edit } } }));
    const host = `127.0.0.1:${await closedPort()}`;
    const run = await runwatch(['import-baselines', '--state', state], '', { env: { GOOGLE_CLOUD_PROJECT: 'acme-sec', FIRESTORE_EMULATOR_HOST: host } });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`runwatch import-baselines: state file ${state}: the baseline of acme-prod/europe-west1/storefront has a ${field} dated after now (2100-01-01T00:00:00.000Z), which no logged entry is; nothing imported\n`);
  });

  // Keys are written by the replay as baselineKey makes them (PROJECT/LOCATION/SERVICE, well-formed). A hand-edited
  // key is never one the live pipeline reads: the empty one, sorted first, is an empty document id (baselineDocId),
  // which the client library refuses, so the import stopped before any service, on every run; one with a lone
  // surrogate is stored under the id of the same key with U+FFFD in its place.
  it.each([
    ['synthetic: the empty key', '', '""'],
    ['synthetic: a key with no location or service', 'storefront', '"storefront"'],
    ['synthetic: a key with a lone surrogate', 'acme-prod/europe-west1/store\ud800front', '"acme-prod/europe-west1/store\\ud800front"'],
  ])('%s: refused before anything is written (exit 1)', async (_name, key, shown) => {
    const state = join(mkdtempSync(join(tmpdir(), 'runwatch-import-')), 'state.json');
    writeFileSync(state, JSON.stringify({ format: 'runwatch-baseline', version: 1, services: { [key]: SYNTHETIC_OLD_SHAPE, 'acme-prod/europe-west1/checkout': SYNTHETIC_OLD_SHAPE } }));
    const host = `127.0.0.1:${await closedPort()}`;
    const run = await runwatch(['import-baselines', '--state', state], '', { env: { GOOGLE_CLOUD_PROJECT: 'acme-sec', FIRESTORE_EMULATOR_HOST: host } });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`runwatch import-baselines: state file ${state}: ${shown} is not a baseline key (PROJECT/LOCATION/SERVICE) that runwatch writes; nothing imported\n`);
  });

  it('a file that is no state file is refused with the replay reader\'s reason (exit 1)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'runwatch-import-')), 'other.json');
    writeFileSync(file, '{"format":"something-else"}');
    const run = await runwatch(['import-baselines', '--state', file], '', { env: { GOOGLE_CLOUD_PROJECT: 'acme-sec' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('is not a runwatch baseline');
  });
});

describe('runwatch import-baselines when Firestore does not answer', () => {
  // Something accepts the connection and never answers (a proxy or firewall that swallows it, a hung emulator): the
  // emulator check (a TCP connect) passes, and the client library then retried each call for up to 10 minutes (its
  // total timeout), saying nothing. Off the emulator, no network (UNAVAILABLE, retried as long) looks the same.
  let server: Server;
  let host: string;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.add(socket); // accepted, never answered
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** redrive's bound for its first call (REACH_TIMEOUT_MS), and room for loading the client library on a loaded host. */
  const REACH_MS = 10_000;
  const MARGIN_MS = 5_000;

  it.each([[[] as string[]], [['--dry-run']]])('%j: one line and exit 1 within 10 s, nothing listed or written', async (extra) => {
    const state = join(mkdtempSync(join(tmpdir(), 'runwatch-import-')), 'state.json');
    writeFileSync(state, JSON.stringify({ format: 'runwatch-baseline', version: 1, services: { 'acme-prod/europe-west1/storefront': SYNTHETIC_OLD_SHAPE } }));
    // The client library reads the emulator's address from the process's environment, as in the CLI (io.env is it).
    const before = process.env['FIRESTORE_EMULATOR_HOST'];
    const detection = process.env['METADATA_SERVER_DETECTION']; // createFirestore sets it on the emulator
    process.env['FIRESTORE_EMULATOR_HOST'] = host;
    const started = performance.now();
    let run: Awaited<ReturnType<typeof runwatch>>;
    try {
      run = await runwatch(['import-baselines', '--state', state, ...extra], '', { env: { GOOGLE_CLOUD_PROJECT: 'acme-sec', FIRESTORE_EMULATOR_HOST: host } });
    } finally {
      if (before === undefined) delete process.env['FIRESTORE_EMULATOR_HOST'];
      else process.env['FIRESTORE_EMULATOR_HOST'] = before;
      if (detection === undefined) delete process.env['METADATA_SERVER_DETECTION'];
      else process.env['METADATA_SERVER_DETECTION'] = detection;
    }
    const ms = performance.now() - started;
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`runwatch import-baselines: the Firestore emulator at ${host} did not answer within 10 s; nothing imported\n`);
    expect(ms).toBeLessThan(REACH_MS + MARGIN_MS);
    expect(sockets.size, 'the client reached the server (else the test proves nothing)').toBeGreaterThan(0);
  }, 60_000);
});
