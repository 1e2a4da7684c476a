// Enrichment: provenance from labels (commit, build pipeline), console and Logs Explorer links, resource name.
import type { RunwatchConfig } from '../config/types.js';
import { isWideIamChange, scopeOf, type Change, type ResourceType, type EntryKey, type ImageRef, type ServiceRef } from '../model/change.js';
import type { FindingLinks, Provenance } from './finding.js';

/**
 * A git commit id written as an image tag: 7 to 40 hex digits (Cloud Build's `$SHORT_SHA` is 7, `$COMMIT_SHA` 40)
 * with at least one digit and one letter. Dates (`20240501`), build numbers (`1234567`) and words (`deadbeef`) are
 * hex too but never mix both, while a commit id almost always does (all digits in 4% of 7-digit ids, all letters in
 * 0.1%: those are left out, as unknown, rather than risk naming something that is not a commit). Findings say the
 * commit came from the tag (`provenance.sources.commit: image-tag`).
 */
const COMMIT_TAG = /^(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}$/;

type Labels = Readonly<Record<string, string>>;

const NO_LABELS: Labels = {};

/** The first of `candidates` (a label name or a list) set (non-empty) in `labels`. */
function firstSet(labels: Labels, candidates: string | readonly string[]): string | undefined {
  if (typeof candidates === 'string') return labels[candidates] ? candidates : undefined;
  for (const name of candidates) if (labels[name]) return name;
  return undefined;
}

/** The label `candidates` name that provenance reads: the revision's own labels first, then the service's. */
function labelNameOf(labels: Labels, revisionLabels: Labels, candidates: string | readonly string[]): string | undefined {
  return firstSet(revisionLabels, candidates) ?? firstSet(labels, candidates);
}

/** The labels provenance is read from: for commit and pipeline, the label found (`[name, value]`), if any. */
export interface ProvenanceLabels {
  readonly commit?: readonly [string, string];
  readonly pipeline?: readonly [string, string];
  /** The pipeline is Cloud Build's trigger (no pipeline label): named `trigger:ID`. */
  readonly pipelineIsTrigger?: true;
}

/**
 * The labels named in `provenanceLabels`, the revision's own labels first (a service label stays on the service from
 * deploy to deploy, so it may be an earlier deploy's), then the service's (defaults understand Cloud Build deploys:
 * `commit-sha`, `build-id`); failing a pipeline label, Cloud Build's trigger label `gcb-trigger-id`.
 */
export function provenanceLabelsOf(labels: Labels, revisionLabels: Labels = NO_LABELS, config: RunwatchConfig): ProvenanceLabels {
  const commit = labelNameOf(labels, revisionLabels, config.provenanceLabels.commit);
  const pipeline = labelNameOf(labels, revisionLabels, config.provenanceLabels.pipeline);
  const valueOf = (name: string): [string, string] => [name, revisionLabels[name] || labels[name]!];
  const trigger = labels['gcb-trigger-id'];
  return {
    ...(commit ? { commit: valueOf(commit) } : {}),
    ...(pipeline ? { pipeline: valueOf(pipeline) } : trigger ? { pipeline: ['gcb-trigger-id', trigger], pipelineIsTrigger: true } : {}),
  };
}

/**
 * `name=value` of the per-run provenance labels found: the commit and pipeline labels, which a pipeline writes anew on
 * each deploy (a build id, a commit), so a deploy carrying the same ones as the deploy before did not write them.
 * Cloud Build's trigger label is left out: it names the same trigger on every deploy.
 */
export function provenanceLabelTexts(found: ProvenanceLabels): string[] {
  const texts: string[] = [];
  if (found.commit) texts.push(`${found.commit[0]}=${found.commit[1]}`);
  if (found.pipeline && !found.pipelineIsTrigger) texts.push(`${found.pipeline[0]}=${found.pipeline[1]}`);
  return texts;
}

/**
 * provenanceLabelTexts(provenanceLabelsOf(...)) joined by line breaks, made without the objects in between: the
 * baseline keeps it for every deploy (see the engine's recordProvenanceLabels).
 */
