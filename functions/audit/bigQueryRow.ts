// Audit log rows exported from BigQuery, turned back into the LogEntry they were, so that replay reads them as it
// reads LogEntries. Each row is told by its shape (so one file may mix them, and LogEntries):
//
// - A log sink to a BigQuery dataset (tables `cloudaudit_googleapis_com_activity`, `..._system_event`,
//   `..._data_access`): LogEntry fields keep their names; the AuditLog payload is the column `protopayload_auditlog`
//   with the AuditLog's camelCase names, its `request` and `response` become JSON text (`requestJson`,
//   `responseJson`) and IAM's policy delta the record `servicedata_v1_iam` (Cloud Logging, "BigQuery schema for
//   exported logs", https://cloud.google.com/logging/docs/export/bigquery; GoogleCloudPlatform/security-analytics
//   queries over `cloudaudit_googleapis_com_activity`).
// - Log Analytics (a BigQuery dataset linked to a log bucket, the `_AllLogs` view): snake_case columns, the payload
//   in `proto_payload.audit_log`, its `request`, `response` and `service_data` and `resource.labels` of type JSON
//   (GoogleCloudPlatform/security-analytics backends/log_analytics/sql: `log_name`, `receive_timestamp`,
//   `proto_payload.audit_log.authentication_info.principal_email`, `.service_data.policyDelta.bindingDeltas`).
//
// Only the fields runwatch reads are carried over, and nothing is made up: a field the row lacks stays missing, which
// normalize reads as unknown. How the export tools write values (verified where said):
// - `bq extract` NDJSON writes INT64 as a JSON string (BigQuery docs, exporting data: "encoded as JSON strings to
//   preserve 64-bit precision"; normalize reads `status.code` "7" as 7), BOOLEAN as a boolean and TIMESTAMP as
//   `2024-03-01 10:00:00.123456 UTC` (bxparks/bigquery-schema-generator#19; qiita.com/sonots on JSON export).
// - `bq query --format=json`: bq's TablePrinter.FormatRow (bq CLI source) formats every TIMESTAMP, for the JSON
//   formatter too, with its `_NormalizeTimestamp`: whole seconds (the microseconds dropped) and no zone,
//   `2024-03-01 10:00:00`, read as UTC as any zone-less time is; other values are left as the API returns them
//   (strings for scalars, so `"true"` is read as true, JSON columns as JSON text) and NULL as null.
// - EXPORT DATA (format JSON): not verified how it writes a TIMESTAMP or a JSON column; an RFC 3339 time, the
//   `UTC` form and embedded or textual JSON are all read. A time in any other form (epoch seconds, as the REST API
//   gives it) is left as it is: readEnvelope reports it as an unreadable timestamp.
// - Log Analytics' severity column: `severity_text` per its schema (not verified here), `severity` read as well.
// A JSON text column that does not parse, or holds no object, makes the row malformed, with the column named.
// entry.ts imports this module too: the cycle is safe, as neither reads the other's bindings until called.
import { normalizeTimestamp } from './entry.js';
import { asArray, asBoolean, asObject, field, type JsonObject } from './json.js';

/** The `@type` of an AuditLog payload (readEnvelope reads a payload of this type as one). */
export const AUDIT_LOG_TYPE = 'type.googleapis.com/google.cloud.audit.AuditLog';

export type RowResult = { readonly ok: true; readonly entry: JsonObject } | { readonly ok: false; readonly reason: string };

/**
 * The LogEntry a BigQuery row was; anything else (an audit LogEntry, which has `protoPayload`: one lookup, the path
 * of every real entry; a LogEntry of another kind; a value that is no entry at all) comes back as it is, for
 * readEnvelope to judge.
 */
export function logEntryOfRow(object: JsonObject): RowResult {
  if (object['protoPayload'] !== undefined) return { ok: true, entry: object };
  if (object['protopayload_auditlog'] !== undefined) return sinkRowEntry(object);
  if (object['proto_payload'] !== undefined || object['log_name'] !== undefined) return analyticsRowEntry(object);
  return { ok: true, entry: object };
}

/** A column of JSON text (or, where an export embeds it, JSON itself): its object, or why it cannot be read. */
type Column = { readonly ok: true; readonly value: JsonObject | undefined } | { readonly ok: false; readonly reason: string };

