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
 * The fingerprint of a template a masked write logged (`template`, whole, as logged) with the template paths its mask
 * names (`paths`, sorted; none when it sets the template whole): only those parts are applied, so two masked writes of
 * one body that set different parts are different templates (sameTemplate).
 */
export function maskedTemplateFingerprint(fingerprint: string, paths: readonly string[] | undefined): string {
  return paths === undefined || paths.length === 0 ? fingerprint : `${fingerprint}~${paths.join(',')}`;
}

/**
 * Whether a write of template fingerprint `now` (maskedTemplateFingerprint) sets the template `before` set: the same
 * body, and either one was set whole (a full write after a masked one of its body is taken as that template, as the
 * client knew it whole; a masked write of the body in force changes nothing), or `now`'s mask names no part the
 * masked write before did not (a retry). Two masked writes of one body setting different parts (the scaling, then
 * the containers) are two templates: the second makes a revision of its own.
 */
export function sameTemplate(before: string | undefined, now: string): boolean {
  if (before === undefined) return false;
  if (before === now) return true;
  const cutBefore = before.indexOf('~');
  const cutNow = now.indexOf('~');
  if ((cutBefore < 0 ? before : before.slice(0, cutBefore)) !== (cutNow < 0 ? now : now.slice(0, cutNow))) return false;
  if (cutBefore < 0 || cutNow < 0) return true;
  const setBefore = before.slice(cutBefore + 1).split(',');
  return now
    .slice(cutNow + 1)
    .split(',')
    .every((path) => setBefore.some((set) => path === set || path.startsWith(`${set}.`)));
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
