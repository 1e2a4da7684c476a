// ingress-opened
//
// Reads:    Cloud Run deploys (v1 CreateService / ReplaceService, v2 CreateService / UpdateService) for the
//           service's ingress setting (v1: the `run.googleapis.com/ingress` annotation of the service as written,
//           else as stored; v2: `ingress`, its enum name or number), and deletes.
// Alerts:   a write that sets ingress to `all` (INGRESS_TRAFFIC_ALL) on a service whose ingress in force before it
//           was `internal`, `internal-and-cloud-load-balancing` or `none` (v2 INGRESS_TRAFFIC_NONE: no traffic at
//           all, a service shut off; shutting an opened service off resolves it): requests from the internet now reach it
//           directly, past the VPC perimeter or the load balancer in front of it (and its Cloud Armor policy or
//           IAP). It is a service setting: any write counts, with or without a new revision, whether or not the
//           revision becomes Ready.
//           A service deleted and created again under the name whose first write holding the risk (no write of the
//           re-created service known between the delete and it) is judged against the deleted service's value with the
//           risk, where that risk had a finding open at the delete (a value without it known before: the delete closed
//           it, "the service was deleted"), raises the finding again: its own time and id, `recreatedAfterDeleteAt`,
//           words that say the delete closed the old one (revision.ts riskClosedByDelete). Later writes that keep the
//           risk raise nothing more; a first write that ends it raises nothing.
// Options:  `rules.ingress-opened.exceptions` (principal, project, service globs), `severity`.
// Severity: MEDIUM; HIGH when the service can already be called without an identity (the public hold its invoker
//           role, or its invoker IAM check is off, as known from its baseline or this write): anyone on the
//           internet can then call it.
// Resolves: the ingress restricted again by the newest entry about it (an older one that arrives late: the findings
//           dated before it, where a finding dated after it stands for the ingress opened again since; else all but
//           the newest, which stands for it: revision.ts settingRestored), or the service deleted. An opening that
//           arrives after a newer write restricted it again is reported and closed at once;
//           one that arrives after newer writes that keep it open stays open with theirs; so does one a newer write
//           restricted again when the ingress is `all` again at the newest point and no open finding says so (the write
//           that opened it again was judged while this one waited for its rollout, and raised nothing:
//           settingRiskInForce). A restriction that arrives after a newer write set `all` again where the ingress was
//           `all` or unknown (that write raised nothing) reports that write's finding for it (reopenedAfter,
//           forNewerWrite: its time and id, principal unknown), closed at once by a newer restriction or a delete after
//           it. An opening that arrives after newer writes were judged against a restriction older than it closes their
//           open findings, at their own time (revision.ts supersededFindings: the ingress was `all` before them; this
//           write reports itself), unless a restriction after them is known (the finding stands for the ingress opened
//           again since); where the service was deleted between the ingress before them and this write, it is the
//           re-created service's first write before them and closes them whatever that ingress was, a late one standing
//           for their risk too: they were judged against the deleted service's). A delete that arrives after entries
//           about the service created again closes the findings dated before it and none of the re-created service's
//           (revision.ts closedByDelete), as in timestamp order, where the re-created service is compared with the
//           deleted one's ingress: its write that kept it `all` raised nothing there either. Unless the newest entry
//           sets `all` again with no finding of its own after the ingress was restricted just before the delete or by a
//           re-created write since, or was opened (with a finding) before the delete: timestamp order reports that, and
//           the newest finding before the delete stays open for it (revision.ts reportedAgainAfterDelete; others a late
//           entry left open beside it for the risk are closed by the delete, as in timestamp order), until an older
//           restriction of the deleted service, arriving later still, reports the re-created write's finding itself, or
//           another finding of the re-created service opens (engine.ts keptOpenByLateDelete: then it is closed as the
//           delete closed it).
// Blind spots: a service's first known write sets the baseline, so a service created with (or first seen at)
//           `all` raises nothing: `all` is Cloud Run's default. The finding a late restriction reports for a newer
//           write is left out when another restricted ingress before that write is known (it may have reported
//           itself: arrival order is not kept), or when its risk is gone already and the restriction waited for
//           its rollout (engine.ts: the newer write may have been judged against it and reported itself), or when a
//           write after the restriction still waits for its rollout and sets the ingress before that write, or
//           restricts it at all (what the history holds after the restriction is not whole yet), and its
//           principal exceptions cannot apply (who made it is unknown). When a restriction between a late opening
//           and the newer write whose finding it closed arrives later still, that finding (right after all) stays
//           closed and the late opening's stays open.
//           An opening that arrives after newer writes that keep the ingress `all`, one of them late itself (its
//           finding stands for a newer one's risk), leaves that late finding open beside its own (supersededFindings
//           closes no late one): two findings for one risk, with or without a delete between (unless the delete lies
//           between that opening and the ingress before the late one, known when it arrives).
//           A late opening whose own finding a principal exception holds back closes none of the newer writes' findings
//           (none of its own would stand for their risk: engine.ts ownFindingHeldBack): one stays open where
//           timestamp order has only the exempt write's, held back, while the risk is in force all the same.
//           (A service deleted and created again under the name is compared with the deleted one's ingress, evidence
//           `recreatedAfterDeleteAt`: a load balancer's
//           serverless NEG still sends to the name; a v2 UpdateService with `allowMissing` that leaves the ingress
//           out, after a delete known and nothing since, created the service at `all` too: engine.ts
//           createdByUpsert. One whose delete arrives after it says nothing.) A write whose entry does not show the
//           ingress (a v2 update mask that leaves it alone, a v1 entry logged without its body) says nothing. An
//           invoker role granted to the public on the project, folder or organization is not taken into account for
//           the severity (it is reported by public-invoker-grant). Network paths (VPC Service Controls, firewall
//           rules on a load balancer) are not seen.
//           A write that ended the risk (an older write of the deleted service, or a re-created write between) and
//           arrives after the re-created write that set it again reports that write's finding for it (reopenedAfter),
//           also where a value of the deleted service that ended the risk is known (revision.ts
//           newerWriteMayHaveReported: the first known write of the re-created service was judged against the deleted
//           one's values, and a finding of its own would be open still). Not where another re-created write between the
//           delete and it is known (it may have reported itself and had its finding closed since): the re-created
//           service can then be left with the risk and no finding open.
import { baselineKey } from '../baseline/store.js';
import { deletedBetween, pointAfter, pointAt, type ChangeInstant, type ServiceBaseline, type TimePoint } from '../baseline/state.js';
import type { DeployChange, Ingress } from '../model/change.js';
import { DELETE_METHODS, DEPLOY_METHODS } from './methods.js';
import { callersEvidence, endedAfter, laterWriteWaiting, newerWriteAt, newerWriteMayHaveReported, riskClosedByDelete, serviceLabel, settingBefore, settingRestored, settingRiskInForce, supersededFindings, unauthenticatedCallers, unauthenticatedCallersAt, type UnauthenticatedCallers } from './revision.js';
import type { Detection, Detector, Resolved } from './types.js';

