// `runwatch redrive [--subscription SUB [--origin audit|findings[:SINK]]] [--prefix PREFIX] [--project P] [--limit N] [--wait S] [--dry-run]`
// Sends the dead letters kept by the dead-letter pull subscriptions back to the topic they were first published to
// (audit entries to the audit topic, findings to the findings topic) with their original attributes, once the
// cause is fixed: a sink's revoked token, an outage that outlasted the retries, a burst that outran the instances.
// Each side has a dead-letter topic and hold of its own, and the hold a letter is read from decides where it goes
// (deadLetter.ts redriveDecision): a letter's attributes are written by whoever published it, and a notify account
// must not be able to send an audit entry to detect by writing `function=detect`. A letter whose attributes claim
// the other side is left in place, as is one whose attributes claim none. The findings side has a topic and hold per
// sink (only notify-SINK may publish to its own): a letter of a sink's hold goes back for that sink only (the
// runwatch-redrive-sink attribute; the other sinks' notify ack it unsent), and one that claims another sink is left,
// so a compromised notify function cannot get a forged finding to the other sinks. Holds of sinks that are not
// deployed are skipped.
// Pub/Sub has no redrive of its own. Each letter is acknowledged only after its republish succeeded, so a failure
// leaves it where it was; republishing is safe because detect drops entries it has applied and notify findings it
// has delivered (deterministic ids, delivery records). Letters whose origin cannot be told are left in place.
import { parseArgs } from 'node:util';
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { messageOf } from '../../../sinks/deliver.js';
import { SINK_NAMES } from '../../../sinks/index.js';
import { describeDeadLetter, holdOrigin, holdSink, originalAttributes, REDRIVE_SINK_ATTRIBUTE, redriveDecision, type DeadLetterOrigin } from '../../pubsub/deadLetter.js';
import { connectPubSub, PubSubPublisher } from '../../pubsub/publisher.js';
import { topologyNames } from '../../pubsub/topology.js';
import { GRPC_STATUS, grpcCode } from '../../grpcEndpoint.js';
import { terminalSafe } from '../../untrustedText.js';
import { argsErrorMessage, usageErrorText, usageReminder, type Command, type CommandIo } from '../command.js';
import { within } from '../../within.js';

const DEFAULT_WAIT_SECONDS = 10;

const USAGE = `runwatch redrive [--subscription SUB [--origin audit|findings[:SINK]]] [--prefix PREFIX] [--project PROJECT] [--limit N] [--wait SECONDS] [--dry-run]

Pulls the dead letters kept by the dead-letter holds and publishes each back to the topic it was first published
to: what PREFIX-dead-letter-hold keeps (detect or the detect subscription gave up on it) to PREFIX-audit, what a
sink's PREFIX-findings-dead-letter-SINK-hold keeps (notify-SINK or its subscription gave up on it) to
PREFIX-findings for that sink only (the other sinks ack it unsent). Holds of sinks not deployed are skipped; the
one findings hold of earlier versions, PREFIX-findings-dead-letter-hold, is read too, for every sink. PREFIX
defaults to runwatch, Terraform's name_prefix. The hold decides the topic and the sink, never the letter's
attributes: a letter whose attributes claim the other side, another sink or no side stays where it is, and so does
one dead-lettered after the redrive started (a redriven message that failed again). A letter is acknowledged only
once it is republished.
  --subscription SUB  read only SUB (an id or projects/P/subscriptions/S): one of the holds, or another
                   subscription with --origin naming the side (and, findings:SINK, the sink) whose dead-letter topic
                   it is attached to
  --limit N        redrive at most N letters (default: all)
  --wait SECONDS   stop once no new letter arrived for this long (default ${DEFAULT_WAIT_SECONDS})
  --dry-run        list the letters and why they were dead-lettered; change nothing
PROJECT defaults to GOOGLE_CLOUD_PROJECT. PUBSUB_EMULATOR_HOST selects the emulator.`;

/** Letters held at once (pulled, not yet republished and acknowledged). */
const MAX_HELD = 100;

