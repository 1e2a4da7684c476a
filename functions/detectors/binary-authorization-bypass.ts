// binary-authorization-bypass
//
// Reads:    Cloud Run Services.CreateService / ReplaceService (v1) and CreateService / UpdateService (v2), and their
//           job and worker pool counterparts (Jobs.CreateJob / ReplaceJob / UpdateJob, WorkerPools.*: README); deletes.
// Alerts:   (1) a deploy that creates a revision with a Binary Authorization breakglass justification (v1: the
//           annotation `run.googleapis.com/binary-authorization-breakglass` of the service as written, else as
//           stored; v2: `binaryAuthorization.breakglassJustification`). Breakglass deploys the revision without
//           checking its image against the policy; the annotation stays on the service, so every revision
//           deployed while it is there is reported (one finding per revision).
//           (2) a write that turns Binary Authorization off on a service that enforced a policy (v1: the
//           `run.googleapis.com/binary-authorization` annotation removed; v2: `binaryAuthorization` emptied), with
//           or without a new revision: revisions deployed from then on are not checked. A service deleted and
//           created again under the name without a policy is compared with the deleted one's (evidence
//           `recreatedAfterDeleteAt`, when the delete is known): deleting a service and creating it again with the
//           default (no policy) would otherwise hide the change. (2) is a service setting: any write counts, with or
//           without a new revision, whether or not the revision becomes Ready.
// Resolves: (2) only, a risk in force: a policy enforced again (`default` or any named policy) by the newest entry
//           about it (also a write whose revision fails to become Ready: the setting applies all the same; an older one
//           that arrives late: the findings dated before it, where a finding dated after it stands for a policy turned
//           off again since; else all but the newest, which stands for it: revision.ts settingRestored), or the
//           service deleted (a delete that arrives after entries of the service created again:
//           see below). A turn-off that arrives after a newer write enforced a policy again is reported and closed at
//           once; one that arrives after newer writes that keep it off stays open (it stands for their risk) and closes
//           their open findings judged against a policy enforced before it, at their own time (revision.ts
//           supersededFindings: no policy was enforced before them; this write reports itself), unless a policy
//           enforced after them is known, or a late one standing for newer writes' risk; where the service was deleted
//           between the policy before them and this write, it is the re-created service's first write before them and
//           closes them whatever that policy was, late ones too (they were judged against the deleted service's); so
//           does one a newer write re-enabled when the policy is off again at the newest point and no open finding says
//           so (the write that turned it off again was judged while this one waited for its rollout, and raised
//           nothing: revision.ts settingRiskInForce). A write enforcing a policy that arrives after a newer write that
//           set none was judged against no enforced policy (raising nothing: a job's, a worker pool's and a service's
//           write that makes no revision are judged as they arrive) reports that write's finding for it
//           (turnedOffAfter, forNewerWrite: its time and id, principal unknown), closed at once by a newer write
//           enforcing a policy again. A breakglass finding (1) is one revision's deploy, not a risk in force: it is
//           never resolved, not by a delete either (also when its entry arrives after the delete). A delete that
//           arrives after entries about the service created again closes the findings dated before it and none of the
//           re-created service's (revision.ts closedByDelete), as in timestamp order, where the re-created service is
//           compared with the deleted one's policy: its write that left it off raised nothing there either. Unless a
//           policy was enforced just before the delete or by a re-created write since, and the newest entry turns it
//           off again with no finding of its own: timestamp order reports that, and the newest finding before the
//           delete stays open for it (others close with the delete; revision.ts reportedAgainAfterDelete; so too where
//           the risk was held with a finding open at the delete, reported again for the re-created service's first
//           write in timestamp order), until an older write of the deleted service that ended the risk, arriving later
//           still, reports the re-created write's finding itself, or another finding of the re-created service opens
//           (engine.ts: then it is closed as the delete closed it). A service deleted and created again under the name
//           whose first write holding the risk (no write of the re-created service known between the delete and it) is
//           judged against the deleted service's value with the risk, where that risk had a finding open at the delete
//           (a value without it known before: the delete closed it, "the service was deleted"), raises the finding
//           again: its own time and id, `recreatedAfterDeleteAt`, words that say the delete closed the old one
//           (revision.ts riskClosedByDelete). Later writes that keep the risk raise nothing more; a first write that
//           ends it raises nothing.
// Options:  `rules.binary-authorization-bypass.exceptions` (principal, project, service globs), `severity`.
// Severity: HIGH.
// Blind spots: the justification is free text written by the deployer (shown as written, escaped by each sink).
//           A service's first known write sets the baseline: one that never enforced a policy, or whose earlier
//           writes were never seen, is not reported as turned off. A v2 update whose mask leaves
//           `binary_authorization` alone (or names only its breakglass field) says nothing about the policy; one
//           that leaves breakglass alone deploys under the justification in force, which is reported
//           (`evidence.justificationFrom`) when an earlier write of it was seen. A mask naming only one member of
//           the policy's oneof (`binary_authorization.use_default` or `.policy`) leaves the policy unknown, so turning
//           it off that way is not reported (whether Cloud Run honours such nested paths is unverified). A v1 body
//           logged without its containers (console writes) leaves a missing annotation unknown, not "off". A create
//           of a service never seen before is never "turned off" (nothing is known before it); one whose delete
//           arrives after it was judged is reported without `recreatedAfterDeleteAt`. The breakglass justification
//           does not carry across a delete: a created service deploys under none but its own. The finding a late
//           enforcement reports for a newer write is left out when another enforced policy before that write is
//           known (it may have reported itself: arrival order is not kept) or a write after the late one still waits
//           for its rollout, and its principal exceptions cannot apply (who made it is unknown).
//           Binary Authorization's own breakglass audit event, the project's Binary Authorization policy itself
//           (`binaryauthorization.googleapis.com`) and continuous validation results are not read.
//           A write that ended the risk (an older write of the deleted service, or a re-created write between) and
//           arrives after the re-created write that set it again reports that write's finding for it (turnedOffAfter),
//           also where a policy enforced before it is known, when no finding of the rule is open (revision.ts
//           newerWriteMayHaveReported, closedOnlyByNewerEnd: a finding of this rule dated after the delete is closed
//           only by a newer enforced policy, a delete, or an older turn-off that was the newest value before it: a
//           report names the newer write's own id, and at worst opens that finding again).
//           A turn-off that arrives after newer writes that keep the policy off, one of them late itself (its finding
//           stands for a newer one's risk), leaves that late finding open beside its own (supersededFindings closes no
//           late one): two findings for one risk, with or without a delete between (unless the delete lies between
//           that turn-off and the policy before the late one, known when it arrives).
//           A late turn-off whose own finding a principal exception holds back closes none of the newer writes' findings
//           (none of its own would stand for their risk: engine.ts ownFindingHeldBack): one stays open where
//           timestamp order has only the exempt write's, held back, while the risk is in force all the same.
import { baselineKey } from '../baseline/store.js';
import { deletedBetween, isLaterPoint, pointAfter, pointAt, valueBefore, type ChangeInstant, type ServiceBaseline, type TimePoint } from '../baseline/state.js';
import { DELETE_METHODS, DEPLOY_METHODS } from './methods.js';
import { createsRevision, deployKey, endedAfter, laterWriteWaiting, newerWriteAt, newerWriteMayHaveReported, resourceNoun, riskClosedByDelete, serviceLabel, settingBefore, settingRestored, settingRiskInForce, supersededFindings, unknownDeployFacts } from './revision.js';
import { capitalized, enforcedPolicyOf, type BinaryAuthorization, type DeployChange } from '../model/change.js';
import type { Detection, Detector, Resolved } from './types.js';

