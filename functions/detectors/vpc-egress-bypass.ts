// vpc-egress-bypass
//
// Reads:    Cloud Run deploys of services, jobs and worker pools (v1 CreateService / ReplaceService, v2
//           CreateService / UpdateService, and their job and worker pool counterparts) for the
//           revision's VPC egress (v1: the template annotations `run.googleapis.com/vpc-access-connector`,
//           `run.googleapis.com/network-interfaces` and `run.googleapis.com/vpc-access-egress`; v2:
//           `template.vpcAccess`; the revision's own annotations in the deploy's system events win), and deletes.
// Alerts:   a revision whose outbound traffic no longer all goes through the service's VPC network, where the
//           revision before sent all of it there (egress `all-traffic`): egress set to `private-ranges-only`, or
//           VPC access removed. Traffic to the internet then leaves Cloud Run directly, past the VPC's firewall
//           rules, its Cloud NAT (and the fixed addresses partners allow) and the VPC Service Controls perimeter
//           that only all-traffic egress enforces: a path to move data out. A service deleted and created again
//           under the name is compared with the deleted one's last revision (evidence `recreatedAfterDeleteAt`, when
//           the delete is known): deleting a service and creating it again with the defaults (no VPC access) would
//           otherwise hide the change. One created again whose first write (no write of it known between the delete and
//           it) keeps the egress narrowed or without VPC access, as the deleted one's last revision had it with a
//           narrowed finding open at the delete (an all-traffic revision known before: the delete closed it, "the
//           service was deleted"), raises the finding again: its own time and id, `recreatedAfterDeleteAt`, `before`
//           all-traffic as the closed one had it, words that say the delete closed the old one (revision.ts
//           riskClosedByDelete). Later writes that keep it raise nothing more; a first write that sends all traffic
//           through the VPC again raises nothing. A move is not raised again: a re-created service that keeps the
//           destination the deleted one moved to made no change of destination (what the move finding reports), and its
//           traffic still all goes through a VPC; a move from that destination is reported as any.
//           Also a revision that keeps all-traffic egress but sends it through another destination than the last
//           revision before it that sent all of its traffic through the VPC (the finding "Cloud Run egress moved to another network or connector", evidence `egress`
//           all-traffic, `before` and `after` the destinations): another connector, Direct VPC subnetwork or set of
//           network tags, or from a connector to Direct VPC or back (another path, through other firewall rules and NAT).
//           Its traffic to the internet then leaves through the firewall rules, Cloud NAT addresses and perimeter of a
//           network the deployer chose. Destinations are compared in one spelling (audit/vpc.ts vpcDestinationText): a
//           connector as `projects/P/locations/L/connectors/C` (a short name in the service's project and region); an
//           interface as its subnetwork (it says the network; a network alone means its subnetwork of the same name; a
//           short subnetwork name is in its network's project, kept with the network as written where that is not read)
//           with its tags lowercase, sorted, once each (one over 600 characters is cut and names a digest of the whole, so a
//           change past the cut counts). Any change of tags counts: egress firewall rules select on them both ways
//           (a deny rule on a removed tag, an allow rule on an added one). An egress narrowed and moved at once raises
//           the narrowed finding only (it says more; one page for one write).
// Options:  `rules.vpc-egress-bypass.exceptions` (principal, project, service globs), `severity`.
// Severity: MEDIUM.
// Resolves: a move: a newer revision that takes traffic back on the destination it left, or on one the chain of open
//           moves before it left (X to Y, then Y to Z: back on X ends both, as the service is where it was before the
//           chain began, and Y to Z must not stay open with the traffic on X; back on Y ends Y to Z only; on to W and then
//           back on Y ends Z to W and Y to Z), by the same machinery as below (late writes, system events, --no-traffic
//           revisions and instance splits end nothing), or the service deleted. A move back to the destination an open
//           move finding before it left is no new move (not one newer than it, judged before it came). (Not "any revision off its destination": after X to Y, Y to Z, Z to W, back
//           on Z would close X to Y, and a step back on Y then nothing, leaving the service off X with no finding open.)
//           A late all-traffic write whose next all-traffic write after it (judged before it came) went through another
//           destination reports that write's
//           move for it (movedAfter: its time and id, principal unknown, `reportedFrom`), where it was judged against no
//           destination before it (deploy X at 10:00, Y at 11:00, delivered Y first), or against another one and its
//           finding would be open now and is not (silentWhenJudged: a move's id does not name the destination before);
//           not where that write goes back where the late write's own move, or an open move before it, left, nor where
//           it does so in timestamp order with the late write in its place (movesOpenInOrder: the moves replayed from the
//           history, as the open findings may no longer hold one: a return closed as no move, X, Y, Y, X delivered
//           11:00, 13:00, 10:00, 12:00, is not reported again by 12:00). Closed at
//           once where a newer revision that took traffic already went back through the late write's destination, or the
//           service was deleted since (reported all the same from a service's deploy that waited for its rollout: the
//           rule reads the revisions applied, never a write still waiting, so the newer write was judged without the late
//           one: judgesAppliedRevisionsOnly).
//           An egress narrowed: a newer revision that sends all traffic through the VPC again and takes traffic (one
//           whose write sends all of it to older revisions, `gcloud run deploy --no-traffic` or a worker pool's
//           instance split pinning its instances to older revisions, leaves the one reported serving), or the
//           service deleted. A late all-traffic revision closes the findings about changes before it, whatever came
//           after it (not a newer revision's). A late revision whose egress a newer one that took traffic already sent
//           through the VPC again is reported and closed at once; one whose egress newer revisions keep stays open with
//           theirs. A late
//           all-traffic write that arrives after a newer write without it was judged against no all-traffic egress
//           (raising nothing: a job's and a worker pool's writes are judged as they arrive) reports that write's
//           finding for it (narrowedAfter, forNewerWrite: its time and id, principal unknown), closed at once by a newer
//           all-traffic revision that took traffic. Where another all-traffic egress before that write is known (it
//           may have been judged against it and reported itself), it is still reported when that finding would be open
//           now and is not (nothing since took the risk away, no delete, no principal exceptions configured:
//           silentWhenJudged), and left out otherwise; it is left out too when a write after the late one still waits
//           for its rollout, and its principal exceptions cannot apply (who made it is unknown).
//           A delete that arrives after entries about the service (job, worker pool) created again closes the findings
//           dated before it and none of the re-created one's (revision.ts closedByDelete), as in timestamp order,
//           where the re-created one is compared with the deleted one's egress. Where the re-created service's first
//           write kept a narrowed egress and raised nothing, judged without the delete, the delete reports its finding
//           raised again for it (narrowedAgainFor, forNewerWrite: its time and id, principal unknown, `reportedFrom`),
//           where it would be open now and is not (silentWhenJudged: it may have been judged against an all-traffic
//           egress of the deleted service and reported itself). So does an all-traffic write of the deleted service
//           that arrives after both and shows its finding open at the delete: always where no other all-traffic
//           revision before that narrowing is known (the first write then raised nothing), else as the delete does. A
//           narrowed write of the re-created service that arrives after a newer narrowed one was judged as its first
//           write, where the deleted service's egress was narrowed with its finding open at the delete, closes that
//           one's finding at its own time (notFirstAfterDelete): in timestamp order it is compared with the older
//           write's egress, and raises nothing.
// Blind spots: a service's first known revision sets the baseline, so a service created without VPC egress raises
//           nothing (the organization policy `run.allowedVPCEgress` is the control for that), unless an earlier service
//           under the name sent all of its traffic through the VPC. A re-created service judged before its delete
//           arrives is reported without `recreatedAfterDeleteAt`. The first write of a re-created service that kept a
//           narrowed egress is not reported by its delete that arrives late where a newer all-traffic revision ended its
//           risk before the delete came (it may have been judged against the deleted service's all-traffic egress and
//           reported itself, and a closed finding is not kept): timestamp order reports it, closed. One closed as no
//           longer the first write (notFirstAfterDelete) is reported again when an all-traffic write between the two,
//           arriving later still, shows it a narrowing after all (six entries: not in the property test). Console writes are logged without their containers:
//           one that removes VPC access entirely is seen only through its system events (one that keeps a connector and
//           narrows the egress is seen in the write); so is a v2 template (or job task spec) set whole but logged
//           without containers (a job has no system events: unknown). A v2 update mask that names only some fields of
//           `template.vpc_access`, and a v1 egress value that reads as neither setting, say nothing. A move is seen
//           only where the last revision before that sent all of its traffic through the VPC has a known destination
//           (not one stored by a version before destinations were kept). A narrowing in between is passed over:
//           all-traffic egress narrowed (or VPC access removed) and then sent all through another network raises the
//           narrowed finding, which the return to all-traffic resolves whatever its destination, and then a move. A
//           project written as its number where the revision before wrote its id reads as another destination, unless
//           it is the service's and the entry names its number (v1 entries and system events do, v2 ones not). A chain
//           is followed through the open move findings: one let go (OPEN_LIMIT) or closed by a delete breaks it, and
//           one made by a --no-traffic revision is a link all the same. A newer all-traffic write judged against an
//           older destination than timestamp order gives it keeps that finding as it was paged: A, B, C (three
//           destinations) delivered A, C, B report A to C (timestamp order's id, `before` A) and A to B; what it left
//           is read from the history as known now (movedFrom), so what closes it and what is no new move after it are
//           as in order (back on B closes it). One judged a move to where a late write between them had already gone is
//           closed at its own time when that write comes (noMoveInOrder): an extra finding, opened and closed. One
//           judged a move where in order it is the return that ends the move before it (X at 10:00, Y at 11:00, X at
//           12:00 delivered with 10:00 after 11:00 and 12:00: 12:00 judged, or reported by 11:00, as a move from Y) is
//           closed at its own time when 10:00 comes (returnInOrder), and a move after it is judged as in order; 11:00's
//           own move is reported, closed at once by 12:00. A write or a delete between them that arrives later still
//           can make it a move after all: it is then reported again (the same id active, resolved, active; seen with
//           --no-traffic writes and deletes in 5-write histories, not in the property test's seed). A property test
//           over every delivery order of short random histories (test/unit/vpc-egress-delivery-order-property.test.ts:
//           40 histories, each class of difference enumerated there with its count; any other difference fails it)
//           finds, left: a finding paged with another destination before keeps it (230: its id names none, and a paged
//           finding is not sent again); a narrowing judged against all-traffic egress before an older narrowing between
//           them arrived stays open where in order it is no finding (64; closing it when that narrowing comes would
//           reopen it when an all-traffic write between them comes later still, which shows it right after all: what
//           arrived when is not kept), also across a delete where the older narrowing is the re-created service's and the
//           deleted service's egress was all-traffic at its delete; and a move to where a late write between went, closed
//           by the delete before that write came (2).
import { baselineKey } from '../baseline/store.js';
import { beforeDelete, deletedBetween, deletePoint, indexBefore, isAfter, isBefore, isLaterPoint, pointAfter, pointAt, pointBefore, pointTime, record, sameInstant, tookNoTrafficAt, type ServiceBaseline, type TimePoint } from '../baseline/state.js';
import { someWaitingWrite } from '../correlate/rollout.js';
import type { RuleSettings } from '../config/types.js';
import { sameEntry, type Change, type DeployChange, type VpcEgress } from '../model/change.js';
import { DELETE_METHODS, DEPLOY_METHODS } from './methods.js';
import { closableBy, closedByDelete, datedBefore, findingInstant, findingOpenAt, hasPrincipalExceptions, laterWriteWaiting, newerWriteAt, newerWriteMayHaveReported, openFindingAt, riskClosedByDelete, riskInForce, resourceNoun, serviceLabel } from './revision.js';
import type { Detection, Detector, OpenFinding, Resolved } from './types.js';

