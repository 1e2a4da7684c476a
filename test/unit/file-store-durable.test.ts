// `--state FILE` is written to a temporary file and renamed over the old one. Without an fsync of the data before the
// rename, a crash or power loss soon after can leave the new name pointing at an empty or partial file on file
// systems that commit the rename first (ext4 without auto_da_alloc, XFS, btrfs): every baseline gone, the next
// replay refusing the file. The data is flushed before the rename, and the folder after it (the rename itself).
import { readlinkSync, existsSync, mkdtempSync, realpathSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FileBaselineStore } from '../../functions/baseline/file.js';
import { emptyBaseline } from '../../functions/baseline/state.js';

// File handles are observed through the prototype all of them share; what each flush was for is read from the
// descriptor's link in /proc (Linux).
const onLinux = existsSync('/proc/self/fd');

afterEach(() => {
  vi.restoreAllMocks();
});

describe.runIf(onLinux)('FileBaselineStore: the write-back survives a crash', () => {
  it('flushes the new state before renaming it into place, then the folder', async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'runwatch-state-')));
    const path = join(dir, 'state.json');
    const probe = await open(join(dir, 'probe'), 'w');
    const prototype = Object.getPrototypeOf(probe) as { sync: () => Promise<void>; datasync: () => Promise<void> };
    await probe.close();
    const flushed: { path: string; existsUnderItsName: boolean }[] = [];
    for (const method of ['sync', 'datasync'] as const) {
      const original = prototype[method];
      vi.spyOn(prototype, method).mockImplementation(async function (this: { fd: number }) {
        const target = readlinkSync(`/proc/self/fd/${this.fd}`);
        flushed.push({ path: target, existsUnderItsName: existsSync(target) });
        return original.call(this);
      });
    }
    const store = await FileBaselineStore.open(path);
    store.transactSync('p/l/s', () => ({ next: { ...emptyBaseline(), lastChangeMs: 5 }, result: undefined }));
    await store.close();
    const temp = `${path}.${process.pid}.tmp`;
    // The temporary file, flushed while it still had its own name (before the rename), then the folder.
    expect(flushed.map((f) => f.path)).toEqual([temp, dirname(path)]);
    expect(flushed[0]!.existsUnderItsName).toBe(true);
    const again = await FileBaselineStore.open(path);
    expect(await again.get('p/l/s')).toMatchObject({ lastChangeMs: 5 });
    await again.release();
  });
});
