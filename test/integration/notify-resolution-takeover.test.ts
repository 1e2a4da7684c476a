// notify instances, each with its own Firestore record store (the emulator), and the local PagerDuty server: a
// resolution that came first went out (the whole finding as a trigger marked already resolved, then the resolve)
// from an instance that died before marking its records. Its redelivery takes both claims over once their lease
// ran out and fails for a reason of its own; the late original, after that lease too, must not page again for the
// closed alert, and once the resolution is delivered it is a duplicate.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createNotifyFunction, type NotifyFunction } from '../../functions/notify.js';
import type { MessagePublisher } from '../../functions/pubsub/publisher.js';
import { resolutionKey } from '../../sinks/deliver.js';
import { FirestoreDeliveryRecordStore } from '../../sinks/firestoreRecords.js';
import { PagerDutySink } from '../../sinks/pagerduty.js';
import { makeFinding, resolutionOf } from '../support/findings.js';
import { PAGERDUTY_TEST_ROUTING_KEY, startPagerDutyServer, type PagerDutyServer } from '../support/pagerdutyServer.js';
import { pushEvent } from '../support/pubsub.js';
import { emulators, TEST_CONFIG } from './stack.js';

const emu = emulators();
const BUDGET_MS = 20_000;
/** The lease deliverOnce takes by default: the budget plus its 30 s margin. */
const LEASE_MS = BUDGET_MS + 30_000;

describe.skipIf(!emu)('notify on Firestore: a resolution that came first, went out, and whose redelivery failed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-takeover-'));
  let pagerduty: PagerDutyServer;
  const closers: (() => Promise<unknown>)[] = [];
  const deadLetters: string[] = [];
  const publisher: MessagePublisher = {
    publish: (_topic, data) => {
      deadLetters.push(data.toString('utf8'));
      return Promise.resolve(String(deadLetters.length));
    },
    close: () => Promise.resolve(),
  };
  const config = { ...TEST_CONFIG, sinks: { pagerduty: { minSeverity: 'LOW' } } };

  beforeAll(async () => {
    pagerduty = await startPagerDutyServer();
    closers.push(() => pagerduty.close());
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  });
  beforeEach(() => {
    pagerduty.reset();
    pagerduty.open.clear();
    deadLetters.length = 0;
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  /** One function instance, its clock `offsetMs` ahead (how far into the story it runs), with its own record store. */
  function instance(projectId: string, offsetMs: number): NotifyFunction {
    const notify = createNotifyFunction({
      env: { ...emu!.env, GOOGLE_CLOUD_PROJECT: projectId, RUNWATCH_SINK: 'pagerduty', RUNWATCH_CONFIG: join(dir, 'config.json'), DEAD_LETTER_TOPIC: 'runwatch-dead-letter' },
      sink: new PagerDutySink({ routingKey: PAGERDUTY_TEST_ROUTING_KEY, eventsUrl: pagerduty.eventsUrl, source: 'runwatch', retry: { maxAttempts: 2, initialDelayMs: 5, maxDelayMs: 10 } }),
      publisher,
      log: () => undefined,
      now: () => Date.now() + offsetMs,
      deliveryBudgetMs: BUDGET_MS,
    });
    closers.push(() => notify.close());
    return notify;
  }

  /** Triggers PagerDuty received for an open (not already resolved) alert: each one pages someone for it. */
  const activeTriggers = (): unknown[] =>
    pagerduty.events().filter((e) => e['event_action'] === 'trigger' && !String((e['payload'] as { summary?: unknown } | undefined)?.summary).includes('(already resolved)'));

  it.each([
    ['PagerDuty unavailable (retryable)', [{ status: 503 }, { status: 503 }], 0],
    ['an event PagerDuty refuses (permanent: dead-lettered)', [{ status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: ['x'] } }], 1],
  ] as const)('%s: the late original never pages for the closed alert', async (_name, failures, deadLettered) => {
    const projectId = `demo-takeover-${randomUUID().slice(0, 6)}`;
    const finding = makeFinding('public-invoker-grant');
    const resolution = resolutionOf(finding);

    // The instance that died: claimed the resolution's record and the original's tombstone, sent both events, marked nothing.
    const dead = new FirestoreDeliveryRecordStore({ projectId });
    closers.push(() => dead.close());
    const start = Date.now();
    expect(await dead.claim('pagerduty', resolutionKey(finding.id), start, LEASE_MS)).toEqual({ claimed: true });
    expect(await dead.claim('pagerduty', finding.id, start, LEASE_MS)).toEqual({ claimed: true });
    const sink = new PagerDutySink({ routingKey: PAGERDUTY_TEST_ROUTING_KEY, eventsUrl: pagerduty.eventsUrl, source: 'runwatch' });
    expect(await sink.deliver(resolution, { deadlineMs: start + BUDGET_MS, originalDelivered: false })).toMatchObject({ status: 'delivered' });
    expect(pagerduty.events().map((e) => e['event_action'])).toEqual(['trigger', 'resolve']);

    // Its redelivery, after the lease, on another instance: takes both claims over and fails.
    pagerduty.script(...failures);
    const redelivery = instance(projectId, LEASE_MS + 1_000)(pushEvent(resolution, 'm-resolution'));
    if (deadLettered) await redelivery;
    else await expect(redelivery).rejects.toThrow(/failed \(retryable\)/);
    expect(deadLetters).toHaveLength(deadLettered);

    // The late original, once the lease of the claims the redelivery took over ran out as well.
    await expect(instance(projectId, 2 * LEASE_MS + 2_000)(pushEvent(finding, 'm-original'))).rejects.toThrow(/a resolution of this finding came first/);
    expect(activeTriggers()).toEqual([]);
    expect(pagerduty.open.has(finding.id)).toBe(false);

    // The resolution again (Pub/Sub's redelivery, or the redrive of its dead letter), then the original: a duplicate.
    await instance(projectId, 3 * LEASE_MS)(pushEvent(resolution, 'm-resolution'));
    const last = instance(projectId, 3 * LEASE_MS + 1_000);
    await last(pushEvent(finding, 'm-original'));
    expect(last.counts()['duplicate']).toBe(1);
    expect(activeTriggers()).toEqual([]);
    expect(pagerduty.open.has(finding.id)).toBe(false);
    expect(await dead.get('pagerduty', finding.id)).toMatchObject({ state: 'resolved' });
  }, 30_000);
});
