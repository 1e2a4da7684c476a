// `npm run dev` reads the user's config as validate-config and the functions read it: a file validate-config
// accepts (YAML merge keys) runs with the same values, and one it refuses (a duplicate key) is refused alike.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config/load.js';
import { devConfig } from '../../functions/dev/devConfig.js';

const dir = mkdtempSync(join(tmpdir(), 'runwatch-dev-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const MERGED = `rules:
  off-window-deploy: &common
    severity: CRITICAL
    exceptions: [{ principal: "breakglass@acme.iam.gserviceaccount.com" }]
  service-account-change:
    <<: *common
    severity: MEDIUM
`;

it('runs a config with YAML merge keys, with the values validate-config reads', () => {
  const path = write('merged.yaml', MERGED);
  const expected = parseConfig(MERGED, path);
  const prepared = devConfig(path, dir);
  expect(prepared).toEqual({ ok: true, path: join(dir, 'runwatch.json') });
  const written = parseConfig(readFileSync(join(dir, 'runwatch.json'), 'utf8'));
  expect(written.rules['service-account-change']).toEqual(expected.rules['service-account-change']);
  expect(written.rules['service-account-change']).toMatchObject({ severity: 'MEDIUM', exceptions: [{ principal: 'breakglass@acme.iam.gserviceaccount.com' }] });
  // The local sinks are added to what the file configures.
  expect(written.sinks.console).toMatchObject({ minSeverity: 'LOW' });
  expect(written.sinks.webhook).toMatchObject({ minSeverity: 'LOW' });
});

it.each([
  ['a duplicate key', 'timezone: UTC\ntimezone: Europe/Berlin\n', /timezone: not valid YAML or JSON: Map keys must be unique/],
  ['text that is no YAML', 'rules: [\n', /\(root\): not valid YAML or JSON/],
  ['a misspelt key', 'timezon: UTC\n', /timezon/],
  ['sinks that are null', 'sinks: ~\n', /sinks: must be object/],
  ['sinks that are a list', 'sinks: []\n', /sinks: must be object/],
  ['a config that is a list', '- timezone: UTC\n', /\(root\): must be object/],
  ['a duplicate key and an unknown one, both at once', 'timezone: UTC\ntimezone: Europe/Berlin\nsurprise: 1\n', /timezone: not valid YAML or JSON: Map keys must be unique[\s\S]*surprise: unknown key/],
])('refuses %s as validate-config does', (_name, text, message) => {
  const path = write('bad.yaml', text);
  expect(() => parseConfig(text, path)).toThrow(message);
  const prepared = devConfig(path, dir);
  expect(prepared.ok).toBe(false);
  if (!prepared.ok) expect(prepared.message).toMatch(message);
});

it('says which file it cannot read', () => {
  const prepared = devConfig(join(dir, 'missing.yaml'), dir);
  expect(prepared).toEqual({ ok: false, message: expect.stringMatching(/^runwatch dev: cannot read .*missing\.yaml: ENOENT/) });
});

it('reads a UTF-16 config with a byte order mark, as validate-config does (Windows PowerShell 5.1 writes one)', () => {
  const path = join(dir, 'utf16.yaml');
  writeFileSync(path, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(MERGED, 'utf16le')]));
  const prepared = devConfig(path, dir);
  expect(prepared).toEqual({ ok: true, path: join(dir, 'runwatch.json') });
  const written = parseConfig(readFileSync(join(dir, 'runwatch.json'), 'utf8'));
  expect(written.rules['service-account-change']).toMatchObject({ severity: 'MEDIUM' });
});

// `npm run dev` prints the message on the terminal: keys and values from the file (a config from someone else's pull
// request) are shown escaped, as validate-config shows them, never as the escape sequences they hold.
it('shows control characters of keys, values and the file name escaped, as validate-config does', () => {
  const path = write('synthetic-esc-\u001b[2J.yaml', 'timezone: UTC\n"evil\\e]0;PWN\\a\\e[2Jkey": 1\nrules:\n  off-window-deploy:\n    severity: "\\e[31mRED\\u009b"\n');
  const prepared = devConfig(path, dir);
  expect(prepared.ok).toBe(false);
  if (prepared.ok) return;
  expect(prepared.message).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/); // line breaks between problems only
  expect(prepared.message).toContain('evil\\u001b]0;PWN\\u0007\\u001b[2Jkey: unknown key');
  expect(prepared.message).toContain('synthetic-esc-\\u001b[2J.yaml');
  expect(prepared.message.split('\n')).toHaveLength(3); // the heading and one line per problem
});

it('shows a file it cannot read by its name escaped', () => {
  const prepared = devConfig(join(dir, 'missing-\u001b]0;PWN\u0007.yaml'), dir);
  expect(prepared.ok).toBe(false);
  if (!prepared.ok) expect(prepared.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
});
