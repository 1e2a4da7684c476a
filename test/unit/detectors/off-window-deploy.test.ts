import { describe, expect, it } from 'vitest';
import { at, corpus, createdAfter, createdAt, creatorIs, deleteServiceAt, renamed, SEQ_V2_EVENT_OPERATION, SEQ_V2_REVISION, STOREFRONT_AS_SLACK_BOT, synthetic, variant, withV1Image, type Json } from '../../support/entries.js';
import { config, findingsLive, findingsOf } from '../../support/run.js';

// Europe/Berlin: CET (UTC+1) in winter, CEST (UTC+2) from the last Sunday of March to the last Sunday of October.
const berlin = config({
  timezone: 'Europe/Berlin',
  changeWindows: [
    { name: 'office hours', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' },
    { name: 'saturday night', days: ['sat'], start: '22:00', end: '02:00' },
  ],
  freezes: [{ start: '2024-12-20T12:00:00+01:00', end: '2024-12-20T14:00:00+01:00', reason: 'year-end freeze' }],
});

const create = corpus('kktae-demo__Services.CreateService__1'); // a console CreateService (creates a revision)

async function offWindow(timestamp: string, cfg = berlin) {
  return (await findingsOf([at(create, timestamp)], cfg)).filter((f) => f.rule === 'off-window-deploy');
}

describe('off-window-deploy', () => {
  it.each([
    ['fires: saturday noon', '2024-06-08T10:00:00Z', 'MEDIUM'],
    ['fires: a minute before the window opens', '2024-06-10T06:59:00Z', 'MEDIUM'],
    ['ignores: the window start is inside ([start', '2024-06-10T07:00:00Z', null],
    ['ignores: the last second of the window', '2024-06-10T14:59:59.999Z', null],
    ['fires: the window end is outside (end)', '2024-06-10T15:00:00Z', 'MEDIUM'],
    // DST: 07:30Z is 08:30 CET in March before the switch (outside) and 09:30 CEST after it (inside).
    ['fires: 07:30Z on the monday before spring-forward (08:30 CET)', '2024-03-25T07:30:00Z', 'MEDIUM'],
    ['ignores: 07:30Z on the monday after spring-forward (09:30 CEST)', '2024-04-01T07:30:00Z', null],
    ['ignores: 07:30Z on the monday before fall-back (09:30 CEST)', '2024-10-21T07:30:00Z', null],
    ['fires: 07:30Z on the monday after fall-back (08:30 CET)', '2024-10-28T07:30:00Z', 'MEDIUM'],
    // Overnight window saturday 22:00-02:00: the part after midnight belongs to sunday.
    ['ignores: sunday 01:00 inside the overnight window', '2024-06-08T23:00:00Z', null],
    ['fires: sunday 02:00 after the overnight window', '2024-06-09T00:00:00Z', 'MEDIUM'],
    ['fires: friday 22:30 (the overnight window is saturday only)', '2024-06-07T20:30:00Z', 'MEDIUM'],
    // Freeze [12:00, 14:00) CET on a friday, inside office hours: the freeze wins.
    ['fires HIGH: the freeze start is inside', '2024-12-20T11:00:00Z', 'HIGH'],
    ['fires HIGH: the last second of the freeze', '2024-12-20T12:59:59Z', 'HIGH'],
    ['ignores: the freeze end is outside (back in the window)', '2024-12-20T13:00:00Z', null],
  ])('%s', async (_name, timestamp, severity) => {
    const findings = await offWindow(timestamp);
    expect(findings.map((f) => f.severity)).toEqual(severity ? [severity] : []);
  });

  it('names the windows missed and the local time in the evidence', async () => {
    const [finding] = await offWindow('2024-06-08T10:00:00Z');
    expect(finding?.evidence).toMatchObject({
      localTime: '2024-06-08T12:00:00+02:00',
      timezone: 'Europe/Berlin',
      day: 'sat',
      windows: ['office hours (mon,tue,wed,thu,fri 09:00-17:00)', 'saturday night (sat 22:00-02:00)'],
    });
    expect(finding).toMatchObject({ principal: 'kktae@mz.co.kr', revision: 'hello-00001-wol', service: 'hello', project: 'kktae-demo' });
    expect(finding?.unknown).toContain('image');
  });

  it('a freeze given as dates alone runs from midnight to midnight in the configured zone', async () => {
    const byDate = config({ timezone: 'Europe/Berlin', freezes: [{ start: '2024-12-23', end: '2024-12-27', reason: 'christmas' }] });
    // Midnight in Berlin is 23:00Z the day before (CET).
    expect((await offWindow('2024-12-22T22:59:59Z', byDate)).map((f) => f.severity)).toEqual([]);
    expect((await offWindow('2024-12-22T23:00:00Z', byDate)).map((f) => f.severity)).toEqual(['HIGH']);
    expect((await offWindow('2024-12-26T22:59:59Z', byDate)).map((f) => f.severity)).toEqual(['HIGH']);
    expect((await offWindow('2024-12-26T23:00:00Z', byDate)).map((f) => f.severity)).toEqual([]);
  });

  it('names the freeze in the evidence', async () => {
    const [finding] = await offWindow('2024-12-20T11:30:00Z');
    expect(finding?.evidence).toMatchObject({ freeze: 'year-end freeze', freezeStart: '2024-12-20T11:00:00.000Z', freezeEnd: '2024-12-20T13:00:00.000Z' });
  });

  it.each([
    ['LOW', ['LOW', 'HIGH']],
    ['CRITICAL', ['CRITICAL', 'CRITICAL']], // a deploy during a freeze never ranks below an ordinary one
  ])('a configured severity %s replaces the default one; a deploy during a freeze keeps its own unless lower', async (severity, expected) => {
    const cfg = config({ ...berlin, rules: { 'off-window-deploy': { severity } } });
    const [ordinary] = await offWindow('2024-12-21T10:00:00Z', cfg); // a Saturday morning
    const [frozen] = await offWindow('2024-12-20T11:00:00Z', cfg);
    expect([ordinary?.severity, frozen?.severity]).toEqual(expected);
  });

  it('a freeze without an offset is read in the configured zone', async () => {
    const cfg = config({ timezone: 'America/New_York', freezes: [{ start: '2024-07-04T00:00', end: '2024-07-05T00:00' }] });
    expect(await offWindow('2024-07-04T03:59:00Z', cfg)).toHaveLength(0); // 23:59 on the 3rd in New York
    expect(await offWindow('2024-07-04T04:00:00Z', cfg)).toHaveLength(1);
  });

  it.each([
    ['a break-glass principal', { principal: 'kktae@*' }],
    ['a project glob', { project: 'kktae-*' }],
    ['a PROJECT/SERVICE glob', { service: '*/hello' }],
    // The same principal written as an IAM member, or in other letters: emails compare without case.
    ['a principal with its IAM member prefix', { principal: 'user:kktae@*' }],
    ['a principal in capitals', { principal: 'KKTAE@*' }],
  ])('ignores: exempted by %s', async (_name, exception) => {
    const cfg = config({ timezone: 'UTC', changeWindows: [{ days: ['mon'], start: '09:00', end: '10:00' }], rules: { 'off-window-deploy': { exceptions: [exception] } } });
    expect(await offWindow('2024-06-08T10:00:00Z', cfg)).toHaveLength(0);
  });

  // gcloud --impersonate-service-account: the audit entry's principal is the service account; the person who acted
  // through it is in serviceAccountDelegationInfo (the shape unapproved-deployer's tests use). An exception for the
  // pipeline's account must not exempt every person allowed to impersonate it.
  describe('an exception for a pipeline service account', () => {
    const CI = 'deployer@acme-ci.iam.gserviceaccount.com';
    const GITHUB = 'principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/subject/repo:acme/shop:ref:refs/heads/main';
    const WORKFORCE = 'principal://iam.googleapis.com/locations/global/workforcePools/acme-sso/subject/mallory@acme.com';
    const asCi = (delegation: Json | undefined): Json =>
      variant(at(create, '2024-06-08T10:00:00Z'), (e) => {
        e.protoPayload['authenticationInfo'] = { principalEmail: CI, principalSubject: `serviceAccount:${CI}`, ...(delegation ? { serviceAccountDelegationInfo: [delegation] } : {}) };
      });
    const exempting = (principal: string) => config({ timezone: 'UTC', changeWindows: [{ days: ['mon'], start: '09:00', end: '10:00' }], rules: { 'off-window-deploy': { exceptions: [{ principal }] } } });

    it.each([
      ['the service account itself: exempt', undefined, 0],
      ['GitHub Actions acting as it through workload identity federation: exempt', { principalSubject: GITHUB }, 0],
      ['a third party acting as it, named by its subject claim: exempt', { thirdPartyPrincipal: { thirdPartyClaims: { sub: 'repo:acme/shop:ref:refs/heads/main' } } }, 0],
      ['a Google service agent acting as it: exempt', { firstPartyPrincipal: { principalEmail: 'service-123456789012@gcp-sa-cloudbuild.iam.gserviceaccount.com' } }, 0],
      ['a person impersonating it: reported (the person deployed)', { firstPartyPrincipal: { principalEmail: 'mallory@acme.com' } }, 1],
      ['a person signed in through a workforce pool impersonating it: reported', { principalSubject: WORKFORCE }, 1],
      // The delegation info has Google's principal_subject beside the oneof first/third party principal (audit_log.proto):
      // the IdP's own `sub` claim (an opaque user id at most IdPs) must not stand in for the workforce principal.
      ['the same person, logged with the IdP claims beside the principal subject: reported', { principalSubject: WORKFORCE, thirdPartyPrincipal: { thirdPartyClaims: { sub: '00u1a2b3c4D5e6F7g8h9' } } }, 1],
    ])('%s', async (_name, delegation, count) => {
      expect((await findingsOf([asCi(delegation)], exempting(CI))).filter((f) => f.rule === 'off-window-deploy')).toHaveLength(count);
    });

    it('exempts the person too when the exception names both', async () => {
      const cfg = exempting(`{${CI},mallory@acme.com}`);
      expect((await findingsOf([asCi({ firstPartyPrincipal: { principalEmail: 'mallory@acme.com' } })], cfg)).filter((f) => f.rule === 'off-window-deploy')).toHaveLength(0);
    });
  });

  // The console names the revision (hello-00001-wol), and a name is free again once the service (or that revision) is
  // deleted. Each sink takes a finding id once: a later off-window deploy under a name a reported one used must get
  // its own id, or every sink drops it as a duplicate of the old alert.
  it('an off-window deploy under a revision name an earlier reported one used gets its own id', async () => {
    const hello = { project: 'kktae-demo', location: 'us-central1', service: 'hello' };
    const findings = (await findingsOf([at(create, '2024-06-08T10:00:00Z'), deleteServiceAt('2024-06-08T11:00:00Z', hello), at(create, '2024-06-15T10:00:00Z')], berlin)).filter(
      (f) => f.rule === 'off-window-deploy',
    );
    expect(findings.map((f) => f.eventTime)).toEqual(['2024-06-08T10:00:00Z', '2024-06-15T10:00:00Z']);
    expect(new Set(findings.map((f) => f.id)).size).toBe(2);
  });

  it('an exception matches only when all its fields match', async () => {
    const cfg = config({
      timezone: 'UTC',
      changeWindows: [{ days: ['mon'], start: '09:00', end: '10:00' }],
      rules: { 'off-window-deploy': { exceptions: [{ principal: 'kktae@*', service: 'other/*' }] } },
    });
    expect(await offWindow('2024-06-08T10:00:00Z', cfg)).toHaveLength(1);
  });

  it('ignores: no windows and no freezes configured', async () => {
    expect(await offWindow('2024-06-08T10:00:00Z', config())).toHaveLength(0);
  });

  it('ignores: the rule disabled', async () => {
    const cfg = config({ changeWindows: [{ days: ['mon'], start: '09:00', end: '10:00' }], rules: { 'off-window-deploy': { enabled: false } } });
    expect(await offWindow('2024-06-08T10:00:00Z', cfg)).toHaveLength(0);
  });

  it('ignores: failed deploys, IAM changes and traffic-only updates at any hour', async () => {
    const cfg = config({ changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }] });
    const entries = [
      corpus('slackbot__Services.ReplaceService__2'), // failed (ABORTED)
      corpus('panther__Services.CreateService__2'), // failed (ALREADY_EXISTS)
      corpus('panther__Services.SetIamPolicy__1'),
      synthetic('v2-UpdateService-traffic-only'),
    ];
    expect((await findingsOf(entries, cfg)).filter((f) => f.rule === 'off-window-deploy')).toEqual([]);
  });

  it('a replace with the same template as before is not a new revision', async () => {
    const cfg = config({ changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }] });
    const deploy = withV1Image(corpus('slackbot__Services.ReplaceService__1'), 'gcr.io/acme/bot:1');
    const findings = await findingsOf([at(deploy, '2024-06-08T10:00:00Z'), at(deploy, '2024-06-08T10:05:00Z')], cfg);
    expect(findings.filter((f) => f.rule === 'off-window-deploy')).toHaveLength(1);
  });

  it('the same entry delivered twice gives one finding', async () => {
    const entry = at(create, '2024-06-08T10:00:00Z');
    const findings = await findingsOf([entry, structuredClone(entry)], berlin);
    expect(findings.filter((f) => f.rule === 'off-window-deploy')).toHaveLength(1);
  });

  it('v2 creates count as deploys', async () => {
    const cfg = config({ changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }] });
    const [finding] = (await findingsOf([synthetic('v2-CreateService')], cfg)).filter((f) => f.rule === 'off-window-deploy');
    expect(finding).toMatchObject({ revision: 'storefront-00001-abc', principal: 'deployer@acme-ci.iam.gserviceaccount.com' });
    expect(finding?.provenance).toMatchObject({ commit: '9f8e7d6c5b4a39281706f5e4d3c2b1a098765432', pipeline: 'b-1234' });
  });

  // A v2 create at 10:00, and updates of it whose body sets another image (and, with `scaling`, the scaling too).
  const v2Create = variant(synthetic('v2-CreateService'), (e) => {
    e['timestamp'] = '2024-06-01T10:00:00Z';
    delete (e.protoPayload['request'] as { service: { template: Record<string, unknown> } }).service.template['revision'];
  });
  const v2Update = (timestamp: string, updateMask?: string, scaling?: unknown): unknown =>
    variant(v2Create, (e) => {
      e['timestamp'] = timestamp;
      e['insertId'] = `u-${timestamp}`;
      e.protoPayload['methodName'] = 'google.cloud.run.v2.Services.UpdateService';
      const request = e.protoPayload['request'] as Record<string, unknown> & { service: { template: { containers: { image: string }[]; scaling?: unknown } } };
      request.service.template.containers[0]!.image = `europe-west1-docker.pkg.dev/acme-prod/web/storefront@sha256:${'b'.repeat(64)}`;
      if (scaling) request.service.template.scaling = scaling;
      request['@type'] = 'type.googleapis.com/google.cloud.run.v2.UpdateServiceRequest';
      delete request['parent'];
      delete request['serviceId'];
      if (updateMask) request['updateMask'] = updateMask;
    });
  const strict = config({ timezone: 'UTC', changeWindows: [{ days: ['sun'], start: '03:00', end: '03:01' }] });

  // A v2 update masked to the containers is a new revision; a later full write of the same template is not.
  it.each([
    ['unmasked, then the same template unmasked', undefined],
    ['masked to the containers, then the same template unmasked', 'template.containers'],
  ])('one finding per new revision: %s', async (_name, mask) => {
    const findings = await findingsLive([v2Create, v2Update('2024-06-01T11:00:00Z', mask), v2Update('2024-06-01T12:00:00Z')], strict);
    expect(findings.filter((f) => f.rule === 'off-window-deploy').map((f) => f.eventTime)).toEqual(['2024-06-01T10:00:00Z', '2024-06-01T11:00:00Z']);
  });

  // A masked write applies only what its mask names: the rest of the template it logs is not what the service runs.
  // A second masked write of the same body that sets another part (the containers after the scaling) makes a revision
  // of its own; one that sets no more than the write before (a retry) makes none. A full write of that body makes one
  // when the body differs from what is in force: after the scaling alone, its image was never applied (a masked write
  // of the scaling, then the body whole, was a way to deploy an image with no revision seen); after the containers
  // alone, its scaling (with no other difference it makes none: the test above). Re-applying a part in force after
  // another part changes nothing.
  it.each([
    ['the scaling, then the containers of the same body', ['template.scaling', 'template.containers'], ['10:00', '11:00', '12:00']],
    ['the containers twice (a retry)', ['template.containers', 'template.containers'], ['10:00', '11:00']],
    ['the containers and scaling, then the containers alone', ['template.containers,template.scaling', 'template.containers'], ['10:00', '11:00']],
    ['the scaling, then the same body unmasked', ['template.scaling', undefined], ['10:00', '11:00', '12:00']],
    ['the containers, then the same body unmasked', ['template.containers', undefined], ['10:00', '11:00', '12:00']],
    ['the containers, the scaling, then the containers again', ['template.containers', 'template.scaling', 'template.containers'], ['10:00', '11:00', '12:00']],
  ])('v2 masked writes of one body: %s', async (_name, masks, times) => {
    const scaling = { maxInstanceCount: 3 };
    const entries = [v2Create, ...masks.map((mask, i) => v2Update(`2024-06-01T1${i + 1}:00:00Z`, mask, scaling))];
    const expected = times.map((time) => `2024-06-01T${time}:00Z`);
    expect((await findingsLive(entries, strict)).filter((f) => f.rule === 'off-window-deploy').map((f) => f.eventTime)).toEqual(expected);
    expect((await findingsOf(entries, strict)).filter((f) => f.rule === 'off-window-deploy').map((f) => f.eventTime)).toEqual(expected);
  });
});

