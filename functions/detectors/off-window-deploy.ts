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
//           Delivered out of order: a write of the template in force when it came (a revert to the template of the
//           write judged before it) raised nothing; an older write with another template that arrives after it
//           reports its deploy for it (madeDeployByThisTemplate, forNewerWrite: its time and id, principal unknown,
//           so a principal exception cannot hold it back; a project or service one can), once. Not where the
//           service's system events are seen (its revision's events report it), nor for a write that names its
//           revision. When two older writes come late and the later of them is the deploy, the write after both is
//           reported too (what is still to come is not known). That deploy's revision events, arriving after the late
//           write and later than their wait, are not reported again (judgedForNewerWrite): its first id stands.
import { describeWindow, evaluateTime, freezeBounds, type TimeVerdict } from './changeWindows.js';
import { DEPLOY_METHODS } from './methods.js';
import { createsRevision, deployKey, deployMadeByLateTemplate, judgedForNewerWrite, newerWriteAt, serviceLabel, unknownDeployFacts } from './revision.js';
import type { Detection, Detector } from './types.js';
import { baselineKey } from '../baseline/store.js';
import type { ServiceBaseline } from '../baseline/state.js';
import type { RunwatchConfig } from '../config/types.js';
import type { DeployChange } from '../model/change.js';

export const offWindowDeploy: Detector<'off-window-deploy'> = {
  id: 'off-window-deploy',
  title: 'Deploy outside a change window',
  defaultSeverity: 'MEDIUM',
  methods: DEPLOY_METHODS,
  changeKinds: ['deploy'],
  reportsForNewerWrites: true,
  detect({ change, baseline, config }): Detection[] {
    if (change.kind !== 'deploy') return [];
    if (config.changeWindows.length === 0 && config.freezes.length === 0) return [];
    return [...ownDeploy(change, baseline, config), ...madeDeployByThisTemplate(change, baseline, config)];
  },
};

/** The write's own deploy, when it makes a revision outside the windows (or in a freeze). */
function ownDeploy(change: DeployChange, baseline: ServiceBaseline | undefined, config: RunwatchConfig): Detection[] {
  // Not a deploy, or one of its events that this rule judged already, for its write, from a late write before it.
  if (!createsRevision(change, baseline) || judgedForNewerWrite(change, baseline)) return [];
  // When it was deployed: the write's time; for a deploy known only from its revision's events, when Cloud Run
  // created the revision (its events come when its Ready condition changes, after image import and startup).
  const deployedMs = change.revisionCreatedMs ?? change.timeMs;
  const verdict = evaluateTime(deployedMs, config.timezone, config.changeWindows, config.freezes);
  if (verdict.allowed) return [];
  const who = change.principal?.id ?? 'An unknown principal';
  // Said where the time judged is not the finding's eventTime (the event's).
  const created: Readonly<Record<string, string>> = change.revisionCreatedMs !== undefined ? { revisionCreatedAt: new Date(change.revisionCreatedMs).toISOString() } : {};
  const { title, severity, sentence, evidence } = judged(verdict, config, `${who} deployed ${serviceLabel(change.target)}`);
  return [
    {
      severity,
      title,
      summary: `${sentence}.`,
      evidence: { ...evidence, operation: change.operation, ...created },
      dedupKey: [baselineKey(change.target), ...deployKey(change, baseline)],
      unknown: unknownDeployFacts(change),
    },
  ];
}

/**
 * The newer write this one, arriving late, makes a deploy (deployMadeByLateTemplate): judged as no revision when it
 * came (this write's template was not known before it), it is a deploy in timestamp order. Raised for it
 * (forNewerWrite: its time, the dedup key timestamp order gives it, principal unknown) when its time is outside the
 * windows. Its principal is not kept: a principal exception cannot hold it back (the engine checks the others).
 */
function madeDeployByThisTemplate(change: DeployChange, baseline: ServiceBaseline | undefined, config: RunwatchConfig): Detection[] {
  const next = deployMadeByLateTemplate(change, baseline);
  if (next === undefined) return [];
  const verdict = evaluateTime(next.t, config.timezone, config.changeWindows, config.freezes);
  if (verdict.allowed) return [];
  const at = newerWriteAt(next);
  const { title, severity, sentence, evidence } = judged(verdict, config, `A write at ${at.time} (its entry is not kept: who made it is unknown) deployed ${serviceLabel(change.target)}`);
  return [
    {
      severity,
      title,
      summary: `${sentence}. Reported from an older write that changed the template before it and arrived after it (it had been taken for a write of the template in force).`,
      evidence: { ...evidence, reportedFrom: 'an older write that arrived later' },
      // The dedup key timestamp order gives it: a write that names no revision is keyed by its time.
      dedupKey: [baselineKey(change.target), at.time],
      unknown: ['principal', 'revision'],
      forNewerWrite: at,
    },
  ];
}

/** What a deploy at a time the verdict refuses is reported as: title, severity, the summary's sentence (`deployed`: who deployed what), evidence. */
function judged(verdict: TimeVerdict, config: RunwatchConfig, deployed: string): Pick<Detection, 'title' | 'severity' | 'evidence'> & { readonly sentence: string } {
  const localTime = verdict.localTime();
  if (verdict.freeze) {
    const { start, end } = freezeBounds(verdict.freeze, config.timezone);
    return {
      severity: 'HIGH',
      title: 'Deploy during a change freeze',
      sentence: `${deployed} at ${localTime} during the freeze${verdict.freeze.reason ? ` "${verdict.freeze.reason}"` : ''}`,
      evidence: {
        localTime,
        timezone: config.timezone,
        freeze: verdict.freeze.reason ?? 'freeze',
        freezeStart: new Date(start).toISOString(),
        freezeEnd: new Date(end).toISOString(),
      },
    };
  }
  return {
    severity: 'MEDIUM',
    title: 'Deploy outside a change window',
    sentence: `${deployed} at ${localTime} (${verdict.day}), outside every change window`,
    evidence: { localTime, timezone: config.timezone, day: verdict.day, windows: config.changeWindows.map(describeWindow) },
  };
}
