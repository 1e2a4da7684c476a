// A deleted service: the live service object's facts go (template, IAM policy, settings), its
// revisions' runtime service account and image repositories stay (a service re-created under the name is compared
// with the deleted one: recreate.test.ts), a deploy still waiting for its system events is judged first, and the
// entries already applied are still known as applied.
import { describe, expect, it } from 'vitest';
import { readEnvelope } from '../../functions/audit/entry.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { RunwatchConfig } from '../../functions/config/types.js';
import type { Finding } from '../../functions/findings/finding.js';
import { Pipeline, type EntryOutcome } from '../../functions/pipeline.js';
import { deleteServiceAt, SLACK_BOT, synthetic, variant } from '../support/entries.js';
import { config } from '../support/run.js';

// Every deploy is off-window: the only window is one minute on Sundays.
const STRICT = config({ timezone: 'UTC', changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }] });
const [write] = synthetic('seq-console-deploy') as unknown as [Record<string, unknown>]; // 2024-05-06T22:58:04Z, waits for its events

/** The corpus DeleteService, moved onto the deploy's service. */
function deleteOf(timestamp: string): unknown {
  return deleteServiceAt(timestamp, SLACK_BOT);
}

/** Entries through `pipeline` in order, "now" each entry's own time; the outcomes and every finding. */
async function run(pipeline: Pipeline, entries: readonly unknown[]): Promise<{ outcomes: EntryOutcome[]; findings: Finding[] }> {
  const outcomes: EntryOutcome[] = [];
  const findings: Finding[] = [];
  for (const entry of entries) {
    const envelope = readEnvelope(entry);
    const outcome = await pipeline.handleEntry(entry, envelope.ok ? envelope.envelope.timeMs : 0);
    outcomes.push(outcome);
    if (outcome.status === 'processed') findings.push(...outcome.findings);
  }
  findings.push(...(await pipeline.flush()));
  return { outcomes, findings };
}

/** ` (re-created after T)` when a finding says it compares the service with the one deleted at T. */
const describeRecreated = (finding: Finding): string =>
  finding.evidence['recreatedAfterDeleteAt'] === undefined ? '' : ` (re-created after ${String(finding.evidence['recreatedAfterDeleteAt'])})`;

const pipelineOn = (store: MemoryBaselineStore, cfg: RunwatchConfig = STRICT): Pipeline =>
  // No in-memory duplicate check: the baseline alone must know what it applied (another instance's redelivery).
  new Pipeline({ config: cfg, store, recentKeys: 0 });

