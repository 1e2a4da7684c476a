// Two deploys (or a deploy and a job run) of one resource in the same millisecond: real audit timestamps carry
// nanoseconds, and the baseline keeps them (TimePoint.n), so the deploy-fact rules must judge the later entry against
// the earlier one as they do when a whole millisecond lies between them: in order, and delivered the other way round
// (a replay of several files, a Pub/Sub redelivery). Each case runs its entries with the two timestamps a millisecond
// apart and in the same millisecond, in both orders, as the live function gets them (each judged before the next
// arrives): the findings must be the same, the times aside.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileBaselineStore } from '../../functions/baseline/file.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { replay } from '../../functions/replay/replay.js';
import type { RunwatchConfig } from '../../functions/config/types.js';
import type { Finding } from '../../functions/findings/finding.js';
import { at, deleteServiceAt, editV1Services, SLACK_BOT, synthetic, v1EnvDeploy, v1ServiceWrite, withOperationId, withV1ServiceAccount, type EnvList, type Json } from '../support/entries.js';
import { config, findingsLive, findingsOf } from '../support/run.js';
import { EARLIER, TIMINGS, SA0, SA1, SA2 } from '../support/sameMillisecond.js';


const identity = (time: string, sa: string): Json => at(withV1ServiceAccount(synthetic('v1-ReplaceService-gcloud'), sa), time, `deploy-${time}`);

const SECRET = { name: 'DB_PASSWORD', value: 'hunter2hunter2' };
const REQUIRE = { name: 'NODE_OPTIONS', value: '--require /mnt/bucket/hook.js' };
const env = (time: string, list: EnvList): Json => v1EnvDeploy(time, list);

const CONNECTOR = { 'run.googleapis.com/vpc-access-connector': 'projects/test-project-1234/locations/asia-northeast1/connectors/egress' };
/** The gcloud fixture at `time` with VPC access through a connector and the egress given (undefined: no VPC access). */
function egress(time: string, setting: 'all-traffic' | 'private-ranges-only' | undefined): Json {
  const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
    const template = (svc['spec'] as Record<string, Record<string, Record<string, unknown>>>)['template']!;
    template['spec']!['containers'] = [{ image: `gcr.io/acme/app:${time}` }];
    const meta = template['metadata']!;
    const annotations = { ...(meta['annotations'] as Record<string, string> | undefined) };
    if (setting) Object.assign(annotations, CONNECTOR, { 'run.googleapis.com/vpc-access-egress': setting });
    meta['annotations'] = annotations;
  });
  return at(withOperationId(entry, `op-${time}`), time);
}

/** The gcloud fixture at `time` running one image: two writes of it are the same template (gcloud writes twice). */
const sameTemplate = (time: string): Json => v1EnvDeploy(time, [], 'gcr.io/acme/app:same');

/** The gcloud fixture at `time` (a new image each time) with the service annotations given (undefined: left out). */
const settings = (time: string, annotations: Readonly<Record<string, string | undefined>>): Json => v1ServiceWrite(time, annotations, { image: `gcr.io/acme/app:${time}` });
const INGRESS = 'run.googleapis.com/ingress';
const IAP = 'run.googleapis.com/iap-enabled';
const URL_DISABLED = 'run.googleapis.com/default-url-disabled';
const POLICY = 'run.googleapis.com/binary-authorization';

const jobCreate = (time: string): Json => at(synthetic('job-v1-CreateJob-gcloud'), time, `create-${time}`); // runs as exporter@
const jobRun = (time: string): Json => at(synthetic('job-v2-RunJob-overrides'), time, `run-${time}`);

interface Case {
  readonly rule: string;
  readonly label: string;
  /** The entries before the two (a baseline to compare with). */
  readonly before: readonly Json[];
  /** The two entries, the earlier first. */
  readonly pair: (a: string, b: string) => readonly [Json, Json];
  readonly config?: RunwatchConfig;
}