/**
 * Every JSON column read here holds an object when it is not NULL (a Struct or Any of the AuditLog, a label map):
 * JSON of anything else (a number, a string, an array) is a damaged row, malformed rather than read as a field the
 * entry did not log, which would let the rest of the row decide (a deploy's facts from its response alone). JSON
 * `null` is NULL.
 */
function jsonColumn(value: unknown, name: string): Column {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value) as unknown;
    } catch {
      return { ok: false, reason: `BigQuery row: ${name} is not JSON` };
    }
  }
  if (parsed === undefined || parsed === null) return { ok: true, value: undefined };
  const object = asObject(parsed);
  return object ? { ok: true, value: object } : { ok: false, reason: `BigQuery row: ${name} is not a JSON object` };
}

/**
 * A row's TIMESTAMP as Cloud Logging writes a LogEntry's (RFC 3339 UTC, a fraction of 0, 3, 6 or 9 digits:
 * normalizeTimestamp), whichever way the export wrote it: `2024-03-01 10:00:00.123456 UTC` (`bq extract`),
 * `2024-03-01 10:00:00` (`bq query`), RFC 3339. `runwatch publish` sends this LogEntry, its timestamp also as the
 * `logging.googleapis.com/timestamp` attribute, to subscribers that read it as a sink's. A time in any other form is
 * left as it is: readEnvelope reports it as an unreadable timestamp. The partitioned replay reads a line's time from
 * its bytes with the same normalizeTimestamp (lineKey.ts; a `UTC` time does not scan, and the line is parsed), so a
 * row is never ordered by another time than its entry's.
 */
const UTC_SUFFIXED = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?) UTC$/;
function rowTime(value: unknown): unknown {
  if (typeof value !== 'string') return value ?? undefined;
  const utc = UTC_SUFFIXED.exec(value);
  return normalizeTimestamp(utc ? `${utc[1]}T${utc[2]}Z` : value)?.iso ?? value;
}

/** An object of the defined members only (a NULL column is left out, as a missing LogEntry field). */
function defined(members: Record<string, unknown>): JsonObject | undefined {
  const out: Record<string, unknown> = {};
  let any = false;
  for (const [key, value] of Object.entries(members)) {
    if (value === undefined || value === null) continue;
    out[key] = value;
    any = true;
  }
  return any ? out : undefined;
}

/** `operation` with its booleans as booleans (`bq query` may write them as text). */
function operationOf(operation: JsonObject | undefined): JsonObject | undefined {
  return operation && defined({ id: operation['id'], first: asBoolean(operation['first']), last: asBoolean(operation['last']) });
}

/**
 * The LogEntry a row of either shape was. Both name the same LogEntry and AuditLog fields, a log sink's table in
 * their camelCase names and Log Analytics in snake_case, which `field` reads either way; they differ only where the
 * payload sits and how its JSON columns are kept (the callers read those: `columns`).
 */
function logEntryOf(row: JsonObject, payload: JsonObject | undefined, columns: JsonColumns): JsonObject {
  const resource = asObject(row['resource']);
  return (
    defined({
      timestamp: rowTime(row['timestamp']),
      receiveTimestamp: rowTime(field(row, 'receiveTimestamp')),
      logName: field(row, 'logName'),
      insertId: field(row, 'insertId'),
      severity: row['severity_text'] ?? row['severity'],
      resource: resource && defined({ type: resource['type'], labels: columns.resourceLabels }),
      operation: operationOf(asObject(row['operation'])),
      protoPayload: payload && auditLogOf(payload, columns),
    }) ?? {}
  );
}

/** What a row keeps as JSON (text, or embedded), read by its caller: objects, or absent. */
interface JsonColumns {
  readonly request: JsonObject | undefined;
  readonly response: JsonObject | undefined;
  /** IAM's AuditData: `{policyDelta: ...}`. */
  readonly serviceData: JsonObject | undefined;
  readonly resourceLabels: unknown;
}

