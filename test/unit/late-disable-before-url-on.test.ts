// A newer write that turns the default URL on where it already was on with no finding (the service's first known
// value, Cloud Run's default), judged before an OLDER write that disabled it arrives: in timestamp order the newer
// write raises `default-url-enabled` (the URL before it is the older write's, disabled), and its finding is open at the
// end. Live, the late disable reports that finding on behalf of the newer write (whose entry runwatch does not keep),
// under the id timestamp order gives it, as a late restriction does for ingress-opened
// (late-restriction-before-reopen.test.ts).
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import findingSchema from '../../schemas/finding.schema.json' with { type: 'json' };
import type { Finding } from '../../functions/findings/finding.js';
import type { RunwatchConfig } from '../../functions/config/types.js';
import { at, byPrincipal, deleteServiceAt, renamed, SLACK_BOT, STOREFRONT_AS_SLACK_BOT, synthetic, v1ServiceWrite, type Json } from '../support/entries.js';
import { consoleDeploy } from '../support/consoleDeploys.js';
import { config, findingsLive, findingsOf } from '../support/run.js';
import { lastWords as lastWordsOf, openIds as openIdsOf } from '../support/findingStory.js';

const RULE = 'default-url-enabled';
const load = (name: string): Json[] => {
  const data = JSON.parse(readFileSync(new URL(`../fixtures/pipeline/synthetic-pipeline-${name}.json`, import.meta.url), 'utf8')) as Json | Json[];
  return Array.isArray(data) ? data : [data];
};
const FIRST = load('deploy-1-first');
const URL_DISABLED = load('url-1-disabled');
const URL_ON = load('url-2-on');

const t = (minute: number): string => `2024-05-04T10:${String(minute).padStart(2, '0')}:00Z`;
/**
 * The gcloud v1 fixture (SLACK_BOT, its whole body logged) at `time` with its default URL disabled or on, and the
 * ingress `ingress`: the same template each time (after the first, no revision: judged as it comes).
 */
function write(time: string, disabled: boolean, ingress = 'all'): Json {
  return v1ServiceWrite(time, { 'run.googleapis.com/default-url-disabled': disabled ? 'true' : 'false', 'run.googleapis.com/ingress': ingress, 'run.googleapis.com/ingress-status': undefined });
}
/**
 * A v2 UpdateService of SLACK_BOT at `time` setting `field` alone (its update mask: no template, no revision, judged as
 * it comes) to `value`.
 */
function v2Only(time: string, field: 'defaultUriDisabled' | 'ingress', value: unknown): Json {
  const entry = renamed(synthetic('v2-UpdateService'), STOREFRONT_AS_SLACK_BOT);
  const payload = entry['protoPayload'] as Record<string, Record<string, unknown>>;
  payload['request']!['service'] = { name: (payload['request']!['service'] as Record<string, unknown>)['name'], ...(value === undefined ? {} : { [field]: value }) };
  payload['request']!['updateMask'] = { paths: [field === 'ingress' ? 'ingress' : 'default_uri_disabled'] };
  payload['response']!['name'] = `projects/test-project-1234/locations/asia-northeast1/operations/v2-${time}`;
  return at(entry, time, `v2-${time}`);
}
/** The default URL disabled by a v2 update of it alone. */
const disable = (time: string): Json => v2Only(time, 'defaultUriDisabled', true);
const LB = 'internal-and-cloud-load-balancing';

const lastWords = (findings: readonly Finding[]): Finding[] => lastWordsOf(findings, RULE);
const openIds = (findings: readonly Finding[]): string[] => openIdsOf(findings, RULE);
/** Every finding of the rule as `id status`, in the order raised. */
const story = (findings: readonly Finding[]): string[] => findings.filter((f) => f.rule === RULE).map((f) => `${f.id} ${f.status ?? 'active'}`);

