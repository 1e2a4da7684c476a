// plaintext-secret-env
//
// Reads:    Cloud Run deploys of services, jobs and worker pools (v1 CreateService / ReplaceService, v2
//           CreateService / UpdateService, and their job and worker pool counterparts): the
//           template's containers' `env`, and deletes. Values are judged while the entry is normalized
//           (audit/env.ts) and go no further: no finding, baseline or log holds one.
// Alerts:   a revision that sets an environment variable to a literal value that is a secret, where a Secret Manager
//           reference (v1 `valueFrom.secretKeyRef`, v2 `valueSource.secretKeyRef`) keeps it out of the service: anyone
//           who can view the service (roles/run.viewer) or read its audit logs reads the value. A value is a secret
//           when it holds a known credential format (a private key, an AWS access key id, a Google API key, GitHub,
//           GitLab, Slack and Stripe tokens, a Slack webhook URL, a password in a URL), or when the variable's name
//           matches `namePatterns` and the value could be one (8 characters or more; not a number, a flag, a Secret
//           Manager name, a URL without a password, or an absolute file path under a name that says it names a file:
//           `DB_PASSWORD_FILE`, `*_PATH`, `*_DIR`, `GOOGLE_APPLICATION_CREDENTIALS`, a secret mounted as a file). Only
//           variables the service's revision before did not have (as such) are reported: a service's first revision
//           seen reports all of its own. A variable is named `container/NAME` only where several containers set the
//           name: a sidecar added (or taken away) that sets it too leaves the app's the variable it was
//           (detectors/envVariables.ts), and the sidecar's is reported as its own.
// Options:  `rules.plaintext-secret-env.namePatterns` and `allowNames` (globs over variable names, any letter
//           case; applied while the entry is normalized, where the values are), `exceptions`, `severity`. At most
//           16 variables of a revision are kept (the baseline keeps them): 15 by name, and those past them as
//           one, `(more) DIGEST ...`, a short digest of each name (16 at most, the last for the rest together), so
//           a variable added among them is reported (as one or more of the variables past the first 15) and one
//           that moves into the named ones or out of them is not new, nor is a digest that leaves the group of the
//           rest (freshDigests); the group changing alone, a name among those that sort last dropped (a fix) or added,
//           is reported, `(more) +DIGEST`. A baseline of an earlier version (16 by name,
//           the rest dropped) says nothing of those past them: not reported on the first deploy after an upgrade.
// Severity: HIGH.
// Resolves: a newer revision that no longer sets any of the finding's variables to such a value, or the service
//           deleted. A late revision whose variables a newer one already dropped is reported and closed at once;
//           one whose variables newer revisions still set stays open with theirs.
//           A delete that arrives after entries about the service (job, worker pool) created again closes the findings
//           dated before it and none of the re-created one's (revision.ts closedByDelete), as in timestamp order; but
//           for one whose variables the re-created one's newest entry sets again with no finding of its own naming
//           them (with or without their container): its write was judged before the delete was known, against this
//           finding's value, and raised nothing, where timestamp order reports it afresh (a resource created again
//           starts without it). That finding stays open for it, under its own time and id (revision.ts
//           somePartReportedAgain).
// Blind spots: console writes log no containers, nor does a v2 update whose mask leaves the containers alone: their
//           variables are read from the revision's system events (the revision whole), and are unknown when those
//           never come; secrets in `args`, `command`, mounted files or the image itself; a secret
//           whose variable name matches no pattern and whose value has no known format; a value changed under
//           the same name (the variable was reported already). The name rule is a heuristic: `allowNames` tunes it.
import { baselineKey } from '../baseline/store.js';
import { changedAfter, valueBefore } from '../baseline/state.js';
import { envVarName, type PlainEnvVar } from '../model/change.js';
import { foldedPlainVariables, MORE_PLAIN_VARIABLES, NAMED_PLAIN_VARIABLES, plainVariableDigest } from '../audit/env.js';
import { continuedFrom, parseEnvVarName, sameNamedVariable, sameVariable, variablesOf } from './envVariables.js';
import { DELETE_METHODS, DEPLOY_METHODS } from './methods.js';
import { closedByDelete, riskInForce, resourceNoun, serviceLabel, somePartReportedAgain } from './revision.js';
import type { Detection, Detector, Resolved } from './types.js';

