// An older write that arrives after newer ones closes their findings as never so (revision.ts supersededFindings: the
// setting before them was its own, and its own finding stands for the risk they hold). Where a principal exception
// (`rules.<rule>.exceptions`) holds that older write's finding back, nothing stands for the risk: a write between them
// that ended it, arriving later still, showed the newer write's finding right after all, and no sink had one open
// while the service held the risk. For the four rules whose setting a late write can take away and give back:
// ingress-opened, iap-disabled, default-url-enabled, binary-authorization-bypass. No delete anywhere.
import { describe, expect, it } from 'vitest';
import { byPrincipal, type Json } from '../support/entries.js';
import { config, findingsLive, findingsOf } from '../support/run.js';
import { activeAtEnd, SETTING_WRITES, type SettingWrite } from '../support/settingWrites.js';

type Write = SettingWrite;

const WRITES: Readonly<Record<string, Write>> = SETTING_WRITES;

const EXEMPT = 'release-bot@acme-prod.iam.gserviceaccount.com';
describe('an older write held back by a principal exception closes no newer finding as never so', () => {
  // Safe 09:00 (the baseline), risky 10:00 by the exempt principal, safe 10:10, risky 10:20 by another, delivered 10:20,
  // 10:00, 10:10. Timestamp order: 10:00 held back, 10:10 ends it, 10:20 raises its finding, open at the end. Live:
  // 10:20, judged against 09:00, raised its finding; 10:00 closed it ("... an older write at 10:00, which arrived
  // later ...") and raised none (held back); 10:10, not the newest word, closed nothing and reported nothing (10:20 may
  // have reported itself). The service held the risk 10:20 set with nothing open in any sink. (ingress-opened and
  // default-url-enabled did so before 01ca032; it gave iap-disabled and binary-authorization-bypass the same step.)
  it.each(Object.keys(WRITES))('%s', async (rule) => {
    const write = WRITES[rule]!;
    const entries = new Map<string, Json>([
      ['10:00', byPrincipal(write('2024-05-04T10:00:00Z', true), EXEMPT)],
      ['10:10', write('2024-05-04T10:10:00Z', false)],
      ['10:20', write('2024-05-04T10:20:00Z', true)],
    ]);
    const baseline = write('2024-05-04T09:00:00Z', false);
    const cfg = config({ rules: { [rule]: { exceptions: [{ principal: EXEMPT }] } } });
    const inOrder = await findingsOf([baseline, ...entries.values()], cfg);
    const live = await findingsLive([baseline, ...['10:20', '10:00', '10:10'].map((hm) => entries.get(hm)!)], cfg);
    expect(activeAtEnd(inOrder, rule)).toEqual(['10:20']);
    expect(activeAtEnd(live, rule)).toEqual(['10:20']);
  });
});
