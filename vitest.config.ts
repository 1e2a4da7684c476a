import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure, fast, no processes) and `integration` (real emulators and local protocol servers,
// started and stopped by test/support/emulators.ts). `npm test` runs both.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/terraform/**/*.test.ts', 'test/sinks/**/*.test.ts'],
          environment: 'node',
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
