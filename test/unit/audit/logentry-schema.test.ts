// schemas/logentry.schema.json is a contract for what the normalizer reads; these tests keep the two in agreement.
// - every real and synthetic entry (fixtures, examples, the bench generator) is accepted by the schema exactly when
//   the normalizer can read it, and each one it rejects is listed with why;
// - entries the schema rejects because a hard requirement fails are reported (malformed, or skipped with a reason);
// - entries it rejects because an optional field has the wrong type are read as if that field were absent;
// - entries it accepts are never malformed;
// - a BigQuery row (test/fixtures/synthetic-bq-*) is no LogEntry: it is read as the LogEntry it was, which validates.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { describe, expect, it } from 'vitest';
import schema from '../../../schemas/logentry.schema.json' with { type: 'json' };
import { generate } from '../../../bench/generate.js';
import { normalizeTimestamp, readEnvelope } from '../../../functions/audit/entry.js';
import { parseEntry, type ParseResult } from '../../../functions/audit/normalize.js';
import { malformedKind } from '../../../functions/replay/replay.js';
import { runwatch } from '../../support/cli.js';
import { corpus, synthetic, variant, type Json } from '../../support/entries.js';
import { TIMESTAMP_FORMS } from '../../support/timestamps.js';

const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);

function errorsOf(entry: unknown): readonly ErrorObject[] {
  return validate(entry) ? [] : (validate.errors ?? []);
}

/** The JSON pointers of the values the schema rejected (keyword errors, not the if/then bookkeeping around them). */
function rejectedPaths(entry: unknown): string[] {
  return [...new Set(errorsOf(entry).filter((e) => !['if', 'anyOf', 'allOf'].includes(e.keyword)).map((e) => e.instancePath))].sort();
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Every entry of a fixture file: one object, a JSON array, or NDJSON lines. */
function entriesOf(file: string): unknown[] {
  const text = readFileSync(file, 'utf8');
  if (file.endsWith('.ndjson')) return text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as unknown);
  const value = JSON.parse(text) as unknown;
  return Array.isArray(value) ? value : [value];
}

function jsonFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && /\.(nd)?json$/.test(d.name))
    .map((d) => join(d.parentPath, d.name))
    .sort();
}

/** BigQuery rows of audit entries (their own test below), not LogEntries. */
const isBigQueryRows = (file: string): boolean => file.includes('/synthetic-bq-');
/** Replay state files (`--state`, the baselines a replay wrote), not LogEntries. */
const isStateFile = (file: string): boolean => /\/state-[^/]*\.json$/.test(file);
const FIXTURE_FILES = [...jsonFiles('test/fixtures'), ...jsonFiles('examples/logs')].filter((file) => !isBigQueryRows(file) && !isStateFile(file));

/**
 * Real entries the schema rejects, with where and what the normalizer does with them. Everything else it reads
 * must validate. The Panther rows elide values as the string "..." (MANIFEST.md: keep them for rule-level tests,
 * not for conformance); the payload-only excerpts have no envelope, so no time.
 */
const REJECTED: Record<string, { readonly paths: readonly string[]; readonly outcome: Partial<ParseResult> }> = {
  // No time anywhere: an excerpt of the payload alone, without its LogEntry.
  'test/fixtures/corpus/mybazaar__FunctionService.UpdateFunction__payloadonly__1.json': { paths: [''], outcome: { kind: 'malformed', reason: 'entry has no timestamp' } },
  'test/fixtures/corpus/mybazaar__FunctionService.UpdateFunction__payloadonly__2.json': { paths: [''], outcome: { kind: 'malformed', reason: 'entry has no timestamp' } },
  'test/fixtures/corpus/panther__SetIamPolicy__5.json': { paths: [''], outcome: { kind: 'malformed', reason: 'entry has no timestamp' } },
  // Workload logs (textPayload): no AuditLog payload.
  'test/fixtures/corpus/aegisai__nomethod__1.json': { paths: [''], outcome: { kind: 'skipped', reason: 'not-audit-log' } },
  'examples/logs/2024-05-week-21.ndjson[1]': { paths: [''], outcome: { kind: 'skipped', reason: 'not-audit-log' } },
  // Panther elisions: the elided objects are read as absent; the entries are a failed call, a denied call and a
  // call whose methodName the author removed.
  'test/fixtures/corpus/panther__Services.CreateService__2.json': {
    paths: ['/protoPayload/request', '/protoPayload/requestMetadata', '/protoPayload/resourceLocation', '/resource'],
    outcome: { kind: 'skipped', reason: 'failed-call' },
  },
  'test/fixtures/corpus/panther__Services.SetIamPolicy__2.json': {
    paths: ['/protoPayload/requestMetadata', '/protoPayload/resourceLocation', '/resource'],
    outcome: { kind: 'skipped', reason: 'permission-denied' },
  },
  'test/fixtures/corpus/panther__nomethod__2.json': {
    paths: ['/protoPayload/requestMetadata', '/protoPayload/resourceLocation', '/resource'],
    outcome: { kind: 'skipped', reason: 'permission-denied' },
  },
};

