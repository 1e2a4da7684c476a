import { connect, createServer, type Socket } from 'node:net';

/** The connections that hold closedPort's ports: unref'd, kept for the life of the process (a few per test file). */
const held = new Set<Socket>();

/**
 * A port on 127.0.0.1 that nothing listens on, and nothing else can listen on while this process lives: a real
 * ECONNREFUSED. A port found free and let go (the way this was done before) could be taken at once by another
 * process's listen, and the test would meet it instead of a refusal. The port is instead the local end of a
 * connection of our own: a connected socket holds its address (without SO_REUSEADDR, so another bind of it, by number
 * or the kernel's port 0, fails with EADDRINUSE), and a port that has a socket but no listener is refused. The
 * listener it connected to is closed at once; the two ends of the connection stay open, unref'd, until the process
 * ends. (Node cannot bind a TCP port without listening on it, which would do the same more plainly.)
 */
export async function closedPort(): Promise<number> {
  const listener = createServer();
  const accepted = new Promise<void>((resolve) => listener.once('connection', (socket: Socket) => resolve(hold(socket))));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port: listenerPort } = listener.address() as { port: number };
  const client = connect(listenerPort, '127.0.0.1');
  await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
  hold(client);
  // Closed only once it has taken the connection: one still in its queue would be reset, and the port let go.
  await accepted;
  listener.close(); // no more listening there; the accepted end stays open (close waits for it, so no callback)
  return client.localPort!;
}

function hold(socket: Socket): void {
  socket.on('error', () => undefined); // nothing is sent either way; an error would only end the hold
  socket.unref();
  held.add(socket);
}
