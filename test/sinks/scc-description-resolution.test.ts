// A resolved finding's SCC description: the console and SCC notifications show it, cut at 4,096 characters. The
// resolution (when, by whom, why) came after the summary and the unknown facts, so a long summary (names and labels
// anyone who can deploy writes) cut it off: the reader of a closed finding could not see that or why it closed.
import { describe, expect, it } from 'vitest';
import { renderScc } from '../../sinks/scc.js';
import { makeFinding, resolutionOf } from '../support/findings.js';

const SOURCE = 'organizations/123456789/sources/987654321';

describe('SCC description of a resolved finding', () => {
  it('says that and why it was resolved first, kept when a long summary is cut', () => {
    const finding = resolutionOf(makeFinding('public-invoker-grant', {}, { summary: `granted to allUsers on ${'x'.repeat(5000)}` }), { reason: 'the grant was removed' });
    const description = String(renderScc(finding, SOURCE).description);
    expect(description.length).toBeLessThanOrEqual(4096);
    expect(description.startsWith(`Resolved at ${finding.resolution!.time} by ${finding.resolution!.principal}: the grant was removed.`)).toBe(true);
  });

  it('an open finding: the summary first, as before', () => {
    const finding = makeFinding('public-invoker-grant');
    expect(String(renderScc(finding, SOURCE).description).startsWith(finding.summary)).toBe(true);
  });
});
