// The replay table lines its cells up by what a terminal shows, not by UTF-16 units: a wide character (CJK, fullwidth
// forms, the ideographic space, emoji) takes two columns, a combining mark none. Counted as one each, a service named
// with seventeen ideographic spaces and `alice-00001` pushed its row 17 columns right: the name's tail stood under
// REVISION, the revision under PRINCIPAL and the real principal under WHAT; combining marks pulled a row left.
import { describe, expect, it } from 'vitest';
import { formatTable } from '../../functions/replay/format.js';
import { makeFinding } from '../support/findings.js';

/** Terminal columns of the characters these tests use (written out here, independently of format.ts). */
function columns(text: string): number {
  let n = 0;
  for (const c of text) n += /\p{Mn}/u.test(c) ? 0 : /[\u3000-\u9fff\uff00-\uff60\u{1f300}-\u{1f64f}]/u.test(c) ? 2 : 1;
  return n;
}

const SERVICES: readonly (readonly [string, string])[] = [
  ['ideographic spaces, then a fake revision', `${'\u3000'.repeat(17)}alice-00001`],
  ['fullwidth letters', 'ｓｔｏｒｅｆｒｏｎｔ'.repeat(3)],
  ['CJK, longer than the column', '東京の店舗'.repeat(10)],
  ['emoji, longer than the column', '\u{1F600}'.repeat(40)],
  ['combining marks', `s${'\u0301'.repeat(30)}torefront`],
  ['combining marks, far more than the column', `s${'\u0301'.repeat(500)}torefront`],
];

describe('formatTable lines cells up by terminal columns', () => {
  it.each(SERVICES)('%s: the revision, the principal and the title start under their titles', (_name, service) => {
    const finding = makeFinding('off-window-deploy', { service, revision: 'storefront-00042-xuz', principal: 'alice@acme.com' });
    const [header, row] = formatTable([finding]).split('\n') as [string, string];
    for (const [title, value] of [
      ['REVISION', '  storefront-00042-xuz'],
      ['PRINCIPAL', '  alice@acme.com'],
      ['WHAT', `  ${finding.title}`],
    ] as const) {
      const at = row.indexOf(value);
      expect(at, `${title} in ${row}`).toBeGreaterThan(0);
      expect(columns(row.slice(0, at + 2)), title).toBe(header.indexOf(title));
    }
  });
});
