// A delete delivered out of order among the writes of the deleted service and of the one created again under the name
// must not leave a stale finding active beside the one that stands for the risk: timestamp order has one finding open
// for the re-created service's risk, and so must every sink. For the four rules whose setting carries across the delete
// (revision.ts settingRestored): ingress-opened, iap-disabled, default-url-enabled, binary-authorization-bypass.
// (late-delete-property.test.ts compares the findings open at the end over random histories and every order.)
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { deleteServiceAt, SLACK_BOT, type Json } from '../support/entries.js';
import { findingsLive, findingsOf } from '../support/run.js';
import { activeAtEnd, lastVersions, SETTING_WRITES, type SettingWrite } from '../support/settingWrites.js';

type Write = SettingWrite;

const WRITES: Readonly<Record<string, Write>> = SETTING_WRITES;

/** The entries of a history (after a safe write at 09:00, the baseline): `HH:MM risky|safe|delete`. */
function entriesOf(write: Write, steps: readonly string[]): Map<string, Json> {
  return new Map(
    steps.map((step) => {
      const [hm, kind] = step.split(' ') as [string, string];
      const time = `2024-05-04T${hm}:00Z`;
      return [hm, kind === 'delete' ? deleteServiceAt(time, SLACK_BOT) : write(time, kind === 'risky')];
    }),
  );
}

async function run(rule: string, steps: readonly string[], order: readonly string[]): Promise<{ inOrder: Finding[]; live: Finding[] }> {
  const write = WRITES[rule]!;
  const baseline = write('2024-05-04T09:00:00Z', false);
  const entries = entriesOf(write, steps);
  const inOrder = await findingsOf([baseline, ...entries.values()]);
  const live = await findingsLive([baseline, ...order.map((hm) => entries.get(hm)!)]);
  return { inOrder, live };
}

describe('a late delete keeps one finding of the deleted service open for the re-created risk, not every one', () => {
  // risky 10:00, risky 10:10, delete 10:20, risky 10:30: the re-created write at 10:30, judged before the delete came
  // against 10:10's value, raised nothing; timestamp order reports it again (riskClosedByDelete). Delivered so that both
  // 10:00 and 10:10 have a finding open when the delete comes (a late write's finding stands for the risk newer writes
  // hold, and no older write closes it), the delete kept both open for the one re-created risk, and neither ever closed:
  // two active findings in every sink. One (the newest) stands for the risk; the other is closed by the delete, as in
  // timestamp order. (iap-disabled and binary-authorization-bypass showed it first with 10:10, 10:30, 10:00, delete:
  // since a late turn-off closes the findings of newer ones judged against an older IAP on or policy, 10:00 closes
  // 10:10's there, and one is open when the delete comes.)
  it.each([
    ['ingress-opened', ['10:30', '10:10', '10:00', '10:20']],
    ['iap-disabled', ['10:30', '10:10', '10:00', '10:20']],
    ['default-url-enabled', ['10:30', '10:10', '10:00', '10:20']],
    ['binary-authorization-bypass', ['10:30', '10:10', '10:00', '10:20']],
  ] as const)('%s delivered %j', async (rule, order) => {
    const { inOrder, live } = await run(rule, ['10:00 risky', '10:10 risky', '10:20 delete', '10:30 risky'], order);
    expect(activeAtEnd(inOrder, rule)).toEqual(['10:30']);
    // One finding stands for the risk (another id than timestamp order's: 10:30's write raised nothing).
    expect(activeAtEnd(live, rule)).toEqual(['10:10']);
    // 10:00's finding is closed as timestamp order closes it: at the delete, "the service was deleted".
    const closed = lastVersions(live, rule).get('10:00')?.resolution;
    expect(closed && { time: closed.time, reason: closed.reason }).toEqual({ time: lastVersions(inOrder, rule).get('10:00')?.resolution?.time, reason: 'the service was deleted' });
  });
});

