import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure, fast, no processes) and `integration` (real emulators and local protocol servers,
// started and stopped by test/support/emulators.ts). `npm test` runs both.
export default defineConfig({
  test: {
    // Two files at a time even on two cores (vitest's default there is one): the integration files mostly wait on
    // the emulators and on Pub/Sub's redelivery timers, and unit files fill that time.
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/terraform/**/*.test.ts', 'test/sinks/**/*.test.ts'],
          environment: 'node',
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
          globalSetup: ['test/support/emulators.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // The emulators are shared by every file: run files one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