export function provenanceLabelsKey(labels: Labels, revisionLabels: Labels = NO_LABELS, config: RunwatchConfig): string {
  const commit = labelNameOf(labels, revisionLabels, config.provenanceLabels.commit);
  const pipeline = labelNameOf(labels, revisionLabels, config.provenanceLabels.pipeline);
  const commitText = commit ? `${commit}=${revisionLabels[commit] || labels[commit]!}` : '';
  if (!pipeline) return commitText;
  const pipelineText = `${pipeline}=${revisionLabels[pipeline] || labels[pipeline]!}`;
  return commit ? `${commitText}\n${pipelineText}` : pipelineText;
}

/**
 * Commit and pipeline from the provenance labels found (see provenanceLabelsOf); failing a commit label, an image
 * tagged with a commit id (see COMMIT_TAG). The trigger label names the pipeline as `trigger:ID`.
 */
export function provenanceOf(found: ProvenanceLabels, images: readonly ImageRef[]): Provenance {
  const sources: Record<string, string> = {};
  let commit: string | undefined;
  let pipeline: string | undefined;
  if (found.commit) {
    commit = found.commit[1];
    sources['commit'] = `label:${found.commit[0]}`;
  } else {
    const tag = commitTag(images);
    if (tag) {
      commit = tag;
      sources['commit'] = 'image-tag';
    }
  }
  if (found.pipeline) {
    pipeline = found.pipelineIsTrigger ? `trigger:${found.pipeline[1]}` : found.pipeline[1];
    sources['pipeline'] = `label:${found.pipeline[0]}`;
  }
  return { ...(commit ? { commit } : {}), ...(pipeline ? { pipeline } : {}), ...(Object.keys(sources).length ? { sources } : {}) };
}

/** The collection of each kind of Cloud Run resource in its resource name (API v2). */
const COLLECTIONS: Readonly<Record<ResourceType | 'service', string>> = { service: 'services', job: 'jobs', 'worker-pool': 'workerPools' };

export function resourceNameOf(change: Change): string {
  if (scopeOf(change) === 'project') return `//cloudresourcemanager.googleapis.com/projects/${change.target.project}`;
  // A folder's or organization's target carries its resource name (`folders/F`, `organizations/O`).
  if (isWideIamChange(change)) return `//cloudresourcemanager.googleapis.com/${change.target.project}`;
  const t = change.target;
  return `//run.googleapis.com/projects/${t.project}/locations/${t.location ?? '-'}/${COLLECTIONS[t.resourceType ?? 'service']}/${t.service}`;
}

const CONSOLE = 'https://console.cloud.google.com';

/** encodeURIComponent throws on a lone surrogate; names come from anyone who can deploy, so make them well formed. */
function encode(value: string): string {
  return encodeURIComponent(value.toWellFormed());
}

const QUERY_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * A quoted string of the Logging query language. The insertId is the entry's: a quote or a backslash in it must not
 * end the string (the rest would be read as query: `x" OR severity>=DEFAULT OR "` matches every entry), nor a line
 * break start a new comparison.
 */
function queryString(value: string): string {
  return `"${value.replace(/[\\"\n\r\t]/g, (c) => QUERY_ESCAPES[c]!)}"`;
}

/**
 * False for `.` and `..`: a browser resolves them as path steps (percent-encoded too), so the link would open another
 * page of the console. No Cloud Run location or service has such a name.
 */
function isPathSegment(value: string): boolean {
  return value !== '.' && value !== '..';
}

