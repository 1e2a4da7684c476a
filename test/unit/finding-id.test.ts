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

describe('one entry written with another number of fraction digits', () => {
  // Cloud Logging writes 0, 3, 6 or 9 digits; Panther re-exports nine, Go's RFC3339Nano drops trailing zeros.
  it.each([
    ['2024-02-02T09:44:25.921Z', '2024-02-02T09:44:25.921000000Z', '2024-02-02 09:44:25.921000000', '2024-02-02T09:44:25.921000Z', '2024-02-02T10:44:25.92100+01:00'],
    ['2024-02-02T09:44:25Z', '2024-02-02T09:44:25.000Z', '2024-02-02T09:44:25.000000000Z'],
    ['2024-02-02T09:44:25.123456780Z', '2024-02-02T09:44:25.12345678Z'],
  ])('%s and its other forms are one entry: one finding, one id', async (...forms) => {
    const { synthetic, at } = await import('../support/entries.js');
    const { findingsOf } = await import('../support/run.js');
    const grant = synthetic('run-SetIamPolicy-allUsers');
    const ids = [];
    for (const form of forms) ids.push((await findingsOf([at(grant, form, 'same-insert-id')])).map((f) => [f.id, f.eventTime]));
    for (const found of ids) expect(found).toEqual(ids[0]);
    expect(ids[0]).toHaveLength(1);
    // And all of them in one stream are one entry seen several times.
    expect(await findingsOf(forms.map((form) => at(grant, form, 'same-insert-id')))).toHaveLength(1);
  });
});
