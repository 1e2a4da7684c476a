// The stderr summary of `runwatch replay`, as a user reads it after a run.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { at, synthetic, variant } from '../support/entries.js';
import { runwatch } from '../support/cli.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'runwatch-summary-'));
}

describe('replay summary: malformed entries counted by kind', () => {
  // Each distinct bad value was a reason of its own: an export whose 30 timestamps are all unreadable printed 30
  // summary lines "unreadable timestamp "...": 1" (a million for a million entries), and as many map entries.
  it.each([[['--workers', '0']], [['--workers', '2']], [['--state', 'STATE']]])('%j: one line per kind, the values in the examples', async (mode) => {
    const dir = tempDir();
    const grant = synthetic('run-SetIamPolicy-allUsers');
    const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify({ ...at(grant, '2024-03-01T10:00:00Z'), insertId: `bad-${i}`, timestamp: `2024-02-30T10:00:${String(i).padStart(2, '0')}Z` }));
    const file = join(dir, 'x.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);
    writeFileSync(join(dir, 'broken-1.json'), '[\n  {"a": 1},\n  {"b":\n');
    writeFileSync(join(dir, 'broken-2.json'), '{\n  "a": [1, 2\n');
    const args = mode.map((a) => (a === 'STATE' ? join(dir, 'state.json') : a));
    const run = await runwatch(['replay', '--format', 'ndjson', ...args, file, join(dir, 'broken-1.json'), join(dir, 'broken-2.json')]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('  malformed: 32\n');
    expect(run.stderr).toContain('    unreadable timestamp: 30\n');
    expect(run.stderr).toContain('    file is neither NDJSON nor one JSON document: 2\n');
    expect(run.stderr.match(/^ {4}unreadable timestamp/gm)).toHaveLength(1);
    expect(run.stderr).toContain(`e.g. ${file}:1: unreadable timestamp "2024-02-30T10:00:00Z"`);
  });
});

describe('replay warnings on stderr', () => {
  // The folder warning was written as it was, while every other message that names a path (errors, malformed
  // examples, publish's own copy of this warning) goes through terminalSafe: a folder picked up by a shell glob
  // over a downloaded tree could clear the screen or fake output.
  it.each([['ESC', '\u001b[2J'], ['CSI', '\u009b31m'], ['newline', '\nrunwatch replay: 0 entries read'], ['bidi', '\u202e']])('a folder name with %s is shown escaped', async (_name, evil) => {
    const dir = join(tempDir(), `logs${evil}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.md'), 'not a log\n');
    const run = await runwatch(['replay', '--quiet', dir]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('warning: ');
    expect(run.stderr).toContain('no log files in it');
    expect(run.stderr).not.toMatch(/[\u001b\u009b\u202e]/);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('replay summary: counts read as English', () => {
  it.each([
    [1, 'runwatch replay: 1 entry read in', '1 change evaluated'],
    [2, 'runwatch replay: 2 entries read in', '2 changes evaluated'],
  ])('%i deploy(s)', async (n, read, evaluated) => {
    const dir = tempDir();
    const file = join(dir, 'x.ndjson');
    const deploys = Array.from({ length: n }, (_, i) => JSON.stringify(at(synthetic('v1-ReplaceService-gcloud'), `2024-05-04T1${i}:00:00Z`)));
    writeFileSync(file, `${deploys.join('\n')}\n`);
    const run = await runwatch(['replay', '--format', 'ndjson', file]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(read);
    expect(run.stderr).toContain(evaluated);
  });
});

describe('replay summary: how deploys were joined, in words', () => {
  // The engine's notes are identifiers for logs; at the end of a replay "waiting-for-rollout: 7" read as seven deploys
  // still unjudged, when each was judged once its other half came or its wait ran out.
  it('a gcloud deploy written twice, then its system events', async () => {
    const dir = tempDir();
    const file = join(dir, 'x.ndjson');
    const entries = JSON.parse(readFileSync(join(FIXTURES, 'synthetic-seq-gcloud-double-write.json'), 'utf8')) as unknown[];
    writeFileSync(file, `${entries.map((e) => JSON.stringify(e)).join('\n')}\n`);
    const run = await runwatch(['replay', '--format', 'ndjson', file]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('  correlation (a deploy is judged once its admin write and its system events are joined, or its wait runs out):\n');
    expect(run.stderr).toContain('    opened a rollout, judged later: 1\n');
    expect(run.stderr).toContain('    joined a rollout already open: 1\n');
    expect(run.stderr).toContain('    system events of a rollout already judged: 1\n');
    expect(run.stderr).not.toContain('waiting-for-rollout');
  });
});

describe('replay summary: a broken document is named, its text never quoted', () => {
  // JSON.parse words "Unexpected token" with the text around it (up to 10 characters either side): the
  // summary's example quoted them, so a file broken next to a secret in a variable (a bad edit of an export) showed
  // part of the secret on stderr, which the summary reports for every malformed entry.
  it.each([
    ['a value that lost its opening quote', (pretty: string) => pretty.replace('"value": "s3cr3t-pw-0042"', '"value": s3cr3t-pw-0042"')],
    ['a value in single quotes', (pretty: string) => pretty.replace('"value": "s3cr3t-pw-0042"', "\"value\": 's3cr3t-pw-0042'")],
    ['a short document', () => '{"DB_PASSWORD": s3cr3t-pw-0042}'],
  ])('%s', async (_name, damage) => {
    const deploy = variant(synthetic('v1-ReplaceService-gcloud'), (e) => {
      const containers = (e.protoPayload['request'] as { service: { spec: { template: { spec: { containers: Record<string, unknown>[] } } } } }).service.spec.template.spec.containers;
      containers[0]!['env'] = [{ name: 'DB_PASSWORD', value: 's3cr3t-pw-0042' }];
    });
    const file = join(tempDir(), 'export.json');
    writeFileSync(file, damage(JSON.stringify([deploy], null, 2)));
    const run = await runwatch(['replay', '--format', 'ndjson', file]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('    file is neither NDJSON nor one JSON document: 1\n');
    expect(run.stderr).toContain(`e.g. ${file}: file is neither NDJSON nor one JSON document`);
    expect(run.stderr).not.toMatch(/s3cr3t|3cr3t|pw-00/);
  });
});

describe('replay summary: where a broken JSON document breaks', () => {
  // A pretty-printed array (gcloud logging read --format=json) is one document: its break was located by JSON.parse's
  // character offset ("at position 1873"), which no editor or `sed -n` takes. Now by line and column of the file.
  it('a property that lost its comma: the line and column of the break', async () => {
    const pretty = JSON.stringify([synthetic('v1-ReplaceService-gcloud'), synthetic('run-SetIamPolicy-allUsers')], null, 2);
    const damaged = pretty.replace('"methodName": "google.cloud.run.v1.Services.SetIamPolicy",', '"methodName": "google.cloud.run.v1.Services.SetIamPolicy"');
    expect(damaged).not.toBe(pretty);
    const lines = damaged.split('\n');
    const broken = lines.findIndex((l) => l.includes('"methodName": "google.cloud.run.v1.Services.SetIamPolicy"')) + 2; // 1-based: the next key
    const column = lines[broken - 1]!.indexOf('"') + 1;
    const file = join(tempDir(), 'run.json');
    writeFileSync(file, `${damaged}\n`);
    const run = await runwatch(['replay', '--format', 'ndjson', file]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`e.g. ${file}: file is neither NDJSON nor one JSON document: Expected ',' or '}' after property value in JSON at line ${broken}, column ${column}\n`);
  });

  it('a file cut short (a download stopped): said so, not as an offset past its end', async () => {
    const pretty = JSON.stringify([synthetic('v1-ReplaceService-gcloud'), synthetic('run-SetIamPolicy-allUsers')], null, 2);
    const cut = pretty.slice(0, pretty.lastIndexOf('"methodName"'));
    const file = join(tempDir(), 'run.json');
    writeFileSync(file, cut);
    const run = await runwatch(['replay', '--format', 'ndjson', file]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/e\.g\. .*run\.json: file is neither NDJSON nor one JSON document: .* at the end of the file\n/);
  });
});