/** What the new setting does, in the words of the finding. */
const NOW: Readonly<Record<Exclude<VpcEgress, 'all-traffic'>, string>> = {
  'private-ranges-only': 'only traffic to private addresses goes through the VPC now',
  none: 'its VPC access was removed',
};

const THROUGH_THE_VPC_AGAIN = 'all of its outbound traffic goes through the VPC again';

/** What leaves past the VPC now, in the words of the finding. */
const PAST_THE_VPC = "traffic to the internet leaves directly, past the VPC's firewall rules, Cloud NAT and VPC Service Controls";

const MOVED_TITLE = 'Cloud Run egress moved to another network or connector';

/** Why a revision back on the destination a move finding names closed it. */
const throughAgain = (destination: string): string => `all of its outbound traffic goes through ${destination} again`;

/**
 * A revision that keeps all-traffic egress but sends it through another destination than the last revision before it
 * that sent all of its traffic through the VPC (DeployChange.vpcDestination: another connector, subnetwork, or set of
 * network tags): its traffic to the internet leaves through another network's firewall rules, Cloud NAT addresses and
 * perimeter, which the deployer chose. Only where that revision's destination is known (an egress narrowed and moved
 * at once is the other finding, which says more: one page for the write, not two; a narrowing between them is passed
 * over, destinationBefore). Not a move back to the destination
 * an open move finding before it left: that ends its risk (resolves), served or not, and is no new one.
 */
