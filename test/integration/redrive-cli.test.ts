// `runwatch redrive` against the real Pub/Sub emulator and client library: dead letters published by detect and
// notify, and one Pub/Sub itself forwarded after failed deliveries, go back to the topic they came from with their
// original attributes and data; letters of unknown origin, those past --limit and everything under --dry-run stay
// in the dead-letter subscription. Each side has a dead-letter topic and hold of its own (audit: detect's; findings:
// one per notify sink), and the hold a letter is read from decides where it goes: a letter whose attributes claim the
// other side or another sink (what a compromised notify account would forge) stays where it is, and a letter of a
// sink's hold goes back for that sink only (the runwatch-redrive-sink attribute: the other sinks' notify ack it).
import { randomUUID } from 'node:crypto';
import { Duration, PubSub, type Message, type Subscription } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REDRIVE_SINK_ATTRIBUTE } from '../../functions/pubsub/deadLetter.js';
import { publishDeadLetter, PubSubPublisher } from '../../functions/pubsub/publisher.js';
import { topologyNames } from '../../functions/pubsub/topology.js';
import { runwatch } from '../support/cli.js';
import { keptBy } from '../support/pubsub.js';

const emulators = inject('runwatchEmulators');

interface Received {
  readonly id: string;
  readonly data: string;
  readonly attributes: Record<string, string>;
}

