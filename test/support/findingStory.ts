// What became of each finding of one rule over a run (live or in timestamp order), for tests that compare the two.
import type { Finding } from '../../functions/findings/finding.js';

/** The last word (newest status) of each finding of `rule`, in the order the findings were first raised. */
export function lastWords(findings: readonly Finding[], rule: string): Finding[] {
  const last = new Map<string, Finding>();
  for (const f of findings) if (f.rule === rule) last.set(f.id, f);
  return [...last.values()];
}

/** Ids of the findings of `rule` whose last word is active, sorted. */
export function openIds(findings: readonly Finding[], rule: string): string[] {
  return lastWords(findings, rule)
    .filter((f) => (f.status ?? 'active') === 'active')
    .map((f) => f.id)
    .sort();
}

/** Findings of `rule` not reported active once and then resolved at most once, as `id status,status...`. */
export function badLifecycles(findings: readonly Finding[], rule: string): string[] {
  const statuses = new Map<string, string[]>();
  for (const f of findings) if (f.rule === rule) statuses.set(f.id, [...(statuses.get(f.id) ?? []), f.status ?? 'active']);
  return [...statuses].filter(([, s]) => s[0] !== 'active' || s.length > 2 || (s.length === 2 && s[1] !== 'resolved')).map(([id, s]) => `${id} ${s.join(',')}`);
}
