// The order `runwatch replay` prints findings in (table and json): event time as an instant, then rule, then id.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatTable } from '../../functions/replay/format.js';
import { byTime } from '../../functions/replay/findingOrder.js';
import { LONE_SURROGATE } from '../../functions/untrustedText.js';
import type { Finding } from '../../functions/findings/finding.js';
import { makeFinding, resolutionOf, RULES } from '../support/findings.js';
import { runwatch } from '../support/cli.js';

const at = (eventTime: string, rule: Parameters<typeof makeFinding>[0] = 'off-window-deploy', service = 'storefront'): Finding =>
  makeFinding(rule, { eventTime, service });

/** Every order of `items` (up to 5 items: 120 orders). */
function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

describe('byTime', () => {
  it.each([
    // Times keep the fraction the log wrote: as text, `05Z` sorts after `05.5Z`, and `05.1Z` differs from `05.100Z`.
    ['whole seconds before fractions of the same second', ['2024-05-14T02:13:05.5Z', '2024-05-14T02:13:05Z'], ['2024-05-14T02:13:05Z', '2024-05-14T02:13:05.5Z']],
    // (A microsecond apart: the key is a double of epoch milliseconds, precise to about a quarter of one.)
    ['nine digits against one', ['2024-05-14T02:13:05.100001000Z', '2024-05-14T02:13:05.1Z'], ['2024-05-14T02:13:05.1Z', '2024-05-14T02:13:05.100001000Z']],
    ['a minute boundary', ['2024-05-14T02:14:00Z', '2024-05-14T02:13:59.999999Z'], ['2024-05-14T02:13:59.999999Z', '2024-05-14T02:14:00Z']],
  ])('orders by instant: %s', (_name, input, expected) => {
    expect(byTime(input.map((t) => at(t))).map((f) => f.eventTime)).toEqual(expected);
  });

  it('a resolution counts at the time of the change that resolved it', () => {
    const opened = at('2024-05-14T02:00:00Z', 'public-invoker-grant');
    const resolved = resolutionOf(at('2024-05-14T01:00:00Z', 'public-invoker-grant', 'other'), { time: '2024-05-14T03:00:00Z' });
    const between = at('2024-05-14T02:30:00Z');
    expect(byTime([resolved, between, opened])).toEqual([opened, between, resolved]);
  });

  it('is a total order: the same findings in any order come out the same', () => {
    const time = '2024-05-14T02:13:07.123Z';
    const findings = [
      at(time, 'off-window-deploy', 'a'),
      at(time, 'off-window-deploy', 'b'), // same time and rule: the id decides
      at('2024-05-14T02:13:07.123000Z', 'new-image-repository'), // the same instant written with six digits
      at(time, 'service-account-change'),
      at('2024-05-14T02:13:07.122Z', 'service-account-change'),
    ];
    const outputs = new Set(permutations(findings).map((order) => byTime(order).map((f) => f.id).join(' ')));
    expect(outputs.size).toBe(1);
    const [sorted] = outputs;
    const ids = sorted!.split(' ');
    expect(ids[0]).toBe(findings[4]!.id);
    // At one instant, rules in name order: new-image-repository, off-window-deploy (two: by id), service-account-change.
    expect(ids[1]).toBe(findings[2]!.id);
    expect(ids.slice(2, 4)).toEqual([findings[0]!.id, findings[1]!.id].sort());
    expect(ids[4]).toBe(findings[3]!.id);
  });

  it('leaves its input as it was', () => {
    const input = [at('2024-05-14T02:00:01Z'), at('2024-05-14T02:00:00Z')];
    const copy = [...input];
    byTime(input);
    expect(input).toEqual(copy);
  });
});

describe('formatTable cuts long cells at code points', () => {
  // clip() cut cells at a UTF-16 unit: an emoji across a column's edge left half a surrogate pair, which stdout
  // writes as U+FFFD (or a strict terminal rejects), though terminalSafe had escaped every lone surrogate before.
  const emoji = '\u{1F600}'.repeat(40);
  it.each([
    ['service', (p: string) => makeFinding('off-window-deploy', { service: `${p}${emoji}` })],
    ['revision', (p: string) => makeFinding('off-window-deploy', {}, { revision: `${p}${emoji}` })],
    ['principal', (p: string) => makeFinding('off-window-deploy', { principal: `${p}${emoji}` })],
    ['resolution reason', (p: string) => resolutionOf(makeFinding('public-invoker-grant'), { reason: `${p}${emoji}` })],
  ])('%s', (_name, finding) => {
    for (const prefix of ['', 'a', 'ab']) {
      const table = formatTable([finding(prefix)]);
      expect(table).not.toMatch(new RegExp(LONE_SURROGATE.source));
      expect(table).toContain('\u{1F600}…');
    }
  });
});

