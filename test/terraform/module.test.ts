// Offline checks of the runwatch Terraform module: providers cannot be downloaded here, so `terraform validate` is out
// of reach; instead every .tf file is parsed to JSON (@cdktn/hcl2json) and what matters is asserted on the parse:
// least-privilege IAM, dead-letter and retry policies, push identities, secrets never inlined, the sink wiring.
// Each checker returns a list of violations; the last block mutates the real module and proves each checker fails.
import { convertFiles } from '@cdktn/hcl2json';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { topologyNames } from '../../functions/pubsub/topology.js';
import { APPLIED_RECORD_EXPIRY_FIELD, appliedCollectionOf, DEFAULT_BASELINE_COLLECTION, spillCollectionOf } from '../../functions/baseline/firestore.js';

const TERRAFORM_DIR = fileURLToPath(new URL('../../terraform/', import.meta.url));
const MODULE_DIR = join(TERRAFORM_DIR, 'modules', 'runwatch');
const EXAMPLE_DIRS = ['organization', 'project'].map((name) => join(TERRAFORM_DIR, 'examples', name));

type Block = Record<string, unknown>;
type Tf = Record<string, unknown>;

interface Resource {
  readonly type: string;
  readonly name: string;
  readonly body: Block;
}

/** A reference to a managed resource inside an expression, e.g. google_service_account.notify[each.key].email. */
interface Ref {
  readonly address: string; // google_service_account.notify
  readonly index: string; // [each.key], ["scc"] or ''
}

// ---------------------------------------------------------------------------------------------------------------------
// Reading the parse
// ---------------------------------------------------------------------------------------------------------------------

function isBlock(value: unknown): value is Block {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function resources(tf: Tf, type?: string): Resource[] {
  const out: Resource[] = [];
  const all = isBlock(tf['resource']) ? tf['resource'] : {};
  for (const [t, byName] of Object.entries(all)) {
    if (type !== undefined && t !== type) continue;
    if (!isBlock(byName)) continue;
    for (const [name, blocks] of Object.entries(byName)) {
      for (const body of blocks as Block[]) out.push({ type: t, name, body });
    }
  }
  return out;
}

function resource(tf: Tf, type: string, name: string): Resource {
  const found = resources(tf, type).find((r) => r.name === name);
  if (!found) throw new Error(`${type}.${name} not found`);
  return found;
}

/** The first (only) nested block of that name: hcl2json turns every block into an array. */
function block(body: unknown, name: string): Block | undefined {
  if (!isBlock(body)) return undefined;
  const value = body[name];
  return Array.isArray(value) && isBlock(value[0]) ? value[0] : undefined;
}

function locals(tf: Tf): Block {
  const blocks = Array.isArray(tf['locals']) ? (tf['locals'] as Block[]) : [];
  return Object.assign({}, ...blocks) as Block;
}

function strings(value: unknown, path = ''): Array<{ path: string; value: string }> {
  if (typeof value === 'string') return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${path}[${i}]`));
  if (isBlock(value)) return Object.entries(value).flatMap(([k, v]) => strings(v, path ? `${path}.${k}` : k));
  return [];
}

function objectKeys(value: unknown, path = ''): Array<{ path: string; key: string }> {
  if (Array.isArray(value)) return value.flatMap((v, i) => objectKeys(v, `${path}[${i}]`));
  if (!isBlock(value)) return [];
  return Object.entries(value).flatMap(([k, v]) => [{ path, key: k }, ...objectKeys(v, path ? `${path}.${k}` : k)]);
}

const REF = /(?<![\w.])(google_[a-z0-9_]+)\.([a-z0-9_-]+)(\[[^\]]*\])?/g;

function refs(value: unknown): Ref[] {
  const out: Ref[] = [];
  for (const { value: s } of strings(value)) {
    for (const m of s.matchAll(REF)) out.push({ address: `${m[1]}.${m[2]}`, index: m[3] ?? '' });
  }
  return out;
}

function firstRef(value: unknown, type?: string): Ref | undefined {
  return refs(value).find((r) => type === undefined || r.address.startsWith(`${type}.`));
}

const refKey = (r: Ref | undefined): string => (r ? `${r.address}${r.index}` : '(none)');

/** Who an IAM grant is for: a service account resource, a local (sink writer, Pub/Sub agent) or a literal. */
function principalOf(body: Block): Ref | undefined {
  const member = body['member'] ?? body['members'];
  const sa = firstRef(member, 'google_service_account');
  if (sa) return sa;
  const local = strings(member)
    .map(({ value }) => /\blocal\.([a-z0-9_]+)/.exec(value))
    .find((m) => m !== null);
  if (local) return { address: `local.${local[1]}`, index: '' };
  const literal = strings(member)[0]?.value;
  return literal === undefined ? undefined : { address: literal, index: '' };
}

const IAM_TYPE = /_iam_(member|binding|policy)$/;

interface Grant {
  readonly resource: string;
  readonly principal: Ref | undefined;
  readonly role: string;
  readonly target: string;
  readonly forEach: unknown;
}

/** Every IAM grant in the module with what it is granted on. Project and organization grants name their level. */
function grants(tf: Tf): Grant[] {
  const TARGET_FIELDS = ['topic', 'subscription', 'secret_id', 'service', 'bucket', 'source', 'service_account_id', 'name', 'folder'];
  return resources(tf)
    .filter((r) => IAM_TYPE.test(r.type))
    .map((r) => {
      let target: string;
      if (r.type === 'google_project_iam_member' || r.type === 'google_project_iam_binding') target = 'project';
      else if (r.type.startsWith('google_organization_iam')) target = 'organization';
      else {
        const field = TARGET_FIELDS.find((f) => r.body[f] !== undefined);
        const value = field === undefined ? undefined : r.body[field];
        const ref = firstRef(value);
        const local = strings(value).map(({ value: s }) => /\blocal\.([a-z0-9_]+)/.exec(s)).find((m) => m !== null);
        target = ref ? refKey(ref) : local ? `local.${local[1]}` : String(value);
      }
      // A conditional grant (IAM Conditions) reaches only what its condition admits: checked on its own below.
      if (block(r.body, 'condition') !== undefined) target += ' (conditional)';
      return {
        resource: `${r.type}.${r.name}`,
        principal: principalOf(r.body),
        role: String(r.body['role'] ?? ''),
        target,
        forEach: r.body['for_each'],
      };
    });
}

function pushSubscriptions(tf: Tf): Resource[] {
  return resources(tf, 'google_pubsub_subscription').filter((r) => block(r.body, 'push_config') !== undefined);
}

// ---------------------------------------------------------------------------------------------------------------------
// Checkers: each returns the violations it finds (empty = fine)
// ---------------------------------------------------------------------------------------------------------------------

const PRIMITIVE_ROLE = /\broles\/(owner|editor|viewer)\b/;
const PUBLIC_MEMBER = /\b(allUsers|allAuthenticatedUsers)\b/;

function primitiveRoleViolations(tf: Tf): string[] {
  return strings(tf)
    .filter(({ value }) => PRIMITIVE_ROLE.test(value))
    .map(({ path, value }) => `${path}: primitive role ${value}`);
}

function publicMemberViolations(tf: Tf): string[] {
  return strings(tf)
    .filter(({ value }) => PUBLIC_MEMBER.test(value))
    .map(({ path, value }) => `${path}: public member ${value}`);
}

/** Each function runs as its own service account; a for_each function as one account per instance. */
function functionIdentityViolations(tf: Tf): string[] {
  const out: string[] = [];
  const functions = resources(tf, 'google_cloudfunctions2_function');
  const seen = new Map<string, string>();
  const pushIdentities = new Set(
    pushSubscriptions(tf).map((s) => firstRef(block(block(s.body, 'push_config'), 'oidc_token'), 'google_service_account')?.address),
  );
  for (const fn of functions) {
    const id = `${fn.type}.${fn.name}`;
    const sa = firstRef(block(fn.body, 'service_config')?.['service_account_email'], 'google_service_account');
    if (!sa) {
      out.push(`${id}: service_config.service_account_email is not a google_service_account of this module`);
      continue;
    }
    const owner = seen.get(sa.address);
    if (owner) out.push(`${id}: shares ${sa.address} with ${owner}`);
    seen.set(sa.address, id);
    if (pushIdentities.has(sa.address)) out.push(`${id}: runs as ${sa.address}, which is also a push identity`);
    const [saType, saName] = sa.address.split('.') as [string, string];
    const saBody = resources(tf, saType).find((r) => r.name === saName)?.body;
    if (!saBody) {
      out.push(`${id}: ${sa.address} is not declared`);
      continue;
    }
    if (fn.body['for_each'] !== undefined) {
      if (sa.index !== '[each.key]') out.push(`${id}: for_each function must use ${sa.address}[each.key], not ${refKey(sa)}`);
      if (saBody['for_each'] !== fn.body['for_each']) out.push(`${id}: ${sa.address} is not created per instance (for_each differs)`);
    } else if (sa.index !== '' || saBody['for_each'] !== undefined || saBody['count'] !== undefined) {
      out.push(`${id}: a single function must use a single service account`);
    }
  }
  return out;
}

/**
 * The dead-letter topic of each side: redrive sends what it reads from one back to that side's topic, so a side's
 * subscriptions dead-letter to its own (and only its own functions and the Pub/Sub service agent may publish there).
 */
const DEAD_LETTER_TOPIC_OF: Record<string, string> = {
  'google_pubsub_topic.audit': 'google_pubsub_topic.dead_letter',
  'google_pubsub_topic.findings': 'google_pubsub_topic.findings_dead_letter[each.key]', // each sink's own
};

/** Every subscription retries with backoff and dead-letters, except the pull subscriptions that hold dead letters. */
function subscriptionViolations(tf: Tf): string[] {
  const out: string[] = [];
  for (const sub of resources(tf, 'google_pubsub_subscription')) {
    const id = `google_pubsub_subscription.${sub.name}`;
    const topic = refKey(firstRef(sub.body['topic'], 'google_pubsub_topic'));
    const retry = block(sub.body, 'retry_policy');
    if (!retry || retry['minimum_backoff'] === undefined || retry['maximum_backoff'] === undefined) {
      out.push(`${id}: retry_policy with minimum_backoff and maximum_backoff is missing`);
    }
    const expiration = block(sub.body, 'expiration_policy');
    if (!expiration || expiration['ttl'] !== '') out.push(`${id}: expiration_policy { ttl = "" } is missing (idle subscriptions expire)`);
    const holdsDeadLetters = Object.values(DEAD_LETTER_TOPIC_OF).includes(topic) && block(sub.body, 'push_config') === undefined;
    if (holdsDeadLetters) continue;
    const dlq = block(sub.body, 'dead_letter_policy');
    if (!dlq) {
      out.push(`${id}: dead_letter_policy is missing`);
      continue;
    }
    const dlqTopic = refKey(firstRef(dlq['dead_letter_topic'], 'google_pubsub_topic'));
    const wanted = DEAD_LETTER_TOPIC_OF[topic];
    if (dlqTopic !== wanted) out.push(`${id}: dead-letters to ${dlqTopic}, not ${wanted ?? 'a dead-letter topic'} (the one of its side)`);
    if (dlqTopic === topic) out.push(`${id}: dead-letters to its own topic`);
    if (dlq['max_delivery_attempts'] === undefined) out.push(`${id}: dead_letter_policy.max_delivery_attempts is missing`);
  }
  return out;
}

/**
 * Each push subscription authenticates with OIDC as a dedicated account whose only grant is run.invoker on the Cloud
 * Run service of the function the subscription pushes to (the same instance, for for_each subscriptions).
 */
function pushIdentityViolations(tf: Tf): string[] {
  const out: string[] = [];
  const allGrants = grants(tf);
  for (const sub of pushSubscriptions(tf)) {
    const id = `google_pubsub_subscription.${sub.name}`;
    const push = block(sub.body, 'push_config');
    const oidc = block(push, 'oidc_token');
    const fn = firstRef(push?.['push_endpoint'], 'google_cloudfunctions2_function');
    const sa = firstRef(oidc?.['service_account_email'], 'google_service_account');
    if (!fn) {
      out.push(`${id}: push_endpoint is not one of this module's functions`);
      continue;
    }
    if (!oidc || !sa) {
      out.push(`${id}: push_config.oidc_token.service_account_email is not a google_service_account of this module`);
      continue;
    }
    if (refKey(firstRef(oidc['audience'], 'google_cloudfunctions2_function')) !== refKey(fn)) {
      out.push(`${id}: oidc_token.audience is not the URI of ${refKey(fn)}`);
    }
    const mine = allGrants.filter((g) => g.principal?.address === sa.address);
    if (mine.length === 0) out.push(`${id}: ${sa.address} holds no run.invoker grant`);
    for (const g of mine) {
      const own =
        g.resource.startsWith('google_cloud_run_service_iam_member.') &&
        g.role === 'roles/run.invoker' &&
        g.target === refKey(fn) &&
        g.principal?.index === sa.index &&
        g.forEach === sub.body['for_each'];
      if (!own) out.push(`${id}: ${refKey(sa)} holds ${g.role} on ${g.target} (${g.resource}); only run.invoker on ${refKey(fn)} is allowed`);
    }
  }
  return out;
}

