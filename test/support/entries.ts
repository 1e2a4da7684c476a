// Fixtures: real corpus entries (test/fixtures/corpus, copied unchanged from ../shared/corpus/entries) and
// hand-built ones (test/fixtures/synthetic-*), plus helpers that derive variants of them for edge cases.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readEnvelope } from '../../functions/audit/entry.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export type Json = Record<string, unknown>;

/**
 * The text of the fixture file at `path`, read once: fixtures do not change during a run, and the builders below read
 * the same few files thousands of times in a property test (a third of their time was the reads). Every caller still
 * parses a copy of its own.
 */
function fixtureText(path: string): string {
  let text = fixtureTexts.get(path);
  if (text === undefined) fixtureTexts.set(path, (text = readFileSync(path, 'utf8')));
  return text;
}
const fixtureTexts = new Map<string, string>();

export function corpus(name: string): Json {
  return JSON.parse(fixtureText(`${FIXTURES}corpus/${name}.json`)) as Json;
}

export function synthetic(name: string): Json {
  return JSON.parse(fixtureText(`${FIXTURES}synthetic-${name}.json`)) as Json;
}

/** A deep copy of an entry changed by `mutate`; the fixture on disk is never touched. */
export function variant(entry: Json, mutate: (copy: Json & { protoPayload: Json }) => void): Json {
  const copy = structuredClone(entry) as Json & { protoPayload: Json };
  mutate(copy);
  return copy;
}

/**
 * The same entry at another time (and with another insertId, as a distinct entry). A revision system event's
 * `response.metadata.creationTimestamp` (when its deploy created the revision, read by runwatch) moves with it, as
 * far before it as it was; a service event's (the service's creation) and an admin write's stay.
 */
export function at(entry: Json, timestamp: string, insertId = `t-${timestamp}`): Json {
  return variant(entry, (e) => {
    const metadata = revisionEventMetadata(e);
    const before = typeof e['timestamp'] === 'string' ? nanosOf(e['timestamp']) : undefined;
    const after = nanosOf(timestamp);
    const created = typeof metadata?.['creationTimestamp'] === 'string' ? metadata['creationTimestamp'] : undefined;
    if (metadata && created !== undefined && before !== undefined && after !== undefined) {
      const createdNs = nanosOf(created);
      if (createdNs !== undefined) metadata['creationTimestamp'] = timestampOf(createdNs + (after - before), fractionDigits(created));
    }
    e['timestamp'] = timestamp;
    e['insertId'] = insertId;
  });
}

/**
 * The revision system event `entry` with its revision created at `timestamp` (its `response.metadata.creationTimestamp`,
 * read as RevisionObservation.createdMs). at() keeps a fixture's gap between the two (about 19 s in synthetic-seq-*),
 * which puts a revision moved next to another write far from it; real entries show a revision created 131-143 ms after
 * the write that made it (writeTime + 140 ms: createdAfter). Throws for an entry that is not a revision event.
 */
export function createdAt(entry: Json, timestamp: string): Json {
  return variant(entry, (e) => {
    const metadata = revisionEventMetadata(e);
    if (!metadata) throw new Error('createdAt: not a revision system event');
    metadata['creationTimestamp'] = timestamp;
  });
}

/** When Cloud Run creates the revision of a write made at `writeTime`: 140 ms later, as in real entries (ISO). */
export function createdAfter(writeTime: string, ms = 140): string {
  return new Date(Date.parse(writeTime) + ms).toISOString();
}

/** The response metadata of a revision system event (`.../system_event`, a Revision), else undefined. */
function revisionEventMetadata(e: Json & { protoPayload?: Json }): Record<string, unknown> | undefined {
  if (typeof e['logName'] !== 'string' || !e['logName'].endsWith('%2Fsystem_event')) return undefined;
  const response = e.protoPayload?.['response'] as { kind?: unknown; metadata?: Record<string, unknown> } | undefined;
  const revision = response?.kind === 'Revision' || /\/revisions\//.test(String(e.protoPayload?.['resourceName'] ?? ''));
  return revision ? response?.metadata : undefined;
}

