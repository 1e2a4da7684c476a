// default-url-enabled
//
// Reads:    Cloud Run deploys (v1 CreateService / ReplaceService, v2 CreateService / UpdateService) for whether the
//           service's default `*.run.app` URL is disabled (v1: the `run.googleapis.com/default-url-disabled`
//           annotation, on when the request as written or the service as stored says so; v2: `defaultUriDisabled`,
//           which the JSON of a write that sets it leaves out when false) and for its ingress, and deletes.
// Alerts:   a write that turns the default URL back on where it was disabled, on a service whose ingress (as the
//           write sets it, else as in force before it) lets the internet in (`all`, or unknown). A service behind an
//           external load balancer disables its default URL so that every request passes the load balancer (its
//           Cloud Armor policy, IAP on its backend service, its logging); with the URL on, anyone reaches the service
//           at its run.app address directly, past all of that. It is a service setting: any write counts, with or
//           without a new revision, whether or not the revision becomes Ready.
//           A service deleted and created again under the name whose first write holding the risk (no write of the
//           re-created service known between the delete and it) is judged against the deleted service's value with the
//           risk, where that risk had a finding open at the delete (a value without it known before: the delete closed
//           it, "the service was deleted"), raises the finding again: its own time and id, `recreatedAfterDeleteAt`,
//           words that say the delete closed the old one (revision.ts riskClosedByDelete). Later writes that keep the
//           risk raise nothing more; a first write that ends it raises nothing; nor where the
//           deleted service's ingress kept the internet out at its delete.
// Options:  `rules.default-url-enabled.exceptions` (principal, project, service globs), `severity`.
// Severity: MEDIUM; HIGH when the service can be called without an identity (the public hold its invoker role, or
//           its invoker IAM check is off, as known from its baseline or this write): the load balancer was the
//           only control in front of it.
// Resolves: the default URL disabled again, or the ingress set to internal or internal-and-cloud-load-balancing, by the
//           newest entry about it (an older one that arrives late: the findings dated before it, where a finding dated
//           after it stands for the URL turned on again since; else all but the newest, which stands for it:
//           revision.ts settingRestored), or the service deleted. A turn-on that arrives after a
//           newer write disabled the URL again is reported and closed at once; it stays open when the URL is on again
//           at the newest point and no open finding says so (the write that turned it on again was judged while this
//           one waited for its rollout, and raised nothing: revision.ts settingRiskInForce). A disable that arrives
//           after a newer write turned the URL on where it was on already or not known (that write raised nothing)
//           reports that write's finding for it (turnedOnAfter, forNewerWrite: its time and id, principal unknown),
//           closed at once by a newer disable or ingress restriction, or a delete after it. A turn-on that arrives
//           after newer writes were judged against a disable older than it closes their open findings, at their own
//           time (revision.ts supersededFindings: the URL was on before them; this write reports itself), unless a
//           disable or ingress restriction after them is known (the finding stands for the URL turned on again since);
//           where the service was deleted between the setting before them and this write, it is the re-created
//           service's first write before them and closes them whatever that setting was, a late one standing for their
//           risk too: they were judged against the deleted service's). Likewise an ingress restriction that arrives
//           after newer writes turning the URL on alone were judged against an older `all` closes their open findings
//           at their own time (ingressRestrictedBefore: in timestamp order they raised nothing), not one whose write
//           set the ingress; a late one (standing for newer turn-ons' risk) too while no ingress `all` after the
//           restriction is known. A delete that arrives after entries about the service created again closes the
//           findings dated before it and none of the re-created service's (revision.ts closedByDelete), as in timestamp
//           order, where the re-created service is compared with the deleted one's default URL setting: its write that
//           kept the URL on raised nothing there either. Unless the URL was disabled just before the delete or by a
//           re-created write since, and the newest entry turns it on again with no finding of its own: timestamp order
//           reports that, and the newest finding before the delete stays open for it (others close with the delete;
//           revision.ts reportedAgainAfterDelete; so too where the risk was held with a finding open at the delete,
//           reported again for the re-created service's first write in timestamp order), until an older write of the
//           deleted service that ended the risk, arriving later still, reports the re-created write's finding itself,
//           or another finding of the re-created service opens (engine.ts: then it is closed as the delete closed it).
// Blind spots: a service's first known write sets the baseline, so a service created (or first seen) with its
//           default URL on raises nothing: that is Cloud Run's default. A service deleted and created again under
//           the name with its URL on is compared with the deleted one (evidence `recreatedAfterDeleteAt`). A write
//           whose entry does not show the setting (a v2 update mask that leaves `default_uri_disabled` alone, a v1
//           entry logged without its body, an annotation value that reads as neither true nor false) says nothing.
//           A URL turned on while the ingress keeps the internet out (`internal`, `internal-and-cloud-load-balancing`)
//           raises nothing; restricting the ingress later resolves a finding (ingress-opened reports the ingress
//           opened again afterwards). Domain mappings (which also bypass a load balancer) are not read.
//           Until a write that disables the URL is known (most services never do), the baseline keeps only the two
//           newest writes that left it on: a disable that arrives after two or more of them reports none (the older
//           kept may have had others before it, the first after the disable). The finding a late disable reports for a
//           newer write is left out when another disable before that write is known (it may have reported itself:
//           arrival order is not kept), when a write after the disable still waits for its rollout and sets the URL
//           before that write, or disables it or restricts the ingress at all (what the history holds after the disable
//           is not whole yet), and its principal exceptions cannot apply (who made it is unknown). When a disable
//           between a late turn-on and the newer write whose finding it closed arrives later still, that finding (right
//           after all) stays closed and the late turn-on's stays open.
//           A turn-on that arrives after newer writes that keep the URL on, one of them late itself (its finding
//           stands for a newer one's risk), leaves that late finding open beside its own (supersededFindings closes no
//           late one): two findings for one risk, with or without a delete between (unless the delete lies between
//           that turn-on and the setting before the late one, known when it arrives).
//           A late turn-on whose own finding a principal exception holds back closes none of the newer writes' findings
//           (none of its own would stand for their risk: engine.ts ownFindingHeldBack): one stays open where
//           timestamp order has only the exempt write's, held back, while the risk is in force all the same.
//           A write that ended the risk (an older write of the deleted service, or a re-created write between) and
//           arrives after the re-created write that set it again reports that write's finding for it (turnedOnAfter),
//           also where a value of the deleted service that ended the risk is known (revision.ts
//           newerWriteMayHaveReported: the first known write of the re-created service was judged against the deleted
//           one's values, and a finding of its own would be open still). Not where another re-created write between the
//           delete and it is known (it may have reported itself and had its finding closed since): the re-created
//           service can then be left with the risk and no finding open.
import { normalizeTimestamp } from '../audit/entry.js';
import { baselineKey } from '../baseline/store.js';
import { changedAfter, deletedBetween, deletePoint, isBefore, pointAfter, pointAt, pointBefore, pointOf, type ChangeInstant, type ServiceBaseline, type TimePoint } from '../baseline/state.js';
import type { DeployChange, Ingress } from '../model/change.js';
import { DELETE_METHODS, DEPLOY_METHODS } from './methods.js';
import { callersEvidence, endedAfter, findingInstant, laterWriteWaiting, newerWriteAt, newerWriteMayHaveReported, riskClosedByDelete, riskInForce, serviceLabel, settingBefore, settingRestored, settingRiskInForce, supersededFindings, unauthenticatedCallers, unauthenticatedCallersAt, type UnauthenticatedCallers } from './revision.js';
import type { Detection, Detector, OpenFinding, Resolved } from './types.js';

