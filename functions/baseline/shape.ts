// Whether a stored baseline has the shape this version writes, field by field. A state file is JSON anyone can edit
// (or another tool can write); what runwatch reads from it must be lists where it keeps lists and times where it
// keeps times, or the first entry of the service stops the replay with a TypeError (`out.push is not a function`)
// naming neither the file nor the service, and the live pipeline fails that service's every delivery.
// A point's value is checked for its kind (a text, a flag, a list of names), as are the fields of a record that code
// reads as texts, and that an open finding or a waiting deploy is an object; what the values say is not checked (each
// detector reads its own), nor the inside of a waiting deploy (the replay's own bookkeeping, never imported).
import { CARRIED_OPTIONAL_HISTORIES, HISTORY_FIELDS, OPTIONAL_SERVICE_OBJECT_HISTORIES } from './state.js';

/** Every list of a baseline whose items are dated as TimePoint is (`t` ms, `n` ns): the histories and the records. */
export const DATED_LISTS = [...HISTORY_FIELDS, ...OPTIONAL_SERVICE_OBJECT_HISTORIES, ...CARRIED_OPTIONAL_HISTORIES, 'revisionIdentities', 'completed'] as const;

/** A check of one item of a list. */
type ItemCheck = (item: Readonly<Record<string, unknown>>) => boolean;

const isText = (value: unknown): boolean => typeof value === 'string';
const isOptional = (value: unknown, check: (value: unknown) => boolean): boolean => value === undefined || check(value);
const textPoint: ItemCheck = (point) => isText(point['v']);
const flagPoint: ItemCheck = (point) => typeof point['v'] === 'boolean';
/** Member lists, identities the traffic goes to, variable names: code reads them with includes, some and every. */
const namesPoint: ItemCheck = (point) => Array.isArray(point['v']) && point['v'].every(isText);

/**
 * What each dated list's items hold besides their time, as this version writes it (and every earlier one did: the state
 * files of test/fixtures/state-*.json). Every dated list has one (a history added later must say what it keeps).
 */
const DATED_ITEMS = {
  serviceAccount: textPoint,
  template: textPoint,
  ingress: textPoint,
  binaryAuthorization: textPoint,
  breakglass: textPoint,
  provenanceLabels: textPoint,
  vpcEgress: textPoint,
  vpcDestination: textPoint,
  invokerIamDisabled: flagPoint,
  iapEnabled: flagPoint,
  defaultUrlDisabled: flagPoint,
  creates: flagPoint,
  keptTraffic: flagPoint,
  tookNoTraffic: flagPoint,
  noRevision: flagPoint,
  publicInvokers: namesPoint,
  publicWriters: namesPoint,
  publicBindings: namesPoint,
  memberBindings: namesPoint,
  codeLoadingEnv: namesPoint,
  serving: namesPoint,
  plainEnv: (point) => Array.isArray(point['v']) && point['v'].every((variable) => isPlainObject(variable) && isText(variable['name']) && Array.isArray(variable['formats'])),
  revisionIdentities: (point) => isText(point['v']) && isOptional(point['r'], isText) && isOptional(point['g'], isTime),
  // A completed rollout has no value: the revision and operation it names are compared as texts.
  completed: (item) => isOptional(item['revision'], isText) && isOptional(item['operationId'], isText),
} as const satisfies Record<(typeof DATED_LISTS)[number], ItemCheck>;

/**
 * Lists of a baseline that are not dated the TimePoint way: the replay's own bookkeeping (open findings, waiting
 * deploys, applied entries), and what each item must be.
 */
const PLAIN_LISTS = {
  open: (item: unknown) => isPlainObject(item) && isText(item['rule']) && isPlainObject(item['finding']) && isText(item['finding']['id']),
  rollouts: isPlainObject,
  seen: isText,
} as const satisfies Record<string, (item: unknown) => boolean>;

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
    const holds = DATED_ITEMS[name];
    if (list !== undefined && !(Array.isArray(list) && list.every((item) => isDated(item) && holds(item)))) return name;
  }
  for (const [name, isItem] of Object.entries(PLAIN_LISTS)) {
    const list = baseline[name];
    if (list !== undefined && !(Array.isArray(list) && list.every(isItem))) return name;
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

function isDated(item: unknown): item is Readonly<Record<string, unknown>> {
  if (!isPlainObject(item)) return false;
  const { t, n } = item as { t?: unknown; n?: unknown };
  return isTime(t) && (n === undefined || isTime(n));
}

function isTime(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value);
}

function isPlainObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
