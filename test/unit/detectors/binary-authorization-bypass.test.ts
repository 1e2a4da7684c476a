import { describe, expect, it } from 'vitest';
import { at, corpus, editV1Services, synthetic, variant, withOperationId, withV1Image, type Json } from '../../support/entries.js';
import { config, findingsOf } from '../../support/run.js';

const BREAKGLASS = 'run.googleapis.com/binary-authorization-breakglass';
const POLICY = 'run.googleapis.com/binary-authorization';
const JUSTIFICATION = 'INC-4711: checkout down, hotfix before attestation';

const gcloud = synthetic('v1-ReplaceService-gcloud');
const HOME = 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot/cloud-run-slack-bot:1f2e3d4c5b6a';

/** A gcloud deploy (its own revision) at `timestamp`, with the service annotations given (undefined: removed). */
function deploy(timestamp: string, annotations: Record<string, string | undefined>, image = `${HOME}-${timestamp.replace(/\D/g, '')}`): Json {
  const entry = withOperationId(withV1Image(gcloud, image), `op-${timestamp}`);
  return at(
    editV1Services(entry, (svc) => {
      const meta = svc['metadata'] as { annotations?: Record<string, string> };
      const edited: Record<string, string> = { ...meta.annotations };
      for (const [key, value] of Object.entries(annotations)) {
        if (value === undefined) delete edited[key];
        else edited[key] = value;
      }
      meta.annotations = edited;
    }),
    timestamp,
  );
}

/** A v2 UpdateService with `binaryAuthorization` as given, and optionally an update mask. */
function v2Update(binaryAuthorization: Json | undefined, paths?: string[]): Json {
  return variant(synthetic('v2-UpdateService'), (e) => {
    const request = e.protoPayload['request'] as { service: Json; updateMask?: Json };
    if (binaryAuthorization === undefined) delete request.service['binaryAuthorization'];
    else request.service['binaryAuthorization'] = binaryAuthorization;
    if (paths) request.updateMask = { paths };
  });
}

async function bypasses(entries: readonly unknown[], cfg = config()) {
  return (await findingsOf(entries, cfg)).filter((f) => f.rule === 'binary-authorization-bypass');
}

describe('binary-authorization-bypass', () => {
  it('fires: a v1 deploy with a breakglass justification, the justification and policy in the evidence', async () => {
    const findings = await bypasses([deploy('2024-05-01T10:00:00Z', { [POLICY]: 'default' }), deploy('2024-05-02T10:00:00Z', { [POLICY]: 'default', [BREAKGLASS]: JUSTIFICATION })]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      severity: 'HIGH',
      title: 'Deploy that bypasses Binary Authorization (breakglass)',
      eventTime: '2024-05-02T10:00:00Z',
      evidence: { justification: JUSTIFICATION, policy: 'default', operation: 'replace' },
    });
  });

  it('fires: every revision deployed while the breakglass annotation stays on the service, once each', async () => {
    const annotations = { [POLICY]: 'default', [BREAKGLASS]: JUSTIFICATION };
    const first = deploy('2024-05-02T10:00:00Z', annotations);
    const findings = await bypasses([first, deploy('2024-05-03T10:00:00Z', annotations), first]);
    expect(findings.map((f) => f.eventTime)).toEqual(['2024-05-02T10:00:00Z', '2024-05-03T10:00:00Z']);
    expect(new Set(findings.map((f) => f.id)).size).toBe(2);
  });

  it('fires: breakglass without any policy (the evidence says so)', async () => {
    const [finding] = await bypasses([deploy('2024-05-02T10:00:00Z', { [POLICY]: undefined, [BREAKGLASS]: JUSTIFICATION })]);
    expect(finding?.evidence).toMatchObject({ justification: JUSTIFICATION, policy: null });
    expect(finding?.summary).toContain('not checked against any policy');
  });

  it('fires: a v2 update with binaryAuthorization.breakglassJustification', async () => {
    const findings = await bypasses([synthetic('v2-CreateService'), v2Update({ useDefault: true, breakglassJustification: JUSTIFICATION })]);
    expect(findings).toHaveLength(1);
    expect(findings[0]?.evidence).toMatchObject({ justification: JUSTIFICATION, policy: 'default', operation: 'update' });
  });

  it.each([
    ['a v1 deploy with a policy and no breakglass', [deploy('2024-05-02T10:00:00Z', { [POLICY]: 'default' })]],
    ['a v1 deploy without Binary Authorization at all', [deploy('2024-05-02T10:00:00Z', { [POLICY]: undefined })]],
    ['a v2 update with a policy and no breakglass', [synthetic('v2-CreateService'), v2Update({ useDefault: true })]],
    // The mask leaves binary_authorization alone: the body's value is not what the service got.
    ['a v2 update whose mask leaves binary_authorization alone', [synthetic('v2-CreateService'), v2Update({ breakglassJustification: JUSTIFICATION }, ['template.containers'])]],
    ['a console deploy that logs no annotations', [at(corpus('slackbot__Services.ReplaceService__1'), '2024-05-02T10:00:00Z')]],
  ])('ignores: %s', async (_name, entries) => {
    expect(await bypasses(entries)).toEqual([]);
  });

  it('ignores: a write with breakglass that creates no revision (same template: annotations of the service only)', async () => {
    const image = `${HOME}-same`;
    const findings = await bypasses([
      deploy('2024-05-01T10:00:00Z', { [POLICY]: 'default' }, image),
      deploy('2024-05-02T10:00:00Z', { [POLICY]: 'default', [BREAKGLASS]: JUSTIFICATION }, image),
    ]);
    expect(findings).toEqual([]);
  });

  it('ignores: a failed call', async () => {
    const failed = variant(deploy('2024-05-02T10:00:00Z', { [BREAKGLASS]: JUSTIFICATION }), (e) => {
      e.protoPayload['status'] = { code: 7, message: 'PERMISSION_DENIED' };
    });
    expect(await bypasses([failed])).toEqual([]);
  });

  it('ignores: an exempted principal (a break-glass account), and the rule turned off', async () => {
    const entries = [deploy('2024-05-02T10:00:00Z', { [BREAKGLASS]: JUSTIFICATION })];
    const principal = String(((entries[0] as { protoPayload: { authenticationInfo: { principalEmail: string } } }).protoPayload.authenticationInfo.principalEmail));
    expect(await bypasses(entries, config({ rules: { 'binary-authorization-bypass': { exceptions: [{ principal }] } } }))).toEqual([]);
    expect(await bypasses(entries, config({ rules: { 'binary-authorization-bypass': { enabled: false } } }))).toEqual([]);
  });
});
