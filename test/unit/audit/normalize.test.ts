import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseEntry, type ParseResult } from '../../../functions/audit/normalize.js';
import type { Change, DeployChange, IamPolicyChange, ImageRef } from '../../../functions/model/change.js';
import { corpus, synthetic, variant, type Json } from '../../support/entries.js';

const repositoryOf = (image: ImageRef): string | undefined => (image.unparseable ? undefined : image.repository);

function change(result: ParseResult): Change {
  if (result.kind !== 'change') throw new Error(`expected a change, got ${JSON.stringify(result)}`);
  return result.change;
}
const deploy = (r: ParseResult): DeployChange => change(r) as DeployChange;
const iam = (r: ParseResult): IamPolicyChange => change(r) as IamPolicyChange;

describe('entries that are not changes are skipped with a reason, never thrown', () => {
  it.each([
    ['panther__Services.CreateService__2', 'skipped', 'failed-call'],
    ['slackbot__Services.ReplaceService__2', 'skipped', 'failed-call'],
    ['powerchoosers__Services.ReplaceService__1', 'skipped', 'failed-call'],
    ['secfilling__Services.ReplaceService__1', 'skipped', 'failed-call'],
    ['panther__Services.SetIamPolicy__2', 'skipped', 'permission-denied'],
    ['panther__nomethod__1', 'skipped', 'not-cloud-run'],
    ['aegisai__nomethod__1', 'skipped', 'not-audit-log'],
    ['aegisai__CloudBuild.CreateBuild__1', 'skipped', 'not-cloud-run'],
    ['mybazaar__InternalServices.ReplaceInternalService__1', 'skipped', 'managed-by-cloud-functions'],
    ['panther__storage-setIamPermissions__1', 'skipped', 'not-cloud-run'],
    ['gcp-ps__v1-compute-subnetworks-insert__1', 'skipped', 'not-cloud-run'],
    ['elastic__GenerateAccessToken__1', 'skipped', 'read-only'],
    ['mybazaar__FunctionService.UpdateFunction__payloadonly__1', 'malformed', 'entry has no timestamp'],
    ['panther__SetIamPolicy__5', 'malformed', 'entry has no timestamp'],
  ])('%s -> %s (%s)', (name, kind, reason) => {
    const result = parseEntry(corpus(name));
    expect(result.kind).toBe(kind);
    expect('reason' in result ? result.reason : undefined).toBe(reason);
  });

  it.each([null, 42, 'text', [], {}, { timestamp: 'yesterday' }, { timestamp: '2024-01-01T00:00:00Z', protoPayload: 'x' }])(
    'odd input %j gives a reason',
    (input) => {
      const result = parseEntry(input);
      expect(['malformed', 'skipped']).toContain(result.kind);
    },
  );

  it.each([
    ['v2 validateOnly', 'v2-UpdateService', (r: Json) => void (r['validateOnly'] = true)],
    ['v2 validate_only (snake case)', 'v2-UpdateService', (r: Json) => void (r['validate_only'] = true)],
    ['v1 dryRun=all', 'v1-ReplaceService-gcloud', (r: Json) => void (r['dryRun'] = 'all')],
  ])('a dry run changes nothing and is skipped: %s', (_name, fixture, mark) => {
    const dryRun = variant(synthetic(fixture), (e) => mark(e.protoPayload['request'] as Json));
    expect(parseEntry(dryRun)).toMatchObject({ kind: 'skipped', reason: 'dry-run' });
    expect(parseEntry(synthetic(fixture)).kind).toBe('change');
  });

  // v1 `dryRun` is a free string query parameter whose only supported value is `all` (Knative's, after Kubernetes'
  // `All`). Cloud Run either refuses another value (a failed call: no change either way) or does not dry-run on it: a
  // write that persisted must not be skipped because its caller wrote `dryRun=false`, or every rule is blind to it.
  it.each([
    ['v1 dryRun=All (Kubernetes spelling)', 'All', 'skipped'],
    ['v1 dryRun=false', 'false', 'change'],
    ['v1 dryRun=none', 'none', 'change'],
    ['v1 dry_run=0 (snake case)', '0', 'change'],
  ])('only dryRun=all is a dry run: %s', (name, value, kind) => {
    const key = name.includes('dry_run') ? 'dry_run' : 'dryRun';
    const entry = variant(synthetic('v1-ReplaceService-gcloud'), (e) => void ((e.protoPayload['request'] as Json)[key] = value));
    expect(parseEntry(entry).kind).toBe(kind);
  });

  // A status whose code cannot be read leaves the outcome unknown: reported, never taken for a success (a failed
  // write with a string code used to raise findings and move the baseline).
  it.each([
    ['a failed v1 deploy, code as a digit string', 'slackbot__Services.ReplaceService__2', '10', { kind: 'skipped', reason: 'failed-call' }],
    ['a failed project IAM change, code as a digit string', 'archicloud__SetIamPolicy__1', '7', { kind: 'skipped', reason: 'failed-call' }],
    ['success, code 0 as a digit string', 'slackbot__Services.ReplaceService__1', '0', { kind: 'change' }],
    ['success, code null', 'slackbot__Services.ReplaceService__1', null, { kind: 'change' }],
    ['a code that is not a number', 'slackbot__Services.ReplaceService__2', 'ABORTED', { kind: 'malformed', reason: 'protoPayload.status.code is not a number' }],
    ['a code that is an object', 'archicloud__SetIamPolicy__1', { value: 7 }, { kind: 'malformed', reason: 'protoPayload.status.code is not a number' }],
  ])('status.code: %s', (_name, fixture, code, expected) => {
    const entry = variant(corpus(fixture), (e) => void (e.protoPayload['status'] = { ...(e.protoPayload['status'] as Json | undefined), code }));
    expect(parseEntry(entry)).toMatchObject(expected);
  });

  // Cloud Audit Logs write a failed admin call at ERROR, with its code; ERROR (or worse) without one is a trimmed entry.
  it.each([
    ['a failed v1 deploy whose status was dropped', 'slackbot__Services.ReplaceService__2', (pp: Json) => void delete pp['status'], 'ERROR'],
    ['a failed v1 create whose code was dropped', 'panther__Services.CreateService__2', (pp: Json) => void delete (pp['status'] as Json)['code'], 'ERROR'],
    ['a project IAM change with a null status', 'archicloud__SetIamPolicy__1', (pp: Json) => void (pp['status'] = null), 'CRITICAL'],
  ])('severity ERROR without a status code: the outcome is unknown (%s)', (_name, fixture, trim, severity) => {
    const trimmed = variant(corpus(fixture), (e) => {
      trim(e['protoPayload'] as Json);
      e['severity'] = severity;
    });
    expect(parseEntry(trimmed)).toEqual({ kind: 'malformed', reason: `severity ${severity} without protoPayload.status.code: the outcome is unknown` });
    // The same entry at NOTICE (how a success is written) is no longer in doubt.
    expect(parseEntry(variant(trimmed, (e) => void (e['severity'] = 'NOTICE'))).kind).not.toBe('malformed');
  });

  it('a denied call at ERROR without a status code is still a denied call (it changed nothing)', () => {
    const denied = variant(corpus('panther__Services.SetIamPolicy__2'), (e) => {
      delete e.protoPayload['status'];
      e['severity'] = 'ERROR';
    });
    expect(parseEntry(denied)).toMatchObject({ kind: 'skipped', reason: 'permission-denied' });
  });

  it('a status that is not an object is malformed; a null one is no status', () => {
    const text = variant(corpus('slackbot__Services.ReplaceService__1'), (e) => void (e.protoPayload['status'] = 'ABORTED'));
    expect(parseEntry(text)).toEqual({ kind: 'malformed', reason: 'protoPayload.status is not an object' });
    const none = variant(corpus('slackbot__Services.ReplaceService__1'), (e) => void (e.protoPayload['status'] = null));
    expect(parseEntry(none).kind).toBe('change');
  });

  it('a Cloud Run Jobs entry is read as the job it names, never as a service (test/unit/jobs.test.ts has the rest)', () => {
    const job = variant(corpus('slackbot__Services.ReplaceService__1'), (e) => {
      e.protoPayload['methodName'] = 'google.cloud.run.v1.Jobs.ReplaceJob';
      e['resource'] = { type: 'cloud_run_job', labels: { job_name: 'nightly', location: 'us-central1', project_id: 'p' } };
      delete e.protoPayload['response'];
    });
    // A service's body under a job's method: the job's own fields are not there, so what it sets is unknown.
    expect(parseEntry(job)).toMatchObject({ kind: 'change', change: { kind: 'deploy', target: { project: 'p', service: 'nightly', resourceType: 'job' }, templateUnknown: true, images: [] } });
    const execution = variant(job, (e) => void (e.protoPayload['methodName'] = 'google.cloud.run.v1.Executions.CancelExecution'));
    expect(parseEntry(execution)).toMatchObject({ kind: 'skipped', reason: 'cloud-run-job' });
  });

  it('the Cloud Functions internal service is read when the config asks for it', () => {
    const result = parseEntry(corpus('mybazaar__InternalServices.ReplaceInternalService__1'), { watchCloudFunctions: true });
    expect(deploy(result)).toMatchObject({ kind: 'deploy', operation: 'replace', images: [] });
    expect(deploy(result).principal?.id).toMatch(/gcf-admin-robot/);
  });
});