/** The AuditLog payload, with only the fields runwatch reads. */
function auditLogOf(payload: JsonObject, columns: JsonColumns): JsonObject {
  const auth = asObject(field(payload, 'authenticationInfo'));
  const meta = asObject(field(payload, 'requestMetadata'));
  return {
    '@type': AUDIT_LOG_TYPE, // both columns hold AuditLog payloads only
    ...defined({
      serviceName: field(payload, 'serviceName'),
      methodName: field(payload, 'methodName'),
      resourceName: field(payload, 'resourceName'),
      resourceLocation: defined({ currentLocations: field(asObject(field(payload, 'resourceLocation')), 'currentLocations') }),
      status: statusOf(payload['status']),
      authenticationInfo: auth && defined({
        principalEmail: field(auth, 'principalEmail'),
        principalSubject: field(auth, 'principalSubject'),
        serviceAccountDelegationInfo: delegations(field(auth, 'serviceAccountDelegationInfo')),
      }),
      authorizationInfo: grants(field(payload, 'authorizationInfo')),
      requestMetadata: meta && defined({ callerIp: field(meta, 'callerIp'), callerSuppliedUserAgent: field(meta, 'callerSuppliedUserAgent') }),
      request: columns.request,
      response: columns.response,
      serviceData: policyDelta(columns.serviceData?.['policyDelta']),
    }),
  };
}

/** A row of a log sink's table: `protopayload_auditlog`, its request and response as JSON text, IAM's data a record. */
function sinkRowEntry(row: JsonObject): RowResult {
  const pp = asObject(row['protopayload_auditlog']);
  const request = jsonColumn(pp?.['requestJson'], 'protopayload_auditlog.requestJson');
  if (!request.ok) return request;
  const response = jsonColumn(pp?.['responseJson'], 'protopayload_auditlog.responseJson');
  if (!response.ok) return response;
  const columns = { request: request.value, response: response.value, serviceData: asObject(pp?.['servicedata_v1_iam']), resourceLabels: asObject(row['resource'])?.['labels'] };
  return { ok: true, entry: logEntryOf(row, pp, columns) };
}

/** A row of Log Analytics: snake_case columns, `proto_payload.audit_log`, JSON columns as JSON or as JSON text. */
function analyticsRowEntry(row: JsonObject): RowResult {
  const log = asObject(asObject(row['proto_payload'])?.['audit_log']);
  const request = jsonColumn(log?.['request'], 'proto_payload.audit_log.request');
  if (!request.ok) return request;
  const response = jsonColumn(log?.['response'], 'proto_payload.audit_log.response');
  if (!response.ok) return response;
  const serviceData = jsonColumn(log?.['service_data'], 'proto_payload.audit_log.service_data');
  if (!serviceData.ok) return serviceData;
  const labels = jsonColumn(asObject(row['resource'])?.['labels'], 'resource.labels');
  if (!labels.ok) return labels;
  const columns = { request: request.value, response: response.value, serviceData: serviceData.value, resourceLabels: labels.value };
  return { ok: true, entry: logEntryOf(row, log, columns) };
}

/** `status`: its code and message; anything but an object as it is (normalize reports it as unreadable). */
function statusOf(value: unknown): unknown {
  const status = asObject(value);
  return status ? (defined({ code: status['code'], message: status['message'] }) ?? {}) : value;
}

/** `authorizationInfo[]`: only whether each permission was granted is read (all refused: a denied call). */
function grants(value: unknown): JsonObject[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.map((item) => defined({ granted: asBoolean(asObject(item)?.['granted']) }) ?? {});
}

/** `serviceAccountDelegationInfo[]`: the first-party principal's email and the principal subject of each hop. */
function delegations(value: unknown): JsonObject[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.map((item) => {
    const hop = asObject(item);
    const principal = field(asObject(field(hop, 'firstPartyPrincipal')), 'principalEmail');
    return defined({ firstPartyPrincipal: defined({ principalEmail: principal }), principalSubject: field(hop, 'principalSubject') }) ?? {};
  });
}

/** `serviceData.policyDelta.bindingDeltas[]`: action, role, member (the IAM AuditData's, camelCase in both shapes). */
function policyDelta(value: unknown): JsonObject | undefined {
  const deltas = asObject(value)?.['bindingDeltas'];
  if (!Array.isArray(deltas)) return undefined;
  const bindingDeltas = asArray(deltas).map((d) => {
    const delta = asObject(d);
    return defined({ action: delta?.['action'], role: delta?.['role'], member: delta?.['member'] }) ?? {};
  });
  return { policyDelta: { bindingDeltas } };
}
