// Code a v2 container runs that is not its image (model/change.ts CodeSource): `sourceCode` (an object in a Cloud
// Storage bucket, source inlined in the request, or one runwatch cannot read) and `baseImageUri` (the runtime base
// image it runs on). Field names in camelCase (a log sink) or snake_case (audit/json.ts field). A v1 (Knative)
// container has neither field: a v1 write names its base images and its objects in Cloud Storage in template
// annotations instead (annotatedSourcesOf).
import type { CodeSource, UnknownSource } from '../model/change.js';
import { truncatePlain } from '../untrustedText.js';
import { imageRefOf, isNoImagePlaceholder, servingContainer } from './image.js';
import { asNumber, asObject, asString, field, type JsonObject } from './json.js';

/**
 * Cloud Storage's bucket name grammar: 3 to 63 characters of lower-case letters, digits, `-`, `_` and `.`, starting and
 * ending with a letter or digit; up to 222 with dots (each dot-separated part at most 63). A name outside it is no
 * bucket Cloud Run could read: its origin is unknown (BucketSource without a repository).
 */
const BUCKET = /^[a-z0-9](?:[a-z0-9._-]{1,220})[a-z0-9]$/;

/** True for a bucket name Cloud Storage allows (BUCKET; without dots at most 63 characters, with dots each part). */
export function isBucketName(name: string): boolean {
  if (!BUCKET.test(name)) return false;
  return name.includes('.') ? name.split('.').every((part) => part.length > 0 && part.length <= 63) : name.length <= 63;
}

/** The longest object name Cloud Storage allows is 1024 bytes: a longer text is cut (it is the deployer's). */
const MAX_OBJECT_LENGTH = 1024;

/**
 * The code sources of a container list, in container order, each once: a container's `sourceCode`, then its
 * `baseImageUri`. A container beside the one that takes the requests is a `sidecar` (audit/image.ts servingContainer).
 */
export function sourcesOf(containers: readonly unknown[]): CodeSource[] {
  const serving = servingContainer(containers);
  const out: CodeSource[] = [];
  const seen = new Map<string, number>();
  for (const item of containers) {
    const container = asObject(item);
    if (!container) continue;
    const sidecar = serving !== undefined && item !== serving;
    for (const source of containerSources(container)) {
      const key = JSON.stringify(source);
      const at = seen.get(key);
      // Once each; the serving container's over a sidecar's (as imagesOf): its code is the service's own.
      if (at === undefined) {
        seen.set(key, out.length);
        out.push(sidecar ? { ...source, sidecar: true } : source);
      } else if (!sidecar) out[at] = source;
    }
  }
  return out;
}

/**
 * The template annotation of a v1 (Knative) write that enrols containers in automatic base image updates: a JSON map
 * of container name to base image, `""` for a container without a name, written with `runtimeClassName:
 * run.googleapis.com/linux-base-image-update`. Verified in the Google Cloud SDK (`lib/googlecloudsdk/api_lib/run/
 * revision.py` BASE_IMAGES_ANNOTATION and BASE_IMAGE_UPDATE_RUNTIME_CLASS_NAME; `command_lib/run/config_changes.py`
 * BaseImagesAnnotationChange: "a string representation of a json map of container_name -> base_image_url", written
 * for the template's containers by name) and the v1 API's ObjectMeta reference (`run.googleapis.com/base-images`:
 * Service, Revision). It says what v2 says with each container's `baseImageUri`.
 */
export const BASE_IMAGES_ANNOTATION = 'run.googleapis.com/base-images';

/**
 * The template annotation of a v1 write whose containers run code from Cloud Storage instead of an image: a JSON map
 * of container name to object, `{"foo":"gs://my-bucket/my-object"}`, beside the placeholder image `scratch`. Verified
 * in the Google Cloud SDK: `gcloud alpha run deploy --source DIR --no-build` (`surface/run/deploy.py`
 * _IsNoBuildFromSource: `container_args.image = 'scratch'`) writes it through `command_lib/run/config_changes.py`
 * SourcesAnnotationChange ("a string representation of a json map of container_name -> GCS objects"), under
 * `api_lib/run/revision.py` SOURCES_ANNOTATION. It says what v2 says with each container's
 * `sourceCode.cloudStorageSource`.
 */
