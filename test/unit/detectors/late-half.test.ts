// Late halves claimed by time and principal (CompletedRollout.otherHalf), from the review of 2ef8f96: overlapping
// spans must give the same deploys in any delivery order, and events taken for another write's late half must not
// hide their own v1 deploy.
import { describe, expect, it } from 'vitest';
import { at, creatorIs, renamed, SEQ_V2_EVENT_OPERATION, SEQ_V2_REVISION, STOREFRONT_AS_SLACK_BOT, synthetic, type Json } from '../../support/entries.js';
import { config, findingsLive, findingsOf } from '../../support/run.js';

const strict = config({ changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }] });
const [create, createdRevision] = synthetic('seq-v2-operation') as unknown as [Json, Json];
const CI = 'deployer@acme-ci.iam.gserviceaccount.com';
const revisionAt = (timestamp: string, name: string, creator = CI): Json =>
  renamed(at(createdRevision, timestamp), [[SEQ_V2_REVISION, name], [SEQ_V2_EVENT_OPERATION, `op-${name}`], creatorIs(creator)]);
// Two v2 deploys (Terraform) by the same CI account, 5 minutes apart, different images.
const w1 = at(synthetic('v2-UpdateService'), '2024-06-01T11:00:00Z');
const w2 = JSON.parse(JSON.stringify(at(synthetic('v2-UpdateService'), '2024-06-01T11:05:00Z')).replaceAll('attacker/storefront:latest', 'attacker/storefront:v2')) as Json;
const e1 = revisionAt('2024-06-01T11:00:21Z', 'storefront-00002-aaa');
const e2 = revisionAt('2024-06-01T11:05:21Z', 'storefront-00003-bbb');
const offWindow = async (entries: Json[]) => (await findingsLive(entries, strict)).filter((f) => f.rule === 'off-window-deploy').map((f) => f.eventTime);

describe('off-window-deploy: overlapping late-half spans, halves in any order', () => {
  it('timestamp order (replay): 3 deploys', async () => {
    expect((await findingsOf([create, createdRevision, w1, e1, w2, e2], strict)).filter((f) => f.rule === 'off-window-deploy')).toHaveLength(3);
  });
  it('live, both writes judged without events, events in order: 3 deploys', async () => {
    expect(await offWindow([create, createdRevision, w1, w2, e1, e2])).toHaveLength(3);
  });
  it('live, both writes judged without events, events in reverse order: still 3 deploys', async () => {
    expect(await offWindow([create, createdRevision, w1, w2, e2, e1])).toHaveLength(3);
  });
  it('live, both events judged without writes, writes in reverse order: still 3 deploys', async () => {
    expect(await offWindow([create, createdRevision, e2, e1, w1, w2])).toHaveLength(3);
  });
});

describe('off-window-deploy: events of a v1 deploy taken for a v2 write\'s late half, then their own write', () => {
  const cfg = config({ changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }], rules: { 'unapproved-deployer': { allowedDeployers: ['serviceAccount:*'] } } });
  const toSlackBot = (e: Json): Json =>
    renamed(e, [
      ...STOREFRONT_AS_SLACK_BOT,
      [SEQ_V2_REVISION, 'cloud-run-slack-bot-00099-new'],
      ['deployer@acme-ci.iam.gserviceaccount.com', 'masatonaka1989@gmail.com'],
      [SEQ_V2_EVENT_OPERATION, '7a9d252c-a432-4fa8-a1ac-1a6fe9e135c0'],
      creatorIs('masatonaka1989@gmail.com'),
    ]);
  // A v2 write (Terraform, run by the same user) no event followed in its wait; then the user deploys with gcloud (v1).
  const v2Write = toSlackBot(at(synthetic('v2-UpdateService'), '2024-05-11T10:00:00Z'));
  const gcloudWrite = at(synthetic('v1-ReplaceService-gcloud'), '2024-05-11T10:03:40Z'); // operation 7a9d252c-...
  const gcloudEvents = toSlackBot(at(createdRevision, '2024-05-11T10:04:00Z'));
  const rules = async (entries: Json[]) =>
    (await findingsLive(entries, cfg)).filter((f) => f.rule === 'off-window-deploy' || f.rule === 'unapproved-deployer').map((f) => `${f.rule} ${f.eventTime}`);

  it('writes first: the gcloud deploy is reported', async () => {
    expect(await rules([v2Write, gcloudWrite, gcloudEvents])).toHaveLength(4);
  });
  it('the gcloud write delivered after its events were judged: the gcloud deploy is still reported', async () => {
    expect(await rules([v2Write, gcloudEvents, gcloudWrite])).toHaveLength(4);
  });
});
