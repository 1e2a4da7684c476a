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
import { asArray, asBoolean, asObject, type JsonObject } from './json.js';

/** The `@type` of an AuditLog payload (readEnvelope reads a payload of this type as one). */
export const AUDIT_LOG_TYPE = 'type.googleapis.com/google.cloud.audit.AuditLog';

export type RowResult = { readonly ok: true; readonly entry: JsonObject } | { readonly ok: false; readonly reason: string };

/**
 * The LogEntry a BigQuery row was; anything else (a LogEntry of another kind, a value that is no entry at all)
 * comes back as it is, for readEnvelope to judge. Called only for objects without `protoPayload`.
 */
export function logEntryOfRow(object: JsonObject): RowResult {
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

/** Names the pieces of a row of either shape, to build the one LogEntry both were. */
interface RowFields {
  readonly timestamp: unknown;
  readonly receiveTimestamp: unknown;
  readonly logName: unknown;
  readonly insertId: unknown;
  readonly severity: unknown;
  readonly resource: JsonObject | undefined;
  readonly resourceLabels: unknown;
  readonly operation: JsonObject | undefined;
}

function logEntry(row: RowFields, protoPayload: JsonObject | undefined): JsonObject {
  return (
    defined({
      timestamp: rowTime(row.timestamp),
      receiveTimestamp: rowTime(row.receiveTimestamp),
      logName: row.logName,
      insertId: row.insertId,
      severity: row.severity,
      resource: row.resource && defined({ type: row.resource['type'], labels: row.resourceLabels }),
      operation: operationOf(row.operation),
      protoPayload,
    }) ?? {}
  );
}

/** A row of a log sink's table: `protopayload_auditlog` in the AuditLog's own camelCase names. */
function sinkRowEntry(row: JsonObject): RowResult {
  const pp = asObject(row['protopayload_auditlog']);
  const request = jsonColumn(pp?.['requestJson'], 'protopayload_auditlog.requestJson');
  if (!request.ok) return request;
  const response = jsonColumn(pp?.['responseJson'], 'protopayload_auditlog.responseJson');
  if (!response.ok) return response;
  const fields: RowFields = {
    timestamp: row['timestamp'],
    receiveTimestamp: row['receiveTimestamp'],
    logName: row['logName'],
    insertId: row['insertId'],
    severity: row['severity'],
    resource: asObject(row['resource']),
    resourceLabels: asObject(row['resource'])?.['labels'],
    operation: asObject(row['operation']),
  };
  const auth = asObject(pp?.['authenticationInfo']);
  const meta = asObject(pp?.['requestMetadata']);
  const protoPayload = pp && {
    '@type': AUDIT_LOG_TYPE, // the column holds protoPayloads of this type only
    ...defined({
      serviceName: pp['serviceName'],
      methodName: pp['methodName'],
      resourceName: pp['resourceName'],
      resourceLocation: defined({ currentLocations: asObject(pp['resourceLocation'])?.['currentLocations'] }),
      status: statusOf(pp['status']),
      authenticationInfo: auth && defined({
        principalEmail: auth['principalEmail'],
        principalSubject: auth['principalSubject'],
        serviceAccountDelegationInfo: delegations(auth['serviceAccountDelegationInfo'], 'firstPartyPrincipal', 'principalEmail', 'principalSubject'),
      }),
      authorizationInfo: grants(pp['authorizationInfo']),
      requestMetadata: meta && defined({ callerIp: meta['callerIp'], callerSuppliedUserAgent: meta['callerSuppliedUserAgent'] }),
      request: request.value,
      response: response.value,
      serviceData: policyDelta(asObject(pp['servicedata_v1_iam'])?.['policyDelta']),
    }),
  };
  return { ok: true, entry: logEntry(fields, protoPayload) };
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
  const resource = asObject(row['resource']);
  const labels = jsonColumn(resource?.['labels'], 'resource.labels');
  if (!labels.ok) return labels;
  const fields: RowFields = {
    timestamp: row['timestamp'],
    receiveTimestamp: row['receive_timestamp'],
    logName: row['log_name'],
    insertId: row['insert_id'],
    severity: row['severity_text'] ?? row['severity'],
    resource,
    resourceLabels: labels.value,
    operation: asObject(row['operation']),
  };
  const auth = asObject(log?.['authentication_info']);
  const meta = asObject(log?.['request_metadata']);
  const protoPayload = log && {
    '@type': AUDIT_LOG_TYPE, // `audit_log` holds AuditLog payloads only
    ...defined({
      serviceName: log['service_name'],
      methodName: log['method_name'],
      resourceName: log['resource_name'],
      resourceLocation: defined({ currentLocations: asObject(log['resource_location'])?.['current_locations'] }),
      status: statusOf(log['status']),
      authenticationInfo: auth && defined({
        principalEmail: auth['principal_email'],
        principalSubject: auth['principal_subject'],
        serviceAccountDelegationInfo: delegations(auth['service_account_delegation_info'], 'first_party_principal', 'principal_email', 'principal_subject'),
      }),
      authorizationInfo: grants(log['authorization_info']),
      requestMetadata: meta && defined({ callerIp: meta['caller_ip'], callerSuppliedUserAgent: meta['caller_supplied_user_agent'] }),
      request: request.value,
      response: response.value,
      serviceData: policyDelta(serviceData.value?.['policyDelta']),
    }),
  };
  return { ok: true, entry: logEntry(fields, protoPayload) };
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
function delegations(value: unknown, firstParty: string, email: string, subject: string): JsonObject[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.map((item) => {
    const hop = asObject(item);
    const principal = asObject(hop?.[firstParty])?.[email];
    return defined({ firstPartyPrincipal: defined({ principalEmail: principal }), principalSubject: hop?.[subject] }) ?? {};
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
