// `runwatch publish [--topic T] [--project P] PATH...`
// Feeds log files into the audit topic the way a Cloud Logging sink does (one LogEntry per message, JSON data,
// the `logging.googleapis.com/timestamp` attribute), so the live pipeline (`npm run dev`, or a real deployment)
// can be watched on recorded entries. Reads the same inputs as replay: JSON arrays, NDJSON, .gz, folders, `-`; a
// BigQuery row goes out as the LogEntry replay reads it as (audit/bigQueryRow.ts).
// With PUBSUB_EMULATOR_HOST set it talks to the emulator; otherwise to Pub/Sub with the ambient credentials.
import type { PubSub } from '@google-cloud/pubsub';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { messageOf } from '../../../sinks/deliver.js';
import { connectPubSub, emulatorProjectId, parseTopic, PubSubPublisher } from '../../pubsub/publisher.js';
import { PublishTracker, type PublishCount } from '../../pubsub/publishTracker.js';
import { topologyNames } from '../../pubsub/topology.js';
import { exitOnSignal } from '../signals.js';
import { readEntries } from '../../replay/input.js';
import { readEnvelope, type EnvelopeResult } from '../../audit/entry.js';
import { argsErrorMessage, usageErrorText, usageReminder, type Command, type CommandIo } from '../command.js';
import { terminalSafe } from '../../untrustedText.js';

const USAGE = `runwatch publish [--topic TOPIC] [--project PROJECT] PATH...

Publishes every log entry in PATH (JSON array, NDJSON, .gz, folders; - for stdin) to the audit topic, one message
per entry, as a Cloud Logging sink would; what replay counts as malformed is reported and not published.
TOPIC is a topic id or projects/P/topics/T (default ${topologyNames().auditTopic});
PROJECT defaults to GOOGLE_CLOUD_PROJECT. PUBSUB_EMULATOR_HOST selects the emulator.`;