const TITLE = 'Cloud Run default URL turned back on';

export const defaultUrlEnabled: Detector<'default-url-enabled'> = {
  id: 'default-url-enabled',
  title: TITLE,
  defaultSeverity: 'MEDIUM',
  methods: [...DEPLOY_METHODS, ...DELETE_METHODS],
  changeKinds: ['deploy', 'delete'],
  closedByDelete: true,
  serviceSettings: true,
  reportsForNewerWrites: true,
  detect({ change, baseline }): Detection[] {
    if (change.kind !== 'deploy') return [];
    if (change.defaultUrlDisabled === true) return turnedOnAfter(change, baseline);
    if (change.defaultUrlDisabled !== false) return [];
    const beforePoint = settingBefore(baseline, baseline?.defaultUrlDisabled, change, (write) => write.defaultUrlDisabled);
    if (beforePoint === undefined) return [];
    const ingress = change.ingress ?? (settingBefore(baseline, baseline?.ingress, change, (write) => write.ingress)?.v as Ingress | undefined);
    // The ingress keeps the internet out: the run.app URL refuses it too (ingress-opened reports opening it).
    if (ingress !== undefined && ingress !== 'all') return [];
    if (beforePoint.v !== true) return onAgainAfterDelete(change, beforePoint, ingress, baseline);
    const recreatedAfterDeleteAt = deletedBetween(baseline, beforePoint, change);
    return [
      urlOnFinding(change, baseline, ingress, 'default URL disabled', recreatedAfterDeleteAt, (who, callers) =>
        `${who} turned the default run.app URL of ${serviceLabel(change.target)} back on` +
        `${recreatedAfterDeleteAt ? ` (created again with it after the service that had it disabled was deleted at ${recreatedAfterDeleteAt})` : ''}: ` +
        `requests from the internet reach it at its run.app address directly, past the load balancer in front of it (its Cloud Armor policy, IAP, logging)${ingressNote(ingress)}.${callers}`,
      ),
    ];
  },
  resolves(input, open): Resolved[] {
    const restored = URL_DISABLED_AGAIN(input, open);
    if (restored.length > 0 || open.length === 0) return restored;
    const { change, baseline } = input;
    if (change.kind !== 'deploy') return [];
    // The URL was on before newer writes judged against a disable older than this one: their findings were never so.
    const urlOn = change.defaultUrlDisabled === false ? urlOnBefore(change, baseline, open) : [];
    // The ingress kept the internet out before newer writes judged against an older `all`: neither were their findings.
    const restrictedFirst = change.ingress !== undefined && change.ingress !== 'all' ? ingressRestrictedBefore(change, baseline, open) : [];
    const onBefore = [...urlOn, ...restrictedFirst];
    // The newest ingress known keeps the internet out: nobody reaches the run.app URL from outside any more.
    if (change.ingress === undefined || change.ingress === 'all' || changedAfter(baseline?.ingress, change)) return onBefore;
    const reason = ingressRestrictedReason(change.ingress);
    // Only findings older than the write: a deploy completed late (its rollout waited) is older than a turn-on
    // judged meanwhile, though no newer ingress is known yet.
    const restricted = open.filter((o) => (normalizeTimestamp(o.finding.eventTime)?.ms ?? Infinity) < change.timeMs).map((o) => ({ id: o.finding.id, reason }));
    return [...onBefore, ...restricted];
  },
};