describe.skipIf(!emulators.available)('runwatch redrive (Pub/Sub emulator)', () => {
  let pubsub: PubSub;
  let publisher: PubSubPublisher;
  const project = emulators.available ? emulators.projectId : '';

  beforeAll(() => {
    if (!emulators.available) return;
    Object.assign(process.env, emulators.env);
    pubsub = new PubSub({ projectId: project });
    publisher = new PubSubPublisher({ pubsub });
  });
  afterAll(async () => {
    await publisher?.close();
    await pubsub?.close();
  });

  /**
   * A topology of its own (a fresh name prefix): the audit, findings and dead-letter topics, the dead-letter hold
   * subscription, and a pull subscription on the audit and findings topics that shows what was republished.
   */
  async function topology(): Promise<{
    prefix: string;
    hold: Subscription;
    /** The slack sink's hold (a deployment of the slack and pagerduty sinks: the other sinks' holds do not exist). */
    findingsHold: Subscription;
    pagerdutyHold: Subscription;
    audit: Subscription;
    findings: Subscription;
    deadLetterTopic: string;
    /** The slack sink's dead-letter topic. */
    findingsDeadLetterTopic: string;
    pagerdutyDeadLetterTopic: string;
  }> {
    const prefix = `rd${randomUUID().slice(0, 8)}`;
    const names = topologyNames(prefix);
    const [deadLetter] = await pubsub.createTopic(names.deadLetterTopic);
    const [hold] = await deadLetter.createSubscription(names.deadLetterHold);
    const [findingsDeadLetter] = await pubsub.createTopic(names.findingsDeadLetterTopic('slack'));
    const [findingsHold] = await findingsDeadLetter.createSubscription(names.findingsDeadLetterHold('slack'));
    const [pagerdutyDeadLetter] = await pubsub.createTopic(names.findingsDeadLetterTopic('pagerduty'));
    const [pagerdutyHold] = await pagerdutyDeadLetter.createSubscription(names.findingsDeadLetterHold('pagerduty'));
    const [auditTopic] = await pubsub.createTopic(names.auditTopic);
    const [audit] = await auditTopic.createSubscription(`${prefix}-audit-seen`);
    const [findingsTopic] = await pubsub.createTopic(names.findingsTopic);
    const [findings] = await findingsTopic.createSubscription(`${prefix}-findings-seen`);
    return {
      prefix,
      hold,
      findingsHold,
      pagerdutyHold,
      audit,
      findings,
      deadLetterTopic: deadLetter.name,
      findingsDeadLetterTopic: findingsDeadLetter.name,
      pagerdutyDeadLetterTopic: pagerdutyDeadLetter.name,
    };
  }

  /**
   * Everything `subscription` delivers within `ms` (acked). With `expected`, waits up to 15 s for that many first (a
   * streaming pull takes its time on a loaded machine), then `ms` more for extras. What a hold keeps is read with
   * keptBy instead, which sees a letter still leased too.
   */
  async function drain(subscription: Subscription, ms = 1500, expected = 0): Promise<Received[]> {
    const received: Received[] = [];
    const onMessage = (message: Message): void => {
      received.push({ id: message.id, data: message.data.toString('utf8'), attributes: { ...message.attributes } });
      message.ack();
    };
    subscription.on('message', onMessage);
    const deadline = Date.now() + 15_000;
    while (received.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, ms));
    subscription.off('message', onMessage);
    await subscription.close();
    return received;
  }

  /**
   * Publishes `data` to the dead-letter topic as Pub/Sub forwards a message after failed deliveries: its attributes
   * plus the source subscription and a delivery count of 5 (the Terraform module's maxDeliveryAttempts).
   */
  async function forwardedByPubSub(topic: string, data: string, attributes: Record<string, string>, sourceSubscription: string): Promise<void> {
    await pubsub.topic(topic).publishMessage({
      data: Buffer.from(data),
      attributes: { ...attributes, CloudPubSubDeadLetterSourceSubscription: sourceSubscription, CloudPubSubDeadLetterSourceDeliveryCount: '5' },
    });
  }

  const auditEntry = JSON.stringify({ insertId: 'e-1', logName: 'projects/p/logs/cloudaudit.googleapis.com%2Factivity' });
  const finding = JSON.stringify({ id: 'a'.repeat(32), rule: 'public-invoker-grant' });
  const timestamp = { 'logging.googleapis.com/timestamp': '2024-05-01T10:00:00Z' };
  const findingAttributes = { rule: 'public-invoker-grant', severity: 'HIGH', project: 'p', service: 's', findingId: 'a'.repeat(32) };

  // The check the tests below make of a hold once a run is over: it sees a letter still leased by a streaming pull that
  // closed without sending its nack (a plain pull sees it only once the stream's 10 s ack deadline has run out), and
  // not one that was acknowledged.
  it('keptBy sees a letter a closed streaming pull still leases, and not one acknowledged', async () => {
    const t = await topology();
    const client = await pubsub.getClientAsync_({ client: 'SubscriberClient' });
    await pubsub.topic(t.deadLetterTopic).publishMessage({ data: Buffer.from('acknowledged') });
    const [pulled] = (await client['pull']!({ subscription: t.hold.name, maxMessages: 1 })) as [{ receivedMessages: { ackId: string }[] }];
    await client['acknowledge']!({ subscription: t.hold.name, ackIds: pulled.receivedMessages.map((m) => m.ackId) });
    await pubsub.topic(t.deadLetterTopic).publishMessage({ data: Buffer.from('leased') });
    // Closed at once (timeout 0): what it holds is dropped, its nack never sent, as when a nack is lost on close.
    const stream = pubsub.subscription(t.hold.name, { closeOptions: { timeout: Duration.from({ seconds: 0 }) } });
    await new Promise<void>((resolve) => stream.once('message', () => resolve()));
    await stream.close();

    const [plain] = (await client['pull']!({ subscription: t.hold.name, maxMessages: 10, returnImmediately: true })) as [{ receivedMessages?: unknown[] }];
    expect(plain.receivedMessages ?? []).toEqual([]); // leased: a pull does not see it
    expect((await keptBy(pubsub, t.hold.name)).map((m) => m.data)).toEqual(['leased']);
    expect((await keptBy(pubsub, t.hold.name)).map((m) => m.data)).toEqual(['leased']); // and left there
  });

  it("sends detect's and notify's dead letters back to the audit and findings topics, as they were", async () => {
    const t = await topology();
    await publishDeadLetter(publisher, t.deadLetterTopic, { data: Buffer.from(auditEntry), attributes: timestamp, reason: 'entry is not a LogEntry', stage: 'parse', function: 'detect', messageId: '41' });
    await publishDeadLetter(publisher, t.findingsDeadLetterTopic, { data: Buffer.from(finding), attributes: findingAttributes, reason: 'invalid_auth', stage: 'deliver', function: 'notify', context: { sink: 'slack' }, messageId: '42' });

    const run = await runwatch(['redrive', '--prefix', t.prefix, '--project', project, '--wait', '3']);
    expect(run.stderr).toContain('redrove 2 dead letters (1 to the audit topic, 1 to the findings topic)');
    expect(run.code).toBe(0);

    // Each topic's subscription is watched for the whole of drain's wait, all at once. keptBy sees what a hold keeps
    // even while it is leased (a nack lost as the run closed), which a pull would see only once the run's 10 s leases
    // ran out.
    const [audit, findings, hold, findingsHold] = await Promise.all([drain(t.audit), drain(t.findings), keptBy(pubsub, t.hold.name), keptBy(pubsub, t.findingsHold.name)]);
    expect(audit.map((m) => [m.data, m.attributes])).toEqual([[auditEntry, timestamp]]);
    // For the slack sink only: the other sinks' notify functions ack it unsent.
    expect(findings.map((m) => [m.data, m.attributes])).toEqual([[finding, { ...findingAttributes, [REDRIVE_SINK_ATTRIBUTE]: 'slack' }]]);
    expect(hold).toEqual([]); // acknowledged: gone from the dead-letter subscriptions
    expect(findingsHold).toEqual([]);
  });

  it('reads one hold with --subscription, and sends its letters to that side only', async () => {
    const t = await topology();
    const names = topologyNames(t.prefix);
    await publishDeadLetter(publisher, t.deadLetterTopic, { data: Buffer.from(auditEntry), attributes: timestamp, reason: 'entry is not a LogEntry', stage: 'parse', function: 'detect', messageId: '41' });
    await publishDeadLetter(publisher, t.findingsDeadLetterTopic, { data: Buffer.from(finding), attributes: findingAttributes, reason: 'invalid_auth', stage: 'deliver', function: 'notify', context: { sink: 'slack' }, messageId: '42' });

    const run = await runwatch(['redrive', '--prefix', t.prefix, '--project', project, '--wait', '3', '--subscription', names.findingsDeadLetterHold('slack')]);
    expect(run.stderr).toContain('redrove 1 dead letter (0 to the audit topic, 1 to the findings topic)');
    expect(run.code).toBe(0);
    const [findings, audit, hold, slackHold] = await Promise.all([
      drain(t.findings),
      keptBy(pubsub, t.audit.name),
      keptBy(pubsub, t.hold.name),
      // The letter it sent back left the slack hold (acknowledged): the hold keeps nothing, not even a letter still
      // leased (its nack lost as the run closed), which a pull would see only once the run's leases ran out.
      keptBy(pubsub, t.findingsHold.name),
    ]);
    expect(findings.map((m) => m.data)).toEqual([finding]);
    expect(audit).toEqual([]);
    expect(hold.map((m) => m.data)).toEqual([auditEntry]); // not read: still there
    expect(slackHold).toEqual([]);
  });

  // The reproduction of the review: every notify account may publish dead letters, and one that says function=detect
  // used to be sent to the audit topic (a forged audit entry in detection). Now the findings side's hold is only ever
  // redriven to the findings topic, and a letter there that claims detect is left where it is.
  it('leaves a letter whose attributes claim the other side where it is', async () => {
    const t = await topology();
    const forgedEntry = JSON.stringify({ insertId: 'forged', logName: 'projects/p/logs/cloudaudit.googleapis.com%2Factivity' });
    await publishDeadLetter(publisher, t.findingsDeadLetterTopic, { data: Buffer.from(forgedEntry), attributes: timestamp, reason: 'x', stage: 'parse', function: 'detect', messageId: '7' });
    await forwardedByPubSub(t.deadLetterTopic, finding, findingAttributes, topologyNames(t.prefix).notifySubscription('slack'));

    const dry = await runwatch(['redrive', '--prefix', t.prefix, '--project', project, '--wait', '3', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout.match(/ wrong-side {2}/g)).toHaveLength(2);

    // Nothing changed. A letter on its way to the dry run when it closed is lost to its nack, and would come back only
    // when the stream's 10 s ack deadline ran out: keptBy makes both letters deliverable again at once for the redrive.
    const [keptForged, keptFinding] = await Promise.all([keptBy(pubsub, t.findingsHold.name), keptBy(pubsub, t.hold.name)]);
    expect(keptForged.map((m) => m.data)).toEqual([forgedEntry]);
    expect(keptFinding.map((m) => m.data)).toEqual([finding]);
    const run = await runwatch(['redrive', '--prefix', t.prefix, '--project', project, '--wait', '3']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('redrove 0 dead letters (0 to the audit topic, 0 to the findings topic), left 2 whose attributes claim the other side');
    const [audit, findings, findingsHold, hold] = await Promise.all([
      keptBy(pubsub, t.audit.name),
      keptBy(pubsub, t.findings.name),
      keptBy(pubsub, t.findingsHold.name),
      keptBy(pubsub, t.hold.name),
    ]);
    expect(audit).toEqual([]);
    expect(findings).toEqual([]);
    expect(findingsHold.map((m) => m.data)).toEqual([forgedEntry]);
    expect(hold.map((m) => m.data)).toEqual([finding]);
  });

  // The reproduction of the second review: every notify account could publish to the one findings-side topic, and a
  // redrive sent what it held to the findings topic, which every sink reads: a compromised notify function could get
  // a forged finding paged through PagerDuty. Now each sink has a topic of its own that only its account may publish
  // to, a letter goes back for that sink only, and one in a sink's hold that claims another sink stays where it is.
  it("leaves a letter of a sink's hold that claims another sink where it is, and redrives each sink's own for it alone", async () => {
    const t = await topology();
    await publishDeadLetter(publisher, t.findingsDeadLetterTopic, { data: Buffer.from(finding), attributes: findingAttributes, reason: 'x', stage: 'deliver', function: 'notify', context: { sink: 'pagerduty' }, messageId: '8' });
    await forwardedByPubSub(t.findingsDeadLetterTopic, finding, findingAttributes, topologyNames(t.prefix).notifySubscription('pagerduty'));
    const own = JSON.stringify({ id: 'b'.repeat(32), rule: 'public-invoker-grant' });
    await publishDeadLetter(publisher, t.pagerdutyDeadLetterTopic, { data: Buffer.from(own), attributes: findingAttributes, reason: 'y', stage: 'deliver', function: 'notify', context: { sink: 'pagerduty' }, messageId: '9' });

    const dry = await runwatch(['redrive', '--prefix', t.prefix, '--project', project, '--wait', '3', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout.match(/ wrong-sink {2}/g)).toHaveLength(2);

    // As above: nothing changed, and what the dry run left is deliverable again at once.
    const [keptSlack, keptPagerduty] = await Promise.all([keptBy(pubsub, t.findingsHold.name), keptBy(pubsub, t.pagerdutyHold.name)]);
    expect(keptSlack.map((m) => m.data)).toEqual([finding, finding]);
    expect(keptPagerduty.map((m) => m.data)).toEqual([own]);
    const run = await runwatch(['redrive', '--prefix', t.prefix, '--project', project, '--wait', '3']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('redrove 1 dead letter (0 to the audit topic, 1 to the findings topic), left 2 whose attributes claim another sink');
    const [findings, findingsHold, pagerdutyHold] = await Promise.all([drain(t.findings, 1500, 1), keptBy(pubsub, t.findingsHold.name), keptBy(pubsub, t.pagerdutyHold.name)]);
    expect(findings.map((m) => [m.data, m.attributes[REDRIVE_SINK_ATTRIBUTE]])).toEqual([[own, 'pagerduty']]);
    expect(findingsHold.map((m) => m.data)).toEqual([finding, finding]);
    expect(pagerdutyHold).toEqual([]);
  });

  // The hold decides the sink, never the letter: runwatch-redrive-sink is an attribute like any other, written by
  // whoever published the letter or the finding before it. A compromised notify-pagerduty may dead-letter a finding
  // of its own with runwatch-redrive-sink=slack (its `sink` attribute saying pagerduty, as its hold requires); and a
  // finding published with it (by anyone who may publish to the findings topic) that notify-pagerduty kept failing
  // on reaches pagerduty's hold from Pub/Sub with it. Sent back as it was, either would go to Slack alone: redrive
  // overwrites the attribute with the hold's sink.
  it("sends a sink's letter back for that sink even when its attributes name another in runwatch-redrive-sink", async () => {
    const t = await topology();
    const forged = { ...findingAttributes, [REDRIVE_SINK_ATTRIBUTE]: 'slack' };
    const byNotify = JSON.stringify({ id: 'c'.repeat(32), rule: 'public-invoker-grant' });
    await publishDeadLetter(publisher, t.pagerdutyDeadLetterTopic, { data: Buffer.from(byNotify), attributes: forged, reason: 'z', stage: 'deliver', function: 'notify', context: { sink: 'pagerduty' }, messageId: '10' });
    const byPubSub = JSON.stringify({ id: 'd'.repeat(32), rule: 'public-invoker-grant' });
    await forwardedByPubSub(t.pagerdutyDeadLetterTopic, byPubSub, forged, topologyNames(t.prefix).notifySubscription('pagerduty'));

    const run = await runwatch(['redrive', '--prefix', t.prefix, '--project', project, '--wait', '3']);
    expect(run.stderr).toContain('redrove 2 dead letters (0 to the audit topic, 2 to the findings topic)');
    expect(run.code).toBe(0);
    const [findings, pagerdutyHold, slackHold] = await Promise.all([drain(t.findings, 1500, 2), keptBy(pubsub, t.pagerdutyHold.name), keptBy(pubsub, t.findingsHold.name)]);
    const sent = findings.map((m) => [m.data, m.attributes] as const).sort(([a], [b]) => a.localeCompare(b));
    expect(sent).toEqual([
      [byNotify, { ...findingAttributes, [REDRIVE_SINK_ATTRIBUTE]: 'pagerduty' }],
      [byPubSub, { ...findingAttributes, [REDRIVE_SINK_ATTRIBUTE]: 'pagerduty' }],
    ]);
    expect(pagerdutyHold).toEqual([]);
    expect(slackHold).toEqual([]);
  });

  it('sends a message Pub/Sub dead-lettered after failed deliveries back to the audit topic', async () => {
    const t = await topology();
    const names = topologyNames(t.prefix);
    // detect's subscription, with the dead-letter policy the Terraform module gives it (5 attempts, the minimum).
    const [detect] = await pubsub.topic(names.auditTopic).createSubscription(names.detectSubscription, {
      deadLetterPolicy: { deadLetterTopic: t.deadLetterTopic, maxDeliveryAttempts: 5 },
    });
    await pubsub.topic(names.auditTopic).publishMessage({ data: Buffer.from(auditEntry), attributes: timestamp });
    // Failed deliveries (nacks): after the fifth, Pub/Sub forwards the message to the dead-letter topic, at its next
    // delivery, so the subscriber keeps failing until the redrive is over.
    let deliveries = 0;
    detect.on('message', (message: Message) => {
      deliveries++;
      message.nack();
    });
    const deadline = Date.now() + 20_000;
    while (deliveries < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(deliveries).toBeGreaterThanOrEqual(5);
    await drain(t.audit, 200); // the original publish, seen by the observer

    // detect still fails: the redriven message is dead-lettered again, and that new letter is left in place.
    const run = await runwatch(['redrive', '--prefix', t.prefix, '--project', project, '--wait', '3']);
    await detect.close();
    expect(run.stderr).toMatch(/redrove 1 dead letter \(1 to the audit topic, 0 to the findings topic\), left 1 dead-lettered after the redrive started/);
    expect(run.code).toBe(0);
    // The hold keeps the new letter only: the one redriven was acknowledged.
    const [audit, again] = await Promise.all([drain(t.audit, 1500, 1), keptBy(pubsub, t.hold.name)]);
    expect(audit.map((m) => [m.data, m.attributes])).toEqual([[auditEntry, timestamp]]);
    expect(again.map((m) => [m.data, m.attributes['CloudPubSubDeadLetterSourceSubscription']])).toEqual([[auditEntry, names.detectSubscription]]);
  });

  it('leaves letters of unknown origin, those past --limit, and everything under --dry-run where they are', async () => {
    const t = await topology();
    const deadLetterTopic = pubsub.topic(t.deadLetterTopic);
    // Written by anyone who can deploy (the reason quotes the entry): escaped on the terminal.
    await publishDeadLetter(publisher, t.deadLetterTopic, { data: Buffer.from(auditEntry), attributes: timestamp, reason: 'bad \u001b[31mred\u001b[0m', stage: 'parse', function: 'detect', messageId: '1' });
    await deadLetterTopic.publishMessage({ data: Buffer.from('who knows'), attributes: { some: 'thing' } });

    const dry = await runwatch(['redrive', '--prefix', t.prefix, '--project', project, '--wait', '3', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/ audit {2}detect\/parse: bad \\u001b\[31mred\\u001b\[0m\n/);
    expect(dry.stdout).toContain(' unknown-origin  no dead-letter attributes\n');
    expect(dry.stdout).not.toContain('\u001b');
    expect(dry.stderr).toContain('listed 2 dead letters; nothing was changed');
    expect(await keptBy(pubsub, t.audit.name)).toEqual([]);

    const limited = await runwatch(['redrive', '--prefix', t.prefix, '--project', project, '--wait', '3', '--limit', '1']);
    expect(limited.code).toBe(0);
    // It took at most one letter (sent to the audit topic, or left: unknown origin; on a loaded machine maybe none
    // within 3 s), and the hold keeps the rest. A nack it sent while closing can be lost, and the letter would come
    // back only when the stream's 10 s ack deadline ran out: keptBy makes what it left deliverable again at once.
    const [sentByLimited, keptByHold] = await Promise.all([keptBy(pubsub, t.audit.name), keptBy(pubsub, t.hold.name)]);
    expect(sentByLimited.length).toBeLessThanOrEqual(1);
    expect(sentByLimited.length + keptByHold.length).toBe(2);
    const rest = await runwatch(['redrive', '--prefix', t.prefix, '--project', project, '--wait', '3']);
    expect(rest.code).toBe(0);
    expect(rest.stderr).toContain('left 1 of unknown origin');
    const [audit, left] = await Promise.all([keptBy(pubsub, t.audit.name), keptBy(pubsub, t.hold.name)]);
    // The letter went to the audit topic once, by whichever run took it.
    expect(audit.map((m) => [m.data, m.attributes])).toEqual([[auditEntry, timestamp]]);
    expect(left.map((m) => m.data)).toEqual(['who knows']);
  });

  it('rejects bad options with exit code 2 before connecting', async () => {
    const ambiguous = [
      ['--subscription', 'some-other-sub'], // which side's dead letters it holds cannot be told from its name
      ['--origin', 'audit'], // without --subscription: both holds have their side already
      ['--subscription', 'runwatch-dead-letter-hold', '--origin', 'findings'], // the audit side's hold
      ['--subscription', 'some-other-sub', '--origin', 'detect'],
      ['--subscription', 'some-other-sub', '--origin', 'findings'], // whose sink's: a sink's hold is redriven for it alone
      ['--subscription', 'some-other-sub', '--origin', 'findings:Slack'],
      ['--subscription', 'runwatch-findings-dead-letter-slack-hold', '--origin', 'findings:pagerduty'], // slack's hold
    ];
    for (const args of [['--limit', '0'], ['--wait', 'soon'], ['--subscription', 'a/b'], ['extra'], ...ambiguous]) {
      const run = await runwatch(['redrive', ...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/^runwatch redrive: .+\nusage: runwatch redrive /);
    }
  });
});
