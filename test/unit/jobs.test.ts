// Cloud Run jobs: a job's create, replace (v1) and update (v2) are deploys of its execution template, judged by the
// same rules as a service's revisions (runtime identity, image repositories, change windows, VPC egress, Binary
// Authorization, plain secrets), at once (a job has no revisions, so no system events to wait for), in a baseline of
// its own (a job and a service may share a name). No real job entry has been public: the fixtures are synthetic,
// built from the Admin API definitions (test/fixtures/synthetic-job-SOURCES.md).
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import findingSchema from '../../schemas/finding.schema.json' with { type: 'json' };
import { parseEntry } from '../../functions/audit/normalize.js';
import { deployOf } from '../support/changes.js';
import { baselineKey } from '../../functions/baseline/store.js';
import { storeKeyOf } from '../../functions/engine.js';
import type { DeployChange } from '../../functions/model/change.js';
import type { Finding } from '../../functions/findings/finding.js';
import { sinkFilter } from '../../functions/detectors/sinkFilter.js';
import { at, corpus, synthetic, variant, withV1ServiceAccount, type Json } from '../support/entries.js';
import { config, findingsLive, findingsOf } from '../support/run.js';

const v1Create = synthetic('job-v1-CreateJob-gcloud');
const v1Replace = synthetic('job-v1-ReplaceJob-gcloud');
const v2Create = synthetic('job-v2-CreateJob');
const v2Update = synthetic('job-v2-UpdateJob');
const v2Delete = synthetic('job-v2-DeleteJob');
const runJob = synthetic('job-v2-RunJob-data-access');
const systemEvent = synthetic('job-sysevent-UpdateJob');

const JOB = { project: 'acme-prod', location: 'us-central1', service: 'nightly-export', resourceType: 'job' } as const;
const EXPORTER = 'exporter@acme-prod.iam.gserviceaccount.com';
const DATA_ADMIN = 'data-admin@acme-prod.iam.gserviceaccount.com';

/** Every entry of a v2 job write, with `edit` applied to its request's Job. */
function editV2Job(entry: Json, edit: (job: Record<string, any>) => void): Json {
  return variant(entry, (e) => edit((e.protoPayload['request'] as { job: Record<string, any> }).job));
}

/** Every Job object of a v1 entry (request and response), with `edit` applied. */
function editV1Job(entry: Json, edit: (job: Record<string, any>) => void): Json {
  return variant(entry, (e) => {
    const request = e.protoPayload['request'] as { job?: Record<string, any> };
    if (request.job) edit(request.job);
    if (e.protoPayload['response']) edit(e.protoPayload['response'] as Record<string, any>);
  });
}

