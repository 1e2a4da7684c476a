// The Pub/Sub topology of the pipeline, created the way the Terraform module creates it, for `npm run dev` and
// the integration tests (both on the emulator):
//
//   <prefix>-audit       --push `<prefix>-audit-to-detect`---------> detect  <url>/projects/P/topics/<prefix>-audit
//   <prefix>-findings    --push `<prefix>-findings-to-<sink>` each--> notify  <url>/projects/P/topics/<prefix>-findings
//   <prefix>-dead-letter          <-- dead_letter_policy of the detect subscription, and detect's own dead letters;
//                                     the pull subscription `<prefix>-dead-letter-hold` keeps them (a topic without
//                                     subscriptions drops what is published to it)
//   <prefix>-findings-dead-letter-<sink> <-- dead_letter_policy of that sink's notify subscription, and its notify's
//                                     own dead letters; kept by the pull subscription
//                                     `<prefix>-findings-dead-letter-<sink>-hold`
// Dead-letter topics apart for each side, and on the findings side for each sink: `runwatch redrive` sends a hold's
// letters back to its side's topic (deadLetter.ts), so nothing on the findings side may publish where audit entries
// are redriven from, and a sink's letters go back for that sink only.
// Names, policies and defaults are those of terraform/modules/runwatch/main.tf (name_prefix = "runwatch").
//
// Every push subscription has a dead_letter_policy and a retry_policy. The push endpoint path is the topic's
// full name because functions-framework's legacyPubSubEventMiddleware reads the topic from the URL path when it
// converts a raw push body into a CloudEvent. Idempotent: what exists is kept (a push endpoint or policy that
// differs is updated; a subscription attached to another topic is an error, as it cannot be moved).
import type { CreateSubscriptionOptions, PubSub, Subscription } from '@google-cloud/pubsub';
import { GRPC_STATUS, grpcCode } from '../grpcEndpoint.js';

export interface TopologyOptions {
  readonly projectId: string;
  /** Prefix of every topic and subscription name (Terraform's `name_prefix`). */
  readonly namePrefix?: string;
  /** Base URL of the detect function, e.g. `http://127.0.0.1:8081`. */
  readonly detectUrl: string;
  /** Base URL of each sink's notify function, by sink name. */
  readonly notifyUrls: Readonly<Record<string, string>>;
  /** 5-100; after this many failed deliveries a message moves to the dead-letter topic. */
  readonly maxDeliveryAttempts?: number;
  readonly minimumBackoffSeconds?: number;
  readonly maximumBackoffSeconds?: number;
  /** For a push subscription this is also the push request timeout. */
  readonly ackDeadlineSeconds?: number;
  /** Create the pull subscriptions that keep dead letters (default true). */
  readonly deadLetterHold?: boolean;
}

const TOPOLOGY_DEFAULTS = {
  namePrefix: 'runwatch',
  maxDeliveryAttempts: 10,
  minimumBackoffSeconds: 10,
  maximumBackoffSeconds: 600,
  ackDeadlineSeconds: 60,
} as const;

export type ResourceResult = 'created' | 'exists' | 'updated';

export interface Topology {
  /** deadLetter is the audit side's (detect's DEAD_LETTER_TOPIC), findingsDeadLetter each sink's (notify-SINK's), by sink. */
  readonly topics: { readonly audit: string; readonly findings: string; readonly deadLetter: string; readonly findingsDeadLetter: Readonly<Record<string, string>> };
  readonly subscriptions: {
    readonly detect: string;
    readonly notify: Readonly<Record<string, string>>;
    readonly deadLetter?: string;
    /** Each sink's hold, by sink. */
    readonly findingsDeadLetter?: Readonly<Record<string, string>>;
  };
  /** What was done to each resource, in order. */
  readonly actions: readonly { readonly resource: string; readonly result: ResourceResult }[];
}

