// A worker pool's delete resolves the findings about its settings, and says so in its own words: a worker pool was
// deleted, not a service (the responder reads the reason, and a service of the same name may well be running).
import { describe, expect, it } from 'vitest';
import { synthetic, variant } from '../support/entries.js';
import { findingsOf } from '../support/run.js';

const create = synthetic('workerpool-v2-CreateWorkerPool'); // 10:04, all traffic through the VPC
const hijack = synthetic('workerpool-v2-UpdateWorkerPool'); // 10:42
const remove = synthetic('workerpool-v2-DeleteWorkerPool'); // 10:55

// 10:42: the pool's egress narrowed to private ranges (vpc-egress-bypass, closed by the delete).
const narrowed = variant(hijack, (e) => ((e.protoPayload['request'] as { workerPool: { template: { vpcAccess: { egress: string } } } }).workerPool.template.vpcAccess.egress = 'PRIVATE_RANGES_ONLY'));

describe("a worker pool's delete", () => {
  const orders = [
    { name: 'delivered after the finding it closes', entries: [create, narrowed, remove] },
    { name: 'delivered before the entry it closes (late)', entries: [create, remove, narrowed] },
  ];
  it.each(orders)('$name: resolves it as a worker pool deleted', async ({ entries }) => {
    const resolved = (await findingsOf(entries)).filter((f) => f.rule === 'vpc-egress-bypass' && f.status === 'resolved');
    expect(resolved.map((f) => f.resolution?.reason)).toEqual(['the worker pool was deleted']);
  });
});
