// Routing: does a finding reach a sink? Pure; `notify` calls it before `deliverOnce`, the same way for every sink.
// Fails closed (STYLE habit 4): a sink without a config section, an unknown severity or an empty rule list
// delivers nothing, and says why, rather than silently sending everything.
// A resolution carries the rule and severity of the finding it resolves, so it always routes like the original:
// a sink never receives the close of something it was never sent.
import { SEVERITIES, severityRank, type Finding, type Severity } from '../functions/findings/finding.js';
import type { SinkRouting } from '../functions/config/types.js';

export type RouteDecision = { readonly deliver: true } | { readonly deliver: false; readonly reason: string };

export function routeFinding(finding: Finding, routing: SinkRouting | undefined): RouteDecision {
  if (!routing) return { deliver: false, reason: 'the sink has no section under `sinks` in the config' };
  if (!isSeverity(finding.severity)) return { deliver: false, reason: `unknown severity ${JSON.stringify(finding.severity)}` };
  if (!isSeverity(routing.minSeverity)) return { deliver: false, reason: `unknown minSeverity ${JSON.stringify(routing.minSeverity)}` };
  if (severityRank(finding.severity) < severityRank(routing.minSeverity)) {
    return { deliver: false, reason: `severity ${finding.severity} is below the sink's minSeverity ${routing.minSeverity}` };
  }
  if (routing.rules && !routing.rules.includes(finding.rule)) {
    return { deliver: false, reason: `rule ${finding.rule} is not in the sink's rules list` };
  }
  return { deliver: true };
}

function isSeverity(value: unknown): value is Severity {
  return typeof value === 'string' && (SEVERITIES as readonly string[]).includes(value);
}
