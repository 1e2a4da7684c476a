// A newer write that sets no Binary Authorization policy where none was known to be enforced (the first known write
// set none, or nothing was known yet), judged before an OLDER write that enforced one arrives: in timestamp order the
// newer write turned the policy off (`binary-authorization-bypass`, open at the end). A job's and a worker pool's
// writes are judged as they arrive, and so is a service's write that makes no revision (a v2 update of
// `binary_authorization` alone): Pub/Sub delivering two of them the other way round is enough. Live, the late write
// that enforced the policy reports that finding on behalf of the newer write (whose entry runwatch does not keep),
// under the id timestamp order gives it, as a late restriction does for `ingress-opened`.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { at, byPrincipal, synthetic, variant, type Json } from '../support/entries.js';
import { lastWords as lastWordsOf, openIds as openIdsOf } from '../support/findingStory.js';
import { config, findingsLive, findingsOf } from '../support/run.js';

const RULE = 'binary-authorization-bypass';
const lastWords = (findings: readonly Finding[]): Finding[] => lastWordsOf(findings, RULE);
const openIds = (findings: readonly Finding[]): string[] => openIdsOf(findings, RULE);
const ids = (findings: readonly Finding[]): string[] => lastWords(findings).map((f) => f.id);

/** A policy as the v2 body writes it: the project's default, a named one, or none (the field left out). */
type Policy = 'default' | 'named' | 'none';
const NAMED = 'projects/acme-prod/platforms/cloudRun/policies/strict';

function setPolicy(body: Json, policy: Policy): void {
  if (policy === 'none') delete body['binaryAuthorization'];
  else body['binaryAuthorization'] = policy === 'default' ? { useDefault: true } : { policy: NAMED };
}

/** The v2 UpdateJob fixture at `time` with `policy`, its image tagged with the time (a template of its own). */
function jobWrite(time: string, policy: Policy): Json {
  return at(
    variant(synthetic('job-v2-UpdateJob'), (e) => {
      const job = (e.protoPayload['request'] as Json)['job'] as Json;
      const task = (job['template'] as Json)['template'] as Json;
      ((task['containers'] as Json[])[0]!)['image'] = `us-docker.pkg.dev/acme-prod/batch/exporter:${time.slice(11, 13)}${time.slice(14, 16)}`;
      setPolicy(job, policy);
    }),
    time,
  );
}

/** The v2 UpdateWorkerPool fixture at `time` with `policy`, its image tagged with the time. */
function workerPoolWrite(time: string, policy: Policy): Json {
  return at(
    variant(synthetic('workerpool-v2-UpdateWorkerPool'), (e) => {
      const pool = (e.protoPayload['request'] as Json)['workerPool'] as Json;
      ((((pool['template'] as Json)['containers'] as Json[])[0]!)['image']) = `us-docker.pkg.dev/acme-prod/workers/consumer:${time.slice(11, 13)}${time.slice(14, 16)}`;
      setPolicy(pool, policy);
    }),
    time,
  );
}

/**
 * The v2 UpdateService fixture at `time` with `policy` (its invoker check left alone): the first write of the service
 * whole, the others a mask naming `binary_authorization` alone (no revision: judged as it arrives).
 */
function serviceWrite(time: string, policy: Policy, first: boolean): Json {
  return at(
    variant(synthetic('v2-UpdateService'), (e) => {
      const request = e.protoPayload['request'] as Json;
      const service = request['service'] as Json;
      delete service['invokerIamDisabled'];
      setPolicy(service, policy);
      if (!first) request['updateMask'] = { paths: ['binary_authorization'] };
    }),
    time,
  );
}

const t = (minute: number): string => `2025-03-10T11:${String(minute).padStart(2, '0')}:00Z`;

/** Writes of one resource at t(0), t(10), ... with the policies given. */
const KINDS: readonly (readonly [string, (policies: readonly Policy[]) => Json[]])[] = [
  ['a job', (policies) => policies.map((p, i) => jobWrite(t(i * 10), p))],
  ['a worker pool', (policies) => policies.map((p, i) => workerPoolWrite(t(i * 10), p))],
  ['a service (v2 updates of binary_authorization alone)', (policies) => policies.map((p, i) => serviceWrite(t(i * 10), p, i === 0))],
];

