// A deploy and its service's delete in the same millisecond (real audit timestamps carry nanoseconds, which the
// baseline keeps: TimePoint.n, deletedAtN): the deploy is told before or after the delete as when a whole millisecond
// lies between them. Before it, it is the deleted service's last deploy (a deploy still waiting for its system events
// is judged before the delete clears the service, and what the service created again is compared with dates from
// before the delete: `recreatedAfterDeleteAt`); after it, it is the re-created service's. Each case runs with the
// deploy a millisecond before the delete and in the delete's millisecond, in both delivery orders, each entry judged
// before the next arrives (the live function), arriving at its own time (deploys wait for their system events: replay,
// a redelivery within the wait), and replayed from a file (memory, file store, workers): the findings must be the same.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileBaselineStore } from '../../functions/baseline/file.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { replay } from '../../functions/replay/replay.js';
import type { Finding } from '../../functions/findings/finding.js';
import { at, deleteServiceAt, SLACK_BOT, synthetic, v1EnvDeploy, v1ServiceWrite, variant, withV1ServiceAccount, type Json } from '../support/entries.js';
import { config, findingsLive, findingsOf } from '../support/run.js';
import { EARLIER, TIMINGS, SA0, SA1, SA2, tag } from '../support/sameMillisecond.js';

const LATER = '2024-05-06T23:58:04.355100Z';

const identity = (time: string, sa: string): Json => at(withV1ServiceAccount(v1EnvDeploy(time, [], `gcr.io/acme/app:${tag(time)}`), sa), time, `deploy-${time}`);
const image = (time: string, repository: string): Json => v1EnvDeploy(time, [], `${repository}/app:${tag(time)}`);
const INGRESS = 'run.googleapis.com/ingress';
const ingress = (time: string, value: string): Json => v1ServiceWrite(time, { [INGRESS]: value }, { image: `gcr.io/acme/app:${tag(time)}` });
const SECRET = { name: 'DB_PASSWORD', value: 'hunter2hunter2' };
const deleted = (time: string): Json => deleteServiceAt(time, SLACK_BOT);

interface Case {
  readonly rule: string;
  readonly label: string;
  readonly before: readonly Json[];
  /** The deploy of the pair at `a`; the delete is at `b`. */
  readonly deploy: (a: string) => Json;
  /** Entries after both: the re-created service's. */
  readonly after: readonly Json[];
}

const CASES: readonly Case[] = [
  { rule: 'service-account-change', label: 'a change of identity, then another after the re-creation', before: [identity(EARLIER, SA0)], deploy: (a) => identity(a, SA1), after: [identity(LATER, SA2)] },
  { rule: 'new-image-repository', label: 'a new repository, then another after the re-creation', before: [image(EARLIER, 'gcr.io/acme')], deploy: (a) => image(a, 'gcr.io/second'), after: [image(LATER, 'gcr.io/third')] },
  { rule: 'ingress-opened', label: 'internal, then opened after the re-creation', before: [ingress(EARLIER, 'all')], deploy: (a) => ingress(a, 'internal'), after: [ingress(LATER, 'all')] },
  { rule: 'plaintext-secret-env', label: 'a secret set by the last deploy before the delete', before: [v1EnvDeploy(EARLIER, [])], deploy: (a) => v1EnvDeploy(a, [SECRET]), after: [v1EnvDeploy(LATER, [])] },
];

/** A finding as compared across timings: its times named by the entry they are of. */
function shown(finding: Finding, a: string, b: string): string {
  const { rule, status, eventTime, severity, title, summary, evidence } = finding;
  return JSON.stringify({ rule, status: status ?? 'active', eventTime, severity, title, summary, evidence }).replaceAll(a, 'A').replaceAll(b, 'B').replaceAll(tag(a), 'A');
}

function entriesOf(c: Case, a: string, b: string, reversed: boolean): Json[] {
  const pair = [c.deploy(a), deleted(b)];
  return [...c.before, ...(reversed ? pair.reverse() : pair), ...c.after];
}

