// Every audit entry the log sink delivers leaves exactly one line in detect's log that says so: `entryOutcome`
// (processed, skipped, duplicate, dead-lettered, failed) on the line detect writes for it anyway. The Terraform module
// counts those lines (a log-based metric in project_id) and alerts when none came for alert_sink_quiet_duration: the
// one signal of a quiet sink that exists for organization and folder sinks too, whose export metrics are written in no
// project. So the field must be on the line of every kind of entry, those that raise nothing included (most of what an
// organization sink delivers: project IAM changes with no Cloud Run member, other services' calls), and on no line that
// is not about an entry: the sweep Cloud Scheduler publishes to the same topic every few minutes, the start-up line, a
// message that is not a LogEntry at all (the sink publishes only LogEntries).
//
// Severity: Cloud Run (functions 2nd gen) sends every JSON line of stdout to Cloud Logging whatever its severity,
// DEBUG included, and a user-defined log-based metric counts entries received whatever exclusion filter drops them
// from storage (cloud.google.com/logging/docs/logs-based-metrics). The severities are pinned here all the same: they
// are what a deployer's exclusion (`severity=DEBUG`, to save storage) would act on.
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { BaselineStore } from '../../functions/baseline/store.js';
import type { LogRecord } from '../../functions/runtime.js';
import { detectLogsOf, FAILING_PUBLISHER, SWEEP } from '../support/detectLogs.js';
import { corpus, synthetic, type Json } from '../support/entries.js';

/** A store with a due index (as Firestore has) that cannot be read: the sweep fails, Pub/Sub retries the tick. */
function unavailableStore(): BaselineStore {
  return Object.assign(new MemoryBaselineStore(), { dueKeys: () => Promise.reject(new Error('Firestore unavailable')) });
}

function linesFor(records: readonly LogRecord[], messageId: string): LogRecord[] {
  return records.filter((r) => r['messageId'] === messageId);
}

/** The lines of that message that say an entry arrived, as { outcome, severity }. */
function outcomeLines(records: readonly LogRecord[], messageId: string): Array<{ outcome: unknown; severity: string }> {
  return linesFor(records, messageId)
    .filter((r) => 'entryOutcome' in r)
    .map((r) => ({ outcome: r['entryOutcome'], severity: r.severity }));
}

interface Case {
  readonly what: string;
  readonly entry: Json;
  readonly outcome: 'processed' | 'skipped' | 'dead-lettered';
  readonly severity: LogRecord['severity'];
}

const CASES: readonly Case[] = [
  { what: 'a project IAM change with no Cloud Run member (raises nothing)', entry: corpus('panther__SetIamPolicy__1'), outcome: 'processed', severity: 'DEBUG' },
  { what: 'a deploy waiting for its rollout', entry: corpus('kktae-demo__Services.CreateService__1'), outcome: 'processed', severity: 'DEBUG' },
  { what: 'a system event with no write of its own', entry: corpus('sysevent-arri__nomethod__1'), outcome: 'processed', severity: 'DEBUG' },
  { what: 'a service made public (a finding)', entry: synthetic('run-SetIamPolicy-allUsers'), outcome: 'processed', severity: 'NOTICE' },
  { what: "another service's call", entry: corpus('gcp-ps__v1-compute-subnetworks-insert__1'), outcome: 'skipped', severity: 'INFO' },
  { what: 'a failed call', entry: corpus('panther__Services.CreateService__2'), outcome: 'skipped', severity: 'INFO' },
  { what: 'a Cloud Run log line that is no audit entry', entry: corpus('aegisai__nomethod__1'), outcome: 'skipped', severity: 'INFO' },
  { what: 'a payload-only export without a timestamp', entry: corpus('mybazaar__FunctionService.UpdateFunction__payloadonly__1'), outcome: 'dead-lettered', severity: 'WARNING' },
];

describe('the line detect writes for each audit entry says it arrived (entryOutcome)', () => {
  it.each(CASES)('$what: $outcome, at $severity', async ({ entry, outcome, severity }) => {
    const records = await detectLogsOf([{ id: 'm-1', data: entry }]);
    expect(outcomeLines(records, 'm-1')).toEqual([{ outcome, severity }]);
  });

  it('a second copy of an entry this instance handled: duplicate', async () => {
    const entry = corpus('panther__SetIamPolicy__1');
    const records = await detectLogsOf([
      { id: 'm-1', data: entry },
      { id: 'm-2', data: entry },
    ]);
    expect(outcomeLines(records, 'm-1')).toEqual([{ outcome: 'processed', severity: 'DEBUG' }]);
    expect(outcomeLines(records, 'm-2')).toEqual([{ outcome: 'duplicate', severity: 'DEBUG' }]);
  });

  it('a copy another instance already folded into the baseline: duplicate', async () => {
    const entry = corpus('archicloud__Services.DeleteService__1');
    const store = new MemoryBaselineStore();
    await detectLogsOf([{ id: 'm-1', data: entry }], { store });
    const records = await detectLogsOf([{ id: 'm-2', data: entry }], { store });
    const lines = linesFor(records, 'm-2');
    expect(lines.map((r) => r.message)).toEqual(['duplicate entry acknowledged']);
    expect(outcomeLines(records, 'm-2')).toEqual([{ outcome: 'duplicate', severity: 'DEBUG' }]);
  });

  it('an entry detect could not finish (its findings not published; Pub/Sub redelivers it): failed', async () => {
    const records = await detectLogsOf([{ id: 'm-1', data: synthetic('run-SetIamPolicy-allUsers') }], { publisher: FAILING_PUBLISHER });
    expect(outcomeLines(records, 'm-1')).toEqual([{ outcome: 'failed', severity: 'ERROR' }]);
  });
});

describe('no other line says an entry arrived', () => {
  it("the sweep's line, and the start-up line", async () => {
    const records = await detectLogsOf([{ id: 'tick-1', data: SWEEP }]);
    expect(linesFor(records, 'tick-1').map((r) => r.message)).toEqual(['sweep done: 0 finding(s)']);
    expect(records.filter((r) => 'entryOutcome' in r)).toEqual([]);
  });

  it('a sweep that fails (its store unavailable: logged as ERROR, retried)', async () => {
    const records = await detectLogsOf([{ id: 'tick-1', data: SWEEP }], { store: unavailableStore() });
    expect(linesFor(records, 'tick-1').map((r) => [r.severity, r.message])).toEqual([['ERROR', expect.stringMatching(/^message not processed, Pub\/Sub will redeliver it: /)]]);
    expect(outcomeLines(records, 'tick-1')).toEqual([]);
  });

  it('a message that is not a LogEntry (dead-lettered at decode: the sink publishes only LogEntries)', async () => {
    const records = await detectLogsOf([{ id: 'm-1', data: 'runwatch alert test' }]);
    expect(linesFor(records, 'm-1').map((r) => r.message)).toEqual([expect.stringMatching(/^message dead-lettered: /)]);
    expect(outcomeLines(records, 'm-1')).toEqual([]);
  });
});