function moved(change: DeployChange, baseline: ServiceBaseline | undefined): Detection[] {
  const after = change.vpcDestination;
  const before = destinationBefore(baseline, change);
  if (after === undefined || before === undefined || before.v === after) return [];
  // (An open move newer than this write, judged before it came, is not one it goes back from.)
  if ((baseline?.open ?? []).some((o) => o.rule === 'vpc-egress-bypass' && movedFrom(o, baseline) === after && findingBefore(o, change))) return [];
  const recreatedAfterDeleteAt = deletedBetween(baseline, before, change);
  const who = change.principal?.id ?? 'An unknown principal';
  return [
    {
      severity: 'MEDIUM',
      title: MOVED_TITLE,
      summary:
        `${who} deployed ${serviceLabel(change.target)}: all of its outbound traffic still goes through a VPC, but through ${after}, where it went through ${before.v}` +
        `${recreatedAfterDeleteAt ? ` (the deleted ${resourceNoun(change.target)}'s, before it was deleted at ${recreatedAfterDeleteAt} and created again)` : ''}: ` +
        `its traffic to the internet now leaves through that network's firewall rules, Cloud NAT addresses and VPC Service Controls perimeter, not the ones before.`,
      evidence: { egress: 'all-traffic', before: before.v, after, api: change.api, operation: change.operation, ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}) },
      dedupKey: [baselineKey(change.target), 'vpc-destination', after, change.time],
      // A late entry: closed at once when a newer revision that took the traffic already went back through `before`, or
      // a destination its chain of moves left before it.
      ...riskInForce(baseline?.vpcDestination, change, inSet(destinationsLeft(baseline, before.v, change)), throughAgain, baseline?.tookNoTraffic),
    },
  ];
}

/**
 * The destination of the newest revision before `at` that sent all of its traffic through the VPC, where it is known
 * (recorded with its egress point: the same instant). Revisions between them that narrowed the egress or removed VPC
 * access are passed over: `at`'s return to all-traffic resolves their finding whatever its destination, so a move made
 * through a narrowing (all traffic through A, then private ranges only, then all through B) would otherwise never be
 * reported.
 */
function destinationBefore(baseline: ServiceBaseline | undefined, at: { readonly timeMs: number; readonly time: string }): TimePoint<string> | undefined {
  const history = baseline?.vpcEgress;
  let i = indexBefore(history, at);
  while (i >= 0 && history![i]!.v !== 'all-traffic') i--;
  if (i < 0) return undefined;
  const egress = history![i]!;
  // Destinations are recorded for all-traffic points only: the newest one before `at` is this point's, or none is known.
  const destination = pointBefore(baseline?.vpcDestination, at);
  return destination !== undefined && destination.t === egress.t && (destination.n ?? 0) === (egress.n ?? 0) ? destination : undefined;
}

/**
 * The destination a move finding's revision left, undefined for an egress narrowed: the destination before its time as
 * the history knows it now (destinationBefore), else its evidence `before`. A newer write judged before an older one
 * between them arrived was compared with an older destination (X, Y, Z delivered X, Z, Y: Z reported as a move from X,
 * its id timestamp order's): what closes it, and what is no new move after it, are read as in timestamp order.
 */
function movedFrom(o: OpenFinding, baseline: ServiceBaseline | undefined): string | undefined {
  const { egress, before } = o.finding.evidence;
  if (egress !== 'all-traffic' || typeof before !== 'string') return undefined;
  const at = findingInstant(o);
  return (at !== undefined ? destinationBefore(baseline, at)?.v : undefined) ?? before;
}

/**
 * A write that sends all traffic through the VPC (`change`), arriving after a newer write whose egress is not
 * all-traffic was judged, where no all-traffic egress before `change` was known (none, or nothing known): that newer
 * write was judged against it and raised nothing, though in timestamp order it narrowed the egress this write set. A
 * job's and a worker pool's writes are judged as they arrive: two of them delivered the other way round are enough. Its
 * finding is raised here, for it (its time, the dedup key it has in timestamp order, forNewerWrite), from what the
 * baseline keeps of it: its egress and time, not its entry (as ingress-opened's reopenedAfter). Nothing when the egress
 * before `change` was all-traffic (the newer write reported itself) or the point after this one is all-traffic too.
 */
