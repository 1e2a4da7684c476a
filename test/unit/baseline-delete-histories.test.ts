// What a delete keeps and clears of the histories added later than the first baselines: the public writers belong
// to the service object (its IAM policy: cleared, also by a delete that arrives late), the knowledge that the
// service's system events reach runwatch belongs to the log pipeline (kept).
import { expect, it } from 'vitest';
import { parseEntry } from '../../functions/audit/normalize.js';
import { applyChangeTo } from '../../functions/baseline/apply.js';
import { emptyBaseline, type MutableBaseline } from '../../functions/baseline/state.js';
import type { Change } from '../../functions/model/change.js';
import { deleteServiceAt } from '../support/entries.js';

const TARGET = { project: 'acme-prod', location: 'europe-west1', service: 'storefront' };

function deleteAt(timestamp: string): Change {
  const parsed = parseEntry(deleteServiceAt(timestamp, TARGET));
  if (parsed.kind !== 'change' || parsed.change.kind !== 'delete') throw new Error('not a delete');
  return parsed.change;
}

function baseline(lastChangeMs: number): MutableBaseline {
  return {
    ...emptyBaseline(),
    publicInvokers: [{ t: Date.parse('2024-06-01T10:00:00Z'), v: ['allUsers'] }],
    publicWriters: [{ t: Date.parse('2024-06-01T10:00:00Z'), v: ['allUsers'] }],
    systemEventsSeen: true,
    lastChangeMs,
  };
}

it('a delete in order clears the public writers and keeps systemEventsSeen', () => {
  const target = baseline(Date.parse('2024-06-01T10:00:00Z'));
  applyChangeTo(target, deleteAt('2024-06-01T12:00:00Z'));
  expect(target.publicWriters).toBeUndefined();
  expect(target.publicInvokers).toEqual([]);
  expect(target.systemEventsSeen).toBe(true);
});

it('a delete that arrives after newer entries clears the public writers set before it, keeps the newer ones', () => {
  const target = baseline(Date.parse('2024-06-01T14:00:00Z'));
  target.publicWriters = [...target.publicWriters!, { t: Date.parse('2024-06-01T13:00:00Z'), v: ['allAuthenticatedUsers'] }];
  applyChangeTo(target, deleteAt('2024-06-01T12:00:00Z'));
  expect(target.publicWriters).toEqual([{ t: Date.parse('2024-06-01T13:00:00Z'), v: ['allAuthenticatedUsers'] }]);
  expect(target.systemEventsSeen).toBe(true);
});
