// A job write whose task spec, or its containers, the entry does not log. Real v1 service entries are mostly logged
// without their containers (test/fixtures/corpus); whether job entries are is not known (synthetic-job-SOURCES.md).
// A service's system events fill in what its write left out; a job has none, so what is not logged stays unknown.
import { describe, expect, it } from 'vitest';
import { parseEntry } from '../../functions/audit/normalize.js';
import type { DeployChange } from '../../functions/model/change.js';
import { at, synthetic, variant, type Json } from '../support/entries.js';
import { deployOf } from '../support/changes.js';
import { config, findingsOf } from '../support/run.js';

const v1Create = synthetic('job-v1-CreateJob-gcloud');
const v1Replace = synthetic('job-v1-ReplaceJob-gcloud');
const v2Create = synthetic('job-v2-CreateJob');
const v2Update = synthetic('job-v2-UpdateJob');

type Obj = Record<string, any>;

/** Every Job object of a v1 entry (request and response), with `edit` applied. */
function editV1Job(entry: Json, edit: (job: Obj) => void): Json {
  return variant(entry, (e) => {
    const request = e.protoPayload['request'] as { job?: Obj };
    if (request.job) edit(request.job);
    if (e.protoPayload['response']) edit(e.protoPayload['response'] as Obj);
  });
}

function editV2Job(entry: Json, edit: (job: Obj) => void): Json {
  return variant(entry, (e) => edit((e.protoPayload['request'] as { job: Obj }).job));
}

function deployed(entry: Json): DeployChange {
  return deployOf(parseEntry(entry));
}

describe('a job write that does not log its task spec', () => {
  const cases: readonly { name: string; first: Json; entry: Json }[] = [
    { name: 'v1 ReplaceJob without the task template', first: v1Create, entry: editV1Job(v1Replace, (job) => delete job['spec'].template.spec.template) },
    { name: 'v1 ReplaceJob with an empty task spec', first: v1Create, entry: editV1Job(v1Replace, (job) => (job['spec'].template.spec.template.spec = {})) },
    { name: 'v1 ReplaceJob without the execution spec', first: v1Create, entry: editV1Job(v1Replace, (job) => delete job['spec'].template.spec) },
    { name: 'v2 UpdateJob without the task template', first: v2Create, entry: editV2Job(v2Update, (job) => delete job['template'].template) },
  ];
  it.each(cases)('$name: its runtime identity is unknown, not the default compute SA', async ({ first, entry }) => {
    expect(deployed(entry).serviceAccount).toBeUndefined();
    const findings = await findingsOf([first, entry]);
    expect(findings.filter((f) => f.rule === 'service-account-change').map((f) => f.title)).toEqual([]);
  });
});

describe('a job write that does not log its containers', () => {
  // Off-window (2025-03-10 is a Monday) and made by a deployer not allowed: every deploy raises both.
  const cfg = config({
    timezone: 'UTC',
    changeWindows: [{ days: ['tue'], start: '09:00', end: '17:00' }],
    rules: { 'unapproved-deployer': { allowedDeployers: ['ci@acme-prod.iam.gserviceaccount.com'] } },
  });
  const withoutContainers = (job: Obj, task: (job: Obj) => Obj): void => void delete task(job)['containers'];
  const v1Task = (job: Obj): Obj => job['spec'].template.spec.template.spec;
  const v2Task = (job: Obj): Obj => job['template'].template;
  // Two later writes whose logged templates are the same: what they run (their images) is not in the entry.
  const cases: readonly { name: string; first: Json; later: (time: string) => Json }[] = [
    { name: 'v1 ReplaceJob', first: v1Create, later: (time) => editV1Job(at(v1Replace, time), (job) => withoutContainers(job, v1Task)) },
    { name: 'v2 UpdateJob', first: v2Create, later: (time) => editV2Job(at(v2Update, time), (job) => withoutContainers(job, v2Task)) },
  ];
  it.each(cases)('$name: each write is a deploy whose template is unknown, not a repeat of the one before', async ({ first, later }) => {
    const [a, b] = [later('2025-03-10T10:30:00Z'), later('2025-03-10T10:35:00Z')];
    expect(deployed(b)).toMatchObject({ templateUnknown: true, templateFingerprint: undefined });
    const findings = await findingsOf([first, a, b], cfg);
    const deploys = (rule: string): string[] => findings.filter((f) => f.rule === rule).map((f) => f.eventTime.slice(11, 16)).sort();
    expect(deploys('off-window-deploy').slice(-2)).toEqual(['10:30', '10:35']);
    expect(deploys('unapproved-deployer').slice(-2)).toEqual(['10:30', '10:35']);
  });

  // Nor does it say the job's VPC access is gone when the task spec it logs has no VPC access either (the first job
  // sends all its traffic through the VPC): a job has no system events to say otherwise.
  it.each([
    { name: 'v1 ReplaceJob', first: v1Create, later: editV1Job(at(v1Replace, '2025-03-10T10:30:00Z'), (job) => {
      withoutContainers(job, v1Task);
      const annotations = job['spec'].template.metadata.annotations as Obj;
      for (const key of Object.keys(annotations)) if (key.startsWith('run.googleapis.com/vpc-access') || key === 'run.googleapis.com/network-interfaces') delete annotations[key];
    }) },
    { name: 'v2 UpdateJob', first: v2Create, later: editV2Job(at(v2Update, '2025-03-10T10:30:00Z'), (job) => {
      withoutContainers(job, v2Task);
      delete v2Task(job)['vpcAccess'];
    }) },
  ])('$name without containers or VPC access: its VPC egress is unknown, not removed', async ({ first, later }) => {
    expect(deployed(later).vpcEgress).toBeUndefined();
    expect((await findingsOf([first, later], cfg)).filter((f) => f.rule === 'vpc-egress-bypass')).toEqual([]);
  });
});
