// What the Terraform CLI can check offline (no providers can be downloaded here):
//  - `terraform fmt -check -recursive` over terraform/: the syntax and style gate;
//  - the module's variable validations, by planning variables.tf alone (a configuration without providers plans offline),
//    every case in one `terraform test` run;
//  - the source object's name, by evaluating package.tf (pure expressions) with `terraform console`: a changed config or
//    package file gives a new name, which is what redeploys the functions.
// Without terraform on PATH these tests are skipped, except in CI (CI=true), where that is a failure.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config/load.js';
import { createNotifyFunction } from '../../functions/notify.js';
import type { Sink } from '../../sinks/sink.js';
import { MemoryDeliveryRecordStore } from '../../sinks/memoryRecords.js';
import { makeFinding } from '../support/findings.js';

const TERRAFORM_DIR = fileURLToPath(new URL('../../terraform/', import.meta.url));
const MODULE_DIR = join(TERRAFORM_DIR, 'modules', 'runwatch');
const ENV = { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null', CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', NO_COLOR: '1' };

const hasTerraform = spawnSync('terraform', ['version'], { env: ENV }).status === 0;
if (!hasTerraform && process.env['CI'] === 'true') throw new Error('terraform is not on PATH; CI must install it');

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function terraform(args: readonly string[], cwd: string, stdin = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('terraform', args, { cwd, env: ENV });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/**
 * A value as an HCL expression, for a test file's variables: JSON is (strings, numbers, lists, objects with quoted
 * keys, null), but for template sequences, which HCL would interpolate.
 */
function hcl(value: unknown): string {
  return JSON.stringify(value).replaceAll('${', '$${').replaceAll('%{', '%%{');
}

/** -var arguments; lists, sets and objects are written in HCL/JSON syntax, which -var accepts. */
function vars(values: Record<string, unknown>): string[] {
  return Object.entries(values).flatMap(([k, v]) => ['-var', `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`]);
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

describe.skipIf(!hasTerraform)('terraform CLI, offline', () => {
  let work: string;
  let harness: string;
  let pkg: string;
  let configA: string;
  let configB: string;
  let configJson: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'runwatch-tf-'));
    // The harness: the module's variables and its pure locals, no provider.
    harness = join(work, 'harness');
    mkdirSync(harness);
    copyFileSync(join(MODULE_DIR, 'variables.tf'), join(harness, 'variables.tf'));
    copyFileSync(join(MODULE_DIR, 'package.tf'), join(harness, 'package.tf'));
    copyFileSync(join(MODULE_DIR, 'endpoints.tf'), join(harness, 'endpoints.tf'));
    // A small package: shipped files, and files the default source_include leaves out.
    pkg = join(work, 'pkg');
    for (const [file, text] of Object.entries({
      'package.json': '{"name":"runwatch","version":"0.0.0"}\n',
      'package-lock.json': '{"lockfileVersion":3}\n',
      'bin/runwatch.js': '#!/usr/bin/env node\n',
      'functions/index.ts': 'export const detect = 1;\n',
      'schemas/config.schema.json': '{}\n',
      'test/unit/a.test.ts': 'not shipped\n',
      'node_modules/left-pad/index.js': 'not shipped\n',
      'README.md': 'not shipped\n',
    })) {
      mkdirSync(join(pkg, file, '..'), { recursive: true });
      writeFileSync(join(pkg, file), text);
    }
    configA = join(work, 'a.yaml');
    configB = join(work, 'b.yaml');
    configJson = join(work, 'c.json');
    writeFileSync(configA, 'timezone: Europe/Berlin\n');
    writeFileSync(configB, 'timezone: Europe/Paris\n');
    writeFileSync(configJson, '{"timezone":"UTC"}\n');
    writeFileSync(join(work, 'notes.txt'), 'not a config\n');
    const init = await terraform(['init', '-backend=false', '-input=false'], harness);
    expect(init.status, init.stderr).toBe(0);
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('terraform fmt -check -recursive finds nothing to change', async () => {
    const fmt = await terraform(['fmt', '-check', '-recursive', '-diff', TERRAFORM_DIR], TERRAFORM_DIR);
    expect(fmt.stdout + fmt.stderr).toBe('');
    expect(fmt.status).toBe(0);
  });

  const base = (): Record<string, unknown> => ({
    project_id: 'acme-sec-tools',
    region: 'europe-west1',
    config_path: configA,
    package_dir: pkg,
  });

  // [case, variables on top of base(), the variables whose validations must fail: exactly these, none for a valid case]
  const CASES: ReadonlyArray<readonly [string, () => Record<string, unknown>, readonly string[]]> = [
    ['organization scope with an organization', () => ({ organization_id: '123456789012' }), []],
    ['project scope without organization', () => ({ log_sink_scope: 'project' }), []],
    ['folder scope with a folder', () => ({ log_sink_scope: 'folder', folder_id: '987654321' }), []],
    [
      'every sink',
      () => ({ organization_id: '1', sinks: ['scc', 'slack', 'pagerduty', 'webhook', 'console'] }),
      [],
    ],
    // Rules that depend on other variables, one plan each.
    ['organization scope without organization_id', () => ({}), ['organization_id']],
    ['folder scope without folder_id', () => ({ log_sink_scope: 'folder' }), ['folder_id']],
    ['an unknown scope', () => ({ log_sink_scope: 'billing_account', organization_id: '1' }), ['log_sink_scope']],
    ['an unknown sink', () => ({ log_sink_scope: 'project', sinks: ['teams'] }), ['sinks']],
    ['no sink at all', () => ({ log_sink_scope: 'project', sinks: [] }), ['sinks']],
    ['the scc sink without an organization', () => ({ log_sink_scope: 'project', sinks: ['scc'] }), ['organization_id']],
    ['the scc sink with neither a new nor an existing source', () => ({ organization_id: '1', sinks: ['scc'], create_scc_source: false }), ['create_scc_source']],
    // The webhook URL is a secret (Secret Manager), so the webhook sink needs no variable; its version can be pinned.
    ['the webhook sink alone', () => ({ log_sink_scope: 'project', sinks: ['webhook'] }), []],
    ['the webhook URL secret pinned to a version', () => ({ log_sink_scope: 'project', sinks: ['webhook'], secret_versions: { webhook: '3', webhook_url: '2' } }), []],
    ['a maximum backoff below the minimum', () => ({ log_sink_scope: 'project', retry_minimum_backoff: '60s', retry_maximum_backoff: '30s' }), ['retry_maximum_backoff']],
    ['a config that does not exist', () => ({ log_sink_scope: 'project', config_path: join(work, 'missing.yaml') }), ['config_path']],
    // notify's delivery budget is 45 s: the function needs 60 s or more.
    ['a function timeout of 60 s', () => ({ log_sink_scope: 'project', function_timeout_seconds: 60 }), []],
    ['a function timeout of 59 s', () => ({ log_sink_scope: 'project', function_timeout_seconds: 59 }), ['function_timeout_seconds']],
    ['a function timeout of 540 s', () => ({ log_sink_scope: 'project', function_timeout_seconds: 540 }), []],
    ['a function timeout of 541 s', () => ({ log_sink_scope: 'project', function_timeout_seconds: 541 }), ['function_timeout_seconds']],
    // nodejs20 was decommissioned for Cloud Run functions on 2026-10-30 (cloud.google.com/functions/docs/runtime-support):
    // the API refuses to deploy it, so plan must refuse it first; the supported runtimes pass.
    ['the decommissioned nodejs20 runtime', () => ({ log_sink_scope: 'project', runtime: 'nodejs20' }), ['runtime']],
    ['the nodejs22 runtime', () => ({ log_sink_scope: 'project', runtime: 'nodejs22' }), []],
    ['the nodejs24 runtime', () => ({ log_sink_scope: 'project', runtime: 'nodejs24' }), []],
    // Alone: Terraform skips the validations of a variable whose rules read another invalid variable (the maximum's).
    ['a minimum backoff above 600 s', () => ({ log_sink_scope: 'project', retry_minimum_backoff: '700s' }), ['retry_minimum_backoff']],
    // A Cloud Run service's maximum instance count "must not be less than minimum instance count" (google provider,
    // google_cloud_run_v2_service template.scaling): apply would fail on the function, so plan must refuse it first.
    // Alone too: min_instances's rules read the maximums.
    ['more than 10 warm instances', () => ({ log_sink_scope: 'project', min_instances: 11 }), ['min_instances']],
    ['more warm instances than notify may run', () => ({ log_sink_scope: 'project', min_instances: 3, notify_max_instances: 2 }), ['min_instances']],
    ['more warm instances than detect may run', () => ({ log_sink_scope: 'project', min_instances: 4, detect_max_instances: 3, notify_max_instances: 5 }), ['min_instances']],
    // Cloud Run functions offer 128 MiB to 32 GiB of memory (cloud.google.com/functions/docs/configuring/memory): any
    // other size fails the function at apply.
    ['the smallest and largest memory sizes', () => ({ log_sink_scope: 'project', detect_memory: '32Gi', notify_memory: '128Mi' }), []],
    ['a memory size below 128 MiB', () => ({ log_sink_scope: 'project', detect_memory: '64Mi', notify_memory: '0Mi' }), ['detect_memory', 'notify_memory']],
    ['a memory size above 32 GiB', () => ({ log_sink_scope: 'project', detect_memory: '64Gi', notify_memory: '32769Mi' }), ['detect_memory', 'notify_memory']],
    // An existing SCC source belongs to one organization: the grants name organization_id (the findingsEditor grant on
    // the organization, the source grant's organization), so a source of another organization is refused. Alone: its
    // rules read organization_id.
    ['an existing SCC source of the organization', () => ({ organization_id: '111', sinks: ['scc'], create_scc_source: false, scc_source_name: 'organizations/111/sources/5' }), []],
    ['an existing SCC source of another organization', () => ({ organization_id: '222', sinks: ['scc'], create_scc_source: false, scc_source_name: 'organizations/111/sources/5' }), ['scc_source_name']],
    ['an SCC source name of the wrong form', () => ({ organization_id: '1', sinks: ['scc'], scc_source_name: 'sources/12' }), ['scc_source_name']],
    // Pub/Sub topic and subscription names "must not start with goog" (Pub/Sub API, Topic.name and Subscription.name),
    // and the functions refuse such a FINDINGS_TOPIC at start-up (parseTopic): <prefix>-audit and the rest would fail.
    ['a name prefix starting with goog', () => ({ log_sink_scope: 'project', name_prefix: 'goog-rw' }), ['name_prefix']],
    ['a name prefix with goog inside', () => ({ log_sink_scope: 'project', name_prefix: 'rw-goog' }), []],
    // It is also in the source bucket's name (<project_id>-<prefix>-source), and Cloud Storage refuses bucket names
    // that contain "google" or close misspellings such as "g00gle" (cloud.google.com/storage/docs/buckets#naming; the
    // provider checks google_storage_bucket.name with verify.ValidateGCSName): the bucket would fail, on a name the user never wrote.
    ['a name prefix with google inside', () => ({ log_sink_scope: 'project', name_prefix: 'rw-google' }), ['name_prefix']],
    ['a name prefix with g00gle inside', () => ({ log_sink_scope: 'project', name_prefix: 'g00gle-rw' }), ['name_prefix']],
    ['as many warm instances as either function may run', () => ({ log_sink_scope: 'project', min_instances: 2, detect_max_instances: 2, notify_max_instances: 2 }), []],
    // A subscription deletes an unacknowledged message once it is older than message_retention_duration: it is then
    // gone, never dead-lettered. Each of max_delivery_attempts deliveries may take the ack deadline (the function
    // timeout) and wait up to retry_maximum_backoff before the next: by default 10 x (60 s + 600 s) = 6600 s. Kept
    // less, a message that keeps failing vanishes before it reaches the dead-letter topic.
    ['messages kept 10 minutes, less than the default retries take', () => ({ log_sink_scope: 'project', message_retention_duration: '600s' }), ['message_retention_duration']],
    ['messages kept as long as the default retries may take', () => ({ log_sink_scope: 'project', message_retention_duration: '6600s' }), []],
    ['messages kept a second less than the default retries may take', () => ({ log_sink_scope: 'project', message_retention_duration: '6599s' }), ['message_retention_duration']],
    [
      'messages kept 10 minutes, with retries that fit in them',
      () => ({ log_sink_scope: 'project', message_retention_duration: '600s', max_delivery_attempts: 5, retry_minimum_backoff: '19s', retry_maximum_backoff: '60s' }),
      [],
    ],
    // Other endpoints than the public ones (EU PagerDuty, GovSlack, a Private Service Connect endpoint): https only, each
    // with what it serves deployed. Alone: the rules read sinks and admin_api_fallback.
    [
      'every endpoint, with what each serves',
      () => ({
        log_sink_scope: 'project',
        sinks: ['slack', 'pagerduty'],
        admin_api_fallback: true,
        endpoints: { pagerduty_events_url: 'https://events.eu.pagerduty.com/v2/enqueue', slack_api_url: 'https://slack-gov.com/api/', run_api_endpoint: 'run-psc.p.googleapis.com:443' },
      }),
      [],
    ],
    ['the PagerDuty endpoint over plain http', () => ({ log_sink_scope: 'project', sinks: ['pagerduty'], endpoints: { pagerduty_events_url: 'http://events.eu.pagerduty.com/v2/enqueue' } }), ['endpoints']],
    ['a Slack endpoint with a query', () => ({ log_sink_scope: 'project', sinks: ['slack'], endpoints: { slack_api_url: 'https://slack-gov.com/api/?token=x' } }), ['endpoints']],
    ['a Run endpoint with a scheme', () => ({ log_sink_scope: 'project', admin_api_fallback: true, endpoints: { run_api_endpoint: 'https://run-psc.p.googleapis.com' } }), ['endpoints']],
    ['the PagerDuty endpoint without the pagerduty sink', () => ({ log_sink_scope: 'project', sinks: ['slack'], endpoints: { pagerduty_events_url: 'https://events.eu.pagerduty.com/v2/enqueue' } }), ['endpoints']],
    ['the Slack endpoint without the slack sink', () => ({ log_sink_scope: 'project', endpoints: { slack_api_url: 'https://slack-gov.com/api/' } }), ['endpoints']],
    ['the Run endpoint without the Admin API fallback', () => ({ log_sink_scope: 'project', endpoints: { run_api_endpoint: 'run-psc.p.googleapis.com' } }), ['endpoints']],
    // Alone: its rules read the retry variables, which the plan below breaks.
    ['messages kept less than 10 minutes', () => ({ log_sink_scope: 'project', message_retention_duration: '10s' }), ['message_retention_duration']],
    // Rules on one variable each: Terraform reports every invalid variable of a plan, so one plan checks them all.
    [
      'every single-variable rule broken at once',
      () => ({
        log_sink_scope: 'project',
        organization_id: 'organizations/123',
        folder_id: 'folders/1',
        log_sink_project_id: 'Bad_Project',
        region: 'us-central1-a',
        name_prefix: 'runwatch-production',
        labels: { 'Bad Key': 'x' },
        config_path: join(work, 'notes.txt'),
        package_dir: work,
        source_include: ['../outside/**'],
        runtime: 'nodejs18',
        scc_source_display_name: '-bad-',
        scc_findings_editor_scope: 'project',
        secret_versions: { slack: 'v2' },
        max_delivery_attempts: 3,
        retry_maximum_backoff: '601s',
        sweep_schedule: '*/5 * *',
        function_timeout_seconds: 5,
        detect_memory: '512MB',
        notify_memory: '1GB',
        detect_max_instances: 0,
        notify_max_instances: 1.5,
        ingress_settings: 'PUBLIC',
        firestore_location: 'europe',
      }),
      [
        'organization_id',
        'folder_id',
        'log_sink_project_id',
        'region',
        'name_prefix',
        'labels',
        'config_path',
        'package_dir',
        'source_include',
        'runtime',
        'scc_source_display_name',
        'scc_findings_editor_scope',
        'secret_versions',
        'max_delivery_attempts',
        'retry_maximum_backoff',
        'sweep_schedule',
        'function_timeout_seconds',
        'detect_memory',
        'notify_memory',
        'detect_max_instances',
        'notify_max_instances',
        'ingress_settings',
        'firestore_location',
      ],
    ],
  ];

  // One `terraform test` process plans every case, each from a test file of its own: a run block with the case's
  // variables (command = plan), expecting exactly its failing variables (expect_failures; none for a valid case). A
  // run passes only if the plan fails on exactly those variables, or succeeds when none are listed: a variable that
  // fails unexpectedly, or one expected that does not, fails it. One file a case keeps each case a plan of its
  // variables alone (a failed run skips the runs after it in its file, never another file's), and every case is
  // reported. 60 plans, each a terraform process of its own, took most of this file's time.
  it('enforces every variable validation (a table of plans of the variables alone)', { timeout: 60_000 }, async () => {
    const table = join(harness, 'validations');
    mkdirSync(table, { recursive: true });
    const files = CASES.map(([name, extra, expected], i) => {
      const file = `case-${String(i).padStart(2, '0')}.tftest.hcl`;
      const values = Object.entries({ ...base(), ...extra() }).map(([k, v]) => `    ${k} = ${hcl(v)}`);
      const expect = expected.length === 0 ? '' : `  expect_failures = [${expected.map((v) => `var.${v}`).join(', ')}]\n`;
      writeFileSync(join(table, file), `run "case_${i}" {\n  command = plan\n  variables {\n${values.join('\n')}\n  }\n${expect}}\n`);
      return { name, expected, file: `validations/${file}` };
    });
    const run = await terraform(['test', '-no-color', '-test-directory=validations'], harness);
    const output = run.stdout + run.stderr;
    // Each file's lines, from its "... in progress" to its verdict.
    const outcomes = files.map(({ name, expected, file }) => {
      const from = output.indexOf(`${file}... in progress`);
      const verdict = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\.\\. (pass|fail|skip)$`, 'm').exec(output.slice(from));
      return { name, expected, verdict: from === -1 ? undefined : verdict?.[1], lines: from === -1 ? '' : output.slice(from, from + (verdict?.index ?? 0)) };
    });
    const wrong = outcomes.filter((o) => o.verdict !== 'pass').map((o) => `${o.name}: the plan must fail on exactly ${JSON.stringify(o.expected)}; its run: ${o.verdict ?? 'not reported'}\n${o.lines}`);
    expect(wrong).toEqual([]);
    expect(run.status, output).toBe(0);
    expect(outcomes.filter((o) => o.verdict === 'pass')).toHaveLength(CASES.length);
  });

  async function evaluate(extra: Record<string, unknown>): Promise<{ name: string; files: string[]; config: string }> {
    const expr = 'jsonencode({ name = local.source_object_name, files = local.source_files, config = local.deployed_config_path })';
    const run = await terraform(['console', '-no-color', ...vars({ ...base(), log_sink_scope: 'project', ...extra })], harness, `${expr}\n`);
    expect(run.status, run.stderr).toBe(0);
    return JSON.parse(JSON.parse(run.stdout.trim()) as string) as { name: string; files: string[]; config: string };
  }

  it('names the source object after the shipped files and the config, so a changed config redeploys', { timeout: 30_000 }, async () => {
    const first = await evaluate({});
    expect(first.name).toMatch(/^runwatch-src-[0-9a-f]{16}-cfg-[0-9a-f]{16}\.zip$/);
    expect(first.name).toContain(`-cfg-${sha256(readFileSync(configA)).slice(0, 16)}.zip`);

    // Exactly the default source_include files are shipped; tests, node_modules and docs are not.
    expect(first.files).toEqual(['bin/runwatch.js', 'functions/index.ts', 'package-lock.json', 'package.json', 'schemas/config.schema.json']);
    const expectedSource = sha256(first.files.map((f) => `${f} ${sha256(readFileSync(join(pkg, f)))}`).join('\n'));
    expect(first.name).toContain(`-src-${expectedSource.slice(0, 16)}-`);

    // Same inputs, same name: an unchanged apply redeploys nothing.
    expect((await evaluate({})).name).toBe(first.name);

    // Another config: new config hash, same source hash.
    const otherConfig = await evaluate({ config_path: configB });
    expect(otherConfig.name).not.toBe(first.name);
    expect(otherConfig.name.split('-cfg-')[0]).toBe(first.name.split('-cfg-')[0]);

    // A changed shipped file: new source hash, same config hash. A changed file outside source_include: no change.
    writeFileSync(join(pkg, 'test/unit/a.test.ts'), 'still not shipped\n');
    expect((await evaluate({})).name).toBe(first.name);
    writeFileSync(join(pkg, 'functions/index.ts'), 'export const detect = 2;\n');
    const otherSource = await evaluate({});
    expect(otherSource.name).not.toBe(first.name);
    expect(otherSource.name.split('-cfg-')[1]).toBe(first.name.split('-cfg-')[1]);
  });

  /**
   * One finding through the real notify function (default delivery budget, so the claim lease notify really uses) as
   * Pub/Sub delivers it at the fastest a retry policy allows: `attempts` deliveries `minimumBackoffS` apart, then the
   * dead-letter topic. The sink answers the first delivery with a failure after which the finding may have been sent
   * (a Slack timeout: the claim is kept until its lease ends), and sends every later one.
   */
  async function redeliver(attempts: number, minimumBackoffS: number): Promise<'sent again' | 'dead-lettered'> {
    let nowMs = Date.parse('2026-12-01T00:00:00Z');
    let calls = 0;
    const sink: Sink = {
      name: 'slack',
      deliver: async () =>
        ++calls === 1 ? { status: 'failed', retryable: true, mayHaveSent: true, reason: 'synthetic: timed out after the request was sent' } : { status: 'delivered', ref: '1.2' },
    };
    const notify = createNotifyFunction({
      env: { RUNWATCH_SINK: 'slack', DEAD_LETTER_TOPIC: 'projects/p/topics/dead-letter' },
      config: parseConfig('sinks: { slack: { minSeverity: LOW, channel: "#sec" } }'),
      sink,
      records: new MemoryDeliveryRecordStore(() => nowMs),
      publisher: { publish: async () => 'dl-1', close: async () => undefined },
      log: () => undefined,
      now: () => nowMs,
    });
    const data = Buffer.from(JSON.stringify(makeFinding('public-invoker-grant'))).toString('base64');
    const event = { specversion: '1.0', id: 'm1', source: 's', type: 'google.cloud.pubsub.topic.v1.messagePublished', data: { message: { data, messageId: 'm1' } } };
    try {
      for (let attempt = 1; attempt <= attempts; attempt++, nowMs += minimumBackoffS * 1000) {
        try {
          await notify(event as never);
          return calls === 2 ? 'sent again' : 'dead-lettered';
        } catch {
          // non-2xx: Pub/Sub redelivers after the backoff, until max_delivery_attempts
        }
      }
      return 'dead-lettered';
    } finally {
      await notify.close();
    }
  }

  // Pub/Sub waits at least retry_policy.minimum_backoff between two deliveries of a message and dead-letters it after
  // max_delivery_attempts (Subscription.retryPolicy, deadLetterPolicy). While notify keeps a claim, every redelivery is
  // refused and uses up an attempt: a schedule that ends inside the lease dead-letters the finding, unsent.
  it("accepts only retry schedules whose last delivery comes after notify's claim lease", { timeout: 60_000 }, async () => {
    const schedules: ReadonlyArray<readonly [number, number]> = [[10, 10], [5, 10], [5, 19], [5, 18], [6, 15], [16, 5], [100, 0], [100, 1], [20, 4]];
    const rows = await Promise.all(
      schedules.map(async ([attempts, backoff]) => {
        const plan = await terraform(
          ['plan', '-no-color', '-input=false', '-lock=false', '-refresh=false', ...vars({ ...base(), log_sink_scope: 'project', max_delivery_attempts: attempts, retry_minimum_backoff: `${backoff}s` })],
          harness,
        );
        return `${attempts} x ${backoff}s: ${await redeliver(attempts, backoff)}, ${plan.status === 0 ? 'accepted' : 'refused'}`;
      }),
    );
    const consistent = rows.map((row) => row.replace(/sent again, accepted|dead-lettered, refused/, 'consistent'));
    expect(consistent).toEqual(schedules.map(([attempts, backoff]) => `${attempts} x ${backoff}s: consistent`));
    // The defaults are among the schedules that send it again.
    expect(rows[0]).toBe('10 x 10s: sent again, accepted');
  });

  // What each function is given (functions.tf merges local.endpoint_env.detect into detect's environment and the
  // sink's own into its notify function's): only what was set, under the variable the code reads.
  it('gives each function the endpoints set for it, and nothing when none is', { timeout: 30_000 }, async () => {
    const endpointEnv = async (extra: Record<string, unknown>): Promise<unknown> => {
      const run = await terraform(['console', '-no-color', ...vars({ ...base(), log_sink_scope: 'project', ...extra })], harness, 'jsonencode(local.endpoint_env)\n');
      expect(run.status, run.stderr).toBe(0);
      return JSON.parse(JSON.parse(run.stdout.trim()) as string);
    };
    expect(await endpointEnv({})).toEqual({ detect: {}, pagerduty: {}, slack: {} });
    expect(await endpointEnv({ sinks: ['pagerduty', 'slack'], endpoints: { pagerduty_events_url: 'https://events.eu.pagerduty.com/v2/enqueue' } })).toEqual({
      detect: {},
      pagerduty: { PAGERDUTY_EVENTS_URL: 'https://events.eu.pagerduty.com/v2/enqueue' },
      slack: {},
    });
    expect(
      await endpointEnv({ sinks: ['slack'], admin_api_fallback: true, endpoints: { slack_api_url: 'https://slack-gov.com/api/', run_api_endpoint: 'run-psc.p.googleapis.com' } }),
    ).toEqual({ detect: { RUN_API_ENDPOINT: 'run-psc.p.googleapis.com' }, pagerduty: {}, slack: { SLACK_API_URL: 'https://slack-gov.com/api/' } });
    // notify's merge, as functions.tf writes it: the lookup takes the sinks without an entry too, and values of
    // different shapes (one set, one empty).
    const notifyEnv = await terraform(
      ['console', '-no-color', ...vars({ ...base(), log_sink_scope: 'project', sinks: ['pagerduty', 'scc'], organization_id: '1', endpoints: { pagerduty_events_url: 'https://events.eu.pagerduty.com/v2/enqueue' } })],
      harness,
      'jsonencode([for sink in ["pagerduty", "scc", "slack"] : merge({ A = "1" }, lookup(local.endpoint_env, sink, {}), { RUNWATCH_SINK = sink })])\n',
    );
    expect(notifyEnv.status, notifyEnv.stderr).toBe(0);
    expect(JSON.parse(JSON.parse(notifyEnv.stdout.trim()) as string)).toEqual([
      { A: '1', PAGERDUTY_EVENTS_URL: 'https://events.eu.pagerduty.com/v2/enqueue', RUNWATCH_SINK: 'pagerduty' },
      { A: '1', RUNWATCH_SINK: 'scc' },
      { A: '1', RUNWATCH_SINK: 'slack' },
    ]);
  });

  it('ships a JSON config as runwatch.json and points RUNWATCH_CONFIG there', async () => {
    expect((await evaluate({})).config).toBe('/workspace/runwatch-config/runwatch.yaml');
    expect((await evaluate({ config_path: configJson })).config).toBe('/workspace/runwatch-config/runwatch.json');
  });

  // config_path's validation takes the extension in any case (lower()); the shipped name must then come from it too,
  // rather than a regex error at plan on a path the validation had just accepted.
  it('ships a config whose extension is in capitals (RUNWATCH.YAML) under its lowercase name', async () => {
    const upper = join(work, 'RUNWATCH.YAML');
    writeFileSync(upper, readFileSync(configA));
    const shipped = await evaluate({ config_path: upper });
    expect(shipped.config).toBe('/workspace/runwatch-config/runwatch.yaml');
    expect(shipped.name).toContain(`-cfg-${sha256(readFileSync(configA)).slice(0, 16)}.zip`);
  });
});
