// (a) Real corpus entries (and the synthetic ones that make every rule fire) published to the audit topic reach
// the webhook receiver as exactly the findings the in-process pipeline (replay's core) raises for them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RULE_IDS } from '../../functions/detectors/index.js';
import { countBy, emulators, expectedFindings, fixtures, outcomesOf, settle, startStack, waitFor, type Stack } from './stack.js';

const emu = emulators();

describe.skipIf(!emu)('live pipeline on the emulators: corpus parity with replay', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(emu!, { name: 'corpus' });
  });
  afterAll(async () => {
    await stack?.close();
  });

  // Every fixture in turn (53 now, more as fixtures are added), each awaited through detect: 19.4 s beside another
  // file on 2 cores, 24.0 s with two busy loops more, against the project's 60 s. Each wait has a bound of its own
  // that names what it awaited (waitFor, settle); the test's limit only guards against a hang: 120 s.
  it('delivers exactly the findings the in-process pipeline raises, each once, with a valid signature', async () => {
    const all = fixtures();
    const expected = await expectedFindings(all.map((f) => f.entry));
    expect(new Set(expected.map((f) => f.rule))).toEqual(new Set(RULE_IDS));

    // One at a time, in file order (as replay reads them): the baseline-dependent rules see the same history.
    for (const [i, fixture] of all.entries()) {
      await stack.publishAudit(fixture.entry);
      await waitFor(`detect to finish ${fixture.name}`, () => stack.detected.length > i, 10_000, () => JSON.stringify(stack.detected.at(-1)));
    }
    await stack.sweep(); // Cloud Scheduler's tick: rollouts still waiting for their other half are evaluated
    const expectedIds = expected.map((f) => f.id).sort();
    await waitFor('every expected finding at the webhook', () => new Set(stack.receivedFindingIds()).size >= new Set(expectedIds).size, 20_000, () =>
      JSON.stringify({ got: stack.receivedFindingIds(), expectedIds }),
    );
    await settle(() => stack.webhook.requests.length + stack.detected.length + stack.notified.length);

    const received = stack.receivedFindingIds();
    expect([...new Set(received)].sort()).toEqual([...new Set(expectedIds)].sort());
    expect([...countBy(received).values()].every((n) => n === 1)).toBe(true);
    expect(stack.webhook.requests.every((r) => stack.webhook.verify(r))).toBe(true);

    // The body is the finding, byte for byte what replay would print.
    const byId = new Map(expected.map((f) => [f.id, f]));
    for (const request of stack.webhook.requests) {
      const body = JSON.parse(request.body) as { id: string };
      expect(body).toEqual(JSON.parse(JSON.stringify(byId.get(body.id))));
    }

    // Entries the core cannot read (payload-only exports without a timestamp) are dead-lettered with the reason;
    // nothing else is.
    const outcomes = await outcomesOf(all.map((f) => f.entry));
    const malformed = all.filter((_, i) => outcomes[i]!.status === 'malformed');
    expect(malformed.length).toBeGreaterThan(0);
    await waitFor('dead letters of the unreadable entries', () => stack.deadLetters.length >= malformed.length);
    expect(stack.deadLetters).toHaveLength(malformed.length);
    for (const letter of stack.deadLetters) {
      const index = malformed.findIndex((f) => JSON.stringify(f.entry) === letter.data.toString('utf8'));
      expect(index).toBeGreaterThanOrEqual(0); // the original data travels with the dead letter
      const outcome = outcomes[all.indexOf(malformed[index]!)]!;
      expect(letter.attributes).toMatchObject({ reason: outcome.status === 'malformed' ? outcome.reason : '?', stage: 'parse', function: 'detect' });
    }

    const counts = stack.detect.counts();
    expect(counts['received']).toBe(all.length + 1); // the entries and the sweep
    expect(counts['sweeps']).toBe(1);
    expect(counts['failed'] ?? 0).toBe(0);
    expect(counts['skipped']).toBeGreaterThan(0);
    expect(stack.logs.filter((l) => l.severity === 'CRITICAL')).toEqual([]);
    // Every skipped entry left a structured log line with its reason.
    expect(stack.logs.filter((l) => l.message.startsWith('entry skipped:') && typeof l['reason'] === 'string')).toHaveLength(counts['skipped']!);
  }, 120_000);
});
