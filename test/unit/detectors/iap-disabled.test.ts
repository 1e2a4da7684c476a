// iap-disabled: Identity-Aware Proxy turned off on a service it guarded, from the v1 annotation
// `run.googleapis.com/iap-enabled` and the v2 field `iapEnabled`, with or without a new revision.
import { describe, expect, it } from 'vitest';
import { allUsersGrantOn, at, byPrincipal, deleteServiceAt, SLACK_BOT, synthetic, v1ServiceWrite, variant, type Json } from '../../support/entries.js';
import { config, findingsLive, findingsOf } from '../../support/run.js';

const IAP = 'run.googleapis.com/iap-enabled';

/**
 * The gcloud fixture at `time` with the IAP annotation set to `iap` (undefined: left out) in the request and in the
 * service as stored (the response), unless `stored` says otherwise for the response.
 */
function v1Write(time: string, iap: string | undefined, options: { image?: string; stored?: string | null } = {}): Json {
  return v1ServiceWrite(time, { [IAP]: iap }, { ...(options.image ? { image: options.image } : {}), ...(options.stored !== undefined ? { stored: { [IAP]: options.stored } } : {}) });
}

/** The v2 UpdateService fixture at `time` with `service` changed by `edit` (IAP left out unless it sets it). */
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

/** A v2 update whose mask names only `iap_enabled`. */
const setIap = (time: string, enabled: boolean): Json =>
  v2Update(time, (service, request) => {
    if (enabled) service['iapEnabled'] = true;
    request['updateMask'] = 'iapEnabled';
  });

const v2Create = (iap: boolean): Json =>
  variant(synthetic('v2-CreateService'), (e) => {
    const service = (e.protoPayload['request'] as Record<string, unknown>)['service'] as Record<string, unknown>;
    if (iap) service['iapEnabled'] = true;
  });

async function disabled(entries: readonly unknown[], cfg = config()) {
  return (await findingsOf(entries, cfg)).filter((f) => f.rule === 'iap-disabled');
}

