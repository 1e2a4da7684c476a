// Meta-tests over the detector registry (the typescript-eslint habit): every rule has a file named after it that
// opens with its documentation, a test file with fires and ignores cases, and a config schema entry.
import { readFileSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import schema from '../../../schemas/config.schema.json' with { type: 'json' };
import { detectors, RULE_IDS } from '../../../functions/detectors/index.js';
import { RULE_SEVERITIES } from '../../../functions/detectors/severities.js';
import { sinkFilter } from '../../../functions/detectors/sinkFilter.js';

const root = new URL('../../../', import.meta.url);

describe.each(RULE_IDS)('rule %s', (id) => {
  const detector = detectors[id];

  it('is registered under its own id, in kebab-case', () => {
    expect(detector.id).toBe(id);
    expect(id).toMatch(/^[a-z]+(-[a-z]+)*$/);
  });

  it('lives in a file named after it that opens with what it reads, alerts on, its options and blind spots', () => {
    const source = readFileSync(new URL(`functions/detectors/${id}.ts`, root), 'utf8');
    const header = source.split('\n').filter((l) => l.startsWith('//')).join('\n');
    for (const section of [`// ${id}`, 'Reads:', 'Alerts:', 'Options:', 'Blind spots:']) expect(header).toContain(section);
  });

  it('has a test file with fires and ignores cases', () => {
    const path = new URL(`test/unit/detectors/${id}.test.ts`, root);
    expect(existsSync(path)).toBe(true);
    const tests = readFileSync(path, 'utf8');
    expect(tests).toMatch(/fires/);
    expect(tests).toMatch(/ignores/);
  });

  // The config check refuses a sink rule list that none of a rule's findings can reach (config/load.ts): it reads
  // detectors/severities.ts, which must list every severity the detector file writes, and its default.
  it('has every severity it gives a finding listed in detectors/severities.ts, its default among them', () => {
    const source = readFileSync(new URL(`functions/detectors/${id}.ts`, root), 'utf8');
    const written = new Set([...source.matchAll(/'(LOW|MEDIUM|HIGH|CRITICAL)'/g)].map((m) => m[1]));
    expect([...written].sort()).toEqual([...RULE_SEVERITIES[id].severities].sort());
    expect(RULE_SEVERITIES[id].defaultSeverity).toBe(detector.defaultSeverity);
  });

  it('has a config schema entry and declares the methods it reads', () => {
    expect(Object.keys(schema.properties.rules.properties)).toContain(id);
    // Sink rule lists and Slack's channel map name rules by these ids.
    expect(schema.definitions.ruleId.enum).toContain(id);
    expect(detector.methods.length).toBeGreaterThan(0);
    for (const method of detector.methods) expect(sinkFilter()).toContain(`"${method.methodName}"`);
  });
});

describe('the log sink filter', () => {
  it('includes the Cloud Run system events', () => {
    expect(sinkFilter()).toContain('logName:"cloudaudit.googleapis.com%2Fsystem_event" AND protoPayload.serviceName="run.googleapis.com"');
  });

  it('stays under Cloud Logging\'s 20,000-character limit', () => {
    expect(sinkFilter().length).toBeLessThan(20_000);
  });

  it('the committed Terraform filter is the generated one (run `runwatch sink-filter > terraform/modules/runwatch/log-filter.txt`)', () => {
    const committed = readFileSync(new URL('terraform/modules/runwatch/log-filter.txt', root), 'utf8');
    expect(committed).toBe(sinkFilter());
  });
});