/** A dead-letter pull subscription and the side (and sink) whose dead-letter topic it is attached to. */
interface Hold {
  readonly subscription: string;
  readonly origin: DeadLetterOrigin;
  /** A sink's own hold: its letters go back for that sink only. */
  readonly sink?: string;
  /** One of the default holds that may not exist (a sink not deployed, the shared hold of earlier versions). */
  readonly optional?: boolean;
}

interface Options {
  readonly holds: readonly Hold[];
  readonly prefix: string;
  readonly projectId: string | undefined;
  readonly limit: number;
  readonly waitMs: number;
  readonly dryRun: boolean;
}

interface Counts {
  redriven: Record<DeadLetterOrigin, number>;
  unknownOrigin: number;
  /** Letters whose attributes claim the other side than the hold they were read from (left in place). */
  wrongSide: number;
  /** Letters of a sink's hold whose attributes claim another sink, or none (left in place). */
  wrongSink: number;
  failed: number;
  listed: number;
  /** Letters dead-lettered after the redrive started (left in place). */
  later: number;
  firstError?: string;
}

const OPTIONS = {
  subscription: { type: 'string' },
  origin: { type: 'string' },
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
    return { error: argsErrorMessage(error, OPTIONS, false) }; // it takes no paths
  }
  if (values['help']) return { help: true };
  if (positionals.length > 0) return { error: `unexpected argument ${JSON.stringify(positionals[0])}` };
  const limit = values['limit'] === undefined ? Infinity : Number(values['limit']);
  if (!(limit === Infinity || (Number.isInteger(limit) && limit > 0))) return { error: `--limit must be a whole number above 0, not ${JSON.stringify(values['limit'])}` };
  const wait = values['wait'] === undefined ? DEFAULT_WAIT_SECONDS : Number(values['wait']);
  if (!(Number.isFinite(wait) && wait > 0 && wait <= 600)) return { error: `--wait must be a number of seconds from above 0 to 600, not ${JSON.stringify(values['wait'])}` };
  const prefix = (values['prefix'] as string | undefined) ?? 'runwatch';
  const names = topologyNames(prefix);
  const given = values['subscription'] as string | undefined;
  const originOption = values['origin'] as string | undefined;
  const originMatch = originOption === undefined ? undefined : /^(audit|findings)(?::([a-z][a-z0-9]*))?$/.exec(originOption);
  if (originOption !== undefined && (!originMatch || (originMatch[1] === 'audit' && originMatch[2] !== undefined))) {
    return { error: `--origin must be audit, findings or findings:SINK, not ${JSON.stringify(originOption)}` };
  }
  if (originOption !== undefined && given === undefined) return { error: '--origin names the side of the hold given by --subscription; give --subscription too' };
  let holds: Hold[];
  if (given === undefined) {
    holds = [
      { subscription: names.deadLetterHold, origin: 'audit' },
      ...SINK_NAMES.map((sink): Hold => ({ subscription: names.findingsDeadLetterHold(sink), origin: 'findings', sink, optional: true })),
      { subscription: names.sharedFindingsDeadLetterHold, origin: 'findings', optional: true },
    ];
  } else {
    if (!/^(projects\/[^/]+\/subscriptions\/)?[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/.test(given)) {
      return { error: `--subscription ${JSON.stringify(given)} is neither a subscription id nor projects/PROJECT/subscriptions/SUBSCRIPTION` };
    }
    const byName = holdOrigin(given, prefix);
    const sinkByName = holdSink(given, prefix);
    const origin = (originMatch?.[1] as DeadLetterOrigin | undefined) ?? byName;
    const sink = originMatch?.[2] ?? sinkByName;
    if (origin === undefined) {
      return { error: `cannot tell which side's dead letters ${JSON.stringify(given)} holds: give --origin audit (its topic is detect's dead-letter topic) or --origin findings:SINK (notify-SINK's)` };
    }
    if (byName !== undefined && byName !== origin) return { error: `${JSON.stringify(given)} holds the ${byName} side's dead letters, not the ${origin} side's` };
    if (sinkByName !== undefined && sink !== sinkByName) return { error: `${JSON.stringify(given)} holds the ${sinkByName} sink's dead letters, not the ${sink ?? 'undefined'} sink's` };
    const shared = given.slice(given.lastIndexOf('/') + 1) === names.sharedFindingsDeadLetterHold;
    if (origin === 'findings' && sink === undefined && !shared) {
      return { error: `cannot tell which sink's dead letters ${JSON.stringify(given)} holds: give --origin findings:SINK (a sink's letters go back for that sink only)` };
    }
    holds = [{ subscription: given, origin, ...(sink !== undefined ? { sink } : {}) }];
  }
  const projectId = (values['project'] as string | undefined) ?? (given === undefined ? undefined : /^projects\/([^/]+)\//.exec(given)?.[1]) ?? (env['GOOGLE_CLOUD_PROJECT'] || undefined);
  return { holds, prefix, projectId, limit, waitMs: wait * 1000, dryRun: values['dry-run'] === true };
}

/** The full topic name of an origin, in the subscription's project (a bare id when the project comes from the credentials). */
function topicOf(origin: DeadLetterOrigin, options: Options): string {
  const names = topologyNames(options.prefix);
  const id = origin === 'audit' ? names.auditTopic : names.findingsTopic;
  return options.projectId ? `projects/${options.projectId}/topics/${id}` : id;
}

/** What the pulls of one run share: how many letters they took, and how to stop them all once the limit is reached. */
interface Budget {
  taken: number;
  readonly stops: Set<() => void>;
}

/**
 * Pulls letters until `limit` were taken (by all pulls of the run) or none new arrived for `waitMs`; `handle`
 * decides each one's fate (it acks or nacks it). A letter left in place comes back at once: one seen before is only nacked again. Letters
 * dead-lettered after `startedAt` are left too (`onLater`): while the cause is not fixed, a redriven message fails
 * again and comes back as a new letter, and taking those would go round until the limit.
 */
async function pullLetters(
  subscription: Subscription,
  optional: boolean,
  options: Options,
  budget: Budget,
  startedAt: Date,
  handle: (message: Message) => Promise<void>,
  onLater: () => void,
): Promise<void> {
  const seen = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  await new Promise<void>((resolve, reject) => {
    let idle: NodeJS.Timeout;
    let finished = false;
    const done = (): void => {
      clearTimeout(idle);
      finished = true; // letters still arriving go back at once (nacked below)
      budget.stops.delete(done);
      resolve();
    };
    budget.stops.add(done);
    const restartIdle = (): void => {
      clearTimeout(idle);
      idle = setTimeout(done, options.waitMs);
    };
    restartIdle();
    subscription.on('error', (error: Error) => {
      // A default hold that does not exist (a sink not deployed), found only now when its get was not permitted.
      if (optional && grpcCode(error) === NOT_FOUND) return done();
      clearTimeout(idle);
      reject(error);
    });
    subscription.on('message', (message: Message) => {
      if (finished || budget.taken >= options.limit || seen.has(message.id)) {
        message.nack();
        return;
      }
      seen.add(message.id);
      if (message.publishTime.getTime() > startedAt.getTime()) {
        onLater();
        message.nack();
        return;
      }
      budget.taken++;
      restartIdle();
      const handled: Promise<void> = handle(message).finally(() => inFlight.delete(handled));
      inFlight.add(handled);
      if (budget.taken >= options.limit) void Promise.all(inFlight).then(() => [...budget.stops].forEach((stop) => stop()));
    });
  });
  await Promise.all(inFlight);
}

/** How long the first call may take to get any answer from Pub/Sub, its retries included: a bound of our own. */
const REACH_TIMEOUT_MS = 10_000;
/** The wait before the check's second attempt, doubled for each next one up to REACH_RETRY_DELAY_MAX_MS. */
const REACH_RETRY_DELAY_MS = 100;
const REACH_RETRY_DELAY_MAX_MS = 1_000;
const { UNKNOWN, DEADLINE_EXCEEDED, NOT_FOUND, PERMISSION_DENIED, ABORTED, UNAVAILABLE } = GRPC_STATUS;
/** The codes the client library itself retries for GetSubscription (its unknown_aborted_unavailable). */
const RETRIED = new Set<number>([UNKNOWN, ABORTED, UNAVAILABLE]);

/**
 * Fails when Pub/Sub does not answer at all. The streaming pull retries an unreachable Pub/Sub out of sight (the
 * client library only emits debug events), so the idle wait would run out and report "redrove 0 dead letters" as
 * a success. Any answer will do: PERMISSION_DENIED too, since roles/pubsub.subscriber, all a redrive needs, does not
 * hold pubsub.subscriptions.get. A subscription that does not exist fails here with NOT_FOUND. `timeoutMs`: the
 * command's is REACH_TIMEOUT_MS; tests give a shorter one.
 * The check retries by itself, one attempt at a time, and ends when `timeoutMs` have passed since it began, whatever
 * the library does: gax checks its own total timeout only after each retry's sleep (a growing, random backoff), so
 * its "within 10 s" ended 11-16 s after the check began on a loaded host, and the client's set-up before the first
 * attempt (loading its protos) was not counted at all.
 */
export async function checkReachable(subscription: Subscription, timeoutMs = REACH_TIMEOUT_MS): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (let delay = REACH_RETRY_DELAY_MS; ; delay = Math.min(delay * 2, REACH_RETRY_DELAY_MAX_MS)) {
    const left = deadline - performance.now();
    if (left <= 0) throw notAnswered(timeoutMs, lastError);
    // One attempt (retry: null), bounded by its own gRPC deadline and, for what comes before it, by our timer. One
    // that outlives the timer is cancelled when the command closes the client.
    const attempt = await within(subscription.getMetadata({ timeout: Math.ceil(left), retry: null }), left);
    if (attempt === undefined) throw notAnswered(timeoutMs, lastError);
    if (!('error' in attempt)) return;
    const code = grpcCode(attempt.error);
    if (code === PERMISSION_DENIED) return;
    if (code === DEADLINE_EXCEEDED) throw notAnswered(timeoutMs, lastError ?? attempt.error);
    if (code === undefined || !RETRIED.has(code)) throw attempt.error;
    lastError = attempt.error;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(delay, deadline - performance.now()))));
  }
}

