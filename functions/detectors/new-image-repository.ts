// new-image-repository
//
// Reads:    Cloud Run Services.CreateService / ReplaceService (v1) and CreateService / UpdateService (v2), and their
//           job and worker pool counterparts (Jobs.CreateJob / ReplaceJob / UpdateJob, WorkerPools.*: README).
// Alerts:   a revision's image comes from a repository (registry host and path without the image name, tag or
//           digest: `us-docker.pkg.dev/acme/prod`, `gcr.io/acme`, `docker.io/library`) this service never used
//           before and that matches none of `trustedRepositories`. Docker Hub's host names (`docker.io`,
//           `index.docker.io`, `registry-1.docker.io`, `registry.hub.docker.com`) are one registry, named
//           `docker.io`, in images and globs alike, and a host matches in any letter case (audit/image.ts). A
//           path inside an Artifact Registry repository (`.../prod/team-a/api`) is a repository of its own: a
//           remote repository that proxies Docker Hub keeps each upstream namespace under its own path. A
//           trustedRepositories glob may also name the registry's repository (`us-docker.pkg.dev/acme/prod`,
//           `gcr.io/acme`: audit/image.ts registryRepository), which trusts every path in it. A service's first
//           deploy sets the baseline; it
//           fires then only when `trustedRepositories` is configured and the repository matches none of it. A
//           service deleted and created again under the name keeps the repositories it used: the re-created
//           service's deploys are compared with them, and when every repository known was first seen before the
//           delete the finding's evidence says `recreatedAfterDeleteAt`. An image reference that does not parse
//           has no repository: it is reported each time (never trusted, never remembered), shown as written with
//           any credential in it hidden (a registry URL pasted with its login, a user name before the host:
//           audit/image.ts withoutCredentials). A write delivered after
//           its repeat (same template, moments later) was judged is that deploy: not judged again. "Before" is to
//           the nanosecond (the baseline keeps each repository's first-seen digits: repositoriesN): of two deploys of
//           one millisecond from a new repository, the earlier alone is reported, as a millisecond apart. Every
//           container counts: a sidecar's image (a container beside the one that declares the port) is reported
//           the same, with `sidecar: true` in the evidence.
//           Code deployed without an image (a v2 container's `sourceCode`, audit/source.ts; services, jobs and worker
//           pools share the container shape) is judged by where it came from, after the images (so a deploy of
//           images alone is judged and keyed as before). A v1 container has neither field: a v1 write's base images
//           are its template annotation `run.googleapis.com/base-images` (container name -> base image,
//           audit/source.ts annotatedSourcesOf; services and worker pools), and its objects in Cloud Storage the
//           annotation `run.googleapis.com/sources` (container name -> gs://BUCKET/OBJECT[#GENERATION], as `gcloud
//           alpha run deploy --source --no-build` writes it beside the image `scratch`, which names no image:
//           audit/image.ts; the exact word only, `scratch:latest` is Docker Hub's. A `scratch` container for which no
//           object is read, none under its name nor under a name no container has, v2: no sourceCode, runs code of
//           unknown origin, reported as a sourceCode runwatch cannot read):
//           - a Cloud Storage object (`cloudStorageSource`): its repository is the bucket, `gs://BUCKET`, judged as an
//             image's repository is (new for this service, not trusted: evidence `source: cloud-storage`, `object`,
//             `generation`). The bucket alone, not the object's folder: a bucket is what Cloud Storage grants access
//             to, so in a shared bucket with one prefix per team whoever can write one team's prefix can (short of
//             IAM conditions runwatch cannot see) write every team's, and a folder is no boundary worth trusting;
//             deploys also upload each source under a new name, often in a new folder, so a folder would be reported
//             on every deploy. Trusted by `gs://` globs (image globs never match a bucket: config/load.ts refuses
//             wildcards inside bucket names, which anyone can create in a project of their own). The object is the
//             deployer's text: evidence only, never in the summary or markup.
//           - inlined source (`inlinedSource`): the code came from the deployer's request, from no repository to
//             trust or remember: reported on every deploy that carries it, as an unparseable image is (evidence
//             `source: inlined`, `repository: null`, `source` unknown); the code is never copied.
//           - a `sourceCode` runwatch cannot read (audit/source.ts codeSourceOf): one holding only fields it does not
//             know (a source type Google adds later, `gitSource` say; a known one that is no object), one that is not
//             an object, or an empty one (`{}`) in a container that names no image (or `scratch`): the code's origin
//             is unknown, reported each time as inlined source is ("Source code of a kind runwatch cannot read",
//             evidence `source: unknown`, `repository: null`, the field names as `sourceCodeFields`, sorted, at most
//             10 of 64 characters each, `sourceCodeFieldsNotListed` for more, `sourceCodeType` for one not an object,
//             `sourceAnnotation` for a v1 write's, said in the annotation's words, `sourceNamesNotRead` for names
//             past the ten containers a revision can have (not read, reported once); never their values, which may
//             hold code or credentials). An empty sourceCode beside an image names no code (sourceCode is optional,
//             and a client writing back every field of a container it read would log `{}`): the image is judged,
//             alone. A null sourceCode is one left unset, as is a null source type in one
//             (`{inlinedSource: null}`): a sourceCode holding only nulls is an empty one.
//           - a base image (`baseImageUri`; v1: the annotation): code that runs too, judged as a sidecar's image
//             (`baseImage: true`), except Google's runtime base images (`REGION-docker.pkg.dev/serverless-runtimes/
//             ...`), the only ones automatic base image updates support: Google's own, neither judged nor remembered.
//             So services that already used automatic base image updates page nothing after an upgrade to this
//             reading, though their baselines never recorded a base image; any other base image is new to every
//             service, as it should be.
// Options:  `rules.new-image-repository.trustedRepositories` (globs; `gs://BUCKET` for buckets), `exceptions`, `severity`.
// Severity: HIGH.
// Blind spots: console deploys often log no image at all: the rule then cannot judge the entry (the image is
//           "unknown" until a system event or the Admin API supplies it). Images referenced only by digest are
//           judged by repository, not by content, and a bucket's object by its bucket (a new generation of a known
//           object is not reported). Source code and base images are read from the admin write (v2's fields, v1's
//           annotation), and, where it names none, from the revision (a console source deploy logs no containers):
//           its system events' annotations (a v1 Revision keeps its template's; the Google Cloud SDK reads a
//           revision's base images there, printers/container_and_volume_printer_util.py GetBaseImage; no such event
//           seen first hand) or the revision the Admin API fallback read. A v1 annotation that is not a JSON map
//           names nothing (whether Cloud Run accepts one is not known), save a `scratch` container's code: unknown.
import { bucketGlobOf, globMatcher } from '../config/glob.js';
import { baselineKey } from '../baseline/store.js';
import { deletedBetween, isLaterPoint, newestRepositoryBefore, pointBefore, repositoryFirstSeen, repositorySeenBefore, type ChangeInstant, type ServiceBaseline, type TimePoint } from '../baseline/state.js';
import { DEPLOY_METHODS } from './methods.js';
import { deployKey, repeatedBeforeItCame, resourceNoun, serviceLabel, unknownDeployFacts } from './revision.js';
import { templateNounOf, type BucketSource, type CodeSource, type DeployChange, type ParsedImageRef, type UnknownSource } from '../model/change.js';
import { isGoogleRuntimeBase, repositoryOfSource } from '../audit/source.js';
import { repositoryGlob, registryRepository } from '../audit/image.js';
import type { Detection, Detector } from './types.js';
import type { EvidenceValue } from '../findings/finding.js';

