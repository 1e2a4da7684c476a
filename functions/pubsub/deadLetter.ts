// What a message on a dead-letter topic says about where it came from, and the message it was before. Each side of
// the pipeline has a dead-letter topic of its own, with a pull subscription (the hold) that keeps its letters:
//  - audit side: <prefix>-dead-letter, held by <prefix>-dead-letter-hold; detect and the Pub/Sub service agent
//    (forwarding from <prefix>-audit-to-detect) publish there;
//  - findings side: <prefix>-findings-dead-letter, held by <prefix>-findings-dead-letter-hold; the notify functions
//    and the Pub/Sub service agent (forwarding from <prefix>-findings-to-SINK) publish there.
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
  if (id === names.findingsDeadLetterHold) return 'findings';
  return undefined;
}

/** What redrive does with a letter read from a side's hold: send it back to that side's topic, or leave it. */
export type RedriveDecision = { readonly origin: DeadLetterOrigin } | { readonly leave: 'unknown-origin' | 'wrong-side' };

/**
 * A letter read from `side`'s hold goes back to that side's topic when its attributes say it came from that side;
 * one that claims the other side (forged, or published before the sides had topics of their own) or none is left.
 */
export function redriveDecision(side: DeadLetterOrigin, attributes: Readonly<Record<string, string>>, namePrefix?: string): RedriveDecision {
  const claimed = originOf(attributes, namePrefix);
  if (claimed === undefined) return { leave: 'unknown-origin' };
  if (claimed !== side) return { leave: 'wrong-side' };
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
