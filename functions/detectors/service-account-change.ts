// service-account-change
//
// Reads:    Cloud Run Services.CreateService / ReplaceService (v1) and CreateService / UpdateService (v2), and their
//           job and worker pool counterparts (Jobs.CreateJob / ReplaceJob / UpdateJob, WorkerPools.*: README).
// Alerts:   the new revision runs as a different service account than the service's previous revision (from
//           the baseline); or a write sends traffic to an older revision by name (`gcloud run services update-traffic`;
//           a worker pool's instances, `gcloud beta run worker-pools update-instance-split`: its instance split is read
//           as traffic, and its findings say "instances") that runs as another identity than the newest revision
//           (trafficDetections); once a write sent the traffic
//           away from the newest revision's identity, the identities it went to are compared with (servingBefore): the
//           traffic sent forward again, or a new revision of the newest one's identity, fires; a new revision of the
//           identity the traffic went to alone (the fix after a rollback) does not. A service's first
//           deploy sets the baseline and never fires. A service deleted and created again under the name keeps this
//           history: the re-created service's first revision is compared with the deleted one's last, and the
//           finding's evidence then says `recreatedAfterDeleteAt`. A deploy that arrives after the newer revision just
//           after it, running as another identity than that revision where the one before it ran as that revision's,
//           reports that revision's change of identity for it, as timestamp order raises it (movedAfter, forNewerWrite:
//           its time and id, principal unknown, `evidence.reportedFrom`): not where timestamp order takes it for the fix
//           of a change still open, nor where it may have reported itself and been closed since, or been held back by
//           a principal exception (silentSince).
// Options:  `rules.service-account-change.exceptions`, `severity`.
// Severity: HIGH when the new identity is a default service account Google creates with Editor on the project
//           (the default compute SA, or the App Engine default SA `PROJECT_ID@appspot.gserviceaccount.com`);
//           MEDIUM otherwise.
// Resolves: a later revision that runs as another identity (back to the previous one raises no new finding,
//           unless it is back to a default SA: that move is reported HIGH however old the open finding is);
//           a deploy older than the newest known one (arriving late) resolves nothing, nor does a revision that
//           takes none of the traffic (its write's traffic list sends all of it to older revisions: `gcloud run
//           deploy --no-traffic`; a v2 update whose mask leaves the traffic, or a worker pool's `instance_splits`,
//           pinned to older revisions), which leaves
//           the revision reported serving: the next revision that serves closes
//           the finding when it runs as another identity than the one reported; a late change of identity
//           that a newer revision already changed again is reported and closed at once, and one that newer
//           revisions still run as stays open, closed by whatever closes theirs. A write that names the revisions
//           it sends traffic to closes the findings about identities none of them runs as (all of them known).
// Blind spots: a template without `serviceAccountName` runs as the default compute SA; where the entry does not
//           reveal the project number the evidence says "default compute SA", which then matches any spelled-out
//           default compute SA. Once the deploy's number is known (a v1 write, or its revision's events), another
//           project's default compute SA is a change. A v2 update whose mask leaves the template alone says nothing
//           about the identity and is skipped. Traffic is followed only to revisions whose deploy runwatch applied
//           (the baseline keeps the last REVISION_IDENTITY_LIMIT, by name or by the v1 generation that names them; a worker
//           pool's revisions by the name its client gave them, none where gcloud deployed it, its events not being read):
//           traffic moved to an older one raises nothing, and a traffic write that arrives after a newer write was
//           applied resolves nothing; its own finding is closed at once when a newer write took the traffic away from
//           its identity: a deploy that runs as another one (even one whose write kept the traffic where it was), or a
//           write whose traffic all goes to revisions known to run as others (the baseline's `serving`). Such a late
//           write that sent the traffic back to the identity before a change still open then raises nothing: what was
//           open is retraced from the deploys' history alone (reportedBeforeAt: not exceptions, nor traffic writes).
import { baselineKey } from '../baseline/store.js';
import { changedAfter, deletedBetween, identityOfRevision, indexBefore, isAfter, isLaterPoint, pointAfter, pointAt, pointBefore, pointTime, sameInstant, servedChangeAfter, servingIdentitiesOf, tookNoTrafficAt, valueBefore, writeMakesRevision, type ChangeInstant, type ServiceBaseline, type TimePoint } from '../baseline/state.js';
import type { RuleSettings } from '../config/types.js';
import { capitalized, DEFAULT_COMPUTE_SA_LABEL, describeServiceAccount, templateNounOf, type DeployChange, type RuntimeServiceAccount, type ServiceRef } from '../model/change.js';
import { DEPLOY_METHODS } from './methods.js';
import { closableBy, deployKey, hasPrincipalExceptions, laterWriteWaiting, newerWriteAt, openFindingAt, riskInForce, resourceNoun, serviceLabel, unknownDeployFacts } from './revision.js';
import type { Detection, Detector, Resolved } from './types.js';