describe('iap-disabled', () => {
  it.each([
    ['v1: IAP on, then a write that leaves the annotation out (same template: no new revision)', [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', undefined)], 'v1'],
    ['v1: IAP on, then "false" (a new revision too)', [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', 'false', { image: 'gcr.io/acme/other:2' })], 'v1'],
    ['v1: IAP on, then a request that turns it off where the response still says true', [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', 'false', { stored: 'true' })], 'v1'],
    ['v1: IAP on ("True", as Go parses booleans), then "0"', [v1Write('2024-05-04T10:00:00Z', 'True'), v1Write('2024-05-04T11:00:00Z', '0')], 'v1'],
    ['v2: created with IAP, then an update naming iapEnabled in its mask (false: left out of the JSON)', [v2Create(true), setIap('2024-06-01T11:00:00Z', false)], 'v2'],
    ['v2: created with IAP, then a full update without it', [v2Create(true), v2Update('2024-06-01T11:00:00Z', () => undefined)], 'v2'],
    ['v2: IAP turned on by a masked update, then off by another', [v2Create(false), setIap('2024-06-01T10:00:00Z', true), setIap('2024-06-01T11:00:00Z', false)], 'v2'],
  ])('fires: %s', async (_name, entries, api) => {
    const findings = await disabled(entries);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'MEDIUM', title: 'Identity-Aware Proxy turned off on a Cloud Run service', evidence: { before: 'IAP on', after: 'IAP off', api } });
    expect(findings[0]!.summary).toContain('Callers now face the invoker IAM check alone');
    expect(findings[0]!.evidence).not.toHaveProperty('publicInvokers');
  });

  it('fires HIGH when allUsers hold the invoker role: IAP was the only gate', async () => {
    const findings = await disabled([v1Write('2024-05-04T10:00:00Z', 'true'), allUsersGrantOn('2024-05-04T10:30:00Z', SLACK_BOT), v1Write('2024-05-04T11:00:00Z', 'false')]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'HIGH', evidence: { publicInvokers: ['allUsers'] } });
    expect(findings[0]!.summary).toContain('anyone on the internet can now call it');
  });

  it('fires HIGH when the same write turns the invoker IAM check off (v2)', async () => {
    const findings = await disabled([
      v2Create(true),
      v2Update('2024-06-01T11:00:00Z', (service, request) => {
        service['invokerIamDisabled'] = true;
        request['updateMask'] = { paths: ['iap_enabled', 'invoker_iam_disabled'] };
      }),
    ]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'HIGH', evidence: { invokerIamDisabled: true } });
    expect(findings[0]!.summary).toContain('its invoker IAM check is off');
  });

  it.each([
    ['a service created without IAP', [v2Create(false)]],
    ['the first write seen has IAP off (nothing known before)', [v1Write('2024-05-04T11:00:00Z', 'false')]],
    ['IAP off, then off again', [v1Write('2024-05-04T10:00:00Z', undefined), v1Write('2024-05-04T11:00:00Z', 'false', { image: 'gcr.io/acme/other:2' })]],
    ['IAP on, then on again', [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', 'true', { image: 'gcr.io/acme/other:2' })]],
    ['IAP off, then turned on', [v1Write('2024-05-04T10:00:00Z', 'false'), v1Write('2024-05-04T11:00:00Z', 'true')]],
    ['v1: IAP on, then a request that leaves the annotation out of a service that keeps it (the response says true)', [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', undefined, { stored: 'true' })]],
    ['v1: IAP on, then a value that reads as neither true nor false', [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', 'yes')]],
    ['v1: IAP on, then an entry logged without its body', [v1Write('2024-05-04T10:00:00Z', 'true'), variant(v1Write('2024-05-04T11:00:00Z', undefined), (e) => { delete e.protoPayload['request']; delete e.protoPayload['response']; })]],
    [
      'v2: created with IAP, then an update whose mask leaves iap_enabled alone',
      [
        v2Create(true),
        v2Update('2024-06-01T11:00:00Z', (_service, request) => {
          request['updateMask'] = { paths: ['template.containers'] };
        }),
      ],
    ],
    ['IAP on, deleted, then created again with IAP', [v1Write('2024-05-04T10:00:00Z', 'true'), deleteServiceAt('2024-05-04T10:30:00Z', SLACK_BOT), v1Write('2024-05-04T11:00:00Z', 'true')]],
  ])('ignores: %s', async (_name, entries) => {
    expect(await disabled(entries)).toEqual([]);
  });

  it('ignores services covered by an exception, and does nothing when disabled', async () => {
    const entries = [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', 'false')];
    expect(await disabled(entries, config({ rules: { 'iap-disabled': { exceptions: [{ service: `${SLACK_BOT.project}/*` }] } } }))).toEqual([]);
    expect(await disabled(entries, config({ rules: { 'iap-disabled': { enabled: false } } }))).toEqual([]);
    expect((await disabled(entries, config({ rules: { 'iap-disabled': { severity: 'LOW' } } })))[0]?.severity).toBe('LOW');
  });

  it('is resolved when IAP is turned on again, or the service deleted; a write that keeps it off closes nothing', async () => {
    const open = [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', 'false')];
    const reenabled = await disabled([...open, v1Write('2024-05-04T12:00:00Z', 'true')]);
    expect(reenabled.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
    expect(reenabled[1]!.resolution?.reason).toBe('IAP guards it again');
    expect(reenabled[1]!.id).toBe(reenabled[0]!.id);
    const deleted = await disabled([...open, deleteServiceAt('2024-05-04T12:00:00Z', SLACK_BOT)]);
    expect(deleted.map((f) => f.resolution?.reason)).toEqual([undefined, 'the service was deleted']);
    expect((await disabled([...open, v1Write('2024-05-04T12:00:00Z', 'false', { image: 'gcr.io/acme/other:3' })])).map((f) => f.status ?? 'active')).toEqual(['active']);
  });

  it('a late entry compares with IAP before it in time, and is closed at once by the newer write that turned it on', async () => {
    // Arrival order: on at 10:00, on at 12:00, then the 11:00 write that turned it off, late.
    const late = [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T12:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', 'false')];
    const findings = await disabled(late);
    expect(findings.map((f) => [f.eventTime, f.status ?? 'active'])).toEqual([
      ['2024-05-04T11:00:00Z', 'active'],
      ['2024-05-04T11:00:00Z', 'resolved'],
    ]);
    expect(findings[1]!.resolution).toMatchObject({ time: '2024-05-04T12:00:00Z', reason: 'IAP guards it again' });
    const inOrder = await disabled([late[0]!, late[2]!, late[1]!]);
    expect(findings.map((f) => `${f.id} ${f.status ?? 'active'}`)).toEqual(inOrder.map((f) => `${f.id} ${f.status ?? 'active'}`));
  });

  // A write of the same template moments after a deploy joins that deploy's rollout as the burst's second write (gcloud
  // writes twice). Its IAP setting is its own: one that turns IAP off must be reported, by its principal at its time,
  // and one that turns it on again closes what the first write opened.
  it.each([
    [
      'a deploy with IAP on, then the same template with IAP off 10 s later, by someone else',
      ['true', 'false'],
      [['2024-05-04T11:00:10Z', 'mallory@example.com', 'active']],
    ],
    [
      'a deploy with IAP off, then the same template with IAP on again 10 s later',
      ['false', 'true'],
      [
        ['2024-05-04T11:00:00Z', 'masatonaka1989@gmail.com', 'active'],
        ['2024-05-04T11:00:00Z', 'masatonaka1989@gmail.com', 'resolved'],
      ],
    ],
  ])('a burst of writes of one template: %s', async (_name, [first, second], expected) => {
    const image = { image: 'gcr.io/acme/other:2' };
    const findings = await disabled([
      v1Write('2024-05-04T10:00:00Z', 'true'),
      v1Write('2024-05-04T11:00:00Z', first, image),
      byPrincipal(v1Write('2024-05-04T11:00:10Z', second, image), 'mallory@example.com'),
    ]);
    expect(findings.map((f) => [f.eventTime, f.principal, f.status ?? 'active'])).toEqual(expected);
  });

  // A deploy waits for its revision's system events (seconds live; the whole wait where they do not reach runwatch)
  // before it is recorded, but the IAP it set is in force from its write: a write that makes no revision, judged as it
  // comes, must be compared with it.
  it.each([
    ['v2: created with IAP, then turned off by a masked update 10 s later, the create still waiting', [v2Create(true), setIap('2024-06-01T10:00:10Z', false)], ['2024-06-01T10:00:10Z']],
    [
      'v2: IAP turned on by a deploy, then off by a masked update 30 s later, the deploy still waiting',
      [v2Create(false), v2Update('2024-06-01T11:00:00Z', (service) => void (service['iapEnabled'] = true)), setIap('2024-06-01T11:00:30Z', false)],
      ['2024-06-01T11:00:30Z'],
    ],
    [
      'v2: IAP turned off by a deploy, then kept off by a masked update 30 s later, the deploy still waiting: one finding, the deploy\'s',
      [v2Create(true), v2Update('2024-06-01T11:00:00Z', () => undefined), setIap('2024-06-01T11:00:30Z', false)],
      ['2024-06-01T11:00:00Z'],
    ],
  ])('a write judged while a deploy waits for its system events: %s', async (_name, entries, times) => {
    expect((await disabled(entries)).map((f) => f.eventTime)).toEqual(times);
  });

  it('one finding for a write seen twice', async () => {
    const write = v1Write('2024-05-04T11:00:00Z', 'false');
    expect(await disabled([v1Write('2024-05-04T10:00:00Z', 'true'), write, write])).toHaveLength(1);
  });

  // Deleting a service and creating it again under its name without IAP takes the gate away as surely as an
  // update: the name (and a load balancer's serverless NEG) now leads to a service IAP no longer guards.
  it.each([
    ['v1: created again without IAP where the deleted service had it', 'true', 1],
    ['v1: created again without IAP where the deleted service had none', 'false', 0],
  ])('%s', async (_name, before, count) => {
    const create = variant(v1Write('2024-05-04T11:00:00Z', undefined), (e) => {
      e.protoPayload['methodName'] = 'google.cloud.run.v1.Services.CreateService';
    });
    const findings = await disabled([v1Write('2024-05-04T10:00:00Z', before), deleteServiceAt('2024-05-04T10:30:00Z', SLACK_BOT), create]);
    expect(findings).toHaveLength(count);
    if (count > 0) {
      expect(findings[0]!.evidence['recreatedAfterDeleteAt']).toBe('2024-05-04T10:30:00.000Z');
      expect(findings[0]!.summary).toContain('created again without it');
    }
  });

  // UpdateService with `allowMissing` creates a service that does not exist. After the delete, one whose body does not
  // turn IAP on creates the service without it, whether or not its mask names iap_enabled (ingress-opened reads the
  // ingress of such an upsert the same way). Where the service exists, a mask that leaves IAP out leaves it as it was.
  describe('v2: created again by an UpdateService with allowMissing whose mask leaves iap_enabled out', () => {
    const deleteV2 = variant(deleteServiceAt('2024-06-01T11:00:00Z', { project: 'acme-prod', location: 'europe-west1', service: 'storefront' }), (e) => {
      e.protoPayload['methodName'] = 'google.cloud.run.v2.Services.DeleteService';
      e.protoPayload['resourceName'] = 'projects/acme-prod/locations/europe-west1/services/storefront';
    });
    const upsert = (time: string, key: string): Json =>
      v2Update(time, (_service, request) => {
        request[key] = true;
        request['updateMask'] = { paths: ['template.containers'] };
      });

    it.each(['allowMissing', 'allow_missing'])('%s: reported, compared with the deleted service', async (key) => {
      const findings = await disabled([v2Create(true), deleteV2, upsert('2024-06-01T11:05:00Z', key)]);
      expect(findings.map((f) => [f.eventTime, f.evidence['recreatedAfterDeleteAt']])).toEqual([['2024-06-01T11:05:00Z', '2024-06-01T11:00:00.000Z']]);
    });

    it('not where the service was not deleted', async () => {
      expect(await disabled([v2Create(true), upsert('2024-06-01T11:05:00Z', 'allowMissing')])).toEqual([]);
    });
  });

  it('a job or a worker pool has no IAP: their writes say nothing of it', async () => {
    const pool = variant(synthetic('workerpool-v2-UpdateWorkerPool'), (e) => {
      ((e.protoPayload['request'] as Record<string, unknown>)['workerPool'] as Record<string, unknown>)['iapEnabled'] = true;
    });
    const later = at(synthetic('workerpool-v2-UpdateWorkerPool'), '2030-01-01T00:00:00Z');
    expect(await disabled([pool, later])).toEqual([]);
  });
});

// A public invoker behind IAP reaches nothing until IAP goes: public-invoker-grant still reports the grant (the
// exposure is one setting away, and turning IAP off raises nothing new there), and says that IAP still guards it.
describe('public-invoker-grant on a service IAP guards', () => {
  const grants = async (entries: readonly unknown[]) => (await findingsOf(entries, config())).filter((f) => f.rule === 'public-invoker-grant');

  it.each([
    ['v1: allUsers granted the invoker role while IAP is on', [v1Write('2024-05-04T10:00:00Z', 'true'), allUsersGrantOn('2024-05-04T10:30:00Z', SLACK_BOT)], true],
    ['v1: allUsers granted the invoker role where IAP is off', [v1Write('2024-05-04T10:00:00Z', 'false'), allUsersGrantOn('2024-05-04T10:30:00Z', SLACK_BOT)], false],
    ['v1: allUsers granted after IAP was turned off', [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T10:15:00Z', 'false'), allUsersGrantOn('2024-05-04T10:30:00Z', SLACK_BOT)], false],
    [
      'v2: the invoker IAM check turned off on a service created with IAP',
      [
        v2Create(true),
        v2Update('2024-06-01T11:00:00Z', (service, request) => {
          service['invokerIamDisabled'] = true;
          request['updateMask'] = { paths: ['invoker_iam_disabled'] };
        }),
      ],
      true,
    ],
    [
      'v2: the invoker IAM check turned off by the same write that turns IAP off',
      [
        v2Create(true),
        v2Update('2024-06-01T11:00:00Z', (service, request) => {
          service['invokerIamDisabled'] = true;
          request['updateMask'] = { paths: ['invoker_iam_disabled', 'iap_enabled'] };
        }),
      ],
      false,
    ],
  ])('%s', async (_name, entries, behind) => {
    const findings = await grants(entries);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.severity).toBe('HIGH');
    if (behind) {
      expect(findings[0]!.evidence['behindIap']).toBe(true);
      expect(findings[0]!.summary).toContain('Identity-Aware Proxy still guards it');
    } else {
      expect(findings[0]!.evidence).not.toHaveProperty('behindIap');
      expect(findings[0]!.summary).not.toContain('Identity-Aware Proxy');
    }
  });
});

// What the service's write still waiting for its rollout set is in force from its time (revision.ts settingBefore):
// all of it, the invoker check that sets the severity too, as the live pipeline sees it once that rollout completed.
describe('iap-disabled: the invoker check a deploy still waiting for its rollout turned off', () => {
  const publicCreate = variant(v2Create(true), (e) => {
    ((e.protoPayload['request'] as Record<string, unknown>)['service'] as Record<string, unknown>)['invokerIamDisabled'] = true;
  });
  it.each([
    ['replay (the create waits for its system events)', findingsOf],
    ['live (the create completed before the update came)', findingsLive],
  ])('a masked update turning IAP off 10 s after a create that turned it on and the invoker check off is HIGH: %s', async (_name, run) => {
    const findings = (await run([publicCreate, setIap('2024-06-01T10:00:10Z', false)])).filter((f) => f.rule === 'iap-disabled');
    expect(findings.map((f) => [f.eventTime, f.severity, f.evidence['invokerIamDisabled']])).toEqual([['2024-06-01T10:00:10Z', 'HIGH', true]]);
  });
});

// A burst keeps at most a few of its later writes (rollout.ts SETTING_WRITES_LIMIT, each whole in the stored
// baseline): those that repeat what the write before them set go first, not the one that turned IAP off.
describe('iap-disabled: a burst of many writes', () => {
  const image = { image: 'gcr.io/acme/other:2' };
  const repeats = Array.from({ length: 9 }, (_, i) => v1Write(`2024-05-04T11:00:${String(20 + i * 4).padStart(2, '0')}Z`, 'false', image));
  it('IAP turned off 10 s into the burst, then nine writes that keep it off', async () => {
    const findings = await disabled([
      v1Write('2024-05-04T10:00:00Z', 'true'),
      v1Write('2024-05-04T11:00:00Z', 'true', image),
      byPrincipal(v1Write('2024-05-04T11:00:10Z', 'false', image), 'mallory@example.com'),
      ...repeats,
    ]);
    expect(findings.map((f) => [f.eventTime, f.principal])).toEqual([['2024-05-04T11:00:10Z', 'mallory@example.com']]);
  });
});

it('public-invoker-grant: allUsers granted while the create that turned IAP on still waits for its system events is behind IAP', async () => {
  const grant = allUsersGrantOn('2024-06-01T10:00:20Z', { project: 'acme-prod', location: 'europe-west1', service: 'storefront' });
  const findings = (await findingsOf([v2Create(true), grant], config())).filter((f) => f.rule === 'public-invoker-grant');
  expect(findings.map((f) => f.evidence['behindIap'])).toEqual([true]);
});

// The baseline keeps no IAP history until a write that turns IAP on is known (apply.ts guardKnown): a turn-off that
// came first is forgotten, so when the turn-on before it arrives late, the next turn-off is the one reported.
it('iap-disabled: a turn-on delivered after the turn-off that followed it was judged; the next turn-off is reported', async () => {
  // The masked turn-off at 10:00:10 is judged at once, before the create (10:00:00) that turned IAP on is known.
  const findings = await disabled([setIap('2024-06-01T10:00:10Z', false), v2Create(true), setIap('2024-06-01T10:00:30Z', false)]);
  expect(findings.map((f) => f.eventTime)).toEqual(['2024-06-01T10:00:30Z']);
});

// A grant delivered late (Pub/Sub delivers without order), after a newer write that turned IAP off was applied: the
// public reach the service already, so its finding must not say that IAP still guards it.
it.each([
  ['v1: IAP turned off at 11:00, the 10:30 grant delivered after it', [v1Write('2024-05-04T10:00:00Z', 'true'), v1Write('2024-05-04T11:00:00Z', 'false'), allUsersGrantOn('2024-05-04T10:30:00Z', SLACK_BOT)]],
  [
    'v2: IAP turned off by a masked update at 11:00, the 10:30 invoker check turned off delivered after it',
    [
      v2Create(true),
      setIap('2024-06-01T11:00:00Z', false),
      v2Update('2024-06-01T10:30:00Z', (service, request) => {
        service['invokerIamDisabled'] = true;
        request['updateMask'] = { paths: ['invoker_iam_disabled'] };
      }),
    ],
  ],
])('public-invoker-grant: not said to be behind IAP when a newer write, applied first, turned IAP off: %s', async (_name, entries) => {
  const findings = (await findingsOf(entries, config())).filter((f) => f.rule === 'public-invoker-grant');
  expect(findings).toHaveLength(1);
  expect(findings[0]!.evidence).not.toHaveProperty('behindIap');
  expect(findings[0]!.summary).not.toContain('Identity-Aware Proxy still guards it');
});

it('public-invoker-grant: a write that turns IAP on and the invoker check off, where IAP was off before, is behind IAP', async () => {
  const findings = (
    await findingsOf(
      [
        v2Create(true),
        setIap('2024-06-01T10:30:00Z', false),
        v2Update('2024-06-01T11:00:00Z', (service, request) => {
          service['iapEnabled'] = true;
          service['invokerIamDisabled'] = true;
          request['updateMask'] = { paths: ['iap_enabled', 'invoker_iam_disabled'] };
        }),
      ],
      config(),
    )
  ).filter((f) => f.rule === 'public-invoker-grant');
  expect(findings.map((f) => f.evidence['behindIap'])).toEqual([true]);
});

// A turn-on delivered after the newer turn-off that followed it, where IAP before the turn-on was unknown: that turn-off
// was judged against nothing known and raised nothing, though in timestamp order it turned off the IAP this write turned
// on. The late turn-on reports it for it (forNewerWrite), with the id timestamp order gives it, closed at once by the
// newer turn-on already known (as ingress-opened's late restriction does). Masked v2 updates, which make no revision, are
// judged as they come (a turn-on that waited for its rollout reports nothing for a newer write whose risk is gone: that
// write may have been judged against it meanwhile).
it('iap-disabled: a turn-on delivered after the newer turn-off it preceded reports that turn-off, closed at once by a newer turn-on', async () => {
  const entries = [setIap('2024-06-01T10:00:00Z', true), setIap('2024-06-01T11:00:00Z', false), setIap('2024-06-01T12:00:00Z', true)];
  const inOrder = await disabled(entries);
  expect(inOrder.map((f) => `${f.eventTime} ${f.status ?? 'active'}`)).toEqual(['2024-06-01T11:00:00Z active', '2024-06-01T11:00:00Z resolved']);
  for (const order of [[2, 1, 0]]) {
    const findings = await findingsLive(order.map((i) => entries[i]!));
    const live = findings.filter((f) => f.rule === 'iap-disabled');
    expect(live.map((f) => `${f.id} ${f.status ?? 'active'}`), order.join()).toEqual(inOrder.map((f) => `${f.id} ${f.status ?? 'active'}`));
    expect(live[0]!.summary).toContain('Reported from an older write that turned it on and arrived after it.');
    expect(live[0]!.evidence).toMatchObject({ before: 'IAP on', after: 'IAP off', reportedFrom: 'an older write that arrived later' });
    expect(live[1]!.resolution).toMatchObject({ time: '2024-06-01T12:00:00Z', reason: 'IAP guards it again' });
  }
});
