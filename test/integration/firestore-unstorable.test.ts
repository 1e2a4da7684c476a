// A finding (or baseline) that Firestore can never store must fail its entry at once, with a reason, never hang it.
// A forged 1 MiB principal made a 2 MiB finding: its transaction's commit request was over 4 MiB, and the Firestore
// emulator never answered such a request (the client waited forever: detect's invocation never returned, nothing
// logged); a commit with one document over 1 MiB is refused (INVALID_ARGUMENT) on every delivery, so Pub/Sub retried
// the entry until it dead-lettered it without a reason. The principal is cut now (normalize.ts), but a finding can
// still be huge by other routes: here, thousands of delegation links (each link is capped, not their count), which
// every finding carries (`delegationChain`). Each wait below is bounded, so a hang fails the test in seconds.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Firestore } from '@google-cloud/firestore';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createFirestore, FirestoreBaselineStore, UnstorableError } from '../../functions/baseline/firestore.js';
import { emptyBaseline } from '../../functions/baseline/state.js';
import { createDetectFunction, type DetectObservation } from '../../functions/detect.js';
import type { Finding } from '../../functions/findings/finding.js';
import { makeFinding } from '../support/findings.js';
import { pushEvent } from '../support/pubsub.js';
import { config } from '../support/run.js';

const emulators = inject('runwatchEmulators');
const KIB = 1024;
const MIB = 1024 * KIB;
/** The fixture public grant (test/fixtures/pipeline). */
const grant = (): Record<string, unknown> => JSON.parse(readFileSync(new URL('../fixtures/pipeline/synthetic-pipeline-public-invoker.json', import.meta.url), 'utf8')) as Record<string, unknown>;

/** Settles `p` or says it did not within `ms` (the bug: never settled). */
function within<T>(p: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'timeout'> {
  return Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref())]);
}

/** synthetic: the fixture public grant, its principal acting through `links` delegation links of ~1 KiB each. */
function delegatedGrant(links: number, insertId: string): Record<string, unknown> {
  const entry = grant() as { insertId: string; protoPayload: { authenticationInfo: Record<string, unknown> } };
  entry.insertId = insertId;
  entry.protoPayload.authenticationInfo['serviceAccountDelegationInfo'] = Array.from({ length: links }, (_, i) => ({
    firstPartyPrincipal: { principalEmail: `sa-${i}-${'d'.repeat(1000)}@p.iam.gserviceaccount.com` },
  }));
  return entry;
}

describe.skipIf(!emulators.available)('Firestore store: what cannot be stored (emulator)', () => {
  let db: Firestore;
  beforeAll(async () => {
    if (!emulators.available) return;
    Object.assign(process.env, emulators.env);
    db = await createFirestore({ projectId: emulators.projectId });
  });
  afterAll(async () => {
    await db?.terminate();
  });

  const raise = (findings: readonly Finding[]) => (current: unknown) => ({ next: (current as ReturnType<typeof emptyBaseline>) ?? emptyBaseline(), result: findings });
  const delivery = (out: Finding[]) => ({ findingsOf: (r: readonly Finding[]) => r, deliver: async (f: readonly Finding[]) => void out.push(...f) });

  it.each([
    ['one finding over a document (1.5 MiB)', [1.5 * MIB]],
    ['findings over a commit request (12 of 450 KiB, 5.3 MiB)', Array(12).fill(450 * KIB) as number[]],
  ])('refuses %s at once with UnstorableError, stores nothing, and the key still works', async (_, sizes) => {
    const store = new FirestoreBaselineStore({ firestore: db, collection: `unstorable-${randomUUID().slice(0, 8)}` });
    const key = 'acme-prod/europe-west1/storefront';
    const huge = sizes.map((bytes, i) => ({ ...makeFinding('public-invoker-grant', { insertId: `big-${i}` }), evidence: { padding: 'p'.repeat(bytes) } }) as Finding);
    const delivered: Finding[] = [];
    const outcome = await within(store.transact(key, raise(huge), delivery(delivered), 'entry-big'), 8_000);
    expect(outcome).not.toBe('timeout');
    expect(outcome).toEqual({ error: expect.any(UnstorableError) });
    expect(String((outcome as { error: unknown }).error)).toMatch(/cannot be stored/);
    expect(delivered).toEqual([]);
    expect(await store.get(key)).toBeUndefined();

    const small = makeFinding('public-invoker-grant', { insertId: 'small-1' });
    expect(await within(store.transact(key, raise([small]), delivery(delivered), 'entry-small'), 8_000)).toEqual({ value: [small] });
    expect(delivered.map((f) => f.id)).toEqual([small.id]);
  }, 30_000);

  it('detect dead-letters an entry whose finding cannot be stored, with the reason, at once; the next entry is processed', async () => {
    const store = new FirestoreBaselineStore({ firestore: db, collection: `unstorable-detect-${randomUUID().slice(0, 8)}` });
    const observed: DetectObservation[] = [];
    const published: { topic: string; attributes: Record<string, string> }[] = [];
    const detect = createDetectFunction({
      env: { FINDINGS_TOPIC: 'runwatch-findings', DEAD_LETTER_TOPIC: 'runwatch-dead-letter' },
      config: config(),
      store,
      publisher: { publish: async (topic, _data, attributes) => String(published.push({ topic, attributes })), close: async () => undefined },
      log: () => undefined,
      observe: (o) => observed.push(o),
    });
    try {
      // ~4.5 MiB of delegation links: the finding is over a document and its commit over 4 MiB (the hang).
      const entry = delegatedGrant(4_500, 'synthetic-delegated-1');
      expect(Buffer.byteLength(JSON.stringify(entry))).toBeGreaterThan(4 * MIB);
      expect(await within(detect(pushEvent(entry, 'huge-1')), 10_000)).toEqual({ value: undefined }); // acked
      expect(observed).toEqual([{ outcome: 'dead-lettered', messageId: 'huge-1', reason: expect.stringMatching(/cannot be stored/) }]);
      expect(published).toEqual([{ topic: 'runwatch-dead-letter', attributes: expect.objectContaining({ stage: 'store', function: 'detect', originalMessageId: 'huge-1' }) }]);
      expect(detect.counts()).toMatchObject({ unstorable: 1, deadLettered: 1 });
      expect(detect.counts()['failed'] ?? 0).toBe(0);

      // The same grant without the links: stored and published as usual.
      expect(await within(detect(pushEvent(grant(), 'good-1')), 10_000)).toEqual({ value: undefined });
      expect(observed[1]).toMatchObject({ outcome: 'processed', messageId: 'good-1', findings: [expect.objectContaining({ rule: 'public-invoker-grant' })] });
      expect(published.slice(1).map((p) => p.topic)).toEqual(['runwatch-findings']);
    } finally {
      await detect.close();
    }
  }, 40_000);
});
