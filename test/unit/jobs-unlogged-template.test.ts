// A job write whose task spec, or its containers, the entry does not log. Real v1 service entries are mostly logged
// without their containers (test/fixtures/corpus); whether job entries are is not known (synthetic-job-SOURCES.md).
// A service's system events fill in what its write left out; a job has none, so what is not logged stays unknown.
import { describe, expect, it } from 'vitest';
import { parseEntry } from '../../functions/audit/normalize.js';
import type { DeployChange } from '../../functions/model/change.js';
import { at, synthetic, variant, type Json } from '../support/entries.js';
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

function deployOf(entry: Json): DeployChange {
  const result = parseEntry(entry);
  if (result.kind !== 'change' || result.change.kind !== 'deploy') throw new Error(`not a deploy: ${JSON.stringify(result)}`);
  return result.change;
}

describe('a job write that does not log its task spec', () => {
  const cases: readonly { name: string; first: Json; entry: Json }[] = [
    { name: 'v1 ReplaceJob without the task template', first: v1Create, entry: editV1Job(v1Replace, (job) => delete job['spec'].template.spec.template) },
    { name: 'v1 ReplaceJob with an empty task spec', first: v1Create, entry: editV1Job(v1Replace, (job) => (job['spec'].template.spec.template.spec = {})) },
    { name: 'v1 ReplaceJob without the execution spec', first: v1Create, entry: editV1Job(v1Replace, (job) => delete job['spec'].template.spec) },
    { name: 'v2 UpdateJob without the task template', first: v2Create, entry: editV2Job(v2Update, (job) => delete job['template'].template) },
  ];
  it.each(cases)('$name: its runtime identity is unknown, not the default compute SA', async ({ first, entry }) => {
    expect(deployOf(entry).serviceAccount).toBeUndefined();
    const findings = await findingsOf([first, entry]);
    expect(findings.filter((f) => f.rule === 'service-account-change').map((f) => f.title)).toEqual([]);
  });
});
