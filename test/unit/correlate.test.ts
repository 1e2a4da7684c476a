// Real deploys, end to end: the admin write tied to the system events that name what rolled out.
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import { Pipeline } from '../../functions/pipeline.js';
import type { Finding } from '../../functions/findings/finding.js';
import { rolloutForObservation, rolloutForWrite, openFromObservation, openFromWrite, observe, sameOperation, withObserved } from '../../functions/correlate/rollout.js';
import { parseEntry } from '../../functions/audit/normalize.js';
import type { RevisionObservation } from '../../functions/audit/systemEvent.js';
import type { DeployChange } from '../../functions/model/change.js';
import { corpus, synthetic, variant, type Json } from '../support/entries.js';
import { config, DEPLOY_RULES, findingsLive, findingsOf } from '../support/run.js';
import { runwatch } from '../support/cli.js';

const FIXTURES = new URL('../fixtures/', import.meta.url);
function sequence(name: string): Json[] {
  return JSON.parse(readFileSync(new URL(`synthetic-seq-${name}.json`, FIXTURES), 'utf8')) as Json[];
}

// Windows that every fixture time misses, and a trusted repository the console deploy's image is not in.
const strict = config({
  changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }],
  rules: { 'new-image-repository': { trustedRepositories: ['asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot'] } },
});

function byRule(findings: readonly Finding[]): Record<string, Finding> {
  const out: Record<string, Finding> = {};
  for (const f of findings) {
    expect(out[f.rule], `two ${f.rule} findings`).toBeUndefined();
    out[f.rule] = f;
  }
  return out;
}