/** What each restricted ingress kept out, in the words of the finding. */
const PERIMETER: Readonly<Record<Exclude<Ingress, 'all'>, string>> = {
  internal: 'its VPC networks',
  'internal-and-cloud-load-balancing': 'the load balancer in front of it (and its Cloud Armor policy or IAP)',
  none: 'an ingress setting that let no traffic in at all',
};

/** What the finding says of who can call the service with its ingress open. */
function callersSentence(unauthenticated: UnauthenticatedCallers): string {
  return unauthenticated.why ? ` It can be called without an identity (${unauthenticated.why}): anyone on the internet can call it.` : ' Callers still need the invoker role.';
}

/**
 * A restriction (`restricted`) that arrives after a newer write set the ingress to `all` again, where the ingress before
 * the restriction was `all` or not known: that newer write was judged against it and raised nothing, though in
 * timestamp order it opened the ingress this restriction had closed. Its finding is raised here, for it (its time,
 * the dedup key it has in timestamp order, forNewerWrite), from what the baseline keeps of it: its value and time, not
 * its entry. Nothing when the ingress before was restricted (the newer write reported itself) or the point after this
 * one restricts too.
 */
function reopenedAfter(change: DeployChange, restricted: Exclude<Ingress, 'all'>, baseline: ServiceBaseline | undefined): Detection[] {
  const next = pointAfter(baseline?.ingress, change);
  if (next === undefined || next.v !== 'all') return [];
  const before = settingBefore(baseline, baseline?.ingress, change, (write) => write.ingress)?.v;
  if (before !== undefined && before !== 'all') return [];
  const at = newerWriteAt(next);
  // A write after this one still waits for its rollout (the history after this one is not whole yet): one that sets
  // the ingress before the newer write may be the first after this one (judged later, against it: it reports itself);
  // one that restricts it may end the newer write's risk.
  if (laterWriteWaiting(baseline, change, (write) => write.ingress !== undefined, at)) return [];
  if (laterWriteWaiting(baseline, change, (write) => write.ingress !== undefined && write.ingress !== 'all')) return [];
  // It raised nothing only if it was judged against `all` or nothing: not when another restricted ingress before it is
  // known (it may have reported itself).
  if (newerWriteMayHaveReported(baseline, baseline?.ingress, change, at, (ingress) => ingress !== 'all', (write) => write.ingress, 'ingress-opened')) return [];
  const recreatedAfterDeleteAt = deletedBetween(baseline, pointAt(change, restricted), at);
  const unauthenticated = unauthenticatedCallersAt(baseline, at);
  const callers = callersSentence(unauthenticated);
  return [
    {
      severity: unauthenticated.why ? 'HIGH' : 'MEDIUM',
      title: 'Cloud Run service ingress opened to the internet',
      summary: `A write at ${at.time} (its entry is not kept: who made it is unknown) set the ingress of ${serviceLabel(change.target)} from ${restricted}${recreatedAfterDeleteAt ? ` (the deleted service's, before it was deleted at ${recreatedAfterDeleteAt} and created again)` : ''} to all: requests from the internet now reach it directly, past ${PERIMETER[restricted]}. Reported from an older write that set ${restricted} and arrived after it.${callers}`,
      evidence: {
        before: restricted,
        after: 'all',
        reportedFrom: 'an older write that arrived later',
        ...callersEvidence(unauthenticated),
        ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}),
      },
      dedupKey: [baselineKey(change.target), 'ingress', restricted, at.time],
      unknown: ['principal', 'revision'],
      forNewerWrite: at,
      // Closed at once when a write newer than it restricted the ingress again.
      ...settingRiskInForce(baseline, baseline?.ingress, at, (ingress) => ingress !== 'all', (ingress) => `its ingress is ${ingress} again`, 'ingress-opened'),
    },
  ];
}