const CASES: readonly Case[] = [
  { rule: 'service-account-change', label: 'two changes of identity', before: [identity(EARLIER, SA0)], pair: (a, b) => [identity(a, SA1), identity(b, SA2)] },
  { rule: 'service-account-change', label: 'a change of identity and back', before: [identity(EARLIER, SA0)], pair: (a, b) => [identity(a, SA1), identity(b, SA0)] },
  { rule: 'plaintext-secret-env', label: 'a secret set by two revisions', before: [env(EARLIER, [])], pair: (a, b) => [env(a, [SECRET]), env(b, [SECRET])] },
  { rule: 'plaintext-secret-env', label: 'a secret set and dropped', before: [env(EARLIER, [])], pair: (a, b) => [env(a, [SECRET]), env(b, [])] },
  { rule: 'code-loading-env', label: 'a --require set by two revisions', before: [env(EARLIER, [])], pair: (a, b) => [env(a, [REQUIRE]), env(b, [REQUIRE])] },
  { rule: 'code-loading-env', label: 'a --require set and dropped', before: [env(EARLIER, [])], pair: (a, b) => [env(a, [REQUIRE]), env(b, [])] },
  { rule: 'vpc-egress-bypass', label: 'egress narrowed, then VPC access removed', before: [egress(EARLIER, 'all-traffic')], pair: (a, b) => [egress(a, 'private-ranges-only'), egress(b, undefined)] },
  { rule: 'vpc-egress-bypass', label: 'egress narrowed and restored', before: [egress(EARLIER, 'all-traffic')], pair: (a, b) => [egress(a, 'private-ranges-only'), egress(b, 'all-traffic')] },
  {
    rule: 'unapproved-deployer',
    label: 'a write and its repeat (the same template: one revision)',
    before: [env(EARLIER, [])],
    pair: (a, b) => [sameTemplate(a), sameTemplate(b)],
    config: config({ rules: { 'unapproved-deployer': { allowedDeployers: ['serviceAccount:*'] } } }),
  },
  { rule: 'ingress-opened', label: 'opened by two writes', before: [settings(EARLIER, { [INGRESS]: 'internal' })], pair: (a, b) => [settings(a, { [INGRESS]: 'all' }), settings(b, { [INGRESS]: 'all' })] },
  { rule: 'iap-disabled', label: 'turned off by two writes', before: [settings(EARLIER, { [IAP]: 'true' })], pair: (a, b) => [settings(a, { [IAP]: 'false' }), settings(b, { [IAP]: 'false' })] },
  { rule: 'default-url-enabled', label: 'enabled by two writes', before: [settings(EARLIER, { [URL_DISABLED]: 'true' })], pair: (a, b) => [settings(a, { [URL_DISABLED]: 'false' }), settings(b, { [URL_DISABLED]: 'false' })] },
  { rule: 'binary-authorization-bypass', label: 'turned off by two writes', before: [settings(EARLIER, { [POLICY]: 'default' })], pair: (a, b) => [settings(a, { [POLICY]: undefined }), settings(b, { [POLICY]: undefined })] },
  { rule: 'job-run-overrides', label: "a job run just after the job's create", before: [], pair: (a, b) => [jobCreate(a), jobRun(b)] },
];

/** A finding as compared across timings: its times named by the entry they are of. */
function shown(finding: Finding, a: string, b: string): string {
  const { rule, status, eventTime, severity, title, evidence } = finding;
  return JSON.stringify({ rule, status: status ?? 'active', eventTime, severity, title, evidence }).replaceAll(a, 'A').replaceAll(b, 'B');
}

/**
 * The findings of the case's entries: `live`, each judged before the next arrives (findingsLive); else each arriving
 * at its own time, so the two deploys wait for their system events together and are judged when the wait is over
 * (findingsOf: a redelivery within the wait, or replay).
 */
