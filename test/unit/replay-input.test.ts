// Replay input forms beyond plain files of NDJSON: JSON arrays newest first, byte order marks, symbolic links in
// folders, gzip recognized by its bytes (stdin, misnamed files, damaged data), named pipes.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { expandPaths, readEntries } from '../../functions/replay/input.js';
import { at, corpus, synthetic, withV1Image } from '../support/entries.js';
import { runwatch, type Run } from '../support/cli.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'runwatch-input-'));
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

function publicGrant(): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(synthetic('run-SetIamPolicy-allUsers')).replaceAll('some-project', 'test-project-1234').replaceAll('cloudrun-exfil', 'cloud-run-slack-bot').replaceAll('us-west1', 'asia-northeast1'),
  ) as Record<string, unknown>;
}

// A week of one service, oldest first: a weekday deploy (baseline), a failed write, a saturday deploy with a new SA and a Docker
// Hub image, a public grant, then the grant again (nothing new: it is public already).
function history(): Record<string, unknown>[] {
  const gcloud = synthetic('v1-ReplaceService-gcloud');
  const saturday = withV1Image(
    JSON.parse(JSON.stringify(gcloud).replaceAll('cloud-run-slack-bot@test-project-1234.iam', 'intruder@test-project-1234.iam')) as Record<string, unknown>,
    'docker.io/attacker/bot:1',
  );
  return [
    at(gcloud, '2024-05-06T10:00:00Z'),
    corpus('slackbot__Services.ReplaceService__2'), // 2024-05-07
    at(saturday, '2024-05-11T03:00:00Z'),
    at(publicGrant(), '2024-05-11T03:05:00Z'),
    at(publicGrant(), '2024-05-12T08:00:00Z'),
  ];
}

describe('runwatch replay: a UTF-8 byte order mark at the start of the input is skipped', () => {
  const entries = (): string[] => history().map((e) => JSON.stringify(e));

  it.each([
    ['a pretty-printed array', (): Buffer => Buffer.concat([BOM, Buffer.from(JSON.stringify(history(), null, 2))]), 'x.json'],
    ['NDJSON', (): Buffer => Buffer.concat([BOM, Buffer.from(`${entries().join('\r\n')}\r\n`)]), 'x.ndjson'],
    ['NDJSON with a blank first line', (): Buffer => Buffer.concat([BOM, Buffer.from(`\n${entries().join('\n')}\n`)]), 'x.ndjson'],
    ['gzip of NDJSON', (): Buffer => gzipSync(Buffer.concat([BOM, Buffer.from(entries().join('\n'))])), 'x.ndjson.gz'],
    ['gzip of an array', (): Buffer => gzipSync(Buffer.concat([BOM, Buffer.from(JSON.stringify(history(), null, 2))])), 'x.json.gz'],
  ])('%s: every entry read, none malformed', async (_, content, name) => {
    const dir = tempDir();
    writeFileSync(join(dir, name), content());
    for (const workers of ['0', '2', '3']) {
      const run = await runwatch(['replay', '--format', 'ndjson', '--workers', workers, join(dir, name)]);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('5 entries read');
      expect(run.stderr).not.toMatch(/malformed/);
    }
  });

  it('on stdin, the mark split over chunks', async () => {
    const text = Buffer.concat([BOM, Buffer.from(entries().join('\n'))]);
    const run = await runwatch(['replay', '--format', 'ndjson', '-'], [text.subarray(0, 1), text.subarray(1, 2), text.subarray(2)]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('5 entries read');
    expect(run.stderr).not.toMatch(/malformed/);
  });

  it('a mark anywhere but the start is still not JSON', async () => {
    const dir = tempDir();
    const [one, two] = entries();
    writeFileSync(join(dir, 'x.ndjson'), `${one}\n\uFEFF${two}\n`);
    const run = await runwatch(['replay', '--format', 'ndjson', '--workers', '0', join(dir, 'x.ndjson')]);
    expect(run.stderr).toContain(`${join(dir, 'x.ndjson')}:2: line is not JSON`);
  });
});

describe('runwatch replay: UTF-16 with a byte order mark is read as text', () => {
  // Windows PowerShell 5.1 writes UTF-16LE with a mark for `>` and Out-File by default, so
  // `gcloud logging read ... --format=json > run.json` there gave a file replay read as 1,000 lines that are not
  // JSON: every entry malformed, "No findings", exit 0.
  const entries = (): string[] => history().map((e) => JSON.stringify(e));
  const utf16le = (text: string): Buffer => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
  const utf16be = (text: string): Buffer => {
    const le = Buffer.from(text, 'utf16le');
    return Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(le).swap16()]);
  };

  it.each([
    ['UTF-16LE, a pretty-printed array with CRLF', (): Buffer => utf16le(JSON.stringify(history(), null, 2).replaceAll('\n', '\r\n')), 'x.json'],
    ['UTF-16LE, NDJSON', (): Buffer => utf16le(`${entries().join('\r\n')}\r\n`), 'x.ndjson'],
    ['UTF-16BE, NDJSON', (): Buffer => utf16be(`${entries().join('\n')}\n`), 'x.ndjson'],
    ['gzip of UTF-16LE', (): Buffer => gzipSync(utf16le(JSON.stringify(history(), null, 2))), 'x.json.gz'],
  ])('%s: every entry read, none malformed', async (_, content, name) => {
    const dir = tempDir();
    writeFileSync(join(dir, name), content());
    for (const workers of ['0', '2']) {
      const run = await runwatch(['replay', '--format', 'ndjson', '--workers', workers, join(dir, name)]);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('5 entries read');
      expect(run.stderr).not.toMatch(/malformed/);
    }
  });

  it('on stdin, cut at odd bytes', async () => {
    const bytes = utf16le(`${entries().join('\n')}\n`);
    const run = await runwatch(['replay', '--format', 'ndjson', '-'], [bytes.subarray(0, 1), bytes.subarray(1, 4), bytes.subarray(4, 1001), bytes.subarray(1001)]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('5 entries read');
    expect(run.stderr).not.toMatch(/malformed/);
  });
});

