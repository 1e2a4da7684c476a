// The Admin API fallback reads the service's latest created revision for a waiting write. When the service moved on
// (another deploy made a newer revision before the read, its write not yet seen), that revision is not the write's: a
// v1 write says the generation it produced (response.metadata.generation), and Cloud Run numbers a revision by its
// configuration generation (SERVICE-NNNNN-xxx), which never runs ahead of the service's. A revision numbered past the
// write's generation came from a later change: it must not give the write its image, identity or variables.
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { observationOfRevision, type RevisionReader } from '../../functions/correlate/adminApi.js';
import type { Finding } from '../../functions/findings/finding.js';
import { Pipeline } from '../../functions/pipeline.js';
import { at, synthetic, variant, type Json } from '../support/entries.js';
import { config } from '../support/run.js';

const [consoleWrite] = synthetic('seq-console-deploy') as unknown as [Json]; // generation 23, 2024-05-06T22:58:04Z
const WRITE_MS = Date.parse('2024-05-06T22:58:04.355Z');
const SERVICE = 'projects/test-project-1234/locations/asia-northeast1/services/cloud-run-slack-bot';

function readerOf(revision: string, image: string, createdMs: number): RevisionReader {
  return {
    async read(write, nowMs) {
      return {
        kind: 'revision',
        observation: observationOfRevision(
          write,
          {
            name: `${SERVICE}/revisions/${revision}`,
            createTime: { seconds: Math.floor(createdMs / 1000), nanos: 0 },
            containers: [{ image }],
            serviceAccount: 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com',
            conditions: [{ type: 'Ready', state: 'CONDITION_SUCCEEDED' }],
            creator: 'someone-else@example.com',
          },
          nowMs,
        ),
      };
    },
    close: async () => undefined,
  };
}

async function run(reader: RevisionReader): Promise<{ findings: Finding[]; joined: number }> {
  const cfg = config({ timezone: 'UTC', changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }], correlation: { adminApiFallback: { enabled: true, afterSeconds: 120 } } });
  const pipeline = new Pipeline({ config: cfg, store: new MemoryBaselineStore(), revisionReader: reader });
  const findings: Finding[] = [];
  const outcome = await pipeline.handleEntry(consoleWrite, WRITE_MS + 1_000);
  if (outcome.status === 'processed') findings.push(...outcome.findings);
  const pass = await pipeline.readFromAdminApi(WRITE_MS + 150_000);
  findings.push(...pass.findings, ...(await pipeline.flush()));
  return { findings: findings.filter((f) => f.rule === 'off-window-deploy'), joined: pass.joined };
}

describe('Admin API fallback: the latest revision read for a write', () => {
  it('joins: the revision of the generation the write produced (00023)', async () => {
    const { findings, joined } = await run(readerOf('cloud-run-slack-bot-00023-kiv', 'gcr.io/acme/app:1', WRITE_MS + 10_000));
    expect(joined).toBe(1);
    expect(findings.map((f) => [f.revision, f.unknown.includes('image')])).toEqual([['cloud-run-slack-bot-00023-kiv', false]]);
  });

  it('ignores: a revision of a later generation (00024: the service moved on before the read)', async () => {
    const { findings, joined } = await run(readerOf('cloud-run-slack-bot-00024-xyz', 'docker.io/someone/else:1', WRITE_MS + 60_000));
    expect(joined).toBe(0);
    // The write is judged with what it carries: its revision's image unknown, not the later revision's.
    expect(findings.map((f) => [f.revision ?? '-', f.unknown.includes('image')])).toEqual([['-', true]]);
  });
});