export const newImageRepository: Detector<'new-image-repository'> = {
  id: 'new-image-repository',
  title: 'Image from a repository this service never used',
  defaultSeverity: 'HIGH',
  methods: DEPLOY_METHODS,
  changeKinds: ['deploy'],
  detect({ change, baseline, settings }): Detection[] {
    // A late first write of a burst whose repeat was judged already made no revision of its own. (Not every write
    // that createsRevision calls no revision: a v2 update's fingerprint is of the whole body it logged, masked or
    // not, so two masked updates logging one body can still roll out new images.)
    const sources = change.kind === 'deploy' ? judgedSources(change) : [];
    if (change.kind !== 'deploy' || (change.images.length === 0 && sources.length === 0) || repeatedBeforeItCame(change, baseline)) return [];
    const { images: trustedImages, buckets: trustedBuckets } = trustedRepositoryGlobs(settings.trustedRepositories);
    const trusted = globMatcher(trustedImages);
    // Before the deploy to the nanosecond: a deploy of the same millisecond that is earlier counts (TimePoint.n).
    const newestKnown = newestRepositoryBefore(baseline, change);
    // First deploy: no repository known yet (console deploys log none), so the first one seen sets the baseline.
    const firstDeploy = newestKnown === undefined;
    // Any deploy before this one (an image, an identity or a template known): code from no repository (an image that
    // does not parse, inlined source) is judged against that, since it never becomes a known repository itself.
    const earlierDeploy = newestDeployBefore(baseline, change, newestKnown);
    const untrustedFirstDeploy = firstDeploy && settings.trustedRepositories.length === 0;
    const fromNoRepository = change.images.some((i) => i.unparseable) || sources.some((s) => repositoryOfSource(s) === undefined);
    if (untrustedFirstDeploy && (earlierDeploy === undefined || !fromNoRepository)) return [];
    // No deploy since the delete: the deploy is compared with the deleted service's revisions.
    const recreatedAfterDeleteAt = earlierDeploy === undefined ? undefined : deletedBetween(baseline, earlierDeploy, change);
    const noun = resourceNoun(change.target);
    const newText = firstDeploy
      ? 'not in trustedRepositories'
      : recreatedAfterDeleteAt
        ? `new for this ${noun} (compared with its ${templateNounOf(change.target.resourceType)}s before it was deleted at ${recreatedAfterDeleteAt} and created again)`
        : `new for this ${noun}`;
    // The repositories the service used before, listed in evidence: computed on the first detection only.
    let knownRepositories: KnownRepositories | undefined;
    const known = (): KnownRepositories => (knownRepositories ??= knownBefore(baseline, change));
    const judging: Judging = { change, deploy: deployKey(change, baseline), firstDeploy, earlierDeploy: earlierDeploy !== undefined, known, recreatedAfterDeleteAt, newText, noun };
    const detections: Detection[] = [];
    const reported = new Set<string>();
    for (const image of change.images) {
      if (image.unparseable) {
        detections.push(unparseableImage(image.reference, judging));
        continue;
      }
      if (untrustedFirstDeploy || reported.has(image.repository)) continue;
      // One finding per repository, named by the serving container's image when it is in it (listed after a sidecar).
      if (image.sidecar && change.images.some((i) => !i.unparseable && !i.sidecar && i.repository === image.repository)) continue;
      if (isTrusted(trusted, image) || repositorySeenBefore(baseline, image.repository, change)) continue;
      reported.add(image.repository);
      detections.push({
        severity: 'HIGH',
        title: firstDeploy ? 'First deploy from an untrusted image repository' : `Image from a repository this ${noun} never used`,
        summary: `${change.principal?.id ?? 'An unknown principal'} deployed ${image.reference}${image.sidecar ? ' as a sidecar' : ''} to ${serviceLabel(change.target)}: repository ${image.repository} is ${newText}.`,
        evidence: {
          image: image.reference,
          repository: image.repository,
          // A sidecar runs in the revision with its identity and network all the same: reported alike, said apart.
          ...(image.sidecar ? { sidecar: true } : {}),
          ...(image.digest ? { digest: image.digest } : {}),
          ...deployEvidence(judging, firstDeploy),
        },
        dedupKey: [baselineKey(change.target), image.repository, ...judging.deploy],
        unknown: unknownDeployFacts(change).filter((f) => f !== 'image'),
      });
    }
    // Code that is not an image (a bucket's object, inlined source, a base image), after the images: a deploy of images
    // alone judges and keys exactly as it did before runwatch read these.
    for (const source of sources) {
      const repository = repositoryOfSource(source);
      if (repository === undefined || source.kind === 'inlined' || source.kind === 'unknown') {
        detections.push(sourceFromNoRepository(source, judging));
        continue;
      }
      if (untrustedFirstDeploy || reported.has(repository)) continue;
      // One finding per repository, named by the serving container's code when it is in it (as for images).
      if (source.sidecar && sources.some((other) => !other.sidecar && repositoryOfSource(other) === repository)) continue;
      if (source.kind === 'cloud-storage') {
        if (bucketTrusted(trustedBuckets, source.bucket) || repositorySeenBefore(baseline, repository, change)) continue;
        reported.add(repository);
        detections.push(newBucket(source, repository, judging));
        continue;
      }
      const image = source.image;
      if (image.unparseable || isTrusted(trusted, image) || repositorySeenBefore(baseline, repository, change)) continue;
      reported.add(repository);
      detections.push(newBaseImageRepository(image, source.sidecar, judging));
    }
    return detections;
  },
};

