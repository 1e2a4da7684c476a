// The late half of a v1 deploy judged without its system events (they came after its wait) is that deploy's: it
// stands in the service's order of deploys where its write does, not where its events' time puts it. A deploy made
// after the write but before the late events, still waiting for its own, must not be judged first: its revision
// carries the variables the late revision brought in (a later deploy keeps the service's template), and judged
// first it takes the findings of that revision, under its own principal and time, and the revision that brought them
// in is judged as bringing in nothing. An attacker who deploys from the console with a slow startup probe (its events
// after the wait) then sees the risk blamed on whoever deploys next.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../../functions/findings/finding.js';
import { at, byPrincipal, consoleEnvSequence, v1EnvDeploy, type EnvList, type Json } from '../../support/entries.js';
import { config, findingsArriving, findingsOf } from '../../support/run.js';

const RISKY: EnvList = [
  { name: 'DB_PASSWORD', value: 'hunter2-but-longer' },
  { name: 'LD_PRELOAD', value: '/mnt/nfs/libhook.so' },
];
const cfg = config({ changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }], rules: { 'unapproved-deployer': { allowedDeployers: ['serviceAccount:*'] } } });
const CI = 'ci@test-project-1234.iam.gserviceaccount.com';

const before = v1EnvDeploy('2024-05-06T20:00:00Z', [], 'gcr.io/acme/app:1');
// The console deploy (22:58:04, masatonaka1989@gmail.com): its revision's events 20 minutes later, after its wait.
const [consoleWrite, revisionEvent, serviceEvent] = consoleEnvSequence(RISKY) as [Json, Json, Json];
const lateRevisionEvent = at(revisionEvent, '2024-05-06T23:18:17Z', 'late-revision');
const lateServiceEvent = at(serviceEvent, '2024-05-06T23:18:19Z', 'late-service');
// CI's gcloud deploy at 23:10 of a new image, the service's variables carried over; its own events still to come.
const ciDeploy = byPrincipal(v1EnvDeploy('2024-05-06T23:10:00Z', RISKY, 'gcr.io/acme/app:2'), CI);

const ENV_RULES = new Set(['plaintext-secret-env', 'code-loading-env']);
const envFindings = (found: readonly Finding[]): string[][] => found.filter((f) => ENV_RULES.has(f.rule)).map((f) => [f.rule, f.principal, f.revision ?? '-']);

function live(entries: readonly [Json, string][]): Promise<Finding[]> {
  return findingsArriving(entries, cfg);
}

describe('the late half of a console deploy, a later deploy waiting when it comes', () => {
  const expected = [
    ['code-loading-env', 'masatonaka1989@gmail.com', 'cloud-run-slack-bot-00023-kiv'],
    ['plaintext-secret-env', 'masatonaka1989@gmail.com', 'cloud-run-slack-bot-00023-kiv'],
  ];

  it('replay: the late revision\'s variables are judged as its own', async () => {
    const found = await findingsOf([before, consoleWrite, ciDeploy, lateRevisionEvent, lateServiceEvent], cfg);
    expect(envFindings(found).filter((f) => f[2] === 'cloud-run-slack-bot-00023-kiv').sort()).toEqual(expected);
  });

  it('live: the same', async () => {
    const found = await live([
      [before, '2024-05-06T20:00:01Z'],
      [consoleWrite, '2024-05-06T22:58:05Z'],
      [ciDeploy, '2024-05-06T23:10:01Z'],
      [lateRevisionEvent, '2024-05-06T23:18:18Z'],
      [lateServiceEvent, '2024-05-06T23:18:20Z'],
    ]);
    expect(envFindings(found).filter((f) => f[2] === 'cloud-run-slack-bot-00023-kiv').sort()).toEqual(expected);
  });

  it('guard: without the later deploy the late half is judged so already', async () => {
    const found = await findingsOf([before, consoleWrite, lateRevisionEvent, lateServiceEvent], cfg);
    expect(envFindings(found).sort()).toEqual(expected);
  });
});
