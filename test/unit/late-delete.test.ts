// A delete that arrives after entries of the service created again under the name (Pub/Sub delivers out of order, a
// backlog after an outage arrives shuffled). For each rule whose findings a delete closes, and each delivery order of
// {a risky write at 10:00, the delete at 11:00, the re-create write at 12:00, safe or risky again} after a safe write
// at 09:00 known first: what the delete closes, when and why, compared with timestamp order, where it closes every
// finding dated before it ("the service was deleted", at 11:00) and none of the re-created service's.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/findings/finding.js';
import { at, deleteServiceAt, editV1Services, SLACK_BOT, synthetic, variant, withOperationId, type Json } from '../support/entries.js';
import { config, findingsLive, findingsOf } from '../support/run.js';

type Annotations = Record<string, string>;
type Obj = Record<string, any>;

/** The gcloud v1 ReplaceService fixture (SLACK_BOT) at `time`, a new image each time (a new revision), with `settings`. */
function deploy(time: string, settings: { readonly env?: readonly Obj[]; readonly service?: Annotations; readonly template?: Annotations }): Json {
  const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
    const meta = svc['metadata'] as Record<string, Annotations>;
    meta['annotations'] = { ...meta['annotations'], ...settings.service };
    const template = (svc['spec'] as Obj)['template'] as Obj;
    template['spec']['containers'] = [{ name: 'app', image: `gcr.io/acme/app:${time.slice(11, 16).replace(':', '')}`, env: settings.env ?? [] }];
    template['metadata']['annotations'] = { ...template['metadata']['annotations'], ...settings.template };
  });
  return at(withOperationId(entry, `op-${time}`), time);
}

/** The synthetic service SetIamPolicy moved onto SLACK_BOT at `time`, its policy (request and response) holding `bindings`. */
function policy(time: string, bindings: readonly Obj[]): Json {
  const moved = JSON.stringify(synthetic('run-SetIamPolicy-private')).replaceAll('some-project', SLACK_BOT.project).replaceAll('us-west1', SLACK_BOT.location).replaceAll('cloudrun-exfil', SLACK_BOT.service);
  return variant(at(JSON.parse(moved) as Json, time), (e) => {
    (e.protoPayload['request'] as Obj)['policy']['bindings'] = bindings;
    const response = e.protoPayload['response'] as Obj | undefined;
    if (response) response['bindings'] = bindings;
  });
}

/** A v2 write (job or worker pool fixture) at `time`, its own operation, `edit` applied to the request's resource. */
function v2Write(fixture: string, field: 'job' | 'workerPool', time: string, edit: (resource: Obj) => void): Json {
  return variant(at(synthetic(fixture), time), (e) => {
    edit((e.protoPayload['request'] as Obj)[field]);
    const response = e.protoPayload['response'] as Obj;
    response['name'] = String(response['name']).replace(/operations\/.*/, `operations/op-${time}`);
  });
}

const CONNECTOR = { 'run.googleapis.com/vpc-access-connector': 'projects/test-project-1234/locations/asia-northeast1/connectors/egress' };
const ACME = { role: 'roles/run.invoker', members: ['user:alice@acme.com'] };
const CFG = config({ rules: { 'external-member-grant': { allowedDomains: ['acme.com'] } } });
const T = { base: '2024-05-04T09:00:00Z', risky: '2024-05-04T10:00:00Z', deleted: '2024-05-04T11:00:00Z', again: '2024-05-04T12:00:00Z' };

interface Case {
  readonly rule: string;
  readonly name: string;
  /** A write at `time` that sets the rule's risk (`risky`) or not. */
  readonly write: (time: string, risky: boolean) => Json;
  /** The resource's delete at `time`. */
  readonly remove: (time: string) => Json;
  readonly noun: 'service' | 'job' | 'worker pool';
}
const deleteService = (time: string): Json => deleteServiceAt(time, SLACK_BOT);
const onService = (rule: string, name: string, write: Case['write']): Case => ({ rule, name, write, remove: deleteService, noun: 'service' });

