// The `notify` function: one deployment per sink (RUNWATCH_SINK), each fed by its own push subscription to the
// findings topic. For every message:
//
//   decode the finding -> route (sinks.<name>.minSeverity / rules; in code, because the Pub/Sub emulator ignores
//   subscription filters and one code path is simpler to trust) -> deliverOnce (a delivery record per
//   (sink, finding id) in Firestore keeps a redelivered finding from going out twice) -> ack.
//
// The records are in the Firestore database DELIVERY_DATABASE names (Terraform: `<prefix>-deliveries`, the only one
// its account may use: detect's baselines in (default) are out of a compromised notify function's reach); unset, in
// (default), as before the variable existed.
//
// Outcomes: delivered / duplicate / skipped / not routed -> ack (logged, counted); failed and retryable -> throw,
// so the framework answers 500 and Pub/Sub redelivers with backoff; failed and permanent -> logged with the
// reason, counted, published to DEAD_LETTER_TOPIC (so a fixed cause can be replayed) and acked. A message that
// is not a finding at all is dead-lettered the same way. Nothing here knows which sink it serves.
//
// Start-up: the config, RUNWATCH_SINK and the sink's own settings are checked once per instance; anything wrong
// is logged as `path: reason` and every invocation fails.
import type { CloudEvent } from '@google-cloud/functions-framework';
import type { RunwatchConfig, SinkRouting, SinksConfig } from './config/types.js';
import { SEVERITIES, type Finding } from './findings/finding.js';
import { REDRIVE_SINK_ATTRIBUTE } from './pubsub/deadLetter.js';
import { decodeMessage, type Attributes } from './pubsub/decode.js';
import { parseTopic, publishDeadLetter, PubSubPublisher, type MessagePublisher } from './pubsub/publisher.js';
import {
  Counters,
  deliveryDatabase,
  errorMessage,
  loadFunctionConfig,
  logStartupError,
  projectProblems,
  startOnce,
  stateBackend,
  StartupError,
  stdoutLog,
  type Env,
  type LogSink,
} from './runtime.js';
import type { DeliveryRecordStore } from '../sinks/deliveryRecords.js';
import { deliverOnce, type DeliveryOutcome } from '../sinks/deliver.js';
import { routeFinding } from '../sinks/route.js';
import type { Sink } from '../sinks/sink.js';

/** How long one delivery may take, retries included; the function's timeout must be longer (Terraform: 60 s+). */
const DEFAULT_DELIVERY_BUDGET_MS = 45_000;

export interface NotifyOptions {
  /** The environment (RUNWATCH_SINK, RUNWATCH_CONFIG, DEAD_LETTER_TOPIC, DELIVERY_DATABASE, the sink's own variables, emulators). */
  readonly env: Env;
  readonly config?: RunwatchConfig;
  /** The sink to deliver to; otherwise createSink(RUNWATCH_SINK, env, config). */
  readonly sink?: Sink;
  /** Delivery records; otherwise Firestore or memory, chosen from the environment. Not closed by close(). */
  readonly records?: DeliveryRecordStore;
  /** Where dead letters go; otherwise a Pub/Sub client. Not closed by close(). */
  readonly publisher?: MessagePublisher;
  readonly log?: LogSink;
  readonly now?: () => number;
  readonly deliveryBudgetMs?: number;
  /** Called once per message with what happened to it (tests, metrics). Must not throw. */
  readonly observe?: (observation: NotifyObservation) => void;
}

export type NotifyObservation =
  | { readonly outcome: 'delivered' | 'duplicate' | 'skipped' | 'not-routed'; readonly findingId: string; readonly reason?: string }
  | { readonly outcome: 'retry'; readonly findingId: string; readonly reason: string }
  | { readonly outcome: 'dead-lettered'; readonly findingId: string | undefined; readonly reason: string };

export interface NotifyFunction {
  (event: CloudEvent<unknown>): Promise<void>;
  counts(): Readonly<Record<string, number>>;
  close(): Promise<void>;
}

