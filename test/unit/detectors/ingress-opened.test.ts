// ingress-opened: a service's ingress set to `all` where it was restricted (internal, or internal and Cloud Load
// Balancing), from v1 annotations and v2 fields, with or without a new revision.
import { describe, expect, it } from 'vitest';
import { at, byPrincipal, deleteServiceAt, editV1Services, SLACK_BOT, synthetic, variant, withOperationId, withV1Image, type Json } from '../../support/entries.js';
import { config, findingsLive, findingsOf } from '../../support/run.js';

const gcloud = synthetic('v1-ReplaceService-gcloud');

/** The gcloud fixture at `time` with the service's ingress annotation set to `ingress` (undefined: left out). */
function v1Write(time: string, ingress: string | undefined, image = 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-slack-bot/cloud-run-slack-bot:1f2e3d4c5b6a'): Json {
  const entry = editV1Services(withV1Image(gcloud, image, 'nonce'), (svc) => {
    const annotations = (svc['metadata'] as Record<string, Record<string, string>>)['annotations']!;
    if (ingress === undefined) delete annotations['run.googleapis.com/ingress'];
    else annotations['run.googleapis.com/ingress'] = ingress;
    delete annotations['run.googleapis.com/ingress-status'];
  });
  return at(withOperationId(entry, `op-${time}`), time);
}

/** The v2 UpdateService fixture at `time` with `service` changed by `edit`. */
function v2Update(time: string, edit: (service: Record<string, unknown>, request: Record<string, unknown>) => void): Json {
  return at(
    variant(synthetic('v2-UpdateService'), (e) => {
      const request = e.protoPayload['request'] as Record<string, unknown>;
      edit(request['service'] as Record<string, unknown>, request);
    }),
    time,
  );
}

const v2Create = (ingress: string): Json =>
  variant(synthetic('v2-CreateService'), (e) => {
    ((e.protoPayload['request'] as Record<string, unknown>)['service'] as Record<string, unknown>)['ingress'] = ingress;
  });

async function opened(entries: readonly unknown[], cfg = config()) {
  return (await findingsOf(entries, cfg)).filter((f) => f.rule === 'ingress-opened');
}

