// A revision's VPC egress (where its outbound traffic goes) as an entry shows it: v1 annotations (admin writes and
// system events) and the v2 template's vpcAccess. See ../shared/facts/audit-log-fields.md section 2.7.
import type { VpcEgress } from '../model/change.js';
import { asArray, asString, field, stringIn, type JsonObject } from './json.js';

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