describe('off-window-deploy on Cloud Functions (2nd gen) backing services, when cloudFunctions.watch is on', () => {
  // The real ReplaceInternalService of a function redeploy (02:20Z on a wednesday): the gcf-admin-robot's write logs
  // no request or response, so whether it changed the template is unknown, not "no". The revision it rolled out,
  // loginwithpin-00006-hiz (named by the function's UpdateFunction), shaped as the real revision event of the corpus.
  const write = corpus('mybazaar__InternalServices.ReplaceInternalService__1');
  const revisionEvent = variant(
    JSON.parse(JSON.stringify(corpus('aegisai__sysevent-Services.ReplaceService__1')).replaceAll('computeengine-506321', 'mybazaar-c4881').replaceAll('aegis-ai-00003-sp7', 'loginwithpin-00006-hiz').replaceAll('aegis-ai', 'loginwithpin')) as Json,
    (e) => {
      e['timestamp'] = '2025-10-15T02:21:20Z';
      e['severity'] = 'INFO';
      delete e.protoPayload['status'];
      const response = e.protoPayload['response'] as { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; status: { conditions: Record<string, string>[] } };
      response.metadata.labels['goog-managed-by'] = 'cloudfunctions';
      // Rolled out by the service agent's write: Cloud Run records it as the revision's creator.
      response.metadata.annotations['serving.knative.dev/creator'] = 'service-1069326034581@gcf-admin-robot.iam.gserviceaccount.com';
      response.status.conditions = [{ type: 'Ready', status: 'True' }];
    },
  );
  const robot = 'service-1069326034581@gcf-admin-robot.iam.gserviceaccount.com';
  const utcOffice = { timezone: 'UTC', changeWindows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }] };
  it.each([
    ['the write alone: a deploy, its revision unknown', [write], true, [{ principal: robot, evidence: { rollout: 'unknown' } }]],
    ['the write and its revision event: one deploy, the revision named', [write, revisionEvent], true, [{ principal: robot, revision: 'loginwithpin-00006-hiz', evidence: { rollout: 'serving' } }]],
    ['not watched: skipped as managed by Cloud Functions', [write, revisionEvent], false, []],
  ])('%s', async (_name, entries, watch, expected) => {
    const findings = await findingsOf(entries, config({ ...utcOffice, cloudFunctions: { watch } }));
    const offWindow = findings.filter((f) => f.rule === 'off-window-deploy');
    expect(offWindow).toHaveLength(expected.length);
    expected.forEach((e, i) => expect(offWindow[i]).toMatchObject({ eventTime: '2025-10-15T02:20:35.444251Z', ...e }));
  });
});

