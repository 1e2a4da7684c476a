// A deploy known only from its system events (no admin write seen): whether it created the service or replaced it is
// what the events say. A system event's methodName names the operation that changed the service (`/Services.CreateService`
// for a create: ../shared/facts/audit-log-fields.md 0.2, archicloud__sysevent-Services.CreateService__1); events logged
// without one (2021) say it by the revision's number only: `SERVICE-00001-xxx` is the service's first revision.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { at, corpus, editV1Services, synthetic, variant, withOperationId, withV1Image, type Json } from '../support/entries.js';
import { config, findingsOf } from '../support/run.js';

// Windows that every fixture time misses: each deploy is reported by off-window-deploy, with its operation.
const strict = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }] });

const FIXTURES = new URL('../fixtures/', import.meta.url);
function sequence(name: string): Json[] {
  return JSON.parse(readFileSync(new URL(`synthetic-seq-${name}.json`, FIXTURES), 'utf8')) as Json[];
}

/** The real revision event aegisai__sysevent-Services.ReplaceService__1 as the first revision, logged without methodName. */
function firstRevisionWithoutMethod(): Json {
  const renamed = JSON.parse(JSON.stringify(corpus('aegisai__sysevent-Services.ReplaceService__1')).replaceAll('aegis-ai-00003-sp7', 'aegis-ai-00001-sp7')) as Json;
  return variant(renamed, (e) => {
    delete e.protoPayload['methodName'];
    const labels = (e.protoPayload['response'] as { metadata: { labels: Record<string, string> } }).metadata.labels;
    labels['serving.knative.dev/configurationGeneration'] = '1';
  });
}

/** A gcloud write of aegis-ai (the failed rollout's, its own operation) before the event: an earlier deploy known. */
function earlierWrite(): Json {
  return withOperationId(at(sequence('failed-rollout')[0]!, '2026-09-17T10:00:00Z', 'aegis-earlier'), 'op-aegis-earlier');
}

describe('a deploy known only from its system events: create or replace, as they say', () => {
  it.each([
    ['the real revision event of a replace (aegisai__sysevent-Services.ReplaceService__1)', [corpus('aegisai__sysevent-Services.ReplaceService__1')], 'replace'],
    ['the same revision event logged by a create (synthetic-sysevent-Services.CreateService-revision)', [synthetic('sysevent-Services.CreateService-revision')], 'create'],
    ['the first revision (00001) logged without methodName, the service never seen before', [firstRevisionWithoutMethod()], 'create'],
    ['the first revision (00001) logged without methodName, a deploy of the service seen before', [earlierWrite(), firstRevisionWithoutMethod()], 'replace'],
  ])('%s', async (_name, entries, operation) => {
    const findings = (await findingsOf(entries, strict)).filter((f) => f.rule === 'off-window-deploy' && f.methodName === '(system event)');
    expect(findings.map((f) => f.evidence['operation'])).toEqual([operation]);
  });

  // The operation is evidence, not identity: the same entry logged by a create or a replace is the same finding.
  it('the finding id does not depend on the operation', async () => {
    const ids = async (entry: Json) => (await findingsOf([entry], strict)).map((f) => [f.rule, f.id]);
    expect(await ids(synthetic('sysevent-Services.CreateService-revision'))).toEqual(await ids(corpus('aegisai__sysevent-Services.ReplaceService__1')));
  });

  // The breakglass justification does not carry across a delete: a create deploys under none but its own. A gcloud
  // deploy of cloud-run-slack-bot with breakglass; the service's revision events of a create, their write not seen
  // (the delete before it not seen either); then a write that leaves breakglass as it was (its body logged without
  // containers, as the console logs it): it deploys under the created service's justification, none.
  const BREAKGLASS = 'run.googleapis.com/binary-authorization-breakglass';
  const HOME = 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot/cloud-run-slack-bot';
  const deploy = (timestamp: string, edit: (svc: Record<string, unknown>) => void): Json =>
    at(editV1Services(withOperationId(withV1Image(synthetic('v1-ReplaceService-gcloud'), `${HOME}:${timestamp.replace(/\D/g, '')}`), `op-${timestamp}`), edit), timestamp);
  const withBreakglass = deploy('2024-05-01T10:00:00Z', (svc) => {
    const meta = svc['metadata'] as { annotations?: Record<string, string> };
    meta.annotations = { ...meta.annotations, [BREAKGLASS]: 'INC-4711: hotfix' };
  });
  const leavesBreakglass = deploy('2024-05-07T10:00:00Z', (svc) => {
    delete ((svc['spec'] as { template: { spec: Record<string, unknown> } }).template.spec)['containers'];
  });
  const createdEvents = (method: string): Json[] => sequence('system-events-only').map((e) => variant(e, (copy) => void (copy.protoPayload['methodName'] = method)));

  it.each([
    ['replaced (/Services.ReplaceService): breakglass stays in force', '/Services.ReplaceService', ['2024-05-01T10:00:00Z', '2024-05-07T10:00:00Z']],
    ['created (/Services.CreateService): breakglass does not carry across', '/Services.CreateService', ['2024-05-01T10:00:00Z']],
  ])('the service %s', async (_name, method, expected) => {
    const findings = await findingsOf([withBreakglass, ...createdEvents(method), leavesBreakglass]);
    const breakglass = findings.filter((f) => f.rule === 'binary-authorization-bypass' && f.title === 'Deploy that bypasses Binary Authorization (breakglass)');
    expect(breakglass.map((f) => f.eventTime)).toEqual(expected);
  });
});
