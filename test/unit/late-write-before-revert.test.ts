// A deploy that reverts the service to the template of the deploy before an older write (10:00 A, 11:00 B, 12:00 A
// again), judged before that older write arrives: against 10:00's template it makes no revision, and was judged as
// a traffic-only write. In timestamp order it is a deploy (B's template was in force): outside the change window it
// is reported. When the older write arrives late, the newer write is judged again for it (off-window-deploy, on its
// behalf: Detection.forNewerWrite), under the id timestamp order gives it, and once: not again when the late write or
// the newer one is delivered again, nor where the newer write was reported as a deploy when it came. With the
// service's system events, the newer write's revision has events of its own, which report it.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { generationDeploy, generationDeployEvents, withV1Image, type Json } from '../support/entries.js';
import { config, findingsLive, findingsOf } from '../support/run.js';

const RULE = 'off-window-deploy';
const A = 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com';
const B = 'other-runtime@test-project-1234.iam.gserviceaccount.com';
const C = 'third-runtime@test-project-1234.iam.gserviceaccount.com';
/** Every day 09:00-11:30 UTC: the 12:00 and 13:00 deploys are outside it. */
const CFG = config({ timezone: 'UTC', changeWindows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '09:00', end: '11:30' }] });
const t = (hhmm: string): string => `2024-05-06T${hhmm}:00Z`;

const eventsOf = generationDeployEvents;

/**
 * A deploy: its write (generationDeploy: running as `email`, image `image`) and the system events of the revision it
 * makes in timestamp order (none for a write of the template in force: Cloud Run makes no revision).
 */
interface Deploy {
  readonly write: Json;
  readonly events: readonly Json[];
}
function deploy(hhmm: string, email: string, generation: number, image?: string, makesRevision = true): Deploy {
  const time = t(hhmm);
  const write = image === undefined ? generationDeploy(time, email, generation) : withV1Image(generationDeploy(time, email, generation), image);
  return { write, events: makesRevision ? eventsOf(time, email, generation) : [] };
}
/** A write of the template in force, in timestamp order: no revision, no events. */
function sameTemplate(hhmm: string, email: string, generation: number): Deploy {
  return deploy(hhmm, email, generation, undefined, false);
}

/** The entries of `deploys` in the delivery order `order` (indexes), each write followed by its events when asked. */
function delivered(deploys: readonly Deploy[], order: readonly number[], withEvents: boolean): Json[] {
  return order.flatMap((i) => (withEvents ? [deploys[i]!.write, ...deploys[i]!.events] : [deploys[i]!.write]));
}

/**
 * The rule's findings as `id time`, sorted: what a sink shows. `time: false`: without the time, for a deploy reported
 * from its revision's events where timestamp order reports it with its write (at the first event's time, the same id).
 */
function shown(findings: readonly Finding[], time = true): string[] {
  return findings
    .filter((f) => f.rule === RULE)
    .map((f) => (time ? `${f.id} ${new Date(f.eventTime).toISOString()}` : f.id))
    .sort();
}

const REVERT = [deploy('10:00', A, 1), deploy('11:00', B, 2), deploy('12:00', A, 3)];
// 12:00 runs the 09:30 template again, not 10:00's (C): delivered before 10:00 and 11:00, it was judged against 09:30's.
const REVERT_FURTHER = [deploy('09:30', A, 1), deploy('10:00', C, 2), deploy('11:00', B, 3), deploy('12:00', A, 4)];
// 13:00 writes 12:00's template again: a traffic-only write in timestamp order too.
const REVERT_THEN_SAME = [...REVERT, sameTemplate('13:00', A, 4)];
// 11:00 writes 10:00's template again: nothing changes, 12:00 is a traffic-only write in timestamp order too.
const NO_CHANGE = [deploy('10:00', A, 1), sameTemplate('11:00', A, 2), sameTemplate('12:00', A, 3)];
// 11:15 (in the window) writes a third template between the two.
const TWO_LATE = [deploy('10:00', A, 1), deploy('11:00', B, 2), deploy('11:15', C, 3, 'gcr.io/test-project-1234/bot:2'), deploy('12:00', A, 4)];

// The service's first deploy comes first: a write of a service the baseline has not seen counts as a deploy
// (off-window-deploy's blind spot), whenever it happened.
const THREE = [
  [0, 1, 2],
  [0, 2, 1],
];

