// `runwatch import-baselines`: the import loop (importAll) over a store that answers late and out of order, so that
// what a large organization meets can be seen without Firestore: several services in flight at once, the lines in
// the order of the keys whatever order the answers come in, the same counts, the same documents written.
// Against the Firestore emulator: test/integration/import-baselines.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { importAll, type ImportTarget } from '../../functions/cli/commands/importBaselines.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { ServiceBaseline } from '../../functions/baseline/state.js';
import { UnstorableError, type TransactionOutcome } from '../../functions/baseline/store.js';

const SYNTHETIC_BASELINE: ServiceBaseline = {
  version: 1,
  serviceAccount: [{ t: 1714990323120, v: 'storefront@acme-prod.iam.gserviceaccount.com' }],
  template: [{ t: 1714990323120, v: 'fp-1' }],
  repositories: { 'europe-west1-docker.pkg.dev/acme-prod/web': 1714990323120 },
  publicInvokers: [],
  invokerIamDisabled: [],
  ingress: [{ t: 1714990323120, v: 'all' }],
  lastChangeMs: 1714990400000,
};

/**
 * A memory store that answers each call `delayMs(key)` later, counts the calls in flight and refuses, as Firestore
 * does, a baseline too large for a document (here: one whose key says so). What it stores is the memory store's.
 */
class SyntheticSlowTarget implements ImportTarget {
  readonly store: MemoryBaselineStore;
  inFlight = 0;
  maxInFlight = 0;
  readonly started: string[] = [];

  constructor(
    live: readonly string[],
    private readonly delayMs: (key: string) => number,
    private readonly fails: (key: string) => Error | undefined = () => undefined,
  ) {
    this.store = new MemoryBaselineStore(live.map((key) => [key, { ...SYNTHETIC_BASELINE, lastChangeMs: 1 }]));
  }

  unstorable(key: string): UnstorableError | undefined {
    return key.includes('huge') ? new UnstorableError(`synthetic: a document of 2000000 bytes for ${key}`) : undefined;
  }

  transact<R>(key: string, fn: (current: ServiceBaseline | undefined) => TransactionOutcome<R>): Promise<R> {
    return this.call(key, () =>
      this.store.transact(key, (current) => {
        const outcome = fn(current);
        if (outcome.next !== undefined) {
          const refused = this.unstorable(key);
          if (refused) throw refused;
        }
        return outcome;
      }),
    );
  }

  get(key: string): Promise<ServiceBaseline | undefined> {
    return this.call(key, () => this.store.get(key));
  }

  private async call<T>(key: string, work: () => Promise<T>): Promise<T> {
    this.started.push(key);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const delay = this.delayMs(key);
      if (delay === Infinity) await new Promise(() => undefined); // never answers
      await new Promise((resolve) => setTimeout(resolve, delay));
      const failure = this.fails(key);
      if (failure) throw failure;
      return await work();
    } finally {
      this.inFlight--;
    }
  }
}

/** 40 services in key order; every fifth has a live baseline, one is too large. */
const KEYS = Array.from({ length: 40 }, (_, i) => `acme-${String(i).padStart(2, '0')}/europe-west1/${i === 17 ? 'huge' : 'svc'}`);
const LIVE = KEYS.filter((_, i) => i % 5 === 0);
const BASELINES: [string, ServiceBaseline][] = KEYS.map((key, i) => [key, { ...SYNTHETIC_BASELINE, lastChangeMs: 1714990400000 + i, open: [] }]);
/** Later keys answer first: the order of the answers is the reverse of the keys'. */
const REVERSED = (key: string): number => 40 - KEYS.indexOf(key);

function expectedLines(dryRun: boolean): string {
  return KEYS.map((key) =>
    LIVE.includes(key)
      ? `skipped ${key} (a live baseline is there)\n`
      : key.includes('huge')
        ? `not imported ${key} (synthetic: a document of 2000000 bytes for ${key})\n`
        : `${dryRun ? 'would import' : 'imported'} ${key}\n`,
  ).join('');
}

