// The pipeline on the emulators, for the integration tests: real Pub/Sub topics and push subscriptions (created by
// functions/pubsub/topology.ts, as Terraform creates them), the real functions-framework server in front of each
// function (getTestServer: body parsing, binary/structured CloudEvents and the legacy push-body conversion all
// happen as in production), real Pub/Sub and Firestore clients inside the functions, and local protocol servers
// as the destinations: one notify deployment per sink (`sinks`, default the webhook), each with its own push
// subscription `runwatch-findings-to-<sink>`, its own environment (as Terraform sets it) and its own server. Each
// stack lives in its own emulator project, so tests never see each other's topics or documents.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cloudEvent, type CloudEvent } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { inject } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { validateConfig } from '../../functions/config/load.js';
import { createDetectFunction, type DetectFunction, type DetectObservation } from '../../functions/detect.js';
import type { Finding } from '../../functions/findings/finding.js';
import { createNotifyFunction, type NotifyFunction, type NotifyObservation } from '../../functions/notify.js';
import { Pipeline, type EntryOutcome } from '../../functions/pipeline.js';
import { createPubSub } from '../../functions/pubsub/publisher.js';
import { ensureTopology, topologyNames, type Topology } from '../../functions/pubsub/topology.js';
import type { LogRecord } from '../../functions/runtime.js';
import type { EmulatorContext } from '../support/emulators.js';
import { PAGERDUTY_TEST_ROUTING_KEY, startPagerDutyServer, type PagerDutyServer } from '../support/pagerdutyServer.js';
import { SCC_TEST_SOURCE, startSccServer, type SccServer } from '../support/sccServer.js';
import { SLACK_TEST_TOKEN, startSlackServer, type SlackServer } from '../support/slackServer.js';
import { startWebhookServer, type ReceivedRequest, type WebhookServer } from '../support/webhookServer.js';

export type AvailableEmulators = Extract<EmulatorContext, { available: true }>;

/** The emulators of this run, or undefined when global setup skipped them (the suite is then skipped). */
export function emulators(): AvailableEmulators | undefined {
  const context = inject('runwatchEmulators');
  if (!context.available) return undefined;
  Object.assign(process.env, context.env); // the client libraries read the emulator hosts from process.env
  return context;
}

/**
 * The test configuration: UTC office hours, a trusted registry, service accounts and one person deploy (the first
 * pipeline fixture is another person's), the organization's own domain (the fixtures' company.com; the external member
 * fixture's partner.example is outside it), every finding routed to the webhook.
 */
export const TEST_CONFIG = {
  timezone: 'UTC',
  changeWindows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
  rules: {
    'new-image-repository': { trustedRepositories: ['asia-northeast1-docker.pkg.dev/test-project-1234/*'] },
    'unapproved-deployer': { allowedDeployers: ['serviceAccount:*', 'masatonaka1989@gmail.com'] },
    'external-member-grant': { allowedDomains: ['company.com'] },
  },
  sinks: { webhook: { minSeverity: 'LOW', timeoutSeconds: 5 } },
  // The pipeline fixtures are admin writes without their system events: judge each deploy as soon as it arrives.
  correlation: { waitSeconds: 0 },
} as const;

type Handler = (event: CloudEvent<unknown>) => Promise<void>;

/** The local server behind each sink a stack can deploy a notify function for. */
export interface SinkServers {
  readonly webhook: WebhookServer;
  readonly scc: SccServer;
  readonly slack: SlackServer;
  readonly pagerduty: PagerDutyServer;
}
export type StackSink = keyof SinkServers;

export interface StackOptions<S extends StackSink = 'webhook'> {
  readonly name: string;
  /** One notify deployment per sink, in this order (default: the webhook only). The config needs `sinks.<name>`. */
  readonly sinks?: readonly S[];
  readonly config?: object;
  /** Subscription settings: Pub/Sub moves a message to the dead-letter topic after this many failed pushes. */
  readonly maxDeliveryAttempts?: number;
  readonly backoffSeconds?: number;
  /**
   * Read and acknowledge every dead letter into `deadLetters` (default). False leaves them in their holds, for a test
   * that runs `runwatch redrive` on them.
   */
  readonly readDeadLetters?: boolean;
  /** Wrap a function, e.g. to force a redelivery after the real work was done. */
  readonly wrapDetect?: (detect: DetectFunction) => Handler;
  readonly wrapNotify?: (notify: NotifyFunction, sink: S) => Handler;
}