export function linksOf(change: Change, key: EntryKey, target: ServiceRef): FindingLinks {
  const project = encode(target.project);
  // The console picks its resource by query: a project, else a folder or organization (whose entries are logged there).
  const scope =
    scopeOf(change) === 'folder'
      ? `folder=${encode(target.project.slice('folders/'.length))}`
      : scopeOf(change) === 'organization'
        ? `organizationId=${encode(target.project.slice('organizations/'.length))}`
        : `project=${project}`;
  // An entry is its insertId and timestamp in its project; without an insertId (some re-exports leave it out, and
  // insertId="" matches nothing) its log and timestamp.
  const entryClause = key.insertId ? `insertId=${queryString(key.insertId)}\n` : key.logName ? `logName=${queryString(key.logName)}\n` : '';
  const query = `${entryClause}timestamp=${queryString(key.timestamp)}`;
  const logEntry = `${CONSOLE}/logs/query;query=${encode(query)};cursorTimestamp=${encode(key.timestamp)}?${scope}`;
  let console: string | undefined;
  if (isWideIamChange(change)) console = `${CONSOLE}/iam-admin/iam?${scope}`;
  else if (target.location && isPathSegment(target.location) && isPathSegment(target.service)) {
    console =
      target.resourceType === 'job'
        ? `${CONSOLE}/run/jobs/details/${encode(target.location)}/${encode(target.service)}/executions?project=${project}`
        : target.resourceType === 'worker-pool'
          ? // The list: a worker pool's own page is not documented (public links disagree on its path).
            `${CONSOLE}/run/worker-pools?project=${project}`
          : `${CONSOLE}/run/detail/${encode(target.location)}/${encode(target.service)}/revisions?project=${project}`;
  }
  return { ...(console ? { console } : {}), logEntry };
}

/**
 * The first image tag that looks like a commit id (Cloud Build deploys tag images with `$COMMIT_SHA` or `$SHORT_SHA`),
 * a sidecar's left out: it is another build's (a collector, a proxy), not the service's.
 */
function commitTag(images: readonly ImageRef[]): string | undefined {
  for (const image of images) if (!image.unparseable && !image.sidecar && image.tag !== undefined && COMMIT_TAG.test(image.tag)) return image.tag;
  return undefined;
}

/**
 * The most a finding's `labels` take (keys and values, in bytes of UTF-8). Every finding of a deploy carries its labels,
 * and Cloud Run takes 64 service and 64 revision labels of 63 characters, 3 bytes each in international lowercase
 * letters (Georgian, say): about 48 KB a finding. A transaction that completed a few such deploys put more than
 * Firestore's 1 MiB of findings in the service's document, and failed on every delivery. Ordinary labels (a few dozen
 * short ones) fit whole.
 */
export const FINDING_LABELS_BYTES_LIMIT = 4 * 1024;

/** A finding's labels within FINDING_LABELS_BYTES_LIMIT, and how many were left out to stay within it. */
export interface BoundedLabels {
  readonly labels: Labels;
  readonly omitted: number;
}

function labelBytes(key: string, value: string): number {
  return Buffer.byteLength(key, 'utf8') + Buffer.byteLength(value, 'utf8');
}

/**
 * `labels` whole when they take at most FINDING_LABELS_BYTES_LIMIT; otherwise the `keep` labels (the provenance labels
 * found: a finding must say what produced its deploy) whatever their size, then the others in key order while they fit,
 * each whole (a label is kept as it is or left out, never cut), in key order: the same labels give the same finding
 * whatever order the entry listed them in.
 */
export function boundedLabels(labels: Labels, keep: readonly string[] = []): BoundedLabels {
  const keys = Object.keys(labels);
  let chars = 0;
  for (const key of keys) chars += key.length + labels[key]!.length;
  // A UTF-16 code unit is at most 3 bytes of UTF-8: most labels are known to fit without being measured.
  if (chars * 3 <= FINDING_LABELS_BYTES_LIMIT) return { labels, omitted: 0 };
  let total = 0;
  for (const key of keys) total += labelBytes(key, labels[key]!);
  if (total <= FINDING_LABELS_BYTES_LIMIT) return { labels, omitted: 0 };
  const chosen = new Set<string>();
  let used = 0;
  for (const key of keep) {
    if (!Object.hasOwn(labels, key) || chosen.has(key)) continue;
    chosen.add(key);
    used += labelBytes(key, labels[key]!);
  }
  const sorted = [...keys].sort();
  for (const key of sorted) {
    if (chosen.has(key)) continue;
    const size = labelBytes(key, labels[key]!);
    if (used + size > FINDING_LABELS_BYTES_LIMIT) continue;
    chosen.add(key);
    used += size;
  }
  const kept: Record<string, string> = {};
  for (const key of sorted) if (chosen.has(key)) kept[key] = labels[key]!;
  return { labels: kept, omitted: keys.length - chosen.size };
}