/**
 * A disable (`change`) that arrives after a newer write turned the default URL on where it was on already or not known
 * (the service's first known value, Cloud Run's default): that newer write was judged against it and raised nothing,
 * though in timestamp order it turned on the URL this write had disabled. Its finding is raised here, for it (its
 * time, the dedup key it has in timestamp order: forNewerWrite), from what the baseline keeps of it (apply.ts
 * defaultUrlAfter): its value and time, not its entry. Nothing when the point after this one disables too, when the
 * newer write may have reported itself (another disable before it is known), or when the ingress at it kept the
 * internet out.
 */
function turnedOnAfter(change: DeployChange, baseline: ServiceBaseline | undefined): Detection[] {
  const history = baseline?.defaultUrlDisabled;
  const next = pointAfter(history, change);
  if (next === undefined || next.v !== false) return [];
  // The oldest point of several may have had others before it that are not kept (before a disable is known only the
  // two newest writes that left the URL on are: apply.ts defaultUrlAfter; after, HISTORY_LIMIT): the first write
  // after this one that turned the URL on is not known, and a finding for another would have another id.
  if (next === history![0] && history!.length > 1) return [];
  const at = newerWriteAt(next);
  // A write after this one still waits for its rollout (the history after this one is not whole yet): one that sets
  // the URL before the newer write may be the first after this one (judged later, against it: it reports itself); one
  // that disables it or restricts the ingress may end the newer write's risk.
  if (laterWriteWaiting(baseline, change, (write) => write.defaultUrlDisabled !== undefined, at)) return [];
  if (laterWriteWaiting(baseline, change, (write) => write.defaultUrlDisabled === true || (write.ingress !== undefined && write.ingress !== 'all'))) return [];
  if (newerWriteMayHaveReported(baseline, baseline?.defaultUrlDisabled, change, at, (disabled) => disabled, (write) => write.defaultUrlDisabled, 'default-url-enabled')) return [];
  const ingress = ingressAt(change, baseline, at);
  if (ingress !== undefined && ingress !== 'all') return [];
  const recreatedAfterDeleteAt = deletedBetween(baseline, pointAt(change, true), at);
  const unauthenticated = unauthenticatedCallersAt(baseline, at);
  return [
    {
      severity: unauthenticated.why ? 'HIGH' : 'MEDIUM',
      title: TITLE,
      summary:
        `A write at ${at.time} (its entry is not kept: who made it is unknown) turned the default run.app URL of ${serviceLabel(change.target)} back on` +
        `${recreatedAfterDeleteAt ? ` (created again with it after the service that had it disabled was deleted at ${recreatedAfterDeleteAt})` : ''}: ` +
        `requests from the internet reach it at its run.app address directly, past the load balancer in front of it (its Cloud Armor policy, IAP, logging)${ingressNote(ingress)}. ` +
        `Reported from an older write that disabled it and arrived after it.${callersSentence(unauthenticated)}`,
      evidence: {
        before: 'default URL disabled',
        after: 'default URL on',
        ingress: ingress ?? 'unknown',
        reportedFrom: 'an older write that arrived later',
        ...callersEvidence(unauthenticated),
        ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}),
      },
      dedupKey: [baselineKey(change.target), 'default-url', at.time],
      unknown: ['principal', 'revision'],
      forNewerWrite: at,
      // Closed at once when a write newer than it disabled the URL again or restricted the ingress.
      ...risk(baseline, at),
    },
  ];
}

