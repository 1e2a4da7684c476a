// The detection core shared by replay and the live pipeline: change + baseline + config -> findings.
// For each change it reads the service's baseline, runs every enabled rule (pure), folds the change into the
// baseline, all in one store transaction, then enriches the detections into findings with deterministic ids.
import { applyChange } from './baseline/apply.js';
import { baselineKey, type BaselineStore } from './baseline/store.js';
import type { ServiceBaseline } from './baseline/state.js';
import { globMatches } from './config/glob.js';
import type { RuleException, RuleSettings, RunwatchConfig } from './config/types.js';
import { detectors, type RuleId } from './detectors/index.js';
import type { Detection, Detector } from './detectors/types.js';
import { linksOf, provenanceOf, resourceNameOf } from './findings/enrich.js';
import type { Finding } from './findings/finding.js';
import { findingId } from './findings/id.js';
import type { Change } from './model/change.js';

interface RuleDetection {
  readonly rule: RuleId;
  readonly detection: Detection;
}

const REGISTERED = Object.values(detectors) as readonly Detector[];

export function storeKeyOf(change: Change): string {
  return change.kind === 'iam-policy' && change.scope === 'project'
    ? baselineKey({ project: change.target.project, service: '*' })
    : baselineKey(change.target);
}

/** True when one of the rule's exceptions matches the change (every field given in it must match). */
export function isExempt(exceptions: readonly RuleException[], change: Change): boolean {
  for (const exception of exceptions) {
    if (exception.principal !== undefined && !(change.principal && globMatches(exception.principal, change.principal.id))) continue;
    if (exception.project !== undefined && !globMatches(exception.project, change.target.project)) continue;
    if (exception.service !== undefined && !globMatches(exception.service, `${change.target.project}/${change.target.service}`)) continue;
    return true;
  }
  return false;
}

/** Runs every enabled, non-exempt rule on one change. Pure. */
export function detect(change: Change, baseline: ServiceBaseline | undefined, config: RunwatchConfig): RuleDetection[] {
  const out: RuleDetection[] = [];
  for (const detector of REGISTERED) {
    if (!detector.changeKinds.includes(change.kind)) continue;
    const settings = config.rules[detector.id] as RuleSettings;
    if (!settings.enabled || isExempt(settings.exceptions, change)) continue;
    for (const detection of detector.detect({ change, baseline, settings: settings as never, config })) {
      out.push({ rule: detector.id, detection });
    }
  }
  return out;
}

export function toFinding(change: Change, { rule, detection }: RuleDetection, config: RunwatchConfig): Finding {
  const settings = config.rules[rule] as RuleSettings;
  const labels = change.kind === 'deploy' ? change.labels : {};
  const images = change.kind === 'deploy' ? change.images : [];
  const revision = change.kind === 'deploy' ? change.revision : undefined;
  const principal = change.principal;
  return {
    id: findingId(rule, detection.dedupKey),
    rule,
    severity: settings.severity ?? detection.severity,
    title: detection.title,
    summary: detection.summary,
    eventTime: change.time,
    project: change.target.project,
    ...(change.target.location ? { location: change.target.location } : {}),
    service: change.target.service,
    ...(revision ? { revision } : {}),
    principal: principal?.id ?? 'unknown',
    ...(principal && principal.delegationChain.length > 0 ? { delegationChain: principal.delegationChain } : {}),
    resourceName: resourceNameOf(change),
    labels,
    provenance: provenanceOf(labels, images, config),
    evidence: detection.evidence,
    unknown: detection.unknown ?? [],
    methodName: change.methodName,
    logName: change.key.logName,
    insertId: change.key.insertId,
    links: linksOf(change, change.key, change.target),
  };
}

export class Engine {
  constructor(
    private readonly config: RunwatchConfig,
    private readonly store: BaselineStore,
  ) {}

  async process(change: Change): Promise<Finding[]> {
    const detections = await this.store.transact(storeKeyOf(change), (current) => ({
      next: applyChange(current, change),
      result: detect(change, current, this.config),
    }));
    return detections.map((d) => toFinding(change, d, this.config));
  }
}
