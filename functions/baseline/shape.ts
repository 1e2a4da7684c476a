// Whether a stored baseline has the shape this version writes, field by field. A state file is JSON anyone can edit
// (or another tool can write); what runwatch reads from it must be lists where it keeps lists and times where it
// keeps times, or the first entry of the service stops the replay with a TypeError (`out.push is not a function`)
// naming neither the file nor the service, and the live pipeline fails that service's every delivery.
// The values themselves are not checked: each detector reads its own.
import { CARRIED_OPTIONAL_HISTORIES, HISTORY_FIELDS, OPTIONAL_SERVICE_OBJECT_HISTORIES } from './state.js';

/** Every list of a baseline whose items are dated as TimePoint is (`t` ms, `n` ns): the histories and the records. */
export const DATED_LISTS = [...HISTORY_FIELDS, ...OPTIONAL_SERVICE_OBJECT_HISTORIES, ...CARRIED_OPTIONAL_HISTORIES, 'revisionIdentities', 'completed'] as const;

/** Lists of a baseline that are not dated the TimePoint way: the replay's own bookkeeping (open findings, waiting deploys, applied entries). */
const PLAIN_LISTS = ['open', 'rollouts', 'seen'] as const;

/** The maps of a baseline from a repository to when it was first seen (ms, and the ns digits). */
export const TIME_MAPS = ['repositories', 'repositoriesN'] as const;

/** The instants of a baseline (epoch ms) that say when something logged happened, besides its lists. */
export const INSTANTS = ['lastChangeMs', 'deletedAtMs', 'codeLoadingEnvReadsAllFrom'] as const;

/**
 * The first field of `baseline` that is not in the form this version writes, or undefined. A field left out is fine
 * (histories added later are optional; `repositories` and the first five histories are checked for presence where
 * the file is read).
 */
export function misshapenField(baseline: Readonly<Record<string, unknown>>): string | undefined {
  for (const name of DATED_LISTS) {
    const list = baseline[name];
    if (list !== undefined && !(Array.isArray(list) && list.every(isDated))) return name;
  }
  for (const name of PLAIN_LISTS) {
    const list = baseline[name];
    if (list !== undefined && !Array.isArray(list)) return name;
  }
  for (const name of TIME_MAPS) {
    const map = baseline[name];
    if (map !== undefined && !(isPlainObject(map) && Object.values(map).every(isTime))) return name;
  }
  // dueAtMs is when a waiting deploy's wait runs out, no logged time; deletedAtN the delete's sub-millisecond digits.
  for (const name of [...INSTANTS, 'dueAtMs', 'deletedAtN'] as const) {
    const value = baseline[name];
    if (value !== undefined && !isTime(value)) return name;
  }
  return undefined;
}

function isDated(item: unknown): boolean {
  if (!isPlainObject(item)) return false;
  const { t, n } = item as { t?: unknown; n?: unknown };
  return isTime(t) && (n === undefined || isTime(n));
}

function isTime(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value);
}

function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
