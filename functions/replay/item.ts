// One input value to what the replay loop needs: its time (for ordering) and its normalized form. Shared by the
// main-thread reader and the worker threads so both give exactly the same items.
import { readEnvelope, timeSortKey } from '../audit/entry.js';
import { normalizeEnvelope, type ParseResult } from '../audit/normalize.js';

export type ParsedItem =
  | { readonly kind: 'parsed'; readonly parsed: ParseResult; readonly timeMs: number; readonly sortKey: number; readonly source: string }
  | { readonly kind: 'invalid'; readonly reason: string; readonly source: string };

export function parseItem(value: unknown, source: string, watchCloudFunctions: boolean): ParsedItem {
  const envelope = readEnvelope(value);
  if (!envelope.ok) return { kind: 'invalid', reason: envelope.reason, source };
  const { time, timeMs } = envelope.envelope;
  return { kind: 'parsed', timeMs, sortKey: timeSortKey(time, timeMs), source, parsed: normalizeEnvelope(envelope.envelope, { watchCloudFunctions }) };
}