describe('runwatch replay: gzip is recognized by its bytes', () => {
  const ndjson = (): string => `${history().map((e) => JSON.stringify(e)).join('\n')}\n`;

  it('gzip on stdin is decompressed, also when its first bytes come one at a time', async () => {
    const gz = gzipSync(ndjson());
    for (const chunks of [[gz], [gz.subarray(0, 1), gz.subarray(1, 2), gz.subarray(2)]]) {
      const run = await runwatch(['replay', '--format', 'ndjson', '-'], chunks);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('5 entries read');
      expect(run.stderr).not.toMatch(/malformed/);
    }
  });

  it.each([
    ['a .gz name with plain NDJSON in it', 'x.ndjson.gz', (): Buffer | string => ndjson()],
    ['a .gz name with a plain array in it', 'x.json.gz', (): Buffer | string => JSON.stringify(history(), null, 2)],
    ['gzip without a .gz name', 'x.ndjson', (): Buffer | string => gzipSync(ndjson())],
    ['an empty .gz', 'x.ndjson.gz', (): Buffer | string => ''],
    ['one byte', 'x.ndjson', (): Buffer | string => '\n'],
  ])('%s is read for what it holds', async (name, file, content) => {
    const dir = tempDir();
    writeFileSync(join(dir, file), content());
    const expected = name.startsWith('an empty') || name === 'one byte' ? 0 : 5;
    for (const workers of ['0', '2', '3']) {
      const run = await runwatch(['replay', '--format', 'ndjson', '--workers', workers, join(dir, file)]);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain(`${expected} entries read`);
      expect(run.stderr).not.toMatch(/malformed/);
    }
  });

  it('gzip cut short or damaged fails naming the file (or stdin), exit 1', async () => {
    const dir = tempDir();
    const gz = gzipSync(ndjson().repeat(20));
    const damaged = Buffer.from(gz);
    damaged.fill(0xff, 40, 60);
    writeFileSync(join(dir, 'cut.ndjson.gz'), gz.subarray(0, gz.length - 30));
    writeFileSync(join(dir, 'damaged.ndjson.gz'), damaged);
    for (const name of ['cut.ndjson.gz', 'damaged.ndjson.gz']) {
      const run = await runwatch(['replay', '--format', 'ndjson', join(dir, name)]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(new RegExp(`^runwatch replay: ${join(dir, name)}: gzip data is damaged or cut short: `, 'm'));
    }
    const piped = await runwatch(['replay', '--format', 'ndjson', '-'], [gz.subarray(0, gz.length - 30)]);
    expect(piped.code).toBe(1);
    expect(piped.stderr).toMatch(/^runwatch replay: stdin: gzip data is damaged or cut short: unexpected end of file/m);
  });
});

// mkfifo is part of every Linux and macOS; a CI runner without it should fail, not skip quietly.
const hasMkfifo = spawnSync('mkfifo', ['--help']).error === undefined;

describe.skipIf(!hasMkfifo && process.env['CI'] !== 'true')('runwatch replay: named pipes', () => {
  /**
   * A FIFO that `content` is written into (by another process, as `<(cat x)` does) once something reads it.
   * `stop` ends the writer when nothing did.
   */
  function fifoWith(dir: string, name: string, content: Buffer | string): { path: string; written: Promise<number | null>; stop: () => void } {
    const source = join(dir, `${name}.source`);
    writeFileSync(source, content);
    const path = join(dir, name);
    expect(spawnSync('mkfifo', [path]).status).toBe(0);
    const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', source, path], { stdio: 'ignore' });
    const written = new Promise<number | null>((resolve) => writer.on('exit', resolve));
    return { path, written, stop: () => void (writer.exitCode === null && writer.kill()) };
  }

  it.each([
    ['NDJSON', (s: string): Buffer | string => s],
    ['gzip', (s: string): Buffer | string => gzipSync(s)],
    ['a byte order mark and an array', (s: string): Buffer | string => `\uFEFF[${s.trim().split('\n').join(',')}]`],
  ])('%s through a pipe is read as a stream (it cannot be read at a position)', async (_, content) => {
    const ndjson = `${history().map((e) => JSON.stringify(e)).join('\n')}\n`;
    for (const workers of ['0', '2', '3']) {
      const dir = tempDir();
      const fifo = fifoWith(dir, 'in', content(ndjson));
      try {
        const run = await runwatch(['replay', '--format', 'ndjson', '--workers', workers, fifo.path]);
        expect(run.stderr).not.toMatch(/ESPIPE/);
        expect(run.code).toBe(0);
        expect(run.stderr).toContain('5 entries read');
        expect(await fifo.written).toBe(0);
      } finally {
        fifo.stop();
      }
    }
  });
});

/** `rule@eventTime` of each finding of an NDJSON run, sorted. */
function findingsOf(run: Run): string[] {
  return run.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { rule: string; eventTime: string })
    .map((f) => `${f.rule}@${f.eventTime}`)
    .sort();
}

