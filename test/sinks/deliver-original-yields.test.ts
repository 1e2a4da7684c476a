// A late original takes over its own expired claim (the instance delivering it died after Slack posted it) just as its
// resolution, having claimed its own record, is about to claim the original's. The original, finding the resolution
// pending, steps back for it - and dropped the claim it had taken over, the only trace of the attempt that posted.
// The resolution then claimed the record afresh, was told the original never went out, and posted the whole finding
// again as a second top-level message beside the alert, which never got its resolution in its thread.
import { describe, expect, it } from 'vitest';
import { deliverOnce, resolutionKey } from '../../sinks/deliver.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import { metadataOf, SlackSink } from '../../sinks/slack.js';
import { makeFinding, resolutionOf } from '../support/findings.js';
import { SLACK_TEST_BOT, SLACK_TEST_TOKEN, slackServerForTests } from '../support/slackServer.js';

const CHANNEL = 'C0SECALERTS';
const LEASE = 90_000;

/** Records that run `between` once, right after a claim of `key` is won: another instance acting in that gap. */
class GapRecords extends MemoryDeliveryRecordStore {
  between: (() => Promise<unknown>) | undefined;
  constructor(private readonly key: string) {
    super();
  }

  override async claim(...args: Parameters<MemoryDeliveryRecordStore['claim']>): ReturnType<MemoryDeliveryRecordStore['claim']> {
    const result = await super.claim(...args);
    const run = this.between;
    if (result.claimed && args[1] === this.key && run) {
      this.between = undefined;
      await run();
    }
    return result;
  }
}

const server = slackServerForTests();

describe('deliverOnce to Slack: a late original that took its expired claim over steps back for its resolution', () => {
  it('leaves the resolution the trace of the attempt that posted, so it replies in the alert\'s thread', async () => {
    const finding = makeFinding('public-invoker-grant');
    const sink = new SlackSink({ token: SLACK_TEST_TOKEN, apiUrl: server.apiUrl, config: { minSeverity: 'LOW', channel: CHANNEL }, retry: { initialDelayMs: 10, maxDelayMs: 20 } });
    const records = new GapRecords(resolutionKey(finding.id));
    const start = Date.now();
    const deadline = (): number => Date.now() + 10_000;
    const ofFinding = () => server.messages().filter((m) => m.bot_id === SLACK_TEST_BOT.botId && m.metadata?.event_payload['finding_id'] === finding.id);

    // The instance that died: claimed the finding, Slack posted it, the record was never marked.
    expect(await records.claim('slack', finding.id, start, LEASE)).toEqual({ claimed: true });
    const alertTs = server.addMessage({ channel: CHANNEL, text: finding.title, bot_id: SLACK_TEST_BOT.botId, user: SLACK_TEST_BOT.userId, metadata: metadataOf(finding) });

    // After the lease: the original's redelivery runs between the resolution's two claims.
    const late: unknown[] = [];
    records.between = async () => {
      late.push(await deliverOnce({ sink, finding, records, nowMs: start + LEASE + 1_000, deadlineMs: deadline(), leaseMs: LEASE }));
    };
    expect(await deliverOnce({ sink, finding: resolutionOf(finding), records, nowMs: start + LEASE + 1_000, deadlineMs: deadline(), leaseMs: LEASE })).toMatchObject({ status: 'delivered' });
    expect(late).toMatchObject([{ status: 'failed', retryable: true }]);
    expect(await deliverOnce({ sink, finding, records, nowMs: start + LEASE + 20_000, deadlineMs: deadline(), leaseMs: LEASE })).toMatchObject({ status: 'duplicate' });

    expect(ofFinding().filter((m) => m.thread_ts === undefined).map((m) => m.ts)).toEqual([alertTs]);
    expect(ofFinding().filter((m) => m.thread_ts === alertTs).map((m) => m.metadata?.event_payload['status'])).toEqual(['resolved']);
  });
});
