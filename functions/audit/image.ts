// Image references as Cloud Run records them: `[host[:port]/]path/name[:tag][@digest]`, Docker Hub implicit.
// Parsing follows the distribution/reference grammar (the one Docker itself uses) through @swimlane/docker-reference.
import dockerReference from '@swimlane/docker-reference';
import type { ImageRef } from '../model/change.js';
import { asObject, asString } from './json.js';

const cache = new Map<string, ImageRef | null>();
const CACHE_LIMIT = 10_000;

/** Parses an image reference; undefined when it is not a valid reference (the caller reports it as unknown). */
export function parseImage(reference: string): ImageRef | undefined {
  const cached = cache.get(reference);
  if (cached !== undefined) return cached ?? undefined;
  const parsed = parseUncached(reference);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(reference, parsed ?? null);
  return parsed;
}

function parseUncached(reference: string): ImageRef | undefined {
  const trimmed = reference.trim();
  if (trimmed === '' || trimmed.length > 1024) return undefined;
  let ref;
  try {
    ref = dockerReference.parseFamiliarName(trimmed);
  } catch {
    return undefined;
  }
  const domain = ref.domain;
  const path = ref.repository;
  if (!domain || !path) return undefined;
  const name = `${domain}/${path}`;
  const slash = path.lastIndexOf('/');
  const repository = slash === -1 ? domain : `${domain}/${path.slice(0, slash)}`;
  return {
    reference: trimmed,
    repository,
    name,
    ...(ref.tag ? { tag: ref.tag } : {}),
    ...(ref.digest ? { digest: ref.digest } : {}),
  };
}

/** Distinct parsed images of a container list; unparseable references are dropped. */
export function imagesOf(containers: readonly unknown[]): ImageRef[] {
  const out: ImageRef[] = [];
  for (const container of containers) {
    const reference = asString(asObject(container)?.['image']);
    const image = reference ? parseImage(reference) : undefined;
    if (image && !out.some((i) => i.reference === image.reference)) out.push(image);
  }
  return out;
}
