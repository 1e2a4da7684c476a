// Output formats of `runwatch replay`. Findings carry strings anyone who can deploy wrote (service names,
// principals, labels), so the table escapes control and bidi characters before they reach a terminal, and measures
// cells in the columns a terminal gives them (string-width), not in UTF-16 units.
import { resourceLabel, resourceNounOf } from '../model/change.js';
import type { Finding } from '../findings/finding.js';
import type { EngineNote } from '../engine.js';
import type { ReplayStats } from './replay.js';
import stringWidth from 'string-width';
import { terminalSafe } from '../untrustedText.js';
import { isPerson } from '../config/glob.js';
import { byTime, timeOf } from './findingOrder.js';

export type OutputFormat = 'table' | 'ndjson' | 'json';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'ndjson', 'json'];


const SERVICE_WIDTH = 36;

const COLUMNS: readonly { readonly title: string; readonly width: number; readonly value: (f: Finding) => string }[] = [
  { title: 'TIME (UTC)', width: 20, value: (f) => timeOf(f).slice(0, 19).replace('T', ' ') },
  { title: 'SEVERITY', width: 8, value: (f) => f.severity },
  { title: 'RULE', width: 22, value: (f) => f.rule },
  { title: 'SERVICE', width: SERVICE_WIDTH, value: (f) => serviceCell(f, SERVICE_WIDTH) },
  // A job has no revisions, and an IAM policy change (members granted or attempted, a role given outside the
  // organization) creates none: "unknown" is kept for a deploy whose revision the entries did not name.
  { title: 'REVISION', width: 26, value: (f) => f.revision ?? (createsNoRevision(f) ? '-' : 'unknown') },
  { title: 'PRINCIPAL', width: 34, value: (f) => f.resolution?.principal ?? whoActed(f) },
  { title: 'WHAT', width: 60, value: (f) => (f.status === 'resolved' ? `Resolved: ${f.resolution?.reason ?? f.title}` : f.title) },
];

/**
 * The PRINCIPAL cell of a finding: its principal, after the first person who acted through it when there is one
 * (`alice@acme.com as deployer@acme-ci...`). Audit logs name the impersonated service account as the principal and
 * the callers in serviceAccountDelegationInfo, original first; shown alone, a person who deployed by hand through
 * the pipeline's account read as the pipeline. Service accounts and workload identities in the chain are the
 * pipeline's own links (as exceptions read them, engine.ts): with none but those, the principal as before.
 */
function whoActed(f: Finding): string {
  const person = f.delegationChain?.find(isPerson);
  return person === undefined ? shownIdentity(f.principal) : `${shownIdentity(person)} as ${shownIdentity(f.principal)}`;
}

// A workforce or workload identity federation principal: `principal://iam.googleapis.com/[projects/N/]locations/L/
// (workforcePools|workloadIdentityPools)/POOL/subject/SUBJECT` (principalSet:// for groups and attributes).
const FEDERATED_IDENTITY = /^principal(?:Set)?:\/\/iam\.googleapis\.com\/(?:projects\/[^/]+\/)?locations\/[^/]+\/(?:workforcePools|workloadIdentityPools)\/(.+)$/;

/**
 * An identity as the PRINCIPAL cell shows it: a federated one from its pool on (`github/subject/repo:acme/app:...`),
 * since its first 34 columns are the same prefix for every one; any other as written.
 */
function shownIdentity(identity: string): string {
  return FEDERATED_IDENTITY.exec(identity)?.[1] ?? identity;
}

/**
 * True for a finding about something that has no revision (a job) or an entry that makes none: an IAM policy change,
 * on a service, job, worker pool, project, folder or organization, every one logged as a `...SetIamPolicy` method.
 */
function createsNoRevision(f: Finding): boolean {
  return f.resourceType === 'job' || f.methodName.endsWith('SetIamPolicy');
}