describe('a late disable between an unreported URL on and a newer write turning it on again', () => {
  it('the pipeline fixtures: url-2-on (19:00) judged before url-1-disabled (18:00) opens the finding timestamp order opens', async () => {
    const inOrder = await findingsOf([...FIRST, ...URL_DISABLED, ...URL_ON]);
    const live = await findingsLive([...FIRST, ...URL_ON, ...URL_DISABLED]);
    expect(openIds(inOrder)).toHaveLength(1);
    expect(openIds(live)).toEqual(openIds(inOrder));
    const [reported] = lastWords(live);
    const [expected] = lastWords(inOrder);
    // At the newer write's time (its canonical timestamp, as its entry's), from the older entry.
    expect(reported!.eventTime).toBe(expected!.eventTime);
    expect(reported!.eventTime).toBe('2024-05-13T19:00:00.970Z');
    expect(reported!.evidence).toMatchObject({ before: 'default URL disabled', after: 'default URL on', ingress: 'all', reportedFrom: 'an older write that arrived later' });
    expect(reported!.severity).toBe(expected!.severity);
    expect(reported!.principal).toBe('unknown');
    expect(reported!.unknown).toContain('principal');
    expect(reported!.insertId).toBe('');
    expect(reported!.methodName).toBe('');
    expect(reported!.revision).toBeUndefined();
    const ajv = new Ajv({ allErrors: true, strict: false });
    const valid = ajv.compile(findingSchema);
    expect(valid(reported), JSON.stringify(valid.errors)).toBe(true);
  });

  // [name, entries in timestamp order, live delivery order (indexes), config, what the live finding's last word is]
  const cases: readonly (readonly [string, Json[], number[], RunwatchConfig | undefined, { status: string; time?: string; reason?: string } | undefined])[] = [
    ['first on, disabled at 10:20, on at 10:30 delivered first', [write(t(0), false), write(t(20), true), write(t(30), false)], [0, 2, 1], undefined, { status: 'active' }],
    [
      'a newer disable at 10:40: reported and closed at once',
      [write(t(0), false), write(t(20), true), write(t(30), false), write(t(40), true)],
      [0, 2, 3, 1],
      undefined,
      { status: 'resolved', time: t(40), reason: 'its default URL is disabled again' },
    ],
    [
      'the late disable made no revision (judged as it came)',
      [write(t(0), false), disable(t(20)), write(t(30), false)],
      [0, 2, 1],
      undefined,
      { status: 'active' },
    ],
    [
      'a newer ingress restriction at 10:40: reported and closed at once',
      [write(t(0), false), disable(t(20)), write(t(30), false), v2Only(t(40), 'ingress', 'INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER')],
      [0, 2, 3, 1],
      undefined,
      { status: 'resolved', time: t(40), reason: `its ingress is now ${LB}: the internet no longer reaches its run.app URL` },
    ],
    [
      'a delete at 10:50: reported and closed by the delete',
      // (A disable that waited for its rollout reports no newer write whose risk is gone: it may have reported itself.)
      [write(t(0), false), disable(t(20)), write(t(30), false), deleteServiceAt(t(50), SLACK_BOT)],
      [0, 2, 3, 1],
      undefined,
      { status: 'resolved', time: t(50), reason: 'the service was deleted' },
    ],
    [
      'the late disable`s principal is exempt: the newer write it reports is not (who made it is unknown)',
      [write(t(0), false), byPrincipal(write(t(20), true), 'disabler@example.com'), write(t(30), false)],
      [0, 2, 1],
      config({ rules: { [RULE]: { exceptions: [{ principal: 'disabler@example.com' }] } } }),
      { status: 'active' },
    ],
  ];

  it.each(cases)('%s: the same finding as timestamp order', async (_name, entries, order, cfg, last) => {
    const inOrder = await findingsOf(entries, cfg);
    const live = await findingsLive(order.map((i) => entries[i]), cfg);
    expect(lastWords(inOrder)).toHaveLength(1);
    expect(lastWords(live).map((f) => f.id)).toEqual(lastWords(inOrder).map((f) => f.id));
    expect(openIds(live)).toEqual(openIds(inOrder));
    const reported = lastWords(live)[0]!;
    expect(reported.eventTime).toBe(t(30));
    expect(reported.principal).toBe('unknown');
    expect(reported.evidence['reportedFrom']).toBe('an older write that arrived later');
    expect(reported.status ?? 'active').toBe(last!.status);
    if (last!.time) expect(reported.resolution).toMatchObject({ time: last!.time, reason: last!.reason });
    // Reported once (a report, and its close when closed at once).
    expect(story(live)).toHaveLength(last!.status === 'active' ? 1 : 2);
  });

  it('three newer writes left the URL on: the first after the disable is not known, and no finding is raised for another', async () => {
    // Before a disable is known the baseline keeps the two newest writes that left the URL on (10:40 and 10:50): 10:30,
    // the first after the disable, was let go. A finding for 10:40 would be another write's (another id).
    const entries = [write(t(0), false), disable(t(20)), write(t(30), false), write(t(40), false), write(t(50), false)];
    const inOrder = await findingsOf(entries);
    const live = await findingsLive([entries[0], entries[2], entries[3], entries[4], entries[1]]);
    expect(openIds(inOrder)).toHaveLength(1);
    const known = new Set(lastWords(inOrder).map((f) => f.id));
    expect(lastWords(live).filter((f) => !known.has(f.id))).toEqual([]);
  });

  it('console deploys: a newer write between the late disable and the newer point still waits for its rollout (no report: it reports itself)', async () => {
    // 23:05 disables the URL (its revision's events never logged: it waits), 23:10 turns it on (waits for its events,
    // delivered first), 23:15 keeps it on (applied). 23:05, judged late, must not take 23:15 for the first write after
    // it: 23:10 is, judged later against 23:05, and reports itself (as in timestamp order). Seen a second apart.
    const own = 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com';
    const other = 'ci-admin@test-project-1234.iam.gserviceaccount.com';
    const deploy = (k: number, identity: string, urlDisabled: boolean, events: number): Json[] => consoleDeploy(k, identity, { checkOff: false, ingress: 'all', urlDisabled }, events);
    const [first, d1, d2, d3] = [deploy(0, own, false, 2), deploy(1, other, true, 0), deploy(2, other, false, 2), deploy(3, own, false, 1)];
    // (Each deploy: its write, then its revision's event, then its service's.)
    const delivered = [...first!, d1![0]!, d2![2]!, d3![1]!, d2![1]!, d2![0]!, d3![0]!];
    const inOrder = await findingsOf([...first!, ...d1!, ...d2!, ...d3!]);
    const live = await findingsLive(delivered, undefined, undefined, 1000);
    expect(openIds(inOrder)).toHaveLength(1);
    expect(openIds(live)).toEqual(openIds(inOrder));
    expect(live.some((f) => f.rule === RULE && f.evidence['reportedFrom'] !== undefined)).toBe(false);
  });

  it('console deploys: a newer disable after the newer point still waits for its rollout (no report: its risk may be gone)', async () => {
    // 23:10 turns the URL on again after 23:05's disable, 23:15 disables it (waits), 23:20 disables it behind an
    // internal ingress, 23:25 turns it on with the ingress all. 23:05, judged last, must not report 23:10: 23:15,
    // still waiting, closes its risk (in timestamp order, 23:10's finding is closed by 23:15, 23:25's stays open).
    const a = 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com';
    const b = 'ci-admin@test-project-1234.iam.gserviceaccount.com';
    const deploy = (k: number, identity: string, urlDisabled: boolean, events: number, ingress = 'all'): Json[] => consoleDeploy(k, identity, { checkOff: false, ingress, urlDisabled }, events);
    const [first, d1, d2, d3, d4, d5] = [deploy(0, a, false, 2), deploy(1, a, true, 2), deploy(2, a, false, 0), deploy(3, b, true, 0), deploy(4, b, true, 0, 'internal'), deploy(5, a, false, 1)];
    const delivered = [...first!, d3![0]!, d1![2]!, d5![0]!, d5![1]!, d2![0]!, d4![0]!, d1![1]!, d1![0]!];
    const inOrder = await findingsOf([...first!, ...d1!, ...d2!, ...d3!, ...d4!, ...d5!]);
    const live = await findingsLive(delivered, undefined, undefined, 1000);
    expect(openIds(inOrder)).toHaveLength(1);
    expect(openIds(live)).toEqual(openIds(inOrder));
  });

  describe('nothing more', () => {
    const nothing: readonly (readonly [string, Json[], number[]])[] = [
      ['the disable is not late', [write(t(0), false), write(t(20), true), write(t(30), false)], [0, 1, 2]],
      ['the point after the late disable disables too', [write(t(0), false), write(t(20), true), write(t(30), true)], [0, 2, 1]],
      ['the newer write turned the URL on behind an internal ingress', [write(t(0), false, 'internal'), write(t(20), true, 'internal'), write(t(30), false, 'internal')], [0, 2, 1]],
      ['the newer write turned the URL on behind the load balancer`s ingress', [write(t(0), false), write(t(20), true, LB), write(t(30), false, LB)], [0, 2, 1]],
      ['the newer write reported itself (the URL before it was disabled when it was judged)', [write(t(0), true), write(t(20), true), write(t(30), false)], [0, 2, 1]],
    ];
    it.each(nothing)('%s: no report for a newer write, and what timestamp order raises', async (_name, entries, order) => {
      const inOrder = await findingsOf(entries);
      const live = await findingsLive(order.map((i) => entries[i]));
      expect(live.some((f) => f.rule === RULE && f.evidence['reportedFrom'] !== undefined)).toBe(false);
      expect(story(live)).toEqual(story(inOrder));
    });
  });
});