/** What a change that says nothing about Binary Authorization tells: nothing (nor that breakglass stayed as it was). */
const UNKNOWN: BinaryAuthorization = { policyUnknown: true };

const ENFORCED_AGAIN = 'Binary Authorization enforces a policy again';

/**
 * (2) for the first write of a service created again under the name without a policy, as the deleted service was when
 * it was deleted (at `before`) with a finding for it open then: the delete closed that finding, and compared with the
 * deleted service this write changed nothing. It raises the finding again, its own (revision.ts riskClosedByDelete).
 */
function offAgainAfterDelete(change: DeployChange, before: TimePoint<string>, baseline: ServiceBaseline | undefined): Detection[] {
  const deletedAt = riskClosedByDelete(baseline, baseline?.binaryAuthorization, before, change, (policy) => policy === '');
  if (deletedAt === undefined) return [];
  const who = change.principal?.id ?? 'An unknown principal';
  // The policy the deleted service enforced before it was turned off (a finding open at the delete says one was).
  const enforced = baseline?.binaryAuthorization?.findLast((point) => isLaterPoint(before, point) && point.v !== '')?.v ?? null;
  return [
    {
      severity: 'HIGH',
      title: 'Binary Authorization turned off',
      summary: `${who} wrote ${serviceLabel(change.target)}, created again with Binary Authorization off, as the deleted ${resourceNoun(change.target)} had it: the finding about the deleted ${resourceNoun(change.target)} was closed by its delete at ${deletedAt}. ${capitalized(uncheckedFromNow(change))}.`,
      evidence: { policyBefore: enforced, policy: null, operation: change.operation, recreatedAfterDeleteAt: deletedAt },
      dedupKey: [baselineKey(change.target), 'turned off', change.time],
      unknown: unknownDeployFacts(change),
      serviceSetting: true,
      ...settingRiskInForce(baseline, baseline?.binaryAuthorization, change, (policy) => policy !== '', () => ENFORCED_AGAIN, 'binary-authorization-bypass'),
    },
  ];
}

