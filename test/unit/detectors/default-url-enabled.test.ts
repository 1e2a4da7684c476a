// default-url-enabled: a service's default run.app URL turned back on where it was disabled, while its ingress lets
// the internet in: requests reach it past the load balancer in front of it. From the v1 annotation
// `run.googleapis.com/default-url-disabled` and the v2 field `defaultUriDisabled`.
import { describe, expect, it } from 'vitest';
import { allUsersGrantOn, at, byPrincipal, deleteServiceAt, SLACK_BOT, synthetic, v1ServiceWrite, variant, type Json } from '../../support/entries.js';
import { config, findingsLive, findingsOf } from '../../support/run.js';

const DISABLED = 'run.googleapis.com/default-url-disabled';

interface V1Options {
  readonly image?: string;
  /** The response's annotation when it differs from the request's (null: left out). */
  readonly stored?: string | null;
  readonly ingress?: string;
}

/** The gcloud fixture at `time` with the default-URL annotation set to `disabled` (undefined: left out). */
function v1Write(time: string, disabled: string | undefined, options: V1Options = {}): Json {
  const annotations = { [DISABLED]: disabled, 'run.googleapis.com/ingress': options.ingress ?? 'all', 'run.googleapis.com/ingress-status': undefined };
  return v1ServiceWrite(time, annotations, { ...(options.image ? { image: options.image } : {}), ...(options.stored !== undefined ? { stored: { [DISABLED]: options.stored } } : {}) });
}

function v2Update(time: string, edit: (service: Record<string, unknown>, request: Record<string, unknown>) => void): Json {
  return at(
    variant(synthetic('v2-UpdateService'), (e) => {
      const request = e.protoPayload['request'] as Record<string, unknown>;
      const service = request['service'] as Record<string, unknown>;
      service['invokerIamDisabled'] = false;
      edit(service, request);
    }),
    time,
  );
}

const v2Create = (disabled: boolean, ingress = 'INGRESS_TRAFFIC_ALL'): Json =>
  variant(synthetic('v2-CreateService'), (e) => {
    const service = (e.protoPayload['request'] as Record<string, unknown>)['service'] as Record<string, unknown>;
    service['ingress'] = ingress;
    if (disabled) service['defaultUriDisabled'] = true;
  });

/** A v2 update whose mask names only `default_uri_disabled`. */
const setDisabled = (time: string, disabled: boolean): Json =>
  v2Update(time, (service, request) => {
    if (disabled) service['defaultUriDisabled'] = true;
    request['updateMask'] = 'defaultUriDisabled';
  });

async function enabled(entries: readonly unknown[], cfg = config()) {
  return (await findingsOf(entries, cfg)).filter((f) => f.rule === 'default-url-enabled');
}

