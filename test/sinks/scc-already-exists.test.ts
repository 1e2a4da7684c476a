// The SCC sink writes with UpdateFinding, an upsert that creates a finding it does not find. Two writes creating the same
// finding at once (a redelivery whose claim's lease ran out while the first write was still on its way; `runwatch
// replay` to the sinks beside the live pipeline) leave one of them answered ALREADY_EXISTS. That answer was taken as
// permanent: notify dead-lettered the finding (it did not go out, as far as anyone could tell), and a resolution never
// reached SetFindingState, so its finding stayed ACTIVE in SCC until someone redrove the letter. The finding exists
// now: the next upsert updates it, so ALREADY_EXISTS is retried like the other transient answers.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deliverOnce } from '../../sinks/deliver.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import { parseSccEndpoint, sccFindingName, SccSink } from '../../sinks/scc.js';
import { makeFinding, resolutionOf } from '../support/findings.js';
import { SCC_TEST_SOURCE, startSccServer, withoutCredentials, type CredentialFreeEnv, type SccServer } from '../support/sccServer.js';

describe('SccSink: an upsert answered ALREADY_EXISTS (another write created the finding at the same moment)', () => {
  let server: SccServer;
  let sink: SccSink;
  let credentialFree: CredentialFreeEnv;

  beforeAll(async () => {
    // No credentials to find, and a metadata server that records every request: a credential look-up would show.
    credentialFree = await withoutCredentials();
    server = await startSccServer();
    sink = new SccSink({ source: SCC_TEST_SOURCE, endpoint: parseSccEndpoint(server.endpoint), retry: { initialDelayMs: 10, maxDelayMs: 20 } });
  });
  afterAll(async () => {
    await sink.close();
    await server.close();
    await credentialFree.restore();
  });
  beforeEach(() => server.reset());

  it.each([
    ['a finding', false, 'ACTIVE'],
    ['a resolution', true, 'INACTIVE'],
  ] as const)('%s is upserted again and delivered, not dead-lettered', async (_name, resolved, state) => {
    const finding = makeFinding('public-invoker-grant');
    server.fail('UpdateFinding', { code: grpc.status.ALREADY_EXISTS, details: 'Requested entity already exists' });
    const outcome = await deliverOnce({ sink, finding: resolved ? resolutionOf(finding) : finding, records: new MemoryDeliveryRecordStore(), nowMs: Date.now(), deadlineMs: Date.now() + 10_000 });
    expect(outcome).toEqual({ status: 'delivered', ref: sccFindingName(SCC_TEST_SOURCE, finding.id) });
    expect(server.calls.map((c) => c.method)).toEqual(['UpdateFinding', 'UpdateFinding', ...(resolved ? ['SetFindingState'] : [])]);
    expect(server.findings.get(sccFindingName(SCC_TEST_SOURCE, finding.id))).toMatchObject({ state });
  });
});
