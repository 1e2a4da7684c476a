// A delivery that takes over an expired claim (the instance that held it died after Slack posted the message) looks in
// the channel for that message before it posts. When Slack rate limits the look (conversations.history is a Tier 3
// method: a burst of takeovers after a Slack slowdown meets HTTP 429) but not the post, the delivery posted all the
// same: a second copy of the alert in the channel, or for a resolution the whole finding again beside the alert it
// should have replied to. A look that failed for a passing reason is no answer: the delivery waits and looks again.
import { describe, expect, it } from 'vitest';
import { deliverOnce, resolutionKey } from '../../sinks/deliver.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import { metadataOf, SlackSink } from '../../sinks/slack.js';
import { makeFinding, resolutionOf } from '../support/findings.js';
import { SLACK_TEST_BOT, SLACK_TEST_TOKEN, slackServerForTests } from '../support/slackServer.js';

const CHANNEL = 'C0SECALERTS';
const LEASE = 90_000;

const server = slackServerForTests();

describe('SlackSink: a takeover whose look at the channel is rate limited (HTTP 429) while posting is not', () => {
  it.each([
    ['the finding, redelivered after the instance that posted it died', false],
    ['its resolution, which takes over the dead delivery of the finding', true],
  ] as const)('%s: posts nothing until it can look, then finds the message', async (_name, resolving) => {
    const finding = makeFinding('public-invoker-grant');
    const sink = new SlackSink({ token: SLACK_TEST_TOKEN, apiUrl: server.apiUrl, config: { minSeverity: 'LOW', channel: CHANNEL }, retry: { initialDelayMs: 10, maxDelayMs: 20 } });
    const records = new MemoryDeliveryRecordStore();
    const start = Date.now();
    const deadline = (): number => Date.now() + 10_000;
    const topLevel = (): unknown[] => server.messages().filter((m) => m.bot_id === SLACK_TEST_BOT.botId && m.thread_ts === undefined);
    const delivery = resolving ? resolutionOf(finding) : finding;

    // The instance that died: claimed the finding, Slack posted it, the record was never marked.
    expect(await records.claim('slack', finding.id, start, LEASE)).toEqual({ claimed: true });
    const alertTs = server.addMessage({ channel: CHANNEL, text: finding.title, bot_id: SLACK_TEST_BOT.botId, user: SLACK_TEST_BOT.userId, metadata: metadataOf(finding) });

    server.rateLimitHistory(1);
    const limited = await deliverOnce({ sink, finding: delivery, records, nowMs: start + LEASE, deadlineMs: deadline(), leaseMs: LEASE });
    expect(limited).toMatchObject({ status: 'failed', retryable: true });
    expect(server.posts()).toHaveLength(0);

    // The limit passes; the redelivery after the lease of the claim taken over looks again and finds the alert.
    server.allowHistory();
    const later = await deliverOnce({ sink, finding: delivery, records, nowMs: start + 2 * LEASE + 1_000, deadlineMs: deadline(), leaseMs: LEASE });
    expect(later).toMatchObject({ status: 'delivered' });
    expect(topLevel()).toHaveLength(1);
    if (resolving) {
      expect(server.messages().filter((m) => m.thread_ts === alertTs)).toHaveLength(1);
      expect(await records.get('slack', resolutionKey(finding.id))).toMatchObject({ state: 'resolved' });
    } else {
      expect(server.posts()).toHaveLength(0);
      expect(await records.get('slack', finding.id)).toMatchObject({ state: 'delivered', ref: `${CHANNEL}:${alertTs}` });
    }
  });
});
