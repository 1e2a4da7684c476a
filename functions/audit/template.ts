// What a template write says, shared by services and jobs: its fingerprint, and Binary Authorization as it set it.
import { hash } from 'node:crypto';
import type { BinaryAuthorization } from '../model/change.js';
import { canonicalJson, type JsonObject } from './json.js';
import { truncatePlain } from '../untrustedText.js';

/**
 * Free text whoever deploys writes (a breakglass justification, the client annotations) is bounded only by the audit
 * entry (512 KiB). It is kept in the service's baseline (the waiting rollout, the breakglass history, open findings,
 * the outbox), which must stay far below Firestore's 1 MiB a document: it is cut, saying so with `…`.
 */
export const JUSTIFICATION_MAX_LENGTH = 1_024;

export function boundedText(text: string | undefined, max: number): string | undefined {
  return text === undefined ? undefined : truncatePlain(text, max);
}

/**
 * A short fingerprint of a revision template: 96 bits of a SHA-1 of its canonical JSON (node's one-shot native
 * hash: faster than hashing in JavaScript). It is only ever compared with earlier fingerprints of the same service.
 */
export function templateFingerprint(api: 'v1' | 'v2', template: JsonObject): string {
  return `${api}:${hash('sha1', canonicalJson(template), 'base64url').slice(0, 16)}`;
}

/**
 * The fingerprint of a template a v2 write logged (`fingerprint`: the whole template, as logged) with the template paths
 * a mask names (`paths`, sorted; none when it sets the template whole) and the fingerprints of the template's top-level
 * parts (`parts`: templatePartsOf): a masked write applies only the parts its mask names, so what it leaves in force
 * is those parts over the template before it (keepsTemplateInForce composes them).
 */
export function maskedTemplateFingerprint(fingerprint: string, paths: readonly string[] | undefined, parts?: string): string {
  const masked = paths === undefined || paths.length === 0 ? fingerprint : `${fingerprint}~${paths.join(',')}`;
  return parts === undefined ? masked : `${masked}|${parts}`;
}

/**
 * Length of a part's fingerprint (base64url of SHA-1): 96 bits, as the whole template's. Two writes are told apart by
 * their parts alone (keepsTemplateInForce), so a shorter one would let a deployer try container lists (an unused
 * variable's value) until one matched the part in force: a new image taken for no revision. A template's score of
 * parts keeps a fingerprint under a kilobyte, for each of the baseline's points.
 */
const PART_FINGERPRINT_LENGTH = 16;
/** A v2 revision template has a score of fields; a logged one with more is not Cloud Run's, and gets no parts. */
const MAX_TEMPLATE_PARTS = 40;
const PART_NAME = /^[a-z][a-z0-9_]*$/;

/**
 * The fingerprints of a v2 template's top-level parts, by their snake_case names as update masks name them
 * (`containers=Ab3d...,scaling=...`, sorted), or undefined for a template whose field names are not a template's.
 */
export function templatePartsOf(template: JsonObject): string | undefined {
  const parts: string[] = [];
  for (const key of Object.keys(template)) {
    const value = template[key];
    if (value === undefined) continue;
    const name = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (!PART_NAME.test(name) || parts.length >= MAX_TEMPLATE_PARTS) return undefined;
    parts.push(`${name}=${hash('sha1', canonicalJson(value), 'base64url').slice(0, PART_FINGERPRINT_LENGTH)}`);
  }
  return parts.sort().join(',');
}

/** A template fingerprint read back: the whole template's, the mask's template paths, the parts' fingerprints. */
interface ReadFingerprint {
  readonly whole: string;
  readonly paths?: readonly string[];
  readonly parts?: ReadonlyMap<string, string>;
}

function readFingerprint(fingerprint: string): ReadFingerprint {
  const bar = fingerprint.indexOf('|');
  const head = bar < 0 ? fingerprint : fingerprint.slice(0, bar);
  const tilde = head.indexOf('~');
  return {
    whole: tilde < 0 ? head : head.slice(0, tilde),
    ...(tilde < 0 ? {} : { paths: head.slice(tilde + 1).split(',') }),
    ...(bar < 0 ? {} : { parts: new Map(fingerprint.slice(bar + 1).split(',').filter(Boolean).map((part) => [part.slice(0, part.indexOf('=')), part.slice(part.indexOf('=') + 1)] as const)) }),
  };
}

/**
 * Whether a write of template fingerprint `now` (maskedTemplateFingerprint) sets the template `before` set, compared
 * with that one write alone: the same body, and either one was set whole (a full write after a masked one of its body
 * is taken as that template; a masked write of the body in force changes nothing), or `now`'s mask names no part the
 * masked write before did not (a retry). Two masked writes of one body setting different parts (the scaling, then the
 * containers) are two templates. keepsTemplateInForce, which sees the writes before, knows better where it can.
 */