describe('formatTable shows every rule id whole', () => {
  // The RULE column was 22 wide: `binary-authorization-bypass` read `binary-authorization-…`, not an id a reader can
  // copy into `rules.<id>` of the config or grep the docs for.
  it.each(RULES.map((rule) => [rule]))('%s', (rule) => {
    const table = formatTable([makeFinding(rule)]);
    const [header, row] = table.split('\n');
    // Whole, and the cell after it still starts under its title.
    expect(row!.slice(0, header!.indexOf('SERVICE')).trimEnd().endsWith(`  ${rule}`)).toBe(true);
    expect(row![header!.indexOf('SERVICE')]).not.toBe(' ');
  });
});

describe('formatTable lines columns up on the screen', () => {
  // Cells were padded and cut by UTF-16 units: a CJK character or an emoji takes two columns of a terminal, so each
  // one in a service, revision or principal pushed every later cell of its row one column (or more) to the right.
  // The oracle: these test strings hold only ASCII, CJK and kana (two columns each) and emoji from U+1F300 (two).
  const columns = (text: string): number =>
    [...text].reduce((sum, c) => sum + (/[\u3000-\u9fff\uff01-\uff60]/u.test(c) || c.codePointAt(0)! >= 0x1f300 ? 2 : 1), 0);
  const findings = [
    makeFinding('off-window-deploy', { eventTime: '2024-05-14T02:13:05Z', service: '決済サービス', principal: 'デプロイ🚀@acme.com' }),
    makeFinding('off-window-deploy', { eventTime: '2024-05-14T02:13:06Z', service: '決済'.repeat(20), principal: '🚀'.repeat(30) }, { revision: '改訂'.repeat(20) }),
    makeFinding('off-window-deploy', { eventTime: '2024-05-14T02:13:07Z', service: 'storefront', principal: 'ci@acme.com' }),
  ];

  it('every cell starts under its title, whatever the cells before it hold', () => {
    const [header, ...rows] = formatTable(findings).trimEnd().split('\n');
    const titleAt = (title: string): number => columns(header!.slice(0, header!.indexOf(title)));
    for (const [i, row] of rows.entries()) {
      const finding = byTime(findings)[i]!;
      // The WHAT cell (the finding's title, ASCII) starts where its title does.
      expect(columns(row.slice(0, row.indexOf(finding.title))), row).toBe(titleAt('WHAT'));
      // So does the PRINCIPAL cell: the text after the two spaces that end the REVISION cell.
      const principal = finding.principal ?? '';
      expect(columns(row.slice(0, row.indexOf(principal.slice(0, 4)))), row).toBe(titleAt('PRINCIPAL'));
    }
  });

  it.each([
    ['service', '決', 36],
    ['revision', '改', 26],
    ['principal', '🚀', 34],
  ])('a %s cut for its width keeps to it, the ellipsis included', (_name, mark, width) => {
    const row = formatTable([findings[1]!]).split('\n')[1]!;
    const cell = row.split(/ {2,}/).find((c) => c.includes(mark))!;
    expect(cell.endsWith('…')).toBe(true);
    // As many characters as fit: the cell and its ellipsis take the width, or one column less than it.
    expect(columns(cell)).toBeLessThanOrEqual(width);
    expect(columns(cell)).toBeGreaterThanOrEqual(width - 1);
  });
});

describe('the REVISION cell', () => {
  // An IAM policy change creates no revision: "unknown" there read as a fact the entry lacked. Now "-", as for a job;
  // a deploy whose revision the entries do not name still says "unknown".
  it('"-" for an IAM policy change, "unknown" for a deploy whose revision is not known (the examples)', async () => {
    const run = await runwatch(['replay', '--config', 'examples/runwatch.yaml', 'examples/logs']);
    expect(run.code).toBe(0);
    const rows = run.stdout.split('\n').slice(1).filter((line) => line.trim() !== '');
    const cells = (line: string): string[] => line.split(/ {2,}/);
    const revisionOf = (rule: string, service: string): string[] =>
      rows.map(cells).filter((c) => c[2] === rule && c[3] === service).map((c) => c[4]!);
    expect(revisionOf('public-invoker-grant', 'acme-prod/storefront')).toEqual(['-', '-']);
    expect(revisionOf('public-invoker-attempt', 'acme-prod/storefront')).toEqual(['-']);
    expect(revisionOf('public-invoker-grant', 'western-verve-123456/*')).toEqual(['-']);
    expect(revisionOf('external-member-grant', 'acme-prod/storefront')).toEqual(['-']);
    expect(revisionOf('off-window-deploy', 'test-project-1234/payments-api')).toEqual(['unknown']);
    expect(revisionOf('off-window-deploy', 'acme-prod/storefront')).toEqual(['storefront-00042-zur']);
  });
});

