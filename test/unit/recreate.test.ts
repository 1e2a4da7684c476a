// A service deleted and created again under the name keeps the history the "compare with the service's earlier
// revisions" rules use: the re-created service's first revision is compared with the deleted one's (its runtime
// service account, the repositories it used), and the findings say so. Its IAM policy and settings start afresh.
// Every case runs through the engine (the pipeline, on the memory store and on the file store reopened between
// arrivals) and through `runwatch replay --state`, and gives the same findings each way.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import findingSchema from '../../schemas/finding.schema.json' with { type: 'json' };
import { readEnvelope } from '../../functions/audit/entry.js';
import { FileBaselineStore } from '../../functions/baseline/file.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { BaselineStore } from '../../functions/baseline/store.js';
import type { Finding } from '../../functions/findings/finding.js';
import { Pipeline } from '../../functions/pipeline.js';
import { runwatch } from '../support/cli.js';
import { at, corpus, deleteServiceAt, synthetic, variant, withOperationId, withV1Image, withV1ServiceAccount, type Json } from '../support/entries.js';
import { config } from '../support/run.js';

// The real CreateService of some-project/cloudrun-exfil (2024-02-02T09:43:54Z): it runs as abc-test@ with an image
// from us-west1-docker.pkg.dev/some-project/abc-test.
const create = corpus('panther__Services.CreateService__1');
const ORIGINAL_SA = 'abc-test@some-project.iam.gserviceaccount.com';
const ORIGINAL_IMAGE = 'us-west1-docker.pkg.dev/some-project/abc-test/run_services_create_test';
const ATTACKER_SA = 'attacker@some-project.iam.gserviceaccount.com';
const ATTACKER_IMAGE = 'docker.io/attacker/exfil:1';
const DELETED_AT = '2024-02-03T10:00:00Z';

/** The corpus DeleteService, moved onto cloudrun-exfil at `timestamp`. */
function deleteAt(timestamp: string): Json {
  return deleteServiceAt(timestamp, { project: 'some-project', location: 'us-west1', service: 'cloudrun-exfil' });
}

/**
 * The real create again at `timestamp` (a service created anew under the name: generation 1, its own revision and
 * operation), running as `account` with `image`.
 */
function createAt(timestamp: string, account: string, image: string): Json {
  const revision = `cloudrun-exfil-00001-${timestamp.replace(/\D/g, '').slice(-3)}`;
  const renamed = variant(create, (e) => {
    for (const service of [(e.protoPayload['request'] as { service: unknown }).service, e.protoPayload['response']]) {
      (service as { spec: { template: { metadata: { name: string } } } }).spec.template.metadata.name = revision;
    }
  });
  return at(withOperationId(withV1Image(withV1ServiceAccount(renamed, account), image), `op-${timestamp}`), timestamp);
}

const grant = synthetic('run-SetIamPolicy-allUsers'); // allUsers gets roles/run.invoker on cloudrun-exfil
const privatePolicy = corpus('panther__Services.SetIamPolicy__1'); // the real policy: one user, nobody public

/** A finding in a line: rule, time, what it compares, and the delete it names (when it names one). */
function describeFinding(f: Finding): string {
  const e = f.evidence;
  const what =
    f.rule === 'service-account-change'
      ? `${String(e['before'])} -> ${String(e['after'])}`
      : f.rule === 'new-image-repository'
        ? `${String(e['repository'])} (known: ${(e['knownRepositories'] as readonly string[]).join(', ')})`
        : (e['membersGranted'] as readonly string[]).join(', ');
  const recreated = e['recreatedAfterDeleteAt'] === undefined ? '' : ` [re-created after ${String(e['recreatedAfterDeleteAt'])}]`;
  return `${f.status === 'resolved' ? 'resolved ' : ''}${f.rule} ${f.eventTime}: ${what}${recreated}`;
}

const BASELINE_RULES = new Set(['service-account-change', 'new-image-repository', 'public-invoker-grant']);
const describeAll = (findings: readonly Finding[]): string[] =>
  findings.filter((f) => BASELINE_RULES.has(f.rule) && f.service === 'cloudrun-exfil').map(describeFinding);

interface Case {
  readonly name: string;
  /** Entries as they arrive: each inner list arrives (and in replay, is replayed) after the one before. */
  readonly arrivals: readonly (readonly Json[])[];
  readonly expected: readonly string[];
}

const RECREATED = `[re-created after 2024-02-03T10:00:00.000Z]`;
const KNOWN = 'us-west1-docker.pkg.dev/some-project/abc-test';

