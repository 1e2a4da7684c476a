// The instance delivering a finding died after Slack posted it (or Slack's answer was a timeout), leaving the claim on
// the finding's record pending. Its resolution came before the finding's redelivery, after the claim's lease: it took
// the expired claim over as a tombstone, was told the original never went out (`originalDelivered: false`) and posted
// the whole finding again as a standalone "resolved" message. The channel then showed the finding twice: the alert,
// which never got its resolution in its thread, and a second top-level copy.
import { describe, expect, it } from 'vitest';
import { deliverOnce } from '../../sinks/deliver.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import { metadataOf, SlackSink } from '../../sinks/slack.js';
import { makeFinding, resolutionOf } from '../support/findings.js';
import { SLACK_TEST_BOT, SLACK_TEST_TOKEN, slackServerForTests } from '../support/slackServer.js';

const CHANNEL = 'C0SECALERTS';
const LEASE = 90_000;

const server = slackServerForTests();

describe('deliverOnce to Slack: a resolution that takes over the expired claim of its original', () => {
  it('replies in the thread of the original the earlier attempt posted, instead of posting the finding again', async () => {
    const finding = makeFinding('public-invoker-grant');
    const resolution = resolutionOf(finding);
    const sink = new SlackSink({ token: SLACK_TEST_TOKEN, apiUrl: server.apiUrl, config: { minSeverity: 'LOW', channel: CHANNEL }, retry: { initialDelayMs: 10, maxDelayMs: 20 } });
    const records = new MemoryDeliveryRecordStore();
    const start = Date.now();
    const deadline = (): number => Date.now() + 10_000;
    const ofFinding = () => server.messages().filter((m) => m.bot_id === SLACK_TEST_BOT.botId && m.metadata?.event_payload['finding_id'] === finding.id);

    // The instance that died: claimed the finding, Slack posted it, the record was never marked.
    expect(await records.claim('slack', finding.id, start, LEASE)).toEqual({ claimed: true });
    const alertTs = server.addMessage({ channel: CHANNEL, text: finding.title, bot_id: SLACK_TEST_BOT.botId, user: SLACK_TEST_BOT.userId, metadata: metadataOf(finding) });

    // The resolution comes after the claim's lease, before the finding's redelivery.
    expect(await deliverOnce({ sink, finding: resolution, records, nowMs: start + LEASE + 1_000, deadlineMs: deadline(), leaseMs: LEASE })).toMatchObject({ status: 'delivered' });
    // The finding's redelivery: a duplicate.
    expect(await deliverOnce({ sink, finding, records, nowMs: start + LEASE + 2_000, deadlineMs: deadline(), leaseMs: LEASE })).toMatchObject({ status: 'duplicate' });

    const topLevel = ofFinding().filter((m) => m.thread_ts === undefined);
    expect(topLevel.map((m) => m.ts)).toEqual([alertTs]);
    expect(ofFinding().filter((m) => m.thread_ts === alertTs).map((m) => m.metadata?.event_payload['status'])).toEqual(['resolved']);
  });
});
