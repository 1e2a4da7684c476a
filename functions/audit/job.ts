// Cloud Run jobs: what a job's admin write says (its runtime identity, images, labels, VPC egress, Binary
// Authorization, plain environment variables), in the same terms as a service's deploy. A job has no revisions,
// traffic, ingress or invoker check: its execution template is in force for every execution started after the write.
// Field paths: Cloud Run Admin API v1 Job (`spec.template` an ExecutionTemplateSpec whose `spec.template.spec` is the
// TaskSpec) and v2 Job (`template` an ExecutionTemplate whose `template` is the TaskTemplate). No real job entry has
// been public, so these follow the API definitions and the service entries' shape (test/fixtures/synthetic-job-*).
import {
  defaultComputeServiceAccount,
  runtimeServiceAccountFromEmail,
  type ContainerOverride,
  type RuntimeServiceAccount,
} from '../model/change.js';
import { truncatePlain } from '../untrustedText.js';
import { imagesOrAnnotated, imagesOf } from './image.js';
import { sourcesOf } from './source.js';
import { codeLoadingEnvOf, hideSecretsInArgs, plainEnvOf, variableLoadsCode } from './env.js';
import { v1VpcAccess, v2VpcAccess, vpcFacts } from './vpc.js';
import { asArray, asBoolean, asNumber, asObject, asString, at, field, stringIn, userLabels, type JsonObject } from './json.js';
import { binaryAuthorizationOf, templateFingerprint, v1BinaryAuthorization } from './template.js';
import type { DeployFacts, EnvSecrets, SecretEnvNames } from './normalize.js';

/**
 * v1: a Knative-style Job (a full PUT) in the request, echoed with server fields in the response. Its execution
 * template (`spec.template`) is what executions run: the task's containers and identity (`spec.template.spec.template
 * .spec`), and the VPC annotations on the execution template's metadata. Binary Authorization is a job annotation.
 */
export function v1JobFacts(pp: JsonObject, secrets: EnvSecrets): DeployFacts {
  const { secretEnv } = secrets;
  const response = asObject(pp['response']);
  const job = asObject(at(pp, 'request', 'job')) ?? response;
  const execution = asObject(at(job, 'spec', 'template'));
  const executionMeta = asObject(execution?.['metadata']);
  const taskSpec = asObject(at(execution, 'spec', 'template', 'spec'));
  const annotations = asObject(at(job, 'metadata', 'annotations'));
  const executionAnnotations = asObject(executionMeta?.['annotations']);
  const revisionLabels = userLabels(executionMeta?.['labels']);
  const labels = { ...userLabels(at(job, 'metadata', 'labels')), ...revisionLabels };
  let serviceAccount: RuntimeServiceAccount | undefined;
  // Only a task spec that is logged says who the task runs as: none (or an empty one) is no job's, and a job has no
  // system events to say it instead.
  if (isLogged(taskSpec)) {
    const email = asString(taskSpec['serviceAccountName']);
    serviceAccount = email ? runtimeServiceAccountFromEmail(email) : defaultComputeServiceAccount(undefined);
  }
  const containers = asArray(taskSpec?.['containers']);
  const stored = asObject(at(response, 'metadata', 'annotations'));
  const setting = (key: string): string | undefined => stringIn(annotations, key) ?? stringIn(stored, key);
  return {
    annotations,
    generation: asNumber(at(response, 'metadata', 'generation')),
    // A template logged without its containers does not say what runs (no system event will): two writes of other
    // images would log the same one. Unknown, so each write counts as a deploy.
    templateFingerprint: execution && containers.length > 0 ? templateFingerprint('v1', execution) : undefined,
    serviceAccount,
    images: imagesOrAnnotated(containers, executionAnnotations, annotations),
    labels,
    revisionLabels,
    binaryAuthorization:
      annotations || stored
        ? v1BinaryAuthorization(setting('run.googleapis.com/binary-authorization'), setting('run.googleapis.com/binary-authorization-breakglass'), containers.length > 0)
        : undefined,
    plainEnv: secretEnv && containers.length > 0 ? plainEnvOf(containers, secretEnv) : undefined,
    codeLoadingEnv: containers.length > 0 ? codeLoadingEnvOf(containers, secrets) : undefined,
    ...vpcFacts(execution ? v1VpcAccess(executionAnnotations, containers.length > 0) : undefined),
    operationId: asString(at(response, 'metadata', 'annotations', 'run.googleapis.com/operation-id')),
  };
}

/**
 * v2: a google.cloud.run.v2.Job in the request (camelCase or snake_case). CreateJob and UpdateJob take no update mask:
 * every write sets the whole job, so a field the body leaves out is set to its default (no VPC access, no Binary
 * Authorization, the default compute SA).
 */
