// The normalized change model: what the detectors read. Every fact is read from the raw LogEntry once, by the
// normalizer (functions/audit/normalize.ts); a fact the entry does not carry is `undefined` and means "unknown".

/** Identity of a LogEntry as Cloud Logging defines it: the same logName, timestamp and insertId is the same entry. */
export interface EntryKey {
  readonly logName: string;
  readonly timestamp: string;
  readonly insertId: string;
}

/** The same log entry: Cloud Logging's identity of an entry is its log name, timestamp and insertId together. */
export function sameEntry(a: EntryKey, b: EntryKey): boolean {
  return a.insertId === b.insertId && a.timestamp === b.timestamp && a.logName === b.logName;
}

export interface ServiceRef {
  readonly project: string;
  /** Project number, when the entry reveals it (Knative `metadata.namespace`, default compute SA). */
  readonly projectNumber?: string;
  readonly location?: string;
  /** The service's name; for a job or a worker pool (`resourceType`), its name. */
  readonly service: string;
  /** What the name names when it is not a service (ResourceType). Absent: a service. */
  readonly resourceType?: ResourceType;
}

/**
 * Cloud Run resources other than services that run a template of containers under a runtime service account:
 * `job`, a container run to completion by its executions (no revisions: its template is in force from the write
 * on); `worker-pool`, long-running instances that take no requests (revisions, but no ingress or invoker; its instance
 * split among its revisions is read as traffic: splitsAmongRevisions).
 */
export type ResourceType = 'job' | 'worker-pool';

/** True when `ref` names a Cloud Run job. */
export function isJob(ref: { readonly resourceType?: ResourceType }): boolean {
  return ref.resourceType === 'job';
}

/** True when `ref` names a Cloud Run service: the one resource whose deploys wait for their revisions' system events. */
export function isService(ref: { readonly resourceType?: ResourceType }): boolean {
  return ref.resourceType === undefined;
}

/**
 * True when `ref` names a resource that shares its work out among its revisions by a list its writes set: a service its
 * traffic, a worker pool its instances (read as traffic: audit/normalize.ts SPLIT_READINGS). Not a job: no revisions.
 */
export function splitsAmongRevisions(ref: { readonly resourceType?: ResourceType }): boolean {
  return ref.resourceType !== 'job';
}

/** The words a finding uses for what it is about. */
export function resourceNounOf(resourceType: ResourceType | undefined): 'service' | 'job' | 'worker pool' {
  return resourceType === 'job' ? 'job' : resourceType === 'worker-pool' ? 'worker pool' : 'service';
}

/** `PROJECT/NAME (LOCATION)`, after `job ` or `worker pool ` for those: where a change or a finding is, in words. */
export function resourceLabel(ref: { readonly project: string; readonly service: string; readonly location?: string; readonly resourceType?: ResourceType }): string {
  return `${ref.resourceType ? `${resourceNounOf(ref.resourceType)} ` : ''}${ref.project}/${ref.service}${ref.location ? ` (${ref.location})` : ''}`;
}

/** What a template write makes of a resource, in a finding's words: a job's execution template, else a revision. */
export function templateNounOf(resourceType: ResourceType | undefined): 'template' | 'revision' {
  return resourceType === 'job' ? 'template' : 'revision';
}

/** The text with its first letter in upper case (a title or a sentence that starts with a noun above). */
export function capitalized(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
}

export interface Principal {
  /** The identity that made the call: principalEmail, else principalSubject. */
  readonly id: string;
  /** Who acted through it, in the order Cloud Audit Logs lists them (original caller first). */
  readonly delegationChain: readonly string[];
}

export interface Client {
  /** `run.googleapis.com/client-name` annotation (`gcloud`, `cloud-console`), else derived from the user agent. */
  readonly name?: string;
  readonly version?: string;
  readonly userAgent?: string;
  readonly callerIp?: string;
}