export function sameTemplate(before: string | undefined, now: string): boolean {
  if (before === undefined) return false;
  if (before === now) return true;
  // Two fingerprints of whole templates (every v1 one) are the same only when equal: nothing to read back.
  if (!hasSuffix(before) && !hasSuffix(now)) return false;
  const was = readFingerprint(before);
  const is = readFingerprint(now);
  if (was.whole !== is.whole) return false;
  if (was.paths === undefined || is.paths === undefined) return true;
  return is.paths.every((path) => was.paths!.some((set) => path === set || path.startsWith(`${set}.`)));
}

function hasSuffix(fingerprint: string): boolean {
  return fingerprint.indexOf('~') >= 0 || fingerprint.indexOf('|') >= 0;
}

/** The top-level part a mask's template path names (`template.scaling.max_instance_count`: scaling). */
function partOf(path: string): string {
  const end = path.indexOf('.', 'template.'.length);
  return end < 0 ? path.slice('template.'.length) : path.slice('template.'.length, end);
}

/** A part that a masked write set only some fields of: what it holds is not known. */
const PART_UNKNOWN = '?';
/** A part the template in force does not have. */
const PART_ABSENT = '';

/**
 * Whether a write of template fingerprint `now` leaves the template in force as it was. `points` are the service's
 * template writes in time order and `newest` the index of the last before this one (-1: none known, a new revision).
 * The template in force is composed from the writes back to the last that set it whole: each masked one sets the parts
 * its mask names (the fields of one part only: that part unknown). So a masked write of the scaling that logs a new
 * image, then a full write of that body, is a new revision (the image was never applied before), while a masked write
 * of the containers, then a full write of that body, is not. Where a point of the way is of an earlier version (no
 * parts kept) or of v1, the write is compared with the point before it alone (sameTemplate), as before; where the way
 * runs out before a whole write, the template in force is not known: a new revision.
 */
export function keepsTemplateInForce(points: readonly { readonly v: string }[] | undefined, newest: number, now: string): boolean {
  if (!points || newest < 0) return false;
  const before = points[newest]!.v;
  if (before === now) return true;
  if (now.indexOf('|') < 0 || before.indexOf('|') < 0) return sameTemplate(before, now);
  const is = readFingerprint(now);
  const nowParts = is.parts!; // now has its `|`
  const needed = is.paths?.map(partOf);
  const inForce = new Map<string, string>();
  let whole = false;
  for (let i = newest; i >= 0; i--) {
    const point = readFingerprint(points[i]!.v);
    if (point.parts === undefined) return sameTemplate(before, now);
    if (point.paths === undefined) {
      for (const [name, part] of point.parts) if (!inForce.has(name)) inForce.set(name, part);
      whole = true;
      break;
    }
    for (const path of point.paths) {
      const name = partOf(path);
      if (!inForce.has(name)) inForce.set(name, path === `template.${name}` ? (point.parts.get(name) ?? PART_ABSENT) : PART_UNKNOWN);
    }
    if (needed?.every((name) => inForce.has(name))) break;
  }
  const partInForce = (name: string): string => inForce.get(name) ?? (whole ? PART_ABSENT : PART_UNKNOWN);
  const names = needed ?? [...new Set([...inForce.keys(), ...nowParts.keys()])];
  return names.every((name) => {
    const was = partInForce(name);
    return was !== PART_UNKNOWN && was === (nowParts.get(name) ?? PART_ABSENT);
  });
}

/**
 * v1 Binary Authorization from the service's annotations. A missing annotation means "not set" only in a body that
 * is visibly whole: console writes are logged without their containers (why is unverified: redaction?), and what
 * else such a body leaves out is not known, so there a missing annotation leaves the setting unknown.
 */
export function v1BinaryAuthorization(policy: string | undefined, breakglass: string | undefined, wholeBody: boolean): BinaryAuthorization {
  return binaryAuthorizationOf(policy, breakglass, wholeBody || Boolean(policy), wholeBody || breakglass !== undefined);
}

/**
 * Binary Authorization as a write sets it: of the fields it is known to set, no policy (undefined or empty) means
 * not enforced, no justification means no breakglass; a field it is not known to set is unknown, whatever it says.
 */
export function binaryAuthorizationOf(policy: string | undefined, justification: string | undefined, policyKnown: boolean, breakglassKnown: boolean): BinaryAuthorization {
  const breakglassJustification = boundedText(justification, JUSTIFICATION_MAX_LENGTH);
  return {
    ...(policyKnown ? (policy ? { policy } : {}) : { policyUnknown: true as const }),
    ...(breakglassKnown ? (breakglassJustification !== undefined ? { breakglassJustification } : {}) : { breakglassUnknown: true as const }),
  };
}
