// `runwatch redrive [--subscription SUB] [--prefix PREFIX] [--project P] [--limit N] [--wait S] [--dry-run]`
// Sends the dead letters kept by the dead-letter pull subscription back to the topic they were first published to
// (audit entries to the audit topic, findings to the findings topic) with their original attributes, once the
// cause is fixed: a sink's revoked token, an outage that outlasted the retries, a burst that outran the instances.
// Pub/Sub has no redrive of its own. Each letter is acknowledged only after its republish succeeded, so a failure
// leaves it where it was; republishing is safe because detect drops entries it has applied and notify findings it
// has delivered (deterministic ids, delivery records). Letters whose origin cannot be told are left in place.
import { parseArgs } from 'node:util';
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { messageOf } from '../../../sinks/deliver.js';
import { describeDeadLetter, originalAttributes, originOf, type DeadLetterOrigin } from '../../pubsub/deadLetter.js';
import { connectPubSub, PubSubPublisher } from '../../pubsub/publisher.js';
import { topologyNames } from '../../pubsub/topology.js';
import { terminalSafe } from '../../untrustedText.js';
import { argsErrorMessage, usageErrorText, type Command, type CommandIo } from '../command.js';

const DEFAULT_WAIT_SECONDS = 10;

const USAGE = `runwatch redrive [--subscription SUB] [--prefix PREFIX] [--project PROJECT] [--limit N] [--wait SECONDS] [--dry-run]

Pulls the dead letters kept by SUB (default PREFIX-dead-letter-hold; PREFIX defaults to runwatch,
Terraform's name_prefix) and publishes each back to the topic it was first published to: PREFIX-audit for what
detect or the detect subscription gave up on, PREFIX-findings for what notify or a notify subscription gave up on.
A letter is acknowledged only once it is republished; one whose origin cannot be told, and one dead-lettered after
the redrive started (a redriven message that failed again), stays in SUB.
  --limit N        redrive at most N letters (default: all)
  --wait SECONDS   stop once no new letter arrived for this long (default ${DEFAULT_WAIT_SECONDS})
  --dry-run        list the letters and why they were dead-lettered; change nothing
PROJECT defaults to GOOGLE_CLOUD_PROJECT. PUBSUB_EMULATOR_HOST selects the emulator.`;

/** Letters held at once (pulled, not yet republished and acknowledged). */
const MAX_HELD = 100;

interface Options {
  readonly subscription: string;
  readonly prefix: string;
  readonly projectId: string | undefined;
  readonly limit: number;
  readonly waitMs: number;
  readonly dryRun: boolean;
}

interface Counts {
  redriven: Record<DeadLetterOrigin, number>;
  unknownOrigin: number;
  failed: number;
  listed: number;
  /** Letters dead-lettered after the redrive started (left in place). */
  later: number;
  firstError?: string;
}

const OPTIONS = {
  subscription: { type: 'string' },
  prefix: { type: 'string' },
  project: { type: 'string' },
  limit: { type: 'string' },
  wait: { type: 'string' },
  'dry-run': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseOptions(args: readonly string[], env: CommandIo['env']): Options | { readonly help: true } | { readonly error: string } {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: true }));
  } catch (error) {
    return { error: argsErrorMessage(error, OPTIONS) };
  }
  if (values['help']) return { help: true };
  if (positionals.length > 0) return { error: `unexpected argument ${JSON.stringify(positionals[0])}` };
  const limit = values['limit'] === undefined ? Infinity : Number(values['limit']);
  if (!(limit === Infinity || (Number.isInteger(limit) && limit > 0))) return { error: `--limit must be a whole number above 0, not ${JSON.stringify(values['limit'])}` };
  const wait = values['wait'] === undefined ? DEFAULT_WAIT_SECONDS : Number(values['wait']);
  if (!(Number.isFinite(wait) && wait > 0 && wait <= 600)) return { error: `--wait must be a number of seconds from above 0 to 600, not ${JSON.stringify(values['wait'])}` };
  const prefix = (values['prefix'] as string | undefined) ?? 'runwatch';
  const subscription = (values['subscription'] as string | undefined) ?? topologyNames(prefix).deadLetterHold;
  if (!/^(projects\/[^/]+\/subscriptions\/)?[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/.test(subscription)) {
    return { error: `--subscription ${JSON.stringify(subscription)} is neither a subscription id nor projects/PROJECT/subscriptions/SUBSCRIPTION` };
  }
  const projectId = (values['project'] as string | undefined) ?? /^projects\/([^/]+)\//.exec(subscription)?.[1] ?? (env['GOOGLE_CLOUD_PROJECT'] || undefined);
  return { subscription, prefix, projectId, limit, waitMs: wait * 1000, dryRun: values['dry-run'] === true };
}

