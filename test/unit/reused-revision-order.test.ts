// Two deploys of a service under one revision name, an hour apart: the service deleted and created again between them,
// or a v1 client naming its revision (template.metadata.name). A deploy's findings are keyed by its revision, and by its
// time too where the name is another deploy's (detectors/revision.ts deployKey), so each deploy gets an id of its own
// and no sink drops the second as a duplicate of the first (sinks/deliver.ts). That must hold whichever of the two
// arrives first: the live function and Pub/Sub redelivery take entries as they come, and a replay of one file keeps its
// order (reorderCapacity 0), as the same-millisecond files do; there an entry of another service of the project, an hour
// after the second deploy, follows the first deploy delivered, so its wait for system events is over before the other
// arrives (replay's clock is the entries' own time).
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../functions/baseline/memory.js';
import type { RunwatchConfig } from '../../functions/config/types.js';
import type { Finding } from '../../functions/findings/finding.js';
import { at, deleteServiceAt, editV1Services, renamed, SLACK_BOT, withV1RevisionName, withV1ServiceAccount, v1EnvDeploy, type Json } from '../support/entries.js';
import { config, findingsLive } from '../support/run.js';
import { replayedAsWritten } from '../support/replayAsWritten.js';
import { EARLIER, SA0, SA1, tag } from '../support/sameMillisecond.js';

/** The first deploy, the delete between (when there is one) and the second deploy: an hour apart. */
const FIRST = '2024-05-06T22:58:04.355100Z';
const DELETED = '2024-05-06T23:30:00.000200Z';
const SECOND = '2024-05-06T23:58:04.355900Z';

const REVISION = 'cloud-run-slack-bot-release';

/** The gcloud fixture at `time` (a new image each time, running as `sa`), its revision named `revision` when given. */
function deploy(time: string, sa: string, revision?: string): Json {
  const entry = withV1ServiceAccount(v1EnvDeploy(time, [], `gcr.io/acme/app:${tag(time)}`), sa);
  return at(revision === undefined ? entry : withV1RevisionName(entry, revision), time, `deploy-${time}`);
}

/** Every deploy by a person is reported. */
const PEOPLE_UNAPPROVED = config({ rules: { 'unapproved-deployer': { allowedDeployers: ['serviceAccount:*'] } } });
/** Every deploy of the cases is outside the window (2024-05-06 is a Monday). */
const OFFICE_HOURS = config({ timezone: 'UTC', changeWindows: [{ days: ['mon'], start: '09:00', end: '10:00' }] });

interface Case {
  readonly rule: string;
  readonly label: string;
  readonly config: RunwatchConfig;
  /** The entries after the baseline's first deploy, in event-time order. */
  readonly entries: readonly Json[];
}

const CASES: readonly Case[] = [
  { rule: 'unapproved-deployer', label: 'the service deleted and created again between them', config: PEOPLE_UNAPPROVED, entries: [deploy(FIRST, SA1, REVISION), deleteServiceAt(DELETED, SLACK_BOT), deploy(SECOND, SA1, REVISION)] },
  { rule: 'unapproved-deployer', label: 'a v1 client naming both revisions', config: PEOPLE_UNAPPROVED, entries: [deploy(FIRST, SA1, REVISION), deploy(SECOND, SA1, REVISION)] },
  { rule: 'off-window-deploy', label: 'the service deleted and created again between them', config: OFFICE_HOURS, entries: [deploy(FIRST, SA1, REVISION), deleteServiceAt(DELETED, SLACK_BOT), deploy(SECOND, SA1, REVISION)] },
  { rule: 'off-window-deploy', label: 'a v1 client naming both revisions', config: OFFICE_HOURS, entries: [deploy(FIRST, SA1, REVISION), deploy(SECOND, SA1, REVISION)] },
];

const ORDERS = [
  ['in order', false],
  ['the later deploy delivered first', true],
] as const;

/** The case's entries after the baseline's deploy, as delivered: in event-time order or the other way round. */
function delivered(c: Case, reversed: boolean): Json[] {
  return [deploy(EARLIER, SA0), ...(reversed ? [...c.entries].reverse() : c.entries)];
}

/**
 * The rule's findings about the two deploys, grouped by id: for each id the deploys (`first`, `second`) its findings are
 * about, sorted. One id per deploy reads `['first', 'second']`; one id for both, `['first second']`.
 */
function deploysById(c: Case, findings: readonly Finding[]): string[] {
  const names = new Map([
    [FIRST, 'first'],
    [SECOND, 'second'],
  ]);
  const ids = new Map<string, Set<string>>();
  for (const f of findings) {
    const name = names.get(f.eventTime);
    if (f.rule !== c.rule || name === undefined) continue;
    ids.set(f.id, (ids.get(f.id) ?? new Set()).add(name));
  }
  return [...ids.values()].map((deploys) => [...deploys].sort().join(' ')).sort();
}

describe('two deploys under one revision name an hour apart, each judged before the next arrives', () => {
  for (const c of CASES) {
    for (const [order, reversed] of ORDERS) {
      it(`${c.rule}: ${c.label}, ${order}: one id per deploy`, async () => {
        const found = await findingsLive(delivered(c, reversed), c.config, undefined, undefined, new MemoryBaselineStore());
        expect(deploysById(c, found)).toEqual(['first', 'second']);
      });
    }
  }
});

describe('replay of two deploys under one revision name an hour apart, from one file as written', () => {
  /** A deploy of another service of the project an hour after the second: the project's clock moves past both waits. */
  const tick = renamed(deploy('2024-05-07T00:58:04.355100Z', SA0), [['cloud-run-slack-bot', 'cloud-run-other-service']]);

  async function replayed(c: Case, reversed: boolean, mode: 'memory' | 'file'): Promise<string[]> {
    const [before, first, ...rest] = delivered(c, reversed);
    return deploysById(c, await replayedAsWritten([before!, first!, tick, ...rest], c.config, mode));
  }

  for (const mode of ['memory', 'file'] as const) {
    for (const c of CASES) {
      for (const [order, reversed] of ORDERS) {
        it(`${mode}: ${c.rule}: ${c.label}, ${order}: one id per deploy`, async () => {
          expect(await replayed(c, reversed, mode)).toEqual(['first', 'second']);
        });
      }
    }
  }
});

describe('another entry of a deploy judged already, after a later deploy under its name was judged', () => {
  // gcloud writes twice, the same template moments apart: one revision. Its second write delivered first is judged as
  // the deploy; the first, arriving after a later deploy under the name was judged, is that same deploy (its repeat
  // judged before it came), so what it raises keeps the id the repeat's finding has.
  it("service-account-change: a burst's first write delivered last keeps its repeat's id", async () => {
    const image = 'gcr.io/acme/app:burst';
    const write = (time: string): Json => at(withV1ServiceAccount(v1EnvDeploy(time, [], image), SA1), time, `burst-${time}`);
    const named = (entry: Json): Json =>
      editV1Services(entry, (svc) => {
        ((svc['spec'] as Record<string, Record<string, Record<string, unknown>>>)['template']!['metadata']!)['name'] = REVISION;
      });
    const first = named(write(FIRST));
    const repeat = named(write('2024-05-06T22:58:16.355100Z'));
    const entries = [deploy(EARLIER, SA0), repeat, deploy(SECOND, SA1, REVISION), first];
    const found = (await findingsLive(entries)).filter((f) => f.rule === 'service-account-change');
    expect(found.length).toBeGreaterThan(1); // the repeat's finding, and the first write's
    expect(new Set(found.map((f) => f.id)).size).toBe(1);
  });
});
