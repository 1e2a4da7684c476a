import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../../functions/config/load.js';
import { runwatch } from '../support/cli.js';
import { configProblems } from '../support/config.js';

const problems = (text: string): string[] => configProblems(text);

describe('config: YAML anchors and aliases', () => {
  // An alias is a copy of its anchor's value: the defaults the schema fills in at one place must not appear at the
  // other (where they may be unknown keys) and must not leak between rules.
  it.each([
    ['one rule settings object for two rules', 'rules:\n  public-invoker-grant: &r {exceptions: [{principal: breakglass@acme.com}]}\n  new-image-repository: *r\n', []],
    ['a rule settings object reused by a rule with other keys', 'rules:\n  off-window-deploy: &r {severity: HIGH}\n  public-invoker-grant: *r\n  new-image-repository: *r\n', []],
    ['a shared exceptions list', 'rules:\n  off-window-deploy: {exceptions: &e [{principal: a@b.c}]}\n  public-invoker-grant: {exceptions: *e}\n', []],
    ['a shared sink object', 'sinks:\n  pagerduty: &s {minSeverity: HIGH}\n  scc: *s\n', []],
    ['a shared and invalid object: each use is reported', 'rules:\n  off-window-deploy: &r {severity: SEVERE}\n  public-invoker-grant: *r\n', [
      'rules.off-window-deploy.severity: must be one of LOW, MEDIUM, HIGH, CRITICAL',
      'rules.public-invoker-grant.severity: must be one of LOW, MEDIUM, HIGH, CRITICAL',
    ]],
  ])('%s', (_name, text, expected) => {
    expect(problems(text)).toEqual(expected);
  });

  // Merge keys (`<<`, YAML 1.1, as docker-compose and GitLab CI files use them): common settings once, each rule
  // adding its own. Without them `<<` was an unknown key.
  it('a merge key takes an anchored mapping\'s keys, and the keys written beside it win', () => {
    const config = parseConfig(
      'rules:\n  off-window-deploy: &common {severity: HIGH, exceptions: [{principal: breakglass@acme.com, reason: incidents}]}\n  service-account-change:\n    <<: *common\n    severity: CRITICAL\n',
    );
    expect(config.rules['service-account-change'].severity).toBe('CRITICAL');
    expect(config.rules['service-account-change'].exceptions).toEqual([{ principal: 'breakglass@acme.com', reason: 'incidents' }]);
    expect(config.rules['off-window-deploy'].severity).toBe('HIGH');
  });

  // The yaml library finds these only when it builds the data, and says neither where nor in which setting: the
  // user read "(root): ... Unresolved alias (the anchor must be set before the alias): comon" or "Merge sources must
  // be maps or map aliases", where the README promises every YAML error with its line and column.
  it.each([
    ['a merge key whose value is no mapping', 'rules:\n  off-window-deploy:\n    <<: [1, 2]\n', [
      'rules.off-window-deploy.<<: not valid YAML or JSON: a merge key (<<) takes a mapping, an alias of one, or a list of them at line 3, column 10',
    ]],
    ['a merge key whose alias names a list', 'x: &x [1]\nrules:\n  off-window-deploy:\n    <<: *x\n', [
      'rules.off-window-deploy.<<: not valid YAML or JSON: a merge key (<<) takes a mapping, an alias of one, or a list of them at line 4, column 9',
    ]],
    ['an alias whose anchor is misspelt', 'rules:\n  off-window-deploy: {exceptions: &common [{principal: a@b.c}]}\n  ingress-opened: {exceptions: *comon}\n', [
      'rules.ingress-opened.exceptions: not valid YAML or JSON: alias *comon names no anchor &comon set before it at line 3, column 32',
    ]],
    ['aliases before their anchor, and a merge of one: each at its place', 'rules:\n  ingress-opened: {exceptions: *e}\n  iap-disabled:\n    <<: *r\n  off-window-deploy: &r {exceptions: &e [{principal: a@b.c}]}\n', [
      'rules.ingress-opened.exceptions: not valid YAML or JSON: alias *e names no anchor &e set before it at line 2, column 32',
      'rules.iap-disabled.<<: not valid YAML or JSON: alias *r names no anchor &r set before it at line 4, column 9',
    ]],
  ])('%s is a YAML error at its place', (_name, text, expected) => {
    expect(problems(text)).toEqual(expected);
  });

  it('the defaults of one use of an alias do not show up in another', () => {
    const config = parseConfig('rules:\n  public-invoker-grant: &r {exceptions: [{principal: a@b.c}]}\n  new-image-repository: *r\n');
    expect(Object.keys(config.rules['public-invoker-grant']).sort()).toEqual(['allowServices', 'enabled', 'exceptions']);
    expect(Object.keys(config.rules['new-image-repository']).sort()).toEqual(['enabled', 'exceptions', 'trustedRepositories']);
  });

  it('an alias bomb is refused quickly, as a YAML error', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const started = Date.now();
    expect(problems(levels.join('\n'))).toEqual([expect.stringMatching(/^\(root\): not valid YAML or JSON: .*alias/i)]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a self-referencing alias is reported, not a hang', () => {
    expect(problems('changeWindows: &c [*c]\n')).toEqual(['changeWindows[0]: must be object']);
  });
});