describe('ingress-opened', () => {
  it.each([
    ['v1: internal, then all (a new revision too)', [v1Write('2024-05-04T10:00:00Z', 'internal'), v1Write('2024-05-04T11:00:00Z', 'all', 'gcr.io/acme/other:2')], 'internal', 'its VPC networks'],
    ['v1: internal-and-cloud-load-balancing, then all (same template: no new revision)', [v1Write('2024-05-04T10:00:00Z', 'internal-and-cloud-load-balancing'), v1Write('2024-05-04T11:00:00Z', 'all')], 'internal-and-cloud-load-balancing', 'Cloud Armor'],
    [
      'v2: INGRESS_TRAFFIC_INTERNAL_ONLY, then an update naming ingress in its mask',
      [
        v2Create('INGRESS_TRAFFIC_INTERNAL_ONLY'),
        v2Update('2024-06-01T11:00:00Z', (service, request) => {
          service['ingress'] = 'INGRESS_TRAFFIC_ALL';
          service['invokerIamDisabled'] = false;
          request['updateMask'] = { paths: ['ingress'] };
        }),
      ],
      'internal',
      'its VPC networks',
    ],
    // The JSON of a protocol buffer may write an enum as its number (IngressTraffic: 1 ALL, 2 INTERNAL_ONLY, 3
    // INTERNAL_LOAD_BALANCER), as the VPC egress and traffic type are read already; a v2 client sends `ingress: 3`.
    [
      'v2: created at 2 (INGRESS_TRAFFIC_INTERNAL_ONLY written as its number), then INGRESS_TRAFFIC_ALL',
      [
        variant(synthetic('v2-CreateService'), (e) => void (((e.protoPayload['request'] as Record<string, unknown>)['service'] as Record<string, unknown>)['ingress'] = 2)),
        v2Update('2024-06-01T11:00:00Z', (service, request) => {
          service['ingress'] = 'INGRESS_TRAFFIC_ALL';
          request['updateMask'] = { paths: ['ingress'] };
        }),
      ],
      'internal',
      'its VPC networks',
    ],
    [
      'v2: INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER, then 1 (INGRESS_TRAFFIC_ALL written as its number)',
      [
        v2Create('INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER'),
        v2Update('2024-06-01T11:00:00Z', (service, request) => {
          service['ingress'] = 1;
          request['updateMask'] = { paths: ['ingress'] };
        }),
      ],
      'internal-and-cloud-load-balancing',
      'Cloud Armor',
    ],
  ])('fires: %s', async (_name, entries, before, perimeter) => {
    const findings = await opened(entries);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'MEDIUM', evidence: { before, after: 'all' } });
    expect(findings[0]!.summary).toContain(perimeter);
    expect(findings[0]!.summary).toContain('Callers still need the invoker role.');
  });

  it('fires HIGH when the service can already be called without an identity (allUsers hold its invoker role)', async () => {
    const grant = at(synthetic('run-SetIamPolicy-allUsers'), '2024-05-04T10:30:00Z');
    const entries = [v1Write('2024-05-04T10:00:00Z', 'internal'), grant, v1Write('2024-05-04T11:00:00Z', 'all')];
    const grantTarget = (grant as { resource: { labels: Record<string, string> } }).resource.labels;
    // The grant fixture is about another service: point it at the deployed one.
    const onService = variant(grant, (e) => {
      e['resource'] = { type: 'cloud_run_revision', labels: { ...grantTarget, project_id: SLACK_BOT.project, location: SLACK_BOT.location, service_name: SLACK_BOT.service } };
      e.protoPayload['resourceName'] = `projects/${SLACK_BOT.project}/locations/${SLACK_BOT.location}/services/${SLACK_BOT.service}`;
      e['logName'] = `projects/${SLACK_BOT.project}/logs/cloudaudit.googleapis.com%2Factivity`;
    });
    const findings = await opened([entries[0], onService, entries[2]]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'HIGH', evidence: { publicInvokers: ['allUsers'] } });
    expect(findings[0]!.summary).toContain('anyone on the internet can call it');
  });

  it('fires HIGH when the same write turns the invoker IAM check off (v2)', async () => {
    const findings = await opened([
      v2Create('INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER'),
      v2Update('2024-06-01T11:00:00Z', (service, request) => {
        service['ingress'] = 'INGRESS_TRAFFIC_ALL';
        service['invokerIamDisabled'] = true;
        request['updateMask'] = { paths: ['ingress', 'invoker_iam_disabled'] };
      }),
    ]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'HIGH', evidence: { before: 'internal-and-cloud-load-balancing', invokerIamDisabled: true } });
  });

  it.each([
    ['a service created with all (the default)', [v2Create('INGRESS_TRAFFIC_ALL')]],
    ['all, then all again', [v1Write('2024-05-04T10:00:00Z', 'all'), v1Write('2024-05-04T11:00:00Z', 'all', 'gcr.io/acme/other:2')]],
    ['the first write seen is all (nothing known before)', [v1Write('2024-05-04T11:00:00Z', 'all')]],
    ['all, then restricted', [v1Write('2024-05-04T10:00:00Z', 'all'), v1Write('2024-05-04T11:00:00Z', 'internal')]],
    ['internal, then internal-and-cloud-load-balancing (a load balancer in front)', [v1Write('2024-05-04T10:00:00Z', 'internal'), v1Write('2024-05-04T11:00:00Z', 'internal-and-cloud-load-balancing')]],
    ['internal, then a write that does not show the ingress (annotation left out, no response)', [v1Write('2024-05-04T10:00:00Z', 'internal'), variant(v1Write('2024-05-04T11:00:00Z', undefined), (e) => delete e.protoPayload['response'])]],
    [
      'internal, then a v2 update whose mask leaves ingress alone',
      [
        v2Create('INGRESS_TRAFFIC_INTERNAL_ONLY'),
        v2Update('2024-06-01T11:00:00Z', (service, request) => {
          service['ingress'] = 'INGRESS_TRAFFIC_ALL';
          request['updateMask'] = { paths: ['template.containers'] };
        }),
      ],
    ],
    ['all, deleted, then created again with all', [v1Write('2024-05-04T10:00:00Z', 'all'), deleteServiceAt('2024-05-04T10:30:00Z', SLACK_BOT), v1Write('2024-05-04T11:00:00Z', 'all')]],
  ])('ignores: %s', async (_name, entries) => {
    expect(await opened(entries)).toEqual([]);
  });

  it('ignores services covered by an exception, and does nothing when disabled', async () => {
    const entries = [v1Write('2024-05-04T10:00:00Z', 'internal'), v1Write('2024-05-04T11:00:00Z', 'all')];
    expect(await opened(entries, config({ rules: { 'ingress-opened': { exceptions: [{ service: `${SLACK_BOT.project}/*` }] } } }))).toEqual([]);
    expect(await opened(entries, config({ rules: { 'ingress-opened': { enabled: false } } }))).toEqual([]);
    expect((await opened(entries, config({ rules: { 'ingress-opened': { severity: 'LOW' } } })))[0]?.severity).toBe('LOW');
  });

  it('a late entry compares with the ingress before it in time, and is closed at once by the newer write that restricted it', async () => {
    // Arrival order: internal at 10:00, internal again at 12:00, then the 11:00 write that opened it, late.
    const late = [v1Write('2024-05-04T10:00:00Z', 'internal'), v1Write('2024-05-04T12:00:00Z', 'internal'), v1Write('2024-05-04T11:00:00Z', 'all')];
    // Reported (it happened), and closed as the 12:00 write closed it in order; a later restriction closes nothing more.
    const findings = await opened([...late, v1Write('2024-05-04T13:00:00Z', 'internal-and-cloud-load-balancing')]);
    expect(findings.map((f) => [f.eventTime, f.status ?? 'active'])).toEqual([
      ['2024-05-04T11:00:00Z', 'active'],
      ['2024-05-04T11:00:00Z', 'resolved'],
    ]);
    expect(findings[1]!.resolution).toMatchObject({ time: '2024-05-04T12:00:00Z', principal: 'unknown', reason: 'its ingress is internal again' });
    const inOrder = await opened([late[0]!, late[2]!, late[1]!]);
    expect(findings.map((f) => `${f.id} ${f.status ?? 'active'}`)).toEqual(inOrder.map((f) => `${f.id} ${f.status ?? 'active'}`));
  });

  it('is resolved when the ingress is restricted again, or the service deleted', async () => {
    const open = [v1Write('2024-05-04T10:00:00Z', 'internal'), v1Write('2024-05-04T11:00:00Z', 'all')];
    const restricted = await opened([...open, v1Write('2024-05-04T12:00:00Z', 'internal-and-cloud-load-balancing')]);
    expect(restricted.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
    expect(restricted[1]!.resolution?.reason).toBe('its ingress is internal-and-cloud-load-balancing again');
    expect(restricted[1]!.id).toBe(restricted[0]!.id);
    const deleted = await opened([...open, deleteServiceAt('2024-05-04T12:00:00Z', SLACK_BOT)]);
    expect(deleted.map((f) => f.resolution?.reason)).toEqual([undefined, 'the service was deleted']);
    // A write that keeps it at all closes nothing.
    expect((await opened([...open, v1Write('2024-05-04T12:00:00Z', 'all', 'gcr.io/acme/other:3')])).map((f) => f.status ?? 'active')).toEqual(['active']);
  });

  // The ingress carries across a delete, so a write of the deleted service that opened it, delivered after the delete,
  // is still compared with the ingress before it and reported. The delete it came after took that risk away: it must
  // be reported closed, as in time order, not left active with nothing that can ever resolve it.
  it('an opening of the deleted service delivered after its delete is reported and closed, as in time order', async () => {
    const internal = v1Write('2024-05-04T10:00:00Z', 'internal');
    const openedWrite = v1Write('2024-05-04T11:00:00Z', 'all');
    const deleted = deleteServiceAt('2024-05-04T12:00:00Z', SLACK_BOT);
    const inOrder = await opened([internal, openedWrite, deleted]);
    expect(inOrder.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
    const late = await opened([internal, deleted, openedWrite]);
    expect(late.map((f) => `${f.id} ${f.status ?? 'active'}`)).toEqual(inOrder.map((f) => `${f.id} ${f.status ?? 'active'}`));
  });

  it('one finding for a write seen twice', async () => {
    const write = v1Write('2024-05-04T11:00:00Z', 'all');
    expect(await opened([v1Write('2024-05-04T10:00:00Z', 'internal'), write, write])).toHaveLength(1);
  });

  // The v2 enum's fifth value, INGRESS_TRAFFIC_NONE: "No ingress traffic is allowed" (google.cloud.run.v2
  // IngressTraffic, in Google's client reference). Used to shut a service off (an incident, a budget kill switch).
  describe('a service whose ingress was shut off (INGRESS_TRAFFIC_NONE)', () => {
    const setIngress = (time: string, ingress: string): Json =>
      v2Update(time, (service, request) => {
        service['ingress'] = ingress;
        request['updateMask'] = { paths: ['ingress'] };
      });

    it('fires: opened again to all (the internet reaches it where nothing did)', async () => {
      const findings = await opened([v2Create('INGRESS_TRAFFIC_ALL'), setIngress('2024-06-01T11:00:00Z', 'INGRESS_TRAFFIC_NONE'), setIngress('2024-06-01T12:00:00Z', 'INGRESS_TRAFFIC_ALL')]);
      expect(findings.map((f) => [f.eventTime, f.severity, f.evidence['before']])).toEqual([['2024-06-01T12:00:00Z', 'MEDIUM', 'none']]);
    });

    it('resolves an opening when the ingress is shut off', async () => {
      const findings = await opened([v2Create('INGRESS_TRAFFIC_INTERNAL_ONLY'), setIngress('2024-06-01T11:00:00Z', 'INGRESS_TRAFFIC_ALL'), setIngress('2024-06-01T12:00:00Z', 'INGRESS_TRAFFIC_NONE')]);
      expect(findings.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
    });
  });

  // Deleting a service and creating it again under its name, with the default ingress `all`, opens it as surely as
  // an update: a load balancer's serverless NEG (and its Cloud Armor policy) still points at the name, and the
  // internet now reaches it directly. The identity and image rules compare across a delete; so must this one.
  describe('a service deleted and created again', () => {
    const v1Create = (time: string, ingress: string): Json =>
      variant(v1Write(time, ingress), (e) => {
        e.protoPayload['methodName'] = 'google.cloud.run.v1.Services.CreateService';
      });

    it.each([
      ['at all, where it was internal', 'internal', 1],
      ['at all, where it was internal-and-cloud-load-balancing', 'internal-and-cloud-load-balancing', 1],
      ['at all, where it was all', 'all', 0],
    ])('v1: %s', async (_name, before, count) => {
      const entries = [v1Write('2024-05-04T10:00:00Z', before), deleteServiceAt('2024-05-04T11:00:00Z', SLACK_BOT), v1Create('2024-05-04T11:05:00Z', 'all')];
      const findings = await opened(entries);
      expect(findings).toHaveLength(count);
      if (count) expect(findings[0]).toMatchObject({ eventTime: '2024-05-04T11:05:00Z', evidence: { before, after: 'all', recreatedAfterDeleteAt: '2024-05-04T11:00:00.000Z' } });
    });

    it('v2: created again at INGRESS_TRAFFIC_ALL where it was INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER', async () => {
      const deleteV2 = variant(deleteServiceAt('2024-06-01T11:00:00Z', { project: 'acme-prod', location: 'europe-west1', service: 'storefront' }), (e) => {
        e.protoPayload['methodName'] = 'google.cloud.run.v2.Services.DeleteService';
        e.protoPayload['resourceName'] = 'projects/acme-prod/locations/europe-west1/services/storefront';
      });
      const findings = await opened([v2Create('INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER'), deleteV2, at(v2Create('INGRESS_TRAFFIC_ALL'), '2024-06-01T11:05:00Z')]);
      expect(findings.map((f) => [f.eventTime, f.evidence['before']])).toEqual([['2024-06-01T11:05:00Z', 'internal-and-cloud-load-balancing']]);
    });

    // A v2 create that leaves `ingress` out (the JSON of a protocol buffer omits INGRESS_TRAFFIC_UNSPECIFIED; Terraform
    // and the client libraries send none unless configured) gets Cloud Run's default, all: the service is opened as
    // surely as with INGRESS_TRAFFIC_ALL written out.
    it('v2: created again with the ingress left out (the default, all) where it was INGRESS_TRAFFIC_INTERNAL_ONLY', async () => {
      const deleteV2 = variant(deleteServiceAt('2024-06-01T11:00:00Z', { project: 'acme-prod', location: 'europe-west1', service: 'storefront' }), (e) => {
        e.protoPayload['methodName'] = 'google.cloud.run.v2.Services.DeleteService';
        e.protoPayload['resourceName'] = 'projects/acme-prod/locations/europe-west1/services/storefront';
      });
      const leftOut = variant(synthetic('v2-CreateService'), (e) => {
        delete ((e.protoPayload['request'] as Record<string, unknown>)['service'] as Record<string, unknown>)['ingress'];
      });
      const findings = await opened([v2Create('INGRESS_TRAFFIC_INTERNAL_ONLY'), deleteV2, at(leftOut, '2024-06-01T11:05:00Z')]);
      expect(findings.map((f) => [f.eventTime, f.evidence['before'], f.evidence['recreatedAfterDeleteAt']])).toEqual([['2024-06-01T11:05:00Z', 'internal', '2024-06-01T11:00:00.000Z']]);
    });

    // UpdateService with `allowMissing` creates a service that does not exist (v2 UpdateServiceRequest.allow_missing):
    // after the delete, an update that leaves `ingress` out creates the service at the default, all, as a create does.
    // (Where the service still exists, what an update that leaves the ingress out does to it is not known: unchanged.)
    describe('v2: created again by an UpdateService with allowMissing, the ingress left out', () => {
      const deleteV2 = variant(deleteServiceAt('2024-06-01T11:00:00Z', { project: 'acme-prod', location: 'europe-west1', service: 'storefront' }), (e) => {
        e.protoPayload['methodName'] = 'google.cloud.run.v2.Services.DeleteService';
        e.protoPayload['resourceName'] = 'projects/acme-prod/locations/europe-west1/services/storefront';
      });
      const upsert = (time: string, key: string): Json =>
        v2Update(time, (service, request) => {
          delete service['ingress'];
          request[key] = true;
        });

      it.each(['allowMissing', 'allow_missing'])('%s: reported, compared with the deleted service', async (key) => {
        const findings = await opened([v2Create('INGRESS_TRAFFIC_INTERNAL_ONLY'), deleteV2, upsert('2024-06-01T11:05:00Z', key)]);
        expect(findings.map((f) => [f.eventTime, f.evidence['before'], f.evidence['recreatedAfterDeleteAt']])).toEqual([['2024-06-01T11:05:00Z', 'internal', '2024-06-01T11:00:00.000Z']]);
      });

      it('not where the service was not deleted (the update may leave its ingress as it was)', async () => {
        expect(await opened([v2Create('INGRESS_TRAFFIC_INTERNAL_ONLY'), upsert('2024-06-01T11:05:00Z', 'allowMissing')])).toEqual([]);
      });

      it('not a second upsert after the one that created it again', async () => {
        const findings = await opened([v2Create('INGRESS_TRAFFIC_INTERNAL_ONLY'), deleteV2, upsert('2024-06-01T11:05:00Z', 'allowMissing'), upsert('2024-06-01T11:10:00Z', 'allowMissing')]);
        expect(findings.map((f) => f.eventTime)).toEqual(['2024-06-01T11:05:00Z']);
      });
    });
  });
});

// Found by the review of iap-disabled, true of every service setting (rollout.ts SERVICE_SETTINGS): a burst's later
// write sets the service at its own time, and a write judged while a deploy still waits is compared with that deploy.
describe('ingress-opened: writes the rollouts hold', () => {

  it('a burst: the same template set to all 10 s after a deploy that kept it internal, by someone else', async () => {
    const image = 'gcr.io/acme/other:2';
    const findings = await opened([
      v1Write('2024-05-04T10:00:00Z', 'internal'),
      v1Write('2024-05-04T11:00:00Z', 'internal', image),
      byPrincipal(v1Write('2024-05-04T11:00:10Z', 'all', image), 'mallory@example.com'),
    ]);
    expect(findings.map((f) => [f.eventTime, f.principal, f.evidence['before'], f.status ?? 'active'])).toEqual([['2024-05-04T11:00:10Z', 'mallory@example.com', 'internal', 'active']]);
  });

  it('a burst: restricted again 10 s after a deploy that opened it, which closes the opening', async () => {
    const image = 'gcr.io/acme/other:2';
    const findings = await opened([v1Write('2024-05-04T10:00:00Z', 'internal'), v1Write('2024-05-04T11:00:00Z', 'all', image), v1Write('2024-05-04T11:00:10Z', 'internal', image)]);
    expect(findings.map((f) => [f.eventTime, f.status ?? 'active'])).toEqual([
      ['2024-05-04T11:00:00Z', 'active'],
      ['2024-05-04T11:00:00Z', 'resolved'],
    ]);
  });

  it('a masked update opening the ingress while the create that restricted it still waits for its system events', async () => {
    const findings = await opened([
      v2Create('INGRESS_TRAFFIC_INTERNAL_ONLY'),
      v2Update('2024-06-01T10:00:10Z', (service, request) => {
        service['ingress'] = 'INGRESS_TRAFFIC_ALL';
        request['updateMask'] = { paths: ['ingress'] };
      }),
    ]);
    expect(findings.map((f) => [f.eventTime, f.evidence['before']])).toEqual([['2024-06-01T10:00:10Z', 'internal']]);
  });
});

// A burst's writes may be delivered in any order within the wait: which of them set the service otherwise than the
// write before them is a matter of their times, not of the order they came in.
describe('ingress-opened: a burst delivered out of order', () => {
  const image = 'gcr.io/acme/other:2';
  const restricted = v1Write('2024-05-04T10:00:00Z', 'internal');
  const first = v1Write('2024-05-04T11:00:00Z', 'internal', image);
  const opening = v1Write('2024-05-04T11:00:10Z', 'all', image);
  const restricting = v1Write('2024-05-04T11:00:20Z', 'internal', image);
  it.each([
    ['in time order', [restricted, first, opening, restricting]],
    ['the restricting write before the opening one', [restricted, first, restricting, opening]],
    ['the opening write first', [restricted, opening, first, restricting]],
  ])('opened 10 s into the burst and restricted again 10 s later: %s', async (_name, entries) => {
    const findings = await opened(entries);
    expect(findings.map((f) => [f.eventTime, f.status ?? 'active'])).toEqual([
      ['2024-05-04T11:00:10Z', 'active'],
      ['2024-05-04T11:00:10Z', 'resolved'],
    ]);
  });
});

// A burst's later write that repeats the burst's first write may still set the service otherwise than the write before
// it in time: a write judged at once (a masked update) can fall between them. Judged as the live pipeline judges it
// (there each write comes after the one before it completed).
describe('ingress-opened: a masked update between a burst\'s writes', () => {
  const update = (time: string, edit: (service: Record<string, unknown>, request: Record<string, unknown>) => void): Json =>
    variant(
      v2Update(time, edit),
      (e) => void ((e.protoPayload['response'] as Record<string, unknown>)['name'] = `projects/acme-prod/locations/europe-west1/operations/op-${time}`),
    );
  const create = v2Create('INGRESS_TRAFFIC_INTERNAL_ONLY');
  const first = update('2024-06-01T11:00:00Z', (service) => void (service['ingress'] = 'INGRESS_TRAFFIC_INTERNAL_ONLY'));
  const opening = update('2024-06-01T11:00:20Z', (service, request) => {
    service['ingress'] = 'INGRESS_TRAFFIC_ALL';
    request['updateMask'] = { paths: ['ingress'] };
  });
  const repeat = update('2024-06-01T11:00:40Z', (service) => void (service['ingress'] = 'INGRESS_TRAFFIC_INTERNAL_ONLY'));
  it.each([
    ['replay (event time: the burst waits for its rollout)', findingsOf],
    ['live (each entry an hour after the one before)', findingsLive],
  ])('opened 20 s into a burst, restricted by the burst\'s repeat 20 s later: %s', async (_name, run) => {
    const findings = (await run([create, first, opening, repeat])).filter((f) => f.rule === 'ingress-opened');
    expect(findings.map((f) => [f.eventTime, f.status ?? 'active'])).toEqual([
      ['2024-06-01T11:00:20Z', 'active'],
      ['2024-06-01T11:00:20Z', 'resolved'],
    ]);
  });
});

// What the service's write still waiting for its rollout set is in force from its time (revision.ts settingBefore):
// all of it, the invoker check that sets the severity too, as the live pipeline sees it once that rollout completed.
describe('ingress-opened: the invoker check a deploy still waiting for its rollout turned off', () => {
  const publicCreate = variant(v2Create('INGRESS_TRAFFIC_INTERNAL_ONLY'), (e) => {
    ((e.protoPayload['request'] as Record<string, unknown>)['service'] as Record<string, unknown>)['invokerIamDisabled'] = true;
  });
  const opening = v2Update('2024-06-01T10:00:10Z', (service, request) => {
    service['ingress'] = 'INGRESS_TRAFFIC_ALL';
    request['updateMask'] = { paths: ['ingress'] };
  });
  it.each([
    ['replay (the create waits for its system events)', findingsOf],
    ['live (the create completed before the update came)', findingsLive],
  ])('a masked update opening the ingress 10 s after a create that restricted it and turned the invoker check off is HIGH: %s', async (_name, run) => {
    const findings = (await run([publicCreate, opening])).filter((f) => f.rule === 'ingress-opened');
    expect(findings.map((f) => [f.eventTime, f.severity, f.evidence['invokerIamDisabled']])).toEqual([['2024-06-01T10:00:10Z', 'HIGH', true]]);
  });
});