/**
 * A write that turns the URL on (`change`), arriving after newer writes were judged against a disable older than it:
 * the URL was on before them, and their open findings are closed (revision.ts supersededFindings), unless a newer
 * disable or ingress restriction is known after them (the finding stands for the risk set again since).
 */
function urlOnBefore(change: DeployChange, baseline: ServiceBaseline | undefined, open: readonly OpenFinding[]): Resolved[] {
  const reason = `its default URL was on before it: an older write at ${change.time}, which arrived later, turned it on`;
  return supersededFindings(change, baseline, open, baseline?.defaultUrlDisabled, (write) => write.defaultUrlDisabled, (disabled) => disabled, reason, urlRiskEndedAfter(baseline));
}

/**
 * A write that restricts the ingress (`change`), arriving after newer writes that turned the URL on alone were judged
 * against an older ingress `all`: in timestamp order they were judged against this restriction and raised nothing, and
 * their open findings are closed, at their own time (revision.ts supersededFindings), unless a newer disable or ingress
 * restriction is known after them (the finding stands for the risk set again since). Not a finding whose own write set
 * the ingress (a point of the ingress history at its instant): it was judged against that, not the older one.
 */
function ingressRestrictedBefore(change: DeployChange, baseline: ServiceBaseline | undefined, open: readonly OpenFinding[]): Resolved[] {
  const ownIngress = (o: OpenFinding): boolean => {
    const at = findingInstant(o);
    return at === undefined || pointOf(baseline?.ingress, at) !== undefined;
  };
  const reason = `its ingress kept the internet out before it: an older write at ${change.time}, which arrived later, set it to ${change.ingress}`;
  const superseded = supersededFindings(change, baseline, open.filter((o) => !ownIngress(o)), baseline?.ingress, (write) => write.ingress, (ingress) => ingress === 'all', reason, urlRiskEndedAfter(baseline));
  // A finding a late turn-on opened for the risk newer writes hold (OpenFinding.late): none of them has it in timestamp
  // order either while no ingress `all` after this restriction is known (applied, or in a write still waiting).
  const openedAfter = endedAfter(baseline, baseline?.ingress, change, (write) => write.ingress, (ingress) => ingress === 'all');
  const late = openedAfter
    ? []
    : open.flatMap((o) => {
        const at = findingInstant(o);
        if (!o.late || at === undefined || ownIngress(o) || !isBefore(pointAt(change, undefined), at)) return [];
        return [{ id: o.finding.id, reason, time: o.finding.eventTime }];
      });
  return [...superseded, ...late];
}

/** Whether a write after an instant is known to have ended a turn-on's risk: the URL disabled, or the ingress restricted. */
function urlRiskEndedAfter(baseline: ServiceBaseline | undefined): (at: ChangeInstant) => boolean {
  return (at) =>
    endedAfter(baseline, baseline?.defaultUrlDisabled, at, (write) => write.defaultUrlDisabled, (disabled) => disabled) ||
    endedAfter(baseline, baseline?.ingress, at, (write) => write.ingress, (ingress) => ingress !== 'all');
}

/**
 * The ingress in force at a newer write known only from its point (at `at`): its own where the baseline holds one at
 * its instant, else the newest before it of the baseline's, the writes still waiting and the late write `change`'s.
 */
function ingressAt(change: DeployChange, baseline: ServiceBaseline | undefined, at: ChangeInstant): Ingress | undefined {
  const own = pointOf(baseline?.ingress, at);
  if (own) return own.v as Ingress;
  let point = settingBefore(baseline, baseline?.ingress, at, (write) => write.ingress);
  if (change.ingress !== undefined && (point === undefined || isBefore(point, change))) point = pointAt(change, change.ingress);
  return point?.v as Ingress | undefined;
}