describe('normalizing job entries', () => {
  const deploys: readonly { name: string; entry: Json; expected: Partial<DeployChange>; serviceAccount: string; repository: string; vpcEgress: string; policy?: string }[] = [
    { name: 'v1 CreateJob (gcloud)', entry: v1Create, expected: { api: 'v1', operation: 'create' }, serviceAccount: EXPORTER, repository: 'us-docker.pkg.dev/acme-prod/batch', vpcEgress: 'all-traffic', policy: 'default' },
    { name: 'v1 ReplaceJob (gcloud)', entry: v1Replace, expected: { api: 'v1', operation: 'replace' }, serviceAccount: DATA_ADMIN, repository: 'docker.io/attacker', vpcEgress: 'all-traffic', policy: 'default' },
    { name: 'v2 CreateJob', entry: v2Create, expected: { api: 'v2', operation: 'create' }, serviceAccount: EXPORTER, repository: 'us-docker.pkg.dev/acme-prod/batch', vpcEgress: 'all-traffic', policy: 'default' },
    { name: 'v2 UpdateJob', entry: v2Update, expected: { api: 'v2', operation: 'update' }, serviceAccount: DATA_ADMIN, repository: 'us-docker.pkg.dev/acme-prod/batch', vpcEgress: 'private-ranges-only', policy: 'default' },
  ];
  it.each(deploys)('$name is a deploy of the job', ({ entry, expected, serviceAccount, repository, vpcEgress, policy }) => {
    const change = deployOf(parseEntry(entry, { secretEnv: { namePatterns: ['*PASSWORD*'], allowNames: [] } }));
    expect(change).toMatchObject(expected);
    expect(change.target).toMatchObject(JOB);
    expect(change.serviceAccount).toEqual({ kind: 'explicit', email: serviceAccount });
    expect(change.images.map((i) => (i.unparseable ? i.reference : i.repository))).toEqual([repository]);
    expect(change.vpcEgress).toBe(vpcEgress);
    expect(change.binaryAuthorization?.policy).toBe(policy);
    expect(change.templateFingerprint).toMatch(/^v[12]:/);
    expect(change.ingress).toBeUndefined();
    expect(change.invokerIamDisabled).toBeUndefined();
    expect(change.revision).toBeUndefined();
    // The execution template's labels are the provenance.
    expect(change.revisionLabels?.['commit-sha']).toMatch(/^[0-9a-f]{40}$/);
  });

  it('reads the project number from the stored v1 job, not the project id the request writes there', () => {
    expect(deployOf(parseEntry(v1Create)).target.projectNumber).toBe('123456789012');
  });

  it('a template without a service account runs as the default compute SA', () => {
    const v2 = deployOf(parseEntry(editV2Job(v2Update, (job) => delete job['template'].template.serviceAccount)));
    expect(v2.serviceAccount).toEqual({ kind: 'default-compute' });
    const v1 = deployOf(parseEntry(editV1Job(v1Create, (job) => delete job['spec'].template.spec.template.spec.serviceAccountName)));
    expect(v1.serviceAccount).toEqual({ kind: 'default-compute', email: '123456789012-compute@developer.gserviceaccount.com' });
  });

  it('a v2 job without VPC access or Binary Authorization has none (every job write sets the whole job)', () => {
    const change = deployOf(
      parseEntry(
        editV2Job(v2Update, (job) => {
          delete job['template'].template.vpcAccess;
          delete job['binaryAuthorization'];
        }),
      ),
    );
    expect(change.vpcEgress).toBe('none');
    expect(change.binaryAuthorization).toEqual({});
  });

  it('reads snake_case v2 requests', () => {
    const snake = editV2Job(v2Update, (job) => {
      const task = job['template'].template;
      task.service_account = task.serviceAccount;
      delete task.serviceAccount;
      task.vpc_access = task.vpcAccess;
      delete task.vpcAccess;
    });
    const change = deployOf(parseEntry(snake));
    expect(change.serviceAccount).toEqual({ kind: 'explicit', email: DATA_ADMIN });
    expect(change.vpcEgress).toBe('private-ranges-only');
  });

  // Read for external-member-grant (a role granted outside the organization); Cloud Run refuses the public on jobs.
  it('a SetIamPolicy is an IAM change of the job, with its policy', () => {
    const result = parseEntry(synthetic('job-v2-SetIamPolicy'));
    expect(result).toMatchObject({ kind: 'change', change: { kind: 'iam-policy', scope: 'service', target: JOB, policy: [{ role: 'roles/run.developer', member: 'user:contractor@gmail.com' }, { role: 'roles/run.invoker', member: 'group:data-team@acme.com' }] } });
  });

  it('a delete is a delete of the job', () => {
    const result = parseEntry(v2Delete);
    expect(result).toMatchObject({ kind: 'change', change: { kind: 'delete', target: JOB } });
  });

  const skips: readonly { name: string; entry: Json; reason: string }[] = [
    { name: 'RunJob without overrides (a Data Access entry: see job-run-overrides)', entry: runJob, reason: 'cloud-run-job' },
    { name: 'a Data Access entry that is no run', entry: variant(runJob, (e) => (e.protoPayload['methodName'] = 'google.cloud.run.v2.Jobs.GetJob')), reason: 'read-only' },
    { name: "a job's system event", entry: systemEvent, reason: 'cloud-run-job' },
    { name: 'a failed SetIamPolicy', entry: variant(synthetic('job-v2-SetIamPolicy'), (e) => (e.protoPayload['status'] = { code: 9, message: 'precondition' })), reason: 'failed-call' },
    { name: 'an execution cancelled', entry: variant(v2Delete, (e) => (e.protoPayload['methodName'] = 'google.cloud.run.v1.Executions.CancelExecution')), reason: 'cloud-run-job' },
    { name: 'a v2 validateOnly update', entry: variant(v2Update, (e) => ((e.protoPayload['request'] as Json)['validateOnly'] = true)), reason: 'dry-run' },
    { name: 'a v1 dry run', entry: variant(v1Replace, (e) => ((e.protoPayload['request'] as Json)['dryRun'] = 'all')), reason: 'dry-run' },
    { name: 'a failed update', entry: variant(v2Update, (e) => (e.protoPayload['status'] = { code: 3, message: 'invalid' })), reason: 'failed-call' },
    { name: 'the completion entry of a v2 update', entry: variant(v2Update, (e) => (e['operation'] = { id: 'op', producer: 'run.googleapis.com', last: true })), reason: 'cloud-run-job' },
  ];
  it.each(skips)('$name is no change ($reason)', ({ entry, reason }) => {
    expect(parseEntry(entry)).toMatchObject({ kind: 'skipped', reason });
  });

  it('a job and a service of the same name have their own baselines', () => {
    const job = deployOf(parseEntry(v1Create));
    expect(storeKeyOf(job)).toBe('acme-prod/us-central1/job:nightly-export');
    expect(baselineKey({ ...JOB, resourceType: undefined })).toBe('acme-prod/us-central1/nightly-export');
  });

  it('the log sink filter asks for job writes and deletes, runs only with overrides, and not their executions', () => {
    const filter = sinkFilter();
    const [activity, ...rest] = filter.split('cloudaudit.googleapis.com%2Fsystem_event');
    for (const method of ['v1.Jobs.CreateJob', 'v1.Jobs.ReplaceJob', 'v1.Jobs.DeleteJob', 'v2.Jobs.CreateJob', 'v2.Jobs.UpdateJob', 'v2.Jobs.DeleteJob']) {
      expect(activity).toContain(`"google.cloud.run.${method}"`);
    }
    expect(activity).not.toContain('RunJob');
    expect(rest.join('')).toContain('logName:"cloudaudit.googleapis.com%2Fdata_access" AND protoPayload.serviceName="run.googleapis.com" AND protoPayload.methodName=("google.cloud.run.v1.Jobs.RunJob" OR "google.cloud.run.v2.Jobs.RunJob") AND (protoPayload.request.overrides:* OR protoPayload.request.runJobRequest.overrides:*))');
    expect(filter).not.toContain('Executions');
  });
});