interface Ready {
  readonly sink: Sink;
  readonly routing: SinkRouting | undefined;
  readonly records: DeliveryRecordStore;
  readonly publisher: MessagePublisher;
  readonly deadLetterTopic: string;
  readonly owned: readonly { close(): Promise<void> }[];
}

export function createNotifyFunction(options: NotifyOptions): NotifyFunction {
  const env = options.env;
  const log = options.log ?? stdoutLog;
  const now = options.now ?? Date.now;
  const budgetMs = options.deliveryBudgetMs ?? DEFAULT_DELIVERY_BUDGET_MS;
  const counts = new Counters();
  const observe = (observation: NotifyObservation): void => {
    try {
      options.observe?.(observation);
    } catch {
      // an observer must never change what happens to a message
    }
  };
  let started: Ready | undefined;

  const start = startOnce(async (): Promise<Ready> => {
    const sinkName = env['RUNWATCH_SINK'] ?? options.sink?.name;
    const deadLetter = parseTopic(env['DEAD_LETTER_TOPIC']);
    const recordDatabase = deliveryDatabase(env);
    const loaded = options.config ? { config: options.config, problems: [] } : await loadFunctionConfig(env);
    const problems = [
      ...projectProblems(env),
      ...(sinkName ? [] : [{ path: 'env.RUNWATCH_SINK', reason: 'is required (the sink this notify instance serves)' }]),
      ...(deadLetter.ok ? [] : [{ path: 'env.DEAD_LETTER_TOPIC', reason: deadLetter.reason }]),
      ...(recordDatabase.ok ? [] : [{ path: 'env.DELIVERY_DATABASE', reason: recordDatabase.reason }]),
      ...loaded.problems,
    ];
    let sink = options.sink;
    if (!sink && sinkName && loaded.config) {
      const { createSink, isSinkName, SINK_NAMES, SinkConfigurationError } = await import('../sinks/index.js');
      if (!isSinkName(sinkName)) {
        problems.push({ path: 'env.RUNWATCH_SINK', reason: `unknown sink ${JSON.stringify(sinkName)}; expected one of ${SINK_NAMES.join(', ')}` });
      } else {
        try {
          sink = await createSink(sinkName, env, loaded.config);
        } catch (error) {
          // Named where it is (env.SLACK_API_URL, sinks.slack), else as the sink RUNWATCH_SINK chose.
          const path = error instanceof SinkConfigurationError && error.path ? error.path : 'env.RUNWATCH_SINK';
          problems.push({ path, reason: `cannot create the ${sinkName} sink: ${errorMessage(error)}` });
        }
      }
    }
    if (problems.length > 0 || !sink || !loaded.config || !deadLetter.ok || !recordDatabase.ok) {
      const error = new StartupError(`notify (${sinkName ?? 'no sink'})`, problems);
      logStartupError(log, error);
      throw error;
    }
    const owned: { close(): Promise<void> }[] = [];
    // A sink this instance built holds clients (the SCC gRPC channel) that close with the instance.
    const built = sink;
    if (!options.sink && built.close) owned.push({ close: () => built.close!() });
    const backend = stateBackend(env);
    let records = options.records;
    if (!records) {
      if (backend.kind === 'firestore') {
        const { FirestoreDeliveryRecordStore } = await import('../sinks/firestoreRecords.js');
        const store = new FirestoreDeliveryRecordStore({
          ...(backend.projectId ? { projectId: backend.projectId } : {}),
          ...(recordDatabase.databaseId ? { databaseId: recordDatabase.databaseId } : {}),
        });
        owned.push(store);
        records = store;
      } else {
        const { MemoryDeliveryRecordStore } = await import('../sinks/memoryRecords.js');
        records = new MemoryDeliveryRecordStore();
      }
    }
    let publisher = options.publisher;
    if (!publisher) {
      const created = new PubSubPublisher(env['GOOGLE_CLOUD_PROJECT'] ? { projectId: env['GOOGLE_CLOUD_PROJECT'] } : {});
      owned.push(created);
      publisher = created;
    }
    const routing = (loaded.config.sinks as Readonly<Record<string, SinkRouting | undefined>>)[sink.name as keyof SinksConfig];
    log({
      severity: !options.records && backend.kind === 'memory' ? 'WARNING' : 'NOTICE',
      message: `runwatch notify ready: sink ${sink.name}, records in ${options.records ? 'the injected store' : backend.kind}, dead letters -> ${deadLetter.name}`,
      component: 'notify',
      sink: sink.name,
      recordStore: options.records ? 'injected' : backend.kind,
      // Which Firestore database holds the records (DELIVERY_DATABASE); null when they are not in Firestore.
      recordDatabase: !options.records && backend.kind === 'firestore' ? (recordDatabase.databaseId ?? '(default)') : null,
      recordStoreReason: options.records ? 'injected' : backend.reason,
      routing: routing ?? null,
    });
    started = { sink, routing, records, publisher, deadLetterTopic: deadLetter.name, owned };
    return started;
  });

  async function ready(): Promise<Ready> {
    try {
      return await start();
    } catch (error) {
      counts.add('refused');
      log({ severity: 'ERROR', message: `runwatch notify cannot process messages: ${errorMessage(error)}`, component: 'notify', counts: counts.snapshot() });
      throw error;
    }
  }

  async function deadLetter(r: Ready, data: Buffer, attributes: Attributes, details: { stage: 'decode' | 'deliver'; reason: string; messageId: string | undefined; findingId?: string }): Promise<void> {
    await publishDeadLetter(r.publisher, r.deadLetterTopic, {
      data,
      attributes,
      reason: details.reason,
      stage: details.stage,
      function: 'notify',
      context: { sink: r.sink.name },
      messageId: details.messageId,
    });
    counts.add('deadLettered');
    counts.add(`deadLettered.${details.stage}`);
    observe({ outcome: 'dead-lettered', findingId: details.findingId, reason: details.reason });
  }

  const notify = async (event: CloudEvent<unknown>): Promise<void> => {
    const r = await ready();
    counts.add('received');
    const decoded = decodeMessage(event);
    const base = { component: 'notify', sink: r.sink.name, messageId: decoded.messageId };
    const finding = decoded.kind === 'message' ? asFinding(decoded.json) : undefined;
    // `runwatch redrive` sends a letter of one sink's dead-letter hold back for that sink only: the others ack it
    // unsent (and do not dead-letter it, whatever it is). A sink's own hold is the only place such a letter comes
    // from, so a compromised notify function cannot reach the other sinks through a redrive.
    const redrivenFor = decoded.attributes[REDRIVE_SINK_ATTRIBUTE];
    if (redrivenFor !== undefined && redrivenFor !== r.sink.name) {
      const reason = `redriven for the ${redrivenFor} sink only`;
      counts.add('notRouted');
      log({ severity: 'INFO', message: `message not for this sink: ${reason}`, ...base, reason, counts: counts.snapshot() });
      observe({ outcome: 'not-routed', findingId: typeof finding === 'object' ? finding.id : '', reason });
      return;
    }
    if (decoded.kind === 'invalid' || typeof finding === 'string' || finding === undefined) {
      const reason = decoded.kind === 'invalid' ? decoded.reason : `not a finding: ${finding ?? 'unreadable'}`;
      counts.add('invalid');
      log({ severity: 'ERROR', message: `message is not a finding, dead-lettered: ${reason}`, ...base, reason, counts: counts.snapshot() });
      await deadLetter(r, decoded.data, decoded.attributes, { stage: 'decode', reason, messageId: decoded.messageId });
      return;
    }
    const about = { ...base, findingId: finding.id, rule: finding.rule, findingSeverity: finding.severity };

    const route = routeFinding(finding, r.routing);
    if (!route.deliver) {
      counts.add('notRouted');
      log({ severity: 'INFO', message: `finding not for this sink: ${route.reason}`, ...about, reason: route.reason, counts: counts.snapshot() });
      observe({ outcome: 'not-routed', findingId: finding.id, reason: route.reason });
      return;
    }

    const nowMs = now();
    let outcome: DeliveryOutcome;
    try {
      outcome = await deliverOnce({ sink: r.sink, finding, records: r.records, nowMs, deadlineMs: nowMs + budgetMs });
    } catch (error) {
      // The record store (Firestore) failed while claiming, or releasing after the sink failed: nothing was sent
      // (marking a sent delivery never throws: see deliverOnce). Transient: let Pub/Sub redeliver.
      counts.add('failed');
      log({ severity: 'ERROR', message: `delivery record store failed, nothing sent, Pub/Sub will redeliver: ${errorMessage(error)}`, ...about, counts: counts.snapshot() });
      observe({ outcome: 'retry', findingId: finding.id, reason: errorMessage(error) });
      throw error;
    }
    switch (outcome.status) {
      case 'delivered':
      case 'duplicate':
      case 'skipped':
        counts.add(outcome.status);
        log({
          severity: outcome.status === 'delivered' ? 'NOTICE' : 'INFO',
          message: `finding ${outcome.status}${outcome.reason ? `: ${outcome.reason}` : ''}`,
          ...about,
          ...(outcome.ref !== undefined ? { ref: outcome.ref } : {}),
          counts: counts.snapshot(),
        });
        if (outcome.recordError !== undefined) {
          // Acked all the same: a redelivery would send it again once the claim's lease ran out.
          counts.add('recordFailed');
          log({ severity: 'ERROR', message: `finding sent, but its delivery record could not be marked: ${outcome.recordError}`, ...about, counts: counts.snapshot() });
        }
        observe({ outcome: outcome.status, findingId: finding.id, ...(outcome.reason ? { reason: outcome.reason } : {}) });
        return;
      case 'failed':
        if (outcome.retryable) {
          counts.add('retried');
          log({ severity: 'WARNING', message: `delivery failed, Pub/Sub will redeliver: ${outcome.reason}`, ...about, reason: outcome.reason, counts: counts.snapshot() });
          observe({ outcome: 'retry', findingId: finding.id, reason: outcome.reason });
          throw new Error(`delivery to ${r.sink.name} failed (retryable): ${outcome.reason}`);
        }
        counts.add('failedPermanently');
        log({ severity: 'ERROR', message: `delivery failed permanently, dead-lettered: ${outcome.reason}`, ...about, reason: outcome.reason, counts: counts.snapshot() });
        await deadLetter(r, decoded.data, decoded.attributes, { stage: 'deliver', reason: outcome.reason, messageId: decoded.messageId, findingId: finding.id });
        return;
    }
  };

  return Object.assign(notify, {
    counts: () => counts.snapshot(),
    async close(): Promise<void> {
      const r = started;
      started = undefined;
      if (r) await Promise.all(r.owned.map((o) => o.close()));
    },
  });
}

const FINDING_ID = /^[0-9a-f]{32}$/;

/** The fields routing and delivery rely on; anything else is the sink's business. A string says what is wrong. */
function asFinding(json: Readonly<Record<string, unknown>>): Finding | string {
  if (typeof json['id'] !== 'string' || !FINDING_ID.test(json['id'])) return 'id is not 32 lowercase hex characters';
  for (const field of ['rule', 'title', 'eventTime', 'project', 'service', 'resourceName']) {
    if (typeof json[field] !== 'string' || json[field] === '') return `${field} is missing or not a string`;
  }
  if (!(SEVERITIES as readonly unknown[]).includes(json['severity'])) return `severity ${JSON.stringify(json['severity'])} is not one of ${SEVERITIES.join(', ')}`;
  return json as unknown as Finding;
}
