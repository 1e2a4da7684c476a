// binary-authorization-bypass
//
// Reads:    Cloud Run Services.CreateService / ReplaceService (v1) and CreateService / UpdateService (v2).
// Alerts:   (1) a deploy that creates a revision with a Binary Authorization breakglass justification (v1: the
//           annotation `run.googleapis.com/binary-authorization-breakglass` of the service as written, else as
//           stored; v2: `binaryAuthorization.breakglassJustification`). Breakglass deploys the revision without
//           checking its image against the policy; the annotation stays on the service, so every revision
//           deployed while it is there is reported (one finding per revision).
//           (2) a write that turns Binary Authorization off on a service that enforced a policy (v1: the
//           `run.googleapis.com/binary-authorization` annotation removed; v2: `binaryAuthorization` emptied), with
//           or without a new revision: revisions deployed from then on are not checked.
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
//           is never "turned off": a created service has no earlier settings.
//           Binary Authorization's own breakglass audit event, the project's Binary Authorization policy itself
//           (`binaryauthorization.googleapis.com`) and continuous validation results are not read.
import { baselineKey } from '../baseline/store.js';
import { valueBefore } from '../baseline/state.js';
import { DEPLOY_METHODS } from './methods.js';
import { createsRevision, serviceLabel, unknownDeployFacts } from './revision.js';
import type { BinaryAuthorization } from '../model/change.js';
import type { Detection, Detector } from './types.js';

/** What a change that says nothing about Binary Authorization tells: nothing (nor that breakglass stayed as it was). */
const UNKNOWN: BinaryAuthorization = { policyUnknown: true };

export const binaryAuthorizationBypass: Detector<'binary-authorization-bypass'> = {
  id: 'binary-authorization-bypass',
  title: 'Deploy that bypasses Binary Authorization (breakglass)',
  defaultSeverity: 'HIGH',
  methods: DEPLOY_METHODS,
  changeKinds: ['deploy'],
  detect({ change, baseline }): Detection[] {
    if (change.kind !== 'deploy') return [];
    const { policy, policyUnknown, breakglassJustification: written, breakglassUnknown } = change.binaryAuthorization ?? UNKNOWN;
    // A write that leaves breakglass as it was (a v2 mask naming other fields, a v1 body logged without its
    // containers) deploys under the justification in force, if any. A write that says nothing at all: unknown.
    const inForce = breakglassUnknown ? valueBefore(baseline?.breakglass, change.timeMs) || undefined : undefined;
    const breakglassJustification = written ?? inForce;
    const who = change.principal?.id ?? 'An unknown principal';
    const detections: Detection[] = [];
    // (2) Turned off: the write set no policy where one was enforced just before it. Never a create: a service
    // created has no earlier settings (whatever the baseline still holds, say when the delete before it came late).
    const before = policyUnknown || policy || change.operation === 'create' ? undefined : valueBefore(baseline?.binaryAuthorization, change.timeMs);
    if (before) {
      detections.push({
        severity: 'HIGH',
        title: 'Binary Authorization turned off',
        summary: `${who} turned Binary Authorization off on ${serviceLabel(change.target)}, which enforced the policy "${before}": revisions deployed from now on are not checked.`,
        evidence: { policyBefore: before, policy: null, operation: change.operation },
        dedupKey: [baselineKey(change.target), 'turned off', change.time],
        unknown: unknownDeployFacts(change),
        serviceSetting: true,
      });
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
        dedupKey: [baselineKey(change.target), change.revision ?? change.time],
        unknown: unknownDeployFacts(change),
      });
    }
    return detections;
  },
};
