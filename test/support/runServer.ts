// A local Cloud Run Admin API v2 gRPC server on 127.0.0.1, built from the client package's own protos
// (build/protos/protos.json, which bundles the google/api, google/longrunning and google/protobuf imports),
// implementing the two RPCs runwatch's fallback uses: Services.GetService and Revisions.GetRevision. Services and
// revisions are stored as the API would return them (v2 field names, camelCase); an unknown name is NOT_FOUND.
import * as grpc from '@grpc/grpc-js';
import { closeNow, flattenMetadata, listenLocal, loadProtoJson } from './grpc.js';

export type RunMethod = 'GetService' | 'GetRevision';

export interface RunCall {
  readonly method: RunMethod;
  readonly request: Record<string, unknown>;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface RunFailure {
  readonly code: grpc.status;
  readonly details?: string;
}

export interface RunServer {
  /** `127.0.0.1:PORT`, the value for RUN_API_ENDPOINT. */
  readonly endpoint: string;
  readonly calls: RunCall[];
  /** `projects/P/locations/L/services/S` -> google.cloud.run.v2.Service. */
  readonly services: Map<string, Record<string, unknown>>;
  /** `projects/P/locations/L/services/S/revisions/R` -> google.cloud.run.v2.Revision. */
  readonly revisions: Map<string, Record<string, unknown>>;
  /** Queue failures for the next calls of `method`. */
  fail(method: RunMethod, ...failures: RunFailure[]): void;
  /** Every call of `method` fails with `failure` until reset. */
  failAlways(method: RunMethod, failure: RunFailure): void;
  /** Forget calls, resources and failures (between tests). */
  reset(): void;
  close(): Promise<void>;
}

type Handler = grpc.handleUnaryCall<Record<string, unknown>, Record<string, unknown>>;

let cached: { services: grpc.ServiceDefinition; revisions: grpc.ServiceDefinition } | undefined;

function runServices(): { services: grpc.ServiceDefinition; revisions: grpc.ServiceDefinition } {
  if (cached) return cached;
  const root = loadProtoJson('@google-cloud/run/build/protos/protos.json') as unknown as {
    google: { cloud: { run: { v2: { Services: { service: grpc.ServiceDefinition }; Revisions: { service: grpc.ServiceDefinition } } } } };
  };
  cached = { services: root.google.cloud.run.v2.Services.service, revisions: root.google.cloud.run.v2.Revisions.service };
  return cached;
}

export async function startRunServer(): Promise<RunServer> {
  const calls: RunCall[] = [];
  const services = new Map<string, Record<string, unknown>>();
  const revisions = new Map<string, Record<string, unknown>>();
  const failures = new Map<RunMethod, RunFailure[]>();
  const always = new Map<RunMethod, RunFailure>();

  const get = (method: RunMethod, store: Map<string, Record<string, unknown>>, kind: string): Handler =>
    (call, callback) => {
      calls.push({ method, request: call.request, metadata: flattenMetadata(call.metadata) });
      const failure = failures.get(method)?.shift() ?? always.get(method);
      if (failure) return callback({ code: failure.code, details: failure.details ?? grpc.status[failure.code] });
      const name = String(call.request['name'] ?? '');
      const found = store.get(name);
      if (!found) return callback({ code: grpc.status.NOT_FOUND, details: `${kind} ${name} not found` });
      callback(null, found);
    };

  const server = new grpc.Server();
  const defs = runServices();
  server.addService(defs.services, { GetService: get('GetService', services, 'service') });
  server.addService(defs.revisions, { GetRevision: get('GetRevision', revisions, 'revision') });
  const endpoint = await listenLocal(server);
  return {
    endpoint,
    calls,
    services,
    revisions,
    fail: (method, ...list) => failures.set(method, [...(failures.get(method) ?? []), ...list]),
    failAlways: (method, failure) => always.set(method, failure),
    reset: () => {
      calls.length = 0;
      services.clear();
      revisions.clear();
      failures.clear();
      always.clear();
    },
    close: () => closeNow(server),
  };
}
