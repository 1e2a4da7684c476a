// The finding: the one record every sink, the replay output and the findings topic share.
// Its JSON form is pinned by schemas/finding.schema.json; change a field only on purpose.
import type { ResourceType } from '../model/change.js';

export const SEVERITIES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

/**
 * A finding's severity under the rule's configured one: it replaces the rule's default; a detection the rule raised
 * from its default (a whole project opened, a deploy in a freeze, a move to the default compute SA) keeps its own, or
 * the configured one when that is higher (the worse case never ranks below the ordinary one); one it lowered (a job
 * run overriding environment only) keeps its own, or the configured one when that is lower (the lesser case never
 * ranks above the ordinary one: a rule turned down to LOW is LOW throughout).
 */
export function configuredSeverity(defaultSeverity: Severity, configured: Severity | undefined, detected: Severity): Severity {
  if (configured === undefined) return detected;
  if (detected === defaultSeverity) return configured;
  const raised = severityRank(detected) > severityRank(defaultSeverity);
  if (raised) return severityRank(configured) > severityRank(detected) ? configured : detected;
  return severityRank(configured) < severityRank(detected) ? configured : detected;
}

export type EvidenceValue = string | number | boolean | null | readonly string[];

export interface Provenance {
  readonly commit?: string;
  readonly pipeline?: string;
  /** Where each value came from, e.g. `label:commit-sha` or `image-tag`. */
  readonly sources?: Readonly<Record<string, string>>;
}

export interface FindingLinks {
  /** The revision (or the service when the revision is unknown) in the Cloud Console. */
  readonly console?: string;
  /** The audit entry in Logs Explorer. */
  readonly logEntry: string;
}

/** Set on a finding whose risk a later change took away (the grant removed, the service account changed back). */
export interface Resolution {
  readonly time: string;
  readonly principal: string;
  readonly reason: string;
  readonly logName: string;
  readonly insertId: string;
}

export interface Finding {
  /** 32 lowercase hex characters, derived from the rule's dedup key: replay and redelivery give the same id. */
  readonly id: string;
  /** `resolved` when `resolution` is set: sinks close what they opened for this id. Absent means active. */
  readonly status?: 'active' | 'resolved';
  readonly resolution?: Resolution;
  readonly rule: string;
  readonly severity: Severity;
  readonly title: string;
  /** One sentence a human can act on; names every fact that is unknown. */
  readonly summary: string;
  readonly eventTime: string;
  readonly project: string;
  readonly location?: string;
  /** The service's name, or the job's or worker pool's (`resourceType`). */
  readonly service: string;
  /** The finding is about a Cloud Run job or worker pool named `service`. Absent: a service (or a project, folder, organization). */
  readonly resourceType?: ResourceType;
  readonly revision?: string;
  readonly principal: string;
  readonly delegationChain?: readonly string[];
  readonly resourceName: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly provenance: Provenance;
  readonly evidence: Readonly<Record<string, EvidenceValue>>;
  /** Facts the audit entry did not carry (e.g. `image`, `revision`), so a reader knows what was not checked. */
  readonly unknown: readonly string[];
  readonly methodName: string;
  readonly logName: string;
  readonly insertId: string;
  readonly links: FindingLinks;
}

/** What a finding's console link opens, in the sinks' words (see consoleLinkSubject). */
export type ConsoleLinkSubject = 'revisions' | 'service' | 'job' | 'worker pools' | 'project IAM' | 'folder IAM' | 'organization IAM';

/** The resource name findings/enrich.ts gives a change to a project's, folder's or organization's IAM policy. */
const WIDE_IAM_RESOURCE = /^\/\/cloudresourcemanager\.googleapis\.com\/(projects|folders|organizations)\/(.*)$/;

/** The project, folder or organization whose IAM policy a finding's `resourceName` names, and its id as written. */
export function wideIamResource(resourceName: string): { readonly kind: 'projects' | 'folders' | 'organizations'; readonly id: string } | undefined {
  const wide = WIDE_IAM_RESOURCE.exec(resourceName);
  return wide ? { kind: wide[1] as 'projects' | 'folders' | 'organizations', id: wide[2]! } : undefined;
}

/**
 * What a finding's console link opens (findings/enrich.ts linksOf), in the sinks' words: for a change to a project's,
 * folder's or organization's IAM policy, that resource's IAM page; a job's, the job; a worker pool's, the list of
 * worker pools; a service's, its revisions tab, named for the revisions when the finding is about one (the console
 * has no page of one revision), else for the service.
 */
export function consoleLinkSubject(finding: Pick<Finding, 'revision' | 'resourceType' | 'resourceName'>): ConsoleLinkSubject {
  const wide = wideIamResource(finding.resourceName)?.kind;
  if (wide) return wide === 'projects' ? 'project IAM' : wide === 'folders' ? 'folder IAM' : 'organization IAM';
  if (finding.resourceType === 'job') return 'job';
  if (finding.resourceType === 'worker-pool') return 'worker pools';
  return finding.revision ? 'revisions' : 'service';
}

/** True when the console link opens a Cloud Run page (a revision, service, job or the worker pools), not an IAM page. */
export function isCloudRunLinkSubject(subject: ConsoleLinkSubject): boolean {
  return !subject.endsWith(' IAM');
}