function narrowedAfter(change: DeployChange, baseline: ServiceBaseline | undefined, settings: RuleSettings): Detection[] {
  const history = baseline?.vpcEgress;
  const next = pointAfter(history, change);
  if (next === undefined || next.v === 'all-traffic') return [];
  if (pointBefore(history, change)?.v === 'all-traffic') return [];
  const at = newerWriteAt(next);
  const after = next.v;
  // A write after this one still waits for its rollout (the history after this one is not whole yet): one with an egress
  // before the newer write may be the first after this one (judged later, against it: it reports itself); one with
  // all-traffic egress may end the newer write's risk.
  if (laterWriteWaiting(baseline, change, (write) => write.vpcEgress !== undefined, at)) return [];
  if (laterWriteWaiting(baseline, change, (write) => write.vpcEgress === 'all-traffic')) return [];
  // It raised nothing only if it was judged against no all-traffic egress: not certain when another one before it is
  // known, unless its finding would be open still had it raised one.
  if (newerWriteMayHaveReported(baseline, history, change, at, (egress) => egress === 'all-traffic', (write) => write.vpcEgress, 'vpc-egress-bypass') && !silentWhenJudged(baseline, at, settings)) return [];
  const recreatedAfterDeleteAt = deletedBetween(baseline, pointAt(change, 'all-traffic'), at);
  return [
    {
      severity: 'MEDIUM',
      title: 'Cloud Run egress no longer goes through the VPC',
      summary:
        `A write at ${at.time} (its entry is not kept: who made it is unknown) deployed ${serviceLabel(change.target)} with VPC egress ${after === 'none' ? 'removed' : after}, ` +
        `where all of its outbound traffic went through its VPC network${recreatedAfterDeleteAt ? ` (the deleted ${resourceNoun(change.target)}'s, before it was deleted at ${recreatedAfterDeleteAt} and created again)` : ''}: ` +
        `${NOW[after]}, and ${PAST_THE_VPC}. Reported from an older write that sent all of it through the VPC and arrived after it.`,
      evidence: { before: 'all-traffic', after, reportedFrom: 'an older write that arrived later', ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}) },
      dedupKey: [baselineKey(change.target), 'vpc-egress', after, at.time],
      unknown: ['principal', 'revision'],
      forNewerWrite: at,
      // Closed at once when a newer revision that took the traffic sent it all through the VPC again.
      ...riskInForce(history, at, (egress) => egress === 'all-traffic', () => THROUGH_THE_VPC_AGAIN, baseline?.tookNoTraffic),
    },
  ];
}

/**
 * A write that sends all traffic through the VPC (`change`, its destination known) arriving after the next all-traffic
 * write after it was judged, on another destination: in timestamp order that write moved the egress from `change`'s
 * destination (moved: the narrowings between them passed over, as destinationBefore does), but it was judged without
 * `change`. Where no other destination before it is known now, it was judged against none and raised nothing (Pub/Sub
 * delivers out of order: deploy X at 10:00, Y at 11:00, delivered Y first). Its finding is raised here, for it, as
 * narrowedAfter raises a narrowing's (its time, the dedup key it has in timestamp order, forNewerWrite, principal
 * unknown). Where another destination before it is known it may have reported itself (a move's dedup key does not name
 * the destination before: the same id): only when that finding would be open now and is not (silentWhenJudged). Not a
 * move back to the destination `change`'s own move left, or an open move finding before it left (moved: no new move).
 */
function movedAfter(change: DeployChange, baseline: ServiceBaseline | undefined, settings: RuleSettings): Detection[] {
  const from = change.vpcDestination;
  if (from === undefined) return [];
  const next = nextAllTraffic(baseline, change);
  if (next === undefined) return [];
  const destination = pointAfter(baseline?.vpcDestination, change);
  if (destination === undefined || destination.t !== next.t || (destination.n ?? 0) !== (next.n ?? 0) || destination.v === from) return [];
  const after = destination.v;
  const at = newerWriteAt(next);
  // A write after this one still waits for its rollout: the first all-traffic write after this one, or what ended its
  // move, is not known yet.
  if (laterWriteWaiting(baseline, change, (write) => write.vpcEgress === 'all-traffic')) return [];
  // In timestamp order a move back to where an open move finding (this write's own, or one before the newer write) left;
  // unless this write's own step was itself a return, ending an open move before it (X, Y, X, Y with the second X
  // late): then the newer write leaving its destination again is a new move.
  if (destinationBefore(baseline, change)?.v === after && !returnsBeforeIt(baseline, change, from)) return [];
  if ((baseline?.open ?? []).some((o) => o.rule === 'vpc-egress-bypass' && movedFrom(o, baseline) === after && findingBefore(o, at))) return [];
  // In timestamp order, with this write in its place, a return to where a move still open then left (one whose finding
  // was closed here already, or never reported as it came, is no longer among the open ones): no move.
  if (movesOpenInOrder(baseline, at, { point: pointAt(change, 'all-traffic'), destination: from, served: change.takesNoTraffic !== true }).some((m) => m.from === after)) return [];
  const endsIt = (d: string): boolean => d !== after;
  if (
    newerWriteMayHaveReported(baseline, baseline?.vpcDestination, change, at, endsIt, (write) => (write.vpcEgress === 'all-traffic' ? write.vpcDestination : undefined), 'vpc-egress-bypass') &&
    // Open still, had it raised one: no revision that took traffic went through another destination since (its
    // destination before, which would have closed it, is not known).
    !silentWhenJudged(baseline, at, settings, () => riskInForce(baseline?.vpcDestination, at, endsIt, throughAgain, baseline?.tookNoTraffic).opensRisk === true)
  )
    return [];
  const recreatedAfterDeleteAt = deletedBetween(baseline, pointAt(change, from), at);
  return [
    {
      severity: 'MEDIUM',
      title: MOVED_TITLE,
      summary:
        `A write at ${at.time} (its entry is not kept: who made it is unknown) deployed ${serviceLabel(change.target)}: all of its outbound traffic still goes through a VPC, but through ${after}, where it went through ${from}` +
        `${recreatedAfterDeleteAt ? ` (the deleted ${resourceNoun(change.target)}'s, before it was deleted at ${recreatedAfterDeleteAt} and created again)` : ''}: ` +
        `its traffic to the internet now leaves through that network's firewall rules, Cloud NAT addresses and VPC Service Controls perimeter, not the ones before. Reported from an older write that sent all of it through ${from} and arrived after it.`,
      evidence: { egress: 'all-traffic', before: from, after, reportedFrom: 'an older write that arrived later', ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}) },
      dedupKey: [baselineKey(change.target), 'vpc-destination', after, at.time],
      unknown: ['principal', 'revision'],
      forNewerWrite: at,
      // Closed at once when a newer revision that took the traffic already went back through `from`, or a destination
      // the chain of moves it continues left before it.
      ...riskInForce(baseline?.vpcDestination, at, inSet(destinationsLeft(baseline, from, change)), throughAgain, baseline?.tookNoTraffic),
    },
  ];
}

