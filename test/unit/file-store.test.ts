// `runwatch replay --state FILE`: baselines kept in one JSON file between replays.
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileBaselineStore } from '../../functions/baseline/file.js';
import { emptyBaseline } from '../../functions/baseline/state.js';
import { UNREADABLE_LOCK_STALE_MS } from '../../functions/baseline/lock.js';

const stateIn = (): string => join(mkdtempSync(join(tmpdir(), 'runwatch-state-')), 'state.json');

/** A state file of one service `p/l/s`: an empty baseline with `fields` set over it. */
const withService = (fields: Record<string, unknown>): string =>
  JSON.stringify({ format: 'runwatch-baseline', version: 1, services: { 'p/l/s': { ...emptyBaseline(), ...fields } } });

/** The id of a process that has ended (ids are reused only after the whole range went round). */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '']).pid!;

describe('FileBaselineStore', () => {
  it('keeps baselines from one open to the next, written at close', async () => {
    const path = stateIn();
    const first = await FileBaselineStore.open(path);
    first.transactSync('p/l/s', () => ({ next: { ...emptyBaseline(), lastChangeMs: 5 }, result: undefined }));
    await first.close();
    const second = await FileBaselineStore.open(path);
    expect(await second.get('p/l/s')).toMatchObject({ version: 1, lastChangeMs: 5 });
    await second.release();
  });

  it('two replays cannot use one state file at once (the last to finish would drop the other\'s baselines)', async () => {
    const path = stateIn();
    const first = await FileBaselineStore.open(path);
    await expect(FileBaselineStore.open(path)).rejects.toThrow(`state file ${path} is in use by another replay (process ${process.pid}); if none is running, delete ${path}.lock`);
    await first.close();
    const again = await FileBaselineStore.open(path); // free once closed
    await again.release();
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('release lets the file go unchanged (a replay that failed)', async () => {
    const path = stateIn();
    writeFileSync(path, JSON.stringify({ format: 'runwatch-baseline', version: 1, services: {} }));
    const store = await FileBaselineStore.open(path);
    store.transactSync('p/l/s', () => ({ next: emptyBaseline(), result: undefined }));
    await store.release();
    await store.release(); // twice is fine
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ format: 'runwatch-baseline', version: 1, services: {} });
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('a write-back that fails (here the path became a folder) leaves no temp file; release lets the lock go', async () => {
    const path = stateIn();
    const store = await FileBaselineStore.open(path);
    mkdirSync(path);
    writeFileSync(join(path, 'x'), '');
    await expect(store.close()).rejects.toThrow();
    await store.release();
    expect(readdirSync(dirname(path))).toEqual(['state.json']);
  });

  // What a signal during the write-back does (cli/signals.ts): the file ends whole, the lock and temp file gone.
  it('release while close writes lets the write finish first', async () => {
    const path = stateIn();
    writeFileSync(path, JSON.stringify({ format: 'runwatch-baseline', version: 1, services: {} }));
    const store = await FileBaselineStore.open(path);
    store.transactSync('p/l/s', () => ({ next: { ...emptyBaseline(), lastChangeMs: 5 }, result: undefined }));
    const closing = store.close();
    await store.release();
    expect(readdirSync(dirname(path))).toEqual(['state.json']);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ services: { 'p/l/s': { lastChangeMs: 5 } } });
    await closing;
  });

  it('close after release writes nothing (an interrupted replay still running)', async () => {
    const path = stateIn();
    const before = JSON.stringify({ format: 'runwatch-baseline', version: 1, services: {} });
    writeFileSync(path, before);
    const store = await FileBaselineStore.open(path);
    store.transactSync('p/l/s', () => ({ next: emptyBaseline(), result: undefined }));
    await store.release();
    await expect(store.close()).rejects.toThrow(`state file ${path} was let go without being written`);
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(readdirSync(dirname(path))).toEqual(['state.json']);
  });

  it.each([
    ['not JSON', '{', 'is not JSON; move it away to start afresh'],
    ['null', 'null', 'is not a runwatch baseline (format runwatch-baseline, version 1)'],
    ['another format', '{"format": "x", "version": 1, "services": {}}', 'is not a runwatch baseline'],
    ['a service without its histories', '{"format": "runwatch-baseline", "version": 1, "services": {"p/l/s": {"version": 1}}}', 'the baseline of "p/l/s" is not one runwatch wrote'],
    ['a service that is not an object', '{"format": "runwatch-baseline", "version": 1, "services": {"p/l/s": null}}', 'the baseline of "p/l/s" is not one runwatch wrote'],
    // Hand-edited files: each opened, and the replay then stopped at the service's first entry with a bare
    // TypeError ("out.push is not a function"), naming neither the file nor the service.
    ['a service whose optional history is no list', withService({ breakglass: 'oops' }), 'the baseline of "p/l/s" is not one runwatch wrote (version 1): its breakglass is not in the form this version writes; move the file away'],
    ['a service whose history has a point of no time', withService({ serviceAccount: [{ v: 'a@p.iam.gserviceaccount.com' }] }), 'the baseline of "p/l/s" is not one runwatch wrote (version 1): its serviceAccount is not in the form this version writes'],
    ['a service whose repository was first seen at no time', withService({ repositories: { 'gcr.io/p': 'yesterday' } }), 'the baseline of "p/l/s" is not one runwatch wrote (version 1): its repositories is not in the form this version writes'],
    ['a service whose open findings are no list', withService({ open: {} }), 'the baseline of "p/l/s" is not one runwatch wrote (version 1): its open is not in the form this version writes'],
    ['a service whose deletion time is no number', withService({ deletedAtMs: '2024-01-01' }), 'the baseline of "p/l/s" is not one runwatch wrote (version 1): its deletedAtMs is not in the form this version writes'],
    // The values of the histories and the items of the records: each opened, and the replay then stopped at the
    // service's first entry with a bare TypeError ("next.v.includes is not a function", "Cannot read properties of
    // null (reading 'length')", "b.lastIndexOf is not a function"), as the fields above did.
    ['a service whose public invokers are no list', withService({ publicInvokers: [{ t: 1, v: null }] }), 'its publicInvokers is not in the form this version writes'],
    ['a service whose serving identities are no list', withService({ serving: [{ t: 1, v: null }] }), 'its serving is not in the form this version writes'],
    ['a service whose member bindings are no list of members', withService({ memberBindings: [{ t: 1, v: [5] }] }), 'its memberBindings is not in the form this version writes'],
    ['a service whose template is no text', withService({ template: [{ t: 1, v: 5 }] }), 'its template is not in the form this version writes'],
    ['a service whose runtime service account is no text', withService({ serviceAccount: [{ t: 1, v: {} }] }), 'its serviceAccount is not in the form this version writes'],
    ['a service whose ingress is no text', withService({ ingress: [{ t: 1, v: null }] }), 'its ingress is not in the form this version writes'],
    ['a service whose completed rollout names its revision with no text', withService({ completed: [{ t: 1, revision: 5 }] }), 'its completed is not in the form this version writes'],
    ['a service whose open finding is no object', withService({ open: [null] }), 'its open is not in the form this version writes'],
    ['a service whose open finding holds no finding', withService({ open: [{ rule: 'service-account-change' }] }), 'its open is not in the form this version writes'],
    ['a service whose waiting deploy is no object', withService({ rollouts: [5] }), 'its rollouts is not in the form this version writes'],
  ])('refuses a state file that is %s, with a clear error, and leaves no lock', async (_name, text, message) => {
    const path = stateIn();
    writeFileSync(path, text);
    await expect(FileBaselineStore.open(path)).rejects.toThrow(message);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  // The shape checks above must not refuse what runwatch itself once wrote: the first day's state file (the five first
  // histories only) and the one before memberBindings (test/fixtures/*-SOURCES.md).
  it.each([
    ['state-first-version.json', 15],
    ['state-before-member-bindings.json', 2],
    ['state-f149c9b.json', 19],
    ['state-79fa215.json', 21],
  ])('opens %s, a state file an earlier version wrote, with its %i baselines', async (fixture, count) => {
    const path = stateIn();
    writeFileSync(path, readFileSync(new URL(`../fixtures/${fixture}`, import.meta.url)));
    const store = await FileBaselineStore.open(path);
    expect([...store.entries()]).toHaveLength(count);
    await store.release();
  });

  // The bare ENOENT/EISDIR named `FILE.lock`, a file the user never mentioned, or said nothing of what to do.
  it.each([
    ['in a folder that does not exist', (dir: string) => join(dir, 'missing', 'state.json'), (dir: string) => `its folder ${join(dir, 'missing')} does not exist`],
    ['a folder', (dir: string) => dir, (dir: string) => `it is a folder; give a file in it, e.g. --state ${join(dir, 'runwatch-state.json')}`],
    ['under a file', (dir: string) => (writeFileSync(join(dir, 'plain'), ''), join(dir, 'plain', 'state.json')), () => 'a part of its path is not a folder'],
    ['naming a folder that does not exist (a trailing slash)', (dir: string) => `${join(dir, 'missing')}/`, (dir: string) => `its folder ${join(dir, 'missing')} does not exist`],
  ])('a --state path %s: one line naming the state file and what is wrong; no lock left', async (_name, pathIn, reason) => {
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-state-'));
    const path = pathIn(dir);
    await expect(FileBaselineStore.open(path)).rejects.toThrow(`state file ${path}: ${reason(dir)}`);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });
});

describe('FileBaselineStore: a lock that is a folder', () => {
  it('says the lock is the folder, not the state file (which does not exist)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-state-'));
    const path = join(dir, 'state.json');
    mkdirSync(`${path}.lock`);
    await expect(FileBaselineStore.open(path)).rejects.toThrow(`state file ${path}: its lock ${path}.lock is a folder; remove it if no replay uses it`);
    expect(existsSync(path)).toBe(false);
  });
});

