// The pipeline says when it is failing: with alert_notification_channels set, the module creates Cloud Monitoring alert
// policies for every way runwatch can go quiet without anyone noticing (a dead-letter hold keeping letters, a push
// subscription backing up, a function logging errors or refusing to serve, the log sink no longer delivering); with
// none set, no policy at all (as before). Offline, like module.test.ts: the .tf files are parsed (@cdktn/hcl2json) and
// each policy is checked for the metric, the monitored-resource type and the exact subscription, service or sink it
// watches, per sink where there is one per sink, and for documentation that tells the on-call what to do.
import { convertFiles } from '@cdktn/hcl2json';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const MODULE_DIR = fileURLToPath(new URL('../../terraform/modules/runwatch/', import.meta.url));

type Block = Record<string, unknown>;
type Tf = Record<string, unknown>;

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
    filter: [
      'metric.type = "logging.googleapis.com/exports/log_entry_count"',
      'resource.type = "logging_sink"',
      'resource.labels.name = "${local.sink_name}"',
    ],
    doc: [/writer identity/, /gcloud logging sinks describe/, /quiet/],
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

  it('sink_quiet waits alert_sink_quiet_duration, and exists only where its metric is written: a sink in project_id', () => {
    const absent = block(((policy('sink_quiet')?.['conditions'] as Block[] | undefined) ?? [])[0], 'condition_absent');
    expect(absent?.['duration']).toBe('${var.alert_sink_quiet_duration}');
    const count = String(policy('sink_quiet')?.['count']);
    expect(count).toContain('var.log_sink_scope == "project"');
    expect(count).toContain('local.sink_project_id == var.project_id');
  });

  it('sink_quiet also fires at once on failed exports (a writer identity that lost its role)', () => {
    const conditions = (policy('sink_quiet')?.['conditions'] as Block[] | undefined) ?? [];
    const errors = conditions.map((c) => block(c, 'condition_threshold')).find((c) => c !== undefined);
    const text = String(errors?.['filter']).replace(/\s+/g, ' ');
    expect(text).toContain('metric.type = "logging.googleapis.com/exports/error_count"');
    expect(text).toContain('resource.type = "logging_sink"');
    expect(text).toContain('resource.labels.name = "${local.sink_name}"');
    expect(policy('sink_quiet')?.['combiner']).toBe('OR');
  });
});

describe('the README', () => {
  const readme = readFileSync(join(MODULE_DIR, 'README.md'), 'utf8');

  it('walks through turning alerts on', () => {
    expect(readme).toMatch(/### \d+\. Alerts/);
    expect(readme).toContain('gcloud beta monitoring channels list');
    expect(readme).toContain('alert_notification_channels');
  });

  it('says where a quiet sink is not watched', () => {
    expect(readme).toMatch(/organization and folder sinks[^.]*no[^.]*exports\/log_entry_count/i);
  });
});

// The count a policy without a for_each is created with (kept apart so a reader sees the exact expression).
it('counts the single policies the same way', () => {
  for (const name of ['dead_letter_hold', 'detect_backlog', 'detect_errors']) expect(policy(name)?.['count'], name).toBe(ONE_WHEN_ALERTING);
});
