// gcloud writes twice for one deploy (synthetic-seq-gcloud-double-write: two ReplaceService writes of one template,
// 14 s apart, neither naming its revision). Delivered second write first, so long before the first that its wait runs
// out and it is judged alone (its events never come), it is the deploy: the first write, arriving after it, is a
// write whose repeat was judged (detectors/revision.ts repeatedBeforeItCame), no deploy of its own. What it raises again
// about the revision (compared with the service before its own, earlier, time) must keep the id the repeat's finding
// has: keyed by its own time (no revision name to key by), it was another alert for the same deploy. (The revision's
// events delivered after both writes: test/unit/double-write-late-events.test.ts.)
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { at, renamed, synthetic, v1EnvDeploy, withV1ServiceAccount, type Json } from '../support/entries.js';
import { config, DEPLOY_RULES, findingsLive } from '../support/run.js';
import { replayedAsWritten } from '../support/replayAsWritten.js';
import { EARLIER, SA0, tag } from '../support/sameMillisecond.js';

const cfg = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }] });
const [write1, iam1, write2, iam2] = synthetic('seq-gcloud-double-write') as unknown as [Json, Json, Json, Json];
/** The deploy before: running as zero@, its image in gcr.io/acme; the double write changes both. */
const before = at(withV1ServiceAccount(v1EnvDeploy(EARLIER, [], `gcr.io/acme/app:${tag(EARLIER)}`), SA0), EARLIER, 'before');

/** The deploy rules' findings about the double write: the ids of each rule. */
function idsByRule(found: readonly Finding[]): Record<string, string[]> {
  const out: Record<string, Set<string>> = {};
  for (const f of found) if (DEPLOY_RULES.has(f.rule) && f.eventTime !== EARLIER && f.status !== 'resolved') (out[f.rule] ??= new Set()).add(f.id);
  return Object.fromEntries(Object.entries(out).map(([rule, ids]) => [rule, [...ids]]));
}

describe("gcloud's second write judged alone before its first write came: one id per rule", () => {
  it.each<[string, Json[]]>([
    ['the events never come', [before, iam1, write2, iam2, write1]],
  ])('live, an hour between entries: %s', async (_label, delivered) => {
    const ids = idsByRule(await findingsLive(delivered, cfg));
    expect(Object.keys(ids).sort()).toEqual(['new-image-repository', 'off-window-deploy', 'service-account-change']);
    for (const [rule, list] of Object.entries(ids)) expect(list, rule).toHaveLength(1);
  });

  // Replay of one file as written (reorderCapacity 0): an entry of another service an hour later moves the project's
  // clock past the second write's wait before the first write is read.
  const TICK = '2024-05-07T10:10:00Z';
  const tick = renamed(at(withV1ServiceAccount(v1EnvDeploy(TICK, [], `gcr.io/acme/tick:${tag(TICK)}`), SA0), TICK, 'tick'), [['cloud-run-slack-bot', 'cloud-run-other-service']]);
  for (const mode of ['memory', 'file'] as const) {
    it(`replay (${mode}, reorderCapacity 0): the events never come`, async () => {
      const found = await replayedAsWritten([before, iam1, write2, iam2, tick, write1], cfg, mode);
      const ids = idsByRule(found.filter((f) => !f.service.includes('other-service')));
      expect(Object.keys(ids).sort()).toEqual(['new-image-repository', 'off-window-deploy', 'service-account-change']);
      for (const [rule, list] of Object.entries(ids)) expect(list, rule).toHaveLength(1);
    });
  }
});
