// Environment variables a revision sets with a literal value: which could hold a secret, judged here from the
// value, which goes no further. Anyone who can view the service (roles/run.viewer) or read its audit logs reads such
// a value; Secret Manager references (v1 `valueFrom.secretKeyRef`, v2 `valueSource.secretKeyRef`) do not carry one.
import type { PlainEnvVar } from '../model/change.js';
import { asArray, asObject, asString } from './json.js';
import { cutText } from '../untrustedText.js';

/**
 * Credential formats recognised in a value, by their fixed prefixes and lengths (the formats secret scanners such as
 * gitleaks and GitHub secret scanning look for). A match is reported whatever the variable is called.
 */
const CREDENTIAL_FORMATS: readonly (readonly [string, RegExp])[] = [
  ['a private key', /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/],
  ['an AWS access key id', /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/],
  ['a Google API key', /\bAIza[0-9A-Za-z_-]{35}\b/],
  ['a GitHub token', /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b/],
  ['a GitLab token', /\bglpat-[A-Za-z0-9_-]{20,}\b/],
  ['a Slack token', /\bxox[abposr]-[A-Za-z0-9-]{10,}\b/],
  ['a Stripe secret key', /\b[sr]k_live_[A-Za-z0-9]{20,}\b/],
  ['a password in a URL', /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i],
];

/** Values that cannot be a secret whatever the variable is called: flags, numbers, references, plain URLs. */
const NOT_SECRET = /^(?:true|false|yes|no|on|off|none|null|[-+]?\d+(?:\.\d+)?[a-z]{0,2}|projects\/[^/]+\/secrets\/.+|[a-z][a-z0-9+.-]*:\/\/[^@\s]*)$/i;

/** Shorter values are too short to be a secret worth reporting by name alone (`dev`, `info`, `eu-west`). */
const MIN_SECRET_LENGTH = 8;

/** At most this many variables are kept per write (they travel in the baseline: a waiting rollout). */
const MAX_VARIABLES = 64;
const MAX_NAME_LENGTH = 120;

/**
 * The variables of `containers` set with a literal value that could be a secret: it matches a credential format,
 * or it is long enough and not a flag, a number, a Secret Manager name or a URL without a password (a name rule
 * then decides: see the plaintext-secret-env detector). Names are kept (cut to 120 characters), values never.
 */
export function plainEnvOf(containers: readonly unknown[]): readonly PlainEnvVar[] {
  let out: PlainEnvVar[] | undefined;
  for (const item of containers) {
    const container = asObject(item);
    const containerName = asString(container?.['name']);
    for (const entry of asArray(container?.['env'])) {
      const variable = asObject(entry);
      const name = asString(variable?.['name']);
      const value = asString(variable?.['value']);
      if (!name || !value) continue;
      const formats = CREDENTIAL_FORMATS.filter(([, pattern]) => pattern.test(value)).map(([format]) => format);
      const secretLike = formats.length > 0 || (value.trim().length >= MIN_SECRET_LENGTH && !NOT_SECRET.test(value.trim()));
      if (!secretLike) continue;
      out ??= [];
      out.push({ ...(containerName ? { container: cutText(containerName, MAX_NAME_LENGTH) } : {}), name: cutText(name, MAX_NAME_LENGTH), formats });
      if (out.length >= MAX_VARIABLES) return out;
    }
  }
  return out ?? NONE;
}

/** What most revisions set (one list shared by every baseline that keeps it, not one per deploy). */
const NONE: readonly PlainEnvVar[] = Object.freeze([]);