/**
 * The resolutions of (2): a policy enforced again by the newest entry about it, or the service deleted. The rule's open
 * findings are all of (2): a breakglass detection (1) opens no risk, so it is never among them.
 */
const policyRestored = settingRestored((baseline) => baseline?.binaryAuthorization, (change) => Boolean(enforcedPolicyOf(change)), () => ENFORCED_AGAIN, (policy) => policy === '');

/** What a turn-off leaves unchecked from now on, in the words of the finding. */
function uncheckedFromNow(change: DeployChange): string {
  return resourceNoun(change.target) === 'job' ? 'images its executions run from now on are not checked' : 'revisions deployed from now on are not checked';
}

/**
 * A write that enforces `enforced` (`change`), arriving after a newer write that set no policy was judged, where no
 * policy was known to be enforced before `change` (none, or nothing known): that newer write was judged against it and
 * raised nothing, though in timestamp order it turned off the policy this write enforced. A job's and a worker pool's
 * writes are judged as they arrive, and so is a service's write that makes no revision: two of them delivered the other
 * way round are enough. Its finding is raised here, for it (its time, the dedup key it has in timestamp order,
 * forNewerWrite), from what the baseline keeps of it: its policy and time, not its entry (as ingress-opened's
 * reopenedAfter). Nothing when a policy before `change` was enforced (the newer write reported itself) or the point
 * after this one enforces one too.
 */
function turnedOffAfter(change: DeployChange, enforced: string, baseline: ServiceBaseline | undefined): Detection[] {
  const history = baseline?.binaryAuthorization;
  const next = pointAfter(history, change);
  if (next === undefined || next.v !== '') return [];
  const before = settingBefore(baseline, history, change, enforcedPolicyOf)?.v;
  if (before !== undefined && before !== '') return [];
  const at = newerWriteAt(next);
  // A write after this one still waits for its rollout (the history after this one is not whole yet): one that sets
  // the policy before the newer write may be the first after this one (judged later, against it: it reports itself);
  // one that enforces a policy may end the newer write's risk.
  if (laterWriteWaiting(baseline, change, (write) => enforcedPolicyOf(write) !== undefined, at)) return [];
  if (laterWriteWaiting(baseline, change, (write) => Boolean(enforcedPolicyOf(write)))) return [];
  // It raised nothing only if it was judged against no enforced policy: not when another one before it is known.
  // Its findings are closed only by a newer enforced policy or a delete (no older write supersedes them).
  if (newerWriteMayHaveReported(baseline, history, change, at, (policy) => policy !== '', enforcedPolicyOf, 'binary-authorization-bypass', true)) return [];
  const recreatedAfterDeleteAt = deletedBetween(baseline, pointAt(change, enforced), at);
  const label = serviceLabel(change.target);
  const noun = resourceNoun(change.target);
  return [
    {
      severity: 'HIGH',
      title: 'Binary Authorization turned off',
      summary:
        `A write at ${at.time} (its entry is not kept: who made it is unknown) turned Binary Authorization off on ${label}, which enforced the policy "${enforced}"` +
        `${recreatedAfterDeleteAt ? ` (the deleted ${noun}'s, before it was deleted at ${recreatedAfterDeleteAt} and created again)` : ''}: ${uncheckedFromNow(change)}. ` +
        'Reported from an older write that enforced it and arrived after it.',
      evidence: { policyBefore: enforced, policy: null, reportedFrom: 'an older write that arrived later', ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}) },
      dedupKey: [baselineKey(change.target), 'turned off', at.time],
      unknown: ['principal', 'revision'],
      forNewerWrite: at,
      serviceSetting: true,
      // Closed at once when a write newer than it enforced a policy again.
      ...settingRiskInForce(baseline, history, at, (policy) => policy !== '', () => ENFORCED_AGAIN, 'binary-authorization-bypass'),
    },
  ];
}