/** What every finding of one deploy shares. */
interface Judging {
  readonly change: DeployChange;
  readonly deploy: readonly string[];
  readonly firstDeploy: boolean;
  /** A deploy before this one is known (an image, an identity or a template). */
  readonly earlierDeploy: boolean;
  readonly known: () => KnownRepositories;
  readonly recreatedAfterDeleteAt: string | undefined;
  /** Why the repository is reported: `new for this service`, `not in trustedRepositories`. */
  readonly newText: string;
  readonly noun: string;
}

/**
 * What every finding of a deploy says of the service's history, last in its evidence: the repositories it used
 * before, whether this is its first deploy (`firstDeploy`: for code from no repository, no earlier deploy known at
 * all), and the delete it was re-created after.
 */
function deployEvidence(j: Judging, firstDeploy: boolean): Readonly<Record<string, EvidenceValue>> {
  return { ...j.known(), firstDeploy, ...(j.recreatedAfterDeleteAt ? { recreatedAfterDeleteAt: j.recreatedAfterDeleteAt } : {}) };
}

/** The code sources a deploy runs that this rule judges: all but Google's runtime base images (see the header). */
function judgedSources(change: DeployChange): CodeSource[] {
  return change.sources === undefined ? [] : change.sources.filter((source) => !isGoogleRuntimeBase(source));
}