const CASES: readonly Case[] = [
  onService('vpc-egress-bypass', 'egress narrowed to private ranges', (time, risky) => deploy(time, { template: { ...CONNECTOR, 'run.googleapis.com/vpc-access-egress': risky ? 'private-ranges-only' : 'all-traffic' } })),
  onService('public-invoker-grant', 'invoker IAM check off', (time, risky) => deploy(time, { service: { 'run.googleapis.com/invoker-iam-disabled': String(risky) } })),
  onService('public-invoker-grant', 'allUsers granted the invoker role', (time, risky) => policy(time, risky ? [ACME, { role: 'roles/run.invoker', members: ['allUsers'] }] : [ACME])),
  onService('ingress-opened', 'ingress all', (time, risky) => deploy(time, { service: { 'run.googleapis.com/ingress': risky ? 'all' : 'internal' } })),
  onService('code-loading-env', 'NODE_OPTIONS=--require', (time, risky) => deploy(time, { env: risky ? [{ name: 'NODE_OPTIONS', value: '--require /mnt/bucket/hook.js' }] : [] })),
  onService('plaintext-secret-env', 'a password in plain text', (time, risky) => deploy(time, { env: risky ? [{ name: 'DB_PASSWORD', value: 'hunter2-but-longer' }] : [] })),
  onService('external-member-grant', 'a gmail user granted run.developer', (time, risky) => policy(time, risky ? [ACME, { role: 'roles/run.developer', members: ['user:someone@gmail.com'] }] : [ACME])),
  onService('binary-authorization-bypass', 'the policy turned off', (time, risky) => deploy(time, { service: risky ? {} : { 'run.googleapis.com/binary-authorization': 'default' } })),
  onService('iap-disabled', 'IAP turned off', (time, risky) => deploy(time, { service: { 'run.googleapis.com/iap-enabled': String(!risky) } })),
  onService('default-url-enabled', 'the default URL turned on', (time, risky) => deploy(time, { service: { 'run.googleapis.com/default-url-disabled': String(!risky) } })),
  {
    rule: 'plaintext-secret-env',
    name: 'a job: a password in plain text',
    write: (time, risky) =>
      v2Write('job-v2-UpdateJob', 'job', time, (job) => {
        job['template']['template']['containers'][0]['env'] = risky ? [{ name: 'DB_PASSWORD', value: 'hunter2-not-a-real-secret' }] : [{ name: 'LOG_LEVEL', value: 'info' }];
      }),
    remove: (time) => at(synthetic('job-v2-DeleteJob'), time),
    noun: 'job',
  },
  {
    rule: 'vpc-egress-bypass',
    name: 'a worker pool: egress narrowed to private ranges',
    write: (time, risky) =>
      v2Write('workerpool-v2-UpdateWorkerPool', 'workerPool', time, (pool) => {
        pool['template']['vpcAccess']['egress'] = risky ? 'PRIVATE_RANGES_ONLY' : 'ALL_TRAFFIC';
      }),
    remove: (time) => at(synthetic('workerpool-v2-DeleteWorkerPool'), time),
    noun: 'worker pool',
  },
];

/** The delivery orders of {10:00 risky, 11:00 delete, 12:00 re-create}, by index. */
const ORDERS: readonly (readonly [number, number, number])[] = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
const LABELS = ['10:00', '11:00 delete', '12:00'];

/** Each finding's last word: `active`, or how it was resolved (`resolved at HH:MM: reason`). */
function lastWords(findings: readonly Finding[], rule: string): Map<string, { readonly eventTime: string; readonly words: string[] }> {
  const out = new Map<string, { eventTime: string; words: string[] }>();
  for (const f of findings) {
    if (f.rule !== rule) continue;
    const word = f.status === 'resolved' ? `resolved at ${f.resolution?.time}: ${f.resolution?.reason}` : 'active';
    const known = out.get(f.id);
    if (known) known.words.push(word);
    else out.set(f.id, { eventTime: f.eventTime, words: [word] });
  }
  return out;
}

const before = (eventTime: string): boolean => Date.parse(eventTime) < Date.parse(T.deleted);
const ends = (words: readonly string[]): string => words[words.length - 1]!;

