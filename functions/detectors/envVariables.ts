// Which environment variable of a revision is which variable of the revision before, for plaintext-secret-env and
// code-loading-env. A variable is named `NAME`, or `container/NAME` only where more than one container of its
// revision sets the name (audit/env.ts namedOnlyWhereShared: clients name a service's one container as they like). So
// a sidecar added beside the app that sets the name too moves the app's variable from `NAME` to `app/NAME`, and taking
// it away moves it back: the same variable all the same, not one newly set (nor one gone).

import type { OpenFinding } from './types.js';

/** A variable as the detectors name it (envVarName): its container, when the name is shared, and its name. */
export interface EnvVariable {
  readonly container?: string;
  readonly name: string;
}

/**
 * A variable named as envVarName writes it (`container/NAME` or `NAME`). Container names hold no `/` (a DNS label),
 * so the first one ends the container.
 */
export function parseEnvVarName(text: string): EnvVariable {
  const slash = text.indexOf('/');
  return slash === -1 ? { name: text } : { container: text.slice(0, slash), name: text.slice(slash + 1) };
}

/**
 * True when `a` and `b` may be one variable: one name, and one container, or either named without its container (its
 * revision set the name in one container only, which may be the other's).
 */
export function sameVariable(a: EnvVariable, b: EnvVariable): boolean {
  return a.name === b.name && (a.container === b.container || a.container === undefined || b.container === undefined);
}

/**
 * True when two names of a finding's variables (envVarName: `NAME` or `container/NAME`) may name one variable
 * (sameVariable). plaintext-secret-env's `(more) DIGEST...` (base64url digests, no `/`) equals only itself.
 */
export function sameNamedVariable(a: string, b: string): boolean {
  return sameVariable(parseEnvVarName(a), parseEnvVarName(b));
}

/**
 * For each variable of `now`, the variable of `before` it continues (undefined: newly set): the same variable
 * (sameVariable), each of `before` taken once. Taken first in the same container with the same value (`alike`), then
 * in any container that may be it with the same value, then in the same container, then in any that may be it: a
 * sidecar added beside the app (`NAME` before, `app/NAME` and `sidecar/NAME` now) leaves the app's variable the one
 * the revision before had, and the sidecar's newly set.
 */
export function continuedFrom<T extends EnvVariable, B extends EnvVariable>(now: readonly T[], before: readonly B[], alike: (now: T, before: B) => boolean = () => true): (B | undefined)[] {
  const taken = new Set<number>();
  const out: (B | undefined)[] = now.map(() => undefined);
  const passes: ((n: T, b: B) => boolean)[] = [
    (n, b) => n.name === b.name && n.container === b.container && alike(n, b),
    (n, b) => sameVariable(n, b) && alike(n, b),
    (n, b) => n.name === b.name && n.container === b.container,
    sameVariable,
  ];
  for (const matches of passes) {
    now.forEach((variable, i) => {
      if (out[i] !== undefined) return;
      const j = before.findIndex((b, k) => !taken.has(k) && matches(variable, b));
      if (j === -1) return;
      taken.add(j);
      out[i] = before[j];
    });
  }
  return out;
}

/**
 * The variables an open finding of either rule names (`evidence.variables`: envVarName, or plaintext-secret-env's
 * `(more) DIGEST...` for those past the ones named one by one).
 */
export function variablesOf(o: OpenFinding): readonly string[] {
  const variables = o.finding.evidence['variables'];
  return Array.isArray(variables) ? (variables as readonly string[]) : [];
}
