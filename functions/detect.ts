// The `detect` function: one Pub/Sub message from the audit topic in, findings out on the findings topic.
//
//   decode (binary / structured CloudEvent or a plain push body) -> Pipeline.handleEntry (the same core as replay,
//   Firestore baseline) -> publish every finding and wait for Pub/Sub to have them -> return (2xx = ack).
//
// Failure handling, message by message:
// - transient (Firestore, Pub/Sub, anything thrown): the handler throws -> HTTP 500 -> Pub/Sub redelivers with
//   backoff, and after the subscription's max delivery attempts moves the message to the dead-letter topic;
// - can never succeed (not base64, not JSON, not an object, not a LogEntry; findings or a baseline the store can
//   never hold, stage `store`): published to DEAD_LETTER_TOPIC with a `reason` attribute and the original data,
//   then acked;
// - skipped (not a Cloud Run change, a failed call, ...): acked with a log line saying why, and counted.
// Every message that decodes as a LogEntry gets exactly one log line with `entryOutcome` (processed, skipped,
// duplicate, dead-lettered, failed), whatever its severity; the sweep's lines and a message that is no LogEntry get
// none. The Terraform module counts these lines (a log-based metric) to tell when the log sink has gone quiet: the
// only such signal for an organization or folder sink, whose export metrics are written in no project.
// Duplicates: once this instance has handled an entry to the end (findings published), further copies are
// acknowledged without processing, as replay skips a repeated entry; copies in flight wait for the first. An
// attempt that failed half-way is processed again on redelivery, relying on the core to treat an entry it has
// already folded into the baseline as a no-op. Finding ids are deterministic, and `notify` delivers each once.
//
// Start-up: the config (RUNWATCH_CONFIG) and the environment are checked once per instance; when anything is
// wrong every problem is logged as `path: reason` and every invocation fails, so nothing is acked unprocessed.
// Heavy clients (Pub/Sub, Firestore) are imported by the first invocation that needs them; the Cloud Run Admin
// API fallback (correlation.adminApiFallback, off by default) only when it is enabled, its client by its first read.
import type { CloudEvent } from '@google-cloud/functions-framework';
import { UnstorableError, type BaselineStore } from './baseline/store.js';
import type { RevisionReader } from './correlate/adminApi.js';
import type { RunwatchConfig } from './config/types.js';
import type { Finding } from './findings/finding.js';
import { exceptionPath, type HeldBack } from './engine.js';
import { readEnvelope, type EnvelopeResult } from './audit/entry.js';
import { normalizeOptionsOf, type EnvSecrets, type ParseResult } from './audit/normalize.js';
import { GRPC_STATUS, grpcCode } from './grpcEndpoint.js';
import { entryKeyString, Pipeline, type EntryOutcome } from './pipeline.js';
import { decodeAuditEvent, type Attributes, type AuditMessage } from './pubsub/decode.js';
import { findingAttributes, parseTopic, publishDeadLetter, PubSubPublisher, type MessagePublisher } from './pubsub/publisher.js';
import {
  Counters,
  errorMessage,
  loadFunctionConfig,
  logStartupError,
  openBaselineStore,
  projectProblems,
  startOnce,
  stateBackend,
  StartupError,
  stdoutLog,
  type Env,
  type LogSink,
} from './runtime.js';

export const ADMIN_API_PERMISSION_HINT =
  'The detect identity needs roles/run.viewer where the log sink watches (the Terraform module grants it with admin_api_fallback = true), or turn correlation.adminApiFallback off';