describe('a delete delivered after newer writes closes what it closed in timestamp order', () => {
  const table = CASES.flatMap((c) => [false, true].flatMap((again) => ORDERS.map((order) => ({ ...c, again, order, label: `${c.rule} (${c.name}), re-created ${again ? 'risky again' : 'safe'}, delivered ${order.map((i) => LABELS[i]).join(', ')}` }))));

  /**
   * A history's entries and what timestamp order makes of them: the same for each of its six delivery orders, so built
   * and run once per history (by the first of its rows to run), not once per order.
   */
  type History = { readonly first: Json; readonly three: readonly Json[]; readonly inOrder: ReturnType<typeof lastWords> };
  const histories = new Map<string, Promise<History>>();
  const history = ({ rule, name, write, remove, again }: (typeof table)[number]): Promise<History> => {
    const key = `${rule} (${name}), re-created ${again ? 'risky again' : 'safe'}`;
    let built = histories.get(key);
    if (built === undefined) {
      built = (async () => {
        const first = write(T.base, false);
        const three = [write(T.risky, true), remove(T.deleted), write(T.again, again)];
        return { first, three, inOrder: lastWords(await findingsOf([first, ...three], CFG), rule) };
      })();
      histories.set(key, built);
    }
    return built;
  };

  it.each(table.map((row) => [row.label, row] as const))('%s', async (_label, row) => {
    const { rule, noun, again, order } = row;
    const { first, three, inOrder } = await history(row);
    const live = lastWords(await findingsLive([first, ...order.map((i) => three[i]!)], CFG), rule);
    const deletedWord = `resolved at ${T.deleted}: the ${noun} was deleted`;
    // The premise: in timestamp order the delete closes the risky write's finding.
    expect([...inOrder.values()].filter((f) => before(f.eventTime)).map((f) => f.words)).toEqual([['active', deletedWord]]);
    const rest = (o: readonly number[]) => o.slice(o.indexOf(1) + 1);
    // The re-create write delivered before the delete, safe, ends the risk first: it closed the finding (one word, its own).
    const closedByNewer = !again && !rest(order).includes(2);
    // The re-create write delivered before the delete and before the risky one: judged against 09:00, it raised what
    // timestamp order (against 10:00) may not (a late older entry, not the delete: left out here).
    const judgedEarly = order.indexOf(2) < order.indexOf(0);
    // The re-created service's risk held again by a write judged before the delete was known, which raised nothing
    // (the value was 10:00's) or whose finding a late older write closed since: the 10:00 finding stands for it, as the
    // re-create's finding does in timestamp order (its first write with the risk the delete closed raises it again).
    const recreatedOpenInOrder = [...inOrder.values()].some((f) => !before(f.eventTime) && ends(f.words) === 'active');
    const standsForRecreated = recreatedOpenInOrder && ![...live.values()].some((f) => !before(f.eventTime) && ends(f.words) === 'active');
    for (const [id, f] of live) {
      // Each finding reported active once, resolved at most once (the delete does not resolve again what is closed).
      expect(f.words[0], id).toBe('active');
      expect(f.words.length, `${id} ${f.words.join(' | ')}`).toBeLessThanOrEqual(2);
      if (before(f.eventTime)) {
        if (standsForRecreated) expect(f.words).toEqual(['active']);
        else if (closedByNewer) expect(f.words).toHaveLength(2);
        else expect(f.words).toEqual(['active', deletedWord]);
      } else {
        // The re-created service's finding: never closed by the delete.
        expect(f.words, id).not.toContain(deletedWord);
      }
    }
    if (!judgedEarly) {
      const open = (findings: typeof live): boolean => [...findings.values()].some((f) => ends(f.words) === 'active');
      expect(open(live)).toBe(open(inOrder));
      if (!standsForRecreated) expect([...live].filter(([, f]) => ends(f.words) === 'active').map(([id]) => id)).toEqual([...inOrder].filter(([, f]) => ends(f.words) === 'active').map(([id]) => id));
    }
  });
});

describe('the same late delete delivered twice', () => {
  it.each(CASES.map((c) => [`${c.rule} (${c.name})`, c] as const))('%s: one resolution', async (_label, { rule, write, remove }) => {
    const entries = [write(T.base, false), write(T.risky, true), write(T.again, true), remove(T.deleted), remove(T.deleted)];
    const findings = (await findingsLive(entries, CFG)).filter((f) => f.rule === rule && f.status === 'resolved');
    expect(findings.length).toBeLessThanOrEqual(1);
    expect(new Set(findings.map((f) => f.id)).size).toBe(findings.length);
  });
});

