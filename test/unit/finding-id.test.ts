// Finding ids: 32 lowercase hex, deterministic from the rule and its dedup key, different for different keys.
import { describe, expect, it } from 'vitest';
import { findingId } from '../../functions/findings/id.js';

describe('findingId', () => {
  it('is unchanged for real keys (the console deploy of synthetic-seq-console-deploy, as published before)', () => {
    expect(findingId('off-window-deploy', ['test-project-1234/asia-northeast1/cloud-run-slack-bot', 'cloud-run-slack-bot-00023-kiv'])).toBe('b480979a4a0774241ce02493c48aa430');
  });

  // Parts come from entries; the separator inside a part must not make two different keys one id (a second
  // finding with the id of the first is taken for a redelivery by every sink and dropped).
  it.each([
    [['a\u0000b'], ['a', 'b']],
    [['a\u0000'], ['a', '']],
    [['a', '\u0000b'], ['a', '', 'b']],
    [['a\\0b'], ['a\u0000b']],
    [['a\\'], ['a\\\\']],
  ])('%j and %j are different ids', (one, other) => {
    expect(findingId('off-window-deploy', one)).not.toBe(findingId('off-window-deploy', other));
  });

  it('32 lowercase hex, the same for the same key', () => {
    const key = ['p/l/s', 'rev-00001-abc'];
    expect(findingId('new-image-repository', key)).toMatch(/^[0-9a-f]{32}$/);
    expect(findingId('new-image-repository', [...key])).toBe(findingId('new-image-repository', key));
    expect(findingId('off-window-deploy', key)).not.toBe(findingId('new-image-repository', key));
  });
});
