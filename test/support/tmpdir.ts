// vitest globalSetup of both projects: the run's own temporary folder. Tests, and the CLI processes and emulators they
// start, make their folders with os.tmpdir(), which reads TMPDIR (the workers inherit process.env): pointed at a
// folder of this run, whatever they leave is removed in teardown. In the system's folder it piled up, about 500
// folders per `npm test` (test files that make one per case and leave it to the system).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const previous = process.env['TMPDIR'];
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-vitest-'));
  process.env['TMPDIR'] = dir;
  // Run last (vitest tears down in the reverse order of setup): after the emulators, whose log folders are in it.
  return () => {
    if (previous === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = previous;
    rmSync(dir, { recursive: true, force: true });
  };
}
