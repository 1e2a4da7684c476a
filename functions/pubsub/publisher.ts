// Publishing to Pub/Sub behind a two-method interface, so the functions and the CLI can be tested with a fake and
// so the client library (heavy: gRPC, protobufs) is only loaded by the first publish.
import { skipMetadataServerOnEmulator } from '../emulatorCredentials.js';
import { parseGrpcEndpoint, type GrpcEndpoint } from '../grpcEndpoint.js';
import { exec } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { PubSub, Topic } from '@google-cloud/pubsub';
import type { Finding } from '../findings/finding.js';

export interface MessagePublisher {
  /** Resolves with the message id once the service has the message; rejects on failure (the caller retries). */
  publish(topic: string, data: Buffer, attributes: Readonly<Record<string, string>>): Promise<string>;
  close(): Promise<void>;
}

export type TopicRef =
  | { readonly ok: true; /** What the client accepts: a bare id (the client's project) or the full name. */ readonly name: string; readonly id: string; readonly project?: string }
  | { readonly ok: false; readonly reason: string };

const TOPIC_ID = /^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;
const FULL_NAME = /^projects\/([^/]+)\/topics\/([^/]+)$/;
/** A project id (`acme-prod`), or a domain-scoped one (`example.com:acme-prod`). */
const PROJECT_ID = /^(?:[a-z][a-z0-9.-]*[a-z0-9]:)?[a-z](?:[a-z0-9-]*[a-z0-9])?$/;

/** Whether `value` is written as Google writes a project id: what names every topic and document, so nothing stray. */
export function isProjectId(value: string): boolean {
  return PROJECT_ID.test(value);
}

/** Accepts a topic id (`runwatch-findings`) or its full name (`projects/P/topics/T`), as the design says. */
export function parseTopic(value: string | undefined): TopicRef {
  if (value === undefined || value.trim() === '') return { ok: false, reason: 'is required (a topic id or projects/P/topics/T)' };
  const full = FULL_NAME.exec(value);
  const id = full ? full[2]! : value;
  if (!full && value.includes('/')) return { ok: false, reason: `${JSON.stringify(value)} is neither a topic id nor projects/PROJECT/topics/TOPIC` };
  if (!TOPIC_ID.test(id) || id.startsWith('goog')) {
    return { ok: false, reason: `${JSON.stringify(id)} is not a valid topic id (3-255 characters, a letter first, then letters, digits, - _ . ~ + %; not goog*)` };
  }
  // The project part too: one with a space or a newline in it passed here and failed every publish.
  if (full && !isProjectId(full[1]!)) return { ok: false, reason: `${JSON.stringify(full[1])} in ${JSON.stringify(value)} is not a project id` };
  return full ? { ok: true, name: value, id, project: full[1]! } : { ok: true, name: id, id };
}


export interface PubSubPublisherOptions {
  readonly projectId?: string;
  /** Use this client instead of creating one; close() then leaves it open. */
  readonly pubsub?: PubSub;
  /** How long the client may hold a message to batch it with others; small, for latency. */
  readonly maxBatchDelayMs?: number;
  /**
   * How long one publish may take, retries included (the client's default is 60 s, as long as the functions' whole
   * default timeout and ack deadline: a Pub/Sub outage then ran every message past its deadline).
   */
  readonly publishTimeoutMs?: number;
}

/** A publish that has not gone through in this time fails, and the message it came from is retried by Pub/Sub. */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 10_000;

export class PubSubPublisher implements MessagePublisher {
  private client: Promise<PubSub> | undefined;
  private readonly topics = new Map<string, Topic>();
  private readonly ownsClient: boolean;

  constructor(private readonly options: PubSubPublisherOptions = {}) {
    this.ownsClient = options.pubsub === undefined;
    if (options.pubsub) this.client = Promise.resolve(options.pubsub);
  }

  async publish(topic: string, data: Buffer, attributes: Readonly<Record<string, string>>): Promise<string> {
    const pubsub = await this.pubsub();
    let handle = this.topics.get(topic);
    if (!handle) {
      handle = pubsub.topic(topic, {
        batching: { maxMessages: 100, maxMilliseconds: this.options.maxBatchDelayMs ?? 1 },
        // The total time of the call with its retries (google-gax turns it into the retry budget).
        gaxOpts: { timeout: this.options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS },
      });
      this.topics.set(topic, handle);
    }
    // google-gax checks its total timeout only between attempts, and the channel's reconnect backoff to an endpoint
    // that refuses connections grows to many seconds: 1.5 s took up to 13.5 s on a loaded machine. A hard limit at
    // twice the timeout keeps a publish from outliving the message it serves (its ack deadline); the message is
    // then retried, and a publish that still got through meanwhile is harmless (finding ids are deterministic).
    const timeoutMs = this.options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    return withDeadline(handle.publishMessage({ data, attributes: { ...attributes } }), 2 * timeoutMs, topic);
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    const topics = [...this.topics.values()];
    this.topics.clear();
    await Promise.allSettled(topics.map((t) => t.flush()));
    if (client && this.ownsClient) await (await client).close();
  }

