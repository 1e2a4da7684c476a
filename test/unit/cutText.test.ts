// Untrusted text kept short is cut by UTF-16 units: a cut inside a surrogate pair (an emoji) left half of it, which is
// not Unicode. protobuf writers then emit invalid UTF-8 (SCC refuses it) and strict JSON parsers refuse the `\udXXX`
// escape (PagerDuty, webhooks): the finding was lost for good. Anyone who calls the API chooses the user agent.
import { describe, expect, it } from 'vitest';
import { parseEntry } from '../../functions/audit/normalize.js';
import { cutText } from '../../functions/untrustedText.js';
import { synthetic, variant } from '../support/entries.js';
import { config, findingsOf } from '../support/run.js';

const EMOJI = '\u{1f600}'; // two UTF-16 units

describe('cutText', () => {
  it.each([
    ['short text: as it is', 'abc', 5, 'abc'],
    ['exactly max', 'abcde', 5, 'abcde'],
    ['ASCII: the first max units', 'abcdef', 5, 'abcde'],
    ['a pair across the cut: left out whole', `abcd${EMOJI}x`, 5, 'abcd'],
    ['a pair before the cut: kept whole', `abc${EMOJI}x`, 5, `abc${EMOJI}`],
    ['a pair right after the cut: not touched', `abcde${EMOJI}`, 5, 'abcde'],
  ])('%s', (_name, text, max, expected) => {
    const cut = cutText(text, max);
    expect(cut).toBe(expected);
    expect(cut.isWellFormed()).toBe(true);
  });
});

/** A v2 create whose user agent is `prefix` units of ASCII and an emoji (no client recognised in it). */
const withAgent = (prefix: number): unknown =>
  variant(synthetic('v2-CreateService'), (e) => {
    (e.protoPayload['requestMetadata'] as Record<string, unknown>)['callerSuppliedUserAgent'] = `${'x'.repeat(prefix)}${EMOJI} and more`;
  });

describe('user agents cut without splitting a character', () => {
  it.each([159, 119])('an emoji at unit %i of the user agent', async (prefix) => {
    const parsed = parseEntry(withAgent(prefix));
    if (parsed.kind !== 'change' || parsed.change.kind !== 'deploy') throw new Error(`not a deploy: ${JSON.stringify(parsed)}`);
    expect(parsed.change.client.name).toBeUndefined();
    expect(parsed.change.client.userAgent?.isWellFormed()).toBe(true);

    const cfg = config({ rules: { 'new-image-repository': { trustedRepositories: ['nothing/*'] } } });
    const findings = await findingsOf([withAgent(prefix)], cfg);
    expect(findings.length).toBeGreaterThan(0);
    for (const finding of findings) {
      const client = finding.evidence['client'];
      expect(typeof client).toBe('string');
      expect((client as string).isWellFormed()).toBe(true);
      expect(JSON.stringify(finding)).not.toMatch(/\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])/);
    }
  });
});