/**
 * True when a write at `at` to `destination` goes back to where an open move before it, or its chain, left
 * (destinationsLeft): its step is a return that ends that move, not a move of its own.
 */
function returnsBeforeIt(baseline: ServiceBaseline | undefined, at: DeployChange, destination: string): boolean {
  return (baseline?.open ?? []).some((o) => {
    if (o.rule !== 'vpc-egress-bypass' || !findingBefore(o, at)) return false;
    const from = movedFrom(o, baseline);
    return from !== undefined && destinationsLeft(baseline, from, findingInstant(o)).has(destination);
  });
}

/** revision.ts datedBefore, where no instant (`at` undefined) counts as after every finding. */
function findingBefore(o: OpenFinding, at: { readonly timeMs: number; readonly time: string } | undefined): boolean {
  return at === undefined || datedBefore(o, at);
}

/**
 * The destinations a move from `from` (at `at`) and the chain of open moves before it left: `from`, the destination the
 * open move to `from` before it left, and so on back (a chain: X to Y, then Y to Z). Traffic back through any of them
 * ends the move: back through X, the service is where it was before the chain began, and a move of the chain after
 * it would otherwise stay open (Y to Z, with the traffic on X); back through Y, the moves after the chain was last on
 * Y. A move whose destination before is not where an open move went is the chain's first.
 */
function destinationsLeft(baseline: ServiceBaseline | undefined, from: string, at: { readonly timeMs: number; readonly time: string } | undefined): ReadonlySet<string> {
  const left = new Set([from]);
  let current = { from, at };
  for (;;) {
    const previous = newestMoveTo(baseline, current.from, current.at);
    const before = previous === undefined ? undefined : movedFrom(previous, baseline);
    if (previous === undefined || before === undefined || left.has(before)) return left;
    left.add(before);
    current = { from: before, at: findingInstant(previous) };
  }
}

/** The newest open move finding before `at` whose destination after is `destination`, if any. */
function newestMoveTo(baseline: ServiceBaseline | undefined, destination: string, at: { readonly timeMs: number; readonly time: string } | undefined): OpenFinding | undefined {
  let newest: OpenFinding | undefined;
  for (const o of baseline?.open ?? []) {
    if (o.rule !== 'vpc-egress-bypass' || o.finding.evidence['egress'] !== 'all-traffic' || o.finding.evidence['after'] !== destination || !findingBefore(o, at)) continue;
    const time = findingInstant(o);
    if (newest === undefined || (time !== undefined && !findingBefore(o, findingInstant(newest)))) newest = o;
  }
  return newest;
}

const inSet =
  (set: ReadonlySet<string>) =>
  (value: string): boolean =>
    set.has(value);

/**
 * True when the newer write at `at` (narrowedAfter, movedAfter) raised nothing when it was judged, whatever all-traffic
 * egress before it is known now (what came when is not kept): no finding of it is open, and one would be had it raised
 * it (`wouldBeOpen`; a narrowing's: no all-traffic revision that took traffic since). Nothing after it could have closed
 * it (that, or the service's delete), and no principal exception could have held it back (who made it is not kept).
 */
function silentWhenJudged(
  baseline: ServiceBaseline | undefined,
  at: { readonly timeMs: number; readonly time: string },
  settings: RuleSettings,
  wouldBeOpen: () => boolean = () => riskInForce(baseline?.vpcEgress, at, (egress) => egress === 'all-traffic', () => THROUGH_THE_VPC_AGAIN, baseline?.tookNoTraffic).opensRisk === true,
): boolean {
  if (hasPrincipalExceptions(settings) || beforeDelete(baseline, at)) return false;
  if (openFindingAt(baseline, 'vpc-egress-bypass', at.time)) return false;
  // Open still, had it raised one: no newer value took its risk away (a --no-traffic revision ends nothing).
  return wouldBeOpen();
}

