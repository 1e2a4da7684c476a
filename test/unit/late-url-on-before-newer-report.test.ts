// A write that keeps the default URL on, judged before an OLDER write that turned it on (after a disable) arrives: it
// was judged against the disable and raised `default-url-enabled`, though in timestamp order the URL was on before it
// (the older write turned it on: that one raises, where its ingress lets the internet in) and it raises nothing. When
// the older write arrives, the newer write's finding is closed: timestamp order has it never open. The same when the
// newer write's finding was reported for it by a late disable (late-disable-before-url-on.test.ts).
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { at, renamed, STOREFRONT_AS_SLACK_BOT, synthetic, v1ServiceWrite, type Json } from '../support/entries.js';
import { findingsLive, findingsOf } from '../support/run.js';
import { badLifecycles as badLifecyclesOf, openIds as openIdsOf } from '../support/findingStory.js';

const RULE = 'default-url-enabled';
const t = (minute: number): string => `2024-05-04T10:${String(minute).padStart(2, '0')}:00Z`;
/** The gcloud v1 fixture (SLACK_BOT) at `time`, its default URL disabled or on, its ingress `ingress` (no revision after the first). */
function write(time: string, disabled: boolean, ingress = 'all'): Json {
  return v1ServiceWrite(time, { 'run.googleapis.com/default-url-disabled': disabled ? 'true' : 'false', 'run.googleapis.com/ingress': ingress, 'run.googleapis.com/ingress-status': undefined });
}
/** The default URL disabled by a v2 update of it alone (no revision: judged as it comes). */
function disable(time: string): Json {
  const entry = renamed(synthetic('v2-UpdateService'), STOREFRONT_AS_SLACK_BOT);
  const payload = entry['protoPayload'] as Record<string, Record<string, unknown>>;
  payload['request']!['service'] = { name: (payload['request']!['service'] as Record<string, unknown>)['name'], defaultUriDisabled: true };
  payload['request']!['updateMask'] = { paths: ['default_uri_disabled'] };
  payload['response']!['name'] = `projects/test-project-1234/locations/asia-northeast1/operations/v2-${time}`;
  return at(entry, time, `v2-${time}`);
}

const openIds = (findings: readonly Finding[], rule = RULE): string[] => openIdsOf(findings, rule);
const badLifecycles = (findings: readonly Finding[]): string[] => badLifecyclesOf(findings, RULE);

describe('an older write that turned the default URL on, arriving after a newer write judged against the disable before it', () => {
  // [name, entries in timestamp order, live delivery order (indexes), how many default-url findings timestamp order leaves open]
  const cases: readonly (readonly [string, Json[], number[], number])[] = [
    [
      'behind an internal ingress, the newer write opening the ingress (ingress-opened only, in timestamp order)',
      [write(t(0), true, 'internal'), write(t(10), false, 'internal'), write(t(20), false, 'all')],
      [0, 2, 1],
      0,
    ],
    ['with the ingress all (the older write`s finding only)', [write(t(0), true), write(t(10), false), write(t(20), false)], [0, 2, 1], 1],
    [
      'the newer write`s finding reported for it by a late disable (the older write`s finding only)',
      [write(t(0), false), disable(t(5)), write(t(10), false), write(t(15), false)],
      [0, 3, 1, 2],
      1,
    ],
  ];
  it.each(cases)('%s: the open findings of timestamp order', async (_name, entries, order, open) => {
    const inOrder = await findingsOf(entries);
    const live = await findingsLive(order.map((i) => entries[i]));
    expect(openIds(inOrder)).toHaveLength(open);
    expect(openIds(live)).toEqual(openIds(inOrder));
    expect(openIds(live, 'ingress-opened')).toEqual(openIds(inOrder, 'ingress-opened'));
    expect(badLifecycles(live)).toEqual([]);
    // A finding closed for this is closed no earlier than it happened.
    for (const f of live) if (f.rule === RULE && f.resolution) expect(Date.parse(f.resolution.time)).toBeGreaterThanOrEqual(Date.parse(f.eventTime));
  });

  it('nothing closed when a disable after the newer write is known: its finding stands for the URL turned on again since', async () => {
    // 10:10 judged against the first deploy's disable reports itself; 10:20 (on again) against 10:10, nothing; 10:15
    // (disabled), late, closes nothing (10:20 is newer). 10:05 arrives last: its own finding is closed at once by
    // 10:15, and 10:10's, closed too, would leave the URL on at the end unreported (ingress-opened's late-open seed 13).
    const entries = [write(t(0), true), write(t(5), false), write(t(10), false), write(t(15), true), write(t(20), false)];
    const inOrder = await findingsOf(entries);
    const live = await findingsLive([entries[0], entries[2], entries[4], entries[3], entries[1]]);
    expect(openIds(inOrder)).toHaveLength(1);
    expect(openIds(live)).toHaveLength(1);
    expect(badLifecycles(live)).toEqual([]);
  });

  it('nothing closed when the older write came before the disable the newer write was judged against', async () => {
    // 10:05 turns the URL on behind an internal ingress, 10:10 disables it, 10:20 turns it on: 10:20's finding stands.
    const entries = [write(t(0), true), write(t(5), false, 'internal'), write(t(10), true), write(t(20), false)];
    const inOrder = await findingsOf(entries);
    const live = await findingsLive([entries[0], entries[2], entries[3], entries[1]]);
    expect(openIds(inOrder)).toHaveLength(1);
    expect(openIds(live)).toEqual(openIds(inOrder));
    expect(live.filter((f) => f.rule === RULE).map((f) => f.status ?? 'active')).toEqual(['active']);
  });
});
