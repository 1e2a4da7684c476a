// Plumbing shared by the local gRPC servers (runServer.ts, sccServer.ts): service definitions loaded from a client
// package's bundled protos.json, a listener on 127.0.0.1 at a free port, an immediate shutdown, and call metadata
// as a plain record.
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * Loads a bundled protos.json (e.g. `@google-cloud/run/build/protos/protos.json`, resolved from this package) with
 * the options the servers use: longs and enums as strings, oneofs set, no defaults filled in.
 */
export function loadProtoJson(specifier: string): grpc.GrpcObject {
  const require = createRequire(import.meta.url);
  const json = require(specifier) as Parameters<typeof protoLoader.fromJSON>[0];
  const definition = protoLoader.fromJSON(json, { longs: String, enums: String, oneofs: true, defaults: false });
  return grpc.loadPackageDefinition(definition);
}

/** Binds `server` to a free port on 127.0.0.1 (insecure unless `credentials` say TLS); resolves to `127.0.0.1:PORT`. */
export async function listenLocal(server: grpc.Server, credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure()): Promise<string> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return `127.0.0.1:${port}`;
}

/** Stops `server` at once. forceShutdown: a graceful shutdown waits for clients' idle channels, which keeps the process alive. */
export function closeNow(server: grpc.Server): Promise<void> {
  server.forceShutdown();
  return Promise.resolve();
}

/** A call's metadata as `key -> value` strings. */
export function flattenMetadata(metadata: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) out[key] = String(value);
  return out;
}
