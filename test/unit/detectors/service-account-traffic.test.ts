// service-account-change through traffic: `gcloud run services update-traffic --to-revisions OLD=100` (a write that
// makes no revision) sends the service's requests back to an older revision, which runs as the identity it was
// deployed with. When that identity is not the one the service's newest revision runs as, the service is running as
// another identity again, with no deploy to show it: a rollback to the revision a finding was about, say, after the fix.
import { describe, expect, it } from 'vitest';
import { at, deleteServiceAt, editV1Services, generationDeploy, synthetic, trafficToRevision, v1TrafficWrite, variant, withV1Generation, withV1Image, type Json } from '../../support/entries.js';
import { config, findingsArriving, findingsOf } from '../../support/run.js';

const A = 'cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com';
const B = 'ci-admin@test-project-1234.iam.gserviceaccount.com';
const DEFAULT = '123456789012-compute@developer.gserviceaccount.com';
type Obj = Record<string, unknown>;

const toLatest = (percent = 100): Obj => ({ latestRevision: true, percent });

/** The storefront's runtime service account in the v2 fixtures. */
const S = 'storefront@acme-prod.iam.gserviceaccount.com';

/** A v2 UpdateService of the storefront at `time` naming its revision `revision`, running as `email` (`updateMask`: its mask). */
function v2Deploy(time: string, email: string, revision: string, updateMask?: string): Json {
  return variant(at(synthetic('v2-UpdateService'), time), (e) => {
    const request = e.protoPayload['request'] as Obj;
    const template = (request['service'] as Obj)['template'] as Obj;
    template['serviceAccount'] = email;
    template['revision'] = revision;
    if (updateMask) request['updateMask'] = updateMask;
  });
}

/** A v2 update of the storefront's `traffic` alone at `time`, with the list `traffic`. */
function v2Traffic(time: string, traffic: Obj[]): Json {
  return variant(at(synthetic('v2-UpdateService-traffic-only'), time), (e) => {
    ((e.protoPayload['request'] as Obj)['service'] as Obj)['traffic'] = traffic;
  });
}

/** All of the traffic to the storefront's revision `revision` (v2). */
const toV2Revision = (revision: string): Obj[] => [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision, percent: 100 }];

async function saFindings(entries: readonly unknown[]) {
  return (await findingsOf(entries, config())).filter((f) => f.rule === 'service-account-change');
}
const summary = (findings: Awaited<ReturnType<typeof saFindings>>) =>
  findings.map((f) => [f.status ?? 'active', f.evidence['before'], f.evidence['after'], f.evidence['servingRevision'] ?? null]);

// The history most cases start from: revision 2 ran as B, reported (A to B); revision 3 went back to A, which
// resolved it. Traffic sent back to revision 2 runs the service as B again, with no deploy to show it.
const history = () => [generationDeploy('2024-05-01T10:00:00Z', A, 1), generationDeploy('2024-05-02T10:00:00Z', B, 2), generationDeploy('2024-05-02T12:00:00Z', A, 3)];
const REPORTED = [
  ['active', A, B, null],
  ['resolved', A, B, null],
];
const TO_2 = 'cloud-run-slack-bot-00002-r02';