describe('a late write enforcing Binary Authorization before a newer write that set none', () => {
  it.each(KINDS)('%s: none, enforced, none delivered first, third, second: the finding timestamp order opens', async (_kind, writes) => {
    const entries = writes(['none', 'default', 'none']);
    const inOrder = await findingsOf(entries);
    const live = await findingsLive([entries[0]!, entries[2]!, entries[1]!]);
    expect(openIds(inOrder)).toHaveLength(1);
    expect(openIds(live)).toEqual(openIds(inOrder));
    const reported = lastWords(live)[0]!;
    expect(reported.eventTime).toBe(t(20));
    expect(reported.title).toBe('Binary Authorization turned off');
    expect(reported.evidence).toMatchObject({ policyBefore: 'default', policy: null, reportedFrom: 'an older write that arrived later' });
    expect(reported.principal).toBe('unknown');
    expect(reported.unknown).toContain('principal');
    expect(reported.insertId).toBe('');
  });

  it.each(KINDS)('%s: the late write is the first known (enforced, then none, delivered the other way round)', async (_kind, writes) => {
    const entries = writes(['default', 'none']);
    const inOrder = await findingsOf(entries);
    const live = await findingsLive([entries[1]!, entries[0]!]);
    expect(openIds(inOrder)).toHaveLength(1);
    expect(openIds(live)).toEqual(openIds(inOrder));
  });

  it.each(KINDS)('%s: enforced again after the turn-off: reported and closed at once, as timestamp order closes it', async (_kind, writes) => {
    const entries = writes(['none', 'default', 'none', 'named']);
    const inOrder = await findingsOf(entries);
    const live = await findingsLive([entries[0]!, entries[2]!, entries[3]!, entries[1]!]);
    expect(ids(inOrder)).toHaveLength(1);
    expect(ids(live)).toEqual(ids(inOrder));
    expect(openIds(live)).toEqual([]);
    expect(lastWords(live)[0]!.resolution).toMatchObject({ time: t(30), reason: 'Binary Authorization enforces a policy again' });
  });

  it.each(KINDS)('%s: a policy enforced before the late write too: the newer write reported itself, once', async (_kind, writes) => {
    const entries = writes(['named', 'default', 'none']);
    const inOrder = await findingsOf(entries);
    const live = await findingsLive([entries[0]!, entries[2]!, entries[1]!]);
    expect(live.filter((f) => f.rule === RULE)).toHaveLength(1);
    expect(ids(live)).toEqual(ids(inOrder));
    expect(lastWords(live)[0]!.evidence['reportedFrom']).toBeUndefined();
  });

  it.each(KINDS)('%s: in timestamp order nothing is reported twice', async (_kind, writes) => {
    const entries = writes(['none', 'default', 'none']);
    expect((await findingsLive(entries)).filter((f) => f.rule === RULE)).toHaveLength(1);
  });

  it('an exception for the late write`s principal does not exempt the newer write it reports; a project exception does', async () => {
    const entries = [jobWrite(t(0), 'none'), byPrincipal(jobWrite(t(10), 'default'), 'enforcer@acme.example'), jobWrite(t(20), 'none')];
    const delivered = [entries[0]!, entries[2]!, entries[1]!];
    const byPrincipalCfg = config({ rules: { [RULE]: { exceptions: [{ principal: 'enforcer@acme.example' }] } } });
    expect(openIds(await findingsLive(delivered, byPrincipalCfg))).toEqual(openIds(await findingsOf(entries, byPrincipalCfg)));
    expect(openIds(await findingsLive(delivered, byPrincipalCfg))).toHaveLength(1);
    const byProject = config({ rules: { [RULE]: { exceptions: [{ project: 'acme-prod' }] } } });
    expect(ids(await findingsLive(delivered, byProject))).toEqual([]);
  });
});