const CASES: readonly Case[] = [
  {
    name: 'fires: re-created with another service account (compared with the deleted revision\'s)',
    arrivals: [[create, deleteAt(DELETED_AT), createAt('2024-02-03T10:05:00Z', ATTACKER_SA, ORIGINAL_IMAGE)]],
    expected: [`service-account-change 2024-02-03T10:05:00Z: ${ORIGINAL_SA} -> ${ATTACKER_SA} ${RECREATED}`],
  },
  {
    name: 'fires: re-created with an image from a repository the service never used',
    arrivals: [[create, deleteAt(DELETED_AT), createAt('2024-02-03T10:05:00Z', ORIGINAL_SA, ATTACKER_IMAGE)]],
    expected: [`new-image-repository 2024-02-03T10:05:00Z: docker.io/attacker (known: ${KNOWN}) ${RECREATED}`],
  },
  {
    name: 'fires: both, the delete and the re-creation arriving in a later batch (state kept in between)',
    arrivals: [[create], [deleteAt(DELETED_AT), createAt('2024-02-03T10:05:00Z', ATTACKER_SA, ATTACKER_IMAGE)]],
    expected: [
      `service-account-change 2024-02-03T10:05:00Z: ${ORIGINAL_SA} -> ${ATTACKER_SA} ${RECREATED}`,
      `new-image-repository 2024-02-03T10:05:00Z: docker.io/attacker (known: ${KNOWN}) ${RECREATED}`,
    ],
  },
  {
    name: 'fires; the re-created service\'s next revision is compared with its first (back to abc-test@ resolves it)',
    arrivals: [[create, deleteAt(DELETED_AT), createAt('2024-02-03T10:05:00Z', ATTACKER_SA, ORIGINAL_IMAGE), createAt('2024-02-04T10:00:00Z', ORIGINAL_SA, ORIGINAL_IMAGE)]],
    expected: [
      `service-account-change 2024-02-03T10:05:00Z: ${ORIGINAL_SA} -> ${ATTACKER_SA} ${RECREATED}`,
      `resolved service-account-change 2024-02-03T10:05:00Z: ${ORIGINAL_SA} -> ${ATTACKER_SA} ${RECREATED}`,
    ],
  },
  {
    // The marker says the comparison reaches back past the delete: once the re-created service has a revision of
    // its own, a later new repository is new for the service as it is now.
    name: 'fires without the re-creation marker once the re-created service has deployed',
    arrivals: [[create, deleteAt(DELETED_AT), createAt('2024-02-03T10:05:00Z', ORIGINAL_SA, `${KNOWN}/other:2`), createAt('2024-02-04T10:00:00Z', ORIGINAL_SA, ATTACKER_IMAGE)]],
    expected: [`new-image-repository 2024-02-04T10:00:00Z: docker.io/attacker (known: ${KNOWN})`],
  },
  {
    name: 'ignores: re-created with the same service account and repository',
    arrivals: [[create, deleteAt(DELETED_AT), createAt('2024-02-03T10:05:00Z', ORIGINAL_SA, `${KNOWN}/other:2`)]],
    expected: [],
  },
  {
    // The old service's revision at 12:00 (before the delete) arrives after it: it is reported as what it was, a
    // change of the deleted service, and it joins the history that carries across the delete (its runtime service
    // account, time-indexed), so the re-created service is compared with the deleted one's last revision whatever
    // the arrival order: intruder@, not the abc-test@ of the first revision. The runtime identity carries across the
    // delete, and so does the 12:00 finding, open as in time order: the move back to abc-test@ is its resolution.
    name: 'a late entry older than the delete joins the history the re-created service is compared with',
    arrivals: [[create, deleteAt(DELETED_AT)], [createAt('2024-02-02T12:00:00Z', 'intruder@some-project.iam.gserviceaccount.com', ORIGINAL_IMAGE)], [createAt('2024-02-03T10:05:00Z', ORIGINAL_SA, ORIGINAL_IMAGE)]],
    expected: [
      `service-account-change 2024-02-02T12:00:00Z: ${ORIGINAL_SA} -> intruder@some-project.iam.gserviceaccount.com`,
      `resolved service-account-change 2024-02-02T12:00:00Z: ${ORIGINAL_SA} -> intruder@some-project.iam.gserviceaccount.com`,
    ],
  },
  {
    // The late entry's change of identity is open (the identity carries across the delete), as in time order: the
    // re-created service's change of identity closes it and is reported itself.
    name: 'a late entry older than the delete: its change of identity stays open across the delete, as in time order',
    arrivals: [[create, deleteAt(DELETED_AT)], [createAt('2024-02-02T12:00:00Z', 'intruder@some-project.iam.gserviceaccount.com', ORIGINAL_IMAGE)], [createAt('2024-02-03T10:05:00Z', ATTACKER_SA, ORIGINAL_IMAGE)]],
    expected: [
      `service-account-change 2024-02-02T12:00:00Z: ${ORIGINAL_SA} -> intruder@some-project.iam.gserviceaccount.com`,
      `resolved service-account-change 2024-02-02T12:00:00Z: ${ORIGINAL_SA} -> intruder@some-project.iam.gserviceaccount.com`,
      `service-account-change 2024-02-03T10:05:00Z: intruder@some-project.iam.gserviceaccount.com -> ${ATTACKER_SA} ${RECREATED}`,
    ],
  },
  {
    name: 'the new service\'s invoker policy starts empty: a public grant after the re-creation is added again',
    arrivals: [[create, grant, deleteAt(DELETED_AT), createAt('2024-02-03T10:05:00Z', ORIGINAL_SA, ORIGINAL_IMAGE), at(grant, '2024-02-03T10:06:00Z')]],
    // The delete closes the grant found on the deleted service.
    expected: [
      'public-invoker-grant 2024-02-02T09:44:25.921Z: allUsers',
      'resolved public-invoker-grant 2024-02-02T09:44:25.921Z: allUsers',
      'public-invoker-grant 2024-02-03T10:06:00Z: allUsers',
    ],
  },
  {
    // The grant found on the deleted service is closed by the delete; the new service's policy adds nothing.
    name: 'ignores: the re-created service\'s private policy adds nothing public',
    arrivals: [[create, grant, deleteAt(DELETED_AT), createAt('2024-02-03T10:05:00Z', ORIGINAL_SA, ORIGINAL_IMAGE), at(privatePolicy, '2024-02-03T10:06:00Z')]],
    expected: ['public-invoker-grant 2024-02-02T09:44:25.921Z: allUsers', 'resolved public-invoker-grant 2024-02-02T09:44:25.921Z: allUsers'],
  },
];

