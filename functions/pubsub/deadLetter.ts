// What a message on a dead-letter topic says about where it came from, and the message it was before. Each side of
// the pipeline has a dead-letter topic of its own, with a pull subscription (the hold) that keeps its letters:
//  - audit side: <prefix>-dead-letter, held by <prefix>-dead-letter-hold; detect and the Pub/Sub service agent
//    (forwarding from <prefix>-audit-to-detect) publish there;
//  - findings side, one per sink: <prefix>-findings-dead-letter-SINK, held by <prefix>-findings-dead-letter-SINK-hold;
//    notify-SINK and the Pub/Sub service agent (forwarding from <prefix>-findings-to-SINK) publish there. A letter of a
//    sink's hold goes back to the findings topic for that sink only (REDRIVE_SINK_ATTRIBUTE: the other sinks' notify
//    functions ack it unsent), and its attributes must name that sink: a compromised notify function cannot get a
//    forged finding to the other sinks through a redrive. (Earlier versions had one findings-side topic and hold,
//    <prefix>-findings-dead-letter-hold, for every sink: what it still holds goes back for no sink in particular.)
// Which side a letter belongs to is decided by the hold it is read from: only that side's publishers can put it
// there (IAM on the topic). Its attributes cannot decide: any publisher writes them, and a notify account (a sink's
// token, talking to the internet) that could say `function=detect` would get a forged audit entry into detection
// through a redrive. The attributes must agree with the hold, or the letter is left where it is. Two kinds arrive:
//  - dead letters runwatch publishes itself (detect or notify gave up on a message: publisher.ts publishDeadLetter),
//    carrying the original attributes plus `reason`, `stage`, `function`, notify's `sink` and `originalMessageId`;
//  - messages Pub/Sub forwards after max_delivery_attempts failed pushes, carrying the original attributes plus
//    `CloudPubSubDeadLetterSource*` (the source subscription, its project, the delivery count, the publish time).
// `runwatch redrive` sends them back to the topic they were first published to once their cause is fixed.
import { topologyNames } from './topology.js';

/** The topic a dead letter was first published to: the audit topic (detect's input) or the findings topic. */
export type DeadLetterOrigin = 'audit' | 'findings';

/**
 * The attribute `runwatch redrive` sets on a finding it sends back from a sink's hold: that sink's notify delivers
 * it, every other sink's acks it unsent. Only detect and whoever redrives may publish to the findings topic.
 */
export const REDRIVE_SINK_ATTRIBUTE = 'runwatch-redrive-sink';

/** Attributes runwatch adds to a dead letter it publishes (after the original ones). */
export const RUNWATCH_DEAD_LETTER_ATTRIBUTES: readonly string[] = ['reason', 'stage', 'function', 'sink', 'originalMessageId'];

/** The prefix of the attributes Pub/Sub adds to a message it forwards to a dead-letter topic. */
const PUBSUB_DEAD_LETTER_PREFIX = 'CloudPubSubDeadLetterSource';
const SOURCE_SUBSCRIPTION = 'CloudPubSubDeadLetterSourceSubscription';

/**
 * Where a dead letter says it came from, by what it carries (a claim: see redriveDecision): runwatch's `function` attribute (detect reads the audit topic,
 * notify the findings topic), else the subscription Pub/Sub forwarded it from (`<prefix>-audit-to-detect`,
 * `<prefix>-findings-to-SINK`, as the Terraform module and `npm run dev` name them). Undefined when neither tells.
 */
export function originOf(attributes: Readonly<Record<string, string>>, namePrefix?: string): DeadLetterOrigin | undefined {
  const names = topologyNames(namePrefix);
  const fn = attributes['function'];
  if (fn === 'detect') return 'audit';
  if (fn === 'notify') return 'findings';
  const source = attributes[SOURCE_SUBSCRIPTION];
  if (source === undefined) return undefined;
  const id = source.slice(source.lastIndexOf('/') + 1); // an id, or projects/P/subscriptions/S
  if (id === names.detectSubscription) return 'audit';
  if (id.startsWith(names.notifySubscription('')) && id.length > names.notifySubscription('').length) return 'findings';
  return undefined;
}

