// A v1 write's ingress and VPC egress as the request wrote them; where the request says it in a form this reader does
// not know (a spelling Cloud Run may accept), as the service is stored (the response), which is what is in force.
// From the gcloud ReplaceService fixture, its annotations edited.
import { describe, expect, it } from 'vitest';
import { parseEntry } from '../../../functions/audit/normalize.js';
import { deployOf } from '../../support/changes.js';
import { synthetic, variant, type Json } from '../../support/entries.js';
import { findingsOf } from '../../support/run.js';

const write = synthetic('v1-ReplaceService-gcloud');

type Obj = Record<string, any>;

/** The write with the request's and the response's services edited. */
function edited(request: (service: Obj) => void, response: (service: Obj) => void): Json {
  return variant(write, (e) => {
    request((e.protoPayload['request'] as Obj)['service']);
    response(e.protoPayload['response'] as Obj);
  });
}

const ingress = (value: string | undefined) => (service: Obj) => {
  if (value === undefined) delete service['metadata'].annotations['run.googleapis.com/ingress'];
  else service['metadata'].annotations['run.googleapis.com/ingress'] = value;
};
const egress = (value: string) => (service: Obj) => {
  service['spec'].template.metadata.annotations = {
    ...service['spec'].template.metadata.annotations,
    'run.googleapis.com/vpc-access-connector': 'projects/test-project-1234/locations/asia-northeast1/connectors/egress',
    'run.googleapis.com/vpc-access-egress': value,
  };
};

describe('v1 settings: the request, else the service as stored', () => {
  it.each([
    ['the request, when it reads', ingress('internal'), ingress('all'), 'internal'],
    ['the stored value, when the request leaves it out', ingress(undefined), ingress('internal-and-cloud-load-balancing'), 'internal-and-cloud-load-balancing'],
    ['the stored value, when the request spells it otherwise', ingress('All'), ingress('all'), 'all'],
    ['unknown, when neither reads', ingress('All'), ingress('ALL'), undefined],
  ])('ingress: %s', (_name, request, response, expected) => {
    expect(deployOf(parseEntry(edited(request, response))).ingress).toBe(expected);
  });

  it.each([
    ['the request, when it reads', egress('private-ranges-only'), egress('all-traffic'), 'private-ranges-only'],
    ['the stored value, when the request spells it otherwise', egress('ALL_TRAFFIC'), egress('all-traffic'), 'all-traffic'],
    ['unknown, when neither reads', egress('ALL_TRAFFIC'), egress('ALL_TRAFFIC'), undefined],
  ])('VPC egress: %s', (_name, request, response, expected) => {
    expect(deployOf(parseEntry(edited(request, response))).vpcEgress).toBe(expected);
  });

  it('a service opened to the internet behind an ingress value the reader does not know is reported', async () => {
    const internal = edited(ingress('internal'), ingress('internal'));
    const opened = variant(edited(ingress('All'), ingress('all')), (e) => {
      e['timestamp'] = '2024-05-07T10:00:00Z';
      e['insertId'] = 'opened';
    });
    const findings = (await findingsOf([internal, opened])).filter((f) => f.rule === 'ingress-opened');
    expect(findings.map((f) => [f.evidence['before'], f.evidence['after']])).toEqual([['internal', 'all']]);
  });
});
