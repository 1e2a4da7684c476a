// Audit logs kept in BigQuery, exported as JSON rows, replay to exactly the findings (ids included) of the LogEntries
// they were, in every replay mode: rows of a log sink's tables (`protopayload_auditlog`, as `bq extract` writes them)
// and of Log Analytics' `_AllLogs` (`proto_payload.audit_log`, as EXPORT DATA writes them), test/fixtures/synthetic-bq-*
// (built from the fixtures named below by scripts/synthetic-bq-rows.mjs; see synthetic-bq-SOURCES.md); the rows as
// `bq query --format=json` prints them; rows and LogEntries mixed in one file; a row whose JSON text does not parse, or parses to no object.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { normalizeTimestamp, readEnvelope } from '../../functions/audit/entry.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { Finding } from '../../functions/findings/finding.js';
import { entriesByParsing, scannedTime } from '../../functions/replay/lineKey.js';
import { projectBytes } from '../../functions/replay/partition.js';
import { replay, type ReplayStats } from '../../functions/replay/replay.js';
import type { Json } from '../support/entries.js';
import { config } from '../support/run.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const cfg = config({
  changeWindows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
  rules: {
    'new-image-repository': { trustedRepositories: ['europe-west1-docker.pkg.dev/*/*'] },
    'unapproved-deployer': { allowedDeployers: ['serviceAccount:*'] },
  },
});

/** Each source fixture, the rows built from it (synthetic-bq-SHAPE-NAME.ndjson), and how many findings it raises. */
const CASES = [
  { name: 'v1-ReplaceService', source: 'corpus/slackbot__Services.ReplaceService__1.json', findings: 2 },
  { name: 'v2-UpdateService', source: 'synthetic-v2-UpdateService.json', findings: 4 },
  // A real project SetIamPolicy with a policy delta (a conditional roles/run.admin grant): evaluated, no finding.
  { name: 'SetIamPolicy-policy-delta', source: 'corpus/archicloud__SetIamPolicy__1.json', findings: 0 },
  { name: 'project-SetIamPolicy-run-invoker-allUsers', source: 'synthetic-project-SetIamPolicy-run-invoker-allUsers.json', findings: 1 },
  { name: 'sysevent-Services.ReplaceService', source: 'corpus/aegisai__sysevent-Services.ReplaceService__1.json', findings: 3 },
  { name: 'seq-v2-operation', source: 'synthetic-seq-v2-operation.json', findings: 2 },
  { name: 'seq-console-deploy', source: 'synthetic-seq-console-deploy.json', findings: 3 },
] as const;
const SHAPES = ['sink', 'analytics'] as const;

/** One thread; worker threads that parse (a store is kept); worker threads that own projects (partition.ts). */
const MODES = [
  { mode: 'one thread', workers: 0, store: false },
  { mode: 'parse workers', workers: 2, store: true },
  { mode: 'engine workers by project', workers: 2, store: false },
] as const;

function entriesOf(source: string): Json[] {
  const value = JSON.parse(readFileSync(`${FIXTURES}${source}`, 'utf8')) as Json | Json[];
  return Array.isArray(value) ? value : [value];
}

function rowsOf(shape: string, name: string): Json[] {
  return readFileSync(`${FIXTURES}synthetic-bq-${shape}-${name}.ndjson`, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Json);
}

const dir = mkdtempSync(join(tmpdir(), 'runwatch-bq-'));
let files = 0;
function ndjsonFile(values: readonly unknown[]): string {
  const path = join(dir, `input-${files++}.ndjson`);
  writeFileSync(path, values.map((v) => `${JSON.stringify(v)}\n`).join(''));
  return path;
}

interface Outcome {
  readonly findings: string[];
  readonly stats: ReplayStats;
}

async function run(path: string, mode: (typeof MODES)[number]): Promise<Outcome> {
  const findings: string[] = [];
  const stats = await replay({
    config: cfg,
    paths: [path],
    workers: mode.workers,
    ...(mode.store ? { store: new MemoryBaselineStore() } : {}),
    onFinding: (f: Finding) => void findings.push(JSON.stringify(f)),
  });
  return { findings: findings.sort(), stats };
}

