// Baselines in one JSON file (`runwatch replay --state FILE`), so successive replays continue where the last one
// stopped. Loaded whole at open, written atomically at close (a temp file flushed to disk, renamed into place, the
// folder flushed). A lock file next to it keeps two replays from using it at once: each would write back only its
// own view, and the last to finish would win. A lock whose replay no longer runs is taken over (lock.ts).
import { chmod, lstat, open, readFile, readlink, realpath, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { lockStateFile, unlockStateFile, type StaleHolder } from './lock.js';
import { MemoryBaselineStore } from './memory.js';
import { asObject, type JsonObject } from '../audit/json.js';
import { misshapenField } from './shape.js';
import { HISTORY_FIELDS, type ServiceBaseline } from './state.js';

interface StateFile {
  readonly format: 'runwatch-baseline';
  readonly version: 1;
  readonly services: Record<string, ServiceBaseline>;
}

/** The first service whose baseline does not have the shape this version writes, and the field when one is to blame. */
function misshapenService(services: JsonObject): { readonly key: string; readonly field?: string } | undefined {
  for (const [key, value] of Object.entries(services)) {
    const baseline = asObject(value);
    if (!baseline || baseline['version'] !== 1 || typeof baseline['lastChangeMs'] !== 'number' || !asObject(baseline['repositories'])) return { key };
    if (HISTORY_FIELDS.some((history) => !Array.isArray(baseline[history]))) return { key };
    const field = misshapenField(baseline);
    if (field !== undefined) return { key, field };
  }
  return undefined;
}

export class FileBaselineStore extends MemoryBaselineStore {
  private locked = true;
  /** Set by release: no write-back starts after it. */
  private released = false;
  /** The write-back, once close was called. */
  private closing: Promise<void> | undefined;
  private constructor(
    /** The state file: the path given, or the file it leads to when it is a symbolic link. Its lock is `${path}.lock`. */
    readonly path: string,
    initial: Record<string, ServiceBaseline>,
    /** Who left the stale lock this one took over: a dead replay's process id, or `unreadable` (see lock.ts). */
    readonly tookOverFrom: StaleHolder | undefined,
  ) {
    super(Object.entries(initial));
  }

  /** Opens (or starts) the state file, locking it; `close` writes it back, `release` lets it go unchanged. */
  static async open(given: string): Promise<FileBaselineStore> {
    const path = await throughLinks(given);
    let tookOverFrom: StaleHolder | undefined;
    try {
      tookOverFrom = await lockStateFile(path);
    } catch (error) {
      throw stateFileError(path, error, 'lock');
    }
    try {
      return new FileBaselineStore(path, await FileBaselineStore.read(path), tookOverFrom);
    } catch (error) {
      await unlockStateFile(path);
      throw stateFileError(path, error, 'read');
    }
  }

  private static async read(path: string): Promise<Record<string, ServiceBaseline>> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`state file ${path} is not JSON; move it away to start afresh`);
    }
    const file = asObject(parsed);
    const services = asObject(file?.['services']);
    if (!file || file['format'] !== 'runwatch-baseline' || file['version'] !== 1 || !services) {
      throw new Error(`state file ${path} is not a runwatch baseline (format runwatch-baseline, version 1)`);
    }
    const bad = misshapenService(services);
    if (bad !== undefined) {
      const which = bad.field === undefined ? '' : `: its ${bad.field} is not in the form this version writes`;
      throw new Error(`state file ${path}: the baseline of ${JSON.stringify(bad.key)} is not one runwatch wrote (version 1)${which}; move the file away to start afresh`);
    }
    return services as unknown as StateFile['services'];
  }

  /**
   * Services with a rollout due by `byMs`, of the whole file: a deploy kept waiting by an earlier replay belongs to
   * a service this replay may never see again, and still has to be judged once its wait runs out.
   */
  dueKeys(byMs: number): Promise<readonly string[]> {
    const keys: string[] = [];
    for (const [key, baseline] of this.entries()) if (baseline.dueAtMs !== undefined && baseline.dueAtMs <= byMs) keys.push(key);
    return Promise.resolve(keys);
  }

  /** Writes the baselines back and lets the file go; once only, and never after release. */
  override close(): Promise<void> {
    if (this.closing) return this.closing;
    if (this.released) return Promise.reject(new Error(`state file ${this.path} was let go without being written`));
    this.closing = this.writeBack();
    return this.closing;
  }

  private async writeBack(): Promise<void> {
    const state: StateFile = { format: 'runwatch-baseline', version: 1, services: Object.fromEntries(this.entries()) };
    const temp = `${this.path}.${process.pid}.tmp`;
    // The file replaced keeps its permissions: a state file made private (it names principals, service accounts and
    // services) must not come back readable by all (the temp file is created with the umask's mode). Created with
    // the mode already, so the data is never readable by more than it will be; chmod then sets what the umask took.
    const mode = await existingMode(this.path);
    try {
      // Flushed before the rename: some file systems (XFS, btrfs, ext4 without auto_da_alloc) may commit the rename
      // before the data, so a crash soon after left an empty state file where the old one had been.
      const handle = await open(temp, 'w', mode);
      try {
        await handle.writeFile(`${JSON.stringify(state)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (mode !== undefined) await chmod(temp, mode);
      await rename(temp, this.path);
    } catch (error) {
      await unlink(temp).catch(() => undefined); // a write that failed (a full disk) leaves no temp file behind
      throw error;
    }
    await syncFolder(dirname(this.path)); // the rename itself, which lives in the folder
    await this.unlock();
  }

  /**
   * Lets the file go without writing (a replay that failed, or was interrupted); safe to call again, also while
   * `close` writes: that write is let finish (the file is either as it was or wholly new, never half of it) and
   * no write starts after it.
   */
  async release(): Promise<void> {
    this.released = true;
    await this.closing?.catch(() => undefined);
    await this.unlock();
  }

  private async unlock(): Promise<void> {
    if (!this.locked) return;
    this.locked = false;
    await unlockStateFile(this.path);
  }
}

/**
 * The file a `--state` path names: the one a symbolic link leads to, so that the write-back (a rename) replaces
 * that file rather than the link, and the lock sits beside it, one for every path that leads there. A path that is
 * no link (or names nothing yet) is kept as given, so messages name it as the user wrote it; a link to a file not made
 * yet leads to the path of that file.
 */
async function throughLinks(path: string, hops = 0): Promise<string> {
  try {
    if (!(await lstat(path)).isSymbolicLink()) return path;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return path;
    throw stateFileError(path, error, 'lock');
  }
  try {
    return await realpath(path);
  } catch (error) {
    // A link to a file not made yet (`ln -s /data/state.json` before the first replay): the file it names, which the
    // first write-back makes, rather than the link, which the rename would replace. Followed link by link (as far
    // as the system's own limit on links in a path, 40 on Linux).
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || hops >= MAX_LINK_HOPS) throw stateFileError(path, error, 'lock');
    const target = await readlink(path).catch((cause: unknown) => {
      throw stateFileError(path, cause, 'lock');
    });
    return throughLinks(resolve(dirname(path), target), hops + 1);
  }
}

const MAX_LINK_HOPS = 40;

/** The permission bits of the file at `path`; undefined when there is none yet (a new file takes the umask's). */
async function existingMode(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mode & 0o777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * A file-system failure on the state file (or its lock) as one line that names the file and says what is wrong:
 * the bare `ENOENT: ... open 'FILE.lock'` named a file the user never mentioned. Errors already worded are kept.
 */
function stateFileError(path: string, error: unknown, step: 'lock' | 'read'): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const denied = `permission denied (it and ${path}.lock must be readable and writable, and their folder writable: the state is written to a temporary file there and renamed)`;
  const reason: Record<string, string> = {
    // The folder the lock is created in: `dirname(path)` of `state/` is `.`, which exists.
    ENOENT: `its folder ${dirname(`${path}.lock`)} does not exist`,
    ENOTDIR: `a part of its path is not a folder`,
    // While locking, only the lock can be a folder (the state file is read after it).
    EISDIR:
      step === 'lock'
        ? `its lock ${path}.lock is a folder; remove it if no replay uses it`
        : 'it is a folder; give a file in it, e.g. --state ' + join(path, 'runwatch-state.json'),
    EACCES: denied,
    EPERM: denied,
    EROFS: 'it is on a read-only file system',
  };
  const why = code !== undefined ? reason[code] : undefined;
  return why ? new Error(`state file ${path}: ${why}`) : error instanceof Error ? error : new Error(String(error));
}

/**
 * Flushes a folder's entries (a rename in it) to disk. Where a folder cannot be opened or flushed (Windows, some
 * network file systems refuse fsync on a directory: EISDIR, EINVAL, EPERM), the rename stands as the system keeps it.
 */
async function syncFolder(folder: string): Promise<void> {
  let handle;
  try {
    handle = await open(folder, 'r');
    await handle.sync();
  } catch {
    // Nothing more can be done for it; the data itself was flushed.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