/** Why a variable is a secret (normalization chose it: audit/env.ts). */
function whyOf(variable: PlainEnvVar): string {
  return variable.formats.length > 0 ? `value holds ${variable.formats.join(' and ')}` : 'a secret by its name';
}

/**
 * True when `name` (a finding's, as envVarName writes it) names `variable`, or may: a sidecar added or taken away
 * beside it moves it from `NAME` to `app/NAME` or back (detectors/envVariables.ts).
 */
function namesVariable(name: string, variable: PlainEnvVar): boolean {
  return name === envVarName(variable) || sameVariable(parseEnvVarName(name), variable);
}

/**
 * What a revision's plain secrets say of each name: those named as themselves, and the digests of the names of those
 * past them (audit/env.ts foldPlainEnv). `mayBeCut`: more named than this version names, so stored by an earlier one,
 * which named the first 16 and dropped the rest: whether a variable past them was set is not known. `groupAbove`: where
 * past 16 digests the rest are one (`+DIGEST`, those that sort last), the last digest shown before it: any digest
 * that sorts after it may be one of that group.
 */
interface KnownVariables {
  readonly named: readonly PlainEnvVar[];
  readonly folded: ReadonlySet<string>;
  readonly digests: ReadonlySet<string>;
  readonly mayBeCut: boolean;
  readonly groupAbove: string | undefined;
}

function knownVariables(variables: readonly PlainEnvVar[]): KnownVariables {
  const named = variables.filter((v) => foldedPlainVariables(v.name) === undefined);
  const folded = new Set(variables.flatMap((v) => foldedPlainVariables(v.name) ?? []));
  const grouped = [...folded].some(isGroupDigest);
  return {
    named,
    folded,
    digests: new Set([...folded, ...named.map((v) => plainVariableDigest(v.name))]),
    mayBeCut: named.length > NAMED_PLAIN_VARIABLES,
    groupAbove: grouped ? lastShownDigest([...folded]) : undefined,
  };
}

/** True for the digest that stands for the names past the 16th digest together (`+DIGEST`). */
function isGroupDigest(digest: string): boolean {
  return digest.startsWith('+');
}

/** The last (sorted) digest of one name among `digests` ('' where there is none). */
function lastShownDigest(digests: readonly string[]): string {
  return digests.filter((d) => !isGroupDigest(d)).reduce((last, d) => (d > last ? d : last), '');
}

/** True when the revision had a variable past the named ones whose name has `digest`, or may have (in its group). */
function mayHaveFolded(known: KnownVariables, digest: string): boolean {
  return known.folded.has(digest) || (known.groupAbove !== undefined && digest > known.groupAbove);
}

/**
 * The digests of `folded` (one revision's `(more) ...`) the revision before did not have. Past 16 digests the rest are
 * one group: a digest shown now that sorts after before's last shown one may have been in before's group; a group of
 * its own differs from before's also when a name left before's group (moved among the shown digests or the named
 * ones, as moving one of 32 or more plain secrets to Secret Manager does): it is new only where nothing says so, and
 * a name added among those that sort last is then not told from one dropped there (both change the group alone).
 */
function freshDigests(folded: readonly string[], now: KnownVariables, before: KnownVariables): string[] {
  return folded.filter((digest) => {
    if (before.digests.has(digest)) return false;
    if (!isGroupDigest(digest)) return !mayHaveFolded(before, digest);
    if (before.groupAbove === undefined) return true;
    const leftBeforeGroup = lastShownDigest(folded) > before.groupAbove || now.named.some((v) => !before.digests.has(plainVariableDigest(v.name)) && mayHaveFolded(before, plainVariableDigest(v.name)));
    return !leftBeforeGroup;
  });
}

/**
 * The variables of `now` the revision before (`before`) did not have, as [name, why]: one named is new unless it is
 * one of before's named (continuedFrom) or was past them (its name's digest, or one of before's group); the digests
 * past the named ones, those before had under no name (`(more) DIGEST...`, the new ones alone: freshDigests), unless
 * before's list may have been cut.
 */
