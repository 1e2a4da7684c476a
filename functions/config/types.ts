// The validated configuration, with every default filled in (see schemas/config.schema.json).
import type { Severity } from '../findings/finding.js';

export type Day = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

export interface ChangeWindow {
  readonly name?: string;
  readonly days: readonly Day[];
  /** HH:MM, inclusive. */
  readonly start: string;
  /** HH:MM or 24:00, exclusive; before `start` means the window runs past midnight (equal to it: refused as empty). */
  readonly end: string;
}

export interface Freeze {
  readonly start: string;
  readonly end: string;
  readonly reason?: string;
}

export interface RuleException {
  readonly principal?: string;
  readonly project?: string;
  readonly service?: string;
  readonly reason?: string;
}

export interface RuleSettings {
  readonly enabled: boolean;
  readonly severity?: Severity;
  readonly exceptions: readonly RuleException[];
}

export interface NewImageRepositorySettings extends RuleSettings {
  readonly trustedRepositories: readonly string[];
}

export interface PublicInvokerGrantSettings extends RuleSettings {
  readonly allowServices: readonly string[];
}

export interface PlaintextSecretEnvSettings extends RuleSettings {
  /** Globs (any letter case) over variable names that hold secrets when their value could be one. */
  readonly namePatterns: readonly string[];
  /** Globs (any letter case) over variable names never reported. */
  readonly allowNames: readonly string[];
}

export interface UnapprovedDeployerSettings extends RuleSettings {
  /** Principal globs (see principalMatches) every identity of a deploy must match: the caller and each it acted through. */
  readonly allowedDeployers: readonly string[];
}

export interface ExternalMemberGrantSettings extends RuleSettings {
  /** Globs (any letter case) over the organization's own domains: a user:, group: or domain: member's domain. */
  readonly allowedDomains: readonly string[];
  /** Globs (any letter case) over members, prefix included, never reported (known vendor accounts). */
  readonly allowMembers: readonly string[];
}

export interface RulesConfig {
  readonly 'off-window-deploy': RuleSettings;
  readonly 'service-account-change': RuleSettings;
  readonly 'new-image-repository': NewImageRepositorySettings;
  readonly 'public-invoker-grant': PublicInvokerGrantSettings;
  readonly 'binary-authorization-bypass': RuleSettings;
  readonly 'ingress-opened': RuleSettings;
  readonly 'plaintext-secret-env': PlaintextSecretEnvSettings;
  readonly 'unapproved-deployer': UnapprovedDeployerSettings;
  readonly 'vpc-egress-bypass': RuleSettings;
  readonly 'public-invoker-attempt': RuleSettings;
  readonly 'job-run-overrides': RuleSettings;
  readonly 'iap-disabled': RuleSettings;
  readonly 'default-url-enabled': RuleSettings;
  readonly 'code-loading-env': RuleSettings;
  readonly 'external-member-grant': ExternalMemberGrantSettings;
}

export interface SinkRouting {
  readonly minSeverity: Severity;
  readonly rules?: readonly string[];
}

export interface SlackSinkConfig extends SinkRouting {
  readonly channel?: string;
  readonly channelsBySeverity?: Partial<Record<Severity, string>>;
  readonly channelsByRule?: Readonly<Record<string, string>>;
}

export interface SinksConfig {
  readonly console?: SinkRouting;
  readonly webhook?: SinkRouting & { readonly timeoutSeconds: number };
  readonly scc?: SinkRouting;
  readonly slack?: SlackSinkConfig;
  readonly pagerduty?: SinkRouting & { readonly source: string };
}

export interface CorrelationConfig {
  /** How long a deploy's admin write and its system events wait for each other. */
  readonly waitSeconds: number;
  /** Live pipeline only: read the revision through the Cloud Run Admin API when no system event came in time. */
  readonly adminApiFallback: { readonly enabled: boolean; readonly afterSeconds: number };
}

export interface RunwatchConfig {
  readonly timezone: string;
  readonly changeWindows: readonly ChangeWindow[];
  readonly freezes: readonly Freeze[];
  readonly provenanceLabels: { readonly commit: string | readonly string[]; readonly pipeline: string | readonly string[] };
  readonly cloudFunctions: { readonly watch: boolean };
  readonly correlation: CorrelationConfig;
  readonly rules: RulesConfig;
  readonly sinks: SinksConfig;
}

export type RuleId = keyof RulesConfig;
