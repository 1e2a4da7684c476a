// The finding contract (DESIGN.md, schemas/finding.schema.json), table-driven over every fixture in test/fixtures:
// every finding any fixture raises validates against the schema, and its fields say what the entry says.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import findingSchema from '../../schemas/finding.schema.json' with { type: 'json' };
import { RULE_IDS } from '../../functions/detectors/index.js';
import { normalizeTimestamp } from '../../functions/audit/entry.js';
import type { Finding } from '../../functions/findings/finding.js';
import { config, DEPLOY_RULES, findingsLive, findingsOf } from '../support/run.js';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { valueBefore } from '../../functions/baseline/state.js';
import { seededRandom } from '../support/random.js';
import { deliveredOutOfOrder, fixtureFiles as entriesByFile, fixtureMix } from '../support/entries.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
type Json = Record<string, unknown>;

function fixtureFiles(): string[] {
  const top = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
  const nested = ['corpus', 'pipeline'].flatMap((dir) => readdirSync(`${FIXTURES}${dir}`).filter((f) => f.endsWith('.json')).map((f) => `${dir}/${f}`));
  return [...top, ...nested, PIPELINE_SEQUENCE].sort();
}

/** The pipeline fixtures one after the other, as the emulator tests publish them: the rules that compare deploys fire. */
const PIPELINE_SEQUENCE = 'pipeline (the deploys in order)';

function entriesOf(file: string): Json[] {
  if (file === PIPELINE_SEQUENCE) {
    return readdirSync(`${FIXTURES}pipeline`)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .flatMap((f) => entriesOf(`pipeline/${f}`));
  }
  const parsed = JSON.parse(readFileSync(`${FIXTURES}${file}`, 'utf8')) as Json | Json[];
  return Array.isArray(parsed) ? parsed : [parsed];
}

// Every rule fires where it can: no deploy is in a window, no repository is trusted.
const EAGER = config({
  timezone: 'UTC',
  changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }],
  rules: { 'new-image-repository': { trustedRepositories: ['trusted.example/*'] }, 'unapproved-deployer': { allowedDeployers: ['serviceAccount:*'] }, 'external-member-grant': { allowedDomains: ['acme.com'] } },
});

const validate = new Ajv({ allErrors: true, strict: false }).compile(findingSchema);

