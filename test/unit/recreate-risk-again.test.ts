// A service deleted and created again under the name, whose first write holds the risk the deleted service had at its
// delete (ingress `all`, IAP off, the default URL on, Binary Authorization off: the rules whose setting carries across
// the delete, revision.ts settingRestored). The rules that
// compare the re-created service with the deleted one's last value saw no change there and raised nothing, while the
// delete had closed the deleted service's finding ("the service was deleted"): the service under the name was exposed
// and every sink showed the finding resolved. The re-created service's first write that holds the risk raises the
// finding again (its own time and id, `recreatedAfterDeleteAt`, and words that say the delete closed the old one);
// later writes that keep it raise nothing more, and a first write that ends the risk raises nothing. A deleted service
// that held the risk from its first known write had no finding to close: nothing is raised again.
// Each history runs in timestamp order (replay) and as delivered live, in order.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { at, deleteServiceAt, editV1Services, SLACK_BOT, synthetic, withOperationId, type Json } from '../support/entries.js';
import { config, findingsLive, findingsOf } from '../support/run.js';

type Annotations = Record<string, string>;
type Obj = Record<string, any>;

/** The gcloud v1 ReplaceService fixture (SLACK_BOT) at `time`, a new image each time (a new revision), with `settings`. */
function deploy(time: string, settings: { readonly service?: Annotations }): Json {
  const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
    const meta = svc['metadata'] as Record<string, Annotations>;
    meta['annotations'] = { ...meta['annotations'], ...settings.service };
    const template = (svc['spec'] as Obj)['template'] as Obj;
    template['spec']['containers'] = [{ name: 'app', image: `gcr.io/acme/app:${time.slice(11, 16).replace(':', '')}` }];
  });
  return at(withOperationId(entry, `op-${time}`), time);
}

interface Rule {
  readonly rule: string;
  readonly name: string;
  /** A write at `time` that holds the rule's risk (`risky`) or not. */
  readonly write: (time: string, risky: boolean) => Json;
  /** What the re-raised finding's summary says the re-created service holds, as the deleted one did. */
  readonly holds: string;
}

const RULES: readonly Rule[] = [
  { rule: 'ingress-opened', name: 'ingress all', write: (time, risky) => deploy(time, { service: { 'run.googleapis.com/ingress': risky ? 'all' : 'internal' } }), holds: 'its ingress `all`' },
  { rule: 'iap-disabled', name: 'IAP off', write: (time, risky) => deploy(time, { service: { 'run.googleapis.com/iap-enabled': String(!risky) } }), holds: 'Identity-Aware Proxy off' },
  { rule: 'default-url-enabled', name: 'the default URL on', write: (time, risky) => deploy(time, { service: { 'run.googleapis.com/default-url-disabled': String(!risky) } }), holds: 'its default run.app URL on' },
  { rule: 'binary-authorization-bypass', name: 'Binary Authorization off', write: (time, risky) => deploy(time, { service: risky ? {} : { 'run.googleapis.com/binary-authorization': 'default' } }), holds: 'Binary Authorization off' },
];

const T = { base: '2024-05-04T09:00:00Z', risky: '2024-05-04T10:00:00Z', deleted: '2024-05-04T11:00:00Z', again: '2024-05-04T12:00:00Z', later: '2024-05-04T13:00:00Z' };
const DELETED_AT = '2024-05-04T11:00:00.000Z';
const remove = (time: string): Json => deleteServiceAt(time, SLACK_BOT);

interface History {
  readonly name: string;
  readonly entries: (r: Rule) => Json[];
  /** The eventTimes of the rule's findings active at the end. */
  readonly open: readonly string[];
  /** The eventTimes of every finding the rule raised about the re-created service. */
  readonly recreated: readonly string[];
}

const HISTORIES: readonly History[] = [
  {
    name: 'the risk set, the service deleted, created again with it',
    entries: (r) => [r.write(T.base, false), r.write(T.risky, true), remove(T.deleted), r.write(T.again, true)],
    open: [T.again],
    recreated: [T.again],
  },
  {
    name: 'as above, and a later write keeps it: only the first write raises it again',
    entries: (r) => [r.write(T.base, false), r.write(T.risky, true), remove(T.deleted), r.write(T.again, true), r.write(T.later, true)],
    open: [T.again],
    recreated: [T.again],
  },
  {
    name: 'the risk set, the service deleted, created again without it',
    entries: (r) => [r.write(T.base, false), r.write(T.risky, true), remove(T.deleted), r.write(T.again, false)],
    open: [],
    recreated: [],
  },
  {
    name: 'the deleted service held the risk from its first known write (no finding to close), created again with it',
    entries: (r) => [r.write(T.risky, true), remove(T.deleted), r.write(T.again, true)],
    open: [],
    recreated: [],
  },
];

const ofRule = (findings: readonly Finding[], rule: string): Finding[] => findings.filter((f) => f.rule === rule);

/** Each finding's last state, by id. */
function lastOf(findings: readonly Finding[]): Map<string, Finding> {
  return new Map(findings.map((f) => [f.id, f]));
}

describe('a service created again with the risk its delete closed is reported again', () => {
  const table = RULES.flatMap((r) => HISTORIES.map((h) => [`${r.rule} (${r.name}): ${h.name}`, r, h] as const));

  it.each(table)('%s', async (_label, r, h) => {
    for (const run of [findingsOf, findingsLive]) {
      const findings = ofRule(await run(h.entries(r), config()), r.rule);
      const last = [...lastOf(findings).values()];
      expect(last.filter((f) => f.status !== 'resolved').map((f) => f.eventTime), run.name).toEqual(h.open);
      const recreated = last.filter((f) => Date.parse(f.eventTime) > Date.parse(T.deleted));
      expect(recreated.map((f) => f.eventTime), run.name).toEqual(h.recreated);
      for (const f of recreated) {
        expect(f.evidence['recreatedAfterDeleteAt']).toBe(DELETED_AT);
        expect(f.summary).toContain(`created again with ${r.holds}, as the deleted service had it: the finding about the deleted service was closed by its delete at ${DELETED_AT}`);
        // Its own id: not the deleted service's finding, which the delete closed.
        const deleted = last.find((o) => o.eventTime === T.risky);
        expect(deleted?.status).toBe('resolved');
        expect(f.id).not.toBe(deleted?.id);
      }
    }
  });
});