describe('off-window-deploy on console deploys, whose writes log the template without its containers', () => {
  // Two console deploys of one service log the very same template (slackbot__Services.ReplaceService__1 and __2 of
  // the corpus do): only the revision events tell the second apart. The first deploy is on a monday inside the
  // window; the second, the same sequence five days later with its own revision, operation and image tag, on a
  // saturday night.
  const utcOffice = config({ timezone: 'UTC', changeWindows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }] });
  const sequence = synthetic('seq-console-deploy') as unknown as Json[];
  const moved = (from: string, to: string, renames: readonly (readonly [string, string])[] = []): Json[] => {
    let text = JSON.stringify(sequence).replaceAll(from, to);
    for (const [a, b] of renames) text = text.replaceAll(a, b);
    return JSON.parse(text) as Json[];
  };
  const first = moved('2024-05-06T22:', '2024-05-06T10:');
  const [write, revisionEvent, serviceEvent] = moved('2024-05-06T22:', '2024-05-11T22:', [
    ['00023-kiv', '00024-abc'],
    ['7a9d252c-a432-4fa8-a1ac-1a6fe9e135c0', '7a9d252c-a432-4fa8-a1ac-1a6fe9e13500'],
    ['"serving.knative.dev/configurationGeneration": "23"', '"serving.knative.dev/configurationGeneration": "24"'],
    ['cloud-run-slack-bot:latest', 'cloud-run-slack-bot:v2'],
  ]) as [Json, Json, Json];

  it('the two writes log one template', () => {
    const template = (e: Json): unknown => ((e['protoPayload'] as Json)['request'] as { service: { spec: { template: unknown } } }).service.spec.template;
    expect(template(write)).toEqual(template(first[0]!));
    expect(JSON.stringify(template(write))).not.toContain('containers');
  });

  it.each([
    ['in time order (replay)', 'replay', [write, revisionEvent, serviceEvent]],
    ['in time order (live)', 'live', [write, revisionEvent, serviceEvent]],
    ['the revision events before the write (live)', 'live', [revisionEvent, serviceEvent, write]],
  ])('fires for the second deploy, outside the window: %s', async (_name, path, second) => {
    const entries = [...first, ...second];
    const findings = path === 'replay' ? await findingsOf(entries, utcOffice) : await findingsLive(entries, utcOffice);
    const offWindow = findings.filter((f) => f.rule === 'off-window-deploy');
    expect(offWindow).toHaveLength(1);
    expect(offWindow[0]).toMatchObject({ revision: 'cloud-run-slack-bot-00024-abc', principal: 'masatonaka1989@gmail.com' });
    expect(offWindow[0]!.eventTime.startsWith('2024-05-11T22:58:')).toBe(true);
  });

  it.each([
    ['the write alone (a traffic or settings edit: no revision events follow)', [write]],
    ['the write and a service-level event (service events also follow traffic changes)', [write, serviceEvent]],
  ])('ignores a console write with the template before it and no revision of its own: %s', async (_name, second) => {
    for (const findings of [await findingsOf([...first, ...second], utcOffice), await findingsLive([...first, ...second], utcOffice)]) {
      expect(findings.filter((f) => f.rule === 'off-window-deploy')).toEqual([]);
    }
  });

  it('fires once when a write comes after its own revision was judged from its events (later than the wait)', async () => {
    // The write changes the image, so its template is new: without the operation id it would be a second deploy.
    const changed = withV1Image(write, 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-source-deploy/cloud-run-slack-bot:v2');
    const findings = await findingsLive([...first, revisionEvent, serviceEvent, changed], utcOffice);
    expect(findings.filter((f) => f.rule === 'off-window-deploy').map((f) => f.revision)).toEqual(['cloud-run-slack-bot-00024-abc']);
  });
});

