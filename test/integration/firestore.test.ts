// Firestore baseline store and delivery records against the real Firestore emulator and client library:
// round trips of every baseline field, safe document ids, out-of-order entries, concurrent writers, and claims
// that exactly one instance wins; and the same outcomes and findings as the in-memory store on random entries.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Firestore } from '@google-cloud/firestore';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { baselineDocId, createFirestore, FirestoreBaselineStore, OUTBOX_BYTES_LIMIT, spillCollectionOf } from '../../functions/baseline/firestore.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { emptyBaseline, record, valueBefore, type ServiceBaseline } from '../../functions/baseline/state.js';
import { OUTBOX_SWEEP_AFTER_MS, Pipeline } from '../../functions/pipeline.js';
import type { HeldBack } from '../../functions/engine.js';
import { FirestoreDeliveryRecordStore } from '../../sinks/firestoreRecords.js';
import { at, corpus, deleteServiceAt, editV1Services, fixtureEntries, fixtureFiles, fixtureMix, generationDeploy, SLACK_BOT, synthetic, trafficToRevision, v1EnvDeploy, v1TrafficWrite, variant, withV1ServiceAccount, type Json } from '../support/entries.js';
import { config, DEPLOY_RULES, findingsOf } from '../support/run.js';
import type { BaselineStore, Delivery } from '../../functions/baseline/store.js';
import { readEnvelope } from '../../functions/audit/entry.js';
import { seededRandom } from '../support/random.js';
import type { Finding } from '../../functions/findings/finding.js';
import { makeFinding } from '../support/findings.js';

const emulators = inject('runwatchEmulators');

// The Firestore store against the in-memory one (the describe block at the end): random sequences of fixture entries
// (some shifted in time, some repeated, some with hostile label and annotation keys) must give the same outcomes and
// findings, every baseline having gone through Firestore's encoding and back. Seeded.
const SEEDS = fixtureEntries();

/** Hostile values written where deployers write: label and annotation keys and values. */
const HOSTILE = ['__reserved__', 'a.b', 'a/b', '', ' ', '`', '\u0000', '\u202e', 'x'.repeat(1500), 'ünïcødé', '$ref', '[]'];

function randomSequence(seed: number, length: number): Record<string, unknown>[] {
  const next = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  return Array.from({ length }, (_, i) => {
    const entry = structuredClone(pick(SEEDS));
    const roll = next();
    if (roll < 0.3 && typeof entry['timestamp'] === 'string') {
      entry['timestamp'] = new Date(Date.parse(entry['timestamp']) + Math.floor((next() - 0.5) * 7_200_000)).toISOString();
      entry['insertId'] = `${String(entry['insertId'])}-${seed}-${i}`;
    }
    // A hostile key and value in every label and annotation map of the entry (request, response, template).
    const poison = (value: unknown): void => {
      if (value === null || typeof value !== 'object') return;
      for (const [key, child] of Object.entries(value)) {
        if ((key === 'labels' || key === 'annotations') && child !== null && typeof child === 'object' && !Array.isArray(child)) {
          (child as Record<string, unknown>)[pick(HOSTILE)] = pick(HOSTILE);
        }
        poison(child);
      }
    };
    if (roll > 0.7) poison(entry);
    return entry;
  });
}

async function outcomesAndFindings(store: BaselineStore, entries: readonly Record<string, unknown>[]): Promise<string[]> {
  const cfg = config({ rules: { 'unapproved-deployer': { allowedDeployers: ['serviceAccount:*'] } } });
  const pipeline = new Pipeline({ config: cfg, store, projectClocks: true });
  const out: string[] = [];
  for (const entry of entries) {
    const envelope = readEnvelope(entry);
    const outcome = await pipeline.handleEntry(entry, envelope.ok ? envelope.envelope.timeMs : 0);
    out.push(outcome.status === 'processed' ? `processed ${outcome.note}` : outcome.status);
    if (outcome.status === 'processed') out.push(...outcome.findings.map((f) => JSON.stringify(f)));
  }
  out.push(...(await pipeline.flush()).map((f) => JSON.stringify(f)));
  return out;
}

