// Where a dead letter came from and what it was, for `runwatch redrive`: runwatch's own dead letters (detect,
// notify) and those Pub/Sub forwards after failed pushes, under the default and another name prefix.
import { describe, expect, it } from 'vitest';
import { describeDeadLetter, holdOrigin, holdSink, originalAttributes, originOf, redriveDecision } from '../../../functions/pubsub/deadLetter.js';
import { topologyNames } from '../../../functions/pubsub/topology.js';

const AUDIT = { 'logging.googleapis.com/timestamp': '2024-05-01T10:00:00Z' };
const FINDING = { rule: 'public-invoker-grant', severity: 'HIGH', project: 'p', service: 's', findingId: 'f'.repeat(32) };
const BY_DETECT = { ...AUDIT, reason: 'data is not JSON', stage: 'decode', function: 'detect', originalMessageId: '17' };
const BY_NOTIFY = { ...FINDING, reason: 'Slack said invalid_auth', stage: 'deliver', function: 'notify', sink: 'slack', originalMessageId: '18' };
const forwarded = (subscription: string, original: Record<string, string>): Record<string, string> => ({
  ...original,
  CloudPubSubDeadLetterSourceDeliveryCount: '10',
  CloudPubSubDeadLetterSourceSubscription: subscription,
  CloudPubSubDeadLetterSourceSubscriptionProject: 'p',
  CloudPubSubDeadLetterSourceTopicPublishTime: '2024-05-01T10:00:01.5+00:00',
});

describe('originOf and originalAttributes', () => {
  it.each([
    ['detect gave up on it', BY_DETECT, undefined, 'audit', AUDIT],
    ['notify gave up on it', BY_NOTIFY, undefined, 'findings', FINDING],
    ['Pub/Sub forwarded it from the detect subscription', forwarded('runwatch-audit-to-detect', AUDIT), undefined, 'audit', AUDIT],
    ['... named in full', forwarded('projects/p/subscriptions/runwatch-audit-to-detect', AUDIT), undefined, 'audit', AUDIT],
    ['Pub/Sub forwarded it from a notify subscription', forwarded('runwatch-findings-to-pagerduty', FINDING), undefined, 'findings', FINDING],
    ['another prefix', forwarded('sec-audit-to-detect', AUDIT), 'sec', 'audit', AUDIT],
    ['a subscription of another prefix', forwarded('runwatch-audit-to-detect', AUDIT), 'sec', undefined, AUDIT],
    ['a subscription runwatch does not name', forwarded('someone-elses-sub', AUDIT), undefined, undefined, AUDIT],
    ['"findings-to-" and no sink', forwarded('runwatch-findings-to-', FINDING), undefined, undefined, FINDING],
    ['no dead-letter attributes at all', AUDIT, undefined, undefined, AUDIT],
    // Only runwatch's own letters lose runwatch's attribute names: another message's `reason` is its own.
    ['a function runwatch does not have', { ...AUDIT, function: 'other', reason: 'r' }, undefined, undefined, { ...AUDIT, function: 'other', reason: 'r' }],
  ])('%s', (_name, attributes, prefix, origin, original) => {
    expect(originOf(attributes, prefix)).toBe(origin);
    expect(originalAttributes(attributes)).toEqual(original);
  });
});

describe('describeDeadLetter', () => {
  it.each([
    [BY_DETECT, 'detect/decode: data is not JSON'],
    [BY_NOTIFY, 'notify/deliver/slack: Slack said invalid_auth'],
    [{ function: 'detect' }, 'detect: (no reason given)'],
    [forwarded('runwatch-audit-to-detect', AUDIT), 'not acknowledged by runwatch-audit-to-detect after 10 deliveries'],
    [AUDIT, 'no dead-letter attributes'],
  ])('%j', (attributes, line) => {
    expect(describeDeadLetter(attributes)).toBe(line);
  });
});

// Which side a dead letter is redriven to is decided by the hold it is read from, never by its attributes: any
// publisher on a dead-letter topic writes those (a notify function's account could write `function=detect`). Each
// side has a topic of its own that only that side's functions and the Pub/Sub service agent may publish to; a letter
// whose attributes claim the other side, or no side at all, is left where it is.
describe('holdOrigin', () => {
  it.each([
    ['runwatch-dead-letter-hold', undefined, 'audit'],
    ['projects/p/subscriptions/runwatch-dead-letter-hold', undefined, 'audit'],
    ['runwatch-findings-dead-letter-hold', undefined, 'findings'],
    ['projects/p/subscriptions/runwatch-findings-dead-letter-hold', undefined, 'findings'],
    ['sec-findings-dead-letter-hold', 'sec', 'findings'],
    ['sec-dead-letter-hold', 'sec', 'audit'],
    ['runwatch-dead-letter-hold', 'sec', undefined],
    ['someone-elses-sub', undefined, undefined],
  ])('%s (prefix %s) holds the %s side', (subscription, prefix, origin) => {
    expect(holdOrigin(subscription, prefix)).toBe(origin);
  });
});