  private pubsub(): Promise<PubSub> {
    this.client ??= createPubSub(this.options.projectId).catch((error: unknown) => {
      this.client = undefined;
      throw error;
    });
    return this.client;
  }
}

/** `work`, or a rejection once `ms` have passed without its answer. */
function withDeadline<T>(work: Promise<T>, ms: number, topic: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`publish to ${topic} did not complete within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** Loads the Pub/Sub client library on demand. PUBSUB_EMULATOR_HOST, when set, is honoured by the library. */
export async function createPubSub(projectId?: string): Promise<PubSub> {
  skipMetadataServerOnEmulator('PUBSUB_EMULATOR_HOST');
  const { PubSub } = await import('@google-cloud/pubsub');
  return new PubSub(projectId ? { projectId } : {});
}

/**
 * Resolves once something accepts a TCP connection at the emulator's `host` (PUBSUB_EMULATOR_HOST: `HOST:PORT`,
 * `[IPv6]:PORT`); else fails with a line that says so. Where nothing listens (the emulator not started, or stopped),
 * each publish waited out the client library's 10 s total timeout, and every entry failed under a message of a
 * thousand characters. `host` is read as the client library reads it (@google-cloud/pubsub determineBaseUrl_): a
 * leading `http://` or `https://` and trailing slashes dropped; without a port, 80 after `http://`, else 443
 * (https, or gRPC's default).
 */
export async function emulatorAnswers(host: string): Promise<void> {
  const scheme = /^(https?):\/\//.exec(host)?.[1];
  const hostPort = host.slice(scheme ? scheme.length + 3 : 0).replace(/\/+$/, '');
  let endpoint: GrpcEndpoint;
  try {
    endpoint = parseGrpcEndpoint(hostPort, 'PUBSUB_EMULATOR_HOST'); // 443 when no port is given
  } catch {
    throw new PubSubAccessError(`PUBSUB_EMULATOR_HOST ${JSON.stringify(host)} is not HOST:PORT`);
  }
  const port = scheme === 'http' && !/:\d+$/.test(hostPort) ? 80 : endpoint.port;
  const { tcpConnectProblem } = await import('../tcpAnswer.js');
  const problem = await tcpConnectProblem(endpoint.host, port);
  if (problem !== undefined) throw new PubSubAccessError(`nothing answers on the Pub/Sub emulator at ${host} (${problem}): start it (npm run dev prints where it listens) or unset PUBSUB_EMULATOR_HOST`);
}

/**
 * createPubSub for the CLI, checked with checkPubSubAccess first; closed again when the check fails. On the emulator
 * a project not given is looked for where the client library looks, but not on the metadata server
 * (emulatorProjectId).
 */
export async function connectPubSub(projectId?: string): Promise<PubSub> {
  const pubsub = await createPubSub(projectId ?? (process.env['PUBSUB_EMULATOR_HOST'] ? await emulatorProjectId() : undefined));
  try {
    await checkPubSubAccess(pubsub);
    return pubsub;
  } catch (error) {
    await pubsub.close().catch(() => undefined);
    throw error;
  }
}

/**
 * The project google-auth finds for a client given none, from the sources it documents that need no metadata
 * server, in its order: GCLOUD_PROJECT or GOOGLE_CLOUD_PROJECT, the project_id of the GOOGLE_APPLICATION_CREDENTIALS
 * file, the gcloud configuration (`gcloud config config-helper`, as google-auth runs it). google-auth's own lookup
 * (auth.getProjectId) ends with the GCE metadata server, which it asks whatever METADATA_SERVER_DETECTION says (that
 * setting covers only the credentials; googleauth.js getGCEProjectId): on the emulator, where GCE_METADATA_HOST
 * named a server that does not answer, up to 3 s (gcp-metadata's request timeout) before the "no project" line.
 */
export async function emulatorProjectId(env: Readonly<Record<string, string | undefined>> = process.env): Promise<string | undefined> {
  const fromEnvironment = env['GCLOUD_PROJECT'] || env['GOOGLE_CLOUD_PROJECT'];
  if (fromEnvironment) return fromEnvironment;
  const keyFile = env['GOOGLE_APPLICATION_CREDENTIALS'];
  if (keyFile) {
    try {
      const { project_id: fromKeyFile } = JSON.parse(await readFile(keyFile, 'utf8')) as { project_id?: unknown };
      if (typeof fromKeyFile === 'string' && fromKeyFile) return fromKeyFile;
    } catch {
      // unreadable, or not JSON: no project from it (the emulator needs no credentials)
    }
  }
  return new Promise((resolve) => {
    exec('gcloud config config-helper --format json', (error, stdout) => {
      try {
        const project = error ? undefined : (JSON.parse(stdout) as { configuration?: { properties?: { core?: { project?: unknown } } } }).configuration?.properties?.core?.project;
        resolve(typeof project === 'string' && project ? project : undefined);
      } catch {
        resolve(undefined); // no gcloud, or no configuration
      }
    });
  });
}

/** Pub/Sub cannot be reached at all from here: no credentials, or no project to name topics in. */
export class PubSubAccessError extends Error {
  override readonly name = 'PubSubAccessError';
}

/**
 * Fails with one clear line, before anything is published or pulled, when there are no credentials or no project
 * (the emulator needs neither). The client library reports these per message, and its gRPC channel set-up fails
 * once more outside any caller: that ended the CLI process with a stack trace.
 */
async function checkPubSubAccess(pubsub: PubSub): Promise<void> {
  if (pubsub.isEmulator) {
    // No credentials to name a project: topic and subscription names would hold the placeholder, and the client
    // library threw MissingProjectIdError outside any caller (a stack trace), or a pull from it waited for nothing.
    // connectPubSub has looked where the client library looks (emulatorProjectId).
    if (!pubsub.isIdResolved) throw new PubSubAccessError('no project for the Pub/Sub emulator: pass --project or set GOOGLE_CLOUD_PROJECT');
    const host = process.env['PUBSUB_EMULATOR_HOST'];
    if (host) await emulatorAnswers(host);
    return;
  }
  try {
    await pubsub.auth.getClient();
  } catch {
    throw new PubSubAccessError(
      'no Google credentials for Pub/Sub (Application Default Credentials: run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS)',
    );
  }
  if (pubsub.isIdResolved) return;
  try {
    await pubsub.auth.getProjectId();
  } catch {
    throw new PubSubAccessError('no project for Pub/Sub: pass --project or set GOOGLE_CLOUD_PROJECT (the credentials name none)');
  }
}

/** Pub/Sub's limit on an attribute value, in bytes of UTF-8 (not characters: CJK takes 3 bytes, an emoji 4). */
export const ATTRIBUTE_VALUE_MAX_BYTES = 1024;

const ELLIPSIS = '...';

/**
 * `text` cut to at most `maxBytes` bytes of UTF-8, `...` included, at a code point boundary: a surrogate pair is
 * never split (half of one is not UTF-8 at all). A lone surrogate already in `text` (a name from an entry) becomes
 * U+FFFD: Pub/Sub refuses an attribute that is not UTF-8, which failed the publish on every attempt.
 */
export function attributeValue(value: string, maxBytes = ATTRIBUTE_VALUE_MAX_BYTES): string {
  const text = value.toWellFormed();
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  // encodeInto writes whole characters only (a lone surrogate as U+FFFD, 3 bytes) and says how much text fitted.
  const { read } = UTF8.encodeInto(text, new Uint8Array(maxBytes - ELLIPSIS.length));
  return `${text.slice(0, read)}${ELLIPSIS}`;
}

const UTF8 = new TextEncoder();

/** A message a function gives up on (it can never succeed), with why, for the dead-letter topic. */
export interface DeadLetter {
  /** The original message data. */
  readonly data: Buffer;
  /** The original message attributes. */
  readonly attributes: Readonly<Record<string, string>>;
  readonly reason: string;
  /** Where it failed (`decode`, `parse`, `deliver`). */
  readonly stage: string;
  /** The function that gave up on it (`detect`, `notify`). */
  readonly function: string;
  /** More attributes, after `function` (notify: `sink`). */
  readonly context?: Readonly<Record<string, string>>;
  readonly messageId: string | undefined;
}

/**
 * The dead letter's attributes: the original ones travel with it, then reason, stage, function, context and
 * originalMessageId. Pub/Sub allows 100 per message and we add up to five, so the first 90 originals are kept.
 */
function deadLetterAttributes(letter: Omit<DeadLetter, 'data'>): Record<string, string> {
  return {
    ...Object.fromEntries(Object.entries(letter.attributes).slice(0, 90).map(([k, v]) => [k, attributeValue(v)])),
    reason: attributeValue(letter.reason),
    stage: letter.stage,
    function: letter.function,
    ...letter.context,
    ...(letter.messageId ? { originalMessageId: letter.messageId } : {}),
  };
}

/** Publishes a dead letter; resolves with its message id once Pub/Sub has it. */
export function publishDeadLetter(publisher: MessagePublisher, topic: string, letter: DeadLetter): Promise<string> {
  return publisher.publish(topic, letter.data, deadLetterAttributes(letter));
}

/**
 * The attributes a published finding carries, for subscription filters. Project and service come from the log entry
 * (a service name the API would refuse still appears in a failed or crafted entry), so they are cut to Pub/Sub's
 * 1024-byte limit: an over-long attribute is refused as INVALID_ARGUMENT, which would fail this message on every
 * delivery. The full values travel in the finding itself.
 */
export function findingAttributes(f: Finding): Record<string, string> {
  return {
    rule: f.rule,
    severity: f.severity,
    project: attributeValue(f.project),
    service: attributeValue(f.service),
    findingId: f.id,
  };
}
