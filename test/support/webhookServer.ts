// A scriptable HTTP receiver on 127.0.0.1 (port 0): the webhook sink's counterpart, and the base the Slack and
// PagerDuty fakes build on. Every request is recorded; replies come from a script queue, else from the default.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly receivedAtMs: number;
}

export type ScriptedReply =
  | {
      readonly status: number;
      readonly headers?: Readonly<Record<string, string>>;
      readonly body?: string | object;
      /** Send the headers at once, then the body one byte every this many ms (a slow link): never idle for long. */
      readonly trickleMs?: number;
    }
  /** Never answer (until close): the client's timeout must fire. */
  | { readonly hang: true }
  /** Drop the connection without an answer: a network error for the client. */
  | { readonly destroy: true };

export interface HttpReceiver {
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  readonly requests: ReceivedRequest[];
  /** Queue replies for the next requests, in order; afterwards the default reply applies again. */
  script(...replies: ScriptedReply[]): void;
  /** Forget the requests received and any replies still queued (between tests). */
  reset(): void;
  close(): Promise<void>;
}

export async function startHttpReceiver(defaultReply: (request: ReceivedRequest) => ScriptedReply): Promise<HttpReceiver> {
  const requests: ReceivedRequest[] = [];
  const queue: ScriptedReply[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAtMs: Date.now(),
      };
      requests.push(request);
      answer(res, queue.shift() ?? defaultReply(request));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    script: (...replies) => queue.push(...replies),
    reset: () => {
      requests.length = 0;
      queue.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        // Hanging requests and keep-alive sockets would keep the server (and vitest) alive.
        for (const socket of sockets) socket.destroy();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function answer(res: ServerResponse, reply: ScriptedReply): void {
  if ('hang' in reply) return;
  if ('destroy' in reply) {
    res.socket?.destroy();
    return;
  }
  const body = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
  const contentType = typeof reply.body === 'object' ? { 'content-type': 'application/json' } : {};
  res.writeHead(reply.status, { ...contentType, ...reply.headers });
  if (!reply.trickleMs) {
    res.end(body);
    return;
  }
  res.flushHeaders();
  const bytes = Buffer.from(body);
  let sent = 0;
  const timer = setInterval(() => {
    if (res.destroyed || sent >= bytes.length) {
      clearInterval(timer);
      if (!res.destroyed) res.end();
      return;
    }
    res.write(bytes.subarray(sent, sent + 1));
    sent += 1;
  }, reply.trickleMs);
  timer.unref();
}

// ---------------------------------------------------------------------------------------------------------------
// The webhook receiver: checks the signature the way a real receiver should.

export interface WebhookServer extends HttpReceiver {
  readonly url: string;
  /** The signing secret (WEBHOOK_SECRET): tests check it never shows in logs, findings or dead letters. */
  readonly secret: string;
  /** Whether a received request carries a valid X-Runwatch-Signature for `secret`. */
  verify(request: ReceivedRequest): boolean;
}

export async function startWebhookServer(secret: string): Promise<WebhookServer> {
  const verify = (request: ReceivedRequest): boolean => {
    const header = request.headers['x-runwatch-signature'];
    if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
    const expected = createHmac('sha256', secret).update(request.body, 'utf8').digest();
    const given = Buffer.from(header.slice('sha256='.length), 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const receiver = await startHttpReceiver((request) => (request.path === '/hooks/runwatch' && verify(request) ? { status: 204 } : { status: 401, body: 'bad signature' }));
  return { ...receiver, url: `${receiver.origin}/hooks/runwatch`, secret, verify };
}