describe('redriveDecision', () => {
  it.each([
    ['an honest detect letter on the audit side', 'audit', BY_DETECT, undefined, { origin: 'audit' }],
    ['an honest notify letter on the findings side', 'findings', BY_NOTIFY, undefined, { origin: 'findings' }],
    ['Pub/Sub forwarded it from the detect subscription to the audit side', 'audit', forwarded('runwatch-audit-to-detect', AUDIT), undefined, { origin: 'audit' }],
    ['Pub/Sub forwarded it from a notify subscription to the findings side', 'findings', forwarded('runwatch-findings-to-slack', FINDING), undefined, { origin: 'findings' }],
    ['another prefix', 'findings', forwarded('sec-findings-to-slack', FINDING), 'sec', { origin: 'findings' }],
    // The reproduction: a notify account publishes `function=detect` to get a forged entry onto the audit topic.
    ['a findings-side letter that claims detect', 'findings', { ...AUDIT, reason: 'r', stage: 'parse', function: 'detect' }, undefined, { leave: 'wrong-side' }],
    ['a findings-side letter that claims the detect subscription', 'findings', forwarded('runwatch-audit-to-detect', AUDIT), undefined, { leave: 'wrong-side' }],
    ['an audit-side letter that claims notify', 'audit', BY_NOTIFY, undefined, { leave: 'wrong-side' }],
    ['an audit-side letter that claims a notify subscription', 'audit', forwarded('runwatch-findings-to-slack', FINDING), undefined, { leave: 'wrong-side' }],
    ['no dead-letter attributes', 'audit', AUDIT, undefined, { leave: 'unknown-origin' }],
    ['no dead-letter attributes, findings side', 'findings', FINDING, undefined, { leave: 'unknown-origin' }],
  ] as const)('%s', (_name, side, attributes, prefix, decision) => {
    expect(redriveDecision(side, attributes, prefix)).toEqual(decision);
  });
});

// Each notify sink has a dead-letter topic and hold of its own, which only that sink's account (and the Pub/Sub service
// agent) may publish to: a letter read from a sink's hold goes back to that sink only (redrive.ts), so a compromised
// notify function cannot get a forged finding to the other sinks (a page through PagerDuty, an SCC finding) through
// a redrive. Its attributes must name the same sink, or it is left where it is.
describe('the dead-letter topic and hold of each sink', () => {
  it('are named after the sink, as Terraform names them', () => {
    expect(topologyNames().findingsDeadLetterTopic('slack')).toBe('runwatch-findings-dead-letter-slack');
    expect(topologyNames('sec').findingsDeadLetterHold('pagerduty')).toBe('sec-findings-dead-letter-pagerduty-hold');
  });

  it.each([
    ['runwatch-findings-dead-letter-slack-hold', undefined, 'findings', 'slack'],
    ['projects/p/subscriptions/runwatch-findings-dead-letter-pagerduty-hold', undefined, 'findings', 'pagerduty'],
    ['sec-findings-dead-letter-scc-hold', 'sec', 'findings', 'scc'],
    ['runwatch-findings-dead-letter-scc-hold', 'sec', undefined, undefined],
    // The one hold of every sink in earlier versions: the findings side, no sink.
    ['runwatch-findings-dead-letter-hold', undefined, 'findings', undefined],
    ['runwatch-findings-dead-letter--hold', undefined, undefined, undefined],
    ['runwatch-dead-letter-hold', undefined, 'audit', undefined],
  ])('%s (prefix %s): the %s side, sink %s', (subscription, prefix, origin, sink) => {
    expect(holdOrigin(subscription, prefix)).toBe(origin);
    expect(holdSink(subscription, prefix)).toBe(sink);
  });

  const { sink: _sink, ...NO_SINK } = BY_NOTIFY;
  it.each([
    ["slack's own letter", BY_NOTIFY, { origin: 'findings', sink: 'slack' }],
    ['forwarded by Pub/Sub from the slack subscription', forwarded('runwatch-findings-to-slack', FINDING), { origin: 'findings', sink: 'slack' }],
    // The reproduction: notify-slack's account publishes a finding that says it is pagerduty's, to have it paged.
    ['a letter in the slack hold that claims pagerduty', { ...BY_NOTIFY, sink: 'pagerduty' }, { leave: 'wrong-sink' }],
    ['... or the pagerduty subscription', forwarded('runwatch-findings-to-pagerduty', FINDING), { leave: 'wrong-sink' }],
    ['a notify letter that names no sink', NO_SINK, { leave: 'wrong-sink' }],
    ['a letter that claims detect', BY_DETECT, { leave: 'wrong-side' }],
    ['no dead-letter attributes', FINDING, { leave: 'unknown-origin' }],
  ] as const)('read from the slack hold: %s', (_name, attributes, decision) => {
    expect(redriveDecision('findings', attributes, undefined, 'slack')).toEqual(decision);
  });
});