export interface DeadLetter {
  readonly data: Buffer;
  readonly attributes: Readonly<Record<string, string>>;
}

/** What a notify function observed, and which sink's deployment it was. */
export type SinkObservation<S extends StackSink = StackSink> = NotifyObservation & { readonly sink: S };

/** A stack, with the server of each of its sinks as a property of that name (`stack.webhook`, `stack.slack`, ...). */
export type Stack<S extends StackSink = 'webhook'> = StackBase<S> & Pick<SinkServers, S>;

export interface StackBase<S extends StackSink> {
  readonly projectId: string;
  readonly topology: Topology;
  readonly pubsub: PubSub;
  readonly detect: DetectFunction;
  /** The notify function of each sink. */
  readonly notifiers: Readonly<Record<S, NotifyFunction>>;
  /** The notify function of the first sink. */
  readonly notify: NotifyFunction;
  readonly detectUrl: string;
  readonly detected: DetectObservation[];
  readonly notified: SinkObservation<S>[];
  readonly deadLetters: DeadLetter[];
  readonly logs: LogRecord[];
  /** Publishes to the audit topic the way the log sink does (JSON data, the entry timestamp attribute). */
  publishAudit(entry: unknown, attributes?: Readonly<Record<string, string>>): Promise<string>;
  publishAuditRaw(data: Buffer, attributes?: Readonly<Record<string, string>>): Promise<string>;
  /** Publishes Cloud Scheduler's `{"runwatch":"sweep"}` and waits until detect has done it. */
  sweep(): Promise<void>;
  /** Finding ids the webhook receiver accepted (a valid signature), in arrival order. Needs the webhook sink. */
  receivedFindingIds(requests?: readonly ReceivedRequest[]): string[];
  close(): Promise<void>;
}

let registered = 0;