// YAML types an unquoted value by how it reads: YAML 1.2 (runwatch's) keeps `off` and `yes` strings, and a file that
// declares `%YAML 1.1` gets 1.1's types, where `17:00` is the number 1020 (base 60) and `2024-12-20` a timestamp in
// UTC. The schema then said "must be boolean" of `enabled: off` and "must be string" of `start: 09:00`: true of the
// value YAML made, not of what the user sees in the file. Each reason now says what YAML read, and what to write.
describe('config: values YAML typed otherwise than they read', () => {
  it.each([
    ['enabled: off (a string in YAML 1.2)', 'rules:\n  off-window-deploy:\n    enabled: off\n', [
      'rules.off-window-deploy.enabled: must be boolean: YAML 1.2 reads off, unquoted, as the string "off" (its booleans are true and false): write false',
    ]],
    ['watch: yes and enabled: On', 'cloudFunctions: {watch: yes}\nrules: {ingress-opened: {enabled: On}}\n', [
      'cloudFunctions.watch: must be boolean: YAML 1.2 reads yes, unquoted, as the string "yes" (its booleans are true and false): write true',
      'rules.ingress-opened.enabled: must be boolean: YAML 1.2 reads On, unquoted, as the string "On" (its booleans are true and false): write true',
    ]],
    ['window times in a %YAML 1.1 file (base 60)', '%YAML 1.1\n---\nchangeWindows:\n  - {days: [mon], start: 09:00, end: 17:30}\n', [
      'changeWindows[0].start: must be string: YAML read 09:00, unquoted, as the number 540 (YAML 1.1 reads numbers separated by colons in base 60): quote it, "09:00"',
      'changeWindows[0].end: must be string: YAML read 17:30, unquoted, as the number 1050 (YAML 1.1 reads numbers separated by colons in base 60): quote it, "17:30"',
    ]],
    // A window time takes two-digit hours: the quoted value to write is one the schema takes.
    ['a one-digit hour in a %YAML 1.1 file', '%YAML 1.1\n---\nchangeWindows:\n  - {days: [mon], start: 9:00, end: "17:00"}\n', [
      'changeWindows[0].start: must be string: YAML read 9:00, unquoted, as the number 540 (YAML 1.1 reads numbers separated by colons in base 60): quote it, "09:00"',
    ]],
    ['freeze dates without a zone in a %YAML 1.1 file (timestamps in UTC)', '%YAML 1.1\n---\ntimezone: Europe/Berlin\nfreezes:\n  - {start: 2024-12-20, end: "2025-01-06"}\n', [
      'freezes[0].start: must be string: YAML read 2024-12-20, unquoted, as the timestamp 2024-12-20T00:00:00.000Z (YAML 1.1 reads a date as a timestamp, one without a zone in UTC rather than in timezone): quote it, "2024-12-20"',
    ]],
    ['a channel named on in a %YAML 1.1 file', '%YAML 1.1\n---\nsinks: {slack: {channel: on}}\n', [
      'sinks.slack.channel: must be string: YAML read on, unquoted, as the boolean true (YAML 1.1 reads yes, no, on and off as booleans): quote it, "on"',
    ]],
    // Tuning comments settings out: a key left with nothing under it is null to YAML.
    ['a rule whose settings are all commented out', 'rules:\n  new-image-repository:\n    # trustedRepositories: [gcr.io/acme]\n  off-window-deploy:\n    exceptions:\n      # - {principal: breakglass@acme.com}\n', [
      'rules.off-window-deploy.exceptions: must be array: it has no value (nothing follows the key, or all under it is commented out), which YAML reads as null: write [], or remove the key',
      'rules.new-image-repository: must be object: it has no value (nothing follows the key, or all under it is commented out), which YAML reads as null: write {}, or remove the key',
    ]],
    ['a list item with nothing after its "-"', 'rules:\n  off-window-deploy:\n    exceptions:\n      -\n      - {principal: breakglass@acme.com}\n', [
      'rules.off-window-deploy.exceptions[0]: must be object: it has no value (a "-" with nothing after it), which YAML reads as null: write {}, or remove the item',
    ]],
  ])('%s: said as written', (_name, text, expected) => {
    expect(problems(text)).toEqual(expected);
  });

  it.each([
    ['a quoted string where a boolean goes (no YAML pitfall)', 'rules: {off-window-deploy: {enabled: "off"}}', ['rules.off-window-deploy.enabled: must be boolean']],
    ['a number where a string goes, written as that number', 'timezone: 5', ['timezone: must be string']],
    ['%YAML 1.1 booleans where booleans go', '%YAML 1.1\n---\nrules: {off-window-deploy: {enabled: off}}\ncloudFunctions: {watch: yes}\n', []],
  ])('%s: as before', (_name, text, expected) => {
    expect(problems(text)).toEqual(expected);
  });
});

