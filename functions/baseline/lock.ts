// The lock of a state file (`replay --state FILE`): `FILE.lock`, created only when absent, holding the process id
// and host name of the replay that has the file. A replay that died without letting it go (killed, the machine
// lost) left it behind; its process is gone, so the lock is stale and the next replay takes it over. Two replays
// may find the same stale lock at once: a second file, `FILE.lock.takeover` (also created only when absent),
// lets one of them at a time look again and replace it, so only one ever takes it over.
import { hostname } from 'node:os';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long to wait for another replay's takeover to end before giving up (it takes a few milliseconds). */
const TAKEOVER_WAIT_MS = 2000;

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

/**
 * Locks the state file `path`. Returns the process id of a replay that no longer runs when its stale lock was taken
 * over, else undefined; throws when a replay that runs (or may run) holds it.
 */
export async function lockStateFile(path: string): Promise<number | undefined> {
  const lock = `${path}.lock`;
  const deadline = Date.now() + TAKEOVER_WAIT_MS;
  for (;;) {
    if (await createExclusive(lock, lockText())) return undefined;
    const text = await readIfThere(lock);
    if (text === undefined) continue; // let go since: try again
    const holder = holderOf(text);
    if (!holder || !isGone(holder)) throw inUse(path, text);
    const outcome = await takeOver(path, text);
    if (outcome === 'taken') return holder.pid;
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
    // Under the guard no other replay replaces the lock, but one may have done so between the first look and now.
    const text = await readIfThere(lock);
    const holder = text === staleText ? holderOf(text) : undefined;
    if (!holder || !isGone(holder)) return 'changed';
    // Written beside it and renamed over it: the lock never goes missing, so no replay can create one meanwhile.
    const temp = `${lock}.${process.pid}.tmp`;
    try {
      await writeFile(temp, lockText());
      await rename(temp, lock);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    await unlink(`${path}.${holder.pid}.tmp`).catch(() => undefined); // the write-back the dead replay left, if any
    return 'taken';
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

/** Lets the lock of `path` go. */
export async function unlockStateFile(path: string): Promise<void> {
  await unlink(`${path}.lock`).catch(() => undefined);
}