// [name, deploys in timestamp order, live delivery orders, how many off-window deploys timestamp order reports]
const cases: readonly (readonly [string, readonly Deploy[], readonly (readonly number[])[], number])[] = [
  ['10:00 A, 11:00 B, 12:00 A again', REVERT, THREE, 1],
  ['a revert to a template not the one before', REVERT_FURTHER, [[0, 1, 3, 2], [0, 3, 1, 2], [0, 3, 2, 1], [0, 2, 3, 1]], 1],
  ['the revert written again at 13:00', REVERT_THEN_SAME, [[0, 2, 3, 1], [0, 3, 2, 1]], 1],
  ['the older write keeps the template', NO_CHANGE, THREE, 0],
  ['two late writes between the two', TWO_LATE, [[0, 3, 1, 2], [0, 3, 2, 1], [0, 2, 3, 1], [0, 1, 3, 2]], 1],
];

describe('a late write that changes the template before a newer write judged as making no revision', () => {
  for (const withEvents of [false, true]) {
    describe(withEvents ? 'with system events' : 'admin writes alone', () => {
      for (const [name, deploys, orders, count] of cases) {
        it.each(orders.map((order) => [order.join(',')] as const))(`${name}: delivered %s, the findings of timestamp order`, async (text) => {
          const order = text.split(',').map(Number);
          const inOrder = await findingsOf(delivered(deploys, deploys.map((_, i) => i), withEvents), CFG);
          expect(shown(inOrder)).toHaveLength(count);
          // A second between deliveries: each deploy's events come within its wait, and a late write still waits for
          // its events when the next entry comes.
          // With events, a write judged as no revision when it came is reported from its revision's events.
          expect(shown(await findingsLive(delivered(deploys, order, withEvents), CFG, undefined, 1000), !withEvents)).toEqual(shown(inOrder, !withEvents));
          // An hour between them (writes alone): each write is judged before the next entry comes.
          if (!withEvents) expect(shown(await findingsLive(delivered(deploys, order, withEvents), CFG))).toEqual(shown(inOrder));
        });
      }
    });
  }

  // Known limit: 10:00, 13:00, then 11:00 late: 13:00 is the next write after it, and a deploy with 11:00's template
  // before it, so it is reported for it; 12:00, which came later still, was the deploy (13:00 wrote its template
  // again). What came when is not kept, nor that a write between the two is still to come: reported, not left out.
  it('two writes late, the later of them the deploy: the write after both is reported too', async () => {
    const entries = REVERT_THEN_SAME.map((d) => d.write);
    const inOrder = shown(await findingsOf(entries, CFG));
    const live = await findingsLive([0, 3, 1, 2].map((i) => entries[i]!), CFG);
    expect(shown(live)).toEqual([...inOrder, ...shown(live.filter((f) => f.eventTime === t('13:00')))].sort());
    expect(live.filter((f) => f.rule === RULE && f.eventTime === t('13:00')).map((f) => f.principal)).toEqual(['unknown']);
  });

  it('reported once: the late write delivered again, then the newer write delivered again', async () => {
    const [d1, d2, d3] = REVERT.map((d) => d.write);
    const inOrder = await findingsOf([d1, d2, d3], CFG);
    expect(shown(await findingsLive([d1!, d3!, d2!, d2!, d3!], CFG))).toEqual(shown(inOrder));
  });

  it('the newer write`s time, principal unknown; a principal exception cannot hold it back (who made it is not kept)', async () => {
    const [d1, d2, d3] = REVERT.map((d) => d.write);
    const found = (await findingsLive([d1!, d3!, d2!], CFG)).filter((f) => f.rule === RULE);
    expect(found.map((f) => [f.eventTime, f.principal])).toEqual([[t('12:00'), 'unknown']]);
    // The same service exempt: held back, as in timestamp order.
    const exempt = config({ ...rawConfig(), rules: { [RULE]: { exceptions: [{ service: 'test-project-1234/cloud-run-slack-bot' }] } } });
    expect((await findingsLive([d1!, d3!, d2!], exempt)).filter((f) => f.rule === RULE)).toEqual([]);
    // Exempt by the principal who made every write: timestamp order holds 12:00 back; arriving late, who made it is not known.
    const principal = String((d3!['protoPayload'] as Record<string, Record<string, unknown>>)['authenticationInfo']!['principalEmail']);
    const byPrincipal = config({ ...rawConfig(), rules: { [RULE]: { exceptions: [{ principal }] } } });
    expect((await findingsOf([d1!, d2!, d3!], byPrincipal)).filter((f) => f.rule === RULE)).toEqual([]);
    expect((await findingsLive([d1!, d3!, d2!], byPrincipal)).filter((f) => f.rule === RULE).map((f) => f.principal)).toEqual(['unknown']);
  });
});

function rawConfig(): Record<string, unknown> {
  return { timezone: 'UTC', changeWindows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '09:00', end: '11:30' }] };
}