describe('off-window-deploy on a write through the other API version than the deploys before it', () => {
  // gcloud deploys through v1 (here the console sequence of the corpus's slackbot service, inside the window); a
  // Terraform apply then updates the service through v2 on a saturday night. The two log their templates in
  // different shapes, so whether the v2 write changed the template is unknown: only a revision event says so.
  const utcOffice = config({ timezone: 'UTC', changeWindows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }] });
  const sequence = JSON.stringify(synthetic('seq-console-deploy'));
  const v1Deploy = JSON.parse(sequence.replaceAll('2024-05-06T22:', '2024-05-06T10:')) as Json[];
  const [, laterRevisionEvent, laterServiceEvent] = JSON.parse(
    sequence
      .replaceAll('2024-05-06T22:58:', '2024-05-11T22:59:')
      .replaceAll('00023-kiv', '00024-abc')
      .replaceAll('7a9d252c-a432-4fa8-a1ac-1a6fe9e135c0', '7a9d252c-a432-4fa8-a1ac-1a6fe9e13500')
      .replaceAll('"serving.knative.dev/configurationGeneration": "23"', '"serving.knative.dev/configurationGeneration": "24"'),
  ) as [Json, Json, Json];
  const v2Update = JSON.parse(
    JSON.stringify(at(synthetic('v2-UpdateService'), '2024-05-11T22:58:50Z'))
      .replaceAll('"acme-prod"', '"test-project-1234"')
      .replaceAll('projects/acme-prod/', 'projects/test-project-1234/')
      .replaceAll('europe-west1', 'asia-northeast1')
      .replaceAll('services/storefront', 'services/cloud-run-slack-bot')
      .replaceAll('"storefront"', '"cloud-run-slack-bot"'),
  ) as Json;
  // Live: each entry a second after the one before, so the events come within the wait.
  const offWindow = async (entries: Json[], live: boolean) =>
    (live ? await findingsLive(entries, utcOffice, Date.parse('2030-01-01T00:00:00Z'), 1_000) : await findingsOf(entries, utcOffice)).filter((f) => f.rule === 'off-window-deploy');

  // An entry of the service 20 minutes later: the v2 write's wait (10 minutes) has run out by then, in event time
  // (replay) and, 700 s a step, in arrival time (live).
  const muchLater = at(laterServiceEvent, '2024-05-11T23:20:00Z');
  const waitedOut = async (entries: Json[], live: boolean) =>
    (live ? await findingsLive(entries, utcOffice, Date.parse('2030-01-01T00:00:00Z'), 700_000) : await findingsOf(entries, utcOffice)).filter((f) => f.rule === 'off-window-deploy');

  it.each([
    ['no system event follows', [v2Update, muchLater]],
    ['only a service event follows (they also follow label and traffic edits)', [v2Update, laterServiceEvent, muchLater]],
  ])('ignores it where the service events are known to reach runwatch and %s within the wait', async (_name, later) => {
    for (const live of [false, true]) expect(await waitedOut([...v1Deploy, ...later], live)).toEqual([]);
  });

  // The revision event created by the v2 write's own principal, as it would be (Cloud Run records the caller as its
  // creator; the fixture's is the console user's), 140 ms after that write, as in real entries.
  const byDeployer = createdAt(
    JSON.parse(JSON.stringify(laterRevisionEvent).replaceAll('masatonaka1989@gmail.com', 'deployer@acme-ci.iam.gserviceaccount.com')) as Json,
    createdAfter('2024-05-11T22:58:50Z'),
  );

  it('a revision event that comes after it was judged as no revision is a deploy all the same (live)', async () => {
    const found = await waitedOut([...v1Deploy, v2Update, muchLater, byDeployer], true);
    expect(found.map((f) => [f.eventTime, f.revision])).toEqual([['2024-05-11T22:59:17.120455Z', 'cloud-run-slack-bot-00024-abc']]);
  });

  it.each([
    ['the input ends before its wait ran out (replay)', [v2Update], false],
    ['the service is deleted seconds later, before a revision event could come', [v2Update, deleteServiceAt('2024-05-11T22:59:00Z', { project: 'test-project-1234', location: 'asia-northeast1', service: 'cloud-run-slack-bot' })], false],
    ['the same, live', [v2Update, deleteServiceAt('2024-05-11T22:59:00Z', { project: 'test-project-1234', location: 'asia-northeast1', service: 'cloud-run-slack-bot' })], true],
  ])('still counts it when it is judged before its wait ran out: %s', async (_name, later, live) => {
    expect((await offWindow([...v1Deploy, ...later], live)).map((f) => f.eventTime)).toEqual(['2024-05-11T22:58:50Z']);
  });

  it.each([
    ['in time order', [v2Update, byDeployer, laterServiceEvent], false],
    ['live, the service event first (it must not complete the deploy without the revision event)', [v2Update, laterServiceEvent, byDeployer], true],
  ])('fires when a revision event follows it: %s', async (_name, later, live) => {
    const findings = await offWindow([...v1Deploy, ...later], live);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ eventTime: '2024-05-11T22:58:50Z', principal: 'deployer@acme-ci.iam.gserviceaccount.com', revision: 'cloud-run-slack-bot-00024-abc' });
  });

  it.each([
    ['in time order', [v2Update, laterRevisionEvent, laterServiceEvent], false],
    ['live, the service event first', [v2Update, laterServiceEvent, laterRevisionEvent], true],
  ])("a revision event another principal created is not its revision, but that principal's deploy: %s", async (_name, later, live) => {
    const findings = await offWindow([...v1Deploy, ...later], live);
    expect(findings.map((f) => [f.principal, f.revision ?? '-']).sort()).toEqual([
      ['deployer@acme-ci.iam.gserviceaccount.com', '-'],
      ['masatonaka1989@gmail.com', 'cloud-run-slack-bot-00024-abc'],
    ]);
  });

  it('fires where no system event of the service was ever seen (admin activity alone: it cannot be told)', async () => {
    expect(await offWindow([v1Deploy[0]!, v2Update], false)).toHaveLength(1);
  });
});