const DEFAULT_COMPUTE = /^\d+-compute@developer\.gserviceaccount\.com$/;

function isDefaultCompute(described: string): boolean {
  return described === DEFAULT_COMPUTE_SA_LABEL || DEFAULT_COMPUTE.test(described);
}

/** The App Engine default service account: created by Google with the Editor role, like the compute one. */
const APP_ENGINE_DEFAULT = /@appspot\.gserviceaccount\.com$/i;

/**
 * Equal identities, treating "default compute SA" (this project's, number unknown) as equal to a spelled-out default:
 * any one while the project number is unknown, only the project's own once `projectNumber` is known (another
 * project's default compute SA is another identity, Editor on that project).
 */
function sameServiceAccount(a: string, b: string, projectNumber: string | undefined): boolean {
  if (a === b) return true;
  if (!isDefaultCompute(a) || !isDefaultCompute(b)) return false;
  if (a !== DEFAULT_COMPUTE_SA_LABEL && b !== DEFAULT_COMPUTE_SA_LABEL) return false;
  if (projectNumber === undefined) return true;
  return (a === DEFAULT_COMPUTE_SA_LABEL ? b : a) === `${projectNumber}-compute@developer.gserviceaccount.com`;
}

/**
 * A deploy that arrived late (a newer revision set the identity first) and moves the service back to the identity it
 * ran as before `before` took over: in timestamp order it is the fix of that change, which it resolves. Its open
 * finding cannot tell so here: the newer revision may have resolved it already, and this deploy would otherwise be
 * reported as a change of its own that nothing ever closes.
 */
function lateMoveBack(history: readonly TimePoint<string>[] | undefined, at: ChangeInstant, before: string, after: string, projectNumber: string | undefined): boolean {
  if (!history || !changedAfter(history, at)) return false;
  let i = indexBefore(history, at);
  while (i >= 0 && sameServiceAccount(history[i]!.v, before, projectNumber)) i--;
  return i >= 0 && sameServiceAccount(history[i]!.v, after, projectNumber);
}