export async function startStack<S extends StackSink = 'webhook'>(emu: AvailableEmulators, options: StackOptions<S>): Promise<Stack<S>> {
  const projectId = `demo-${options.name}-${randomUUID().slice(0, 6)}`;
  const names = topologyNames();
  const sinks: readonly StackSink[] = options.sinks ?? ['webhook'];
  if (sinks.length === 0 || new Set(sinks).size !== sinks.length) throw new Error(`sinks must be distinct and not empty: ${sinks.join(', ')}`);
  const closers: (() => Promise<unknown>)[] = [];
  const close = async (): Promise<void> => {
    for (const closer of closers.reverse()) await closer().catch(() => undefined);
  };
  try {
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-it-'));
    closers.push(async () => rmSync(dir, { recursive: true, force: true }));
    const configPath = join(dir, 'runwatch.json');
    writeFileSync(configPath, JSON.stringify(options.config ?? TEST_CONFIG));

    const logs: LogRecord[] = [];
    const log = (record: LogRecord): void => {
      logs.push(record);
    };
    // Only what the design says the deployed functions get: everything else comes from the defaults.
    const env = {
      ...emu.env,
      GOOGLE_CLOUD_PROJECT: projectId,
      RUNWATCH_CONFIG: configPath,
      FINDINGS_TOPIC: names.findingsTopic,
      DEAD_LETTER_TOPIC: `projects/${projectId}/topics/${names.deadLetterTopic}`, // detect's; notify's below
    };
    const detected: DetectObservation[] = [];
    const notified: SinkObservation<S>[] = [];
    const detect = createDetectFunction({ env, log, observe: (o) => detected.push(o) });
    closers.push(() => detect.close());
    const detectServer = await serve(`detect_${options.name}_${++registered}`, options.wrapDetect ? options.wrapDetect(detect) : detect);
    closers.push(() => detectServer.close());

    // Per sink: its server, then a notify deployment with that sink's environment, behind its own framework server.
    const servers: Partial<Record<StackSink, SinkServers[StackSink]>> = {};
    const notifiers: Partial<Record<StackSink, NotifyFunction>> = {};
    const notifyUrls: Record<string, string> = {};
    for (const sink of sinks as readonly S[]) {
      const { server, env: sinkEnv } = await startSinkServer(sink);
      closers.push(() => server.close());
      servers[sink] = server;
      const notifyEnv = {
        ...env,
        DEAD_LETTER_TOPIC: `projects/${projectId}/topics/${names.findingsDeadLetterTopic(sink)}`, // its own sink's
        DELIVERY_DATABASE: names.deliveryDatabase, // notify's records apart from detect's (default), as Terraform sets it
        RUNWATCH_SINK: sink,
        ...sinkEnv,
      };
      const notify = createNotifyFunction({ env: notifyEnv, log, observe: (o) => notified.push({ ...o, sink }) });
      closers.push(() => notify.close());
      notifiers[sink] = notify;
      const notifyServer = await serve(`notify_${sink}_${options.name}_${++registered}`, options.wrapNotify ? options.wrapNotify(notify, sink) : notify);
      closers.push(() => notifyServer.close());
      notifyUrls[sink] = notifyServer.url;
    }

    const pubsub = await createPubSub(projectId);
    closers.push(() => pubsub.close());
    const backoff = options.backoffSeconds ?? 1;
    const topology = await ensureTopology(pubsub, {
      projectId,
      detectUrl: detectServer.url,
      notifyUrls,
      maxDeliveryAttempts: options.maxDeliveryAttempts ?? 5,
      minimumBackoffSeconds: backoff,
      maximumBackoffSeconds: backoff,
      ackDeadlineSeconds: 30,
    });
    // Deleted first thing on close: the emulator must stop pushing to servers that are about to go away.
    closers.push(async () => {
      await Promise.allSettled([topology.subscriptions.detect, ...Object.values(topology.subscriptions.notify)].map((s) => pubsub.subscription(s).delete()));
    });

    // Both sides' dead letters (audit: detect's; findings: each sink's), in the order they arrive.
    const deadLetters: DeadLetter[] = [];
    const holds = options.readDeadLetters === false ? [] : [topology.subscriptions.deadLetter!, ...Object.values(topology.subscriptions.findingsDeadLetter!)];
    for (const name of holds) {
      const hold: Subscription = pubsub.subscription(name, { flowControl: { maxMessages: 2_000 } });
      hold.on('message', (message: Message) => {
        deadLetters.push({ data: message.data, attributes: { ...message.attributes } });
        message.ack();
      });
      hold.on('error', (error) => logs.push({ severity: 'ERROR', message: `dead-letter subscriber: ${String(error)}` }));
      closers.push(() => hold.close());
    }

    const audit = pubsub.topic(topology.topics.audit, { batching: { maxMessages: 100, maxMilliseconds: 5 } });
    const publishAuditRaw = (data: Buffer, attributes: Readonly<Record<string, string>> = {}): Promise<string> =>
      audit.publishMessage({ data, attributes: { ...attributes } });

    const webhook = servers.webhook as WebhookServer | undefined;
    const stack: StackBase<S> = {
      projectId,
      topology,
      pubsub,
      detect,
      notifiers: notifiers as Record<S, NotifyFunction>,
      notify: notifiers[sinks[0]!]!,
      detectUrl: detectServer.url,
      detected,
      notified,
      deadLetters,
      logs,
      publishAudit: (entry, attributes = {}) => {
        const timestamp = (entry as { timestamp?: unknown }).timestamp;
        return publishAuditRaw(Buffer.from(JSON.stringify(entry)), {
          ...(typeof timestamp === 'string' ? { 'logging.googleapis.com/timestamp': timestamp } : {}),
          ...attributes,
        });
      },
      publishAuditRaw,
      sweep: async () => {
        const id = await publishAuditRaw(Buffer.from(JSON.stringify({ runwatch: 'sweep' })), { runwatch: 'sweep' });
        await waitFor('the sweep', () => detected.some((o) => o.outcome === 'sweep' && o.messageId === id));
      },
      receivedFindingIds: (requests) => {
        if (!webhook) throw new Error('this stack has no webhook sink');
        return (requests ?? webhook.requests).filter((r) => webhook.verify(r)).map((r) => String(r.headers['x-runwatch-finding-id']));
      },
      close,
    };
    return Object.assign(stack, servers as Pick<SinkServers, S>);
  } catch (error) {
    await close();
    throw error;
  }
}

