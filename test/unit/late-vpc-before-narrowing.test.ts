// A newer write whose VPC egress is not all-traffic where none before it was known to send all traffic through the VPC
// (the first known write had none, or nothing was known yet), judged before an OLDER write that set all-traffic egress
// arrives: in timestamp order the newer write narrowed the egress (`vpc-egress-bypass`, open at the end). A job's and a
// worker pool's writes are judged as they arrive: Pub/Sub delivering two of them the other way round is enough. Live,
// the late all-traffic write reports that finding on behalf of the newer write (whose entry runwatch does not keep),
// under the id timestamp order gives it, as a late restriction does for `ingress-opened`.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { at, synthetic, variant, type Json } from '../support/entries.js';
import { lastWords as lastWordsOf, openIds as openIdsOf } from '../support/findingStory.js';
import { config, findingsLive, findingsOf } from '../support/run.js';

const RULE = 'vpc-egress-bypass';
const lastWords = (findings: readonly Finding[]): Finding[] => lastWordsOf(findings, RULE);
const openIds = (findings: readonly Finding[]): string[] => openIdsOf(findings, RULE);
const ids = (findings: readonly Finding[]): string[] => lastWords(findings).map((f) => f.id);

/** The egress a template sets: all traffic through the VPC, private ranges only, or no VPC access at all. */
type Egress = 'all' | 'private' | 'none';

function setEgress(template: Json, egress: Egress): void {
  if (egress === 'none') delete template['vpcAccess'];
  else template['vpcAccess'] = { networkInterfaces: [{ network: 'acme-vpc', subnetwork: 'acme-batch' }], egress: egress === 'all' ? 'ALL_TRAFFIC' : 'PRIVATE_RANGES_ONLY' };
}

const tag = (time: string): string => `${time.slice(11, 13)}${time.slice(14, 16)}`;

/** The v2 UpdateJob fixture at `time` with `egress`, its image tagged with the time (a template of its own). */
function jobWrite(time: string, egress: Egress): Json {
  return at(
    variant(synthetic('job-v2-UpdateJob'), (e) => {
      const task = (((e.protoPayload['request'] as Json)['job'] as Json)['template'] as Json)['template'] as Json;
      ((task['containers'] as Json[])[0]!)['image'] = `us-docker.pkg.dev/acme-prod/batch/exporter:${tag(time)}`;
      setEgress(task, egress);
    }),
    time,
  );
}

/** The v2 UpdateWorkerPool fixture at `time` with `egress`, its image tagged with the time. */
function workerPoolWrite(time: string, egress: Egress): Json {
  return at(
    variant(synthetic('workerpool-v2-UpdateWorkerPool'), (e) => {
      const template = ((e.protoPayload['request'] as Json)['workerPool'] as Json)['template'] as Json;
      ((template['containers'] as Json[])[0]!)['image'] = `us-docker.pkg.dev/acme-prod/workers/consumer:${tag(time)}`;
      setEgress(template, egress);
    }),
    time,
  );
}

const t = (minute: number): string => `2025-03-10T11:${String(minute).padStart(2, '0')}:00Z`;

const KINDS: readonly (readonly [string, (egress: readonly Egress[]) => Json[]])[] = [
  ['a job', (egress) => egress.map((e, i) => jobWrite(t(i * 10), e))],
  ['a worker pool', (egress) => egress.map((e, i) => workerPoolWrite(t(i * 10), e))],
];