export const serviceAccountChange: Detector<'service-account-change'> = {
  id: 'service-account-change',
  title: 'Runtime service account changed',
  defaultSeverity: 'MEDIUM',
  methods: DEPLOY_METHODS,
  changeKinds: ['deploy'],
  reportsForNewerWrites: true,
  detect({ change, baseline, settings }): Detection[] {
    if (change.kind !== 'deploy') return [];
    const traffic = trafficDetections(change, baseline);
    if (!change.serviceAccount) return traffic;
    const revision = [...revisionDetections(change, change.serviceAccount, baseline), ...movedAfter(change, change.serviceAccount, baseline, settings)];
    return traffic.length === 0 ? revision : [...revision, ...traffic];
  },
  resolves({ change, baseline }, open): Resolved[] {
    if (change.kind !== 'deploy') return [];
    // A write that names the revisions it sends traffic to: the identities they run as are the ones serving.
    const serving = change.traffic && (change.traffic.named.length > 0 || !change.serviceAccount) ? servingIdentitiesOf(baseline, change) : undefined;
    if (serving) {
      // An older write arriving late closes nothing: what the newer ones sent the traffic to is not known here.
      if (changedAfter(baseline?.serviceAccount, change) || serving.length === 0) return [];
      const projectNumber = change.target.projectNumber;
      const reason = servingReason(serving, change.target);
      return open.filter((o) => !serving.some((identity) => sameServiceAccount(String(o.finding.evidence['after']), identity, projectNumber))).map((o) => ({ id: o.finding.id, reason }));
    }
    // A revision that takes none of the traffic (--no-traffic, or a v2 update that leaves the traffic pinned to older
    // revisions) leaves the one the finding is about serving.
    if (!change.serviceAccount || change.takesNoTraffic || (change.keepsTraffic && trafficPinned(baseline, change))) return [];
    const now = describeServiceAccount(change.serviceAccount);
    const before = valueBefore(baseline?.serviceAccount, change);
    // Only the newest revision's identity closes anything: an older deploy arriving late, or one with nothing
    // known before it, does not.
    if (before === undefined || servedChangeAfter(baseline?.serviceAccount, change, baseline?.tookNoTraffic)) return [];
    const projectNumber = change.target.projectNumber;
    const reason = `runtime service account is now ${now}`;
    // A late deploy (only revisions that took no traffic came after it) closes what came before it.
    const earlier = closableBy(open, baseline?.serviceAccount, change);
    // The same identity as the revision before: what a finding left open by a revision that took no traffic
    // reported is over once a revision that serves runs as another one.
    if (sameServiceAccount(before, now, projectNumber)) {
      return earlier.filter((o) => !sameServiceAccount(String(o.finding.evidence['after']), now, projectNumber)).map((o) => ({ id: o.finding.id, reason }));
    }
    // The service no longer runs as the identity the finding reported: that risk is gone.
    return earlier.map((o) => ({ id: o.finding.id, reason }));
  },
};

/** The move of the identity a write's new revision runs as (the rule's first case). */
function revisionDetections(change: DeployChange, serviceAccount: RuntimeServiceAccount, baseline: ServiceBaseline | undefined): Detection[] {
  const beforePoint = pointBefore(baseline?.serviceAccount, change);
  if (beforePoint === undefined) return [];
  const after = describeServiceAccount(serviceAccount);
  const projectNumber = change.target.projectNumber;
  let before = beforePoint.v;
  let trafficNote = '';
  if (sameServiceAccount(before, after, projectNumber)) {
    // The newest revision already ran as this identity, but the traffic may have been sent away from it since (back to
    // the revisions before a reported change, whose finding that resolved): a new revision that takes it moves the
    // service to this identity again. (Unless an open finding reports it serving already.)
    const served = change.takesNoTraffic || change.keepsTraffic || !makesRevision(change, baseline) ? undefined : servingBefore(baseline, change);
    if (!served || served.some((identity) => sameServiceAccount(identity, after, projectNumber))) return [];
    if (openFindingNames(baseline, 'after', after, projectNumber)) return [];
    before = served[0]!;
    const share = shareNoun(change.target);
    trafficNote = ` (the identity its ${share} went to: its newest revision already ran as ${after}, but the ${share} had been sent back to older revisions)`;
  } else if (servedOnlyAs(servingBefore(baseline, change), after, projectNumber)) {
    // The traffic had been sent back to revisions that run as this identity alone (the rollback that resolved the
    // finding about the newest revision): the service already ran as it, and a new revision of it (the fix) moves nothing.
    return [];
  }
  const toDefault = serviceAccount.kind === 'default-compute';
  const toAppEngineDefault = !toDefault && APP_ENGINE_DEFAULT.test(after);
  // Back to the identity an open finding says the service had before: that is the fix, resolved, not a new risk.
  // Never for a default SA: an old finding about a move away from it must not hide a silent move back to Editor.
  const backToBefore =
    openFindingNames(baseline, 'before', after, projectNumber) ||
    lateMoveBack(baseline?.serviceAccount, change, before, after, projectNumber);
  if (backToBefore && !toDefault && !toAppEngineDefault) return [];
  const foreign = foreignDefaultNumber(after, toDefault, projectNumber) !== undefined;
  const note = identityNote(after, toDefault, toAppEngineDefault, projectNumber);
  // The identity before is the deleted service's: this is the first identity known of the service created again.
  const recreatedAfterDeleteAt = deletedBetween(baseline, beforePoint, change);
  const noun = resourceNoun(change.target);
  const beforeNote = recreatedAfterDeleteAt
    ? ` (its last ${templateNounOf(change.target.resourceType)}'s, before the ${noun} was deleted at ${recreatedAfterDeleteAt} and created again)`
    : trafficNote;
  return [
    {
      severity: toDefault || toAppEngineDefault ? 'HIGH' : 'MEDIUM',
      title: toDefault
        ? `${capitalized(noun)} now runs as ${foreign ? "another project's" : 'the'} default compute service account`
        : toAppEngineDefault
          ? `${capitalized(noun)} now runs as the App Engine default service account`
          : 'Runtime service account changed',
      summary: `${change.principal?.id ?? 'An unknown principal'} changed the runtime identity of ${serviceLabel(change.target)} from ${before}${beforeNote} to ${after}${note}.`,
      evidence: {
        before,
        after,
        toDefaultComputeServiceAccount: toDefault,
        toAppEngineDefaultServiceAccount: toAppEngineDefault,
        ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}),
      },
      dedupKey: [baselineKey(change.target), before, after, ...deployKey(change, baseline)],
      unknown: unknownDeployFacts(change).filter((f) => f !== 'serviceAccount'),
      // A late deploy (a newer revision already set the identity): closed at once when a newer one that took traffic
      // changed it again (a --no-traffic revision leaves this one serving, as in order).
      ...riskInForce(baseline?.serviceAccount, change, (identity) => !sameServiceAccount(identity, after, projectNumber), (identity) => `runtime service account is now ${identity}`, baseline?.tookNoTraffic),
    },
  ];
}

