// `runwatch import-baselines` against the real Firestore emulator: the demo logs replayed with --state, imported into
// the live pipeline's baselines (default database, runwatch-baselines), then later entries through the live detect
// path (Pipeline over FirestoreBaselineStore, as detect builds it). The seeded baselines change what a user sees: a
// later deploy with another runtime service account is reported (without the import it set the baseline silently),
// and a re-applied policy holding an external member raises nothing (without it, every member counted as added); the
// replay's open findings, which no sink has, are not resolved by them.
// A second import, and an import over a live baseline, change nothing.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createFirestore, DEFAULT_BASELINE_COLLECTION, FirestoreBaselineStore } from '../../functions/baseline/firestore.js';
import type { ServiceBaseline } from '../../functions/baseline/state.js';
import type { Finding } from '../../functions/findings/finding.js';
import { Pipeline } from '../../functions/pipeline.js';
import { BIN, runwatch } from '../support/cli.js';
import { at, withV1ServiceAccount, type Json } from '../support/entries.js';
import { config } from '../support/run.js';
import { startHttpReceiver, type HttpReceiver } from '../support/webhookServer.js';

const emulators = inject('runwatchEmulators');

const STOREFRONT = 'acme-prod/europe-west1/storefront';
const DEMO = 'examples/logs';
const CONFIG = config({ rules: { 'external-member-grant': { allowedDomains: ['acme.example'] } } });

function demoEntry(file: string, insertId: string): Json {
  const text = readFileSync(join(DEMO, file), 'utf8');
  const entries = (file.endsWith('.json') ? JSON.parse(text) : text.trim().split('\n').map((line) => JSON.parse(line))) as Json[];
  const found = entries.find((e) => e['insertId'] === insertId);
  if (!found) throw new Error(`no entry ${insertId} in ${file}`);
  return found;
}

/** After the history: storefront deployed to run as another identity, and its last policy (an external member) applied again. */
const LATER_DEPLOY = withV1ServiceAccount(at(demoEntry('2024-05-week-19.json', 'ex-4'), '2024-06-03T10:00:00.000000Z', 'later-deploy'), 'intruder@acme-prod.iam.gserviceaccount.com');
const REAPPLIED_POLICY = at(demoEntry('2024-05-week-21.ndjson', 'demo-external-1'), '2024-06-03T11:00:00.000000Z', 'later-policy');

/** The later entries through the live detect path, each an hour after its own time; every finding. */
async function live(projectId: string, entries: readonly Json[]): Promise<Finding[]> {
  const store = new FirestoreBaselineStore({ projectId });
  try {
    const pipeline = new Pipeline({ config: CONFIG, store, recentKeys: 0 });
    const findings: Finding[] = [];
    for (const entry of entries) {
      const outcome = await pipeline.handleEntry(entry, Date.parse(String(entry['timestamp'])) + 3_600_000);
      if (outcome.status === 'processed') findings.push(...outcome.findings);
    }
    findings.push(...(await pipeline.flush()));
    return findings;
  } finally {
    await store.close();
  }
}

const rulesOf = (findings: readonly Finding[]): string[] => findings.filter((f) => f.status !== 'resolved').map((f) => f.rule).sort();

