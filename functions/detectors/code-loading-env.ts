// code-loading-env
//
// Reads:    Cloud Run deploys of services, jobs and worker pools (v1 CreateService / ReplaceService, v2
//           CreateService / UpdateService, and their job and worker pool counterparts): the template's containers'
//           `env`, and deletes.
// Alerts:   a revision that sets a variable that makes its runtime load code (NODE_OPTIONS, LD_PRELOAD, BASH_ENV,
//           JAVA_TOOL_OPTIONS, PYTHONPATH, DOTNET_STARTUP_HOOKS...: audit/env.ts CODE_LOADING_ENV) that the
//           revision before did not set, or sets it to another value (or another Secret Manager reference); a sidecar
//           added or taken away that sets the app's variable's name too leaves the app's the variable it was
//           (detectors/envVariables.ts: it is named `container/NAME` only where several containers set it). Options
//           variables (NODE_OPTIONS, the Java option variables, OpenJ9's and the start scripts' JAVA_OPTS and CATALINA_OPTS
//           included, PERL5OPT, RUBYOPT) count only with an option that loads code (`--require`, `--import`,
//           `-javaagent:`, a class path...: audit/env.ts loadsCode), not memory or diagnostics flags, and
//           PYTHONWARNINGS only with a category in antigravity (Python imports it, which opens a browser: the BROWSER
//           variable's command runs); a value from Secret Manager counts (it cannot be read
//           here). Such a variable runs code the image does not hold or did not run before
//           (`NODE_OPTIONS=--import=data:...` is code inline; `LD_PRELOAD` or `--require` of a file on a mounted
//           bucket is code from outside the image), whatever the image: no image rule sees it, and Binary
//           Authorization, which attests images, lets it by.
// Options:  `rules.code-loading-env.exceptions` (principal, project, service globs), `severity`.
// Severity: MEDIUM; HIGH when the revision runs under an enforced Binary Authorization policy (as the write sets it,
//           else as in force before it): the policy is there so that only attested code runs.
// Resolves: a newer revision where none of the finding's variables has the value reported (unset, or set
//           otherwise: that is reported on its own) and that takes traffic (one whose write sends all of it to older
//           revisions, `gcloud run deploy --no-traffic` or a worker pool's instance split pinning its instances to
//           older revisions, leaves the one reported serving), or the service deleted.
//           A late revision whose values a newer one that took traffic already changed is reported and closed at once.
//           A delete that arrives after entries about the service (job, worker pool) created again closes the findings
//           dated before it and none of the re-created one's (revision.ts closedByDelete), as in timestamp order; but
//           for one whose variables the re-created one's newest entry sets again (a new value is reported as changed)
//           with no finding of its own naming them (with or without their container): its write was judged before the
//           delete was known, against this finding's value, and raised nothing, where timestamp order reports it
//           afresh (the delete closed the findings on the deleted one's values). That finding stays open for it, under
//           its own time and id (revision.ts somePartReportedAgain), also where a newer --no-traffic revision without
//           it leaves that one serving.
// Blind spots: a service's first revision known sets the baseline, so a service created (or first seen) with such a
//           variable raises nothing, nor does JAVA_OPTS, CATALINA_OPTS or PYTHONWARNINGS on the first deploy after an
//           upgrade from a version that did not read them (its baseline says nothing of them:
//           ServiceBaseline.codeLoadingEnvReadsAllFrom); a service deleted and created again has each of its variables
//           that load code reported (the delete closed the findings on the deleted one's values). Console writes log no
//           containers, nor does a v2 update whose mask leaves them alone: their variables are read from the revision's
//           system events (the revision whole), and are unknown and compared with nothing when those never come. Code
//           loaded under other names (an application's own plugin path), through `command` or `args`, or from the image
//           itself is not seen. Values are shown cut to 200 characters (an option that loads code past the cut from
//           where it starts) with secrets hidden; the comparison uses a SHA-256 digest of the whole value. A revision
//           with more than 16 such variables has 15 compared one by one (those that load code first) and the rest as
//           one, `(more)`: its value lists their names, the summary says one or more changed.
import { CODE_LOADING_ENV_READ_LATER, foldedDigest, MORE_CODE_LOADING_VARIABLES, NAMED_CODE_LOADING_VARIABLES } from '../audit/env.js';
import { baselineKey } from '../baseline/store.js';
import { deletedBetween, pointBefore, servedChangeAfter, type ServiceBaseline } from '../baseline/state.js';
import { codeLoadingKey, enforcedPolicyOf, envVarName, type CodeLoadingVar, type DeployChange } from '../model/change.js';
import { DELETE_METHODS, DEPLOY_METHODS } from './methods.js';
import { closableBy, closedByDelete, resourceNoun, riskInForce, serviceLabel, settingBefore, somePartReportedAgain } from './revision.js';
import { continuedFrom, parseEnvVarName, sameNamedVariable, sameVariable, variablesOf, type EnvVariable } from './envVariables.js';
import type { Detection, Detector, Resolved } from './types.js';