describe('a console deploy: image only in the system events', () => {
  it('the finding names the real revision, image and digest, with principal and time from the admin write', async () => {
    const findings = byRule(await findingsOf(sequence('console-deploy'), strict));
    expect(Object.keys(findings).sort()).toEqual(['new-image-repository', 'off-window-deploy']);
    for (const finding of Object.values(findings)) {
      expect(finding).toMatchObject({
        revision: 'cloud-run-slack-bot-00023-kiv',
        principal: 'masatonaka1989@gmail.com',
        eventTime: '2024-05-06T22:58:04.355675Z',
        insertId: 'qd23mgd4u3f',
        evidence: { rollout: 'serving', imageDigest: `asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-source-deploy/cloud-run-slack-bot@sha256:${'5e'.repeat(32)}` },
      });
      expect(finding.unknown).not.toContain('image');
      expect(finding.unknown).not.toContain('revision');
    }
    expect(findings['new-image-repository']?.evidence['repository']).toBe('asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-source-deploy');
  });

  it('system events delivered before the write give the same findings, same ids', async () => {
    const inOrder = await findingsOf(sequence('console-deploy'), strict);
    const outOfOrder = await findingsOf(sequence('console-deploy-out-of-order'), strict);
    expect(outOfOrder.map((f) => f.id).sort()).toEqual(inOrder.map((f) => f.id).sort());
  });

  it('a write whose system events never come is evaluated when the wait runs out, the image reported unknown', async () => {
    const pipeline = new Pipeline({ config: strict, store: new MemoryBaselineStore() });
    const [write] = sequence('console-deploy');
    const writeTime = Date.parse('2024-05-06T22:58:04.355675Z');
    const outcome = await pipeline.handleEntry(write, writeTime);
    expect(outcome).toMatchObject({ status: 'processed', findings: [], note: 'waiting-for-rollout' });
    expect(await pipeline.sweep(writeTime + 599_000)).toEqual([]);
    const findings = await pipeline.sweep(writeTime + 600_000);
    expect(findings.map((f) => f.rule)).toEqual(['off-window-deploy']);
    expect(findings[0]).toMatchObject({ evidence: { rollout: 'unknown' } });
    expect(findings[0]?.unknown).toEqual(expect.arrayContaining(['revision', 'image']));
  });

  it('beyond ROLLOUT_LIMIT deploys waiting on one service, the oldest is judged at once with what is known', async () => {
    const { ROLLOUT_LIMIT } = await import('../../functions/engine.js');
    const { at, withOperationId, withV1Image } = await import('../support/entries.js');
    const store = new MemoryBaselineStore();
    const longWait = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }], correlation: { waitSeconds: 86_400 } });
    const pipeline = new Pipeline({ config: longWait, store });
    const gcloud = synthetic('v1-ReplaceService-gcloud');
    const start = Date.parse('2024-05-06T22:00:00Z');
    const judged: Finding[] = [];
    for (let i = 0; i < ROLLOUT_LIMIT + 6; i++) {
      const time = new Date(start + i * 1_000).toISOString();
      // A different image each time: a new template, so no write joins another's rollout; no system event comes.
      const write = at(withOperationId(withV1Image(gcloud, `gcr.io/acme/app:${i}`), `op-${i}`), time);
      const outcome = await pipeline.handleEntry(write, start + i * 1_000);
      if (outcome.status === 'processed') judged.push(...outcome.findings);
      const [, baseline] = [...store.entries()][0]!;
      expect(baseline.rollouts!.length).toBeLessThanOrEqual(ROLLOUT_LIMIT);
    }
    // The six oldest were judged when the seventh-from-last to the last came, each with its system events unknown.
    const offWindow = judged.filter((f) => f.rule === 'off-window-deploy');
    expect(offWindow.map((f) => f.eventTime)).toEqual(Array.from({ length: 6 }, (_, i) => new Date(start + i * 1_000).toISOString().replace('.000Z', 'Z')));
    for (const f of offWindow) expect(f.evidence).toMatchObject({ rollout: 'unknown' });
    // The rest are judged when their wait runs out, none lost.
    const rest = (await pipeline.flush()).filter((f) => f.rule === 'off-window-deploy');
    expect(rest).toHaveLength(ROLLOUT_LIMIT);
  });

  /** The most labels Cloud Run takes (64 of up to 63 characters, name and value), told apart by `i`. */
  const mostLabels = (prefix: string, i: number): Record<string, string> =>
    Object.fromEntries(Array.from({ length: 64 }, (_, k) => [`${prefix}${String(k).padStart(2, '0')}`.padEnd(63, 'k'), `${i}`.padEnd(63, 'v')]));
  /** A pipeline whose deploys all wait for their system events (a day) and all fall outside the change window. */
  const waitingPipeline = (): { store: MemoryBaselineStore; pipeline: Pipeline } => {
    const store = new MemoryBaselineStore();
    const longWait = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }], correlation: { waitSeconds: 86_400 } });
    return { store, pipeline: new Pipeline({ config: longWait, store }) };
  };
  /** The size of the one baseline `store` holds, in bytes of JSON. */
  const storedBytes = (store: MemoryBaselineStore): number => Buffer.byteLength(JSON.stringify([...store.entries()][0]![1]), 'utf8');

  // Cloud Run takes 64 service and 64 revision labels of up to 63 characters: a waiting write with that many holds about
  // 26 KB, and ROLLOUT_LIMIT of them made a baseline of 1.7 MB, past what Firestore stores in a document (1 MiB).
  it('deploys with the most labels Cloud Run takes, waiting on one service, keep its baseline far under 1 MiB; none is lost', async () => {
    const { at, withOperationId, withV1Image, editV1Services } = await import('../support/entries.js');
    const { store, pipeline } = waitingPipeline();
    const start = Date.parse('2024-05-06T22:00:00Z');
    const judged: Finding[] = [];
    let largest = 0;
    for (let i = 0; i < 64; i++) {
      const write = editV1Services(at(withOperationId(withV1Image(synthetic('v1-ReplaceService-gcloud'), `gcr.io/acme/app:${i}`), `op-${i}`), new Date(start + i * 1_000).toISOString()), (svc) => {
        const metadata = svc['metadata'] as Record<string, unknown>;
        metadata['labels'] = mostLabels('s', i);
        const template = (svc['spec'] as { template: { metadata: Record<string, unknown> } }).template.metadata;
        template['labels'] = { ...(template['labels'] as Record<string, string>), ...mostLabels('t', i) };
      });
      const outcome = await pipeline.handleEntry(write, start + i * 1_000);
      if (outcome.status === 'processed') judged.push(...outcome.findings);
      largest = Math.max(largest, storedBytes(store));
    }
    expect(largest).toBeLessThan(512 * 1024);
    judged.push(...(await pipeline.flush()));
    expect(judged.filter((f) => f.rule === 'off-window-deploy')).toHaveLength(64);
  });

  // A burst's later writes that set the service wait whole in their rollout (Rollout.settingWrites, at most 8): bursts of
  // writes with the most labels, each flipping the ingress, must keep the baseline under Firestore's 1 MiB too.
  it('bursts of writes with the most labels, each setting the ingress, keep the baseline far under 1 MiB; one deploy per burst', async () => {
    const { at, withOperationId, withV1Image, editV1Services } = await import('../support/entries.js');
    const { store, pipeline } = waitingPipeline();
    const start = Date.parse('2024-05-06T22:00:00Z');
    const judged: Finding[] = [];
    let largest = 0;
    for (let burst = 0; burst < 6; burst++) {
      for (let i = 0; i < 12; i++) {
        const t = start + burst * 120_000 + i * 1_000;
        const image = withV1Image(synthetic('v1-ReplaceService-gcloud'), `gcr.io/acme/app:${burst}`, `nonce-${burst}`);
        const write = editV1Services(at(withOperationId(image, `op-${burst}-${i}`), new Date(t).toISOString()), (svc) => {
          const metadata = svc['metadata'] as Record<string, unknown>;
          metadata['labels'] = mostLabels('s', i);
          (metadata['annotations'] as Record<string, string>)['run.googleapis.com/ingress'] = i % 2 === 0 ? 'internal' : 'all';
          delete (metadata['annotations'] as Record<string, string>)['run.googleapis.com/ingress-status'];
        });
        const outcome = await pipeline.handleEntry(write, t);
        if (outcome.status === 'processed') judged.push(...outcome.findings);
        largest = Math.max(largest, storedBytes(store));
      }
    }
    expect(largest).toBeLessThan(512 * 1024);
    judged.push(...(await pipeline.flush()));
    // One revision per burst (its first write's), judged once. Of its 11 later writes the newest 8 are kept (none repeats
    // the one before it): the openings at 5, 7, 9 and 11 s are reported, those at 1 and 3 s are the documented loss.
    expect(judged.filter((f) => f.rule === 'off-window-deploy')).toHaveLength(6);
    const openings = judged.filter((f) => f.rule === 'ingress-opened' && f.status !== 'resolved').map((f) => new Date(f.eventTime).getUTCSeconds());
    expect(openings).toEqual(Array.from({ length: 6 }, () => [5, 7, 9, 11]).flat());
  });

  it('system events whose write never comes still give a finding: principal from the revision creator, the write unknown', async () => {
    const findings = byRule(await findingsOf(sequence('system-events-only'), strict));
    // No admin write: a revision no rollout judged was created all the same, at the time of its first event.
    expect(Object.keys(findings).sort()).toEqual(['new-image-repository', 'off-window-deploy']);
    expect(findings['off-window-deploy']).toMatchObject({ principal: 'masatonaka1989@gmail.com', revision: 'cloud-run-slack-bot-00023-kiv', methodName: '(system event)' });
    expect(findings['new-image-repository']).toMatchObject({ principal: 'masatonaka1989@gmail.com', revision: 'cloud-run-slack-bot-00023-kiv', methodName: '(system event)' });
    expect(findings['new-image-repository']?.unknown).toContain('admin write');
  });

  // The corpus's two real revision events of aegis-ai, each without its write: 00003 names its creator, 00002 was
  // logged without its response (no creator, image or service account). Either way no admin write was seen, and
  // the finding says so among its unknowns, as it says the principal is unknown when no creator is logged.
  it.each([
    ['aegisai__sysevent-Services.ReplaceService__1', 'admin@fjhuerta.altostrat.com', ['admin write']],
    // Logged without its resource and response: no region either (no location label, a `namespaces/P/revisions/R`
    // name). The finding has no `location` and no console link, and says the region is unknown rather than leave
    // the Where of an alert silently short.
    ['aegisai__sysevent-Services.ReplaceService__2', 'unknown', ['image', 'serviceAccount', 'principal', 'admin write', 'location']],
  ])('a revision event alone (%s) lists the admin write as unknown, whoever is known to have deployed', async (name, principal, unknown) => {
    const findings = (await findingsOf([corpus(name)], strict)).filter((f) => f.rule === 'off-window-deploy');
    expect(findings.map((f) => ({ principal: f.principal, methodName: f.methodName, unknown: f.unknown }))).toEqual([{ principal, methodName: '(system event)', unknown }]);
  });

  // The real revision event of a `gcloud run deploy --source` without its write: Cloud Run recorded the client on the
  // revision it created (`run.googleapis.com/client-name: gcloud`, `client-version: 583.0.0`), as it records the
  // creator it takes the principal from. The finding names it as it names a write's client.
  it('a revision event alone gives the deploy its client, as the revision records it (aegisai__sysevent-Services.ReplaceService__1)', async () => {
    const findings = await findingsOf([corpus('aegisai__sysevent-Services.ReplaceService__1')], strict);
    expect(findings.filter((f) => DEPLOY_RULES.has(f.rule)).map((f) => [f.rule, f.evidence['client']])).toEqual([
      ['off-window-deploy', 'gcloud 583.0.0'],
      ['new-image-repository', 'gcloud 583.0.0'],
    ]);
  });

  // The real service event of a console create (archicloud: "Ready condition status changed to True for Service
  // run-cloud.", its response trimmed to a few metadata fields) after that create's write (the corpus's console
  // CreateService moved onto gpc-tp3/run-cloud, 14 s before, by the event's lastModifier): the deploy is serving.
  it.each([
    ['replay', 'replay'],
    ['live', 'live'],
  ])('a service event whose status message says Ready is a serving rollout (%s)', async (_name, path) => {
    const event = corpus('archicloud__sysevent-Services.CreateService__1');
    const write = variant(corpus('kktae-demo__Services.CreateService__1'), (e) => {
      e['timestamp'] = '2025-11-09T19:54:55.000000Z';
      e['insertId'] = 'run-cloud-create';
      e['logName'] = 'projects/gpc-tp3/logs/cloudaudit.googleapis.com%2Factivity';
      e['resource'] = { type: 'cloud_run_revision', labels: { project_id: 'gpc-tp3', service_name: 'run-cloud', location: 'europe-west1', configuration_name: '', revision_name: '' } };
      e.protoPayload['resourceName'] = 'namespaces/gpc-tp3/services/run-cloud';
      (e.protoPayload['authenticationInfo'] as Json)['principalEmail'] = 'mederic.marquie@ynov.com';
    });
    // Live: each entry delivered 15 s after the one before, the event within the write's wait.
    const findings = path === 'replay' ? await findingsOf([write, event], strict) : await findingsLive([write, event], strict, Date.parse('2025-11-09T19:54:41Z'), 15_000);
    const offWindow = findings.filter((f) => f.rule === 'off-window-deploy');
    expect(offWindow.map((f) => ({ service: f.service, principal: f.principal, rollout: f.evidence['rollout'] }))).toEqual([
      { service: 'run-cloud', principal: 'mederic.marquie@ynov.com', rollout: 'serving' },
    ]);
  });

  it('a system event about a rollout that already completed is recognised, not a new deploy', async () => {
    const pipeline = new Pipeline({ config: strict, store: new MemoryBaselineStore() });
    const [write, revisionEvent, serviceEvent] = sequence('console-deploy');
    await pipeline.handleEntry(write, Date.parse('2024-05-06T22:58:04Z'));
    const completed = await pipeline.handleEntry(revisionEvent, Date.parse('2024-05-06T22:58:17Z'));
    expect(completed).toMatchObject({ status: 'processed', note: 'evaluated' });
    expect(await pipeline.handleEntry(serviceEvent, Date.parse('2024-05-06T22:58:19Z'))).toMatchObject({ status: 'processed', findings: [], note: 'late-system-event' });
  });
});

