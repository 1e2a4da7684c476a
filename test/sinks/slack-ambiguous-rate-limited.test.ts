// After an answer that leaves open whether Slack posted the message (HTTP 5xx, a reset connection), the sink reads the
// channel before posting again. When that read failed for a reason that passes (Slack rate limits
// conversations.history with a 429, or answers it 5xx too: both come together when Slack is degraded), the sink posted
// again at once, and a message the first post had left in the channel got a second copy beside it. A read that failed
// for a passing reason is no answer: the delivery keeps its claim (mayHaveSent) and the one after it looks again.
import { describe, expect, it } from 'vitest';
import { deliverOnce } from '../../sinks/deliver.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import { SlackSink } from '../../sinks/slack.js';
import { makeFinding } from '../support/findings.js';
import type { ScriptedReply } from '../support/webhookServer.js';
import { SLACK_TEST_BOT, SLACK_TEST_TOKEN, slackServerForTests } from '../support/slackServer.js';

const CHANNEL = 'C0SECALERTS';
const LEASE = 90_000;

const server = slackServerForTests();

describe('SlackSink: a post Slack may have made, and a channel it will not let us read for now', () => {
  it.each<[string, ScriptedReply]>([
    ['HTTP 500', { status: 500, body: 'internal' }],
    ['HTTP 503', { status: 503, body: 'unavailable' }],
    ['a reset connection', { destroy: true }],
  ])('after %s, posts no second copy while the history is rate limited, and finds the first later', async (_name, reply) => {
    const finding = makeFinding('public-invoker-grant');
    const sink = new SlackSink({ token: SLACK_TEST_TOKEN, apiUrl: server.apiUrl, config: { minSeverity: 'LOW', channel: CHANNEL }, retry: { initialDelayMs: 10, maxDelayMs: 20 } });
    const records = new MemoryDeliveryRecordStore();
    const start = Date.now();
    const deadline = (): number => Date.now() + 10_000;
    const ours = (): unknown[] => server.messages().filter((m) => m.bot_id === SLACK_TEST_BOT.botId && m.metadata?.event_payload['finding_id'] === finding.id);

    // Slack posts the message, then the answer is lost; reading the channel is rate limited for now.
    server.scriptAfterPosting(reply);
    server.rateLimitHistory(1);
    const first = await deliverOnce({ sink, finding, records, nowMs: start, deadlineMs: deadline(), leaseMs: LEASE });
    expect(first).toMatchObject({ status: 'failed', retryable: true });
    expect(ours()).toHaveLength(1);

    // The limit passes; the redelivery after the claim's lease looks in the channel and finds the message.
    server.allowHistory();
    const later = await deliverOnce({ sink, finding, records, nowMs: start + LEASE + 1_000, deadlineMs: deadline(), leaseMs: LEASE });
    expect(later).toMatchObject({ status: 'delivered' });
    expect(ours()).toHaveLength(1);
  });
});