describe.skipIf(!emulators.available)('runwatch import-baselines (Firestore emulator)', () => {
  let state: string;
  let replayed: Record<string, ServiceBaseline>;

  const importInto = (projectId: string, ...extra: string[]): ReturnType<typeof runwatch> =>
    runwatch(['import-baselines', '--state', state, ...extra], '', { env: { GOOGLE_CLOUD_PROJECT: projectId, FIRESTORE_EMULATOR_HOST: emulators.available ? emulators.firestoreHost : '' } });

  /** Every stored document of the baselines collection of `projectId`, by key: its baseline JSON and other fields. */
  async function documents(projectId: string): Promise<Record<string, Record<string, unknown>>> {
    const client = await createFirestore({ projectId });
    try {
      const snapshot = await client.collection(DEFAULT_BASELINE_COLLECTION).get();
      return Object.fromEntries(snapshot.docs.map((d) => [String(d.get('key')), { ...d.data(), updatedAt: undefined }]));
    } finally {
      await client.terminate();
    }
  }

  beforeAll(async () => {
    if (!emulators.available) return;
    Object.assign(process.env, emulators.env);
    state = join(mkdtempSync(join(tmpdir(), 'runwatch-import-it-')), 'state.json');
    const replay = await runwatch(['replay', '--quiet', '--format', 'ndjson', '--state', state, DEMO]);
    expect(replay.code).toBe(0);
    replayed = (JSON.parse(readFileSync(state, 'utf8')) as { services: Record<string, ServiceBaseline> }).services;
  });

  it('imports every baseline of the state file, without the open findings the sinks never got', async () => {
    const project = `import-${randomUUID().slice(0, 8)}`;
    const dry = await importInto(project, '--dry-run');
    expect(dry.code).toBe(0);
    expect(await documents(project)).toEqual({});
    expect(dry.stderr).toContain(`would import ${Object.keys(replayed).length} baseline(s)`);

    const run = await importInto(project);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`imported ${Object.keys(replayed).length} baseline(s) into projects/${project}`);
    expect(run.stderr).toContain('0 skipped');
    const docs = await documents(project);
    expect(Object.keys(docs).sort()).toEqual(Object.keys(replayed).sort());
    for (const [key, doc] of Object.entries(docs)) {
      const stored = JSON.parse(String(doc['baseline'])) as ServiceBaseline;
      const { open: _open, rollouts: _rollouts, dueAtMs: _due, seen: _seen, ...facts } = replayed[key]!;
      expect(stored, key).toEqual(facts);
      expect(doc['outbox'], key).toEqual([]);
      expect(doc, key).not.toHaveProperty('dueAtMs');
      expect(doc, key).not.toHaveProperty('outboxSinceMs');
    }
    expect(replayed[STOREFRONT]!.open?.length).toBeGreaterThan(0); // there was something to take out

    // A second import finds every baseline there and changes nothing.
    const again = await importInto(project);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`imported 0 baseline(s) into projects/${project}`);
    expect(again.stderr).toContain(`${Object.keys(replayed).length} skipped`);
    expect(await documents(project)).toEqual(docs);
  });

  it('later entries are judged against the imported history: what a user expects, and not what an empty store gives', async () => {
    const seeded = `import-${randomUUID().slice(0, 8)}`;
    const empty = `import-${randomUUID().slice(0, 8)}`;
    expect((await importInto(seeded)).code).toBe(0);

    const withHistory = await live(seeded, [LATER_DEPLOY, REAPPLIED_POLICY]);
    const withoutHistory = await live(empty, [LATER_DEPLOY, REAPPLIED_POLICY]);

    // Without the import: the deploy set the baseline silently, and the policy's external member counted as added.
    expect(rulesOf(withoutHistory)).toEqual(['external-member-grant']);
    // With it: the change of identity is reported, and the policy as it was raises nothing.
    expect(rulesOf(withHistory)).toEqual(['service-account-change']);
    // The replay's open service-account-change of storefront (2024-05-24) went to no sink: the deploy that moves the
    // identity on resolves nothing (kept open in the import, it published the resolution of a finding no sink has).
    expect(withHistory.filter((f) => f.status === 'resolved')).toEqual([]);
    const change = withHistory.find((f) => f.rule === 'service-account-change')!;
    expect(change.service).toBe('storefront');
    expect(change.evidence['after']).toBe('intruder@acme-prod.iam.gserviceaccount.com');
  });

  it('an entry the replay applied that reaches detect after the import is judged there: the replay\'s verdict reached no sink', async () => {
    // The replay ran without the deployed config (no allowedDomains: it raised no external-member-grant) and printed
    // what it raised to no sink. The same entry reaching detect later (a redrive of its dead letter, a sink whose
    // createTime is before the replay's --until) was "already applied" by the imported `seen`, and raised nothing.
    const seeded = `import-${randomUUID().slice(0, 8)}`;
    expect((await importInto(seeded)).code).toBe(0);
    const replayedPolicy = demoEntry('2024-05-week-21.ndjson', 'demo-external-1');
    expect(rulesOf(await live(seeded, [replayedPolicy]))).toContain('external-member-grant');
  });

  it('a baseline too large for a Firestore document is listed and the others are imported all the same (exit 1)', async () => {
    // A deployer's labels, 32 deploys of them, make a replay's baseline larger than Firestore's 1 MiB. Before, the
    // import stopped at it: every service sorted after it (here `b`) was never imported, and running it again, as
    // the message said to, stopped at the same one.
    const project = `import-${randomUUID().slice(0, 8)}`;
    const labels = 'x'.repeat(40_000);
    const small: ServiceBaseline = { ...replayed[STOREFRONT]! };
    const huge: ServiceBaseline = { ...small, provenanceLabels: Array.from({ length: 32 }, (_, i) => ({ t: 1714990323120 + i, v: `${labels}${i}` })) };
    const file = join(mkdtempSync(join(tmpdir(), 'runwatch-import-it-')), 'synthetic-huge.json');
    writeFileSync(file, JSON.stringify({ format: 'runwatch-baseline', version: 1, services: { 'a-proj/europe-west1/a': huge, 'b-proj/europe-west1/b': small } }));
    const env = { GOOGLE_CLOUD_PROJECT: project, FIRESTORE_EMULATOR_HOST: emulators.available ? emulators.firestoreHost : '' };
    // The dry run predicts it, measured as the write measures it: before, it said "would import" both, and the real
    // run then refused one.
    const dry = await runwatch(['import-baselines', '--state', file, '--dry-run'], '', { env });
    expect(await documents(project)).toEqual({});
    const run = await runwatch(['import-baselines', '--state', file], '', { env });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^not imported a-proj\/europe-west1\/a \(.*1 MiB.*\)\nimported b-proj\/europe-west1\/b\n$/);
    expect(run.stderr).toContain('1 not imported: too large for a Firestore document (listed above)');
    expect(Object.keys(await documents(project))).toEqual(['b-proj/europe-west1/b']);
    expect(dry.stdout).toBe(run.stdout.replace('\nimported ', '\nwould import '));
    expect(dry.stderr).toContain('1 not imported: too large for a Firestore document (listed above)');
    expect(dry.code).toBe(1);
  });

  it('several services in flight write what one at a time writes, and print the same lines in the same order', async () => {
    // 120 synthetic services (the demo's storefront under other keys); every seventh has a baseline already (an
    // earlier import of those alone), which is skipped.
    const keys = Array.from({ length: 120 }, (_, i) => `synthetic-${String(i).padStart(3, '0')}/europe-west1/storefront`);
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-import-it-'));
    const stateOf = (name: string, of: readonly string[], baseline: ServiceBaseline): string => {
      const file = join(dir, name);
      writeFileSync(file, JSON.stringify({ format: 'runwatch-baseline', version: 1, services: Object.fromEntries(of.map((key) => [key, baseline])) }));
      return file;
    };
    const all = stateOf('synthetic-many.json', keys, replayed[STOREFRONT]!);
    const some = stateOf('synthetic-some.json', keys.filter((_, i) => i % 7 === 0), { ...replayed[STOREFRONT]!, lastChangeMs: replayed[STOREFRONT]!.lastChangeMs - 1 });
    const runs: { stdout: string; stderr: string; docs: Record<string, Record<string, unknown>> }[] = [];
    for (const concurrency of ['1', '16', '100']) {
      const project = `import-${randomUUID().slice(0, 8)}`;
      const env = { GOOGLE_CLOUD_PROJECT: project, FIRESTORE_EMULATOR_HOST: emulators.available ? emulators.firestoreHost : '' };
      expect((await runwatch(['import-baselines', '--state', some], '', { env })).code).toBe(0);
      const run = await runwatch(['import-baselines', '--state', all, '--concurrency', concurrency], '', { env });
      expect(run.code, run.stderr).toBe(0);
      runs.push({ stdout: run.stdout, stderr: run.stderr.replace(project, 'P'), docs: await documents(project) });
    }
    expect(runs[0]!.stdout).toBe(keys.map((key, i) => (i % 7 === 0 ? `skipped ${key} (a live baseline is there)\n` : `imported ${key}\n`)).join(''));
    expect(Object.keys(runs[0]!.docs).sort()).toEqual(keys);
    for (const other of runs.slice(1)) expect(other).toEqual(runs[0]);
  });

  it('never overwrites a live baseline: an import after the live pipeline saw a service leaves it as the live entry left it', async () => {
    const project = `import-${randomUUID().slice(0, 8)}`;
    await live(project, [LATER_DEPLOY]);
    const before = await documents(project);
    expect(Object.keys(before)).toEqual([STOREFRONT]);

    const run = await importInto(project);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`imported ${Object.keys(replayed).length - 1} baseline(s) into projects/${project}`);
    expect(run.stderr).toContain('1 skipped');
    expect(run.stdout).toContain(`skipped ${STOREFRONT} (a live baseline is there)`);
    const after = await documents(project);
    expect(after[STOREFRONT]).toEqual(before[STOREFRONT]);
    expect(JSON.parse(String(after[STOREFRONT]!['baseline']))).not.toEqual(JSON.parse(JSON.stringify(replayed[STOREFRONT])));
  });

  describe('on the emulator it asks no metadata server', () => {
    // On the emulator there are no credentials to find. Without METADATA_SERVER_DETECTION, google-auth (through the
    // gRPC stub's universe-domain check) still probed the GCE metadata server, 169.254.169.254 and
    // metadata.google.internal, a request off the machine, and printed a MetadataLookupWarning where none answered as one.
    // Here the metadata server is a local one (GCE_METADATA_HOST) that counts what reaches it and answers 403.
    let metadata: HttpReceiver;
    beforeAll(async () => {
      metadata = await startHttpReceiver(() => ({ status: 403, body: 'not a metadata server' }));
    });
    afterAll(() => metadata.close());

    it('a fresh process (an empty HOME, no credentials) imports and leaves the metadata server alone', async () => {
      const project = `import-${randomUUID().slice(0, 8)}`;
      const state = join(mkdtempSync(join(tmpdir(), 'runwatch-import-it-')), 'synthetic-state.json');
      writeFileSync(state, JSON.stringify({ format: 'runwatch-baseline', version: 1, services: { [STOREFRONT]: replayed[STOREFRONT] } }));
      const env = {
        HOME: mkdtempSync(join(tmpdir(), 'runwatch-import-home-')),
        GCE_METADATA_HOST: metadata.origin.replace('http://', ''),
        GOOGLE_CLOUD_PROJECT: project,
        FIRESTORE_EMULATOR_HOST: emulators.available ? emulators.firestoreHost : '',
      };
      const child = spawn(process.execPath, [BIN, 'import-baselines', '--state', state], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code, stderr).toBe(0);
      expect(stdout).toBe(`imported ${STOREFRONT}\n`);
      expect(Object.keys(await documents(project))).toEqual([STOREFRONT]);
      expect(stderr).not.toContain('MetadataLookupWarning');
      expect(metadata.requests).toEqual([]);
    });
  });
});
