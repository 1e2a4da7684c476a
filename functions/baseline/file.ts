// Baselines in one JSON file (`runwatch replay --state FILE`), so successive replays continue where the last one
// stopped. Loaded whole at open, written atomically (temp file + rename) at close.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { MemoryBaselineStore } from './memory.js';
import type { ServiceBaseline } from './state.js';

interface StateFile {
  readonly format: 'runwatch-baseline';
  readonly version: 1;
  readonly services: Record<string, ServiceBaseline>;
}

export class FileBaselineStore extends MemoryBaselineStore {
  private constructor(
    private readonly path: string,
    initial: Record<string, ServiceBaseline>,
  ) {
    super(Object.entries(initial));
  }

  static async open(path: string): Promise<FileBaselineStore> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new FileBaselineStore(path, {});
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`state file ${path} is not JSON; move it away to start afresh`);
    }
    const file = parsed as Partial<StateFile>;
    if (file.format !== 'runwatch-baseline' || file.version !== 1 || typeof file.services !== 'object' || file.services === null) {
      throw new Error(`state file ${path} is not a runwatch baseline (format runwatch-baseline, version 1)`);
    }
    return new FileBaselineStore(path, file.services);
  }

  override async close(): Promise<void> {
    const state: StateFile = { format: 'runwatch-baseline', version: 1, services: Object.fromEntries(this.entries()) };
    const temp = `${this.path}.${process.pid}.tmp`;
    await writeFile(temp, `${JSON.stringify(state)}\n`);
    await rename(temp, this.path);
  }
}