export const vpcEgressBypass: Detector<'vpc-egress-bypass'> = {
  id: 'vpc-egress-bypass',
  title: 'Cloud Run egress no longer goes through the VPC',
  defaultSeverity: 'MEDIUM',
  methods: [...DEPLOY_METHODS, ...DELETE_METHODS],
  changeKinds: ['deploy', 'delete'],
  closedByDelete: true,
  reportsForNewerWrites: true,
  // Egress and destinations are read from the history applied (pointBefore, destinationBefore), never from a write
  // still waiting for its rollout.
  judgesAppliedRevisionsOnly: true,
  detect({ change, baseline, settings }): Detection[] {
    // A delete that arrives after the first write of the service created again: that write may raise its finding again.
    if (change.kind === 'delete') return narrowedAgainFor(change, baseline, settings, pointAt(change, undefined));
    if (change.kind !== 'deploy' || change.vpcEgress === undefined) return [];
    // All-traffic egress written by a write that arrived late: a newer write that narrowed it may have been judged
    // without it (also the first write of the service created again, where it closed the deleted service's finding).
    if (change.vpcEgress === 'all-traffic')
      return [...narrowedAfter(change, baseline, settings), ...narrowedAgainAfterLateWrite(change, baseline, settings), ...moved(change, baseline), ...movedAfter(change, baseline, settings)];
    const before = pointBefore(baseline?.vpcEgress, change);
    if (before === undefined) return [];
    if (before.v !== 'all-traffic') return narrowedAgainAfterDelete(change, change.vpcEgress, before, baseline);
    // The egress before is the deleted service's: the service was created again under the name.
    const recreatedAfterDeleteAt = deletedBetween(baseline, before, change);
    const who = change.principal?.id ?? 'An unknown principal';
    const after = change.vpcEgress;
    return [
      {
        severity: 'MEDIUM',
        title: 'Cloud Run egress no longer goes through the VPC',
        summary:
          `${who} deployed ${serviceLabel(change.target)} with VPC egress ${after === 'none' ? 'removed' : after}, where all of its outbound traffic went ` +
          `through its VPC network${recreatedAfterDeleteAt ? ` (the deleted ${resourceNoun(change.target)}'s, before it was deleted at ${recreatedAfterDeleteAt} and created again)` : ''}: ` +
          `${NOW[after]}, and ${PAST_THE_VPC}.`,
        evidence: { before: 'all-traffic', after, api: change.api, operation: change.operation, ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}) },
        dedupKey: [baselineKey(change.target), 'vpc-egress', after, change.time],
        // A late entry: closed at once when a newer revision that took the traffic already sent it all through the VPC again.
        ...riskInForce(baseline?.vpcEgress, change, (egress) => egress === 'all-traffic', () => THROUGH_THE_VPC_AGAIN, baseline?.tookNoTraffic),
      },
    ];
  },
  resolves({ change, baseline }, open): Resolved[] {
    if (change.kind === 'delete') return closedByDelete(open, change, [baseline?.vpcEgress]);
    if (change.kind !== 'deploy' || change.vpcEgress === undefined) return [];
    if (change.vpcEgress !== 'all-traffic') return notFirstAfterDelete(change, baseline, open);
    const superseded = [...noMoveInOrder(change, baseline, open), ...returnInOrder(change, baseline, open)];
    // A revision that takes none of the traffic (--no-traffic) leaves the one reported serving.
    if (change.takesNoTraffic) return superseded;
    // One that arrives late took the traffic all the same, until a newer revision did: it closes the findings about
    // changes before it, as in timestamp order, whatever came after it (never a newer revision's: closableBy).
    // A move is over only where the traffic goes back through the destination it left, or one its chain of moves left
    // before it (destinationsLeft); an egress narrowed, wherever the VPC access now sends all of it.
    const to = change.vpcDestination;
    const closed = closableBy(open, baseline?.vpcEgress, change).flatMap((o) => {
      const from = movedFrom(o, baseline);
      if (from === undefined) return [{ id: o.finding.id, reason: THROUGH_THE_VPC_AGAIN }];
      return to !== undefined && destinationsLeft(baseline, from, findingInstant(o)).has(to) ? [{ id: o.finding.id, reason: throughAgain(to) }] : [];
    });
    return [...superseded, ...closed];
  },
};

/** What the egress of a service created again still narrowed does, in the words of the finding. */
const STILL: Readonly<Record<Narrowed, string>> = {
  'private-ranges-only': 'Only traffic to private addresses goes through the VPC',
  none: 'None of its traffic goes through a VPC',
};

type Narrowed = Exclude<VpcEgress, 'all-traffic'>;

const narrowed = (egress: VpcEgress): egress is Narrowed => egress !== 'all-traffic';

/** The egress a narrowed finding names, in its words. */
const egressWords = (egress: Narrowed): string => (egress === 'none' ? 'no VPC access' : `egress \`${egress}\``);

/**
 * What a finding raised again for a service created again says after "deployed SERVICE, ": the egress it was created
 * with, the deleted service's (`deleted`), the delete that closed the deleted service's finding, and what leaves past
 * the VPC.
 */
function createdAgainWords(target: DeployChange['target'], after: Narrowed, deleted: Narrowed, deletedAt: string): string {
  const noun = resourceNoun(target);
  const deletedHad = deleted === after ? `as the deleted ${noun} had it` : `where the deleted ${noun} had ${egressWords(deleted)}`;
  return `created again with ${egressWords(after)}, ${deletedHad}: the finding about the deleted ${noun} was closed by its delete at ${deletedAt}. ${STILL[after]}: ${PAST_THE_VPC}.`;
}

/**
 * The first write of a service created again under the name whose egress is still not all-traffic, as the deleted
 * service's was when it was deleted (at `before`) with a narrowed finding open then: the delete closed that finding, and
 * compared with the deleted service this write changed nothing. It raises the finding again, its own (revision.ts
 * riskClosedByDelete): `before` all-traffic, as the finding the delete closed had it. (Not a move: a re-created service
 * that keeps the deleted one's destination made no change of destination, and its traffic still all goes through a VPC.)
 */
function narrowedAgainAfterDelete(change: DeployChange, after: Narrowed, before: TimePoint<VpcEgress>, baseline: ServiceBaseline | undefined): Detection[] {
  const deletedAt = riskClosedByDelete(baseline, baseline?.vpcEgress, before, change, narrowed);
  if (deletedAt === undefined || !narrowed(before.v)) return [];
  const who = change.principal?.id ?? 'An unknown principal';
  return [
    {
      severity: 'MEDIUM',
      title: 'Cloud Run egress no longer goes through the VPC',
      summary: `${who} deployed ${serviceLabel(change.target)}, ${createdAgainWords(change.target, after, before.v, deletedAt)}`,
      evidence: { before: 'all-traffic', after, api: change.api, operation: change.operation, recreatedAfterDeleteAt: deletedAt },
      dedupKey: [baselineKey(change.target), 'vpc-egress', after, change.time],
      ...riskInForce(baseline?.vpcEgress, change, (egress) => egress === 'all-traffic', () => THROUGH_THE_VPC_AGAIN, baseline?.tookNoTraffic),
    },
  ];
}

/**
 * For an entry that arrives after the first write of the service created again after the delete at `deleted` was
 * judged (`change`: that delete itself, or an all-traffic write of the deleted service, `lateWrite` its point): that
 * write's finding raised again (narrowedAgainAfterDelete) where timestamp order raises it, the entry being what it was
 * judged without. Its egress and the deleted service's (the newest before the delete) are not all-traffic, and the
 * deleted service's finding was open at the delete (revision.ts findingOpenAt, over the history with `lateWrite`).
 * Reported for that write (its time, the id timestamp order gives it, forNewerWrite, principal unknown), as narrowedAfter
 * reports a narrowing, only where it raised nothing when it was judged (silentWhenJudged: it could have been judged
 * against an all-traffic egress of the deleted service, and reported itself) and no write that may come before it, or
 * end its risk, still waits for its rollout.
 */
