// A v2 write and its revision's events join as soon as the second of them comes when the revision was created within
// CREATED_DECIDES_MS (5 s) of the write: the deploy is reported then, not when the wait (600 s) runs out. Real entries
// show 131-143 ms between a write and its revision's creation, but that figure comes from creates; how long an update
// takes to create its revision under a loaded control plane is not known from any real pair, so a second or two must
// not hold every alert back ten minutes. Only a revision created 5-10 s after a write waits for a closer write that
// may still come (creation-time-closer-write). Each case: the write, then its revision's events 20 s later (or the
// other way round), nothing else: the findings must be out before any sweep.
import { describe, expect, it } from 'vitest';
import { createdAfter, createdAt } from '../support/entries.js';
import { config, findingsArriving } from '../support/run.js';
import { BEFORE, deployOf, revisionEvent, v2Write } from '../support/v2Deploys.js';

const cfg = config({ changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }] });
const CI = 'deployer@acme-ci.iam.gserviceaccount.com';
const START = Date.parse('2024-06-03T11:00:00Z');
const arrival = (seconds: number): string => new Date(Date.parse('2030-01-01T00:00:00Z') + seconds * 1000).toISOString();

describe('a v2 write and a revision created within 5 s of it are one deploy at once', () => {
  it.each([
    [140, 'write first'],
    [1_500, 'write first'],
    [2_000, 'write first'],
    [4_900, 'write first'],
    [1_500, 'events first'],
    [4_900, 'events first'],
  ] as const)('revision created %i ms after its write, %s: reported before any sweep', async (createdMs, order) => {
    const deploy = deployOf(2, START, CI, 20_000);
    const write = v2Write(deploy);
    const events = createdAt(revisionEvent(deploy), createdAfter(deploy.time, createdMs));
    const [first, second] = order === 'write first' ? [write, events] : [events, write];
    const findings = await findingsArriving(
      [
        [BEFORE[0]!, arrival(-3600)],
        [BEFORE[1]!, arrival(-3599)],
        [first, arrival(0)],
        [second, arrival(20)],
      ],
      cfg,
      undefined,
      false,
    );
    // The create before it (BEFORE) is off-window too; this deploy's finding must be out, with its revision.
    const offWindow = findings.filter((f) => f.rule === 'off-window-deploy' && Date.parse(f.eventTime) === Date.parse(deploy.time));
    expect(offWindow.map((f) => f.revision)).toEqual([deploy.revision]);
  });
});