/**
 * A container's code from a bucket the service never used (or, on a first deploy, one trustedRepositories does not
 * name). The object and its generation are evidence only: the deployer names them, and sinks show evidence as plain
 * text, never markup; the summary names the bucket, whose name has no character markup reads.
 */
function newBucket(source: BucketSource, repository: string, j: Judging): Detection {
  const who = j.change.principal?.id ?? 'An unknown principal';
  return {
    severity: 'HIGH',
    title: j.firstDeploy ? 'First deploy from an untrusted bucket' : `Code from a bucket this ${j.noun} never used`,
    summary: `${who} deployed source code from bucket ${repository} (no image)${source.sidecar ? ' as a sidecar' : ''} to ${serviceLabel(j.change.target)}: bucket ${repository} is ${j.newText}.`,
    evidence: {
      source: 'cloud-storage',
      repository,
      ...(source.object !== undefined ? { object: source.object } : {}),
      ...(source.generation !== undefined ? { generation: source.generation } : {}),
      ...(source.sidecar ? { sidecar: true } : {}),
      ...deployEvidence(j, j.firstDeploy),
    },
    dedupKey: [baselineKey(j.change.target), repository, ...j.deploy],
    unknown: unknownDeployFacts(j.change).filter((f) => f !== 'image'),
  };
}

