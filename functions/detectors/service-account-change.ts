// service-account-change
//
// Reads:    Cloud Run Services.CreateService / ReplaceService (v1) and CreateService / UpdateService (v2), and their
//           job and worker pool counterparts (Jobs.CreateJob / ReplaceJob / UpdateJob, WorkerPools.*: README).
// Alerts:   the new revision runs as a different service account than the service's previous revision (from
//           the baseline). A service's first deploy sets the baseline and never fires. A service deleted and
//           created again under the name keeps this history: the re-created service's first revision is compared
//           with the deleted one's last, and the finding's evidence then says `recreatedAfterDeleteAt`.
// Options:  `rules.service-account-change.exceptions`, `severity`.
// Severity: HIGH when the new identity is a default service account Google creates with Editor on the project
//           (the default compute SA, or the App Engine default SA `PROJECT_ID@appspot.gserviceaccount.com`);
//           MEDIUM otherwise.
// Resolves: a later revision that runs as another identity (back to the previous one raises no new finding,
//           unless it is back to a default SA: that move is reported HIGH however old the open finding is);
//           a deploy older than the newest known one (arriving late) resolves nothing, nor does a revision that
//           takes none of the traffic (its write's traffic list sends all of it to older revisions: `gcloud run
//           deploy --no-traffic`), which leaves the revision reported serving: the next revision that serves closes
//           the finding when it runs as another identity than the one reported; a late change of identity
//           that a newer revision already changed again is reported and closed at once, and one that newer
//           revisions still run as stays open, closed by whatever closes theirs.
// Blind spots: a template without `serviceAccountName` runs as the default compute SA; where the entry does not
//           reveal the project number the evidence says "default compute SA", which then matches any spelled-out
//           default compute SA. Once the deploy's number is known (a v1 write, or its revision's events), another
//           project's default compute SA is a change. A v2 update whose mask leaves the template alone says nothing
//           about the identity and is skipped. Traffic itself is not followed: moving it back to an older revision
//           that runs as another identity (`gcloud run services update-traffic`, a traffic-only write) raises
//           nothing, and a finding closed by a later revision stays closed when traffic returns to the one reported.
import { baselineKey } from '../baseline/store.js';
import { changedAfter, deletedBetween, indexBefore, pointBefore, valueBefore, type ChangeInstant, type TimePoint } from '../baseline/state.js';
import { capitalized, DEFAULT_COMPUTE_SA_LABEL, describeServiceAccount, templateNounOf } from '../model/change.js';
import { DEPLOY_METHODS } from './methods.js';
import { deployKey, riskInForce, resourceNoun, serviceLabel, unknownDeployFacts } from './revision.js';
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
  detect({ change, baseline }): Detection[] {
    if (change.kind !== 'deploy' || !change.serviceAccount) return [];
    const beforePoint = pointBefore(baseline?.serviceAccount, change);
    if (beforePoint === undefined) return [];
    const before = beforePoint.v;
    const after = describeServiceAccount(change.serviceAccount);
    const projectNumber = change.target.projectNumber;
    if (sameServiceAccount(before, after, projectNumber)) return [];
    const toDefault = change.serviceAccount.kind === 'default-compute';
    const toAppEngineDefault = !toDefault && APP_ENGINE_DEFAULT.test(after);
    // Back to the identity an open finding says the service had before: that is the fix, resolved, not a new risk.
    // Never for a default SA: an old finding about a move away from it must not hide a silent move back to Editor.
    const backToBefore =
      (baseline?.open ?? []).some((o) => o.rule === 'service-account-change' && sameServiceAccount(String(o.finding.evidence['before']), after, projectNumber)) ||
      lateMoveBack(baseline?.serviceAccount, change, before, after, projectNumber);
    if (backToBefore && !toDefault && !toAppEngineDefault) return [];
    // Another project's default compute SA (its number in the address): Editor there, not on this project.
    const foreignNumber = toDefault && projectNumber !== undefined ? /^(\d+)-compute@/.exec(after)?.[1] : undefined;
    const foreign = foreignNumber !== undefined && foreignNumber !== projectNumber;
    const note = foreign
      ? ` (another project's default compute SA, Editor on project ${foreignNumber} by default)`
      : toDefault ? ' (the default compute SA, Editor on the project by default)' : toAppEngineDefault ? ' (the App Engine default SA, Editor on the project by default)' : '';
    // The identity before is the deleted service's: this is the first identity known of the service created again.
    const recreatedAfterDeleteAt = deletedBetween(baseline, beforePoint, change);
    const noun = resourceNoun(change.target);
    const beforeNote = recreatedAfterDeleteAt
      ? ` (its last ${templateNounOf(change.target.resourceType)}'s, before the ${noun} was deleted at ${recreatedAfterDeleteAt} and created again)`
      : '';
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
        // A late deploy (a newer revision already set the identity): closed at once when a newer one changed it again.
        ...riskInForce(baseline?.serviceAccount, change, (identity) => !sameServiceAccount(identity, after, projectNumber), (identity) => `runtime service account is now ${identity}`),
      },
    ];
  },
  resolves({ change, baseline }, open): Resolved[] {
    // A revision that takes none of the traffic (--no-traffic) leaves the one the finding is about serving.
    if (change.kind !== 'deploy' || !change.serviceAccount || change.takesNoTraffic) return [];
    const now = describeServiceAccount(change.serviceAccount);
    const before = valueBefore(baseline?.serviceAccount, change);
    // Only the newest revision's identity closes anything: an older deploy arriving late, or one with nothing
    // known before it, does not.
    if (before === undefined || changedAfter(baseline?.serviceAccount, change)) return [];
    const projectNumber = change.target.projectNumber;
    const reason = `runtime service account is now ${now}`;
    // The same identity as the revision before: what a finding left open by a revision that took no traffic
    // reported is over once a revision that serves runs as another one.
    if (sameServiceAccount(before, now, projectNumber)) {
      return open.filter((o) => !sameServiceAccount(String(o.finding.evidence['after']), now, projectNumber)).map((o) => ({ id: o.finding.id, reason }));
    }
    // The service no longer runs as the identity the finding reported: that risk is gone.
    return open.map((o) => ({ id: o.finding.id, reason }));
  },
};
