// Every replay worker thread loads its modules afresh before its first line (README, "Worker threads start cold"):
// what a worker's module imports, however indirectly, each thread of every replay pays for. The output formats
// (format.ts: string-width and a grapheme segmenter, about 50 ms of a worker's start) run on the main thread only.
// Read from the sources' import statements: the module graph the compiled workers load.
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The source files and the packages `file` reaches through its static imports (type-only imports load nothing). */
function importGraph(file: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (path: string): void => {
    if (files.has(path)) return;
    files.add(path);
    const source = readFileSync(path, 'utf8');
    for (const match of source.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?'([^']+)';/gm)) {
      const [, typeOnly, specifier] = match;
      if (typeOnly || specifier!.startsWith('node:')) continue;
      if (specifier!.startsWith('.')) visit(join(dirname(path), specifier!.replace(/\.js$/, '.ts')));
      else packages.add(specifier!);
    }
  };
  visit(join(ROOT, file));
  return { files: new Set([...files].map((f) => relative(ROOT, f))), packages };
}

describe('the replay worker threads load what they run, not the output formats', () => {
  it.each(['functions/replay/engineWorker.ts', 'functions/replay/worker.ts'])('%s', (worker) => {
    const { files, packages } = importGraph(worker);
    expect(files.size).toBeGreaterThan(5); // the graph was read
    expect([...files]).not.toContain('functions/replay/format.ts');
    expect([...packages]).not.toContain('string-width');
  });

  it('the CLI still loads the output formats (the graph reader finds them where they are)', () => {
    const { files, packages } = importGraph('functions/cli/commands/replay.ts');
    expect([...files]).toContain('functions/replay/format.ts');
    expect([...packages]).toContain('string-width');
  });
});
