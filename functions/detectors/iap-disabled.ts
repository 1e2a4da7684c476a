// iap-disabled
//
// Reads:    Cloud Run deploys (v1 CreateService / ReplaceService, v2 CreateService / UpdateService) for whether
//           Identity-Aware Proxy guards the service (v1: the `run.googleapis.com/iap-enabled` annotation, off when the
//           request as written or the service as stored says so; v2: `iapEnabled`, which the JSON of a write that
//           sets it leaves out when false), and deletes.
// Alerts:   a write that turns IAP off on a service that IAP guarded before it. With IAP on, every request passes
//           IAP's access policy first (who may reach the service, and from where: context-aware access levels), and
//           only then the invoker IAM check, which IAP passes with its own service account. With IAP off, callers
//           face the invoker IAM check alone. It is a service setting: any write counts, with or without a new
//           revision, whether or not the revision becomes Ready.
//           A service deleted and created again under the name whose first write holding the risk (no write of the
//           re-created service known between the delete and it) is judged against the deleted service's value with the
//           risk, where that risk had a finding open at the delete (a value without it known before: the delete closed
//           it, "the service was deleted"), raises the finding again: its own time and id, `recreatedAfterDeleteAt`,
//           words that say the delete closed the old one (revision.ts riskClosedByDelete). Later writes that keep the
//           risk raise nothing more; a first write that ends it raises nothing.
// Options:  `rules.iap-disabled.exceptions` (principal, project, service globs), `severity`.
// Severity: MEDIUM; HIGH when the service can be called without an identity once IAP is gone (the public hold its
//           invoker role, or its invoker IAM check is off, as known from its baseline or this write): IAP was the
//           only gate, and anyone on the internet can now call it.
// Resolves: IAP turned on again by the newest entry about it (an older one that arrives late: the findings dated before
//           it, where a finding dated after it stands for IAP turned off again since; else all but the newest, which
//           stands for it: revision.ts settingRestored), or the service deleted. A
//           turn-off that arrives after a newer write turned IAP on again is reported and closed at once; one that
//           arrives after newer writes that keep it off stays open (it stands for their risk) and closes their open
//           findings judged against an IAP-on older than it, at their own time (revision.ts supersededFindings: IAP was
//           off before them; this write reports itself), unless a turn-on after them is known, or a late one standing
//           for newer writes' risk; where the service was deleted between the setting before them and this write, it is
//           the re-created service's first write before them and closes them whatever that setting was, late ones too
//           (they were judged against the deleted service's); so does one a newer write turned on again when IAP is off
//           again at the newest point and no open finding says so (the write that turned it off again was judged while
//           this one waited for its rollout, and raised nothing: revision.ts settingRiskInForce). A turn-on that
//           arrives after a newer write turned IAP off again where IAP was off or unknown (that write raised nothing)
//           reports that write's finding for it (turnedOffAfter, forNewerWrite: its time and id, principal unknown),
//           closed at once by a newer turn-on or a delete after it; across a delete too (an older write of the deleted
//           service that turned IAP on, or a re-created write between, arriving after the re-created write that turned
//           it off again). A delete that arrives after entries about the service created again closes the findings
//           dated before it and none of the re-created service's (revision.ts closedByDelete), as in timestamp order,
//           where the re-created service is compared with the deleted one's IAP setting: its write that kept IAP off
//           raised nothing there either. Unless IAP was on just before the delete or by a re-created write since, and
//           the newest entry turns it off again with no finding of its own: timestamp order reports that, and the
//           newest finding before the delete stays open for it (others close with the delete; revision.ts
//           reportedAgainAfterDelete; so too where the risk was held with a finding open at the delete, reported again
//           for the re-created service's first write in timestamp order), until an older write of the deleted service
//           that ended the risk, arriving later still, reports the re-created write's finding itself, or another
//           finding of the re-created service opens (engine.ts: then it is closed as the delete closed it).
// Blind spots: a service's first known write sets the baseline, so a service created (or first seen) without IAP
//           raises nothing. A service deleted and created again under the name without IAP is compared with the
//           deleted one (evidence `recreatedAfterDeleteAt`; a v2 UpdateService with `allowMissing` whose mask and body
//           leave IAP out, after a delete known and nothing since, created it without IAP too: engine.ts
//           createdByUpsert). A write whose entry does not show IAP (a v2 update mask
//           that leaves `iap_enabled` alone, a v1 entry logged without its body, an annotation value that reads as
//           neither true nor false) says nothing. IAP configured on a load balancer's backend service instead of on
//           the Cloud Run service is not seen, nor are changes to the IAP access policy itself (IAP's own
//           SetIamPolicy). An invoker role granted to the public on the project, folder or organization is not
//           taken into account for the severity (public-invoker-grant reports it).
//           The finding a late turn-on reports for a newer write is left out when another IAP-on before that write is
//           known (it may have reported itself: arrival order is not kept; not for a write of the service created again
//           after its delete, where no finding of the rule is open: revision.ts newerWriteMayHaveReported,
//           closedOnlyByNewerEnd, a finding of this rule dated after the delete is closed only by a newer turn-on, a
//           delete, or an older turn-off that was the newest value before it: a report names the newer write's own id,
//           and at worst opens that finding again), or when a write after the turn-on still waits for its rollout and
//           sets IAP before that write, or turns it on at all, and its principal exceptions cannot apply (who made it
//           is unknown).
//           The baseline keeps no history of IAP until a write that turns IAP on is known (most services never
//           do): when that write arrives after later writes that turned IAP off, those are not compared with it (the
//           next such write is), and until then the service reads as guarded by IAP: a public invoker granted (or
//           the invoker check turned off) meanwhile is said to be behind IAP (public-invoker-grant `behindIap`).
//           A turn-off that arrives after newer writes that keep IAP off, one of them late itself (its finding stands
//           for a newer one's risk), leaves that late finding open beside its own (supersededFindings closes no late
//           one): two findings for one risk, with or without a delete between (unless the delete lies between that
//           turn-off and the setting before the late one, known when it arrives).
//           A late turn-off whose own finding a principal exception holds back closes none of the newer writes' findings
//           (none of its own would stand for their risk: engine.ts ownFindingHeldBack): one stays open where
//           timestamp order has only the exempt write's, held back, while the risk is in force all the same.
import { baselineKey } from '../baseline/store.js';
import { deletedBetween, pointAfter, pointAt, type ChangeInstant, type ServiceBaseline, type TimePoint } from '../baseline/state.js';
import type { DeployChange } from '../model/change.js';
import { DELETE_METHODS, DEPLOY_METHODS } from './methods.js';
import { callersEvidence, endedAfter, laterWriteWaiting, newerWriteAt, newerWriteMayHaveReported, riskClosedByDelete, serviceLabel, settingBefore, settingRestored, settingRiskInForce, supersededFindings, unauthenticatedCallers, unauthenticatedCallersAt, type UnauthenticatedCallers } from './revision.js';
import type { Detection, Detector, Resolved } from './types.js';

