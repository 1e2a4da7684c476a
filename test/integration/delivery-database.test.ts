// notify's delivery records in the Firestore database DELIVERY_DATABASE names, on the Firestore emulator (which keeps
// named databases apart, as Firestore does). Terraform gives notify `<prefix>-deliveries` and grants its accounts
// Firestore access on that database only: their records must be there, and nothing of theirs in (default), where
// detect keeps its baselines. Unset, the records stay in (default), as for deployments made before.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { createNotifyFunction } from '../../functions/notify.js';
import type { MessagePublisher } from '../../functions/pubsub/publisher.js';
import { FirestoreDeliveryRecordStore } from '../../sinks/firestoreRecords.js';
import type { Sink } from '../../sinks/sink.js';
import { makeFinding } from '../support/findings.js';
import { pushEvent } from '../support/pubsub.js';
import { emulators, TEST_CONFIG } from './stack.js';

const emu = emulators();
/** The name Terraform gives it with the default name_prefix. */
const DELIVERY_DATABASE = 'runwatch-deliveries';

describe.skipIf(!emu)('notify: delivery records in the database DELIVERY_DATABASE names', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-ddb-'));
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(TEST_CONFIG));
  const closers: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  const publisher: MessagePublisher = { publish: () => Promise.reject(new Error('nothing is dead-lettered here')), close: () => Promise.resolve() };

  /** One notify function instance made from its environment (its own Firestore record store), and what it sent. */
  function instance(projectId: string, extra: Record<string, string>): { notify: ReturnType<typeof createNotifyFunction>; sent: string[] } {
    const sent: string[] = [];
    const sink: Sink = {
      name: 'webhook',
      deliver: (finding) => {
        sent.push(finding.id);
        return Promise.resolve({ status: 'delivered', ref: `ref-${finding.id}` });
      },
    };
    const notify = createNotifyFunction({
      env: { ...emu!.env, GOOGLE_CLOUD_PROJECT: projectId, RUNWATCH_CONFIG: configPath, RUNWATCH_SINK: 'webhook', DEAD_LETTER_TOPIC: 'runwatch-findings-dead-letter', ...extra },
      sink,
      publisher,
      log: () => undefined,
    });
    closers.push(() => notify.close());
    return { notify, sent };
  }

  /** Reads a record straight from one database of the project. */
  async function recordIn(projectId: string, databaseId: string | undefined, finding: Finding) {
    const store = new FirestoreDeliveryRecordStore({ projectId, ...(databaseId ? { databaseId } : {}) });
    closers.push(() => store.close());
    return store.get('webhook', finding.id);
  }

  it('with DELIVERY_DATABASE set, the record is in that database and not in (default); another instance takes the copy as a duplicate', async () => {
    const projectId = `demo-ddb-${randomUUID().slice(0, 6)}`;
    const finding = makeFinding('public-invoker-grant', { insertId: `ddb-${projectId}` });
    const a = instance(projectId, { DELIVERY_DATABASE });
    await a.notify(pushEvent(finding, 'm-1'));
    expect(a.sent).toEqual([finding.id]);
    expect(await recordIn(projectId, DELIVERY_DATABASE, finding)).toMatchObject({ state: 'delivered', ref: `ref-${finding.id}` });
    expect(await recordIn(projectId, undefined, finding)).toBeUndefined();

    // Pub/Sub delivers it again, to another instance of the same deployment: found in the same database, not sent.
    const b = instance(projectId, { DELIVERY_DATABASE });
    await b.notify(pushEvent(finding, 'm-1'));
    expect(b.sent).toEqual([]);
    expect(b.notify.counts()['duplicate']).toBe(1);
  });

  it('without DELIVERY_DATABASE the records stay in (default), as before', async () => {
    const projectId = `demo-ddb-${randomUUID().slice(0, 6)}`;
    const finding = makeFinding('public-invoker-grant', { insertId: `ddb-${projectId}` });
    const a = instance(projectId, {});
    await a.notify(pushEvent(finding, 'm-1'));
    expect(a.sent).toEqual([finding.id]);
    expect(await recordIn(projectId, undefined, finding)).toMatchObject({ state: 'delivered' });
    expect(await recordIn(projectId, DELIVERY_DATABASE, finding)).toBeUndefined();
  });
});