export const SOURCES_ANNOTATION = 'run.googleapis.com/sources';

/** A revision runs at most 10 containers: no more annotated names are read than a revision could have. */
const MAX_CONTAINERS = 10;

/**
 * The code a v1 write's template names besides its images, as sourcesOf reads v2's: its base images
 * (BASE_IMAGES_ANNOTATION, v2's `baseImageUri`) and its objects in Cloud Storage (SOURCES_ANNOTATION, v2's
 * `sourceCode.cloudStorageSource`; a value that is not a `gs://` URL is source code runwatch cannot read). In
 * container order, each once, a sidecar's marked. The base images are read whether or not the template sets the
 * runtime class (the annotation names the base image either way). A name no container has, or every name of a write
 * logged without its containers (a console write), is judged too, as no sidecar: code named is code that may run. An
 * annotation that is not a JSON map, and a value that is no string, name nothing (whether Cloud Run accepts such a
 * write is not known: the rule's header lists it as a blind spot); but a container whose image is the placeholder
 * `scratch` and for which no object is read (none under its name, none under a name no container has) runs code of
 * unknown origin, a source runwatch cannot read.
 */
export function annotatedSourcesOf(containers: readonly unknown[], templateAnnotations: JsonObject | undefined): CodeSource[] {
  const baseImages = annotatedMap(templateAnnotations, BASE_IMAGES_ANNOTATION);
  const objects = annotatedMap(templateAnnotations, SOURCES_ANNOTATION);
  const placeholders = containers.some((item) => isNoImagePlaceholder(asString(asObject(item)?.['image'])));
  if (baseImages.size === 0 && objects.size === 0 && !placeholders) return [];
  const containerNames = new Set(containers.map((item) => asString(asObject(item)?.['name']) ?? ''));
  // Names no container has, read too up to as many as a revision has containers (a console write logs none); the rest
  // are not read, but said to be there (namesNotReadOf): which of them run is not known.
  const allOtherNames = [...new Set([...baseImages.keys(), ...objects.keys()])].filter((name) => !containerNames.has(name));
  const otherNames = allOtherNames.slice(0, Math.max(0, MAX_CONTAINERS - containerNames.size));
  // An object read for no container (`""` beside a named container, a name spelled otherwise) is judged all the same
  // (below), and may be the one a `scratch` container runs: then that container's code is not said to be unknown too.
  const unclaimedObject = otherNames.some((name) => objects.has(name));
  // A container as v2 writes one: its ports (which tell the serving container), the placeholder image `scratch` where
  // it names it (code then unknown unless an object is read for it: containerSources), its base image and its source
  // code; nothing else of a v1 container is read here.
  const asV2 = (name: string, ports: unknown, image?: string): JsonObject => {
    const baseImageUri = baseImages.get(name);
    const object = objects.get(name);
    return {
      ports,
      ...(isNoImagePlaceholder(image) && !unclaimedObject ? { image } : {}),
      ...(baseImageUri !== undefined ? { baseImageUri } : {}),
      ...(object !== undefined ? { sourceCode: sourceCodeOfUrl(object) } : {}),
    };
  };
  const sources = sourcesOf(
    containers.map((item) => {
      const container = asObject(item);
      return asV2(asString(container?.['name']) ?? '', container?.['ports'], asString(container?.['image']));
    }),
  );
  // Code of unknown origin here was named by the sources annotation (a value no gs:// URL), or by the placeholder
  // image beside it: said so, a v1 write having no sourceCode to look for.
  const annotated = (source: CodeSource): CodeSource => (source.kind === 'unknown' && source.annotation === undefined ? { ...source, annotation: SOURCES_ANNOTATION } : source);
  const seen = new Set(sources.map(keyOfSource));
  for (const name of otherNames) {
    // One container at a time: no other to serve beside, so no sidecar.
    for (const source of sourcesOf([asV2(name, undefined)])) {
      if (seen.has(keyOfSource(source))) continue;
      seen.add(keyOfSource(source));
      sources.push(source);
    }
  }
  const notRead = namesNotReadOf(allOtherNames.slice(otherNames.length), objects);
  return [...sources, ...(notRead ? [notRead] : [])].map(annotated);
}