describe('gcloud run deploy --allow-unauthenticated', () => {
  it('two ReplaceService writes and two invoker re-applies give one finding per rule', async () => {
    const findings = await findingsOf(sequence('gcloud-double-write'), strict);
    expect(findings.map((f) => f.rule).sort()).toEqual(['off-window-deploy', 'public-invoker-grant']);
    expect(byRule(findings)['off-window-deploy']).toMatchObject({
      revision: 'cloud-run-slack-bot-00024-gcl',
      eventTime: '2024-05-07T09:10:02.511Z', // the fixture's .511000Z as Cloud Logging writes it
      evidence: { rollout: 'serving' },
      provenance: { commit: '1f2e3d4c5b6a7980a1b2c3d4e5f60718293a4b5c', pipeline: '5c1b2a3d-0000-4000-8000-000000000001' },
    });
  });

  // Pub/Sub delivers without order: a nack and its backoff (a store transaction that lost a race) puts an entry
  // seconds behind the next ones. The live pipeline, its wall clock a few seconds on per entry, must judge the deploy
  // as replay judges the entries in timestamp order.
  const SECONDS = 3_000;
  const LIVE_START = Date.parse('2030-01-01T00:00:00Z');

  it('delivered out of order (revision event, second write, first write): one deploy, its revision known, as in order', async () => {
    const [write1, iam1, write2, iam2, revisionEvent, serviceEvent] = sequence('gcloud-double-write');
    const inOrder = await findingsOf([write1, iam1, write2, iam2, revisionEvent, serviceEvent], strict);
    // The second write carries another operation id than the revision event: it cannot join the event's rollout;
    // the first write can (same operation), and must, rather than join the second write as its repeat.
    const live = await findingsLive([iam1, iam2, revisionEvent, write2, write1, serviceEvent], strict, LIVE_START, SECONDS);
    expect(live.map((f) => f.id).sort()).toEqual(inOrder.map((f) => f.id).sort());
    expect(byRule(live)['off-window-deploy']).toMatchObject({ revision: 'cloud-run-slack-bot-00024-gcl', evidence: { rollout: 'serving' } });
  });

  it('the first write delivered after the deploy was judged from the second write and the events: not a second deploy', async () => {
    const [write1, iam1, write2, iam2, revisionEvent, serviceEvent] = sequence('gcloud-double-write');
    const inOrder = await findingsOf([write1, iam1, write2, iam2, revisionEvent, serviceEvent], strict);
    // The service event carries the second write's operation id: it completes that write's rollout, and the first
    // write (same template, 14 s earlier) comes after it all.
    const live = await findingsLive([write2, iam1, serviceEvent, revisionEvent, iam2, write1], strict, LIVE_START, SECONDS);
    expect(live.map((f) => f.id).sort()).toEqual(inOrder.map((f) => f.id).sort());
  });

  it('the first write delivered last, after the second write and both events completed the deploy: the revision is reported once', async () => {
    const cfg = config({
      changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }],
      rules: { 'unapproved-deployer': { allowedDeployers: ['serviceAccount:*'] } },
    });
    const [write1, iam1, write2, iam2, revisionEvent, serviceEvent] = sequence('gcloud-double-write');
    const inOrder = await findingsOf([write1, iam1, write2, iam2, revisionEvent, serviceEvent], cfg);
    // The revision event (the first write's operation) waits on its own; the service event (the second write's)
    // completes the second write's rollout with the revision's name; the first write then comes last.
    const live = await findingsLive([write2, revisionEvent, serviceEvent, iam2, iam1, write1], cfg, LIVE_START, SECONDS);
    const deploys = (findings: readonly Finding[]): string[] => findings.filter((f) => DEPLOY_RULES.has(f.rule)).map((f) => `${f.id} ${f.rule} ${f.status ?? 'active'}`).sort();
    expect(deploys(inOrder).map((line) => line.split(' ')[1])).toEqual(['off-window-deploy', 'unapproved-deployer']);
    expect(deploys(live)).toEqual(deploys(inOrder));
  });

  it('the second invoker re-apply delivered before the first: the grant is reported once', async () => {
    const [write1, iam1, write2, iam2, revisionEvent, serviceEvent] = sequence('gcloud-double-write');
    const live = await findingsLive([write1, iam2, write2, iam1, revisionEvent, serviceEvent], strict, LIVE_START, SECONDS);
    const grants = live.filter((f) => f.rule === 'public-invoker-grant');
    // The re-apply, judged first, reported the grant; the first grant, late, is the same exposure: not again.
    expect(grants.map((f) => f.eventTime)).toEqual(['2024-05-07T09:10:18Z']);
  });

  it('the invoker binding re-applied on every deploy raises nothing after the first grant', async () => {
    const first = sequence('gcloud-double-write');
    const later = first.map((e) => JSON.parse(JSON.stringify(e).replaceAll('2024-05-07T09:10', '2024-05-08T09:10').replaceAll('"syn-', '"later-').replaceAll('00024-gcl', '00025-abc')) as Json);
    const findings = await findingsOf([...first, ...later], strict);
    expect(findings.filter((f) => f.rule === 'public-invoker-grant')).toHaveLength(1);
  });
});

