// The SCC sink writes with UpdateFinding, an upsert that creates a finding it does not find. Two writes creating the same
// finding at once (a redelivery whose claim's lease ran out while the first write was still on its way; `runwatch
// replay` to the sinks beside the live pipeline) leave one of them answered ALREADY_EXISTS. That answer was taken as
// permanent: notify dead-lettered the finding (it did not go out, as far as anyone could tell), and a resolution never
// reached SetFindingState, so its finding stayed ACTIVE in SCC until someone redrove the letter. The finding exists
// now: the next upsert updates it, so ALREADY_EXISTS is retried like the other transient answers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deliverOnce } from '../../sinks/deliver.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import { parseSccEndpoint, sccFindingName, SccSink } from '../../sinks/scc.js';
import { makeFinding, resolutionOf } from '../support/findings.js';
import { SCC_TEST_SOURCE, startSccServer, type SccServer } from '../support/sccServer.js';
import { startHttpReceiver, type HttpReceiver } from '../support/webhookServer.js';

describe('SccSink: an upsert answered ALREADY_EXISTS (another write created the finding at the same moment)', () => {
  let server: SccServer;
  let metadataServer: HttpReceiver;
  let sink: SccSink;
  const saved = { ...process.env };

  beforeAll(async () => {
    // As in scc.test.ts: no credentials to find, and a metadata server that would record a look-up.
    metadataServer = await startHttpReceiver(() => ({ status: 404 }));
    process.env['GCE_METADATA_HOST'] = metadataServer.origin.replace('http://', '');
    process.env['HOME'] = mkdtempSync(join(tmpdir(), 'runwatch-home-'));
    delete process.env['GOOGLE_APPLICATION_CREDENTIALS'];
    server = await startSccServer();
    sink = new SccSink({ source: SCC_TEST_SOURCE, endpoint: parseSccEndpoint(server.endpoint), retry: { initialDelayMs: 10, maxDelayMs: 20 } });
  });
  afterAll(async () => {
    await sink.close();
    await server.close();
    await metadataServer.close();
    rmSync(process.env['HOME'] ?? '', { recursive: true, force: true });
    for (const key of ['GCE_METADATA_HOST', 'HOME', 'GOOGLE_APPLICATION_CREDENTIALS']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
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