/** A base image (not one of Google's runtime base images) from a repository the service never used: as a sidecar's image. */
function newBaseImageRepository(image: ParsedImageRef, sidecar: true | undefined, j: Judging): Detection {
  const repository = image.repository;
  return {
    severity: 'HIGH',
    title: j.firstDeploy ? 'First deploy from an untrusted image repository' : `Image from a repository this ${j.noun} never used`,
    summary: `${j.change.principal?.id ?? 'An unknown principal'} deployed ${image.reference} as a ${sidecar ? "sidecar's " : ''}base image to ${serviceLabel(j.change.target)}: repository ${repository} is ${j.newText}.`,
    evidence: {
      image: image.reference,
      repository,
      baseImage: true,
      ...(sidecar ? { sidecar: true } : {}),
      ...(image.digest ? { digest: image.digest } : {}),
      ...deployEvidence(j, j.firstDeploy),
    },
    dedupKey: [baselineKey(j.change.target), repository, ...j.deploy],
    unknown: unknownDeployFacts(j.change).filter((f) => f !== 'image'),
  };
}

/**
 * Code from no repository runwatch can name, reported each time (never trusted, never remembered), as an image
 * reference that does not parse is: source inlined in the request (the deployer's own text: its origin is the
 * request), a Cloud Storage source naming no valid bucket, a base image reference that does not parse, a sourceCode
 * runwatch cannot read. Dedup keys hold a space, which no repository has.
 */
function sourceFromNoRepository(source: CodeSource, j: Judging): Detection {
  if (source.kind === 'base-image') {
    const found = unparseableImage(source.image.reference, j);
    // Keyed apart from a container image written alike, which is reported on its own.
    const dedupKey = [baselineKey(j.change.target), `unparseable base image ${source.image.reference}`, ...j.deploy];
    return { ...found, evidence: { ...found.evidence, baseImage: true, ...(source.sidecar ? { sidecar: true } : {}) }, dedupKey };
  }
  const who = j.change.principal?.id ?? 'An unknown principal';
  const where = source.sidecar ? ' in a sidecar' : '';
  const common = deployEvidence(j, !j.earlierDeploy);
  const unknown = [...unknownDeployFacts(j.change).filter((f) => f !== 'image'), 'source'];
  if (source.kind === 'inlined') {
    return {
      severity: 'HIGH',
      title: 'Source code inlined in the deploy request',
      summary: `${who} deployed ${serviceLabel(j.change.target)} with source code inlined in the request${where} (no image, no bucket): where the code came from is unknown and cannot be trusted.`,
      evidence: { source: 'inlined', repository: null, ...(source.sidecar ? { sidecar: true } : {}), ...common },
      dedupKey: [baselineKey(j.change.target), `inlined source${source.sidecar ? ' sidecar' : ''}`, ...j.deploy],
      unknown,
    };
  }
  if (source.kind === 'unknown') {
    return {
      severity: 'HIGH',
      title: 'Source code of a kind runwatch cannot read',
      summary:
        `${who} deployed ${serviceLabel(j.change.target)} with source code runwatch cannot read${where} (${unreadableSourceText(source)}): where the code ` +
        `came from is unknown and cannot be trusted. Check in the Cloud Run console what the ${j.noun} now runs, and ask the deployer where its code came from.`,
      evidence: {
        source: 'unknown',
        repository: null,
        // Names only, as sinks show evidence: plain text (what the fields held may be code or a credential).
        sourceCodeFields: [...source.fields],
        ...(source.fieldsNotListed !== undefined ? { sourceCodeFieldsNotListed: source.fieldsNotListed } : {}),
        ...(source.written !== undefined ? { sourceCodeType: source.written } : {}),
        ...(source.annotation !== undefined ? { sourceAnnotation: source.annotation } : {}),
        ...(source.namesNotRead !== undefined ? { sourceNamesNotRead: source.namesNotRead } : {}),
        ...(source.sidecar ? { sidecar: true } : {}),
        ...common,
      },
      // One finding per kind of unreadable source in a deploy: an empty one and a gitSource are two.
      dedupKey: [baselineKey(j.change.target), `unknown source ${unknownSourceKey(source)}${source.sidecar ? ' sidecar' : ''}`, ...j.deploy],
      unknown,
    };
  }
  return {
    severity: 'HIGH',
    title: 'Source code from a bucket runwatch cannot name',
    summary: `${who} deployed ${serviceLabel(j.change.target)} with source code from a Cloud Storage object${where} whose bucket is not a valid bucket name: where the code came from is unknown and cannot be trusted.`,
    evidence: { source: 'cloud-storage', repository: null, bucket: source.bucket, ...(source.object !== undefined ? { object: source.object } : {}), ...(source.sidecar ? { sidecar: true } : {}), ...common },
    dedupKey: [baselineKey(j.change.target), `unnamed bucket ${source.bucket}`, ...j.deploy],
    unknown,
  };
}