export function formatTable(findings: readonly Finding[]): string {
  if (findings.length === 0) return 'No findings.\n';
  // A rule id is shown whole (it is what a reader puts under `rules.` in the config): the RULE column is as wide as
  // the longest one shown. Rule ids are runwatch's own, never text from a log entry.
  const widths = COLUMNS.map((c) => (c.title === 'RULE' ? Math.max(c.width, ...findings.map((f) => f.rule.length)) : c.width));
  const row = (cells: readonly string[]): string => cells.map((c, i) => fitted(c, widths[i]!)).join('  ').trimEnd();
  const lines = [row(COLUMNS.map((c) => c.title))];
  for (const finding of byTime(findings)) lines.push(row(COLUMNS.map((c) => terminalSafe(c.value(finding)))));
  return `${lines.join('\n')}\n`;
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * The SERVICE cell: `project/service`, or when that is wider than the column, the project cut from its start (`…`) so
 * the service's own name, what a reader looks for, stays whole; a name too long even so is cut at its end (fitted).
 */
function serviceCell(f: Finding, width: number): string {
  // Measured as the terminal shows them: escaped (an escape takes six columns, the character it stands for none).
  const project = terminalSafe(f.project);
  const service = terminalSafe(f.service);
  const label = resourceLabel({ project, service, resourceType: f.resourceType });
  if (columnsOf(label) <= width) return label;
  const noun = f.resourceType ? `${resourceNounOf(f.resourceType)} ` : '';
  const name = `/${service}`;
  const room = width - columnsOf(noun) - columnsOf(name) - 1; // the ellipsis takes one
  if (room < 4) return label;
  const kept: string[] = [];
  let used = 0;
  const segments = [...graphemes.segment(project)].map((s) => s.segment);
  for (let i = segments.length - 1; i >= 0; i--) {
    const columns = columnsOf(segments[i]!);
    if (used + columns > room) break;
    kept.unshift(segments[i]!);
    used += columns;
  }
  return `${noun}…${kept.join('')}${name}`;
}

/** Columns of a terminal `text` takes: a CJK character or an emoji takes two, a combining mark none. */
function columnsOf(text: string): number {
  return /^[\x20-\x7e]*$/.test(text) ? text.length : stringWidth(text);
}

/**
 * `text` in exactly `width` columns of a terminal: padded with spaces, or cut with an ellipsis between two
 * characters as the reader sees them (never inside an emoji sequence or before a combining mark). Counted in UTF-16
 * units, a CJK character or an emoji pushed the rest of its row a column to the right.
 */
function fitted(text: string, width: number): string {
  let shown = text;
  let used = columnsOf(text);
  if (used > width) {
    shown = '';
    used = 0;
    for (const { segment } of graphemes.segment(text)) {
      const columns = columnsOf(segment);
      if (used + columns > width - 1) break;
      shown += segment;
      used += columns;
    }
    shown += '…';
    used += 1;
  }
  return shown + ' '.repeat(width - used);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The engine's notes (identifiers in the functions' logs) as a reader of the summary understands them: each entry
 * counted once, by what it did when it came. Other notes (the state file's) are already words.
 */
const NOTE_TEXT: Readonly<Record<EngineNote, string>> = {
  evaluated: 'judged at once',
  'waiting-for-rollout': 'opened a rollout, judged later',
  'joined-rollout': 'joined a rollout already open',
  'late-system-event': 'system events of a rollout already judged',
  'cloud-functions-managed': 'revisions Cloud Functions manages (cloudFunctions.watch is off)',
  'deletion-event': 'deletion events',
  'unmatched-service-event': 'service events matching no deploy (traffic or IAM changes)',
  'unmatched-admin-api-revision': 'Admin API revisions matching no deploy',
  'already-applied': 'already applied (in the state file)',
};

function noteText(note: string): string {
  return Object.hasOwn(NOTE_TEXT, note) ? NOTE_TEXT[note as EngineNote] : note;
}

/**
 * A summary's counts, most first, then by name: not in the order they were first met, which depends on the replay
 * mode (one thread meets them in time order; the engine workers' counts are merged worker by worker).
 */
function byCount(counts: ReadonlyMap<string, number>): [string, number][] {
  return [...counts].sort((a, b) => b[1] - a[1] || compareText(a[0], b[0]));
}

export function formatSummary(stats: ReplayStats, seconds: number): string {
  const lines: string[] = [];
  const rate = seconds > 0 ? Math.round(stats.entriesRead / seconds) : stats.entriesRead;
  const entries = `${stats.entriesRead} entr${stats.entriesRead === 1 ? 'y' : 'ies'}`;
  const changes = `${stats.changes} change${stats.changes === 1 ? '' : 's'}`;
  lines.push(`runwatch replay: ${entries} read in ${seconds.toFixed(2)} s (${rate}/s), ${changes} evaluated`);
  if (stats.duplicates) lines.push(`  duplicates (same logName, timestamp, insertId): ${stats.duplicates}`);
  if (stats.outOfTimeRange) lines.push(`  outside --since/--until: ${stats.outOfTimeRange}`);
  if (stats.outOfOrder) lines.push(`  arrived later than the reorder buffer could wait (still evaluated): ${stats.outOfOrder}`);
  if (stats.notes.size) {
    lines.push('  correlation (a deploy is judged once its admin write and its system events are joined, or its wait runs out):');
    for (const [note, count] of byCount(stats.notes)) lines.push(`    ${noteText(note)}: ${count}`);
  }
  if (stats.skipped.size) {
    lines.push('  skipped:');
    for (const [reason, count] of byCount(stats.skipped)) lines.push(`    ${reason}: ${count}`);
  }
  const malformed = [...stats.malformed.values()].reduce((a, b) => a + b, 0);
  if (malformed) {
    lines.push(`  malformed: ${malformed}`);
    for (const [reason, count] of byCount(stats.malformed)) lines.push(`    ${terminalSafe(reason)}: ${count}`);
    for (const example of stats.malformedExamples) lines.push(`    e.g. ${terminalSafe(example)}`);
  }
  const total = [...stats.findingsByRule.values()].reduce((a, b) => a + b, 0);
  lines.push(`  findings: ${total}`);
  for (const [rule, count] of [...stats.findingsByRule].sort()) lines.push(`    ${rule}: ${count}`);
  if (stats.exceptions.length > 0) {
    // Rule exceptions in the config's order: what each held back, and those that held back nothing (a stale glob).
    const heldBack = stats.exceptions.filter((path) => stats.heldBack.has(path));
    lines.push(`  held back by exceptions: ${[...stats.heldBack.values()].reduce((a, b) => a + b, 0)}`);
    for (const path of heldBack) lines.push(`    ${path}: ${stats.heldBack.get(path)}`);
    const unused = stats.exceptions.filter((path) => !stats.heldBack.has(path));
    if (unused.length > 0) lines.push(`  exceptions that held back nothing: ${unused.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}