describe('FileBaselineStore: a lock whose replay no longer runs (killed, the machine lost)', () => {
  it.each([
    ['its process id', (pid: number): string => `${pid}\n`], // as locks were written before the host was
    ['its process id and this host', (pid: number): string => `${pid}\n${hostname()}\n`],
  ])('holding %s, is taken over', async (_name, text) => {
    const path = stateIn();
    const pid = deadPid();
    writeFileSync(`${path}.lock`, text(pid));
    writeFileSync(`${path}.${pid}.tmp`, '{"half'); // what the dead replay was writing back
    const store = await FileBaselineStore.open(path);
    expect(store.tookOverFrom).toBe(pid);
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(`${process.pid}\n${hostname()}\n`);
    expect(readdirSync(dirname(path))).toEqual(['state.json.lock']);
    await store.close();
    expect(readdirSync(dirname(path))).toEqual(['state.json']);
  });

  it.each([
    ['a running process (this one)', (): string => `${process.pid}\n${hostname()}\n`, `(process ${process.pid}); if none is running`],
    ['a process of another host (a shared disk: it cannot be looked up)', (): string => `${deadPid()}\nanother-host\n`, ' on another-host); if none is running'],
    ['nothing (a replay that has just created it)', (): string => '', 'is in use by another replay; if none is running'],
    ['no process id', (): string => 'x\n', 'is in use by another replay; if none is running'],
  ])('holding %s, is not taken over', async (_name, text, message) => {
    const path = stateIn();
    const before = text();
    writeFileSync(`${path}.lock`, before);
    await expect(FileBaselineStore.open(path)).rejects.toThrow(message);
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(before);
  });

  // A replay writes its lock's text in the call that creates it: a lock naming no process that is over a minute old
  // was left by a replay that died in that moment, and would otherwise block the state file for good.
  it.each([
    ['nothing', ''],
    ['no process id', 'x\n'],
  ])('holding %s for over UNREADABLE_LOCK_STALE_MS, is taken over', async (_name, text) => {
    const path = stateIn();
    writeFileSync(`${path}.lock`, text);
    const past = (Date.now() - UNREADABLE_LOCK_STALE_MS - 5_000) / 1000;
    utimesSync(`${path}.lock`, past, past);
    const store = await FileBaselineStore.open(path);
    expect(store.tookOverFrom).toBe('unreadable');
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(`${process.pid}\n${hostname()}\n`);
    await store.close();
    expect(readdirSync(dirname(path))).toEqual(['state.json']);
  });

  it('the CLI says it took over a lock that named no process', async () => {
    const path = stateIn();
    writeFileSync(`${path}.lock`, '');
    const past = (Date.now() - UNREADABLE_LOCK_STALE_MS - 5_000) / 1000;
    utimesSync(`${path}.lock`, past, past);
    const { runwatch } = await import('../support/cli.js');
    const run = await runwatch(['replay', '--quiet', '--state', path, '-'], '');
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`${path}.lock was left naming no process, over a minute ago (a replay that died creating it): taken over`);
  });

  it('a takeover that never ended (its guard left behind) is reported, not joined', async () => {
    const path = stateIn();
    writeFileSync(`${path}.lock`, `${deadPid()}\n`);
    writeFileSync(`${path}.lock.takeover`, `${deadPid()}\n`);
    await expect(FileBaselineStore.open(path)).rejects.toThrow(`another replay is taking over its stale lock; if none is running, delete ${path}.lock.takeover`);
  });

  // Replays started at once on the same stale lock: exactly one takes it over, the others find it held.
  // Six processes race in each of three rounds (a new stale lock each): the same six for every round, told the
  // round's state file on stdin, and the one that took the lock holds it until every other has answered.
  it('replays racing for one stale lock: one takes it', async () => {
    const module = new URL('../../dist/functions/baseline/file.js', import.meta.url).href;
    const script = `
      const { createInterface } = await import('node:readline');
      const { FileBaselineStore } = await import(${JSON.stringify(module)});
      let held;
      console.log('ready');
      for await (const line of createInterface({ input: process.stdin })) {
        if (line === 'release') {
          await held.release();
          held = undefined;
          console.log('released');
          continue;
        }
        try {
          held = await FileBaselineStore.open(line);
          console.log('took');
        } catch (error) {
          console.log(error.message.includes('is in use by another replay') ? 'refused' : error.message);
        }
      }
      process.exit(0);`;
    const replays = Array.from({ length: 6 }, () => spawn(process.execPath, ['--input-type=module', '-e', script]));
    const lines = replays.map(() => [] as string[]);
    const waiting: (() => void)[] = [];
    for (const [i, child] of replays.entries()) {
      let rest = '';
      child.stdout.on('data', (c: Buffer) => {
        const parts = (rest + c.toString()).split('\n');
        rest = parts.pop()!;
        lines[i]!.push(...parts);
        for (const wake of waiting.splice(0)) wake();
      });
    }
    const closed = replays.map((child) => new Promise((resolve) => child.on('close', resolve)));
    /** Resolves once every process has printed a line more than `before` (the line counts at a round's start). */
    const answered = async (before: readonly number[]): Promise<void> => {
      while (lines.some((l, i) => l.length <= before[i]!)) await new Promise<void>((wake) => waiting.push(wake));
    };
    try {
      await answered(replays.map(() => 0)); // every one started and waiting (ready): then all at once
      expect(lines.map((l) => l[0])).toEqual(replays.map(() => 'ready'));
      for (let round = 0; round < 3; round++) {
        const path = stateIn();
        writeFileSync(`${path}.lock`, `${deadPid()}\n`);
        const before = lines.map((l) => l.length);
        for (const child of replays) child.stdin.write(`${path}\n`); // all at once
        await answered(before);
        const answers = lines.map((l, i) => l[before[i]!]!);
        expect([...answers].sort()).toEqual(['refused', 'refused', 'refused', 'refused', 'refused', 'took']);
        // held until the others have tried: now let it go
        const holder = answers.indexOf('took');
        const held = lines.map((l) => l.length);
        replays[holder]!.stdin.write('release\n');
        while (lines[holder]!.length <= held[holder]!) await new Promise<void>((wake) => waiting.push(wake));
        expect(lines[holder]!.at(-1)).toBe('released');
        expect(readdirSync(dirname(path))).toEqual([]);
      }
    } finally {
      for (const child of replays) child.stdin.end();
      await Promise.all(closed);
    }
  }, 30_000);
});