/** The runtime identity a revision runs as. */
export type RuntimeServiceAccount =
  | { readonly kind: 'explicit'; readonly email: string }
  /** No service account in the template: Cloud Run uses PROJECT_NUMBER-compute@developer.gserviceaccount.com. */
  | { readonly kind: 'default-compute'; readonly email?: string };

/** An image a revision runs: parsed, or a reference that is not valid image-reference grammar. */
export type ImageRef = ParsedImageRef | UnparseableImageRef;

export interface ParsedImageRef {
  /** The reference as written in the entry. */
  readonly reference: string;
  /** Registry host and path without image name, tag or digest, e.g. `us-docker.pkg.dev/acme/prod`. */
  readonly repository: string;
  /** Full image name without tag or digest, e.g. `us-docker.pkg.dev/acme/prod/api`. */
  readonly name: string;
  readonly tag?: string;
  readonly digest?: string;
  /**
   * The image of a container beside the one that takes the requests (a multi-container revision): not the service's
   * own build, so its tag is never taken for the service's commit.
   */
  readonly sidecar?: true;
  readonly unparseable?: undefined;
  /** Read from the `client.knative.dev/user-image` annotation (the deployer writes it), no container naming one. */
  readonly annotated?: true;
}

/**
 * A reference runwatch cannot parse (Cloud Run accepts only valid ones, so this means the grammar here and Cloud
 * Run's differ): kept, so that it is reported rather than dropped, and so that a trusted
 * `client.knative.dev/user-image` annotation, which the deployer writes, cannot stand in for it.
 */
export interface UnparseableImageRef {
  /** As written in the entry (trimmed; cut after MAX_REFERENCE_LENGTH characters). */
  readonly reference: string;
  readonly unparseable: true;
  /** Read from the `client.knative.dev/user-image` annotation (the deployer writes it), no container naming one. */
  readonly annotated?: true;
}

/**
 * Code a container runs that is not its image, from a v2 Container (a v1 write names base images and objects in
 * Cloud Storage in its template annotations `run.googleapis.com/base-images` and `run.googleapis.com/sources`:
 * audit/source.ts annotatedSourcesOf): `cloud-storage`,
 * an object in a bucket (`sourceCode.cloudStorageSource`), whose repository is the bucket, `gs://BUCKET`; `inlined`,
 * source code in the deploy request itself (`sourceCode.inlinedSource`, input only), from nowhere runwatch can name;
 * `base-image`, the runtime base image it runs on (`baseImageUri`: a Google runtime base image of a source deploy, or
 * one enrolled in automatic base image updates); `unknown`, a `sourceCode` runwatch cannot read (audit/source.ts
 * unreadableSourceOf). `sidecar`: the container is not the one that takes the requests.
 */
export type CodeSource = BucketSource | InlinedSource | BaseImageSource | UnknownSource;

export interface BucketSource {
  readonly kind: 'cloud-storage';
  /** The bucket's name as written (cut to the longest name Cloud Storage allows). */
  readonly bucket: string;
  /**
   * `gs://BUCKET`: the bucket alone, not the object's folder (detectors/new-image-repository.ts says why). Undefined
   * when the write names no bucket Cloud Storage allows: its origin is unknown (reported each time, never remembered).
   */
  readonly repository?: string;
  /** The object's name as written (the deployer's text: evidence only, never markup). */
  readonly object?: string;
  /** The object's generation (an int64, a string in JSON), when the write names one. */
  readonly generation?: string;
  readonly sidecar?: true;
}

export interface InlinedSource {
  readonly kind: 'inlined';
  readonly sidecar?: true;
}

export interface BaseImageSource {
  readonly kind: 'base-image';
  readonly image: ImageRef;
  readonly sidecar?: true;
}

/**
 * A `sourceCode` that names no source runwatch can read: one holding only fields it does not know (a source type Google
 * adds later), nothing at all in a container without an image, or not an object. Its origin is unknown: reported each
 * time, never remembered.
 */
