// Image references as Cloud Run records them: `[host[:port]/]path/name[:tag][@digest]`, Docker Hub implicit.
// Parsing follows the distribution/reference grammar (the one Docker itself uses) through @swimlane/docker-reference.
import dockerReference from '@swimlane/docker-reference';
import { isDigest } from '@swimlane/docker-reference/lib/digest.js';
import type { ImageRef, ParsedImageRef, UnparseableImageRef } from '../model/change.js';
import { hideCredentials } from './env.js';
import { asObject, asString, stringIn, type JsonObject } from './json.js';
import { memoize } from './memo.js';

/**
 * The grammar is `name [":" tag] ["@" digest]`. Only the name needs the library's familiar-name rules (implicit
 * `docker.io`, `library/`, lowercase); it is parsed once per name and cached, because a service deploys the same
 * name again and again with a new tag or digest each time. Tag and digest are checked with the grammar's own rules.
 */
const CACHE_LIMIT = 10_000;
const TAG = /^[\w][\w.-]{0,127}$/;
/** Longer references are not valid (the grammar allows 255 characters for a name; tag and digest add at most ~200). */
export const MAX_REFERENCE_LENGTH = 1024;

/**
 * The grammar's name (`[domain/]component(/component)*`), written so that no string can be matched in two ways.
 * The library's own expression allows an empty separator between two alphanumeric runs (`[a-z0-9]+(?:[-]*[a-z0-9]+)*`),
 * so a backtracking engine takes exponential time to reject a long name that almost matches, such as
 * `gcr.io/acme/app-1f2e3d4c5b6a-2024-05-01T10:00` (a regular-expression denial of service from a reference the
 * deployer writes, in a container or the user-image annotation). The language is the same (an empty separator only
 * joins two runs into one), so a name this accepts, the library's expression matches at once.
 */
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const NAME = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
/** The grammar's limit on a name (the library checks it only after matching). */
const NAME_MAX_LENGTH = 255;

/**
 * Docker Hub's host names, one registry to Docker: `docker.io` (canonical), `index.docker.io` (the legacy default
 * domain, which Docker's reference normalization rewrites to docker.io), `registry-1.docker.io` (the registry API
 * host) and `registry.hub.docker.com`. The library rewrites only `index.docker.io`, and only in lower case. With a
 * port it is another host (Docker does not read `docker.io:443` as Docker Hub), so only a bare host is listed.
 */
const DOCKER_HUB_HOSTS: ReadonlySet<string> = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/**
 * The name with a Docker Hub host in any spelling written `docker.io`, so that the library reads it as it reads
 * docker.io (the implicit `library/`, the 255-character limit on the name it gives); any other name as it is.
 */
function dockerHubAsDockerIo(name: string): string {
  const slash = name.indexOf('/');
  if (slash === -1) return name;
  const host = name.slice(0, slash);
  return host !== 'docker.io' && DOCKER_HUB_HOSTS.has(host.toLowerCase()) ? `docker.io${name.slice(slash)}` : name;
}

/**
 * A trustedRepositories glob as image repositories are written: its host (the part before the first `/`) in lower
 * case, since a host is case-insensitive and an image's is written in lower case (`GCR.IO/acme` means `gcr.io/acme`),
 * and one of Docker Hub's other names written `docker.io`: repositories are named under docker.io whatever host the
 * image was written with, so `registry-1.docker.io/acme` means `docker.io/acme`. A host in a pattern
 * (`*.docker.io/...`) is matched as written, in lower case; a host with a backslash escape is left as it is (`\W`
 * is not `\w`). The path is left as written: it is lower case in every valid image.
 */
export function repositoryGlob(glob: string): string {
  const slash = glob.indexOf('/');
  const written = slash === -1 ? glob : glob.slice(0, slash);
  const host = written.includes('\\') ? written : written.toLowerCase();
  const rest = glob.slice(written.length);
  return host !== 'docker.io' && DOCKER_HUB_HOSTS.has(host) ? `docker.io${rest}` : `${host}${rest}`;
}