/** What tells one unreadable source of a deploy from another in its dedup key (as before for all but names not read). */
function unknownSourceKey(source: UnknownSource): string {
  return source.namesNotRead !== undefined ? '(names not read)' : (source.written ?? `(${source.fields.join(',')})`);
}

/** What made a sourceCode unreadable, in words for the summary (no field name: those are evidence only). */
function unreadableSourceText(source: UnknownSource): string {
  // A v1 write names its code in an annotation (our constant, not the deployer's text), never its value.
  if (source.annotation !== undefined) {
    if (source.namesNotRead !== undefined) {
      const more = source.namesNotRead === 1 ? '1 container' : `${source.namesNotRead} containers`;
      return `its ${source.annotation} names ${more} more than a revision can have: not read`;
    }
    return source.written !== undefined
      ? `its ${source.annotation} entry is not a gs:// URL`
      : `its container image is "scratch" and ${source.annotation} names no object for it that runwatch can read`;
  }
  if (source.written !== undefined) return 'its sourceCode is not an object';
  return source.fields.length > 0 ? 'its sourceCode names only a source type runwatch does not know' : 'its sourceCode names no source, and the container no image';
}

/**
 * An image reference that does not parse has no repository to trust or to have seen before: it is reported (as
 * the repository of a first deploy is, only when trustedRepositories is configured). Its dedup key cannot collide
 * with a repository's: repositories never contain a space.
 */
function unparseableImage(reference: string, j: Judging): Detection {
  return {
    severity: 'HIGH',
    title: 'Image reference runwatch cannot parse',
    summary: `${j.change.principal?.id ?? 'An unknown principal'} deployed ${serviceLabel(j.change.target)} with an image reference runwatch cannot parse: its repository is unknown and cannot be trusted.`,
    evidence: { image: reference, repository: null, ...deployEvidence(j, !j.earlierDeploy) },
    dedupKey: [baselineKey(j.change.target), `unparseable ${reference}`, ...j.deploy],
    unknown: [...unknownDeployFacts(j.change).filter((f) => f !== 'image'), 'repository'],
  };
}

/**
 * True when a trustedRepositories glob matches the image's repository (its path without the name) or the Google
 * registry's repository it is in (`us-docker.pkg.dev/acme/prod` for `.../prod/team-a/api`): trusting an Artifact
 * Registry repository trusts every path in it.
 */
function isTrusted(trusted: (value: string) => boolean, image: ParsedImageRef): boolean {
  if (trusted(image.repository)) return true;
  const registry = registryRepository(image.name);
  return registry !== undefined && registry !== image.repository && trusted(registry);
}

/** trustedRepositories as matched, by the config's list: image globs and bucket globs apart. */
const trustedGlobs = new WeakMap<readonly string[], TrustedGlobs>();