export interface DetectOptions {
  /**
   * The environment (RUNWATCH_CONFIG, FINDINGS_TOPIC, DEAD_LETTER_TOPIC, GOOGLE_CLOUD_PROJECT, emulator hosts,
   * RUN_API_ENDPOINT for the Admin API fallback).
   */
  readonly env: Env;
  /** A validated config; RUNWATCH_CONFIG is then not read. */
  readonly config?: RunwatchConfig;
  /** The baseline store; otherwise chosen from the environment (Firestore or memory). Not closed by close(). */
  readonly store?: BaselineStore;
  /** Where findings and dead letters go; otherwise a Pub/Sub client. Not closed by close(). */
  readonly publisher?: MessagePublisher;
  readonly log?: LogSink;
  /** Wall clock, epoch ms. */
  readonly now?: () => number;
  /** Called once per message with what happened to it (tests, metrics). Must not throw. */
  readonly observe?: (observation: DetectObservation) => void;
  /** How many recently handled entry keys this instance remembers to acknowledge duplicates at once. */
  readonly handledEntries?: number;
}

export type DetectObservation =
  | { readonly outcome: 'processed'; readonly messageId: string | undefined; readonly findings: readonly Finding[] }
  | { readonly outcome: 'sweep'; readonly messageId: string | undefined; readonly findings: readonly Finding[] }
  | { readonly outcome: 'duplicate'; readonly messageId: string | undefined }
  | { readonly outcome: 'skipped'; readonly messageId: string | undefined; readonly reason: string }
  | { readonly outcome: 'dead-lettered'; readonly messageId: string | undefined; readonly reason: string }
  | { readonly outcome: 'failed'; readonly messageId: string | undefined; readonly error: string };

/**
 * What became of an audit entry detect received, on the one log line it writes for it (`entryOutcome`). The log-based
 * metric of the Terraform module (monitoring.tf, entries_received) selects these values: a new one must be added there.
 */
export type EntryOutcomeField = 'processed' | 'skipped' | 'duplicate' | 'dead-lettered' | 'failed';

export interface DetectFunction {
  (event: CloudEvent<unknown>): Promise<void>;
  /** Per-instance counters (received, findings, skipped.<reason>, dead-lettered, failed, ...). */
  counts(): Readonly<Record<string, number>>;
  /** Flushes and closes the clients this function created. */
  close(): Promise<void>;
}

interface Ready {
  readonly pipeline: Pipeline;
  readonly publisher: MessagePublisher;
  readonly findingsTopic: string;
  readonly deadLetterTopic: string;
  readonly ownedStore?: BaselineStore;
  readonly ownedPublisher?: MessagePublisher;
  /** The Admin API fallback, when correlation.adminApiFallback is enabled. */
  readonly revisionReader?: RevisionReader;
}