const CONFIG = `
timezone: UTC
changeWindows: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]
`;

const EXPECTED = ['new-image-repository@2024-05-11T03:00:00Z', 'off-window-deploy@2024-05-11T03:00:00Z', 'public-invoker-grant@2024-05-11T03:05:00Z', 'service-account-change@2024-05-11T03:00:00Z'];

describe('runwatch replay: a JSON array is read in timestamp order', () => {
  const oldestFirst = history;

  it('the oldest-first history gives the expected findings (the baseline for the cases below)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.yaml'), CONFIG);
    writeFileSync(join(dir, 'asc.json'), JSON.stringify(oldestFirst(), null, 2));
    const run = await runwatch(['replay', '--config', join(dir, 'config.yaml'), '--format', 'ndjson', '--reorder-buffer', '1', join(dir, 'asc.json')]);
    expect(run.code).toBe(0);
    expect(findingsOf(run)).toEqual(EXPECTED);
  });

  // gcloud writes newest first; with more entries than --reorder-buffer the reversed order reached the detectors
  // (the saturday deploy became the baseline, the re-applied grant was reported as new).
  it.each([
    ['pretty-printed (gcloud --format=json)', (e: unknown[]): string => JSON.stringify(e, null, 2), 'desc.json'],
    ['on one line (jq -c)', (e: unknown[]): string => `${JSON.stringify(e)}\n`, 'desc.json'],
    ['gzip', (e: unknown[]): Buffer => gzipSync(JSON.stringify(e, null, 2)), 'desc.json.gz'],
  ])('newest first, %s, with a smaller reorder buffer: the same findings as oldest first', async (_, content, name) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.yaml'), CONFIG);
    writeFileSync(join(dir, name), content(oldestFirst().reverse()));
    for (const workers of ['0', '2']) {
      const run = await runwatch(['replay', '--config', join(dir, 'config.yaml'), '--format', 'ndjson', '--reorder-buffer', '1', '--workers', workers, join(dir, name)]);
      expect(run.code).toBe(0);
      expect(findingsOf(run)).toEqual(EXPECTED);
      expect(run.stderr).not.toMatch(/arrived later than the reorder buffer/);
    }
  });

  it('entries without a readable time keep a place (first) and are reported where they are in the file', async () => {
    const dir = tempDir();
    const entries: unknown[] = [...oldestFirst().reverse()];
    entries.splice(2, 0, { insertId: 'no-time' }, 'not an object');
    writeFileSync(join(dir, 'config.yaml'), CONFIG);
    writeFileSync(join(dir, 'desc.json'), JSON.stringify(entries, null, 2));
    const run = await runwatch(['replay', '--config', join(dir, 'config.yaml'), '--format', 'ndjson', '--reorder-buffer', '1', join(dir, 'desc.json')]);
    expect(run.code).toBe(0);
    expect(findingsOf(run)).toEqual(EXPECTED);
    expect(run.stderr).toContain(`${join(dir, 'desc.json')}[2]: entry has no timestamp`);
    expect(run.stderr).toContain(`${join(dir, 'desc.json')}[3]: entry is not a JSON object`);
  });

  it('the elements of an array keep their index in the file as their source; equal times keep their order', async () => {
    const [a, b, c] = [{ timestamp: '2024-05-02T00:00:00Z', n: 0 }, { timestamp: '2024-05-01T00:00:00Z', n: 1 }, { timestamp: '2024-05-02T00:00:00.000Z', n: 2 }];
    const dir = tempDir();
    writeFileSync(join(dir, 'x.json'), JSON.stringify([a, b, c], null, 2));
    const items = [];
    for await (const item of readEntries([join(dir, 'x.json')])) items.push(item);
    expect(items.map((i) => (i.kind === 'entry' ? `${(i.value as { n: number }).n}:${i.source}` : i.reason))).toEqual([
      `1:${join(dir, 'x.json')}[1]`,
      `0:${join(dir, 'x.json')}[0]`,
      `2:${join(dir, 'x.json')}[2]`,
    ]);
  });

  it('NDJSON whose first line holds an array and more lines follow is read line by line, as before', async () => {
    const dir = tempDir();
    const [first, second] = [{ timestamp: '2024-05-02T00:00:00Z', n: 0 }, { timestamp: '2024-05-01T00:00:00Z', n: 1 }];
    writeFileSync(join(dir, 'x.ndjson'), `${JSON.stringify([first, second])}\n${JSON.stringify({ timestamp: '2024-04-01T00:00:00Z', n: 2 })}\n`);
    const items = [];
    for await (const item of readEntries([join(dir, 'x.ndjson')])) items.push(item);
    expect(items.map((i) => (i.kind === 'entry' ? (i.value as { n: number }).n : -1))).toEqual([0, 1, 2]);
  });
});


