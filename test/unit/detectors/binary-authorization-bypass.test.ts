import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { at, corpus, deleteServiceAt, editV1Services, SLACK_BOT, synthetic, variant, withOperationId, withV1Image, type Json } from '../../support/entries.js';
import { runwatch } from '../../support/cli.js';
import type { Finding } from '../../../functions/findings/finding.js';
import { config, findingsLive, findingsOf } from '../../support/run.js';

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

  describe('breakglass left in force by a v2 update that does not touch it', () => {
    const withBreakglass = v2Update({ useDefault: true, breakglassJustification: JUSTIFICATION });
    const imageOnly = (timestamp: string, image: string) =>
      at(
        variant(v2Update(undefined, ['template.containers']), (e) => {
          const template = (e.protoPayload['request'] as { service: { template: { containers: { image: string }[] } } }).service.template;
          template.containers = [{ image }];
        }),
        timestamp,
      );

    it('fires: a new revision from an image-only update while breakglass stays set, saying where the justification comes from', async () => {
      const findings = await bypasses([synthetic('v2-CreateService'), withBreakglass, imageOnly('2024-06-02T10:00:00Z', 'docker.io/attacker/storefront:2')]);
      expect(findings.map((f) => f.eventTime)).toEqual(['2024-06-01T11:00:00Z', '2024-06-02T10:00:00Z']);
      expect(findings[1]?.evidence).toMatchObject({ justification: JUSTIFICATION, policy: 'unknown', justificationFrom: 'an earlier write (still in force)' });
    });

    // A v2 create logs a second entry when its operation completes (operation.last), with none of the write's
    // facts; it usually arrives after the rollout was judged (the revision's events came first). It is the same create:
    // it must not record "no justification" over the one the create set.
    it("fires: an image-only update after a v2 create with breakglass, the create's operation-completion entry between them", async () => {
      const [create, createdRevision, completion] = synthetic('seq-v2-operation') as unknown as [Json, Json, Json];
      const createWithBreakglass = variant(create, (e) => {
        (e.protoPayload['request'] as { service: Json }).service['binaryAuthorization'] = { useDefault: true, breakglassJustification: JUSTIFICATION };
      });
      const findings = await bypasses([createWithBreakglass, createdRevision, completion, imageOnly('2024-06-02T10:00:00Z', 'docker.io/attacker/storefront:2')]);
      expect(findings.map((f) => f.eventTime)).toEqual(['2024-06-01T10:00:00.123456Z', '2024-06-02T10:00:00Z']);
      expect(findings[1]?.evidence).toMatchObject({ justification: JUSTIFICATION, justificationFrom: 'an earlier write (still in force)' });
    });

    it('ignores: a write that logs no settings at all (unknown: breakglass is not assumed to stay)', async () => {
      const stripped = variant(deploy('2024-05-02T10:00:00Z', {}), (e) => {
        const request = e.protoPayload['request'] as { service: { metadata: Record<string, unknown> } };
        delete request.service.metadata['annotations'];
        delete (e.protoPayload['response'] as { metadata: Record<string, unknown> }).metadata['annotations'];
      });
      const findings = await bypasses([deploy('2024-05-01T10:00:00Z', { [BREAKGLASS]: JUSTIFICATION }), stripped]);
      expect(findings.map((f) => f.eventTime)).toEqual(['2024-05-01T10:00:00Z']);
    });

    it('ignores: an image-only update after breakglass was cleared', async () => {
      const cleared = at(v2Update({ useDefault: true }), '2024-06-01T12:00:00Z');
      const findings = await bypasses([synthetic('v2-CreateService'), withBreakglass, cleared, imageOnly('2024-06-02T10:00:00Z', 'docker.io/attacker/storefront:2')]);
      expect(findings.map((f) => f.eventTime)).toEqual(['2024-06-01T11:00:00Z']);
    });
  });

  describe('turned off', () => {
    const turnedOff = async (entries: readonly unknown[]) => (await bypasses(entries)).filter((f) => f.title === 'Binary Authorization turned off');
    const deleteService = deleteServiceAt('2024-05-01T12:00:00Z', SLACK_BOT, 'delete-1');

    it.each([
      ['fires: v1, the policy annotation removed with a new revision', [deploy('2024-05-01T10:00:00Z', { [POLICY]: 'default' }), deploy('2024-05-02T10:00:00Z', { [POLICY]: undefined })], 'default'],
      ['fires: v1, a named policy removed without a new revision (the same template)', [deploy('2024-05-01T10:00:00Z', { [POLICY]: 'projects/p/platforms/cloudRun/policies/strict' }, `${HOME}-same`), deploy('2024-05-02T10:00:00Z', { [POLICY]: undefined }, `${HOME}-same`)], 'projects/p/platforms/cloudRun/policies/strict'],
      ['fires: v2, binaryAuthorization emptied by a full write', [synthetic('v2-CreateService'), v2Update(undefined)], 'default'],
      ['fires: v2, a mask naming binary_authorization with the message left out', [synthetic('v2-CreateService'), v2Update(undefined, ['binary_authorization'])], 'default'],
    ])('%s', async (_name, entries, before) => {
      const findings = await turnedOff(entries);
      expect(findings).toHaveLength(1);
      expect(findings[0]).toMatchObject({ severity: 'HIGH', evidence: { policyBefore: before, policy: null } });
    });

    it.each([
      ['the first known write without a policy', [deploy('2024-05-02T10:00:00Z', { [POLICY]: undefined })]],
      ['a policy changed to another policy', [deploy('2024-05-01T10:00:00Z', { [POLICY]: 'default' }), deploy('2024-05-02T10:00:00Z', { [POLICY]: 'projects/p/platforms/cloudRun/policies/strict' })]],
      ['off, then off again', [deploy('2024-05-01T10:00:00Z', { [POLICY]: undefined }), deploy('2024-05-02T10:00:00Z', { [POLICY]: undefined })]],
      ['a v2 mask that leaves binary_authorization alone', [synthetic('v2-CreateService'), v2Update(undefined, ['template.containers'])]],
      ['a v2 mask naming only the breakglass field (the policy stays as it was)', [synthetic('v2-CreateService'), v2Update({ breakglassJustification: JUSTIFICATION }, ['binary_authorization.breakglass_justification'])]],
    ])('ignores: %s', async (_name, entries) => {
      expect(await turnedOff(entries)).toEqual([]);
    });

    it('a v2 mask naming only the breakglass field still reports the breakglass deploy, against the policy in force', async () => {
      const findings = await bypasses([synthetic('v2-CreateService'), v2Update({ breakglassJustification: JUSTIFICATION }, ['binary_authorization.breakglass_justification', 'template.containers'])]);
      expect(findings.map((f) => f.title)).toEqual(['Deploy that bypasses Binary Authorization (breakglass)']);
      expect(findings[0]?.evidence).toMatchObject({ justification: JUSTIFICATION, policy: 'unknown' });
      expect(findings[0]?.summary).toContain('the policy in force');
    });

    it('the policy is kept in --state between replays', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'runwatch-binauthz-'));
      try {
        const state = join(dir, 'state.json');
        writeFileSync(join(dir, 'a.ndjson'), `${JSON.stringify(deploy('2024-05-01T10:00:00Z', { [POLICY]: 'default' }))}\n`);
        // The second deploy comes a day later: the first one's wait for its system events has run out by then.
        const removal = [deploy('2024-05-02T10:00:00Z', { [POLICY]: undefined }), deploy('2024-05-03T10:00:00Z', { [POLICY]: undefined })];
        writeFileSync(join(dir, 'b.ndjson'), removal.map((e) => `${JSON.stringify(e)}\n`).join(''));
        expect((await runwatch(['replay', '--quiet', '--format', 'ndjson', '--state', state, join(dir, 'a.ndjson')])).code).toBe(0);
        const second = await runwatch(['replay', '--quiet', '--format', 'ndjson', '--state', state, join(dir, 'b.ndjson')]);
        expect(second.code).toBe(0);
        const titles = second.stdout.trim().split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { title: string }).title);
        expect(titles).toContain('Binary Authorization turned off');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a state file written before the Binary Authorization histories were kept still loads', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'runwatch-binauthz-old-'));
      try {
        const state = join(dir, 'state.json');
        writeFileSync(join(dir, 'a.ndjson'), `${JSON.stringify(deploy('2024-05-01T10:00:00Z', { [POLICY]: 'default', [BREAKGLASS]: JUSTIFICATION }))}\n${JSON.stringify(deploy('2024-05-02T10:00:00Z', { [POLICY]: 'default' }))}\n`);
        expect((await runwatch(['replay', '--quiet', '--format', 'ndjson', '--state', state, join(dir, 'a.ndjson')])).code).toBe(0);
        // As the previous release wrote it: no binaryAuthorization or breakglass history in any baseline.
        const written = readFileSync(state, 'utf8');
        expect(written).toContain('"breakglass"');
        const old = written.replace(/"(binaryAuthorization|breakglass)":\[[^\]]*\],?/g, '');
        expect(old).not.toContain('"breakglass"');
        writeFileSync(state, old);
        writeFileSync(join(dir, 'b.ndjson'), `${JSON.stringify(deploy('2024-05-03T10:00:00Z', { [POLICY]: undefined }))}\n`);
        const second = await runwatch(['replay', '--quiet', '--format', 'ndjson', '--state', state, join(dir, 'b.ndjson')]);
        expect(second.stderr).toBe('');
        expect(second.code).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('ignores: a real console write, whose body is logged without its containers (a missing annotation is unknown there)', async () => {
      const console = at(corpus('slackbot__Services.ReplaceService__1'), '2024-05-02T10:00:00Z');
      expect(await turnedOff([deploy('2024-05-01T10:00:00Z', { [POLICY]: 'default' }), console])).toEqual([]);
    });

    it('a failed rollout does not add "not serving" to the policy turned off (the setting applies all the same)', async () => {
      const [write, failedEvent] = synthetic('seq-failed-rollout') as unknown as [Json, Json];
      // An earlier revision (another image) that enforced the policy; the failing write then removes it.
      const enforced = at(
        editV1Services(withV1Image(write, 'us-docker.pkg.dev/cloudrun/container/hello:earlier'), (svc) => {
          const meta = svc['metadata'] as { annotations?: Record<string, string> };
          meta.annotations = { ...meta.annotations, [POLICY]: 'default' };
        }),
        '2026-09-17T02:00:00Z',
      );
      const findings = await turnedOff([withOperationId(enforced, 'op-enforced'), write, failedEvent]);
      expect(findings).toHaveLength(1);
      expect(findings[0]?.evidence['rollout']).toMatch(/^failed/);
      expect(findings[0]?.summary).not.toContain('not serving');
    });

    // Deleting a service that enforced a policy and creating it again under its name without one deploys unchecked
    // images as surely as removing the policy: the policy history carries across the delete (as the runtime service
    // account, the repositories and the ingress do), and the finding names the delete. These cases used to be
    // "ignored: a create is never turned off" (also with its delete arriving late, the baseline still holding the
    // deleted service's policy). The breakglass justification is the deleted service object's, and does not carry.
    describe('a service deleted and created again', () => {
      const STOREFRONT = { project: 'acme-prod', location: 'europe-west1', service: 'storefront' };
      const create = (timestamp: string, annotations: Record<string, string | undefined>): Json =>
        variant(deploy(timestamp, annotations), (e) => {
          e.protoPayload['methodName'] = 'google.cloud.run.v1.Services.CreateService';
        });
      const deleteV2 = (timestamp: string): Json =>
        variant(deleteServiceAt(timestamp, STOREFRONT), (e) => {
          e.protoPayload['methodName'] = 'google.cloud.run.v2.Services.DeleteService';
          e.protoPayload['resourceName'] = 'projects/acme-prod/locations/europe-west1/services/storefront';
        });
      /** The v2 create fixture (useDefault) at `timestamp`, its binaryAuthorization as given (undefined: left out). */
      const v2CreateAt = (timestamp: string, binaryAuthorization: Json | undefined): Json =>
        at(
          variant(synthetic('v2-CreateService'), (e) => {
            const service = (e.protoPayload['request'] as { service: Json }).service;
            if (binaryAuthorization === undefined) delete service['binaryAuthorization'];
            else service['binaryAuthorization'] = binaryAuthorization;
          }),
          timestamp,
        );
      const enforced = deploy('2024-05-01T10:00:00Z', { [POLICY]: 'default' });
      const strict = 'projects/p/platforms/cloudRun/policies/strict';
      const DELETED = '2024-05-01T12:00:00.000Z';

      it.each([
        ['v1: the default policy, created again without one', [enforced, deleteService, create('2024-05-02T10:00:00Z', { [POLICY]: undefined })], 'default', DELETED],
        ['v1: a named policy, created again without one', [deploy('2024-05-01T10:00:00Z', { [POLICY]: strict }), deleteService, create('2024-05-02T10:00:00Z', { [POLICY]: undefined })], strict, DELETED],
        ['v1: the deleted service\'s write arrives after the delete', [deleteService, enforced, create('2024-05-02T10:00:00Z', { [POLICY]: undefined })], 'default', DELETED],
        // Replayed in event time, the create still waits for its system events when its (older) delete comes.
        ['v1: the delete arrives after the create', [enforced, create('2024-05-02T10:00:00Z', { [POLICY]: undefined }), deleteService], 'default', DELETED],
        ['v2: useDefault, created again without binaryAuthorization', [synthetic('v2-CreateService'), deleteV2('2024-06-01T11:00:00Z'), v2CreateAt('2024-06-01T11:05:00Z', undefined)], 'default', '2024-06-01T11:00:00.000Z'],
        ['v2: useDefault, created again with binaryAuthorization empty', [synthetic('v2-CreateService'), deleteV2('2024-06-01T11:00:00Z'), v2CreateAt('2024-06-01T11:05:00Z', {})], 'default', '2024-06-01T11:00:00.000Z'],
      ])('fires: %s', async (_name, entries, before, deletedAt) => {
        const findings = await turnedOff(entries);
        expect(findings).toHaveLength(1);
        expect(findings[0]).toMatchObject({ severity: 'HIGH', evidence: { policyBefore: before, policy: null, operation: 'create', recreatedAfterDeleteAt: deletedAt } });
        expect(findings[0]!.summary).toContain(`the deleted service enforced the policy "${before}" before it was deleted at ${deletedAt}`);
      });

      it('fires: the delete arrives only after the create was judged (live, an hour later): reported then, without the delete', async () => {
        const entries = [enforced, create('2024-05-02T10:00:00Z', { [POLICY]: undefined }), deleteService];
        const findings = (await findingsLive(entries)).filter((f) => f.title === 'Binary Authorization turned off');
        expect(findings).toHaveLength(1);
        expect(findings[0]).toMatchObject({ eventTime: '2024-05-02T10:00:00Z', evidence: { policyBefore: 'default', policy: null, operation: 'create' } });
        expect(findings[0]!.evidence['recreatedAfterDeleteAt']).toBeUndefined();
        expect(findings[0]!.summary).toContain('again without Binary Authorization: the service deleted before it under the name enforced the policy "default"');
      });

      it('fires: a create of a service known to enforce a policy, its delete never seen (a create means the service was deleted)', async () => {
        const findings = await turnedOff([enforced, create('2024-05-02T10:00:00Z', { [POLICY]: undefined })]);
        expect(findings.map((f) => [f.eventTime, f.evidence['policyBefore'], f.evidence['recreatedAfterDeleteAt']])).toEqual([['2024-05-02T10:00:00Z', 'default', undefined]]);
      });

      it.each([
        ['v1: a service created for the first time without a policy', [create('2024-05-02T10:00:00Z', { [POLICY]: undefined })]],
        ['v2: a service created for the first time without binaryAuthorization', [v2CreateAt('2024-06-01T11:05:00Z', undefined)]],
        ['v1: created again with the same policy', [enforced, deleteService, create('2024-05-02T10:00:00Z', { [POLICY]: 'default' })]],
        ['v1: created again with another policy', [enforced, deleteService, create('2024-05-02T10:00:00Z', { [POLICY]: strict })]],
        ['v1: never enforced, created again without a policy', [deploy('2024-05-01T10:00:00Z', { [POLICY]: undefined }), deleteService, create('2024-05-02T10:00:00Z', { [POLICY]: undefined })]],
        ['v2: created again with useDefault', [synthetic('v2-CreateService'), deleteV2('2024-06-01T11:00:00Z'), v2CreateAt('2024-06-01T11:05:00Z', { useDefault: true })]],
      ])('ignores: %s', async (_name, entries) => {
        expect(await turnedOff(entries)).toEqual([]);
      });

      // The real console create of kktae-demo/hello (logged without its containers: a missing breakglass annotation
      // is unknown there), with the policy annotation added; the same create an hour earlier set a justification.
      describe('the breakglass justification does not carry across the delete', () => {
        const HELLO = { project: 'kktae-demo', location: 'us-central1', service: 'hello' };
        const consoleCreate = (timestamp: string, annotations: Record<string, string>): Json =>
          at(
            withOperationId(
              editV1Services(corpus('kktae-demo__Services.CreateService__1'), (svc) => {
                const meta = svc['metadata'] as { annotations?: Record<string, string> };
                meta.annotations = { ...meta.annotations, ...annotations };
              }),
              `op-${timestamp}`,
            ),
            timestamp,
          );
        const withBreakglass = consoleCreate('2023-04-28T01:00:00Z', { [POLICY]: 'default', [BREAKGLASS]: JUSTIFICATION });
        const deleteHello = deleteServiceAt('2023-04-28T02:00:00Z', HELLO);
        const again = consoleCreate('2023-04-28T02:26:34.926034Z', { [POLICY]: 'default' });
        const breakglass = async (findings: Promise<Finding[]>) =>
          (await findings).filter((f) => f.rule === 'binary-authorization-bypass' && f.title === 'Deploy that bypasses Binary Authorization (breakglass)').map((f) => f.eventTime);

        // A later console write of the re-created service (a new revision, breakglass unknown: left as it was).
        const update = variant(consoleCreate('2023-04-28T03:00:00Z', { [POLICY]: 'default' }), (e) => {
          e.protoPayload['methodName'] = 'google.cloud.run.v1.Services.ReplaceService';
          for (const service of [(e.protoPayload['request'] as { service: unknown }).service, e.protoPayload['response']]) {
            (service as { spec: { template: { metadata: { name: string } } } }).spec.template.metadata.name = 'hello-00002-xyz';
          }
        });

        it.each([
          ['the delete in order', [withBreakglass, deleteHello, again]],
          ['the delete arriving after the create', [withBreakglass, again, deleteHello]],
          ['no delete seen (a create: the service was deleted before it)', [withBreakglass, again]],
          ['the delete in order, then a write that leaves breakglass as it was', [withBreakglass, deleteHello, again, update]],
          ['a write that leaves breakglass as it was, the delete arriving after it', [withBreakglass, again, update, deleteHello]],
        ])('ignores the re-created service: %s', async (_name, entries) => {
          expect(await breakglass(findingsOf(entries))).toEqual(['2023-04-28T01:00:00Z']);
          expect(await breakglass(findingsLive(entries))).toEqual(['2023-04-28T01:00:00Z']);
        });
      });
    });
  });
});