// The deleted service's risk ended before the delete (10:30), and the re-created service's write set it again (12:00):
// timestamp order reports the re-created service's risk. Delivered 10:00, 12:00, 10:30, the delete last, 12:00 was
// judged against 10:00 and raised nothing, and 10:30, older than it, closed nothing: the 10:00 finding stands for the
// risk in force, and the late delete must not close it (a risk in force with nothing open in any sink).
describe('a late delete leaves open the finding that stands for the re-created service\'s risk', () => {
  it.each(CASES.map((c) => [`${c.rule} (${c.name})`, c] as const))('%s', async (_label, { rule, write, remove }) => {
    const ended = '2024-05-04T10:30:00Z';
    const entries = [write(T.base, false), write(T.risky, true), write(ended, false), remove(T.deleted), write(T.again, true)];
    const inOrder = lastWords(await findingsOf(entries, CFG), rule);
    const live = lastWords(await findingsLive([entries[0], entries[1], entries[4], entries[2], entries[3]], CFG), rule);
    const open = (findings: typeof live): string[] => [...findings.values()].filter((f) => ends(f.words) === 'active').map((f) => f.eventTime);
    expect(open(inOrder)).toEqual([T.again]);
    expect(open(live)).not.toEqual([]);
  });
});

// The risk ended before the re-created service's write set it again, by a write delivered after that one (judged against
// the risky value before, it raised nothing), and after the delete: timestamp order reports the re-created service's
// risk, and the late write that ended it reports it on the newer write's behalf (forNewerWrite), though the 09:00 value
// that ended the risk is known (with no delete between it keeps the report back: the 10:00 finding stands for the risk
// instead; here the delete closed that one). The write that ended it is the deleted service's (10:30, delivered after
// the late delete) or the re-created service's (12:00, with the delete delivered in order).
describe('a write that ended the risk, delivered after the re-created service\'s write that set it again, reports that risk', () => {
  const ended = '2024-05-04T10:30:00Z';
  const later = '2024-05-04T13:00:00Z';
  const HISTORIES = [
    {
      name: 'ended before the delete, delivered after the late delete',
      entries: (c: Case) => [c.write(T.base, false), c.write(T.risky, true), c.write(ended, false), c.remove(T.deleted), c.write(T.again, true)],
      order: [0, 1, 4, 3, 2],
      open: T.again,
    },
    {
      name: 'ended by the re-created service, delivered last',
      entries: (c: Case) => [c.write(T.base, false), c.write(T.risky, true), c.remove(T.deleted), c.write(T.again, false), c.write(later, true)],
      order: [0, 1, 2, 4, 3],
      open: later,
    },
  ];
  const RULES_FOR_NEWER_WRITES = ['ingress-opened', 'default-url-enabled', 'binary-authorization-bypass', 'iap-disabled'];
  const table = CASES.filter((c) => RULES_FOR_NEWER_WRITES.includes(c.rule)).flatMap((c) => HISTORIES.map((h) => [`${c.rule} (${c.name}): ${h.name}`, c, h] as const));

  it.each(table)('%s', async (_label, c, h) => {
    const entries = h.entries(c);
    const open = (findings: readonly Finding[]): string[] => [...lastWords(findings, c.rule).values()].filter((f) => ends(f.words) === 'active').map((f) => f.eventTime);
    expect(open(await findingsOf(entries, CFG))).toEqual([h.open]);
    expect(open(await findingsLive(h.order.map((i) => entries[i]!), CFG))).toEqual([h.open]);
  });
});