// WEBHOOK_URL too: many webhook URLs carry their credential in the path (Slack, Teams, Discord incoming webhooks).
const SECRET_ENV = ['SLACK_BOT_TOKEN', 'PAGERDUTY_ROUTING_KEY', 'WEBHOOK_SECRET', 'WEBHOOK_URL'];

/** Secret values never appear in Terraform: no secret versions, no secret env names in plain environment maps. */
function secretViolations(tf: Tf): string[] {
  const out: string[] = [];
  for (const r of resources(tf, 'google_secret_manager_secret_version')) out.push(`google_secret_manager_secret_version.${r.name}: secret values must be added out of band`);
  for (const { path, key } of objectKeys(tf)) {
    if (key === 'secret_data' || key === 'secret_data_wo') out.push(`${path}: ${key} puts a secret value in Terraform`);
    if (SECRET_ENV.includes(key)) out.push(`${path}.${key}: a secret set as a plain value (use secret_environment_variables)`);
  }
  for (const fn of resources(tf, 'google_cloudfunctions2_function')) {
    const env = block(fn.body, 'service_config')?.['environment_variables'];
    for (const { value } of strings(env)) {
      for (const name of SECRET_ENV) if (value.includes(name)) out.push(`google_cloudfunctions2_function.${fn.name}: ${name} in environment_variables`);
    }
  }
  return out;
}

/**
 * Every resource waits, directly or through what it references (locals followed), for google_project_service.apis:
 * on a new project a call to an API that is not enabled yet fails the first apply.
 */
function apiOrderViolations(tf: Tf): string[] {
  const APIS = 'google_project_service.apis';
  const l = locals(tf);
  const direct = (value: unknown, seenLocals: Set<string>): string[] => {
    const out = refs(value).map((r) => r.address);
    for (const { value: s } of strings(value)) {
      for (const m of s.matchAll(/\blocal\.([a-z0-9_]+)/g)) {
        if (seenLocals.has(m[1]!)) continue;
        seenLocals.add(m[1]!);
        out.push(...direct(l[m[1]!], seenLocals));
      }
    }
    return out;
  };
  const deps = new Map<string, string[]>();
  for (const r of resources(tf)) deps.set(`${r.type}.${r.name}`, direct(r.body, new Set()));
  const reaches = (address: string, seen: Set<string>): boolean => {
    if (address === APIS) return true;
    if (seen.has(address)) return false;
    seen.add(address);
    return (deps.get(address) ?? []).some((d) => reaches(d, seen));
  };
  return [...deps.keys()].filter((a) => a !== APIS && !reaches(a, new Set())).map((a) => `${a}: does not wait for ${APIS}`);
}

/**
 * A sink that stops delivering is alerted on at every scope (organization, folder, project): the sink-quiet policy is
 * created whenever alerts are on, whatever log_sink_scope is, and watches, summed over detect's Cloud Run revisions
 * (each its own series: a redeploy must not page), a log-based metric of this module that counts detect's lines for
 * the entries it receives (jsonPayload.entryOutcome) in detect's own service, created together with the policy. Not
 * the sink's export metrics: an organization or folder sink writes them in no project.
 */
