// redrive's first call (checkReachable): any answer from Pub/Sub lets the pull start, no answer fails in one line.
import { PubSub, type Subscription } from '@google-cloud/pubsub';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkReachable } from '../../functions/cli/commands/redrive.js';
import { closeNow, listenLocal, loadProtoJson } from '../support/grpc.js';

function answering(outcome: { code: number; message: string } | 'metadata'): Subscription {
  const getMetadata = async (): Promise<unknown> => {
    if (outcome === 'metadata') return [{ name: 'projects/p/subscriptions/s' }];
    throw Object.assign(new Error(outcome.message), { code: outcome.code });
  };
  return { getMetadata } as unknown as Subscription;
}

const GAX_TIMEOUT =
  'Total timeout of API google.pubsub.v1.Subscriber exceeded 10000 milliseconds retrying error Error: 14 UNAVAILABLE: No connection established. ' +
  'Last error: Error: connect ECONNREFUSED 127.0.0.1:9. Resolution note:   before any response was received. : Previous errors : [{message: 14 UNAVAILABLE}]';

describe('redrive checkReachable', () => {
  it.each([
    ['the subscription answered', 'metadata' as const],
    ['PERMISSION_DENIED (a subscriber may not read the subscription): an answer', { code: 7, message: '7 PERMISSION_DENIED: User not authorized' }],
  ])('%s: the pull may start', async (_name, outcome) => {
    await expect(checkReachable(answering(outcome))).resolves.toBeUndefined();
  });

  it('NOT_FOUND is passed on as it is', async () => {
    await expect(checkReachable(answering({ code: 5, message: '5 NOT_FOUND: Resource not found' }))).rejects.toThrow('5 NOT_FOUND: Resource not found');
  });

  it('no answer within the timeout: one line with the last cause, not gax list of every retry', async () => {
    const error = (await checkReachable(answering({ code: 4, message: GAX_TIMEOUT })).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe('Pub/Sub did not answer within 10 s (Error: connect ECONNREFUSED 127.0.0.1:9)');
  });
});

/** A Pub/Sub Subscriber that answers every GetSubscription at once with UNAVAILABLE (what gax retries). */
async function unavailableSubscriber(): Promise<{ server: grpc.Server; endpoint: string; calls: () => number }> {
  const root = loadProtoJson('@google-cloud/pubsub/build/protos/protos.json') as unknown as { google: { pubsub: { v1: { Subscriber: { service: grpc.ServiceDefinition } } } } };
  const server = new grpc.Server();
  let calls = 0;
  server.addService(root.google.pubsub.v1.Subscriber.service, {
    GetSubscription: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      calls++;
      callback({ code: grpc.status.UNAVAILABLE, details: 'synthetic: not now' });
    },
  });
  return { server, endpoint: await listenLocal(server), calls: () => calls };
}

describe('redrive checkReachable against a Pub/Sub that keeps answering UNAVAILABLE', () => {
  // gax retries UNAVAILABLE with a growing backoff (100 ms, x1.3 a retry) and checks its total timeout only after
  // each sleep: its "within 10 s" ended 11-16 s after the check began on a loaded host. A sleep's overshoot is
  // random (up to the current delay, ~60% of the timeout by then), so one check alone could end in time by luck: of
  // twenty at once, with a 3 s timeout, all ended within 750 ms of it in about 0.03% of simulated runs of gax's loop.
  const TIMEOUT_MS = 3_000;
  const MARGIN_MS = 750;
  const CHECKS = 20;
  let subscriber: Awaited<ReturnType<typeof unavailableSubscriber>>;
  let pubsub: PubSub;
  let detection: string | undefined;
  beforeAll(async () => {
    subscriber = await unavailableSubscriber();
    // The loopback endpoint makes the client library take it as an emulator: plaintext, no credentials; without
    // this google-auth would still look for the metadata server.
    detection = process.env['METADATA_SERVER_DETECTION'];
    process.env['METADATA_SERVER_DETECTION'] = 'none';
    pubsub = new PubSub({ projectId: 'demo-runwatch', apiEndpoint: subscriber.endpoint });
  });
  afterAll(async () => {
    await pubsub.close();
    await closeNow(subscriber.server);
    if (detection === undefined) delete process.env['METADATA_SERVER_DETECTION'];
    else process.env['METADATA_SERVER_DETECTION'] = detection;
  });

  it(`ends with "did not answer" within its timeout plus ${MARGIN_MS} ms, whatever the library's retries do`, async () => {
    const ended = await Promise.all(
      Array.from({ length: CHECKS }, async (_, i) => {
        const started = performance.now();
        const error = await checkReachable(pubsub.subscription(`runwatch-dead-letter-hold-${i}`), TIMEOUT_MS).then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        return { error, ms: Math.round(performance.now() - started) };
      }),
    );
    expect(subscriber.calls()).toBeGreaterThan(CHECKS); // retried: the server was reached, and answered UNAVAILABLE
    for (const { error } of ended) expect(error?.message).toMatch(/^Pub\/Sub did not answer within 3 s\b/);
    const slowest = Math.max(...ended.map(({ ms }) => ms));
    expect(slowest, `took ${ended.map(({ ms }) => ms).join(', ')} ms`).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
  }, 30_000);
});
