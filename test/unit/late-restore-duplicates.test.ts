// A restore that arrives last, after the newer write that set the risk again and after two older writes that set it
// (each judged late), must leave one finding open for the risk, not two: timestamp order has one. For the four rules
// whose setting a late write can take away and give back (revision.ts settingRestored, supersededFindings):
// ingress-opened, iap-disabled, default-url-enabled, binary-authorization-bypass. No delete anywhere.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { findingsLive, findingsOf } from '../support/run.js';
import { activeAtEnd, lastVersions, SETTING_WRITES, type SettingWrite } from '../support/settingWrites.js';

type Write = SettingWrite;

const WRITES: Readonly<Record<string, Write>> = SETTING_WRITES;

/** After a safe write at 09:00 (the baseline): entries `HH:MM risky|safe`, in timestamp order and live in `order`. */
async function run(rule: string, steps: readonly string[], order: readonly string[]): Promise<{ inOrder: Finding[]; live: Finding[] }> {
  const write = WRITES[rule]!;
  const entries = new Map(
    steps.map((step) => {
      const [hm, kind] = step.split(' ') as [string, string];
      return [hm, write(`2024-05-04T${hm}:00Z`, kind === 'risky')];
    }),
  );
  const baseline = write('2024-05-04T09:00:00Z', false);
  return { inOrder: await findingsOf([baseline, ...entries.values()]), live: await findingsLive([baseline, ...order.map((hm) => entries.get(hm)!)]) };
}

describe('a late restore leaves one finding open for the risk set again after it, not two', () => {
  // risky 10:00, risky 10:10, safe 10:20, risky 10:30, delivered 10:30, 10:10, 10:00, 10:20. 10:30 was judged first
  // and reported itself; 10:10, arriving next, closed it (the setting before 10:30 read as 10:10's: supersededFindings)
  // and opened its own for the risk newer writes hold; 10:00 opened its own too (a late turn-off standing for newer
  // writes' risk, which no older write closes). 10:20, not the newest word, closed nothing: 10:00 and 10:10 stayed
  // active in every sink for the one risk 10:30 holds, both naming a change 10:20 ended. Timestamp order has one open
  // (10:30's) and closes 10:00's at 10:20. (iap-disabled and binary-authorization-bypass matched timestamp order
  // before 01ca032 made a late turn-off close the newer write's finding.)
  it.each(Object.keys(WRITES))('%s', async (rule) => {
    const { inOrder, live } = await run(rule, ['10:00 risky', '10:10 risky', '10:20 safe', '10:30 risky'], ['10:30', '10:10', '10:00', '10:20']);
    expect(activeAtEnd(inOrder, rule)).toEqual(['10:30']);
    expect(activeAtEnd(live, rule)).toHaveLength(1);
    // 10:00's risk ended at 10:20, in the restore's words, as timestamp order says.
    const closed = lastVersions(live, rule).get('10:00')!;
    const closedInOrder = lastVersions(inOrder, rule).get('10:00')!;
    expect(closed.status).toBe('resolved');
    expect({ time: closed.resolution?.time, reason: closed.resolution?.reason }).toEqual({ time: closedInOrder.resolution?.time, reason: closedInOrder.resolution?.reason });
  });
});