/** A sink's local server and the environment its notify deployment gets (the variables Terraform sets). */
async function startSinkServer(sink: StackSink): Promise<{ server: SinkServers[StackSink]; env: Record<string, string> }> {
  switch (sink) {
    case 'webhook': {
      const secret = `secret-${randomUUID()}`;
      const server = await startWebhookServer(secret);
      return { server, env: { WEBHOOK_URL: server.url, WEBHOOK_SECRET: secret } };
    }
    case 'scc': {
      const server = await startSccServer();
      return { server, env: { SCC_SOURCE: SCC_TEST_SOURCE, SCC_API_ENDPOINT: server.endpoint } };
    }
    case 'slack': {
      const server = await startSlackServer();
      return { server, env: { SLACK_BOT_TOKEN: SLACK_TEST_TOKEN, SLACK_API_URL: server.apiUrl } };
    }
    case 'pagerduty': {
      const server = await startPagerDutyServer();
      return { server, env: { PAGERDUTY_ROUTING_KEY: PAGERDUTY_TEST_ROUTING_KEY, PAGERDUTY_EVENTS_URL: server.eventsUrl } };
    }
  }
}

/** The real framework server for a handler, on 127.0.0.1. */
async function serve(name: string, handler: Handler): Promise<{ url: string; close(): Promise<void> }> {
  cloudEvent<unknown>(name, handler);
  const server: Server = getTestServer(name);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Polls `condition` until it holds; the error names what was awaited and what was seen. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000, describe?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe ? `: ${describe()}` : ''}`);
    await sleep(50);
  }
}

/** Waits until `size()` has not changed for `quietMs`: redeliveries (1 s apart in these tests) have settled. `what`: named when it does not. */
export async function settle(size: () => number, quietMs = 2_500, timeoutMs = 30_000, what?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = size();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) throw new Error(`still busy after ${timeoutMs} ms${what ? ` waiting for ${what} to settle` : ''}`);
    await sleep(100);
    const now = size();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function countBy<T>(items: readonly T[], key: (item: T) => string = String): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

// ---- fixtures ----------------------------------------------------------------------------------------------------

export interface Fixture {
  readonly name: string;
  readonly entry: unknown;
}

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** Every real corpus entry (test/fixtures/corpus) and then the synthetic pipeline entries, in file-name order. */
export function fixtures(): Fixture[] {
  const out: Fixture[] = [];
  for (const dir of ['corpus', 'pipeline']) {
    for (const file of readdirSync(join(FIXTURES, dir)).filter((f) => f.endsWith('.json')).sort()) {
      out.push({ name: `${dir}/${file}`, entry: JSON.parse(readFileSync(join(FIXTURES, dir, file), 'utf8')) as unknown });
    }
  }
  return out;
}

/**
 * What the in-process pipeline (replay's core) raises for these entries in this order, followed by a sweep (what
 * the live pipeline gets from Cloud Scheduler: rollouts whose other half never came are evaluated).
 */
export async function expectedFindings(entries: readonly unknown[], rawConfig: object = TEST_CONFIG): Promise<Finding[]> {
  const pipeline = new Pipeline({ config: validateConfig(rawConfig, 'test'), store: new MemoryBaselineStore() });
  const findings: Finding[] = [];
  for (const entry of entries) {
    const outcome = await pipeline.handleEntry(entry, Date.now());
    if (outcome.status === 'processed') findings.push(...outcome.findings);
  }
  findings.push(...(await pipeline.sweep(Date.now())));
  return findings;
}

/** The in-process outcome of each entry (no duplicate window: every entry is judged on its own). */
export async function outcomesOf(entries: readonly unknown[], rawConfig: object = TEST_CONFIG): Promise<EntryOutcome[]> {
  const pipeline = new Pipeline({ config: validateConfig(rawConfig, 'test'), store: new MemoryBaselineStore(), recentKeys: 0 });
  const outcomes: EntryOutcome[] = [];
  for (const entry of entries) outcomes.push(await pipeline.handleEntry(entry, Date.now()));
  return outcomes;
}

/**
 * functions-framework prints the stack of every error a handler throws (console.error). Tests that make
 * handlers fail on purpose hide those messages, and only those; anything else still shows. Returns the undo.
 */
export function hideExpectedErrors(expected: RegExp): () => void {
  const original = console.error;
  console.error = (...args: unknown[]): void => {
    const text = args.map((a) => (a instanceof Error ? (a.stack ?? a.message) : String(a))).join(' ');
    if (!expected.test(text)) original(...args);
  };
  return () => {
    console.error = original;
  };
}
