// One user's two deploys of cloud-run-slack-bot: Terraform's v2 write at 10:00 (no revision event in its wait), then
// gcloud's (v1, operation 7a9d252c-...) at 10:03:40, its revision cloud-run-slack-bot-00099-new. Built from the
// seq-v2-operation, v2-UpdateService and gcloud fixtures.
import { at, creatorIs, renamed, SEQ_V2_EVENT_OPERATION, SEQ_V2_REVISION, STOREFRONT_AS_SLACK_BOT, synthetic, variant, type Json } from './entries.js';

export const USER = 'masatonaka1989@gmail.com';

/** The seq-v2-operation fixture's revision event. */
const createdRevision = (synthetic('seq-v2-operation') as unknown as [Json, Json])[1];

/** A storefront entry as the user's, of cloud-run-slack-bot: this revision name and operation id. */
export const toSlackBot = (e: Json, revision: string, operation: string): Json =>
  renamed(e, [...STOREFRONT_AS_SLACK_BOT, [SEQ_V2_REVISION, revision], ['deployer@acme-ci.iam.gserviceaccount.com', USER], [SEQ_V2_EVENT_OPERATION, operation], creatorIs(USER)]);

export const v2Write = toSlackBot(at(synthetic('v2-UpdateService'), '2024-05-11T10:00:00Z'), 'x', 'x');
export const gcloudWrite = at(synthetic('v1-ReplaceService-gcloud'), '2024-05-11T10:03:40Z');
export const gcloudEvents = toSlackBot(at(createdRevision, '2024-05-11T10:04:00Z'), 'cloud-run-slack-bot-00099-new', '7a9d252c-a432-4fa8-a1ac-1a6fe9e135c0');

/**
 * A revision event logged without `metadata.creationTimestamp`. With one, the gcloud revision (created 3 min 40 s after
 * the v2 write) is never taken by time for the v2 write's late half (createdOutsideWrite); without one, time and
 * principal alone decide, as before, and can take it: what tests of that claim (and of its undoing) need.
 */
export function withoutCreationTime(event: Json): Json {
  return variant(event, (e) => {
    delete ((e.protoPayload['response'] as Json)['metadata'] as Json)['creationTimestamp'];
  });
}