// As above, with another re-created write between the delete and the newer one (12:00, risky): 12:00 is the re-created
// service's first write with the risk the delete closed, and raises it again (its own finding). Delivered 13:00 before
// 12:30, 13:00 was judged against 12:00's risk and raised nothing, and the late 12:30 that ended it leaves 13:00 alone:
// the 12:00 finding, open, stands for the risk, as an older finding does with no delete between (so the finding open at
// the end is 12:00's, where timestamp order's is 13:00's: the risk is open in both).
describe('a write that ended the risk, delivered after the re-created service\'s writes, reports it with another re-created write between', () => {
  const between = '2024-05-04T12:30:00Z';
  const later = '2024-05-04T13:00:00Z';
  const RULES_CLOSED_ONLY_BY_NEWER = ['binary-authorization-bypass', 'iap-disabled'];
  it.each(CASES.filter((c) => RULES_CLOSED_ONLY_BY_NEWER.includes(c.rule)).map((c) => [`${c.rule} (${c.name})`, c] as const))('%s', async (_label, c) => {
    const entries = [c.write(T.base, false), c.write(T.risky, true), c.remove(T.deleted), c.write(T.again, true), c.write(between, false), c.write(later, true)];
    const open = (findings: readonly Finding[]): string[] => [...lastWords(findings, c.rule).values()].filter((f) => ends(f.words) === 'active').map((f) => f.eventTime);
    expect(open(await findingsOf(entries, CFG))).toEqual([later]);
    expect(open(await findingsLive([0, 1, 2, 3, 5, 4].map((i) => entries[i]!), CFG))).toEqual([T.again]);
  });
});

// public-invoker-grant: a finding names every public member its policy granted, and stays open while any of them holds
// the role (riskInForce). The re-created service's policy grants some of them again (allUsers and
// allAuthenticatedUsers at 10:00, allAuthenticatedUsers alone at 12:00): timestamp order reports those afresh (a
// service created again starts private); delivered 10:00, 12:00, the delete last, 12:00 was judged against 10:00's
// policy and raised nothing, so the 10:00 finding stands for the members public again, and the late delete must not
// close it (the service public with nothing open in any sink).
describe('a late delete leaves open a public-invoker-grant finding some of whose members the re-created service grants again', () => {
  const BOTH = { role: 'roles/run.invoker', members: ['allUsers', 'allAuthenticatedUsers'] };
  const HISTORIES = [
    { name: 'allUsers and allAuthenticatedUsers, then allAuthenticatedUsers alone', base: [ACME], risky: [ACME, BOTH], again: [ACME, { role: 'roles/run.invoker', members: ['allAuthenticatedUsers'] }] },
    { name: 'allUsers and allAuthenticatedUsers, then allUsers alone', base: [ACME], risky: [ACME, BOTH], again: [ACME, { role: 'roles/run.invoker', members: ['allUsers'] }] },
    // An upgrade (evidence upgradedFromInvoker): allUsers, an invoker at 09:00, given run.developer at 10:00; the
    // re-created service grants it run.developer at 12:00, a grant of its own in timestamp order (it starts private).
    { name: 'allUsers upgraded from invoker to run.developer, then granted run.developer', base: [ACME, { role: 'roles/run.invoker', members: ['allUsers'] }], risky: [ACME, { role: 'roles/run.invoker', members: ['allUsers'] }, { role: 'roles/run.developer', members: ['allUsers'] }], again: [ACME, { role: 'roles/run.developer', members: ['allUsers'] }] },
    { name: 'allUsers upgraded from invoker to run.developer, then granted the invoker role alone', base: [ACME, { role: 'roles/run.invoker', members: ['allUsers'] }], risky: [ACME, { role: 'roles/run.invoker', members: ['allUsers'] }, { role: 'roles/run.developer', members: ['allUsers'] }], again: [ACME, { role: 'roles/run.invoker', members: ['allUsers'] }] },
  ];
  /** The public members the rule's findings active at the end name. */
  const namedOpen = (findings: readonly Finding[]): string[] => {
    const last = new Map<string, Finding>();
    for (const f of findings) if (f.rule === 'public-invoker-grant') last.set(f.id, f);
    const open = [...last.values()].filter((f) => (f.status ?? 'active') === 'active');
    return [...new Set(open.flatMap((f) => (f.evidence['membersGranted'] as string[] | undefined) ?? []))].sort();
  };
  const table = HISTORIES.flatMap((h) => [[0, 1, 3, 2], [0, 3, 1, 2]].map((order) => [`${h.name}, delivered ${order.map((i) => ['09:00', '10:00', '11:00 delete', '12:00'][i]).join(', ')}`, h, order] as const));

  it.each(table)('%s', async (_label, h, order) => {
    const entries = [policy(T.base, h.base), policy(T.risky, h.risky), deleteService(T.deleted), policy(T.again, h.again)];
    const inOrder = namedOpen(await findingsOf(entries, CFG));
    const live = namedOpen(await findingsLive(order.map((i) => entries[i]!), CFG));
    expect(inOrder).not.toEqual([]);
    // Every member public at the end in timestamp order is named by a finding open live.
    expect(live).toEqual(expect.arrayContaining(inOrder));
  });
});

