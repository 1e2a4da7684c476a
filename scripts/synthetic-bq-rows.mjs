// Writes test/fixtures/synthetic-bq-*.ndjson: BigQuery rows built from fixture LogEntries, in the two shapes
// replay reads (see functions/audit/bigQueryRow.ts for where each fact comes from, and
// test/fixtures/synthetic-bq-SOURCES.md). Run once by hand: `node scripts/synthetic-bq-rows.mjs`; the rows are
// committed, so a change here shows in their diff.
import { readFileSync, writeFileSync } from 'node:fs';

const FIXTURES = new URL('../test/fixtures/', import.meta.url);
const SOURCES = {
  'v1-ReplaceService': 'corpus/slackbot__Services.ReplaceService__1.json',
  'v2-UpdateService': 'synthetic-v2-UpdateService.json',
  'SetIamPolicy-policy-delta': 'corpus/archicloud__SetIamPolicy__1.json',
  'project-SetIamPolicy-run-invoker-allUsers': 'synthetic-project-SetIamPolicy-run-invoker-allUsers.json',
  'sysevent-Services.ReplaceService': 'corpus/aegisai__sysevent-Services.ReplaceService__1.json',
  'seq-v2-operation': 'synthetic-seq-v2-operation.json',
  'seq-console-deploy': 'synthetic-seq-console-deploy.json',
};

/** `bq extract` NDJSON: `YYYY-MM-DD HH:MM:SS[.f] UTC`, the fraction without trailing zeros, none when zero. */
function extractTime(iso) {
  if (typeof iso !== 'string') return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(iso);
  if (!m) throw new Error(`not a canonical timestamp: ${iso}`);
  const fraction = (m[3] ?? '').slice(0, 6).replace(/0+$/, '');
  return `${m[1]} ${m[2]}${fraction ? `.${fraction}` : ''} UTC`;
}

/** Drops undefined members (a NULL column is left out of the export). */
function compact(object) {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));
}

/** A TIMESTAMP in RFC 3339, as EXPORT DATA writes it (an assumption, see the SOURCES file): microseconds at most. */
function micros(iso) {
  return typeof iso === 'string' ? iso.replace(/(\.\d{6})\d+Z$/, '$1Z') : undefined;
}

const int64 = (value) => (value === undefined ? undefined : String(value)); // INT64 is written as a JSON string

/** A row of a log sink's table (cloudaudit_googleapis_com_activity, _system_event), as `bq extract` writes it. */
function sinkRow(entry) {
  const pp = entry.protoPayload;
  const iam = pp.serviceData?.['@type'] === 'type.googleapis.com/google.iam.v1.logging.AuditData' ? pp.serviceData : undefined;
  return compact({
    logName: entry.logName,
    resource: entry.resource,
    timestamp: extractTime(entry.timestamp ?? pp.timestamp),
    receiveTimestamp: extractTime(entry.receiveTimestamp),
    severity: entry.severity,
    insertId: entry.insertId,
    operation: entry.operation,
    protopayload_auditlog: compact({
      serviceName: pp.serviceName,
      methodName: pp.methodName,
      resourceName: pp.resourceName,
      resourceLocation: pp.resourceLocation,
      status: pp.status && compact({ code: int64(pp.status.code), message: pp.status.message }),
      authenticationInfo: pp.authenticationInfo,
      authorizationInfo: pp.authorizationInfo,
      requestMetadata: pp.requestMetadata,
      requestJson: pp.request && JSON.stringify(pp.request),
      responseJson: pp.response && JSON.stringify(pp.response),
      servicedata_v1_iam: iam && compact({ ...iam, '@type': undefined }),
    }),
  });
}

const snake = (key) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
/** A STRUCT column's fields in Log Analytics' snake_case (JSON columns keep their JSON as it is). */
function snakeStruct(value) {
  if (Array.isArray(value)) return value.map(snakeStruct);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [snake(k), snakeStruct(v)]));
}

/** A row of Log Analytics' `_AllLogs` view, as EXPORT DATA (format JSON) writes it. */
function analyticsRow(entry) {
  const pp = entry.protoPayload;
  return compact({
    timestamp: micros(entry.timestamp ?? pp.timestamp),
    receive_timestamp: micros(entry.receiveTimestamp),
    log_name: entry.logName,
    insert_id: entry.insertId,
    severity_text: entry.severity,
    resource: entry.resource && { type: entry.resource.type, labels: entry.resource.labels },
    operation: entry.operation && snakeStruct(entry.operation),
    proto_payload: {
      audit_log: compact({
        service_name: pp.serviceName,
        method_name: pp.methodName,
        resource_name: pp.resourceName,
        resource_location: snakeStruct(pp.resourceLocation),
        status: pp.status && compact({ code: int64(pp.status.code), message: pp.status.message }),
        authentication_info: snakeStruct(pp.authenticationInfo),
        authorization_info: snakeStruct(pp.authorizationInfo),
        request_metadata: snakeStruct(pp.requestMetadata),
        request: pp.request,
        response: pp.response,
        service_data: pp.serviceData,
      }),
    },
  });
}

for (const [name, path] of Object.entries(SOURCES)) {
  const value = JSON.parse(readFileSync(new URL(path, FIXTURES), 'utf8'));
  const entries = Array.isArray(value) ? value : [value];
  for (const [shape, row] of [['sink', sinkRow], ['analytics', analyticsRow]]) {
    writeFileSync(new URL(`synthetic-bq-${shape}-${name}.ndjson`, FIXTURES), entries.map((e) => `${JSON.stringify(row(e))}\n`).join(''));
  }
}