// validate-config is how a user fixes a file: one run names every YAML error with its line, and a duplicate key (the
// structure is whole) no longer hides the schema's findings until the next run.
describe('config: YAML errors, all of them', () => {
  it.each([
    ['two syntax errors: both, each with its line', 'timezone: [UTC\nrules:\n  a: b: c\n', [
      /^\(root\): not valid YAML or JSON: Flow sequence in block collection must be sufficiently indented and end with a \] at line 2, column 1$/,
      /^\(root\): not valid YAML or JSON: Nested mappings are not allowed in compact mappings at line 3, column 6$/,
    ]],
    ['a duplicate key, at its path, and the schema\'s problems too', 'timezone: UTC\nrules:\n  off-window-deploy: {severity: HIGH}\n  off-window-deploy: {severity: LOW}\n  bogus: 1\n', [
      /^rules\.off-window-deploy: not valid YAML or JSON: Map keys must be unique at line 4, column 3$/,
      /^rules\.bogus: unknown rule; the rules are off-window-deploy, /,
    ]],
    ['a duplicate key in a list item', 'changeWindows:\n  - {days: [mon], start: "09:00", end: "17:00", start: "10:00"}\n', [
      /^changeWindows\[0\]\.start: not valid YAML or JSON: Map keys must be unique at line 2, column 49$/,
    ]],
    ['a duplicate top-level key', 'timezone: UTC\ntimezone: Mars/Base\n', [
      /^timezone: not valid YAML or JSON: Map keys must be unique at line 2, column 1$/,
      /^timezone: "Mars\/Base" is not an IANA time zone$/,
    ]],
    // The yaml library's own words told the user to call its API ("please use YAML.parseAllDocuments()").
    ['a second document', 'timezone: UTC\n---\ntimezone: UTC\n', [/^\(root\): not valid YAML or JSON: a config file is one YAML document: a second one starts at line 2, column 1 \(a "---" line\)$/]],
    ['a "---" after the settings (an empty second document)', 'timezone: UTC\n---\n', [/^\(root\): not valid YAML or JSON: a config file is one YAML document: a second one starts at line 2, column 1 \(a "---" line\)$/]],
  ])('%s', (_name, text, expected) => {
    const found = problems(text);
    expect(found).toHaveLength(expected.length);
    expected.forEach((pattern, i) => expect(found[i]).toMatch(pattern));
  });
});


// Windows PowerShell 5.1 writes UTF-16LE with a byte order mark for `>` and Out-File (as replay's inputs say): a config
// written so was read as UTF-8, and validate-config answered "(root): must be object" for a valid file.
describe('config file encodings', () => {
  const text = 'timezone: Europe/Berlin\nrules:\n  off-window-deploy: {severity: HIGH}\n';
  const utf16be = (s: string): Buffer => {
    const le = Buffer.from(s, 'utf16le');
    for (let i = 0; i < le.length; i += 2) [le[i], le[i + 1]] = [le[i + 1]!, le[i]!];
    return le;
  };
  it.each([
    ['UTF-8', Buffer.from(text, 'utf8')],
    ['UTF-8 with a byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')])],
    ['UTF-16LE with a byte order mark (PowerShell 5.1)', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])],
    ['UTF-16BE with a byte order mark', Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(text)])],
  ])('%s is read', async (_name, bytes) => {
    const file = join(mkdtempSync(join(tmpdir(), 'runwatch-config-')), 'runwatch.yaml');
    writeFileSync(file, bytes);
    const config = await loadConfigFile(file);
    expect(config.timezone).toBe('Europe/Berlin');
    expect(config.rules['off-window-deploy'].severity).toBe('HIGH');
    const run = await runwatch(['validate-config', file]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
  });
});
