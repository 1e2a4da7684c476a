// `evidence.recreatedAfterDeleteAt` names the delete between a fact of the deleted service and the re-created service's
// deploy compared with it (baseline/state.ts deletedBetween): the delete's time as its entry wrote it, sub-millisecond
// digits and all (the baseline keeps them: deletedAtN), as `eventTime` shows an entry's; not cut to the millisecond.
// A delete of a whole millisecond is shown with its three digits, as before.
import { describe, expect, it } from 'vitest';
import { deleteServiceAt, SLACK_BOT, v1EnvDeploy, v1ServiceWrite, withV1ServiceAccount, at, type Json } from '../support/entries.js';
import { findingsLive } from '../support/run.js';
import { EARLIER, SA0, SA1, tag } from '../support/sameMillisecond.js';

const LATER = '2024-05-06T23:58:04.355100Z';

const identity = (time: string, sa: string): Json => at(withV1ServiceAccount(v1EnvDeploy(time, [], `gcr.io/acme/app:${tag(time)}`), sa), time, `deploy-${time}`);
const image = (time: string, repository: string): Json => v1EnvDeploy(time, [], `${repository}/app:${tag(time)}`);
const ingress = (time: string, value: string): Json => v1ServiceWrite(time, { 'run.googleapis.com/ingress': value }, { image: `gcr.io/acme/app:${tag(time)}` });

const CASES = [
  { rule: 'service-account-change', before: identity(EARLIER, SA0), after: identity(LATER, SA1) },
  { rule: 'new-image-repository', before: image(EARLIER, 'gcr.io/acme'), after: image(LATER, 'gcr.io/other') },
  { rule: 'ingress-opened', before: ingress(EARLIER, 'internal'), after: ingress(LATER, 'all') },
] as const;

/** The delete's timestamp as written, and as the evidence must show it. */
const DELETES = [
  ['six fraction digits', '2024-05-06T23:30:00.000200Z', '2024-05-06T23:30:00.000200Z'],
  ['nine fraction digits', '2024-05-06T23:30:00.123456789Z', '2024-05-06T23:30:00.123456789Z'],
  ['a whole millisecond', '2024-05-06T23:30:00.123Z', '2024-05-06T23:30:00.123Z'],
  ['a whole second', '2024-05-06T23:30:00Z', '2024-05-06T23:30:00.000Z'],
] as const;

describe('recreatedAfterDeleteAt shows the delete to the nanosecond', () => {
  for (const c of CASES) {
    for (const [label, deleted, shown] of DELETES) {
      it(`${c.rule}: a delete at ${label}`, async () => {
        const found = (await findingsLive([c.before, deleteServiceAt(deleted, SLACK_BOT), c.after])).filter((f) => f.rule === c.rule && f.eventTime === LATER);
        expect(found.length).toBeGreaterThan(0);
        for (const f of found) {
          expect(f.evidence['recreatedAfterDeleteAt']).toBe(shown);
          expect(f.summary).toContain(shown);
        }
      });
    }
  }
});