const TITLE = 'Identity-Aware Proxy turned off on a Cloud Run service';
const GUARDS_AGAIN = 'IAP guards it again';

/** What the finding says of who can call the service once IAP is off. */
function callersSentence(unauthenticated: UnauthenticatedCallers): string {
  return unauthenticated.why
    ? ` It can be called without an identity (${unauthenticated.why}): IAP was its only gate, and anyone on the internet can now call it.`
    : ' Callers now face the invoker IAM check alone: IAP access levels (device, network, context) no longer apply.';
}

/** Closed at once when a write newer than `at` turned IAP on again (revision.ts settingRiskInForce). */
function riskAt(baseline: ServiceBaseline | undefined, at: DeployChange | { readonly timeMs: number; readonly time: string }): Pick<Detection, 'opensRisk' | 'takenAwayLater' | 'heldByNewer'> {
  return settingRiskInForce(baseline, baseline?.iapEnabled, at, (enabled) => enabled, () => GUARDS_AGAIN, 'iap-disabled');
}

/**
 * A write that turns IAP on (`change`), arriving after a newer write turned it off again where IAP before `change` was
 * off or not known: that newer write was judged against it and raised nothing, though in timestamp order it turned off
 * the IAP this write turned on. Its finding is raised here, for it (its time, the dedup key it has in timestamp order,
 * forNewerWrite), from what the baseline keeps of it: its value and time, not its entry (as ingress-opened's
 * reopenedAfter). Nothing when IAP before `change` was on (the newer write reported itself), the point after this one
 * turns IAP on too, or the newer write may have reported itself (revision.ts newerWriteMayHaveReported).
 */
function turnedOffAfter(change: DeployChange, baseline: ServiceBaseline | undefined): Detection[] {
  const history = baseline?.iapEnabled;
  const next = pointAfter(history, change);
  if (next === undefined || next.v !== false) return [];
  if (settingBefore(baseline, history, change, (write) => write.iapEnabled)?.v === true) return [];
  const at = newerWriteAt(next);
  // A write after this one still waits for its rollout (the history after this one is not whole yet): one that sets
  // IAP before the newer write may be the first after this one (judged later, against it: it reports itself); one that
  // turns IAP on may end the newer write's risk.
  if (laterWriteWaiting(baseline, change, (write) => write.iapEnabled !== undefined, at)) return [];
  if (laterWriteWaiting(baseline, change, (write) => write.iapEnabled === true)) return [];
  // Its findings are closed only by a newer turn-on or a delete (no older write supersedes them).
  if (newerWriteMayHaveReported(baseline, history, change, at, (enabled) => enabled, (write) => write.iapEnabled, 'iap-disabled', true)) return [];
  const recreatedAfterDeleteAt = deletedBetween(baseline, pointAt(change, true), at);
  const unauthenticated = unauthenticatedCallersAt(baseline, at);
  return [
    {
      severity: unauthenticated.why ? 'HIGH' : 'MEDIUM',
      title: TITLE,
      summary:
        `A write at ${at.time} (its entry is not kept: who made it is unknown) turned Identity-Aware Proxy off on ${serviceLabel(change.target)}` +
        `${recreatedAfterDeleteAt ? ` (created again without it after the service that had it was deleted at ${recreatedAfterDeleteAt})` : ''}: requests no longer pass its access policy. ` +
        `Reported from an older write that turned it on and arrived after it.${callersSentence(unauthenticated)}`,
      evidence: {
        before: 'IAP on',
        after: 'IAP off',
        reportedFrom: 'an older write that arrived later',
        ...callersEvidence(unauthenticated),
        ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}),
      },
      dedupKey: [baselineKey(change.target), 'iap', at.time],
      unknown: ['principal', 'revision'],
      forNewerWrite: at,
      ...riskAt(baseline, at),
    },
  ];
}

