// Invisible characters in untrusted text: every Unicode Default_Ignorable_Code_Point renders as nothing (Unicode
// asks renderers without explicit support to show them invisibly, zero width), so each one can hide characters or
// a whole text, like the tag characters. A hand-kept list missed some; the terminal and Slack must catch them all.
import { describe, expect, it } from 'vitest';
import { terminalSafe, UNSAFE_CHARS } from '../../functions/untrustedText.js';
import { renderSlack } from '../../sinks/slack.js';
import { makeFinding } from '../support/findings.js';

const INVISIBLE: readonly (readonly [string, string])[] = [
  ['musical symbol begin beam U+1D173', '\u{1d173}'],
  ['musical symbol end phrase U+1D17A', '\u{1d17a}'],
  ['shorthand format letter overlap U+1BCA0', '\u{1bca0}'],
  ['shorthand format up step U+1BCA3', '\u{1bca3}'],
  ['reserved default ignorable U+FFF0', '\ufff0'],
  ['reserved default ignorable U+FFF8', '\ufff8'],
  ['reserved default ignorable after the tags U+E0080', '\u{e0080}'],
  ['reserved default ignorable after the variation selectors U+E01F0', '\u{e01f0}'],
  ['last reserved default ignorable U+E0FFF', '\u{e0fff}'],
  // Already covered, kept as a regression guard.
  ['zero-width space U+200B', '\u200b'],
  ['tag letter U+E0041', '\u{e0041}'],
  ['variation selector 17 U+E0100', '\u{e0100}'],
];

describe('every default-ignorable (invisible) character is unsafe', () => {
  it.each(INVISIBLE)('%s is escaped for a terminal', (_name, char) => {
    const text = `admin${char}@acme.com`;
    expect(terminalSafe(text)).not.toContain(char);
    expect(terminalSafe(text)).toMatch(/^admin(\\u[0-9a-f]{4})+@acme\.com$/);
  });

  it.each(INVISIBLE)('%s becomes U+FFFD in Slack', (_name, char) => {
    const finding = makeFinding('public-invoker-grant', { principal: `admin${char}@acme.com` });
    const json = JSON.stringify(renderSlack(finding, { channel: 'C1' }));
    expect(json).not.toContain(char);
    expect(json).toContain('admin\ufffd@acme.com');
  });

  it('every Default_Ignorable_Code_Point is in UNSAFE_CHARS', () => {
    const missing: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const c = String.fromCodePoint(cp);
      if (/^\p{Default_Ignorable_Code_Point}$/u.test(c) && !new RegExp(UNSAFE_CHARS.source, 'u').test(c)) missing.push(cp.toString(16));
    }
    expect(missing).toEqual([]);
  });

  it('leaves visible text alone', () => {
    for (const text of ['José 東京 한국어 🔥', 'a\u00a0b', 'R&D <x> *y*']) expect(terminalSafe(text)).toBe(text);
  });
});
