// emulatorAnswers checks that something listens at PUBSUB_EMULATOR_HOST before publishing. It must read the
// variable as the client library reads it (@google-cloud/pubsub determineBaseUrl_: a leading `http://` or `https://`
// dropped, trailing slashes too): else an emulator the client reaches is said not to answer, and publish, replay
// --publish and redrive refuse to run.
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { emulatorAnswers } from '../../functions/pubsub/publisher.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A port on 127.0.0.1 where something accepts connections. */
async function listening(): Promise<number> {
  server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

describe('emulatorAnswers reads PUBSUB_EMULATOR_HOST as the client library does', () => {
  it.each([
    ['HOST:PORT', (port: number) => `127.0.0.1:${port}`],
    ['HOST:PORT/', (port: number) => `127.0.0.1:${port}/`],
    ['http://HOST:PORT', (port: number) => `http://127.0.0.1:${port}`],
    ['https://HOST:PORT/', (port: number) => `https://127.0.0.1:${port}/`],
  ])('%s: an emulator listening there answers', async (_form, host) => {
    const port = await listening();
    await expect(emulatorAnswers(host(port))).resolves.toBeUndefined();
  });
});