describe('a late write sending all traffic through the VPC before a newer write that does not', () => {
  it.each(KINDS)('%s: none, all-traffic, private ranges delivered first, third, second: the finding timestamp order opens', async (_kind, writes) => {
    const entries = writes(['none', 'all', 'private']);
    const inOrder = await findingsOf(entries);
    const live = await findingsLive([entries[0]!, entries[2]!, entries[1]!]);
    expect(openIds(inOrder)).toHaveLength(1);
    expect(openIds(live)).toEqual(openIds(inOrder));
    const reported = lastWords(live)[0]!;
    expect(reported.eventTime).toBe(t(20));
    expect(reported.evidence).toMatchObject({ before: 'all-traffic', after: 'private-ranges-only', reportedFrom: 'an older write that arrived later' });
    expect(reported.principal).toBe('unknown');
    expect(reported.unknown).toContain('principal');
    expect(reported.insertId).toBe('');
  });

  it.each(KINDS)('%s: the late write is the first known (all-traffic, then none, delivered the other way round)', async (_kind, writes) => {
    const entries = writes(['all', 'none']);
    const inOrder = await findingsOf(entries);
    const live = await findingsLive([entries[1]!, entries[0]!]);
    expect(openIds(inOrder)).toHaveLength(1);
    expect(openIds(live)).toEqual(openIds(inOrder));
  });

  it.each(KINDS)('%s: all-traffic again after the narrowing: reported and closed at once, as timestamp order closes it', async (_kind, writes) => {
    const entries = writes(['none', 'all', 'none', 'all']);
    const inOrder = await findingsOf(entries);
    const live = await findingsLive([entries[0]!, entries[2]!, entries[3]!, entries[1]!]);
    expect(ids(inOrder)).toHaveLength(1);
    expect(ids(live)).toEqual(ids(inOrder));
    expect(openIds(live)).toEqual([]);
    expect(lastWords(live)[0]!.resolution).toMatchObject({ time: t(30) });
  });

  it.each(KINDS)('%s: all-traffic before the late write too: the newer write reported itself, once', async (_kind, writes) => {
    const entries = writes(['all', 'all', 'none']);
    const inOrder = await findingsOf(entries);
    const live = await findingsLive([entries[0]!, entries[2]!, entries[1]!]);
    expect(live.filter((f) => f.rule === RULE)).toHaveLength(1);
    expect(ids(live)).toEqual(ids(inOrder));
    expect(lastWords(live)[0]!.evidence['reportedFrom']).toBeUndefined();
  });

  // The newer write was judged against the first (all-traffic) and reported itself; a newer all-traffic write closed it.
  // The late all-traffic write arriving after a narrowed one cannot tell it from a newer write that raised nothing
  // (what came when is not kept): its finding would be closed by now either way, so it is not reported again.
  it.each(KINDS)('%s: all-traffic, none, all-traffic, none, all-traffic delivered 1, 4, 5, 2, 3: the fourth is reported once', async (_kind, writes) => {
    const entries = writes(['all', 'none', 'all', 'none', 'all']);
    const live = await findingsLive([entries[0]!, entries[3]!, entries[4]!, entries[1]!, entries[2]!]);
    expect(live.filter((f) => f.rule === RULE && f.eventTime === t(30)).map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
    expect(openIds(live)).toEqual(openIds(await findingsOf(entries)));
  });

  it('a job: all-traffic, none, all-traffic, none, then the delete, delivered 1, 4, the delete, 2, 3: the fourth is reported once', async () => {
    const entries = KINDS[0]![1](['all', 'none', 'all', 'none']);
    const deleted = at(synthetic('job-v2-DeleteJob'), t(35));
    const live = await findingsLive([entries[0]!, entries[3]!, deleted, entries[1]!, entries[2]!]);
    expect(live.filter((f) => f.rule === RULE && f.eventTime === t(30)).map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
  });

  it.each(KINDS)('%s: in timestamp order nothing is reported twice', async (_kind, writes) => {
    const entries = writes(['none', 'all', 'private']);
    expect((await findingsLive(entries)).filter((f) => f.rule === RULE)).toHaveLength(1);
  });

  it('a project exception covers the finding reported for the newer write', async () => {
    const entries = [jobWrite(t(0), 'none'), jobWrite(t(10), 'all'), jobWrite(t(20), 'none')];
    const byProject = config({ rules: { [RULE]: { exceptions: [{ project: 'acme-prod' }] } } });
    expect(ids(await findingsLive([entries[0]!, entries[2]!, entries[1]!], byProject))).toEqual([]);
  });
});