describe('default-url-enabled', () => {
  it.each([
    ['v1: disabled, then a write that leaves the annotation out', [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', undefined)], 'v1', 'all'],
    ['v1: disabled, then "false" with a new revision', [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', 'false', { image: 'gcr.io/acme/other:2' })], 'v1', 'all'],
    ['v1: disabled, then a request that turns it on where the response still says disabled', [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', 'false', { stored: 'true' })], 'v1', 'all'],
    ['v2: created with it disabled, then an update naming it in its mask', [v2Create(true), setDisabled('2024-06-01T11:00:00Z', false)], 'v2', 'all'],
    ['v2: created with it disabled, then a full update without it', [v2Create(true), v2Update('2024-06-01T11:00:00Z', () => undefined)], 'v2', 'all'],
  ])('fires: %s', async (_name, entries, api, ingress) => {
    const findings = await enabled(entries);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'MEDIUM', title: 'Cloud Run default URL turned back on', evidence: { before: 'default URL disabled', after: 'default URL on', api, ingress } });
    expect(findings[0]!.summary).toContain('past the load balancer in front of it');
    expect(findings[0]!.summary).toContain('Callers still need the invoker role.');
  });

  it('fires HIGH when allUsers hold the invoker role: the load balancer was the only control', async () => {
    const findings = await enabled([v1Write('2024-05-04T10:00:00Z', 'true'), allUsersGrantOn('2024-05-04T10:30:00Z', SLACK_BOT), v1Write('2024-05-04T11:00:00Z', 'false')]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'HIGH', evidence: { publicInvokers: ['allUsers'] } });
    expect(findings[0]!.summary).toContain('the load balancer was the only control in front of it');
  });

  it('fires with the ingress in force before a v2 update whose mask leaves the ingress alone', async () => {
    const findings = await enabled([v2Create(true, 'INGRESS_TRAFFIC_ALL'), setDisabled('2024-06-01T11:00:00Z', false)]);
    expect(findings[0]?.evidence['ingress']).toBe('all');
    // The same with the internet kept out by the ingress: the run.app URL refuses it too.
    expect(await enabled([v2Create(true, 'INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER'), setDisabled('2024-06-01T11:00:00Z', false)])).toEqual([]);
  });

  it.each([
    ['a service created with its default URL on', [v2Create(false)]],
    ['the first write seen has it on (nothing known before)', [v1Write('2024-05-04T11:00:00Z', 'false')]],
    ['on, then on again', [v1Write('2024-05-04T10:00:00Z', undefined), v1Write('2024-05-04T11:00:00Z', 'false', { image: 'gcr.io/acme/other:2' })]],
    ['disabled, then disabled again', [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', 'true', { image: 'gcr.io/acme/other:2' })]],
    ['on, then disabled', [v1Write('2024-05-04T10:00:00Z', 'false'), v1Write('2024-05-04T11:00:00Z', 'true')]],
    ['v1: disabled, then turned on while the ingress keeps the internet out', [v1Write('2024-05-04T10:00:00Z', 'true', { ingress: 'internal-and-cloud-load-balancing' }), v1Write('2024-05-04T11:00:00Z', 'false', { ingress: 'internal-and-cloud-load-balancing' })]],
    ['v1: disabled, then a request that leaves the annotation out of a service that keeps it (the response says true)', [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', undefined, { stored: 'true' })]],
    ['v1: disabled, then a value that reads as neither true nor false', [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', 'yes')]],
    [
      'v2: created with it disabled, then an update whose mask leaves it alone',
      [
        v2Create(true),
        v2Update('2024-06-01T11:00:00Z', (_service, request) => {
          request['updateMask'] = { paths: ['template.containers'] };
        }),
      ],
    ],
    ['disabled, deleted, then created again with it disabled', [v1Write('2024-05-04T10:00:00Z', 'true'), deleteServiceAt('2024-05-04T10:30:00Z', SLACK_BOT), v1Write('2024-05-04T11:00:00Z', 'true')]],
  ])('ignores: %s', async (_name, entries) => {
    expect(await enabled(entries)).toEqual([]);
  });

  it('ignores services covered by an exception, and does nothing when disabled', async () => {
    const entries = [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', 'false')];
    expect(await enabled(entries, config({ rules: { 'default-url-enabled': { exceptions: [{ service: `${SLACK_BOT.project}/*` }] } } }))).toEqual([]);
    expect(await enabled(entries, config({ rules: { 'default-url-enabled': { enabled: false } } }))).toEqual([]);
    expect((await enabled(entries, config({ rules: { 'default-url-enabled': { severity: 'LOW' } } })))[0]?.severity).toBe('LOW');
  });

  it('is resolved when the URL is disabled again, or the service deleted', async () => {
    const open = [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', 'false')];
    const again = await enabled([...open, v1Write('2024-05-04T12:00:00Z', 'true')]);
    expect(again.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
    expect(again[1]!.resolution?.reason).toBe('its default URL is disabled again');
    const deleted = await enabled([...open, deleteServiceAt('2024-05-04T12:00:00Z', SLACK_BOT)]);
    expect(deleted.map((f) => f.resolution?.reason)).toEqual([undefined, 'the service was deleted']);
  });

  // The rule's risk is the run.app URL reachable from the internet: a newer write that keeps the internet out by the
  // ingress ends it as surely as disabling the URL (ingress-opened reports opening it again).
  it.each([
    ['internal', 'internal', 'resolved'],
    ['internal-and-cloud-load-balancing', 'internal-and-cloud-load-balancing', 'resolved'],
    ['all (still open)', 'all', undefined],
  ])('a newer write that sets the ingress to %s', async (_name, ingress, status) => {
    const open = [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', 'false')];
    const findings = await enabled([...open, v1Write('2024-05-04T12:00:00Z', 'false', { ingress, image: 'gcr.io/acme/other:3' })]);
    expect(findings.map((f) => f.status ?? 'active')).toEqual(status ? ['active', status] : ['active']);
    if (status) expect(findings[1]!.resolution?.reason).toBe(`its ingress is now ${ingress}: the internet no longer reaches its run.app URL`);
  });

  it('a late entry is closed at once by a newer write that restricted the ingress, as in time order', async () => {
    const restrict = v1Write('2024-05-04T12:00:00Z', 'false', { ingress: 'internal', image: 'gcr.io/acme/other:3' });
    const late = [v1Write('2024-05-04T10:00:00Z', 'true'), restrict, v1Write('2024-05-04T11:00:00Z', 'false')];
    const only = async (entries: unknown[]) => (await findingsLive(entries)).filter((f) => f.rule === 'default-url-enabled').map((f) => `${f.id} ${f.status ?? 'active'}`);
    expect(await only(late)).toEqual(await only([late[0]!, late[2]!, late[1]!]));
    expect(await only(late)).toHaveLength(2);
  });

  it('a late entry is closed at once by the newer write that disabled the URL again, as in time order', async () => {
    const late = [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T12:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', 'false')];
    const findings = await enabled(late);
    expect(findings.map((f) => [f.eventTime, f.status ?? 'active'])).toEqual([
      ['2024-05-04T11:00:00Z', 'active'],
      ['2024-05-04T11:00:00Z', 'resolved'],
    ]);
    const inOrder = await enabled([late[0]!, late[2]!, late[1]!]);
    expect(findings.map((f) => `${f.id} ${f.status ?? 'active'}`)).toEqual(inOrder.map((f) => `${f.id} ${f.status ?? 'active'}`));
  });

  it('one finding for a write seen twice', async () => {
    const write = v1Write('2024-05-04T11:00:00Z', 'false');
    expect(await enabled([v1Write('2024-05-04T10:00:00Z', 'true'), write, write])).toHaveLength(1);
  });

  it('a service deleted and created again with its default URL on is compared with the deleted one', async () => {
    const create = variant(v1Write('2024-05-04T11:00:00Z', undefined), (e) => {
      e.protoPayload['methodName'] = 'google.cloud.run.v1.Services.CreateService';
    });
    const findings = await enabled([v1Write('2024-05-04T10:00:00Z', 'true'), deleteServiceAt('2024-05-04T10:30:00Z', SLACK_BOT), create]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.evidence['recreatedAfterDeleteAt']).toBe('2024-05-04T10:30:00.000Z');
    expect(findings[0]!.summary).toContain('created again with it');
  });
});

// What iap-disabled's review found holds for every service setting (rollout.ts SERVICE_SETTINGS): a burst's later
// write, a deploy still waiting for its system events, and a v2 upsert that re-creates a deleted service.
describe('default-url-enabled: writes the rollouts hold', () => {

  it('a burst: the same template with the URL on again 10 s after a deploy that kept it disabled, by someone else', async () => {
    const image = { image: 'gcr.io/acme/other:2' };
    const findings = await enabled([
      v1Write('2024-05-04T10:00:00Z', 'true'),
      v1Write('2024-05-04T11:00:00Z', 'true', image),
      byPrincipal(v1Write('2024-05-04T11:00:10Z', 'false', image), 'mallory@example.com'),
    ]);
    expect(findings.map((f) => [f.eventTime, f.principal, f.status ?? 'active'])).toEqual([['2024-05-04T11:00:10Z', 'mallory@example.com', 'active']]);
  });

  it('a masked update turning the URL on while the create that disabled it still waits for its system events', async () => {
    const findings = await enabled([v2Create(true), setDisabled('2024-06-01T10:00:10Z', false)]);
    expect(findings.map((f) => f.eventTime)).toEqual(['2024-06-01T10:00:10Z']);
  });

  it('a v2 upsert (allowMissing) that re-creates a deleted service whose URL was disabled, its mask leaving the URL out', async () => {
    const deleteV2 = variant(deleteServiceAt('2024-06-01T11:00:00Z', { project: 'acme-prod', location: 'europe-west1', service: 'storefront' }), (e) => {
      e.protoPayload['methodName'] = 'google.cloud.run.v2.Services.DeleteService';
      e.protoPayload['resourceName'] = 'projects/acme-prod/locations/europe-west1/services/storefront';
    });
    const upsert = v2Update('2024-06-01T11:05:00Z', (_service, request) => {
      request['allowMissing'] = true;
      request['updateMask'] = { paths: ['template.containers'] };
    });
    const findings = await enabled([v2Create(true), deleteV2, upsert]);
    expect(findings.map((f) => [f.eventTime, f.evidence['recreatedAfterDeleteAt']])).toEqual([['2024-06-01T11:05:00Z', '2024-06-01T11:00:00.000Z']]);
    // Where the service was not deleted, the upsert updated it, and its mask leaves the URL as it was.
    expect(await enabled([v2Create(true), upsert])).toEqual([]);
  });
});

// What the service's write still waiting for its rollout set is in force from its time (revision.ts settingBefore):
// all of it, the invoker check that sets the severity too, as the live pipeline sees it once that rollout completed.
describe('default-url-enabled: the invoker check a deploy still waiting for its rollout turned off', () => {
  const publicCreate = variant(v2Create(true), (e) => {
    ((e.protoPayload['request'] as Record<string, unknown>)['service'] as Record<string, unknown>)['invokerIamDisabled'] = true;
  });
  it.each([
    ['replay (the create waits for its system events)', findingsOf],
    ['live (the create completed before the update came)', findingsLive],
  ])('a masked update turning the URL on 10 s after a create that disabled it and the invoker check is HIGH: %s', async (_name, run) => {
    const findings = (await run([publicCreate, setDisabled('2024-06-01T10:00:10Z', false)])).filter((f) => f.rule === 'default-url-enabled');
    expect(findings.map((f) => [f.eventTime, f.severity, f.evidence['invokerIamDisabled']])).toEqual([['2024-06-01T10:00:10Z', 'HIGH', true]]);
  });
});