/** The counts two runs over the same entries share (malformed examples name their file). */
function counts(stats: ReplayStats): Omit<ReplayStats, 'malformedExamples'> {
  const { malformedExamples: _examples, ...rest } = stats;
  return rest;
}

/** The projects a source fixture's entries are logged in (logName's). */
function projectsOf(source: string): string[] {
  return [...new Set(entriesOf(source).map((entry) => /^projects\/([^/]+)\//.exec(String(entry['logName']))?.[1] ?? ''))];
}

/** The findings (JSON text, sorted) of the given projects. */
function ofProjects(findings: readonly string[], projects: readonly string[]): string[] {
  return findings.filter((f) => projects.includes((JSON.parse(f) as Finding).project));
}

/**
 * The cases in groups whose cases share no project, in CASES' order. The worker modes start threads for each
 * replay (most of this file's time, one case a file): there a group's rows are replayed together, and each case
 * reads its own findings out of the group's by project. Safe because replay keeps projects apart: every baseline
 * (a service's, a project's IAM) belongs to one project, and a project's waiting deploys are completed by its own
 * entries alone (partition.ts, which the engine-worker mode is built on). The tests below check it too: the
 * group's LogEntries on one thread give each case the findings of its LogEntries alone.
 */
function disjointGroups(cases: readonly (typeof CASES)[number][]): (typeof CASES)[number][][] {
  const groups: { projects: Set<string>; cases: (typeof CASES)[number][] }[] = [];
  for (const c of cases) {
    const projects = projectsOf(c.source);
    let group = groups.find((g) => projects.every((p) => !g.projects.has(p)));
    if (!group) groups.push((group = { projects: new Set(), cases: [] }));
    for (const p of projects) group.projects.add(p);
    group.cases.push(c);
  }
  return groups.map((g) => g.cases);
}
const GROUPS = disjointGroups(CASES);

interface GroupOutcome {
  /** The group's LogEntries on one thread. */
  readonly reference: Outcome;
  /** The group's rows in each worker mode. */
  readonly modes: readonly { readonly mode: (typeof MODES)[number]; readonly outcome: Outcome }[];
}

const groupRuns = new Map<string, Promise<GroupOutcome>>();
/** The replays of the group of case `name` in `shape`, run once for every case of the group. */
function groupOf(shape: string, name: string): Promise<GroupOutcome> {
  const group = GROUPS.find((g) => g.some((c) => c.name === name))!;
  const key = `${shape} ${group.map((c) => c.name).join()}`;
  let runs = groupRuns.get(key);
  if (!runs) {
    runs = (async () => {
      const reference = await run(ndjsonFile(group.flatMap((c) => entriesOf(c.source))), MODES[0]);
      const rows = ndjsonFile(group.flatMap((c) => rowsOf(shape, c.name)));
      const modes = [];
      for (const mode of MODES.slice(1)) modes.push({ mode, outcome: await run(rows, mode) });
      return { reference, modes };
    })();
    groupRuns.set(key, runs);
  }
  return runs;
}

describe('BigQuery rows replay to the findings of the LogEntries they were', () => {
  for (const shape of SHAPES) {
    it.each(CASES)(`${shape} rows: $name, every replay mode`, async ({ name, source, findings }) => {
      const reference = await run(ndjsonFile(entriesOf(source)), MODES[0]);
      expect(reference.findings).toHaveLength(findings);
      expect(reference.stats.malformed.size).toBe(0);
      // One thread: the case's rows alone.
      const alone = await run(ndjsonFile(rowsOf(shape, name)), MODES[0]);
      expect(alone.findings, `${name}, ${MODES[0].mode}`).toEqual(reference.findings);
      expect(counts(alone.stats), `${name}, ${MODES[0].mode}`).toEqual(counts(reference.stats));
      // The worker modes: the case's findings out of its group's rows (see disjointGroups), the group's counts.
      const projects = projectsOf(source);
      const group = await groupOf(shape, name);
      expect(ofProjects(group.reference.findings, projects), `${name}, its group's LogEntries`).toEqual(reference.findings);
      for (const { mode, outcome } of group.modes) {
        expect(ofProjects(outcome.findings, projects), `${name}, ${mode.mode}`).toEqual(reference.findings);
        expect(counts(outcome.stats), `${name}'s group, ${mode.mode}`).toEqual(counts(group.reference.stats));
      }
    }, 30_000);
  }

  it('rows as `bq query --format=json` prints them (an array, every value a string, times to the second)', async () => {
    for (const shape of SHAPES) {
      for (const { name, source, findings } of CASES) {
        const path = join(dir, `bq-query-${shape}-${name}.json`);
        writeFileSync(path, JSON.stringify(rowsOf(shape, name).map(bqQueryForm), null, 2));
        const reference = await run(ndjsonFile(entriesOf(source).map(toTheSecond)), MODES[0]);
        expect(reference.findings, `${shape} ${name}`).toHaveLength(findings);
        for (const mode of MODES) {
          const outcome = await run(path, mode);
          expect(outcome.findings, `${shape} ${name}, ${mode.mode}`).toEqual(reference.findings);
          expect(counts(outcome.stats), `${shape} ${name}, ${mode.mode}`).toEqual(counts(reference.stats));
        }
      }
    }
  }, 60_000);

  it('a file mixing LogEntries, sink rows and Log Analytics rows of one deploy gives the findings of its LogEntries', async () => {
    const entries = [...entriesOf('synthetic-seq-console-deploy.json'), ...entriesOf('synthetic-v2-UpdateService.json')];
    const sink = rowsOf('sink', 'seq-console-deploy');
    const analytics = rowsOf('analytics', 'seq-console-deploy');
    // The admin write as a sink row, a system event as a LogEntry, the other as a Log Analytics row; another deploy as a LogEntry.
    const mixed = ndjsonFile([sink[0], entries[1], analytics[2], entries[3]]);
    const reference = await run(ndjsonFile(entries), MODES[0]);
    expect(reference.findings).toHaveLength(7);
    for (const mode of MODES) {
      const outcome = await run(mixed, mode);
      expect(outcome.findings, mode.mode).toEqual(reference.findings);
      expect(counts(outcome.stats), mode.mode).toEqual(counts(reference.stats));
    }
  }, 30_000);
});

describe('a row whose JSON text does not parse, or parses to no object, is a malformed entry, with the field it names', () => {
  const [sinkRow] = rowsOf('sink', 'v1-ReplaceService');
  const [analyticsRow] = rowsOf('analytics', 'v1-ReplaceService');
  const cut = (text: string): string => text.slice(0, Math.floor(text.length / 2));
  const CUT_ROWS = [
    {
      what: 'a sink row with requestJson cut short',
      row: withPayload(sinkRow!, 'protopayload_auditlog', (pp) => ({ ...pp, requestJson: cut(pp['requestJson'] as string) })),
      reason: /^BigQuery row: protopayload_auditlog\.requestJson is not JSON/,
    },
    {
      what: 'a sink row with responseJson not JSON text',
      row: withPayload(sinkRow!, 'protopayload_auditlog', (pp) => ({ ...pp, responseJson: 'not json' })),
      reason: /^BigQuery row: protopayload_auditlog\.responseJson is not JSON/,
    },
    {
      what: 'a Log Analytics row whose request is JSON text cut short',
      row: { ...analyticsRow!, proto_payload: { audit_log: { ...auditLogOf(analyticsRow!), request: cut(JSON.stringify(auditLogOf(analyticsRow!)['request'])) } } },
      reason: /^BigQuery row: proto_payload\.audit_log\.request is not JSON/,
    },
    // JSON that parses, but to no object: a Struct (request, response, service data) and a label map are written as
    // one, so such a row is damaged, not a call that logged nothing (its facts would have come from the rest).
    {
      what: 'a sink row whose requestJson is the JSON text of a number',
      row: withPayload(sinkRow!, 'protopayload_auditlog', (pp) => ({ ...pp, requestJson: '42' })),
      reason: /^BigQuery row: protopayload_auditlog\.requestJson is not a JSON object/,
    },
    {
      what: 'a sink row whose responseJson is the JSON text of an array',
      row: withPayload(sinkRow!, 'protopayload_auditlog', (pp) => ({ ...pp, responseJson: '[]' })),
      reason: /^BigQuery row: protopayload_auditlog\.responseJson is not a JSON object/,
    },
    {
      what: 'a Log Analytics row whose resource.labels is the JSON text of a string',
      row: { ...analyticsRow!, resource: { type: 'cloud_run_revision', labels: JSON.stringify(JSON.stringify((analyticsRow!['resource'] as Json)['labels'])) } },
      reason: /^BigQuery row: resource\.labels is not a JSON object/,
    },
    {
      what: 'a Log Analytics row whose service_data is an array',
      row: { ...analyticsRow!, proto_payload: { audit_log: { ...auditLogOf(analyticsRow!), service_data: [{ policyDelta: {} }] } } },
      reason: /^BigQuery row: proto_payload\.audit_log\.service_data is not a JSON object/,
    },
  ];

  // One file holds a good row, then every damaged row, each on its line (line 2 on): one replay per mode serves them
  // all, each row's test reading the example at its own line and its reason's count. Safe: a row's JSON text is read
  // line by line, and a malformed row reaches no baseline; every reason is counted under a key of its own.
  const good = rowsOf('sink', 'sysevent-Services.ReplaceService');
  let replays: Promise<{ path: string; reference: Outcome; modes: { mode: (typeof MODES)[number]; outcome: Outcome }[] }> | undefined;
  const replayed = (): NonNullable<typeof replays> =>
    (replays ??= (async () => {
      const path = ndjsonFile([good[0], ...CUT_ROWS.map((c) => c.row)]);
      const reference = await run(ndjsonFile(entriesOf('corpus/aegisai__sysevent-Services.ReplaceService__1.json')), MODES[0]);
      const modes = [];
      for (const mode of MODES) modes.push({ mode, outcome: await run(path, mode) });
      return { path, reference, modes };
    })());

  it.each(CUT_ROWS.map((c, i) => ({ ...c, line: i + 2 })))('$what: counted malformed in every mode, the rows around it replayed', async ({ row, reason, line }) => {
    const { path, reference, modes } = await replayed();
    const at = new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}: `);
    for (const { mode, outcome } of modes) {
      // One malformed entry per damaged row, each reason counted once.
      expect([...outcome.stats.malformed.values()], mode.mode).toEqual(CUT_ROWS.map(() => 1));
      expect(outcome.stats.malformedExamples, mode.mode).toHaveLength(CUT_ROWS.length);
      const example = outcome.stats.malformedExamples.filter((e) => at.test(e));
      expect(example, mode.mode).toHaveLength(1);
      expect(example[0]!.replace(at, ''), mode.mode).toMatch(new RegExp(`^${reason.source.slice(1)}`));
      expect(outcome.findings, mode.mode).toEqual(reference.findings);
    }
    expect(readEnvelope(row)).toMatchObject({ ok: false, reason: expect.stringMatching(reason) });
  }, 30_000);
});

describe('the partitioned replay orders and routes a row from its bytes as its parsed entry says', () => {
  const lines = SHAPES.flatMap((shape) =>
    CASES.flatMap(({ name, source }) => {
      const entries = entriesOf(source);
      return rowsOf(shape, name).map((row, i) => ({ what: `${shape} ${name} [${i}]`, row, entry: entries[i]! }));
    }),
  );

  it.each(lines)('$what: read from its bytes the same as parsed, and as its LogEntry', ({ row, entry }) => {
    const expected = readEnvelope(entry);
    if (!expected.ok) throw new Error(expected.reason);
    const time = { timeMs: expected.envelope.timeMs, iso: expected.envelope.time };
    for (const text of [JSON.stringify(row), JSON.stringify(bqQueryForm(row))]) {
      const parsed = entriesByParsing(text)?.entries[0]?.time;
      const fromEntry = text === JSON.stringify(row) ? time : { timeMs: Math.floor(time.timeMs / 1000) * 1000, iso: `${time.iso.slice(0, 19)}Z` };
      expect(parsed).toMatchObject(fromEntry);
      // From its bytes: the parsed time, or none (then the line is parsed): never another one.
      const scanned = scannedTime(Buffer.from(text), 0, Buffer.byteLength(text));
      if (scanned !== undefined) expect(scanned).toEqual(parsed);
      // Routed to the worker of its LogEntry's project (logName's).
      const project = /^projects\/([^/]+)\//.exec(String(entry['logName']))?.[1] ?? '';
      expect(projectBytes(Buffer.from(text)).toString(), text.slice(0, 80)).toBe(project);
    }
  });
});

// `runwatch publish` sends this LogEntry (and its `timestamp` as the `logging.googleapis.com/timestamp` attribute) to
// subscribers that read it as a Cloud Logging sink's: RFC 3339, as protocol buffers' JSON writes a Timestamp.
describe('the LogEntry a row was carries its times in RFC 3339, as Cloud Logging writes them', () => {
  const rows = SHAPES.flatMap((shape) =>
    CASES.flatMap(({ name, source }) => {
      const entries = entriesOf(source);
      return rowsOf(shape, name).flatMap((row, i) => [
        { what: `${shape} ${name} [${i}] as exported`, row, entry: entries[i]! },
        { what: `${shape} ${name} [${i}] as \`bq query\` prints it`, row: bqQueryForm(row), entry: toTheSecond(entries[i]!) },
      ]);
    }),
  );

  it.each(rows)('$what', ({ row, entry }) => {
    const read = readEnvelope(row);
    const expected = readEnvelope(entry);
    if (!read.ok || !expected.ok) throw new Error('unreadable fixture');
    expect(read.envelope.entry['timestamp']).toBe(expected.envelope.time);
    // The receive time to the microsecond (or the second) the row kept, written as Cloud Logging writes one.
    const receive = read.envelope.entry['receiveTimestamp'];
    if (typeof entry['receiveTimestamp'] === 'string') expect(receive).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3}|\.\d{6})?Z$/);
    if (typeof receive === 'string') expect(normalizeTimestamp(receive)?.iso).toBe(receive);
  });
});