function narrowedAgainFor(change: Change, baseline: ServiceBaseline | undefined, settings: RuleSettings, deleted: TimePoint<undefined>, lateWrite?: TimePoint<VpcEgress>): Detection[] {
  const history = baseline?.vpcEgress;
  const deleteAt = newerWriteAt(deleted);
  const first = pointAfter(history, deleteAt);
  const before = pointBefore(history, deleteAt);
  if (first === undefined || !narrowed(first.v) || before === undefined || !narrowed(before.v)) return [];
  if (lateWrite !== undefined && !isLaterPoint(before, lateWrite)) return [];
  const openAtDelete = findingOpenAt(history, before, narrowed);
  if (!openAtDelete && (lateWrite === undefined || !findingOpenAt(record(history!, lateWrite.t, lateWrite.v, lateWrite.n), before, narrowed))) return [];
  const at = newerWriteAt(first);
  const waiting = someWaitingWrite(baseline?.rollouts, (write) => {
    if (write.vpcEgress === undefined || sameEntry(write.key, change.key)) return false;
    const point = pointAt(write, write.vpcEgress);
    return isAfter(point, deleteAt) && (!isAfter(point, at) || write.vpcEgress === 'all-traffic');
  });
  // Known only from the late write, the deleted service's finding was not known to be open at the delete when the
  // first write was judged: it raised nothing. Else it may have been judged against an all-traffic egress of the
  // deleted service, or raised again, and reported itself: only when its finding would be open now and is not.
  if (waiting || openFindingAt(baseline, 'vpc-egress-bypass', at.time) || (openAtDelete && !silentWhenJudged(baseline, at, settings))) return [];
  // As recreatedAfterDeleteAt names a delete (baseline/state.ts deletedBetween): `.000Z` for a whole second.
  const deletedAt = deleted.n ? pointTime(deleted) : new Date(deleted.t).toISOString();
  const from = change.kind === 'delete' ? `the ${resourceNoun(change.target)}'s delete` : 'an older write of the deleted service';
  return [
    {
      severity: 'MEDIUM',
      title: 'Cloud Run egress no longer goes through the VPC',
      summary:
        `A write at ${at.time} (its entry is not kept: who made it is unknown) deployed ${serviceLabel(change.target)}, ${createdAgainWords(change.target, first.v, before.v, deletedAt)} ` +
        `Reported from ${from}, which arrived after it.`,
      evidence: { before: 'all-traffic', after: first.v, reportedFrom: change.kind === 'delete' ? 'the delete, which arrived later' : 'an older write that arrived later', recreatedAfterDeleteAt: deletedAt },
      dedupKey: [baselineKey(change.target), 'vpc-egress', first.v, at.time],
      unknown: ['principal', 'revision'],
      forNewerWrite: at,
      ...riskInForce(history, at, (egress) => egress === 'all-traffic', () => THROUGH_THE_VPC_AGAIN, baseline?.tookNoTraffic),
    },
  ];
}

/**
 * For a write of the service created again whose egress is not all-traffic (`change`) that arrives after the write next
 * after it was judged as the first after the delete, where the deleted service's egress was narrowed too with its
 * finding open at the delete: that write's open finding, raised again as the first write (narrowedAgainAfterDelete, or
 * judged against an all-traffic egress of the deleted service before its narrowing, or its delete, arrived: the same
 * id), which in
 * timestamp order is compared with `change`'s egress, not all-traffic either: no finding (`change` raises it again
 * itself). Closed at its own time, as noMoveInOrder closes a move that never was. (Not where the deleted service's
 * egress was all-traffic at the delete: that write's narrowing stays open, as one judged against all-traffic before an
 * older narrowing between arrived does: an all-traffic write between them, arriving later still, would show it right
 * after all and report it again.)
 */
function notFirstAfterDelete(change: DeployChange, baseline: ServiceBaseline | undefined, open: readonly OpenFinding[]): Resolved[] {
  const deleted = deletePoint(baseline);
  if (deleted === undefined || !isBefore(deleted, change)) return [];
  const history = baseline?.vpcEgress;
  const first = pointAfter(history, newerWriteAt(deleted));
  if (first === undefined || !narrowed(first.v) || !isAfter(first, change)) return [];
  const before = pointBefore(history, newerWriteAt(deleted));
  if (before === undefined || !findingOpenAt(history, before, narrowed)) return [];
  const time = pointTime(first);
  const reason = `an older write of the ${resourceNoun(change.target)} created again, which arrived later, was its first after the delete: compared with its egress, this one changed nothing`;
  return open
    .filter((o) => o.rule === 'vpc-egress-bypass' && o.finding.evidence['egress'] !== 'all-traffic' && sameTime(o, time))
    .map((o) => ({ id: o.finding.id, reason, time: o.finding.eventTime }));
}

/**
 * For an all-traffic write of the deleted service (`change`) that arrives after its delete: narrowedAgainFor, the
 * deleted service's finding open at the delete being known from it.
 */
function narrowedAgainAfterLateWrite(change: DeployChange, baseline: ServiceBaseline | undefined, settings: RuleSettings): Detection[] {
  const deleted = deletePoint(baseline);
  return deleted !== undefined && isAfter(deleted, change) ? narrowedAgainFor(change, baseline, settings, deleted, pointAt(change, 'all-traffic')) : [];
}

/**
 * For a late all-traffic write (`change`): the open move findings of the next all-traffic write after it whose
 * destination is `change`'s. That write was judged before `change` came, against an older destination, and reported a
 * move; in timestamp order it went where `change` had sent the traffic already: no move (`change` reports its own).
 * Closed at its own time, as revision.ts supersededFindings closes a finding that an older write shows never was.
 */
