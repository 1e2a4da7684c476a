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
// Options:  `rules.new-image-repository.trustedRepositories` (globs), `exceptions`, `severity`.
// Severity: HIGH.
// Blind spots: console deploys often log no image at all: the rule then cannot judge the entry (the image is
//           "unknown" until a system event or the Admin API supplies it). Images referenced only by digest are
//           judged by repository, not by content. Code deployed without an image (a v2 container's `sourceCode`, a
//           Cloud Storage object or inlined source, run on `baseImageUri`: source deploys that skip the build) is
//           not read: its bucket is no repository here, and the deploy's image stays unknown.
import { globMatcher } from '../config/glob.js';
import { baselineKey } from '../baseline/store.js';
import { deletedBetween, isLaterPoint, newestRepositoryBefore, pointBefore, repositoryFirstSeen, repositorySeenBefore, type ChangeInstant, type ServiceBaseline, type TimePoint } from '../baseline/state.js';
import { DEPLOY_METHODS } from './methods.js';
import { deployKey, repeatedBeforeItCame, resourceNoun, serviceLabel, unknownDeployFacts } from './revision.js';
import { templateNounOf, type DeployChange, type ParsedImageRef } from '../model/change.js';
import { repositoryGlob, registryRepository } from '../audit/image.js';
import type { Detection, Detector } from './types.js';

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
    if (change.kind !== 'deploy' || change.images.length === 0 || repeatedBeforeItCame(change, baseline)) return [];
    const trusted = globMatcher(trustedRepositoryGlobs(settings.trustedRepositories));
    // Before the deploy to the nanosecond: a deploy of the same millisecond that is earlier counts (TimePoint.n).
    const newestKnown = newestRepositoryBefore(baseline, change);
    // First deploy: no repository known yet (console deploys log none), so the first one seen sets the baseline.
    const firstDeploy = newestKnown === undefined;
    // Any deploy before this one (an image, an identity or a template known): an image that does not parse is
    // judged against that, since it never becomes a known repository itself.
    const earlierDeploy = newestDeployBefore(baseline, change, newestKnown);
    const untrustedFirstDeploy = firstDeploy && settings.trustedRepositories.length === 0;
    if (untrustedFirstDeploy && (earlierDeploy === undefined || !change.images.some((i) => i.unparseable))) return [];
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
    const detections: Detection[] = [];
    const reported = new Set<string>();
    for (const image of change.images) {
      if (image.unparseable) {
        detections.push(unparseableImage(image.reference, change, deployKey(change, baseline), earlierDeploy === undefined, known(), recreatedAfterDeleteAt));
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
          ...known(),
          firstDeploy,
          ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}),
        },
        dedupKey: [baselineKey(change.target), image.repository, ...deployKey(change, baseline)],
        unknown: unknownDeployFacts(change).filter((f) => f !== 'image'),
      });
    }
    return detections;
  },
};

/**
 * An image reference that does not parse has no repository to trust or to have seen before: it is reported (as
 * the repository of a first deploy is, only when trustedRepositories is configured). Its dedup key cannot collide
 * with a repository's: repositories never contain a space.
 */
function unparseableImage(reference: string, change: DeployChange, deploy: readonly string[], firstDeploy: boolean, known: KnownRepositories, recreatedAfterDeleteAt: string | undefined): Detection {
  return {
    severity: 'HIGH',
    title: 'Image reference runwatch cannot parse',
    summary: `${change.principal?.id ?? 'An unknown principal'} deployed ${serviceLabel(change.target)} with an image reference runwatch cannot parse: its repository is unknown and cannot be trusted.`,
    evidence: { image: reference, repository: null, ...known, firstDeploy, ...(recreatedAfterDeleteAt ? { recreatedAfterDeleteAt } : {}) },
    dedupKey: [baselineKey(change.target), `unparseable ${reference}`, ...deploy],
    unknown: [...unknownDeployFacts(change).filter((f) => f !== 'image'), 'repository'],
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

/** trustedRepositories as matched, by the config's list: the list itself unless a glob's host is written otherwise. */
const trustedGlobs = new WeakMap<readonly string[], readonly string[]>();

/**
 * The trustedRepositories globs with their hosts in lower case and Docker Hub's other host names written `docker.io`
 * (audit/image.ts repositoryGlob), as image repositories are: `registry-1.docker.io/acme` and `Docker.IO/acme` trust
 * `acme/app` too, `GCR.IO/acme` trusts `gcr.io/acme/api`. Worked out once per
 * list; the list itself when no glob changes, so globMatcher finds it compiled by the config's own list.
 */
function trustedRepositoryGlobs(globs: readonly string[]): readonly string[] {
  let matched = trustedGlobs.get(globs);
  if (!matched) {
    const written = globs.map(repositoryGlob);
    matched = written.some((glob, i) => glob !== globs[i]) ? written : globs;
    trustedGlobs.set(globs, matched);
  }
  return matched;
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
