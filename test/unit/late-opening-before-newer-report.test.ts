// A write that sets the ingress to `all`, judged before an OLDER write that opened it (after a restriction) arrives:
// it was judged against the restriction and raised `ingress-opened`, though in timestamp order the ingress was `all`
// before it (the older write opened it, and raises) and it raises nothing. When the older write arrives, the newer
// write's finding is closed: timestamp order has it never open. The same when the newer write's finding was reported
// for it by a late restriction (late-restriction-before-reopen.test.ts). As default-url-enabled does
// (late-url-on-before-newer-report.test.ts).
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { at, editV1Services, ingressOnly, synthetic, withOperationId, type Json } from '../support/entries.js';
import { findingsLive, findingsOf } from '../support/run.js';
import { badLifecycles as badLifecyclesOf, openIds as openIdsOf } from '../support/findingStory.js';

const RULE = 'ingress-opened';
const t = (minute: number): string => `2024-05-04T10:${String(minute).padStart(2, '0')}:00Z`;
/** The gcloud v1 fixture at `time` with the ingress `ingress`, the template of the first deploy (no revision after it). */
function deploy(time: string, ingress: string): Json {
  const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
    const meta = svc['metadata'] as Record<string, Record<string, string>>;
    meta['annotations'] = { ...meta['annotations'], 'run.googleapis.com/ingress': ingress };
    const template = (svc['spec'] as Record<string, Record<string, Record<string, unknown>>>)['template']!;
    template['spec']!['containers'] = [{ name: 'app', image: 'gcr.io/acme/app:1000' }];
  });
  return at(withOperationId(entry, `op-${time}`), time);
}

const openIds = (findings: readonly Finding[]): string[] => openIdsOf(findings, RULE);
const badLifecycles = (findings: readonly Finding[]): string[] => badLifecyclesOf(findings, RULE);

describe('an older write that opened the ingress, arriving after a newer write judged against the restriction before it', () => {
  // [name, entries in timestamp order, live delivery order (indexes)]
  const cases: readonly (readonly [string, Json[], number[]])[] = [
    ['first internal, all at 10:05, all again at 10:15 delivered first', [deploy(t(0), 'internal'), deploy(t(5), 'all'), deploy(t(15), 'all')], [0, 2, 1]],
    ['the same, the older write an ingress-only update', [deploy(t(0), 'internal'), ingressOnly(t(5), 'INGRESS_TRAFFIC_ALL'), deploy(t(15), 'all')], [0, 2, 1]],
    [
      'the newer write`s finding reported for it by a late restriction',
      [deploy(t(0), 'all'), ingressOnly(t(5), 'INGRESS_TRAFFIC_INTERNAL_ONLY'), ingressOnly(t(10), 'INGRESS_TRAFFIC_ALL'), deploy(t(15), 'all')],
      [0, 3, 1, 2],
    ],
  ];
  it.each(cases)('%s: the open findings of timestamp order', async (_name, entries, order) => {
    const inOrder = await findingsOf(entries);
    const live = await findingsLive(order.map((i) => entries[i]));
    expect(openIds(inOrder)).toHaveLength(1);
    expect(openIds(live)).toEqual(openIds(inOrder));
    expect(badLifecycles(live)).toEqual([]);
    // A finding closed for this is closed no earlier than it happened.
    for (const f of live) if (f.rule === RULE && f.resolution) expect(Date.parse(f.resolution.time)).toBeGreaterThanOrEqual(Date.parse(f.eventTime));
  });

  it('nothing closed when a restriction after the newer write is known: its finding stands for the ingress opened again since', async () => {
    // late-open.test.ts seed 13: 10:10 judged against the first deploy's internal reports itself; 10:20 (all again)
    // against 10:10, nothing; 10:15 (internal), late, closes nothing (10:20 is newer). 10:05 arrives last: its own
    // finding is closed at once by 10:15, and 10:10's, closed too, would leave the ingress open at the end unreported.
    const entries = [deploy(t(0), 'internal'), deploy(t(5), 'all'), deploy(t(10), 'all'), deploy(t(15), 'internal'), deploy(t(20), 'all')];
    const inOrder = await findingsOf(entries);
    const live = await findingsLive([entries[0], entries[2], entries[4], entries[3], entries[1]]);
    expect(openIds(inOrder)).toHaveLength(1);
    expect(openIds(live)).toHaveLength(1);
    expect(badLifecycles(live)).toEqual([]);
  });

  it('nothing closed when the older write came before the restriction the newer write was judged against', async () => {
    // 10:05 opens the ingress, 10:10 restricts it, 10:20 opens it again: 10:20's finding stands.
    const entries = [deploy(t(0), 'internal'), deploy(t(5), 'all'), deploy(t(10), 'internal'), deploy(t(20), 'all')];
    const inOrder = await findingsOf(entries);
    const live = await findingsLive([entries[0], entries[2], entries[3], entries[1]]);
    expect(openIds(live)).toEqual(openIds(inOrder));
    expect(openIds(live)).toHaveLength(1);
  });
});