function ingressNote(ingress: Ingress | undefined): string {
  return ingress === undefined ? ' (its ingress is not known here: this holds if it is all)' : '';
}

function callersSentence(unauthenticated: UnauthenticatedCallers): string {
  return unauthenticated.why ? ` It can be called without an identity (${unauthenticated.why}): the load balancer was the only control in front of it.` : ' Callers still need the invoker role.';
}

/**
 * A turn-on at `at` judged late: closed at once when a newer write already disabled the URL again or restricted the
 * ingress (unless the URL is on again at the newest point and no open finding says so: settingRiskInForce).
 */
function risk(baseline: ServiceBaseline | undefined, at: ChangeInstant): Risk {
  return earlierEnd(
    settingRiskInForce(baseline, baseline?.defaultUrlDisabled, at, (disabled) => disabled, () => URL_DISABLED_REASON, 'default-url-enabled'),
    riskInForce(baseline?.ingress, at, (newer) => newer !== 'all', ingressRestrictedReason),
  );
}

/**
 * The first write of a service created again under the name, with the default URL on as the deleted service had it when
 * it was deleted (at `before`), its ingress `all` (or unknown) then, with a finding for it open: the delete closed that
 * finding, and compared with the deleted service this write changed nothing. It raises the finding again, its own
 * (revision.ts riskClosedByDelete). Not where the deleted service's ingress kept the internet out at its delete: its
 * finding was closed by that restriction, not by the delete (ingress-opened reports the re-created service's `all`).
 */
function onAgainAfterDelete(change: DeployChange, before: TimePoint<boolean>, ingress: Ingress | undefined, baseline: ServiceBaseline | undefined): Detection[] {
  const deletedAt = riskClosedByDelete(baseline, baseline?.defaultUrlDisabled, before, change, (disabled) => !disabled);
  if (deletedAt === undefined) return [];
  const ingressAtDelete = pointBefore(baseline?.ingress, newerWriteAt(deletePoint(baseline)!))?.v;
  if (ingressAtDelete !== undefined && ingressAtDelete !== 'all') return [];
  return [
    urlOnFinding(change, baseline, ingress, 'default URL on', deletedAt, (who, callers) =>
      `${who} wrote ${serviceLabel(change.target)}, created again with its default run.app URL on, as the deleted service had it: the finding about the deleted service was closed by its delete at ${deletedAt}. ` +
      `Requests from the internet reach it at its run.app address directly, past the load balancer in front of it${ingressNote(ingress)}.${callers}`,
    ),
  ];
}

/**
 * A finding of the URL turned on by `change` itself (its principal, its time), worded by `summary` (given who made it and
 * the sentence on who can call the service): the severity by who can call it, the evidence, the id, and the risk
 * (a late entry: closed at once when a newer write already disabled the URL again or restricted the ingress).
 */
function urlOnFinding(
  change: DeployChange,
  baseline: ServiceBaseline | undefined,
  ingress: Ingress | undefined,
  before: string,
  recreatedAfterDeleteAt: string | undefined,
  summary: (who: string, callers: string) => string,
): Detection {
  const unauthenticated = unauthenticatedCallers(change, baseline);
  return {
    severity: unauthenticated.why ? 'HIGH' : 'MEDIUM',
    title: TITLE,
    summary: summary(change.principal?.id ?? 'An unknown principal', callersSentence(unauthenticated)),
    evidence: {
      before,
      after: 'default URL on',
      ingress: ingress ?? 'unknown',
      api: change.api,
      ...callersEvidence(unauthenticated),
      ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}),
    },
    dedupKey: [baselineKey(change.target), 'default-url', change.time],
    ...risk(baseline, change),
  };
}

const URL_DISABLED_REASON = 'its default URL is disabled again';
const URL_DISABLED_AGAIN = settingRestored((baseline) => baseline?.defaultUrlDisabled, (change) => change.defaultUrlDisabled === true, () => URL_DISABLED_REASON, (disabled) => !disabled);

function ingressRestrictedReason(ingress: string): string {
  return `its ingress is now ${ingress}: the internet no longer reaches its run.app URL`;
}

type Risk = ReturnType<typeof riskInForce>;

/** Of two readings of a late entry's risk, the one a newer entry ended first; else the first (the risk in force). */
function earlierEnd(a: Risk, b: Risk): Risk {
  if (!b.takenAwayLater) return a;
  if (!a.takenAwayLater) return b;
  return b.takenAwayLater.time < a.takenAwayLater.time ? b : a;
}