function sinkQuietViolations(tf: Tf): string[] {
  const out: string[] = [];
  const policy = resources(tf, 'google_monitoring_alert_policy').find((r) => r.name === 'sink_quiet')?.body;
  if (!policy) return ['google_monitoring_alert_policy.sink_quiet: missing'];
  const count = String(policy['count']);
  if (count.includes('log_sink_scope') || count.includes('sink_project_id')) out.push(`sink_quiet: created for some sink scopes only (${count})`);
  const conditions = Array.isArray(policy['conditions']) ? (policy['conditions'] as Block[]) : [];
  const absent = conditions.map((c) => block(c, 'condition_absent')).find((c) => c !== undefined);
  const filter = String(absent?.['filter']);
  const watched = /metric\.type = "logging\.googleapis\.com\/user\/\$\{google_logging_metric\.([a-z0-9_]+)\[0\]\.name\}"/.exec(filter)?.[1];
  if (!watched) return [...out, `sink_quiet: its absence condition watches no log-based metric of the module (${filter})`];
  if (block(absent, 'aggregations')?.['cross_series_reducer'] !== 'REDUCE_SUM') out.push("sink_quiet: not summed over detect's revisions (cross_series_reducer REDUCE_SUM)");
  const metric = resources(tf, 'google_logging_metric').find((r) => r.name === watched)?.body;
  if (!metric) return [...out, `google_logging_metric.${watched}: missing`];
  if (metric['count'] !== policy['count']) out.push(`google_logging_metric.${watched}: not created with the policy (${String(metric['count'])})`);
  const metricFilter = String(metric['filter']);
  if (!metricFilter.includes('resource.labels.service_name = "${google_cloudfunctions2_function.detect.name}"')) out.push(`google_logging_metric.${watched}: not detect's service`);
  if (!metricFilter.includes('jsonPayload.entryOutcome')) out.push(`google_logging_metric.${watched}: does not count the entries detect receives (jsonPayload.entryOutcome)`);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// The module under test
// ---------------------------------------------------------------------------------------------------------------------

let tf: Tf;
let examples: Tf[];
const rawModuleFiles = readdirSync(MODULE_DIR)
  .filter((f) => f.endsWith('.tf'))
  .map((f) => ({ file: f, text: readFileSync(join(MODULE_DIR, f), 'utf8') }));

beforeAll(async () => {
  tf = await convertFiles(MODULE_DIR);
  examples = await Promise.all(EXAMPLE_DIRS.map((dir) => convertFiles(dir)));
});

describe('the parse finds the module', () => {
  it('has the resources the pipeline is made of', () => {
    expect(resources(tf, 'google_cloudfunctions2_function').map((r) => r.name).sort()).toEqual(['detect', 'notify']);
    expect(resources(tf, 'google_pubsub_topic').map((r) => r.name).sort()).toEqual(['audit', 'dead_letter', 'findings', 'findings_dead_letter']);
    expect(resources(tf, 'google_pubsub_subscription').map((r) => r.name).sort()).toEqual(['dead_letter_hold', 'detect', 'findings_dead_letter_hold', 'notify']);
    expect(resources(tf, 'google_firestore_database').map((r) => r.name).sort()).toEqual(['default', 'deliveries']);
    expect(pushSubscriptions(tf).map((r) => r.name).sort()).toEqual(['detect', 'notify']);
    expect(grants(tf).length).toBeGreaterThanOrEqual(15);
  });
});

describe('IAM', () => {
  it('grants no primitive role (owner, editor, viewer), in the module or the examples', () => {
    expect(primitiveRoleViolations(tf)).toEqual([]);
    for (const example of examples) expect(primitiveRoleViolations(example)).toEqual([]);
  });

  it('grants nothing to allUsers or allAuthenticatedUsers, in the module or the examples', () => {
    expect(publicMemberViolations(tf)).toEqual([]);
    for (const example of examples) expect(publicMemberViolations(example)).toEqual([]);
  });

  it('uses only non-authoritative *_iam_member grants (never replaces a policy or a binding)', () => {
    const authoritative = resources(tf).filter((r) => /_iam_(binding|policy)$/.test(r.type));
    expect(authoritative.map((r) => `${r.type}.${r.name}`)).toEqual([]);
  });

  it('runs each function as its own service account', () => {
    expect(functionIdentityViolations(tf)).toEqual([]);
  });

  it('lets each push identity invoke its own function and nothing else', () => {
    expect(pushIdentityViolations(tf)).toEqual([]);
  });

  // The complete list of grants, by principal. A new grant fails this test until it is added here on purpose.
  const EXPECTED: Record<string, string[]> = {
    'google_service_account.detect': [
      // Only on (default), where its state is (its condition is checked in "Firestore", below).
      'roles/datastore.user @ project (conditional)',
      'roles/pubsub.publisher @ google_pubsub_topic.dead_letter',
      'roles/pubsub.publisher @ google_pubsub_topic.findings',
      // Only with admin_api_fallback, at the scope the sink watches (count), read-only.
      'roles/run.viewer @ folders/${var.folder_id}',
      'roles/run.viewer @ organization',
      'roles/run.viewer @ project',
    ],
    'google_service_account.notify': [
      // Only on the delivery records' own database (its condition is checked in "Firestore", below).
      'roles/datastore.user @ project (conditional)',
      'roles/pubsub.publisher @ google_pubsub_topic.findings_dead_letter[each.key]',
      'roles/secretmanager.secretAccessor @ google_secret_manager_secret.sink[each.key]',
      'roles/securitycenter.findingsEditor @ local.scc_source_name',
      'roles/securitycenter.findingsEditor @ organization',
    ],
    'google_service_account.detect_push': ['roles/run.invoker @ google_cloudfunctions2_function.detect'],
    'google_service_account.notify_push': ['roles/run.invoker @ google_cloudfunctions2_function.notify[each.key]'],
    'google_service_account.build': ['roles/run.builder @ project', 'roles/storage.objectViewer @ google_storage_bucket.source'],
    'local.sink_writer_identity': ['roles/pubsub.publisher @ google_pubsub_topic.audit'],
    'local.pubsub_service_agent': [
      'roles/iam.serviceAccountTokenCreator @ google_service_account.detect_push',
      'roles/iam.serviceAccountTokenCreator @ google_service_account.notify_push[each.key]',
      'roles/pubsub.publisher @ google_pubsub_topic.dead_letter',
      'roles/pubsub.publisher @ google_pubsub_topic.findings_dead_letter[each.key]',
      'roles/pubsub.subscriber @ google_pubsub_subscription.detect',
      'roles/pubsub.subscriber @ google_pubsub_subscription.notify[each.key]',
    ],
  };

  it('grants each principal exactly the roles it needs, where it needs them', () => {
    const actual: Record<string, string[]> = {};
    for (const g of grants(tf)) {
      const who = g.principal?.address ?? '(unknown)';
      (actual[who] ??= []).push(`${g.role} @ ${g.target}`);
    }
    for (const list of Object.values(actual)) list.sort();
    expect(actual).toEqual(EXPECTED);
  });

  // `runwatch redrive` sends what it reads from a side's hold back to that side's topic (audit: detect's input;
  // findings: every sink's). A notify account (it holds a sink's token and talks to the internet) that could publish
  // to the audit side's dead-letter topic could inject forged audit entries into detection through a redrive.
  it("lets only a side's own functions and the Pub/Sub service agent publish to that side's dead-letter topic", () => {
    const publishers = (topic: string): string[] =>
      grants(tf)
        .filter((g) => g.target === topic)
        .map((g) => `${g.role} ${g.principal?.address ?? '(unknown)'}`)
        .sort();
    expect(publishers('google_pubsub_topic.dead_letter')).toEqual([
      'roles/pubsub.publisher google_service_account.detect',
      'roles/pubsub.publisher local.pubsub_service_agent',
    ]);
    expect(publishers('google_pubsub_topic.findings_dead_letter[each.key]')).toEqual([
      'roles/pubsub.publisher google_service_account.notify',
      'roles/pubsub.publisher local.pubsub_service_agent',
    ]);
    // One findings-side topic and hold per sink, and each notify account publishes to its own sink's only: a letter
    // read from a sink's hold is redriven to that sink alone, so a compromised notify function cannot get a forged
    // finding to the other sinks (a page, an SCC finding) through a redrive.
    const perSink = grants(tf).filter((g) => g.target === 'google_pubsub_topic.findings_dead_letter[each.key]');
    for (const g of perSink) expect(g.forEach, g.resource).toBe('${local.sinks}');
    expect(perSink.find((g) => g.principal?.address === 'google_service_account.notify')?.principal?.index).toBe('[each.key]');
    expect(resource(tf, 'google_pubsub_topic', 'findings_dead_letter').body['for_each']).toBe('${local.sinks}');
    expect(resource(tf, 'google_pubsub_topic', 'findings_dead_letter').body['name']).toBe('${var.name_prefix}-findings-dead-letter-${each.key}');
    expect(resource(tf, 'google_pubsub_subscription', 'findings_dead_letter_hold').body['for_each']).toBe('${local.sinks}');
    expect(topologyNames('${var.name_prefix}').findingsDeadLetterTopic('${each.key}')).toBe(resource(tf, 'google_pubsub_topic', 'findings_dead_letter').body['name']);
    expect(topologyNames('${var.name_prefix}').findingsDeadLetterHold('${each.key}')).toBe(resource(tf, 'google_pubsub_subscription', 'findings_dead_letter_hold').body['name']);
    const topicOf = (name: string): string | undefined => refKey(firstRef(resource(tf, 'google_pubsub_subscription', name).body['topic'], 'google_pubsub_topic'));
    expect(topicOf('dead_letter_hold')).toBe('google_pubsub_topic.dead_letter');
    expect(topicOf('findings_dead_letter_hold')).toBe('google_pubsub_topic.findings_dead_letter[each.key]');
    expect(resource(tf, 'google_pubsub_subscription', 'dead_letter_hold').body['name']).toBe('${var.name_prefix}-dead-letter-hold');
    expect(resource(tf, 'google_pubsub_subscription', 'findings_dead_letter_hold').body['name']).toBe('${var.name_prefix}-findings-dead-letter-${each.key}-hold');
    // Each function publishes its own dead letters to its side's topic (DEAD_LETTER_TOPIC).
    const env = (name: string): string => String(block(resource(tf, 'google_cloudfunctions2_function', name).body, 'service_config')?.['environment_variables']);
    expect(env('detect')).toContain('DEAD_LETTER_TOPIC = google_pubsub_topic.dead_letter.id');
    expect(env('notify')).toContain('DEAD_LETTER_TOPIC = google_pubsub_topic.findings_dead_letter[each.key].id');
  });

  it.each([
    ['google_secret_manager_secret_iam_member', 'notify_secret_accessor', '[each.value.sink]', '${local.secrets}'],
    ['google_scc_v2_organization_source_iam_member', 'notify_scc_findings_editor', '["scc"]', undefined],
    ['google_organization_iam_member', 'notify_scc_findings_editor', '["scc"]', undefined],
  ])('%s.%s goes to the one notify instance that needs it (%s)', (type, name, index, forEach) => {
    const r = resource(tf, type, name);
    expect(principalOf(r.body)).toEqual({ address: 'google_service_account.notify', index });
    expect(r.body['for_each']).toBe(forEach);
    if (forEach === undefined) expect(String(r.body['count'])).toContain('contains(var.sinks, "scc")');
  });

  it('places a one-line comment saying why right above every IAM grant', () => {
    const missing: string[] = [];
    for (const { file, text } of rawModuleFiles) {
      const lines = text.split('\n');
      lines.forEach((line, i) => {
        if (!/^resource "google_[a-z0-9_]+_iam_(member|binding|policy)"/.test(line)) return;
        const above = lines[i - 1] ?? '';
        const twoAbove = lines[i - 2] ?? '';
        if (!/^# \S.{10,}/.test(above) || twoAbove.startsWith('#')) missing.push(`${file}:${i + 1}: ${line}`);
      });
    }
    expect(missing).toEqual([]);
    expect(rawModuleFiles.map((f) => f.text).join('\n').match(/^resource "google_[a-z0-9_]+_iam_member"/gm)?.length).toBe(grants(tf).length);
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// Firestore: the delivery records apart from detect's state
// ---------------------------------------------------------------------------------------------------------------------

/**
 * The value of a Terraform string with its interpolations resolved: the variables given, locals, and the name of a
 * google_firestore_database of the module. Anything else throws (the test must then learn it on purpose).
 */
function resolve(value: unknown, vars: Record<string, string>): string {
  const l = locals(tf);
  return String(value).replace(/\$\{([^}]+)\}/g, (_, expr: string) => {
    const e = expr.trim();
    if (e.startsWith('var.') && vars[e.slice(4)] !== undefined) return vars[e.slice(4)]!;
    const local = /^local\.([a-z0-9_]+)$/.exec(e);
    if (local && l[local[1]!] !== undefined) return resolve(l[local[1]!], vars);
    const db = /^google_firestore_database\.([a-z0-9_]+)\.name$/.exec(e);
    if (db) return resolve(resource(tf, 'google_firestore_database', db[1]!).body['name'], vars);
    throw new Error(`cannot resolve \${${e}}`);
  });
}

/**
 * Evaluates an IAM condition (the CEL subset it may use here: resource.name / resource.type / resource.service
 * compared with ==, resource.name.startsWith, && and ||) for a resource's attributes. Anything else throws.
 */
function admits(expression: string, attributes: { name: string; type: string; service: string }): boolean {
  const atom = (text: string): boolean => {
    const t = text.trim().replace(/^\((.*)\)$/, '$1').trim();
    const eq = /^resource\.(name|type|service)\s*==\s*(["'])([^"']*)\2$/.exec(t);
    if (eq) return attributes[eq[1] as 'name' | 'type' | 'service'] === eq[3];
    const prefix = /^resource\.name\.startsWith\((["'])([^"']*)\1\)$/.exec(t);
    if (prefix) return attributes.name.startsWith(prefix[2]!);
    throw new Error(`unsupported condition term: ${t}`);
  };
  return expression.split('||').some((clause) => clause.split('&&').every(atom));
}

/** The resolve() values the Firestore tests deploy with, and the attributes Firestore gives a call on `name`. */
const DEPLOYED = { project_id: 'acme-sec', name_prefix: 'runwatch' };
const firestore = (name: string) => ({ name, type: 'firestore.googleapis.com/Database', service: 'firestore.googleapis.com' });

/** Whether a project-level grant reaches a Firestore resource: without a condition, everything in the project. */
function reaches(grant: Block, name: string): boolean {
  const condition = block(grant, 'condition');
  return condition === undefined || admits(resolve(condition['expression'], DEPLOYED), firestore(name));
}

/** Roles that carry Firestore data permissions (datastore.entities.*); primitive roles are refused on their own. */
const FIRESTORE_DATA_ROLE = /^roles\/(datastore|firebase|firestore)[.a-zA-Z]*$/;

describe('Firestore', () => {
  // The records of delivered findings live in a database of their own: a notify account (it holds a sink's token and
  // talks to the internet) may then be granted Firestore on that database only, never on (default), where detect
  // keeps the baselines a compromised notify function could otherwise rewrite or delete to blind detection.
  it('keeps the delivery records in a named database of its own, beside (default), never destroyed with the stack', () => {
    const db = resource(tf, 'google_firestore_database', 'deliveries').body;
    const defaultDb = resource(tf, 'google_firestore_database', 'default').body;
    expect(db['count']).toBeUndefined(); // always: unlike (default), it cannot exist before the module
    expect(db['project']).toBe('${var.project_id}');
    expect(db['name']).toBe('${var.name_prefix}-deliveries');
    expect(db['type']).toBe('FIRESTORE_NATIVE');
    expect(db['location_id']).toBe(defaultDb['location_id']);
    expect(db['delete_protection_state']).toBe('DELETE_PROTECTION_ENABLED');
    expect(db['deletion_policy']).toBe('ABANDON');
    // The development topology (npm run dev, the integration stack) names it the same way.
    expect(topologyNames('${var.name_prefix}').deliveryDatabase).toBe(db['name']);
    // name_prefix (3-12 characters) always gives a valid database id (4-63: lowercase letters, digits, hyphens).
    for (const prefix of ['abc', 'runwatch', 'abcdefghijkl']) expect(resolve(db['name'], { name_prefix: prefix })).toMatch(/^[a-z][a-z0-9-]{2,61}[a-z0-9]$/);
  });

  it('grants each notify account Firestore on the delivery database only', () => {
    const grant = resource(tf, 'google_project_iam_member', 'notify_datastore_user').body;
    expect(grant['for_each']).toBe('${local.sinks}');
    expect(grant['role']).toBe('roles/datastore.user');
    const condition = block(grant, 'condition');
    expect(String(condition?.['title'] ?? '')).not.toBe('');
    const expression = resolve(condition?.['expression'], DEPLOYED);
    // Firestore names the database as the resource of a document call (its audit entries' resourceAttributes).
    expect(admits(expression, firestore('projects/acme-sec/databases/runwatch-deliveries'))).toBe(true);
    expect(admits(expression, firestore('projects/acme-sec/databases/runwatch-deliveries/documents/runwatch-deliveries/slack__x'))).toBe(true);
    for (const name of [
      'projects/acme-sec/databases/(default)',
      'projects/acme-sec/databases/(default)/documents/runwatch-baselines/x',
      'projects/acme-sec/databases/(default)/documents/runwatch-deliveries/x',
      'projects/acme-sec/databases/runwatch-deliveries2',
      'projects/acme-sec/databases/runwatch-deliveries-old',
      'projects/other/databases/runwatch-deliveries',
      'projects/acme-sec',
    ]) {
      expect(admits(expression, firestore(name)), name).toBe(false);
    }
  });

  // detect's grant used to be project-wide: a compromised detect function (it parses attacker-influenced audit entries)
  // could then rewrite or delete the delivery records, and a finding delivered before would be posted again, or its
  // resolution lose its thread. detect keeps its baselines, correlations and applied records in (default) only.
  it("grants detect Firestore on (default) only, never the delivery records' database", () => {
    const grant = resource(tf, 'google_project_iam_member', 'detect_datastore_user').body;
    expect(grant['role']).toBe('roles/datastore.user');
    expect(grant['for_each']).toBeUndefined();
    for (const name of [
      'projects/acme-sec/databases/(default)',
      `projects/acme-sec/databases/(default)/documents/${DEFAULT_BASELINE_COLLECTION}/x`,
      `projects/acme-sec/databases/(default)/documents/${appliedCollectionOf(DEFAULT_BASELINE_COLLECTION)}/x`,
      `projects/acme-sec/databases/(default)/documents/${DEFAULT_BASELINE_COLLECTION}/x/${spillCollectionOf(DEFAULT_BASELINE_COLLECTION)}/y`,
    ]) {
      expect(reaches(grant, name), name).toBe(true);
    }
    for (const name of [
      'projects/acme-sec/databases/runwatch-deliveries',
      'projects/acme-sec/databases/runwatch-deliveries/documents/runwatch-deliveries/slack__x',
      'projects/acme-sec/databases/other',
      'projects/other/databases/(default)',
      'projects/acme-sec',
    ]) {
      expect(reaches(grant, name), name).toBe(false);
    }
    expect(String(block(grant, 'condition')?.['title'] ?? '')).not.toBe('');
    // detect does not wait for a database it may not reach: it deploys once its grant and (default) exist.
    expect(resource(tf, 'google_cloudfunctions2_function', 'detect').body['depends_on']).toEqual(
      expect.arrayContaining(['${google_project_iam_member.detect_datastore_user}', '${google_firestore_database.default}']),
    );
  });

  // Adding the condition replaces the grant (a condition is part of a member's identity). Destroyed first, detect would
  // be refused by Firestore until the new binding propagates, and its entries would pile into the dead-letter hold;
  // created first, the unconditional binding stays until the conditional one exists (they are separate bindings).
  it("replaces detect's Firestore grant by creating the new one before the old one goes", () => {
    const grant = resource(tf, 'google_project_iam_member', 'detect_datastore_user').body;
    expect(block(grant, 'lifecycle')?.['create_before_destroy']).toBe(true);
  });

  it('lets every account with Firestore data access reach one database: detect (default), notify the deliveries', () => {
    const DATABASES = { '(default)': 'projects/acme-sec/databases/(default)', deliveries: 'projects/acme-sec/databases/runwatch-deliveries' };
    const reached: Record<string, string[]> = {};
    for (const r of resources(tf, 'google_project_iam_member')) {
      if (!FIRESTORE_DATA_ROLE.test(String(r.body['role']))) continue;
      const who = principalOf(r.body)?.address ?? '(unknown)';
      for (const [db, name] of Object.entries(DATABASES)) if (reaches(r.body, name)) (reached[who] ??= []).push(db);
    }
    expect(reached).toEqual({ 'google_service_account.detect': ['(default)'], 'google_service_account.notify': ['deliveries'] });
  });

  it('tells notify the database, and deploys it only once the database exists', () => {
    const notify = resource(tf, 'google_cloudfunctions2_function', 'notify').body;
    expect(String(block(notify, 'service_config')?.['environment_variables'])).toContain('DELIVERY_DATABASE = google_firestore_database.deliveries.name');
    expect(notify['depends_on']).toEqual(expect.arrayContaining(['${google_firestore_database.deliveries}', '${google_project_iam_member.notify_datastore_user}']));
    expect(String(block(resource(tf, 'google_cloudfunctions2_function', 'detect').body, 'service_config')?.['environment_variables'])).not.toContain('DELIVERY_DATABASE');
  });

  // location_id forces a replacement, and both databases are abandoned, not deleted, when destroyed: a changed
  // location (region changed, and firestore_location follows it by default) dropped the database from the state and
  // asked Firestore to create it again under the same name, which answers 409. The apply stopped there, the database
  // out of the state, and every later plan asked for the same. A database cannot move: the plan must say so instead.
  it.each(['default', 'deliveries'])('keeps the %s database where it is: another location fails the plan, nothing is replaced', (name) => {
    const db = resource(tf, 'google_firestore_database', name).body;
    expect(db['location_id']).toBe('${local.firestore_location}');
    const lifecycle = block(db, 'lifecycle');
    expect(lifecycle?.['ignore_changes']).toEqual(['${location_id}']);
    const postconditions = (lifecycle?.['postcondition'] ?? []) as Block[];
    const kept = postconditions.find((p) => p['condition'] === '${self.location_id == local.firestore_location}');
    expect(kept?.['error_message']).toContain('${self.location_id}');
    expect(kept?.['error_message']).toContain('firestore_location');
    expect(locals(tf)['firestore_location']).toBe('${coalesce(var.firestore_location, var.region)}');
  });
});

describe('Pub/Sub', () => {
  it('gives every subscription a retry policy, and every consuming subscription a dead-letter policy', () => {
    expect(subscriptionViolations(tf)).toEqual([]);
  });

  it.each(['detect', 'notify'])('the %s subscription pushes with OIDC and an ack deadline equal to the function timeout', (name) => {
    const sub = resource(tf, 'google_pubsub_subscription', name);
    expect(sub.body['ack_deadline_seconds']).toBe('${var.function_timeout_seconds}');
    expect(block(resource(tf, 'google_cloudfunctions2_function', name).body, 'service_config')?.['timeout_seconds']).toBe(
      '${var.function_timeout_seconds}',
    );
    const push = block(sub.body, 'push_config');
    expect(String(push?.['push_endpoint'])).toMatch(/^\$\{google_cloudfunctions2_function\.\w+(\[each\.key\])?\.service_config\[0\]\.uri\}\/\$\{google_pubsub_topic\.\w+\.id\}$/);
    expect(block(push, 'oidc_token')).toBeDefined();
  });

  it('feeds detect from the audit topic and each notify from the findings topic', () => {
    expect(refKey(firstRef(resource(tf, 'google_pubsub_subscription', 'detect').body['topic']))).toBe('google_pubsub_topic.audit');
    expect(refKey(firstRef(resource(tf, 'google_pubsub_subscription', 'notify').body['topic']))).toBe('google_pubsub_topic.findings');
    expect(resource(tf, 'google_pubsub_subscription', 'notify').body['for_each']).toBe('${local.sinks}');
  });

  it('lets the Pub/Sub service agent publish dead letters and ack the source subscriptions', () => {
    expect(locals(tf)['pubsub_service_agent']).toBe('serviceAccount:${google_project_service_identity.pubsub.email}');
    const agent = grants(tf).filter((g) => g.principal?.address === 'local.pubsub_service_agent');
    expect(agent.map((g) => `${g.role} @ ${g.target}`)).toEqual(
      expect.arrayContaining([
        'roles/pubsub.publisher @ google_pubsub_topic.dead_letter',
        'roles/pubsub.publisher @ google_pubsub_topic.findings_dead_letter[each.key]',
        'roles/pubsub.subscriber @ google_pubsub_subscription.detect',
        'roles/pubsub.subscriber @ google_pubsub_subscription.notify[each.key]',
      ]),
    );
    const perSink = agent.find((g) => g.target === 'google_pubsub_subscription.notify[each.key]');
    expect(perSink?.forEach).toBe(resource(tf, 'google_pubsub_subscription', 'notify').body['for_each']);
  });

  // A new project has no Pub/Sub service agent until Pub/Sub is used: a grant naming it by its address would fail.
  it('creates the Pub/Sub service agent (after the API is enabled) before granting it anything', () => {
    const identity = resource(tf, 'google_project_service_identity', 'pubsub').body;
    expect(identity['provider']).toBe('${google-beta}');
    expect(identity['service']).toBe('pubsub.googleapis.com');
    expect(identity['project']).toBe('${var.project_id}');
    expect(identity['depends_on']).toEqual(['${google_project_service.apis}']);
  });

  // With user_project_override (the examples) every call is checked against project_id's enabled APIs, org and folder
  // grants included; without it a new project still lacks some of these.
  it('enables the API behind every resource type it manages', () => {
    const API_OF: Record<string, string> = {
      google_project_iam_member: 'cloudresourcemanager.googleapis.com',
      google_folder_iam_member: 'cloudresourcemanager.googleapis.com',
      google_organization_iam_member: 'cloudresourcemanager.googleapis.com',
      google_service_account: 'iam.googleapis.com',
      google_service_account_iam_member: 'iam.googleapis.com',
      google_pubsub_topic: 'pubsub.googleapis.com',
      google_pubsub_subscription: 'pubsub.googleapis.com',
      google_cloudfunctions2_function: 'cloudfunctions.googleapis.com',
      google_cloud_run_service_iam_member: 'run.googleapis.com',
      google_storage_bucket: 'storage.googleapis.com',
      google_cloud_scheduler_job: 'cloudscheduler.googleapis.com',
      google_firestore_database: 'firestore.googleapis.com',
      google_secret_manager_secret: 'secretmanager.googleapis.com',
      google_scc_v2_organization_source: 'securitycenter.googleapis.com',
      google_logging_project_sink: 'logging.googleapis.com',
      google_monitoring_alert_policy: 'monitoring.googleapis.com',
      google_logging_metric: 'logging.googleapis.com',
    };
    const apis = String(locals(tf)['apis']);
    const types = new Set(resources(tf).map((r) => r.type));
    const missing = Object.entries(API_OF)
      .filter(([type, api]) => types.has(type) && !apis.includes(`"${api}"`))
      .map(([type, api]) => `${type} needs ${api}`);
    expect(missing).toEqual([]);
  });

  it('creates nothing before the APIs it calls are enabled (service accounts included: the IAM API)', () => {
    expect(apiOrderViolations(tf)).toEqual([]);
  });

  // detect writes a record per applied entry: without a TTL policy on their expireAt they would pile up for ever.
  it('deletes the applied-entry records by a TTL policy on the collection and field detect writes', () => {
    const field = resource(tf, 'google_firestore_field', 'applied_expire_at').body;
    expect(field['collection']).toBe(appliedCollectionOf(DEFAULT_BASELINE_COLLECTION));
    expect(field['field']).toBe(APPLIED_RECORD_EXPIRY_FIELD);
    expect(field['database']).toBe('(default)');
    expect(block(field, 'ttl_config')).toEqual({});
    expect(block(field, 'index_config')).toEqual({});
    expect(field['depends_on']).toEqual(expect.arrayContaining(['${google_firestore_database.default}']));
  });

  // The baseline and outbox are JSON texts nobody queries (baseline/firestore.ts): indexing them only costs write
  // time and index storage on every transaction. dueAtMs and outboxSinceMs keep their indexes: the sweep queries them.
  // So are the findings of the outbox's spill documents (a subcollection of each baseline document, up to 512 KiB each).
  it.each([
    ['baseline_unindexed', DEFAULT_BASELINE_COLLECTION, 'baseline'],
    ['outbox_unindexed', DEFAULT_BASELINE_COLLECTION, 'outbox'],
    ['outbox_spill_unindexed', spillCollectionOf(DEFAULT_BASELINE_COLLECTION), 'findings'],
  ])('exempts the baseline documents\' field of %s from indexing', (name, collection, fieldName) => {
    const field = resource(tf, 'google_firestore_field', name).body;
    expect(field['collection']).toBe(collection);
    expect(field['field']).toBe(fieldName);
    expect(field['database']).toBe('(default)');
    expect(block(field, 'index_config')).toEqual({});
    expect(field['depends_on']).toEqual(expect.arrayContaining(['${google_firestore_database.default}']));
  });

  // Pub/Sub drops what is published to a topic with no subscription yet: on the first apply nothing may publish to a
  // topic before the subscriptions that consume it exist (explicit depends_on, since nothing references them).
  const dependsOn = (type: string, name: string): string[] =>
    ((resource(tf, type, name).body['depends_on'] as string[] | undefined) ?? []).map((d) => d.replace(/^\$\{(.*)\}$/, '$1'));

  it.each([
    ['google_pubsub_subscription', 'detect', ['google_pubsub_subscription.notify', 'google_pubsub_subscription.dead_letter_hold']],
    ['google_pubsub_subscription', 'notify', ['google_pubsub_subscription.findings_dead_letter_hold']],
    ['google_logging_organization_sink', 'audit', ['google_pubsub_subscription.detect']],
    ['google_logging_folder_sink', 'audit', ['google_pubsub_subscription.detect']],
    ['google_logging_project_sink', 'audit', ['google_pubsub_subscription.detect']],
    ['google_cloud_scheduler_job', 'sweep', ['google_pubsub_subscription.detect']],
  ])('creates %s.%s only after the subscriptions of what it publishes to (%j)', (type, name, needed) => {
    expect(dependsOn(type, name)).toEqual(expect.arrayContaining(needed));
  });

  it('publishes the sweep message to the audit topic every five minutes by default', () => {
    const job = resource(tf, 'google_cloud_scheduler_job', 'sweep').body;
    const target = block(job, 'pubsub_target');
    expect(refKey(firstRef(target?.['topic_name']))).toBe('google_pubsub_topic.audit');
    expect(target?.['data']).toBe('${base64encode(jsonencode({ runwatch = "sweep" }))}');
    expect(job['schedule']).toBe('${var.sweep_schedule}');
    expect((tf['variable'] as Record<string, Block[]>)['sweep_schedule']?.[0]?.['default']).toBe('*/5 * * * *');
  });
});

describe('log sink', () => {
  const SCOPES = [
    ['google_logging_organization_sink', 'organization', true],
    ['google_logging_folder_sink', 'folder', true],
    ['google_logging_project_sink', 'project', false],
  ] as const;

  it.each(SCOPES)('%s exists only for scope %s and routes the generated filter to the audit topic', (type, scope, children) => {
    const sink = resource(tf, type, 'audit').body;
    expect(sink['count']).toBe(`\${var.log_sink_scope == "${scope}" ? 1 : 0}`);
    expect(sink['filter']).toBe('${local.log_filter}');
    expect(sink['destination']).toBe('${local.sink_destination}');
    if (children) {
      expect(sink['include_children']).toBe('${var.include_children}');
      expect(sink['intercept_children']).toBe(false);
    } else {
      expect(sink['unique_writer_identity']).toBe(true);
    }
  });

  it('reads the filter from the generated log-filter.txt, which exists', () => {
    expect(locals(tf)['log_filter']).toBe('${trimspace(file("${path.module}/log-filter.txt"))}');
    expect(locals(tf)['sink_destination']).toBe('pubsub.googleapis.com/${google_pubsub_topic.audit.id}');
    const filter = readFileSync(join(MODULE_DIR, 'log-filter.txt'), 'utf8');
    expect(filter).toContain('cloudaudit.googleapis.com%2Factivity');
    expect(filter).toContain('cloudaudit.googleapis.com%2Fsystem_event');
    expect(filter.length).toBeLessThanOrEqual(20_000); // Cloud Logging's limit on a sink filter
  });

  it('is alerted on when it goes quiet, whichever scope is chosen (with alert_notification_channels)', () => {
    expect(sinkQuietViolations(tf)).toEqual([]);
  });

  it("grants the sink's writer identity publish on the audit topic, whichever scope is chosen", () => {
    const identity = String(locals(tf)['sink_writer_identity']);
    for (const [type] of SCOPES) expect(identity).toContain(`${type}.audit[*].writer_identity`);
    const grant = grants(tf).filter((g) => g.principal?.address === 'local.sink_writer_identity');
    expect(grant.map((g) => `${g.role} @ ${g.target}`)).toEqual(['roles/pubsub.publisher @ google_pubsub_topic.audit']);
  });
});

describe('functions', () => {
  it.each([
    ['detect', 'detect'],
    ['notify', 'notify'],
  ])('%s is built from the uploaded package with entry point %s on a Node.js runtime', (name, entryPoint) => {
    const fn = resource(tf, 'google_cloudfunctions2_function', name).body;
    const build = block(fn, 'build_config');
    expect(build?.['entry_point']).toBe(entryPoint);
    expect(build?.['runtime']).toBe('${var.runtime}');
    const storage = block(block(build, 'source'), 'storage_source');
    expect(storage?.['object']).toBe('${local.function_source.object}');
    expect(fn['event_trigger']).toBeUndefined(); // fed by our own push subscriptions, not an Eventarc trigger
    expect(String(block(fn, 'service_config')?.['ingress_settings'])).toBe('${var.ingress_settings}');
  });

  // Only the push subscriptions call the functions. Cloud Run counts requests from Pub/Sub in the same project as
  // internal (cloud.google.com/run/docs/securing/ingress, "Internal": Cloud Scheduler, Cloud Tasks, Eventarc, Pub/Sub,
  // Workflows, BigQuery "if they are in the same project or VPC Service Controls perimeter"), so internal-only ingress
  // costs the pipeline nothing and keeps the internet off the functions' URLs, their one authenticated door aside.
  it('keeps the internet off the functions by default: internal ingress, each fed by a subscription of its own project', () => {
    const ingress = (tf['variable'] as Record<string, Block[]>)['ingress_settings']?.[0];
    expect(ingress?.['default']).toBe('ALLOW_INTERNAL_ONLY');
    for (const name of ['detect', 'notify']) {
      expect(resource(tf, 'google_cloudfunctions2_function', name).body['project']).toBe('${var.project_id}');
      expect(resource(tf, 'google_pubsub_subscription', name).body['project']).toBe('${var.project_id}');
    }
  });

  // The names the code registers and the environment it refuses to start without, read from the code itself.
  it('deploys exactly the targets functions/index.ts registers, each with the environment its code requires', () => {
    const root = join(TERRAFORM_DIR, '..');
    const index = readFileSync(join(root, 'functions', 'index.ts'), 'utf8');
    const targets = [...index.matchAll(/cloudEvent(?:<[^>]*>)?\(\s*'([a-zA-Z0-9_]+)'/g)].map((m) => m[1]).sort();
    const entryPoints = resources(tf, 'google_cloudfunctions2_function').map((r) => block(r.body, 'build_config')?.['entry_point']).sort();
    expect(entryPoints).toEqual(targets);

    const l = locals(tf);
    const common = [...Object.keys(l['common_env'] as Block), 'DEAD_LETTER_TOPIC']; // merged per function: its side's topic
    const reported = (file: string): string[] =>
      [...readFileSync(join(root, 'functions', file), 'utf8').matchAll(/path: 'env\.([A-Z_]+)'/g)].map((m) => m[1]!).filter((n) => n !== 'RUN_API_ENDPOINT'); // an optional override
    const detectNeeds = new Set([...reported('detect.ts'), ...reported('runtime.ts')]);
    expect([...detectNeeds].filter((n) => !common.includes(n))).toEqual([]);
    const notifyNeeds = new Set([...reported('notify.ts'), ...reported('runtime.ts')]);
    // RUNWATCH_SINK: merged per sink; DELIVERY_DATABASE: merged for notify only (its records' own database).
    expect([...notifyNeeds].filter((n) => !common.includes(n) && n !== 'RUNWATCH_SINK' && n !== 'DELIVERY_DATABASE')).toEqual([]);
    expect(notifyNeeds.has('DELIVERY_DATABASE')).toBe(true);
    expect(detectNeeds.has('DELIVERY_DATABASE')).toBe(false);

    // Each sink's requiredEnv (sinks/index.ts) comes from its plain settings or its secrets.
    const sinksIndex = readFileSync(join(root, 'sinks', 'index.ts'), 'utf8');
    const sinkEnv = l['sink_env'] as Record<string, Block>;
    const specs = locals(tf)['secret_specs'] as Record<string, Block>;
    for (const m of sinksIndex.matchAll(/^  ([a-z]+): \{\n    requiredEnv: \[([^\]]*)\]/gm)) {
      const sink = m[1]!;
      const needed = [...m[2]!.matchAll(/'([A-Z_]+)'/g)].map((n) => n[1]!);
      const provided = [...Object.keys(sinkEnv[sink] ?? {}), ...Object.values(specs).filter((x) => x['sink'] === sink).map((x) => String(x['env']))];
      expect(needed.filter((n) => !provided.includes(n)), sink).toEqual([]);
    }
    expect([...sinksIndex.matchAll(/requiredEnv: \[/g)]).toHaveLength(Object.keys(sinkEnv).length);
  });

  it('points the functions at the object whose name carries the source and config hashes', () => {
    const l = locals(tf);
    expect(l['function_source']).toEqual({
      bucket: '${google_storage_bucket.source.name}',
      object: '${google_storage_bucket_object.source.name}',
    });
    expect(resource(tf, 'google_storage_bucket_object', 'source').body['name']).toBe('${local.source_object_name}');
    const name = String(l['source_object_name']);
    expect(name).toContain('local.source_sha256');
    expect(name).toContain('local.config_sha256');
    expect(l['config_sha256']).toBe('${filesha256(var.config_path)}');
  });

  it('ships the config beside the code and points RUNWATCH_CONFIG at it', () => {
    const l = locals(tf);
    const archive = (tf['data'] as Record<string, Record<string, Block[]>>)['archive_file']?.['source']?.[0];
    expect(block(archive, 'source')).toEqual({ content: '${file(var.config_path)}', filename: '${local.deployed_config_file}' });
    expect(l['deployed_config_path']).toBe('/workspace/${local.deployed_config_file}');
    expect((l['common_env'] as Block)['RUNWATCH_CONFIG']).toBe('${local.deployed_config_path}');
  });

  it('validates the config during plan with the package CLI through scripts/validate-config.mjs', () => {
    const external = (tf['data'] as Record<string, Record<string, Block[]>>)['external']?.['validate_config']?.[0];
    expect(external?.['program']).toEqual(['node', '${path.module}/scripts/validate-config.mjs']);
    expect(external?.['query']).toEqual({
      package_dir: '${local.package_dir}',
      config_path: '${var.config_path}',
      sinks: '${join(",", sort(tolist(var.sinks)))}',
    });
    expect(existsSync(join(MODULE_DIR, 'scripts', 'validate-config.mjs'))).toBe(true);
    const object = resource(tf, 'google_storage_bucket_object', 'source').body;
    expect(JSON.stringify(object)).toContain('data.external.validate_config.result.valid == \\"true\\"');
  });

  // run.viewer (org, folder or project wide) is granted by admin_api_fallback: it must be the config's own setting.
  it('refuses to deploy when admin_api_fallback and the config disagree', () => {
    const preconditions = (block(resource(tf, 'google_storage_bucket_object', 'source').body, 'lifecycle')?.['precondition'] ?? []) as Block[];
    expect(preconditions.map((p) => p['condition'])).toContain(
      '${data.external.validate_config.result.admin_api_fallback == tostring(var.admin_api_fallback)}',
    );
    for (const type of ['google_organization_iam_member', 'google_folder_iam_member', 'google_project_iam_member']) {
      expect(String(resource(tf, type, 'detect_run_viewer').body['count'])).toContain('var.admin_api_fallback');
    }
  });

  // Job runs are Data Access entries: job-run-overrides sees them only where DATA_WRITE is on for Cloud Run. The
  // module turns it on only when asked (an audit config replaces what the service had there), where the sink watches.
  it.each([
    ['google_organization_iam_audit_config', 'organization'],
    ['google_folder_iam_audit_config', 'folder'],
    ['google_project_iam_audit_config', 'project'],
  ])('%s turns on DATA_WRITE for run.googleapis.com only with job_run_audit_logs and a %s sink', (type, scope) => {
    const body = resource(tf, type, 'run_data_write').body;
    expect(String(body['count'])).toBe(`\${var.job_run_audit_logs && var.log_sink_scope == "${scope}" ? 1 : 0}`);
    expect(body['service']).toBe('run.googleapis.com');
    expect(block(body, 'audit_log_config')).toEqual({ log_type: 'DATA_WRITE' });
    expect((tf['variable'] as Record<string, Block[]>)['job_run_audit_logs']?.[0]?.['default']).toBe(false);
  });

  it('gives every function the environment of DESIGN.md', () => {
    const l = locals(tf);
    expect(Object.keys(l['common_env'] as Block).sort()).toEqual(
      ['FINDINGS_TOPIC', 'GOOGLE_CLOUD_PROJECT', 'NODE_ENV', 'RUNWATCH_CONFIG'].sort(),
    );
    expect(block(resource(tf, 'google_cloudfunctions2_function', 'detect').body, 'service_config')?.['environment_variables']).toBe(
      '${merge(local.common_env, local.endpoint_env.detect, { DEAD_LETTER_TOPIC = google_pubsub_topic.dead_letter.id })}',
    );
    // The sink's endpoint override, if set (var.endpoints; a sink without one: none): terraform-cli.test.ts evaluates it.
    const notifyEnv = String(block(resource(tf, 'google_cloudfunctions2_function', 'notify').body, 'service_config')?.['environment_variables']);
    expect(notifyEnv).toBe(
      '${merge(local.common_env, local.sink_env[each.key], lookup(local.endpoint_env, each.key, {}), { RUNWATCH_SINK = each.key, DEAD_LETTER_TOPIC = google_pubsub_topic.findings_dead_letter[each.key].id, DELIVERY_DATABASE = google_firestore_database.deliveries.name })}',
    );
    const sinkEnv = l['sink_env'] as Record<string, Block>;
    expect(Object.keys(sinkEnv).sort()).toEqual(['console', 'pagerduty', 'scc', 'slack', 'webhook']);
    expect(Object.keys(sinkEnv['scc'] ?? {})).toEqual(['SCC_SOURCE']);
    expect(sinkEnv['webhook']).toEqual({}); // WEBHOOK_URL comes from Secret Manager, see "secrets"
  });
});

describe('secrets', () => {
  it('are referenced from Secret Manager, never inlined', () => {
    expect(secretViolations(tf)).toEqual([]);
    for (const example of examples) expect(secretViolations(example)).toEqual([]);
  });

  it.each([
    ['slack', 'slack', 'SLACK_BOT_TOKEN', 'slack-bot-token'],
    ['pagerduty', 'pagerduty', 'PAGERDUTY_ROUTING_KEY', 'pagerduty-routing-key'],
    ['webhook', 'webhook', 'WEBHOOK_SECRET', 'webhook-secret'],
    ['webhook_url', 'webhook', 'WEBHOOK_URL', 'webhook-url'],
  ])('the %s secret reaches the notify-%s function as %s through secret_environment_variables', (name, sink, env, id) => {
    const spec = (locals(tf)['secret_specs'] as Record<string, Block>)[name] ?? {};
    expect(spec['env']).toBe(env);
    expect(spec['sink']).toBe(sink);
    expect(spec['secret_id']).toBe(`\${var.name_prefix}-${id}`);
    // Each secret's version is pinned through secret_versions.<name>.
    expect(String((tf['variable'] as Record<string, Block[]>)['secret_versions']?.[0]?.['type'])).toContain(`${name} `);
    // hcl2json keeps `dynamic` as an object of arrays: { dynamic: { secret_environment_variables: [{ for_each, content }] } }
    const dynamic = block(resource(tf, 'google_cloudfunctions2_function', 'notify').body, 'service_config')?.['dynamic'] as Block | undefined;
    const secretEnv = (dynamic?.['secret_environment_variables'] as Block[] | undefined)?.[0];
    expect(String(secretEnv?.['for_each'])).toContain('google_secret_manager_secret.sink');
    expect(String(secretEnv?.['for_each'])).toContain('local.secret_specs[name].sink == each.key');
    expect(block(secretEnv, 'content')).toMatchObject({
      key: '${local.secret_specs[secret_environment_variables.key].env}',
      secret: '${secret_environment_variables.value.secret_id}',
      version: '${var.secret_versions[secret_environment_variables.key]}',
    });
  });

  it("reads the webhook URL from Secret Manager, not from a variable (it would sit in state, readable by Viewers)", () => {
    expect((tf['variable'] as Record<string, Block[]>)['webhook_url']).toBeUndefined();
    expect(strings(tf).filter(({ value }) => value.includes('var.webhook_url'))).toEqual([]);
    for (const example of examples) expect(strings(example).filter(({ value }) => /webhook_url\b/.test(value) && !value.includes('secret'))).toEqual([]);
  });

  it('creates the secret containers only, with automatic replication', () => {
    const secret = resource(tf, 'google_secret_manager_secret', 'sink').body;
    expect(secret['for_each']).toBe('${local.secrets}');
    expect(block(secret, 'replication')).toEqual({ auto: [{}] });
  });

  const TOKEN_LIKE: ReadonlyArray<readonly [string, RegExp]> = [
    ['Slack token', /xox[abposr]-[0-9A-Za-z-]{10,}/],
    ['Slack webhook URL', /hooks\.slack\.com\/services\/T[0-9A-Z]+/],
    ['PagerDuty-style 32-character key', /(?<![0-9a-zA-Z])[0-9a-f]{32}(?![0-9a-zA-Z])/],
    ['Google API key', /AIza[0-9A-Za-z_-]{35}/],
    ['private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
    ['GitHub token', /gh[pousr]_[A-Za-z0-9]{36}/],
  ];

  it('has no token-looking string in any Terraform, tfvars or config file', () => {
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.name === '.terraform') continue;
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.(tf|tfvars|tfvars\.example|ya?ml|json|mjs)$/.test(entry.name)) files.push(path);
      }
    };
    walk(TERRAFORM_DIR);
    expect(files.length).toBeGreaterThanOrEqual(15);
    const found = files.flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      return TOKEN_LIKE.filter(([, re]) => re.test(text)).map(([what]) => `${file}: ${what}`);
    });
    expect(found).toEqual([]);
  });
});

describe('inputs and outputs', () => {
  it('types and describes every variable', () => {
    const variables = tf['variable'] as Record<string, Block[]>;
    const bad = Object.entries(variables)
      .filter(([, [v]]) => typeof v?.['type'] !== 'string' || typeof v['description'] !== 'string' || String(v['description']).length < 20)
      .map(([name]) => name);
    expect(bad).toEqual([]);
  });

  it.each([
    'project_id',
    'region',
    'name_prefix',
    'labels',
    'log_sink_scope',
    'organization_id',
    'folder_id',
    'log_sink_project_id',
    'config_path',
    'package_dir',
    'source_include',
    'runtime',
    'sinks',
    'create_scc_source',
    'scc_source_name',
    'scc_source_display_name',
    'scc_findings_editor_scope',
    'secret_versions',
    'max_delivery_attempts',
    'retry_minimum_backoff',
    'retry_maximum_backoff',
    'message_retention_duration',
    'sweep_schedule',
    'function_timeout_seconds',
    'detect_memory',
    'notify_memory',
    'detect_max_instances',
    'notify_max_instances',
    'min_instances',
    'ingress_settings',
    'firestore_location',
    'endpoints',
    'alert_notification_channels',
    'alert_sink_quiet_duration',
  ])('validates %s', (name) => {
    const v = (tf['variable'] as Record<string, Block[]>)[name]?.[0];
    expect(v, `variable ${name}`).toBeDefined();
    const validations = (v?.['validation'] as Block[] | undefined) ?? [];
    expect(validations.length).toBeGreaterThan(0);
    for (const rule of validations) {
      expect(String(rule['condition'])).toContain(`var.${name}`);
      expect(String(rule['error_message']).length).toBeGreaterThan(20);
    }
  });

  it.each([
    ['log_sink_scope', ['organization', 'folder', 'project']],
    ['sinks', ['scc', 'slack', 'pagerduty', 'webhook', 'console']],
    ['ingress_settings', ['ALLOW_ALL', 'ALLOW_INTERNAL_ONLY', 'ALLOW_INTERNAL_AND_GCLB']],
    ['scc_findings_editor_scope', ['source', 'organization']],
  ])('restricts %s to an enum', (name, values) => {
    const condition = String(((tf['variable'] as Record<string, Block[]>)[name]?.[0]?.['validation'] as Block[])[0]?.['condition']);
    for (const value of values) expect(condition).toContain(`"${value}"`);
  });

  it('requires a function timeout longer than notify spends delivering one finding', () => {
    const budget = /const DEFAULT_DELIVERY_BUDGET_MS = ([\d_]+);/.exec(readFileSync(join(TERRAFORM_DIR, '..', 'functions', 'notify.ts'), 'utf8'))?.[1];
    const condition = String(((tf['variable'] as Record<string, Block[]>)['function_timeout_seconds']?.[0]?.['validation'] as Block[])[0]?.['condition']);
    const minimum = /var\.function_timeout_seconds >= (\d+)/.exec(condition)?.[1];
    expect(budget).toBeDefined();
    // At least 15 s beyond the budget: time to record the outcome or publish the dead letter after a slow delivery.
    expect(Number(minimum)).toBeGreaterThanOrEqual(Number(budget?.replace(/_/g, '')) / 1000 + 15);
  });

  it.each([
    'audit_topic_id',
    'findings_topic_id',
    'dead_letter_topic_id',
    'dead_letter_subscription_id',
    'findings_dead_letter_topic_id',
    'findings_dead_letter_subscription_id',
    'detect_function_uri',
    'notify_function_uris',
    'service_account_emails',
    'log_sink_writer_identity',
    'secret_ids',
    'scc_source_name',
    'alert_policy_names',
  ])('outputs %s with a description', (name) => {
    const output = (tf['output'] as Record<string, Block[]>)[name]?.[0];
    expect(output?.['value']).toBeDefined();
    expect(String(output?.['description']).length).toBeGreaterThan(10);
  });

  it('documents every input and output in the module README, with its default', () => {
    const readme = readFileSync(join(MODULE_DIR, 'README.md'), 'utf8');
    const section = (title: string): string => readme.split(/^## /m).find((s) => s.startsWith(`${title}\n`)) ?? '';
    const inputs = section('Inputs');
    const outputs = section('Outputs');
    const variables = tf['variable'] as Record<string, Block[]>;
    const missing = [
      ...Object.keys(variables).filter((name) => !inputs.includes(`| \`${name}\` |`)),
      ...Object.keys(tf['output'] as Block).filter((name) => !outputs.includes(`| \`${name}\` |`)),
    ];
    expect(missing).toEqual([]);
    for (const [name, [v]] of Object.entries(variables)) {
      const row = inputs.split('\n').find((line) => line.startsWith(`| \`${name}\` |`)) ?? '';
      if (!v || !('default' in v)) expect(row, name).toContain('**required**');
      else if (typeof v['default'] === 'string' || typeof v['default'] === 'number') expect(row, name).toContain(JSON.stringify(v['default']));
    }
  });

  it('pins Terraform and every provider it uses with ~> constraints', () => {
    const terraform = (tf['terraform'] as Block[])[0];
    expect(String(terraform?.['required_version'])).toMatch(/^>= 1\.\d+/);
    const providers = (terraform?.['required_providers'] as Block[])[0] as Record<string, Block>;
    for (const [name, spec] of Object.entries(providers)) {
      expect(spec['source'], name).toBe(`hashicorp/${name}`);
      expect(String(spec['version']), name).toMatch(/^~> \d+\.\d+$/);
    }
    const used = new Set<string>();
    // A resource's provider is its type's prefix, unless it names another (google-beta for beta-only resources).
    for (const r of resources(tf)) used.add(typeof r.body['provider'] === 'string' ? r.body['provider'].replace(/^\$\{(.*)\}$/, '$1') : r.type.split('_')[0]!);
    for (const type of Object.keys(tf['data'] as Block)) used.add(type === 'archive_file' ? 'archive' : type.split('_')[0]!);
    expect([...used].sort()).toEqual(Object.keys(providers).sort());
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// The checkers can fail: each mutation of the real module is caught by the checker that guards it.
// ---------------------------------------------------------------------------------------------------------------------

describe('the checkers catch what they guard', () => {
  type Mutation = (m: Tf) => void;
  const res = (m: Tf): Record<string, Record<string, Block[]>> => m['resource'] as Record<string, Record<string, Block[]>>;
  const body = (m: Tf, type: string, name: string): Block => res(m)[type]![name]![0]!;

  const CASES: ReadonlyArray<readonly [string, (m: Tf) => string[], Mutation]> = [
    [
      'a project editor grant',
      primitiveRoleViolations,
      (m) => {
        body(m, 'google_project_iam_member', 'detect_datastore_user')['role'] = 'roles/editor';
      },
    ],
    [
      'allUsers as invoker',
      publicMemberViolations,
      (m) => {
        body(m, 'google_cloud_run_service_iam_member', 'detect_push_invoker')['member'] = 'allUsers';
      },
    ],
    [
      'notify running as the detect account',
      functionIdentityViolations,
      (m) => {
        block(body(m, 'google_cloudfunctions2_function', 'notify'), 'service_config')!['service_account_email'] =
          '${google_service_account.detect.email}';
      },
    ],
    [
      'one notify account for every sink',
      functionIdentityViolations,
      (m) => {
        delete body(m, 'google_service_account', 'notify')['for_each'];
      },
    ],
    [
      'a function running as its push identity',
      functionIdentityViolations,
      (m) => {
        block(body(m, 'google_cloudfunctions2_function', 'detect'), 'service_config')!['service_account_email'] =
          '${google_service_account.detect_push.email}';
      },
    ],
    [
      'a subscription without dead-letter policy',
      subscriptionViolations,
      (m) => {
        delete body(m, 'google_pubsub_subscription', 'detect')['dead_letter_policy'];
      },
    ],
    [
      'a subscription without retry policy',
      subscriptionViolations,
      (m) => {
        delete body(m, 'google_pubsub_subscription', 'notify')['retry_policy'];
      },
    ],
    [
      'the dead-letter hold subscription without retry policy',
      subscriptionViolations,
      (m) => {
        delete body(m, 'google_pubsub_subscription', 'dead_letter_hold')['retry_policy'];
      },
    ],
    [
      "a notify subscription dead-lettering to the audit side's topic",
      subscriptionViolations,
      (m) => {
        block(body(m, 'google_pubsub_subscription', 'notify'), 'dead_letter_policy')!['dead_letter_topic'] = '${google_pubsub_topic.dead_letter.id}';
      },
    ],
    [
      "a notify subscription dead-lettering to one sink's topic for every sink",
      subscriptionViolations,
      (m) => {
        block(body(m, 'google_pubsub_subscription', 'notify'), 'dead_letter_policy')!['dead_letter_topic'] = '${google_pubsub_topic.findings_dead_letter["slack"].id}';
      },
    ],
    [
      'dead letters sent to the findings topic',
      subscriptionViolations,
      (m) => {
        block(body(m, 'google_pubsub_subscription', 'notify'), 'dead_letter_policy')!['dead_letter_topic'] = '${google_pubsub_topic.findings.id}';
      },
    ],
    [
      'a push identity that may also invoke notify',
      pushIdentityViolations,
      (m) => {
        res(m)['google_cloud_run_service_iam_member']!['extra'] = [
          { ...body(m, 'google_cloud_run_service_iam_member', 'notify_push_invoker'), member: '${google_service_account.detect_push.member}' },
        ];
      },
    ],
    [
      'a push identity with run.invoker project-wide',
      pushIdentityViolations,
      (m) => {
        res(m)['google_project_iam_member']!['push_everywhere'] = [
          { project: '${var.project_id}', role: 'roles/run.invoker', member: '${google_service_account.detect_push.member}' },
        ];
      },
    ],
    [
      'one push identity for every notify instance',
      pushIdentityViolations,
      (m) => {
        block(block(body(m, 'google_pubsub_subscription', 'notify'), 'push_config'), 'oidc_token')!['service_account_email'] =
          '${google_service_account.notify_push["slack"].email}';
      },
    ],
    [
      'a push without OIDC',
      pushIdentityViolations,
      (m) => {
        delete block(body(m, 'google_pubsub_subscription', 'detect'), 'push_config')!['oidc_token'];
      },
    ],
    [
      'a service account created before the IAM API is enabled',
      apiOrderViolations,
      (m) => {
        delete body(m, 'google_service_account', 'detect')['depends_on'];
      },
    ],
    [
      'a secret version with its value',
      secretViolations,
      (m) => {
        res(m)['google_secret_manager_secret_version'] = { slack: [{ secret: '${google_secret_manager_secret.sink["slack"].id}', secret_data: 'x' }] };
      },
    ],
    [
      'a token in the plain environment',
      secretViolations,
      (m) => {
        const l = (m['locals'] as Block[]).find((b) => b['common_env'] !== undefined)!;
        (l['common_env'] as Block)['SLACK_BOT_TOKEN'] = '${var.slack_token}';
      },
    ],
    [
      'the webhook URL in the plain environment',
      secretViolations,
      (m) => {
        const l = (m['locals'] as Block[]).find((b) => b['sink_env'] !== undefined)!;
        (l['sink_env'] as Record<string, Block>)['webhook'] = { WEBHOOK_URL: '${var.webhook_url}' };
      },
    ],
    [
      'a sink-quiet policy for project sinks only',
      sinkQuietViolations,
      (m) => {
        body(m, 'google_monitoring_alert_policy', 'sink_quiet')['count'] =
          '${length(var.alert_notification_channels) > 0 && var.log_sink_scope == "project" && local.sink_project_id == var.project_id ? 1 : 0}';
      },
    ],
    [
      'a sink-quiet policy on the export metric (written in no project for an organization sink)',
      sinkQuietViolations,
      (m) => {
        block((body(m, 'google_monitoring_alert_policy', 'sink_quiet')['conditions'] as Block[])[0], 'condition_absent')!['filter'] =
          'metric.type = "logging.googleapis.com/exports/log_entry_count" AND resource.type = "logging_sink" AND resource.labels.name = "${local.sink_name}"';
      },
    ],
    [
      "a sink-quiet policy per detect revision (a redeploy's retired revision goes absent)",
      sinkQuietViolations,
      (m) => {
        delete block(block((body(m, 'google_monitoring_alert_policy', 'sink_quiet')['conditions'] as Block[])[0], 'condition_absent'), 'aggregations')!['cross_series_reducer'];
      },
    ],
    [
      "a received-entries metric counting notify's lines",
      sinkQuietViolations,
      (m) => {
        const metric = res(m)['google_logging_metric']!;
        const [name] = Object.keys(metric);
        metric[name!]![0]!['filter'] = String(metric[name!]![0]!['filter']).split('google_cloudfunctions2_function.detect.name').join('google_cloudfunctions2_function.notify["slack"].name');
      },
    ],
    [
      'a received-entries metric counting every line of detect (the sweep never stops)',
      sinkQuietViolations,
      (m) => {
        const metric = res(m)['google_logging_metric']!;
        const [name] = Object.keys(metric);
        metric[name!]![0]!['filter'] = 'resource.type = "cloud_run_revision" AND resource.labels.service_name = "${google_cloudfunctions2_function.detect.name}"';
      },
    ],
  ];

  it.each(CASES)('%s', (_what, check, mutate) => {
    expect(check(tf)).toEqual([]);
    const mutated = structuredClone(tf);
    mutate(mutated);
    expect(check(mutated).length).toBeGreaterThan(0);
  });

  it('an extra grant breaks the least-privilege table', () => {
    const mutated = structuredClone(tf);
    (mutated['resource'] as Record<string, Record<string, Block[]>>)['google_project_iam_member']!['too_much'] = [
      { project: '${var.project_id}', role: 'roles/pubsub.editor', member: '${google_service_account.detect.member}' },
    ];
    const detect = grants(mutated).filter((g) => g.principal?.address === 'google_service_account.detect');
    expect(detect.map((g) => `${g.role} @ ${g.target}`)).toContain('roles/pubsub.editor @ project');
    expect(detect).toHaveLength(7); // the six grants of the table, plus the extra one
  });
});
