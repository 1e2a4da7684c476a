// external-member-grant over baselines stored before memberBindings existed: a state file written by runwatch at
// a9d8ca9 (test/fixtures/state-before-member-bindings-SOURCES.md), read by the file store as a replay with --state
// reads it. The policy before is not known there: an external member counts as added (the summary says the grant may
// be older), later changes judge against what was applied since, and the file is written back in the new shape.
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileBaselineStore } from '../../../functions/baseline/file.js';
import { at, corpus, variant, type Json } from '../../support/entries.js';
import { config, findingsLive } from '../../support/run.js';

const RULE = 'external-member-grant';
const ACME = config({ rules: { [RULE]: { allowedDomains: ['acme.com', '*.acme.com'] } } });
const FIXTURE = new URL('../../fixtures/state-before-member-bindings.json', import.meta.url);
const SERVICE = 'some-project/us-west1/cloudrun-exfil';
const PROJECT = 'gpc-tp3/-/*';

// Real: the v1 service policy the old state file was written from; the project delta likewise.
const v1Grant = corpus('panther__Services.SetIamPolicy__1');
const projectDelta = corpus('archicloud__SetIamPolicy__1');

function servicePolicy(timestamp: string, bindings: { role: string; members: string[] }[]): Json {
  return variant(at(v1Grant, timestamp), (e) => {
    (e.protoPayload['request'] as { policy: Json }).policy['bindings'] = bindings;
    (e.protoPayload['response'] as Json)['bindings'] = bindings;
  });
}

function projectDeltaOf(timestamp: string, deltas: Json[]): Json {
  return variant(at(projectDelta, timestamp), (e) => {
    (e.protoPayload['serviceData'] as Json)['policyDelta'] = { bindingDeltas: deltas };
  });
}

/** The old state file, copied where a test may change it. */
function oldStateFile(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'runwatch-old-state-')), 'state.json');
  copyFileSync(FIXTURE, path);
  return path;
}

describe('external-member-grant over a baseline stored before memberBindings', () => {
  it('the fixture is of the previous shape: baselines with no memberBindings', () => {
    const services = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { services: Record<string, Record<string, unknown>> }).services;
    expect(Object.keys(services).sort()).toEqual([PROJECT, SERVICE].sort());
    for (const baseline of Object.values(services)) {
      expect(baseline).not.toHaveProperty('memberBindings');
      expect(baseline).toHaveProperty('publicBindings');
    }
  });

  it('a policy re-applied on an old service baseline: reported as held (may be older), then judged by difference, resolved when removed; the file is written back with the history', async () => {
    const path = oldStateFile();
    const store = await FileBaselineStore.open(path);
    const invoker = { role: 'roles/run.invoker', members: ['user:some.user@company.com'] };
    const findings = (
      await findingsLive(
        [
          at(v1Grant, '2024-02-03T10:00:00Z'),
          servicePolicy('2024-02-04T10:00:00Z', [invoker]),
          servicePolicy('2024-02-05T10:00:00Z', [invoker, { role: 'roles/run.admin', members: ['user:other@gmail.com'] }]),
          servicePolicy('2024-02-06T10:00:00Z', []),
        ],
        ACME,
        undefined,
        undefined,
        store,
      )
    ).filter((f) => f.rule === RULE);
    await store.close();
    expect(findings.map((f) => [f.eventTime.slice(0, 10), f.evidence['member'], f.evidence['source'], f.status ?? 'active'])).toEqual([
      ['2024-02-03', 'user:some.user@company.com', 'full policy (no earlier policy known)', 'active'],
      ['2024-02-05', 'user:other@gmail.com', 'difference from the last known policy', 'active'],
      ['2024-02-03', 'user:some.user@company.com', 'full policy (no earlier policy known)', 'resolved'],
      ['2024-02-05', 'user:other@gmail.com', 'difference from the last known policy', 'resolved'],
    ]);
    expect(findings[0]!.summary).toMatch(/may be older/);
    const reopened = await FileBaselineStore.open(path);
    const baseline = await reopened.get(SERVICE);
    await reopened.release();
    // The points the old file held are kept, the new history starts at the first policy applied after it.
    expect(baseline?.publicInvokers[0]).toEqual({ t: 1706867066029, v: [], n: 835000 });
    expect(baseline?.memberBindings?.map((p) => p.v)).toEqual([['roles/run.invoker user:some.user@company.com'], ['roles/run.invoker user:some.user@company.com'], ['roles/run.admin user:other@gmail.com', 'roles/run.invoker user:some.user@company.com'], []]);
  });

  it('a delta on an old project baseline: its ADD fires, its REMOVE resolves, the old grant it never saw stays unknown (no finding, no crash)', async () => {
    const store = await FileBaselineStore.open(oldStateFile());
    const findings = (
      await findingsLive(
        [
          projectDeltaOf('2025-11-10T10:00:00Z', [{ action: 'ADD', role: 'roles/run.developer', member: 'user:x@gmail.com' }]),
          projectDeltaOf('2025-11-11T10:00:00Z', [{ action: 'REMOVE', role: 'roles/run.admin', member: 'user:collaborateur0013@gmail.com' }]),
          projectDeltaOf('2025-11-12T10:00:00Z', [{ action: 'REMOVE', role: 'roles/run.developer', member: 'user:x@gmail.com' }]),
        ],
        ACME,
        undefined,
        undefined,
        store,
      )
    ).filter((f) => f.rule === RULE);
    await store.release();
    expect(findings.map((f) => [f.eventTime.slice(0, 10), f.evidence['member'], f.evidence['scope'], f.evidence['source'], f.status ?? 'active'])).toEqual([
      ['2025-11-10', 'user:x@gmail.com', 'project', 'policy delta', 'active'],
      ['2025-11-10', 'user:x@gmail.com', 'project', 'policy delta', 'resolved'],
    ]);
  });
});
