import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import findingSchema from '../../schemas/finding.schema.json' with { type: 'json' };
import { at, corpus, synthetic, withV1Image } from '../support/entries.js';
import { runwatch, spawnRunwatch } from '../support/cli.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'runwatch-test-'));
}

const CONFIG = `
timezone: UTC
changeWindows: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]
`;

// A week of one service: a weekday deploy (baseline), a saturday deploy with a new SA and a Docker Hub image,
// a public grant, and a failed write. Expected: off-window + service-account-change + new-image-repository + public.
function history(): Record<string, unknown>[] {
  const gcloud = synthetic('v1-ReplaceService-gcloud');
  const weekday = at(gcloud, '2024-05-06T10:00:00Z');
  const saturday = at(
    withV1Image(
      JSON.parse(JSON.stringify(gcloud).replaceAll('cloud-run-slack-bot@test-project-1234.iam', 'intruder@test-project-1234.iam')) as Record<string, unknown>,
      'docker.io/attacker/bot:1',
    ),
    '2024-05-11T03:00:00Z',
  );
  const grant = JSON.parse(
    JSON.stringify(synthetic('run-SetIamPolicy-allUsers')).replaceAll('some-project', 'test-project-1234').replaceAll('cloudrun-exfil', 'cloud-run-slack-bot').replaceAll('us-west1', 'asia-northeast1'),
  ) as Record<string, unknown>;
  return [weekday, saturday, at(grant, '2024-05-11T03:05:00Z'), corpus('slackbot__Services.ReplaceService__2')];
}

