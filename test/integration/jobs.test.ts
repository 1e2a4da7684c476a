// Cloud Run jobs (and worker pools) through the live pipeline on the emulators (Pub/Sub, the Firestore baseline): a job created, then
// hijacked (a new runtime identity, an image from a registry it never used), reaches SCC, Slack and PagerDuty as
// findings about the job, each once, without waiting for a sweep (a job has no rollout to wait for). The job's
// baseline is its own: a service of the same name deployed in between changes nothing.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { SCC_TEST_SOURCE } from '../support/sccServer.js';
import { emulators, expectedFindings, settle, startStack, TEST_CONFIG, waitFor, type Stack } from './stack.js';

const emu = emulators();

const CONFIG = {
  ...TEST_CONFIG,
  rules: { ...TEST_CONFIG.rules, 'new-image-repository': { trustedRepositories: ['us-docker.pkg.dev/acme-prod/*'] } },
  // A service's deploy waits for its system events (here: for a sweep that never comes); a job's does not.
  correlation: { waitSeconds: 600 },
  sinks: { scc: { minSeverity: 'LOW' }, slack: { minSeverity: 'LOW', channel: '#sec' }, pagerduty: { minSeverity: 'LOW' } },
};
const SINKS = ['scc', 'slack', 'pagerduty'] as const;

const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;
const CREATE = fixture('synthetic-job-v1-CreateJob-gcloud.json');
const REPLACE = fixture('synthetic-job-v1-ReplaceJob-gcloud.json');
const JOB_RESOURCE = '//run.googleapis.com/projects/acme-prod/locations/us-central1/jobs/nightly-export';

/** A real service create, moved onto a service named like the job, at 10:05 (between the job's two writes). */
function sameNamedService(): Record<string, unknown> {
  const entry = JSON.parse(readFileSync(new URL('../fixtures/corpus/panther__Services.CreateService__1.json', import.meta.url), 'utf8')) as Record<string, any>;
  entry['timestamp'] = '2025-03-10T10:05:00Z';
  entry['insertId'] = 'same-named-service';
  Object.assign(entry['resource'].labels, { project_id: 'acme-prod', location: 'us-central1', service_name: 'nightly-export' });
  return entry;
}

/** What reached each sink's server about one job or worker pool (by its resource name, its words, its type). */
interface Delivered {
  readonly sccIds: string[];
  readonly slackPosts: ReturnType<Stack<(typeof SINKS)[number]>['slack']['posts']>;
  readonly pagerDutyIds: string[];
}

/**
 * The bounds of the waits below, each named in its failure. Measured on 2 cores beside other work (load ~4.5; the
 * file took 12.8 s of tests): the longest wait is detect's first entry of a stack, 2.7 s (its first Firestore
 * transaction and the function's cold modules; the next entries 0.2 s), then the quiet that ends each test's settle
 * (2.5 s by design, of 2.6 s), the findings at every server (0.3-1.5 s) and the stack's start (0.3-1.4 s).
 */
const DETECT_MS = 20_000;
const DELIVERED_MS = 20_000;
const SETTLE_MS = 30_000;
/**
 * A test's limit guards against a hang only: above the sum of its waits' bounds (3 entries: 3 x 20 s, 20 s, 30 s)
 * and the stack's start and close, so a slow but progressing run fails on the wait that overran, by name, not on the
 * project's 60 s with no word of which (the file took 18 s loaded, against that 60 s).
 */
const HANG_MS = 180_000;

/**
 * Publishes `entries` one by one (each handled before the next, no sweep) to a stack with every sink, and waits until
 * each server holds `count` findings about the resource, and nothing more comes.
 */
