// A v2 write judged without its revision's events (they came after its wait), and another deploy of the service made
// between the write and those events, judged before they come: live, an hour between deliveries, delivered W3, W2, E2
// (W2 at 11:00:00, W3 at 11:00:30 by the same principal or another, E2, W2's revision's events, at 11:00:40). Nothing
// but time and principal ties a v2 write to its events: E2 is W2's late half (CompletedRollout.otherHalf). It is
// judged at W2's instant, where what it brought in is recorded: W2's service account (storefront-2) was in force
// there, so nothing is raised again, and W3's change (storefront-2 -> storefront-3, reported as storefront ->
// storefront-3: W3 was judged first), which is in force after it in time order, stays open. Judged at its own time
// (after W3) it raised service-account-change storefront-3 -> storefront-2 under W2's revision and closed W3's finding.
// Minimized from creation-time-orders (its lateHalfAfterAnotherDeploy space). The same holds for what a late half
// brings in that a deploy between took away again (a secret in plain text): a v1 console deploy's late events (tied
// to it by operation id) and a v2 write's (by time and principal), after a deploy that dropped the secret was judged.
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { Finding } from '../../functions/findings/finding.js';
import { at, byPrincipal, consoleEnvSequence, creatorIs, renamed, SEQ_V2_EVENT_OPERATION, SEQ_V2_REVISION, synthetic, v1EnvDeploy, v2EnvUpdate, variant, type Json } from '../support/entries.js';
import { config, findingsArriving, findingsLive } from '../support/run.js';
import { BEFORE, deployOf, JUDGED, PRINCIPALS, revisionEvent, shown, shownFor, v2Write, violations, type Deploy } from '../support/v2Deploys.js';

const cfg = config({
  changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }],
  rules: { 'unapproved-deployer': { allowedDeployers: ['nobody@acme.com'] } },
});
const [CI, CONSOLE] = PRINCIPALS;

/** A deploy reported from its write alone (its events, later, are its late half: nothing more). */
function fromWrite(d: Deploy): string[] {
  return shownFor(d, d.time, 'write alone');
}

/** Each finding of the judged rules closed: rule, when, and the identity it reported. */
function closed(found: readonly Finding[]): string[] {
  return found
    .filter((f) => (JUDGED as readonly string[]).includes(f.rule) && f.service === 'storefront' && f.status === 'resolved')
    .map((f) => `${f.rule} ${new Date(f.eventTime).toISOString()} ${String((f.evidence as Record<string, unknown>)['after'] ?? '')}`.trim())
    .sort();
}

const CASES = [CI, CONSOLE].map((second) => {
  const d2 = deployOf(2, Date.parse('2024-06-03T11:00:00Z'), CI, 40_000);
  const d3 = deployOf(3, Date.parse('2024-06-03T11:00:30Z'), second, 30_000);
  return [second === CI ? 'the same principal' : 'another principal', d2, d3] as const;
});

describe('a late half judged at its write, after another deploy made between the write and its events', () => {
  it.each(CASES)('live, W3, W2, E2 (W3 by %s): each deploy reported once; W3\'s finding stays open', async (_label, d2, d3) => {
    const found = await findingsLive([...BEFORE, v2Write(d3), v2Write(d2), revisionEvent(d2)], cfg, undefined, 3_600_000);
    expect(shown(found)).toEqual([...fromWrite(d2), ...fromWrite(d3)].sort());
    // W2's finding is reported and closed at once (W3, newer, applied before it came, changed the identity again);
    // W3's, in force, is not closed.
    expect(closed(found)).toEqual([`service-account-change ${d2.time} ${d2.serviceAccount}`]);
    expect(violations(found, [d2, d3])).toEqual([]);
  });
});

describe('what a late half brought in, taken away by a deploy made between its write and its events', () => {
  const SECRET = { name: 'DB_PASSWORD', value: 'hunter2-but-longer' };
  /** The plaintext-secret-env findings of `principal`: status, when, and when closed. */
  const secretsOf = (found: readonly Finding[], principal: string): string[] =>
    found
      .filter((f) => f.rule === 'plaintext-secret-env' && f.principal === principal)
      .map((f) => `${f.status ?? 'active'} ${f.eventTime}${f.resolution ? ` closed at ${f.resolution.time}` : ''}`);

  it('v1: a console deploy (its write logs no containers) whose late events bring a secret CI dropped meanwhile: reported and closed at once', async () => {
    // The console write at 22:58:04.355675, CI's gcloud deploy without variables at 23:10 (judged alone, its events
    // never come), the console revision's events at 23:18 delivered after CI's wait ran out: the secret was in force
    // from 22:58 to 23:10 only.
    const cfgV1 = config({ rules: { 'unapproved-deployer': { allowedDeployers: ['serviceAccount:*'] } } });
    const [consoleWrite, revisionEvent, serviceEvent] = consoleEnvSequence([SECRET]) as [Json, Json, Json];
    const found = await findingsArriving(
      [
        [v1EnvDeploy('2024-05-06T20:00:00Z', [], 'gcr.io/acme/app:1'), '2024-05-06T20:00:01Z'],
        [consoleWrite, '2024-05-06T22:58:05Z'],
        [byPrincipal(v1EnvDeploy('2024-05-06T23:10:00Z', [], 'gcr.io/acme/app:2'), 'ci@test-project-1234.iam.gserviceaccount.com'), '2024-05-06T23:10:01Z'],
        [at(revisionEvent, '2024-05-06T23:18:17Z', 'late-revision'), '2024-05-06T23:30:18Z'],
        [at(serviceEvent, '2024-05-06T23:18:19Z', 'late-service'), '2024-05-06T23:30:20Z'],
      ],
      cfgV1,
      new MemoryBaselineStore(),
    );
    expect(secretsOf(found, 'masatonaka1989@gmail.com')).toEqual(['active 2024-05-06T23:18:17Z', 'resolved 2024-05-06T23:18:17Z closed at 2024-05-06T23:10:00Z']);
  });

  it('v2: a write that set a secret, another principal\'s update that dropped it, then the write\'s late events: nothing raised again', async () => {
    // As late-half-instant's v2 case: the write's own finding is closed by the update; its late half, judged where the
    // write stands, raises nothing (judged at its events' time, after the update, it raised the secret again, open).
    const DEPLOYER = 'deployer@acme-ci.iam.gserviceaccount.com';
    const [create, createdRevision] = synthetic('seq-v2-operation') as unknown as [Json, Json];
    const lateEvents = variant(
      renamed(at(createdRevision, '2024-06-01T11:00:21Z'), [[SEQ_V2_REVISION, 'storefront-00002-aaa'], [SEQ_V2_EVENT_OPERATION, 'op-late'], creatorIs(DEPLOYER)]),
      (e) => {
        const spec = (e.protoPayload['response'] as Record<string, Record<string, unknown>>)['spec']!;
        (spec['containers'] as Record<string, unknown>[])[0]!['env'] = [SECRET];
      },
    );
    const entries = [create, createdRevision, v2EnvUpdate('2024-06-01T11:00:00Z', [SECRET]), byPrincipal(v2EnvUpdate('2024-06-01T11:00:10Z', []), 'release@acme-ci.iam.gserviceaccount.com'), lateEvents];
    const found = await findingsLive(entries, config({ rules: { 'unapproved-deployer': { allowedDeployers: ['serviceAccount:*'] } } }));
    expect(secretsOf(found, DEPLOYER)).toEqual(['active 2024-06-01T11:00:00Z', 'resolved 2024-06-01T11:00:00Z closed at 2024-06-01T11:00:10Z']);
  });
});