export function v2JobFacts(pp: JsonObject, secrets: EnvSecrets): DeployFacts {
  const { secretEnv } = secrets;
  const job = asObject(at(pp, 'request', 'job'));
  if (!job) return { annotations: undefined, images: [], labels: {} };
  const execution = asObject(field(job, 'template'));
  const task = asObject(field(execution, 'template'));
  const revisionLabels = userLabels(field(execution, 'labels'));
  const labels = { ...userLabels(field(job, 'labels')), ...revisionLabels };
  let serviceAccount: RuntimeServiceAccount | undefined;
  if (isLogged(task)) {
    const email = asString(field(task, 'serviceAccount'));
    serviceAccount = email ? runtimeServiceAccountFromEmail(email) : defaultComputeServiceAccount(undefined);
  }
  const containers = asArray(field(task, 'containers'));
  const binauthz = asObject(field(job, 'binaryAuthorization'));
  const policy = asBoolean(field(binauthz, 'useDefault')) ? 'default' : asString(field(binauthz, 'policy'));
  return {
    annotations: asObject(field(job, 'annotations')),
    templateFingerprint: execution && containers.length > 0 ? templateFingerprint('v2', execution) : undefined,
    serviceAccount,
    images: imagesOf(containers),
    sources: sourcesOf(containers),
    labels,
    revisionLabels,
    binaryAuthorization: binaryAuthorizationOf(policy, asString(field(binauthz, 'breakglassJustification')), true, true),
    // A template without containers (a write needs one) says nothing about them.
    plainEnv: secretEnv && containers.length > 0 ? plainEnvOf(containers, secretEnv) : undefined,
    codeLoadingEnv: containers.length > 0 ? codeLoadingEnvOf(containers, secrets) : undefined,
    // A task spec logged without its containers is not visibly whole (as v1's: v1VpcEgress).
    ...vpcFacts(execution ? v2VpcAccess(asObject(field(task, 'vpcAccess')), containers.length > 0) : undefined),
  };
}

/** A task spec the entry logs: present and not empty (every real one has its containers). */
function isLogged(taskSpec: JsonObject | undefined): taskSpec is JsonObject {
  return taskSpec !== undefined && Object.keys(taskSpec).length > 0;
}

/**
 * A run's overrides are the caller's text: each argument (and variable name) is cut, and at most this many are kept
 * per container, followed by `… N more` when there were more.
 */
export const OVERRIDE_ARG_MAX_LENGTH = 200;
export const OVERRIDE_ARGS_MAX = 20;
export const OVERRIDE_ENV_MAX = 50;

/**
 * What a RunJob request overrides of the job's containers (v1 and v2 share the shape:
 * `overrides.containerOverrides[{name, args, env, clearArgs}]`), those that change what runs: arguments given or
 * cleared, or environment variables set (by name: values may be secrets). Empty when the run overrides nothing of
 * its containers (a task count or a timeout only). A secret in an argument is hidden (hideSecretsInArgs, with
 * plaintext-secret-env's name globs, whether or not that rule is on).
 */
export function containerOverridesOf(overrides: JsonObject | undefined, secretNames?: SecretEnvNames): ContainerOverride[] {
  const out: ContainerOverride[] = [];
  for (const item of asArray(field(overrides, 'containerOverrides'))) {
    const override = asObject(item);
    if (!override) continue;
    const rawArgs = asArray(field(override, 'args')).filter((a): a is string => typeof a === 'string');
    // Secrets hidden before anything is cut: the arguments travel to every sink. Only the arguments kept (each needs
    // only the one before it): an entry can carry a hundred thousand, and reading them all took seconds.
    const kept = hideSecretsInArgs(rawArgs.slice(0, OVERRIDE_ARGS_MAX), secretNames);
    const args = capped(rawArgs, OVERRIDE_ARGS_MAX, (_, i) => kept[i]!);
    const clearArgs = asBoolean(field(override, 'clearArgs')) === true;
    const rawEnv = asArray(field(override, 'env')).map(asObject);
    const rawEnvNames = rawEnv.map((e) => asString(e?.['name'])).filter((n): n is string => n !== undefined && n !== '');
    const envNames = capped(rawEnvNames, OVERRIDE_ENV_MAX, (n) => n);
    // Judged on every variable, not only the names kept: one past the cap must not hide. By its value too, as a
    // deploy's are (a memory flag in NODE_OPTIONS loads nothing); the value itself is never kept.
    const codeLoading = [...new Set(rawEnv.filter(variableLoadsCode).map((e) => asString(e?.['name'])!))];
    if (args.length === 0 && !clearArgs && envNames.length === 0) continue;
    const container = asString(field(override, 'name'));
    out.push({
      ...(container ? { container: truncatePlain(container, OVERRIDE_ARG_MAX_LENGTH) } : {}),
      ...(args.length > 0 ? { args } : {}),
      ...(clearArgs ? { clearArgs: true as const } : {}),
      envNames,
      ...(codeLoading.length > 0 ? { codeLoadingEnv: codeLoading } : {}),
    });
  }
  return out;
}

/** The first `max` texts, each shown by `show` (with its index) and cut, then `… N more` when there were more. */
function capped(texts: readonly string[], max: number, show: (text: string, index: number) => string): string[] {
  const out = texts.slice(0, max).map((text, i) => truncatePlain(show(text, i), OVERRIDE_ARG_MAX_LENGTH));
  if (texts.length > max) out.push(`… ${texts.length - max} more`);
  return out;
}