/**
 * The first write of a service created again under the name, with the ingress `all` the deleted service had when it was
 * deleted (at `before`) and a finding for it open then: the delete closed that finding, and compared with the deleted
 * service this write changed nothing. It raises the finding again, its own (revision.ts riskClosedByDelete).
 */
function openAgainAfterDelete(change: DeployChange, before: TimePoint<string>, baseline: ServiceBaseline | undefined): Detection[] {
  const deletedAt = riskClosedByDelete(baseline, baseline?.ingress, before, change, (ingress) => ingress === 'all');
  if (deletedAt === undefined) return [];
  const who = change.principal?.id ?? 'An unknown principal';
  const unauthenticated = unauthenticatedCallers(change, baseline);
  return [
    {
      severity: unauthenticated.why ? 'HIGH' : 'MEDIUM',
      title: 'Cloud Run service ingress opened to the internet',
      summary: `${who} wrote ${serviceLabel(change.target)}, created again with its ingress \`all\`, as the deleted service had it: the finding about the deleted service was closed by its delete at ${deletedAt}. Requests from the internet reach it directly.${callersSentence(unauthenticated)}`,
      evidence: { before: 'all', after: 'all', api: change.api, ...callersEvidence(unauthenticated), recreatedAfterDeleteAt: deletedAt },
      dedupKey: [baselineKey(change.target), 'ingress', 'all', change.time],
      ...settingRiskInForce(baseline, baseline?.ingress, change, (ingress) => ingress !== 'all', (ingress) => `its ingress is ${ingress} again`, 'ingress-opened'),
    },
  ];
}

