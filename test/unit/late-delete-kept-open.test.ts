// A finding a late delete left open for the risk of the service created again (revision.ts keptOpenByLateDelete:
// dated before the delete, it stood for the re-created service's risk while no finding of that service did) is closed,
// as the delete closed it in timestamp order, once a finding of the re-created service stands for the risk. History:
// safe 09:00, risky 10:00, delete 10:10, safe 10:20, risky 10:30, delivered 10:30, 10:00, the delete, 10:20 (helper CZ's
// order): 10:00 closes 10:30's finding ("an older write had it"), the late delete keeps 10:00's open for the risk
// again, and 10:20, the restriction between, reports 10:30's finding again. Timestamp order ends with 10:30's alone.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { deleteServiceAt, SLACK_BOT } from '../support/entries.js';
import { findingsLive, findingsOf } from '../support/run.js';
import { SETTING_WRITES } from '../support/settingWrites.js';

/** The ids of the rule's findings active at the end, with their eventTimes. */
function activeAtEnd(findings: readonly Finding[], rule: string): string[] {
  const last = new Map<string, Finding>();
  for (const f of findings) if (f.rule === rule) last.set(f.id, f);
  return [...last.values()].filter((f) => (f.status ?? 'active') === 'active').map((f) => `${f.eventTime} ${f.id}`).sort();
}

const RULES = Object.entries(SETTING_WRITES);

describe('a finding a late delete kept open for the re-created risk closes once a re-created finding stands for it', () => {
  it.each(RULES)('%s', async (rule, write) => {
    const safe0900 = write('2024-05-04T09:00:00Z', false);
    const risky1000 = write('2024-05-04T10:00:00Z', true);
    const deleted = deleteServiceAt('2024-05-04T10:10:00Z', SLACK_BOT);
    const safe1020 = write('2024-05-04T10:20:00Z', false);
    const risky1030 = write('2024-05-04T10:30:00Z', true);
    const inOrder = activeAtEnd(await findingsOf([safe0900, risky1000, deleted, safe1020, risky1030]), rule);
    const live = activeAtEnd(await findingsLive([safe0900, risky1030, risky1000, deleted, safe1020]), rule);
    expect(inOrder.map((f) => f.slice(11, 16))).toEqual(['10:30']);
    expect(live).toEqual(inOrder);
  });
});

describe('a late restore closes the findings dated before it where a finding dated after it stands for the risk', () => {
  // safe 09:00, risky 10:00, safe 10:10, risky 10:20, delivered 09:00, 10:20, 10:00, 10:10: the restore at 10:10 comes
  // after a newer write set the risk again, so it is not the newest word, and it closed nothing. Where 10:20's own
  // finding is open (iap-disabled, binary-authorization-bypass: nothing older closes it), 10:00's stayed active beside
  // it, where timestamp order closed it at 10:10. (Where no finding after it is open, the older one stands for the risk.)
  it.each(RULES)('%s', async (rule, write) => {
    const entries = [write('2024-05-04T09:00:00Z', false), write('2024-05-04T10:00:00Z', true), write('2024-05-04T10:10:00Z', false), write('2024-05-04T10:20:00Z', true)];
    const inOrder = activeAtEnd(await findingsOf(entries), rule);
    const live = activeAtEnd(await findingsLive([0, 3, 1, 2].map((i) => entries[i]!)), rule);
    expect(inOrder.map((f) => f.slice(11, 16))).toEqual(['10:20']);
    expect(live).toHaveLength(1);
  });
});
