// A local stand-in for the Cloud Logging API v2 `entries:list` (REST): it records each request and answers with
// what the test scripted: pages of entries chained by `nextPageToken`, or Google's error JSON
// (`{"error":{"code":429,"message":"...","status":"RESOURCE_EXHAUSTED"}}`). Listens on 127.0.0.1, a free port.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ListRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: {
    readonly resourceNames?: string[];
    readonly filter?: string;
    readonly orderBy?: string;
    readonly pageSize?: number;
    readonly pageToken?: string;
  };
}

export type Reply =
  | { readonly kind: 'page'; readonly entries: readonly unknown[]; readonly nextPageToken?: string }
  | { readonly kind: 'error'; readonly code: number; readonly status: string; readonly message: string }
  | { readonly kind: 'raw'; readonly httpStatus: number; readonly body: string }
  /** No answer until the server closes: a request in flight when the client stops. */
  | { readonly kind: 'hang' };

export interface LoggingServer {
  readonly url: string;
  readonly requests: ListRequest[];
  close(): Promise<void>;
}

/** Pages of `entries`, `size` a page: page N answers the token `pN`, and names `pN+1` while more follow. */
export function pagesOf(entries: readonly unknown[], size: number): Map<string | undefined, Reply> {
  const pages = new Map<string | undefined, Reply>();
  for (let i = 0, n = 1; i < entries.length || n === 1; i += size, n++) {
    const more = i + size < entries.length;
    pages.set(n === 1 ? undefined : `p${n}`, { kind: 'page', entries: entries.slice(i, i + size), ...(more ? { nextPageToken: `p${n + 1}` } : {}) });
  }
  return pages;
}

/**
 * `reply(request, index)` decides each answer (`index`: how many requests came before this one). A request that is
 * not `POST /v2/entries:list` gets 404 in Google's error shape.
 */
export async function startLoggingServer(reply: (request: ListRequest, index: number) => Reply): Promise<LoggingServer> {
  const requests: ListRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: ListRequest['body'] = {};
      try {
        body = JSON.parse(text) as ListRequest['body'];
      } catch {
        // recorded as an empty body: the test's assertions on it fail
      }
      const request: ListRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      const answer: Reply =
        request.method === 'POST' && request.path === '/v2/entries:list'
          ? reply(request, requests.length)
          : { kind: 'error', code: 404, status: 'NOT_FOUND', message: `no route ${request.method} ${request.path}` };
      requests.push(request);
      if (answer.kind === 'hang') return;
      if (answer.kind === 'raw') {
        res.writeHead(answer.httpStatus, { 'content-type': 'text/html' }).end(answer.body);
      } else if (answer.kind === 'error') {
        res.writeHead(answer.code, { 'content-type': 'application/json; charset=UTF-8' });
        res.end(JSON.stringify({ error: { code: answer.code, message: answer.message, status: answer.status } }));
      } else {
        res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
        // The API leaves out empty and absent fields, as protobuf JSON does.
        res.end(JSON.stringify({ ...(answer.entries.length > 0 ? { entries: answer.entries } : {}), ...(answer.nextPageToken ? { nextPageToken: answer.nextPageToken } : {}) }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // hanging requests too
      }),
  };
}
