// job-run-overrides
//
// Reads:    Cloud Run job runs (v1 and v2 `Jobs.RunJob`), which Cloud Audit Logs writes to the Data Access log
//           (DATA_WRITE): off by default, on when Data Access logs are enabled for run.googleapis.com (README).
// Alerts:   a run that overrides its containers' arguments (given or cleared) or sets environment variables
//           (`overrides.containerOverrides`, the run.jobs.runWithOverrides permission): the job's runtime service
//           account runs what the caller chose, not only what its template says, and no deploy rule saw it. With a
//           shell in the image, overridden arguments are any code under the job's identity: a known way to use a
//           privileged job's service account without deploying anything.
// Options:  `rules.job-run-overrides.exceptions` (principal, project, and the job as `PROJECT/JOB`), `severity`.
// Severity: HIGH when the arguments are overridden or cleared, or a variable that makes a runtime load code is set
//           (NODE_OPTIONS, LD_PRELOAD, BASH_ENV, JAVA_TOOL_OPTIONS, PYTHONPATH...: audit/env.ts CODE_LOADING_ENV),
//           judged by its value as code-loading-env judges a deploy's (an interpreter option variable with only
//           memory or tuning flags, NODE_OPTIONS=--max-old-space-size=8192, loads nothing; one set from Secret
//           Manager may); MEDIUM for other environment variables only. A configured `severity` replaces HIGH, and
//           MEDIUM too when it is lower (a run with environment only never ranks above one with arguments).
// Resolves: nothing (a run changes no setting).
// Blind spots: a run without overrides runs the template as deployed (the deploy rules judged it), and a run that
//           overrides only the task count or the timeout is not reported. Nothing is reported where Data Access logs
//           are off. The values of the variables set are never kept or shown (they may be secrets: only whether one of
//           the list's loads code is read from them); the arguments are kept as evidence, each cut to 200 characters
//           and at most 20 per container, with what looks like a secret hidden (a credential, or a bearer credential:
//           an Authorization header's, a Google OAuth access token, a JWT; the rest of the argument shown; the value of
//           `NAME=VALUE` where NAME is a secret's name by plaintext-secret-env's globs, also inside an argument: a
//           shell command line, a list, a URL's query; and the argument or command-line word after a flag so named,
//           `--db-password VALUE`, not a long flag nor a file's path after it, nor what follows `--no-password` or
//           `--password-stdin`). A variable that loads code under another name than the list's is judged as any other
//           variable. The runtime service account named is the one the job's baseline knows for the run's time
//           (`unknown` when no write of the job was seen).
import { baselineKey } from '../baseline/store.js';
import { valueBefore } from '../baseline/state.js';
import { JOB_RUN_METHODS } from './methods.js';
import { serviceLabel } from './revision.js';
import type { Detection, Detector } from './types.js';

export const jobRunOverrides: Detector<'job-run-overrides'> = {
  id: 'job-run-overrides',
  title: 'Job run with overridden arguments or environment',
  defaultSeverity: 'HIGH',
  methods: JOB_RUN_METHODS,
  changeKinds: ['job-run'],
  detect({ change, baseline }): Detection[] {
    if (change.kind !== 'job-run') return [];
    const overrides = change.containerOverrides;
    const argsOverridden = overrides.some((o) => o.args !== undefined || o.clearArgs === true);
    const codeLoading = [...new Set(overrides.flatMap((o) => o.codeLoadingEnv ?? []))];
    const args = overrides.flatMap((o) => o.args ?? []);
    const envNames = [...new Set(overrides.flatMap((o) => o.envNames))];
    const identity = valueBefore(baseline?.serviceAccount, change);
    const what = [
      ...(overrides.some((o) => o.args !== undefined) ? ['its arguments'] : overrides.some((o) => o.clearArgs) ? ['its arguments cleared'] : []),
      ...(envNames.length > 0 ? [`environment variable${envNames.length > 1 ? 's' : ''} ${envNames.join(', ')}`] : []),
    ].join(' and ');
    const who = change.principal?.id ?? 'An unknown principal';
    return [
      {
        severity: argsOverridden || codeLoading.length > 0 ? 'HIGH' : 'MEDIUM',
        title: argsOverridden ? 'Job run with overridden arguments' : codeLoading.length > 0 ? 'Job run with environment that loads code' : 'Job run with overridden environment',
        summary:
          `${who} ran ${serviceLabel(change.target)} overriding ${what}: its runtime service account (${identity ?? 'unknown here'}) ran ` +
          `what the caller chose, not only what the job's template says.`,
        evidence: {
          containers: overrides.map((o) => o.container ?? '(unnamed)'),
          ...(args.length > 0 ? { args } : {}),
          ...(overrides.some((o) => o.clearArgs) ? { clearArgs: true } : {}),
          ...(envNames.length > 0 ? { environmentVariables: envNames } : {}),
          ...(codeLoading.length > 0 ? { codeLoadingVariables: codeLoading } : {}),
          ...(change.taskCount !== undefined ? { taskCount: change.taskCount } : {}),
          ...(change.timeout !== undefined ? { timeout: change.timeout } : {}),
          runtimeServiceAccount: identity ?? null,
        },
        // One finding per run: the run's time and its entry.
        dedupKey: [baselineKey(change.target), 'job-run', change.time, change.key.insertId],
        unknown: [...(identity === undefined ? ['serviceAccount'] : []), ...(change.principal ? [] : ['principal'])],
      },
    ];
  },
};
