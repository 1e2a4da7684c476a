import { it } from 'vitest';
import { findingsLive, findingsOf } from '../support/run.js';
import { at, editV1Services, synthetic, withOperationId, withV1ServiceAccount, type Json } from '../support/entries.js';
const A = 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com';
const B = 'ci-admin@test-project-1234.iam.gserviceaccount.com';
const t = (m: number) => `2024-05-04T10:${String(m).padStart(2, '0')}:00Z`;
function d(m: number, sa: string): Json {
  const e = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
    const template = (svc['spec'] as Record<string, Record<string, Record<string, unknown>>>)['template']!;
    template['spec']!['containers'] = [{ name: 'app', image: `gcr.io/acme/app:${m}` }];
  });
  return at(withOperationId(withV1ServiceAccount(e, sa), `op-${m}`), t(m));
}
const show = (fs: any[]) => fs.filter((f) => f.rule === 'service-account-change').map((f) => `${f.id.slice(0, 6)} ${f.eventTime.slice(11, 16)} ${f.status ?? 'active'} ${f.evidence.before.split('@')[0]}->${f.evidence.after.split('@')[0]} ${f.resolution ? f.resolution.time.slice(11, 16) + ' ' + f.resolution.reason : ''}`);
it.each([
  [[A, B, A], [0, 2, 1]],
  [[A, B, B, A], [0, 3, 1, 2]],
  [[A, B, A, B], [0, 3, 1, 2]],
  [[A, A, B, A], [0, 3, 1, 2]],
  [[A, B, A, A], [0, 3, 1, 2]],
])('%j %j', async (sas, order) => {
  const entries = (sas as string[]).map((sa, i) => d(i * 5, sa));
  console.log('IN ORDER', show(await findingsOf(entries)));
  console.log('LIVE    ', show(await findingsLive((order as number[]).map((i) => entries[i]!))));
});
