// binary-authorization-bypass
//
// Reads:    Cloud Run Services.CreateService / ReplaceService (v1) and CreateService / UpdateService (v2).
// Alerts:   a deploy that creates a revision with a Binary Authorization breakglass justification (v1: the
//           annotation `run.googleapis.com/binary-authorization-breakglass` of the service as written, else as
//           stored; v2: `binaryAuthorization.breakglassJustification`). Breakglass deploys the revision without
//           checking its image against the Binary Authorization policy; the annotation stays on the service, so
//           every revision deployed while it is there is reported (one finding per revision).
// Options:  `rules.binary-authorization-bypass.exceptions` (principal, project, service globs), `severity`.
// Severity: HIGH.
// Blind spots: the justification is free text written by the deployer (shown as written, escaped by each sink).
//           Turning Binary Authorization off altogether (the policy removed) is not reported: the baseline keeps
//           no history of the policy. A v2 update whose mask leaves `binary_authorization` alone says nothing
//           about it and is not judged. Binary Authorization's own breakglass audit event and its continuous
//           validation results are not read. Changes that create no revision (traffic, IAM) never count.
import { baselineKey } from '../baseline/store.js';
import { DEPLOY_METHODS } from './methods.js';
import { createsRevision, serviceLabel, unknownDeployFacts } from './revision.js';
import type { Detection, Detector } from './types.js';

export const binaryAuthorizationBypass: Detector<'binary-authorization-bypass'> = {
  id: 'binary-authorization-bypass',
  title: 'Deploy that bypasses Binary Authorization (breakglass)',
  defaultSeverity: 'HIGH',
  methods: DEPLOY_METHODS,
  changeKinds: ['deploy'],
  detect({ change, baseline }): Detection[] {
    if (change.kind !== 'deploy') return [];
    const justification = change.binaryAuthorization?.breakglassJustification;
    if (justification === undefined) return [];
    if (!createsRevision(change, baseline)) return [];
    const policy = change.binaryAuthorization?.policy;
    return [
      {
        severity: 'HIGH',
        title: 'Deploy that bypasses Binary Authorization (breakglass)',
        summary:
          `${change.principal?.id ?? 'An unknown principal'} deployed ${serviceLabel(change.target)} with Binary Authorization breakglass: ` +
          `the image was not checked against ${policy ? `the policy "${policy}"` : 'any policy'}.`,
        evidence: { justification, policy: policy ?? null, operation: change.operation },
        dedupKey: [baselineKey(change.target), change.revision ?? change.time],
        unknown: unknownDeployFacts(change),
      },
    ];
  },
};