describe('the re-created service\'s first write, arriving late, closes the findings of newer re-created writes that keep its risk', () => {
  // risky 10:00, delete 10:10, then re-created writes that all set the risk: timestamp order reports the first (10:20,
  // judged against 10:00's value, whose finding the delete closed: riskClosedByDelete) and nothing for the ones after
  // it, judged against it. Delivered newest first, a newer one raised its own finding (judged against the baseline, or
  // the deleted service's value); when 10:20 came and raised its own, that one stayed active beside it for good: the
  // newer write's value before it was the deleted service's risky 10:00, which supersededFindings took for one its
  // finding could not have been judged against. (The same with a late finding standing for newer writes' risk, 10:30's
  // in the second history.) iap-disabled and binary-authorization-bypass: see the next table.
  it.each([
    ['ingress-opened', ['10:00 risky', '10:10 delete', '10:20 risky', '10:30 risky'], ['10:30', '10:10', '10:00', '10:20']],
    ['default-url-enabled', ['10:00 risky', '10:10 delete', '10:20 risky', '10:30 risky'], ['10:30', '10:10', '10:00', '10:20']],
    ['ingress-opened', ['10:00 risky', '10:10 delete', '10:20 risky', '10:30 risky', '10:40 risky'], ['10:40', '10:30', '10:10', '10:00', '10:20']],
    ['default-url-enabled', ['10:00 risky', '10:10 delete', '10:20 risky', '10:30 risky', '10:40 risky'], ['10:40', '10:30', '10:10', '10:00', '10:20']],
  ] as const)('%s: %j delivered %j', async (rule, steps, order) => {
    const { inOrder, live } = await run(rule, steps, order);
    expect(activeAtEnd(inOrder, rule)).toEqual(['10:20']);
    expect(activeAtEnd(live, rule)).toEqual(['10:20']);
    // 10:30's finding (none in timestamp order) is closed at its own time, for the older write that set the risk first.
    const closed = lastVersions(live, rule).get('10:30')!;
    expect(closed.resolution?.time).toBe(closed.eventTime);
    expect(closed.resolution?.reason).toContain('an older write at 2024-05-04T10:20:00Z, which arrived later');
  });
});

describe('a late turn-off closes the findings of newer writes judged against an older IAP on or policy enforced', () => {
  // The root of the duplicates above for iap-disabled and binary-authorization-bypass, with or without a delete:
  // safe 09:00, risky 10:00, risky 10:10 delivered 10:10 first: 10:10, judged against 09:00, raised its finding; 10:00,
  // arriving later, raised its own (a risk newer writes hold) and closed nothing of the rule (nothing older did), so
  // both stayed active for one risk, where timestamp order judged 10:10 against 10:00 and raised nothing. The same for
  // two writes of the service created again, the older arriving after the newer (each judged against the deleted
  // service's value). ingress-opened and default-url-enabled close such findings already (supersededFindings).
  it.each([
    ['iap-disabled', ['10:00 risky', '10:10 risky'], ['10:10', '10:00'], '10:00'],
    ['binary-authorization-bypass', ['10:00 risky', '10:10 risky'], ['10:10', '10:00'], '10:00'],
    ['iap-disabled', ['10:00 safe', '10:10 delete', '10:20 risky', '10:30 risky'], ['10:30', '10:20', '10:10', '10:00'], '10:20'],
    ['binary-authorization-bypass', ['10:00 safe', '10:10 delete', '10:20 risky', '10:30 risky'], ['10:30', '10:20', '10:10', '10:00'], '10:20'],
  ] as const)('%s: %j delivered %j', async (rule, steps, order, standing) => {
    const { inOrder, live } = await run(rule, steps, order);
    expect(activeAtEnd(inOrder, rule)).toEqual([standing]);
    expect(activeAtEnd(live, rule)).toEqual([standing]);
    // The newer write's finding (none in timestamp order) is closed at its own time, for the older write.
    const newer = [...lastVersions(live, rule).entries()].find(([time]) => time > standing)![1];
    expect(newer.resolution?.time).toBe(newer.eventTime);
    expect(newer.resolution?.reason).toContain(`an older write at 2024-05-04T${standing}:00Z, which arrived later`);
  });
});
