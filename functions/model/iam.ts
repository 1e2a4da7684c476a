// Which IAM bindings make a Cloud Run service callable by anyone.
import type { IamBinding } from './change.js';

/** Members that mean "the public": anyone, or anyone with a Google account. */
export const PUBLIC_MEMBERS: ReadonlySet<string> = new Set(['allUsers', 'allAuthenticatedUsers']);

/**
 * Predefined roles that carry `run.routes.invoke`. roles/run.invoker is the one `--allow-unauthenticated` grants;
 * roles/run.admin includes every Cloud Run permission (`run.*`); roles/run.developer lists `run.routes.*` on the
 * Cloud Run IAM roles page, and roles/run.sourceDeveloper carries it too (public IAM role datasets); granted to the
 * public, both also let anyone change the service. roles/run.servicesInvoker is the service-scoped invoker role
 * listed on the IAM roles page (its permission set is not verified here, so it is treated as an invoker).
 */
export const INVOKER_ROLES: ReadonlySet<string> = new Set([
  'roles/run.invoker',
  'roles/run.servicesInvoker',
  'roles/run.admin',
  'roles/run.developer',
  'roles/run.sourceDeveloper',
]);

/**
 * The invoker roles that also let their holder change the service (deploy a revision, set its IAM policy). Granted
 * to the public they are worse than the invoker role itself: a member who could only call the service and is
 * given one of them is newly able to take it over.
 */
export const WRITE_CAPABLE_INVOKER_ROLES: ReadonlySet<string> = new Set(['roles/run.admin', 'roles/run.developer', 'roles/run.sourceDeveloper']);

/** The invoker roles that only let their holder call the service (INVOKER_ROLES without the write-capable ones). */
export const READ_ONLY_INVOKER_ROLES: ReadonlySet<string> = new Set([...INVOKER_ROLES].filter((role) => !WRITE_CAPABLE_INVOKER_ROLES.has(role)));

export function isPublicInvokerBinding(binding: IamBinding): boolean {
  return PUBLIC_MEMBERS.has(binding.member) && INVOKER_ROLES.has(binding.role);
}

/** The public members (allUsers, allAuthenticatedUsers) of the bindings whose role `roleCounts`. */
export function publicMembersWhere(bindings: readonly IamBinding[], roleCounts: (role: string) => boolean): Set<string> {
  const members = new Set<string>();
  for (const binding of bindings) if (PUBLIC_MEMBERS.has(binding.member) && roleCounts(binding.role)) members.add(binding.member);
  return members;
}

/** Sorted, distinct `member` of the public invoker bindings, e.g. `["allUsers"]`. */
export function publicInvokerMembers(bindings: readonly IamBinding[]): string[] {
  return [...publicMembersWhere(bindings, (role) => INVOKER_ROLES.has(role))].sort();
}

/** Sorted, distinct `member` of the public bindings of a write-capable invoker role (WRITE_CAPABLE_INVOKER_ROLES). */
export function publicWriterMembers(bindings: readonly IamBinding[]): string[] {
  return [...publicMembersWhere(bindings, (role) => WRITE_CAPABLE_INVOKER_ROLES.has(role))].sort();
}
