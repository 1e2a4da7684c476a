import { parseImage } from '../../functions/audit/image.js';
import { ADMIN_API_LOG_NAME, type RevisionReader } from '../../functions/correlate/adminApi.js';
import type { DeployChange } from '../../functions/model/change.js';
import { at, synthetic, variant, type Json } from './entries.js';

/** The fixture's v2 update of storefront at `timestamp`, with an operation of its own and this image. */
export function v2Update(timestamp: string, operation: string, image: string): Json {
  return variant(at(synthetic('v2-UpdateService'), timestamp), (e) => {
    (e.protoPayload['response'] as Json)['name'] = `projects/acme-prod/locations/europe-west1/operations/${operation}`;
    const template = ((e.protoPayload['request'] as Json)['service'] as Json)['template'] as { containers: { image: string }[] };
    template.containers[0]!.image = image;
  });
}

/**
 * A RevisionReader in place of the Admin API: every read answers that the service's latest revision is
 * storefront-00003-abc, serving `image`, created by the write's principal, at the time of the read. Each write read
 * for is pushed to `reads`.
 */
export function latestRevisionReader(image: string, reads: DeployChange[]): RevisionReader {
  return {
    async read(write, nowMs) {
      reads.push(write);
      const time = new Date(nowMs).toISOString();
      return {
        kind: 'revision',
        observation: {
          key: { logName: ADMIN_API_LOG_NAME, timestamp: time, insertId: 'admin-api-read-1' },
          time,
          timeMs: nowMs,
          level: 'revision',
          target: write.target,
          revision: 'storefront-00003-abc',
          ready: true,
          images: [parseImage(image)!],
          labels: {},
          deleting: false,
          managedByCloudFunctions: false,
          creator: write.principal?.id,
        },
      };
    },
    close: async () => undefined,
  };
}