describe('runwatch replay', () => {
  it('prints findings with the contract fields as NDJSON, in timestamp order across files', async () => {
    const dir = tempDir();
    const [weekday, saturday, grant, failed] = history();
    // Out of order across files: the later entries come first.
    writeFileSync(join(dir, 'a.json'), JSON.stringify([grant, saturday], null, 2));
    writeFileSync(join(dir, 'b.ndjson'), `${JSON.stringify(weekday)}\n${JSON.stringify(failed)}\n`);
    writeFileSync(join(dir, 'config.yaml'), CONFIG);
    const run = await runwatch(['replay', '--config', join(dir, 'config.yaml'), '--format', 'ndjson', join(dir, 'a.json'), join(dir, 'b.ndjson')]);
    expect(run.code).toBe(0);
    const findings = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(findings.map((f) => f['rule']).sort()).toEqual(['new-image-repository', 'off-window-deploy', 'public-invoker-grant', 'service-account-change']);
    const validate = new Ajv({ allErrors: true, strict: false }).compile(findingSchema);
    for (const finding of findings) expect(validate(finding), JSON.stringify(validate.errors)).toBe(true);
    expect(findings.find((f) => f['rule'] === 'service-account-change')).toMatchObject({
      eventTime: '2024-05-11T03:00:00Z',
      project: 'test-project-1234',
      location: 'asia-northeast1',
      service: 'cloud-run-slack-bot',
      principal: 'masatonaka1989@gmail.com',
      resourceName: '//run.googleapis.com/projects/test-project-1234/locations/asia-northeast1/services/cloud-run-slack-bot',
      evidence: { before: 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com', after: 'intruder@test-project-1234.iam.gserviceaccount.com' },
    });
    expect(run.stderr).toMatch(/4 entries read/);
    expect(run.stderr).toMatch(/failed-call: 1/);
  });

  // A broken first line made the reader take the file for one JSON document, which did not parse either: every
  // other entry was lost. Now the broken lines are reported and the rest read, however the file is read.
  it.each([
    ['NDJSON whose first line is broken', (e: string[]) => `{"broken\n${e.join('\n')}\n`, 4, ['x.ndjson:1: line is not JSON']],
    ['the same after blank lines', (e: string[]) => `\n\n{"broken\n${e.join('\n')}\n`, 4, ['x.ndjson:3: line is not JSON']],
    ['the same, gzip', (e: string[]) => `{"broken\n${e.join('\n')}\n`, 4, ['x.ndjson:1: line is not JSON']],
    ['two broken lines among them', (e: string[]) => `[{"broken\n${e[0]}\nnot json\n${e[1]}\n${e[2]}\n`, 3, ['x.ndjson:1: line is not JSON', 'x.ndjson:3: line is not JSON']],
    ['a broken pretty-printed document: one problem, no fragments', (e: string[]) => JSON.stringify(e.map((x) => JSON.parse(x) as unknown), null, 2).slice(0, -10), 0, ['x.ndjson: file is neither NDJSON nor one JSON document']],
  ])('%s', async (name, content, entries, malformed) => {
    const dir = tempDir();
    const lines = history().map((entry) => JSON.stringify(entry));
    expect(lines).toHaveLength(4);
    const file = join(dir, 'x.ndjson');
    writeFileSync(file, name.endsWith('gzip') ? gzipSync(content(lines)) : content(lines));
    for (const workers of ['0', '2']) {
      const run = await runwatch(['replay', '--format', 'ndjson', '--workers', workers, file]);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain(`${entries + malformed.length} ${entries + malformed.length === 1 ? 'entry' : 'entries'} read`);
      for (const where of malformed) expect(run.stderr).toContain(where.replace('x.ndjson', file));
    }
  });

  it('reads gzip, folders (an export tree), stdin, and counts malformed input without stopping', async () => {
    const dir = tempDir();
    const [weekday, saturday, grant] = history();
    mkdirSync(join(dir, 'cloudaudit.googleapis.com/activity/2024/05/06'), { recursive: true });
    mkdirSync(join(dir, 'cloudaudit.googleapis.com/activity/2024/05/11'), { recursive: true });
    writeFileSync(join(dir, 'cloudaudit.googleapis.com/activity/2024/05/06/10:00:00_10:59:59_S0.json'), `${JSON.stringify(weekday)}\nnot json\n`);
    writeFileSync(join(dir, 'cloudaudit.googleapis.com/activity/2024/05/11/03:00:00_03:59:59_S0.json.gz'), gzipSync(`${JSON.stringify(saturday)}\n{"no":"timestamp"}\n`));
    writeFileSync(join(dir, 'config.yaml'), CONFIG);
    const run = await runwatch(['replay', '--config', join(dir, 'config.yaml'), '--format', 'json', join(dir, 'cloudaudit.googleapis.com'), '-'], JSON.stringify(grant));
    expect(run.code).toBe(0);
    const findings = JSON.parse(run.stdout) as { rule: string }[];
    expect(findings.map((f) => f.rule).sort()).toEqual(['new-image-repository', 'off-window-deploy', 'public-invoker-grant', 'service-account-change']);
    expect(run.stderr).toMatch(/malformed: 2/);
    expect(run.stderr).toMatch(/line is not JSON: 1/);
    expect(run.stderr).toMatch(/10:00:00_10:59:59_S0\.json:2: line is not JSON/);
  });

  it('--since and --until bound the replay', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'all.json'), JSON.stringify(history()));
    writeFileSync(join(dir, 'config.yaml'), CONFIG);
    const run = await runwatch(['replay', '--config', join(dir, 'config.yaml'), '--format', 'ndjson', '--since', '2024-05-11T03:04:00Z', '--until', '2024-05-12', join(dir, 'all.json')]);
    expect(run.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { rule: string }).rule)).toEqual(['public-invoker-grant']);
    expect(run.stderr).toMatch(/outside --since\/--until: 3/);
  });

  // Audit timestamps carry up to nine fraction digits: the bounds compare them all, in every replay mode. Near 2024
  // one float64 of milliseconds resolves only ~244 ns: 09:59:59.999999999 was in --since 10:00:00, and --since
  // 10:00:00 --until 10:00:00.0000001 was refused as empty.
  const times = ['09:59:59.999999Z', '09:59:59.999999999Z', '10:00:00Z', '10:00:00.0000001Z', '10:00:00.000000999Z', '10:00:00.000001Z', '10:00:00.5Z', '12:00:00Z', '12:00:00.0004Z'];
  const from = (first: string, last = times[times.length - 1]!): string[] => times.slice(times.indexOf(first), times.indexOf(last) + 1);
  it.each([
    [['--since', '2024-03-01T10:00:00.000001Z'], from('10:00:00.000001Z')],
    [['--until', '2024-03-01T10:00:00.000001Z'], from(times[0]!, '10:00:00.000000999Z')],
    [['--since', '2024-03-01T10:00:00Z', '--until', '2024-03-01T12:00:00.0003Z'], from('10:00:00Z', '12:00:00Z')],
    // A time without a zone is UTC (the usage says so), and an offset is honoured.
    [['--since', '2024-03-01T10:00:00.000001'], from('10:00:00.000001Z')],
    [['--since', '2024-03-01T11:00:00.000001+01:00'], from('10:00:00.000001Z')],
    // RFC 3339 allows the separator and the zone in lower case.
    [['--since', '2024-03-01t10:00:00.000001z', '--until', '2024-03-01t12:00:00z'], from('10:00:00.000001Z', '10:00:00.5Z')],
    // Nanoseconds.
    [['--since', '2024-03-01T10:00:00Z'], from('10:00:00Z')],
    [['--until', '2024-03-01T10:00:00Z'], from(times[0]!, '09:59:59.999999999Z')],
    [['--until', '2024-03-01T10:00:00.0000001Z'], from(times[0]!, '10:00:00Z')],
    [['--since', '2024-03-01T10:00:00.000000999Z'], from('10:00:00.000000999Z')],
    [['--since', '2024-03-01T10:00:00.0000001Z', '--until', '2024-03-01T10:00:00.000001Z'], from('10:00:00.0000001Z', '10:00:00.000000999Z')],
    [['--since', '2024-03-01T10:00:00Z', '--until', '2024-03-01T10:00:00.0000001Z'], ['10:00:00Z']],
  ])('%j keeps sub-millisecond digits', async (bounds, kept) => {
    const dir = tempDir();
    const [, , grant] = history();
    const file = join(dir, 'times.ndjson');
    writeFileSync(file, times.map((t) => JSON.stringify(at(grant!, `2024-03-01T${t}`))).join('\n'));
    for (const workers of ['0', '2']) {
      const run = await runwatch(['replay', '--format', 'ndjson', '--workers', workers, ...bounds, file]);
      expect(run.stderr).toContain(`outside --since/--until: ${times.length - kept.length}`);
    }
  });

  it('an entry whose timestamp names a day that does not exist is malformed, in every replay mode', async () => {
    const dir = tempDir();
    const [, , grant] = history();
    const file = join(dir, 'x.ndjson');
    writeFileSync(file, `${JSON.stringify(at(grant!, '2024-02-30T10:00:00Z'))}\n${JSON.stringify(at(grant!, '2024-02-29T10:00:00Z'))}\n`);
    for (const workers of ['0', '2']) {
      const run = await runwatch(['replay', '--format', 'ndjson', '--workers', workers, file]);
      expect(run.stderr).toContain(`${file}:1: unreadable timestamp "2024-02-30T10:00:00Z"`);
      expect(run.stdout.trim().split('\n')).toHaveLength(1);
    }
  });

  // A line may hold an array of entries (jq -c over gcloud's output): what is reported names the element too.
  it('a malformed element of a one-line array is reported as file:line[index], in every replay mode', async () => {
    const dir = tempDir();
    const [, , grant] = history();
    const good = (t: string): unknown => at(grant!, t);
    const bad = at(grant!, '2024-02-30T10:00:00Z');
    const first = join(dir, 'first.ndjson'); // the array on the first line (read as a possible JSON document)
    writeFileSync(first, `${JSON.stringify([good('2024-02-29T10:00:00Z'), bad])}\n${JSON.stringify(good('2024-03-01T10:00:00Z'))}\n`);
    const later = join(dir, 'later.ndjson'); // the array on a later line
    writeFileSync(later, `${JSON.stringify(good('2024-02-28T10:00:00Z'))}\n${JSON.stringify([good('2024-02-29T11:00:00Z'), good('2024-02-29T12:00:00Z'), bad])}\n`);
    for (const mode of [['--workers', '0'], ['--workers', '2'], ['--workers', '2', '--state', join(dir, 'state.json')]]) {
      const run = await runwatch(['replay', '--format', 'ndjson', ...mode, first, later]);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain(`${first}:1[1]: unreadable timestamp "2024-02-30T10:00:00Z"`);
      expect(run.stderr).toContain(`${later}:2[2]: unreadable timestamp "2024-02-30T10:00:00Z"`);
      expect(run.stderr).toContain('7 entries read');
    }
  });

  it('--state: a deploy whose system events come in the next replay is judged once they come, as in one replay', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.yaml'), 'rules: {new-image-repository: {trustedRepositories: ["nothing/*"]}}');
    // An admin write, then its revision's system events seconds later: split over three log files.
    const parts = (synthetic('seq-console-deploy') as unknown as unknown[]).map((entry, i) => {
      const file = join(dir, `part-${i}.ndjson`);
      writeFileSync(file, `${JSON.stringify(entry)}\n`);
      return file;
    });
    const rules = (stdout: string): string[] => stdout.trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { rule: string }).rule);
    const once = await runwatch(['replay', '--config', join(dir, 'config.yaml'), '--format', 'ndjson', ...parts]);
    const state = join(dir, 'state.json');
    const split: string[] = [];
    for (const part of parts) {
      const run = await runwatch(['replay', '--config', join(dir, 'config.yaml'), '--state', state, '--format', 'ndjson', part]);
      split.push(...rules(run.stdout));
      if (part === parts[0]) expect(run.stderr).toMatch(/services with deploys still waiting \(kept in the state file\): 1/);
    }
    expect(rules(once.stdout)).toEqual(['new-image-repository']);
    expect(split).toEqual(rules(once.stdout));
  });

  it('--state: a deploy kept waiting is judged by a later replay that never sees its service again', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.yaml'), 'changeWindows: [{days: [sun], start: "03:00", end: "03:01"}]');
    const [write] = history(); // a gcloud deploy on a Monday, outside the only window; no system events follow
    const other = at(synthetic('run-SetIamPolicy-allUsers'), '2024-05-07T06:00:00Z'); // another service, hours later
    writeFileSync(join(dir, 'one.ndjson'), `${JSON.stringify(write)}\n`);
    writeFileSync(join(dir, 'two.ndjson'), `${JSON.stringify(other)}\n`);
    const state = join(dir, 'state.json');
    const args = ['replay', '--config', join(dir, 'config.yaml'), '--state', state, '--format', 'ndjson'];
    expect((await runwatch([...args, join(dir, 'one.ndjson')])).stdout).toBe('');
    const second = await runwatch([...args, join(dir, 'two.ndjson')]);
    expect(second.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { rule: string }).rule).sort()).toEqual(['off-window-deploy', 'public-invoker-grant']);
    expect(second.stderr).not.toMatch(/still waiting/);
  });

  it('--state: a replay that fails leaves the state file unlocked and unchanged', async () => {
    const dir = tempDir();
    const state = join(dir, 'state.json');
    const before = `${JSON.stringify({ format: 'runwatch-baseline', version: 1, services: {} })}\n`;
    writeFileSync(state, before);
    writeFileSync(join(dir, 'one.json'), JSON.stringify(history().slice(0, 1)));
    // One readable file, then one that is not there: the replay fails (exit 1) and writes nothing back.
    const run = await runwatch(['replay', '--state', state, join(dir, 'one.json'), join(dir, 'missing.ndjson')]);
    expect(run.code).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(['one.json', 'state.json']);
    expect(readFileSync(state, 'utf8')).toBe(before);
  });

  it('--state: a lock left by a replay that no longer runs is taken over, and said so', async () => {
    const dir = tempDir();
    const state = join(dir, 'state.json');
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(`${state}.lock`, `${dead}\n`);
    writeFileSync(join(dir, 'one.json'), JSON.stringify(history().slice(0, 1)));
    const run = await runwatch(['replay', '--state', state, join(dir, 'one.json')]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`runwatch replay: ${state}.lock was left by process ${dead}, which no longer runs: taken over\n`);
    expect(readdirSync(dir).sort()).toEqual(['one.json', 'state.json']);
  });

  // README, exit codes: 1 for "a state file another replay holds". Its lock names a process that runs on this host
  // (this one), so it is not taken over: the replay stops before it reads anything, and leaves the file and the lock.
  it('--state: a state file another replay holds is exit 1, with nothing read, the file and its lock as they were', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.yaml'), CONFIG);
    writeFileSync(join(dir, 'week.json'), JSON.stringify(history()));
    const state = join(dir, 'state.json');
    const before = `${JSON.stringify({ format: 'runwatch-baseline', version: 1, services: {} })}\n`;
    writeFileSync(state, before);
    const lock = `${process.pid}\n${hostname()}\n`;
    writeFileSync(`${state}.lock`, lock);
    const run = await runwatch(['replay', '--config', join(dir, 'config.yaml'), '--format', 'ndjson', '--state', state, join(dir, 'week.json')]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe(''); // read, the week prints the public grant (its deploys wait in the state file)
    expect(run.stderr).toBe(`runwatch replay: state file ${state} is in use by another replay (process ${process.pid}); if none is running, delete ${state}.lock\n`);
    expect(readFileSync(state, 'utf8')).toBe(before);
    expect(readFileSync(`${state}.lock`, 'utf8')).toBe(lock);
  });

  it('--state carries baselines from one replay to the next', async () => {
    const dir = tempDir();
    const [weekday, saturday, grant] = history();
    writeFileSync(join(dir, 'one.json'), JSON.stringify([weekday]));
    writeFileSync(join(dir, 'two.json'), JSON.stringify([saturday]));
    writeFileSync(join(dir, 'three.json'), JSON.stringify([at(grant!, '2024-05-12T00:00:00Z')]));
    const state = join(dir, 'state.json');
    expect((await runwatch(['replay', '--state', state, '--format', 'ndjson', join(dir, 'one.json')])).stdout).toBe('');
    // The saturday deploy waits for its system events (none in its file): kept waiting in the state file...
    const second = await runwatch(['replay', '--state', state, '--format', 'ndjson', join(dir, 'two.json')]);
    expect(second.stdout).toBe('');
    expect(second.stderr).toMatch(/services with deploys still waiting \(kept in the state file\): 1/);
    // ...and judged against the weekday baseline once a later replay's entries are past its wait.
    const third = await runwatch(['replay', '--state', state, '--format', 'ndjson', join(dir, 'three.json')]);
    expect(third.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { rule: string }).rule).sort()).toEqual(['new-image-repository', 'public-invoker-grant', 'service-account-change']);
    expect(JSON.parse(readFileSync(state, 'utf8'))).toMatchObject({ format: 'runwatch-baseline', version: 1 });
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('the table escapes control and bidi characters from untrusted strings', async () => {
    const dir = tempDir();
    const [weekday] = history();
    const hostile = JSON.parse(JSON.stringify(weekday).replaceAll('masatonaka1989@gmail.com', 'evil\\u001b[31m\\u202eadmin')) as unknown;
    writeFileSync(join(dir, 'x.json'), JSON.stringify([hostile]));
    writeFileSync(join(dir, 'config.yaml'), 'changeWindows: [{days: [sun], start: "00:00", end: "00:01"}]');
    const run = await runwatch(['replay', '--config', join(dir, 'config.yaml'), join(dir, 'x.json')]);
    expect(run.stdout).toContain('evil\\u001b[31m\\u202eadmin');
    expect(run.stdout).not.toMatch(/[\u001b\u202e]/);
  });

  // C1 CSI (U+009B), line separator, bidi mark, word joiner, soft hyphen, a tag character: raw, each can redraw,
  // split or hide what a terminal shows. JSON.stringify leaves them all as they are.
  const INVISIBLE = '\u009b31m\u2028\u061c\u2060\u00ad\u{e0041}';
  const UNSAFE_ON_A_TERMINAL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u2028\u2060]|\u{e0041}/u;

  it.each(['table', 'ndjson', 'json'])('--format %s shows C1, line-separator, bidi and invisible characters escaped', async (format) => {
    const dir = tempDir();
    const [weekday] = history();
    const hostile = JSON.parse(JSON.stringify(weekday).replaceAll('masatonaka1989@gmail.com', `evil${INVISIBLE}admin`)) as unknown;
    writeFileSync(join(dir, 'x.json'), JSON.stringify([hostile]));
    writeFileSync(join(dir, 'config.yaml'), 'changeWindows: [{days: [sun], start: "00:00", end: "00:01"}]');
    const run = await runwatch(['replay', '--config', join(dir, 'config.yaml'), '--format', format, join(dir, 'x.json')]);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(UNSAFE_ON_A_TERMINAL);
    // The table clips its PRINCIPAL column (34 characters).
    if (format === 'table') return void expect(run.stdout).toContain('evil\\u009b31m\\u2028\\u061c');
    expect(run.stdout).toContain('evil\\u009b31m\\u2028\\u061c\\u2060\\u00ad\\udb40\\udc41admin');
    // The escapes keep the JSON valid and its values exactly what the entry said.
    const findings = (format === 'json' ? JSON.parse(run.stdout) : run.stdout.trim().split('\n').map((l) => JSON.parse(l))) as { principal: string }[];
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.map((f) => f.principal)).toContain(`evil${INVISIBLE}admin`);
  });

  it.each([
    [['replay'], 2, /at least one PATH/],
    [['replay', '--format', 'xml', 'x'], 2, /--format must be one of/],
    [['replay', '--since', 'last week', 'x'], 2, /--since: not an RFC 3339 time/],
    // An empty range would replay nothing, silently.
    [['replay', '--since', '2024-06-05', '--until', '2024-06-01', 'x'], 2, /--since 2024-06-05 is not before --until 2024-06-01: no entry is in \[since, until\)/],
    [['replay', '--since', '2024-06-01', '--until', '2024-06-01', 'x'], 2, /--since 2024-06-01 is not before --until 2024-06-01/],
    [['replay', '--since', '2024-06-01T02:00:00+02:00', '--until', '2024-06-01T00:00:00Z', 'x'], 2, /is not before --until/], // the same instant
    [['replay', '--since', '2024-06-01T00:00:00.0000005Z', '--until', '2024-06-01T00:00:00.0000004Z', 'x'], 2, /is not before --until/],
    // Days and times that do not exist: Date.parse rolls them over (2024-02-30 is March 1st).
    [['replay', '--since', '2024-02-30', 'x'], 2, /--since: no such day or time: 2024-02-30$/m],
    [['replay', '--until', '2023-02-29T00:00:00Z', 'x'], 2, /--until: no such day or time: 2023-02-29T00:00:00Z/],
    [['replay', '--since', '2024-04-31 12:00:00', 'x'], 2, /--since: no such day or time: 2024-04-31 12:00:00/],
    [['replay', '--since', '2024-05-06T24:00:00Z', 'x'], 2, /--since: no such day or time: 2024-05-06T24:00:00Z/],
    [['replay', '--since', '2024-13-01', 'x'], 2, /--since: no such day or time: 2024-13-01/],
    [['replay', '--since', '2024-02-29', '--until', '2024-03-01', '/does/not/exist'], 1, /ENOENT/], // a leap day exists
    [['replay', '--bogus', 'x'], 2, /Unknown option/],
    // The path first, then the reason: Node's own message ("ENOENT: no such file or directory, stat '/does/not/exist'")
    // put the system call in front of the user's path.
    [['replay', '/does/not/exist'], 1, /^runwatch replay: \/does\/not\/exist: ENOENT: no such file or directory\n$/],
    [['replay', '--quiet', 'examples/logs', '/does/not/exist.json.gz'], 1, /^runwatch replay: \/does\/not\/exist\.json\.gz: ENOENT: no such file or directory\n$/],
    [['nonsense'], 2, /unknown command/],
    [['sink-filter', '--bogus'], 2, /Unknown option '--bogus'/],
    [['sink-filter', 'extra'], 2, /Unexpected argument 'extra'/],
  ])('runwatch %j exits %i', async (args, code, message) => {
    const run = await runwatch(args);
    expect(run.code).toBe(code);
    expect(run.stderr).toMatch(message);
  });
});

