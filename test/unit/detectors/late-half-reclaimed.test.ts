// Events claimed by time as a v2 write's late half that later prove to be a v1 write's (its write, carrying their
// operation id, comes after them): what their revision brought in was in force from the v1 write on, not from the v2
// write. Recorded at the v2 write's instant and left there, it passes for in force before the v1 write: a deploy made
// between the two (another principal's, delivered last) is compared with it and not reported for the repository and
// identity it brought in first, and the v2 write's own facts, at that same instant, are overwritten.
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../../functions/baseline/memory.js';
import type { Finding } from '../../../functions/findings/finding.js';
import { at, byPrincipal, creatorIs, renamed, SEQ_V2_EVENT_OPERATION, SEQ_V2_REVISION, STOREFRONT_AS_SLACK_BOT, synthetic, variant, withOperationId, type Json } from '../../support/entries.js';
import { config, findingsLive, findingsOf } from '../../support/run.js';

const cfg = config({ changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }] });
const [create, createdRevision] = synthetic('seq-v2-operation') as unknown as [Json, Json];

const USER = 'masatonaka1989@gmail.com';
const CI = 'ci@test-project-1234.iam.gserviceaccount.com';
/** The gcloud fixture's image and runtime service account (synthetic-v1-ReplaceService-gcloud). */
const GCLOUD_IMAGE = 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot/cloud-run-slack-bot:1f2e3d4c5b6a';
const GCLOUD_DIGEST = `asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot/cloud-run-slack-bot@sha256:${'e'.repeat(64)}`;
const GCLOUD_SA = 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com';
const GCLOUD_OPERATION = '7a9d252c-a432-4fa8-a1ac-1a6fe9e135c0';

// The user runs Terraform (a v2 write, no event in its wait: judged without them), then deploys with gcloud (v1, its
// operation id in its revision's events), whose events come before its write and are taken for the v2 write's late
// half (the same principal, within its wait). They are logged without a creation time: with one, 3 min 40 s after the
// v2 write, they are not its revision and are not taken (creation-time-late-half).
const v2Write = renamed(at(synthetic('v2-UpdateService'), '2024-05-11T10:00:00Z'), [...STOREFRONT_AS_SLACK_BOT, ['deployer@acme-ci.iam.gserviceaccount.com', USER]]);
const gcloudWrite = at(synthetic('v1-ReplaceService-gcloud'), '2024-05-11T10:03:40Z');
const gcloudEvents = variant(
  renamed(at(createdRevision, '2024-05-11T10:04:00Z'), [...STOREFRONT_AS_SLACK_BOT, [SEQ_V2_REVISION, 'cloud-run-slack-bot-00099-new'], [SEQ_V2_EVENT_OPERATION, GCLOUD_OPERATION], creatorIs(USER)]),
  (e) => {
    const response = e.protoPayload['response'] as Record<string, Json>;
    delete response['metadata']!['creationTimestamp'];
    response['spec']!['serviceAccountName'] = GCLOUD_SA;
    ((response['spec']!['containers'] as Json[])[0]!)['image'] = GCLOUD_IMAGE;
    response['status']!['imageDigest'] = GCLOUD_DIGEST;
    ((response['status']!['containerStatuses'] as Json[])[0]!)['imageDigest'] = GCLOUD_DIGEST;
  },
);
// CI deploys the gcloud revision's repository and identity at 10:02, between the two writes (its own operation; its
// events never come), delivered last.
const ciWrite = byPrincipal(withOperationId(at(synthetic('v1-ReplaceService-gcloud'), '2024-05-11T10:02:00Z', 'ci-write'), 'op-ci'), CI);

const REVISION_RULES = new Set(['new-image-repository', 'service-account-change']);
/** CI's findings of the rules that judge what a revision brings in. */
const ciFindings = (found: readonly Finding[]): string[] =>
  found.filter((f) => REVISION_RULES.has(f.rule) && f.principal === CI).map((f) => `${f.rule} ${f.status ?? 'active'} ${f.eventTime}`).sort();

describe("events claimed by time for a v2 write's late half that prove to be a v1 write's", () => {
  it("guard: the gcloud write delivered before its events (no claim): CI's deploy between the two is reported", async () => {
    const found = ciFindings(await findingsLive([v2Write, gcloudWrite, gcloudEvents, ciWrite], cfg));
    expect(found).toEqual(['new-image-repository active 2024-05-11T10:02:00Z', 'service-account-change active 2024-05-11T10:02:00Z']);
  });

  it("the gcloud write delivered after its events were claimed: CI's deploy between the two is reported all the same", async () => {
    const reference = ciFindings(await findingsLive([v2Write, gcloudWrite, gcloudEvents, ciWrite], cfg));
    expect(ciFindings(await findingsLive([v2Write, gcloudEvents, gcloudWrite, ciWrite], cfg))).toEqual(reference);
  });

  // Replay ("now" the time of the entry read): another service's entries of the project complete what is due (the
  // sweep): one after the v2 write's wait (it is judged without events), one after the events' wait (judged without
  // their write, they are claimed as the v2 write's late half); then the rest comes in the order given.
  const otherService = (time: string): Json =>
    at(renamed(create, [...STOREFRONT_AS_SLACK_BOT, ['services/cloud-run-slack-bot', 'services/checkout'], ['"cloud-run-slack-bot"', '"checkout"']]), time, `other-${time}`);
  it('replay, the same order: the same', async () => {
    const [first, second] = [otherService('2024-05-11T10:10:30Z'), otherService('2024-05-11T10:15:00Z')];
    const reference = ciFindings(await findingsOf([v2Write, first, gcloudWrite, gcloudEvents, second, ciWrite], cfg));
    expect(reference).toEqual(['new-image-repository active 2024-05-11T10:02:00Z', 'service-account-change active 2024-05-11T10:02:00Z']);
    expect(ciFindings(await findingsOf([v2Write, first, gcloudEvents, second, gcloudWrite, ciWrite], cfg))).toEqual(reference);
  });

  it('a baseline stored before filledAt was kept: the gcloud write is still judged, as before (what the events filled in stays)', async () => {
    const t0 = Date.parse('2030-01-01T00:00:00Z');
    const store = new MemoryBaselineStore();
    await findingsLive([v2Write, gcloudEvents], cfg, t0, 3_600_000, store);
    const claimed = [...store.entries()].flatMap(([, b]) => b.completed ?? []).filter((c) => c.claimedByTime === true);
    expect(claimed.map((c) => c.filledAt?.repositories)).toEqual([['asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot']]);
    const stored = new MemoryBaselineStore([...store.entries()].map(([key, b]) => [key, { ...b, completed: b.completed?.map(({ filledAt: _absent, ...c }) => c) }]));
    const found = await findingsLive([gcloudWrite, ciWrite], cfg, t0 + 10 * 3_600_000, 3_600_000, stored);
    expect(found.filter((f) => f.rule === 'off-window-deploy').map((f) => `${f.principal} ${f.eventTime}`).sort()).toEqual([`${CI} 2024-05-11T10:02:00Z`, `${USER} 2024-05-11T10:03:40Z`]);
  });
});
