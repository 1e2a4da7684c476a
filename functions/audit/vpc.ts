// A revision's VPC egress (where its outbound traffic goes) as an entry shows it: v1 annotations (admin writes and
// system events) and the v2 template's vpcAccess. See ../shared/facts/audit-log-fields.md section 2.7.
import { createHash } from 'node:crypto';
import type { VpcEgress } from '../model/change.js';
import { truncatePlain } from '../untrustedText.js';
import { asArray, asObject, asString, field, stringIn, type JsonObject } from './json.js';

/**
 * v1 VPC egress from a revision's annotations, a template's or the revision's own in a system event
 * (`run.googleapis.com/vpc-access-connector`, `run.googleapis.com/network-interfaces`,
 * `run.googleapis.com/vpc-access-egress`). No connector and no network interfaces means no VPC access, but only in a
 * body that is visibly whole (its containers logged): console writes are logged without them, and what else they
 * leave out is not known (the revision in their system events is whole). With VPC access and no egress annotation,
 * Cloud Run's default applies (private ranges only). A value that reads as neither egress leaves it unknown.
 */
export function v1VpcEgress(annotations: JsonObject | undefined, wholeBody: boolean): VpcEgress | undefined {
  const connector = stringIn(annotations, 'run.googleapis.com/vpc-access-connector');
  const interfaces = networkInterfaces(stringIn(annotations, 'run.googleapis.com/network-interfaces'));
  if (!connector && !interfaces) return wholeBody ? 'none' : undefined;
  const egress = stringIn(annotations, 'run.googleapis.com/vpc-access-egress');
  // `all` is what gcloud wrote before `all-traffic` existed; Cloud Run still reads it.
  if (egress === 'all-traffic' || egress === 'all') return 'all-traffic';
  return egress === undefined || egress === '' || egress === 'private-ranges-only' ? 'private-ranges-only' : undefined;
}

/**
 * The network-interfaces annotation when it names any (a JSON list of interfaces); undefined when it is absent or an
 * empty list (`[]`, `null`): no Direct VPC, whatever the egress annotation beside it says. A value that does not parse
 * is kept as written (Cloud Run refuses a write it cannot read).
 */
function networkInterfaces(value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed === null || (Array.isArray(parsed) && parsed.length === 0) ? undefined : value;
  } catch {
    return value;
  }
}

/**
 * v2 VPC egress from a template's `vpcAccess` that the write sets whole: no connector and no network interfaces is
 * no VPC access, but only in a body that is visibly whole (`wholeBody`: a template set whole logs its containers,
 * which a write needs; one logged without them, as v1 console writes are, may leave out more); egress `ALL_TRAFFIC`,
 * else the default (`PRIVATE_RANGES_ONLY`; the JSON of a protocol buffer leaves a default enum out). An enum written
 * as its number (1 ALL_TRAFFIC, 2 PRIVATE_RANGES_ONLY) reads the same.
 */
export function v2VpcEgress(vpcAccess: JsonObject | undefined, wholeBody = true): VpcEgress | undefined {
  const connector = asString(field(vpcAccess, 'connector'));
  const interfaces = asArray(field(vpcAccess, 'networkInterfaces'));
  if (!connector && interfaces.length === 0) return wholeBody ? 'none' : undefined;
  const egress = field(vpcAccess, 'egress');
  if (egress === 'ALL_TRAFFIC' || egress === 1) return 'all-traffic';
  return egress === undefined || egress === 'PRIVATE_RANGES_ONLY' || egress === 2 || egress === 'VPC_EGRESS_UNSPECIFIED' || egress === 0 ? 'private-ranges-only' : undefined;
}

/**
 * Where a revision with VPC access sends its traffic, as the entry writes it: the Serverless VPC Access connector, and
 * the Direct VPC network interfaces (`network`, `subnetwork`, `tags` each). Names are read against the service's
 * project and region later (vpcDestinationText), where those are known.
 */
export interface WrittenVpcDestination {
  readonly connector?: string;
  readonly interfaces: readonly JsonObject[];
}

