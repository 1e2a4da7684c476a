// One sink down for good while the others work, on the emulators: the webhook receiver answers 500 to everything,
// Slack and PagerDuty answer as they should. The finding reaches Slack and PagerDuty once each, while the webhook is
// still failing (a failing sink never holds the others back); the webhook's notify fails every push (Pub/Sub retries
// it) until its subscription's dead-letter policy moves the finding to the webhook's own hold; once the receiver is
// back, `runwatch redrive` sends it back for the webhook only: delivered there once, nothing more to the others.
import { afterEach, describe, expect, it } from 'vitest';
import { topologyNames } from '../../functions/pubsub/topology.js';
import { runwatch } from '../support/cli.js';
import { keptBy } from '../support/pubsub.js';
import { emulators, expectedFindings, fixtures, hideExpectedErrors, settle, startStack, TEST_CONFIG, waitFor, type Stack } from './stack.js';

const emu = emulators();

const CONFIG = {
  ...TEST_CONFIG,
  sinks: { webhook: { minSeverity: 'LOW', timeoutSeconds: 5 }, slack: { minSeverity: 'LOW', channel: '#sec' }, pagerduty: { minSeverity: 'LOW' } },
};
const SINKS = ['webhook', 'slack', 'pagerduty'] as const;
/** The subscription's max_delivery_attempts (the Terraform module's, Pub/Sub's minimum). */
const ATTEMPTS = 5;

describe.skipIf(!emu)('live pipeline on the emulators: one sink down for good', () => {
  let stack: Stack<(typeof SINKS)[number]> | undefined;
  let showErrors: (() => void) | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
    showErrors?.();
  });

  // 19-24 s on 2 cores beside other work (five failed pushes a second apart, each three webhook attempts with
  // backoff, then the redrive's idle wait); each wait is bounded and named; the limit guards against a hang.
  it('delivers to the others once, dead-letters the failing sink after its retries, and a redrive delivers it once', async () => {
    showErrors = hideExpectedErrors(/delivery to webhook failed \(retryable\)/);
    const grant = fixtures().find((f) => f.name.endsWith('synthetic-pipeline-public-invoker.json'))!.entry;
    const [finding] = await expectedFindings([grant], CONFIG);
    const id = finding!.id;
    const s = await startStack(emu!, { name: 'outage', sinks: SINKS, config: CONFIG, maxDeliveryAttempts: ATTEMPTS, readDeadLetters: false });
    stack = s;
    const down = { status: 500, body: 'receiver down' } as const;
    s.webhook.script(...Array.from({ length: 200 }, () => down));
    const webhookHold = `projects/${s.projectId}/subscriptions/${topologyNames().findingsDeadLetterHold('webhook')}`;
    const of = (sink: (typeof SINKS)[number]) => s.notified.filter((o) => o.sink === sink);
    const seen = () => JSON.stringify({ notified: s.notified, webhook: s.webhook.requests.length });

    await s.publishAudit(grant);
    // 1. Slack and PagerDuty deliver while the webhook is still failing.
    await waitFor('Slack and PagerDuty to deliver', () => of('slack').some((o) => o.outcome === 'delivered') && of('pagerduty').some((o) => o.outcome === 'delivered'), 20_000, seen);
    expect(of('webhook').filter((o) => o.outcome === 'retry').length).toBeLessThan(ATTEMPTS);

    // 2. The webhook's notify fails each push, and Pub/Sub gives up after the last: the finding is in the webhook's hold.
    await waitFor(`${ATTEMPTS} failed pushes to the webhook's notify`, () => of('webhook').length >= ATTEMPTS, 40_000, seen);
    await settle(() => s.notified.length + s.webhook.requests.length + s.slack.requests.length + s.pagerduty.requests.length, 3_000, 30_000, 'the retries');
    expect(of('webhook').map((o) => [o.outcome, o.findingId])).toEqual(Array.from({ length: ATTEMPTS }, () => ['retry', id]));
    expect(s.webhook.requests.length).toBeGreaterThanOrEqual(ATTEMPTS);
    expect(s.webhook.requests.every((r) => r.headers['x-runwatch-finding-id'] === id)).toBe(true);
    const held = await keptBy(s.pubsub, webhookHold);
    expect(held.map((m) => [JSON.parse(m.data).id, m.attributes['CloudPubSubDeadLetterSourceDeliveryCount']])).toEqual([[id, String(ATTEMPTS)]]);
    for (const sink of ['slack', 'pagerduty'] as const) {
      const hold = `projects/${s.projectId}/subscriptions/${topologyNames().findingsDeadLetterHold(sink)}`;
      expect(await keptBy(s.pubsub, hold), `${sink}'s hold`).toEqual([]);
    }

    // 3. The receiver is back; the redrive sends the letter back for the webhook only.
    const before = { slack: s.slack.requests.length, pagerduty: s.pagerduty.requests.length, notified: s.notified.length };
    s.webhook.reset();
    const run = await runwatch(['redrive', '--project', s.projectId, '--wait', '2'], '', { env: { ...emu!.env } });
    expect(run.stderr).toMatch(/redrove 1 dead letter \(0 to the audit topic, 1 to the findings topic\)/);
    expect(run.code).toBe(0);
    await waitFor('the redriven finding at the webhook', () => s.receivedFindingIds().includes(id), 20_000, seen);
    await waitFor('every notify to see the redriven finding', () => s.notified.length >= before.notified + SINKS.length, 20_000, seen);
    await settle(() => s.notified.length + s.webhook.requests.length + s.slack.requests.length + s.pagerduty.requests.length);

    expect(s.receivedFindingIds()).toEqual([id]);
    expect(s.webhook.requests).toHaveLength(1);
    expect(of('webhook').slice(ATTEMPTS).map((o) => o.outcome)).toEqual(['delivered']);
    for (const sink of ['slack', 'pagerduty'] as const) {
      expect(of(sink).map((o) => o.outcome), sink).toEqual(['delivered', 'not-routed']);
    }
    expect({ slack: s.slack.requests.length, pagerduty: s.pagerduty.requests.length }).toEqual({ slack: before.slack, pagerduty: before.pagerduty });
    expect(s.slack.posts().filter((p) => p.ts)).toHaveLength(1);
    expect(s.pagerduty.events().map((e) => [e['dedup_key'], e['event_action']])).toEqual([[id, 'trigger']]);
    expect(await keptBy(s.pubsub, webhookHold)).toEqual([]);
  }, 120_000);
});