describe('runwatch usage and --help', () => {
  // Asked for, help is the output (stdout, exit 0); a usage error is not (stderr, exit 2).
  it.each([
    [[], 2, '', /^runwatch: no command given\n\nusage: runwatch <command>/],
    [['--help'], 0, /^usage: runwatch <command>/, ''],
    [['-h'], 0, /^usage: runwatch <command>/, ''],
    [['help'], 0, /^usage: runwatch <command>/, ''],
    [['replay', '--help'], 0, /^usage: runwatch replay/, ''],
    [['replay', '-h'], 0, /^usage: runwatch replay/, ''],
    [['replay', 'x.json', '--help'], 0, /^usage: runwatch replay/, ''],
    // After `--`, `--help` and `-h` are files to read.
    [['replay', '--', '--help'], 1, '', /^runwatch replay: --help: ENOENT: no such file or directory\n$/],
    [['replay', '--quiet', '--', 'x.json', '-h'], 1, '', /^runwatch replay: x\.json: ENOENT: no such file or directory\n$/],
  ] as const)('runwatch %j: exit %i', async (args, code, stdout, stderr) => {
    const run = await runwatch(args);
    expect(run.code).toBe(code);
    if (typeof stdout === 'string') expect(run.stdout).toBe(stdout);
    else expect(run.stdout).toMatch(stdout);
    if (typeof stderr === 'string') expect(run.stderr).toBe(stderr);
    else expect(run.stderr).toMatch(stderr);
  });

  it('replay -- --help reads the file named --help', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '--help'), `${JSON.stringify(history()[0])}\n`);
    const run = spawnRunwatch(['replay', '--format', 'ndjson', '--', '--help'], dir);
    expect(await run.exited).toBe(0);
    expect(run.stderr()).toContain('1 entry read');
  });
});

