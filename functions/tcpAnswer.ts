// Whether anything accepts a TCP connection at an address: the CLI's check that an emulator it was pointed at is up.
// Where nothing listens, the client libraries retry each call for seconds to minutes and say nothing useful.
import { connect } from 'node:net';

/** How long the emulator's port may take to accept a connection. */
export const EMULATOR_CONNECT_MS = 3_000;

/**
 * Why nothing accepted a TCP connection at `host`:`port` within `timeoutMs` (the error code, or "no answer within N
 * s"), or undefined once something did.
 */
export function tcpConnectProblem(host: string, port: number, timeoutMs = EMULATOR_CONNECT_MS): Promise<string | undefined> {
  return new Promise<string | undefined>((resolve) => {
    const socket = connect({ host, port });
    const done = (outcome: string | undefined): void => {
      socket.destroy();
      resolve(outcome);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs / 1000} s`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
  });
}