export interface UnknownSource {
  readonly kind: 'unknown';
  /** The names of the fields it held, sorted, cut (audit/source.ts); never their values, which may hold code or credentials. */
  readonly fields: readonly string[];
  /** How many more fields it held than `fields` names. */
  readonly fieldsNotListed?: number;
  /** The JSON type of a `sourceCode` that is not an object (never its value). */
  readonly written?: 'string' | 'number' | 'boolean' | 'array';
  /**
   * The v1 template annotation that named the code instead of a `sourceCode` (`run.googleapis.com/sources`: an entry
   * that is not a `gs://` URL, or none read for a container whose image is `scratch`): audit/source.ts.
   */
  readonly annotation?: string;
  /** How many names `annotation` held past those a revision can have containers for, none of them read. */
  readonly namesNotRead?: number;
  readonly sidecar?: true;
}

/**
 * True when images were read from containers: not from the deployer-written `client.knative.dev/user-image`
 * annotation, which stands in for them only where no container names an image (audit/image.ts imagesOrAnnotated).
 */
export function imagesFromContainers(images: readonly ImageRef[]): boolean {
  return images.length > 0 && !images.some((image) => image.annotated);
}

/** `none`: the v2 INGRESS_TRAFFIC_NONE, no ingress traffic at all (a service shut off). */
export type Ingress = 'all' | 'internal' | 'internal-and-cloud-load-balancing' | 'none';

/**
 * Where a revision's outbound traffic goes: `all-traffic` through its VPC network (a Serverless VPC Access connector or
 * Direct VPC network interfaces), `private-ranges-only` only traffic to private addresses through it (the rest to
 * the internet directly), `none` no VPC access at all.
 */
export type VpcEgress = 'all-traffic' | 'private-ranges-only' | 'none';

/** Binary Authorization as a write set it (a change without it: the write said nothing about it, unknown). */
export interface BinaryAuthorization {
  /** `default`, a policy name, or undefined when the service does not enforce Binary Authorization. */
  readonly policy?: string;
  /** True when the write set only some fields (a v2 update mask): the policy in force is not known from it. */
  readonly policyUnknown?: true;
  /** Breakglass: the revision is deployed without checking its image against the policy, for this reason. */
  readonly breakglassJustification?: string;
  /** True when the write left the breakglass field as it was (a v2 update mask naming other fields only). */
  readonly breakglassUnknown?: true;
}

export interface IamBinding {
  readonly role: string;
  readonly member: string;
  /**
   * Set on a binding that carries an IAM condition, in a policy delta or a full policy (external-member-grant: IAM lets
   * a member hold a role with a condition and without, two copies; a condition taken off is a grant).
   */
  readonly conditional?: true;
}

interface ChangeBase {
  readonly key: EntryKey;
  /** Event time (the entry's `timestamp`), ISO 8601. */
  readonly time: string;
  /** Event time in epoch milliseconds, for comparisons. */
  readonly timeMs: number;
  /** The audit method; SYSTEM_EVENT_METHOD for a deploy known only from its system events (no admin write seen). */
  readonly methodName: string;
  readonly principal?: Principal;
  readonly client: Client;
}

export type DeployOperation = 'create' | 'replace' | 'update';

/** An environment variable a revision sets to a secret in plain text (audit/env.ts; never the value). */
export interface PlainEnvVar {
  readonly container?: string;
  readonly name: string;
  /** Credential formats the value matches (`an AWS access key id`, `a private key`...); empty: a secret by its name. */
  readonly formats: readonly string[];
}

/**
 * An environment variable that makes a runtime load code (`NODE_OPTIONS`, `LD_PRELOAD`...: audit/env.ts
 * CODE_LOADING_ENV), as a revision sets it.
 */