// code-loading-env: a revision that takes none of the traffic (`gcloud run deploy --no-traffic`) leaves the one
// reported serving, and closes nothing. The re-created service's 12:00 revision sets NODE_OPTIONS=--require again,
// then a 12:30 --no-traffic revision without it: timestamp order reports 12:00 (a service created again starts without
// the variable) and leaves it open. Delivered 10:00, 12:00, 12:30, the delete last, 12:00 was judged against 10:00's
// value and raised nothing: the 10:00 finding stands for the variable still served, and the late delete, reading the
// newest revision (12:30) alone, must not close it.
describe('a late delete leaves open a code-loading-env finding whose variable a re-created revision serves under a newer --no-traffic one', () => {
  const noTraffic = (entry: Json): Json =>
    variant(entry, (e) => {
      ((e.protoPayload['request'] as Obj)['service']['spec'] as Obj)['traffic'] = [{ revisionName: 'hello-00002-abc', percent: 100 }];
    });
  const loads = [{ name: 'NODE_OPTIONS', value: '--require /mnt/bucket/hook.js' }];
  const later = '2024-05-04T12:30:00Z';
  const table = [[0, 1, 3, 4, 2], [0, 1, 3, 2, 4], [0, 1, 2, 3, 4]].map((order) => [order.map((i) => ['09:00', '10:00', '11:00 delete', '12:00', '12:30 --no-traffic'][i]).join(', '), order] as const);

  it.each(table)('delivered %s', async (_label, order) => {
    const entries = [deploy(T.base, {}), deploy(T.risky, { env: loads }), deleteService(T.deleted), deploy(T.again, { env: loads }), noTraffic(deploy(later, {}))];
    const open = (findings: readonly Finding[]): string[] => [...lastWords(findings, 'code-loading-env').values()].filter((f) => ends(f.words) === 'active').map((f) => f.eventTime);
    expect(open(await findingsOf(entries, CFG))).toEqual([T.again]);
    expect(open(await findingsLive(order.map((i) => entries[i]!), CFG))).not.toEqual([]);
  });
});

// A variable is named `NAME`, or `container/NAME` where more than one container of its revision sets the name
// (envVariables.ts). The deleted service's 10:00 finding names DB_PASSWORD (one container); the re-created service's
// 12:00 revision sets it in the app and a sidecar, and reports `app/DB_PASSWORD` and `sidecar/DB_PASSWORD`. Delivered
// 12:00, 10:00, the delete last, that finding stands for the variable: the late delete closes the 10:00 one, as
// timestamp order does, rather than leave it open beside it for good (the same variable, named another way).
describe('a late delete closes a finding whose variable a re-created finding names with its container', () => {
  const withSidecar = (entry: Json, variable: Obj): Json =>
    variant(entry, (e) => {
      const containers = ((e.protoPayload['request'] as Obj)['service']['spec'] as Obj)['template']['spec']['containers'] as Obj[];
      containers.push({ name: 'sidecar', image: 'gcr.io/acme/side:1', env: [variable] });
    });
  const RULES = [
    { rule: 'plaintext-secret-env', variable: { name: 'DB_PASSWORD', value: 'hunter2-but-longer' } },
    { rule: 'code-loading-env', variable: { name: 'NODE_OPTIONS', value: '--require /mnt/bucket/hook.js' } },
  ];
  it.each(RULES.map((r) => [r.rule, r] as const))('%s', async (_label, { rule, variable }) => {
    const entries = [deploy(T.base, {}), deploy(T.risky, { env: [variable] }), deleteService(T.deleted), withSidecar(deploy(T.again, { env: [variable] }), variable)];
    const open = (findings: readonly Finding[]): string[] => [...lastWords(findings, rule).values()].filter((f) => ends(f.words) === 'active').map((f) => f.eventTime);
    expect(open(await findingsOf(entries, CFG))).toEqual([T.again]);
    expect(open(await findingsLive([0, 3, 1, 2].map((i) => entries[i]!), CFG))).toEqual([T.again]);
  });
});