// Not moved on but not there yet: a write whose revision the service has not created (yet) when it is read, and the
// service's latest revision made by the deploy seconds before it. That revision was created before the write was
// made, so it cannot be the write's: taken, it would judge the write with another deploy's image and identity. Here
// a v2 update (nothing in it names its revision or generation) sets an image from docker.io 30 s after a deploy of
// the service's own image; the read made for it answers with that deploy's revision, created 29 s before the write.
describe('Admin API fallback: a latest revision created before the write', () => {
  const HOME = 'europe-west1-docker.pkg.dev/acme-prod/web/storefront:2';
  const STOREFRONT = 'projects/acme-prod/locations/europe-west1/services/storefront';
  const update = (timestamp: string, operation: string, image: string): Json =>
    variant(at(synthetic('v2-UpdateService'), timestamp), (e) => {
      (e.protoPayload['response'] as Json)['name'] = `projects/acme-prod/locations/europe-west1/operations/${operation}`;
      const template = ((e.protoPayload['request'] as Json)['service'] as Json)['template'] as { containers: { image: string }[] };
      template.containers[0]!.image = image;
    });
  const reader = (createdMs: number): RevisionReader => ({
    async read(write, nowMs) {
      const revision = { name: `${STOREFRONT}/revisions/storefront-00002-hom`, createTime: { seconds: Math.floor(createdMs / 1000), nanos: 0 }, containers: [{ image: HOME }], conditions: [{ type: 'Ready', state: 'CONDITION_SUCCEEDED' as const }] };
      return { kind: 'revision', observation: observationOfRevision(write, revision, nowMs) };
    },
    close: async () => undefined,
  });
  const WRITE = Date.parse('2024-06-01T11:00:00Z');

  async function repositories(createdMs: number): Promise<{ repositories: unknown[][]; joined: number }> {
    const pipeline = new Pipeline({ config: config({ correlation: { adminApiFallback: { enabled: true, afterSeconds: 60 } } }), store: new MemoryBaselineStore(), revisionReader: reader(createdMs) });
    const findings: Finding[] = [];
    const entries = [
      [synthetic('v2-CreateService'), Date.parse('2024-06-01T10:00:01Z')],
      [update('2024-06-01T10:59:30Z', 'op-home', HOME), WRITE - 29_000],
      [update('2024-06-01T11:00:00Z', 'op-attacker', 'docker.io/attacker/storefront:latest'), WRITE + 1_000],
    ] as const;
    for (const [entry, nowMs] of entries) {
      const outcome = await pipeline.handleEntry(entry, nowMs);
      if (outcome.status === 'processed') findings.push(...outcome.findings);
    }
    const pass = await pipeline.readFromAdminApi(WRITE + 90_000);
    findings.push(...pass.findings, ...(await pipeline.flush()));
    return { repositories: findings.filter((f) => f.rule === 'new-image-repository').map((f) => [f.eventTime, f.evidence['repository']]), joined: pass.joined };
  }

  it('ignores it: the write is judged with its own image (docker.io/attacker)', async () => {
    const { repositories: found, joined } = await repositories(WRITE - 29_000);
    expect(joined).toBe(0);
    expect(found).toEqual([['2024-06-01T11:00:00Z', 'docker.io/attacker']]);
  });

  it('joins one created after the write (the guard: the same read, its revision a second after the write)', async () => {
    const { repositories: found, joined } = await repositories(WRITE + 1_000);
    expect(joined).toBe(1);
    expect(found).toEqual([]);
  });
});

// Moved on, where no generation says so: a v2 write says neither the generation it produced nor its revision, so a
// revision a later change made (its write not seen yet when the read is made) passed for the write's own. Cloud Run
// records who created a revision (`creator`, the caller): one created by someone else than the write's principal is
// not the write's, unless the generation ties them (a v1 write's, as above).
describe('Admin API fallback: a latest revision created by someone else than a v2 write\'s principal', () => {
  const STOREFRONT = 'projects/acme-prod/locations/europe-west1/services/storefront';
  const WRITE = Date.parse('2024-06-01T11:00:00Z');
  const reader = (creator: string): RevisionReader => ({
    async read(write, nowMs) {
      const revision = {
        name: `${STOREFRONT}/revisions/storefront-00009-zzz`,
        createTime: { seconds: (WRITE + 60_000) / 1000, nanos: 0 },
        containers: [{ image: 'europe-west1-docker.pkg.dev/acme-prod/web/storefront:9' }],
        creator,
        conditions: [{ type: 'Ready', state: 'CONDITION_SUCCEEDED' as const }],
      };
      return { kind: 'revision', observation: observationOfRevision(write, revision, nowMs) };
    },
    close: async () => undefined,
  });

  async function judged(creator: string): Promise<{ rules: string[]; joined: number }> {
    const pipeline = new Pipeline({ config: config({ correlation: { adminApiFallback: { enabled: true, afterSeconds: 60 } } }), store: new MemoryBaselineStore(), revisionReader: reader(creator) });
    const findings: Finding[] = [];
    for (const [entry, nowMs] of [[synthetic('v2-CreateService'), Date.parse('2024-06-01T10:00:01Z')], [at(synthetic('v2-UpdateService'), '2024-06-01T11:00:00Z'), WRITE + 1_000]] as const) {
      const outcome = await pipeline.handleEntry(entry, nowMs);
      if (outcome.status === 'processed') findings.push(...outcome.findings);
    }
    const pass = await pipeline.readFromAdminApi(WRITE + 120_000);
    findings.push(...pass.findings, ...(await pipeline.flush()));
    return { rules: findings.filter((f) => f.eventTime === '2024-06-01T11:00:00Z').map((f) => `${f.rule} ${f.revision ?? '-'}`).sort(), joined: pass.joined };
  }

  it('ignores it: the write is judged with its own image (docker.io/attacker)', async () => {
    const { rules, joined } = await judged('someone-else@example.com');
    expect(joined).toBe(0);
    expect(rules).toContain('new-image-repository -');
  });

  it('joins one its principal created (the guard: the same read, by deployer@acme-ci)', async () => {
    const { rules, joined } = await judged('deployer@acme-ci.iam.gserviceaccount.com');
    expect(joined).toBe(1);
    expect(rules.filter((r) => r.startsWith('new-image-repository'))).toEqual([]);
  });
});