describe('v1 Knative deploys', () => {
  it('console CreateService: client-named revision, default compute SA resolved from the project number, no image', () => {
    const d = deploy(parseEntry(corpus('kktae-demo__Services.CreateService__1')));
    expect(d).toMatchObject({
      api: 'v1',
      operation: 'create',
      target: { project: 'kktae-demo', location: 'us-central1', service: 'hello', projectNumber: '264172533638' },
      revision: 'hello-00001-wol',
      serviceAccount: { kind: 'default-compute', email: '264172533638-compute@developer.gserviceaccount.com' },
      images: [],
      ingress: 'internal',
      invokerIamDisabled: false,
    });
    expect(d.client.name).toBe('cloud-console');
    expect(d.principal?.id).toBeTruthy();
  });

  it('Panther-normalized CreateService: image only in the user-image annotation, space-separated timestamp', () => {
    const d = deploy(parseEntry(corpus('panther__Services.CreateService__1')));
    expect(d.serviceAccount).toEqual({ kind: 'explicit', email: 'abc-test@some-project.iam.gserviceaccount.com' });
    expect(d.images.map(repositoryOf)).toEqual(['us-west1-docker.pkg.dev/some-project/abc-test']);
    expect(d.revision).toBe('cloudrun-exfil-00001-zif');
    expect(d.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z$/);
  });

  it('console ReplaceService: the stale latestCreatedRevisionName is not taken as the new revision', () => {
    const d = deploy(parseEntry(corpus('slackbot__Services.ReplaceService__1')));
    expect(d.revision).toBeUndefined();
    expect(d.operationId).toBe('7a9d252c-a432-4fa8-a1ac-1a6fe9e135c0'); // the response's, not the request's
    expect(d.target).toMatchObject({ project: 'test-project-1234', location: 'asia-northeast1', service: 'cloud-run-slack-bot', projectNumber: '123456789012' });
    expect(d.serviceAccount).toEqual({ kind: 'explicit', email: 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com' });
    expect(d.images).toEqual([]);
    expect(d.templateFingerprint).toBeDefined();
  });

  it('gcloud ReplaceService: image, labels and client from the request', () => {
    const d = deploy(parseEntry(synthetic('v1-ReplaceService-gcloud')));
    expect(d.images[0]).toMatchObject({ repository: 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot', tag: '1f2e3d4c5b6a' });
    expect(d.labels['commit-sha']).toBe('1f2e3d4c5b6a7980a1b2c3d4e5f60718293a4b5c');
    expect(d.client).toMatchObject({ name: 'gcloud', version: '546.0.0' });
  });

  it('key order never matters: the template fingerprint is canonical', () => {
    const entry = corpus('slackbot__Services.ReplaceService__1');
    const reversed = JSON.parse(JSON.stringify(entry, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v)));
    expect(deploy(parseEntry(reversed)).templateFingerprint).toBe(deploy(parseEntry(entry)).templateFingerprint);
  });

  it('a template without serviceAccountName runs as the default compute SA ("default compute SA" when the number is unknown)', () => {
    const entry = variant(corpus('slackbot__Services.ReplaceService__1'), (e) => {
      for (const svc of [(e.protoPayload['request'] as { service: Record<string, unknown> }).service, e.protoPayload['response'] as Record<string, unknown>]) {
        const spec = (svc['spec'] as { template: { spec: Record<string, unknown> } }).template.spec;
        delete spec['serviceAccountName'];
        delete (svc['metadata'] as Record<string, unknown>)['namespace'];
      }
    });
    expect(deploy(parseEntry(entry)).serviceAccount).toEqual({ kind: 'default-compute' });
  });

  it('invoker-iam-disabled annotation opens the service', () => {
    const entry = variant(corpus('slackbot__Services.ReplaceService__1'), (e) => {
      const svc = (e.protoPayload['request'] as { service: { metadata: { annotations: Record<string, string> } } }).service;
      svc.metadata.annotations['run.googleapis.com/invoker-iam-disabled'] = 'true';
    });
    expect(deploy(parseEntry(entry)).invokerIamDisabled).toBe(true);
  });

  it('ingress a request left out is read from the response (the service as stored; real entry)', () => {
    expect(deploy(parseEntry(corpus('panther__Services.CreateService__1'))).ingress).toBe('all');
  });

  it.each([
    ['true', true],
    ['True', true],
    ['TRUE', true],
    ['1', true],
    ['false', false],
    ['False', false],
    ['0', false],
    [' true', undefined],
    ['yes', undefined],
  ])('invoker-iam-disabled %j reads as %j (every spelling Go\'s ParseBool takes; anything else is unknown)', (value, expected) => {
    const entry = variant(corpus('slackbot__Services.ReplaceService__1'), (e) => {
      const svc = (e.protoPayload['request'] as { service: { metadata: { annotations: Record<string, string> } } }).service;
      svc.metadata.annotations['run.googleapis.com/invoker-iam-disabled'] = value;
    });
    expect(deploy(parseEntry(entry)).invokerIamDisabled).toBe(expected);
  });

  it('invoker-iam-disabled stored in the response counts even when the request leaves it out', () => {
    const entry = variant(corpus('slackbot__Services.ReplaceService__1'), (e) => {
      const response = e.protoPayload['response'] as { metadata: { annotations: Record<string, string> } };
      response.metadata.annotations['run.googleapis.com/invoker-iam-disabled'] = 'true';
    });
    expect(deploy(parseEntry(entry)).invokerIamDisabled).toBe(true);
    expect(deploy(parseEntry(corpus('slackbot__Services.ReplaceService__1'))).invokerIamDisabled).toBe(false);
  });

  it('DeleteService is a delete of the service', () => {
    expect(change(parseEntry(corpus('archicloud__Services.DeleteService__1')))).toMatchObject({
      kind: 'delete',
      target: { project: 'gpc-tp3', service: 'hello-test' },
    });
  });
});

describe('v2 deploys', () => {
  it('CreateService: service from parent + serviceId, SA, images, labels, ingress, Binary Authorization', () => {
    const d = deploy(parseEntry(synthetic('v2-CreateService')));
    expect(d).toMatchObject({
      api: 'v2',
      operation: 'create',
      target: { project: 'acme-prod', location: 'europe-west1', service: 'storefront' },
      revision: 'storefront-00001-abc',
      serviceAccount: { kind: 'explicit', email: 'storefront@acme-prod.iam.gserviceaccount.com' },
      ingress: 'all',
      binaryAuthorization: { policy: 'default' },
      invokerIamDisabled: false,
    });
    expect(d.images[0]).toMatchObject({ repository: 'europe-west1-docker.pkg.dev/acme-prod/web', digest: `sha256:${'a'.repeat(64)}` });
    expect(d.labels).toMatchObject({ team: 'web', 'commit-sha': '9f8e7d6c5b4a39281706f5e4d3c2b1a098765432' });
    expect(d.client.name).toBe('terraform');
    // The client is recognised past the 160 characters kept of the user agent.
    const longAgent = variant(synthetic('v2-CreateService'), (e) => {
      (e.protoPayload['requestMetadata'] as Record<string, unknown>)['callerSuppliedUserAgent'] = `${'x'.repeat(200)} terraform-provider-google/5.0.0`;
    });
    const late = deploy(parseEntry(longAgent));
    expect([late.client.name, late.client.userAgent?.length]).toEqual(['terraform', 160]);
    expect(d.principal?.delegationChain[0]).toMatch(/^principal:\/\/iam\.googleapis\.com\//);
  });

  it('UpdateService in snake_case reads the same facts', () => {
    const d = deploy(parseEntry(synthetic('v2-UpdateService-snake-case')));
    expect(d.serviceAccount).toEqual({ kind: 'explicit', email: 'storefront@acme-prod.iam.gserviceaccount.com' });
    expect(d.images.map(repositoryOf)).toEqual(['docker.io/attacker']);
    expect(d.binaryAuthorization).toEqual({ policy: 'default' });
    expect(d.invokerIamDisabled).toBe(false);
  });

  it('an update mask without the template says nothing about the revision', () => {
    const d = deploy(parseEntry(synthetic('v2-UpdateService-traffic-only')));
    expect(d.templateFingerprint).toBeUndefined();
    expect(d.serviceAccount).toBeUndefined();
    expect(d.invokerIamDisabled).toBeUndefined();
  });
});

describe('v2 update masks: a field outside the mask is not read, a field inside it but left out is its default', () => {
  // Both bodies set invokerIamDisabled, a template service account, containers and labels: camelCase
  // (invokerIamDisabled: true, storefront-debug@) and snake_case (invoker_iam_disabled: false, storefront@).
  // A FieldMask in JSON is one comma-separated string of camelCase paths; APIs that log their requests in snake_case
  // write `update_mask: {paths: [...]}` (the real Cloud Functions v2 entry mybazaar__...UpdateFunction__payloadonly__1).
  type Mask = { updateMask: unknown } | { update_mask: unknown };
  const debugSa = { kind: 'explicit', email: 'storefront-debug@acme-prod.iam.gserviceaccount.com' };
  const sa = { kind: 'explicit', email: 'storefront@acme-prod.iam.gserviceaccount.com' };
  const attacker = ['docker.io/attacker'];
  it.each<[string, string, Mask, { invoker?: boolean; sa?: unknown; images: string[] }]>([
    ['camelCase body', 'v2-UpdateService', { updateMask: 'template.containers' }, { invoker: undefined, sa: undefined, images: attacker }],
    ['camelCase body', 'v2-UpdateService', { updateMask: { paths: ['template.containers'] } }, { invoker: undefined, sa: undefined, images: attacker }],
    ['camelCase body', 'v2-UpdateService', { update_mask: { paths: ['template.containers'] } }, { invoker: undefined, sa: undefined, images: attacker }],
    ['snake_case body', 'v2-UpdateService-snake-case', { update_mask: { paths: ['template.containers'] } }, { invoker: undefined, sa: undefined, images: attacker }],
    ['snake_case body', 'v2-UpdateService-snake-case', { updateMask: 'template.containers' }, { invoker: undefined, sa: undefined, images: attacker }],
    ['camelCase body', 'v2-UpdateService', { updateMask: 'invokerIamDisabled' }, { invoker: true, sa: undefined, images: [] }],
    ['camelCase body', 'v2-UpdateService', { update_mask: { paths: ['invoker_iam_disabled'] } }, { invoker: true, sa: undefined, images: [] }],
    ['snake_case body', 'v2-UpdateService-snake-case', { update_mask: { paths: ['invoker_iam_disabled'] } }, { invoker: false, sa: undefined, images: [] }],
    ['camelCase body', 'v2-UpdateService', { updateMask: 'template.serviceAccount' }, { invoker: undefined, sa: debugSa, images: [] }],
    ['camelCase body', 'v2-UpdateService', { update_mask: { paths: ['template.service_account'] } }, { invoker: undefined, sa: debugSa, images: [] }],
    ['snake_case body', 'v2-UpdateService-snake-case', { update_mask: { paths: ['template.service_account'] } }, { invoker: undefined, sa, images: [] }],
    ['camelCase body', 'v2-UpdateService', { updateMask: 'template' }, { invoker: undefined, sa: debugSa, images: attacker }],
    ['snake_case body', 'v2-UpdateService-snake-case', { update_mask: { paths: ['template'] } }, { invoker: undefined, sa, images: attacker }],
    ['camelCase body', 'v2-UpdateService', { updateMask: 'template.containers, invokerIamDisabled' }, { invoker: true, sa: undefined, images: attacker }],
    ['camelCase body', 'v2-UpdateService', { updateMask: '*' }, { invoker: true, sa: debugSa, images: attacker }],
  ])('%s (%s), mask %j', (_body, fixture, mask, expected) => {
    const entry = variant(synthetic(fixture), (e) => Object.assign(e.protoPayload['request'] as object, mask));
    const d = deploy(parseEntry(entry));
    expect(d.invokerIamDisabled).toBe(expected.invoker);
    expect(d.serviceAccount).toEqual(expected.sa);
    expect(d.images.map(repositoryOf)).toEqual(expected.images);
  });

  // The JSON of a protocol buffer leaves out `false` and empty strings: a field the mask names but the body lacks
  // was set to its default (the real Cloud Functions entry names service_config.service_account_email in its mask
  // without a value, and its completion shows the default compute SA).
  it.each([
    ['invokerIamDisabled', { updateMask: 'invokerIamDisabled' }, 'invokerIamDisabled', false],
    ['invoker_iam_disabled', { update_mask: { paths: ['invoker_iam_disabled'] } }, 'invokerIamDisabled', false],
    ['template.serviceAccount', { updateMask: 'template.serviceAccount' }, 'serviceAccount', { kind: 'default-compute' }],
    ['template.service_account', { update_mask: { paths: ['template.service_account'] } }, 'serviceAccount', { kind: 'default-compute' }],
  ])('mask %s with the field left out of the body', (_path, mask, fact, expected) => {
    const entry = variant(synthetic('v2-UpdateService'), (e) => {
      const request = e.protoPayload['request'] as { service: Record<string, unknown> & { template: Record<string, unknown> } };
      delete request.service['invokerIamDisabled'];
      delete request.service.template['serviceAccount'];
      Object.assign(request, mask);
    });
    expect(deploy(parseEntry(entry))[fact as 'invokerIamDisabled' | 'serviceAccount']).toEqual(expected);
  });

  it('labels, revision name and template fingerprint are read only where the mask reaches', () => {
    const masked = (edit: (service: Record<string, unknown> & { template: Record<string, unknown> }) => void, mask: unknown): DeployChange =>
      deploy(
        parseEntry(
          variant(synthetic('v2-UpdateService'), (e) => {
            const request = e.protoPayload['request'] as { service: Record<string, unknown> & { template: Record<string, unknown> } };
            request.service.template['revision'] = 'storefront-00002-new';
            edit(request.service);
            (request as Record<string, unknown>)['updateMask'] = mask;
          }),
        ),
      );
    const containersOnly = masked(() => undefined, 'template.containers');
    expect([containersOnly.labels, containersOnly.revision]).toEqual([{}, undefined]);
    // The fingerprint is the whole template as logged (the baseline compares it with full writes' fingerprints).
    const otherImage = masked((service) => (service.template['containers'] = [{ image: 'docker.io/attacker/storefront:v2' }]), 'template.containers');
    expect(otherImage.templateFingerprint).not.toBe(containersOnly.templateFingerprint);
    const labelsAndRevision = masked(() => undefined, { paths: ['labels', 'template.labels', 'template.revision'] });
    expect(labelsAndRevision.labels).toEqual({ team: 'web', 'commit-sha': '9f8e7d6c5b4a39281706f5e4d3c2b1a098765432', 'gcb-build-id': 'b-1234' });
    expect(labelsAndRevision.revision).toBe('storefront-00002-new');
    // Without a mask the whole body is the write, as before.
    expect(deploy(parseEntry(synthetic('v2-UpdateService')))).toMatchObject({ invokerIamDisabled: true, serviceAccount: debugSa, labels: { team: 'web' } });
  });
});

describe('v2 writes logged as a long-running operation (LogEntry `operation`)', () => {
  const [first, , last] = JSON.parse(readFileSync(new URL('../../fixtures/synthetic-seq-v2-operation.json', import.meta.url), 'utf8')) as Json[];
  const operationId = 'projects/acme-prod/locations/europe-west1/operations/0f2c0d8e-1111-4222-8333-944455556666';

  it('the first entry is the write, with the operation id', () => {
    const d = deploy(parseEntry(first));
    expect(d).toMatchObject({ api: 'v2', operation: 'create', operationId, revision: 'storefront-00001-abc', serviceAccount: { kind: 'explicit' }, invokerIamDisabled: false });
    expect(d.operationCompletion).toBeUndefined();
    expect(d.templateFingerprint).toBeDefined();
  });

  // Whatever the completion logs as response (the service, the finished operation) or even a request, none of it is
  // read: the write's facts are the first entry's.
  it.each([
    ['the v2 Service as response', (e: Json & { protoPayload: Json }) => e],
    ['the finished Operation as response', (e: Json & { protoPayload: Json }) => {
      e.protoPayload['response'] = { '@type': 'type.googleapis.com/google.longrunning.Operation', name: operationId, done: true, response: e.protoPayload['response'] };
    }],
    ['the request repeated (as Compute logs its last entries)', (e: Json & { protoPayload: Json }) => {
      e.protoPayload['request'] = (first!['protoPayload'] as Json)['request'];
    }],
  ])('the completion entry with %s: who, when and which operation, no facts', (_name, edit) => {
    const d = deploy(parseEntry(variant(last!, (e) => void edit(e))));
    expect(d).toMatchObject({ api: 'v2', operation: 'create', operationId, operationCompletion: true, images: [], labels: {} });
    expect(d.principal?.id).toBe('deployer@acme-ci.iam.gserviceaccount.com');
    expect([d.templateFingerprint, d.revision, d.serviceAccount, d.invokerIamDisabled, d.ingress, d.binaryAuthorization]).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
  });

  // The `operation` objects of real entries (Compute first, Cloud Build last only, IAM credentials first and last)
  // on a v2 write: only a last entry that is not also the first is a completion.
  it.each([
    ['gcp-ps__v1-compute-subnetworks-insert__1', undefined],
    ['aegisai__CloudBuild.CreateBuild__1', true],
    ['elastic__GenerateAccessToken__1', undefined],
  ])('operation of %s -> completion %s', (name, completion) => {
    const operation = corpus(name)['operation'] as Json;
    const d = deploy(parseEntry(variant(first!, (e) => void (e['operation'] = operation))));
    expect(d.operationCompletion).toBe(completion);
    expect(d.operationId).toBe(operation['id']);
  });

  it('v1 is unchanged: its operation id stays the response annotation, an `operation` field is not read', () => {
    const entry = variant(corpus('slackbot__Services.ReplaceService__1'), (e) => void (e['operation'] = { id: 'operations/elsewhere', last: true }));
    const d = deploy(parseEntry(entry));
    expect(d.operationId).toBe('7a9d252c-a432-4fa8-a1ac-1a6fe9e135c0');
    expect(d.operationCompletion).toBeUndefined();
    expect(d.templateFingerprint).toBe(deploy(parseEntry(corpus('slackbot__Services.ReplaceService__1'))).templateFingerprint);
  });

  it('a v2 write without `operation` has no operation id (the response Operation name is not taken for it)', () => {
    expect(deploy(parseEntry(synthetic('v2-CreateService'))).operationId).toBeUndefined();
  });
});

describe('IAM policy changes', () => {
  it('v1 Services.SetIamPolicy: service from resourceName (resource.labels.service_name is empty), full policy', () => {
    const c = iam(parseEntry(corpus('panther__Services.SetIamPolicy__1')));
    expect(c).toMatchObject({ scope: 'service', target: { project: 'some-project', location: 'us-west1', service: 'cloudrun-exfil' } });
    expect(c.policy).toEqual([{ role: 'roles/run.invoker', member: 'user:some.user@company.com' }]);
    expect(c.delta).toBeUndefined();
  });

  // IAM lets a member hold one role with a condition and without: a full policy's binding with a `condition` is the
  // conditional copy (external-member-grant keeps the copies apart), as a delta's binding with one.
  it.each([
    ['a binding with a condition', { title: 'Acces temporaire Cloud Run', expression: 'request.time < timestamp("2025-11-09T21:08:00Z")' }, [{ role: 'roles/run.admin', member: 'user:x@gmail.com', conditional: true }]],
    ['a binding whose condition is null', null, [{ role: 'roles/run.admin', member: 'user:x@gmail.com' }]],
    ['a binding without one', undefined, [{ role: 'roles/run.admin', member: 'user:x@gmail.com' }]],
  ])('v1 Services.SetIamPolicy full policy, %s', (_name, condition, expected) => {
    const entry = variant(corpus('panther__Services.SetIamPolicy__1'), (e) => {
      const bindings = [{ role: 'roles/run.admin', members: ['user:x@gmail.com'], ...(condition !== undefined ? { condition } : {}) }];
      (e.protoPayload['request'] as { policy: Record<string, unknown> }).policy['bindings'] = bindings;
      (e.protoPayload['response'] as Record<string, unknown>)['bindings'] = bindings;
    });
    expect(iam(parseEntry(entry)).policy).toEqual(expected);
  });

  it('v2 Services.SetIamPolicy is read the same way', () => {
    const c = iam(parseEntry(synthetic('v2-SetIamPolicy-allUsers')));
    expect(c.scope).toBe('service');
    expect(c.policy).toContainEqual({ role: 'roles/run.invoker', member: 'allUsers' });
  });

  // The JSON of a protocol buffer leaves empty lists out: removing the last binding logs a policy without `bindings`.
  it.each([
    ['a Policy response without bindings', { '@type': 'type.googleapis.com/google.iam.v1.Policy', etag: 'BwYQYvUoBxs=' }, { etag: 'BwYQYvUoBxs=' }, []],
    ['a response with only its etag', { etag: 'BwYQYvUoBxs=' }, undefined, []],
    ['no response, a request policy without bindings', undefined, { etag: 'BwYQYvUoBxs=' }, []],
    ['neither response nor request policy: unknown', undefined, undefined, undefined],
    ['a response that is not a policy, no request policy: unknown', { '@type': 'type.googleapis.com/google.protobuf.Empty' }, undefined, undefined],
  ])('Services.SetIamPolicy, %s', (_name, response, requestPolicy, expected) => {
    const entry = variant(synthetic('run-SetIamPolicy-private'), (e) => {
      const request = e.protoPayload['request'] as Record<string, unknown>;
      if (requestPolicy === undefined) delete request['policy'];
      else request['policy'] = requestPolicy;
      if (response === undefined) delete e.protoPayload['response'];
      else e.protoPayload['response'] = response;
    });
    expect(iam(parseEntry(entry)).policy).toEqual(expected);
  });

  it('project SetIamPolicy: bindingDeltas when present', () => {
    const c = iam(parseEntry(corpus('archicloud__SetIamPolicy__1')));
    expect(c.scope).toBe('project');
    // Its binding carries a condition (an expiry): marked, as external-member-grant reads it.
    expect(c.delta?.added).toEqual([{ role: 'roles/run.admin', member: 'user:collaborateur0013@gmail.com', conditional: true }]);
  });

  // The corpus's other project and organization policies: who and what each added, none of it a public invoker.
  it.each([
    ['panther__SetIamPolicy__1', 'project', 'western-verve-123456', 'test@runpanther.com', { role: 'roles/viewer', member: 'user:username@gmail.com' }],
    ['panther__SetIamPolicy__2', 'project', 'western-verve-123456', 'test@runpanther.com', { role: 'roles/viewer', member: 'user:username@runpanther.com' }],
    ['panther__SetIamPolicy__3', 'project', 'western-verve-123456', 'service-agent-manager@system.gserviceaccount.com', { role: 'roles/logging.serviceAgent', member: 'serviceAccount:service-951849100836@gcp-sa-logging.iam.gserviceaccount.com' }],
    ['panther__SetIamPolicy__4', 'organization', 'organizations/888888888888', 'terraform@platform.iam.gserviceaccount.com', { role: 'roles/owner', member: 'user:backdoor@example.com' }],
    ['gcp-csa__SetIamPolicy__1', 'project', '1234', 'test-user@example.com', { role: 'roles/resourcemanager.organizationAdmin', member: 'user:test-user@example.com' }],
  ])('%s: a %s policy, its delta read', (name, scope, project, principal, added) => {
    const c = iam(parseEntry(corpus(name)));
    expect(c).toMatchObject({ scope, target: { project, service: '*' }, principal: { id: principal } });
    expect(c.delta).toEqual({ added: [added], removed: [] });
  });

  it('project SetIamPolicy with a delegation chain (Workload Identity Federation)', () => {
    const c = iam(parseEntry(corpus('elastic__SetIamPolicy__1')));
    expect(c.principal?.delegationChain.length).toBeGreaterThan(0);
  });
});

describe('system events are observations of a rollout, never changes', () => {
  it.each([
    ['aegisai__sysevent-Services.ReplaceService__1', { level: 'revision', revision: 'aegis-ai-00003-sp7', ready: false }],
    ['sysevent-arri__nomethod__1', { level: 'service', revision: 'hello2-00004-yiz', ready: true }],
    ['dynatrace__nomethod__1', { level: 'service', revision: 'user-test-00001-box', ready: true }],
    ['sysevent-dnsfn__nomethod__2', { level: 'service', deleting: true }],
    // Logged without resource labels or response: the service from the revision name, ERROR severity = failed.
    ['aegisai__sysevent-Services.ReplaceService__2', { level: 'revision', revision: 'aegis-ai-00002-659', target: { project: 'computeengine-506321', service: 'aegis-ai' }, ready: false }],
    ['sysevent-dnsfn__nomethod__1', { level: 'service', revision: 'hello-00004-vij', ready: true, deleting: false, creator: 'email@example.com' }],
    // Logged with its response trimmed to a few metadata fields (no status.conditions): its status message is the
    // Ready condition Cloud Run wrote, "Ready condition status changed to True for Service run-cloud.".
    [
      'archicloud__sysevent-Services.CreateService__1',
      { level: 'service', target: { project: 'gpc-tp3', service: 'run-cloud', location: 'europe-west1', projectNumber: '402564488059' }, creator: 'mederic.marquie@ynov.com', deleting: false, ready: true },
    ],
  ])('%s', (name, expected) => {
    const result = parseEntry(corpus(name));
    expect(result.kind).toBe('observation');
    if (result.kind === 'observation') expect(result.observation).toMatchObject(expected);
  });

  it('a revision event carries the image digest and the runtime SA', () => {
    const result = parseEntry(corpus('aegisai__sysevent-Services.ReplaceService__1'));
    if (result.kind !== 'observation') throw new Error('expected an observation');
    expect(result.observation.imageDigest).toMatch(/@sha256:9379ab64/);
    expect(result.observation.serviceAccount).toEqual({ kind: 'default-compute', email: '607603788049-compute@developer.gserviceaccount.com' });
    expect(result.observation.operationId).toBe('2798553d-def2-47fa-964b-5d12bba8a310');
  });

  it("a multi-container revision without status.imageDigest: the serving container's status gives the digest", () => {
    const sidecarDigest = `gcr.io/p/collector@sha256:${'a'.repeat(64)}`;
    const entry = variant(corpus('aegisai__sysevent-Services.ReplaceService__1'), (e) => {
      const response = e.protoPayload['response'] as Json;
      const spec = response['spec'] as Json;
      const [serving] = spec['containers'] as Json[];
      spec['containers'] = [{ name: 'collector', image: 'gcr.io/p/collector:1' }, { ...serving, ports: [{ containerPort: 8080, name: 'http1' }] }];
      const status = response['status'] as Json;
      delete status['imageDigest'];
      status['containerStatuses'] = [{ name: 'collector', imageDigest: sidecarDigest }, ...(status['containerStatuses'] as Json[])];
    });
    const result = parseEntry(entry);
    if (result.kind !== 'observation') throw new Error('expected an observation');
    expect(result.observation.imageDigest).toMatch(/aegis-ai@sha256:9379ab64/);
  });
});

describe('the generation a v1 write produced (ties it to its revision events)', () => {
  it.each([
    // The response's metadata.generation is the new one (its status still names the previous revision, 00022).
    ['slackbot__Services.ReplaceService__1', 23],
    ['kktae-demo__Services.CreateService__1', 1],
  ])('%s', (name, generation) => {
    const parsed = parseEntry(corpus(name));
    expect(parsed).toMatchObject({ kind: 'change', change: { kind: 'deploy', api: 'v1', generation } });
  });

  it('none without a response (the request echoes the old generation)', () => {
    const parsed = parseEntry(variant(corpus('slackbot__Services.ReplaceService__1'), (e) => void delete e.protoPayload['response']));
    expect(parsed.kind === 'change' && parsed.change.kind === 'deploy' ? parsed.change.generation : 'not a deploy').toBeUndefined();
  });
});
