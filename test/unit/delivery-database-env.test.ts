// DELIVERY_DATABASE: the Firestore database notify keeps its delivery records in. Terraform gives each notify
// function a database of its own (`<prefix>-deliveries`) and grants its account Firestore access on that database
// only, so a compromised notify function (it holds a sink's token and talks to the internet) cannot rewrite or delete
// detect's baselines in (default). Unset keeps the records where they were: the (default) database.
import { describe, expect, it } from 'vitest';
import { createNotifyFunction } from '../../functions/notify.js';
import type { MessagePublisher } from '../../functions/pubsub/publisher.js';
import { deliveryDatabase, type LogRecord } from '../../functions/runtime.js';
import type { Sink } from '../../sinks/sink.js';
import { makeFinding } from '../support/findings.js';
import { pushEvent } from '../support/pubsub.js';
import { config } from '../support/run.js';

describe('deliveryDatabase(env)', () => {
  it('unset or empty: no database named, so the client uses (default), as before', () => {
    expect(deliveryDatabase({})).toEqual({ ok: true });
    expect(deliveryDatabase({ DELIVERY_DATABASE: '' })).toEqual({ ok: true });
  });

  it.each(['runwatch-deliveries', 'rw-deliveries', 'abcd', 'a1-2', 'a'.repeat(63), '(default)'])('%j names the database', (id) => {
    expect(deliveryDatabase({ DELIVERY_DATABASE: id })).toEqual({ ok: true, databaseId: id });
  });

  // A value that is no database id would pass start-up and fail every message (or, worse, silently use another
  // database): a trailing newline from a pasted value, a full resource name, upper case, too short or too long.
  it.each([
    'runwatch-deliveries\n',
    ' runwatch-deliveries',
    'Runwatch-Deliveries',
    'projects/acme/databases/runwatch-deliveries',
    'abc',
    'a'.repeat(64),
    '1deliveries',
    'deliveries-',
    'run_watch',
  ])('%j is refused', (id) => {
    const result = deliveryDatabase({ DELIVERY_DATABASE: id });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toContain('is not a Firestore database id');
      expect(result.reason).toContain(JSON.stringify(id));
    }
  });
});

describe('notify and DELIVERY_DATABASE', () => {
  const sink: Sink = { name: 'console', deliver: () => Promise.resolve({ status: 'delivered' }) };
  const publisher: MessagePublisher = { publish: () => Promise.resolve('1'), close: () => Promise.resolve() };

  it('refuses to start with a DELIVERY_DATABASE that is no database id, naming the variable (not a silent (default))', async () => {
    const logs: LogRecord[] = [];
    const notify = createNotifyFunction({
      env: { RUNWATCH_SINK: 'console', DEAD_LETTER_TOPIC: 'runwatch-findings-dead-letter', DELIVERY_DATABASE: 'Runwatch Deliveries' },
      config: config({ sinks: { console: { minSeverity: 'LOW' } } }),
      sink,
      publisher,
      log: (record) => logs.push(record),
    });
    await expect(notify(pushEvent(makeFinding('public-invoker-grant'), 'm-1'))).rejects.toThrow(/env\.DELIVERY_DATABASE: "Runwatch Deliveries" is not a Firestore database id/);
    expect(logs.filter((r) => r['path'] === 'env.DELIVERY_DATABASE')).toHaveLength(1);
    await notify.close();
  });

  it('starts with a valid one', async () => {
    const logs: LogRecord[] = [];
    const notify = createNotifyFunction({
      env: { RUNWATCH_SINK: 'console', DEAD_LETTER_TOPIC: 'runwatch-findings-dead-letter', DELIVERY_DATABASE: 'runwatch-deliveries' },
      config: config({ sinks: { console: { minSeverity: 'LOW' } } }),
      sink,
      publisher,
      log: (record) => logs.push(record),
    });
    await notify(pushEvent(makeFinding('public-invoker-grant'), 'm-1'));
    expect(notify.counts()['delivered']).toBe(1);
    expect(logs.filter((r) => r.severity === 'CRITICAL')).toEqual([]);
    await notify.close();
  });
});