/**
 * Names past those a revision can have containers for, as one source of unknown origin: reading each would let a
 * hostile annotation raise a finding per name, reading none silently would let ten decoys hide the eleventh. Named
 * by the sources annotation where it holds one of them, else the base-images annotation.
 */
function namesNotReadOf(names: readonly string[], objects: ReadonlyMap<string, string>): UnknownSource | undefined {
  if (names.length === 0) return undefined;
  const annotation = names.some((name) => objects.has(name)) ? SOURCES_ANNOTATION : BASE_IMAGES_ANNOTATION;
  return { kind: 'unknown', fields: [], annotation, namesNotRead: names.length };
}

/** A template annotation holding a JSON map of container name to a string; empty when it is absent or names none. */
function annotatedMap(annotations: JsonObject | undefined, key: string): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  const text = asString(annotations?.[key]);
  if (text === undefined) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return out;
  }
  for (const [name, value] of Object.entries(asObject(parsed) ?? {})) {
    const reference = asString(value);
    if (reference !== undefined) out.set(name, reference);
  }
  return out;
}

/**
 * `gs://BUCKET/OBJECT` as v2's `sourceCode` (`cloudStorageSource`); any other text as a sourceCode runwatch cannot read.
 * A trailing `#GENERATION` (digits) is the object's generation, as the Google Cloud SDK writes the URL
 * (`command_lib/run/sourcedeploys/sources.py` GetGsutilUri: `gs://<bucket>/<object>(#<generation>)`); a `#` followed
 * by anything else is part of the object's name, which may hold one.
 */