/** The repository and full name of an image name (`host[:port]/path/name`, familiar forms resolved), cached. */
const parseName = memoize((name: string): Pick<ParsedImageRef, 'repository' | 'name'> | undefined => {
  if (name.length > NAME_MAX_LENGTH || !NAME.test(name)) return undefined;
  try {
    const ref = dockerReference.parseFamiliarName(dockerHubAsDockerIo(name));
    if (ref.domain && ref.repository && !ref.tag && !ref.digest) {
      // A host name is case-insensitive (DNS): `GCR.IO/acme` is `gcr.io/acme`, as a trusted glob writes it.
      const domain = ref.domain.toLowerCase();
      const path = ref.repository;
      const slash = path.lastIndexOf('/');
      return { repository: slash === -1 ? domain : `${domain}/${path.slice(0, slash)}`, name: `${domain}/${path}` };
    }
  } catch {
    // Not a valid name: remembered as such.
  }
  return undefined;
}, CACHE_LIMIT);

/**
 * The repository a Google registry grants access to, for an image name (`host/path/name`), or undefined for other
 * registries: `host/project/repository` in Artifact Registry (`[region-]docker.pkg.dev`), whose image names may hold
 * slashes, and `host/project` in Container Registry (`gcr.io`, `*.gcr.io`). A domain-scoped project id
 * (`example.com:acme`) is written `example.com/acme` in both. Not the repository runwatch remembers (the image's
 * path without its name, which tells apart the upstream namespaces of a remote repository that proxies Docker Hub):
 * a trustedRepositories glob may name it to trust everything in it.
 */
export function registryRepository(name: string): string | undefined {
  const slash = name.indexOf('/');
  if (slash === -1) return undefined;
  const domain = name.slice(0, slash);
  const parts = name.slice(slash + 1).split('/');
  const projectParts = parts[0]!.includes('.') ? 2 : 1;
  const kept = ARTIFACT_REGISTRY.test(domain) ? projectParts + 1 : CONTAINER_REGISTRY.test(domain) ? projectParts : 0;
  // Never the image name itself.
  return kept === 0 || kept >= parts.length ? undefined : `${domain}/${parts.slice(0, kept).join('/')}`;
}

const ARTIFACT_REGISTRY = /^(?:[a-z0-9-]+-)?docker\.pkg\.dev$/;
const CONTAINER_REGISTRY = /^(?:[a-z0-9-]+\.)?gcr\.io$/;

/** Parses an image reference; undefined when it is not a valid reference (the caller reports it as unknown). */
export function parseImage(reference: string): ParsedImageRef | undefined {
  const trimmed = reference.trim();
  if (trimmed === '' || trimmed.length > MAX_REFERENCE_LENGTH) return undefined;
  const atSign = trimmed.indexOf('@');
  const digest = atSign === -1 ? undefined : trimmed.slice(atSign + 1);
  const rest = atSign === -1 ? trimmed : trimmed.slice(0, atSign);
  // A colon after the last slash starts the tag; one before it belongs to a registry port.
  const colon = rest.lastIndexOf(':');
  const tag = colon > rest.lastIndexOf('/') ? rest.slice(colon + 1) : undefined;
  if (tag !== undefined && !TAG.test(tag)) return undefined;
  // The library's digest check: the grammar, a known algorithm, and its length (sha256: 64 hex digits).
  if (digest !== undefined && !isDigest(digest)) return undefined;
  const parsed = parseName(tag === undefined ? rest : rest.slice(0, colon));
  if (!parsed) return undefined;
  const image: { -readonly [K in keyof ParsedImageRef]: ParsedImageRef[K] } = { reference: trimmed, repository: parsed.repository, name: parsed.name };
  if (tag) image.tag = tag;
  if (digest) image.digest = digest;
  return image;
}

/**
 * The image of a container whose code is not in an image (`gcloud alpha run deploy --source --no-build` writes it
 * beside its object in Cloud Storage: audit/source.ts SOURCES_ANNOTATION). Docker reserves the name for the empty
 * image (`FROM scratch`): no registry serves it, so nothing is pulled and it names no repository.
 */
const NO_IMAGE = 'scratch';

/** True for the placeholder image `scratch` (blanks around it aside): a container whose code is not in an image. */
export function isNoImagePlaceholder(reference: string | undefined): boolean {
  return reference !== undefined && reference.trim() === NO_IMAGE;
}

/**
 * Distinct images of a container list. A reference that does not parse is kept as unparseable (reported, never
 * trusted); a container without an image (or with only blanks, or the placeholder `scratch`) has none. In a multi-container revision the one
 * container that declares a port takes the requests (Cloud Run requires exactly one): the others' images are marked
 * `sidecar` (an image both serves and runs beside is not).
 */
