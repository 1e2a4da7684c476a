// A finding's delivery that took over an expired claim (the instance that held it died after Slack posted, or its
// answer was a timeout) and then failed for a reason of its own (Slack rate limited the post, and the look at the
// channel too). Releasing that claim dropped the only trace of the earlier attempt: the next redelivery claimed
// afresh, was not told an earlier attempt may have posted (earlierAttemptMs), and posted a second copy without
// looking in the channel. Slack has no idempotency key (README, Slack: "Exactly once").
import { describe, expect, it } from 'vitest';
import { deliverOnce } from '../../sinks/deliver.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import { metadataOf, SlackSink } from '../../sinks/slack.js';
import { makeFinding } from '../support/findings.js';
import { SLACK_TEST_BOT, SLACK_TEST_TOKEN, slackRateLimited, slackServerForTests } from '../support/slackServer.js';

const CHANNEL = 'C0SECALERTS';
const LEASE = 90_000;

const server = slackServerForTests();

describe('deliverOnce: a finding that took an expired claim over and then failed', () => {
  it('keeps the claim, so the next delivery looks in the channel for the earlier post instead of posting again', async () => {
    const finding = makeFinding('public-invoker-grant');
    const sink = new SlackSink({ token: SLACK_TEST_TOKEN, apiUrl: server.apiUrl, config: { minSeverity: 'LOW', channel: CHANNEL }, retry: { initialDelayMs: 10, maxDelayMs: 20 } });
    const records = new MemoryDeliveryRecordStore();
    const start = Date.now();
    const ours = (): unknown[] => server.messages().filter((m) => m.bot_id === SLACK_TEST_BOT.botId && m.metadata?.event_payload['finding_id'] === finding.id);
    const deadline = (): number => Date.now() + 10_000;

    // The instance that died: claimed, Slack posted the message, the record was never marked.
    expect(await records.claim('slack', finding.id, start, LEASE)).toEqual({ claimed: true });
    server.addMessage({ channel: CHANNEL, text: finding.title, bot_id: SLACK_TEST_BOT.botId, user: SLACK_TEST_BOT.userId, metadata: metadataOf(finding) });

    // Its redelivery after the lease takes the claim over; Slack rate limits the look at the channel and the post.
    server.denyHistory('ratelimited');
    server.script(slackRateLimited(120));
    const taken = await deliverOnce({ sink, finding, records, nowMs: start + LEASE, deadlineMs: deadline(), leaseMs: LEASE });
    expect(taken).toMatchObject({ status: 'failed', retryable: true });
    expect(ours()).toHaveLength(1);

    // The rate limit passes; Pub/Sub redelivers (10 s on, then after the lease of the claim taken over).
    server.allowHistory();
    const copies = [];
    for (const t of [start + LEASE + 10_000, start + 2 * LEASE + 1_000]) copies.push(await deliverOnce({ sink, finding, records, nowMs: t, deadlineMs: deadline(), leaseMs: LEASE }));
    expect(ours()).toHaveLength(1);
    expect(copies.map((c) => c.status)).toEqual(['failed', 'delivered']);
    expect(await records.get('slack', finding.id)).toMatchObject({ state: 'delivered' });
  });
});