function addedVariables(now: readonly PlainEnvVar[], before: KnownVariables): [string, string][] {
  const known = knownVariables(now);
  const continued = continuedFrom(known.named, before.named);
  const added = known.named.filter((v, i) => continued[i] === undefined && !mayHaveFolded(before, plainVariableDigest(v.name))).map((v): [string, string] => [envVarName(v), whyOf(v)]);
  for (const variable of now) {
    const folded = foldedPlainVariables(variable.name);
    const fresh = before.mayBeCut || folded === undefined ? [] : freshDigests(folded, known, before);
    if (fresh.length > 0) added.push([`${MORE_PLAIN_VARIABLES} ${fresh.join(' ')}`, whyOf(variable)]);
  }
  return added.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** True when none of `names` (a finding's: envVarName, or `(more) DIGEST...`) is set to a secret in plain text among `now`. */
function noneSet(names: readonly string[], now: readonly PlainEnvVar[]): boolean {
  const known = knownVariables(now);
  return names.every((name) => {
    const folded = foldedPlainVariables(name);
    if (folded) return folded.every((digest) => !known.digests.has(digest));
    return !known.named.some((variable) => namesVariable(name, variable)) && !mayHaveFolded(known, plainVariableDigest(parseEnvVarName(name).name));
  });
}

export const plaintextSecretEnv: Detector<'plaintext-secret-env'> = {
  id: 'plaintext-secret-env',
  title: 'Secret in a plain environment variable',
  defaultSeverity: 'HIGH',
  methods: [...DEPLOY_METHODS, ...DELETE_METHODS],
  changeKinds: ['deploy', 'delete'],
  closedByDelete: true,
  detect({ change, baseline }): Detection[] {
    // Most revisions set no such variable: nothing can be new.
    if (change.kind !== 'deploy' || !change.plainEnv || change.plainEnv.length === 0) return [];
    // Each variable the revision before had is taken once, in the order written: of the app's and a sidecar's of one
    // name, where the revision before set it in one container, the first listed is taken for that one.
    const added = addedVariables(change.plainEnv, knownVariables(valueBefore(baseline?.plainEnv, change) ?? []));
    if (added.length === 0) return [];
    const names = added.map(([name]) => name);
    const who = change.principal?.id ?? 'An unknown principal';
    const plural = names.length > 1;
    return [
      {
        severity: 'HIGH',
        title: 'Secret in a plain environment variable',
        summary:
          `${who} deployed ${serviceLabel(change.target)} with ${plural ? 'environment variables' : 'an environment variable'} ${names.map(summaryName).join(', ')} set to ` +
          `${plural ? 'secrets' : 'a secret'} in plain text: anyone who can view the ${resourceNoun(change.target)} (roles/run.viewer) or read its audit logs can read ` +
          `${plural ? 'them' : 'it'}. Reference a Secret Manager secret instead, and rotate the secret.`,
        evidence: { variables: names, why: added.map(([name, why]) => `${name}: ${why}`), operation: change.operation },
        dedupKey: [baselineKey(change.target), 'plaintext-secret-env', names.join(','), change.time],
        // A late entry: closed at once when a newer revision already dropped the variables.
        ...riskInForce(baseline?.plainEnv, change, (plainEnv) => noneSet(names, plainEnv), () => 'the variables are no longer set to secrets in plain text'),
      },
    ];
  },
  resolves({ change, baseline }, open): Resolved[] {
    if (change.kind === 'delete') {
      // A service created again is reported afresh (the delete forgets its variables): a variable its write set again
      // before the delete was known raised nothing, and the finding about it stands for it (closedByDelete).
      const sets = (name: string) => (plainEnv: readonly PlainEnvVar[]): boolean => !noneSet([name], plainEnv);
      return closedByDelete(open, change, [baseline?.plainEnv], (o, recreated) => somePartReportedAgain(variablesOf(o), baseline?.plainEnv, change, sets, recreated, variablesOf, sameNamedVariable));
    }
    if (change.kind !== 'deploy' || !change.plainEnv || changedAfter(baseline?.plainEnv, change)) return [];
    const now = change.plainEnv;
    return open
      .filter((o) => {
        const variables = o.finding.evidence['variables'];
        return Array.isArray(variables) && noneSet(variables as readonly string[], now);
      })
      .map((o) => ({ id: o.finding.id, reason: 'the variables are no longer set to secrets in plain text' }));
  },
};

/** A variable as the summary names it: those past the first 15 by the digests of their names (audit/env.ts foldPlainEnv). */
function summaryName(name: string): string {
  return foldedPlainVariables(name) !== undefined ? `(one or more of the variables past the first ${NAMED_PLAIN_VARIABLES}, named in the evidence by a digest of their names)` : name;
}