function auditLogOf(row: Json): Json {
  return (row['proto_payload'] as Json)['audit_log'] as Json;
}

function withPayload(row: Json, key: string, change: (payload: Json) => Json): Json {
  return { ...row, [key]: change(row[key] as Json) };
}

/**
 * A row as `bq query --format=json` prints it (see functions/audit/bigQueryRow.ts): every value a string, JSON
 * columns as JSON text, a NULL column as null, a TIMESTAMP as bq's own formatting writes it, `YYYY-MM-DD HH:MM:SS`
 * (to the second, no zone).
 */
function bqQueryForm(row: Json): Json {
  const time = (value: unknown): unknown => (typeof value === 'string' ? toSecond(value).replace('T', ' ').replace(/Z$/, '') : value);
  const strings = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strings);
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strings(v)]));
    return typeof value === 'string' ? value : String(value);
  };
  // Columns the entry had no value for, printed as null.
  const out: Json = { ...(strings(row) as Json), trace: null, operation: row['operation'] === undefined ? null : strings(row['operation']) };
  for (const key of ['timestamp', 'receiveTimestamp', 'receive_timestamp']) if (key in out) out[key] = time(fromBigQueryTime(String(row[key])));
  const payload = row['proto_payload'] as Json | undefined;
  if (payload) {
    // Log Analytics' JSON columns: JSON text in bq's output.
    const log = { ...(out['proto_payload'] as Json)['audit_log'] as Json };
    const original = auditLogOf(row);
    for (const key of ['request', 'response', 'service_data']) if (key in original) log[key] = JSON.stringify(original[key]);
    out['proto_payload'] = { audit_log: log };
    const resource = row['resource'] as Json | undefined;
    if (resource) out['resource'] = { type: resource['type'], labels: JSON.stringify(resource['labels']) };
  }
  return out;
}

/** `2024-05-06 22:58:04.355675 UTC` (bq extract) or RFC 3339 as RFC 3339. */
function fromBigQueryTime(text: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) UTC$/.exec(text);
  return m ? `${m[1]}T${m[2]}Z` : text;
}

function toSecond(iso: string): string {
  return `${iso.slice(0, 19)}Z`;
}

/** The entry at its time to the second, as a `bq query --format=json` row keeps it. */
function toTheSecond(entry: Json): Json {
  const copy = structuredClone(entry);
  for (const key of ['timestamp', 'receiveTimestamp']) if (typeof copy[key] === 'string') copy[key] = toSecond(copy[key]);
  const payload = copy['protoPayload'] as Json | undefined;
  if (payload && typeof payload['timestamp'] === 'string') payload['timestamp'] = toSecond(payload['timestamp']);
  return copy;
}
