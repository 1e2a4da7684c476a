// How long messages wait: message_retention_duration sets every subscription's retention, the detect subscription's
// and the dead-letter hold's. Pub/Sub keeps a subscription's messages at most 31 days ("2678400s"; Subscription
// properties, "Message retention duration": default 7 days, minimum 10 minutes, maximum 31 days,
// cloud.google.com/pubsub/docs/subscription-properties). The module must accept what Pub/Sub accepts, and detect's
// record of an applied entry must outlive the longest a copy of it can wait before it is delivered again: on the
// detect subscription, then in the dead-letter hold until a redrive (baseline/firestore.ts APPLIED_RECORD_TTL_MS).
import { convertFiles } from '@cdktn/hcl2json';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { APPLIED_RECORD_TTL_MS } from '../../functions/baseline/firestore.js';

const MODULE_DIR = fileURLToPath(new URL('../../terraform/modules/runwatch/', import.meta.url));
const PUBSUB_MAX_SUBSCRIPTION_RETENTION_S = 31 * 24 * 3600;

type Block = Record<string, unknown>;

let variable: Block;
let subscriptions: Record<string, Block[]>;

beforeAll(async () => {
  const tf = (await convertFiles(MODULE_DIR)) as Record<string, Record<string, Block[]>>;
  variable = tf['variable']!['message_retention_duration']![0]!;
  subscriptions = (tf['resource']!['google_pubsub_subscription'] ?? {}) as unknown as Record<string, Block[]>;
});

/** The largest number of seconds the variable's validation lets through (its `<= N` bound). */
function upperBound(): number {
  const condition = String(((variable['validation'] as Block[])[0] ?? {})['condition']);
  const bounds = [...condition.matchAll(/<=\s*([0-9]+)/g)].map((m) => Number(m[1]));
  expect(bounds.length, condition).toBeGreaterThan(0);
  return Math.min(...bounds);
}

describe('message retention', () => {
  it('every subscription keeps its messages for message_retention_duration', () => {
    for (const name of ['detect', 'notify', 'dead_letter_hold']) {
      expect(subscriptions[name]?.[0]?.['message_retention_duration'], name).toBe('${var.message_retention_duration}');
    }
  });

  it("accepts Pub/Sub's maximum, 31 days, and no more", () => {
    expect(upperBound()).toBe(PUBSUB_MAX_SUBSCRIPTION_RETENTION_S);
    expect(String(variable['description'])).not.toMatch(/7 days, the maximum/);
  });

  it('keeps the record of an applied entry longer than a copy can wait on the detect subscription and then in the dead-letter hold', () => {
    expect(APPLIED_RECORD_TTL_MS).toBeGreaterThan(2 * upperBound() * 1000);
  });
});