describe('a v2 write logged as a long-running operation: a first entry (the request) and a completion entry', () => {
  // Both entries carry the same LogEntry `operation.id`; the completion has no request. One deploy, one finding per
  // rule, whatever the order the two arrive in and whether the first was already judged.
  const [first, revisionEvent, last] = sequence('v2-operation') as [Json, Json, Json];
  const cfg = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }], rules: { 'new-image-repository': { trustedRepositories: ['gcr.io/*'] } } });
  const ids = (findings: readonly Finding[]): string[] => findings.map((f) => `${f.rule} ${f.id}`).sort();

  it.each<[string, Json[], Json[]]>([
    ['first, then completion (joins the waiting rollout)', [first, last], [first]],
    ['completion, then first', [last, first], [first]],
    ['first, its system event (judged), then completion', [first, revisionEvent, last], [first, revisionEvent]],
    ['completion, system event, then first', [last, revisionEvent, first], [first, revisionEvent]],
    ['first, completion, then the system event', [first, last, revisionEvent], [first, revisionEvent]],
  ])('in event time: %s', async (_name, entries, reference) => {
    const expected = byRule(await findingsOf(reference, cfg));
    expect(Object.keys(expected).sort()).toEqual(['new-image-repository', 'off-window-deploy']);
    const findings = await findingsOf(entries, cfg);
    byRule(findings); // one per rule
    expect(ids(findings)).toEqual(ids(Object.values(expected)));
  });

  it.each<[string, Json[]]>([
    ['first judged when its wait ran out, then completion', [first, last]],
    ['completion, then first an hour later', [last, first]],
  ])('live: %s', async (_name, entries) => {
    const findings = await findingsLive(entries, cfg);
    byRule(findings);
    expect(ids(findings)).toEqual(ids(await findingsLive([first], cfg)));
  });

  it('the completion joins the first entry\'s rollout as the same write', async () => {
    const pipeline = new Pipeline({ config: cfg, store: new MemoryBaselineStore() });
    expect(await pipeline.handleEntry(first, Date.parse('2024-06-01T10:00:00Z'))).toMatchObject({ status: 'processed', note: 'waiting-for-rollout' });
    expect(await pipeline.handleEntry(last, Date.parse('2024-06-01T10:00:41Z'))).toMatchObject({ status: 'processed', findings: [], note: 'joined-rollout' });
    const findings = byRule(await pipeline.flush());
    expect(findings['off-window-deploy']).toMatchObject({ insertId: 'syn-v2-op-first', eventTime: '2024-06-01T10:00:00.123456Z', revision: 'storefront-00001-abc' });
  });

  it('the system events join the v2 write although their operation-id is not the write\'s operation', async () => {
    const findings = byRule(await findingsOf([first, revisionEvent], cfg));
    for (const finding of Object.values(findings)) {
      expect(finding).toMatchObject({ insertId: 'syn-v2-op-first', principal: 'deployer@acme-ci.iam.gserviceaccount.com', evidence: { rollout: 'serving' } });
      expect(finding.unknown).not.toContain('admin write');
    }
  });

  const write = (entry: Json): DeployChange => {
    const result = parseEntry(entry);
    if (result.kind !== 'change' || result.change.kind !== 'deploy') throw new Error('expected a deploy');
    return result.change;
  };
  const observation = (operationId: string | undefined, atMs: number): RevisionObservation => {
    const result = parseEntry(revisionEvent);
    if (result.kind !== 'observation') throw new Error('expected an observation');
    return { ...result.observation, revision: undefined, timeMs: atMs, operationId };
  };
  const v2 = write(first);
  const v1 = write(corpus('slackbot__Services.ReplaceService__1'));
  // A v1 write's operation id is the one its system events carry: another id rules them out (unchanged). A v2
  // write's is its long-running operation's: it confirms a match (same id, or the same last path segment), never
  // rules one out.
  it.each<[string, DeployChange, string | undefined, number, number]>([
    ['v1 write, events of another operation', v1, 'another-operation', 5_000, -1],
    ['v1 write, events of its operation', v1, '7a9d252c-a432-4fa8-a1ac-1a6fe9e135c0', 5_000, 0],
    ['v2 write, events with another operation-id, close in time', v2, '9b7f3c20-5e61-4d0a-8c3e-2f4a6b8d1e07', 5_000, 0],
    ['v2 write, events naming its operation, after the wait', v2, '0f2c0d8e-1111-4222-8333-944455556666', 900_000, 0],
    ['v2 write, events with another operation-id, after the wait', v2, '9b7f3c20-5e61-4d0a-8c3e-2f4a6b8d1e07', 900_000, -1],
  ])('%s', (_name, change, operationId, afterMs, expected) => {
    // The fixture's revision was created 1.99 s after the write: within CREATED_DECIDES_MS, so they join at once.
    const o = observation(operationId, change.timeMs + afterMs);
    expect(rolloutForObservation([openFromWrite(change, 600_000, change.timeMs)], o, 600_000)).toBe(expected);
    // The same pair the other way round: the events arrived first and opened the rollout, then the write.
    expect(rolloutForWrite([openFromObservation(o, 600_000, o.timeMs)], { ...change, revision: undefined }, 600_000)).toBe(expected);
  });

  // A revision created 7 s after the write: more than CREATED_DECIDES_MS, so a later write of the principal, which it
  // was created sooner after, may still come (createdWellAfter). The two do not join when the second comes, only when
  // the wait runs out (closerMayCome false: Engine, joinedAtLast); a revision named by its operation id joins at once.
  it.each<[string, string | undefined, number]>([
    ['events with another operation-id: not yet', '9b7f3c20-5e61-4d0a-8c3e-2f4a6b8d1e07', -1],
    ['events naming its operation: at once', '0f2c0d8e-1111-4222-8333-944455556666', 0],
  ])('v2 write, its revision created 7 s after it, %s', (_name, operationId, expected) => {
    const o = { ...observation(operationId, v2.timeMs + 20_000), createdMs: v2.timeMs + 7_000 };
    expect(rolloutForObservation([openFromWrite(v2, 600_000, v2.timeMs)], o, 600_000)).toBe(expected);
    expect(rolloutForWrite([openFromObservation(o, 600_000, o.timeMs)], { ...v2, revision: undefined }, 600_000)).toBe(expected);
    expect(rolloutForObservation([openFromWrite(v2, 600_000, v2.timeMs)], o, 600_000, { closerMayCome: false })).toBe(0);
    expect(rolloutForWrite([openFromObservation(o, 600_000, o.timeMs)], { ...v2, revision: undefined }, 600_000, { closerMayCome: false })).toBe(0);
  });

  // Two deploys of one service waiting, 30 s apart, and a revision event that no operation id or revision name ties
  // to either: Cloud Run rolls them out in order, so it is the first deploy's, unless what the event says (the
  // generation, the creator) or what is known already (a revision) points at the other; nearness in time does not.
  describe('a revision event that nothing names: which waiting deploy it belongs to', () => {
    const alice = { id: 'alice@acme.com', delegationChain: [] };
    const bob = { id: 'bob@acme.com', delegationChain: [] };
    const deploy = (atMs: number, principal: typeof alice, generation?: number): DeployChange => ({ ...v2, operationId: undefined, timeMs: atMs, principal, ...(generation !== undefined ? { generation } : {}) });
    const t = v2.timeMs;
    // Without the revision's creation time (older events), as these cases were written: see the creation-time cases below.
    const event = (extra: Partial<RevisionObservation>): RevisionObservation => ({ ...observation(undefined, t + 40_000), creator: undefined, generation: undefined, createdMs: undefined, ...extra });
    const waiting = (first: DeployChange, second: DeployChange) => [openFromWrite(first, 600_000, first.timeMs), openFromWrite(second, 600_000, second.timeMs)];
    it.each<[string, ReturnType<typeof waiting>, RevisionObservation, number]>([
      ['the oldest deploy waiting, not the write nearest in time', waiting(deploy(t, alice), deploy(t + 30_000, bob)), event({}), 0],
      ['the same, the rollouts listed newest first', waiting(deploy(t + 30_000, bob), deploy(t, alice)), event({}), 1],
      ["the deploy whose principal is the revision's creator", waiting(deploy(t, alice), deploy(t + 30_000, bob)), event({ creator: 'BOB@acme.com', timeMs: t + 5_000 }), 1],
      ['the deploy whose generation the revision carries (v1)', waiting(deploy(t, alice, 23), deploy(t + 30_000, alice, 24)), event({ generation: 24, timeMs: t + 5_000 }), 1],
      ['not a deploy whose generation says otherwise, even if older', waiting(deploy(t, alice, 23), deploy(t + 30_000, alice)), event({ generation: 24, timeMs: t + 5_000 }), 1],
      ['a deploy still without events before one whose revision is known', [withObserved(waiting(deploy(t, alice), deploy(t + 30_000, bob))[0]!, observe(undefined, { ...observation(undefined, t + 10_000), revision: 'svc-00001-abc' })), waiting(deploy(t, alice), deploy(t + 30_000, bob))[1]!], event({ timeMs: t + 5_000 }), 1],
      ['none when every deploy is more than the wait before it', waiting(deploy(t - 700_000, alice), deploy(t - 650_000, bob)), event({}), -1],
      // The revision's creation time (createdOutsideWrite): not a write it was created before, nor one long before it.
      ['no deploy when the revision was created long after both', waiting(deploy(t, alice), deploy(t + 30_000, alice)), event({ createdMs: t + 90_140, timeMs: t + 100_000 }), -1],
      ['not the oldest deploy when the revision was created long after it, right after the other', waiting(deploy(t - 60_000, alice), deploy(t + 30_000, alice)), event({ createdMs: t + 30_140 }), 1],
      ['not a deploy the revision was created before, whatever ranks it first', waiting(deploy(t, alice, 23), deploy(t + 30_000, alice)), event({ generation: 24, createdMs: t + 140 }), 0],
      ['the same, the rollouts listed newest first', waiting(deploy(t + 30_000, alice), deploy(t, alice, 23)), event({ generation: 24, createdMs: t + 140 }), 1],
    ])('%s', (_name, rollouts, o, expected) => {
      expect(rolloutForObservation(rollouts, o, 600_000)).toBe(expected);
    });
  });
});

