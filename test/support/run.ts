import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { validateConfig } from '../../functions/config/load.js';
import type { RunwatchConfig } from '../../functions/config/types.js';
import type { Finding } from '../../functions/findings/finding.js';
import { Pipeline, type PipelineOptions } from '../../functions/pipeline.js';
import { readEnvelope } from '../../functions/audit/entry.js';

/**
 * `raw` validated as the CLI and the functions validate a config. The default one (no `raw`) is validated once and
 * shared: validation takes a few ms (the time-zone check alone builds an Intl.DateTimeFormat), and findingsOf and
 * findingsLive took one per call, about a fifth of the CPU of the files that call them thousands of times. A
 * validated config is frozen through (deepFreeze), so no test can change the one others get.
 */
export function config(raw?: Record<string, unknown>): RunwatchConfig {
  if (raw === undefined) return (defaultConfig ??= validateConfig({}, 'test'));
  return validateConfig(raw, 'test');
}
let defaultConfig: RunwatchConfig | undefined;

/** Runs entries through a fresh pipeline in the order given; returns every finding. `onHeldBack` as the pipeline's. */
export async function findingsOf(entries: readonly unknown[], cfg: RunwatchConfig = config(), onHeldBack?: PipelineOptions['onHeldBack']): Promise<Finding[]> {
  const pipeline = new Pipeline({ config: cfg, store: new MemoryBaselineStore(), ...(onHeldBack ? { onHeldBack } : {}) });
  const findings: Finding[] = [];
  for (const entry of entries) {
    // As in replay, "now" is the entry's own time: rollouts wait for their other half in event time.
    const envelope = readEnvelope(entry);
    const outcome = await pipeline.handleEntry(entry, envelope.ok ? envelope.envelope.timeMs : 0);
    if (outcome.status === 'processed') findings.push(...outcome.findings);
  }
  findings.push(...(await pipeline.flush()));
  return findings;
}

/**
 * Runs entries through a fresh pipeline as the live function gets them: in the order given, each `stepMs` of wall
 * clock after the one before (from `startMs`, after every entry's own time); by default an hour, so each deploy's
 * wait for its system events is over by the next entry. Returns every finding; `store` holds the baselines after.
 */
export async function findingsLive(
  entries: readonly unknown[],
  cfg: RunwatchConfig = config(),
  startMs = Date.parse('2030-01-01T00:00:00Z'),
  stepMs = 3_600_000,
  store: MemoryBaselineStore = new MemoryBaselineStore(),
): Promise<Finding[]> {
  const pipeline = new Pipeline({ config: cfg, store });
  const findings: Finding[] = [];
  let nowMs = startMs;
  for (const entry of entries) {
    nowMs += stepMs;
    const outcome = await pipeline.handleEntry(entry, nowMs);
    if (outcome.status === 'processed') findings.push(...outcome.findings);
  }
  findings.push(...(await pipeline.flush()));
  return findings;
}

/**
 * Runs entries through a pipeline as the live function gets them, each at its own arrival time (ISO), with a sweep
 * (the scheduler's tick) before each one; at the end (unless `end` is false) a sweep an hour after the last arrival,
 * then a flush. Returns every finding; `store` holds the baselines after.
 */
export async function findingsArriving(
  entries: readonly (readonly [unknown, string])[],
  cfg: RunwatchConfig,
  store: MemoryBaselineStore = new MemoryBaselineStore(),
  end = true,
): Promise<Finding[]> {
  const pipeline = new Pipeline({ config: cfg, store });
  const out: Finding[] = [];
  let now = 0;
  for (const [entry, arrival] of entries) {
    now = Date.parse(arrival);
    out.push(...(await pipeline.sweep(now)));
    const outcome = await pipeline.handleEntry(entry, now);
    if (outcome.status === 'processed') out.push(...outcome.findings);
  }
  if (end) out.push(...(await pipeline.sweep(now + 3_600_000)), ...(await pipeline.flush()));
  return out;
}

/**
 * The rules judged when a deploy's rollout completes, which happens in event-time order per service: out-of-order
 * delivery within the wait gives their findings of timestamp order. (Service settings and IAM policies are judged as
 * they come.)
 */
export const DEPLOY_RULES: ReadonlySet<string> = new Set([
  'off-window-deploy',
  'new-image-repository',
  'unapproved-deployer',
  'binary-authorization-bypass',
  'plaintext-secret-env',
  'vpc-egress-bypass',
  'service-account-change',
]);