/**
 * The pipeline as the live function runs it: each entry an hour of wall clock after the one before (so a deploy's
 * wait for its system events is over by the next one), and the sweep after each arrival. `storeFor` gives the
 * store for each arrival and `done` lets it go (the file store is written and reopened in between).
 */
async function throughEngine(arrivals: Case['arrivals'], storeFor: () => Promise<BaselineStore>, done: (store: BaselineStore) => Promise<void>): Promise<Finding[]> {
  const findings: Finding[] = [];
  let nowMs = Date.parse('2030-01-01T00:00:00Z');
  for (const entries of arrivals) {
    const store = await storeFor();
    const pipeline = new Pipeline({ config: config(), store, recentKeys: 0 });
    for (const entry of entries) {
      const outcome = await pipeline.handleEntry(entry, (nowMs += 3_600_000));
      if (outcome.status === 'processed') findings.push(...outcome.findings);
    }
    findings.push(...(await pipeline.sweep((nowMs += 3_600_000))));
    await done(store);
  }
  return findings;
}

/** `runwatch replay --state` once per arrival, then once more with an entry of another service a month later. */
async function throughReplay(arrivals: Case['arrivals']): Promise<Finding[]> {
  const dir = mkdtempSync(join(tmpdir(), 'runwatch-recreate-'));
  const state = join(dir, 'state.json');
  const later = at(synthetic('v2-CreateService'), '2024-03-04T00:00:00Z'); // acme-prod/storefront: judges what still waits
  const findings: Finding[] = [];
  for (const [i, entries] of [...arrivals, [later]].entries()) {
    const file = join(dir, `arrival-${i}.json`);
    writeFileSync(file, JSON.stringify(entries));
    const run = await runwatch(['replay', '--state', state, '--format', 'ndjson', file]);
    expect(run.code, run.stderr).toBe(0);
    findings.push(...run.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Finding));
  }
  return findings;
}

/** One `runwatch replay` of every entry as NDJSON on two worker threads (each detects on its own, from dist). */
async function throughWorkers(arrivals: Case['arrivals']): Promise<Finding[]> {
  const file = join(mkdtempSync(join(tmpdir(), 'runwatch-recreate-')), 'entries.ndjson');
  writeFileSync(file, arrivals.flat().map((entry) => `${JSON.stringify(entry)}\n`).join(''));
  const run = await runwatch(['replay', '--workers', '2', '--format', 'ndjson', file]);
  expect(run.code, run.stderr).toBe(0);
  return run.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Finding);
}