describe('a v2 update mask: what the server did not apply is neither judged nor remembered', () => {
  it('an update masked to the containers raises nothing for the invoker check or the SA in its body; a later real change does', async () => {
    const create = synthetic('v2-CreateService'); // storefront@, invoker check on
    const containersOnly = variant(synthetic('v2-UpdateService'), (e) => void ((e.protoPayload['request'] as Json)['updateMask'] = 'template.containers'));
    const realChange = variant(synthetic('v2-UpdateService'), (e) => {
      e['insertId'] = 'syn-v2-2-real';
      e['timestamp'] = '2024-06-01T12:30:00Z';
      (e.protoPayload['request'] as Json)['update_mask'] = { paths: ['invoker_iam_disabled', 'template.service_account'] };
    });
    const risky = (await findingsOf([create, containersOnly, realChange], config())).filter((f) => f.rule === 'public-invoker-grant' || f.rule === 'service-account-change');
    expect(risky.map((f) => [f.rule, f.eventTime]).sort()).toEqual([
      ['public-invoker-grant', '2024-06-01T12:30:00Z'],
      ['service-account-change', '2024-06-01T12:30:00Z'],
    ]);
    expect(risky.find((f) => f.rule === 'service-account-change')?.evidence).toMatchObject({
      before: 'storefront@acme-prod.iam.gserviceaccount.com',
      after: 'storefront-debug@acme-prod.iam.gserviceaccount.com',
    });
  });
});