/**
 * A deploy that arrived late (a newer revision's identity was applied first) and runs as another identity than the
 * newer revision just after it: in timestamp order that revision was judged against this one, a change of identity.
 * Live it was judged against the revision before this deploy, of its own identity, and raised nothing (judged before
 * that one came, it was a change it reported, whose finding would be open still). Its finding is raised here for it
 * (forNewerWrite: its time, the dedup key timestamp order gives it, principal unknown), unless a finding of its time is
 * open, something since may have closed it or held it back (silentSince), or timestamp order takes it for the fix of
 * a change still open (reportedBeforeAt). Only from a deploy whose revision takes all the traffic, that the newer one
 * is then compared with alone.
 */
function movedAfter(change: DeployChange, serviceAccount: RuntimeServiceAccount, baseline: ServiceBaseline | undefined, settings: RuleSettings): Detection[] {
  const history = baseline?.serviceAccount;
  const next = pointAfter(history, change);
  const before = describeServiceAccount(serviceAccount);
  const projectNumber = change.target.projectNumber;
  if (next === undefined || sameServiceAccount(next.v, before, projectNumber)) return [];
  if (change.takesNoTraffic || change.keepsTraffic || (change.traffic?.named.length ?? 0) > 0 || !makesRevision(change, baseline)) return [];
  const previous = pointBefore(history, change);
  if (previous === undefined || !sameServiceAccount(previous.v, next.v, projectNumber)) return [];
  const at = newerWriteAt(next);
  // A write after this one still waits for its rollout: it may be the first after this one (judged later, against it:
  // it reports itself), or end the newer revision's risk.
  if (laterWriteWaiting(baseline, change, (write) => write.serviceAccount !== undefined)) return [];
  if (!silentSince(baseline, next, settings, projectNumber)) return [];
  const after = next.v;
  const toDefault = isDefaultCompute(after);
  const toAppEngineDefault = !toDefault && APP_ENGINE_DEFAULT.test(after);
  // Back to the identity before a change still open at its time (this deploy included: the newer revision is the first
  // after it): the fix, no finding. (Not `record`: a history keeps one point per millisecond, the newer one here.)
  const upToThis = [...history!.slice(0, indexBefore(history, change) + 1), pointAt(change, before)];
  const reportedBefore = reportedBeforeAt(upToThis, at, projectNumber);
  if (!toDefault && !toAppEngineDefault && reportedBefore !== undefined && sameServiceAccount(reportedBefore, after, projectNumber)) return [];
  const recreatedAfterDeleteAt = deletedBetween(baseline, pointAt(change, before), at);
  const noun = resourceNoun(change.target);
  return [
    {
      severity: toDefault || toAppEngineDefault ? 'HIGH' : 'MEDIUM',
      title: toDefault ? `${capitalized(noun)} now runs as the default compute service account` : toAppEngineDefault ? `${capitalized(noun)} now runs as the App Engine default service account` : 'Runtime service account changed',
      summary:
        `A deploy at ${at.time} (its entry is not kept: who made it is unknown) changed the runtime identity of ${serviceLabel(change.target)} from ${before}` +
        `${recreatedAfterDeleteAt ? ` (its last ${templateNounOf(change.target.resourceType)}'s, before the ${noun} was deleted at ${recreatedAfterDeleteAt} and created again)` : ''} to ${after}` +
        `${identityNote(after, toDefault, toAppEngineDefault, projectNumber)}. Reported from an older deploy that ran as ${before} and arrived after it.`,
      evidence: {
        before,
        after,
        toDefaultComputeServiceAccount: toDefault,
        toAppEngineDefaultServiceAccount: toAppEngineDefault,
        reportedFrom: 'an older write that arrived later',
        ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}),
      },
      dedupKey: [baselineKey(change.target), before, after, ...newerDeployKey(baseline, next)],
      unknown: ['principal', 'revision'],
      forNewerWrite: at,
      ...riskInForce(history, at, (identity) => !sameServiceAccount(identity, after, projectNumber), (identity) => `runtime service account is now ${identity}`, baseline?.tookNoTraffic),
    },
  ];
}