// The policy is a service setting (rollout.ts SERVICE_SETTINGS): a burst's later write that turns it off is judged at
// its own time, by its own principal, though the burst made one revision (the first write's).
describe('binary-authorization-bypass: a burst write that turns the policy off', () => {
  it('the same template without the policy 10 s after a deploy that kept it, by someone else', async () => {
    const image = `${HOME}-burst`;
    const later = variant(deploy('2024-05-02T11:00:10Z', { [POLICY]: undefined }, image), (e) => {
      (e.protoPayload['authenticationInfo'] as Record<string, unknown>)['principalEmail'] = 'mallory@example.com';
    });
    const findings = (await bypasses([deploy('2024-05-02T10:00:00Z', { [POLICY]: 'default' }), deploy('2024-05-02T11:00:00Z', { [POLICY]: 'default' }, image), later])).filter(
      (f) => f.title === 'Binary Authorization turned off',
    );
    expect(findings.map((f) => [f.eventTime, f.principal, f.evidence['policyBefore']])).toEqual([['2024-05-02T11:00:10Z', 'mallory@example.com', 'default']]);
  });
});

// Binary Authorization turned off is a risk in force, as iap-disabled's IAP off is (README "Resolutions"): it stays open
// while no policy is enforced, and is resolved when a later write enforces one again or the service is deleted; a late
// turn-off is closed at once when a newer write enforced a policy already. The breakglass finding is one revision's
// deploy, an event: nothing resolves it.
describe('binary-authorization-bypass: the policy turned off is a risk in force', () => {
  const TURNED_OFF = 'Binary Authorization turned off';
  const BREAKGLASS_TITLE = 'Deploy that bypasses Binary Authorization (breakglass)';
  const REASON = 'Binary Authorization enforces a policy again';
  const lifecycle = (findings: readonly Finding[]) => findings.map((f) => [f.title, f.eventTime, f.status ?? 'active', f.resolution?.reason]);
  const off = deploy('2024-05-02T10:00:00Z', { [POLICY]: undefined });
  const enforced = deploy('2024-05-01T10:00:00Z', { [POLICY]: 'default' });

  it.each([
    ['the default policy', 'default'],
    ['another policy than before', 'projects/p/platforms/cloudRun/policies/strict'],
  ])('v1: resolved by a later write that enforces %s, same id', async (_name, policy) => {
    const findings = await bypasses([enforced, off, deploy('2024-05-03T10:00:00Z', { [POLICY]: policy })]);
    expect(lifecycle(findings)).toEqual([
      [TURNED_OFF, '2024-05-02T10:00:00Z', 'active', undefined],
      [TURNED_OFF, '2024-05-02T10:00:00Z', 'resolved', REASON],
    ]);
    expect(findings[1]!.id).toBe(findings[0]!.id);
    expect(findings[1]!.resolution?.time).toBe('2024-05-03T10:00:00Z');
  });

  it('v1: a later write that keeps it off, or says nothing of it (a console write), closes nothing', async () => {
    const console = at(corpus('slackbot__Services.ReplaceService__1'), '2024-05-04T10:00:00Z');
    const findings = await bypasses([enforced, off, deploy('2024-05-03T10:00:00Z', { [POLICY]: undefined }), console]);
    expect(lifecycle(findings)).toEqual([[TURNED_OFF, '2024-05-02T10:00:00Z', 'active', undefined]]);
  });

  it.each([
    ['useDefault', { useDefault: true }],
    ['a named policy', { policy: 'projects/acme-prod/platforms/cloudRun/policies/strict' }],
  ])('v2: resolved by a later update that sets binaryAuthorization (%s)', async (_name, binaryAuthorization) => {
    const findings = await bypasses([synthetic('v2-CreateService'), v2Update(undefined), at(v2Update(binaryAuthorization, ['binary_authorization']), '2024-06-01T12:00:00Z')]);
    expect(lifecycle(findings)).toEqual([
      [TURNED_OFF, '2024-06-01T11:00:00Z', 'active', undefined],
      [TURNED_OFF, '2024-06-01T11:00:00Z', 'resolved', REASON],
    ]);
  });

  it('v2: an update whose mask leaves binary_authorization alone closes nothing', async () => {
    const findings = await bypasses([synthetic('v2-CreateService'), v2Update(undefined), at(v2Update({ useDefault: true }, ['template.containers']), '2024-06-01T12:00:00Z')]);
    expect(lifecycle(findings)).toEqual([[TURNED_OFF, '2024-06-01T11:00:00Z', 'active', undefined]]);
  });

  it('resolved by the service\'s delete', async () => {
    const findings = await bypasses([enforced, off, deleteServiceAt('2024-05-03T10:00:00Z', SLACK_BOT)]);
    expect(lifecycle(findings)).toEqual([
      [TURNED_OFF, '2024-05-02T10:00:00Z', 'active', undefined],
      [TURNED_OFF, '2024-05-02T10:00:00Z', 'resolved', 'the service was deleted'],
    ]);
  });

  it('a service created again without a policy after the delete: the delete closes the old finding, the create opens its own, a policy enforced again closes it', async () => {
    const create = variant(deploy('2024-05-04T10:00:00Z', { [POLICY]: undefined }), (e) => {
      e.protoPayload['methodName'] = 'google.cloud.run.v1.Services.CreateService';
    });
    const findings = await bypasses([enforced, off, deleteServiceAt('2024-05-03T10:00:00Z', SLACK_BOT), create, deploy('2024-05-05T10:00:00Z', { [POLICY]: 'default' })]);
    // The re-created service is compared with the deleted one's last policy: none, which the delete's finding was
    // about: its create raises that finding again, its own, closed by the policy enforced again.
    expect(lifecycle(findings)).toEqual([
      [TURNED_OFF, '2024-05-02T10:00:00Z', 'active', undefined],
      [TURNED_OFF, '2024-05-02T10:00:00Z', 'resolved', 'the service was deleted'],
      [TURNED_OFF, '2024-05-04T10:00:00Z', 'active', undefined],
      [TURNED_OFF, '2024-05-04T10:00:00Z', 'resolved', REASON],
    ]);
    const again = await bypasses([enforced, deleteServiceAt('2024-05-03T10:00:00Z', SLACK_BOT), create, deploy('2024-05-05T10:00:00Z', { [POLICY]: 'default' })]);
    expect(lifecycle(again)).toEqual([
      [TURNED_OFF, '2024-05-04T10:00:00Z', 'active', undefined],
      [TURNED_OFF, '2024-05-04T10:00:00Z', 'resolved', REASON],
    ]);
  });

  it('a late turn-off after a newer write enforced a policy again: reported and closed at once, as in timestamp order', async () => {
    const late = [enforced, deploy('2024-05-03T10:00:00Z', { [POLICY]: 'default' }), off];
    const findings = await bypasses(late);
    expect(lifecycle(findings)).toEqual([
      [TURNED_OFF, '2024-05-02T10:00:00Z', 'active', undefined],
      [TURNED_OFF, '2024-05-02T10:00:00Z', 'resolved', REASON],
    ]);
    expect(findings[1]!.resolution?.time).toBe('2024-05-03T10:00:00Z');
    const inOrder = await bypasses([late[0]!, late[2]!, late[1]!]);
    expect(findings.map((f) => `${f.id} ${f.status ?? 'active'}`)).toEqual(inOrder.map((f) => `${f.id} ${f.status ?? 'active'}`));
  });

  it('a late turn-off whose newer writes keep it off stays open beside theirs, and the write that enforces a policy closes both', async () => {
    // Live, an hour apart: each write is judged before the next comes (replayed in event time, the waits put them in order).
    const entries = [enforced, deploy('2024-05-03T10:00:00Z', { [POLICY]: undefined }), off, deploy('2024-05-04T10:00:00Z', { [POLICY]: 'default' })];
    const findings = (await findingsLive(entries)).filter((f) => f.rule === 'binary-authorization-bypass');
    const last = new Map(findings.map((f) => [f.id, f.status ?? 'active']));
    expect(findings.filter((f) => (f.status ?? 'active') === 'active').map((f) => f.eventTime).sort()).toEqual(['2024-05-02T10:00:00Z', '2024-05-03T10:00:00Z']);
    expect([...last.values()]).toEqual(['resolved', 'resolved']);
  });

  // The policy is a service setting (v1: an annotation of the service, v2: a field of the Service): a write sets it
  // whether or not its new revision becomes Ready, as the turn-off is reported on a failed rollout (above).
  it('resolved by a write that enforces the policy again, though its revision failed to become Ready', async () => {
    const [write, failedEvent] = synthetic('seq-failed-rollout') as unknown as [Json, Json];
    const withPolicy = (entry: Json, policy: string | undefined): Json =>
      editV1Services(entry, (svc) => {
        const meta = svc['metadata'] as { annotations?: Record<string, string> };
        const annotations: Record<string, string> = { ...meta.annotations };
        if (policy === undefined) delete annotations[POLICY];
        else annotations[POLICY] = policy;
        meta.annotations = annotations;
      });
    const earlier = (image: string, policy: string | undefined, timestamp: string, op: string): Json =>
      withOperationId(at(withPolicy(withV1Image(write, image), policy), timestamp), op);
    const findings = await bypasses([
      earlier('us-docker.pkg.dev/cloudrun/container/hello:enforced', 'default', '2026-09-17T02:00:00Z', 'op-enforced'),
      earlier('us-docker.pkg.dev/cloudrun/container/hello:off', undefined, '2026-09-17T03:00:00Z', 'op-off'),
      withPolicy(write, 'default'),
      failedEvent,
    ]);
    expect(lifecycle(findings)).toEqual([
      [TURNED_OFF, '2026-09-17T03:00:00Z', 'active', undefined],
      [TURNED_OFF, '2026-09-17T03:00:00Z', 'resolved', REASON],
    ]);
  });

  describe('breakglass findings are never resolved', () => {
    const withBreakglass = deploy('2024-05-01T10:00:00Z', { [POLICY]: 'default', [BREAKGLASS]: JUSTIFICATION });
    it.each([
      ['the policy turned off, then enforced again', [withBreakglass, off, deploy('2024-05-03T10:00:00Z', { [POLICY]: 'default' })]],
      ['the policy turned off, then the service deleted', [withBreakglass, off, deleteServiceAt('2024-05-03T10:00:00Z', SLACK_BOT)]],
      ['breakglass cleared by a later write', [withBreakglass, deploy('2024-05-03T10:00:00Z', { [POLICY]: 'default' })]],
      // An entry older than the delete, delivered after it: about the deleted service. The delete closes a risk such an
      // entry raises (the policy turned off); a breakglass deploy is no risk in force, and is reported as it is.
      ['the breakglass deploy delivered after the service\'s delete', [enforced, deleteServiceAt('2024-05-03T10:00:00Z', SLACK_BOT), deploy('2024-05-02T10:00:00Z', { [POLICY]: 'default', [BREAKGLASS]: JUSTIFICATION })]],
    ])('%s', async (_name, entries) => {
      for (const findings of [await bypasses(entries), (await findingsLive(entries)).filter((f) => f.rule === 'binary-authorization-bypass')]) {
        const breakglass = findings.filter((f) => f.title === BREAKGLASS_TITLE);
        expect(breakglass).toHaveLength(1);
        expect(breakglass[0]!.status).toBeUndefined();
      }
    });

    it('a late turn-off delivered after the delete is reported closed by it; the breakglass deploy beside it is not', async () => {
      const lateOff = deploy('2024-05-02T10:00:00Z', { [POLICY]: undefined, [BREAKGLASS]: JUSTIFICATION });
      const findings = await bypasses([enforced, deleteServiceAt('2024-05-03T10:00:00Z', SLACK_BOT), lateOff]);
      expect(lifecycle(findings).sort()).toEqual(
        [
          [BREAKGLASS_TITLE, '2024-05-02T10:00:00Z', 'active', undefined],
          [TURNED_OFF, '2024-05-02T10:00:00Z', 'active', undefined],
          [TURNED_OFF, '2024-05-02T10:00:00Z', 'resolved', 'the service was deleted'],
        ].sort(),
      );
    });
  });
});