describe('a failed rollout', () => {
  it('is still reported, marked as not serving, with the digest of what failed', async () => {
    const cfg = config({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }], rules: { 'new-image-repository': { trustedRepositories: ['gcr.io/*'] } } });
    const findings = byRule(await findingsOf(sequence('failed-rollout'), cfg));
    expect(Object.keys(findings).sort()).toEqual(['new-image-repository', 'off-window-deploy']);
    expect(findings['off-window-deploy']).toMatchObject({
      revision: 'aegis-ai-00003-sp7',
      principal: 'admin@fjhuerta.altostrat.com',
      evidence: { rollout: 'failed (HealthCheckContainerError): not serving', imageDigest: expect.stringMatching(/aegis-ai@sha256:9379ab64/) },
    });
    expect(findings['off-window-deploy']?.summary).toMatch(/not serving/);
  });

  it('a failed revision does not become the baseline: the next good deploy compares with the last serving one', async () => {
    const [write, failedEvent] = sequence('failed-rollout');
    const good = JSON.parse(JSON.stringify(write).replaceAll('2026-09-18T02:24:19.902000Z', '2026-09-18T03:00:00Z').replace('"syn-aegis-1"', '"syn-aegis-2"')) as Json;
    const findings = await findingsOf([write, failedEvent, good], config());
    // The failed revision ran as the default compute SA, as does the next: no service-account change either way.
    expect(findings.filter((f) => f.rule === 'service-account-change')).toEqual([]);
  });

  // The real failed revision event (aegisai__sysevent-Services.ReplaceService__1, a copy) with its write: a serving
  // deploy as APP first, then the failed one as `failedAs`, then a good deploy as `nextAs`. The failed revision never
  // served: its identity change is reported (not serving), but it is no risk in force for a later deploy to resolve.
  const APP = 'app@computeengine-506321.iam.gserviceaccount.com';
  const DEBUG = 'debug@computeengine-506321.iam.gserviceaccount.com';
  const DEFAULT = '607603788049-compute@developer.gserviceaccount.com';
  it.each([
    ['to another identity, then deployed again as it', DEBUG, DEBUG, [['active', 'failed'], ['active', 'unknown']]],
    ['to the default compute SA, then deployed again as it', DEFAULT, DEFAULT, [['active', 'failed'], ['active', 'unknown']]],
    ['to another identity, then back to the first', DEBUG, APP, [['active', 'failed']]],
  ])('a failed rollout that changed the identity %s opens no risk a later deploy resolves', async (_name, failedAs, nextAs, expected) => {
    const [write, failedEvent] = sequence('failed-rollout');
    const deployAs = (timestamp: string, insertId: string, sa: string, nonce: string): Json =>
      variant(JSON.parse(JSON.stringify(write).replaceAll('2026-09-18T02:24:19.902000Z', timestamp).replace('"syn-aegis-1"', `"${insertId}"`)) as Json, (e) => {
        for (const side of [e.protoPayload['request'] as { service: Json }, { service: e.protoPayload['response'] as Json }]) {
          const template = (side.service as { spec: { template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> } } }).spec.template;
          template.spec['serviceAccountName'] = sa;
          template.metadata.labels['client.knative.dev/nonce'] = nonce;
        }
        // Each write its own operation (the failed one keeps the one its system event carries).
        if (insertId !== 'syn-aegis-1') (e.protoPayload['response'] as { metadata: { annotations: Record<string, string> } }).metadata.annotations['run.googleapis.com/operation-id'] = insertId;
      });
    const event = variant(failedEvent!, (e) => void ((e.protoPayload['response'] as { spec: Record<string, unknown> }).spec['serviceAccountName'] = failedAs));
    const entries = [
      deployAs('2026-09-18T01:00:00Z', 'syn-aegis-0', APP, 'nonce00000'),
      deployAs('2026-09-18T02:24:19.902000Z', 'syn-aegis-1', failedAs, 'abcdefghij'),
      event,
      deployAs('2026-09-18T03:00:00Z', 'syn-aegis-2', nextAs, 'nonce00002'),
    ];
    const findings = (await findingsOf(entries, config())).filter((f) => f.rule === 'service-account-change');
    expect(findings.map((f) => [f.status ?? 'active', String(f.evidence['rollout']).split(' ')[0]])).toEqual(expected);
  });
});

