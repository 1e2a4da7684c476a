// A service's v2 deploys (UpdateService) for the creation-time property and table tests (creation-time-orders,
// creation-time-late-half): each deploy its own write time and principal, image (a repository of its own), runtime
// service account and revision, the revision created 140 ms after its write (as in real entries: 131-143 ms), its
// creator the write's principal.
import type { Finding } from '../../functions/findings/finding.js';
import { at, byPrincipal, createdAfter, createdAt, creatorIs, renamed, SEQ_V2_EVENT_OPERATION, SEQ_V2_REVISION, synthetic, variant, type Json } from './entries.js';

const [create, createdRevision] = synthetic('seq-v2-operation') as unknown as [Json, Json];

export const PRINCIPALS = ['deployer@acme-ci.iam.gserviceaccount.com', 'alice@acme.com'] as const;
export const JUDGED = ['off-window-deploy', 'unapproved-deployer', 'new-image-repository', 'service-account-change'] as const;
/** The live pipeline's clock between deliveries: an hour, a minute, a second. */
export const STEPS = [3_600_000, 60_000, 1000] as const;
/** Monday 2024-06-03 11:00: outside the tests' change window (mon 09:00-09:01). */
export const START = Date.parse('2024-06-03T11:00:00Z');

/** One deploy: its write's time and principal, what its revision runs, the revision's name and its events' time. */
export interface Deploy {
  readonly k: number;
  readonly time: string;
  readonly principal: string;
  readonly image: string;
  readonly repository: string;
  readonly digest: string;
  readonly serviceAccount: string;
  readonly revision: string;
  readonly eventTime: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The k-th deploy (k from 2: the create's revision is the first), its write at `writeMs`, its events `eventAfterMs` later. */
export function deployOf(k: number, writeMs: number, principal: string, eventAfterMs: number): Deploy {
  const repository = `ghcr.io/team${k}/storefront`;
  return {
    k,
    time: iso(writeMs),
    principal,
    image: `${repository}:v${k}`,
    repository,
    digest: `${repository}@sha256:${String(k).repeat(64)}`,
    serviceAccount: `storefront-${k}@acme-prod.iam.gserviceaccount.com`,
    revision: `storefront-0000${k}-r${k}`,
    eventTime: iso(writeMs + eventAfterMs),
  };
}

/** What a v2 deploy's write and revision say: who, when, what the revision runs, and the revision's name. */
export type DeployFacts = Pick<Deploy, 'time' | 'principal' | 'image' | 'digest' | 'serviceAccount' | 'revision'>;

/**
 * A v2 UpdateService (synthetic-v2-UpdateService) by `d`'s principal at its time, deploying its image and identity,
 * with `insertId` and, when given, its own `operation`.
 */
export function v2WriteOf(d: DeployFacts, insertId: string, operation?: string): Json {
  return variant(byPrincipal(at(synthetic('v2-UpdateService'), d.time, insertId), d.principal), (e) => {
    const template = ((e.protoPayload['request'] as Json)['service'] as Json)['template'] as Json;
    template['serviceAccount'] = d.serviceAccount;
    (template['containers'] as Json[])[0]!['image'] = d.image;
    if (operation !== undefined) (e.protoPayload['response'] as Json)['name'] = `projects/acme-prod/locations/europe-west1/operations/${operation}`;
  });
}

/** A v2 UpdateService (synthetic-v2-UpdateService) by the deploy's principal at its time, its own operation. */
export function v2Write(d: Deploy): Json {
  return v2WriteOf(d, `w-${d.k}`, `write-${d.k}`);
}

/** The revision system event (synthetic-seq-v2-operation's) of the deploy's revision: created 140 ms after its write. */
export function revisionEvent(d: Deploy): Json {
  return revisionEventOf(d, d.eventTime, `ev-${d.k}`);
}

/**
 * The revision system event (synthetic-seq-v2-operation's) of `d`'s revision at `time`, with `insertId`: created 140 ms
 * after its write, by its principal, running its image (and digest) and identity.
 */
export function revisionEventOf(d: DeployFacts, time: string, insertId: string): Json {
  const event = renamed(createdAt(at(createdRevision, time, insertId), createdAfter(d.time)), [
    [SEQ_V2_REVISION, d.revision],
    [SEQ_V2_EVENT_OPERATION, `op-${d.revision}`],
    creatorIs(d.principal),
  ]);
  return variant(event, (e) => {
    const response = e.protoPayload['response'] as Record<string, Json>;
    const spec = response['spec']!;
    spec['serviceAccountName'] = d.serviceAccount;
    (spec['containers'] as Json[])[0]!['image'] = d.image;
    const status = response['status']!;
    status['imageDigest'] = d.digest;
    (status['containerStatuses'] as Json[])[0]!['imageDigest'] = d.digest;
  });
}

/** Each active finding of the judged rules on the tests' service after its create: rule, when, revision, image or identity. */
export function shown(found: readonly Finding[]): string[] {
  return found
    .filter((f) => (JUDGED as readonly string[]).includes(f.rule) && f.service === 'storefront' && f.eventTime >= '2024-06-03' && f.status !== 'resolved')
    .map((f) => {
      const evidence = f.evidence as Record<string, unknown>;
      const what = f.rule === 'new-image-repository' ? String(evidence['imageDigest'] ?? evidence['image'] ?? '?') : f.rule === 'service-account-change' ? String(evidence['after'] ?? '?') : '';
      return `${f.rule} ${new Date(f.eventTime).toISOString()} ${f.revision ?? '-'} ${what}`.trim();
    })
    .sort();
}

/**
 * The lines a deploy's four judged findings show at `at` (shown's format: rule, time, revision, image or identity):
 * judged with its revision's events (the revision, the image's digest), or from its write alone (no revision, the image
 * as written).
 */
export function shownFor(d: Pick<Deploy, 'revision' | 'digest' | 'image' | 'serviceAccount'>, at: string, judged: 'with events' | 'write alone'): string[] {
  const revision = judged === 'with events' ? d.revision : '-';
  const image = judged === 'with events' ? d.digest : d.image;
  return [`off-window-deploy ${at} ${revision}`, `unapproved-deployer ${at} ${revision}`, `new-image-repository ${at} ${revision} ${image}`, `service-account-change ${at} ${revision} ${d.serviceAccount}`];
}

/** The entries before the history (the service's create and its revision's event), delivered first. */
export const BEFORE: readonly Json[] = [create, createdRevision];

/**
 * What is wrong with the findings of `deploys`: each deploy's findings of each judged rule (active ones), other than
 * once, with its own principal, time, revision, image and service account, without revisionMayBeOf. Empty when the
 * property holds.
 */
export function violations(found: readonly Finding[], deploys: readonly Deploy[]): string[] {
  const out: string[] = [];
  const counts = new Map<string, number>();
  for (const f of found) {
    if (!(JUDGED as readonly string[]).includes(f.rule) || f.service !== 'storefront' || f.eventTime < '2024-06-03' || f.status === 'resolved') continue;
    const evidence = f.evidence as Record<string, unknown>;
    const what = `${f.rule} ${f.eventTime} ${f.principal} ${f.revision ?? '-'}`;
    // Whose: its revision's deploy, else (judged without its events) the deploy written at its time.
    const d = f.revision !== undefined ? deploys.find((x) => x.revision === f.revision) : deploys.find((x) => Date.parse(x.time) === Date.parse(f.eventTime));
    if (!d) {
      out.push(`${what}: of no deploy`);
      continue;
    }
    counts.set(`${d.k} ${f.rule}`, (counts.get(`${d.k} ${f.rule}`) ?? 0) + 1);
    const when = Date.parse(f.eventTime);
    if (when !== Date.parse(d.time) && !(f.revision !== undefined && when === Date.parse(d.eventTime))) out.push(`${what}: deploy ${d.k} written at ${d.time}`);
    if (f.principal !== d.principal) out.push(`${what}: deploy ${d.k} by ${d.principal}`);
    if (f.rule === 'new-image-repository') {
      const image = String(evidence['imageDigest'] ?? evidence['image'] ?? '?');
      if (!image.startsWith(`${d.repository}:`) && !image.startsWith(`${d.repository}@`)) out.push(`${what}: image ${image}, deploy ${d.k}'s ${d.repository}`);
    }
    if (f.rule === 'service-account-change' && evidence['after'] !== d.serviceAccount) out.push(`${what}: account ${String(evidence['after'])}, deploy ${d.k}'s ${d.serviceAccount}`);
    if (evidence['revisionMayBeOf'] !== undefined) out.push(`${what}: revisionMayBeOf=${String(evidence['revisionMayBeOf'])} (writes at least 3 s apart)`);
  }
  for (const d of deploys) {
    for (const rule of JUDGED) {
      const n = counts.get(`${d.k} ${rule}`) ?? 0;
      if (n !== 1) out.push(`deploy ${d.k} (${d.time}, ${d.principal}) ${rule}: reported ${n} times`);
    }
  }
  return out;
}

/** A history drawn from `next`: 2-4 deploys by one or two principals, writes 3 s to 2 min apart. */
export function historyOf(next: () => number): Deploy[] {
  const principals = next() < 0.5 ? PRINCIPALS.slice(0, 1) : PRINCIPALS;
  const count = 2 + Math.floor(next() * 3);
  const deploys: Deploy[] = [];
  let writeMs = START;
  for (let i = 0; i < count; i++) {
    if (i > 0) writeMs += 3000 + Math.floor(next() * 117_000);
    const principal = principals[Math.floor(next() * principals.length)]!;
    deploys.push(deployOf(i + 2, writeMs, principal, 10_000 + Math.floor(next() * 110_000)));
  }
  return deploys;
}