const validFinding = new Ajv({ allErrors: true, strict: false }).compile(findingSchema);

/** Each finding as `time rule`, sorted (a resolved one keeps the time of the change it reported). */
function summary(findings: readonly Finding[]): string[] {
  return findings.map((f) => `${f.eventTime.slice(11, 19)} ${f.rule}${f.status === 'resolved' ? ` (resolved at ${f.resolution!.time.slice(11, 19)})` : ''}`).sort();
}

describe('judging job deploys', () => {
  it('a hijacked job (new runtime identity, image from a repository it never used) is reported at once, as a job', async () => {
    for (const run of [findingsOf, findingsLive]) {
      const findings = await run([v1Create, v1Replace]);
      expect(summary(findings)).toEqual(['10:11:47 new-image-repository', '10:11:47 service-account-change']);
      for (const finding of findings) {
        expect(validFinding(finding), JSON.stringify(validFinding.errors)).toBe(true);
        expect(finding).toMatchObject({
          project: 'acme-prod',
          location: 'us-central1',
          service: 'nightly-export',
          resourceType: 'job',
          resourceName: '//run.googleapis.com/projects/acme-prod/locations/us-central1/jobs/nightly-export',
          links: { console: 'https://console.cloud.google.com/run/jobs/details/us-central1/nightly-export/executions?project=acme-prod' },
        });
        // gcloud copied the create's labels into the hijacking write: they do not say what produced it.
        expect(finding.provenance.commit).toBeUndefined();
        expect(finding.evidence['unchangedProvenanceLabels']).toBeDefined();
        expect(finding.revision).toBeUndefined();
        expect(finding.unknown).not.toContain('revision');
        expect(finding.summary).toContain('job acme-prod/nightly-export (us-central1)');
        expect(finding.evidence['rollout']).toBeUndefined();
      }
      expect(findings.find((f) => f.rule === 'service-account-change')?.evidence).toMatchObject({ before: EXPORTER, after: DATA_ADMIN });
      expect(findings.find((f) => f.rule === 'new-image-repository')?.evidence).toMatchObject({ repository: 'docker.io/attacker', knownRepositories: ['us-docker.pkg.dev/acme-prod/batch'] });
    }
  });

  it('the whole story: delete, re-create through v2, update with a secret and less VPC egress', async () => {
    const findings = await findingsOf([v1Create, v1Replace, v2Delete, v2Create, v2Update, systemEvent, runJob]);
    expect(summary(findings)).toEqual([
      '10:11:47 new-image-repository',
      '10:11:47 service-account-change',
      // Created again as the exporter: the identity it had before the hijack.
      '10:11:47 service-account-change (resolved at 10:25:40)',
      '10:40:12 plaintext-secret-env',
      '10:40:12 service-account-change',
      '10:40:12 vpc-egress-bypass',
    ]);
    for (const finding of findings) expect(validFinding(finding), JSON.stringify(validFinding.errors)).toBe(true);
    expect(findings.find((f) => f.rule === 'plaintext-secret-env')?.summary).toContain('anyone who can view the job');
  });

  it('a write that leaves the template as it was is no deploy (no change-window finding)', async () => {
    const cfg = config({ timezone: 'UTC', changeWindows: [{ days: ['tue'], start: '09:00', end: '17:00' }] });
    const again = variant(at(v2Update, '2025-03-10T10:50:00Z'), (e) => ((e.protoPayload['request'] as { job: Json }).job['labels'] = { team: 'data', note: 'traffic' }));
    const findings = (await findingsOf([v2Update, again], cfg)).filter((f) => f.rule === 'off-window-deploy');
    // 2025-03-10 is a Monday: the first write creates the job's template (off-window); the second changes only a job label.
    expect(summary(findings)).toEqual(['10:40:12 off-window-deploy']);
    expect(findings[0]!.summary).toContain('job acme-prod/nightly-export');
  });

  it('a job and a service of the same name are not compared with each other', async () => {
    // A service named nightly-export in the job's project and region, running as someone else.
    const service = withV1ServiceAccount(
      variant(corpus('panther__Services.CreateService__1'), (e) => {
        e['timestamp'] = '2025-03-10T09:00:00Z';
        const labels = (e['resource'] as { labels: Record<string, string> }).labels;
        Object.assign(labels, { project_id: 'acme-prod', location: 'us-central1', service_name: 'nightly-export' });
      }),
      'web@acme-prod.iam.gserviceaccount.com',
    );
    const findings = await findingsOf([service, v1Create, at(v1Create, '2025-03-10T10:30:00Z')]);
    expect(findings.filter((f) => f.rule === 'service-account-change' || f.rule === 'new-image-repository')).toEqual([]);
  });

  it('an exception by service glob covers jobs of that name too', async () => {
    const cfg = config({ rules: { 'service-account-change': { exceptions: [{ service: 'acme-prod/nightly-*' }] } } });
    const findings = await findingsOf([v1Create, v1Replace], cfg);
    expect(summary(findings)).toEqual(['10:11:47 new-image-repository']);
  });

  it('a move to the default compute SA is reported as the job now running as it', async () => {
    const toDefault = editV2Job(at(v2Update, '2025-03-10T10:41:00Z'), (job) => delete job['template'].template.serviceAccount);
    const findings = (await findingsOf([v2Create, toDefault])).filter((f) => f.rule === 'service-account-change');
    expect(findings.map((f) => [f.title, f.severity])).toEqual([['Job now runs as the default compute service account', 'HIGH']]);
  });
});
