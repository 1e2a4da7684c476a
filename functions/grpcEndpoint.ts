// Endpoint overrides for the Google gRPC clients (SCC_API_ENDPOINT, RUN_API_ENDPOINT): tests point them at local
// servers. Plaintext is allowed for loopback hosts only; anything else keeps TLS.
// Also the gRPC status codes the callers of those clients (and of Pub/Sub and Firestore) act on. No imports: the
// sinks and the functions load this without loading a client library.
export interface GrpcEndpoint {
  readonly host: string;
  readonly port: number;
  /** Plaintext gRPC: only ever for a loopback host (a local test server). */
  readonly insecure: boolean;
}

/** `host:port` (`[::1]:port` for IPv6; port 443 when absent). `variable` names the setting in errors. */
export function parseGrpcEndpoint(value: string, variable: string): GrpcEndpoint {
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(value.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3] ?? 443);
  if (!host || port < 1 || port > 65_535) throw new Error(`${variable} must be host or host:port`);
  return { host, port, insecure: isLoopback(host) };
}

/** localhost, ::1 or 127.x.x.x (a URL's hostname without its IPv6 brackets). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The gRPC status codes we branch on (google.rpc.Code). */
export const GRPC_STATUS = {
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** The numeric gRPC status code of an error thrown by a Google client; undefined when it has none. */
export function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}