/**
 * The first write of a service created again under the name, with IAP off as the deleted service had it when it was
 * deleted (at `before`) with a finding for it open then: the delete closed that finding, and compared with the deleted
 * service this write changed nothing. It raises the finding again, its own (revision.ts riskClosedByDelete).
 */
function offAgainAfterDelete(change: DeployChange, before: TimePoint<boolean>, baseline: ServiceBaseline | undefined): Detection[] {
  const deletedAt = riskClosedByDelete(baseline, baseline?.iapEnabled, before, change, (enabled) => !enabled);
  if (deletedAt === undefined) return [];
  const who = change.principal?.id ?? 'An unknown principal';
  const unauthenticated = unauthenticatedCallers(change, baseline);
  return [
    {
      severity: unauthenticated.why ? 'HIGH' : 'MEDIUM',
      title: TITLE,
      summary: `${who} wrote ${serviceLabel(change.target)}, created again with Identity-Aware Proxy off, as the deleted service had it: the finding about the deleted service was closed by its delete at ${deletedAt}. Requests do not pass its access policy.${callersSentence(unauthenticated)}`,
      evidence: { before: 'IAP off', after: 'IAP off', api: change.api, ...callersEvidence(unauthenticated), recreatedAfterDeleteAt: deletedAt },
      dedupKey: [baselineKey(change.target), 'iap', change.time],
      ...riskAt(baseline, change),
    },
  ];
}

export const iapDisabled: Detector<'iap-disabled'> = {
  id: 'iap-disabled',
  title: TITLE,
  defaultSeverity: 'MEDIUM',
  methods: [...DEPLOY_METHODS, ...DELETE_METHODS],
  changeKinds: ['deploy', 'delete'],
  closedByDelete: true,
  serviceSettings: true,
  reportsForNewerWrites: true,
  detect({ change, baseline }): Detection[] {
    if (change.kind !== 'deploy') return [];
    if (change.iapEnabled === true) return turnedOffAfter(change, baseline);
    if (change.iapEnabled !== false) return [];
    const beforePoint = settingBefore(baseline, baseline?.iapEnabled, change, (write) => write.iapEnabled);
    if (beforePoint === undefined) return [];
    if (beforePoint.v !== true) return offAgainAfterDelete(change, beforePoint, baseline);
    // IAP on before was the deleted service's: the service was created again under the name without it.
    const recreatedAfterDeleteAt = deletedBetween(baseline, beforePoint, change);
    const who = change.principal?.id ?? 'An unknown principal';
    const unauthenticated = unauthenticatedCallers(change, baseline);
    const callers = callersSentence(unauthenticated);
    return [
      {
        severity: unauthenticated.why ? 'HIGH' : 'MEDIUM',
        title: TITLE,
        summary: `${who} turned Identity-Aware Proxy off on ${serviceLabel(change.target)}${recreatedAfterDeleteAt ? ` (created again without it after the service that had it was deleted at ${recreatedAfterDeleteAt})` : ''}: requests no longer pass its access policy.${callers}`,
        evidence: {
          before: 'IAP on',
          after: 'IAP off',
          api: change.api,
          ...callersEvidence(unauthenticated),
          ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}),
        },
        dedupKey: [baselineKey(change.target), 'iap', change.time],
        // A late entry: closed at once when a newer write already turned IAP on again.
        ...riskAt(baseline, change),
      },
    ];
  },
  resolves(input, open): Resolved[] {
    const { change, baseline } = input;
    // IAP was off before newer writes judged against an IAP-on older than this one: their findings were never so.
    if (change.kind === 'deploy' && change.iapEnabled === false) {
      const onAfter = (at: ChangeInstant): boolean => endedAfter(baseline, baseline?.iapEnabled, at, (write) => write.iapEnabled, (enabled) => enabled);
      return supersededFindings(change, baseline, open, baseline?.iapEnabled, (write) => write.iapEnabled, (enabled) => enabled, `IAP was off before it: an older write at ${change.time}, which arrived later, turned it off`, onAfter);
    }
    return GUARDED_AGAIN(input, open);
  },
};

const GUARDED_AGAIN = settingRestored((baseline) => baseline?.iapEnabled, (change) => change.iapEnabled === true, () => GUARDS_AGAIN, (enabled) => !enabled);