async function findings(c: Case, a: string, b: string, reversed: boolean, live: boolean): Promise<string[]> {
  const entries = entriesOf(c, a, b, reversed);
  const all = live ? await findingsLive(entries) : await findingsOf(entries);
  return all.filter((f) => f.rule === c.rule).map((f) => shown(f, a, b));
}

describe('a deploy and its service delete of the same millisecond, then the re-created service', () => {
  for (const c of CASES) {
    for (const [order, reversed] of [
      ['in order', false],
      ['the delete delivered first', true],
    ] as const) {
      for (const [how, live] of [
        ['each judged before the next arrives', true],
        ['each arriving at its own time', false],
      ] as const) {
        it(`${c.rule}: ${c.label}, ${order}, ${how}: as a millisecond apart`, async () => {
          const apart = await findings(c, ...TIMINGS['a millisecond apart'], reversed, live);
          expect(apart.length).toBeGreaterThan(0);
          expect(await findings(c, ...TIMINGS['in the same millisecond'], reversed, live)).toEqual(apart);
        });
      }
    }
  }
});

describe('replay of a deploy and its service delete of the same millisecond', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-same-ms-delete-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;

  async function replayed(c: Case, a: string, b: string, reversed: boolean, mode: 'memory' | 'file' | 'workers'): Promise<string[]> {
    const path = join(dir, `${files++}.jsonl`);
    writeFileSync(path, entriesOf(c, a, b, reversed).map((e) => JSON.stringify(e)).join('\n'));
    const store = mode === 'memory' ? new MemoryBaselineStore() : mode === 'file' ? await FileBaselineStore.open(join(dir, `${files}.state.json`)) : undefined;
    const found: Finding[] = [];
    try {
      await replay({ config: config(), ...(store ? { store } : {}), paths: [path], workers: mode === 'workers' ? 2 : 0, reorderCapacity: 0, onFinding: (f) => void found.push(f) });
    } finally {
      if (store instanceof FileBaselineStore) await store.release();
    }
    return found.filter((f) => f.rule === c.rule).map((f) => shown(f, a, b)).sort();
  }

  for (const mode of ['memory', 'file', 'workers'] as const) {
    for (const c of mode === 'workers' ? CASES.slice(0, 2) : CASES) {
      for (const reversed of [false, true]) {
        it(`${mode}: ${c.rule}: ${c.label}, ${reversed ? 'the delete first' : 'in order'}: as a millisecond apart`, async () => {
          const apart = await replayed(c, ...TIMINGS['a millisecond apart'], reversed, mode);
          expect(apart.length).toBeGreaterThan(0);
          expect(await replayed(c, ...TIMINGS['in the same millisecond'], reversed, mode)).toEqual(apart);
        });
      }
    }
  }
});

describe('a baseline stored before the delete kept its nanoseconds', () => {
  for (const c of CASES) {
    it(`${c.rule}: ${c.label}: the re-created service's deploy is judged as with them`, async () => {
      const [a, b] = TIMINGS['a millisecond apart'];
      const store = new MemoryBaselineStore();
      await findingsLive([...c.before, c.deploy(a), deleted(b)], config(), undefined, undefined, store);
      const stripped = new MemoryBaselineStore(JSON.parse(JSON.stringify([...store.entries()]), (key, value: unknown) => (key === 'n' || key === 'deletedAtN' || key === 'repositoriesN' ? undefined : value)) as [string, never][]);
      // The delete's time in evidence (recreatedAfterDeleteAt) has the digits only where they were kept: read as its
      // millisecond otherwise.
      const deleteMs = new Date(Date.parse(b)).toISOString();
      const judged = async (s: MemoryBaselineStore): Promise<string[]> =>
        (await findingsLive(c.after, config(), Date.parse('2031-01-01T00:00:00Z'), undefined, s)).filter((f) => f.rule === c.rule).map((f) => shown(f, a, b).replaceAll(deleteMs, 'B'));
      expect(await judged(stripped)).toEqual(await judged(store));
    });
  }
});


