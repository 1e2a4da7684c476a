// An entry far over Cloud Logging's size for an audit log entry (512 KiB) among good ones, on the emulators: a public
// grant whose principalEmail is 1 MiB (forged, or published by hand: `runwatch replay --publish`, a test). The
// principal went whole into the finding twice (principal, summary): a finding of 2 MiB, more than a Firestore document
// holds (1 MiB). On the emulators detect's invocation on it never returned (still running after 300 s), logged nothing
// and observed no outcome: in Cloud Functions every delivery would run until the function's timeout, then Pub/Sub
// would dead-letter it without a reason. It must be handled in its first delivery, and the good entries around it
// still raise their findings, delivered once.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countBy, emulators, expectedFindings, fixtures, settle, startStack, waitFor, type Stack } from './stack.js';

const emu = emulators();

const MIB = 1024 * 1024;
const grantText = readFileSync(new URL('../fixtures/pipeline/synthetic-pipeline-public-invoker.json', import.meta.url), 'utf8');
/** synthetic: the public grant on another service, by a principal whose email is 1 MiB. */
const oversized = JSON.parse(
  grantText
    .replaceAll('payments-api', 'ledger-api')
    .replace('"syn-pl-5"', '"synthetic-oversized-1"')
    .replace('"principalEmail": "some.user@company.com"', `"principalEmail": "${'p'.repeat(MIB)}@company.com"`),
) as unknown;

describe.skipIf(!emu)('live pipeline on the emulators: an oversized entry among good ones', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(emu!, { name: 'oversized' });
  });
  afterAll(async () => {
    await s?.close();
  });

  // ~5 s on 2 cores beside other work; each wait is bounded and named, the limit guards against a hang.
  it('handles a 1 MiB entry in its first delivery, and the good ones around it still deliver their findings once', async () => {
    expect(Buffer.byteLength(JSON.stringify(oversized))).toBeGreaterThan(MIB);
    const good = fixtures()
      .filter((f) => /synthetic-pipeline-(public-invoker|deploy-1-first|deploy-3-new-repository)\.json$/.test(f.name))
      .map((f) => f.entry);
    const expectedIds = [...new Set((await expectedFindings(good)).map((f) => f.id))].sort();
    expect(expectedIds.length).toBeGreaterThanOrEqual(3);

    // In order, each awaited (the deploys' findings depend on what came before): the oversized one second.
    let oversizedId = '';
    for (const entry of [good[0], oversized, ...good.slice(1)]) {
      const id = await s.publishAudit(entry);
      if (entry === oversized) oversizedId = id;
      const what = entry === oversized ? 'the oversized entry handled' : 'a good entry handled';
      await waitFor(what, () => s.detected.some((o) => o.messageId === id && o.outcome !== 'failed'), 20_000, () => JSON.stringify(s.detected.map((o) => [o.messageId, o.outcome])));
    }
    await waitFor('every good finding at the webhook', () => new Set(s.receivedFindingIds()).size >= expectedIds.length + 1, 20_000);
    await settle(() => s.detected.length + s.webhook.requests.length + s.deadLetters.length);

    const outcomes = s.detected.filter((o) => o.messageId === oversizedId);
    expect(outcomes.map((o) => o.outcome)).toEqual(['processed']); // once: nothing failed, nothing redelivered
    const findings = outcomes[0]!.outcome === 'processed' ? outcomes[0]!.findings : [];
    expect(findings.map((f) => f.rule)).toEqual(['public-invoker-grant']);
    expect(Buffer.byteLength(JSON.stringify(findings[0]))).toBeLessThan(64 * 1024); // the principal is cut, not carried whole
    expect(findings[0]!.principal).toMatch(/^p+…$/);

    const received = s.receivedFindingIds();
    expect([...countBy(received).values()].every((n) => n === 1)).toBe(true);
    expect([...received].sort()).toEqual([...expectedIds, findings[0]!.id].sort());
    expect(s.detect.counts()['failed'] ?? 0).toBe(0);
    expect(s.deadLetters).toEqual([]);
  }, 60_000);
});
