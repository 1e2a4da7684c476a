// A project's default compute service account is `NUMBER-compute@developer.gserviceaccount.com`. Where an entry does
// not reveal the project number, a revision left without an identity runs as "the default compute SA" (number
// unknown), which matches any spelled-out default. Once the number is known, though, another project's default
// compute SA is a different identity: using it needs cross-project service account use, and it is Editor there.
import { describe, expect, it } from 'vitest';
import { at, corpus, synthetic, variant, withOperationId, withV1Image, withV1ServiceAccount } from '../../support/entries.js';
import { config, findingsOf } from '../../support/run.js';

const replace = corpus('slackbot__Services.ReplaceService__1'); // project number 123456789012 in metadata.namespace
const OWN_DEFAULT = '123456789012-compute@developer.gserviceaccount.com';
const FOREIGN_DEFAULT = '999999999999-compute@developer.gserviceaccount.com';

function deploy(timestamp: string, email: string | undefined, knownNumber = true) {
  const entry = at(withOperationId(withV1Image(withV1ServiceAccount(replace, email), 'gcr.io/test-project-1234/bot:1', timestamp), `op-${timestamp}`), timestamp);
  return knownNumber ? entry : (JSON.parse(JSON.stringify(entry).replaceAll('"namespace":"123456789012",', '')) as unknown);
}

async function saFindings(entries: readonly unknown[]) {
  return (await findingsOf(entries, config())).filter((f) => f.rule === 'service-account-change');
}

const SEQ = synthetic('seq-v2-operation') as unknown as unknown[]; // v2 create, its revision event (number 210987654321), completion
const UPDATE_OPERATION = '5d1e2f3a-0000-4000-8000-00000000abcd';
/** The v2 service of the sequence updated at `timestamp` to run as `email`. */
function v2UpdateTo(timestamp: string, email: string) {
  return at(
    variant(synthetic('v2-UpdateService'), (e) => {
      const service = (e.protoPayload['request'] as { service: { template: Record<string, unknown> } }).service;
      service.template['serviceAccount'] = email;
      service.template['containers'] = [{ image: 'europe-west1-docker.pkg.dev/acme-prod/web/storefront:2' }];
      (e.protoPayload['response'] as { name: string }).name = `projects/acme-prod/locations/europe-west1/operations/${UPDATE_OPERATION}`;
    }),
    timestamp,
  );
}

/** The sequence's v2 create with no identity in its template, and without its revision event: number unknown. */
function createdWithoutIdentity() {
  return variant(SEQ[0] as Record<string, unknown>, (e) => {
    delete (e.protoPayload['request'] as { service: { template: Record<string, unknown> } }).service.template['serviceAccount'];
  });
}

/** The revision event of v2UpdateTo's revision (ready), as Cloud Run logs it: with the project number. */
function revisionEventOf(timestamp: string, email: string) {
  return at(
    variant(SEQ[1] as Record<string, unknown>, (e) => {
      const response = e.protoPayload['response'] as { metadata: { name: string; annotations: Record<string, string> }; spec: Record<string, unknown> };
      response.metadata.name = 'storefront-00002-xyz';
      response.metadata.annotations['run.googleapis.com/operation-id'] = UPDATE_OPERATION;
      response.spec['serviceAccountName'] = email;
      response.spec['containers'] = [{ image: 'europe-west1-docker.pkg.dev/acme-prod/web/storefront:2' }];
      e.protoPayload['resourceName'] = 'namespaces/acme-prod/revisions/storefront-00002-xyz';
      (e['resource'] as { labels: Record<string, string> }).labels['revision_name'] = 'storefront-00002-xyz';
    }),
    timestamp,
  );
}

describe('service-account-change: default compute service accounts of other projects', () => {
  it.each([
    ['implicit (number unknown) then another project\'s default, number known on the deploy', () => [deploy('2024-05-01T10:00:00Z', undefined, false), deploy('2024-05-02T10:00:00Z', FOREIGN_DEFAULT)]],
    ['v2: created without an identity, no revision event, then another project\'s default: its revision event tells the number', () => [
      createdWithoutIdentity(),
      v2UpdateTo('2024-06-02T10:00:00Z', FOREIGN_DEFAULT),
      revisionEventOf('2024-06-02T10:00:20Z', FOREIGN_DEFAULT),
    ]],
  ])('fires: %s', async (_name, entries) => {
    const findings = await saFindings(entries());
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.every((f) => f.severity === 'HIGH')).toBe(true);
  });

  it('says the identity is another project\'s default compute SA, not the project\'s own', async () => {
    const findings = await saFindings([deploy('2024-05-01T10:00:00Z', 'bot@test-project-1234.iam.gserviceaccount.com'), deploy('2024-05-02T10:00:00Z', FOREIGN_DEFAULT)]);
    expect(findings.map((f) => f.title)).toEqual(["Service now runs as another project's default compute service account"]);
    expect(findings[0]!.summary).toContain(`to ${FOREIGN_DEFAULT} (another project's default compute SA, Editor on project 999999999999 by default).`);
    const own = await saFindings([deploy('2024-05-01T10:00:00Z', 'bot@test-project-1234.iam.gserviceaccount.com'), deploy('2024-05-02T10:00:00Z', OWN_DEFAULT)]);
    expect(own.map((f) => f.title)).toEqual(['Service now runs as the default compute service account']);
    expect(own[0]!.summary).toContain('(the default compute SA, Editor on the project by default)');
  });

  it.each([
    ['implicit (number unknown) then its own default spelled out', () => [deploy('2024-05-01T10:00:00Z', undefined, false), deploy('2024-05-02T10:00:00Z', OWN_DEFAULT)]],
    ['its own default spelled out then implicit (number unknown)', () => [deploy('2024-05-01T10:00:00Z', OWN_DEFAULT), deploy('2024-05-02T10:00:00Z', undefined, false)]],
    ['implicit then a default whose project is never known', () => [deploy('2024-05-01T10:00:00Z', undefined, false), deploy('2024-05-02T10:00:00Z', FOREIGN_DEFAULT, false)]],
  ])('ignores: %s', async (_name, entries) => {
    expect(await saFindings(entries())).toEqual([]);
  });
});