async function findings(c: Case, a: string, b: string, reversed: boolean, live = true): Promise<string[]> {
  const [first, second] = c.pair(a, b);
  const entries = [...c.before, ...(reversed ? [second, first] : [first, second])];
  const all = live ? await findingsLive(entries, c.config ?? config(), undefined, undefined, new MemoryBaselineStore()) : await findingsOf(entries, c.config ?? config());
  return all.filter((f) => f.rule === c.rule).map((f) => shown(f, a, b));
}

describe('deploy-fact rules judge two entries of the same millisecond by their nanoseconds', () => {
  for (const c of CASES) {
    for (const [order, reversed] of [
      ['in order', false],
      ['the later one delivered first', true],
    ] as const) {
      it(`${c.rule}: ${c.label}, ${order}: as a millisecond apart`, async () => {
        const apart = await findings(c, ...TIMINGS['a millisecond apart'], reversed);
        const same = await findings(c, ...TIMINGS['in the same millisecond'], reversed);
        expect(apart.length).toBeGreaterThan(0); // the case raises something to compare
        expect(same).toEqual(apart);
      });
    }
  }
});

describe('two deploys of the same millisecond waiting for their system events together', () => {
  for (const c of CASES) {
    for (const [order, reversed] of [
      ['in order', false],
      ['the later one delivered first', true],
    ] as const) {
      it(`${c.rule}: ${c.label}, ${order}: judged as a millisecond apart`, async () => {
        const apart = await findings(c, ...TIMINGS['a millisecond apart'], reversed, false);
        const same = await findings(c, ...TIMINGS['in the same millisecond'], reversed, false);
        expect(apart.length).toBeGreaterThan(0);
        expect(same).toEqual(apart);
      });
    }
  }
});

describe('replay of entries out of order past its reorder buffer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-same-ms-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;

  /** The case's entries replayed from one file as written (no reordering), into `mode`'s store. */
  async function replayed(c: Case, a: string, b: string, reversed: boolean, mode: 'memory' | 'file' | 'workers'): Promise<string[]> {
    const [first, second] = c.pair(a, b);
    const path = join(dir, `${files++}.jsonl`);
    writeFileSync(path, [...c.before, ...(reversed ? [second, first] : [first, second])].map((e) => JSON.stringify(e)).join('\n'));
    const store = mode === 'memory' ? new MemoryBaselineStore() : mode === 'file' ? await FileBaselineStore.open(join(dir, `${files}.state.json`)) : undefined;
    const found: Finding[] = [];
    try {
      await replay({ config: c.config ?? config(), ...(store ? { store } : {}), paths: [path], workers: mode === 'workers' ? 2 : 0, reorderCapacity: 0, onFinding: (f) => void found.push(f) });
    } finally {
      if (store instanceof FileBaselineStore) await store.release();
    }
    // The workers hand findings over in the order of their times to the millisecond: compared as a set.
    return found.filter((f) => f.rule === c.rule).map((f) => shown(f, a, b)).sort();
  }

  for (const mode of ['memory', 'file', 'workers'] as const) {
    // Every case in one thread; through the workers (dist/), the first of each rule.
    const cases = mode === 'workers' ? CASES.filter((c, i) => CASES.findIndex((o) => o.rule === c.rule) === i) : CASES;
    for (const c of cases) {
      it(`${mode}: ${c.rule}: ${c.label}, the later one first: as a millisecond apart`, async () => {
        const apart = await replayed(c, ...TIMINGS['a millisecond apart'], true, mode);
        const same = await replayed(c, ...TIMINGS['in the same millisecond'], true, mode);
        expect(apart.length).toBeGreaterThan(0);
        expect(same).toEqual(apart);
      });
    }
  }
});