async function run(target: ImportTarget, options: { dryRun: boolean; concurrency: number }): Promise<{ stdout: string; outcome: Awaited<ReturnType<typeof importAll>> }> {
  const stdout = new PassThrough();
  const out: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  // A variable, not a literal: `concurrency` is an option of importAll's own (ImportOptions).
  const given = options;
  const outcome = await importAll(target, BASELINES, given, stdout);
  return { stdout: Buffer.concat(out).toString(), outcome };
}

describe('importAll: services in flight at once, output as one at a time gave it', () => {
  it.each([1, 2, 8, 16, 64])('%i in flight: the lines in key order, the counts and the stored baselines of one at a time', async (concurrency) => {
    const target = new SyntheticSlowTarget(LIVE, REVERSED);
    const { stdout, outcome } = await run(target, { dryRun: false, concurrency });
    expect(outcome.failure).toBeUndefined();
    expect(stdout).toBe(expectedLines(false));
    expect(outcome.counts).toEqual({ imported: 40 - LIVE.length - 1, skipped: LIVE.length, unstorable: 1, openFindings: 0, waitingDeploys: 0, newestChangeMs: 1714990400000 + 39 });
    expect(target.maxInFlight).toBe(Math.min(concurrency, KEYS.length));
    for (const [key, replayed] of BASELINES) {
      const stored = await target.store.get(key);
      if (LIVE.includes(key)) expect(stored?.lastChangeMs, key).toBe(1);
      else if (key.includes('huge')) expect(stored, key).toBeUndefined();
      else expect(stored, key).toEqual({ ...replayed, open: undefined });
    }
  });

  it.each([1, 16])('%i in flight, --dry-run: reads only, the same lines as the real run prints: a baseline too large for a document is listed as not imported', async (concurrency) => {
    const target = new SyntheticSlowTarget(LIVE, REVERSED);
    const { stdout, outcome } = await run(target, { dryRun: true, concurrency });
    expect(stdout).toBe(expectedLines(true));
    expect(outcome.counts.unstorable).toBe(1);
    expect(target.maxInFlight).toBe(Math.min(concurrency, KEYS.length));
    expect([...target.store.entries()].map(([key]) => key)).toEqual(LIVE);
  });

  it('a failure starts nothing more: those in flight end, and every service imported is listed, in key order', async () => {
    const failing = KEYS[10]!;
    const target = new SyntheticSlowTarget(LIVE, () => 2, (key) => (key === failing ? new Error('synthetic: 14 UNAVAILABLE') : undefined));
    const { stdout, outcome } = await run(target, { dryRun: false, concurrency: 4 });
    expect((outcome.failure as Error).message).toBe('synthetic: 14 UNAVAILABLE');
    expect(target.inFlight).toBe(0);
    // Started: at most those up to the failing one and the three in flight beside it.
    expect(target.started.length).toBeLessThanOrEqual(KEYS.indexOf(failing) + 4);
    const imported = KEYS.filter((key) => !LIVE.includes(key) && [...target.store.entries()].some(([k]) => k === key));
    expect(outcome.counts.imported).toBe(imported.length);
    const listed = stdout.split('\n').filter((line) => line.startsWith('imported ')).map((line) => line.slice('imported '.length));
    expect(listed).toEqual(imported);
    expect(stdout).not.toContain(failing);
  });
});

