// System events of a v1 console deploy that arrive after `correlation.waitSeconds`: the write was judged without
// them (its image, variables unknown). Its operation id ties them to it: their facts are judged then, once, as the
// late half of that deploy (not a deploy of their own), in replay and live alike. A deployer can delay a revision's
// Ready events: Cloud Run's startup probe may wait 240 s (initialDelaySeconds) plus 240 s (failureThreshold x
// periodSeconds) after a large image was pulled.
import { describe, expect, it } from 'vitest';
import { at, consoleEnvSequence, v1EnvDeploy, type EnvList, type Json } from '../../support/entries.js';
import { config, findingsLive, findingsOf } from '../../support/run.js';

const PASSWORD = 'hunter2-but-longer';
const RISKY: EnvList = [
  { name: 'DB_PASSWORD', value: PASSWORD },
  { name: 'LD_PRELOAD', value: '/mnt/nfs/libhook.so' },
];
const RULES = new Set(['new-image-repository', 'plaintext-secret-env', 'code-loading-env', 'off-window-deploy', 'unapproved-deployer']);
const cfg = config({ changeWindows: [{ days: ['mon'], start: '09:00', end: '09:01' }], rules: { 'unapproved-deployer': { allowedDeployers: ['serviceAccount:*'] } } });

// The service's revision before (gcloud, its image in gcr.io/acme, no variables), then a console deploy whose
// revision runs an image from another repository with the variables given.
function deploy(env: EnvList, eventsAfterMinutes: number): Json[] {
  const [write, revisionEvent, serviceEvent] = consoleEnvSequence(env) as [Json, Json, Json];
  const shift = (e: Json, seconds: number): Json => at(e, new Date(Date.parse('2024-05-06T22:58:04.355Z') + eventsAfterMinutes * 60_000 + seconds * 1000).toISOString(), `late-${seconds}`);
  return [v1EnvDeploy('2024-05-06T20:00:00Z', [], 'gcr.io/acme/app:1'), write, shift(revisionEvent, 13), shift(serviceEvent, 15)];
}

const judged = async (entries: Json[], live: boolean): Promise<string[]> =>
  (live ? await findingsLive(entries, cfg) : await findingsOf(entries, cfg))
    .filter((f) => RULES.has(f.rule) && f.eventTime >= '2024-05-06T22')
    .map((f) => `${f.rule} ${f.revision ?? '-'}`)
    .sort();

describe('late system events of a v1 console deploy (after the wait)', () => {
  it('on time (reference): the revision\'s facts are judged with the write', async () => {
    for (const live of [false, true]) {
      const entries = deploy(RISKY, 0);
      expect(await (live ? findingsLive(entries, cfg, undefined, 5_000) : findingsOf(entries, cfg)).then((all) => all.filter((f) => RULES.has(f.rule) && f.eventTime >= '2024-05-06T22').map((f) => f.rule).sort())).toEqual([
        'code-loading-env',
        'new-image-repository',
        'off-window-deploy',
        'plaintext-secret-env',
        'unapproved-deployer',
      ]);
    }
  });

  it.each([
    ['replay, events 20 minutes after the write', false],
    ['live, each entry an hour of wall clock after the one before', true],
  ])('fires: %s: the image, the secret and LD_PRELOAD are judged once; the deploy is not reported twice', async (_name, live) => {
    const findings = await judged(deploy(RISKY, 20), live);
    expect(findings.filter((f) => /^(new-image|plaintext|code-loading)/.test(f))).toEqual([
      'code-loading-env cloud-run-slack-bot-00023-kiv',
      'new-image-repository cloud-run-slack-bot-00023-kiv',
      'plaintext-secret-env cloud-run-slack-bot-00023-kiv',
    ]);
    // The write was reported as the deploy (judged without its revision): its events are no second deploy.
    expect(findings.filter((f) => f.startsWith('off-window-deploy'))).toHaveLength(1);
    expect(findings.filter((f) => f.startsWith('unapproved-deployer'))).toHaveLength(1);
  });

  it('fires once: late events delivered twice (another copy of each, as sinks duplicate)', async () => {
    const entries = deploy(RISKY, 20);
    const copies = entries.slice(2).map((e) => at(e, e['timestamp'] as string, `${e['insertId'] as string}-copy`));
    for (const live of [false, true]) {
      const findings = await judged([...entries, ...copies], live);
      expect(findings.filter((f) => /^(new-image|plaintext|code-loading)/.test(f))).toHaveLength(3);
    }
  });

  it.each([
    ['replay', false],
    ['live', true],
  ])('ignores: %s: late events of a revision with nothing new (the same image repository, a Secret Manager reference)', async (_name, live) => {
    const entries = deploy([{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db-password', key: 'latest' } } }], 20);
    // The revision before already ran from the console image's repository.
    entries[0] = v1EnvDeploy('2024-05-06T20:00:00Z', [], 'asia-northeast1-docker.pkg.dev/test-project-1234/cloud-run-source-deploy/cloud-run-slack-bot:old');
    const findings = await judged(entries, live);
    expect(findings.filter((f) => /^(new-image|plaintext|code-loading)/.test(f))).toEqual([]);
    expect(findings.filter((f) => f.startsWith('off-window-deploy'))).toHaveLength(1);
  });
});

describe('a console deploy judged early by a burst of deploys (more than ROLLOUT_LIMIT waiting), its events on time', () => {
  // The deployer follows the console deploy with enough gcloud deploys of other images that it is judged at once,
  // without its revision's events; those come seconds later and belong to a completed rollout.
  it.each([
    ['replay', false],
    ['live, a tenth of a second between entries', true],
  ])('fires: %s: the revision\'s secret and LD_PRELOAD are still judged', async (_name, live) => {
    const { ROLLOUT_LIMIT } = await import('../../../functions/engine.js');
    const { synthetic, withOperationId, withV1Image } = await import('../../support/entries.js');
    const [before, write, revisionEvent, serviceEvent] = deploy(RISKY, 0) as [Json, Json, Json, Json];
    const start = Date.parse('2024-05-06T22:58:05Z');
    const burst = Array.from({ length: ROLLOUT_LIMIT }, (_, i) =>
      at(withOperationId(withV1Image(synthetic('v1-ReplaceService-gcloud'), `gcr.io/acme/app:burst${i}`), `op-burst-${i}`), new Date(start + i * 100).toISOString()),
    );
    const entries = [before, write, ...burst, revisionEvent, serviceEvent];
    const findings = live ? await findingsLive(entries, cfg, Date.parse('2024-05-06T22:58:04Z'), 100) : await findingsOf(entries, cfg);
    const rules = (status: 'active' | 'resolved'): string[] =>
      findings.filter((f) => f.revision === 'cloud-run-slack-bot-00023-kiv' && /^(plaintext|code-loading)/.test(f.rule) && (f.status ?? 'active') === status).map((f) => f.rule).sort();
    expect(rules('active')).toEqual(['code-loading-env', 'plaintext-secret-env']);
    // Recorded at the console write's instant (the late half's revision was in force from it), they are closed by the
    // burst's deploys made after it, whose revisions set no such variables.
    expect(rules('resolved')).toEqual(['code-loading-env', 'plaintext-secret-env']);
  });
});