const OPTIONS = { topic: { type: 'string' }, project: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

export const publishCommand: Command = {
  name: 'publish',
  summary: 'publish log files to the audit topic (feed the live pipeline)',
  usage: USAGE,
  async run(args: readonly string[], io: CommandIo): Promise<number> {
    let values: { topic?: string | undefined; project?: string | undefined; help?: boolean | undefined };
    let paths: string[];
    try {
      ({ values, positionals: paths } = parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: true }));
    } catch (error) {
      io.stderr.write(`runwatch publish: ${usageErrorText(argsErrorMessage(error, OPTIONS))}\n${usageReminder('publish', USAGE)}`);
      return 2;
    }
    if (values.help) {
      io.stdout.write(`usage: ${USAGE}\n`);
      return 0;
    }
    if (paths.length === 0) {
      io.stderr.write(`runwatch publish: no PATH given\n${usageReminder('publish', USAGE)}`);
      return 2;
    }
    const topic = parseTopic(values.topic ?? topologyNames().auditTopic);
    if (!topic.ok) {
      io.stderr.write(`runwatch publish: --topic ${terminalSafe(topic.reason)}\n`);
      return 2;
    }
    const emulator = io.env['PUBSUB_EMULATOR_HOST'];
    // On the emulator, which has no credentials, the project is looked for as connectPubSub looks (GCLOUD_PROJECT, the
    // key file's, the gcloud configuration's) before the line that says where the entries go.
    const projectId = values.project ?? topic.project ?? (io.env['GOOGLE_CLOUD_PROJECT'] || undefined) ?? (emulator ? await emulatorProjectId(io.env) : undefined);
    const name = topic.project ? topic.name : projectId ? `projects/${projectId}/topics/${topic.id}` : topic.id;
    const target = topic.project || projectId || emulator ? name : `${name} (project from the credentials)`;
    io.stderr.write(`publishing to ${terminalSafe(target)}${emulator ? ` on the emulator at ${terminalSafe(emulator)}` : ''}\n`);

    let pubsub: PubSub;
    try {
      pubsub = await connectPubSub(projectId);
    } catch (error) {
      io.stderr.write(`runwatch publish: ${terminalSafe(messageOf(error))}\n`);
      return 1;
    }
    const publisher = new PubSubPublisher({ pubsub });
    const tracker = new PublishTracker(publisher);
    // Ctrl-C or SIGTERM in the middle (a long `publish -` from a pipe): what went out is said before the exit (130,
    // 143), the publishes in flight given a few seconds to answer; a second signal exits at once.
    const signals = exitOnSignal(async () => {
      const settled = await Promise.race([tracker.finish().then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), STOP_WAIT_MS).unref())]);
      const count = tracker.soFar();
      const failed = count.failed ? `, ${count.failed} FAILED` : '';
      const pending = settled ? '' : `, ${count.inFlight} without an answer`;
      io.stderr.write(`\n${publishedLine(count.published, ` before it was stopped${failed}${pending} (publishing again is safe: detect drops the duplicates)`)}`);
    });
    let unreadable = 0;
    let count: PublishCount;
    try {
      const onWarning = (warning: string): void => void io.stderr.write(`runwatch publish: warning: ${terminalSafe(warning)}\n`);
      for await (const item of readEntries(paths, io.stdin as Readable, onWarning)) {
        // What replay counts as malformed (not an object, no readable timestamp) is not sent either: detect would
        // only dead-letter it.
        const read: EnvelopeResult = item.kind === 'invalid' ? { ok: false, reason: item.reason } : readEnvelope(item.value);
        if (!read.ok) {
          unreadable++;
          io.stderr.write(`skipped ${terminalSafe(`${item.source}: ${read.reason}`)}\n`);
          continue;
        }
        // The LogEntry itself, or the one a BigQuery row was (bigQueryRow.ts): what a sink would have sent.
        const entry = read.envelope.entry;
        const timestamp = entry['timestamp'];
        const attributes: Record<string, string> = typeof timestamp === 'string' ? { 'logging.googleapis.com/timestamp': timestamp } : {};
        tracker.publish(name, Buffer.from(JSON.stringify(entry), 'utf8'), attributes, item.source);
        await tracker.waitForRoom();
      }
      // Every answer before the client is closed (finally): a publish still on its way or waiting for a retry would
      // fail with the closed client.
      count = await tracker.finish();
    } catch (error) {
      if (signals.stopping) return await signals.exiting(); // the signal's line and code, not what stopping caused
      // A file that fails partway (a .gz cut short): what went out before is said, so the user knows where things are.
      const before = await tracker.finish();
      io.stderr.write(`runwatch publish: ${terminalSafe(messageOf(error))}\n`);
      const failed = before.failed ? `, ${before.failed} FAILED (first: ${terminalSafe(before.firstError ?? '?')})` : '';
      io.stderr.write(publishedLine(before.published, ` before it stopped${failed} (publishing the file again is safe: detect drops the duplicates)`));
      return 1;
    } finally {
      signals.off();
      await publisher.close().catch(() => undefined);
      await pubsub.close().catch(() => undefined);
    }
    if (signals.stopping) return await signals.exiting(); // ended as the signal came: its line and code, once
    const { published, failed, firstError } = count;
    io.stderr.write(publishedLine(published, `${unreadable ? `, ${unreadable} unreadable skipped` : ''}${failed ? `, ${failed} FAILED (first: ${terminalSafe(firstError ?? '?')})` : ''}`));
    return failed > 0 ? 1 : 0;
  },
};

/** The line that ends every publish, however it ends: how many entries went out, then `rest`. */
function publishedLine(published: number, rest: string): string {
  return `published ${published} entr${published === 1 ? 'y' : 'ies'}${rest}\n`;
}

/** How long publishes in flight may take to answer after Ctrl-C before the count is said without them. */
const STOP_WAIT_MS = 5_000;