export const binaryAuthorizationBypass: Detector<'binary-authorization-bypass'> = {
  id: 'binary-authorization-bypass',
  title: 'Deploy that bypasses Binary Authorization (breakglass)',
  defaultSeverity: 'HIGH',
  methods: [...DEPLOY_METHODS, ...DELETE_METHODS],
  changeKinds: ['deploy', 'delete'],
  // A delete closes (2). Not `serviceSettings`: breakglass (1) is about the revision deployed; (2) is marked a service
  // setting on its detection, and as the rule's only risk, resolved by a write whose revision failed too.
  closedByDelete: true,
  serviceSettingRisks: true,
  reportsForNewerWrites: true,
  detect({ change, baseline }): Detection[] {
    if (change.kind !== 'deploy') return [];
    const { policy, policyUnknown, breakglassJustification: written, breakglassUnknown } = change.binaryAuthorization ?? UNKNOWN;
    // A write that leaves breakglass as it was (a v2 mask naming other fields, a v1 body logged without its
    // containers) deploys under the justification in force, if any. A write that says nothing at all: unknown. A
    // create has none in force: what the baseline holds is the deleted service's (its delete not known yet).
    const inForce = breakglassUnknown && change.operation !== 'create' ? valueBefore(baseline?.breakglass, change) || undefined : undefined;
    const breakglassJustification = written ?? inForce;
    const who = change.principal?.id ?? 'An unknown principal';
    const detections: Detection[] = [];
    // (2) Turned off: the write set no policy where one was enforced just before it. The policy history carries
    // across a delete: a service created again under the name is compared with the deleted one (a create's "before"
    // is always a deleted service's, also when its delete arrives after it and is not known yet).
    const beforePoint = policyUnknown || policy ? undefined : settingBefore(baseline, baseline?.binaryAuthorization, change, enforcedPolicyOf);
    const before = beforePoint?.v;
    if (before) {
      const recreatedAfterDeleteAt = deletedBetween(baseline, beforePoint!, change);
      const label = serviceLabel(change.target);
      const noun = resourceNoun(change.target);
      const fromNow = uncheckedFromNow(change);
      detections.push({
        severity: 'HIGH',
        title: 'Binary Authorization turned off',
        summary: recreatedAfterDeleteAt
          ? `${who} turned Binary Authorization off on ${label}: the deleted ${noun} enforced the policy "${before}" before it was deleted at ${recreatedAfterDeleteAt} and created again without one. ${capitalized(fromNow)}.`
          : change.operation === 'create'
            ? `${who} created ${label} again without Binary Authorization: the ${noun} deleted before it under the name enforced the policy "${before}". ${capitalized(fromNow)}.`
            : `${who} turned Binary Authorization off on ${label}, which enforced the policy "${before}": ${fromNow}.`,
        evidence: { policyBefore: before, policy: null, operation: change.operation, ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}) },
        dedupKey: [baselineKey(change.target), 'turned off', change.time],
        unknown: unknownDeployFacts(change),
        serviceSetting: true,
        // A risk in force until a policy is enforced again. A late entry: closed at once when a newer write already
        // enforced one; held by newer writes that keep it off.
        ...settingRiskInForce(baseline, baseline?.binaryAuthorization, change, (policy) => policy !== '', () => ENFORCED_AGAIN, 'binary-authorization-bypass'),
      });
    } else if (beforePoint !== undefined) {
      detections.push(...offAgainAfterDelete(change, beforePoint, baseline));
    }
    // (1) Breakglass: only a revision deployed with it skips the policy.
    if (breakglassJustification !== undefined && createsRevision(change, baseline)) {
      detections.push({
        severity: 'HIGH',
        title: 'Deploy that bypasses Binary Authorization (breakglass)',
        summary: `${who} deployed ${serviceLabel(change.target)} with Binary Authorization breakglass: the image was not checked against ${policy ? `the policy "${policy}"` : policyUnknown ? 'the policy in force' : 'any policy'}.`,
        evidence: {
          justification: breakglassJustification,
          policy: policyUnknown ? 'unknown' : (policy ?? null),
          operation: change.operation,
          ...(inForce !== undefined ? { justificationFrom: 'an earlier write (still in force)' } : {}),
        },
        dedupKey: [baselineKey(change.target), ...deployKey(change, baseline)],
        unknown: unknownDeployFacts(change),
      });
    }
    // A policy enforced by a write that arrived late: a newer write that set none may have been judged without it.
    if (policy) detections.push(...turnedOffAfter(change, policy, baseline));
    return detections;
  },
  resolves(input, open): Resolved[] {
    const { change, baseline } = input;
    // No policy was enforced before newer writes judged against one older than this write: their findings were never so.
    if (change.kind === 'deploy' && enforcedPolicyOf(change) === '') {
      const enforcedAfter = (at: ChangeInstant): boolean => endedAfter(baseline, baseline?.binaryAuthorization, at, enforcedPolicyOf, (policy) => policy !== '');
      return supersededFindings(change, baseline, open, baseline?.binaryAuthorization, enforcedPolicyOf, (policy) => policy !== '', `no policy was enforced before it: an older write at ${change.time}, which arrived later, turned Binary Authorization off`, enforcedAfter);
    }
    return policyRestored(input, open);
  },
};