/** A revision's VPC egress, and where it sends the traffic when that is all of it (`all-traffic`). */
export interface VpcAccess {
  readonly egress: VpcEgress;
  readonly destination?: WrittenVpcDestination;
}

/**
 * v1VpcEgress with the destination beside it: the connector annotation and the network-interfaces annotation's list.
 * No destination when the egress is not all-traffic (vpc-egress-bypass compares only all-traffic destinations), or
 * when the network interfaces do not parse as a list of objects (Cloud Run refuses such a write: unknown, no move).
 */
export function v1VpcAccess(annotations: JsonObject | undefined, wholeBody: boolean): VpcAccess | undefined {
  const egress = v1VpcEgress(annotations, wholeBody);
  if (egress !== 'all-traffic') return egress && { egress };
  const interfaces = parsedInterfaces(stringIn(annotations, 'run.googleapis.com/network-interfaces'));
  const connector = stringIn(annotations, 'run.googleapis.com/vpc-access-connector') || undefined;
  return interfaces ? { egress, destination: { connector, interfaces } } : { egress };
}

/** v2VpcEgress with the destination beside it (vpcAccess.connector, vpcAccess.networkInterfaces). */
export function v2VpcAccess(vpcAccess: JsonObject | undefined, wholeBody = true): VpcAccess | undefined {
  const egress = v2VpcEgress(vpcAccess, wholeBody);
  if (egress !== 'all-traffic') return egress && { egress };
  const interfaces = asArray(field(vpcAccess, 'networkInterfaces')).map(asObject);
  if (interfaces.some((i) => i === undefined)) return { egress };
  return { egress, destination: { connector: asString(field(vpcAccess, 'connector')) || undefined, interfaces: interfaces as JsonObject[] } };
}

/** A write's VPC egress and, for all-traffic egress, where it goes, as a write's facts carry them (audit/normalize.ts DeployFacts). */
export function vpcFacts(access: VpcAccess | undefined): { readonly vpcEgress?: VpcEgress; readonly vpcDestination?: WrittenVpcDestination } {
  return { vpcEgress: access?.egress, vpcDestination: access?.destination };
}