function sourceCodeOfUrl(url: string): unknown {
  const match = /^gs:\/\/([^/]+)(?:\/(.*?))?(?:#(\d+))?$/s.exec(url.trim());
  if (!match) return url;
  const [, bucket, object, generation] = match;
  return { cloudStorageSource: { bucket: bucket!, ...(object ? { object } : {}), ...(generation ? { generation } : {}) } };
}

/** A source as sourcesOf tells one from another: what it names, whether a sidecar names it or not. */
function keyOfSource(source: CodeSource): string {
  const { sidecar: _either, ...named } = source;
  return JSON.stringify(named);
}

/**
 * A container's code sources. One whose image is the placeholder `scratch` runs code from no image: where no source
 * of its code is read (no sourceCode, one holding nothing, a v1 write whose sources annotation names no object for it
 * in a form runwatch reads), the code is of unknown origin, not absent.
 */
function containerSources(container: JsonObject): CodeSource[] {
  const sources: CodeSource[] = [];
  const code = codeSourceOf(container) ?? (isNoImagePlaceholder(asString(container['image'])) ? unreadableSourceOf([]) : undefined);
  if (code) sources.push(code);
  const base = asString(field(container, 'baseImageUri'));
  const image = base === undefined ? undefined : imageRefOf(base);
  if (image) sources.push({ kind: 'base-image', image });
  return sources;
}

/**
 * The source a container's `sourceCode` names: a Cloud Storage object, inlined source, or, where it names neither, a
 * source of unknown kind (unreadableSourceOf). Undefined where it names none and need not: no `sourceCode` (null is the
 * field left unset in the JSON of a protocol buffer), or an empty one beside an image. A null source type inside it
 * (`{inlinedSource: null}`, `{cloudStorageSource: null}`) is unset too: a `sourceCode` holding only nulls holds nothing.
 */
function codeSourceOf(container: JsonObject): CodeSource | undefined {
  const written = field(container, 'sourceCode');
  if (!isSet(written)) return undefined;
  const code = asObject(written);
  if (!code) return { kind: 'unknown', fields: [], written: jsonTypeOf(written) };
  const object = asObject(field(code, 'cloudStorageSource'));
  if (object) return bucketSourceOf(object);
  if (isSet(field(code, 'inlinedSource'))) return { kind: 'inlined' };
  const names = Object.keys(code).filter((name) => code[name] !== null);
  // sourceCode is optional (v2 Container reference) and `{}` is the message set with nothing in it, which a client
  // that writes back every field of a container it read, or sends an empty block, would log: plausible, not seen.
  // Beside an image it names no code (the image is what runs, and is judged); without one, nothing names it.
  if (names.length === 0 && hasImage(container)) return undefined;
  return unreadableSourceOf(names);
}

/** True for a field the JSON of a protocol buffer sets: present and not null (null is a field left unset). */
function isSet(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/**
 * True when the container names an image, as audit/image.ts imagesOf reads one: a string not blank (parsed or not),
 * other than the placeholder `scratch`, which names none.
 */
function hasImage(container: JsonObject): boolean {
  const image = asString(container['image']);
  return image !== undefined && image.trim() !== '' && !isNoImagePlaceholder(image);
}

/** The JSON type of a value that is neither an object nor null, named as in a finding (never the value). */
function jsonTypeOf(value: unknown): NonNullable<UnknownSource['written']> {
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return 'number';
  return typeof value === 'boolean' ? 'boolean' : 'string';
}

/** How many of an unreadable sourceCode's field names a finding lists, and how long each may be. */
const LISTED_SOURCE_FIELDS = 10;
const MAX_SOURCE_FIELD_LENGTH = 64;

/**
 * A `sourceCode` runwatch cannot read (a source type Google adds later, a known one that is no object, or nothing at
 * all where the container names no image): a source of unknown origin, named by its fields, sorted, the first
 * LISTED_SOURCE_FIELDS of them, each cut. Names only: what they hold may be code or a credential.
 */
function unreadableSourceOf(names: readonly string[]): UnknownSource {
  const sorted = [...names].sort();
  const fields = sorted.slice(0, LISTED_SOURCE_FIELDS).map((name) => truncatePlain(name, MAX_SOURCE_FIELD_LENGTH));
  return { kind: 'unknown', fields, ...(sorted.length > LISTED_SOURCE_FIELDS ? { fieldsNotListed: sorted.length - LISTED_SOURCE_FIELDS } : {}) };
}

/** A `cloudStorageSource`: its bucket as `gs://BUCKET` when the name is a bucket's, its object and generation as written. */
function bucketSourceOf(source: JsonObject): CodeSource {
  const bucket = (asString(field(source, 'bucket')) ?? '').trim();
  const object = asString(field(source, 'object'));
  // An int64 is a string in the JSON of a protocol buffer; a writer may still give a number.
  const written = field(source, 'generation');
  const generation = asString(written) ?? (asNumber(written) !== undefined ? String(written) : undefined);
  return {
    kind: 'cloud-storage',
    bucket: bucket.slice(0, 222),
    ...(isBucketName(bucket) ? { repository: `gs://${bucket}` } : {}),
    ...(object ? { object: object.length > MAX_OBJECT_LENGTH ? `${object.slice(0, MAX_OBJECT_LENGTH)}…` : object } : {}),
    ...(generation ? { generation } : {}),
  };
}

/**
 * Google's runtime base images (Google Cloud's buildpacks: `REGION-docker.pkg.dev/serverless-runtimes/STACK/runtimes/
 * RUNTIME_ID`), the only base images Cloud Run's automatic base image updates support. Google publishes and patches
 * them; no one else can write to the serverless-runtimes project.
 */
const GOOGLE_RUNTIME_BASE = /^(?:[a-z0-9-]+-)?docker\.pkg\.dev\/serverless-runtimes(?:\/|$)/;

/** True for a base image from Google's runtime base image repositories (never judged, never remembered). */
export function isGoogleRuntimeBase(source: CodeSource): boolean {
  return source.kind === 'base-image' && !source.image.unparseable && GOOGLE_RUNTIME_BASE.test(source.image.repository);
}

/**
 * The repository a code source has to remember and judge: a bucket's `gs://BUCKET`, a base image's repository (not
 * Google's runtime base images); undefined for inlined source, a source runwatch cannot read, and a bucket or base
 * image reference that does not parse, which have none (reported each time).
 */
export function repositoryOfSource(source: CodeSource): string | undefined {
  if (source.kind === 'cloud-storage') return source.repository;
  if (source.kind === 'base-image') return source.image.unparseable || isGoogleRuntimeBase(source) ? undefined : source.image.repository;
  return undefined;
}