describe('off-window-deploy on a v2 deploy whose revision event comes after the wait', () => {
  // v2 writes seldom name their revision and their operation id is not in the events: a revision event delivered
  // after the write was judged without it (an hour a step, live) is that deploy's late half, not a second deploy.
  const strict = config({ changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }] });
  const [create, createdRevision] = synthetic('seq-v2-operation') as unknown as [Json, Json];
  const update = at(synthetic('v2-UpdateService'), '2024-06-01T11:00:00Z');
  const lateRevision = (creator: string): Json => renamed(at(createdRevision, '2024-06-01T11:00:21Z'), [[SEQ_V2_REVISION, 'storefront-00002-xyz'], creatorIs(creator)]);
  const offWindow = async (entries: Json[]) => (await findingsLive(entries, strict)).filter((f) => f.rule === 'off-window-deploy').map((f) => f.eventTime);

  it('is reported once, at the write', async () => {
    expect(await offWindow([create, createdRevision, update, lateRevision('deployer@acme-ci.iam.gserviceaccount.com')])).toEqual(['2024-06-01T10:00:00.123456Z', '2024-06-01T11:00:00Z']);
  });

  const revisionAt = (timestamp: string, name: string, creator = 'deployer@acme-ci.iam.gserviceaccount.com'): Json =>
    renamed(at(createdRevision, timestamp), [[SEQ_V2_REVISION, name], [SEQ_V2_EVENT_OPERATION, `op-${name}`], creatorIs(creator)]);

  it('the write delivered an hour after its revision events were judged alone: one deploy (reported from the events), not two', async () => {
    expect(await offWindow([create, createdRevision, revisionAt('2024-06-01T11:00:21Z', 'storefront-00002-xyz'), update])).toEqual([
      '2024-06-01T10:00:00.123456Z',
      '2024-06-01T11:00:21Z',
    ]);
  });

  it('a write judged without its events stands for one late revision, not every one of its principal in its span', async () => {
    const entries = [create, createdRevision, update, revisionAt('2024-06-01T11:00:21Z', 'storefront-00002-xyz'), revisionAt('2024-06-01T11:05:21Z', 'storefront-00003-qqq')];
    expect(await offWindow(entries)).toEqual(['2024-06-01T10:00:00.123456Z', '2024-06-01T11:00:00Z', '2024-06-01T11:05:21Z']);
  });

  it('events carrying another operation id than a v1 write judged without its events are a deploy of their own', async () => {
    const toSlackBot = (e: Json): Json =>
      renamed(e, [...STOREFRONT_AS_SLACK_BOT, [SEQ_V2_REVISION, 'cloud-run-slack-bot-00099-new'], [SEQ_V2_EVENT_OPERATION, 'ffffffff-0000-4000-8000-000000000099'], creatorIs('masatonaka1989@gmail.com')]);
    const gcloudWrite = at(synthetic('v1-ReplaceService-gcloud'), '2024-05-11T10:00:00Z'); // masatonaka1989@gmail.com
    const found = (await findingsLive([gcloudWrite, toSlackBot(at(createdRevision, '2024-05-11T10:04:00Z'))], strict)).filter((f) => f.rule === 'off-window-deploy');
    expect(found.map((f) => f.eventTime)).toEqual(['2024-05-11T10:00:00Z', '2024-05-11T10:04:00Z']);
  });

  it('a revision by someone else in that span is a deploy of its own', async () => {
    expect(await offWindow([create, createdRevision, update, lateRevision('mallory@example.com')])).toEqual(['2024-06-01T10:00:00.123456Z', '2024-06-01T11:00:00Z', '2024-06-01T11:00:21Z']);
  });
});

