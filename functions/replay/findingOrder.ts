// The order replay hands findings over in, apart from how they are printed: the engine workers sort what they held
// back with it, and each worker thread loads what its modules import (format.ts, with string-width and a grapheme
// segmenter, is for the main thread's output only: test/unit/replay-worker-imports.test.ts).
import { normalizeTimestamp, timeSortKey } from '../audit/entry.js';
import type { Finding } from '../findings/finding.js';

/** When it happened: the event, or for a resolution the change that resolved it. */
export function timeOf(finding: Finding): string {
  return finding.resolution?.time ?? finding.eventTime;
}

/**
 * The instant a finding's time names, as a number: times keep the fraction the log wrote (`...:05Z`, `...:05.5Z`,
 * nine digits), so their texts do not sort in time order. A time that does not read (none should) goes last.
 */
function timeKeyOf(finding: Finding): number {
  const time = normalizeTimestamp(timeOf(finding));
  return time ? timeSortKey(time.iso, time.ms) : Infinity;
}

/**
 * Findings in event-time order (rollouts complete after their write, so emission order can differ), then by rule
 * and id: a total order, so the same findings print the same way however many threads found them.
 */
export function byTime(findings: readonly Finding[]): Finding[] {
  const keyed = findings.map((finding) => ({ finding, key: timeKeyOf(finding) }));
  keyed.sort((a, b) => a.key - b.key || compareText(a.finding.rule, b.finding.rule) || compareText(a.finding.id, b.finding.id));
  return keyed.map((k) => k.finding);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
