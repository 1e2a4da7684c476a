// The detector contract. A detector is pure: the normalized change, the service's baseline snapshot and its
// settings in, detections out. No clients, clocks or module state; the engine does exceptions, ids and enrichment.
import type { RulesConfig, RunwatchConfig } from '../config/types.js';
import type { EvidenceValue, Finding, Severity } from '../findings/finding.js';
import type { Change } from '../model/change.js';
import type { ServiceBaseline } from '../baseline/state.js';

/** An audit method a rule reads; the log sink filter is generated from these. */
export interface AuditMethod {
  readonly serviceName: string;
  readonly methodName: string;
  /** The audit log it is written to, when not Admin Activity: `data_access` (DATA_WRITE calls such as RunJob). */
  readonly log?: 'data_access';
}

export interface DetectorInput<S> {
  readonly change: Change;
  /** The baseline of the change's service (or project, for project-wide IAM), undefined when none is known. */
  readonly baseline: ServiceBaseline | undefined;
  readonly settings: S;
  readonly config: RunwatchConfig;
}

export interface Detection {
  readonly severity: Severity;
  readonly title: string;
  /** One sentence; names unknown facts. Untrusted values go in as they are: sinks escape them for their medium. */
  readonly summary: string;
  readonly evidence: Readonly<Record<string, EvidenceValue>>;
  /** Everything that makes this finding this finding and no other; the id is derived from it. */
  readonly dedupKey: readonly string[];
  readonly unknown?: readonly string[];
  /**
   * The revision the finding is about when it is not the one the write made: an older revision the write sent traffic
   * to (service-account-change). Absent: the write's own (DeployChange.revision), when known.
   */
  readonly revision?: string;
  /** The finding stays open (a risk in force) until the rule's `resolves` says a later change took it away. */
  readonly opensRisk?: boolean;
  /**
   * This entry arrived late, and a newer change, applied before it came, already took the risk away: the finding is
   * reported and closed at once, at that change's `time` for `reason` (who made it is not kept), so no sink holds an
   * alert open for a risk gone.
   */
  readonly takenAwayLater?: { readonly time: string; readonly reason: string };
  /**
   * This entry arrived late, and the newer changes applied before it came still hold its risk: it opens all the same
   * (`opensRisk`), but gives way first when the service has too many open findings (OpenFinding.late).
   */
  readonly heldByNewer?: true;
  /**
   * About a setting of the service the write applied, not its new revision: a failed rollout changes nothing to it
   * (as the detector-wide `serviceSettings`, for one detection of a rule that also judges revisions).
   */
  readonly serviceSetting?: true;
  /**
   * Raised on behalf of a newer write (at `time`) whose entry runwatch does not keep: this entry arrived after it and
   * changes what it did (an older restriction of the ingress that `all` came after: ingress-opened). The finding is
   * that write's, as timestamp order raises it (its time, its dedup key); who made it and its entry are unknown. The
   * rule's exceptions are checked as for a change by an unknown principal (this entry's principal made another write).
   */
  readonly forNewerWrite?: { readonly time: string; readonly timeMs: number };
}

/** A finding still open on this service (kept in its baseline), as the rule raised it. */
export interface OpenFinding {
  readonly rule: string;
  readonly finding: Finding;
  /**
   * Opened by a late entry whose risk newer entries hold (Detection.heldByNewer): over OPEN_LIMIT these go first, so
   * they never push out a finding that would have been kept open without them.
   */
  readonly late?: true;
}

export interface Resolved {
  readonly id: string;
  readonly reason: string;
  /**
   * When it is closed, where that is not the change's own time: a change older than the finding that shows it was
   * never so (revision.ts supersededFindings: the ingress was `all`, the default URL on, before the write it names)
   * closes it at the finding's own time, so that no resolution comes before its finding.
   */
  readonly time?: string;
}

export interface Detector<Id extends keyof RulesConfig = keyof RulesConfig> {
  readonly id: Id;
  readonly title: string;
  readonly defaultSeverity: Severity;
  readonly methods: readonly AuditMethod[];
  /** The kinds of change the rule looks at; others are not passed to `detect`. */
  readonly changeKinds: readonly Change['kind'][];
  /**
   * The rule judges service settings (the invoker IAM check), which a write applies whether or not its new
   * revision becomes Ready: a failed rollout still raises and resolves the rule's findings, as in force.
   */
  readonly serviceSettings?: true;
  /**
   * Every risk the rule opens is a service setting (its `serviceSetting` detections), though its other detections are
   * about revisions (events, never opened): a failed rollout's write still resolves the rule's open findings, as for
   * `serviceSettings`, and raises the others only as a revision that never served.
   */
  readonly serviceSettingRisks?: true;
  /**
   * A delete of the service closes the rule's open findings (`resolves` says so for a delete): a risk (`opensRisk`, or
   * `takenAwayLater`) detected in an entry older than the delete, delivered after it, is reported closed by it (it opens
   * nothing: see Engine.evaluate). Another detection of the rule, an event (a breakglass deploy), is reported as it is.
   */
  readonly closedByDelete?: true;
  /**
   * The rule may raise findings on behalf of a newer write (Detection.forNewerWrite): `detect` runs even for a change
   * its exceptions cover, and only those findings are kept, checked against the exceptions as for a change by an
   * unknown principal.
   */
  readonly reportsForNewerWrites?: true;
  /**
   * The rule judges a write against the revisions the baseline holds applied, never against a write still waiting for
   * its rollout (as revision.ts settingBefore reads a service setting): a newer write judged while an older one waited
   * was judged without it. A finding the older write raises for that newer write (Detection.forNewerWrite) whose risk
   * is gone already is then reported, closed, as timestamp order reports it; the rule itself leaves out one the newer
   * write may have reported against another value before it (revision.ts newerWriteMayHaveReported).
   */
  readonly judgesAppliedRevisionsOnly?: true;
  detect(input: DetectorInput<RulesConfig[Id]>): readonly Detection[];
  /**
   * Which of the rule's open findings this change closes (the grant removed, the identity changed back), with why.
   * Runs whatever the rule's exceptions and enablement: a risk that was reported is closed when it goes away. A
   * finding named twice is closed once, by the first (the engine closes only what is still open).
   */
  resolves?(input: DetectorInput<RulesConfig[Id]>, open: readonly OpenFinding[]): readonly Resolved[];
}