function noMoveInOrder(change: DeployChange, baseline: ServiceBaseline | undefined, open: readonly OpenFinding[]): Resolved[] {
  const to = change.vpcDestination;
  if (to === undefined) return [];
  const next = nextAllTraffic(baseline, change);
  if (next === undefined) return [];
  const time = pointTime(next);
  return open
    .filter((o) => o.rule === 'vpc-egress-bypass' && o.finding.evidence['egress'] === 'all-traffic' && o.finding.evidence['after'] === to && sameTime(o, time))
    .map((o) => ({ id: o.finding.id, reason: `an older write that arrived later had sent all of its outbound traffic through ${to} already: no move`, time: o.finding.eventTime }));
}

/**
 * For a late all-traffic write (`change`, destination X) whose next all-traffic write (Y at `next`) moved away from X
 * in timestamp order, and the all-traffic write after that (at `back`) went back through X: the open move finding of
 * `back` (judged before `change` came, as a move from Y). In timestamp order it is the return that ends the move to Y,
 * no move of its own (X 10:00, Y 11:00, X 12:00 delivered 11:00, 12:00, 10:00). Closed at its own time, as
 * noMoveInOrder closes one. Not where Y's own step was a return (the write before `change` was on Y, or an open move
 * before `change` left Y): then `back` leaves Y again, a move.
 */
function returnInOrder(change: DeployChange, baseline: ServiceBaseline | undefined, open: readonly OpenFinding[]): Resolved[] {
  const to = change.vpcDestination;
  const next = nextAllTraffic(baseline, change);
  if (to === undefined || next === undefined) return [];
  const away = destinationAt(baseline, next);
  const back = nextAllTraffic(baseline, newerWriteAt(next));
  if (away === undefined || away === to || back === undefined || destinationAt(baseline, back) !== to) return [];
  if (destinationBefore(baseline, change)?.v === away || returnsBeforeIt(baseline, change, away)) return [];
  const time = pointTime(back);
  return open
    .filter((o) => o.rule === 'vpc-egress-bypass' && o.finding.evidence['egress'] === 'all-traffic' && o.finding.evidence['after'] === to && sameTime(o, time))
    .map((o) => ({ id: o.finding.id, reason: `an older write that arrived later had sent all of its outbound traffic through ${to} before ${away}: it went back, no move`, time: o.finding.eventTime }));
}

/** An all-traffic write as movesOpenInOrder replays it: its point, its destination, whether it took traffic. */
interface AllTrafficWrite {
  readonly point: TimePoint<VpcEgress>;
  readonly destination: string | undefined;
  readonly served: boolean;
}

/** A move as timestamp order gives it: where it left and went, and its write. */
interface MoveInOrder {
  readonly from: string;
  readonly to: string;
  readonly write: TimePoint<VpcEgress>;
}

/**
 * The moves open just before `at` as timestamp order gives them, replayed from the history (`late`, a write not applied
 * yet, in its place): each all-traffic write that took traffic closes the open moves whose chain left its destination
 * (resolves, destinationsLeft), then is a move from the destination before it unless it goes back where an open move
 * left (moved); the service's delete closes them all. The open findings say what was reported as entries came; this
 * says what timestamp order has open, which a late write can change (a return judged as a move, a move's report left
 * out or closed at once).
 */
function movesOpenInOrder(baseline: ServiceBaseline | undefined, at: { readonly timeMs: number; readonly time: string }, late: AllTrafficWrite): MoveInOrder[] {
  const writes: AllTrafficWrite[] = (baseline?.vpcEgress ?? [])
    .filter((point) => point.v === 'all-traffic' && isBefore(point, at) && !sameInstant(point, late.point))
    .map((point) => ({ point, destination: destinationAt(baseline, point), served: !tookNoTrafficAt(point, baseline?.tookNoTraffic) }));
  if (isBefore(late.point, at)) writes.push(late);
  writes.sort((a, b) => (isLaterPoint(a.point, b.point) ? 1 : isLaterPoint(b.point, a.point) ? -1 : 0));
  const deleted = deletePoint(baseline);
  let open: MoveInOrder[] = [];
  let previous: AllTrafficWrite | undefined;
  for (const write of writes) {
    if (deleted !== undefined && previous !== undefined && isLaterPoint(deleted, previous.point) && !isLaterPoint(deleted, write.point)) open = [];
    const [from, to] = [previous?.destination, write.destination];
    const moves = from !== undefined && to !== undefined && from !== to && !open.some((m) => m.from === to);
    if (write.served && to !== undefined) open = open.filter((m) => !chainLeft(open, m).has(to));
    if (moves) open.push({ from: from!, to: to!, write: write.point });
    previous = write;
  }
  if (deleted !== undefined && previous !== undefined && isLaterPoint(deleted, previous.point) && isBefore(deleted, at)) return [];
  return open;
}

/** The destinations `move` and the chain of open moves before it left (destinationsLeft, over replayed moves). */
function chainLeft(open: readonly MoveInOrder[], move: MoveInOrder): ReadonlySet<string> {
  const left = new Set([move.from]);
  for (let current = move; ; ) {
    const previous = open.filter((m) => m.to === current.from && isLaterPoint(current.write, m.write)).at(-1);
    if (previous === undefined || left.has(previous.from)) return left;
    left.add(previous.from);
    current = previous;
  }
}

/** The destination recorded with an all-traffic egress point (the same instant), if known. */
function destinationAt(baseline: ServiceBaseline | undefined, point: TimePoint<VpcEgress>): string | undefined {
  return baseline?.vpcDestination?.find((d) => d.t === point.t && (d.n ?? 0) === (point.n ?? 0))?.v;
}

/**
 * The first point after `change` (to the nanosecond: not another entry of its own instant) of a revision that sent all
 * of its traffic through the VPC, narrowings between passed over (as destinationBefore passes them over looking back).
 */
function nextAllTraffic(baseline: ServiceBaseline | undefined, change: { readonly timeMs: number; readonly time: string }): TimePoint<VpcEgress> | undefined {
  return baseline?.vpcEgress?.find((point) => isAfter(point, change) && point.v === 'all-traffic');
}

/** True when an open finding's eventTime is the canonical timestamp `time`. */
function sameTime(o: OpenFinding, time: string): boolean {
  const at = findingInstant(o);
  return at !== undefined && pointTime(pointAt(at, undefined)) === time;
}