describe('every entry runwatch can read validates; the ones it cannot are rejected', () => {
  const cases = FIXTURE_FILES.flatMap((file) =>
    entriesOf(file).map((entry, i, all) => [`${file.slice(ROOT.length)}${all.length > 1 ? `[${i}]` : ''}`, file, entry] as const),
  );
  expect(cases.length).toBeGreaterThan(60);

  it('every listed rejection is a fixture', () => {
    for (const name of Object.keys(REJECTED)) expect(cases.map(([n]) => n)).toContain(name);
  });

  it.each(cases)('%s', (name, _file, entry) => {
    const result = parseEntry(entry);
    const rejected = REJECTED[name];
    if (rejected) {
      expect(rejectedPaths(entry)).toEqual(rejected.paths);
      expect(result).toMatchObject(rejected.outcome);
    } else {
      expect(errorsOf(entry)).toEqual([]);
      expect(result.kind).not.toBe('malformed');
    }
  });

  it('every entry the bench generator writes validates and is read', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'runwatch-schema-')), 'bench.ndjson');
    await generate(file, 400);
    const entries = entriesOf(file);
    expect(entries).toHaveLength(400);
    const kinds = new Set<string>();
    for (const entry of entries) {
      expect(errorsOf(entry)).toEqual([]);
      const result = parseEntry(entry);
      kinds.add(result.kind);
      expect(result.kind).not.toBe('malformed');
    }
    expect([...kinds].sort()).toEqual(['change', 'observation']);
  });
});

describe('a BigQuery row is read as a LogEntry the schema accepts', () => {
  const rows = jsonFiles('test/fixtures')
    .filter(isBigQueryRows)
    .flatMap((file) => entriesOf(file).map((row, i) => [`${file.slice(ROOT.length)}[${i}]`, row] as const));
  expect(rows.length).toBeGreaterThan(10);

  it.each(rows)('%s', (_name, row) => {
    const read = readEnvelope(row);
    if (!read.ok) throw new Error(read.reason);
    expect(errorsOf(read.envelope.entry)).toEqual([]);
    expect(parseEntry(row).kind).not.toBe('malformed');
  });
});

