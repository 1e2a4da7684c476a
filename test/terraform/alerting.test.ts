// The pipeline says when it is failing: with alert_notification_channels set, the module creates Cloud Monitoring alert
// policies for every way runwatch can go quiet without anyone noticing (a dead-letter hold keeping letters, a push
// subscription backing up, a function logging errors or refusing to serve, the log sink no longer delivering); with
// none set, no policy at all (as before). Offline, like module.test.ts: the .tf files are parsed (@cdktn/hcl2json) and
// each policy is checked for the metric, the monitored-resource type and the exact subscription, service or sink it
// watches, per sink where there is one per sink, and for documentation that tells the on-call what to do.
import { convertFiles } from '@cdktn/hcl2json';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { LogRecord } from '../../functions/runtime.js';
import { detectLogsOf, FAILING_PUBLISHER, SWEEP } from '../support/detectLogs.js';
import { synthetic } from '../support/entries.js';

const MODULE_DIR = fileURLToPath(new URL('../../terraform/modules/runwatch/', import.meta.url));

type Block = Record<string, unknown>;
type Tf = Record<string, unknown>;

/** The log-based metric counting the audit entries detect receives (the sink-quiet policy watches it). */
const METRIC = 'google_logging_metric.entries_received';

let tf: Tf;

beforeAll(async () => {
  tf = await convertFiles(MODULE_DIR);
});

const isBlock = (v: unknown): v is Block => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The first (only) nested block of that name: hcl2json turns every block into an array. */
function block(body: unknown, name: string): Block | undefined {
  if (!isBlock(body)) return undefined;
  const value = body[name];
  return Array.isArray(value) && isBlock(value[0]) ? value[0] : undefined;
}

function policy(name: string): Block | undefined {
  const all = (tf['resource'] as Record<string, Record<string, Block[]>> | undefined)?.['google_monitoring_alert_policy'];
  return all?.[name]?.[0];
}

function variable(name: string): Block | undefined {
  return (tf['variable'] as Record<string, Block[]>)[name]?.[0];
}

function locals(): Block {
  return Object.assign({}, ...((tf['locals'] as Block[] | undefined) ?? [])) as Block;
}

// Alerting is on exactly when a channel is given: every policy is counted (or iterated) on that, and per-sink ones
// iterate over the deployed sinks only then.
const ONE_WHEN_ALERTING = '${length(var.alert_notification_channels) > 0 ? 1 : 0}';
const SINKS_WHEN_ALERTING = '${length(var.alert_notification_channels) > 0 ? local.sinks : toset([])}';

type Kind = 'threshold' | 'absent' | 'log';

interface Expected {
  /** google_monitoring_alert_policy.NAME */
  readonly name: string;
  readonly perSink: boolean;
  readonly kind: Kind;
  /** What the condition's filter must name: metric and resource type, and the one resource it watches. */
  readonly filter: readonly string[];
  /** What the documentation must tell the on-call (a command, a log to read). */
  readonly doc: readonly RegExp[];
}