describe('runwatch validate-config', () => {
  it('exits 0 for a valid file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ok.yaml'), CONFIG);
    expect(await runwatch(['validate-config', join(dir, 'ok.yaml')])).toMatchObject({ code: 0 });
  });

  it('exits 2 listing every bad path', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.yaml'), 'timezone: Nowhere/Land\nrules:\n  public-invoker-grant: {allowServices: "x"}\nextra: 1\n');
    const run = await runwatch(['validate-config', join(dir, 'bad.yaml')]);
    expect(run.code).toBe(2);
    // Schema problems and the checks beyond it (the zone), all at once.
    expect(run.stderr.split('\n').filter((l) => /^\S+: /.test(l) && !l.includes('invalid config'))).toEqual([
      'extra: unknown key',
      'rules.public-invoker-grant.allowServices: must be array',
      'timezone: "Nowhere/Land" is not an IANA time zone',
    ]);
  });

  it('exits 2 for a time zone that is no place\'s clock (EST: UTC-05:00 all year), naming the zone meant', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'est.yaml'), 'timezone: EST\nchangeWindows: [{days: [mon], start: "09:00", end: "17:00"}]\n');
    const run = await runwatch(['validate-config', join(dir, 'est.yaml')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^timezone: "EST" is UTC-05:00 all year, without daylight saving.*America\/New_York/m);
  });

  it('a config with only semantic problems lists them too', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.yaml'), 'timezone: Nowhere/Land\n');
    const run = await runwatch(['validate-config', join(dir, 'bad.yaml')]);
    expect(run).toMatchObject({ code: 2 });
    expect(run.stderr).toContain('timezone: "Nowhere/Land" is not an IANA time zone');
  });

  it('shows keys and values of the file escaped, and prints no YAML warning that quotes the file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.yaml'), `"evil\\e]8;;https://evil.example\\aclick\\e[2J": 1\ntimezone: "Europe/\\u009b2J\\u202eX"\n`);
    writeFileSync(join(dir, 'tag.yaml'), 'timezone: !x UTC # \u001b[2J\n');
    const bad = await runwatch(['validate-config', join(dir, 'bad.yaml')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).not.toMatch(/[\u0007\u001b\u009b\u202e]/);
    expect(bad.stderr).toContain('evil\\u001b]8;;https://evil.example\\u0007click\\u001b[2J: unknown key');
    expect(bad.stderr).toContain('"Europe/\\u009b2J\\u202eX" is not an IANA time zone');
    const tagged = await runwatch(['validate-config', join(dir, 'tag.yaml')]);
    expect(tagged).toMatchObject({ code: 0 });
    expect(tagged.stderr).not.toMatch(/\u001b/);
  });

  // A config that cannot be read is an I/O failure (exit 1, as an input file replay cannot read), not an invalid
  // config (2): DESIGN.md's exit codes. The function names it at start-up like any other config problem.
  it.each([
    // Said in words too: the bare code ("cannot read config: ENOENT") left the user to look it up.
    ['validate-config, no such file', ['validate-config', '/does/not/exist.yaml'], /^\/does\/not\/exist\.yaml: cannot read config: ENOENT: no such file or directory\n$/],
    ['validate-config, a folder', ['validate-config', '/tmp'], /^\/tmp: cannot read config: EISDIR: illegal operation on a directory\n$/],
    ['replay --config, no such file', ['replay', '--config', '/does/not/exist.yaml', '-'], /^\/does\/not\/exist\.yaml: cannot read config: ENOENT: no such file or directory\n$/],
  ])('exits 1 when the config cannot be read: %s', async (_name, args, message) => {
    const run = await runwatch(args);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toMatch(/invalid config/);
    expect(run.stdout).toBe('');
  });
});