describe('importAll when Firestore stops answering halfway', () => {
  // A network that goes away during the import (or credentials that expire and cannot be renewed): the client library
  // retries each call for up to 10 minutes, and a transaction up to 10 times, saying nothing.
  it.each([false, true])('dry run %s: stops once a service has waited answerMs, listing every service done (a re-run completes the rest)', async (dryRun) => {
    const hung = KEYS[11]!;
    const target = new SyntheticSlowTarget(LIVE, (key) => (key === hung ? Infinity : 2));
    const started = performance.now();
    const options = { dryRun, concurrency: 4, answerMs: 300 };
    const stdout = new PassThrough();
    const out: Buffer[] = [];
    stdout.on('data', (c: Buffer) => out.push(c));
    const outcome = await importAll(target, BASELINES, options, stdout);
    expect(performance.now() - started).toBeLessThan(3_000);
    expect((outcome.failure as Error).message).toBe(`Firestore did not answer within 0.3 s for ${hung}`);
    const lines = Buffer.concat(out).toString();
    expect(lines).not.toContain(hung);
    // Every line is one the full run prints, in key order; those up to the hung service are all there.
    const full = expectedLines(dryRun).split('\n');
    const printed = lines.split('\n');
    expect(printed.filter((line) => !full.includes(line))).toEqual([]);
    expect(printed.slice(0, 11)).toEqual(full.slice(0, 11));
    if (!dryRun) expect(outcome.counts.imported).toBe([...target.store.entries()].length - LIVE.length);
  });
});

describe('importAll: a failure while another service goes unanswered', () => {
  // The first failure stops the import (an error of its own, say a transaction refused), and a service in flight beside
  // it then never answers: it is given up on after answerMs as any other, but the failure returned is the first one.
  // The command closed the client and waited for it unless that failure was itself the one not answered: the client
  // library's close waits for every call still pending, and the one given up on retried for up to 10 minutes, the
  // command saying nothing meanwhile.
  it.each([false, true])('dry run %s: says that a call was given up on, so the client is not waited for', async (dryRun) => {
    const hung = KEYS[9]!;
    const failing = KEYS[10]!;
    const target = new SyntheticSlowTarget(LIVE, (key) => (key === hung ? Infinity : 2), (key) => (key === failing ? new Error('synthetic: 9 FAILED_PRECONDITION') : undefined));
    const started = performance.now();
    const outcome = await importAll(target, BASELINES, { dryRun, concurrency: 4, answerMs: 300 }, new PassThrough());
    expect(performance.now() - started).toBeLessThan(3_000);
    expect((outcome.failure as Error).message).toBe('synthetic: 9 FAILED_PRECONDITION');
    expect(target.inFlight, 'the hung call is still pending').toBe(1);
    expect(outcome).toMatchObject({ abandoned: true });
  });

  it('says nothing was given up on when every call answered', async () => {
    const failing = KEYS[10]!;
    const target = new SyntheticSlowTarget(LIVE, () => 2, (key) => (key === failing ? new Error('synthetic: 14 UNAVAILABLE') : undefined));
    const outcome = await importAll(target, BASELINES, { dryRun: false, concurrency: 4, answerMs: 300 }, new PassThrough());
    expect(outcome.failure).toBeDefined();
    expect('abandoned' in outcome).toBe(false);
  });
});

describe('importAll: progress for long runs', () => {
  // 40,000 services take minutes even several at a time, and stdout is often a file: without a word on stderr a run
  // looked hung until its counts came.
  it('says how many services are done, at most every progressMs, in order, never after the last', async () => {
    const target = new SyntheticSlowTarget(LIVE, () => 3);
    const said: [number, number][] = [];
    const options = { dryRun: false, concurrency: 2, progressMs: 15, onProgress: (done: number, total: number) => said.push([done, total]) };
    const started = performance.now();
    await importAll(target, BASELINES, options, new PassThrough());
    const ms = performance.now() - started;
    expect(said.length).toBeGreaterThan(0);
    expect(said.length).toBeLessThanOrEqual(Math.ceil(ms / 15));
    for (const [i, [done, total]] of said.entries()) {
      expect(total).toBe(KEYS.length);
      expect(done).toBeGreaterThan(i === 0 ? 0 : said[i - 1]![0]);
      expect(done).toBeLessThan(KEYS.length);
    }
  });

  it('says nothing when the run is shorter than progressMs', async () => {
    const said: number[] = [];
    await importAll(new SyntheticSlowTarget(LIVE, () => 0), BASELINES, { dryRun: true, concurrency: 16, progressMs: 60_000, onProgress: (done: number) => said.push(done) } as Parameters<typeof importAll>[2], new PassThrough());
    expect(said).toEqual([]);
  });
});