const RFC3339_UTC = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/;

/** An RFC 3339 UTC timestamp as epoch nanoseconds (its fraction whole), or undefined for another form. */
function nanosOf(timestamp: string): bigint | undefined {
  const match = RFC3339_UTC.exec(timestamp);
  if (!match) return undefined;
  const ms = Date.parse(`${match[1]}Z`);
  return Number.isNaN(ms) ? undefined : BigInt(ms) * 1_000_000n + BigInt((match[2] ?? '').padEnd(9, '0'));
}

function fractionDigits(timestamp: string): number {
  return RFC3339_UTC.exec(timestamp)?.[2]?.length ?? 0;
}

/** Epoch nanoseconds as RFC 3339 UTC, with at least `digits` fraction digits (more when the value needs them). */
function timestampOf(ns: bigint, digits: number): string {
  const seconds = ns / 1_000_000_000n - (ns % 1_000_000_000n < 0n ? 1n : 0n);
  const fraction = (ns - seconds * 1_000_000_000n).toString().padStart(9, '0');
  const needed = Math.max(digits, fraction.replace(/0+$/, '').length);
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}${needed > 0 ? `.${fraction.slice(0, needed)}` : ''}Z`;
}

type Obj = Record<string, unknown>;
function obj(value: unknown): Obj {
  return value as Obj;
}

/** Every Knative service object of a v1 entry (request and response) gets `edit`. */
export function editV1Services(entry: Json, edit: (service: Obj) => void): Json {
  return variant(entry, (e) => {
    const pp = e.protoPayload;
    const request = obj(pp['request'])?.['service'];
    if (request) edit(obj(request));
    if (pp['response']) edit(obj(pp['response']));
  });
}

export function withV1ServiceAccount(entry: Json, email: string | undefined): Json {
  return editV1Services(entry, (svc) => {
    const spec = obj(obj(obj(svc['spec'])['template'])['spec']);
    if (email === undefined) delete spec['serviceAccountName'];
    else spec['serviceAccountName'] = email;
  });
}

/** The v1 entry with its template naming its revision `revision` (`spec.template.metadata.name`), as a client may. */
export function withV1RevisionName(entry: Json, revision: string): Json {
  return editV1Services(entry, (svc) => {
    obj(obj(obj(svc['spec'])['template'])['metadata'])['name'] = revision;
  });
}

export function withV1Image(entry: Json, image: string, nonce = image): Json {
  return editV1Services(withV1Containers(entry, [{ image }]), (svc) => {
    const meta = obj(obj(obj(svc['spec'])['template'])['metadata']);
    meta['labels'] = { ...obj(meta['labels'] ?? {}), 'client.knative.dev/nonce': nonce };
  });
}

/** The v1 write's template running `containers` (several: a serving container and sidecars). */
export function withV1Containers(entry: Json, containers: readonly Obj[]): Json {
  return editV1Services(entry, (svc) => {
    obj(obj(obj(svc['spec'])['template'])['spec'])['containers'] = containers;
  });
}

/** Each real write has its own operation id (the response's `run.googleapis.com/operation-id`). */
export function withOperationId(entry: Json, operationId: string): Json {
  return variant(entry, (e) => {
    const response = obj(e.protoPayload['response']);
    const annotations = obj(obj(response['metadata'])['annotations']);
    annotations['run.googleapis.com/operation-id'] = operationId;
  });
}

export interface ServiceName {
  readonly project: string;
  readonly location: string;
  readonly service: string;
}

/**
 * The corpus DeleteService (a partial entry: its timestamp sits in protoPayload) moved onto `target` at `timestamp`.
 */
export function deleteServiceAt(timestamp: string, target: ServiceName, insertId = `del-${timestamp}`): Json {
  return variant(corpus('archicloud__Services.DeleteService__1'), (e) => {
    e['timestamp'] = timestamp;
    e['insertId'] = insertId;
    e['logName'] = `projects/${target.project}/logs/cloudaudit.googleapis.com%2Factivity`;
    e.protoPayload['resourceName'] = `namespaces/${target.project}/services/${target.service}`;
    e['resource'] = { type: 'cloud_run_revision', labels: { project_id: target.project, location: target.location, service_name: target.service } };
  });
}

/**
 * The gcloud v1 ReplaceService fixture (SLACK_BOT) at `time`, its image set to `image`, with the service annotations
 * given set (undefined: left out) in the request and in the service as stored (the response); `stored` overrides the
 * response's values (null: left out there).
 */
export function v1ServiceWrite(
  time: string,
  annotations: Readonly<Record<string, string | undefined>>,
  options: { readonly image?: string; readonly stored?: Readonly<Record<string, string | null>> } = {},
): Json {
  const image = options.image ?? 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot/cloud-run-slack-bot:1f2e3d4c5b6a';
  let side = 0;
  const entry = editV1Services(withV1Image(synthetic('v1-ReplaceService-gcloud'), image, 'nonce'), (svc) => {
    // editV1Services edits the request's service first, then the response's.
    const response = side++ > 0;
    const edited = (svc['metadata'] as Record<string, Record<string, string>>)['annotations']!;
    for (const [key, written] of Object.entries(annotations)) {
      const stored = options.stored?.[key];
      const value = response && stored !== undefined ? (stored ?? undefined) : written;
      if (value === undefined) delete edited[key];
      else edited[key] = value;
    }
  });
  return at(withOperationId(entry, `op-${time}`), time);
}

/** Environment variables as a container's `env` lists them. */
export type EnvList = readonly Record<string, unknown>[];

/**
 * The gcloud v1 fixture (SLACK_BOT) at `time`, its one container `app` running `image` with `env` (a new image each
 * time by default, so each is a new revision); `env` undefined: the write logs no containers (as console writes).
 */
export function v1EnvDeploy(time: string, env: EnvList | undefined, image = `gcr.io/acme/app:${time}`): Json {
  const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
    const template = (svc['spec'] as Record<string, Record<string, Record<string, unknown>>>)['template']!;
    template['spec']!['containers'] = env === undefined ? [] : [{ name: 'app', image, env }];
  });
  return at(withOperationId(entry, `op-${time}`), time);
}

/**
 * The gcloud v1 fixture (SLACK_BOT) at `time` with two containers: `app` (it declares the port) with `app` as its env,
 * and an `otel` sidecar with `sidecar`.
 */
export function v1SidecarEnvDeploy(time: string, app: EnvList, sidecar: EnvList): Json {
  const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
    const template = (svc['spec'] as Record<string, Record<string, Record<string, unknown>>>)['template']!;
    template['spec']!['containers'] = [
      { name: 'app', image: `gcr.io/acme/app:${time}`, ports: [{ containerPort: 8080 }], env: app },
      { name: 'otel', image: 'gcr.io/acme/otel-node:1', env: sidecar },
    ];
  });
  return at(withOperationId(entry, `op-${time}`), time);
}

/**
 * The console deploy sequence on SLACK_BOT (`synthetic-seq-console-deploy`: its write logged without containers, then
 * the revision's and the service's system events, whole), the revision's one container given `env` in both events.
 */
export function consoleEnvSequence(env: EnvList): Json[] {
  const [write, revisionEvent, serviceEvent] = synthetic('seq-console-deploy') as unknown as Json[];
  const response = (e: Json): Record<string, Record<string, unknown>> => (e['protoPayload'] as Json)['response'] as Record<string, Record<string, unknown>>;
  const setEnv = (spec: Record<string, unknown>): void => {
    const containers = spec['containers'] as Record<string, unknown>[];
    containers[0]!['env'] = env;
  };
  return [
    write!,
    variant(revisionEvent!, (e) => setEnv(response(e)['spec']!)),
    variant(serviceEvent!, (e) => setEnv((response(e)['spec']!['template'] as Record<string, Record<string, unknown>>)['spec']!)),
  ];
}

/** The v2 UpdateService fixture at `time`, its container's env set to `env`, with an update mask of `mask` when given. */
export function v2EnvUpdate(time: string, env: EnvList, mask?: string[]): Json {
  return at(
    variant(synthetic('v2-UpdateService'), (e) => {
      const request = e.protoPayload['request'] as Record<string, Record<string, Record<string, unknown>>>;
      const containers = request['service']!['template']!['containers'] as Record<string, unknown>[];
      containers[0]!['env'] = env;
      if (mask) (request as Record<string, unknown>)['updateMask'] = { paths: mask };
    }),
    time,
  );
}

/** The same entry made by `principal` (its `authenticationInfo.principalEmail`). */
export function byPrincipal(entry: Json, principal: string): Json {
  return variant(entry, (e) => {
    (e.protoPayload['authenticationInfo'] as Record<string, unknown>)['principalEmail'] = principal;
  });
}

/** The allUsers invoker grant fixture (`synthetic-run-SetIamPolicy-allUsers`) moved onto `target` at `timestamp`. */
export function allUsersGrantOn(timestamp: string, target: ServiceName): Json {
  const grant = at(synthetic('run-SetIamPolicy-allUsers'), timestamp);
  const labels = (grant as { resource: { labels: Record<string, string> } }).resource.labels;
  return variant(grant, (e) => {
    e['resource'] = { type: 'cloud_run_revision', labels: { ...labels, project_id: target.project, location: target.location, service_name: target.service } };
    e.protoPayload['resourceName'] = `projects/${target.project}/locations/${target.location}/services/${target.service}`;
    e['logName'] = `projects/${target.project}/logs/cloudaudit.googleapis.com%2Factivity`;
  });
}

/** The service of the gcloud and console fixtures (`synthetic-v1-ReplaceService-gcloud`, `synthetic-seq-*`). */
export const SLACK_BOT: ServiceName = { project: 'test-project-1234', location: 'asia-northeast1', service: 'cloud-run-slack-bot' };

/** The entries of each fixture file (test/fixtures, then corpus/ and pipeline/), one list per file, in directory order. */
export function fixtureFiles(): Json[][] {
  return ['', 'corpus/', 'pipeline/'].flatMap((dir) =>
    readdirSync(`${FIXTURES}${dir}`)
      .filter((name) => name.endsWith('.json'))
      .map((name) => {
        const value = JSON.parse(fixtureText(`${FIXTURES}${dir}${name}`)) as Json | Json[];
        return Array.isArray(value) ? value : [value];
      }),
  );
}

/** Every entry of every fixture (test/fixtures, then corpus/ and pipeline/): documents and arrays, in directory order. */
export function fixtureEntries(): Json[] {
  return fixtureFiles().flat();
}

function entryTimeMs(entry: unknown): number {
  const envelope = readEnvelope(entry);
  return envelope.ok ? envelope.envelope.timeMs : 0;
}

/**
 * Two to four of `files` (fixtureFiles) picked by `next`, their entries in timestamp order: services of several files
 * meet in one baseline. A file holding an entry at an instant already in the mix (a synthetic copy of a real entry:
 * one event) is left out. Hand-built fixtures share one `client.knative.dev/nonce`; Cloud Run clients write a fresh
 * one for each deploy (two deploys of one template would be one revision): each file gets its own, named after `tag`.
 */
export function fixtureMix(files: readonly (readonly Json[])[], next: () => number, tag: string): Json[] {
  const entries: Json[] = [];
  const instants = new Set<number>();
  for (let i = 0, count = 2 + Math.floor(next() * 3); i < count; i++) {
    const file = files[Math.floor(next() * files.length)]!;
    if (file.some((e) => instants.has(entryTimeMs(e)))) continue;
    for (const e of file) instants.add(entryTimeMs(e));
    const nonce = `"client.knative.dev/nonce":"${tag}-${i}"`;
    entries.push(...file.map((e) => JSON.parse(JSON.stringify(e).replaceAll('"client.knative.dev/nonce":"abcdefghij"', nonce)) as Json));
  }
  // Stable: entries of one instant keep their file order.
  return entries.sort((a, b) => entryTimeMs(a) - entryTimeMs(b));
}

/**
 * `entries` as Pub/Sub may deliver them: some swapped with one up to three places on when their times are within
 * `windowMs` (a minute: a nack and its backoff put an entry behind the next ones).
 */
export function deliveredOutOfOrder(entries: readonly Json[], next: () => number, windowMs = 60_000): Json[] {
  const delivered = [...entries];
  for (let a = 0; a < delivered.length; a++) {
    const b = a + 1 + Math.floor(next() * 3);
    if (b < delivered.length && next() < 0.5 && Math.abs(entryTimeMs(delivered[b]) - entryTimeMs(delivered[a])) <= windowMs) [delivered[a], delivered[b]] = [delivered[b]!, delivered[a]!];
  }
  return delivered;
}

/** Every entry of the demo's logs (examples/logs: JSON arrays and NDJSON), in directory order. */
export function exampleEntries(): Json[] {
  const dir = fileURLToPath(new URL('../../examples/logs/', import.meta.url));
  return readdirSync(dir).flatMap((name) => {
    const text = readFileSync(`${dir}${name}`, 'utf8');
    if (name.endsWith('.json')) {
      const value = JSON.parse(text) as Json | Json[];
      return Array.isArray(value) ? value : [value];
    }
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Json);
  });
}

/** One replacement throughout an entry's JSON: a string, or a global pattern. */
export type Rename = readonly [string | RegExp, string];

/** `value` (an entry or a list of them) with each replacement made throughout its JSON: moved to another name. */
export function renamed<T>(value: T, renames: readonly Rename[]): T {
  let text = JSON.stringify(value);
  for (const [from, to] of renames) text = text.replaceAll(from, to);
  return JSON.parse(text) as T;
}

/** Moves the storefront fixtures (acme-prod, europe-west1) to the corpus's slackbot service, whose baseline it shares. */
export const STOREFRONT_AS_SLACK_BOT: readonly Rename[] = [
  ['acme-prod', 'test-project-1234'],
  ['europe-west1', 'asia-northeast1'],
  ['services/storefront', 'services/cloud-run-slack-bot'],
  ['"storefront"', '"cloud-run-slack-bot"'],
];

/** Sets a revision event's `serving.knative.dev/creator`. */
export function creatorIs(email: string): Rename {
  return [/"serving\.knative\.dev\/creator":\s*"[^"]*"/g, `"serving.knative.dev/creator":"${email}"`];
}

/** The revision name and event operation id of `synthetic-seq-v2-operation`'s revision event, to rename. */
export const SEQ_V2_REVISION = 'storefront-00001-abc';
export const SEQ_V2_EVENT_OPERATION = '9b7f3c20-5e61-4d0a-8c3e-2f4a6b8d1e07';

/** A v2 UpdateService (STOREFRONT_AS_SLACK_BOT) of the ingress alone (update mask `ingress`: no template, no revision: judged as it comes) at `time`. */
export function ingressOnly(time: string, ingress: 'INGRESS_TRAFFIC_INTERNAL_ONLY' | 'INGRESS_TRAFFIC_ALL'): Json {
  const entry = renamed(synthetic('v2-UpdateService'), STOREFRONT_AS_SLACK_BOT);
  const payload = entry['protoPayload'] as Record<string, Record<string, unknown>>;
  (payload['request']!['service'] as Record<string, unknown>)['ingress'] = ingress;
  payload['request']!['updateMask'] = { paths: ['ingress'] };
  payload['response']!['name'] = `projects/test-project-1234/locations/asia-northeast1/operations/v2-${time}`;
  return at(entry, time, `v2-${time}`);
}

/** The v1 write leaving the service at `generation` (`response.metadata.generation`): its revision is `SERVICE-0000G-xxx`. */
export function withV1Generation(entry: Json, generation: number): Json {
  return variant(entry, (e) => {
    const response = obj(e.protoPayload['response']);
    obj(response['metadata'])['generation'] = generation;
  });
}

/**
 * gcloud's v1 deploy of cloud-run-slack-bot (the corpus ReplaceService) at `time`, running as `email` (undefined: the
 * default compute SA) and `image`, leaving the service at `generation`: its revision is `cloud-run-slack-bot-0000G-xxx`
 * (when its template differs from the one before: else it makes none).
 */
export function generationDeploy(time: string, email: string | undefined, generation: number, image = 'gcr.io/test-project-1234/bot:1'): Json {
  const write = withV1Image(withV1ServiceAccount(corpus('slackbot__Services.ReplaceService__1'), email), image);
  return at(withV1Generation(withOperationId(write, `op-${time}`), generation), time);
}

/**
 * `gcloud run services update-traffic` on cloud-run-slack-bot: the same template as generationDeploy's (running as
 * `email`), with the traffic list `traffic`, at `generation` (a traffic change moves the service's generation on
 * without making a revision).
 */
export function v1TrafficWrite(time: string, email: string | undefined, generation: number, traffic: readonly Obj[], image?: string): Json {
  return editV1Services(generationDeploy(time, email, generation, image), (svc) => void (obj(svc['spec'])['traffic'] = traffic));
}

/**
 * A traffic target sending `percent` to cloud-run-slack-bot's revision of `generation`, named as Cloud Run names it:
 * `cloud-run-slack-bot-0000G-rGG` (three characters after the generation: `r` and its last two digits).
 */
export function trafficToRevision(generation: number, percent = 100): Obj {
  return { revisionName: `cloud-run-slack-bot-${String(generation).padStart(5, '0')}-r${String(generation % 100).padStart(2, '0')}`, percent };
}

/**
 * The system events of generationDeploy(time, email, generation)'s revision (synthetic-seq-console-deploy's, renamed):
 * the revision `cloud-run-slack-bot-0000G-rGG` (as Cloud Run names it after the generation) created 140 ms after the
 * write, under its operation id, running as `email`; its Ready event 13 s after the write, the service's 15 s after.
 */
export function generationDeployEvents(time: string, email: string, generation: number): [Json, Json] {
  const [, consoleRevision, consoleService] = synthetic('seq-console-deploy') as unknown as [Json, Json, Json];
  const revision = `cloud-run-slack-bot-${String(generation).padStart(5, '0')}-r${String(generation % 100).padStart(2, '0')}`;
  const renames = [
    ['cloud-run-slack-bot-00023-kiv', revision],
    ['7a9d252c-a432-4fa8-a1ac-1a6fe9e135c0', `op-${time}`],
    ['"serving.knative.dev/configurationGeneration": "23"', `"serving.knative.dev/configurationGeneration": "${generation}"`],
    ['cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com', email],
  ] as const;
  const ms = Date.parse(time);
  const revisionEvent = createdAt(at(renamed(consoleRevision, renames), new Date(ms + 13_000).toISOString(), `rev-${time}`), createdAfter(time));
  const serviceEvent = at(renamed(consoleService, renames), new Date(ms + 15_000).toISOString(), `svc-${time}`);
  return [revisionEvent, serviceEvent];
}