const TITLE = 'Environment variable that loads code set';
/** A finding on variables that were all set before, to other values. */
const CHANGED_TITLE = 'Environment variable that loads code changed';
const RESOLVED_REASON = 'the variables no longer have the values reported';

/** A variable as a baseline keeps it (`container/NAME#digest`: codeLoadingKey). */
interface KeptVariable extends EnvVariable {
  readonly digest: string;
}

function keptVariable(key: string): KeptVariable {
  const hash = key.lastIndexOf('#');
  return { ...parseEnvVarName(key.slice(0, hash)), digest: key.slice(hash + 1) };
}

/**
 * True when `key` (a baseline's) is `variable` with the same value: its own key, or the key of the variable it may be
 * (a sidecar added or taken away beside it moves it from `NAME` to `app/NAME` or back: detectors/envVariables.ts).
 */
function keepsValue(key: string, variable: KeptVariable): boolean {
  const kept = keptVariable(key);
  return kept.digest === variable.digest && sameVariable(kept, variable);
}

/**
 * The variables named now that were folded into MORE_CODE_LOADING_VARIABLES before, unchanged: those that continue no
 * variable named before when they alone give its digest (a variable named before went, and they moved into its
 * place). None otherwise: each is then judged as set.
 */
function movedFromFolded(variables: readonly CodeLoadingVar[], continued: readonly (KeptVariable | undefined)[], before: readonly KeptVariable[]): ReadonlySet<CodeLoadingVar> {
  const folded = before.find((v) => v.container === undefined && v.name === MORE_CODE_LOADING_VARIABLES);
  if (folded === undefined) return NONE_MOVED;
  const unnamed = variables.filter((v, i) => v.name !== MORE_CODE_LOADING_VARIABLES && continued[i] === undefined);
  return unnamed.length > 0 && folded.digest === foldedDigest(unnamed) ? new Set(unnamed) : NONE_MOVED;
}
const NONE_MOVED: ReadonlySet<CodeLoadingVar> = new Set();

/** The Binary Authorization policy this revision runs under: as the write sets it, else as in force before it. */
function enforcedPolicy(change: DeployChange, baseline: ServiceBaseline | undefined): string | undefined {
  return enforcedPolicyOf(change) ?? settingBefore(baseline, baseline?.binaryAuthorization, change, enforcedPolicyOf)?.v;
}