export const ingressOpened: Detector<'ingress-opened'> = {
  id: 'ingress-opened',
  title: 'Cloud Run service ingress opened to the internet',
  defaultSeverity: 'MEDIUM',
  methods: [...DEPLOY_METHODS, ...DELETE_METHODS],
  changeKinds: ['deploy', 'delete'],
  closedByDelete: true,
  serviceSettings: true,
  reportsForNewerWrites: true,
  detect({ change, baseline }): Detection[] {
    if (change.kind !== 'deploy') return [];
    if (change.ingress !== undefined && change.ingress !== 'all') return reopenedAfter(change, change.ingress, baseline);
    if (change.ingress !== 'all') return [];
    const beforePoint = settingBefore(baseline, baseline?.ingress, change, (write) => write.ingress);
    const before = beforePoint?.v as Ingress | undefined;
    if (before === undefined) return [];
    if (before === 'all') return openAgainAfterDelete(change, beforePoint!, baseline);
    // The ingress before is the deleted service's: the service was created again under the name.
    const recreatedAfterDeleteAt = deletedBetween(baseline, beforePoint!, change);
    const who = change.principal?.id ?? 'An unknown principal';
    const unauthenticated = unauthenticatedCallers(change, baseline);
    const callers = callersSentence(unauthenticated);
    return [
      {
        severity: unauthenticated.why ? 'HIGH' : 'MEDIUM',
        title: 'Cloud Run service ingress opened to the internet',
        summary: `${who} set the ingress of ${serviceLabel(change.target)} from ${before}${recreatedAfterDeleteAt ? ` (the deleted service's, before it was deleted at ${recreatedAfterDeleteAt} and created again)` : ''} to all: requests from the internet now reach it directly, past ${PERIMETER[before]}.${callers}`,
        evidence: {
          before,
          after: 'all',
          api: change.api,
          ...callersEvidence(unauthenticated),
          ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}),
        },
        dedupKey: [baselineKey(change.target), 'ingress', before, change.time],
        // A late entry: closed at once when a newer write already restricted the ingress again.
        ...settingRiskInForce(baseline, baseline?.ingress, change, (ingress) => ingress !== 'all', (ingress) => `its ingress is ${ingress} again`, 'ingress-opened'),
      },
    ];
  },
  resolves(input, open): Resolved[] {
    const { change, baseline } = input;
    // The ingress was `all` before newer writes judged against a restriction older than this one: their findings
    // were never so.
    if (change.kind === 'deploy' && change.ingress === 'all') {
      const restricted = (ingress: string): boolean => ingress !== 'all';
      const restrictedAfter = (at: ChangeInstant): boolean => endedAfter(baseline, baseline?.ingress, at, (write) => write.ingress, restricted);
      return supersededFindings(change, baseline, open, baseline?.ingress, (write) => write.ingress, restricted, `its ingress was all before it: an older write at ${change.time}, which arrived later, opened it`, restrictedAfter);
    }
    return RESTRICTED_AGAIN(input, open);
  },
};

const RESTRICTED_AGAIN = settingRestored(
  (baseline) => baseline?.ingress,
  (change) => change.ingress !== undefined && change.ingress !== 'all',
  (change) => `its ingress is ${change.ingress} again`,
  (ingress) => ingress === 'all',
);