describe('a baseline stored before the nanoseconds were kept', () => {
  /** The store's baselines as stored without TimePoint.n. */
  function withoutNanoseconds(store: MemoryBaselineStore): MemoryBaselineStore {
    const stripped = JSON.parse(JSON.stringify([...store.entries()]), (key, value: unknown) => (key === 'n' ? undefined : value)) as [string, never][];
    return new MemoryBaselineStore(stripped);
  }

  for (const c of CASES) {
    it(`${c.rule}: ${c.label}: the next deploy is judged as with them`, async () => {
      const [a, b] = TIMINGS['in the same millisecond'];
      const store = new MemoryBaselineStore();
      await findingsLive([...c.before, ...c.pair(a, b)], c.config ?? config(), undefined, undefined, store);
      expect(JSON.stringify([...store.entries()])).toContain('"n":');
      const old = withoutNanoseconds(store);
      expect(JSON.stringify([...old.entries()])).not.toContain('"n":');
      // A later deploy like the first of the pair, an hour on.
      const next = c.pair('2024-05-06T23:58:04.355100Z', '2024-05-06T23:58:04.355900Z')[0];
      const judged = async (s: MemoryBaselineStore): Promise<string[]> =>
        (await findingsLive([next], c.config ?? config(), Date.parse('2031-01-01T00:00:00Z'), undefined, s)).map((f) => shown(f, a, b));
      expect(await judged(old)).toEqual(await judged(store));
    });
  }
});

describe('two entries at the very same instant', () => {
  // Neither is before the other: the second is judged against what was before both, as the first was. It is the same
  // change again (another entry of it): nothing more is reported, and nothing it raises is closed by it.
  for (const c of CASES) {
    it(`${c.rule}: ${c.label}: the second raises nothing new and closes nothing of its own`, async () => {
      const time = TIMINGS['in the same millisecond'][0];
      const [entry] = c.pair(time, TIMINGS['in the same millisecond'][1]);
      const again = at(entry, time, 'again');
      const distinct = (findings: readonly Finding[]): string[] => [...new Set(findings.filter((f) => f.rule === c.rule).map((f) => `${f.id} ${f.status ?? 'active'}`))];
      const once = distinct(await findingsLive([...c.before, entry], c.config ?? config()));
      const twice = distinct(await findingsLive([...c.before, entry, again], c.config ?? config()));
      expect(twice).toEqual(once);
    });
  }
});

describe('a delete and a deploy of the same millisecond', () => {
  // The service deleted and created again at once with a secret in plain text, then deployed with it again an hour
  // later: the re-created service's first revision is reported, the next one holds nothing new.
  for (const [order, reversed] of [
    ['in order', false],
    ['the deploy delivered first', true],
  ] as const) {
    it(`${order}: the deploy after the delete is kept as a millisecond apart`, async () => {
      const run = async (deleteTime: string, deployTime: string): Promise<string[]> => {
        const deleted = deleteServiceAt(deleteTime, SLACK_BOT);
        const created = env(deployTime, [SECRET]);
        const entries = [env(EARLIER, []), ...(reversed ? [created, deleted] : [deleted, created]), env('2024-05-06T23:58:04Z', [SECRET])];
        return (await findingsLive(entries)).filter((f) => f.rule === 'plaintext-secret-env').map((f) => shown(f, deleteTime, deployTime));
      };
      const apart = await run(...TIMINGS['a millisecond apart']);
      expect(apart.length).toBeGreaterThan(0);
      expect(await run(...TIMINGS['in the same millisecond'])).toEqual(apart);
    });
  }
});

describe('a deploy and a delete of the same millisecond, the delete delivered first', () => {
  it('the deploy is about the deleted service: its secret is reported and closed by the delete, as a millisecond apart', async () => {
    const run = async (deployTime: string, deleteTime: string): Promise<string[]> => {
      const entries = [env(EARLIER, []), deleteServiceAt(deleteTime, SLACK_BOT), env(deployTime, [SECRET])];
      return (await findingsLive(entries)).filter((f) => f.rule === 'plaintext-secret-env').map((f) => shown(f, deployTime, deleteTime));
    };
    const apart = await run(...TIMINGS['a millisecond apart']);
    expect(apart).toHaveLength(2); // reported, and resolved by the delete
    expect(await run(...TIMINGS['in the same millisecond'])).toEqual(apart);
  });
});
