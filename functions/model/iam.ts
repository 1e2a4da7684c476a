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

/**
 * The members external-member-grant judges, by their domain: a Google account (`user:`), a Google group (`group:`),
 * and every account of a Google Workspace or Cloud Identity domain (`domain:`). Not service accounts (their domain is
 * a project's, never the organization's), federated identities (`principal://`, `principalSet://`), `deleted:` members
 * (nobody holds them any more) or the public (public-invoker-grant's).
 */
export type JudgedMemberKind = 'user' | 'group' | 'domain';

/**
 * The kind and domain (lower case) of a member external-member-grant judges: what follows the `@` of a `user:` or
 * `group:` member (its prefix in any letter case), or a `domain:` member itself; undefined for any other member, or
 * one without a domain. White space around it and a `?uid=` suffix (deleted: members carry one) are left out: a
 * spelling IAM may hand back for an account outside must not make it a member not judged (silent). A member that is
 * no plain email or domain after that (a second `@`, a `?` elsewhere, a glob character) is `odd`, its domain all that
 * follows the prefix: outside whatever allowedDomains says, since a glob could match across the odd part
 * (`*.acme.com` matches `gmail.com?.acme.com`) and which account it names cannot be told. `name` is the member in lower
 * case as judged (what allowMembers is matched against too).
 */
export function judgedMemberOf(member: string): { readonly kind: JudgedMemberKind; readonly domain: string; readonly name: string; readonly odd: boolean } | undefined {
  if (member.length > MEMBER_LENGTH_LIMIT) return undefined;
  const match = /^(user|group|domain):(\S+)$/i.exec(member.trim());
  if (!match) return undefined;
  const kind = match[1]!.toLowerCase() as JudgedMemberKind;
  const rest = match[2]!.replace(/\?uid=\d+$/i, '').toLowerCase();
  const at = rest.lastIndexOf('@');
  if (kind !== 'domain' && at < 0) return undefined;
  const local = kind === 'domain' ? '' : rest.slice(0, at);
  const domain = kind === 'domain' ? rest : rest.slice(at + 1);
  if (domain === '') return undefined;
  const odd = /[@?]/.test(local) || !PLAIN_DOMAIN.test(domain);
  return { kind, domain: odd ? rest : domain, name: `${kind}:${rest}`, odd };
}

/** A domain as judged: no `@`, `?`, white space or glob character (picomatch would read none of them in a value, but a glob's `*` matches them). */
const PLAIN_DOMAIN = /^[^@?\s*/\\[\]{}()!,|]+$/;

/**
 * The longest member judged: IAM takes no email longer than 254 characters (nor a domain longer than 253), with its
 * prefix. A longer one is no member IAM holds (an entry forged or re-exported), and kept in a baseline it would grow the
 * service's document without bound.
 */
export const MEMBER_LENGTH_LIMIT = 300;

/** The longest role name judged: a custom role's (`organizations/O/roles/ID`, its id at most 64 characters) is far shorter. */
export const ROLE_LENGTH_LIMIT = 256;

/**
 * Roles above a service (on a project, folder or organization) that reach its Cloud Run services besides roles/run.*:
 * owner and editor include every Cloud Run permission; iam.serviceAccountUser lets the holder act as the project's
 * service accounts, the runtime identities of its services (a deploy as them needs no more than that and a run role
 * anywhere); iam.serviceAccountTokenCreator mints their tokens, so the holder acts as every service's identity.
 */
export const WIDE_RUN_ROLES: ReadonlySet<string> = new Set(['roles/owner', 'roles/editor', 'roles/iam.serviceAccountUser', 'roles/iam.serviceAccountTokenCreator']);

/** True for a role that reaches Cloud Run when granted on a project, folder or organization. */
export function reachesCloudRun(role: string): boolean {
  return role.startsWith('roles/run.') || WIDE_RUN_ROLES.has(role);
}

/** Roles that only call or read a Cloud Run service: granted outside, MEDIUM (every other role, custom ones too: HIGH). */
export const CALL_OR_READ_ROLES: ReadonlySet<string> = new Set(['roles/run.invoker', 'roles/run.servicesInvoker', 'roles/run.viewer']);
