import { createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { closedPort } from '../support/ports.js';
import { describeFetchError, redactUrls } from '../../sinks/fetchFailure.js';

const SECRET = 'S3cr3tT0ken';


/** `use` with the port of a server that accepts connections and never answers; the server is closed after. */
async function withSilentServer<T>(use: (port: number) => Promise<T>): Promise<T> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => void sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await use((server.address() as AddressInfo).port);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** What Node's fetch really rejects with for this request. */
async function rejection(url: string, init: RequestInit = {}): Promise<unknown> {
  try {
    await fetch(url, { method: 'POST', body: 'x', signal: AbortSignal.timeout(2_000), ...init });
  } catch (error) {
    return error;
  }
  throw new Error('expected fetch to reject');
}

describe('describeFetchError with the rejections Node fetch really produces', () => {
  it.each<[string, () => Promise<unknown>, boolean, RegExp]>([
    ['credentials in the URL (message quotes the URL)', () => rejection(`https://hookuser:${SECRET}@127.0.0.1:8443/hook`), false, /could not be built \(TypeError\)/],
    ['an unparseable URL with a token', () => rejection(`not a url?token=${SECRET}`), false, /could not be built \(TypeError ERR_INVALID_URL\)/],
    ['an invalid header value', async () => rejection(`http://127.0.0.1:${await closedPort()}/`, { headers: { 'x-token': `${SECRET}\nInjected: 1` } }), false, /could not be built/],
    ['a port fetch refuses (9)', () => rejection(`http://127.0.0.1:9/x?token=${SECRET}`), false, /port fetch never connects to/],
    ['connection refused', async () => rejection(`http://127.0.0.1:${await closedPort()}/x?token=${SECRET}`), true, /^ECONNREFUSED$/],
    // A server that takes the connection and never answers: only the timeout can end the request. (A closed port with
    // a 0 ms timeout raced the refusal, and the refusal sometimes won.)
    ['a timeout', () => withSilentServer((port) => rejection(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(100) })), true, /^timed out$/],
  ])('%s', async (_name, make, retryable, reason) => {
    const failure = describeFetchError(await make());
    expect(failure.retryable).toBe(retryable);
    expect(failure.reason).toMatch(reason);
    expect(failure.reason).not.toContain(SECRET);
    expect(failure.reason).not.toMatch(/127\.0\.0\.1|hookuser|token/);
  });

  it.each<[string, unknown, boolean, string]>([
    ['a network failure without a code', new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { name: 'SocketError' }) }), true, 'SocketError'],
    ['a network failure with a plain cause', new TypeError('fetch failed', { cause: new Error(`connect to https://u:${SECRET}@h failed`) }), true, 'network error'],
    ['an odd code is not echoed', new TypeError('fetch failed', { cause: { code: `E ${SECRET}` } }), true, 'network error'],
    ['something thrown that is not an Error', `https://u:${SECRET}@h`, false, 'the request could not be built (string); check the URL and headers'],
  ])('%s', (_name, error, retryable, reason) => {
    expect(describeFetchError(error)).toEqual({ retryable, reason });
  });
});

describe('redactUrls', () => {
  it.each<[string, readonly string[], string]>([
    [`Request cannot be constructed from a URL that includes credentials: https://u:${SECRET}@host/hook`, [], 'Request cannot be constructed from a URL that includes credentials: [url]'],
    [`failed: http://127.0.0.1/x?token=${SECRET}, retrying`, [], 'failed: [url] retrying'],
    [`the token ${SECRET} was echoed`, [SECRET], 'the token [redacted] was echoed'],
    [`path /services/T/B/${SECRET} and /x`, [`/services/T/B/${SECRET}`, '/x'], 'path [redacted] and /x'],
    ['HTTP 503 from the receiver', ['https://h/hook'], 'HTTP 503 from the receiver'],
  ])('%s', (text, secrets, expected) => {
    expect(redactUrls(text, secrets)).toBe(expected);
  });
});