describe('FileBaselineStore: the state file keeps its permissions', () => {
  // The write-back creates a temp file (umask: 0644 here) and renames it over the state: a state file its owner had
  // made private (chmod 600: it names principals, service accounts and services) came back readable by everyone.
  it.each([['600', 0o600], ['640', 0o640], ['664', 0o664]])('mode %s stays after a write-back', async (_name, mode) => {
    const path = stateIn();
    writeFileSync(path, JSON.stringify({ format: 'runwatch-baseline', version: 1, services: {} }));
    chmodSync(path, mode);
    const store = await FileBaselineStore.open(path);
    store.transactSync('p/l/s', () => ({ next: { ...emptyBaseline(), lastChangeMs: 5 }, result: undefined }));
    await store.close();
    expect(statSync(path).mode & 0o777).toBe(mode);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ services: { 'p/l/s': { lastChangeMs: 5 } } });
  });
});

describe('FileBaselineStore: a state file reached through a symbolic link', () => {
  /** One replay through `link`: a service's baseline written back. */
  async function writeBackThrough(link: string): Promise<void> {
    const store = await FileBaselineStore.open(link);
    store.transactSync('p/l/s', () => ({ next: { ...emptyBaseline(), lastChangeMs: 5 }, result: undefined }));
    await store.close();
  }

  // The write-back renamed its temp file over the link: the link became a file of its own and the file it led to
  // stayed as it was, so a replay given that file's own path reported every finding again.
  it('writes the file the link leads to, and the link stays a link', async () => {
    const path = stateIn();
    writeFileSync(path, JSON.stringify({ format: 'runwatch-baseline', version: 1, services: {} }));
    const link = join(dirname(path), 'link.json');
    symlinkSync(path, link);
    await writeBackThrough(link);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ services: { 'p/l/s': { lastChangeMs: 5 } } });
    expect(readdirSync(dirname(path)).sort()).toEqual(['link.json', 'state.json']);
  });

  // A link made before its first replay (ln -s /data/state.json state.json): the file it names does not exist yet.
  it('a link to a file not made yet: the first write-back makes that file, and the link stays a link', async () => {
    const path = stateIn();
    const link = join(dirname(path), 'link.json');
    symlinkSync(path, link);
    await writeBackThrough(link);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ services: { 'p/l/s': { lastChangeMs: 5 } } });
  });

  it('one lock for the link and the file it leads to: two replays cannot use the file at once through them', async () => {
    const path = stateIn();
    const link = join(dirname(path), 'link.json');
    writeFileSync(path, JSON.stringify({ format: 'runwatch-baseline', version: 1, services: {} }));
    symlinkSync(path, link);
    const first = await FileBaselineStore.open(path);
    await expect(FileBaselineStore.open(link)).rejects.toThrow(/is in use by another replay/);
    await first.release();
  });

  it('the CLI names the lock it took over: the one beside the file the link leads to', async () => {
    const path = stateIn();
    writeFileSync(path, JSON.stringify({ format: 'runwatch-baseline', version: 1, services: {} }));
    const link = join(mkdtempSync(join(tmpdir(), 'runwatch-state-link-')), 'link.json');
    symlinkSync(path, link);
    writeFileSync(`${path}.lock`, '');
    const past = (Date.now() - UNREADABLE_LOCK_STALE_MS - 5_000) / 1000;
    utimesSync(`${path}.lock`, past, past);
    const { runwatch } = await import('../support/cli.js');
    const run = await runwatch(['replay', '--quiet', '--state', link, '-'], '');
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`${path}.lock was left naming no process`);
  });
});
