// What a delete keeps and clears of the histories added later than the first baselines: the public writers belong
// to the service object (its IAM policy: cleared, also by a delete that arrives late), the knowledge that the
// service's system events reach runwatch belongs to the log pipeline (kept). The Binary Authorization policy and
// the VPC egress carry across the delete (a service created again under the name is compared with the deleted one);
// the breakglass justification belongs to the service object (cleared).
import { describe, expect, it } from 'vitest';
import { parseEntry } from '../../functions/audit/normalize.js';
import { applyChangeTo } from '../../functions/baseline/apply.js';
import { emptyBaseline, type MutableBaseline } from '../../functions/baseline/state.js';
import type { Change, VpcEgress } from '../../functions/model/change.js';
import { at, deleteServiceAt, synthetic, variant } from '../support/entries.js';

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

describe('the Binary Authorization policy and the VPC egress carry across a delete; the breakglass justification does not', () => {
  const T1 = Date.parse('2024-06-01T10:00:00Z');
  const T3 = Date.parse('2024-06-01T13:00:00Z');
  const settings = (lastChangeMs: number): MutableBaseline => ({
    ...emptyBaseline(),
    binaryAuthorization: [{ t: T1, v: 'default' }],
    breakglass: [{ t: T1, v: 'INC-1' }],
    vpcEgress: [{ t: T1, v: 'all-traffic' }],
    lastChangeMs,
  });

  it.each([
    ['a delete in order', false],
    ['a delete that arrives after newer entries (about the service created again: their points stay)', true],
  ])('%s', (_name, newer) => {
    const target = settings(newer ? T3 : T1);
    const newerPoint = <T>(v: T) => (newer ? [{ t: T3, v }] : []);
    target.binaryAuthorization = [...target.binaryAuthorization!, ...newerPoint('')];
    target.breakglass = [...target.breakglass!, ...newerPoint('')];
    target.vpcEgress = [...target.vpcEgress!, ...newerPoint<VpcEgress>('private-ranges-only')];
    applyChangeTo(target, deleteAt('2024-06-01T12:00:00Z'));
    expect(target.binaryAuthorization).toEqual([{ t: T1, v: 'default' }, ...newerPoint('')]);
    expect(target.vpcEgress).toEqual([{ t: T1, v: 'all-traffic' }, ...newerPoint('private-ranges-only')]);
    expect(target.breakglass ?? []).toEqual(newerPoint(''));
    expect(target.deletedAtMs).toBe(Date.parse('2024-06-01T12:00:00Z'));
  });

  it('a write of the deleted service that arrives after the delete joins the policy and egress histories, not the breakglass one', () => {
    const target: MutableBaseline = { ...emptyBaseline() };
    applyChangeTo(target, deleteAt('2024-06-01T12:00:00Z'));
    // The v2 create fixture (2024-06-01T10:00:00.123456Z) with binaryAuthorization useDefault, all traffic through a
    // connector and a breakglass justification.
    const entry = variant(at(synthetic('v2-CreateService'), '2024-06-01T10:00:00Z'), (e) => {
      const service = (e.protoPayload['request'] as { service: Record<string, Record<string, unknown>> }).service;
      service['binaryAuthorization'] = { useDefault: true, breakglassJustification: 'INC-1' };
      service['template']!['vpcAccess'] = { connector: 'projects/acme-prod/locations/europe-west1/connectors/egress', egress: 'ALL_TRAFFIC' };
    });
    const parsed = parseEntry(entry);
    if (parsed.kind !== 'change') throw new Error('not a change');
    applyChangeTo(target, parsed.change);
    expect(target.binaryAuthorization).toEqual([{ t: T1, v: 'default' }]);
    expect(target.vpcEgress).toEqual([{ t: T1, v: 'all-traffic' }]);
    expect(target.breakglass ?? []).toEqual([]);
  });
});