export interface CodeLoadingVar {
  readonly container?: string;
  readonly name: string;
  /** The value as findings show it: cut, secrets in it hidden; `[Secret Manager: SECRET:VERSION]` for a reference. */
  readonly value: string;
  /** SHA-256 (22 base64url characters) of the whole value, or of the Secret Manager reference. */
  readonly digest: string;
  /**
   * Whether the value makes the runtime load code (audit/env.ts loadsCode): any value of most such variables, only
   * module, agent or class path options in interpreter options (`NODE_OPTIONS=--max-old-space-size=4096` does not).
   */
  readonly loadsCode: boolean;
}

/**
 * An environment variable as findings and baselines name it: `NAME`, or `container/NAME` where the reader kept the
 * container (audit/env.ts: only where more than one container sets the name).
 */
export function envVarName(variable: { readonly container?: string; readonly name: string }): string {
  return variable.container ? `${variable.container}/${variable.name}` : variable.name;
}

/** What a baseline keeps of a code-loading variable: `NAME#digest` (envVarName), never the value. */
export function codeLoadingKey(variable: CodeLoadingVar): string {
  return `${envVarName(variable)}#${variable.digest}`;
}

/** A revision a write's traffic list sends a share of the requests to by name. */
export interface TrafficShare {
  readonly revision: string;
  /** 1 to 100. */
  readonly percent: number;
}

/** How a write's traffic list shares the service's requests out (DeployChange.traffic). */
export interface TrafficSplit {
  /** The share of the latest revision: a target that follows it, or names the revision the write itself makes. */
  readonly latestPercent: number;
  /** The other revisions given a share (more than 0), by name, in the list's order. */
  readonly named: readonly TrafficShare[];
}

