// The examples' configs are what teams copy: a sink that names the rules it takes (`sinks.<sink>.rules`) must be able to
// receive each of them at its minSeverity. A rule listed there whose findings can never reach that severity (under the
// config's own rules.<rule>.severity) is routed nowhere: nobody is paged for what the config says pages.
// The severities a rule can raise are its default and every severity literal in its detector file; the configured
// severity applies as engine.ts severityOf does (schemas/config.schema.json, ruleSeverity).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../functions/config/load.js';
import { detectors, type RuleId } from '../../functions/detectors/index.js';
import { configuredSeverity, severityRank } from '../../functions/findings/finding.js';
import type { Severity } from '../../functions/findings/finding.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = ['organization', 'project'].map((name) => ({ name, config: join(ROOT, 'terraform', 'examples', name, 'runwatch.yaml') }));

/** Every severity the rule's detector can give a finding before the config applies. */
function detectedSeverities(rule: RuleId): Severity[] {
  const source = readFileSync(join(ROOT, 'functions', 'detectors', `${rule}.ts`), 'utf8');
  const literals = [...source.matchAll(/'(LOW|MEDIUM|HIGH|CRITICAL)'/g)].map((m) => m[1] as Severity);
  return [...new Set([detectors[rule].defaultSeverity, ...literals])];
}

/** As engine.ts applies it (findings/finding.ts configuredSeverity). */
function finalSeverity(rule: RuleId, configured: Severity | undefined, detected: Severity): Severity {
  return configuredSeverity(detectors[rule].defaultSeverity, configured, detected);
}

describe.each(EXAMPLES)('examples/$name/runwatch.yaml', ({ config: path }) => {
  it('routes every rule a sink names to it at some severity that sink takes', async () => {
    const config = await loadConfigFile(path);
    const unreachable: string[] = [];
    for (const [sink, settings] of Object.entries(config.sinks) as Array<[string, { minSeverity: Severity; rules?: RuleId[] }]>) {
      for (const rule of settings.rules ?? []) {
        const configured = (config.rules[rule] as { severity?: Severity }).severity;
        const highest = detectedSeverities(rule)
          .map((s) => finalSeverity(rule, configured, s))
          .sort((a, b) => severityRank(b) - severityRank(a))[0]!;
        if (severityRank(highest) < severityRank(settings.minSeverity)) {
          unreachable.push(`sinks.${sink}.rules lists ${rule}, whose findings are at most ${highest}, below sinks.${sink}.minSeverity ${settings.minSeverity}`);
        }
      }
    }
    expect(unreachable).toEqual([]);
  });
});
