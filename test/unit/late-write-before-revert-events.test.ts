// The revert of late-write-before-revert.test.ts (10:00 A, 11:00 B, 12:00 A again, delivered 10:00, 12:00, 11:00),
// where no system event of the service was seen before the late write: the late write reports the 12:00 deploy on its
// behalf (Detection.forNewerWrite, keyed by its time). When the 12:00 revision's events come after that, later than
// the wait, they are that deploy: not reported again under the revision's name.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { generationDeploy, generationDeployEvents, type Json } from '../support/entries.js';
import { config, findingsLive } from '../support/run.js';

const RULE = 'off-window-deploy';
const A = 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com';
const B = 'other-runtime@test-project-1234.iam.gserviceaccount.com';
/** Every day 09:00-11:30 UTC: the 12:00 deploy is outside it. */
const CFG = config({ timezone: 'UTC', changeWindows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '09:00', end: '11:30' }] });
const t = (hhmm: string): string => `2024-05-06T${hhmm}:00Z`;

const eventsOf = generationDeployEvents;

const W10 = generationDeploy(t('10:00'), A, 1);
const W11 = generationDeploy(t('11:00'), B, 2);
const W12 = generationDeploy(t('12:00'), A, 3);
const [R12, S12] = eventsOf(t('12:00'), A, 3);
const [R11, S11] = eventsOf(t('11:00'), B, 2);

/** The rule's findings as `id time`, sorted: what a sink shows. */
function shown(findings: readonly Finding[]): string[] {
  return findings
    .filter((f) => f.rule === RULE)
    .map((f) => `${f.id} ${new Date(f.eventTime).toISOString()}`)
    .sort();
}

// [name, entries as delivered, an hour apart: each later than the wait of the one before]
const cases: readonly (readonly [string, readonly Json[]])[] = [
  ['the revision event, then the service event', [W10, W12, W11, R12, S12]],
  ['the service event, then the revision event', [W10, W12, W11, S12, R12]],
  ['the revision event alone', [W10, W12, W11, R12]],
  ['the late write`s own events first', [W10, W12, W11, R11, S11, R12, S12]],
  ['the events delivered again', [W10, W12, W11, R12, S12, R12, S12]],
  ['the late write delivered again between them', [W10, W12, W11, R12, W11, S12]],
];

// A system event of the service seen before the late write: the late write judges nothing for 12:00 (its revision's
// events will): they report it, once, under the revision's name. [name, entries as delivered]
const eventsReport: readonly (readonly [string, readonly Json[]])[] = [
  ['the events first, then the late write', [W10, W12, R12, S12, W11]],
  ['the late write`s own events before it', [W10, W12, R11, S11, W11, R12, S12]],
];

describe('a deploy reported for a newer write by a late write, its revision`s events later than the wait', () => {
  it.each(cases.map(([name, entries]) => [name, entries] as const))('%s: reported once, under the id the late write gave it', async (_name, entries) => {
    const live = await findingsLive(entries, CFG);
    const beforeEvents = await findingsLive([W10, W12, W11], CFG);
    expect(shown(beforeEvents)).toHaveLength(1);
    expect(shown(live)).toEqual(shown(beforeEvents));
  });

  it.each(eventsReport.map(([name, entries]) => [name, entries] as const))('%s: reported once, from the events', async (_name, entries) => {
    const live = (await findingsLive(entries, CFG)).filter((f) => f.rule === RULE);
    expect(live.map((f) => Date.parse(f.eventTime))).toEqual([Date.parse(t('12:00')) + 13_000]);
  });
});
