// `npm run dev` (dist/functions/dev/main.js) in a process of its own, on synthetic stand-ins for the emulators: a
// fake SDK root and java whose "emulators" record their pid and sleep, never ready. What dev does before and while
// it starts can be watched without the real emulators; `npm run build` first.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEV_MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/functions/dev/main.js');

/** A fake SDK root and java under `dir`; their emulators write their pid to `pidFiles` and sleep, never ready. */
export function fakeSdk(dir: string): { env: NodeJS.ProcessEnv; pidFiles: string[] } {
  const sdk = join(dir, 'sdk');
  const pubsubScript = join(sdk, 'platform/pubsub-emulator/bin/cloud-pubsub-emulator');
  const firestoreJar = join(sdk, 'platform/cloud-firestore-emulator/cloud-firestore-emulator.jar');
  mkdirSync(dirname(pubsubScript), { recursive: true });
  mkdirSync(dirname(firestoreJar), { recursive: true });
  const pidFiles = [join(dir, 'pubsub.pid'), join(dir, 'firestore.pid')];
  writeFileSync(pubsubScript, `#!/bin/sh\n# synthetic-pubsub-emulator\necho $$ > '${pidFiles[0]}'\nexec /bin/sleep 120\n`);
  writeFileSync(firestoreJar, '');
  const java = join(dir, 'synthetic-java');
  writeFileSync(java, `#!/bin/sh\n[ "$1" = "-version" ] && exit 0\necho $$ > '${pidFiles[1]}'\nexec /bin/sleep 120\n`);
  chmodSync(pubsubScript, 0o755);
  chmodSync(java, 0o755);
  // PATH without gcloud: the SDK is the fake one, found through CLOUDSDK_ROOT.
  return { env: { PATH: join(dir, 'no-bin'), HOME: dir, TMPDIR: dir, CLOUDSDK_ROOT: sdk, JAVA: java }, pidFiles };
}
