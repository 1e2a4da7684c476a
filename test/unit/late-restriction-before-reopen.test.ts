// A newer write that opens the ingress to `all` where it already was so with no finding (the service's first known
// value, Cloud Run's default), judged before an OLDER write that restricted it arrives: in timestamp order the newer
// write raises `ingress-opened` (the ingress before it is the restriction's), and its finding is open at the end. Live,
// the late restriction reports that finding on behalf of the newer write (whose entry runwatch does not keep), under
// the id timestamp order gives it.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import findingSchema from '../../schemas/finding.schema.json' with { type: 'json' };
import type { Finding } from '../../functions/findings/finding.js';
import { pointAt, pointTime } from '../../functions/baseline/state.js';
import { normalizeTimestamp } from '../../functions/audit/entry.js';
import { at, byPrincipal, deleteServiceAt, editV1Services, ingressOnly, SLACK_BOT, synthetic, withOperationId, type Json } from '../support/entries.js';
import { consoleDeploy } from '../support/consoleDeploys.js';
import { config, findingsLive, findingsOf } from '../support/run.js';
import { lastWords as lastWordsOf, openIds as openIdsOf } from '../support/findingStory.js';

const RULE = 'ingress-opened';
const load = (name: string): Json[] => {
  const data = JSON.parse(readFileSync(new URL(`../fixtures/pipeline/synthetic-pipeline-${name}.json`, import.meta.url), 'utf8')) as Json | Json[];
  return Array.isArray(data) ? data : [data];
};
const FIRST = load('deploy-1-first');
const D6 = load('deploy-6-ingress-load-balancer');
const D7 = load('deploy-7-ingress-all');

/**
 * The gcloud fixture (its whole body logged) at `time`, with the ingress `ingress`: a new image each time (a new
 * revision, whose write waits for its system events), or the image of the deploy at `sameImageAs` (no revision: judged
 * as it comes, as a write of the ingress alone is).
 */
function deploy(time: string, ingress: string, sameImageAs = time): Json {
  const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
    const meta = svc['metadata'] as Record<string, Record<string, string>>;
    meta['annotations'] = { ...meta['annotations'], 'run.googleapis.com/ingress': ingress };
    const template = (svc['spec'] as Record<string, Record<string, Record<string, unknown>>>)['template']!;
    template['spec']!['containers'] = [{ name: 'app', image: `gcr.io/acme/app:${sameImageAs.slice(11, 16).replace(':', '')}` }];
  });
  return at(withOperationId(entry, `op-${time}`), time);
}
const t = (minute: number): string => `2024-05-04T10:${String(minute).padStart(2, '0')}:00Z`;
const LB = 'internal-and-cloud-load-balancing';

const lastWords = (findings: readonly Finding[]): Finding[] => lastWordsOf(findings, RULE);
const openIds = (findings: readonly Finding[]): string[] => openIdsOf(findings, RULE);
const ids = (findings: readonly Finding[]): string[] => lastWords(findings).map((f) => f.id);