describe('a deleted service', () => {
  it('a deploy waiting for its system events is reported when the service is deleted 30 s later', async () => {
    const alone = await run(pipelineOn(new MemoryBaselineStore()), [write]);
    const deleted = await run(pipelineOn(new MemoryBaselineStore()), [write, deleteOf('2024-05-06T22:58:34Z')]);
    expect(alone.findings.map((f) => f.rule)).toEqual(['off-window-deploy']);
    expect(deleted.findings.map((f) => f.id)).toEqual(alone.findings.map((f) => f.id));
  });

  it('an entry applied before the delete, delivered again after it, is a duplicate', async () => {
    const store = new MemoryBaselineStore();
    await run(pipelineOn(store), [write, deleteOf('2024-05-06T22:58:34Z')]);
    const again = await run(pipelineOn(store), [write]);
    expect(again.outcomes).toEqual([{ status: 'duplicate' }]);
    expect(again.findings).toEqual([]);
  });

  it('the service object\'s facts are gone; its revisions\' service account and repositories, and its ingress, stay', async () => {
    const store = new MemoryBaselineStore();
    await run(pipelineOn(store), [write, deleteOf('2024-05-06T22:58:34Z')]);
    const [baseline] = [...store.entries()].map(([, b]) => b);
    expect(baseline).toMatchObject({
      serviceAccount: [{ t: Date.parse('2024-05-06T22:58:04.355675Z'), v: 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com' }],
      template: [],
      publicInvokers: [],
      invokerIamDisabled: [],
      // Kept: a service created again at the default (all) is compared with it (ingress-opened).
      ingress: [{ t: Date.parse('2024-05-06T22:58:04.355675Z'), v: 'all' }],
      deletedAtMs: Date.parse('2024-05-06T22:58:34Z'),
    });
    expect(baseline?.rollouts ?? []).toEqual([]);
    expect(baseline?.seen).toHaveLength(2); // the write and the delete
  });

  // A delete can arrive after entries about the service created again under the name (Pub/Sub order, replay
  // across files): it must not wipe their facts, nor judge their deploys early.
  describe('a delete that arrives late', () => {
    const create = synthetic('v2-CreateService');
    const deployAt = (timestamp: string, account: string, method = 'CreateService'): unknown =>
      variant(create, (e) => {
        e['timestamp'] = timestamp;
        e['insertId'] = `d-${timestamp}`;
        e.protoPayload['methodName'] = `google.cloud.run.v2.Services.${method}`;
        const service = (e.protoPayload['request'] as { service: { template: Record<string, unknown> } }).service;
        service.template['serviceAccount'] = account;
        service.template['revision'] = `storefront-${timestamp.replace(/\D/g, '')}`;
      });
    const deleteAt = (timestamp: string): unknown =>
      variant(create, (e) => {
        e['timestamp'] = timestamp;
        e['insertId'] = `del-${timestamp}`;
        e.protoPayload['methodName'] = 'google.cloud.run.v2.Services.DeleteService';
        e.protoPayload['request'] = { '@type': 'type.googleapis.com/google.cloud.run.v2.DeleteServiceRequest', name: e.protoPayload['resourceName'] };
      });
    const sa = (n: number): string => `sa${n}@acme-prod.iam.gserviceaccount.com`;
    const [a, d, b, c] = [deployAt('2024-06-01T10:00:00Z', sa(1)), deleteAt('2024-06-01T11:00:00Z'), deployAt('2024-06-01T12:00:00Z', sa(2)), deployAt('2024-06-01T13:00:00Z', sa(3), 'UpdateService')];

    /** As the live function gets them: an hour of wall clock apart, so each deploy's wait is over by the next entry. */
    /** `changes`: each service-account-change raised, as `before -> after` (+ ` (re-created after DELETE)` when said so). */
    async function live(entries: readonly unknown[]): Promise<{ changes: string[]; ids: string[]; accounts: string[]; deletedAt?: string }> {
      const store = new MemoryBaselineStore();
      const pipeline = pipelineOn(store, config());
      const findings: Finding[] = [];
      let nowMs = Date.parse('2030-01-01T00:00:00Z');
      for (const entry of entries) {
        const outcome = await pipeline.handleEntry(entry, (nowMs += 3_600_000));
        if (outcome.status === 'processed') findings.push(...outcome.findings);
      }
      findings.push(...(await pipeline.flush()));
      const [baseline] = [...store.entries()].map(([, value]) => value);
      const changes = findings.filter((f) => f.rule === 'service-account-change' && f.status !== 'resolved'); // c resolves b's
      return {
        changes: changes.map((f) => `${String(f.evidence['before'])} -> ${String(f.evidence['after'])}${describeRecreated(f)}`),
        ids: changes.map((f) => f.id),
        accounts: (baseline?.serviceAccount ?? []).map((p) => p.v),
        deletedAt: baseline?.deletedAtMs === undefined ? undefined : new Date(baseline.deletedAtMs).toISOString(),
      };
    }

    it('in order, the re-created service is compared with the deleted one: both changes of identity are reported', async () => {
      expect(await live([a, d, b, c])).toMatchObject({
        changes: [`${sa(1)} -> ${sa(2)} (re-created after 2024-06-01T11:00:00.000Z)`, `${sa(2)} -> ${sa(3)}`],
        accounts: [sa(1), sa(2), sa(3)],
        deletedAt: '2024-06-01T11:00:00.000Z',
      });
    });

    it('seconds late, while the re-created service\'s deploy still waits for its events: that deploy is kept and judged', async () => {
      const store = new MemoryBaselineStore();
      const pipeline = pipelineOn(store, STRICT);
      const recreate = deployAt('2024-06-01T10:10:05Z', sa(2));
      const findings: Finding[] = [];
      let nowMs = Date.parse('2030-01-01T00:00:00Z');
      for (const [entry, step] of [[a, 3_600_000], [recreate, 1_000], [deleteAt('2024-06-01T10:10:00Z'), 1_000]] as const) {
        const outcome = await pipeline.handleEntry(entry, (nowMs += step));
        if (outcome.status === 'processed') findings.push(...outcome.findings);
      }
      findings.push(...(await pipeline.flush()));
      expect(findings.filter((f) => f.rule === 'off-window-deploy').map((f) => f.eventTime)).toEqual(['2024-06-01T10:00:00Z', '2024-06-01T10:10:05Z']);
      const [baseline] = [...store.entries()].map(([, value]) => value);
      expect(baseline?.serviceAccount.map((p) => p.v)).toEqual([sa(1), sa(2)]);
      // The waiting deploy was judged once the delete was known: its comparison with the deleted service says so.
      expect(findings.filter((f) => f.rule === 'service-account-change').map((f) => [f.evidence['before'], f.evidence['after'], f.evidence['recreatedAfterDeleteAt']])).toEqual([
        [sa(1), sa(2), '2024-06-01T10:10:00.000Z'],
      ]);
    });

    it('late, it forgets only the service object\'s facts from before it: the same changes of identity as in order', async () => {
      // b is judged before the delete is known (its change from sa1 is reported then, without the delete); c must
      // still be compared with b, and both findings keep the ids they have when the entries come in order.
      const late = await live([a, b, d, c]);
      const inOrder = await live([a, d, b, c]);
      expect(late).toMatchObject({ changes: [`${sa(1)} -> ${sa(2)}`, `${sa(2)} -> ${sa(3)}`], accounts: [sa(1), sa(2), sa(3)], deletedAt: '2024-06-01T11:00:00.000Z' });
      expect(late.ids).toEqual(inOrder.ids);
    });
  });
});