describe('timestamps: the schema accepts exactly what the normalizer reads', () => {
  const base = corpus('slackbot__Services.ReplaceService__1');
  const withTime = (timestamp: string): Json => variant(base, (e) => void (e['timestamp'] = timestamp));
  const check = (raw: string): void => {
    const readable = normalizeTimestamp(raw) !== undefined;
    expect(errorsOf(withTime(raw)).length === 0, raw).toBe(readable);
    expect(parseEntry(withTime(raw)).kind === 'malformed', raw).toBe(!readable);
  };

  it.each([...TIMESTAMP_FORMS, '0000-02-29T00:00:00Z', '2100-02-29T00:00:00Z', '2000-02-29 00:00:00', '2024-01-01T00:00:00+23:59', '2024-01-01T00:00:00+24:00', '2024-01-01T00:00:00-00:60'])(
    '%j',
    check,
  );

  it('random dates, times, fractions and zones', () => {
    let seed = 11;
    const next = (n: number): number => Math.floor(((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * n);
    const pad = (n: number, width: number): string => String(n).padStart(width, '0');
    const zones = ['Z', 'z', '', '+01:00', '-0930', '+23:59', '+24:00', '-12:60', ' '];
    for (let i = 0; i < 4000; i++) {
      const year = [1900, 2000, 2023, 2024, 2100, 2400, next(10_000)][next(7)]!;
      const date = `${pad(year, 4)}-${pad(next(14), 2)}-${pad(next(33), 2)}`;
      const clock = `${pad(next(26), 2)}:${pad(next(62), 2)}:${pad(next(62), 2)}`;
      const digits = next(11);
      const fraction = digits === 0 ? '' : `.${pad(next(10 ** Math.min(digits, 9)), digits)}`;
      check(`${date}${['T', 't', ' '][next(3)]}${clock}${fraction}${zones[next(zones.length)]}`);
    }
  });
});

/** Deletes the value at `path` (object keys) in a copy of the entry. */
function without(entry: Json, path: readonly string[]): Json {
  return variant(entry, (e) => {
    let node = e as Record<string, unknown>;
    for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
    delete node[path.at(-1)!];
  });
}

function replaced(entry: Json, path: readonly string[], value: unknown): Json {
  return variant(entry, (e) => {
    let node = e as Record<string, unknown>;
    for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
    node[path.at(-1)!] = value;
  });
}

const pointer = (path: readonly string[]): string => path.map((p) => `/${p.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');

describe('hard requirements: the schema rejects, and the normalizer reports or skips with the matching reason', () => {
  const slackbot = corpus('slackbot__Services.ReplaceService__1');
  const failed = corpus('slackbot__Services.ReplaceService__2');
  const projectIam = corpus('archicloud__SetIamPolicy__1');
  const v2 = synthetic('v2-UpdateService');
  const sysevent = corpus('aegisai__sysevent-Services.ReplaceService__1');
  const noTime = (e: Json): Json => without(without(e, ['timestamp']), ['receiveTimestamp']);
  const cases: [string, Json, string, { readonly kind: 'malformed' | 'skipped'; readonly reason: string }][] = [
    ['not an object', [] as unknown as Json, '', { kind: 'malformed', reason: 'entry is not a JSON object' }],
    ['no timestamp, no receiveTimestamp', noTime(slackbot), '', { kind: 'malformed', reason: 'entry has no timestamp' }],
    ['no timestamp, an empty receiveTimestamp', replaced(noTime(v2), ['receiveTimestamp'], ''), '/receiveTimestamp', { kind: 'malformed', reason: 'entry has no timestamp' }],
    ['timestamp a number', replaced(slackbot, ['timestamp'], 1714557600000), '/timestamp', { kind: 'malformed', reason: 'timestamp is not a string' }],
    ['timestamp an object (protobuf Timestamp)', replaced(v2, ['timestamp'], { seconds: 1 }), '/timestamp', { kind: 'malformed', reason: 'timestamp is not a string' }],
    ['timestamp not RFC 3339', replaced(slackbot, ['timestamp'], '06/05/2024 22:58'), '/timestamp', { kind: 'malformed', reason: 'unreadable timestamp "06/05/2024 22:58"' }],
    ['timestamp a date alone', replaced(sysevent, ['timestamp'], '2024-05-06'), '/timestamp', { kind: 'malformed', reason: 'unreadable timestamp "2024-05-06"' }],
    ['timestamp on no calendar', replaced(projectIam, ['timestamp'], '2023-02-29T10:00:00Z'), '/timestamp', { kind: 'malformed', reason: 'unreadable timestamp "2023-02-29T10:00:00Z"' }],
    ['no timestamp, receiveTimestamp unreadable', replaced(without(v2, ['timestamp']), ['receiveTimestamp'], 'soon'), '/receiveTimestamp', { kind: 'malformed', reason: 'unreadable timestamp "soon"' }],
    ['payload timestamp (hand-edited export) unreadable', corpusWithPayloadTime('2024-13-01T00:00:00Z'), '/protoPayload/timestamp', { kind: 'malformed', reason: 'unreadable timestamp "2024-13-01T00:00:00Z"' }],
    ['protoPayload missing (a workload log)', without(slackbot, ['protoPayload']), '', { kind: 'skipped', reason: 'not-audit-log' }],
    ['protoPayload a string', replaced(slackbot, ['protoPayload'], '...'), '/protoPayload', { kind: 'skipped', reason: 'not-audit-log' }],
    ['protoPayload an array', replaced(v2, ['protoPayload'], [v2['protoPayload']]), '/protoPayload', { kind: 'skipped', reason: 'not-audit-log' }],
    ['protoPayload of another @type', replaced(slackbot, ['protoPayload', '@type'], 'type.googleapis.com/google.appengine.logging.v1.RequestLog'), '/protoPayload/@type', { kind: 'skipped', reason: 'not-audit-log' }],
    ['untyped protoPayload without serviceName or methodName', without(without(without(slackbot, ['protoPayload', '@type']), ['protoPayload', 'serviceName']), ['protoPayload', 'methodName']), '/protoPayload', { kind: 'skipped', reason: 'not-audit-log' }],
    ['status.code a word', replaced(failed, ['protoPayload', 'status', 'code'], 'ABORTED'), '/protoPayload/status/code', { kind: 'malformed', reason: 'protoPayload.status.code is not a number' }],
    ['status.code an object', replaced(projectIam, ['protoPayload', 'status'], { code: { value: 7 } }), '/protoPayload/status/code', { kind: 'malformed', reason: 'protoPayload.status.code is not a number' }],
    ['status.code a boolean', replaced(v2, ['protoPayload', 'status'], { code: true }), '/protoPayload/status/code', { kind: 'malformed', reason: 'protoPayload.status.code is not a number' }],
    ['status a string', replaced(slackbot, ['protoPayload', 'status'], 'OK'), '/protoPayload/status', { kind: 'malformed', reason: 'protoPayload.status is not an object' }],
  ];

  it.each(cases)('%s', (_name, entry, path, outcome) => {
    expect(rejectedPaths(entry)).toContain(path);
    expect(parseEntry(entry)).toMatchObject(outcome);
  });

  it('replay reports them the same way: the same reasons, counted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-schema-'));
    // Each its own insertId: replay drops entries with the same identity as duplicates.
    const objects = cases.filter(([, entry]) => !Array.isArray(entry));
    const lines = objects.map(([, entry], i) => JSON.stringify({ ...entry, insertId: `hard-${i}` }));
    writeFileSync(join(dir, 'hard.ndjson'), `${lines.join('\n')}\n`);
    const run = await runwatch(['replay', '--format', 'ndjson', join(dir, 'hard.ndjson')]);
    expect(run.code).toBe(0);
    const counts = new Map<string, number>();
    // Counted by kind (a reason without the value it quotes); each reason whole among the examples.
    for (const [, , , outcome] of objects) counts.set(malformedKind(outcome.reason), (counts.get(malformedKind(outcome.reason)) ?? 0) + 1);
    for (const [, , , outcome] of objects.slice(0, 10)) if (outcome.kind === 'malformed') expect(run.stderr).toContain(`: ${outcome.reason}\n`);
    for (const [reason, count] of counts) expect(run.stderr).toContain(`\n    ${reason}: ${count}\n`);
    const malformed = objects.filter(([, , , outcome]) => outcome.kind === 'malformed').length;
    expect(run.stderr).toContain(`\n  malformed: ${malformed}\n`);
  });

  it('the original entries are accepted and read', () => {
    for (const entry of [slackbot, failed, projectIam, v2, sysevent]) {
      expect(errorsOf(entry)).toEqual([]);
      expect(parseEntry(entry).kind).not.toBe('malformed');
    }
  });
});

function corpusWithPayloadTime(time: string): Json {
  // archicloud's DeleteService: its timestamp is inside the payload (a hand-edited export), none at the top.
  const entry = corpus('archicloud__Services.DeleteService__1');
  return replaced(entry, ['protoPayload', 'timestamp'], time);
}

/** ParseResults compare as data; the template fingerprint hashes the template as logged, the odd value included. */
function comparable(result: ParseResult): unknown {
  return JSON.parse(JSON.stringify(result, (key, value: unknown) => (key === 'templateFingerprint' ? undefined : value)));
}

describe('optional fields of the wrong type: the schema rejects, and the normalizer reads them as absent', () => {
  const gcloud = synthetic('v1-ReplaceService-gcloud');
  const kktae = corpus('kktae-demo__Services.CreateService__1');
  const v2 = synthetic('v2-UpdateService');
  const v2Create = synthetic('v2-CreateService');
  const serviceIam = corpus('panther__Services.SetIamPolicy__1');
  const projectIam = corpus('archicloud__SetIamPolicy__1');
  const sysevent = corpus('aegisai__sysevent-Services.ReplaceService__1');
  const serviceEvent = corpus('sysevent-arri__nomethod__1');
  const op = (synthetic as (name: string) => unknown)('seq-v2-operation') as Json[];
  const template = ['protoPayload', 'request', 'service', 'spec', 'template'];
  const cases: [string, Json, string[], unknown][] = [
    ['logName a number', gcloud, ['logName'], 42],
    ['insertId a number', gcloud, ['insertId'], 7],
    ['resource a string', gcloud, ['resource'], '...'],
    ['resource.labels.service_name a number', gcloud, ['resource', 'labels', 'service_name'], 1],
    ['resource.labels.project_id an object', kktae, ['resource', 'labels', 'project_id'], { id: 'x' }],
    ['serviceName a number (not Cloud Run)', gcloud, ['protoPayload', 'serviceName'], 1],
    ['methodName a list', gcloud, ['protoPayload', 'methodName'], ['ReplaceService']],
    ['resourceName a number', serviceIam, ['protoPayload', 'resourceName'], 5],
    ['request a string (the response is read)', gcloud, ['protoPayload', 'request'], '...'],
    ['request a string (v2: facts unknown)', v2, ['protoPayload', 'request'], '...'],
    ['response a list', kktae, ['protoPayload', 'response'], []],
    ['authenticationInfo a string', gcloud, ['protoPayload', 'authenticationInfo'], 'me'],
    ['principalEmail a number', gcloud, ['protoPayload', 'authenticationInfo', 'principalEmail'], 1],
    ['serviceAccountDelegationInfo an object', v2, ['protoPayload', 'authenticationInfo', 'serviceAccountDelegationInfo'], {}],
    ['authorizationInfo an object', serviceIam, ['protoPayload', 'authorizationInfo'], { granted: false }],
    ['requestMetadata a string', gcloud, ['protoPayload', 'requestMetadata'], '...'],
    ['callerSuppliedUserAgent a number', gcloud, ['protoPayload', 'requestMetadata', 'callerSuppliedUserAgent'], 9],
    ['resourceLocation a string', kktae, ['protoPayload', 'resourceLocation'], '...'],
    ['v1 serviceAccountName a number', gcloud, [...template, 'spec', 'serviceAccountName'], 3],
    ['v1 containers an object', gcloud, [...template, 'spec', 'containers'], { image: 'x' }],
    ['v1 image a number', gcloud, [...template, 'spec', 'containers', '0', 'image'], 1],
    ['v1 template labels a string', gcloud, [...template, 'metadata', 'labels'], 'a=b'],
    ['v1 service annotation a boolean', kktae, ['protoPayload', 'request', 'service', 'metadata', 'annotations', 'run.googleapis.com/ingress'], true],
    ['v1 namespace a number', kktae, ['protoPayload', 'response', 'metadata', 'namespace'], 264172533638],
    ['v2 serviceAccount a number', v2, ['protoPayload', 'request', 'service', 'template', 'serviceAccount'], 3],
    ['v2 ingress a number', v2Create, ['protoPayload', 'request', 'service', 'ingress'], 1],
    ['v2 labels a list', v2Create, ['protoPayload', 'request', 'service', 'labels'], ['team']],
    ['policy bindings an object', serviceIam, ['protoPayload', 'response', 'bindings'], {}],
    ['binding members a string', serviceIam, ['protoPayload', 'response', 'bindings', '0', 'members'], 'user:x'],
    ['bindingDeltas an object', projectIam, ['protoPayload', 'serviceData', 'policyDelta', 'bindingDeltas'], { action: 'ADD' }],
    ['system event response a string', sysevent, ['protoPayload', 'response'], '...'],
    ['system event severity a number', sysevent, ['severity'], 500],
    ['system event Ready conditions an object', serviceEvent, ['protoPayload', 'response', 'status', 'conditions'], {}],
    ['system event status.code a word (not read there)', sysevent, ['protoPayload', 'status', 'code'], 'FAILED_PRECONDITION'],
    ['operation.id a number', op[0]!, ['operation', 'id'], 5],
  ];

  it.each(cases)('%s', (_name, entry, path, value) => {
    const odd = replaced(entry, path, value);
    expect(rejectedPaths(odd)).toContain(pointer(path));
    const absent = without(entry, path);
    expect(errorsOf(absent)).toEqual([]);
    const result = parseEntry(odd);
    expect(result.kind).not.toBe('malformed');
    expect(comparable(result)).toEqual(comparable(parseEntry(absent)));
  });
});

describe('variants the schema accepts are read, never malformed', () => {
  const slackbot = corpus('slackbot__Services.ReplaceService__1');
  const failed = corpus('slackbot__Services.ReplaceService__2');
  const v2 = synthetic('v2-UpdateService');
  const cases: [string, Json, Partial<ParseResult>][] = [
    ['no timestamp: the receive time', without(slackbot, ['timestamp']), { kind: 'change' }],
    ['an empty timestamp: the receive time', replaced(slackbot, ['timestamp'], ''), { kind: 'change' }],
    ['a null timestamp: the receive time', replaced(slackbot, ['timestamp'], null), { kind: 'change' }],
    ['no logName: read as admin activity', without(slackbot, ['logName']), { kind: 'change' }],
    ['no insertId', without(v2, ['insertId']), { kind: 'change' }],
    ['no resource', without(slackbot, ['resource']), { kind: 'change' }],
    ['no request', without(slackbot, ['protoPayload', 'request']), { kind: 'change' }],
    ['no response', without(slackbot, ['protoPayload', 'response']), { kind: 'change' }],
    ['no authenticationInfo: principal unknown', without(v2, ['protoPayload', 'authenticationInfo']), { kind: 'change' }],
    ['no @type, but a serviceName', without(slackbot, ['protoPayload', '@type']), { kind: 'change' }],
    ['status.code as a digit string', replaced(failed, ['protoPayload', 'status', 'code'], '10'), { kind: 'skipped', reason: 'failed-call' }],
    ['status.code 0 as a digit string', replaced(slackbot, ['protoPayload', 'status'], { code: '0' }), { kind: 'change' }],
    ['status null', replaced(v2, ['protoPayload', 'status'], null), { kind: 'change' }],
    ['timestamp with an offset', replaced(slackbot, ['timestamp'], '2024-05-07T00:58:04.355675+02:00'), { kind: 'change' }],
    ['Panther timestamp form', replaced(v2, ['timestamp'], '2024-06-01 11:00:00.123456789'), { kind: 'change' }],
    ['an unknown extra field anywhere', replaced(replaced(v2, ['extra'], { x: 1 }), ['protoPayload', 'redactions'], [{}]), { kind: 'change' }],
    ['updateMask as a FieldMask string', replaced(v2, ['protoPayload', 'request', 'updateMask'], 'template.serviceAccount'), { kind: 'change' }],
    ['v2 invokerIamDisabled as the string "true"', replaced(v2, ['protoPayload', 'request', 'service', 'invokerIamDisabled'], 'true'), { kind: 'change' }],
    // Not read as absent: a source runwatch cannot read, reported (new-image-repository).
    ['v2 sourceCode that is no object', replaced(v2, ['protoPayload', 'request', 'service', 'template', 'containers', '0', 'sourceCode'], 'gs://acme-src/app.zip'), { kind: 'change', change: expect.objectContaining({ sources: [{ kind: 'unknown', fields: [], written: 'string' }] }) as never }],
  ];

  it.each(cases)('%s', (_name, entry, outcome) => {
    expect(errorsOf(entry)).toEqual([]);
    expect(parseEntry(entry)).toMatchObject(outcome);
  });
});