describe.skipIf(!emulators.available)('Firestore (emulator)', () => {
  let db: Firestore;
  const collection = (name: string): string => `${name}-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    if (!emulators.available) return;
    Object.assign(process.env, emulators.env);
    db = await createFirestore({ projectId: emulators.projectId });
  });
  afterAll(async () => {
    await db?.terminate();
  });

  describe('FirestoreBaselineStore', () => {
    it('round-trips every field of a baseline, map keys with dots and slashes included', async () => {
      const store = new FirestoreBaselineStore({ firestore: db, collection: collection('baselines') });
      const key = 'acme-prod/europe-west1/storefront';
      const baseline: ServiceBaseline = {
        ...emptyBaseline(),
        serviceAccount: [{ t: 1_000, v: 'a@acme-prod.iam.gserviceaccount.com' }],
        template: [{ t: 1_000, v: 'abc' }],
        repositories: { 'europe-west1-docker.pkg.dev/acme-prod/app': 1_000, 'docker.io/library/nginx': 2_000 },
        publicInvokers: [{ t: 3_000, v: ['allAuthenticatedUsers', 'allUsers'] }, { t: 4_000, v: [] }],
        invokerIamDisabled: [{ t: 1_000, v: false }],
        ingress: [{ t: 1_000, v: 'all' }],
        lastChangeMs: 4_000,
        deletedAtMs: 500,
      };
      const result = await store.transact(key, (current) => ({ next: baseline, result: current }));
      expect(result).toBeUndefined();
      expect(await store.get(key)).toEqual(baseline);
      // A transaction that returns no `next` leaves the stored baseline alone.
      expect(await store.transact(key, (current) => ({ result: current?.lastChangeMs }))).toBe(4_000);
      expect(await store.get(key)).toEqual(baseline);
      await store.close();
    });

    it('stores keys with `/` under a base64url id and keeps the readable key as a field', async () => {
      const name = collection('baselines');
      const store = new FirestoreBaselineStore({ firestore: db, collection: name });
      const keys = ['acme-prod/europe-west1/storefront', 'acme-prod/-/*', 'p/l/ünïcødé service', '../..'];
      for (const key of keys) await store.transact(key, () => ({ next: { ...emptyBaseline(), lastChangeMs: 1 }, result: null }));
      const snapshot = await db.collection(name).get();
      const stored = snapshot.docs.map((d) => ({ id: d.id, key: d.get('key') as string }));
      expect(stored.map((s) => s.key).sort()).toEqual([...keys].sort());
      for (const { id, key } of stored) {
        expect(id).toBe(baselineDocId(key));
        expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]*$/);
      }
      expect(await store.get('acme-prod/-/*')).toMatchObject({ lastChangeMs: 1 });
      expect(await store.get('not/there/at-all')).toBeUndefined();
    });

    // A refused call is logged with whatever service name was asked for ("denied on resource ... (or resource may not
    // exist)"): the name is not one Cloud Run accepted. Its key's base64url id passed Firestore's 1500-byte limit on
    // a document id, and the entry's transaction failed on every delivery ('The key path element name is longer than
    // 1500 bytes') until Pub/Sub gave up on it: the refused attempt to turn the invoker check off was never reported.
    it('reports a refused call naming a service longer than a document id may be, as on memory', async () => {
      const name = 's'.repeat(1_200);
      const refused = variant(synthetic('v2-UpdateService-invoker-iam-disabled-denied'), (e) => {
        const path = `projects/acme-prod/locations/europe-west1/services/${name}`;
        e.protoPayload['resourceName'] = path;
        (e.protoPayload['request'] as { service: { name: string } }).service.name = path;
        (e['resource'] as { labels: Record<string, string> }).labels['service_name'] = name;
      });
      const raised = async (store: BaselineStore): Promise<string[]> => {
        const published: Finding[] = [];
        const pipeline = new Pipeline({ config: config(), store, recentKeys: 0 });
        await pipeline.handleEntry(refused, Date.parse('2030-01-01T00:00:00Z'), async (f) => void published.push(...f));
        return published.map((f) => `${f.id} ${f.rule}`);
      };
      const onMemory = await raised(new MemoryBaselineStore());
      expect(onMemory.map((line) => line.slice(33))).toEqual(['public-invoker-attempt']);
      const store = new FirestoreBaselineStore({ firestore: db, collection: collection('long-names') });
      expect(await raised(store)).toEqual(onMemory);
      // Applied once: a redelivery changes nothing and raises nothing.
      expect(await raised(store)).toEqual([]);
      expect(await store.get(`acme-prod/europe-west1/${name}`)).toMatchObject({ version: 1 });
    });

    it('folds out-of-order points into their time order: an older entry never overwrites newer state', async () => {
      const store = new FirestoreBaselineStore({ firestore: db, collection: collection('baselines') });
      const key = 'acme-prod/europe-west1/ordering';
      for (const [t, sa] of [[3_000, 'newest'], [1_000, 'oldest'], [2_000, 'middle']] as const) {
        await store.transact(key, (current) => {
          const base = current ?? emptyBaseline();
          return { next: { ...base, serviceAccount: record(base.serviceAccount, t, sa), lastChangeMs: Math.max(base.lastChangeMs, t) }, result: null };
        });
      }
      const final = await store.get(key);
      expect(final?.serviceAccount).toEqual([
        { t: 1_000, v: 'oldest' },
        { t: 2_000, v: 'middle' },
        { t: 3_000, v: 'newest' },
      ]);
      expect(final?.lastChangeMs).toBe(3_000);
      expect(valueBefore(final?.serviceAccount, Infinity)).toBe('newest');
    });

    it('applies every one of N concurrent transactions on one key from N instances (retried on contention)', async () => {
      const name = collection('baselines');
      const key = 'acme-prod/europe-west1/contended';
      const n = 6;
      // One store per simulated function instance: the contention is resolved by Firestore transactions.
      const stores = Array.from({ length: n }, () => new FirestoreBaselineStore({ firestore: db, collection: name, maxAttempts: 30 }));
      let calls = 0;
      await Promise.all(
        stores.map((store, i) =>
          store.transact(key, (current) => {
            calls++;
            const base = current ?? emptyBaseline();
            return { next: { ...base, repositories: { ...base.repositories, [`repo-${i}`]: i } }, result: i };
          }),
        ),
      );
      const final = await stores[0]!.get(key);
      expect(Object.keys(final?.repositories ?? {}).sort()).toEqual(Array.from({ length: n }, (_, i) => `repo-${i}`).sort());
      expect(calls).toBeGreaterThanOrEqual(n); // re-runs on contention are expected: fn is pure
    });

    it('runs one instance\'s concurrent transactions on a key in turn, each on the result of the one before', async () => {
      const store = new FirestoreBaselineStore({ firestore: db, collection: collection('baselines') });
      const key = 'acme-prod/europe-west1/queued';
      const seen = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.transact(key, (current) => {
            const base = current ?? emptyBaseline();
            return { next: { ...base, lastChangeMs: base.lastChangeMs + 1, repositories: { ...base.repositories, [`r${i}`]: i } }, result: base.lastChangeMs };
          }),
        ),
      );
      expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect((await store.get(key))?.lastChangeMs).toBe(10);
    });

    it('writes nothing for a change that is already folded in (a redelivery)', async () => {
      const store = new FirestoreBaselineStore({ firestore: db, collection: collection('baselines') });
      const key = 'acme-prod/europe-west1/redelivered';
      const apply = (current: ServiceBaseline | undefined) => {
        const base = current ?? emptyBaseline();
        return { next: { ...base, serviceAccount: record(base.serviceAccount, 5_000, 'sa'), lastChangeMs: 5_000 }, result: valueBefore(base.serviceAccount, 5_000) ?? 'none' };
      };
      expect(await store.transact(key, apply)).toBe('none');
      const written = (await db.collection(store.collection).doc(baselineDocId(key)).get()).updateTime;
      expect(await store.transact(key, apply)).toBe('none');
      expect((await db.collection(store.collection).doc(baselineDocId(key)).get()).updateTime?.isEqual(written!)).toBe(true);
    });

    // Firestore runs a transaction again when another writer got there first: a finding of a run that did not commit
    // must never go out (no baseline would know it, so nothing would ever resolve it).
    describe('delivery through the outbox', () => {
      /** A transaction that raises a finding named after the number of repositories it saw (one per earlier writer). */
      const raise = (i: number) => (current: ServiceBaseline | undefined) => {
        const base = current ?? emptyBaseline();
        const seen = Object.keys(base.repositories).length;
        const finding = makeFinding('public-invoker-grant', {}, { id: `${String(i).padStart(16, '0')}${String(seen).padStart(16, '0')}` });
        return { next: { ...base, repositories: { ...base.repositories, [`repo-${i}`]: i } }, result: { findings: [finding] } };
      };
      const recording = (delivered: Finding[], fail = () => false): Delivery<{ findings: readonly Finding[] }> => ({
        findingsOf: (r) => r.findings,
        deliver: async (findings) => {
          await new Promise((done) => setTimeout(done, 20)); // a publish takes a while: the other writers commit meanwhile
          if (fail()) throw new Error('publish failed');
          delivered.push(...findings);
        },
      });

      it('delivers only what committed runs raised, once each, with N writers contending', async () => {
        const name = collection('outbox');
        const key = 'acme-prod/europe-west1/contended-outbox';
        const n = 5;
        const stores = Array.from({ length: n }, () => new FirestoreBaselineStore({ firestore: db, collection: name, maxAttempts: 30 }));
        const delivered: Finding[] = [];
        let runs = 0;
        const results = await Promise.all(stores.map((store, i) => store.transact(key, (current) => (runs++, raise(i)(current)), recording(delivered))));
        const committed = results.flatMap((r) => r.findings.map((f) => f.id)).sort();
        expect(runs).toBeGreaterThan(n); // some runs did not commit
        // Each committed run saw a different number of earlier writers: 0..n-1.
        expect(committed.map((id) => Number(id.slice(16)))).toEqual(expect.arrayContaining([0, 1, 2, 3, 4]));
        expect([...new Set(delivered.map((f) => f.id))].sort()).toEqual(committed);
        const doc = await db.collection(name).doc(baselineDocId(key)).get();
        expect(doc.get('outbox')).toEqual([]);
      });

      it('a failed delivery rejects and leaves the findings in the outbox; the key\'s next transaction delivers them', async () => {
        const store = new FirestoreBaselineStore({ firestore: db, collection: collection('outbox') });
        const key = 'acme-prod/europe-west1/failed-publish';
        const delivered: Finding[] = [];
        let failing = true;
        await expect(store.transact(key, raise(1), recording(delivered, () => failing))).rejects.toThrow('publish failed');
        // The baseline is stored (the entry is applied): a redelivery changes nothing, but its transaction delivers.
        expect(Object.keys((await store.get(key))?.repositories ?? {})).toEqual(['repo-1']);
        // A writer without a delivery in between keeps what the outbox holds.
        await store.transact(key, (current) => ({ next: { ...(current ?? emptyBaseline()), lastChangeMs: 7 }, result: 0 }));
        expect((await db.collection(store.collection).doc(baselineDocId(key)).get()).get('outbox')).toHaveLength(1);
        failing = false;
        const redelivery = (current: ServiceBaseline | undefined) => ({ result: { findings: [] as Finding[] }, ...(current ? {} : { next: emptyBaseline() }) });
        await store.transact(key, redelivery, recording(delivered));
        expect(delivered.map((f) => f.id)).toEqual([`${'1'.padStart(16, '0')}${'0'.padStart(16, '0')}`]);
        expect((await db.collection(store.collection).doc(baselineDocId(key)).get()).get('outbox')).toEqual([]);
      });

      // What the document's outbox has no room for (OUTBOX_BYTES_LIMIT) waits in spill documents, written in the same
      // commit: with writers contending and every publish failing, nothing a committed run raised is lost, nothing a
      // lost run raised goes out, and a finding and its resolution (the same id) both go out.
      it('spills what the outbox has no room for, and delivers it once a publish succeeds, with N writers contending', async () => {
        const name = collection('spill');
        const key = 'acme-prod/europe-west1/spilled-outbox';
        const stores = Array.from({ length: 4 }, () => new FirestoreBaselineStore({ firestore: db, collection: name, maxAttempts: 30 }));
        /** Findings of ~100 KB, twice what the document's outbox takes in all: each run's active finding and its resolution. */
        const big = (i: number) => (current: ServiceBaseline | undefined) => {
          const { next, result } = raise(i)(current);
          const active = { ...result.findings[0]!, evidence: { padding: 'p'.repeat(OUTBOX_BYTES_LIMIT / 2) } };
          return { next, result: { findings: [active, { ...active, status: 'resolved' as const }] } };
        };
        const results = await Promise.allSettled(stores.map((store, i) => store.transact(key, big(i), recording([], () => true))));
        expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'delivered'))).toEqual(Array(4).fill('Error: publish failed'));
        const doc = db.collection(name).doc(baselineDocId(key));
        expect(Buffer.byteLength(JSON.stringify((await doc.get()).data()), 'utf8')).toBeLessThan(OUTBOX_BYTES_LIMIT + 64 * 1024);
        expect((await doc.collection(spillCollectionOf(doc.parent.id)).get()).size).toBeGreaterThan(0);
        expect(await stores[0]!.undeliveredKeys(Date.now())).toEqual([key]);
        // Each committed run saw a different number of earlier writers: the findings of the runs that committed.
        const committed = Object.keys((await stores[0]!.get(key))?.repositories ?? {}).sort();
        expect(committed).toEqual(['repo-0', 'repo-1', 'repo-2', 'repo-3']);

        const delivered: Finding[] = [];
        const nothing = (current: ServiceBaseline | undefined) => ({ result: { findings: [] as Finding[] }, ...(current ? {} : { next: emptyBaseline() }) });
        await stores[1]!.transact(key, nothing, recording(delivered));
        const lines = delivered.map((f) => `${Number(f.id.slice(0, 16))}:${f.status ?? 'active'}`).sort();
        expect(new Set(lines).size).toBe(lines.length);
        expect(lines).toEqual(['0:active', '0:resolved', '1:active', '1:resolved', '2:active', '2:resolved', '3:active', '3:resolved']);
        // Each was raised by the run that committed: the number of writers before it is the one its baseline shows.
        expect(new Set(delivered.map((f) => Number(f.id.slice(16)))).size).toBe(4);
        const after = await doc.get();
        expect(after.get('outbox')).toEqual([]);
        expect(after.get('outboxSinceMs')).toBeUndefined();
        expect(after.get('outboxSpilled')).toBeUndefined();
        expect((await doc.collection(spillCollectionOf(doc.parent.id)).get()).size).toBe(0);
        expect(await stores[0]!.undeliveredKeys(Number.MAX_SAFE_INTEGER)).toEqual([]);
      }, 120_000);

      it('the sweep publishes what a failed publish left once it waited OUTBOX_SWEEP_AFTER_MS, and only with a publish', async () => {
        const store = new FirestoreBaselineStore({ firestore: db, collection: collection('outbox') });
        const key = 'acme-prod/europe-west1/left-in-outbox';
        const before = Date.now();
        await expect(store.transact(key, raise(2), recording([], () => true))).rejects.toThrow('publish failed');
        const doc = async () => (await db.collection(store.collection).doc(baselineDocId(key)).get()).data();
        const since = (await doc())?.['outboxSinceMs'] as number;
        expect(since).toBeGreaterThanOrEqual(before);
        expect(await store.undeliveredKeys(since)).toEqual([key]);
        expect(await store.undeliveredKeys(since - 1)).toEqual([]);

        const published: Finding[] = [];
        const publish = async (findings: readonly Finding[]): Promise<void> => void published.push(...findings);
        const pipeline = new Pipeline({ config: config(), store, recentKeys: 0 });
        // Too soon: the writer may still be publishing them. Without a publish (replay) nothing is due either.
        await pipeline.sweep(since + OUTBOX_SWEEP_AFTER_MS - 1, publish);
        await pipeline.sweep(since + OUTBOX_SWEEP_AFTER_MS);
        expect(published).toEqual([]);
        expect((await doc())?.['outbox']).toHaveLength(1);

        await pipeline.sweep(since + OUTBOX_SWEEP_AFTER_MS, publish);
        expect(published.map((f) => f.id)).toEqual([`${'2'.padStart(16, '0')}${'0'.padStart(16, '0')}`]);
        expect((await doc())?.['outbox']).toEqual([]);
        expect((await doc())?.['outboxSinceMs']).toBeUndefined();
        expect(await store.undeliveredKeys(Number.MAX_SAFE_INTEGER)).toEqual([]);
        // The baseline is as the failed transaction stored it: the sweep changed nothing else.
        expect(Object.keys((await store.get(key))?.repositories ?? {})).toEqual(['repo-2']);
      });
    });

    // Firestore refuses map keys `__x__` and ''; deployers write the label and annotation keys that rollouts and
    // findings carry. A forged entry holding them failed its transaction on every delivery until dead-lettered.
    it('stores baselines and outboxes whose map keys Firestore reserves, and reads them back unchanged', async () => {
      const store = new FirestoreBaselineStore({ firestore: db, collection: collection('reserved') });
      const key = 'acme-prod/europe-west1/reserved-keys';
      const baseline: ServiceBaseline = { ...emptyBaseline(), repositories: { __reserved__: 1_000, '': 2_000, 'a.b/c': 3_000 }, lastChangeMs: 3_000 };
      const finding = makeFinding('public-invoker-grant', {}, { labels: { __x__: 'y', '': 'empty' } });
      const delivered: Finding[] = [];
      const deliver = { findingsOf: () => [finding], deliver: async (f: readonly Finding[]) => void delivered.push(...f) };
      await store.transact(key, () => ({ next: baseline, result: null }), deliver);
      expect(await store.get(key)).toEqual(baseline);
      expect(delivered).toEqual([finding]);
    });

    it('still reads documents written with the baseline and outbox as Firestore maps', async () => {
      const name = collection('legacy');
      const store = new FirestoreBaselineStore({ firestore: db, collection: name });
      const key = 'acme-prod/europe-west1/legacy';
      const baseline: ServiceBaseline = { ...emptyBaseline(), repositories: { 'gcr.io/acme': 1_000 }, lastChangeMs: 1_000 };
      const finding = makeFinding('public-invoker-grant');
      await db.collection(name).doc(baselineDocId(key)).set({ key, baseline, outbox: [finding], outboxSinceMs: 1, updatedAt: new Date() });
      expect(await store.get(key)).toEqual(baseline);
      const delivered: Finding[] = [];
      await store.transact(key, (current) => ({ result: current?.lastChangeMs }), { findingsOf: () => [], deliver: async (f: readonly Finding[]) => void delivered.push(...f) });
      expect(delivered).toEqual([finding]);
      expect(await store.get(key)).toEqual(baseline);
    });

    // A baseline document written before ServiceBaseline.memberBindings existed (the state runwatch wrote at a9d8ca9:
    // test/fixtures/state-before-member-bindings-SOURCES.md), as JSON text and as a Firestore map: external-member-grant
    // reads it as a policy not known, and the store writes it back with the history.
    it.each([['JSON text'], ['a Firestore map']])('reads a baseline stored before memberBindings (%s): external-member-grant judges the next policies', async (form) => {
      const name = collection('before-members');
      const store = new FirestoreBaselineStore({ firestore: db, collection: name });
      const key = 'some-project/us-west1/cloudrun-exfil';
      const old = (JSON.parse(readFileSync(new URL('../fixtures/state-before-member-bindings.json', import.meta.url), 'utf8')) as { services: Record<string, ServiceBaseline> }).services[key]!;
      expect(old).not.toHaveProperty('memberBindings');
      await db.collection(name).doc(baselineDocId(key)).set({ key, baseline: form === 'JSON text' ? JSON.stringify(old) : old, outbox: [], updatedAt: new Date() });
      const policy = (timestamp: string, members: string[]): Json =>
        variant(at(corpus('panther__Services.SetIamPolicy__1'), timestamp), (e) => {
          const bindings = [{ role: 'roles/run.invoker', members }];
          (e.protoPayload['request'] as { policy: Json }).policy['bindings'] = bindings;
          (e.protoPayload['response'] as Json)['bindings'] = bindings;
        });
      const cfg = config({ rules: { 'external-member-grant': { allowedDomains: ['acme.com'] } } });
      const pipeline = new Pipeline({ config: cfg, store });
      const findings: Finding[] = [];
      const entries = [policy('2024-02-03T10:00:00Z', ['user:some.user@company.com']), policy('2024-02-04T10:00:00Z', ['user:some.user@company.com', 'user:other@gmail.com']), policy('2024-02-05T10:00:00Z', [])];
      for (const [i, entry] of entries.entries()) {
        const outcome = await pipeline.handleEntry(entry, Date.parse('2030-01-01T00:00:00Z') + i * 3_600_000);
        if (outcome.status === 'processed') findings.push(...outcome.findings);
      }
      findings.push(...(await pipeline.flush()));
      expect(findings.filter((f) => f.rule === 'external-member-grant').map((f) => [f.eventTime.slice(0, 10), f.evidence['member'], f.evidence['source'], f.status ?? 'active'])).toEqual([
        ['2024-02-03', 'user:some.user@company.com', 'full policy (no earlier policy known)', 'active'],
        ['2024-02-04', 'user:other@gmail.com', 'difference from the last known policy', 'active'],
        ['2024-02-03', 'user:some.user@company.com', 'full policy (no earlier policy known)', 'resolved'],
        ['2024-02-04', 'user:other@gmail.com', 'difference from the last known policy', 'resolved'],
      ]);
      const stored = await store.get(key);
      expect(stored?.publicInvokers[0]).toEqual(old.publicInvokers[0]);
      expect(stored?.memberBindings?.map((p) => p.v)).toEqual([['roles/run.invoker user:some.user@company.com'], ['roles/run.invoker user:other@gmail.com', 'roles/run.invoker user:some.user@company.com'], []]);
      await store.close();
    });

    it('refuses to overwrite a document that is not a version 1 baseline', async () => {
      const name = collection('baselines');
      const store = new FirestoreBaselineStore({ firestore: db, collection: name });
      await db.collection(name).doc(baselineDocId('p/l/s')).set({ key: 'p/l/s', baseline: { version: 99 } });
      await expect(store.transact('p/l/s', () => ({ next: emptyBaseline(), result: null }))).rejects.toThrow(/no version 1 baseline/);
    });

    describe('the pipeline on Firestore, entries for one service out of order', () => {
      const base = corpus('slackbot__Services.ReplaceService__1');
      const sa = (name: string): string => `${name}@test-project-1234.iam.gserviceaccount.com`;
      const deploy = (time: string, id: string, account: string): Json =>
        variant(withV1ServiceAccount(at(base, time, id), sa(account)), (e) => {
          // Each deploy is its own operation (the corpus entry's operation id would tie them together).
          const response = e.protoPayload['response'] as { metadata: { annotations: Record<string, string> } };
          response.metadata.annotations['run.googleapis.com/operation-id'] = `op-${id}`;
        });
      const entries = [
        deploy('2024-05-06T10:00:00Z', 'ooo-a', 'first'),
        deploy('2024-05-06T11:00:00Z', 'ooo-b', 'second'),
        deploy('2024-05-06T12:00:00Z', 'ooo-c', 'first'),
        deploy('2024-05-06T13:00:00Z', 'ooo-d', 'third'),
      ];
      const delivered = [entries[2], entries[0], entries[3], entries[1]];
      const key = 'test-project-1234/asia-northeast1/cloud-run-slack-bot';
      const NOW = Date.parse('2030-01-01T00:00:00Z');

      /** Every entry, then the sweep that completes what still waits; the service-account-change finding ids. */
      async function run(store: MemoryBaselineStore | FirestoreBaselineStore, order: readonly unknown[]): Promise<string[]> {
        const pipeline = new Pipeline({ config: config(), store, recentKeys: 0 });
        const findings = [];
        for (const entry of order) {
          const outcome = await pipeline.handleEntry(entry, NOW);
          if (outcome.status === 'processed') findings.push(...outcome.findings);
        }
        // The sweep that runs once the correlation wait (600 s by default) is over.
        findings.push(...(await pipeline.sweep(NOW + 600_000)));
        return findings.filter((f) => f.rule === 'service-account-change').map((f) => f.id).sort();
      }

      /** The facts a baseline holds about the service (rollout bookkeeping aside). */
      const facts = (b: ServiceBaseline | undefined) =>
        b && { serviceAccount: b.serviceAccount, template: b.template, repositories: b.repositories, publicInvokers: b.publicInvokers, ingress: b.ingress, lastChangeMs: b.lastChangeMs };

      it('ends with the same facts as replay in timestamp order (the newest state last)', async () => {
        const memory = new MemoryBaselineStore();
        await run(memory, entries);
        const firestore = new FirestoreBaselineStore({ firestore: db, collection: collection('baselines') });
        await run(firestore, delivered);
        const stored = await firestore.get(key);
        expect(facts(stored)).toEqual(facts(await memory.get(key)));
        expect(valueBefore(stored?.serviceAccount, Infinity)).toBe(sa('third'));
        expect(stored?.rollouts ?? []).toEqual([]);
      });

      // Deploys of one service wait for their system events and complete in event-time order, so delivery out of
      // order within the wait raises the findings replay in timestamp order raises.
      it('raises the service-account-change findings replay in timestamp order raises', async () => {
        const inOrder = await run(new MemoryBaselineStore(), entries);
        expect(inOrder).toHaveLength(3);
        const outOfOrder = await run(new FirestoreBaselineStore({ firestore: db, collection: collection('baselines') }), delivered);
        expect(outOfOrder).toEqual(inOrder);
      });
    });

    // Traffic moved back to an older revision is judged by the identities the baseline keeps of the service's revisions
    // (revisionIdentities): they must come back from Firestore as they went in, or the live pipeline misses the move.
    it('raises and resolves the traffic findings of service-account-change as on memory', async () => {
      const A = 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com';
      const B = 'ci-admin@test-project-1234.iam.gserviceaccount.com';
      const entries = [
        generationDeploy('2024-05-01T10:00:00Z', A, 1),
        generationDeploy('2024-05-02T10:00:00Z', B, 2),
        generationDeploy('2024-05-02T12:00:00Z', A, 3),
        v1TrafficWrite('2024-05-03T10:00:00Z', A, 4, [trafficToRevision(2)]),
        v1TrafficWrite('2024-05-04T10:00:00Z', A, 5, [{ latestRevision: true, percent: 100 }]),
      ];
      const NOW = Date.parse('2030-01-01T00:00:00Z');
      const run = async (store: MemoryBaselineStore | FirestoreBaselineStore): Promise<string[]> => {
        const pipeline = new Pipeline({ config: config(), store, recentKeys: 0 });
        const findings: Finding[] = [];
        for (const entry of entries) {
          const outcome = await pipeline.handleEntry(entry, NOW);
          if (outcome.status === 'processed') findings.push(...outcome.findings);
        }
        findings.push(...(await pipeline.sweep(NOW + 600_000)));
        return findings.filter((f) => f.rule === 'service-account-change').map((f) => `${f.id} ${f.status ?? 'active'} ${String(f.evidence['servingRevision'] ?? '-')}`);
      };
      const onMemory = await run(new MemoryBaselineStore());
      const firestore = new FirestoreBaselineStore({ firestore: db, collection: collection('baselines') });
      const onFirestore = await run(firestore);
      expect(onFirestore).toEqual(onMemory);
      expect(onFirestore.map((line) => line.slice(33))).toEqual(['active -', 'resolved -', 'active cloud-run-slack-bot-00002-r02', 'resolved cloud-run-slack-bot-00002-r02']);
      const stored = await firestore.get('test-project-1234/asia-northeast1/cloud-run-slack-bot');
      expect(stored?.revisionIdentities?.map((r) => [r.g, r.v])).toEqual([
        [1, A],
        [2, B],
        [3, A],
      ]);
    });

    // The baseline remembers its last 64 applied entries: a copy delivered after more entries of the service than that
    // (a redelivery after a long publish outage, `runwatch redrive` days later) was applied again, re-opened the
    // deploy's rollout and raised its finding a second time under another id (the revision unknown the second time).
    it('recognizes an entry applied long ago (64+ entries of the service since) and raises nothing again', async () => {
      const store = new FirestoreBaselineStore({ firestore: db, collection: collection('baselines') });
      const cfg = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }] });
      const seq = synthetic('seq-console-deploy') as unknown as Json[];
      const published: Finding[] = [];
      const publish = async (f: readonly Finding[]): Promise<void> => void published.push(...f);
      let now = Date.parse('2024-05-06T23:00:00Z');
      const pipeline = new Pipeline({ config: cfg, store, recentKeys: 0 });
      for (const entry of seq) await pipeline.handleEntry(entry, now, publish);
      expect(published.map((f) => f.rule)).toEqual(['off-window-deploy']);
      for (let i = 0; i < 70; i++) await pipeline.handleEntry(at(seq[2]!, new Date(Date.parse('2024-05-07T00:00:00Z') + i * 1000).toISOString()), now, publish);
      now += 3_600_000;
      published.length = 0;
      const later = new Pipeline({ config: cfg, store, recentKeys: 0 });
      expect(await later.handleEntry(seq[0], now, publish)).toEqual({ status: 'duplicate' });
      expect(await later.handleEntry(seq[1], now, publish)).toEqual({ status: 'duplicate' });
      await later.sweep(now + 700_000, publish);
      expect(published).toEqual([]);
    });

    // Free text a deployer writes (a breakglass justification, the client-name annotation) is bounded only by the
    // audit entry (512 KiB): kept whole it went into the waiting rollout, the breakglass history (32 points), the
    // finding's evidence and the outbox, and the document passed Firestore's 1 MiB, so the entry that bypassed
    // Binary Authorization was never reported (every delivery failed) and no later entry of the service was either.
    it('reports deploys with a very long breakglass justification and client name, and keeps the document small', async () => {
      const store = new FirestoreBaselineStore({ firestore: db, collection: collection('baselines') });
      const pipeline = new Pipeline({ config: config(), store, recentKeys: 0 });
      const long = 'j'.repeat(300_000);
      const deploy = (time: string, id: string): Json =>
        variant(at(synthetic('v2-CreateService'), time, id), (e) => {
          const service = (e.protoPayload['request'] as { service: Record<string, unknown> }).service;
          service['binaryAuthorization'] = { useDefault: true, breakglassJustification: `${long}${id}` };
          service['annotations'] = { 'run.googleapis.com/client-name': 'c'.repeat(200_000) };
          (service['template'] as Record<string, unknown>)['labels'] = { deploy: id };
        });
      const published: Finding[] = [];
      const publish = async (f: readonly Finding[]): Promise<void> => void published.push(...f);
      const NOW = Date.parse('2030-01-01T00:00:00Z');
      for (const [i, time] of ['2024-06-01T10:00:00Z', '2024-06-01T11:00:00Z', '2024-06-01T12:00:00Z'].entries()) {
        await pipeline.handleEntry(deploy(time, `bg-${i}`), NOW + i * 700_000, publish);
        await pipeline.sweep(NOW + i * 700_000 + 600_000, publish);
      }
      const bypasses = published.filter((f) => f.rule === 'binary-authorization-bypass');
      expect(bypasses).toHaveLength(3);
      for (const f of bypasses) expect(String(f.evidence['justification']).length).toBeLessThanOrEqual(1_024);
      const doc = await db.collection(store.collection).doc(baselineDocId('acme-prod/europe-west1/storefront')).get();
      expect(JSON.stringify(doc.data()).length).toBeLessThan(100_000);
    });

    // A waiting rollout keeps its admin write, labels included: Cloud Run takes 64 service and 64 revision labels of up
    // to 63 characters each, about 26 KB a write. ROLLOUT_LIMIT (64) of them is 1.7 MB: the 40th such deploy inside one
    // wait failed its transaction ('The value of property "baseline" is longer than 1048487 bytes') on every delivery,
    // and so did every later entry of the service until the sweep judged the waiting ones: those deploys went to the
    // dead-letter topic unreported.
    it('keeps the document under 1 MiB while deploys with the most labels Cloud Run takes wait, and judges every one', async () => {
      const store = new FirestoreBaselineStore({ firestore: db, collection: collection('baselines') });
      const cfg = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }] });
      const pipeline = new Pipeline({ config: cfg, store, recentKeys: 0 });
      const labels = (prefix: string, i: number): Record<string, string> =>
        Object.fromEntries(Array.from({ length: 64 }, (_, k) => [`${prefix}${String(k).padStart(2, '0')}`.padEnd(63, 'k'), `${i}`.padEnd(63, 'v')]));
      const t0 = Date.parse('2024-06-01T11:00:00Z');
      const published: Finding[] = [];
      const publish = async (f: readonly Finding[]): Promise<void> => void published.push(...f);
      const failed: string[] = [];
      for (let i = 0; i < 64; i++) {
        const deploy = variant(at(synthetic('v2-UpdateService'), new Date(t0 + i * 5_000).toISOString(), `labels-${i}`), (e) => {
          const service = (e.protoPayload['request'] as { service: { labels: unknown; template: { labels: unknown } } }).service;
          service.labels = labels('s', i);
          service.template.labels = labels('t', i);
          (e.protoPayload['response'] as { name: string }).name = `projects/acme-prod/locations/europe-west1/operations/op-labels-${i}`;
        });
        // Each deploy waits for its system events (none come): all of them inside one wait.
        await pipeline.handleEntry(deploy, t0 + i * 5_000, publish).catch((error: unknown) => void failed.push(`${i}: ${String(error).slice(0, 120)}`));
      }
      expect(failed).toEqual([]);
      const doc = await db.collection(store.collection).doc(baselineDocId('acme-prod/europe-west1/storefront')).get();
      expect(Buffer.byteLength(JSON.stringify(doc.data()), 'utf8')).toBeLessThan(512 * 1024);
      await pipeline.sweep(t0 + 3_600_000, publish);
      expect(new Set(published.filter((f) => f.rule === 'off-window-deploy').map((f) => f.insertId)).size).toBe(64);
    });

    // Every finding carries the deploy's labels: Cloud Run takes 64 service and 64 revision labels of 63 characters,
    // international lowercase letters included (3 bytes of UTF-8 each for Georgian), about 48 KB a finding. The open
    // findings of a service (up to 20, each kept whole so that what closes it can say so) and the outbox of the
    // transaction that raised them came to more than Firestore's 1 MiB a document: from the twelfth such deploy every
    // entry of the service failed its transaction on every delivery, and nothing of the service was reported again.
    it('keeps reporting a service whose deploys carry the largest labels and leave their risks open', async () => {
      const store = new FirestoreBaselineStore({ firestore: db, collection: collection('baselines') });
      // Deploys outside every window by an unapproved deployer: more findings, each with the labels, per deploy.
      const cfg = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }], rules: { 'unapproved-deployer': { allowedDeployers: ['user:release@acme.example'] } } });
      const pipeline = new Pipeline({ config: cfg, store, recentKeys: 0 });
      const georgian = 'ა';
      const labels = (prefix: string, i: number): Record<string, string> =>
        Object.fromEntries(Array.from({ length: 64 }, (_, k) => [`${prefix}${k}`.padEnd(63, georgian), `${i}`.padEnd(63, georgian)]));
      // Each deploy keeps the secrets set in plain text before it and adds one: each one's finding stays open.
      const deploy = (i: number): Json => {
        const time = new Date(Date.parse('2024-06-01T10:00:00Z') + i * 3_600_000).toISOString();
        const env = [...Array.from({ length: i + 1 }, (_, k) => ({ name: `DB_PASSWORD_${k}`, value: 'hunter2hunter2' })), { name: 'NODE_OPTIONS', value: `--require /srv/hook-${i}.js` }];
        return editV1Services(v1EnvDeploy(time, env, `gcr.io/acme/app:${i}`), (svc) => {
          (svc['metadata'] as Record<string, unknown>)['labels'] = labels('s', i);
          const template = (svc['spec'] as Record<string, Record<string, unknown>>)['template']!;
          (template['metadata'] as Record<string, unknown>)['labels'] = labels('t', i);
        });
      };
      const published: Finding[] = [];
      const publish = async (f: readonly Finding[]): Promise<void> => void published.push(...f);
      const failed: string[] = [];
      let nowMs = Date.parse('2030-01-01T00:00:00Z');
      // (Sixteen: a revision's plain-text secrets are kept up to 16 variables.)
      for (let i = 0; i < 16; i++) {
        nowMs += 3_600_000;
        await pipeline.handleEntry(deploy(i), nowMs, publish).catch((error: unknown) => void failed.push(`${i}: ${String(error).slice(0, 120)}`));
        // Its wait for the revision's system events runs out (none come).
        await pipeline.sweep(nowMs + 1_800_000, publish).catch((error: unknown) => void failed.push(`sweep ${i}: ${String(error).slice(0, 120)}`));
      }
      expect(failed).toEqual([]);
      const reported = new Set(published.filter((f) => f.rule === 'plaintext-secret-env' && f.status === undefined).map((f) => f.insertId));
      expect(reported.size).toBe(16);
      const doc = await db.collection(store.collection).doc(baselineDocId(`${SLACK_BOT.project}/${SLACK_BOT.location}/${SLACK_BOT.service}`)).get();
      expect(Buffer.byteLength(JSON.stringify(doc.data()), 'utf8')).toBeLessThan(512 * 1024);
    });

    // One transaction raised every finding of the deploys it completed, each finding with all of its deploy's labels,
    // into the outbox of the service's document: a sweep that completed several deploys waiting inside one wait came to
    // more than Firestore's 1 MiB (8 deploys with the largest labels: 27 findings of ~50 KB; 64 deploys with 24 labels
    // each: ~35 complete at once, ~9 findings each), and the transaction failed on every sweep and on every later entry
    // of the service (each completes what is due first): nothing of the service was reported again.
    describe('a sweep that completes many waiting deploys with many labels', () => {
      const cases = [
        { name: 'the largest labels (Georgian letters)', deploys: 8, labelCount: 64, letter: 'ა' },
        { name: 'many deploys with some labels', deploys: 64, labelCount: 24, letter: 'k' },
      ];
      for (const { name, deploys, labelCount, letter } of cases) {
        it(`reports every deploy and keeps the document small: ${name}`, async () => {
          const store = new FirestoreBaselineStore({ firestore: db, collection: collection('baselines') });
          const cfg = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }], rules: { 'unapproved-deployer': { allowedDeployers: ['user:release@acme.example'] } } });
          const pipeline = new Pipeline({ config: cfg, store, recentKeys: 0 });
          const t0 = Date.parse('2024-06-01T10:00:00Z');
          const deploy = (i: number): Json => labeledDeploy(t0, i, labelCount, letter);
          const published: Finding[] = [];
          const publish = async (f: readonly Finding[]): Promise<void> => void published.push(...f);
          const failed: string[] = [];
          // Every deploy waits for its system events (none come): all of them inside one wait.
          for (let i = 0; i < deploys; i++) {
            await pipeline.handleEntry(deploy(i), t0 + i * 10_000 + 1_000, publish).catch((error: unknown) => void failed.push(`${i}: ${String(error).slice(0, 160)}`));
          }
          await pipeline.sweep(t0 + 7_200_000, publish).catch((error: unknown) => void failed.push(`sweep: ${String(error).slice(0, 160)}`));
          expect(failed).toEqual([]);
          expect(new Set(published.filter((f) => f.rule === 'off-window-deploy').map((f) => f.insertId)).size).toBe(deploys);
          const doc = await db.collection(store.collection).doc(baselineDocId(`${SLACK_BOT.project}/${SLACK_BOT.location}/${SLACK_BOT.service}`)).get();
          expect(Buffer.byteLength(JSON.stringify(doc.data()), 'utf8')).toBeLessThan(512 * 1024);
          expect((await store.get(`${SLACK_BOT.project}/${SLACK_BOT.location}/${SLACK_BOT.service}`))?.rollouts ?? []).toEqual([]);
        });
      }
    });

    // A delete judges every deploy of the service still waiting before it, in its own transaction: 64 of them, each
    // with 12 labels of Georgian letters, raised 1.6 MB of findings, and the delete failed on every delivery.
    it('a delete with many deploys with many labels waiting before it reports them all and applies the delete', async () => {
      const store = new FirestoreBaselineStore({ firestore: db, collection: collection('baselines') });
      const cfg = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }], rules: { 'unapproved-deployer': { allowedDeployers: ['user:release@acme.example'] } } });
      const pipeline = new Pipeline({ config: cfg, store, recentKeys: 0 });
      const t0 = Date.parse('2024-06-01T10:00:00Z');
      const deploy = (i: number): Json => labeledDeploy(t0, i, 6, 'ა');
      const published: Finding[] = [];
      const publish = async (f: readonly Finding[]): Promise<void> => void published.push(...f);
      const failed: string[] = [];
      for (let i = 0; i < 64; i++) await pipeline.handleEntry(deploy(i), t0 + i * 10_000 + 1_000, publish).catch((error: unknown) => void failed.push(`${i}: ${String(error).slice(0, 160)}`));
      await pipeline.handleEntry(deleteServiceAt(new Date(t0 + 650_000).toISOString(), SLACK_BOT, 'del-many'), t0 + 651_000, publish).catch((error: unknown) => void failed.push(`delete: ${String(error).slice(0, 160)}`));
      expect(failed).toEqual([]);
      expect(new Set(published.filter((f) => f.rule === 'off-window-deploy').map((f) => f.insertId)).size).toBe(64);
      const stored = await store.get(`${SLACK_BOT.project}/${SLACK_BOT.location}/${SLACK_BOT.service}`);
      expect(stored?.deletedAtMs).toBe(t0 + 650_000);
      expect(stored?.rollouts ?? []).toEqual([]);
    });

    // The outbox keeps what a failed publish left until a publish succeeds: during a Pub/Sub outage every transaction
    // of a service that keeps being deployed added its findings to the document's outbox (each transaction's findings
    // are bounded, their sum across transactions was not). Once the document passed Firestore's 1 MiB, every later
    // transaction of the service failed on every delivery and every sweep: runwatch went blind to the service, and
    // what waited in its outbox was never published, even after Pub/Sub came back.
    it('keeps a service\'s transactions working and loses no finding while publishing fails for many deploys', async () => {
      const key = `${SLACK_BOT.project}/${SLACK_BOT.location}/${SLACK_BOT.service}`;
      const cfg = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }], rules: { 'unapproved-deployer': { allowedDeployers: ['user:release@acme.example'] } } });
      const t0 = Date.parse('2024-06-01T10:30:00Z'); // hourly deploys, none inside the window
      const deploys = 36;
      const run = async (store: BaselineStore, outage: boolean, beforeRecovery?: () => Promise<void>): Promise<{ published: Finding[]; failed: string[] }> => {
        const pipeline = new Pipeline({ config: cfg, store, recentKeys: 0 });
        const published: Finding[] = [];
        let down = outage;
        const publish = async (f: readonly Finding[]): Promise<void> => {
          if (down) throw new Error('publish failed: Pub/Sub unavailable');
          published.push(...f);
        };
        const failed: string[] = [];
        const attempt = (what: string, work: Promise<unknown>): Promise<void> =>
          work.then(
            () => undefined,
            (error: unknown) => void (String(error).includes('Pub/Sub unavailable') ? undefined : failed.push(`${what}: ${String(error).slice(0, 160)}`)),
          );
        for (let i = 0; i < deploys; i++) {
          const nowMs = t0 + i * 3_600_000 + 1_000;
          await attempt(`deploy ${i}`, pipeline.handleEntry(labeledDeploy(t0, i * 360, 64, 'ა'), nowMs, publish));
          // Its wait for the revision's system events runs out (none come).
          await attempt(`sweep ${i}`, pipeline.sweep(nowMs + 1_800_000, publish));
        }
        await beforeRecovery?.();
        // Pub/Sub is back: the sweep publishes what waited in the outbox.
        down = false;
        await attempt('sweep after the outage', pipeline.sweep(Date.now() + OUTBOX_SWEEP_AFTER_MS, publish));
        return { published, failed };
      };
      const store = new FirestoreBaselineStore({ firestore: db, collection: collection('outage') });
      const doc = db.collection(store.collection).doc(baselineDocId(key));
      const onFirestore = await run(store, true, async () => {
        // What the document's outbox had no room for waits in spill documents, more than one delivery takes.
        expect(Buffer.byteLength(JSON.stringify((await doc.get()).data()), 'utf8')).toBeLessThan(1_000_000);
        const spilled = (await doc.collection(spillCollectionOf(doc.parent.id)).get()).docs.map((d) => d.get('findings') as string[]);
        expect(Buffer.byteLength(spilled.flat().join(''), 'utf8')).toBeGreaterThan(1_048_576);
      });
      expect(onFirestore.failed).toEqual([]);
      const expected = await run(new MemoryBaselineStore(), false);
      const ids = (findings: readonly Finding[]): string[] => [...new Set(findings.map((f) => `${f.id} ${f.rule} ${f.status ?? 'active'}`))].sort();
      expect(ids(expected.published).filter((line) => line.includes('off-window-deploy'))).toHaveLength(deploys);
      expect(ids(onFirestore.published)).toEqual(ids(expected.published));
      const after = await doc.get();
      expect(Buffer.byteLength(JSON.stringify(after.data()), 'utf8')).toBeLessThan(1_000_000);
      expect(after.get('outbox')).toEqual([]);
      expect(after.get('outboxSinceMs')).toBeUndefined();
      expect(after.get('outboxSpilled')).toBeUndefined();
      expect((await doc.collection(spillCollectionOf(doc.parent.id)).get()).size).toBe(0);
    }, 120_000);

    // A service deleted and created again under the name keeps its runtime service account across the delete
    // (baseline/apply.ts): the stored baseline after the delete must carry it, and the pipeline on Firestore must
    // compare the re-created service's first revision with the deleted one's, as on memory.
    describe('a service deleted and created again under the name', () => {
      const base = corpus('slackbot__Services.ReplaceService__1');
      const key = 'test-project-1234/asia-northeast1/cloud-run-slack-bot';
      const sa = (name: string): string => `${name}@test-project-1234.iam.gserviceaccount.com`;
      const deploy = (time: string, id: string, account: string): Json =>
        variant(withV1ServiceAccount(at(base, time, id), sa(account)), (e) => {
          const response = e.protoPayload['response'] as { metadata: { annotations: Record<string, string> } };
          response.metadata.annotations['run.googleapis.com/operation-id'] = `op-${id}`;
        });
      const deleted = deleteServiceAt('2024-05-06T11:00:00Z', SLACK_BOT, 'rc-delete');
      const entries = [deploy('2024-05-06T10:00:00Z', 'rc-a', 'first'), deleted, deploy('2024-05-06T12:00:00Z', 'rc-b', 'attacker')];

      async function run(store: MemoryBaselineStore | FirestoreBaselineStore): Promise<string[]> {
        const pipeline = new Pipeline({ config: config(), store, recentKeys: 0 });
        const findings = [];
        let nowMs = Date.parse('2030-01-01T00:00:00Z');
        for (const entry of entries) {
          const outcome = await pipeline.handleEntry(entry, (nowMs += 3_600_000));
          if (outcome.status === 'processed') findings.push(...outcome.findings);
        }
        findings.push(...(await pipeline.sweep(nowMs + 3_600_000)));
        return findings
          .filter((f) => f.rule === 'service-account-change')
          .map((f) => `${f.id} ${String(f.evidence['before'])} -> ${String(f.evidence['after'])} ${String(f.evidence['recreatedAfterDeleteAt'])}`);
      }

      it('compares the re-created service with the deleted one, as on memory', async () => {
        const firestore = new FirestoreBaselineStore({ firestore: db, collection: collection('baselines') });
        const onFirestore = await run(firestore);
        expect(onFirestore).toEqual(await run(new MemoryBaselineStore()));
        expect(onFirestore.map((line) => line.slice(33))).toEqual([`${sa('first')} -> ${sa('attacker')} 2024-05-06T11:00:00.000Z`]);
        const stored = await firestore.get(key);
        expect(stored?.serviceAccount.map((p) => p.v)).toEqual([sa('first'), sa('attacker')]);
        expect(stored?.deletedAtMs).toBe(Date.parse('2024-05-06T11:00:00Z'));
      });
    });
  });

  describe('FirestoreDeliveryRecordStore', () => {
    const finding = 'f'.repeat(32);

    it('lets exactly one of many concurrent claims win, across store instances', async () => {
      const name = collection('deliveries');
      const stores = Array.from({ length: 10 }, () => new FirestoreDeliveryRecordStore({ firestore: db, collection: name }));
      const results = await Promise.all(stores.map((s) => s.claim('webhook', finding, 1_000, 60_000)));
      expect(results.filter((r) => r.claimed)).toHaveLength(1);
      for (const r of results) if (!r.claimed) expect(r.record).toMatchObject({ sink: 'webhook', findingId: finding, state: 'pending', leaseUntilMs: 61_000 });
      const doc = await db.collection(name).doc(`webhook__${finding}`).get();
      expect(doc.exists).toBe(true);
    });

    it('lets exactly one of many concurrent takers take over an expired lease', async () => {
      const name = collection('deliveries');
      const first = new FirestoreDeliveryRecordStore({ firestore: db, collection: name });
      expect(await first.claim('slack', finding, 1_000, 1_000)).toEqual({ claimed: true });
      const takers = Array.from({ length: 4 }, () => new FirestoreDeliveryRecordStore({ firestore: db, collection: name }));
      const results = await Promise.all(takers.map((s) => s.claim('slack', finding, 5_000, 60_000)));
      // The winner is told when the claim it took over was made (its sink may look for what that one sent).
      expect(results.filter((r) => r.claimed)).toEqual([{ claimed: true, takenOverFromMs: 1_000 }]);
      expect(await first.get('slack', finding)).toMatchObject({ state: 'pending', leaseUntilMs: 65_000 });
    });

    it('a claim taking over one that had itself taken over another is told when the first was made', async () => {
      const name = collection('deliveries');
      const store = new FirestoreDeliveryRecordStore({ firestore: db, collection: name });
      expect(await store.claim('slack', finding, 1_000, 1_000)).toEqual({ claimed: true });
      expect(await store.claim('slack', finding, 5_000, 1_000)).toEqual({ claimed: true, takenOverFromMs: 1_000 });
      // Each attempt may have sent: the third looks for a message from the first one on, not from the second.
      expect(await new FirestoreDeliveryRecordStore({ firestore: db, collection: name }).claim('slack', finding, 9_000, 1_000)).toEqual({ claimed: true, takenOverFromMs: 1_000 });
    });

    it('completes, keeps the ref on a later resolution, and never lets a delivered record be claimed again', async () => {
      const store = new FirestoreDeliveryRecordStore({ firestore: db, collection: collection('deliveries'), now: () => Date.parse('2024-05-06T00:00:00Z') });
      expect(await store.claim('slack', finding, 1_000, 10)).toEqual({ claimed: true });
      await store.complete('slack', finding, 'delivered', 'C123:1715000000.000100');
      const later = await store.claim('slack', finding, 10_000_000, 10);
      expect(later).toEqual({ claimed: false, record: { sink: 'slack', findingId: finding, state: 'delivered', ref: 'C123:1715000000.000100', updatedAt: '2024-05-06T00:00:00.000Z' } });
      await store.complete('slack', finding, 'resolved');
      expect(await store.get('slack', finding)).toMatchObject({ state: 'resolved', ref: 'C123:1715000000.000100' });
      expect((await store.get('slack', finding))?.leaseUntilMs).toBeUndefined();
    });

    it('release drops only its own pending claim, never a delivered record or a newer claim', async () => {
      const name = collection('deliveries');
      const a = new FirestoreDeliveryRecordStore({ firestore: db, collection: name });
      const b = new FirestoreDeliveryRecordStore({ firestore: db, collection: name });
      expect(await a.claim('webhook', finding, 1_000, 1_000)).toEqual({ claimed: true });
      await a.release('webhook', finding);
      expect(await a.get('webhook', finding)).toBeUndefined();

      expect(await a.claim('webhook', finding, 1_000, 1_000)).toEqual({ claimed: true });
      expect(await b.claim('webhook', finding, 5_000, 60_000)).toEqual({ claimed: true, takenOverFromMs: 1_000 }); // a's lease expired
      await a.release('webhook', finding); // a is slow: must not drop b's claim
      expect(await b.get('webhook', finding)).toMatchObject({ state: 'pending', leaseUntilMs: 65_000 });

      await b.complete('webhook', finding, 'delivered');
      await b.release('webhook', finding);
      expect(await b.get('webhook', finding)).toMatchObject({ state: 'delivered' });
    });

    it('expire ends its own pending claim at once and keeps it, so the next claim takes it over told when the first was made', async () => {
      const name = collection('deliveries');
      const [a, b, c] = [0, 1, 2].map(() => new FirestoreDeliveryRecordStore({ firestore: db, collection: name }));
      expect(await a!.claim('slack', finding, 1_000, 1_000)).toEqual({ claimed: true });
      expect(await b!.claim('slack', finding, 5_000, 60_000)).toEqual({ claimed: true, takenOverFromMs: 1_000 });
      await a!.expire('slack', finding); // a is slow: not its claim any more
      expect(await c!.claim('slack', finding, 6_000, 60_000)).toMatchObject({ claimed: false, record: { state: 'pending', leaseUntilMs: 65_000 } });
      await b!.expire('slack', finding);
      expect(await c!.claim('slack', finding, 6_000, 60_000)).toEqual({ claimed: true, takenOverFromMs: 1_000 });
      await c!.complete('slack', finding, 'delivered');
      await c!.expire('slack', finding);
      expect(await c!.get('slack', finding)).toMatchObject({ state: 'delivered' });
    });
  });

  // Pub/Sub pushes several messages at once, to several instances: entries of one service meet in concurrent
  // transactions, which Firestore serializes (the loser runs again). Whatever the interleaving, the rules judged at
  // rollout completion judge as replay in timestamp order does, and nothing is lost or reported twice.
  describe('concurrent delivery', () => {
    const cfg = config({
      changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }],
      rules: { 'new-image-repository': { trustedRepositories: ['trusted.example/*'] }, 'unapproved-deployer': { allowedDeployers: ['serviceAccount:*'] } },
    });
    const deploys = (findings: readonly Finding[]): string[] =>
      findings
        .filter((f) => DEPLOY_RULES.has(f.rule))
        .map((f) => `${f.id} ${f.rule} ${f.status ?? 'active'}`)
        .sort();

    it.each([1, 2])('seed %i: four entries in flight at once give the deploy findings of timestamp order', async (seed) => {
      const next = seededRandom(seed);
      const files = fixtureFiles();
      const NOW = Date.parse('2030-01-01T00:00:00Z');
      let judged = 0;
      for (let n = 0; n < 6; n++) {
        const entries = fixtureMix(files, next, `concurrent-${seed}-${n}`);
        const expected = deploys(await findingsOf(entries, cfg));
        const pipeline = new Pipeline({ config: cfg, store: new FirestoreBaselineStore({ firestore: db, collection: collection('concurrent') }) });
        const found = await deliverFourAtOnce([pipeline], entries, NOW);
        expect(deploys(found), `mix ${n}`).toEqual(expected);
        judged += expected.length;
      }
      expect(judged).toBeGreaterThan(5);
    }, 120_000);
  });

  // Rule exceptions hold findings back (engine.ts): counted once each, when the transaction that held them back is
  // committed. Under contention Firestore runs a transaction body again; a count told from a body that lost would be
  // told twice (replay's summary, the detect function's log line).
  it('four instances with entries in flight at once, every deploy rule exempt: each finding held back is told once, as in timestamp order', async () => {
    const exempt = config({
      changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }],
      rules: Object.fromEntries(
        [...DEPLOY_RULES].map((rule) => [rule, { exceptions: [{ project: 'no-such-project' }, { project: '*' }], ...(rule === 'new-image-repository' ? { trustedRepositories: ['trusted.example/*'] } : {}) }]),
      ),
    });
    const told = (heldBack: readonly HeldBack[]): string[] => heldBack.map((h) => `${h.finding.id} ${h.rule} ${h.exception}`).sort();
    const next = seededRandom(7);
    const files = fixtureFiles();
    const NOW = Date.parse('2030-01-01T00:00:00Z');
    let total = 0;
    for (let n = 0; n < 4; n++) {
      const entries = fixtureMix(files, next, `held-back-${n}`);
      const expected: HeldBack[] = [];
      await findingsOf(entries, exempt, (h) => expected.push(h));
      const heldBack: HeldBack[] = [];
      // Four instances (a store each, one collection): their transactions on one service contend in Firestore.
      const name = collection('held-back');
      const pipelines = [0, 1, 2, 3].map(() => new Pipeline({ config: exempt, store: new FirestoreBaselineStore({ firestore: db, collection: name }), onHeldBack: (h) => heldBack.push(h) }));
      const found = await deliverFourAtOnce(pipelines, entries, NOW);
      expect(found.filter((f) => DEPLOY_RULES.has(f.rule)), `mix ${n}`).toEqual([]);
      const deployTold = (h: readonly HeldBack[]): string[] => told(h.filter((x) => DEPLOY_RULES.has(x.rule)));
      expect(deployTold(heldBack), `mix ${n}`).toEqual(deployTold(expected));
      expect(heldBack.every((h) => h.exception === 1)).toBe(true);
      total += deployTold(expected).length;
    }
    expect(total).toBeGreaterThan(3);
  }, 120_000);

  describe('against the in-memory store, on random fixture sequences', () => {
    it.each([1, 2])('seed %i: the same outcomes and findings', async (seed) => {
      const entries = randomSequence(seed, 150);
      const inMemory = await outcomesAndFindings(new MemoryBaselineStore(), entries);
      const inFirestore = await outcomesAndFindings(new FirestoreBaselineStore({ firestore: db, collection: collection('differential') }), entries);
      expect(inMemory.filter((line) => line.startsWith('{')).length).toBeGreaterThan(20);
      expect(inFirestore).toEqual(inMemory);
    }, 120_000);
  });
});

/**
 * Delivers `entries` four at a time, as Pub/Sub pushes them (the i-th at `nowMs` + i × 3 s), the k-th delivery loop
 * through `instances[k % instances.length]` (one instance: four deliveries in flight on it); a delivery that fails
 * is delivered again, up to 5 times. Then sweeps each instance a day later. Returns every finding.
 */
async function deliverFourAtOnce(instances: readonly Pipeline[], entries: readonly Json[], nowMs: number): Promise<Finding[]> {
  const found: Finding[] = [];
  let taken = 0;
  const deliver = async (pipeline: Pipeline): Promise<void> => {
    while (taken < entries.length) {
      const entry = entries[taken++]!;
      const at = nowMs + taken * 3_000;
      for (let attempt = 1; ; attempt++) {
        try {
          const outcome = await pipeline.handleEntry(entry, at);
          if (outcome.status === 'processed') found.push(...outcome.findings);
          break;
        } catch (error) {
          if (attempt >= 5) throw error;
        }
      }
    }
  };
  await Promise.all([0, 1, 2, 3].map((k) => deliver(instances[k % instances.length]!)));
  for (const pipeline of instances) found.push(...(await pipeline.sweep(nowMs + 86_400_000)));
  return found;
}

/**
 * Deploy `i` of a burst 10 s apart from `t0` on SLACK_BOT, raising a finding in several rules (a new image repository,
 * runtime service account, plaintext secret and code-loading variable), with `labelCount` service and revision labels
 * whose keys and values are padded to Cloud Run's 63 characters with `letter` (Georgian letters: 3 bytes each).
 */
function labeledDeploy(t0: number, i: number, labelCount: number, letter: string): Json {
  const labels = (prefix: string): Record<string, string> =>
    Object.fromEntries(Array.from({ length: labelCount }, (_, k) => [`${prefix}${k}`.padEnd(63, letter), `${i}`.padEnd(63, letter)]));
  const env = [{ name: `DB_PASSWORD_${i}`, value: 'hunter2hunter2' }, { name: 'NODE_OPTIONS', value: `--require /tmp/x${i}.js` }];
  const entry = withV1ServiceAccount(v1EnvDeploy(new Date(t0 + i * 10_000).toISOString(), env, `evil${i}.example.com/x/y:${i}`), `sa${i}@acme.iam.gserviceaccount.com`);
  return editV1Services(entry, (svc) => {
    (svc['metadata'] as Record<string, unknown>)['labels'] = labels('s');
    const template = (svc['spec'] as Record<string, Record<string, unknown>>)['template']!;
    (template['metadata'] as Record<string, unknown>)['labels'] = labels('t');
  });
}