export const codeLoadingEnv: Detector<'code-loading-env'> = {
  id: 'code-loading-env',
  title: TITLE,
  defaultSeverity: 'MEDIUM',
  methods: [...DEPLOY_METHODS, ...DELETE_METHODS],
  changeKinds: ['deploy', 'delete'],
  closedByDelete: true,
  detect({ change, baseline }): Detection[] {
    // Most revisions set no such variable: nothing can be new.
    if (change.kind !== 'deploy' || !change.codeLoadingEnv || change.codeLoadingEnv.length === 0) return [];
    const point = pointBefore(baseline?.codeLoadingEnv, change);
    if (point === undefined) return []; // the first revision known sets the baseline
    // A service created again after a delete: the delete closed the findings on the deleted one's values, so none of
    // them is taken as known (the same payload back would run with no finding open); each that loads code is reported.
    const recreatedAfterDeleteAt = deletedBetween(baseline, point, change);
    const before = recreatedAfterDeleteAt ? [] : point.v.map(keptVariable);
    // Each variable before is taken once, by the one now with its value first (envVariables.ts continuedFrom).
    const continued = continuedFrom(change.codeLoadingEnv, before, (now, old) => now.digest === old.digest);
    const moved = movedFromFolded(change.codeLoadingEnv, continued, before);
    // A point stored by the version before JAVA_OPTS, CATALINA_OPTS and PYTHONWARNINGS were read holds no key of
    // theirs: one set now was not known then, as on a first revision, not newly set (an upgrade pages for nothing).
    const unread = (variable: CodeLoadingVar): boolean =>
      !recreatedAfterDeleteAt && CODE_LOADING_ENV_READ_LATER.has(variable.name) && !(point.t >= (baseline?.codeLoadingEnvReadsAllFrom ?? Infinity));
    const set: CodeLoadingVar[] = [];
    const changed: CodeLoadingVar[] = [];
    change.codeLoadingEnv.forEach((variable, i) => {
      if (!variable.loadsCode) return; // kept in the baseline all the same: a later value that does load code is a change
      const old = continued[i];
      if (old === undefined) {
        if (!moved.has(variable) && !unread(variable)) set.push(variable);
      } else if (old.digest !== variable.digest) changed.push(variable);
    });
    const reported = [...set, ...changed];
    if (reported.length === 0) return [];
    const names = reported.map(envVarName);
    const policy = enforcedPolicy(change, baseline);
    const attested = policy !== undefined && policy !== '';
    const who = change.principal?.id ?? 'An unknown principal';
    const what = [
      ...(set.length > 0 ? [`set ${set.map(summaryName).join(', ')}`] : []),
      ...(changed.length > 0 ? [`changed ${changed.map(summaryName).join(', ')}`] : []),
    ].join(' and ');
    const plural = reported.length > 1 || reported.some((v) => v.name === MORE_CODE_LOADING_VARIABLES);
    const reportedKeys = reported.map(codeLoadingKey).sort();
    return [
      {
        severity: attested ? 'HIGH' : 'MEDIUM',
        title: set.length > 0 ? TITLE : CHANGED_TITLE,
        summary:
          `${who} deployed ${serviceLabel(change.target)} and ${what}, ${plural ? 'variables' : 'a variable'} that make${plural ? '' : 's'} its runtime load code: ` +
          `the ${resourceNoun(change.target)} now loads code named in its environment, not built into its image` +
          `${attested ? `, past the Binary Authorization policy it enforces (${policy}), which attests images only` : ''}` +
          `${recreatedAfterDeleteAt ? ` (created again after it was deleted at ${recreatedAfterDeleteAt})` : ''}.`,
        evidence: {
          variables: names,
          values: reported.map(shownAssignment),
          ...(changed.length > 0 ? { changed: changed.map(envVarName) } : {}),
          binaryAuthorizationEnforced: attested,
          operation: change.operation,
          ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}),
        },
        dedupKey: [baselineKey(change.target), 'code-loading-env', reportedKeys.join(','), change.time],
        // A late entry: closed at once when a newer revision that took traffic already holds none of these values.
        ...riskInForce(baseline?.codeLoadingEnv, change, (now) => reported.every((variable) => !now.some((key) => keepsValue(key, variable))), () => RESOLVED_REASON, baseline?.tookNoTraffic),
      },
    ];
  },
  resolves({ change, baseline }, open): Resolved[] {
    if (change.kind === 'delete') {
      // A service created again has each such variable reported afresh: one its write set again before the delete was
      // known (the same value: a new one is reported as changed) raised nothing, and the finding about it stands for
      // it (closedByDelete), also under a newer --no-traffic revision without it (the one that set it still serves).
      const sets = (name: string) => (keys: readonly string[]): boolean => keys.some((key) => sameVariable(parseEnvVarName(name), keptVariable(key)));
      return closedByDelete(open, change, [baseline?.codeLoadingEnv], (o, recreated) => somePartReportedAgain(variablesOf(o), baseline?.codeLoadingEnv, change, sets, recreated, variablesOf, sameNamedVariable, baseline?.tookNoTraffic));
    }
    // A revision that takes none of the traffic (--no-traffic) leaves the one reported serving.
    if (change.kind !== 'deploy' || !change.codeLoadingEnv || change.takesNoTraffic || servedChangeAfter(baseline?.codeLoadingEnv, change, baseline?.tookNoTraffic)) return [];
    // Findings keep the values as shown (never a digest of a value): a value changed past what is shown stays open
    // until the variable goes or shows otherwise (the change itself is reported).
    const now = change.codeLoadingEnv;
    return closableBy(open, baseline?.codeLoadingEnv, change)
      .filter((o) => {
        const values = o.finding.evidence['values'];
        return Array.isArray(values) && (values as readonly string[]).every((value) => !now.some((variable) => showsValue(value, variable)));
      })
      .map((o) => ({ id: o.finding.id, reason: RESOLVED_REASON }));
  },
};

/**
 * A variable as the summary names it: MORE_CODE_LOADING_VARIABLES is no variable, but those past the ones named one
 * by one (its value lists them), compared together: one or more of them was set or changed.
 */
function summaryName(variable: CodeLoadingVar): string {
  if (variable.name !== MORE_CODE_LOADING_VARIABLES) return envVarName(variable);
  return `one or more of ${variable.value.split(' ').join(', ')} (past the first ${NAMED_CODE_LOADING_VARIABLES} such variables, compared together)`;
}

/** `container/NAME=value` as findings show it. */
function shownAssignment(variable: CodeLoadingVar): string {
  return `${envVarName(variable)}=${variable.value}`;
}

/**
 * True when `shown` (a finding's value, `container/NAME=value`) is `variable` with the value shown: as it shows it, or
 * the variable it may be (a name holds no `=`), moved from `NAME` to `app/NAME` or back by a sidecar added or taken away.
 */
function showsValue(shown: string, variable: CodeLoadingVar): boolean {
  if (shown === shownAssignment(variable)) return true;
  const equals = shown.indexOf('=');
  return equals !== -1 && shown.slice(equals + 1) === variable.value && sameVariable(parseEnvVarName(shown.slice(0, equals)), variable);
}