describe('service-account-change: traffic moved to an older revision', () => {
  it('fires: all traffic back to a revision that runs as another identity (v1 update-traffic)', async () => {
    const findings = await saFindings([...history(), v1TrafficWrite('2024-05-03T10:00:00Z', A, 4, [trafficToRevision(2)])]);
    expect(summary(findings)).toEqual([...REPORTED, ['active', A, B, TO_2]]);
    expect(findings[2]).toMatchObject({
      severity: 'MEDIUM',
      title: 'Traffic moved to a revision that runs as another service account',
      revision: TO_2,
      evidence: { trafficPercent: 100 },
    });
    expect(findings[2]!.summary).toBe(
      'masatonaka1989@gmail.com sent 100% of the traffic of test-project-1234/cloud-run-slack-bot (asia-northeast1) to its older revision cloud-run-slack-bot-00002-r02, which runs as ci-admin@test-project-1234.iam.gserviceaccount.com; its newest revision runs as cloud-run-slack-bot@test-project-1234.iam.gserviceaccount.com.',
    );
  });

  // The write's labels, provenance and image are its template's: the newest revision's, not the one the traffic went
  // to, whose own are not kept. The finding must not show them as that revision's.
  it('names no labels or provenance of the newest revision as the older one\'s', async () => {
    const withLabels = (entry: Json) =>
      editV1Services(entry, (svc) => {
        const meta = (svc['spec'] as { template: { metadata: Obj } }).template.metadata;
        meta['labels'] = { ...(meta['labels'] as Obj), 'commit-sha': '0123456789abcdef0123456789abcdef01234567', 'gcb-build-id': 'b-42' };
      });
    const entries = [...history().map(withLabels), withLabels(v1TrafficWrite('2024-05-03T10:00:00Z', A, 4, [trafficToRevision(2)]))];
    const traffic = (await saFindings(entries)).find((f) => f.evidence['servingRevision'] !== undefined);
    expect(traffic).toMatchObject({ revision: TO_2, labels: {}, provenance: {} });
    expect(traffic!.summary).not.toContain('provenance labels');
    expect(traffic!.evidence['unchangedProvenanceLabels']).toBeUndefined();
  });

  it('fires: a share of it (a canary of the old revision) counts', async () => {
    const findings = await saFindings([...history(), v1TrafficWrite('2024-05-03T10:00:00Z', A, 4, [toLatest(90), trafficToRevision(2, 10)])]);
    expect(summary(findings)).toEqual([...REPORTED, ['active', A, B, TO_2]]);
    expect(findings[2]!.evidence['trafficPercent']).toBe(10);
  });

  // The v1 API's TrafficTarget.latestRevision "must be false if RevisionName is set" and "defaults to true otherwise": a
  // client writing the REST body may leave it out of a target that follows the latest revision. Such a target must not
  // make the whole list unreadable, which hid the share sent to the old revision beside it.
  it.each([
    ['a tag on the latest revision, latestRevision left out', [trafficToRevision(2), { tag: 'candidate' }], 100],
    ['a share of the latest revision, latestRevision left out', [{ percent: 90 }, trafficToRevision(2, 10)], 10],
  ])('fires: %s (the REST default)', async (_name, traffic, percent) => {
    const findings = await saFindings([...history(), v1TrafficWrite('2024-05-03T10:00:00Z', A, 4, traffic)]);
    expect(summary(findings)).toEqual([...REPORTED, ['active', A, B, TO_2]]);
    expect(findings[2]!.evidence['trafficPercent']).toBe(percent);
  });

  // Even when the open finding reports the move away from it: back to Editor is never a fix.
  it('fires HIGH: back to a revision that runs as the default compute SA', async () => {
    const findings = await saFindings([generationDeploy('2024-05-01T10:00:00Z', undefined, 1), generationDeploy('2024-05-02T10:00:00Z', A, 2), v1TrafficWrite('2024-05-03T10:00:00Z', A, 3, [trafficToRevision(1)])]);
    expect(findings.map((f) => [f.status ?? 'active', f.severity, f.evidence['after']])).toEqual([
      ['active', 'MEDIUM', A],
      ['resolved', 'MEDIUM', A],
      ['active', 'HIGH', DEFAULT],
    ]);
    expect(findings[2]!.title).toBe('Traffic moved to a revision that runs as the default compute service account');
  });

  // A deploy waits for its revision's system events (the correlation wait); a traffic write of the same template that
  // comes seconds later joins its rollout and is judged after it, at its own time.
  it('fires: traffic moved seconds after a deploy that still waits for its system events', async () => {
    const image = 'gcr.io/test-project-1234/bot:2';
    const findings = await saFindings([...history(), generationDeploy('2024-05-03T10:00:00Z', A, 4, image), v1TrafficWrite('2024-05-03T10:00:05Z', A, 5, [trafficToRevision(2)], image)]);
    expect(summary(findings)).toEqual([...REPORTED, ['active', A, B, TO_2]]);
    expect(findings[2]!.eventTime).toBe('2024-05-03T10:00:05Z');
  });

  it('resolved: traffic back to the latest revision', async () => {
    const findings = await saFindings([...history(), v1TrafficWrite('2024-05-03T10:00:00Z', A, 4, [trafficToRevision(2)]), v1TrafficWrite('2024-05-04T10:00:00Z', A, 5, [toLatest()])]);
    expect(summary(findings)).toEqual([...REPORTED, ['active', A, B, TO_2], ['resolved', A, B, TO_2]]);
  });

  it('resolved: a new revision that takes the traffic', async () => {
    const findings = await saFindings([...history(), v1TrafficWrite('2024-05-03T10:00:00Z', A, 4, [trafficToRevision(2)]), generationDeploy('2024-05-04T10:00:00Z', A, 5)]);
    expect(summary(findings)).toEqual([...REPORTED, ['active', A, B, TO_2], ['resolved', A, B, TO_2]]);
  });

  // A rollback to the revision before a reported change is its fix, as a deploy back to that identity is.
  it('back to the revision before a reported change: no new finding, the open one is resolved', async () => {
    const findings = await saFindings([generationDeploy('2024-05-01T10:00:00Z', A, 1), generationDeploy('2024-05-02T10:00:00Z', B, 2), v1TrafficWrite('2024-05-03T10:00:00Z', B, 3, [trafficToRevision(1)])]);
    expect(summary(findings)).toEqual([
      ['active', A, B, null],
      ['resolved', A, B, null],
    ]);
    expect(findings[1]!.resolution?.reason).toBe(`its traffic now goes to revisions that run as ${A}`);
  });

  it('a deploy taking the traffic back from a revision reported serving (--no-traffic, then update-traffic) raises nothing twice', async () => {
    // Revision 2 runs as B and takes no traffic: reported (A to B) when deployed; moving the traffic to it is that change.
    const noTraffic = editV1Services(generationDeploy('2024-05-02T10:00:00Z', B, 2), (svc) => void ((svc['spec'] as Obj)['traffic'] = [trafficToRevision(1)]));
    const findings = await saFindings([generationDeploy('2024-05-01T10:00:00Z', A, 1), noTraffic, v1TrafficWrite('2024-05-03T10:00:00Z', B, 3, [trafficToRevision(2)])]);
    expect(summary(findings)).toEqual([['active', A, B, null]]);
  });

  // A reported change (A to B), its traffic sent back to the A revision (which resolves it, the fix), then the traffic
  // moved forward again to the B revision, or a new B revision deployed: the service runs as B once more. The identity
  // to compare with is the one the traffic went to, not the newest revision's (B all along): before, all three went
  // unreported, and the service ran as B with no open finding.
  describe('after the traffic was sent back to the identity before a reported change', () => {
    const rolledBack = () => [generationDeploy('2024-05-01T10:00:00Z', A, 1), generationDeploy('2024-05-02T10:00:00Z', B, 2), v1TrafficWrite('2024-05-02T11:00:00Z', B, 3, [trafficToRevision(1)])];
    const FIXED = [
      ['active', A, B, null],
      ['resolved', A, B, null],
    ];
    // Where the traffic went in between is not known (a revision runwatch never saw deployed): what the service ran as
    // before the move forward is unknown, and nothing is guessed from the write before it. (v2 writes of the traffic
    // alone: a v1 write's template tells the newest revision's identity, which ends what the rollback said.)
    it('no traffic finding: the traffic sent forward from a revision whose identity is not known (v2)', async () => {
      const findings = await saFindings([
        v2Deploy('2024-06-01T10:00:00Z', S, 'storefront-00001-one'),
        v2Deploy('2024-06-02T10:00:00Z', B, 'storefront-00002-two'),
        v2Traffic('2024-06-02T11:00:00Z', toV2Revision('storefront-00001-one')),
        v2Traffic('2024-06-02T11:30:00Z', toV2Revision('storefront-00000-old')),
        v2Traffic('2024-06-02T12:00:00Z', [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 }]),
      ]);
      expect(summary(findings)).toEqual([
        ['active', S, B, null],
        ['resolved', S, B, null],
      ]);
    });

    // A v2 update whose mask leaves `traffic` out keeps the traffic where it was: pinned to the A revision, the new B
    // revision takes none of it, and nothing moved. A full v2 write without a traffic list sends all of it to the latest.
    it.each([
      ['a v2 update whose mask leaves the traffic out: it stays on the A revision', 'template', []],
      ['a full v2 write without a traffic list: all of it goes to the new B revision', undefined, [['active', S, B, null]]],
    ])('%s', async (_name, mask, expected) => {
      const rollback = v2Traffic('2024-06-02T11:00:00Z', toV2Revision('storefront-00001-one'));
      const findings = await saFindings([
        v2Deploy('2024-06-01T10:00:00Z', S, 'storefront-00001-one'),
        v2Deploy('2024-06-02T10:00:00Z', B, 'storefront-00002-two'),
        rollback,
        v2Deploy('2024-06-02T12:00:00Z', B, 'storefront-00003-six', mask),
      ]);
      expect(summary(findings)).toEqual([['active', S, B, null], ['resolved', S, B, null], ...expected]);
    });

    it.each([
      ['the traffic sent to the latest revision again (update-traffic --to-latest)', () => v1TrafficWrite('2024-05-02T12:00:00Z', B, 4, [toLatest()]), null, 'Traffic moved to a revision that runs as another service account'],
      ['the traffic sent to the B revision by name', () => v1TrafficWrite('2024-05-02T12:00:00Z', B, 4, [trafficToRevision(2)]), TO_2, 'Traffic moved to a revision that runs as another service account'],
      ['a new revision deployed as B', () => withV1Image(generationDeploy('2024-05-02T12:00:00Z', B, 4), 'gcr.io/test-project-1234/bot:2'), null, 'Runtime service account changed'],
    ])('fires: %s', async (_name, write, revision, title) => {
      const findings = await saFindings([...rolledBack(), write()]);
      expect(summary(findings)).toEqual([...FIXED, ['active', A, B, revision]]);
      expect(findings[2]!.title).toBe(title);
    });

    // The fix after the rollback: a new revision back on the identity the traffic already runs as. The service never
    // left A; "changed from B to A" would page for the fix itself (before traffic was followed, the open finding's
    // `before` said so; the rollback resolved it, and only the newest revision's B was compared with).
    it.each([
      ['a new revision deployed as A that takes the traffic (v1)', () => [...rolledBack(), withV1Image(generationDeploy('2024-05-02T12:00:00Z', A, 4), 'gcr.io/test-project-1234/bot:2')], FIXED],
      [
        'a new revision deployed as A, the traffic left pinned to the A revision (gcloud run deploy keeps it)',
        () => [...rolledBack(), editV1Services(withV1Image(generationDeploy('2024-05-02T12:00:00Z', A, 4), 'gcr.io/test-project-1234/bot:2'), (svc) => void ((svc['spec'] as Obj)['traffic'] = [trafficToRevision(1)]))],
        FIXED,
      ],
      [
        'a new revision deployed as S that takes the traffic (v2)',
        () => [
          v2Deploy('2024-06-01T10:00:00Z', S, 'storefront-00001-one'),
          v2Deploy('2024-06-02T10:00:00Z', B, 'storefront-00002-two'),
          v2Traffic('2024-06-02T11:00:00Z', toV2Revision('storefront-00001-one')),
          v2Deploy('2024-06-02T12:00:00Z', S, 'storefront-00003-six'),
        ],
        [
          ['active', S, B, null],
          ['resolved', S, B, null],
        ],
      ],
    ])('no new finding: %s', async (_name, entries, expected) => {
      expect(summary(await saFindings(entries()))).toEqual(expected);
    });

    // Live, the rollback's write may arrive after the fix's: it is still the move back to the identity before the
    // reported change (its fix), which timestamp order does not report, whichever of them closed the finding.
    it('no new finding, with the same ids, when the rollback arrives after the new A revision', async () => {
      const [a1, b2, rollback] = rolledBack() as [Json, Json, Json];
      const fix = withV1Image(generationDeploy('2024-05-02T12:00:00Z', A, 4), 'gcr.io/test-project-1234/bot:2');
      const inOrder = await saFindings([a1, b2, rollback, fix]);
      const arrivals = [a1, b2, fix, rollback].map((e, i) => [e, `2030-01-01T0${i}:00:00Z`] as const);
      const arriving = (await findingsArriving(arrivals, config())).filter((f) => f.rule === 'service-account-change');
      expect(summary(inOrder)).toEqual(FIXED);
      expect(summary(arriving)).toEqual(FIXED);
      expect(arriving.map((f) => f.id)).toEqual(inOrder.map((f) => f.id));
    });

    // A v2 update whose mask leaves `traffic` out keeps the traffic on the S revision: what the service runs as is still
    // the S the rollback sent it to, not the new B revision's identity, for the writes after it too.
    describe('after a v2 update whose mask left the traffic pinned to the S revision', () => {
      const pinned = () => [
        v2Deploy('2024-06-01T10:00:00Z', S, 'storefront-00001-one'),
        v2Deploy('2024-06-02T10:00:00Z', B, 'storefront-00002-two'),
        v2Traffic('2024-06-02T11:00:00Z', toV2Revision('storefront-00001-one')),
        v2Deploy('2024-06-02T12:00:00Z', B, 'storefront-00003-six', 'template'),
      ];
      const SENT_BACK = [
        ['active', S, B, null],
        ['resolved', S, B, null],
      ];
      it('no new finding: another masked update, running as S (the fix)', async () => {
        expect(summary(await saFindings([...pinned(), v2Deploy('2024-06-02T13:00:00Z', S, 'storefront-00004-fix', 'template')]))).toEqual(SENT_BACK);
      });
      it('fires: the traffic then sent to the latest revision, which runs as B', async () => {
        const findings = await saFindings([...pinned(), v2Traffic('2024-06-02T13:00:00Z', [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 }])]);
        expect(summary(findings)).toEqual([...SENT_BACK, ['active', S, B, null]]);
        expect(findings[2]!.title).toBe('Traffic moved to a revision that runs as another service account');
      });
      it('the same finding, with the same id, when the masked update arrives after the move to the latest revision', async () => {
        const [s1, b2, rollback, masked] = pinned() as [Json, Json, Json, Json];
        const toLatestAgain = v2Traffic('2024-06-02T13:00:00Z', [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 }]);
        const inOrder = await saFindings([s1, b2, rollback, masked, toLatestAgain]);
        const arrivals = [s1, b2, rollback, toLatestAgain, masked].map((e, i) => [e, `2030-01-01T0${i}:00:00Z`] as const);
        const arriving = (await findingsArriving(arrivals, config())).filter((f) => f.rule === 'service-account-change');
        expect(summary(arriving)).toEqual(summary(inOrder));
        expect(arriving.map((f) => f.id)).toEqual(inOrder.map((f) => f.id));
      });
    });
  });

  it.each([
    ['traffic to a revision that runs as the same identity', () => [generationDeploy('2024-05-01T10:00:00Z', A, 1), generationDeploy('2024-05-02T10:00:00Z', A, 2), v1TrafficWrite('2024-05-03T10:00:00Z', A, 3, [trafficToRevision(1)])]],
    ['traffic to a revision runwatch never saw deployed', () => [generationDeploy('2024-05-02T10:00:00Z', A, 2), v1TrafficWrite('2024-05-03T10:00:00Z', A, 3, [trafficToRevision(1)])]],
    ['a tag on the old revision, no share', () => [...history(), v1TrafficWrite('2024-05-03T10:00:00Z', A, 4, [toLatest(), { revisionName: TO_2, tag: 'old' }])]],
    ['a deploy with --no-traffic: the revision before it keeps serving', () => [...history(), editV1Services(generationDeploy('2024-05-03T10:00:00Z', B, 4), (svc) => void ((svc['spec'] as Obj)['traffic'] = [trafficToRevision(3)]))]],
    ['the traffic list that already sent everything to the latest revision', () => [...history(), v1TrafficWrite('2024-05-03T10:00:00Z', A, 4, [toLatest()])]],
  ])('no traffic finding: %s', async (_name, entries) => {
    const findings = await saFindings(entries());
    expect(findings.filter((f) => f.evidence['servingRevision'] !== undefined)).toEqual([]);
  });

  // A service deleted and created again under the name numbers its revisions from 1 again: revision 1 of the deleted
  // service is not revision 1 of the new one.
  it('no traffic finding: a revision number of a deleted service, created again since', async () => {
    const target = { project: 'test-project-1234', location: 'asia-northeast1', service: 'cloud-run-slack-bot' };
    const findings = await saFindings([
      ...history(),
      deleteServiceAt('2024-05-02T12:00:00Z', target),
      generationDeploy('2024-05-03T10:00:00Z', A, 1),
      generationDeploy('2024-05-03T11:00:00Z', A, 2),
      generationDeploy('2024-05-03T12:00:00Z', A, 3),
      v1TrafficWrite('2024-05-04T10:00:00Z', A, 4, [trafficToRevision(2)]),
    ]);
    expect(findings.filter((f) => f.evidence['servingRevision'] !== undefined)).toEqual([]);
  });

  // A write that deploys a revision and pins the traffic to an older one (`gcloud run deploy --no-traffic` beside
  // `--to-revisions`, a console edit of both): the traffic finding is about the older revision, whose labels, commit
  // and image this write does not say. Before, it showed the new revision's (`Commit: ddd4` beside `Revision: ...-00002`).
  it("a finding about an older revision carries none of the write's own revision's labels, provenance or image", async () => {
    const cfg = config({ provenanceLabels: { commit: 'commit-sha', pipeline: 'build-id' } });
    const deployAndPin = editV1Services(withV1Image(generationDeploy('2024-05-03T10:00:00Z', A, 4), 'gcr.io/test-project-1234/bot@sha256:' + 'd'.repeat(64)), (svc) => {
      const meta = ((svc['spec'] as Obj)['template'] as Obj)['metadata'] as Obj;
      meta['labels'] = { ...(meta['labels'] as Obj), 'commit-sha': 'ddd4', 'build-id': 'b-4' };
      (svc['spec'] as Obj)['traffic'] = [trafficToRevision(2)];
    });
    const findings = (await findingsOf([...history(), deployAndPin], cfg)).filter((f) => f.rule === 'service-account-change');
    expect(summary(findings)).toEqual([...REPORTED, ['active', A, B, TO_2]]);
    const traffic = findings[2]!;
    expect(traffic.revision).toBe(TO_2);
    expect(traffic.labels).toEqual({});
    expect(traffic.provenance).toEqual({});
    expect(traffic.evidence['imageDigest']).toBeUndefined();
    expect(JSON.stringify(traffic)).not.toMatch(/ddd4|b-4|d{64}/);
  });

  // The console's "Manage traffic" writes the service back with its template named as the revision serving: a write of
  // the template in force, naming a revision that exists, makes none. Recorded as one, each such write took one of the
  // REVISION_IDENTITY_LIMIT slots: a few dozen tag edits pushed the reported revision out, and the rollback to it went
  // unreported.
  // The baseline keeps the identities of 64 revisions. Each identity's newest revision stays when older ones go: a
  // burst of deploys as A (a pipeline's busy week, or one meant to push the B revision out) must not hide a rollback to
  // the last revision that ran as B.
  it('fires: rollback to the last B revision after more than 64 deploys as A', async () => {
    const manyA = Array.from({ length: 70 }, (_, i) => generationDeploy(new Date(Date.parse('2024-05-02T13:00:00Z') + i * 60_000).toISOString(), A, 4 + i, `gcr.io/test-project-1234/bot:${4 + i}`));
    const findings = await saFindings([...history(), ...manyA, v1TrafficWrite('2024-05-03T10:00:00Z', A, 74, [trafficToRevision(2)], 'gcr.io/test-project-1234/bot:73')]);
    expect(summary(findings)).toEqual([...REPORTED, ['active', A, B, TO_2]]);
  });

  it('fires: rollback after many console traffic edits that name the revision serving (they make no revision)', async () => {
    const named = (entry: Json, generation: number): Json =>
      editV1Services(entry, (svc) => void ((((svc['spec'] as Obj)['template'] as Obj)['metadata'] as Obj)['name'] = `cloud-run-slack-bot-${String(generation).padStart(5, '0')}-x${generation}z`));
    const consoleDeploy = (time: string, email: string, generation: number) => named(generationDeploy(time, email, generation), generation);
    const edits = Array.from({ length: 70 }, (_, i) =>
      named(v1TrafficWrite(new Date(Date.parse('2024-05-03T00:00:00Z') + i * 60_000).toISOString(), A, 4 + i, [toLatest(), { revisionName: TO_2, tag: `t${i}` }]), 3),
    );
    const findings = await saFindings([
      consoleDeploy('2024-05-01T10:00:00Z', A, 1),
      consoleDeploy('2024-05-02T10:00:00Z', B, 2),
      consoleDeploy('2024-05-02T12:00:00Z', A, 3),
      ...edits,
      named(v1TrafficWrite('2024-05-04T10:00:00Z', A, 80, [trafficToRevision(2)]), 3),
    ]);
    expect(summary(findings)).toEqual([...REPORTED, ['active', A, B, TO_2]]);
  });

  // A target with no share sends nothing, wherever it points: one this reader cannot place (a v2 tag without a type) must
  // not make the shares beside it unknown, which hid the rollback.
  it('fires: a v2 rollback beside a tag target that names neither a type nor a revision (no share)', async () => {
    const rollback = v2Traffic('2024-06-03T10:00:00Z', [{ type: 2, revision: 'storefront-00002-two', percent: 100 }, { tag: 'preview' }]);
    const findings = await saFindings([
      v2Deploy('2024-06-01T10:00:00Z', S, 'storefront-00001-one'),
      v2Deploy('2024-06-02T10:00:00Z', B, 'storefront-00002-two'),
      v2Deploy('2024-06-02T12:00:00Z', S, 'storefront-00003-six'),
      rollback,
    ]);
    expect(summary(findings)).toEqual([
      ['active', S, B, null],
      ['resolved', S, B, null],
      ['active', S, B, 'storefront-00002-two'],
    ]);
  });

  // A revision is numbered after its configuration's generation, which only a change of the template moves on; the
  // service's generation (`response.metadata.generation`) also moves on with a write of the traffic alone. After one,
  // the response's status (one write stale: observedGeneration one below) names the latest revision created before the
  // write, numbered K: the write's revision is K+1, not the service's generation.
  describe('after a write of the traffic alone moved the service generation past the revision numbers', () => {
    const deployAfter = (time: string, email: string, generation: number, latestCreated: number) =>
      variant(generationDeploy(time, email, generation), (e) => {
        const status = (e.protoPayload['response'] as Obj)['status'] as Obj;
        status['observedGeneration'] = generation - 1;
        status['latestCreatedRevisionName'] = `cloud-run-slack-bot-${String(latestCreated).padStart(5, '0')}-q${latestCreated}q`;
      });
    // Revision 1 runs as A; a tag (generation 2, no revision); revision 2 as B (generation 3, reported), revision 3 as A
    // (generation 4, resolving it).
    const drifted = () => [
      generationDeploy('2024-05-01T10:00:00Z', A, 1),
      v1TrafficWrite('2024-05-01T11:00:00Z', A, 2, [toLatest(), { revisionName: 'cloud-run-slack-bot-00001-x1z', tag: 'stable' }]),
      deployAfter('2024-05-02T10:00:00Z', B, 3, 1),
      deployAfter('2024-05-02T12:00:00Z', A, 4, 2),
    ];

    it('fires: traffic back to revision 2, which runs as B', async () => {
      const findings = await saFindings([...drifted(), v1TrafficWrite('2024-05-03T10:00:00Z', A, 5, [trafficToRevision(2)])]);
      expect(summary(findings)).toEqual([...REPORTED, ['active', A, B, TO_2]]);
    });

    it('no traffic finding: traffic pinned to revision 3, the newest, which runs as A', async () => {
      const findings = await saFindings([...drifted(), v1TrafficWrite('2024-05-03T10:00:00Z', A, 5, [trafficToRevision(3)])]);
      expect(summary(findings)).toEqual(REPORTED);
    });
  });

  // gcloud's writes name no revision: its system events do. (The write's generation is moved off the revision's number,
  // so only the name the events gave can tie the traffic target to it.)
  it('fires: a revision named by its system events', async () => {
    const [write, ...events] = synthetic('seq-console-deploy') as unknown as Json[];
    const first = [withV1Generation(write!, 30), ...events]; // revision cloud-run-slack-bot-00023-kiv, running as A
    const C = 'release@test-project-1234.iam.gserviceaccount.com';
    const findings = await saFindings([
      ...first,
      generationDeploy('2024-05-07T10:00:00Z', B, 31),
      generationDeploy('2024-05-08T10:00:00Z', C, 32),
      v1TrafficWrite('2024-05-09T10:00:00Z', C, 33, [{ revisionName: 'cloud-run-slack-bot-00023-kiv', percent: 100 }]),
    ]);
    expect(summary(findings)).toEqual([
      ['active', A, B, null],
      ['resolved', A, B, null],
      ['active', B, C, null],
      ['resolved', B, C, null],
      ['active', C, A, 'cloud-run-slack-bot-00023-kiv'],
    ]);
  });

  // Live delivery out of order: the traffic write arrives after a newer deploy (revision 5, running as A, taking the
  // traffic) was applied. In timestamp order the deploy closes the traffic finding; arriving late, it is reported and
  // closed at once, with the same id.
  it('a traffic write arriving after a newer deploy: reported and closed at once, as in timestamp order', async () => {
    const traffic = v1TrafficWrite('2024-05-03T10:00:00Z', A, 4, [trafficToRevision(2)]);
    const newer = generationDeploy('2024-05-03T11:00:00Z', A, 5);
    const inOrder = await saFindings([...history(), traffic, newer]);
    const arriving = (await findingsArriving([...history().map((e) => [e, '2030-01-01T00:00:00Z'] as const), [newer, '2030-01-02T00:00:00Z'], [traffic, '2030-01-03T00:00:00Z']], config())).filter(
      (f) => f.rule === 'service-account-change',
    );
    expect(summary(inOrder)).toEqual([...REPORTED, ['active', A, B, TO_2], ['resolved', A, B, TO_2]]);
    expect(summary(arriving)).toEqual(summary(inOrder));
    expect(arriving.map((f) => f.id)).toEqual(inOrder.map((f) => f.id));
  });

  // The same with v2 writes of the traffic alone, which carry no identity: the newer one sent the traffic back to the
  // latest revision, so in timestamp order it closes the older one's finding. Arriving first, it left that finding,
  // reported after it, open in every sink for good (replay closed it).
  it('a v2 traffic write arriving after a newer one that sent the traffic back: reported and closed at once, as in timestamp order', async () => {
    const deploys = [v2Deploy('2024-06-01T10:00:00Z', S, 'storefront-00001-one'), v2Deploy('2024-06-02T10:00:00Z', B, 'storefront-00002-two'), v2Deploy('2024-06-02T12:00:00Z', S, 'storefront-00003-six')];
    const rollback = v2Traffic('2024-06-03T10:00:00Z', toV2Revision('storefront-00002-two'));
    const toLatestAgain = v2Traffic('2024-06-04T10:00:00Z', [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 }]);
    const inOrder = await saFindings([...deploys, rollback, toLatestAgain]);
    const arrivals = deploys.map((e, i) => [e, `2030-01-01T0${i}:00:00Z`] as const);
    const arriving = (await findingsArriving([...arrivals, [toLatestAgain, '2030-01-02T00:00:00Z'], [rollback, '2030-01-03T00:00:00Z']], config())).filter((f) => f.rule === 'service-account-change');
    expect(summary(inOrder)).toEqual([
      ['active', S, B, null],
      ['resolved', S, B, null],
      ['active', S, B, 'storefront-00002-two'],
      ['resolved', S, B, 'storefront-00002-two'],
    ]);
    expect(summary(arriving)).toEqual(summary(inOrder));
    expect(arriving.map((f) => f.id)).toEqual(inOrder.map((f) => f.id));
  });

  // A v2 update whose mask leaves the traffic out makes a revision that takes none of it while the traffic is pinned
  // to an older revision: the traffic finding about that revision is not over.
  it('a v2 update whose mask leaves the traffic out, made while the traffic is pinned, closes no traffic finding', async () => {
    const C = 'release@acme-prod.iam.gserviceaccount.com';
    const findings = await saFindings([
      v2Deploy('2024-06-01T10:00:00Z', S, 'storefront-00001-one'),
      v2Deploy('2024-06-02T10:00:00Z', B, 'storefront-00002-two'),
      v2Deploy('2024-06-02T12:00:00Z', S, 'storefront-00003-six'),
      v2Traffic('2024-06-03T10:00:00Z', toV2Revision('storefront-00002-two')),
      v2Deploy('2024-06-04T10:00:00Z', C, 'storefront-00004-ten', 'template'),
    ]);
    const traffic = findings.filter((f) => f.evidence['servingRevision'] === 'storefront-00002-two');
    expect(traffic.map((f) => f.status ?? 'active')).toEqual(['active']);
  });

  it('fires through the v2 API: revisions named by their writes, traffic moved by an update of `traffic` alone', async () => {
    const findings = await saFindings([
      v2Deploy('2024-06-01T10:00:00Z', S, 'storefront-00001-one'),
      v2Deploy('2024-06-02T10:00:00Z', B, 'storefront-00002-two'),
      v2Deploy('2024-06-02T12:00:00Z', S, 'storefront-00003-six'),
      v2Traffic('2024-06-03T10:00:00Z', toV2Revision('storefront-00002-two')),
      v2Traffic('2024-06-04T10:00:00Z', toV2Revision('storefront-00003-six')),
    ]);
    expect(summary(findings)).toEqual([
      ['active', S, B, null],
      ['resolved', S, B, null],
      ['active', S, B, 'storefront-00002-two'],
      ['resolved', S, B, 'storefront-00002-two'],
    ]);
  });
});