export function createDetectFunction(options: DetectOptions): DetectFunction {
  const env = options.env;
  const log = options.log ?? stdoutLog;
  const now = options.now ?? Date.now;
  const counts = new Counters();
  const observe = (observation: DetectObservation): void => {
    try {
      options.observe?.(observation);
    } catch {
      // an observer must never change what happens to a message
    }
  };

  let started: Ready | undefined;
  const handled = new HandledEntries(options.handledEntries ?? 50_000);
  const start = startOnce(async (): Promise<Ready> => {
    const findings = parseTopic(env['FINDINGS_TOPIC']);
    const deadLetter = parseTopic(env['DEAD_LETTER_TOPIC']);
    const loaded = options.config ? { config: options.config, problems: [] } : await loadFunctionConfig(env);
    const fallback = loaded.config?.correlation.adminApiFallback.enabled ? await adminApiReader(env, normalizeOptionsOf(loaded.config)) : undefined;
    const problems = [
      ...projectProblems(env),
      ...(findings.ok ? [] : [{ path: 'env.FINDINGS_TOPIC', reason: findings.reason }]),
      ...(deadLetter.ok ? [] : [{ path: 'env.DEAD_LETTER_TOPIC', reason: deadLetter.reason }]),
      ...loaded.problems,
      ...(fallback && !fallback.ok ? [{ path: 'env.RUN_API_ENDPOINT', reason: fallback.reason }] : []),
    ];
    if (problems.length > 0 || !loaded.config || !findings.ok || !deadLetter.ok) {
      const error = new StartupError('detect', problems);
      logStartupError(log, error);
      throw error;
    }
    const backend = stateBackend(env);
    const ownedStore = options.store ? undefined : await openBaselineStore(backend);
    const store = options.store ?? ownedStore!;
    const ownedPublisher = options.publisher ? undefined : new PubSubPublisher(env['GOOGLE_CLOUD_PROJECT'] ? { projectId: env['GOOGLE_CLOUD_PROJECT'] } : {});
    const publisher = options.publisher ?? ownedPublisher!;
    // The pipeline's own duplicate window is off (recentKeys: 0): HandledEntries (below) does that job here and also
    // knows which entries are still in flight. Entries the baseline already applied are duplicates either way.
    const revisionReader = fallback?.ok ? fallback.reader : undefined;
    // What a rule exception held back is on record (who used a standing waiver, and for what), never published.
    // With the exception's stated reason, when it has one: why the waiver stands, as the config said then.
    const { rules } = loaded.config;
    const onHeldBack = ({ rule, exception, finding }: HeldBack): void => {
      const heldBackBy = exceptionPath(rule, exception);
      const exceptionReason = rules[rule].exceptions[exception]?.reason;
      log({
        severity: 'NOTICE',
        message: `finding held back by ${heldBackBy}`,
        component: 'detect',
        rule,
        heldBackBy,
        ...(exceptionReason !== undefined ? { exceptionReason } : {}),
        findingId: finding.id,
        principal: finding.principal,
        project: finding.project,
        service: finding.service,
        eventTime: finding.eventTime,
      });
    };
    const pipeline = new Pipeline({ config: loaded.config, store, recentKeys: 0, onHeldBack, ...(revisionReader ? { revisionReader } : {}) });
    log({
      severity: backend.kind === 'memory' && !options.store ? 'WARNING' : 'NOTICE',
      message: `runwatch detect ready: findings -> ${findings.name}, dead letters -> ${deadLetter.name}, baseline in ${options.store ? 'the injected store' : backend.kind}`,
      component: 'detect',
      baselineStore: options.store ? 'injected' : backend.kind,
      baselineStoreReason: options.store ? 'injected' : backend.reason,
      rulesEnabled: Object.entries(loaded.config.rules).filter(([, s]) => (s as { enabled: boolean }).enabled).map(([id]) => id),
      adminApiFallback: revisionReader ? `after ${loaded.config.correlation.adminApiFallback.afterSeconds}s${env['RUN_API_ENDPOINT'] ? ` via ${env['RUN_API_ENDPOINT']}` : ''}` : 'off',
    });
    started = {
      pipeline,
      publisher,
      findingsTopic: findings.name,
      deadLetterTopic: deadLetter.name,
      ...(ownedStore ? { ownedStore } : {}),
      ...(ownedPublisher ? { ownedPublisher } : {}),
      ...(revisionReader ? { revisionReader } : {}),
    };
    return started;
  });

  async function ready(): Promise<Ready> {
    try {
      return await start();
    } catch (error) {
      counts.add('refused');
      log({ severity: 'ERROR', message: `runwatch detect cannot process messages: ${errorMessage(error)}`, component: 'detect', counts: counts.snapshot() });
      throw error;
    }
  }

  async function publishFindings(r: Ready, findings: readonly Finding[], messageId: string | undefined): Promise<void> {
    // Wait for every publish (not just the first failure) so nothing is still in flight when we answer.
    const results = await Promise.allSettled(
      findings.map((f) =>
        r.publisher.publish(r.findingsTopic, Buffer.from(JSON.stringify(f), 'utf8'), findingAttributes(f)),
      ),
    );
    const failed = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
    counts.add('findings.published', results.length - failed.length);
    if (failed.length > 0) {
      counts.add('findings.publishFailed', failed.length);
      throw new Error(`could not publish ${failed.length} of ${findings.length} finding(s) for message ${messageId ?? '?'}: ${errorMessage(failed[0]!.reason)}`);
    }
  }

  async function deadLetter(r: Ready, data: Buffer, attributes: Attributes, messageId: string | undefined, stage: 'decode' | 'parse' | 'store', reason: string): Promise<void> {
    await publishDeadLetter(r.publisher, r.deadLetterTopic, { data, attributes, reason, stage, function: 'detect', messageId });
    counts.add('deadLettered');
    counts.add(`deadLettered.${stage}`);
    // A message that does not decode as a LogEntry (stage decode) is not one the log sink published: no entryOutcome.
    const entryOutcome: EntryOutcomeField | undefined = stage === 'decode' ? undefined : 'dead-lettered';
    log({ severity: 'WARNING', message: `message dead-lettered: ${reason}`, component: 'detect', messageId, stage, reason, ...(entryOutcome ? { entryOutcome } : {}), counts: counts.snapshot() });
    observe({ outcome: 'dead-lettered', messageId, reason });
  }

  /** A copy of an entry already handled (by this instance, or folded into the baseline): counted, acked. */
  function acknowledgeDuplicate(messageId: string | undefined, message: string): void {
    counts.add('duplicates');
    log({ severity: 'DEBUG', message, component: 'detect', messageId, entryOutcome: 'duplicate' satisfies EntryOutcomeField, counts: counts.snapshot() });
    observe({ outcome: 'duplicate', messageId });
  }

  async function handle(r: Ready, decoded: AuditMessage): Promise<void> {
    const nowMs = now();
    switch (decoded.kind) {
      case 'invalid':
        counts.add('invalid');
        return deadLetter(r, decoded.data, decoded.attributes, decoded.messageId, 'decode', decoded.reason);
      case 'sweep': {
        counts.add('sweeps');
        // Cloud Scheduler's tick: rollouts whose other half (admin write or system event) did not come within
        // correlation.waitSeconds are evaluated with what is known.
        // Published inside each service's transaction: a failed publish leaves that rollout waiting for the next tick.
        const publish = (f: readonly Finding[]): Promise<void> => publishFindings(r, f, decoded.messageId);
        // First the Admin API fallback (when enabled) for writes still without system events, so a rollout it
        // completes is not first completed by the wait with its image unknown.
        // A store or publish failure in one pass (one service's) does not skip the other: both run, then the first
        // failure is thrown and the tick retried.
        let failure: { error: unknown } | undefined;
        const attempt = async (pass: () => Promise<readonly Finding[]>): Promise<readonly Finding[]> => {
          try {
            return await pass();
          } catch (error) {
            failure ??= { error };
            return [];
          }
        };
        const fromApi = r.revisionReader ? await attempt(() => readFromAdminApi(r, nowMs, publish, decoded.messageId)) : [];
        const findings = [...fromApi, ...(await attempt(() => r.pipeline.sweep(nowMs, publish)))];
        if (failure) throw failure.error;
        counts.add('findings', findings.length);
        log({ severity: 'INFO', message: `sweep done: ${findings.length} finding(s)`, component: 'detect', messageId: decoded.messageId, findingIds: findings.map((f) => f.id), counts: counts.snapshot() });
        observe({ outcome: 'sweep', messageId: decoded.messageId, findings });
        return;
      }
      case 'entry': {
        // The envelope is read once: its identity keys the duplicate check, then the pipeline normalizes it.
        const envelope = readEnvelope(decoded.entry);
        const key = envelope.ok ? entryKeyString(envelope.envelope.key) : undefined;
        const done = key !== undefined ? await handled.begin(key) : undefined;
        if (done === 'handled') return acknowledgeDuplicate(decoded.messageId, 'duplicate entry acknowledged (already handled by this instance)');
        try {
          await handleEntry(r, decoded, envelope, nowMs);
          done?.(true);
        } catch (error) {
          done?.(false);
          throw error;
        }
        return;
      }
    }
  }

  /**
   * One Admin API pass: failed calls are counted and logged, never thrown (their rollouts keep waiting). A denied
   * read says what grants it: the config turns the fallback on, the deployment grants the role, and the two are set
   * apart (the function cannot see its own roles).
   */
  async function readFromAdminApi(r: Ready, nowMs: number, publish: (f: readonly Finding[]) => Promise<void>, messageId: string | undefined): Promise<readonly Finding[]> {
    const pass = await r.pipeline.readFromAdminApi(nowMs, publish);
    for (const [name, n] of [['read', pass.read], ['joined', pass.joined], ['unmatched', pass.unmatched], ['failed', pass.failures.length]] as const) {
      if (n > 0) counts.add(`adminApi.${name}`, n);
    }
    for (const failure of pass.failures) {
      const code = grpcCode(failure.error);
      log({
        severity: 'WARNING',
        message: `Cloud Run Admin API read failed for ${failure.key}; the rollout waits for its system events or correlation.waitSeconds: ${errorMessage(failure.error)}${code === GRPC_STATUS.PERMISSION_DENIED ? `. ${ADMIN_API_PERMISSION_HINT}` : ''}`,
        component: 'detect',
        messageId,
        service: failure.key,
        ...(code !== undefined ? { grpcCode: code } : {}),
        counts: counts.snapshot(),
      });
    }
    return pass.findings;
  }

  async function handleEntry(r: Ready, decoded: Extract<AuditMessage, { kind: 'entry' }>, envelope: EnvelopeResult, nowMs: number): Promise<void> {
    // Findings are published inside the store transaction that records them: a failed publish aborts it, so the
    // redelivered message applies the entry again and raises the same findings (same ids) instead of losing them.
    // Normalization is pure: an entry it cannot get through (one nested deeper than the call stack allows) fails
    // the same way on every delivery, so it is dead-lettered with the reason instead of retried until Pub/Sub gives up.
    let parsed: ParseResult | EntryOutcome;
    try {
      parsed = envelope.ok ? r.pipeline.normalize(envelope.envelope) : { status: 'malformed', reason: envelope.reason };
    } catch (error) {
      parsed = { status: 'malformed', reason: `entry cannot be normalized: ${errorMessage(error)}` };
    }
    // What the store can never hold (a finding made huge by its entry: a document over Firestore's 1 MiB) fails the
    // same way on every delivery too: dead-lettered with the reason, nothing of it stored, other entries unaffected.
    let outcome: EntryOutcome;
    try {
      outcome = 'status' in parsed ? parsed : await r.pipeline.handleParsed(parsed, nowMs, (f) => publishFindings(r, f, decoded.messageId));
    } catch (error) {
      if (!(error instanceof UnstorableError)) throw error;
      counts.add('unstorable');
      return deadLetter(r, decoded.data, decoded.attributes, decoded.messageId, 'store', error.message);
    }
    switch (outcome.status) {
      case 'processed':
        counts.add('processed');
        counts.add('findings', outcome.findings.length);
        log({
          severity: outcome.findings.length > 0 ? 'NOTICE' : 'DEBUG',
          message: `entry processed: ${outcome.findings.length} finding(s) (${outcome.note})`,
          component: 'detect',
          messageId: decoded.messageId,
          entryOutcome: 'processed' satisfies EntryOutcomeField,
          note: outcome.note,
          findings: outcome.findings.map((f) => ({ id: f.id, rule: f.rule, severity: f.severity, service: `${f.project}/${f.service}`, ...(f.resourceType ? { resourceType: f.resourceType } : {}) })),
          counts: counts.snapshot(),
        });
        observe({ outcome: 'processed', messageId: decoded.messageId, findings: outcome.findings });
        return;
      case 'duplicate':
        return acknowledgeDuplicate(decoded.messageId, 'duplicate entry acknowledged');
      case 'skipped':
        counts.add('skipped');
        counts.add(`skipped.${outcome.reason}`);
        log({
          severity: 'INFO',
          message: `entry skipped: ${outcome.reason}${outcome.detail ? ` (${outcome.detail})` : ''}`,
          component: 'detect',
          messageId: decoded.messageId,
          entryOutcome: 'skipped' satisfies EntryOutcomeField,
          reason: outcome.reason,
          ...(outcome.detail ? { detail: outcome.detail } : {}),
          counts: counts.snapshot(),
        });
        observe({ outcome: 'skipped', messageId: decoded.messageId, reason: outcome.reason });
        return;
      case 'malformed':
        counts.add('malformed');
        return deadLetter(r, decoded.data, decoded.attributes, decoded.messageId, 'parse', outcome.reason);
    }
  }

  const detect = async (event: CloudEvent<unknown>): Promise<void> => {
    const r = await ready();
    counts.add('received');
    const decoded = decodeAuditEvent(event);
    try {
      await handle(r, decoded);
    } catch (error) {
      counts.add('failed');
      const messageId = decoded.messageId;
      // An entry counts as received even when it failed (the sink delivered it; detect_errors reports the failure); a
      // failed sweep is no entry.
      const entryOutcome: EntryOutcomeField | undefined = decoded.kind === 'entry' ? 'failed' : undefined;
      log({ severity: 'ERROR', message: `message not processed, Pub/Sub will redeliver it: ${errorMessage(error)}`, component: 'detect', messageId, ...(entryOutcome ? { entryOutcome } : {}), counts: counts.snapshot() });
      observe({ outcome: 'failed', messageId, error: errorMessage(error) });
      throw error;
    }
  };

  return Object.assign(detect, {
    counts: () => counts.snapshot(),
    async close(): Promise<void> {
      const r = started;
      started = undefined;
      if (r) await Promise.all([r.ownedPublisher?.close(), r.ownedStore?.close(), r.revisionReader?.close()]);
    },
  });
}