describe('Cloud Functions marks on a revision (labels and annotations the deployer can write)', () => {
  it.each([
    ['the goog-managed-by label', (m: { labels: Record<string, string>; annotations: Record<string, string> }) => void (m.labels['goog-managed-by'] = 'cloudfunctions')],
    ['the function-id annotation', (m: { labels: Record<string, string>; annotations: Record<string, string> }) => void (m.annotations['cloudfunctions.googleapis.com/function-id'] = 'f')],
  ])('do not hide the event of a user\'s own deploy: %s', async (_name, mark) => {
    const cfg = config({ rules: { 'new-image-repository': { trustedRepositories: ['gcr.io/*'] } } });
    const [logged, event] = sequence('failed-rollout');
    // Console-shaped: no containers, only the user-image annotation, naming a trusted image; the revision runs another.
    const write = variant(logged!, (e) => {
      const template = (e.protoPayload['request'] as { service: { spec: { template: { metadata: { annotations: Record<string, string> }; spec: Json } } } }).service.spec.template;
      delete template.spec['containers'];
      template.metadata.annotations['client.knative.dev/user-image'] = 'gcr.io/computeengine-506321/aegis-ai:1';
    });
    const marked = variant(event!, (e) => mark((e.protoPayload['response'] as { metadata: { labels: Record<string, string>; annotations: Record<string, string> } }).metadata));
    const plain = (await findingsOf([write, event], cfg)).map((f) => f.rule).sort();
    expect(plain).toContain('new-image-repository');
    expect((await findingsOf([write, marked], cfg)).map((f) => f.rule).sort()).toEqual(plain);
  });
});

describe('a failed rollout that turned the invoker IAM check off', () => {
  /** The failed-rollout write with the check off (a service setting, in force whether or not the revision serves). */
  function publicWrite(write: Json, timestamp: string, insertId: string, disabled: string): Json {
    const text = JSON.stringify(write).replaceAll('2026-09-18T02:24:19.902000Z', timestamp).replace('"syn-aegis-1"', `"${insertId}"`);
    return variant(JSON.parse(text) as Json, (e) => {
      const service = (e.protoPayload['request'] as { service: { metadata: { annotations: Record<string, string> } } }).service;
      service.metadata.annotations['run.googleapis.com/invoker-iam-disabled'] = disabled;
    });
  }

  it('is one finding, without the not-serving note, kept by the next deploy and resolved when the check is back on', async () => {
    const [write, failedEvent] = sequence('failed-rollout');
    const findings = (
      await findingsOf(
        [
          publicWrite(write!, '2026-09-18T02:24:19.902000Z', 'syn-aegis-1', 'true'),
          failedEvent,
          publicWrite(write!, '2026-09-18T03:30:00Z', 'syn-aegis-2', 'true'),
          publicWrite(write!, '2026-09-18T04:30:00Z', 'syn-aegis-3', 'false'),
        ],
        config(),
      )
    ).filter((f) => f.rule === 'public-invoker-grant');
    expect(findings.map((f) => [f.status ?? 'active', f.eventTime])).toEqual([
      ['active', '2026-09-18T02:24:19.902Z'],
      ['resolved', '2026-09-18T02:24:19.902Z'],
    ]);
    expect(findings[0]?.summary).not.toMatch(/not serving/);
  });
});

