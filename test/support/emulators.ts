// vitest globalSetup of the `integration` project: starts the Pub/Sub and Firestore emulators once for the run,
// hands their addresses to the test workers (provide/inject, and process.env, which the workers inherit), and
// stops them in teardown, checking that no process is left. Teardown runs even when tests fail; a crash of the
// vitest process itself is covered by the exit hook in functions/dev/emulators.ts.
//
// No emulator here: with CI=true the run FAILS (a CI without emulators must not look green); otherwise the
// integration tests are skipped and a banner says so (skipped, never silently passed).
import type { TestProject } from 'vitest/node';
import { EmulatorUnavailableError, startEmulators, type RunningEmulators } from '../../functions/dev/emulators.js';

export type EmulatorContext =
  | {
      readonly available: true;
      readonly pubsubHost: string;
      readonly firestoreHost: string;
      readonly projectId: string;
      /** Everything a client needs: PUBSUB_EMULATOR_HOST, FIRESTORE_EMULATOR_HOST, GOOGLE_CLOUD_PROJECT, ... */
      readonly env: Readonly<Record<string, string>>;
    }
  | { readonly available: false; readonly reason: string };

declare module 'vitest' {
  export interface ProvidedContext {
    runwatchEmulators: EmulatorContext;
  }
}

const PROJECT_ID = 'demo-runwatch';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let emulators: RunningEmulators;
  const started = Date.now();
  try {
    emulators = await startEmulators({ projectId: PROJECT_ID, heapMb: 256 });
  } catch (error) {
    if (!(error instanceof EmulatorUnavailableError)) throw error; // found but broken: always a failure
    if (process.env['CI'] === 'true') {
      throw new Error(`CI=true and the emulators are not available, so the integration tests cannot run.\n${error.message}`);
    }
    const banner = '!'.repeat(100);
    process.stderr.write(
      `\n${banner}\n!! INTEGRATION TESTS SKIPPED: ${error.message}\n!! (set CI=true to make this a failure)\n${banner}\n\n`,
    );
    project.provide('runwatchEmulators', { available: false, reason: error.message });
    return async () => undefined;
  }

  process.stderr.write(
    `[emulators] pubsub ${emulators.pubsub.host} (pid ${emulators.pubsub.pid}), firestore ${emulators.firestore.host} ` +
      `(pid ${emulators.firestore.pid}) ready in ${Date.now() - started} ms\n`,
  );
  // Workers are forked after global setup and inherit process.env; inject() is the explicit channel.
  const previous: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(emulators.env)) {
    previous[key] = process.env[key];
    process.env[key] = value;
  }
  project.provide('runwatchEmulators', {
    available: true,
    pubsubHost: emulators.pubsub.host,
    firestoreHost: emulators.firestore.host,
    projectId: PROJECT_ID,
    env: emulators.env,
  });

  return async () => {
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await emulators.stop(); // throws when a process group survived SIGKILL
    process.stderr.write('[emulators] stopped; no emulator process left\n');
  };
}