/**
 * True when the newer revision at `next` (movedAfter), had it reported a change of identity, would have its finding open
 * still, and it is not: no later deploy that took traffic runs as another identity, no later traffic write may have
 * sent the traffic away from it, and no principal exception could have held it back (who made it is not kept).
 */
function silentSince(baseline: ServiceBaseline | undefined, next: TimePoint<string>, settings: RuleSettings, projectNumber: string | undefined): boolean {
  if (hasPrincipalExceptions(settings)) return false;
  const at = newerWriteAt(next);
  if (openFindingAt(baseline, 'service-account-change', at.time)) return false;
  const other = (identity: string): boolean => !sameServiceAccount(identity, next.v, projectNumber);
  if ((baseline?.serviceAccount ?? []).some((point) => isAfter(point, at) && other(point.v) && !tookNoTrafficAt(point, baseline?.tookNoTraffic))) return false;
  return !(baseline?.serving ?? []).some((point) => isAfter(point, at) && (point.v.length === 0 || point.v.some(other)));
}

/**
 * What names the newer deploy at `point` in a dedup key (deployKey), from what the baseline kept of it: the revision
 * name its deploy recorded (RevisionIdentity.r), else its time.
 */
function newerDeployKey(baseline: ServiceBaseline | undefined, point: TimePoint<string>): string[] {
  const named = baseline?.revisionIdentities?.find((revision) => revision.r !== undefined && sameInstant(revision, point));
  return [named?.r ?? pointTime(point)];
}

/**
 * Traffic a write sends to older revisions by name (`gcloud run services update-traffic --to-revisions R=100`, a
 * canary share, a rollback in the console) that run as another identity than the service ran as before it: the
 * service serves as that identity again without a deploy to show it. Only revisions whose deploy runwatch applied are
 * judged (RevisionIdentity). The identity before is the newest revision's, as for a deploy, unless a write had sent
 * the traffic to other identities since (servingBefore): then also the latest revision's share of a write that makes
 * none (`--to-latest` after a rollback) moves the service. A share to an identity already serving, or the write's own
 * new revision's, raises nothing, nor does one an open finding already reports serving.
 */