/** The side whose dead letters a subscription holds, by its name (an id or projects/P/subscriptions/S); undefined for another name. */
export function holdOrigin(subscription: string, namePrefix?: string): DeadLetterOrigin | undefined {
  const names = topologyNames(namePrefix);
  const id = subscription.slice(subscription.lastIndexOf('/') + 1);
  if (id === names.deadLetterHold) return 'audit';
  if (id === names.sharedFindingsDeadLetterHold || holdSink(subscription, namePrefix) !== undefined) return 'findings';
  return undefined;
}

/** The sink whose dead letters a subscription holds (`<prefix>-findings-dead-letter-SINK-hold`); undefined for another name. */
export function holdSink(subscription: string, namePrefix?: string): string | undefined {
  const names = topologyNames(namePrefix);
  const id = subscription.slice(subscription.lastIndexOf('/') + 1);
  const before = names.findingsDeadLetterTopic('');
  const after = names.findingsDeadLetterHold('').slice(before.length); // "-hold"
  if (!id.startsWith(before) || !id.endsWith(after)) return undefined;
  const sink = id.slice(before.length, id.length - after.length);
  return /^[a-z][a-z0-9]*$/.test(sink) ? sink : undefined;
}

/** The sink a dead letter says it is about: notify's `sink` attribute, or the notify subscription Pub/Sub forwarded it from. */
function claimedSink(attributes: Readonly<Record<string, string>>, namePrefix?: string): string | undefined {
  if (attributes['function'] === 'notify') return attributes['sink'];
  const source = attributes[SOURCE_SUBSCRIPTION];
  if (source === undefined) return undefined;
  const id = source.slice(source.lastIndexOf('/') + 1);
  const prefix = topologyNames(namePrefix).notifySubscription('');
  return id.startsWith(prefix) ? id.slice(prefix.length) : undefined;
}

/**
 * What redrive does with a letter read from a hold: send it back to its side's topic (for `sink` only, when read
 * from a sink's hold), or leave it.
 */
export type RedriveDecision =
  | { readonly origin: DeadLetterOrigin; readonly sink?: string }
  | { readonly leave: 'unknown-origin' | 'wrong-side' | 'wrong-sink' };

/**
 * A letter read from `side`'s hold goes back to that side's topic when its attributes say it came from that side;
 * one that claims the other side (forged, or published before the sides had topics of their own) or none is left.
 * Read from a sink's hold (`sink`), it must also say it is that sink's (notify's `sink` attribute, or the sink's
 * subscription Pub/Sub forwarded it from), and goes back for that sink only.
 */
export function redriveDecision(side: DeadLetterOrigin, attributes: Readonly<Record<string, string>>, namePrefix?: string, sink?: string): RedriveDecision {
  const claimed = originOf(attributes, namePrefix);
  if (claimed === undefined) return { leave: 'unknown-origin' };
  if (claimed !== side) return { leave: 'wrong-side' };
  if (side === 'findings' && sink !== undefined) {
    if (claimedSink(attributes, namePrefix) !== sink) return { leave: 'wrong-sink' };
    return { origin: side, sink };
  }
  return { origin: side };
}

/** The attributes the message had before it was dead-lettered: what runwatch or Pub/Sub added taken out. */
export function originalAttributes(attributes: Readonly<Record<string, string>>): Record<string, string> {
  const byRunwatch = attributes['function'] === 'detect' || attributes['function'] === 'notify';
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith(PUBSUB_DEAD_LETTER_PREFIX)) continue;
    if (byRunwatch && RUNWATCH_DEAD_LETTER_ATTRIBUTES.includes(key)) continue;
    out[key] = value;
  }
  return out;
}

/** One line on why a message was dead-lettered: runwatch's function, stage, sink and reason, or Pub/Sub's count. */
export function describeDeadLetter(attributes: Readonly<Record<string, string>>): string {
  const fn = attributes['function'];
  if (fn === 'detect' || fn === 'notify') {
    const where = [fn, attributes['stage'], attributes['sink']].filter((part) => part !== undefined && part !== '').join('/');
    return `${where}: ${attributes['reason'] ?? '(no reason given)'}`;
  }
  const source = attributes[SOURCE_SUBSCRIPTION];
  if (source !== undefined) return `not acknowledged by ${source} after ${attributes['CloudPubSubDeadLetterSourceDeliveryCount'] ?? '?'} deliveries`;
  return 'no dead-letter attributes';
}