describe('off-window-deploy: only a deploy claims the span of a late half', () => {
  const strict = config({ changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }] });
  const [create, createdRevision] = synthetic('seq-v2-operation') as unknown as [Json, Json];
  const lateEvents = renamed(at(createdRevision, '2024-06-01T11:00:21Z'), [[SEQ_V2_REVISION, 'storefront-00002-xyz'], [SEQ_V2_EVENT_OPERATION, 'op-00002']]);
  const trafficOnly = at(synthetic('v2-UpdateService-traffic-only'), '2024-06-01T11:00:10Z');
  const write = at(synthetic('v2-UpdateService'), '2024-06-01T11:00:00Z');

  it('a traffic-only update in the span does not take it: the write that comes after is still the late half', async () => {
    const offWindow = (await findingsLive([create, createdRevision, lateEvents, trafficOnly, write], strict)).filter((f) => f.rule === 'off-window-deploy');
    expect(offWindow.map((f) => f.eventTime)).toEqual(['2024-06-01T10:00:00.123456Z', '2024-06-01T11:00:21Z']);
  });
});

describe('off-window-deploy on the corpus revision event that names no one (aegisai__sysevent-Services.ReplaceService__2)', () => {
  // A real revision-level system event of a failed rollout (02:06:41Z on a friday), logged without its response:
  // no creator, so the deploy it reports is by an unknown principal. Every summary is a sentence of its own in the
  // sinks (Slack, PagerDuty), and the other rules write that principal "An unknown principal".
  const event = corpus('aegisai__sysevent-Services.ReplaceService__2');
  it.each([
    ['outside every window', { timezone: 'UTC', changeWindows: [{ days: ['mon'], start: '09:00', end: '17:00' }] }, 'An unknown principal deployed computeengine-506321/aegis-ai at 2026-09-18T02:06:41.632+00:00 (fri), outside every change window.'],
    ['during a freeze', { timezone: 'UTC', freezes: [{ start: '2026-09-18T00:00:00', end: '2026-09-19T00:00:00', reason: 'launch' }] }, 'An unknown principal deployed computeengine-506321/aegis-ai at 2026-09-18T02:06:41.632+00:00 during the freeze "launch".'],
  ])('the summary starts with a capital: %s', async (_name, raw, summary) => {
    const findings = (await findingsOf([event], config(raw))).filter((f) => f.rule === 'off-window-deploy');
    expect(findings.map((f) => [f.principal, f.summary])).toEqual([['unknown', `${summary} The revision failed to become Ready and is not serving.`]]);
  });
});

