// redrive's first call (checkReachable): any answer from Pub/Sub lets the pull start, no answer fails in one line.
import type { Subscription } from '@google-cloud/pubsub';
import { describe, expect, it } from 'vitest';
import { checkReachable } from '../../functions/cli/commands/redrive.js';

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