interface TrustedGlobs {
  /** Globs over image repositories (every glob but a bucket's). */
  readonly images: readonly string[];
  /** Globs over bucket names: the `gs://` globs without their scheme. */
  readonly buckets: readonly string[];
}

/**
 * The trustedRepositories globs, as matched: image globs with their hosts in lower case and Docker Hub's other host
 * names written `docker.io` (audit/image.ts repositoryGlob), as image repositories are: `registry-1.docker.io/acme` and
 * `Docker.IO/acme` trust `acme/app` too, `GCR.IO/acme` trusts `gcr.io/acme/api`; bucket globs (`gs://BUCKET`) apart,
 * without the scheme, matched against a bucket's name alone, so that an image glob (`**`) never trusts a bucket nor a
 * bucket glob an image. Worked out once per list; the list itself when no glob changes, so globMatcher finds it
 * compiled by the config's own list.
 */
function trustedRepositoryGlobs(globs: readonly string[]): TrustedGlobs {
  let matched = trustedGlobs.get(globs);
  if (!matched) {
    const imageGlobs = globs.filter((glob) => bucketGlobOf(glob) === undefined);
    const written = imageGlobs.map(repositoryGlob);
    const images = imageGlobs.length === globs.length && !written.some((glob, i) => glob !== globs[i]) ? globs : written;
    matched = { images, buckets: globs.flatMap((glob) => bucketGlobOf(glob) ?? []) };
    trustedGlobs.set(globs, matched);
  }
  return matched;
}

/** True when a `gs://` glob of trustedRepositories names the bucket. */
function bucketTrusted(globs: readonly string[], bucket: string): boolean {
  return globs.length > 0 && globMatcher(globs)(bucket);
}

/**
 * The newest deploy before `at` the baseline knows of (a repository first seen, an identity or a template), as the
 * point it set, or undefined.
 */
function newestDeployBefore(baseline: ServiceBaseline | undefined, at: ChangeInstant, newestRepository: TimePoint<string> | undefined): TimePoint<unknown> | undefined {
  // Runs for every deploy: the newest points are read in place (each history is searched from its end).
  let newest: TimePoint<unknown> | undefined = newestRepository;
  for (const point of [pointBefore(baseline?.serviceAccount, at), pointBefore(baseline?.template, at)]) {
    if (point !== undefined && (newest === undefined || isLaterPoint(point, newest))) newest = point;
  }
  return newest;
}

/**
 * How many known repositories a finding lists. Each finding of a deploy carries the list (a deploy may run ten
 * images), and findings wait in the service's baseline document (open, outbox), which Firestore caps at 1 MiB: a
 * service with thousands of repositories made every later deploy's transaction too large to store.
 */
export const KNOWN_REPOSITORIES_LISTED = 50;

interface KnownRepositories {
  readonly knownRepositories: string[];
  /** How many more the service used, when the list is cut (the most recently first seen are listed). */
  readonly knownRepositoriesNotListed?: number;
}

/** The repositories first seen before `at`, sorted: the KNOWN_REPOSITORIES_LISTED most recently first seen of them. */
function knownBefore(baseline: ServiceBaseline | undefined, at: ChangeInstant): KnownRepositories {
  if (!baseline) return { knownRepositories: [] };
  const known = Object.keys(baseline.repositories).filter((r) => repositorySeenBefore(baseline, r, at));
  if (known.length <= KNOWN_REPOSITORIES_LISTED) return { knownRepositories: known.sort() };
  const firstSeen = (r: string): TimePoint<string> => repositoryFirstSeen(baseline, r)!;
  const newest = known
    .sort((a, b) => (isLaterPoint(firstSeen(b), firstSeen(a)) ? 1 : isLaterPoint(firstSeen(a), firstSeen(b)) ? -1 : a < b ? -1 : a > b ? 1 : 0))
    .slice(0, KNOWN_REPOSITORIES_LISTED);
  return { knownRepositories: newest.sort(), knownRepositoriesNotListed: known.length - KNOWN_REPOSITORIES_LISTED };
}
