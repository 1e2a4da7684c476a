// keepsTemplateInForce: the template a write leaves in force, composed from the v2 writes before it (masked writes set
// only the parts their masks name), against the fingerprints the baseline keeps, of this version and earlier ones.
import { describe, expect, it } from 'vitest';
import { keepsTemplateInForce, maskedTemplateFingerprint, templateFingerprint, templatePartsOf } from '../../../functions/audit/template.js';
import type { JsonObject } from '../../../functions/audit/json.js';

const IMAGE_A = { containers: [{ image: 'europe-west1-docker.pkg.dev/acme/web/app:a' }] };
const IMAGE_B = { containers: [{ image: 'europe-west1-docker.pkg.dev/acme/web/app:b' }] };
const T0: JsonObject = { ...IMAGE_A, serviceAccount: 'app@acme.iam.gserviceaccount.com' };
const T1: JsonObject = { ...IMAGE_B, serviceAccount: 'app@acme.iam.gserviceaccount.com', scaling: { maxInstanceCount: 3 } };

/** A v2 write's fingerprint as normalize makes it: whole, or masked to `mask`'s template paths. */
function write(template: JsonObject, ...mask: string[]): string {
  return maskedTemplateFingerprint(templateFingerprint('v2', template), mask.length > 0 ? mask.sort() : undefined, templatePartsOf(template));
}
/** The same write as a baseline of the last version kept it (no parts). */
function legacy(template: JsonObject, ...mask: string[]): string {
  return maskedTemplateFingerprint(templateFingerprint('v2', template), mask.length > 0 ? mask.sort() : undefined);
}
const points = (...values: string[]): { v: string }[] => values.map((v) => ({ v }));

describe('keepsTemplateInForce', () => {
  it.each([
    ['nothing known before', [], write(T0), false],
    ['the same full write again', [write(T0)], write(T0), true],
    ['another body, whole', [write(T0)], write(T1), false],
    ['the scaling of T1 applied, then T1 whole: its image was not', [write(T0), write(T1, 'template.scaling')], write(T1), false],
    ['the containers and scaling of T1 applied, then T1 whole', [write(T0), write(T1, 'template.containers', 'template.scaling')], write(T1), true],
    ['T1 in force, then T1 masked to a part', [write(T1)], write(T1, 'template.containers'), true],
    ['T0 in force, then T1 masked to the service account both have', [write(T0)], write(T1, 'template.service_account'), true],
    ['T0 in force, then T1 masked to its containers', [write(T0)], write(T1, 'template.containers'), false],
    // One field of a part set: what the part holds is not known, so a write of that part is a revision.
    ['one field of the scaling of T1 set, then T1 whole', [write(T1), write(T0, 'template.scaling.max_instance_count')], write(T1), false],
    ['T1 in force, then T1 masked to one field of its scaling', [write(T1)], write(T1, 'template.scaling.max_instance_count'), true],
    // A full write without a part the template in force has (the scaling dropped) changes it.
    ['T1 in force, then T1 whole without its scaling', [write(T1)], write({ ...T1, scaling: undefined }), false],
    // Masked writes back to the oldest point known, none whole: what is in force is not known.
    ['only masked writes known', [write(T1, 'template.scaling')], write(T1), false],
    // A baseline of the last version: the write is compared with the point before it alone, as that version did.
    ['a stored point without parts, same body whole', [legacy(T1)], write(T1), true],
    ['a stored masked point without parts, same body whole', [legacy(T0), legacy(T1, 'template.scaling')], write(T1), true],
    ['a stored point without parts on the way back', [legacy(T0), write(T1, 'template.scaling')], write(T1), true],
  ])('%s', (_name, before, now, keeps) => {
    const history = points(...before);
    expect(keepsTemplateInForce(history, history.length - 1, now)).toBe(keeps);
  });

  it('reads parts by their snake_case names, as masks name them, however the template spells its keys', () => {
    const camel = write({ ...T0, vpcAccess: { egress: 'ALL_TRAFFIC' } });
    const masked = write({ ...T1, vpc_access: { egress: 'ALL_TRAFFIC' } }, 'template.containers', 'template.scaling');
    expect(keepsTemplateInForce(points(camel, masked), 1, write({ ...T1, vpcAccess: { egress: 'ALL_TRAFFIC' } }))).toBe(true);
  });

  it('gives no parts for a template whose keys are not a template\'s fields', () => {
    expect(templatePartsOf({ 'containers,x=1': [] })).toBeUndefined();
    expect(templatePartsOf(Object.fromEntries(Array.from({ length: 41 }, (_, i) => [`f${i}`, i])))).toBeUndefined();
    expect(templatePartsOf({ scaling: { maxInstanceCount: 1 }, containers: [] })).toMatch(/^containers=[\w-]{16},scaling=[\w-]{16}$/);
  });

  // Two full writes are told apart by their parts alone (the whole template's fingerprint is not compared once both
  // carry parts), so a part's fingerprint is as long as the whole's, 96 bits: at 48 a deployer could try container
  // lists (an unused variable's value) until one matched the part in force, and deploy a new image seen as no revision.
  it('fingerprints each part in 96 bits, as the whole template', () => {
    for (const part of templatePartsOf(T1)!.split(',')) expect(part.slice(part.indexOf('=') + 1)).toHaveLength(16);
  });
});