describe('off-window-deploy on a deploy known only from its revision event (aegisai__sysevent-Services.ReplaceService__1)', () => {
  // The real revision event of a `gcloud run deploy --source`: Cloud Run created the revision at 02:24:21.031565Z
  // (response.metadata.creationTimestamp, a friday) and logged its Ready condition turning False a minute later,
  // 02:25:20.486995Z (the entry's timestamp). No admin write of the deploy is in the corpus: the deploy happened
  // when the revision was created, not when its health check gave up (a startup probe may take minutes).
  const event = corpus('aegisai__sysevent-Services.ReplaceService__1');
  const utc = (windows: readonly { days: string[]; start: string; end: string }[], freezes: readonly Record<string, string>[] = []) =>
    config({ timezone: 'UTC', changeWindows: windows, freezes });
  it.each([
    ['deployed inside a window that ended before its Ready event: silent', utc([{ days: ['fri'], start: '00:00', end: '02:25' }]), []],
    [
      'deployed before a window that opened before its Ready event: fires, at the revision creation time',
      utc([{ days: ['fri'], start: '02:25', end: '03:00' }]),
      [{ severity: 'MEDIUM', localTime: '2026-09-18T02:24:21.031+00:00' }],
    ],
    [
      'deployed during a freeze that ended before its Ready event: fires HIGH',
      utc([{ days: ['fri'], start: '00:00', end: '23:00' }], [{ start: '2026-09-18T02:24:00', end: '2026-09-18T02:25:00', reason: 'cutover' }]),
      [{ severity: 'HIGH', localTime: '2026-09-18T02:24:21.031+00:00' }],
    ],
  ])('%s', async (_name, cfg, expected) => {
    const findings = (await findingsOf([event], cfg)).filter((f) => f.rule === 'off-window-deploy');
    expect(findings.map((f) => ({ severity: f.severity, localTime: f.evidence['localTime'] }))).toEqual(expected);
    // The finding still points at the audit entry it was read from.
    for (const f of findings) expect(f).toMatchObject({ eventTime: '2026-09-18T02:25:20.486995Z', revision: 'aegis-ai-00003-sp7', principal: 'admin@fjhuerta.altostrat.com' });
  });

  // A creation time that cannot be this deploy's is not taken: after the event (a copied or hand-edited entry), or
  // longer before its first event than a rollout waits (correlation.waitSeconds, 600 s by default: a revision made
  // long ago whose Ready condition changed now). The event's time is judged then, as before.
  it.each([
    ['created after its event', '2026-09-18T02:26:00Z'],
    ['created longer before its event than the wait', '2026-09-18T02:15:20Z'],
  ])('judged at its event when the revision creation time cannot be the deploy: %s', async (_name, creationTimestamp) => {
    const odd = variant(event, (e) => void ((e.protoPayload['response'] as { metadata: Json }).metadata['creationTimestamp'] = creationTimestamp));
    const findings = (await findingsOf([odd], utc([{ days: ['fri'], start: '02:25', end: '03:00' }]))).filter((f) => f.rule === 'off-window-deploy');
    expect(findings).toEqual([]);
  });
});
