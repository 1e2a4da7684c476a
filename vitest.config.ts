import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure, fast, no processes) and `integration` (real emulators and local protocol servers,
// started and stopped by test/support/emulators.ts). `npm test` runs them as two vitest processes at once: in one
// run vitest puts the files of a project without file parallelism in a group of their own, after every other
// file, so the integration files (which mostly wait on the emulators and Pub/Sub's redelivery timers) could not
// overlap the unit files (on 2 cores: 214 s in one run, ~150 s as two processes).
export default defineConfig({
  test: {
    // Two files at a time even on two cores (vitest's default there is one): unit files are mostly CPU, but the CLI
    // tests wait on the processes they start. Beside them the integration process, mostly waiting, slowed from ~135 s
    // to ~146 s (and to ~153 s beside one unit file at a time, which made the unit files the longer part: 169 s).
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/terraform/**/*.test.ts', 'test/sinks/**/*.test.ts'],
          environment: 'node',
          // The run's own TMPDIR, removed at the end (test/support/tmpdir.ts).
          globalSetup: ['test/support/tmpdir.ts'],
          // Files share their worker's modules (one process per worker, not one per file): a fresh process per file
          // loaded the same modules 132 times, ~0.5 s of CPU per file, which on 2 cores was most of the small files'
          // time (the 40 smallest files: 53-60 s alone with isolation, 19-24 s without). Safe as long as a file
          // restores what it changes (process.env, spies: vitest restores spies after each file itself). A file that
          // mocks a module (vi.mock) must load what the mock reaches afresh and end the mock with the file:
          // vi.resetModules() and a dynamic import, then vi.doUnmock in afterAll (test/unit/publish-close-order.test.ts).
          isolate: false,
          // A guard against hangs, not a speed check (the bench measures speed): tests that start the CLI a few times
          // took 4 s of vitest's 5 s default while another file ran beside them on two cores.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/support/tmpdir.ts', 'test/support/emulators.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Two files at a time (maxWorkers above), longest first from vitest's timing cache. The emulators are shared,
          // but every file keeps to names of its own (a random project per stack, random topic and subscription
          // prefixes, random Firestore collections), and the files mostly wait on the emulators' redelivery timers;
          // one at a time each file's ~2-8 s of imports also ran alone. Alone on 2 cores: 260 s one at a time,
          // 213 s and 182 s two at a time.
          fileParallelism: true,
        },
      },
    ],
  },
});