/** The annotation's list of interfaces (none: an empty list); undefined when it is not a JSON list of objects. */
function parsedInterfaces(value: string | undefined): JsonObject[] | undefined {
  if (value === undefined || value.trim() === '') return [];
  try {
    const parsed: unknown = JSON.parse(value);
    if (parsed === null) return [];
    if (!Array.isArray(parsed)) return undefined;
    const interfaces = parsed.map(asObject);
    return interfaces.every((i) => i !== undefined) ? (interfaces as JsonObject[]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The service's project and region, which a short connector, network or subnetwork name is read in (a region not
 * known reads as `-`, as the APIs write "any location": the same for every write of the service), and its project
 * number where the entry names it: a name may give the project by either, and one given by the number reads as the id.
 */
export interface VpcPlace {
  readonly project: string;
  readonly location?: string;
  readonly projectNumber?: string;
}

/** Deployer-written names end up in the baseline and in findings: one destination is bounded (real ones are far shorter). */
const DESTINATION_MAX_LENGTH = 600;

/**
 * `text` within DESTINATION_MAX_LENGTH. A longer one (many network tags, say) is cut and ends with a digest of the whole:
 * destinations are compared by this text, and two that differ only past the cut (a tag sorted last added or removed)
 * must not read the same.
 */
function boundedDestination(text: string): string {
  if (text.length <= DESTINATION_MAX_LENGTH) return text;
  const digest = ` (sha256 of the whole ${createHash('sha256').update(text).digest('hex').slice(0, 32)})`;
  return `${truncatePlain(text, DESTINATION_MAX_LENGTH - digest.length)}${digest}`;
}

/**
 * The destination as one text, the same however the entry spells it, so that two revisions compare by it: a connector
 * as `connector projects/P/locations/L/connectors/C` (a short name is the service's project's, in its region, as
 * Cloud Run reads it); each network interface as the subnetwork it takes addresses from,
 * `Direct VPC subnetwork projects/P/regions/R/subnetworks/S`, with its network tags lowercase, sorted, once each. The
 * subnetwork says the network (a subnetwork belongs to one), so the network is not compared; where only the network
 * is given, Cloud Run uses the subnetwork of the same name in the service's region, in the network's project. A URL
 * (`https://www.googleapis.com/compute/v1/projects/...`) reads as its path, a trailing slash left out. A name in no form
 * read here is kept as written (a short subnetwork name beside such a network, with the network as written). A text over the bound is cut and names a digest of the whole (boundedDestination). Undefined when there is
 * no destination.
 */
export function vpcDestinationText(written: WrittenVpcDestination, place: VpcPlace): string | undefined {
  const parts = [
    ...(written.connector ? [`connector ${connectorPath(written.connector.trim(), place)}`] : []),
    ...written.interfaces.map((i) => interfaceText(i, place)).sort(),
  ];
  return parts.length ? boundedDestination(parts.join('; ')) : undefined;
}

// A trailing slash names the same resource: read without it (else a network written so would lose its project).
const CONNECTOR_PATH = /(?:^|\/)projects\/([^/]+)\/(locations\/[^/]+\/connectors\/[^/]+)\/?$/;
const NETWORK_PATH = /(?:^|\/)projects\/([^/]+)\/global\/networks\/([^/]+)\/?$/;
const SUBNETWORK_PATH = /(?:^|\/)projects\/([^/]+)\/(regions\/[^/]+\/subnetworks\/[^/]+)\/?$/;

/** A project as a name gives it: the service's project number reads as its id. */
function projectOf(project: string, place: VpcPlace): string {
  return project === place.projectNumber ? place.project : project;
}

/** `projects/P/REST` for a name of that form (P read by projectOf), else undefined. */
function projectPath(name: string, form: RegExp, place: VpcPlace): string | undefined {
  const match = form.exec(name);
  return match ? `projects/${projectOf(match[1]!, place)}/${match[2]!}` : undefined;
}

function connectorPath(name: string, place: VpcPlace): string {
  if (!name.includes('/')) return `projects/${place.project}/locations/${place.location ?? '-'}/connectors/${name}`;
  return projectPath(name, CONNECTOR_PATH, place) ?? name;
}

function interfaceText(networkInterface: JsonObject, place: VpcPlace): string {
  // Compute Engine network tags are lowercase (RFC 1035): tags differing only in case are one tag, however it is spelled.
  const tags = [...new Set(asArray(field(networkInterface, 'tags')).flatMap((tag) => asString(tag)?.trim().toLowerCase() || []))].sort();
  return `Direct VPC subnetwork ${subnetworkPath(networkInterface, place)}${tags.length ? ` (network tags ${tags.join(', ')})` : ''}`;
}

function subnetworkPath(networkInterface: JsonObject, place: VpcPlace): string {
  const network = asString(field(networkInterface, 'network'))?.trim() || undefined;
  const subnetwork = asString(field(networkInterface, 'subnetwork'))?.trim() || undefined;
  // The network's project: a subnetwork given by its name alone belongs to the network given beside it.
  const networkMatch = network === undefined ? undefined : NETWORK_PATH.exec(network);
  const networkProject = networkMatch ? projectOf(networkMatch[1]!, place) : place.project;
  const networkName = networkMatch?.[2] ?? (network !== undefined && !network.includes('/') ? network : undefined);
  const name = subnetwork ?? networkName;
  if (name === undefined) return `(network ${network ?? 'unknown'})`;
  // A short subnetwork name in a network written in a form not read here: its project is not known, and reading it as
  // the service's would make another project's subnetwork of the same name read as the service's own.
  if (!name.includes('/') && network !== undefined && !networkMatch && network.includes('/')) return `${name} (network ${network})`;
  if (!name.includes('/')) return `projects/${networkProject}/regions/${place.location ?? '-'}/subnetworks/${name}`;
  return projectPath(name, SUBNETWORK_PATH, place) ?? name;
}