/** True when the entries arrive in their time order (one replay, which reads in time order, then sees them so too). */
function inTimeOrder(entries: readonly Json[]): boolean {
  const times = entries.map((entry) => {
    const envelope = readEnvelope(entry);
    return envelope.ok ? envelope.envelope.timeMs : NaN;
  });
  return times.every((t, i) => i === 0 || t >= times[i - 1]!);
}

describe('a service deleted and created again under the name', () => {
  describe.each(CASES)('$name', ({ arrivals, expected }) => {
    it('through the engine on the memory store', async () => {
      const store = new MemoryBaselineStore();
      expect(describeAll(await throughEngine(arrivals, () => Promise.resolve(store), () => Promise.resolve()))).toEqual(expected);
    });

    it('through the engine on the file store, written and read back between arrivals', async () => {
      const path = join(mkdtempSync(join(tmpdir(), 'runwatch-recreate-')), 'state.json');
      const findings = await throughEngine(arrivals, () => FileBaselineStore.open(path), (store) => store.close());
      expect(describeAll(findings)).toEqual(expected);
    });

    it('through runwatch replay --state', async () => {
      expect(describeAll(await throughReplay(arrivals))).toEqual(expected);
    });

    if (inTimeOrder(arrivals.flat())) {
      it('through one runwatch replay on worker threads', async () => {
        // Workers hand findings back in their own order (see replay-parallel.test.ts): the same ones, sorted.
        expect(describeAll(await throughWorkers(arrivals)).sort()).toEqual([...expected].sort());
      });
    }
  });

  it('the finding ids are the ones the same comparison has without a delete in between', async () => {
    // The same two revisions with no delete: a service-account-change with the same dedup key, so the same id.
    const replace = variant(createAt('2024-02-03T10:05:00Z', ATTACKER_SA, ATTACKER_IMAGE), (e) => {
      e.protoPayload['methodName'] = 'google.cloud.run.v1.Services.ReplaceService';
    });
    const store = (): Promise<BaselineStore> => Promise.resolve(new MemoryBaselineStore());
    const ids = async (arrivals: Case['arrivals']): Promise<string[]> =>
      (await throughEngine(arrivals, store, () => Promise.resolve())).filter((f) => BASELINE_RULES.has(f.rule)).map((f) => `${f.rule} ${f.id}`);
    const recreated = await ids([[create, deleteAt(DELETED_AT), createAt('2024-02-03T10:05:00Z', ATTACKER_SA, ATTACKER_IMAGE)]]);
    expect(recreated).toHaveLength(2);
    expect(recreated).toEqual(await ids([[create, replace]]));
  });

  it('says so in the summary, and only the comparison across the delete carries the field', async () => {
    const store = new MemoryBaselineStore();
    const findings = await throughEngine(
      [[create, deleteAt(DELETED_AT), createAt('2024-02-03T10:05:00Z', ATTACKER_SA, ATTACKER_IMAGE), createAt('2024-02-04T10:00:00Z', 'third@some-project.iam.gserviceaccount.com', 'ghcr.io/other/x:1')]],
      () => Promise.resolve(store),
      () => Promise.resolve(),
    );
    const validate = new Ajv({ allErrors: true, strict: false }).compile(findingSchema);
    for (const finding of findings) expect(validate(finding), JSON.stringify(validate.errors)).toBe(true);
    const active = findings.filter((f) => BASELINE_RULES.has(f.rule) && f.status !== 'resolved');
    expect(active.map((f) => [f.rule, f.eventTime, f.evidence['recreatedAfterDeleteAt'] ?? null])).toEqual([
      ['service-account-change', '2024-02-03T10:05:00Z', '2024-02-03T10:00:00.000Z'],
      ['new-image-repository', '2024-02-03T10:05:00Z', '2024-02-03T10:00:00.000Z'],
      ['service-account-change', '2024-02-04T10:00:00Z', null],
      ['new-image-repository', '2024-02-04T10:00:00Z', null],
    ]);
    expect(active[0]?.summary).toBe(
      `some.user@company.com changed the runtime identity of some-project/cloudrun-exfil (us-west1) from ${ORIGINAL_SA} (its last revision's, before the service was deleted at 2024-02-03T10:00:00.000Z and created again) to ${ATTACKER_SA}.`,
    );
    expect(active[1]?.summary).toBe(
      `some.user@company.com deployed ${ATTACKER_IMAGE} to some-project/cloudrun-exfil (us-west1): repository docker.io/attacker is new for this service (compared with its revisions before it was deleted at 2024-02-03T10:00:00.000Z and created again).`,
    );
  });
});