describe('validate-config - reads the config from stdin', () => {
  // As replay reads logs from `-`: a config generated by another tool (helm template, jsonnet, yq) is checked without a
  // temporary file. It was "-: cannot read config: ENOENT" (exit 1). Named `stdin` in what it prints.
  it.each([
    ['a valid YAML config', 'rules:\n  off-window-deploy:\n    enabled: false\n', 0, /^stdin: valid\n$/, /^$/],
    ['a valid JSON config', '{"rules": {"new-image-repository": {"trustedRepositories": ["gcr.io/acme"]}}}', 0, /^stdin: valid\n$/, /^$/],
    ['an invalid config: every problem, by path', 'rules:\n  off-window-deploy:\n    enabled: 3\n  no-such-rule: {}\n', 2, /^$/, /^stdin: invalid config\n(?=[\s\S]*rules\.off-window-deploy\.enabled: )(?=[\s\S]*rules\.no-such-rule: unknown rule)/],
    ['an empty stdin: the defaults', '', 0, /^stdin: valid\n$/, /^$/],
  ])('%s', async (_name, text, code, stdout, stderr) => {
    const run = await runwatch(['validate-config', '-'], text);
    expect(run.code).toBe(code);
    expect(run.stdout).toMatch(stdout);
    expect(run.stderr).toMatch(stderr);
  });
});

describe('untrusted strings in links', () => {
  it('a lone surrogate in a service name does not crash enrichment', async () => {
    const { findingsOf, config } = await import('../support/run.js');
    const entry = JSON.parse(JSON.stringify(corpus('kktae-demo__Services.CreateService__1')).replaceAll('"hello"', '"hel\\ud800lo"')) as unknown;
    const findings = await findingsOf([entry], config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }] }));
    expect(findings).toHaveLength(1);
    expect(findings[0]?.links.console).toContain('hel%EF%BF%BDlo');
  });
});