/** The full topic name of an origin, in the subscription's project (a bare id when the project comes from the credentials). */
function topicOf(origin: DeadLetterOrigin, options: Options): string {
  const names = topologyNames(options.prefix);
  const id = origin === 'audit' ? names.auditTopic : names.findingsTopic;
  return options.projectId ? `projects/${options.projectId}/topics/${id}` : id;
}

/**
 * Pulls letters until `limit` were taken or none new arrived for `waitMs`; `handle` decides each one's fate (it
 * acks or nacks it). A letter left in place comes back at once: one seen before is only nacked again. Letters
 * dead-lettered after `startedAt` are left too (`onLater`): while the cause is not fixed, a redriven message fails
 * again and comes back as a new letter, and taking those would go round until the limit.
 */
async function pullLetters(subscription: Subscription, options: Options, startedAt: Date, handle: (message: Message) => Promise<void>, onLater: () => void): Promise<void> {
  const seen = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  let taken = 0;
  await new Promise<void>((resolve, reject) => {
    let idle: NodeJS.Timeout;
    let finished = false;
    const done = (): void => {
      clearTimeout(idle);
      finished = true; // letters still arriving go back at once (nacked below)
      resolve();
    };
    const restartIdle = (): void => {
      clearTimeout(idle);
      idle = setTimeout(done, options.waitMs);
    };
    restartIdle();
    subscription.on('error', (error: Error) => {
      clearTimeout(idle);
      reject(error);
    });
    subscription.on('message', (message: Message) => {
      if (finished || taken >= options.limit || seen.has(message.id)) {
        message.nack();
        return;
      }
      seen.add(message.id);
      if (message.publishTime.getTime() > startedAt.getTime()) {
        onLater();
        message.nack();
        return;
      }
      taken++;
      restartIdle();
      const handled: Promise<void> = handle(message).finally(() => inFlight.delete(handled));
      inFlight.add(handled);
      if (taken >= options.limit) void Promise.all(inFlight).then(done);
    });
  });
  await Promise.all(inFlight);
}

/** How long the first call may take to get any answer from Pub/Sub (its retries included). */
const REACH_TIMEOUT_MS = 10_000;
const DEADLINE_EXCEEDED = 4;
const PERMISSION_DENIED = 7;

/**
 * Fails when Pub/Sub does not answer at all. The streaming pull retries an unreachable Pub/Sub out of sight (the
 * client library only emits debug events), so the idle wait would run out and report "redrove 0 dead letters" as
 * a success. Any answer will do: PERMISSION_DENIED too, since roles/pubsub.subscriber, all a redrive needs, does not
 * hold pubsub.subscriptions.get. A subscription that does not exist fails here with NOT_FOUND.
 */
export async function checkReachable(subscription: Subscription): Promise<void> {
  try {
    await subscription.getMetadata({ timeout: REACH_TIMEOUT_MS });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === PERMISSION_DENIED) return;
    if (code !== DEADLINE_EXCEEDED) throw error;
    // gax lists every retried error in the message: the last cause is enough.
    const cause = /Last error: (.*?)\. Resolution note/.exec(messageOf(error))?.[1];
    throw new Error(`Pub/Sub did not answer within ${REACH_TIMEOUT_MS / 1000} s${cause ? ` (${cause})` : ''}`);
  }
}