describe("a late deploy about the deleted service, and the re-created service's deploy of the delete's millisecond", () => {
  // The deleted service's last deploy set a secret in plain text; it arrives after the delete and after the re-created
  // service's first deploy (without it). The delete, before that deploy, took its risk away: the finding is reported
  // and closed by the delete, as when a millisecond lies between the delete and the re-created service's deploy.
  const run = async (deleteTime: string, recreatedTime: string): Promise<string[]> => {
    const late = v1EnvDeploy('2024-05-06T22:00:00.000100Z', [SECRET]);
    const entries = [v1EnvDeploy(EARLIER, []), deleted(deleteTime), v1EnvDeploy(recreatedTime, []), late];
    const ms = new Date(Date.parse(deleteTime)).toISOString();
    return (await findingsLive(entries)).filter((f) => f.rule === 'plaintext-secret-env').map((f) =>
      JSON.stringify({ status: f.status ?? 'active', eventTime: f.eventTime, resolution: f.resolution }).replaceAll(deleteTime, 'DELETE').replaceAll(ms, 'DELETE').replaceAll(recreatedTime, 'RECREATED'),
    );
  };
  it('closed by the delete, not by the later deploy', async () => {
    const apart = await run('2024-05-06T22:58:04.354500Z', '2024-05-06T22:58:04.355900Z');
    expect(apart).toHaveLength(2);
    expect(apart[1]).toContain('DELETE');
    expect(await run('2024-05-06T22:58:04.355500Z', '2024-05-06T22:58:04.355900Z')).toEqual(apart);
  });
});

describe('a v2 upsert (allowMissing) of the delete\'s millisecond, earlier than the delete, delivered after it', () => {
  // The upsert updated the service that still existed: what it leaves out (the ingress) it left as it was, as a
  // millisecond before the delete. Only an upsert after the delete created the service again (at the default `all`).
  const STOREFRONT = { project: 'acme-prod', location: 'europe-west1', service: 'storefront' };
  const v2 = (name: string, time: string, edit: (service: Record<string, unknown>, request: Record<string, unknown>) => void): Json =>
    at(
      variant(synthetic(name), (e) => {
        const request = e.protoPayload['request'] as Record<string, unknown>;
        edit(request['service'] as Record<string, unknown>, request);
      }),
      time,
    );
  const create = v2('v2-CreateService', '2024-06-01T10:00:00Z', (service) => void (service['ingress'] = 'INGRESS_TRAFFIC_INTERNAL_ONLY'));
  const upsert = (time: string): Json =>
    v2('v2-UpdateService', time, (service, request) => {
      delete service['ingress'];
      request['allowMissing'] = true;
    });
  const deleteV2 = (time: string): Json =>
    variant(deleteServiceAt(time, STOREFRONT), (e) => {
      e.protoPayload['methodName'] = 'google.cloud.run.v2.Services.DeleteService';
      e.protoPayload['resourceName'] = 'projects/acme-prod/locations/europe-west1/services/storefront';
    });
  const run = async (upsertTime: string, deleteTime: string, live: boolean): Promise<string[]> => {
    const entries = [create, deleteV2(deleteTime), upsert(upsertTime)];
    const found = live ? await findingsLive(entries) : await findingsOf(entries);
    return found.filter((f) => f.rule === 'ingress-opened').map((f) => shown(f, upsertTime, deleteTime));
  };
  for (const live of [true, false]) {
    it(`${live ? 'each judged before the next arrives' : 'each arriving at its own time'}: not taken for a create, as a millisecond apart`, async () => {
      const apart = await run('2024-06-01T11:00:00.000100Z', '2024-06-01T11:00:00.001500Z', live);
      expect(apart, 'a millisecond apart').toEqual([]);
      expect(await run('2024-06-01T11:00:00.001100Z', '2024-06-01T11:00:00.001500Z', live), 'in the same millisecond').toEqual(apart);
    });
  }
});
