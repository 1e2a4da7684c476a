// The Slack evidence's first line, "Change: before → after", for a public invoker grant. "not public" is a fact
// about the policy before: runwatch knows it only when it knows that policy. For the real `allUsers` grant on a service
// whose earlier policy runwatch never saw (evidence.source "full policy (no earlier policy known)") the service may
// well have been public already; and a public invoker given a role that changes the service (evidence
// upgradedFromInvoker) was public before by definition.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { renderSlack } from '../../sinks/slack.js';
import { at, synthetic, variant, type Json } from '../support/entries.js';
import { findingsOf } from '../support/run.js';

const allUsers = synthetic('run-SetIamPolicy-allUsers');

/** The first line of the evidence section. */
function changeLine(finding: Finding): string | undefined {
  for (const block of renderSlack(finding, { channel: 'C1' }).blocks) {
    if (block.type === 'section' && block.text?.type === 'plain_text' && block.text.text.startsWith('Change: ')) return block.text.text.split('\n')[0];
  }
  return undefined;
}

/** The allUsers grant at `timestamp`, its policy (request and response) holding `bindings`. */
function withBindings(timestamp: string, bindings: Json[]): Json {
  return variant(at(allUsers, timestamp), (e) => {
    (e.protoPayload['request'] as { policy: Json }).policy['bindings'] = bindings;
    (e.protoPayload['response'] as Json)['bindings'] = bindings;
  });
}

async function grants(entries: readonly unknown[]): Promise<Finding[]> {
  return (await findingsOf(entries)).filter((f) => f.rule === 'public-invoker-grant' && f.status !== 'resolved');
}

describe('Slack "Change:" line of a public invoker grant', () => {
  it('no earlier policy known: the state before is unknown, not "not public"', async () => {
    const [finding] = await grants([allUsers]);
    expect(finding?.evidence['source']).toBe('full policy (no earlier policy known)');
    expect(changeLine(finding!)).toBe('Change: unknown (no earlier policy known) → allUsers (roles/run.invoker)');
  });

  it('a public invoker given run.admin: it was an invoker already, not "not public"', async () => {
    const invoker = { role: 'roles/run.invoker', members: ['allUsers'] };
    const admin = { role: 'roles/run.admin', members: ['allUsers'] };
    const findings = await grants([allUsers, withBindings('2024-02-03T10:00:00Z', [invoker, admin])]);
    const upgrade = findings.find((f) => f.evidence['upgradedFromInvoker'] === true);
    expect(changeLine(upgrade!)).toBe('Change: allUsers (invoker) → allUsers (roles/run.admin)');
  });

  it('allUsers added where allAuthenticatedUsers could already call the service: public before, not "not public"', async () => {
    const findings = await grants([
      synthetic('run-SetIamPolicy-private'),
      withBindings('2024-02-03T10:00:00Z', [{ role: 'roles/run.invoker', members: ['allAuthenticatedUsers'] }]),
      withBindings('2024-02-04T10:00:00Z', [{ role: 'roles/run.invoker', members: ['allAuthenticatedUsers', 'allUsers'] }]),
    ]);
    expect(findings.map((f) => changeLine(f))).toEqual([
      'Change: not public → allAuthenticatedUsers (roles/run.invoker)',
      'Change: public (allAuthenticatedUsers) → allUsers (roles/run.invoker)',
    ]);
  });

  it('allUsers added in the same write that gives allAuthenticatedUsers, an invoker already, run.admin: public before', async () => {
    const withBindings = (timestamp: string, bindings: Json[]): Json =>
      variant(at(allUsers, timestamp), (e) => {
        (e.protoPayload['request'] as { policy: Json }).policy['bindings'] = bindings;
        (e.protoPayload['response'] as Json)['bindings'] = bindings;
      });
    const findings = await grants([
      synthetic('run-SetIamPolicy-private'),
      withBindings('2024-02-03T10:00:00Z', [{ role: 'roles/run.invoker', members: ['allAuthenticatedUsers'] }]),
      withBindings('2024-02-04T10:00:00Z', [
        { role: 'roles/run.invoker', members: ['allAuthenticatedUsers', 'allUsers'] },
        { role: 'roles/run.admin', members: ['allAuthenticatedUsers'] },
      ]),
    ]);
    expect(findings.map((f) => changeLine(f))).toEqual([
      'Change: not public → allAuthenticatedUsers (roles/run.invoker)',
      'Change: public (allAuthenticatedUsers) → allAuthenticatedUsers, allUsers (roles/run.admin, roles/run.invoker)',
    ]);
  });

  it('a grant after a known private policy: "not public", as before', async () => {
    const [finding] = await grants([synthetic('run-SetIamPolicy-private'), at(allUsers, '2024-02-03T10:00:00Z')]);
    expect(finding?.evidence['source']).toBe('difference from the last known policy');
    expect(changeLine(finding!)).toBe('Change: not public → allUsers (roles/run.invoker)');
  });
});
