// closedPort (test/support/ports.ts) gives the tests of a refused connection (the sinks' ECONNREFUSED, the Pub/Sub
// client's UNAVAILABLE) a port on 127.0.0.1 that nothing listens on. A port found free and let go can be taken at
// any moment by another process (the kernel hands it out again to the next listen on port 0, or one binds it by
// number), and the test then meets that process instead of a refusal: the port must stay refused while it is used.
import { connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { closedPort } from '../support/ports.js';

/** The error code of a connection to 127.0.0.1:`port` (undefined: it connected). */
function connectOutcome(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
  });
}

/** The error code of a server listening on `port` of `host` (undefined: it could, and was closed again). */
function listenOutcome(port: number, host: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
    server.listen(port, host, () => server.close(() => resolve(undefined)));
  });
}

describe('closedPort', () => {
  it('refuses connections', async () => {
    expect(await connectOutcome(await closedPort())).toBe('ECONNREFUSED');
  });

  it.each(['127.0.0.1', '0.0.0.0'])('cannot be taken by a server listening on it by number (%s), so it stays refused', async (host) => {
    const port = await closedPort();
    expect(await listenOutcome(port, host)).toBe('EADDRINUSE');
    expect(await connectOutcome(port)).toBe('ECONNREFUSED');
  });

  it('is a different port each time', async () => {
    const ports = await Promise.all(Array.from({ length: 10 }, () => closedPort()));
    expect(new Set(ports).size).toBe(10);
  });
});
