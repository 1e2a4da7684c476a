// The lock of a state file (`replay --state FILE`): `FILE.lock`, created only when absent, holding the process id
// and host name of the replay that has the file. A replay that died without letting it go (killed, the machine
// lost) left it behind; its process is gone, so the lock is stale and the next replay takes it over. Two replays
// may find the same stale lock at once: a second file, `FILE.lock.takeover` (also created only when absent),
// lets one of them at a time look again and replace it, so only one ever takes it over.
import { hostname } from 'node:os';
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long to wait for another replay's takeover to end before giving up (it takes a few milliseconds). */
const TAKEOVER_WAIT_MS = 2000;

/**
 * A lock naming no process (empty, or not written by a replay) is another replay's only for the moment between
 * creating the file and writing its text, which is one call; older than this, it was left by a replay that died in
 * that moment (killed, the disk full), and is taken over like the lock of a process that no longer runs.
 */
export const UNREADABLE_LOCK_STALE_MS = 60_000;

/** Who left a lock that was taken over: the process id, or `unreadable` for a lock that named none. */
export type StaleHolder = number | 'unreadable';

interface Holder {
  readonly pid: number;
  /** Undefined in locks written before the host was (they were all this host's). */
  readonly host: string | undefined;
}

function lockText(): string {
  return `${process.pid}\n${hostname()}\n`;
}

function holderOf(text: string): Holder | undefined {
  const [pid, host] = text.split('\n');
  return pid !== undefined && /^[1-9][0-9]{0,9}$/.test(pid) ? { pid: Number(pid), host: host || undefined } : undefined;
}

/**
 * True only when the holder is known not to run: a process of this host that no longer exists. A process of
 * another host (a state file on a shared disk) cannot be looked up, and counts as running.
 */
function isGone(holder: Holder): boolean {
  if (holder.host !== undefined && holder.host !== hostname()) return false;
  try {
    process.kill(holder.pid, 0); // signal 0: only whether the process exists
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'; // EPERM: it exists, as another user's
  }
}

/** Creates `path` with `text` unless it exists; false when it does. */
async function createExclusive(path: string, text: string): Promise<boolean> {
  try {
    await writeFile(path, text, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** The text of `path`, undefined when it does not exist. */
async function readIfThere(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function inUse(path: string, text: string): Error {
  const holder = holderOf(text);
  const who = holder ? ` (process ${holder.pid}${holder.host !== undefined && holder.host !== hostname() ? ` on ${holder.host}` : ''})` : '';
  return new Error(`state file ${path} is in use by another replay${who}; if none is running, delete ${path}.lock`);
}

/** True when `lock` was last written UNREADABLE_LOCK_STALE_MS ago or longer (false when it is gone). */
async function leftLongAgo(lock: string): Promise<boolean> {
  try {
    return Date.now() - (await stat(lock)).mtimeMs >= UNREADABLE_LOCK_STALE_MS;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Who left the lock whose text is `text`, when it is stale (see isGone, UNREADABLE_LOCK_STALE_MS); else undefined. */
async function staleHolder(lock: string, text: string): Promise<StaleHolder | undefined> {
  const holder = holderOf(text);
  if (holder) return isGone(holder) ? holder.pid : undefined;
  return (await leftLongAgo(lock)) ? 'unreadable' : undefined;
}

/**
 * Locks the state file `path`. Returns who left a stale lock that was taken over (a replay that no longer runs),
 * else undefined; throws when a replay that runs (or may run) holds it.
 */
export async function lockStateFile(path: string): Promise<StaleHolder | undefined> {
  const lock = `${path}.lock`;
  const deadline = Date.now() + TAKEOVER_WAIT_MS;
  for (;;) {
    if (await createExclusive(lock, lockText())) return undefined;
    const text = await readIfThere(lock);
    if (text === undefined) continue; // let go since: try again
    const stale = await staleHolder(lock, text);
    if (stale === undefined) throw inUse(path, text);
    const outcome = await takeOver(path, text);
    if (outcome === 'taken') return stale;
    if (outcome === 'busy') {
      if (Date.now() > deadline) throw new Error(`state file ${path}: another replay is taking over its stale lock; if none is running, delete ${lock}.takeover`);
      await sleep(20);
    }
    // 'changed': another replay took it over or let it go meanwhile; look again.
  }
}

/** Replaces the stale lock whose text is `staleText`, if it still is the lock, while no other replay may. */
async function takeOver(path: string, staleText: string): Promise<'taken' | 'busy' | 'changed'> {
  const lock = `${path}.lock`;
  const guard = `${lock}.takeover`;
  if (!(await createExclusive(guard, lockText()))) return 'busy';
  try {
    // Under the guard no other replay replaces the lock, but one may have done so between the first look and now
    // (or let it go, and a new replay created one that it has not written yet: its age tells it apart).
    const text = await readIfThere(lock);
    const stale = text === staleText ? await staleHolder(lock, text) : undefined;
    if (stale === undefined) return 'changed';
    // Written beside it and renamed over it: the lock never goes missing, so no replay can create one meanwhile.
    const temp = `${lock}.${process.pid}.tmp`;
    try {
      await writeFile(temp, lockText());
      await rename(temp, lock);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    if (stale !== 'unreadable') await unlink(`${path}.${stale}.tmp`).catch(() => undefined); // the write-back the dead replay left, if any
    return 'taken';
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

/** Lets the lock of `path` go. */
export async function unlockStateFile(path: string): Promise<void> {
  await unlink(`${path}.lock`).catch(() => undefined);
}