describe('the PRINCIPAL cell of a call made through another identity', () => {
  // Cloud Audit Logs name the impersonated service account as the principal and the callers who acted through it in
  // serviceAccountDelegationInfo, original caller first. The table showed the principal alone: a person who
  // impersonated the pipeline's service account to deploy by hand read, in the table, as the pipeline
  // (`deployer@acme-ci…  Deploy by an identity outside the approved deployers`, an approved account, while the
  // summary named the person). A person in the chain now comes first, as the summary says it: PERSON as PRINCIPAL.
  // Links that are the pipeline's own (service accounts, workload identities), as exceptions read them, change
  // nothing: the principal is shown as before.
  const SA = 'deployer@acme-ci.iam.gserviceaccount.com';
  const WIF = 'principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/subject/repo:acme/storefront:ref:refs/heads/main';
  it.each([
    ['a person impersonating the service account', ['alice@acme.com'], 'alice@acme.com as deployer@acme-c…'],
    ['a person, through a second service account', ['bob@acme.com', 'ci-hop@acme-ci.iam.gserviceaccount.com'], 'bob@acme.com as deployer@acme-ci.…'],
    // A federated identity is shown from its pool on (POOL/subject/SUBJECT): its first 34 columns are all prefix.
    ['a person of a workforce pool', ['principal://iam.googleapis.com/locations/global/workforcePools/acme/subject/carol'], 'acme/subject/carol as deployer@ac…'],
    ['a workload identity (GitHub Actions): as before', [WIF], 'deployer@acme-ci.iam.gserviceacco…'],
    ['a service account impersonating another: as before', ['ci-hop@acme-ci.iam.gserviceaccount.com'], 'deployer@acme-ci.iam.gserviceacco…'],
    ['no chain: as before', [], 'deployer@acme-ci.iam.gserviceacco…'],
  ])('%s', (_name, delegationChain, cell) => {
    const finding = makeFinding('unapproved-deployer', { principal: SA }, { delegationChain });
    const [header, row] = formatTable([finding]).split('\n') as [string, string];
    expect(row.slice(header.indexOf('PRINCIPAL'), header.indexOf('WHAT')).trimEnd()).toBe(cell);
  });

  it.each([
    ['a workload identity calling directly (no service account)', WIF, 'github/subject/repo:acme/storefro…'],
    ['a workforce identity calling directly', 'principal://iam.googleapis.com/locations/global/workforcePools/acme/subject/carol', 'acme/subject/carol'],
    ['a workload identity pool set', 'principalSet://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/attribute.repository/acme/storefront', 'github/attribute.repository/acme/…'],
    ['a federated-looking name on another host: as written', 'principal://evil.example/locations/global/workforcePools/acme/subject/x', 'principal://evil.example/location…'],
  ])('%s: shown from its pool on', (_name, principal, cell) => {
    const finding = makeFinding('unapproved-deployer', { principal }, { delegationChain: [] });
    const [header, row] = formatTable([finding]).split('\n') as [string, string];
    expect(row.slice(header.indexOf('PRINCIPAL'), header.indexOf('WHAT')).trimEnd()).toBe(cell);
  });

  it('a resolution names who resolved it, as before', () => {
    const finding = makeFinding('service-account-change', { principal: SA }, { delegationChain: ['alice@acme.com'], status: 'resolved', resolution: { time: '2024-05-14T03:00:00Z', principal: 'bob@acme.com', reason: 'runtime service account is back', logName: 'l', insertId: 'i' } });
    const [header, row] = formatTable([finding]).split('\n') as [string, string];
    expect(row.slice(header.indexOf('PRINCIPAL'), header.indexOf('WHAT')).trimEnd()).toBe('bob@acme.com');
  });

  it('replay of a real deploy a person made through the pipeline account (synthetic: the delegation added) shows the person', async () => {
    const entry = JSON.parse(readFileSync('test/fixtures/corpus/kktae-demo__Services.CreateService__1.json', 'utf8')) as { protoPayload: { authenticationInfo: Record<string, unknown> } };
    entry.protoPayload.authenticationInfo = { principalEmail: SA, serviceAccountDelegationInfo: [{ firstPartyPrincipal: { principalEmail: 'alice@acme.com' } }] };
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-chain-'));
    writeFileSync(join(dir, 'config.yaml'), 'rules:\n  unapproved-deployer:\n    allowedDeployers: ["serviceAccount:*"]\n');
    const run = await runwatch(['replay', '--quiet', '--config', join(dir, 'config.yaml'), '-'], JSON.stringify(entry));
    expect(run.code).toBe(0);
    const row = run.stdout.split('\n').find((line) => line.includes('unapproved-deployer'));
    expect(row).toContain('  alice@acme.com as deployer@acme-c…  ');
  });
});
