// off-window-deploy
//
// Reads:    Cloud Run Services.CreateService / ReplaceService (v1) and CreateService / UpdateService (v2), and their
//           job and worker pool counterparts (Jobs.CreateJob / ReplaceJob / UpdateJob, WorkerPools.*: README).
// Alerts:   a deploy that creates a revision at a time outside every configured change window (the wall clock
//           of `timezone`, DST-correct), or inside a freeze period (a freeze overrides every window).
//           Windows are [start, end) on the listed days; an end before the start runs past midnight
//           (an end equal to the start is refused by the config check as an empty window).
// Options:  top-level `timezone` (a place's IANA zone or UTC: the config check refuses EST, BST, Etc/GMT+5 and
//           other names that are no place's clock, config/timeZone.ts), `changeWindows`, `freezes`;
//           `rules.off-window-deploy.exceptions` (principal, project, service globs: a break-glass account, say);
//           `severity`.
// Severity: MEDIUM outside the windows, HIGH during a freeze.
// Blind spots: traffic-only changes and IAM changes are not deploys and never count. A replace of a service the
//           baseline has not seen yet counts as a deploy (the previous template is unknown), and so does a v1 write
//           logged without its template (Cloud Functions' InternalServices calls, read with `cloudFunctions.watch`).
//           A revision known only from its system events (no admin write: excluded, or logged later than the wait)
//           counts at the time Cloud Run created it (the revision event's `metadata.creationTimestamp`; at most
//           `correlation.waitSeconds` before its first event, else the time of that event), which is how a console
//           deploy that logs the very template of the one before it (console writes log no containers) is seen;
//           without those events it is not. The finding's eventTime stays the first event's.
//           A write through the other API version than the deploy before it counts only when a revision event
//           follows it, where the service's events reach runwatch (Rollout.acrossApis).
//           With no windows and no freezes configured the rule never fires.
import { describeWindow, evaluateTime, freezeBounds } from './changeWindows.js';
import { DEPLOY_METHODS } from './methods.js';
import { createsRevision, deployKey, serviceLabel, unknownDeployFacts } from './revision.js';
import type { Detection, Detector } from './types.js';
import { baselineKey } from '../baseline/store.js';

export const offWindowDeploy: Detector<'off-window-deploy'> = {
  id: 'off-window-deploy',
  title: 'Deploy outside a change window',
  defaultSeverity: 'MEDIUM',
  methods: DEPLOY_METHODS,
  changeKinds: ['deploy'],
  detect({ change, baseline, config }): Detection[] {
    if (change.kind !== 'deploy') return [];
    if (config.changeWindows.length === 0 && config.freezes.length === 0) return [];
    if (!createsRevision(change, baseline)) return [];
    // When it was deployed: the write's time; for a deploy known only from its revision's events, when Cloud Run
    // created the revision (its events come when its Ready condition changes, after image import and startup).
    const deployedMs = change.revisionCreatedMs ?? change.timeMs;
    const verdict = evaluateTime(deployedMs, config.timezone, config.changeWindows, config.freezes);
    if (verdict.allowed) return [];
    const who = change.principal?.id ?? 'An unknown principal';
    const where = serviceLabel(change.target);
    const dedupKey = [baselineKey(change.target), ...deployKey(change, baseline)];
    const localTime = verdict.localTime();
    // Said where the time judged is not the finding's eventTime (the event's).
    const created: Readonly<Record<string, string>> = change.revisionCreatedMs !== undefined ? { revisionCreatedAt: new Date(change.revisionCreatedMs).toISOString() } : {};
    if (verdict.freeze) {
      const { start, end } = freezeBounds(verdict.freeze, config.timezone);
      return [
        {
          severity: 'HIGH',
          title: 'Deploy during a change freeze',
          summary: `${who} deployed ${where} at ${localTime} during the freeze${verdict.freeze.reason ? ` "${verdict.freeze.reason}"` : ''}.`,
          evidence: {
            localTime,
            timezone: config.timezone,
            freeze: verdict.freeze.reason ?? 'freeze',
            freezeStart: new Date(start).toISOString(),
            freezeEnd: new Date(end).toISOString(),
            operation: change.operation,
            ...created,
          },
          dedupKey,
          unknown: unknownDeployFacts(change),
        },
      ];
    }
    return [
      {
        severity: 'MEDIUM',
        title: 'Deploy outside a change window',
        summary: `${who} deployed ${where} at ${localTime} (${verdict.day}), outside every change window.`,
        evidence: {
          localTime,
          timezone: config.timezone,
          day: verdict.day,
          windows: config.changeWindows.map(describeWindow),
          operation: change.operation,
          ...created,
        },
        dedupKey,
        unknown: unknownDeployFacts(change),
      },
    ];
  },
};