const POLICIES: readonly Expected[] = [
  {
    name: 'dead_letter_hold',
    perSink: false,
    kind: 'threshold',
    filter: [
      'metric.type = "pubsub.googleapis.com/subscription/num_undelivered_messages"',
      'resource.type = "pubsub_subscription"',
      'resource.labels.subscription_id = "${google_pubsub_subscription.dead_letter_hold.name}"',
    ],
    doc: [/runwatch redrive --project \S+ --dry-run/, /gcloud pubsub subscriptions pull/, /reason/],
  },
  {
    name: 'findings_dead_letter_hold',
    perSink: true,
    kind: 'threshold',
    filter: [
      'metric.type = "pubsub.googleapis.com/subscription/num_undelivered_messages"',
      'resource.type = "pubsub_subscription"',
      'resource.labels.subscription_id = "${google_pubsub_subscription.findings_dead_letter_hold[each.key].name}"',
    ],
    doc: [/runwatch redrive --project \S+ --dry-run/, /gcloud pubsub subscriptions pull/, /reason/],
  },
  {
    name: 'detect_backlog',
    perSink: false,
    kind: 'threshold',
    filter: [
      'metric.type = "pubsub.googleapis.com/subscription/oldest_unacked_message_age"',
      'resource.type = "pubsub_subscription"',
      'resource.labels.subscription_id = "${google_pubsub_subscription.detect.name}"',
    ],
    doc: [/gcloud logging read/, /dead-letter/],
  },
  {
    name: 'notify_backlog',
    perSink: true,
    kind: 'threshold',
    filter: [
      'metric.type = "pubsub.googleapis.com/subscription/oldest_unacked_message_age"',
      'resource.type = "pubsub_subscription"',
      'resource.labels.subscription_id = "${google_pubsub_subscription.notify[each.key].name}"',
    ],
    doc: [/gcloud logging read/, /dead-letter/],
  },
  {
    name: 'detect_errors',
    perSink: false,
    kind: 'log',
    filter: ['resource.type = "cloud_run_revision"', 'resource.labels.service_name = "${google_cloudfunctions2_function.detect.name}"', 'severity >= ERROR'],
    doc: [/gcloud logging read/, /refuses to serve/],
  },
  {
    name: 'notify_errors',
    perSink: true,
    kind: 'log',
    filter: ['resource.type = "cloud_run_revision"', 'resource.labels.service_name = "${google_cloudfunctions2_function.notify[each.key].name}"', 'severity >= ERROR'],
    doc: [/gcloud logging read/, /refuses to serve/],
  },
  {
    name: 'sink_quiet',
    perSink: false,
    kind: 'absent',
    filter: [`metric.type = "logging.googleapis.com/user/\${${METRIC}[0].name}"`, 'resource.type = "cloud_run_revision"'],
    doc: [/writer identity/, /gcloud logging sinks describe \$\{local\.sink_name\} \$\{local\.sink_scope_flag\}/, /quiet/, /entryOutcome/],
  },
];

/** The condition block of each kind, as the provider names it. */
const CONDITION_OF: Record<Kind, string> = { threshold: 'condition_threshold', absent: 'condition_absent', log: 'condition_matched_log' };

describe('where alerts go', () => {
  it('takes Cloud Monitoring notification channel ids, none by default (no alert policy is created)', () => {
    const v = variable('alert_notification_channels');
    expect(v?.['type']).toBe('${list(string)}');
    expect(v?.['default']).toEqual([]);
    const condition = String(((v?.['validation'] as Block[] | undefined) ?? [])[0]?.['condition']);
    expect(condition).toContain('var.alert_notification_channels');
    expect(condition).toContain('notificationChannels');
  });

  it('waits a configurable time, a day by default, before it calls a quiet sink broken', () => {
    const v = variable('alert_sink_quiet_duration');
    expect(v?.['default']).toBe('86400s');
    const conditions = ((v?.['validation'] as Block[] | undefined) ?? []).map((r) => String(r['condition'])).join(' ');
    // Cloud Monitoring takes a metric-absence window of up to 24 hours (24.5 through the API; the console stops at 24:
    // cloud.google.com/monitoring/alerts/metric-absence); under an hour would page on the metric's own lag (420 s).
    expect(conditions).toContain('86400');
    expect(conditions).toContain('3600');
  });

  it('enables the Monitoring API only when it creates policies', () => {
    expect(String(locals()['apis'])).toContain('length(var.alert_notification_channels) > 0 ? ["monitoring.googleapis.com"] : []');
  });

  it('outputs the names of the policies it created', () => {
    const output = (tf['output'] as Record<string, Block[]>)['alert_policy_names']?.[0];
    const value = String(output?.['value']);
    for (const { name } of POLICIES) expect(value, name).toContain(`google_monitoring_alert_policy.${name}`);
  });
});

describe.each(POLICIES)('alert policy $name', ({ name, perSink, kind, filter, doc }) => {
  const body = (): Block => {
    const b = policy(name);
    expect(b, `google_monitoring_alert_policy.${name}`).toBeDefined();
    return b!;
  };

  it(perSink ? 'exists once per sink, only with channels set' : 'exists once, only with channels set', () => {
    if (perSink) {
      expect(body()['for_each']).toBe(SINKS_WHEN_ALERTING);
      expect(body()['count']).toBeUndefined();
    } else {
      expect(String(body()['count'])).toContain('length(var.alert_notification_channels) > 0');
      expect(body()['for_each']).toBeUndefined();
    }
    expect(body()['notification_channels']).toBe('${var.alert_notification_channels}');
    expect(body()['project']).toBe('${var.project_id}');
  });

  it('watches the right metric, resource type and resource', () => {
    const conditions = (body()['conditions'] as Block[] | undefined) ?? [];
    expect(conditions.length).toBeGreaterThan(0);
    const first = block(conditions[0], CONDITION_OF[kind]);
    expect(first, CONDITION_OF[kind]).toBeDefined();
    const text = String(first?.['filter']).replace(/\s+/g, ' ');
    for (const part of filter) expect(text).toContain(part);
    if (perSink) expect(String(body()['display_name'])).toContain('${each.key}');
  });

  it('says what it means and what to do', () => {
    expect(String(body()['display_name'])).toMatch(/^\$\{var\.name_prefix\}: \S/);
    const documentation = block(body(), 'documentation');
    expect(documentation?.['mime_type']).toBe('text/markdown');
    const content = String(documentation?.['content']);
    for (const re of doc) expect(content).toMatch(re);
  });
});

