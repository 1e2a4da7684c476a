// Endpoint overrides for the Google gRPC clients (SCC_API_ENDPOINT, RUN_API_ENDPOINT): tests point them at local
// servers. Plaintext is allowed for loopback hosts only; anything else keeps TLS.
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

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