async function deliver(
  s: Stack<(typeof SINKS)[number]>,
  entries: readonly unknown[],
  about: { readonly resourceName: string; readonly label: string; readonly resourceType: string },
  count: number,
): Promise<Delivered> {
  for (const entry of entries) {
    const id = await s.publishAudit(entry);
    await waitFor('detect to handle the entry', () => s.detected.some((o) => o.messageId === id && o.outcome !== 'failed'), DETECT_MS);
  }
  const delivered = (): Delivered => ({
    sccIds: [...s.scc.findings.values()].filter((f) => f['resourceName'] === about.resourceName).map((f) => String(f['name']).replace(/^.*\//, '')),
    slackPosts: s.slack.posts().filter((p) => JSON.stringify(p.blocks).includes(about.label)),
    pagerDutyIds: s.pagerduty
      .events()
      .filter((e) => (e['payload'] as Record<string, any>)?.['custom_details']?.['resource_type'] === about.resourceType)
      .map((e) => String(e['dedup_key'])),
  });
  await waitFor(
    `the ${about.resourceType} findings at every server`,
    () => {
      const d = delivered();
      return d.sccIds.length >= count && d.slackPosts.length >= count && d.pagerDutyIds.length >= count;
    },
    DELIVERED_MS,
    () => JSON.stringify({ scc: delivered().sccIds, slack: delivered().slackPosts.length, pd: delivered().pagerDutyIds }),
  );
  await settle(() => s.scc.calls.length + s.slack.requests.length + s.pagerduty.requests.length + s.notified.length, 2_500, SETTLE_MS, 'the sink calls');
  return delivered();
}

describe.skipIf(!emu)('live pipeline on the emulators: Cloud Run jobs', () => {
  let stack: Stack<(typeof SINKS)[number]> | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('reports a hijacked job to every sink as a job, once each, with no sweep', async () => {
    const entries = [CREATE, sameNamedService(), REPLACE];
    const expected = (await expectedFindings(entries, CONFIG)).filter((f) => f.resourceType === 'job');
    // Monday 10:11, inside the window; the trusted registry at create, Docker Hub after.
    expect(expected.map((f) => `${f.rule} ${String(f.evidence['repository'] ?? f.evidence['after'])}`).sort()).toEqual([
      'new-image-repository docker.io/attacker',
      'service-account-change data-admin@acme-prod.iam.gserviceaccount.com',
    ]);
    const ids = expected.map((f) => f.id).sort();

    const s = await startStack(emu!, { name: 'jobs', sinks: SINKS, config: CONFIG });
    stack = s;
    const got = await deliver(s, entries, { resourceName: JOB_RESOURCE, label: 'job acme-prod/nightly-export', resourceType: 'job' }, ids.length);
    expect(got.sccIds.sort()).toEqual(ids);
    for (const id of ids) expect(s.scc.findings.get(`${SCC_TEST_SOURCE}/locations/global/findings/${id}`)?.['state']).toBe('ACTIVE');
    expect(got.slackPosts).toHaveLength(ids.length);
    expect(JSON.stringify(got.slackPosts.map((p) => p.blocks))).toContain('Job in the Cloud Console');
    expect(got.pagerDutyIds.sort()).toEqual(ids);
    // The service of the same name is no part of the job's history: nothing compares it with the job.
    const all = await expectedFindings(entries, CONFIG);
    expect(all.filter((f) => f.resourceType !== 'job' && (f.rule === 'service-account-change' || f.rule === 'new-image-repository'))).toEqual([]);
  }, HANG_MS);

  it('reports a hijacked worker pool to every sink as a worker pool, with no sweep', async () => {
    const entries = [fixture('synthetic-workerpool-v2-CreateWorkerPool.json'), fixture('synthetic-workerpool-v2-UpdateWorkerPool.json')];
    const expected = await expectedFindings(entries, CONFIG);
    expect(expected.map((f) => `${f.rule} ${f.resourceType}`).sort()).toEqual(['new-image-repository worker-pool', 'service-account-change worker-pool']);
    const ids = expected.map((f) => f.id).sort();

    const s = await startStack(emu!, { name: 'pools', sinks: SINKS, config: CONFIG });
    stack = s;
    const resourceName = '//run.googleapis.com/projects/acme-prod/locations/us-central1/workerPools/queue-consumer';
    const got = await deliver(s, entries, { resourceName, label: 'worker pool acme-prod/queue-consumer', resourceType: 'worker-pool' }, ids.length);
    expect(got.sccIds.sort()).toEqual(ids);
    expect(got.slackPosts).toHaveLength(ids.length);
    expect(got.pagerDutyIds.sort()).toEqual(ids);
  }, HANG_MS);
});
