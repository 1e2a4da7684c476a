// Half a surrogate pair is not Unicode, so it has no UTF-8 encoding. One reaches a finding when a value from the
// log entry is cut by UTF-16 units (the engine keeps the first 120 units of an unrecognised user agent, which
// anyone calling the API chooses: 119 ASCII characters and an emoji leave a lone high surrogate). protobufjs (the
// SCC client's encoder) then writes it as the bytes ED A0 BD, not the UTF-8 a proto3 string field must be, and
// JSON.stringify as a `\ud83d` escape that strict JSON parsers refuse. Every string SCC and PagerDuty receive must
// be well formed, or one hostile user agent turns the finding into a permanent failure (dead letter: no SCC
// finding, no page).
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { renderPagerDutyEvents } from '../../sinks/pagerduty.js';
import { renderScc } from '../../sinks/scc.js';
import { makeFinding, resolutionOf } from '../support/findings.js';
import { SCC_TEST_SOURCE } from '../support/sccServer.js';

const CUT_EMOJI = `${'a'.repeat(119)}😀`.slice(0, 120); // ends in a lone high surrogate
const LONE_LOW = 'x\udc00y';

const PLACEMENTS: readonly (readonly [string, (bad: string) => Finding])[] = [
  ['evidence string (user agent as client)', (bad) => withEvidence(makeFinding('off-window-deploy'), { client: bad })],
  ['evidence list element', (bad) => withEvidence(makeFinding('new-image-repository'), { knownRepositories: [bad] })],
  ['principal', (bad) => makeFinding('public-invoker-grant', { principal: bad })],
  ['summary', (bad) => makeFinding('public-invoker-grant', {}, { summary: `deployed ${bad}` })],
  ['service', (bad) => makeFinding('off-window-deploy', {}, { service: bad })],
  ['project', (bad) => makeFinding('off-window-deploy', {}, { project: bad })],
  ['revision', (bad) => makeFinding('off-window-deploy', {}, { revision: bad })],
  ['label value', (bad) => makeFinding('off-window-deploy', { labels: { team: bad } })],
  ['label key', (bad) => makeFinding('off-window-deploy', { labels: { [bad]: 'v' } })],
  ['delegation chain', (bad) => makeFinding('service-account-change', {}, { delegationChain: [bad] })],
  ['commit', (bad) => makeFinding('off-window-deploy', {}, { provenance: { commit: bad } })],
  ['resolution principal and reason', (bad) => resolutionOf(makeFinding('public-invoker-grant'), { principal: bad, reason: bad })],
];

function withEvidence(finding: Finding, evidence: Finding['evidence']): Finding {
  return { ...finding, evidence: { ...finding.evidence, ...evidence } };
}

/** Every string in `value`, object keys included. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      strings(v, out);
    }
  }
  return out;
}

describe('lone surrogates never reach SCC or PagerDuty', () => {
  it.each(PLACEMENTS.flatMap(([name, make]) => [CUT_EMOJI, LONE_LOW].map((bad) => [name, make(bad)] as const)))(
    '%s: every string SCC receives is well formed (valid UTF-8 on the wire)',
    (_name, finding) => {
      expect(strings(renderScc(finding, SCC_TEST_SOURCE)).filter((s) => !s.isWellFormed())).toEqual([]);
    },
  );

  it.each(PLACEMENTS.flatMap(([name, make]) => [CUT_EMOJI, LONE_LOW].map((bad) => [name, make(bad)] as const)))(
    '%s: every string PagerDuty receives is well formed (no lone \\uXXXX surrogate escape in the JSON)',
    (_name, finding) => {
      for (const originalDelivered of [true, false]) {
        const events = renderPagerDutyEvents(finding, { source: 'runwatch', originalDelivered });
        expect(strings(events).filter((s) => !s.isWellFormed())).toEqual([]);
        expect(JSON.stringify(events)).not.toMatch(/\\ud[89a-f][0-9a-f]{2}/i);
      }
    },
  );

  it('a surrogate pair that is whole stays as it is', () => {
    const finding = withEvidence(makeFinding('off-window-deploy'), { client: 'curl 😀' });
    expect(JSON.stringify(renderScc(finding, SCC_TEST_SOURCE))).toContain('curl 😀');
    expect(JSON.stringify(renderPagerDutyEvents(finding, { source: 'runwatch' }))).toContain('curl 😀');
  });
});
