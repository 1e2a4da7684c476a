// The live path under failure, on the emulators: what a crafted or damaged input does to the messages that come after
// it. Nothing one entry carries may leave a message (or a service's outbox) failing on every delivery.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message, PubSub } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirestore, FirestoreBaselineStore } from '../../functions/baseline/firestore.js';
import { validateConfig } from '../../functions/config/load.js';
import { createDetectFunction, type DetectObservation } from '../../functions/detect.js';
import { createNotifyFunction } from '../../functions/notify.js';
import { createPubSub, PubSubPublisher } from '../../functions/pubsub/publisher.js';
import type { LogRecord } from '../../functions/runtime.js';
import { pushEvent } from '../support/pubsub.js';
import { emulators, expectedFindings, fixtures, hideExpectedErrors, TEST_CONFIG, waitFor } from './stack.js';

const emu = emulators();

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

interface Pulled {
  readonly data: Buffer;
  readonly attributes: Readonly<Record<string, string>>;
}

describe.skipIf(!emu)('live pipeline under failure', () => {
  const projectId = `demo-lf-${randomUUID().slice(0, 6)}`;
  let pubsub: PubSub;
  const findings: Pulled[] = [];
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    pubsub = await createPubSub(projectId);
    for (const topic of ['runwatch-findings', 'runwatch-dead-letter']) await pubsub.createTopic(topic);
    const [subscription] = await pubsub.createSubscription('runwatch-findings', 'runwatch-findings-test');
    subscription.on('message', (m: Message) => {
      findings.push({ data: m.data, attributes: { ...m.attributes } });
      m.ack();
    });
    closers.push(() => subscription.close());
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await pubsub?.close();
  });

  // A service name is not checked against Cloud Run's rules (a refused or crafted entry names any), and JSON can
  // carry half a surrogate pair (`\ud800`), which has no UTF-8 form. Such a name went as it was into the baseline
  // document's `key` field, which Firestore refused (every delivery of the entry retried its transaction until it
  // gave up), and into the finding's `service` attribute, which Pub/Sub refused (the finding stayed in the
  // service's outbox, failing every later entry of the service and every sweep tick).
  it('publishes a finding whose service name holds a lone surrogate, and the service\'s next entry too', async () => {
    const db = await createFirestore({ projectId: emu!.projectId });
    closers.push(() => db.terminate());
    const publisher = new PubSubPublisher({ projectId, publishTimeoutMs: 2_000 });
    closers.push(() => publisher.close());
    const observed: DetectObservation[] = [];
    const detect = createDetectFunction({
      env: { FINDINGS_TOPIC: 'runwatch-findings', DEAD_LETTER_TOPIC: 'runwatch-dead-letter' },
      config: validateConfig(TEST_CONFIG, 'test'),
      store: new FirestoreBaselineStore({ firestore: db, collection: `baselines-${randomUUID().slice(0, 8)}`, maxAttempts: 2 }),
      publisher,
      log: () => undefined,
      observe: (o) => observed.push(o),
    });
    closers.push(() => detect.close());

    const crafted = (insertId: string, time: string): unknown =>
      JSON.parse(
        fixture('synthetic-run-SetIamPolicy-allUsers.json')
          .replaceAll('cloudrun-exfil', 'cloudrun-\\ud800exfil')
          .replace('"syn-iam-1"', JSON.stringify(insertId))
          .replaceAll('2024-02-02T09:44:26', time),
      ) as unknown;

    await expect(detect(pushEvent(crafted('lone-1', '2024-02-02T09:44:26'), 'm-lone-1'))).resolves.toBeUndefined();
    const first = observed.find((o) => o.messageId === 'm-lone-1');
    expect(first?.outcome).toBe('processed');
    const ids = first?.outcome === 'processed' ? first.findings.map((f) => f.id) : [];
    expect(ids).toHaveLength(1);
    await waitFor('the finding on the findings topic', () => findings.some((m) => m.attributes['findingId'] === ids[0]));
    const published = findings.find((m) => m.attributes['findingId'] === ids[0])!;
    expect(published.attributes['service']).toBe('cloudrun-\ufffdexfil');

    // The service's next entry goes through: no finding is left behind in its outbox.
    await expect(detect(pushEvent(crafted('lone-2', '2024-02-02T10:44:26'), 'm-lone-2'))).resolves.toBeUndefined();
    expect(observed.find((o) => o.messageId === 'm-lone-2')?.outcome).not.toBe('failed');
    expect(detect.counts()['failed'] ?? 0).toBe(0);
  }, 30_000);

  // The project names every Firestore document and Pub/Sub topic the functions use. One set with a trailing newline
  // (or a space: pasted, or read from a file by hand) passed start-up, logged "ready", and then failed every message
  // ('Metadata string value "projects/demo-x\n/databases/(default)" contains illegal characters') until Pub/Sub
  // dead-lettered it: a malformed variable must stop the function at start-up, named, as the others do.
  it('a GOOGLE_CLOUD_PROJECT that is no project id stops detect and notify at start-up, named', async () => {
    const showErrors = hideExpectedErrors(/refuses to serve|GOOGLE_CLOUD_PROJECT|illegal characters/);
    closers.push(async () => showErrors());
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-lf-'));
    closers.push(async () => rmSync(dir, { recursive: true, force: true }));
    const configPath = join(dir, 'runwatch.json');
    writeFileSync(configPath, JSON.stringify({ ...TEST_CONFIG, sinks: { console: { minSeverity: 'LOW' } } }));
    const env = { ...emu!.env, GOOGLE_CLOUD_PROJECT: `${projectId}\n`, RUNWATCH_CONFIG: configPath, FINDINGS_TOPIC: 'runwatch-findings', DEAD_LETTER_TOPIC: 'runwatch-dead-letter' };
    const grant = fixtures().find((f) => f.name.endsWith('synthetic-pipeline-public-invoker.json'))!.entry;
    const [finding] = await expectedFindings([grant]);

    const logs: LogRecord[] = [];
    const detect = createDetectFunction({ env, log: (r) => logs.push(r) });
    closers.push(() => detect.close());
    const notify = createNotifyFunction({ env: { ...env, RUNWATCH_SINK: 'console' }, log: (r) => logs.push(r) });
    closers.push(() => notify.close());
    await expect(detect(pushEvent(grant, 'm-project-1'))).rejects.toThrow(/refuses to serve: env\.GOOGLE_CLOUD_PROJECT: /);
    await expect(notify(pushEvent(finding, 'm-project-2'))).rejects.toThrow(/refuses to serve: env\.GOOGLE_CLOUD_PROJECT: /);
    const named = logs.filter((l) => l.severity === 'CRITICAL' && l['path'] === 'env.GOOGLE_CLOUD_PROJECT');
    expect(named.map((l) => l['component'])).toEqual(['detect', 'notify (console)']);
    expect(logs.filter((l) => / ready: /.test(l.message))).toEqual([]);
  });

  // FINDINGS_TOPIC and DEAD_LETTER_TOPIC take a full name, projects/P/topics/T, whose topic id was checked and whose
  // project was not: `projects/acme-prod /topics/...` (a space before the slash) passed start-up, and every finding's
  // publish failed on it (the entry applied, its findings left in the outbox, the message retried until Pub/Sub gave up).
  it('a topic whose project is no project id stops detect at start-up, named', async () => {
    const showErrors = hideExpectedErrors(/refuses to serve|FINDINGS_TOPIC|DEAD_LETTER_TOPIC|not processed/);
    closers.push(async () => showErrors());
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-lf-'));
    closers.push(async () => rmSync(dir, { recursive: true, force: true }));
    const configPath = join(dir, 'runwatch.json');
    writeFileSync(configPath, JSON.stringify(TEST_CONFIG));
    const db = await createFirestore({ projectId: emu!.projectId });
    closers.push(() => db.terminate());
    const logs: LogRecord[] = [];
    const detect = createDetectFunction({
      env: {
        ...emu!.env,
        GOOGLE_CLOUD_PROJECT: projectId,
        RUNWATCH_CONFIG: configPath,
        FINDINGS_TOPIC: `projects/${projectId} /topics/runwatch-findings`,
        DEAD_LETTER_TOPIC: `projects/${projectId}\n/topics/runwatch-dead-letter`,
      },
      store: new FirestoreBaselineStore({ firestore: db, collection: `baselines-${randomUUID().slice(0, 8)}` }),
      log: (r) => logs.push(r),
    });
    closers.push(() => detect.close());
    const grant = fixtures().find((f) => f.name.endsWith('synthetic-pipeline-public-invoker.json'))!.entry;
    await expect(detect(pushEvent(grant, 'm-topic-1'))).rejects.toThrow(/refuses to serve: env\.FINDINGS_TOPIC: /);
    const named = logs.filter((l) => l.severity === 'CRITICAL' && l['path'] !== undefined).map((l) => l['path']);
    expect(named).toEqual(['env.FINDINGS_TOPIC', 'env.DEAD_LETTER_TOPIC']);
    expect(logs.filter((l) => / ready: /.test(l.message))).toEqual([]);
  });
});