function trafficDetections(change: DeployChange, baseline: ServiceBaseline | undefined): Detection[] {
  const traffic = change.traffic;
  if (!traffic) return [];
  const newest = valueBefore(baseline?.serviceAccount, change);
  if (newest === undefined) return [];
  const projectNumber = change.target.projectNumber;
  const served = servingBefore(baseline, change);
  const movedOff = sentAwayFrom(served, newest, projectNumber);
  // All of it to the latest revision, where it went before: nothing moves (most deploys; they pay no more).
  if (traffic.named.length === 0 && !movedOff) return [];
  const servingIdentities = served ?? [newest];
  const before = movedOff ? served[0]! : newest;
  const made = makesRevision(change, baseline);
  const own = change.serviceAccount && made ? describeServiceAccount(change.serviceAccount) : undefined;
  // The latest revision's share, where the write made none and the traffic had been moved off the newest revision.
  const latest = movedOff && !made && traffic.latestPercent > 0 ? [{ revision: change.revision, identity: newest, percent: traffic.latestPercent }] : [];
  const shares = [...latest, ...traffic.named.map((share) => ({ ...share, identity: identityOfRevision(baseline, share.revision, change.target.service, change) }))];
  const lateBefore = !movedOff && changedAfter(baseline?.serviceAccount, change) ? reportedBeforeAt(baseline?.serviceAccount, change, projectNumber) : undefined;
  const detections: Detection[] = [];
  for (const share of shares) {
    const after = share.identity;
    if (after === undefined || servingIdentities.some((identity) => sameServiceAccount(after, identity, projectNumber)) || (own !== undefined && sameServiceAccount(after, own, projectNumber))) continue;
    // Reported serving already (a revision deployed with --no-traffic, then given the traffic), or given twice here.
    if (openFindingNames(baseline, 'after', after, projectNumber) || detections.some((d) => d.evidence['after'] === after)) continue;
    const toDefault = isDefaultCompute(after);
    const toAppEngineDefault = !toDefault && APP_ENGINE_DEFAULT.test(after);
    // Back to the identity before a reported change: its fix, as a deploy back to it is (resolves closes the finding).
    // A write arriving after newer deploys (one of which may have closed that finding already) is told so by the
    // deploys' history (reportedBeforeAt), where it compares with the newest revision's identity.
    // Never for a default SA: that move is reported HIGH whatever it undoes.
    const backToBefore = openFindingNames(baseline, 'before', after, projectNumber) || (lateBefore !== undefined && sameServiceAccount(lateBefore, after, projectNumber));
    if (!toDefault && !toAppEngineDefault && backToBefore) continue;
    const isLatest = share === latest[0];
    const where = isLatest ? `its latest revision${share.revision !== undefined ? ` ${share.revision}` : ''}` : `its older revision ${share.revision}`;
    const shared = shareNoun(change.target);
    const was = movedOff ? `its ${shared} went to revisions that run as ${[...new Set(served)].join(', ')} before` : `its newest revision runs as ${before}`;
    const moved = capitalized(shared);
    detections.push({
      severity: toDefault || toAppEngineDefault ? 'HIGH' : 'MEDIUM',
      title: toDefault
        ? `${moved} moved to a revision that runs as the default compute service account`
        : toAppEngineDefault
          ? `${moved} moved to a revision that runs as the App Engine default service account`
          : `${moved} moved to a revision that runs as another service account`,
      summary:
        `${change.principal?.id ?? 'An unknown principal'} sent ${share.percent}% of the ${shared} of ${serviceLabel(change.target)} to ${where}, ` +
        `which runs as ${after}${identityNote(after, toDefault, toAppEngineDefault, projectNumber)}; ${was}.`,
      ...(share.revision !== undefined ? { revision: share.revision } : {}),
      evidence: {
        before,
        after,
        // (The latest revision's share is not `servingRevision`: the sinks' next steps send the traffic back to the latest.)
        ...(isLatest ? { servingLatestRevision: true } : share.revision !== undefined ? { servingRevision: share.revision } : {}),
        trafficPercent: share.percent,
        toDefaultComputeServiceAccount: toDefault,
        toAppEngineDefaultServiceAccount: toAppEngineDefault,
      },
      dedupKey: [baselineKey(change.target), before, after, 'traffic', share.revision ?? 'latest', change.time],
      // Open until traffic leaves the identity: a later write whose traffic goes to revisions that run as others.
      ...trafficRiskInForce(baseline, change, after, projectNumber),
    });
  }
  return detections;
}