describe('neighbours that share resource.type cloud_run_revision', () => {
  it('Cloud Functions (gen2) backing services are reported as managed, their system events too', async () => {
    const internal = corpus('mybazaar__InternalServices.ReplaceInternalService__1');
    const pipeline = new Pipeline({ config: config(), store: new MemoryBaselineStore() });
    expect(await pipeline.handleEntry(internal, 0)).toMatchObject({ status: 'skipped', reason: 'managed-by-cloud-functions' });
    const watched = new Pipeline({ config: config({ cloudFunctions: { watch: true } }), store: new MemoryBaselineStore() });
    expect(await watched.handleEntry(internal, 0)).toMatchObject({ status: 'processed' });
  });

  it.each([
    ['a workload log (varlog/system)', 'aegisai__nomethod__1', 'not-audit-log'],
    ['a Cloud Build entry of a source deploy', 'aegisai__CloudBuild.CreateBuild__1', 'not-cloud-run'],
  ])('%s is skipped with a reason', async (_name, fixture, reason) => {
    const pipeline = new Pipeline({ config: config(), store: new MemoryBaselineStore() });
    expect(await pipeline.handleEntry(corpus(fixture), 0)).toMatchObject({ status: 'skipped', reason });
  });

  it('entries reusing an insertId at another time are different entries (idempotency key is logName + timestamp + insertId)', async () => {
    const pipeline = new Pipeline({ config: config(), store: new MemoryBaselineStore() });
    const entry = corpus('panther__Services.SetIamPolicy__1');
    const other = { ...entry, timestamp: '2024-02-03 09:44:25.921' };
    expect(await pipeline.handleEntry(entry, 0)).toMatchObject({ status: 'processed' });
    expect(await pipeline.handleEntry(entry, 0)).toEqual({ status: 'duplicate' });
    expect(await pipeline.handleEntry(other, 0)).toMatchObject({ status: 'processed' });
  });
});

describe('replay over a mixed export (activity + system_event + workload logs)', () => {
  it('gives one finding per real change with the right revision, image and principal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runwatch-mixed-'));
    const activity = join(dir, 'cloudaudit.googleapis.com/activity/2024/05/06');
    const systemEvent = join(dir, 'cloudaudit.googleapis.com/system_event/2024/05/06');
    const stdout = join(dir, 'run.googleapis.com/stdout/2024/05/06');
    for (const d of [activity, systemEvent, stdout]) mkdirSync(d, { recursive: true });
    const [write, revisionEvent, serviceEvent] = sequence('console-deploy');
    writeFileSync(join(activity, '22:00:00_22:59:59_S0.json'), `${JSON.stringify(write)}\n`);
    writeFileSync(join(systemEvent, '22:00:00_22:59:59_S0.json'), `${JSON.stringify(revisionEvent)}\n${JSON.stringify(serviceEvent)}\n`);
    writeFileSync(join(stdout, '22:00:00_22:59:59_S0.json'), `${JSON.stringify({ ...corpus('aegisai__nomethod__1'), timestamp: '2024-05-06T22:58:30Z' })}\n`);
    writeFileSync(join(dir, 'config.yaml'), JSON.stringify({ changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }], rules: { 'new-image-repository': { trustedRepositories: ['gcr.io/*'] } } }));
    const run = await runwatch(['replay', '--config', join(dir, 'config.yaml'), '--format', 'ndjson', dir]);
    expect(run.code).toBe(0);
    const findings = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Finding);
    expect(findings.map((f) => [f.rule, f.revision, f.principal]).sort()).toEqual([
      ['new-image-repository', 'cloud-run-slack-bot-00023-kiv', 'masatonaka1989@gmail.com'],
      ['off-window-deploy', 'cloud-run-slack-bot-00023-kiv', 'masatonaka1989@gmail.com'],
    ]);
    expect(findings.find((f) => f.rule === 'new-image-repository')?.evidence['image']).toBe('asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-source-deploy/cloud-run-slack-bot:latest');
    expect(run.stderr).toMatch(/not-audit-log: 1/);
  });
});

describe('idempotency across instances', () => {
  it('an entry the baseline already applied changes nothing and raises nothing, even in a fresh pipeline', async () => {
    const store = new MemoryBaselineStore();
    const entries = sequence('gcloud-double-write');
    const first = new Pipeline({ config: strict, store });
    const raised: Finding[] = [];
    for (const entry of entries) {
      const outcome = await first.handleEntry(entry, Date.parse(String(entry['timestamp'])));
      if (outcome.status === 'processed') raised.push(...outcome.findings);
    }
    expect(raised.length).toBeGreaterThan(0);
    const second = new Pipeline({ config: strict, store }); // another instance: its own memory is empty
    for (const entry of entries) {
      expect(await second.handleEntry(entry, Date.parse(String(entry['timestamp'])) + 1000)).toEqual({ status: 'duplicate' });
    }
    expect(await second.flush()).toEqual([]);
  });
});

describe('sameOperation', () => {
  const v2 = 'projects/acme-prod/locations/europe-west1/operations/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
  it.each([
    ['the same id', v2, v2, true],
    ['a v2 operation name and its last segment', v2, '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', true],
    ['the last segment and a v2 operation name', '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', v2, true],
    ['two ids of the same length that differ', '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f1', false],
    ['last segments of different lengths', v2, 'operations/e1f0', false],
    ['names that end in a slash', 'operations/', 'other/', false],
    ['an unknown id', v2, undefined, false],
  ])('%s', (_name, a, b, expected) => {
    expect(sameOperation(a, b)).toBe(expected);
  });
});
