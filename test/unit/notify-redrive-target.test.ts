// A finding `runwatch redrive` sends back from one sink's dead-letter hold is for that sink only: it goes to the
// findings topic (every notify subscription reads it) with the runwatch-redrive-sink attribute, and the other sinks'
// notify functions ack it without delivering. So a forged letter a compromised notify function put in its own hold
// reaches no other sink, and a genuine one is not sent again where it was delivered long ago.
import { describe, expect, it } from 'vitest';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { createNotifyFunction, type NotifyObservation } from '../../functions/notify.js';
import { REDRIVE_SINK_ATTRIBUTE } from '../../functions/pubsub/deadLetter.js';
import type { MessagePublisher } from '../../functions/pubsub/publisher.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import type { Sink } from '../../sinks/sink.js';
import { makeFinding } from '../support/findings.js';
import { pushEvent } from '../support/pubsub.js';
import { config } from '../support/run.js';

function withAttributes(event: CloudEvent<unknown>, attributes: Record<string, string>): CloudEvent<unknown> {
  const data = event.data as { message: { attributes: Record<string, string> } };
  return { ...event, data: { message: { ...data.message, attributes } } } as CloudEvent<unknown>;
}

describe('notify and a redriven finding', () => {
  function instance(name: string) {
    const sent: string[] = [];
    const letters: string[] = [];
    const observed: NotifyObservation[] = [];
    const sink: Sink = { name, deliver: (finding) => (sent.push(finding.id), Promise.resolve({ status: 'delivered' })) };
    const publisher: MessagePublisher = { publish: (_t, data) => (letters.push(data.toString()), Promise.resolve('1')), close: () => Promise.resolve() };
    const notify = createNotifyFunction({
      env: { RUNWATCH_SINK: name, DEAD_LETTER_TOPIC: `runwatch-findings-dead-letter-${name}` },
      config: config({ sinks: { [name]: { minSeverity: 'LOW', ...(name === 'slack' ? { channel: 'C0SECURITY' } : {}) } } }),
      sink,
      records: new MemoryDeliveryRecordStore(),
      publisher,
      log: () => undefined,
      observe: (o) => observed.push(o),
    });
    return { notify, sent, letters, observed };
  }

  it("is delivered by the sink it was redriven for, and acked unsent by every other sink's", async () => {
    const finding = makeFinding('public-invoker-grant');
    const event = withAttributes(pushEvent(finding, 'm-1'), { [REDRIVE_SINK_ATTRIBUTE]: 'slack' });
    const slack = instance('slack');
    const pagerduty = instance('pagerduty');
    await slack.notify(event);
    await pagerduty.notify(event);
    expect(slack.sent).toEqual([finding.id]);
    expect(pagerduty.sent).toEqual([]);
    expect(pagerduty.letters).toEqual([]); // not the other sink's to dead-letter either
    expect(pagerduty.observed).toEqual([{ outcome: 'not-routed', findingId: finding.id, reason: 'redriven for the slack sink only' }]);
  });

  it('a message for another sink that is no finding at all is not dead-lettered by this one', async () => {
    const event = withAttributes(pushEvent('not a finding', 'm-2'), { [REDRIVE_SINK_ATTRIBUTE]: 'slack' });
    const pagerduty = instance('pagerduty');
    await pagerduty.notify(event);
    expect(pagerduty.letters).toEqual([]);
    expect(pagerduty.notify.counts()['notRouted']).toBe(1);
  });

  it('a finding without the attribute (as detect publishes it) goes to every sink, as before', async () => {
    const finding = makeFinding('public-invoker-grant');
    const slack = instance('slack');
    const pagerduty = instance('pagerduty');
    await slack.notify(pushEvent(finding, 'm-3'));
    await pagerduty.notify(pushEvent(finding, 'm-3'));
    expect([slack.sent, pagerduty.sent]).toEqual([[finding.id], [finding.id]]);
  });
});