/**
 * The identities the service's traffic went to just before `change` (ServiceBaseline.serving), when a write said so no
 * earlier than the newest revision was deployed: after traffic was sent to older revisions, those are what the service
 * runs as. Undefined when no such write is known (the newest revision's identity is the one in force).
 */
function servingBefore(baseline: ServiceBaseline | undefined, change: DeployChange): readonly string[] | undefined {
  const serving = pointBefore(baseline?.serving, change);
  if (!serving || serving.v.length === 0) return undefined;
  const deployed = lastDeployTakingTraffic(baseline, change);
  return deployed && isLaterPoint(deployed, serving) ? undefined : serving.v;
}

/**
 * The newest deploy before `change` (its serviceAccount point) whose write did not leave the traffic where it was
 * (ServiceBaseline.keptTraffic): a masked v2 update's new revision takes none, and what the service ran as is unchanged.
 */
function lastDeployTakingTraffic(baseline: ServiceBaseline | undefined, change: DeployChange): TimePoint<string> | undefined {
  const deploys = baseline?.serviceAccount;
  const kept = baseline?.keptTraffic;
  for (let i = indexBefore(deploys, change); i >= 0; i--) {
    const point = deploys![i]!;
    if (!kept?.some((k) => sameInstant(k, point))) return point;
  }
  return undefined;
}

/**
 * For a write arriving after newer deploys (their findings, open or closed, no longer tell what was open at its time):
 * the identity before the change of identity that, in timestamp order, was reported and still open just before `at`,
 * as the deploys' history says. Each move of the identity is reported, unless it goes back to the identity before the
 * move still open, which it closes (and never when back to a default SA, which is reported whatever it undoes).
 * Undefined when none was open. (Exceptions and traffic writes are not retraced: the history alone.)
 */
function reportedBeforeAt(history: readonly TimePoint<string>[] | undefined, at: ChangeInstant, projectNumber: string | undefined): string | undefined {
  const end = indexBefore(history, at);
  let open: string | undefined;
  for (let i = 1; i <= end; i++) {
    const from = history![i - 1]!.v;
    const to = history![i]!.v;
    if (sameServiceAccount(from, to, projectNumber)) continue;
    const toEditor = isDefaultCompute(to) || APP_ENGINE_DEFAULT.test(to);
    open = open !== undefined && !toEditor && sameServiceAccount(open, to, projectNumber) ? undefined : from;
  }
  return open;
}

/** True when an open finding of this rule names `identity` as its `side` (`after`: reported serving; `before`: undone). */
function openFindingNames(baseline: ServiceBaseline | undefined, side: 'before' | 'after', identity: string, projectNumber: string | undefined): boolean {
  return (baseline?.open ?? []).some((o) => o.rule === 'service-account-change' && sameServiceAccount(String(o.finding.evidence[side]), identity, projectNumber));
}

/** True when the traffic went to revisions (`served`, servingBefore) none of which runs as `newest`, the newest revision's identity. */
function sentAwayFrom(served: readonly string[] | undefined, newest: string | undefined, projectNumber: string | undefined): served is readonly string[] {
  return served !== undefined && newest !== undefined && !served.some((identity) => sameServiceAccount(identity, newest, projectNumber));
}

/** True when the traffic went to revisions that all run as `identity` (servingBefore; false when that is not known). */
function servedOnlyAs(served: readonly string[] | undefined, identity: string, projectNumber: string | undefined): boolean {
  return served !== undefined && served.every((each) => sameServiceAccount(each, identity, projectNumber));
}