/** The Admin API fallback's reader; the module (and later `@google-cloud/run`) is imported only when it is enabled. */
async function adminApiReader(env: Env, secrets: EnvSecrets): Promise<{ ok: true; reader: RevisionReader } | { ok: false; reason: string }> {
  const { AdminApiRevisionReader, parseRunEndpoint } = await import('./correlate/adminApi.js');
  const value = env['RUN_API_ENDPOINT'];
  if (!value) return { ok: true, reader: new AdminApiRevisionReader({ secrets }) };
  try {
    return { ok: true, reader: new AdminApiRevisionReader({ endpoint: parseRunEndpoint(value), secrets }) };
  } catch (error) {
    return { ok: false, reason: errorMessage(error) };
  }
}

/**
 * Entries this instance has handled to the end (findings published), so a duplicate is acknowledged without
 * processing it again, the way replay skips a repeated entry. Unlike the pipeline's own duplicate window, a key
 * counts only once its findings are out: an attempt that failed half-way (Firestore updated, Pub/Sub down) is
 * processed again on redelivery. Copies that arrive while the first is in flight wait for its outcome.
 */
class HandledEntries {
  private readonly done = new Set<string>();
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(private readonly limit: number) {}

  /**
   * 'handled' when the entry is done (or a copy in flight finishes it meanwhile); otherwise this copy now holds
   * the key and must settle it: true once handled, false when it failed (the next copy then tries again).
   */
  async begin(key: string): Promise<'handled' | ((handledOk: boolean) => void)> {
    for (;;) {
      if (this.done.has(key)) return 'handled';
      const pending = this.inFlight.get(key);
      if (!pending) break;
      if (await pending) return 'handled';
      // The copy in flight failed: check again, another waiter may have taken the key first.
    }
    // Checked and taken in one synchronous step: no other copy can slip in between.
    let settle!: (ok: boolean) => void;
    const mine = new Promise<boolean>((resolve) => (settle = resolve));
    this.inFlight.set(key, mine);
    return (ok) => {
      if (this.inFlight.get(key) === mine) this.inFlight.delete(key);
      if (ok) this.remember(key);
      settle(ok);
    };
  }

  private remember(key: string): void {
    this.done.add(key);
    if (this.done.size > this.limit) {
      const oldest = this.done.values().next().value;
      if (oldest !== undefined) this.done.delete(oldest);
    }
  }
}
