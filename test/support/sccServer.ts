// A local Security Command Center v2 gRPC server on 127.0.0.1, built from the client package's own protos
// (build/protos/protos.json, which bundles the google/api and google/protobuf imports), implementing the three
// RPCs runwatch uses: UpdateFinding (upsert), SetFindingState and CreateSource. It enforces what the real API
// documents: finding ids 1-32 alphanumerics, an existing source, state as output-only on update, and external_uri
// "either empty or a well formed URL" (finding.proto; refused here as INVALID_ARGUMENT when it is neither, which is
// what an API that guarantees it would do: how the real one answers is not verified).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startHttpReceiver, type HttpReceiver } from './webhookServer.js';
import { closeNow, flattenMetadata, listenLocal, loadProtoJson } from './grpc.js';

export type SccMethod = 'UpdateFinding' | 'SetFindingState' | 'CreateSource';

export interface SccCall {
  readonly method: SccMethod;
  readonly request: Record<string, unknown>;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface SccFailure {
  readonly code: grpc.status;
  readonly details?: string;
  /** Wait this long before answering (a DEADLINE_EXCEEDED on the client when longer than its timeout). */
  readonly delayMs?: number;
}

export interface SccServer {
  /** `127.0.0.1:PORT`, the value for SCC_API_ENDPOINT. */
  readonly endpoint: string;
  readonly calls: SccCall[];
  /** Stored findings by name, as the server would return them (state included). */
  readonly findings: Map<string, Record<string, unknown>>;
  readonly sources: Set<string>;
  /** Queue failures for the next calls of `method`. */
  fail(method: SccMethod, ...failures: SccFailure[]): void;
  /** Forget calls, findings, created sources and queued failures (between tests). */
  reset(): void;
  close(): Promise<void>;
}

export const SCC_TEST_SOURCE = 'organizations/123456789012/sources/9876543210';

const FINDING_NAME = /^(organizations\/\d+\/sources\/\d+)\/locations\/[a-z0-9-]+\/findings\/([A-Za-z0-9]{1,32})$/;

type Handler = grpc.handleUnaryCall<Record<string, unknown>, Record<string, unknown>>;
type Reply = { readonly message: Record<string, unknown>; readonly error?: undefined } | { readonly error: grpc.StatusObject };

let cachedService: grpc.ServiceDefinition | undefined;

function securityCenterService(): grpc.ServiceDefinition {
  if (cachedService) return cachedService;
  const root = loadProtoJson('@google-cloud/security-center/build/protos/protos.json') as unknown as {
    google: { cloud: { securitycenter: { v2: { SecurityCenter: { service: grpc.ServiceDefinition } } } } };
  };
  cachedService = root.google.cloud.securitycenter.v2.SecurityCenter.service;
  return cachedService;
}

/**
 * `credentials`: TLS server credentials, for a client that sends call credentials (an access token per call, as
 * in production): grpc-js only runs them on a secure channel. Default: plaintext.
 */
export async function startSccServer(credentials?: grpc.ServerCredentials): Promise<SccServer> {
  const calls: SccCall[] = [];
  const findings = new Map<string, Record<string, unknown>>();
  const sources = new Set([SCC_TEST_SOURCE]);
  const failures = new Map<SccMethod, SccFailure[]>();
  let nextSourceId = 1000;

  const handle = (method: SccMethod, work: (request: Record<string, unknown>) => Reply): Handler =>
    (call, callback) => {
      calls.push({ method, request: call.request, metadata: flattenMetadata(call.metadata) });
      const failure = failures.get(method)?.shift();
      const respond = (): void => {
        if (failure) return callback({ code: failure.code, details: failure.details ?? grpc.status[failure.code] });
        const result = work(call.request);
        if (result.error) return callback(result.error);
        callback(null, result.message);
      };
      if (failure?.delayMs) setTimeout(respond, failure.delayMs).unref();
      else respond();
    };

  const server = new grpc.Server();
  server.addService(securityCenterService(), {
    UpdateFinding: handle('UpdateFinding', (request) => {
      const finding = (request['finding'] ?? {}) as Record<string, unknown>;
      const match = FINDING_NAME.exec(String(finding['name'] ?? ''));
      if (!match) return status(grpc.status.INVALID_ARGUMENT, `invalid finding name ${String(finding['name'])}`);
      if (!sources.has(match[1] ?? '')) return status(grpc.status.NOT_FOUND, `source ${match[1]} not found`);
      const externalUri = String(finding['externalUri'] ?? '');
      if (externalUri !== '' && !isWellFormedUrl(externalUri)) return status(grpc.status.INVALID_ARGUMENT, 'external_uri is not a well formed URL');
      const name = match[0];
      const existing = findings.get(name);
      // state is output-only: a new finding starts ACTIVE, an update keeps whatever state it had.
      const stored = { ...finding, name, state: existing?.['state'] ?? 'ACTIVE', parent: match[1] };
      findings.set(name, stored);
      return { message: stored };
    }),
    SetFindingState: handle('SetFindingState', (request) => {
      const name = String(request['name'] ?? '');
      const existing = findings.get(name);
      if (!existing) return status(grpc.status.NOT_FOUND, `finding ${name} not found`);
      if (request['state'] !== 'ACTIVE' && request['state'] !== 'INACTIVE') return status(grpc.status.INVALID_ARGUMENT, 'state must be ACTIVE or INACTIVE');
      const updated = { ...existing, state: request['state'] };
      findings.set(name, updated);
      return { message: updated };
    }),
    CreateSource: handle('CreateSource', (request) => {
      const parent = String(request['parent'] ?? '');
      const source = (request['source'] ?? {}) as Record<string, unknown>;
      const displayName = String(source['displayName'] ?? '');
      if (!/^organizations\/\d+$/.test(parent)) return status(grpc.status.INVALID_ARGUMENT, 'parent must be organizations/ID');
      if (displayName.length < 1 || displayName.length > 64) return status(grpc.status.INVALID_ARGUMENT, 'display name must be 1-64 characters');
      nextSourceId += 1;
      const name = `${parent}/sources/${nextSourceId}`;
      sources.add(name);
      return { message: { ...source, name } };
    }),
  });
  const endpoint = await listenLocal(server, credentials);
  return {
    endpoint,
    calls,
    findings,
    sources,
    fail: (method, ...list) => failures.set(method, [...(failures.get(method) ?? []), ...list]),
    reset: () => {
      calls.length = 0;
      findings.clear();
      failures.clear();
      for (const source of sources) if (source !== SCC_TEST_SOURCE) sources.delete(source);
    },
    close: () => closeNow(server),
  };
}

/** An absolute URI of RFC 3986's characters (anything else percent-encoded) that a URL parser takes. */
function isWellFormedUrl(value: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]*$/.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

function status(code: grpc.status, details: string): Reply {
  return { error: { code, details, metadata: new grpc.Metadata() } };
}

/** Where a credential look-up would end (withoutCredentials), and how to put the environment back. */
export interface CredentialFreeEnv {
  /** A metadata server that answers 404 and records every request it gets. */
  readonly metadataServer: HttpReceiver;
  /** Closes the metadata server, removes the empty HOME and restores the variables as they were. */
  restore(): Promise<void>;
}

/**
 * Application Default Credentials with nothing to find: no key file, an empty HOME (no gcloud ADC file) and a metadata
 * server that records every request, so a credential look-up by the SCC client would end there and show.
 */
export async function withoutCredentials(): Promise<CredentialFreeEnv> {
  const keys = ['GCE_METADATA_HOST', 'HOME', 'GOOGLE_APPLICATION_CREDENTIALS'] as const;
  const saved = Object.fromEntries(keys.map((key) => [key, process.env[key]]));
  const metadataServer = await startHttpReceiver(() => ({ status: 404 }));
  process.env['GCE_METADATA_HOST'] = metadataServer.origin.replace('http://', '');
  const home = mkdtempSync(join(tmpdir(), 'runwatch-home-'));
  process.env['HOME'] = home;
  delete process.env['GOOGLE_APPLICATION_CREDENTIALS'];
  return {
    metadataServer,
    async restore(): Promise<void> {
      await metadataServer.close();
      rmSync(home, { recursive: true, force: true });
      for (const key of keys) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    },
  };
}