function obj(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

/** The entry a finding names (logName + insertId + timestamp), else undefined (a system-event-only deploy). */
function entryOf(entries: readonly Json[], finding: Finding): Json | undefined {
  return entries.find((e) => {
    const raw = (e['timestamp'] ?? obj(e['protoPayload'])?.['timestamp']) as string | undefined;
    return (e['logName'] ?? '') === finding.logName && (e['insertId'] ?? '') === finding.insertId && raw !== undefined && normalizeTimestamp(raw)?.iso === finding.eventTime;
  });
}

/** As the live function gets them: in the order given, on a wall clock a few seconds apart (within the wait). */
const findingsLiveSoon = (entries: readonly unknown[]): Promise<Finding[]> => findingsLive(entries, EAGER, Date.parse('2030-01-01T00:00:00Z'), 3_000);

const FILES = fixtureFiles();

describe('every finding from every fixture keeps the finding contract', () => {
  it('the table covers the fixtures, and every rule fires in it', async () => {
    expect(FILES.length).toBeGreaterThan(50);
    const rules = new Set<string>();
    for (const file of FILES) for (const finding of await findingsOf(entriesOf(file), EAGER)) rules.add(finding.rule);
    expect([...rules].sort()).toEqual([...RULE_IDS].sort());
  });

  it.each(FILES)('%s', async (file) => {
    const entries = entriesOf(file);
    const findings = await findingsOf(entries, EAGER);
    for (const finding of findings) {
      const where = `${file} ${finding.rule}`;
      expect(validate(finding), `${where}: ${JSON.stringify(validate.errors)}`).toBe(true);
      expect(finding.id, where).toMatch(/^[0-9a-f]{32}$/);
      const entry = entryOf(entries, finding);
      expect(entry, `${where}: the finding names an entry of the fixture`).toBeDefined();
      const raw = (entry!['timestamp'] ?? obj(entry!['protoPayload'])?.['timestamp']) as string;
      // eventTime is the entry's timestamp, as ISO 8601 UTC.
      expect(Date.parse(finding.eventTime), where).toBe(normalizeTimestamp(raw)!.ms);
      if (finding.service !== '*') {
        const collection = finding.resourceType === 'job' ? 'jobs' : finding.resourceType === 'worker-pool' ? 'workerPools' : 'services';
        expect(finding.resourceName, where).toBe(`//run.googleapis.com/projects/${finding.project}/locations/${finding.location ?? '-'}/${collection}/${finding.service}`);
      }
      // Delegation, where the entry carries it, is part of who did it.
      const auth = obj(obj(entry!['protoPayload'])?.['authenticationInfo']);
      const delegation = (auth?.['serviceAccountDelegationInfo'] as unknown[] | undefined) ?? [];
      if (delegation.length > 0) expect(finding.delegationChain?.length, where).toBe(delegation.length);
      // Labels are the user's labels (no `prefix/` bookkeeping of Cloud Run or Knative).
      for (const key of Object.keys(finding.labels)) expect(key, where).not.toContain('/');
      if (finding.location && finding.service !== '*') {
        expect(finding.links.console, where).toBe(
          finding.resourceType === 'job'
            ? `https://console.cloud.google.com/run/jobs/details/${encodeURIComponent(finding.location)}/${encodeURIComponent(finding.service)}/executions?project=${encodeURIComponent(finding.project)}`
            : finding.resourceType === 'worker-pool'
              ? `https://console.cloud.google.com/run/worker-pools?project=${encodeURIComponent(finding.project)}`
              : `https://console.cloud.google.com/run/detail/${encodeURIComponent(finding.location)}/${encodeURIComponent(finding.service)}/revisions?project=${encodeURIComponent(finding.project)}`,
        );
      }
      expect(finding.links.logEntry, where).toMatch(/^https:\/\/console\.cloud\.google\.com\/logs\/query;query=[^;?#]+;cursorTimestamp=[^;?#]+\?(project|folder|organizationId)=[^&#]+$/);
    }
    // The same entries again give the same ids; the live pipeline (entries an instant apart) gives them too.
    const again = await findingsOf(entries, EAGER);
    expect(again.map((f) => f.id)).toEqual(findings.map((f) => f.id));
    const live = await findingsLiveSoon(entries);
    expect(live.map((f) => f.id).sort()).toEqual(findings.map((f) => f.id).sort());
    // Every entry delivered twice (Pub/Sub redelivery, duplicated sink entries): the same findings, once.
    const twice = await findingsOf(entries.flatMap((e) => [e, structuredClone(e)]), EAGER);
    expect(twice.map((f) => f.id).sort()).toEqual(findings.map((f) => f.id).sort());
  });
});

describe('no environment value or secret lands in a finding', () => {
  it('container env values, secret references and an env-looking label value are not copied into findings', async () => {
    const SECRET = 'hunter2-do-not-leak';
    const SECRET_NAME = 'projects/test-project-1234/secrets/db-password-leak-check';
    const entries = entriesOf('synthetic-seq-gcloud-double-write.json').map((entry) =>
      JSON.parse(
        JSON.stringify(entry, (key, value: unknown) => {
          // Every container (request, response, system events) gets an env var and a secret reference.
          if (key === 'containers' && Array.isArray(value)) {
            return value.map((c: Json) => ({
              ...c,
              env: [
                { name: 'DB_PASSWORD', value: SECRET },
                { name: 'API_KEY', valueFrom: { secretKeyRef: { name: SECRET_NAME, key: 'latest' } } },
              ],
            }));
          }
          return value;
        }),
      ) as Json,
    );
    expect(JSON.stringify(entries)).toContain(SECRET);
    const findings = await findingsOf(entries, EAGER);
    expect(findings.length).toBeGreaterThan(0);
    for (const finding of findings) {
      const text = JSON.stringify(finding);
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain('db-password-leak-check');
      // Only the rule about it names the plain variable (never its value); a secret reference is named by none.
      if (finding.rule === 'plaintext-secret-env') expect(finding.evidence['variables']).toEqual(['DB_PASSWORD']);
      else expect(text).not.toContain('DB_PASSWORD');
      expect(text).not.toContain('API_KEY');
    }
    expect(findings.some((f) => f.rule === 'plaintext-secret-env')).toBe(true);
  });
});

describe('resolutions keep the contract', () => {
  it('a project grant and its removal: the resolution validates and keeps the id of the finding it closes', async () => {
    const grant = entriesOf('synthetic-project-SetIamPolicy-run-invoker-allUsers.json');
    const removed = entriesOf('synthetic-project-SetIamPolicy-run-invoker-removed.json');
    const findings = await findingsOf([...grant, ...removed], EAGER);
    expect(findings.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
    for (const finding of findings) expect(validate(finding), JSON.stringify(validate.errors)).toBe(true);
    expect(findings[1]!.id).toBe(findings[0]!.id);
  });
});

// The live pipeline and replay are one engine with two clocks (the wall clock, the entries' own). A property test
// over random mixes of fixture files, so that services of several files meet in one baseline.
describe('random mixes of fixture files: the live pipeline gives what replay gives', () => {
  const files = entriesByFile();
  const summary = (findings: readonly Finding[]): string[] => findings.map((f) => `${f.id} ${f.rule} ${f.status ?? 'active'}`).sort();

  it.each([1, 2, 3])('seed %i: in timestamp order, a few seconds apart, the same findings', async (seed) => {
    const next = seededRandom(seed);
    for (let n = 0; n < 150; n++) {
      const entries = fixtureMix(files, next, `mix${n}`);
      expect(summary(await findingsLiveSoon(entries)), `mix ${n}`).toEqual(summary(await findingsOf(entries, EAGER)));
    }
  });

  // Pub/Sub delivers without order. Rollouts of a service complete in the order of their event times, so the deploy
  // rules judge as in timestamp order. (Service settings and IAM policies are judged as they come: a grant delivered
  // after its re-apply is reported under the re-apply's id.)
  it.each([1, 2, 3])('seed %i: delivered out of order within a minute, the same deploy findings', async (seed) => {
    const next = seededRandom(seed);
    for (let n = 0; n < 150; n++) {
      const entries = fixtureMix(files, next, `mix${n}`);
      const delivered = deliveredOutOfOrder(entries, next);
      const deploys = (findings: readonly Finding[]): string[] => summary(findings.filter((f) => DEPLOY_RULES.has(f.rule)));
      expect(deploys(await findingsLiveSoon(delivered)), `mix ${n}`).toEqual(deploys(await findingsOf(entries, EAGER)));
    }
  });
});

// What a user relies on, whatever order the entries come in: a service (or project) anyone may call has its
// public-invoker-grant finding open, one that is no longer public has none, and the sinks, which see the stream of
// findings and resolutions, hold open exactly what the baseline holds open.
describe('out of order, the public grants left open are the services that are public', () => {
  // The fixture files about who may call a service: IAM policies and the invoker check.
  const files = entriesByFile().filter((file) => /SetIamPolicy|invoker-iam-disabled|invokerIamDisabled/.test(JSON.stringify(file)));
  it.each([
    [1, 60_000, 3_000],
    [2, 86_400_000, 3_600_000], // a day apart in event time, each delivered an hour after the last (past every wait)
    [3, 7 * 86_400_000, 3_600_000],
  ])('seed %i: swapped within %i ms, delivered %i ms apart', async (seed, windowMs, stepMs) => {
    const next = seededRandom(seed);
    let checked = 0;
    for (let n = 0; n < 150; n++) {
      const delivered = deliveredOutOfOrder(fixtureMix(files, next, `open${n}`), next, windowMs);
      const store = new MemoryBaselineStore();
      const stream = await findingsLive(delivered, EAGER, Date.parse('2030-01-01T00:00:00Z'), stepMs, store);
      const openInSinks = new Set<string>();
      for (const f of stream.filter((f) => f.rule === 'public-invoker-grant')) {
        if (f.status === 'resolved') openInSinks.delete(f.id);
        else openInSinks.add(f.id);
      }
      const openInBaselines = new Set<string>();
      for (const [key, baseline] of store.entries()) {
        const open = (baseline.open ?? []).filter((o) => o.rule === 'public-invoker-grant').map((o) => o.finding.id);
        open.forEach((id) => openInBaselines.add(id));
        // Who may call it is known only once a policy or the invoker check was seen.
        if (baseline.publicInvokers.length === 0 && baseline.invokerIamDisabled.length === 0) continue;
        const isPublic = (valueBefore(baseline.publicInvokers, Infinity) ?? []).length > 0 || valueBefore(baseline.invokerIamDisabled, Infinity) === true;
        expect(open.length > 0, `mix ${n}, ${key}: public ${isPublic}, open ${open.join(',')}`).toBe(isPublic);
        checked++;
      }
      expect([...openInSinks].sort(), `mix ${n}`).toEqual([...openInBaselines].sort());
    }
    expect(checked).toBeGreaterThan(50);
  });
});