/**
 * True when the traffic was sent away from the newest revision before `change` (servingBefore names identities, none
 * of them the newest revision's): a write that leaves the traffic as it was (DeployChange.keepsTraffic) keeps it there.
 */
function trafficPinned(baseline: ServiceBaseline | undefined, change: DeployChange): boolean {
  return sentAwayFrom(servingBefore(baseline, change), valueBefore(baseline?.serviceAccount, change), change.target.projectNumber);
}

/** Whether the write makes a revision that runs as an identity it says (baseline/state.ts writeMakesRevision). */
function makesRevision(change: DeployChange, baseline: ServiceBaseline | undefined): boolean {
  return change.serviceAccount !== undefined && writeMakesRevision(baseline, change);
}

/**
 * riskInForce for a traffic finding: a write arriving after newer ones were applied is closed at once when one of them
 * took the traffic away from `after`, as it would in timestamp order: the first of a deploy whose revision runs as
 * another identity (one that kept the traffic pinned here closes it too: not kept apart) and a write whose traffic all
 * goes to revisions that run as others (ServiceBaseline.serving). Otherwise it opens, held by the newer ones if any.
 */
function trafficRiskInForce(baseline: ServiceBaseline | undefined, change: DeployChange, after: string, projectNumber: string | undefined): Pick<Detection, 'opensRisk' | 'takenAwayLater' | 'heldByNewer'> {
  const other = (identity: string): boolean => !sameServiceAccount(identity, after, projectNumber);
  const byDeploy = baseline?.serviceAccount.find((point) => isAfter(point, change) && other(point.v));
  const byTraffic = baseline?.serving?.find((point) => isAfter(point, change) && point.v.length > 0 && point.v.every(other));
  if (byDeploy && (!byTraffic || !isLaterPoint(byDeploy, byTraffic))) return { opensRisk: false, takenAwayLater: { time: pointTime(byDeploy), reason: `runtime service account is now ${byDeploy.v}` } };
  if (byTraffic) return { opensRisk: false, takenAwayLater: { time: pointTime(byTraffic), reason: servingReason(byTraffic.v, change.target) } };
  return changedAfter(baseline?.serviceAccount, change) || changedAfter(baseline?.serving, change) ? { opensRisk: true, heldByNewer: true } : { opensRisk: true };
}

/** Why a write's traffic (a worker pool's instances) closes a finding: the identities its revisions run as. */
function servingReason(identities: readonly string[], target: ServiceRef): string {
  return `its ${shareNoun(target)} now ${isWorkerPool(target) ? 'go' : 'goes'} to revisions that run as ${[...new Set(identities)].join(', ')}`;
}

/** What a write's traffic list shares out, in a finding's words: a service's traffic, a worker pool's instances. */
function shareNoun(target: ServiceRef): 'traffic' | 'instances' {
  return isWorkerPool(target) ? 'instances' : 'traffic';
}

function isWorkerPool(target: ServiceRef): boolean {
  return target.resourceType === 'worker-pool';
}

/**
 * The project number of another project's default compute SA (its number in the address: Editor there, not on this
 * project), or undefined: not a default compute SA, this project's, or this project's number unknown.
 */
function foreignDefaultNumber(after: string, toDefault: boolean, projectNumber: string | undefined): string | undefined {
  const number = toDefault && projectNumber !== undefined ? /^(\d+)-compute@/.exec(after)?.[1] : undefined;
  return number !== undefined && number !== projectNumber ? number : undefined;
}

/** What a finding adds after an identity Google made with Editor on the project (`` when it is none of those). */
function identityNote(after: string, toDefault: boolean, toAppEngineDefault: boolean, projectNumber: string | undefined): string {
  const foreignNumber = foreignDefaultNumber(after, toDefault, projectNumber);
  if (foreignNumber !== undefined) return ` (another project's default compute SA, Editor on project ${foreignNumber} by default)`;
  return toDefault ? ' (the default compute SA, Editor on the project by default)' : toAppEngineDefault ? ' (the App Engine default SA, Editor on the project by default)' : '';
}