/** A Create/Replace/Update of a Cloud Run service, from the admin write. */
export interface DeployChange extends ChangeBase {
  readonly kind: 'deploy';
  readonly api: 'v1' | 'v2';
  readonly operation: DeployOperation;
  readonly target: ServiceRef;
  /** Revision name, only when the client named it (console, v2 `template.revision`). */
  readonly revision?: string;
  /**
   * v1: the configuration generation of the revision the write creates, which carries it as
   * `serving.knative.dev/configurationGeneration` and is numbered after it (audit/normalize.ts v1RevisionGeneration: one
   * above the latest revision the stale status names, else the service's `response.metadata.generation`); it ties the
   * write to its revision's system events when no operation id does.
   */
  readonly generation?: number;
  /**
   * Set by the engine on a write through the other API version than the template before it when no revision event
   * followed it (correlate/rollout.ts Rollout.acrossApis): it made no revision, whatever its fingerprint says.
   */
  readonly revisionKept?: true;
  /**
   * Set by the engine on the late half of a deploy judged with that half missing (its system events after its write
   * was judged, or its write after its events were): the revision was reported already (CompletedRollout.otherHalf).
   */
  readonly reportedAsDeploy?: true;
  /**
   * Set by the engine on a write whose operation id ties it to system events of a new revision that were judged
   * already, taken by time for another write's late half and so not reported: it made that revision, whatever the
   * template before it says.
   */
  readonly revisionSeen?: true;
  /**
   * Canonical fingerprint of the revision template. Cloud Run creates a revision whenever the template changes,
   * so comparing fingerprints tells a new revision from a traffic-only or service-level update.
   * Undefined when the entry carries no template (an update mask without `template`).
   */
  readonly templateFingerprint?: string;
  /**
   * True when the write sets a template but the entry logged none (a v1 write or a Cloud Functions InternalServices
   * call logged without its body): whether it changed the template is unknown, not "no".
   */
  readonly templateUnknown?: boolean;
  /**
   * True when the write makes a revision whatever its template (a worker pool's v2 `force_new_revision`: Cloud Run
   * then pulls again what a tag points to), so an unchanged fingerprint does not mean no revision.
   */
  readonly forcesRevision?: true;
  /** Undefined when the entry does not say (v2 update that leaves the template alone). */
  readonly serviceAccount?: RuntimeServiceAccount;
  /** Empty when the entry names no image (console deploys log no containers). */
  readonly images: readonly ImageRef[];
  /**
   * Code the containers run besides their images, or instead of one (v2 `sourceCode`, `baseImageUri`; a v1 write's
   * base-images and sources annotations): absent when the write names none (every image-only deploy). A source deploy has no
   * image: `images` is empty and the code is known from here.
   */
  readonly sources?: readonly CodeSource[];
  /** The resolved `image@sha256:...` the revision runs, from the system events (never in the admin write). */
  readonly imageDigest?: string;
  /** Service labels overlaid with revision-template labels. */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * The revision template's own labels (also in `labels`): provenance reads them before the service's, which stay
   * on the service from deploy to deploy. Undefined where not known apart (baselines stored before it existed).
   */
  readonly revisionLabels?: Readonly<Record<string, string>>;
  readonly ingress?: Ingress;
  /**
   * v2 UpdateService with `allowMissing`, which creates the service when it does not exist: the ingress it then has
   * (the default, all, where the write leaves it out). Taken as `ingress` by the engine only where the service is
   * known to be deleted and not created again since (else the write updated it, and `ingress` says what is known).
   */
  readonly ingressIfCreated?: Ingress;
  readonly binaryAuthorization?: BinaryAuthorization;
  /**
   * The template's environment variables set to a secret in plain text (audit/env.ts): names and the credential
   * formats found, never values. Undefined when the entry does not show the containers (or the rule is off).
   */
  readonly plainEnv?: readonly PlainEnvVar[];
  /**
   * The template's variables that make a runtime load code (audit/env.ts codeLoadingEnvOf). Undefined when the entry
   * does not show the containers.
   */
  readonly codeLoadingEnv?: readonly CodeLoadingVar[];
  /** The revision's VPC egress; undefined when the entry does not show it (see audit/normalize.ts). */
  readonly vpcEgress?: VpcEgress;
  /**
   * Where an all-traffic revision sends its traffic: its connector or Direct VPC subnetwork and network tags, in one
   * spelling (audit/vpc.ts vpcDestinationText: deployer-written names, plain text). Undefined when the egress is not
   * all-traffic, or the entry does not show where it goes.
   */
  readonly vpcDestination?: string;
  /**
   * True when the write's traffic list sends none of the service's traffic to the revision it makes (`gcloud run
   * deploy --no-traffic`, a traffic list naming older revisions only): the revision that served before keeps
   * serving, so a revision-level risk of it is not over (audit/normalize.ts takesNoTraffic). Undefined when the
   * write sends traffic to it, or does not say.
   */
  readonly takesNoTraffic?: true;
  /**
   * A v2 update whose mask leaves `traffic` out: the service's traffic stays where it was (pinned to older revisions by
   * name, the revision the write makes takes none of it). A v1 write, or a v2 one without a mask, sets the traffic
   * whole (none listed: all of it to the latest revision).
   */
  readonly keepsTraffic?: true;
  /**
   * Where the write's traffic list sends the service's requests, when the write sets one and every target in it can be
   * placed (audit/normalize.ts trafficSplitOf). Undefined when the write sets no list (Cloud Run then sends all of it
   * to the latest revision, or keeps what it had), or one this reader cannot place.
   */
  readonly traffic?: TrafficSplit;
  /** True when the invoker IAM check is turned off (the service is public without any IAM binding). */
  readonly invokerIamDisabled?: boolean;
  /**
   * True when Identity-Aware Proxy guards the service (v1: the `run.googleapis.com/iap-enabled` annotation; v2:
   * `iapEnabled`): every request passes IAP's access policy before the invoker IAM check. Undefined when the entry
   * does not say.
   */
  readonly iapEnabled?: boolean;
  /**
   * True when the service's default `*.run.app` URL is disabled (v1: the `run.googleapis.com/default-url-disabled`
   * annotation; v2: `defaultUriDisabled`): requests reach it only through a load balancer or a domain it is mapped
   * to. Undefined when the entry does not say.
   */
  readonly defaultUrlDisabled?: boolean;
  /**
   * v2 UpdateService with `allowMissing` whose mask leaves `iap_enabled` out and whose body does not turn IAP on: the
   * IAP the service has if the write created it (off). Taken as `iapEnabled` by the engine only where the service is
   * known to be deleted and not created again since, as ingressIfCreated.
   */
  readonly iapEnabledIfCreated?: boolean;
  /** As iapEnabledIfCreated, for `default_uri_disabled`: the URL is on in a service the write created (false). */
  readonly defaultUrlDisabledIfCreated?: boolean;
  /**
   * The operation that made this write. v1: the response's `run.googleapis.com/operation-id` annotation, which the
   * rollout's system events carry too. v2: the LogEntry's `operation.id`, the long-running operation every entry of
   * the write carries (whether system events carry it is not known: it only ever confirms a match with them).
   */
  readonly operationId?: string;
  /**
   * v2 only: this entry is the completion record of a long-running operation logged as several entries
   * (`operation.last` without `operation.first`). The write's facts are in the operation's first entry; this one
   * carries none of them (who, when and which operation only) and never counts as a deploy of its own.
   */
  readonly operationCompletion?: boolean;
  /**
   * A deploy known only from its system events (SYSTEM_EVENT_METHOD): when Cloud Run created its revision (the
   * revision's `metadata.creationTimestamp`, epoch ms), the nearest known time of the deploy itself. Its `time` stays
   * the first event's (the audit entry findings point at), which is when the revision's Ready condition changed,
   * after its image import and startup probe. Undefined for a write, and where the events do not say it.
   */
  readonly revisionCreatedMs?: number;
}