describe('runwatch replay: folders are walked through symbolic links', () => {
  function target(): { dir: string; file: string } {
    const dir = tempDir();
    mkdirSync(join(dir, 'real/2024/05/06'), { recursive: true });
    const file = join(dir, 'real/2024/05/06/10:00:00_10:59:59_S0.json');
    writeFileSync(file, `${history().map((e) => JSON.stringify(e)).join('\n')}\n`);
    return { dir, file };
  }

  it('a folder holding only links: to a file and to a folder', async () => {
    const { dir, file } = target();
    mkdirSync(join(dir, 'links'));
    writeFileSync(join(dir, 'other.ndjson'), `${JSON.stringify(history()[0])}\n`);
    symlinkSync(join(dir, 'other.ndjson'), join(dir, 'links/a.ndjson'));
    symlinkSync(join(dir, 'real'), join(dir, 'links/tree'));
    expect(await expandPaths([join(dir, 'links')])).toEqual([join(dir, 'links/a.ndjson'), join(dir, 'links/tree/2024/05/06/10:00:00_10:59:59_S0.json')]);
    expect(file).toContain('10:00:00_10:59:59_S0.json');
    const run = await runwatch(['replay', '--format', 'ndjson', join(dir, 'links')]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('6 entries read');
  });

  it('a link loop ends; a file reached directly and through a link is read once, under its own path', async () => {
    const { dir, file } = target();
    symlinkSync(dir, join(dir, 'real/2024/loop'));
    symlinkSync(join(dir, 'real'), join(dir, 'a-link-first-by-name'));
    symlinkSync(file, join(dir, 'real/2024/05/same.json'));
    expect(await expandPaths([dir])).toEqual([file]);
  });

  it('links that lead nowhere (an editor lock file) or to what is not a file or folder are left out', async () => {
    const { dir, file } = target();
    symlinkSync(join(dir, 'gone.json'), join(dir, '.#draft.json'));
    symlinkSync('/dev/null', join(dir, 'null.json'));
    expect(await expandPaths([dir])).toEqual([file]);
  });

  it('a folder given as a link is walked', async () => {
    const { dir, file } = target();
    symlinkSync(join(dir, 'real'), join(dir, 'named'));
    expect(await expandPaths([join(dir, 'named')])).toEqual([file.replace('/real/', '/named/')]);
  });
});

describe('runwatch replay: files of a folder whose names are not log files\' are skipped, with a warning', () => {
  const entry = (): string => `${JSON.stringify(history()[0])}\n`;
  const NAMES = 'names not ending in .json, .jsonl, .ndjson, .log, .txt or .gz';

  // Each case: the files to make (name -> content; a name ending in / is a folder, `->x` a link to x), the folders
  // given (besides the one made), the entries read, and the warning lines, `D` standing for the folder made.
  it.each([
    ['every file a log file: no warning', { 'a.json': entry(), 'b.ndjson.gz': gzipSync(entry()), 'c.jsonl': entry(), 'd.LOG': entry(), 'e.txt': entry() }, 5, []],
    ['some files left out, in subfolders too', { 'a.json': entry(), 'notes.md': '#', 'README': 'x', 'sub/': '', 'sub/b.ndjson': entry(), 'sub/b.ndjson.bak': entry() }, 2, [`D: 3 files skipped: ${NAMES}`]],
    ['a link to a file, by the link\'s name', { 'a.json': entry(), 'link.old': '->a.json' }, 1, [`D: 1 file skipped: ${NAMES}`]],
    ['no log files: said so', { 'export.csv': 'a,b', 'export.parquet': 'x' }, 0, [`D: no log files in it; 2 files skipped: ${NAMES}`]],
    ['an empty folder', {}, 0, ['D: no log files in it; it holds no files']],
  ] as const)('%s', async (_name, files: Readonly<Record<string, string | Buffer>>, entries, warnings) => {
    const dir = tempDir();
    const folder = join(dir, 'logs');
    mkdirSync(folder);
    for (const [name, content] of Object.entries(files)) {
      if (name.endsWith('/')) mkdirSync(join(folder, name));
      else if (typeof content === 'string' && content.startsWith('->')) symlinkSync(join(folder, content.slice(2)), join(folder, name));
      else writeFileSync(join(folder, name), content);
    }
    for (const workers of ['0', '2']) {
      const run = await runwatch(['replay', '--format', 'ndjson', '--workers', workers, folder]);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain(`${entries} ${entries === 1 ? 'entry' : 'entries'} read`);
      expect(run.stderr.split('\n').filter((l) => l.includes('warning'))).toEqual(warnings.map((w) => `runwatch replay: warning: ${w.replace('D', folder)}`));
    }
  });

  it('one line per folder given; a file named on its own is read whatever its name', async () => {
    const dir = tempDir();
    for (const folder of ['one', 'two']) {
      mkdirSync(join(dir, folder));
      writeFileSync(join(dir, folder, 'a.json'), entry());
      writeFileSync(join(dir, folder, 'a.json.orig'), entry());
    }
    writeFileSync(join(dir, 'picked.csv'), entry());
    const run = await runwatch(['replay', '--quiet', '--format', 'ndjson', join(dir, 'one'), join(dir, 'two'), join(dir, 'picked.csv')]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(
      [join(dir, 'one'), join(dir, 'two')].map((folder) => `runwatch replay: warning: ${folder}: 1 file skipped: ${NAMES}\n`).join(''),
    );
    expect(await expandPaths([join(dir, 'one'), join(dir, 'picked.csv')])).toEqual([join(dir, 'one/a.json'), join(dir, 'picked.csv')]);
  });
});
