// `runwatch replay --publish TOPIC`: every finding the replay raises also goes to the findings topic, as the detect
// function publishes it (the finding's JSON, the rule/severity/project/service/findingId attributes), so the notify
// functions deliver it to the sinks with their routing, retries and delivery records. Finding ids are deterministic:
// a finding the sinks already have (raised live, or by an earlier replay) is not sent to them again. This is how a
// gap in the live pipeline (an outage, a sink filter that missed entries) is filled from the logs afterwards.
import type { PubSub } from '@google-cloud/pubsub';
import type { Finding } from '../findings/finding.js';
import { connectPubSub, emulatorProjectId, findingAttributes, isProjectId, parseTopic, PubSubPublisher } from '../pubsub/publisher.js';
import { PublishTracker, type PublishCount } from '../pubsub/publishTracker.js';
import { UsageError } from './command.js';

export interface PublishReport extends PublishCount {
  readonly topic: string;
}

export class FindingPublisher {
  private readonly tracker: PublishTracker;

  private constructor(
    readonly topic: string,
    private readonly pubsub: PubSub,
    private readonly publisher: PubSubPublisher,
  ) {
    this.tracker = new PublishTracker(publisher);
  }

  /**
   * Checks `--publish TOPIC` (a topic id, or projects/P/topics/T) and connects, before anything is read. The project
   * comes from the full name, else GOOGLE_CLOUD_PROJECT, else the credentials (on the emulator, which
   * PUBSUB_EMULATOR_HOST selects: GCLOUD_PROJECT, the key file's or the gcloud configuration's, as `runwatch publish`
   * finds it). A malformed topic is a usage error; no credentials or project an error of its own (exit 1).
   */
  static async open(topicText: string, env: Readonly<Record<string, string | undefined>>): Promise<FindingPublisher> {
    const topic = parseTopic(topicText);
    if (!topic.ok) throw new UsageError(`--publish ${topic.reason}`);
    const fromEnvironment = topic.project ?? (env['GOOGLE_CLOUD_PROJECT'] || undefined);
    // As the functions refuse to start on it: a project that is no project id would fail every publish, after the replay.
    if (fromEnvironment !== undefined && !isProjectId(fromEnvironment)) throw new UsageError(`--publish: GOOGLE_CLOUD_PROJECT ${JSON.stringify(fromEnvironment)} is not a project id`);
    const emulator = !!(env['PUBSUB_EMULATOR_HOST'] || process.env['PUBSUB_EMULATOR_HOST']);
    // On the emulator, where `runwatch publish` looks too: GCLOUD_PROJECT, the key file's, the gcloud configuration's.
    const projectId = fromEnvironment ?? (emulator ? await emulatorProjectId(env) : undefined);
    // The emulator has no credentials to name a project: without one every publish would fail, after the replay.
    if (projectId === undefined && emulator) {
      throw new UsageError('--publish: no project for the emulator: name the topic projects/P/topics/T, or set GOOGLE_CLOUD_PROJECT');
    }
    const name = topic.project ? topic.name : projectId ? `projects/${projectId}/topics/${topic.id}` : topic.id;
    const pubsub = await connectPubSub(projectId);
    return new FindingPublisher(name, pubsub, new PubSubPublisher({ pubsub }));
  }

  /** Publishes one finding as detect does; its outcome is counted, and told by finish(). */
  publish(finding: Finding): void {
    this.tracker.publish(this.topic, Buffer.from(JSON.stringify(finding), 'utf8'), findingAttributes(finding));
  }

  /** Resolves once there is room for more publishes (MAX_IN_FLIGHT): ReplayOptions.backpressure. */
  waitForRoom(): Promise<void> {
    return this.tracker.waitForRoom();
  }

  /** Waits for every publish still in flight; what got out and what did not. */
  async finish(): Promise<PublishReport> {
    return { topic: this.topic, ...(await this.tracker.finish()) };
  }

  async close(): Promise<void> {
    await this.tracker.finish();
    await this.publisher.close().catch(() => undefined);
    await this.pubsub.close().catch(() => undefined);
  }
}