/** The check's failure: one line with the last cause, not the list of every attempt gax or grpc-js may give. */
function notAnswered(timeoutMs: number, lastError: unknown): Error {
  const text = lastError === undefined ? undefined : messageOf(lastError);
  // grpc-js names the connection's failure after "Last error:"; a retried code answered by something is given as it is.
  const cause =
    text === undefined
      ? undefined
      : (/Last error: (.*?)\. Resolution note/.exec(text)?.[1] ?? (RETRIED.has(grpcCode(lastError) ?? -1) ? text : undefined));
  return new Error(`Pub/Sub did not answer within ${timeoutMs / 1000} s${cause ? ` (${cause})` : ''}`);
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
      io.stderr.write(`runwatch redrive: ${usageErrorText(parsed.error)}\n${usageReminder('redrive', USAGE)}`);
      return 2;
    }
    const options = parsed;
    const inProject = (name: string): string => `${name}${options.projectId && !name.startsWith('projects/') ? ` in project ${options.projectId}` : ''}`;
    const names = topologyNames(options.prefix);
    const where =
      options.holds.length === 1 ? inProject(options.holds[0]!.subscription) : `${inProject(names.deadLetterHold)} and each deployed sink's ${names.findingsDeadLetterHold('SINK')}`;
    io.stderr.write(`${options.dryRun ? 'listing' : 'redriving'} dead letters from ${terminalSafe(where)}${io.env['PUBSUB_EMULATOR_HOST'] ? ` on the emulator at ${terminalSafe(io.env['PUBSUB_EMULATOR_HOST'])}` : ''}\n`);

    const counts: Counts = { redriven: { audit: 0, findings: 0 }, unknownOrigin: 0, wrongSide: 0, wrongSink: 0, failed: 0, listed: 0, later: 0 };
    let pubsub: PubSub | undefined;
    const subscriptions: Subscription[] = [];
    let publisher: PubSubPublisher | undefined;
    try {
      pubsub = await connectPubSub(options.projectId);
      publisher = new PubSubPublisher({ pubsub });
      // Every hold answers, or the run stops; a default hold that does not exist (a sink not deployed) is skipped.
      const present = await Promise.all(
        options.holds.map(async (hold) => {
          const subscription = pubsub!.subscription(hold.subscription, { flowControl: { maxMessages: MAX_HELD, allowExcessMessages: false } });
          try {
            await checkReachable(subscription);
          } catch (error) {
            if (hold.optional && grpcCode(error) === NOT_FOUND) return undefined;
            throw error;
          }
          subscriptions.push(subscription);
          return { hold, subscription };
        }),
      );
      const pulls = present.filter((p): p is { hold: Hold; subscription: Subscription } => p !== undefined);
      const republish = publisher;
      const startedAt = new Date();
      const budget: Budget = { taken: 0, stops: new Set() };
      const later = (): void => void counts.later++;
      // One letter read from `hold`: listed (--dry-run), left in place, or sent back to its side's topic.
      const redriveFrom = (hold: Hold) => async (message: Message): Promise<void> => {
        const attributes = message.attributes ?? {};
        // The hold decides the side; the attributes (anyone who can publish to its topic writes them) only agree.
        const decision = redriveDecision(hold.origin, attributes, options.prefix, hold.sink);
        // Every attribute may have been written by whoever deployed the entry or raised the finding: escaped.
        const line = `${message.id}  ${'origin' in decision ? decision.origin : decision.leave}  ${terminalSafe(describeDeadLetter(attributes))}`;
        if (options.dryRun) {
          counts.listed++;
          io.stdout.write(`${line}\n`);
          message.nack();
          return;
        }
        if ('leave' in decision) {
          if (decision.leave === 'unknown-origin') counts.unknownOrigin++;
          else if (decision.leave === 'wrong-sink') counts.wrongSink++;
          else counts.wrongSide++;
          const why =
            decision.leave === 'unknown-origin'
              ? 'origin unknown'
              : decision.leave === 'wrong-sink'
                ? `in the ${hold.sink ?? '?'} sink's hold, its attributes claim another sink or none`
                : `on the ${hold.origin} side, its attributes claim the other`;
          io.stderr.write(`left in place (${why}): ${line}\n`);
          message.nack();
          return;
        }
        try {
          // A sink's letter goes back for that sink only: the other sinks' notify ack it unsent.
          const original = originalAttributes(attributes);
          await republish.publish(topicOf(decision.origin, options), message.data, decision.sink === undefined ? original : { ...original, [REDRIVE_SINK_ATTRIBUTE]: decision.sink });
          counts.redriven[decision.origin]++;
          message.ack();
        } catch (error) {
          counts.failed++;
          counts.firstError ??= terminalSafe(`${message.id}: ${messageOf(error)}`);
          message.nack();
        }
      };
      await Promise.all(pulls.map(({ hold, subscription }) => pullLetters(subscription, hold.optional === true, options, budget, startedAt, redriveFrom(hold), later)));
    } catch (error) {
      io.stderr.write(`runwatch redrive: ${terminalSafe(messageOf(error))}\n`);
      return 1;
    } finally {
      // close() sends the acks and nacks still batched before it resolves.
      await Promise.all(subscriptions.map((subscription) => subscription.close().catch(() => undefined)));
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
        `${counts.wrongSide ? `, left ${counts.wrongSide} whose attributes claim the other side (forged, or dead-lettered before each side had a topic of its own)` : ''}` +
        `${counts.wrongSink ? `, left ${counts.wrongSink} whose attributes claim another sink than their hold's (forged?)` : ''}` +
        `${counts.later ? `, left ${counts.later} dead-lettered after the redrive started (their cause may not be fixed)` : ''}${counts.failed ? `, ${counts.failed} FAILED (first: ${counts.firstError})` : ''}\n`,
    );
    return counts.failed > 0 ? 1 : 0;
  },
};
