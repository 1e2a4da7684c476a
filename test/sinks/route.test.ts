import { describe, expect, it } from 'vitest';
import type { Finding, Severity } from '../../functions/findings/finding.js';
import { routeFinding } from '../../sinks/route.js';
import { makeFinding, resolutionOf } from '../support/findings.js';

const high = makeFinding('public-invoker-grant'); // HIGH
const medium = makeFinding('off-window-deploy'); // MEDIUM

describe('routeFinding', () => {
  it.each<[string, Finding, Severity, readonly string[] | undefined, boolean]>([
    ['at the minimum', high, 'HIGH', undefined, true],
    ['above the minimum', high, 'LOW', undefined, true],
    ['below the minimum', medium, 'HIGH', undefined, false],
    ['CRITICAL reaches a CRITICAL-only sink', makeFinding('public-invoker-grant', {}, { severity: 'CRITICAL' }), 'CRITICAL', undefined, true],
    ['rule listed', high, 'LOW', ['public-invoker-grant'], true],
    ['rule not listed', high, 'LOW', ['off-window-deploy'], false],
    ['empty rule list sends nothing', high, 'LOW', [], false],
  ])('%s', (_name, finding, minSeverity, rules, deliver) => {
    expect(routeFinding(finding, { minSeverity, ...(rules ? { rules } : {}) }).deliver).toBe(deliver);
  });

  it('says why it does not deliver', () => {
    expect(routeFinding(medium, { minSeverity: 'HIGH' })).toEqual({ deliver: false, reason: "severity MEDIUM is below the sink's minSeverity HIGH" });
    expect(routeFinding(high, { minSeverity: 'LOW', rules: ['off-window-deploy'] })).toEqual({
      deliver: false,
      reason: "rule public-invoker-grant is not in the sink's rules list",
    });
  });

  it('fails closed when the sink has no config section', () => {
    expect(routeFinding(high, undefined)).toEqual({ deliver: false, reason: 'the sink has no section under `sinks` in the config' });
  });

  it('fails closed on an unknown severity instead of treating it as the lowest', () => {
    const odd = { ...high, severity: 'URGENT' } as unknown as Finding;
    expect(routeFinding(odd, { minSeverity: 'LOW' })).toEqual({ deliver: false, reason: 'unknown severity "URGENT"' });
    expect(routeFinding(high, { minSeverity: 'low' as Severity }).deliver).toBe(false);
  });

  it('routes a resolution exactly like its finding', () => {
    for (const routing of [{ minSeverity: 'HIGH' as const }, { minSeverity: 'LOW' as const, rules: ['off-window-deploy'] }, { minSeverity: 'LOW' as const }]) {
      for (const finding of [high, medium]) {
        expect(routeFinding(resolutionOf(finding), routing)).toEqual(routeFinding(finding, routing));
      }
    }
  });
});