/** `<base>/projects/P/topics/T`: the path the framework's legacy Pub/Sub middleware needs. */
function pushEndpoint(baseUrl: string, topicName: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${topicName}`;
}

/** Topic and subscription ids (and the delivery records' database) for a name prefix, as Terraform names them. */
export function topologyNames(prefix: string = TOPOLOGY_DEFAULTS.namePrefix) {
  return {
    auditTopic: `${prefix}-audit`,
    findingsTopic: `${prefix}-findings`,
    deadLetterTopic: `${prefix}-dead-letter`,
    /** Each sink's findings-side dead-letter topic: only its notify account (and Pub/Sub) may publish there. */
    findingsDeadLetterTopic: (sink: string) => `${prefix}-findings-dead-letter-${sink}`,
    detectSubscription: `${prefix}-audit-to-detect`,
    notifySubscription: (sink: string) => `${prefix}-findings-to-${sink}`,
    deadLetterHold: `${prefix}-dead-letter-hold`,
    findingsDeadLetterHold: (sink: string) => `${prefix}-findings-dead-letter-${sink}-hold`,
    /** The one findings-side hold of every sink in earlier versions (redrive still reads it, for no sink in particular). */
    sharedFindingsDeadLetterHold: `${prefix}-findings-dead-letter-hold`,
    /** The Firestore database of notify's delivery records (DELIVERY_DATABASE), apart from detect's (default). */
    deliveryDatabase: `${prefix}-deliveries`,
  } as const;
}

export async function ensureTopology(pubsub: PubSub, options: TopologyOptions): Promise<Topology> {
  const project = options.projectId;
  const topicName = (id: string): string => `projects/${project}/topics/${id}`;
  const subName = (id: string): string => `projects/${project}/subscriptions/${id}`;
  const names = topologyNames(options.namePrefix);
  const audit = topicName(names.auditTopic);
  const findings = topicName(names.findingsTopic);
  const deadLetter = topicName(names.deadLetterTopic);
  const sinks = Object.keys(options.notifyUrls);
  for (const sink of sinks) if (!/^[a-z][a-z0-9-]*$/.test(sink)) throw new Error(`sink name ${JSON.stringify(sink)} cannot name a subscription`);
  // Each sink's own: only its notify account may publish there, and redrive sends what it holds back for that sink only.
  const findingsDeadLetter: Record<string, string> = Object.fromEntries(sinks.map((sink) => [sink, topicName(names.findingsDeadLetterTopic(sink))]));
  const actions: { resource: string; result: ResourceResult }[] = [];

  for (const topic of [audit, findings, deadLetter, ...Object.values(findingsDeadLetter)]) actions.push({ resource: topic, result: await ensureTopic(pubsub, topic) });

  const policies: CreateSubscriptionOptions = {
    ackDeadlineSeconds: options.ackDeadlineSeconds ?? TOPOLOGY_DEFAULTS.ackDeadlineSeconds,
    deadLetterPolicy: { deadLetterTopic: deadLetter, maxDeliveryAttempts: options.maxDeliveryAttempts ?? TOPOLOGY_DEFAULTS.maxDeliveryAttempts },
    retryPolicy: {
      minimumBackoff: duration(options.minimumBackoffSeconds ?? TOPOLOGY_DEFAULTS.minimumBackoffSeconds),
      maximumBackoff: duration(options.maximumBackoffSeconds ?? TOPOLOGY_DEFAULTS.maximumBackoffSeconds),
    },
  };

  const detect = subName(names.detectSubscription);
  actions.push({ resource: detect, result: await ensurePushSubscription(pubsub, detect, audit, pushEndpoint(options.detectUrl, audit), policies) });

  const notify: Record<string, string> = {};
  for (const [sink, url] of Object.entries(options.notifyUrls)) {
    const notifyPolicies: CreateSubscriptionOptions = { ...policies, deadLetterPolicy: { ...policies.deadLetterPolicy, deadLetterTopic: findingsDeadLetter[sink]! } };
    const name = subName(names.notifySubscription(sink));
    notify[sink] = name;
    actions.push({ resource: name, result: await ensurePushSubscription(pubsub, name, findings, pushEndpoint(url, findings), notifyPolicies) });
  }

  let deadLetterSub: string | undefined;
  let findingsDeadLetterSub: Record<string, string> | undefined;
  if (options.deadLetterHold !== false) {
    deadLetterSub = subName(names.deadLetterHold);
    actions.push({ resource: deadLetterSub, result: await ensurePullSubscription(pubsub, deadLetterSub, deadLetter, policies.retryPolicy) });
    findingsDeadLetterSub = {};
    for (const sink of sinks) {
      const hold = subName(names.findingsDeadLetterHold(sink));
      findingsDeadLetterSub[sink] = hold;
      actions.push({ resource: hold, result: await ensurePullSubscription(pubsub, hold, findingsDeadLetter[sink]!, policies.retryPolicy) });
    }
  }

  return {
    topics: { audit, findings, deadLetter, findingsDeadLetter },
    subscriptions: {
      detect,
      notify,
      ...(deadLetterSub ? { deadLetter: deadLetterSub } : {}),
      ...(findingsDeadLetterSub ? { findingsDeadLetter: findingsDeadLetterSub } : {}),
    },
    actions,
  };
}

function duration(seconds: number): { seconds: number; nanos: number } {
  const whole = Math.floor(seconds);
  return { seconds: whole, nanos: Math.round((seconds - whole) * 1e9) };
}

async function ensureTopic(pubsub: PubSub, name: string): Promise<ResourceResult> {
  try {
    await pubsub.createTopic(name);
    return 'created';
  } catch (error) {
    if (grpcCode(error) === GRPC_STATUS.ALREADY_EXISTS) return 'exists';
    throw new Error(`cannot create topic ${name}: ${(error as Error).message}`);
  }
}

async function ensurePushSubscription(pubsub: PubSub, name: string, topic: string, endpoint: string, policies: CreateSubscriptionOptions): Promise<ResourceResult> {
  try {
    await pubsub.createSubscription(topic, name, { ...policies, pushConfig: { pushEndpoint: endpoint } });
    return 'created';
  } catch (error) {
    if (grpcCode(error) !== GRPC_STATUS.ALREADY_EXISTS) throw new Error(`cannot create subscription ${name}: ${(error as Error).message}`);
  }
  const subscription = pubsub.subscription(name);
  const [metadata] = await subscription.getMetadata();
  assertTopic(name, metadata.topic, topic);
  let result: ResourceResult = 'exists';
  if (metadata.pushConfig?.pushEndpoint !== endpoint) {
    await subscription.modifyPushConfig({ pushEndpoint: endpoint });
    result = 'updated';
  }
  if (!samePolicies(metadata, policies)) {
    await updatePolicies(subscription, policies);
    result = 'updated';
  }
  return result;
}

/** The dead-letter hold: no push, no dead-letter policy of its own (it is the end of the line). */
async function ensurePullSubscription(pubsub: PubSub, name: string, topic: string, retryPolicy: CreateSubscriptionOptions['retryPolicy']): Promise<ResourceResult> {
  try {
    await pubsub.createSubscription(topic, name, { ackDeadlineSeconds: 60, ...(retryPolicy ? { retryPolicy } : {}) });
    return 'created';
  } catch (error) {
    if (grpcCode(error) !== GRPC_STATUS.ALREADY_EXISTS) throw new Error(`cannot create subscription ${name}: ${(error as Error).message}`);
  }
  const [metadata] = await pubsub.subscription(name).getMetadata();
  assertTopic(name, metadata.topic, topic);
  return 'exists';
}

function assertTopic(name: string, actual: unknown, expected: string): void {
  if (actual !== expected) throw new Error(`subscription ${name} exists but is attached to ${String(actual)}, not ${expected}; delete it first`);
}

interface PolicyMetadata {
  readonly ackDeadlineSeconds?: number | null;
  readonly deadLetterPolicy?: { readonly deadLetterTopic?: string | null; readonly maxDeliveryAttempts?: number | null } | null;
  readonly retryPolicy?: { readonly minimumBackoff?: DurationLike | null; readonly maximumBackoff?: DurationLike | null } | null;
}
type DurationLike = { readonly seconds?: number | string | { toString(): string } | null; readonly nanos?: number | null };

function seconds(d: DurationLike | null | undefined): number {
  if (!d) return 0;
  return Number(d.seconds ?? 0) + (d.nanos ?? 0) / 1e9;
}

function samePolicies(actual: PolicyMetadata, wanted: CreateSubscriptionOptions): boolean {
  return (
    actual.ackDeadlineSeconds === wanted.ackDeadlineSeconds &&
    actual.deadLetterPolicy?.deadLetterTopic === wanted.deadLetterPolicy?.deadLetterTopic &&
    actual.deadLetterPolicy?.maxDeliveryAttempts === wanted.deadLetterPolicy?.maxDeliveryAttempts &&
    seconds(actual.retryPolicy?.minimumBackoff) === seconds(wanted.retryPolicy?.minimumBackoff as DurationLike) &&
    seconds(actual.retryPolicy?.maximumBackoff) === seconds(wanted.retryPolicy?.maximumBackoff as DurationLike)
  );
}

async function updatePolicies(subscription: Subscription, policies: CreateSubscriptionOptions): Promise<void> {
  await subscription.setMetadata({
    ...(policies.ackDeadlineSeconds !== undefined ? { ackDeadlineSeconds: policies.ackDeadlineSeconds } : {}),
    ...(policies.deadLetterPolicy ? { deadLetterPolicy: policies.deadLetterPolicy } : {}),
    ...(policies.retryPolicy ? { retryPolicy: policies.retryPolicy } : {}),
  });
}
