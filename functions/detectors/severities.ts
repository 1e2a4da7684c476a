// Every severity each rule's findings can have before the config applies (its default, and the ones it raises or
// lowers to), by rule id. Kept apart from the detectors, and light: the config check reads it (config/load.ts refuses
// a sink rule list naming a rule none of whose findings can reach the sink) and the notify function, which checks its
// config at start-up, does not load the rules. A registry test checks it against each detector file.
import type { RulesConfig } from '../config/types.js';
import type { Severity } from '../findings/finding.js';

export interface RuleSeverities {
  readonly defaultSeverity: Severity;
  /** Every severity a detection of the rule can have, the default among them. */
  readonly severities: readonly Severity[];
}

export const RULE_SEVERITIES = {
  'off-window-deploy': { defaultSeverity: 'MEDIUM', severities: ['MEDIUM', 'HIGH'] },
  'service-account-change': { defaultSeverity: 'MEDIUM', severities: ['MEDIUM', 'HIGH'] },
  'new-image-repository': { defaultSeverity: 'HIGH', severities: ['HIGH'] },
  'public-invoker-grant': { defaultSeverity: 'HIGH', severities: ['HIGH', 'CRITICAL'] },
  'binary-authorization-bypass': { defaultSeverity: 'HIGH', severities: ['HIGH'] },
  'ingress-opened': { defaultSeverity: 'MEDIUM', severities: ['MEDIUM', 'HIGH'] },
  'plaintext-secret-env': { defaultSeverity: 'HIGH', severities: ['HIGH'] },
  'unapproved-deployer': { defaultSeverity: 'MEDIUM', severities: ['MEDIUM'] },
  'vpc-egress-bypass': { defaultSeverity: 'MEDIUM', severities: ['MEDIUM'] },
  'public-invoker-attempt': { defaultSeverity: 'LOW', severities: ['LOW', 'MEDIUM'] },
  'job-run-overrides': { defaultSeverity: 'HIGH', severities: ['MEDIUM', 'HIGH'] },
  'iap-disabled': { defaultSeverity: 'MEDIUM', severities: ['MEDIUM', 'HIGH'] },
  'default-url-enabled': { defaultSeverity: 'MEDIUM', severities: ['MEDIUM', 'HIGH'] },
  'code-loading-env': { defaultSeverity: 'MEDIUM', severities: ['MEDIUM', 'HIGH'] },
  'external-member-grant': { defaultSeverity: 'HIGH', severities: ['MEDIUM', 'HIGH'] },
} as const satisfies { readonly [Id in keyof RulesConfig]: RuleSeverities };