export const redriveCommand: Command = {
  name: 'redrive',
  summary: 'send dead letters back to the topic they came from, once their cause is fixed',
  usage: USAGE,
  async run(args: readonly string[], io: CommandIo): Promise<number> {
    const parsed = parseOptions(args, io.env);
    if ('help' in parsed) {
      io.stdout.write(`usage: ${USAGE}\n`);
      return 0;
    }
    if ('error' in parsed) {
      io.stderr.write(`runwatch redrive: ${usageErrorText(parsed.error)}\n\nusage: ${USAGE}\n`);
      return 2;
    }
    const options = parsed;
    const where = `${options.subscription}${options.projectId && !options.subscription.startsWith('projects/') ? ` in project ${options.projectId}` : ''}`;
    io.stderr.write(`${options.dryRun ? 'listing' : 'redriving'} dead letters from ${terminalSafe(where)}${io.env['PUBSUB_EMULATOR_HOST'] ? ` on the emulator at ${terminalSafe(io.env['PUBSUB_EMULATOR_HOST'])}` : ''}\n`);

    const counts: Counts = { redriven: { audit: 0, findings: 0 }, unknownOrigin: 0, failed: 0, listed: 0, later: 0 };
    let pubsub: PubSub | undefined;
    let subscription: Subscription | undefined;
    let publisher: PubSubPublisher | undefined;
    try {
      pubsub = await connectPubSub(options.projectId);
      publisher = new PubSubPublisher({ pubsub });
      subscription = pubsub.subscription(options.subscription, { flowControl: { maxMessages: MAX_HELD, allowExcessMessages: false } });
      await checkReachable(subscription);
      const republish = publisher;
      const startedAt = new Date();
      const later = (): void => void counts.later++;
      await pullLetters(subscription, options, startedAt, async (message) => {
        const attributes = message.attributes ?? {};
        const origin = originOf(attributes, options.prefix);
        // Every attribute may have been written by whoever deployed the entry or raised the finding: escaped.
        const line = `${message.id}  ${origin ?? 'unknown-origin'}  ${terminalSafe(describeDeadLetter(attributes))}`;
        if (options.dryRun) {
          counts.listed++;
          io.stdout.write(`${line}\n`);
          message.nack();
          return;
        }
        if (!origin) {
          counts.unknownOrigin++;
          io.stderr.write(`left in place (origin unknown): ${line}\n`);
          message.nack();
          return;
        }
        try {
          await republish.publish(topicOf(origin, options), message.data, originalAttributes(attributes));
          counts.redriven[origin]++;
          message.ack();
        } catch (error) {
          counts.failed++;
          counts.firstError ??= terminalSafe(`${message.id}: ${messageOf(error)}`);
          message.nack();
        }
      }, later);
    } catch (error) {
      io.stderr.write(`runwatch redrive: ${terminalSafe(messageOf(error))}\n`);
      return 1;
    } finally {
      // close() sends the acks and nacks still batched before it resolves.
      await subscription?.close().catch(() => undefined);
      await publisher?.close().catch(() => undefined);
      await pubsub?.close().catch(() => undefined);
    }
    if (options.dryRun) {
      io.stderr.write(`listed ${counts.listed} dead letter${counts.listed === 1 ? '' : 's'}; nothing was changed\n`);
      return 0;
    }
    const total = counts.redriven.audit + counts.redriven.findings;
    io.stderr.write(
      `redrove ${total} dead letter${total === 1 ? '' : 's'} (${counts.redriven.audit} to the audit topic, ${counts.redriven.findings} to the findings topic)` +
        `${counts.unknownOrigin ? `, left ${counts.unknownOrigin} of unknown origin` : ''}` +
        `${counts.later ? `, left ${counts.later} dead-lettered after the redrive started (their cause may not be fixed)` : ''}${counts.failed ? `, ${counts.failed} FAILED (first: ${counts.firstError})` : ''}\n`,
    );
    return counts.failed > 0 ? 1 : 0;
  },
};