export interface PolicyDelta {
  readonly added: readonly IamBinding[];
  readonly removed: readonly IamBinding[];
}

/** Where an IAM policy applies: one Cloud Run service, or every service in a project, folder or organization. */
export type IamScope = 'service' | 'project' | 'folder' | 'organization';

/** A SetIamPolicy on a Cloud Run service, a project, a folder or an organization. */
export interface IamPolicyChange extends ChangeBase {
  readonly kind: 'iam-policy';
  readonly scope: IamScope;
  /**
   * For a project `service` is `*`; for a folder or an organization `project` is its resource name (`folders/F`,
   * `organizations/O`: no project id has a `/`) and `service` is `*`.
   */
  readonly target: ServiceRef;
  /** From `serviceData.policyDelta.bindingDeltas`, when the entry carries it. */
  readonly delta?: PolicyDelta;
  /** The full policy after the call (response, else request), when the entry carries it. */
  readonly policy?: readonly IamBinding[];
}

export interface DeleteChange extends ChangeBase {
  readonly kind: 'delete';
  readonly target: ServiceRef;
}

/** Why a control refused a call: its gRPC status. */
export interface Refusal {
  /**
   * 7 PERMISSION_DENIED (the caller lacks a permission), 9 FAILED_PRECONDITION (an organization policy forbids it), or
   * 3 INVALID_ARGUMENT on a project, folder or organization policy (Resource Manager takes no public member there).
   */
  readonly code: 3 | 7 | 9;
  readonly codeName: 'INVALID_ARGUMENT' | 'PERMISSION_DENIED' | 'FAILED_PRECONDITION';
  /** The status message as logged (it may echo the request, so it is untrusted text), cut to a bounded length. */
  readonly message?: string;
}

/**
 * A write that would have opened Cloud Run to the public and that a control refused: Domain Restricted Sharing
 * (`constraints/iam.allowedPolicyMemberDomains`) rejecting `allUsers`, or a caller without the permission. Nothing
 * changed (it never enters a baseline), but someone tried. Other failed calls are no change at all.
 */