describe('a late restriction between an unreported `all` and a newer write setting `all` again', () => {
  it('the pipeline fixtures: deploy-7 (all, 12:00) judged before deploy-6 (load balancer, 11:00) opens the finding timestamp order opens', async () => {
    const inOrder = await findingsOf([...FIRST, ...D6, ...D7]);
    const live = await findingsLive([...FIRST, ...D7, ...D6]);
    expect(openIds(inOrder)).toHaveLength(1);
    expect(openIds(live)).toEqual(openIds(inOrder));
    const [reported] = lastWords(live);
    const [expected] = lastWords(inOrder);
    // At the newer write's time (its canonical timestamp, sub-millisecond digits as the entry's), from the older entry.
    expect(reported!.eventTime).toBe(expected!.eventTime);
    expect(reported!.eventTime).toBe('2024-05-13T12:00:00.700Z');
    expect(reported!.evidence).toMatchObject({ before: LB, after: 'all', reportedFrom: 'an older write that arrived later' });
    expect(reported!.principal).toBe('unknown');
    expect(reported!.unknown).toContain('principal');
    expect(reported!.insertId).toBe('');
    expect(reported!.revision).toBeUndefined();
    expect(reported!.delegationChain).toBeUndefined();
    const ajv = new Ajv({ allErrors: true, strict: false });
    const valid = ajv.compile(findingSchema);
    expect(valid(reported), JSON.stringify(valid.errors)).toBe(true);
  });

  it('a point rebuilt from a change reads back as the change`s canonical time (the dedup key names it so)', () => {
    for (const raw of ['2024-05-13T12:00:00.700000Z', '2024-05-13T12:00:00.123456789Z', '2024-05-13T12:00:00Z', '2024-05-13T12:00:00.1Z']) {
      const { iso: time, ms: timeMs } = normalizeTimestamp(raw)!;
      expect(pointTime(pointAt({ timeMs, time }, 'all'))).toBe(time);
    }
  });

  it('synthetic: first all, internal at 10:20, all at 10:30 delivered before 10:20: the same open finding as timestamp order', async () => {
    const entries = [deploy(t(0), 'all'), deploy(t(20), 'internal'), deploy(t(30), 'all')];
    const inOrder = await findingsOf(entries);
    const live = await findingsLive([entries[0], entries[2], entries[1]]);
    expect(openIds(inOrder)).toHaveLength(1);
    expect(openIds(live)).toEqual(openIds(inOrder));
    expect(lastWords(live)[0]!.eventTime).toBe(t(30));
  });

  it('a newer restriction after the reopening: reported and closed at once, as timestamp order closes it', async () => {
    const entries = [deploy(t(0), 'all'), deploy(t(20), 'internal', t(0)), deploy(t(30), 'all'), deploy(t(40), LB)];
    const inOrder = await findingsOf(entries);
    const live = await findingsLive([entries[0], entries[2], entries[3], entries[1]]);
    expect(ids(inOrder)).toHaveLength(1);
    expect(ids(live)).toEqual(ids(inOrder));
    expect(openIds(live)).toEqual([]);
    const closed = lastWords(live)[0]!;
    expect(closed.resolution).toMatchObject({ time: t(40) });
  });

  it('a delete after the reopening: reported and closed by the delete', async () => {
    const DELETE = deleteServiceAt(t(50), SLACK_BOT);
    const entries = [deploy(t(0), 'all'), ingressOnly(t(20), 'INGRESS_TRAFFIC_INTERNAL_ONLY'), deploy(t(30), 'all'), DELETE];
    const inOrder = await findingsOf(entries);
    const live = await findingsLive([entries[0], entries[2], DELETE, entries[1]]);
    expect(ids(inOrder)).toHaveLength(1);
    expect(ids(live)).toEqual(ids(inOrder));
    expect(openIds(live)).toEqual([]);
    expect(lastWords(live)[0]!.resolution).toMatchObject({ time: t(50), reason: 'the service was deleted' });
  });

  // The service deleted between the restriction and the reopening, and created again with `all`: timestamp order
  // compares the new service with the deleted one's restriction (evidence recreatedAfterDeleteAt). Every order gives
  // that finding open under the same id, whichever entry reports it.
  it.each([
    ['reopening, restriction, delete', [0, 3, 1, 2], true],
    ['reopening, delete, restriction', [0, 3, 2, 1], true],
    ['delete, reopening, restriction', [0, 2, 3, 1], true],
    ['restriction, reopening, delete', [0, 1, 3, 2], false],
  ])('a delete between the restriction and the reopening, delivered %s: the finding timestamp order opens', async (_order, order, fromOlderWrite) => {
    const DELETE = deleteServiceAt(t(25), SLACK_BOT);
    const entries = [deploy(t(0), 'all'), deploy(t(20), 'internal'), DELETE, deploy(t(30), 'all')];
    const inOrder = await findingsOf(entries);
    const live = await findingsLive(order.map((i) => entries[i]!));
    expect(openIds(inOrder)).toHaveLength(1);
    expect(lastWords(inOrder)[0]!.evidence).toMatchObject({ before: 'internal', recreatedAfterDeleteAt: '2024-05-04T10:25:00.000Z' });
    expect(ids(live)).toEqual(ids(inOrder));
    expect(openIds(live)).toEqual(openIds(inOrder));
    const reported = lastWords(live)[0]!;
    expect(reported.eventTime).toBe(t(30));
    expect(reported.evidence['reportedFrom'] !== undefined).toBe(fromOlderWrite);
  });

  it('delivered in timestamp order, a newer write judged while the restriction waited for its rollout is reported once', async () => {
    // 10:20 waits for its system events; 10:30 (the ingress alone: judged as it comes) is judged against it and
    // reports itself, 10:40 closes that; 10:20, judged last, is late, and must not report 10:30 again.
    const entries = [deploy(t(0), 'all'), deploy(t(20), 'internal'), ingressOnly(t(30), 'INGRESS_TRAFFIC_ALL'), ingressOnly(t(40), 'INGRESS_TRAFFIC_INTERNAL_ONLY')];
    const live = (await findingsLive(entries, undefined, undefined, 1000)).filter((f) => f.rule === RULE);
    expect(live.map((f) => `${f.eventTime} ${f.status ?? 'active'}`)).toEqual([`${t(30)} active`, `${t(30)} resolved`]);
    expect(ids(live)).toEqual(ids(await findingsOf(entries)));
  });

  it('a restriction that waited for its rollout reports no newer write whose risk is gone (it may have reported itself)', async () => {
    // 10:30 may have been judged while 10:20 waited for its system events (against it: it reported itself, and its
    // finding, closed by 10:40 since, is not kept): a second report would repeat it.
    const entries = [deploy(t(0), 'all'), deploy(t(20), 'internal'), deploy(t(30), 'all'), deploy(t(40), LB)];
    expect(ids(await findingsLive([entries[0], entries[2], entries[3], entries[1]]))).toEqual([]);
  });

  it('an exception for the late restriction`s principal does not exempt the newer write it reports', async () => {
    const cfg = config({ rules: { [RULE]: { exceptions: [{ principal: 'restrictor@example.com' }] } } });
    const restricting = byPrincipal(deploy(t(20), 'internal'), 'restrictor@example.com');
    const entries = [deploy(t(0), 'all'), restricting, deploy(t(30), 'all')];
    const inOrder = await findingsOf(entries, cfg);
    const live = await findingsLive([entries[0], entries[2], entries[1]], cfg);
    expect(openIds(inOrder)).toHaveLength(1);
    expect(openIds(live)).toEqual(openIds(inOrder));
  });

  it('an exception by project still covers it', async () => {
    const cfg = config({ rules: { [RULE]: { exceptions: [{ project: SLACK_BOT.project }] } } });
    const entries = [deploy(t(0), 'all'), deploy(t(20), 'internal'), deploy(t(30), 'all')];
    expect(ids(await findingsLive([entries[0], entries[2], entries[1]], cfg))).toEqual([]);
  });

  it('console deploys: no report for a newer write while a write between the restriction and it still waits for its rollout', async () => {
    // The first deploy at all; 23:05 restricts to internal, 23:10 opens to all (its write delivered after its revision
    // event), 23:15 sets all (waits: no events logged), 23:20 sets all. 23:05, judged late, must not take 23:20 for the
    // first write after it: 23:10 is (it reports itself when it comes), 23:15 still waits. Seen a second apart.
    const a = 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com';
    const b = 'ci-admin@test-project-1234.iam.gserviceaccount.com';
    const consoleWrite = (k: number, identity: string, ingress: string, events: number): Json[] => consoleDeploy(k, identity, { checkOff: false, ingress }, events);
    const [first, d1, d2, d3, d4] = [consoleWrite(0, a, 'all', 2), consoleWrite(1, a, 'internal', 1), consoleWrite(2, b, 'all', 1), consoleWrite(3, b, 'all', 0), consoleWrite(4, a, 'all', 0)];
    const delivered = [...first!, d2![1]!, d3![0]!, d1![1]!, d4![0]!, d1![0]!, d2![0]!];
    const inOrder = await findingsOf([...first!, ...d1!, ...d2!, ...d3!, ...d4!]);
    const live = await findingsLive(delivered, undefined, undefined, 1000);
    expect(openIds(inOrder)).toHaveLength(1);
    expect(openIds(live)).toEqual(openIds(inOrder));
    expect(live.some((f) => f.rule === RULE && f.evidence['reportedFrom'] !== undefined)).toBe(false);
  });

  describe('nothing more', () => {
    it('when the ingress before the restriction was restricted: the newer write reported itself', async () => {
      const entries = [deploy(t(0), 'internal'), deploy(t(20), LB), deploy(t(30), 'all')];
      const live = await findingsLive([entries[0], entries[2], entries[1]]);
      // (Judged against 10:00's internal, not 10:20's load balancer: its own finding, keyed by what it was judged with.)
      expect(live.filter((f) => f.rule === RULE).map((f) => `${f.eventTime} ${f.evidence['before']} ${f.status ?? 'active'}`)).toEqual([`${t(30)} internal active`]);
    });

    it('when the restriction is not late', async () => {
      const entries = [deploy(t(0), 'all'), deploy(t(20), 'internal'), deploy(t(30), 'all')];
      const live = (await findingsLive(entries)).filter((f) => f.rule === RULE);
      expect(live).toHaveLength(1);
      expect(live[0]!.evidence['reportedFrom']).toBeUndefined();
    });

    it('when a restriction older than it was known (the reopening may have been judged against it and reported itself)', async () => {
      // 10:30 judged against 10:00's internal reports itself (closed by 10:40); 10:20 arrives after 10:10's all.
      const entries = [deploy(t(0), 'internal'), deploy(t(10), 'all'), deploy(t(20), 'internal'), deploy(t(30), 'all'), deploy(t(40), LB)];
      const live = await findingsLive([entries[0], entries[4], entries[3], entries[1], entries[2]]);
      const statuses = new Map<string, string[]>();
      for (const f of live.filter((f) => f.rule === RULE)) statuses.set(f.id, [...(statuses.get(f.id) ?? []), f.status ?? 'active']);
      expect([...statuses.values()].filter((s) => s.length > 2 || s[0] !== 'active')).toEqual([]);
      expect(live.some((f) => f.evidence['reportedFrom'] !== undefined)).toBe(false);
    });

    it('when the point after the late restriction is restricted too', async () => {
      const entries = [deploy(t(0), 'all'), deploy(t(20), 'internal'), deploy(t(30), LB)];
      expect(ids(await findingsLive([entries[0], entries[2], entries[1]]))).toEqual([]);
      expect(ids(await findingsOf(entries))).toEqual([]);
    });
  });
});
