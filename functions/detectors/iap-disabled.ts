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
// Options:  `rules.iap-disabled.exceptions` (principal, project, service globs), `severity`.
// Severity: MEDIUM; HIGH when the service can be called without an identity once IAP is gone (the public hold its
//           invoker role, or its invoker IAM check is off, as known from its baseline or this write): IAP was the
//           only gate, and anyone on the internet can now call it.
// Resolves: IAP turned on again by the newest entry about it, or the service deleted. A turn-off that arrives
//           after a newer write turned IAP on again is reported and closed at once; one that arrives after newer
//           writes that keep it off stays open with theirs; so does one a newer write turned on again when IAP is off
//           again at the newest point and no open finding says so (the write that turned it off again was judged
//           while this one waited for its rollout, and raised nothing: revision.ts settingRiskInForce).
//           A delete that arrives after entries about the service created again closes the findings dated before it and
//           none of the re-created service's (revision.ts closedByDelete), as in timestamp order, where the re-created
//           service is compared with the deleted one's IAP setting: its write that kept IAP off raised nothing there
//           either. Unless IAP was on just before the delete or by a re-created write since, and the newest entry turns
//           it off again with no finding of its own: timestamp order reports that, and the finding before the delete
//           stays open for it (revision.ts reportedAgainAfterDelete).
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
//           A write that turned IAP on and arrives after a newer write that turned it off again (judged against IAP off,
//           raising nothing) reports nothing for it: this rule has no report for a newer write (ingress-opened's
//           reopenedAfter). Across a delete (an older write of the deleted service that turned IAP on, or a re-created
//           write between), where the delete closed the finding that stood for the risk, the re-created service can be
//           left with IAP off and no finding open.
//           The baseline keeps no history of IAP until a write that turns IAP on is known (most services never
//           do): when that write arrives after later writes that turned IAP off, those are not compared with it (the
//           next such write is), and until then the service reads as guarded by IAP: a public invoker granted (or
//           the invoker check turned off) meanwhile is said to be behind IAP (public-invoker-grant `behindIap`).
import { baselineKey } from '../baseline/store.js';
import { deletedBetween } from '../baseline/state.js';
import { DELETE_METHODS, DEPLOY_METHODS } from './methods.js';
import { callersEvidence, serviceLabel, settingBefore, settingRestored, settingRiskInForce, unauthenticatedCallers } from './revision.js';
import type { Detection, Detector } from './types.js';

const TITLE = 'Identity-Aware Proxy turned off on a Cloud Run service';

export const iapDisabled: Detector<'iap-disabled'> = {
  id: 'iap-disabled',
  title: TITLE,
  defaultSeverity: 'MEDIUM',
  methods: [...DEPLOY_METHODS, ...DELETE_METHODS],
  changeKinds: ['deploy', 'delete'],
  closedByDelete: true,
  serviceSettings: true,
  detect({ change, baseline }): Detection[] {
    if (change.kind !== 'deploy' || change.iapEnabled !== false) return [];
    const beforePoint = settingBefore(baseline, baseline?.iapEnabled, change, (write) => write.iapEnabled);
    if (beforePoint?.v !== true) return [];
    // IAP on before was the deleted service's: the service was created again under the name without it.
    const recreatedAfterDeleteAt = deletedBetween(baseline, beforePoint, change);
    const who = change.principal?.id ?? 'An unknown principal';
    const unauthenticated = unauthenticatedCallers(change, baseline);
    const callers = unauthenticated.why
      ? ` It can be called without an identity (${unauthenticated.why}): IAP was its only gate, and anyone on the internet can now call it.`
      : ' Callers now face the invoker IAM check alone: IAP access levels (device, network, context) no longer apply.';
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
        ...settingRiskInForce(baseline, baseline?.iapEnabled, change, (enabled) => enabled, () => 'IAP guards it again', 'iap-disabled'),
      },
    ];
  },
  resolves: settingRestored((baseline) => baseline?.iapEnabled, (change) => change.iapEnabled === true, () => 'IAP guards it again', (enabled) => !enabled),
};