export interface RefusedChange extends ChangeBase {
  readonly kind: 'refused';
  /** What the call tried: to set an IAM policy granting the public an invoker role, or to deploy with the invoker IAM check off. */
  readonly attempt: 'iam-policy' | 'invoker-iam-disabled';
  readonly scope: IamScope;
  /** As for IamPolicyChange (`*` and a folder's or organization's resource name above a service). */
  readonly target: ServiceRef;
  readonly refusal: Refusal;
  /** The public invoker bindings the requested policy held (empty for a deploy). */
  readonly publicInvokers: readonly IamBinding[];
}

/** What a job run changed of one container (RunJob `overrides.containerOverrides[]`): never a variable's value. */
export interface ContainerOverride {
  readonly container?: string;
  /** The arguments the run gave the container in place of its template's (untrusted text, each cut). */
  readonly args?: readonly string[];
  /** The run cleared the template's arguments. */
  readonly clearArgs?: true;
  /** The environment variables the run set, by name only (their values may be secrets). */
  readonly envNames: readonly string[];
  /**
   * Those among them that make a runtime load code (audit/env.ts variableLoadsCode: by name and value), whether kept
   * in envNames or not.
   */
  readonly codeLoadingEnv?: readonly string[];
}

/**
 * A job started with overrides of its containers (`Jobs.RunJob` with `overrides.containerOverrides`, logged in the
 * Data Access log): the job's runtime service account runs arguments or environment the caller chose, not only what
 * its template says. It changes no setting and never enters the baseline.
 */
export interface JobRunChange extends ChangeBase {
  readonly kind: 'job-run';
  readonly target: ServiceRef;
  readonly containerOverrides: readonly ContainerOverride[];
  /** Overrides of the run's task count and timeout, as logged. */
  readonly taskCount?: number;
  readonly timeout?: string;
}

export type Change = DeployChange | IamPolicyChange | DeleteChange | RefusedChange | JobRunChange;

/** The Binary Authorization policy a write sets (`default`, a policy name; `''`: none enforced), when it says. */
export function enforcedPolicyOf(change: DeployChange): string | undefined {
  const binauthz = change.binaryAuthorization;
  return binauthz && !binauthz.policyUnknown ? (binauthz.policy ?? '') : undefined;
}

export const DEFAULT_COMPUTE_SA_LABEL = 'default compute SA';

export function defaultComputeServiceAccount(projectNumber: string | undefined): RuntimeServiceAccount {
  return projectNumber
    ? { kind: 'default-compute', email: `${projectNumber}-compute@developer.gserviceaccount.com` }
    : { kind: 'default-compute' };
}

const DEFAULT_COMPUTE_SA = /^(\d+)-compute@developer\.gserviceaccount\.com$/;

/**
 * Classifies an email from a template: the default compute SA written out explicitly is still the default. Written in
 * lower case: Google compares service account emails without letter case, and the deployer chooses how to write one
 * (in capitals, the default compute SA would otherwise be any account, and a change of case a change of identity).
 */
export function runtimeServiceAccountFromEmail(written: string): RuntimeServiceAccount {
  const email = written.toLowerCase();
  return DEFAULT_COMPUTE_SA.test(email) ? { kind: 'default-compute', email } : { kind: 'explicit', email };
}

/** A stable text for comparisons and evidence: the email, or "default compute SA" when the number is unknown. */
export function describeServiceAccount(sa: RuntimeServiceAccount): string {
  return sa.email ?? DEFAULT_COMPUTE_SA_LABEL;
}

/** Where a change applies: a service, or the project, folder or organization of an IAM policy (set or refused). */
export function scopeOf(change: Change): IamScope {
  return change.kind === 'iam-policy' || change.kind === 'refused' ? change.scope : 'service';
}

/**
 * True for a change to a policy above one service (a project, folder or organization; a refused attempt at one too):
 * it opens every service below.
 */
export function isWideIamChange(change: Change): boolean {
  return scopeOf(change) !== 'service';
}

/** The methodName of a deploy known only from its revision's system events: Cloud Run reported a new revision. */
export const SYSTEM_EVENT_METHOD = '(system event)';