export function imagesOf(containers: readonly unknown[]): ImageRef[] {
  const serving = servingContainer(containers);
  const out: ImageRef[] = [];
  for (const container of containers) {
    const reference = asString(asObject(container)?.['image']);
    const parsed = reference === undefined || reference.trim() === '' || isNoImagePlaceholder(reference) ? undefined : (parseImage(reference) ?? unparseable(reference));
    if (!parsed) continue;
    const image: ImageRef = serving !== undefined && container !== serving && !parsed.unparseable ? { ...parsed, sidecar: true } : parsed;
    const seen = out.findIndex((i) => i.reference === image.reference);
    if (seen === -1) out.push(image);
    else if (!image.unparseable && !image.sidecar) out[seen] = image;
  }
  return out;
}

/** The container of a multi-container list that declares ports (it takes the requests), if exactly one does. */
export function servingContainer(containers: readonly unknown[]): unknown {
  if (containers.length < 2) return undefined;
  let serving: unknown;
  for (const container of containers) {
    const ports = asObject(container)?.['ports'];
    if (!Array.isArray(ports) || ports.length === 0) continue;
    if (serving !== undefined) return undefined;
    serving = container;
  }
  return serving;
}

/** An image reference as an ImageRef: parsed, else kept as unparseable (credentials hidden, cut); undefined when blank. */
export function imageRefOf(reference: string): ImageRef | undefined {
  return reference.trim() === '' ? undefined : (parseImage(reference) ?? unparseable(reference));
}

function unparseable(reference: string): UnparseableImageRef {
  const trimmed = withoutCredentials(reference.trim());
  return { reference: trimmed.length > MAX_REFERENCE_LENGTH ? `${trimmed.slice(0, MAX_REFERENCE_LENGTH)}…` : trimmed, unparseable: true };
}

/**
 * A login before a host without a scheme (`ci:PASSWORD@registry.example/acme/app`): the `user:` first, the host after
 * the last `@` followed by a path. A digest (`app:1@sha256:...`) has no `/` after its `@`, so a tag is never taken for
 * a password.
 */
const SCHEMELESS_LOGIN = /^([^/\s:@]*:)[^/\s]*@(?=[^/\s@]+\/)/;
/** A user name alone before a host (`TOKEN@registry.example/...`, `https://TOKEN@...`): a reference has no use for one. */
const USER_ONLY_LOGIN = /^([a-z][a-z0-9+.-]{0,31}:\/\/)?[^/\s:@]+@(?=[^/\s@]+\/)/i;

/**
 * An unparseable reference as findings show it (new-image-repository's evidence, every sink, the baseline): a valid
 * one has no room for a credential, but a registry URL pasted with its login does not parse, in a container (where
 * Cloud Run's grammar check is the only guard) or in the user-image annotation (any text the deployer writes). Each
 * credential format is hidden as env.ts hides it in a value (`https://ci:[hidden: a password in a URL]@host/...`),
 * a login written without a scheme the same way, and a user name alone before the host (a token used as a login,
 * `https://[hidden: a login]@host/...`). Hidden before the cut, so no part of a secret is left.
 */
function withoutCredentials(reference: string): string {
  return hideCredentials(reference).replace(SCHEMELESS_LOGIN, '$1[hidden: a password in a URL]@').replace(USER_ONLY_LOGIN, '$1[hidden: a login]@');
}

const USER_IMAGE = 'client.knative.dev/user-image';

/**
 * The images of a container list, else the `client.knative.dev/user-image` annotation: some clients record the image
 * only there. Only when no container names an image: the deployer writes the annotation, so it must not stand in
 * for a container image that does not parse. The template's annotation comes first (it is per revision), then the service's.
 */
export function imagesOrAnnotated(
  containers: readonly unknown[],
  templateAnnotations: JsonObject | undefined,
  annotations: JsonObject | undefined,
): ImageRef[] {
  const images = imagesOf(containers);
  if (images.length > 0) return images;
  const annotated = stringIn(templateAnnotations, USER_IMAGE) ?? stringIn(annotations, USER_IMAGE);
  // Marked as the annotation's: a rollout takes a container's image over it, from the write or its events.
  return annotated ? imagesOf([{ image: annotated }]).map((image) => ({ ...image, annotated: true as const })) : images;
}