describe('condition details', () => {
  it.each(['dead_letter_hold', 'findings_dead_letter_hold'])('%s fires on any undelivered letter', (name) => {
    const threshold = block(((policy(name)?.['conditions'] as Block[] | undefined) ?? [])[0], 'condition_threshold');
    expect(threshold?.['comparison']).toBe('COMPARISON_GT');
    expect(threshold?.['threshold_value']).toBe(0);
  });

  // A message still unacked after a few rounds of retries at the longest backoff is not a blip: Slack down, a
  // function that cannot start. Pub/Sub keeps retrying until max_delivery_attempts, so this fires well before it gives up.
  it.each(['detect_backlog', 'notify_backlog'])('%s fires after a few retry rounds', (name) => {
    const threshold = block(((policy(name)?.['conditions'] as Block[] | undefined) ?? [])[0], 'condition_threshold');
    expect(threshold?.['comparison']).toBe('COMPARISON_GT');
    expect(threshold?.['threshold_value']).toBe('${local.backlog_alert_seconds}');
    expect(String(locals()['backlog_alert_seconds'])).toContain('var.function_timeout_seconds');
    expect(String(locals()['backlog_alert_seconds'])).toContain('var.retry_maximum_backoff');
  });

  // Log-based alert policies need a notification rate limit (the API refuses one without).
  it.each(['detect_errors', 'notify_errors'])('%s limits its notifications and closes by itself', (name) => {
    const strategy = block(policy(name), 'alert_strategy');
    expect(block(strategy, 'notification_rate_limit')?.['period']).toMatch(/^\d+s$/);
    expect(strategy?.['auto_close']).toMatch(/^\d+s$/);
  });

  // Every sink scope: the metric is detect's own (in project_id), not the sink's export metrics, which an organization
  // or folder sink writes in no project. Summed over detect's revisions: each revision is a time series of its own
  // (resource cloud_run_revision), and the one a redeploy retires would otherwise go absent and page a day later.
  it('sink_quiet exists for every sink scope, waits alert_sink_quiet_duration, and sums detect\'s revisions', () => {
    expect(policy('sink_quiet')?.['count']).toBe(ONE_WHEN_ALERTING);
    const absent = block(((policy('sink_quiet')?.['conditions'] as Block[] | undefined) ?? [])[0], 'condition_absent');
    expect(absent?.['duration']).toBe('${var.alert_sink_quiet_duration}');
    const aggregations = block(absent, 'aggregations');
    expect(aggregations?.['per_series_aligner']).toBe('ALIGN_SUM');
    expect(aggregations?.['cross_series_reducer']).toBe('REDUCE_SUM');
    expect(aggregations?.['group_by_fields'] ?? []).toEqual([]);
    expect(policy('sink_quiet')?.['combiner']).toBe('OR');
  });

  // The export metrics exist for a project sink in project_id only: there they also catch failed exports (a writer
  // identity that lost its role) within minutes, where detect's metric would wait alert_sink_quiet_duration.
  it('sink_quiet also fires at once on failed exports, where the export metrics are written: a project sink in project_id', () => {
    // hcl2json gives `dynamic` as one object keyed by block name, each an array of { for_each, content }.
    const dynamic = (((policy('sink_quiet')?.['dynamic'] as Block | undefined)?.['conditions'] as Block[] | undefined) ?? [])[0];
    // The for_each, with the local it names followed (the documentation reads the same local).
    const forEach = String(dynamic?.['for_each']).replace('local.sink_export_metrics_here', String(locals()['sink_export_metrics_here']));
    expect(forEach).toContain('var.log_sink_scope == "project"');
    expect(forEach).toContain('local.sink_project_id == var.project_id');
    const errors = block(block(dynamic, 'content'), 'condition_threshold');
    const text = String(errors?.['filter']).replace(/\s+/g, ' ');
    expect(text).toContain('metric.type = "logging.googleapis.com/exports/error_count"');
    expect(text).toContain('resource.type = "logging_sink"');
    expect(text).toContain('resource.labels.name = "${local.sink_name}"');
    expect(errors?.['comparison']).toBe('COMPARISON_GT');
    expect(errors?.['threshold_value']).toBe(0);
  });

  it('sink_quiet names the sink at its own scope: gcloud logging sinks describe --organization, --folder or --project', () => {
    const flag = String(locals()['sink_scope_flag']);
    expect(flag).toContain('--organization=${var.organization_id}');
    expect(flag).toContain('--folder=${var.folder_id}');
    expect(flag).toContain('--project=${local.sink_project_id}');
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// The metric: detect's own log lines for the audit entries it receives, as Cloud Logging stores them
// ---------------------------------------------------------------------------------------------------------------------

function metric(): Block | undefined {
  const [type, name] = METRIC.split('.') as [string, string];
  return (tf['resource'] as Record<string, Record<string, Block[]>> | undefined)?.[type]?.[name]?.[0];
}

/** detect's Cloud Run service with the default name_prefix, what `${google_cloudfunctions2_function.detect.name}` is. */
const DETECT_SERVICE = 'runwatch-detect';

/**
 * The entry Cloud Run (functions 2nd gen) makes of one JSON line of the function's stdout: `severity` becomes the
 * entry's severity, every other field (message included) stays in jsonPayload; the resource is the function's Cloud
 * Run revision (cloud.google.com/run/docs/logging, structured logs).
 */
function cloudRunEntryOf(record: LogRecord, service: string): Block {
  const { severity, ...payload } = record;
  return {
    logName: 'projects/p/logs/run.googleapis.com%2Fstdout',
    resource: { type: 'cloud_run_revision', labels: { service_name: service, revision_name: `${service}-00001-abc`, configuration_name: service, location: 'europe-west1' } },
    severity,
    jsonPayload: JSON.parse(JSON.stringify(payload)) as Block,
  };
}

/** Top-level clauses of `a AND b AND ...` (an AND inside quotes or parentheses is not split on). */
function clausesOf(filter: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < filter.length; i++) {
    const c = filter[i];
    if (c === '"' && filter[i - 1] !== '\\') quoted = !quoted;
    else if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')') depth--;
    else if (!quoted && depth === 0 && filter.startsWith(' AND ', i)) {
      out.push(filter.slice(start, i).trim());
      start = i + ' AND '.length;
    }
  }
  out.push(filter.slice(start).trim());
  return out;
}

/**
 * The few clauses of the Logging query language the metric's filter may use: `path = "value"` and
 * `path = ("a" OR "b")`, joined by AND (exact string equality; Cloud Logging's is also case-insensitive, so this is
 * the stricter). Anything else throws: a filter this cannot read is not checked against detect's lines.
 */
function filterSelects(filter: string, entry: Block): boolean {
  return clausesOf(filter).every((clause) => {
    const m = /^([A-Za-z_][A-Za-z0-9_.]*) = (.+)$/.exec(clause);
    if (!m) throw new Error(`a clause the test's evaluator does not read: ${clause}`);
    const [, path, right] = m as unknown as [string, string, string];
    const list = /^\((.*)\)$/.exec(right);
    const values = (list ? list[1]!.split(' OR ') : [right]).map((v) => {
      if (!/^"[^"\\]*"$/.test(v.trim())) throw new Error(`not a plain quoted string: ${v}`);
      return v.trim().slice(1, -1);
    });
    const actual = path.split('.').reduce<unknown>((at, key) => (isBlock(at) ? at[key] : undefined), entry);
    return typeof actual === 'string' && values.includes(actual);
  });
}

/** The metric's filter as written, with detect's service name for its reference. */
function metricFilter(): string {
  return String(metric()?.['filter'])
    .replace(/\s+/g, ' ')
    .split('${google_cloudfunctions2_function.detect.name}')
    .join(DETECT_SERVICE);
}

const CORPUS_DIR = fileURLToPath(new URL('../fixtures/corpus/', import.meta.url));
const CORPUS = readdirSync(CORPUS_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe(`${METRIC}: the audit entries detect receives`, () => {
  it('is created with the alerts, in project_id, as a counter', () => {
    expect(metric()?.['count']).toBe(ONE_WHEN_ALERTING);
    expect(metric()?.['project']).toBe('${var.project_id}');
    const descriptor = block(metric(), 'metric_descriptor');
    expect(descriptor?.['metric_kind']).toBe('DELTA');
    expect(descriptor?.['value_type']).toBe('INT64');
  });

  // Each real corpus entry twice (the second copy is a duplicate), a sweep tick and a message that is no LogEntry:
  // one line selected per entry message, whatever detect made of it (processed, skipped, dead-lettered, duplicate),
  // and nothing else: not the sweep's line, not the start-up line, not the dead letter of the message the sink
  // cannot have published.
  it('selects exactly one line of detect for every entry it receives, and no other line', async () => {
    const entries = CORPUS.flatMap((file, i) => {
      const data = JSON.parse(readFileSync(join(CORPUS_DIR, file), 'utf8')) as unknown;
      return [
        { id: `entry-${i}`, data },
        { id: `entry-${i}-copy`, data },
      ];
    });
    const others = [
      { id: 'tick', data: SWEEP },
      { id: 'not-a-log-entry', data: 'runwatch alert test' },
    ];
    const records = await detectLogsOf([...entries, ...others]);
    const selected = records.filter((r) => filterSelects(metricFilter(), cloudRunEntryOf(r, DETECT_SERVICE)));
    const count = (id: string): number => selected.filter((r) => r['messageId'] === id).length;
    expect(Object.fromEntries(entries.map(({ id }) => [id, count(id)]))).toEqual(Object.fromEntries(entries.map(({ id }) => [id, 1])));
    expect(selected).toHaveLength(entries.length);
    for (const { id } of others) expect(count(id), id).toBe(0);
  });

  it('selects the line of an entry detect failed on (Pub/Sub redelivers it), not that of a failed sweep', async () => {
    const failing = await detectLogsOf([{ id: 'public', data: synthetic('run-SetIamPolicy-allUsers') }], { publisher: FAILING_PUBLISHER });
    const ticks = await detectLogsOf([{ id: 'tick', data: SWEEP }], {
      store: Object.assign(new MemoryBaselineStore(), { dueKeys: () => Promise.reject(new Error('Firestore unavailable')) }),
    });
    const selects = (r: LogRecord): boolean => filterSelects(metricFilter(), cloudRunEntryOf(r, DETECT_SERVICE));
    expect(failing.filter(selects).map((r) => [r['messageId'], r.severity])).toEqual([['public', 'ERROR']]);
    expect(ticks.filter((r) => r['messageId'] === 'tick').map((r) => r.severity)).toEqual(['ERROR']);
    expect(ticks.filter(selects)).toEqual([]);
  });

  it("selects no line of another function's service", async () => {
    const records = await detectLogsOf([{ id: 'entry', data: synthetic('run-SetIamPolicy-allUsers') }]);
    expect(records.filter((r) => filterSelects(metricFilter(), cloudRunEntryOf(r, 'runwatch-notify-slack')))).toEqual([]);
    expect(records.filter((r) => filterSelects(metricFilter(), cloudRunEntryOf(r, DETECT_SERVICE)))).toHaveLength(1);
  });
});

describe('the README', () => {
  const readme = readFileSync(join(MODULE_DIR, 'README.md'), 'utf8');

  it('walks through turning alerts on', () => {
    expect(readme).toMatch(/### \d+\. Alerts/);
    expect(readme).toContain('gcloud beta monitoring channels list');
    expect(readme).toContain('alert_notification_channels');
  });

  // The sink-quiet policy watches every scope now: no README may still say organization and folder sinks are not.
  it('says a quiet sink is alerted on at every scope, and how it is counted', () => {
    expect(readme).not.toMatch(/organization and folder sinks[^.]*no[^.]*exports\/log_entry_count/i);
    expect(readme).toContain('entryOutcome');
    const main = readFileSync(join(MODULE_DIR, '..', '..', '..', 'README.md'), 'utf8');
    expect(main).not.toContain('so their silence is not alerted on');
    expect(main).toContain('entryOutcome');
  });
});

// The count a policy without a for_each is created with (kept apart so a reader sees the exact expression).
it('counts the single policies the same way', () => {
  for (const name of ['dead_letter_hold', 'detect_backlog', 'detect_errors', 'sink_quiet']) expect(policy(name)?.['count'], name).toBe(ONE_WHEN_ALERTING);
});
