// plaintext-secret-env: a revision that sets an environment variable to a secret in plain text, by a credential
// format in the value or by the variable's name; values never leave the normalizer.
import { describe, expect, it } from 'vitest';
import { MemoryBaselineStore } from '../../../functions/baseline/memory.js';
import { plainEnvOf } from '../../../functions/audit/env.js';
import { normalizeOptionsOf } from '../../../functions/audit/normalize.js';
import { Pipeline } from '../../../functions/pipeline.js';
import { at, consoleEnvSequence, deleteServiceAt, editV1Services, SLACK_BOT, synthetic, v1EnvDeploy, v1SidecarEnvDeploy, v2EnvUpdate, withOperationId, type EnvList, type Json } from '../../support/entries.js';
import { config, findingsLive, findingsOf } from '../../support/run.js';

type Env = EnvList;

// Secrets made up for the tests, in the real formats (none is a live credential).
const AWS_KEY = 'AKIA' + 'Q3EXAMPLE7RUNWATCH'.slice(0, 16);
const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';
const PASSWORD = 'hunter2-but-longer';
// An OpenPGP secret key as `gpg --armor --export-secret-keys` writes it (signing keys of release pipelines).
const PGP = '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQVYBGXaaaaBDADexamplekeymaterialnotreal\n-----END PGP PRIVATE KEY BLOCK-----\n';

const v1Deploy = (time: string, env: Env, image?: string): Json => v1EnvDeploy(time, env, image);
const v2Update = v2EnvUpdate;

async function secretFindings(entries: readonly unknown[], cfg = config()) {
  return (await findingsOf(entries, cfg)).filter((f) => f.rule === 'plaintext-secret-env');
}

describe('plaintext-secret-env', () => {
  it.each([
    ['a password by its name (v1)', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'DB_PASSWORD', value: PASSWORD }])], ['DB_PASSWORD'], 'a secret by its name'],
    ['a name in lower case', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'stripe_api_key', value: 'pk_test_abcdefgh' }])], ['stripe_api_key'], 'a secret by its name'],
    ['an AWS access key id under any name', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'S3_USER', value: AWS_KEY }])], ['S3_USER'], 'AWS access key id'],
    ['a private key', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'SA_JSON', value: `{"private_key":"${PEM}"}` }])], ['SA_JSON'], 'private key'],
    // Socket Mode apps hold an app-level token (xapp-), token rotation a refresh token (xoxe-): both Slack's own.
    ['a Slack app-level token under any name', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'SLACK_APP', value: 'xapp-1-A0EXAMPLE01-1234567890123-0123456789abcdef' }])], ['SLACK_APP'], 'Slack token'],
    ['a Slack refresh token under any name', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'SLACK_REFRESH', value: 'xoxe-1-EXAMPLEnotarealrefreshtoken0123' }])], ['SLACK_REFRESH'], 'Slack token'],
    ['a PGP private key block under any name', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'RELEASE_SIGNING', value: PGP }])], ['RELEASE_SIGNING'], 'private key'],
    ['a password in a database URL', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'DATABASE_URL', value: 'postgres://app:s3cr3t-pw@10.0.0.5:5432/shop' }])], ['DATABASE_URL'], 'password in a URL'],
    // Redis AUTH has a password and no user: the URL leaves the user empty.
    ['a password with no user in a Redis URL', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'CACHE', value: 'redis://:s3cr3t-pw@10.0.0.7:6379/0' }])], ['CACHE'], 'password in a URL'],
    ['v2: a token by its name', [v2Update('2024-06-01T11:00:00Z', [{ name: 'GITHUB_TOKEN', value: 'not-a-real-token-value' }])], ['GITHUB_TOKEN'], 'a secret by its name'],
    // A name that says it names a file, but a value that is no path: the secret itself.
    ['a password under a _FILE name that is no path', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'DB_PASSWORD_FILE', value: PASSWORD }])], ['DB_PASSWORD_FILE'], 'a secret by its name'],
    ['a path-like value under a name that does not say it names a file', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'JWT_SECRET', value: '/kR9x/aB3zQ7/pLm2' }])], ['JWT_SECRET'], 'a secret by its name'],
  ])('fires: %s', async (_name, entries, variables, why) => {
    const findings = await secretFindings(entries);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'HIGH', evidence: { variables } });
    expect((findings[0]!.evidence['why'] as string[])[0]).toContain(why);
  });

  // A console deploy logs its write without containers; the revision's system events carry its variables.
  it('fires: a console deploy whose revision (system events) sets a password in plain text', async () => {
    const findings = await secretFindings(consoleEnvSequence([{ name: 'DB_PASSWORD', value: PASSWORD }]));
    expect(findings.map((f) => [f.evidence['variables'], f.revision])).toEqual([[['DB_PASSWORD'], 'cloud-run-slack-bot-00023-kiv']]);
    expect(JSON.stringify(findings)).not.toContain(PASSWORD);
  });

  it('ignores: a console deploy whose revision (system events) takes the password from Secret Manager', async () => {
    expect(await secretFindings(consoleEnvSequence([{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db-password', key: 'latest' } } }]))).toEqual([]);
  });

  it.each([
    ['a Secret Manager reference (v1 valueFrom)', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db-password', key: 'latest' } } }])]],
    ['a Secret Manager reference (v2 valueSource)', [v2Update('2024-06-01T11:00:00Z', [{ name: 'DB_PASSWORD', valueSource: { secretKeyRef: { secret: 'db-password', version: 'latest' } } }])]],
    ['a secret-sounding name with a value that cannot be one: a number', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'TOKEN_TTL_SECONDS', value: '86400000' }])]],
    ['... a flag', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'USE_SECRET_MANAGER', value: 'true' }])]],
    ['... a short value', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'PASSWORD_POLICY', value: 'strict' }])]],
    ['... a Secret Manager name', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'JWT_SECRET', value: 'projects/acme/secrets/jwt/versions/3' }])]],
    ['... a URL without a password', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'TOKEN_URL', value: 'https://oauth2.googleapis.com/token' }])]],
    ['... a URL with a user and a port but no password', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'CACHE', value: 'redis://default@10.0.0.7:6379/0' }])]],
    ['... a URL with an empty password', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'CACHE', value: 'redis://app:@10.0.0.7:6379/0' }])]],
    ['... a URL with a port and an @ in its path', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'FEED', value: 'https://feeds.example.com:8443/users/@acme' }])]],
    // Secret Manager secrets mounted as files (Cloud Run secret volumes) and the variable naming the file: the
    // `_FILE` convention of Docker's official images, a key file for Application Default Credentials. The value is
    // where the secret is, not the secret.
    ['... a file path under a name that says it names a file (_FILE)', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'DB_PASSWORD_FILE', value: '/secrets/db/password' }])]],
    ['... a file path under a name that says it names a path (_PATH)', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'API_TOKEN_PATH', value: '/var/run/secrets/api-token.txt' }])]],
    ['... the key file of Application Default Credentials', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'GOOGLE_APPLICATION_CREDENTIALS', value: '/secrets/google/key.json' }])]],
    ['an ordinary variable', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'LOG_LEVEL', value: 'debug-verbose' }])]],
    ['an empty value', [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'DB_PASSWORD', value: '' }])]],
    ['a v2 update whose mask leaves the containers alone', [v2Update('2024-06-01T11:00:00Z', [{ name: 'DB_PASSWORD', value: PASSWORD }], ['traffic'])]],
  ])('ignores: %s', async (_name, entries) => {
    expect(await secretFindings(entries)).toEqual([]);
  });

  it('ignores the same variable in the next revision, its value changed or not (reported once)', async () => {
    const first = v1Deploy('2024-05-04T10:00:00Z', [{ name: 'DB_PASSWORD', value: PASSWORD }]);
    const findings = await secretFindings([first, v1Deploy('2024-05-04T11:00:00Z', [{ name: 'DB_PASSWORD', value: `${PASSWORD}-2` }])]);
    expect(findings.map((f) => f.eventTime)).toEqual(['2024-05-04T10:00:00Z']);
  });

  // Clients name a service's one container differently (gcloud `placeholder-1`, others none): the same variable must
  // not read as new when another client deploys.
  it('ignores the same variable when another client names the one container otherwise, or not at all', async () => {
    const unnamed = (time: string) =>
      at(withOperationId(editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
        const template = (svc['spec'] as Record<string, Record<string, Record<string, unknown>>>)['template']!;
        template['spec']!['containers'] = [{ image: `gcr.io/acme/app:${time}`, env: [{ name: 'DB_PASSWORD', value: PASSWORD }] }];
      }), `op-${time}`), time);
    const findings = await secretFindings([v1Deploy('2024-05-04T10:00:00Z', [{ name: 'DB_PASSWORD', value: PASSWORD }]), unnamed('2024-05-04T11:00:00Z')]);
    expect(findings).toHaveLength(1);
  });

  // A variable is keyed by its container only where more than one container of the revision sets its name (clients
  // name a lone container as they like): a sidecar that sets the name too is one more variable, and the app's stays
  // the one the revision before had, reported once and open while it is set.
  const DD = { name: 'DD_API_KEY', value: 'not-a-real-datadog-key-0123' };
  it.each([
    ['a sidecar added with the same name: reported for the sidecar, the app\'s left open', [v1EnvDeploy('2024-05-04T10:00:00Z', [DD]), v1SidecarEnvDeploy('2024-05-04T11:00:00Z', [DD], [DD])], ['10:00 active DD_API_KEY', '11:00 active otel/DD_API_KEY']],
    ['the sidecar taken away again: nothing new, the app\'s left open', [v1SidecarEnvDeploy('2024-05-04T10:00:00Z', [DD], [DD]), v1EnvDeploy('2024-05-04T11:00:00Z', [DD])], ['10:00 active app/DD_API_KEY,otel/DD_API_KEY']],
  ])('the same name in a sidecar: %s', async (_name, entries, expected) => {
    const findings = await secretFindings(entries);
    expect(findings.map((f) => `${f.eventTime.slice(11, 16)} ${f.status ?? 'active'} ${String(f.evidence['variables'])}`)).toEqual(expected);
  });

  it('ignores names in allowNames (any letter case) and follows namePatterns', async () => {
    const entries = [v1Deploy('2024-05-04T10:00:00Z', [{ name: 'CSRF_TOKEN_HEADER', value: 'X-Csrf-Token-Name' }, { name: 'S3_USER', value: AWS_KEY }])];
    expect((await secretFindings(entries))[0]?.evidence['variables']).toEqual(['CSRF_TOKEN_HEADER', 'S3_USER']);
    expect((await secretFindings(entries, config({ rules: { 'plaintext-secret-env': { allowNames: ['csrf_*', 's3_user'] } } })))).toEqual([]);
    const custom = config({ rules: { 'plaintext-secret-env': { namePatterns: ['*_HEADER'] } } });
    expect((await secretFindings([v1Deploy('2024-05-04T10:00:00Z', [{ name: 'DB_PASSWORD', value: PASSWORD }, { name: 'CSRF_TOKEN_HEADER', value: 'X-Csrf-Token-Name' }])], custom))[0]?.evidence['variables']).toEqual(['CSRF_TOKEN_HEADER']);
  });

  it('fires for a variable the revision before did not have, naming only that one', async () => {
    const findings = await secretFindings([
      v1Deploy('2024-05-04T10:00:00Z', [{ name: 'DB_PASSWORD', value: PASSWORD }]),
      v1Deploy('2024-05-04T11:00:00Z', [{ name: 'DB_PASSWORD', value: PASSWORD }, { name: 'API_KEY', value: 'live-key-1234567' }]),
    ]);
    expect(findings.map((f) => f.evidence['variables'])).toEqual([['DB_PASSWORD'], ['API_KEY']]);
  });

  // The baseline names at most 16 variables a revision: one added past them (the revision before did not have it) is
  // reported all the same, and one of those past them left as it was is not.
  it.each([
    ['a secret added after 16 reported already', [], [{ name: 'S3_USER', value: AWS_KEY }], ['2024-05-04T10:00:00Z', '2024-05-04T11:00:00Z']],
    ['the same 17 again', [{ name: 'S3_USER', value: AWS_KEY }], [{ name: 'S3_USER', value: AWS_KEY }], ['2024-05-04T10:00:00Z']],
  ])('past 16 variables: %s', async (_name, before, after, times) => {
    const sixteen = Array.from({ length: 16 }, (_, i) => ({ name: `LEGACY_TOKEN_${i + 10}`, value: `${PASSWORD}-${i}` }));
    const findings = await secretFindings([v1Deploy('2024-05-04T10:00:00Z', [...sixteen, ...before]), v1Deploy('2024-05-04T11:00:00Z', [...sixteen, ...after])]);
    expect(findings.map((f) => f.eventTime)).toEqual(times);
    expect(JSON.stringify(findings)).not.toContain(AWS_KEY);
    if (findings[1]) expect(findings[1].summary).toContain('(one or more of the variables past the first 15, named in the evidence by a digest of their names) set to a secret');
  });

  // Past the 15 named variables, which ones are named depends on the others: a variable dropped among the first 15 (moved
  // to Secret Manager, the fix this rule asks for) brings the 16th into the named ones and changes those past them. Both
  // were set before, so nothing is new; nor is anything new where the baseline was stored by a version that named the
  // first 16 and dropped the rest (an upgrade must not page every service with more once).
  const EIGHTEEN = Array.from({ length: 18 }, (_, i) => ({ name: `LEGACY_TOKEN_${i + 10}`, value: `${PASSWORD}-${i}` }));
  const IN_SECRET_MANAGER = { name: 'LEGACY_TOKEN_10', valueFrom: { secretKeyRef: { name: 'legacy-token-10', key: 'latest' } } };
  it.each([
    ['the first of 18 moved to Secret Manager: nothing new, the first finding left open', [EIGHTEEN, [IN_SECRET_MANAGER, ...EIGHTEEN.slice(1)]], ['10:00 active']],
    ['the first of 18 moved, then a secret added past the named ones: reported', [EIGHTEEN, [IN_SECRET_MANAGER, ...EIGHTEEN.slice(1)], [IN_SECRET_MANAGER, ...EIGHTEEN.slice(1), { name: 'S3_USER', value: AWS_KEY }]], ['10:00 active', '12:00 active']],
    ['the last of 18 moved to Secret Manager, the one past the named ones left: nothing new', [EIGHTEEN, [...EIGHTEEN.slice(0, 17), { ...IN_SECRET_MANAGER, name: 'LEGACY_TOKEN_27' }]], ['10:00 active']],
  ])('past 15 variables: %s', async (_name, envs, expected) => {
    const entries = envs.map((env, i) => v1Deploy(`2024-05-04T1${i}:00:00Z`, env as Env));
    const findings = await secretFindings(entries);
    expect(findings.map((f) => `${f.eventTime.slice(11, 16)} ${f.status ?? 'active'}`)).toEqual(expected);
  });

  // Past 16 digests the rest are one (`+DIGEST`, the names whose digests sort last): a revision with 32 or more plain
  // secrets that moves one to Secret Manager brings digests out of that group, or a name into the named ones, that the
  // revision before had all the same inside it. Nothing is new; a secret added past the named ones still is.
  const many = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `LEGACY_TOKEN_${i + 10}`, value: `${PASSWORD}-${i}` }));
  const moved = (all: readonly Env[number][], k: number) => [...all.slice(0, k), { name: `LEGACY_TOKEN_${k + 10}`, valueFrom: { secretKeyRef: { name: 'legacy', key: 'latest' } } }, ...all.slice(k + 1)];
  it.each([
    ['32, the first moved', many(32), moved(many(32), 0), ['10:00 active']],
    ['40, the first moved', many(40), moved(many(40), 0), ['10:00 active']],
    ['40, the 16th moved (its digest among those shown)', many(40), moved(many(40), 15), ['10:00 active']],
    ['60, the first moved', many(60), moved(many(60), 0), ['10:00 active']],
    ['40, a secret added past the named ones', many(40), [...many(40), { name: 'S3_USER', value: AWS_KEY }], ['10:00 active', '11:00 active']],
  ])('past 31 variables: %s', async (_name, first, then, expected) => {
    const findings = await secretFindings([v1Deploy('2024-05-04T10:00:00Z', first as Env), v1Deploy('2024-05-04T11:00:00Z', then as Env)]);
    expect(findings.map((f) => `${f.eventTime.slice(11, 16)} ${f.status ?? 'active'}`)).toEqual(expected);
  });

  it('past 15 variables: a baseline stored naming the first 16 of 18 (an earlier version) reports nothing for the same 18', async () => {
    const key = `${SLACK_BOT.project}/${SLACK_BOT.location}/${SLACK_BOT.service}`;
    const first = new MemoryBaselineStore();
    const before = new Pipeline({ config: config(), store: first });
    await before.handleEntry(v1Deploy('2024-05-04T10:00:00Z', EIGHTEEN), Date.parse('2024-05-04T10:00:00Z'));
    await before.flush();
    const stored = (await first.get(key))!;
    // What the earlier version kept: the first 16 by name, the 17th and 18th dropped.
    const sixteen = EIGHTEEN.slice(0, 16).map((v) => ({ name: v.name, formats: [] }));
    const upgraded = new MemoryBaselineStore([[key, { ...stored, plainEnv: stored.plainEnv!.map((point) => ({ ...point, v: sixteen })) }]]);
    const after = new Pipeline({ config: config(), store: upgraded });
    const outcome = await after.handleEntry(v1Deploy('2024-05-04T11:00:00Z', EIGHTEEN), Date.parse('2024-05-04T11:00:00Z'));
    const findings = [...(outcome.status === 'processed' ? outcome.findings : []), ...(await after.flush())];
    expect(findings.filter((f) => f.rule === 'plaintext-secret-env')).toEqual([]);
  });

  it('never keeps or shows a value: not in findings, not in the baseline', async () => {
    const store = new MemoryBaselineStore();
    const pipeline = new Pipeline({ config: config(), store });
    const entries = [
      v1Deploy('2024-05-04T10:00:00Z', [{ name: 'DB_PASSWORD', value: PASSWORD }, { name: 'S3_USER', value: AWS_KEY }, { name: 'SA_JSON', value: PEM }]),
      v1Deploy('2024-05-04T11:00:00Z', []),
    ];
    const out: unknown[] = [];
    for (const entry of entries) out.push(await pipeline.handleEntry(entry, Date.parse((entry as { timestamp: string }).timestamp)));
    out.push(await pipeline.flush());
    const baseline = await store.get(`${SLACK_BOT.project}/${SLACK_BOT.location}/${SLACK_BOT.service}`);
    expect(baseline?.plainEnv?.[0]?.v.map((v) => v.name)).toEqual(['DB_PASSWORD', 'S3_USER', 'SA_JSON']);
    const text = JSON.stringify(out) + JSON.stringify(baseline);
    expect(text).toContain('DB_PASSWORD');
    for (const secret of [PASSWORD, AWS_KEY, 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC']) expect(text).not.toContain(secret);
  });

  it('a late revision whose variable a newer revision already moved to Secret Manager: reported and closed at once, as in order', async () => {
    const open = v1Deploy('2024-05-04T10:00:00Z', [{ name: 'DB_PASSWORD', value: PASSWORD }]);
    const moved = v1Deploy('2024-05-04T11:00:00Z', [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'latest' } } }]);
    // An hour of wall clock between deliveries: the newer deploy is judged before the older one comes.
    const only = async (entries: unknown[]) => (await findingsLive(entries)).filter((f) => f.rule === 'plaintext-secret-env').map((f) => `${f.id} ${f.status ?? 'active'}`);
    expect(await only([moved, open])).toEqual(await only([open, moved]));
    expect(await only([moved, open])).toHaveLength(2);
  });

  it('is resolved when a newer revision drops the plain variables, or the service is deleted', async () => {
    const open = v1Deploy('2024-05-04T10:00:00Z', [{ name: 'DB_PASSWORD', value: PASSWORD }]);
    const moved = v1Deploy('2024-05-04T11:00:00Z', [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'latest' } } }]);
    const resolved = await secretFindings([open, moved]);
    expect(resolved.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
    expect(resolved[1]!.resolution?.reason).toBe('the variables are no longer set to secrets in plain text');
    const deleted = await secretFindings([open, deleteServiceAt('2024-05-04T12:00:00Z', SLACK_BOT)]);
    expect(deleted.map((f) => f.resolution?.reason)).toEqual([undefined, 'the service was deleted']);
    // A revision that still has it closes nothing.
    expect((await secretFindings([open, v1Deploy('2024-05-04T11:00:00Z', [{ name: 'DB_PASSWORD', value: PASSWORD }])])).map((f) => f.status ?? 'active')).toEqual(['active']);
  });

  it('a revision arriving late is compared with the one before it in time', async () => {
    // 12:00 arrives before 11:00, within the wait for system events: 11:00 (the first to set it) is reported, and 12:00,
    // compared with 11:00, is not.
    const findings = await secretFindings([
      v1Deploy('2024-05-04T10:00:00Z', []),
      v1Deploy('2024-05-04T12:00:00Z', [{ name: 'DB_PASSWORD', value: PASSWORD }]),
      v1Deploy('2024-05-04T11:00:00Z', [{ name: 'DB_PASSWORD', value: PASSWORD }]),
    ]);
    expect(findings.map((f) => f.eventTime)).toEqual(['2024-05-04T11:00:00Z']);
  });
});

describe('plainEnvOf: which literal values are secrets', () => {
  const NAMES = normalizeOptionsOf(config()).secretEnv!;
  it.each([
    ['a long value under a secret name', { name: 'API_TOKEN', value: 'abcdefgh' }, { name: 'API_TOKEN', formats: [] }],
    ['a long value under another name', { name: 'X', value: 'abcdefgh' }, undefined],
    // Names of passwords that say PASS or PWD only: SMTP_PASS, MYSQL_PWD (the MySQL client reads it), REDIS_PASS.
    ['a password under *_PASS', { name: 'SMTP_PASS', value: 'abcdefgh' }, { name: 'SMTP_PASS', formats: [] }],
    ['a password under *_PWD', { name: 'MYSQL_PWD', value: 'abcdefgh' }, { name: 'MYSQL_PWD', formats: [] }],
    ['a name ending in PASS without the underscore', { name: 'CACHE_BYPASS', value: 'abcdefgh' }, undefined],
    ['the shell\'s working directory', { name: 'PWD', value: '/workspace/app' }, undefined],
    ['a GitHub token', { name: 'X', value: `ghp_${'a1'.repeat(18)}` }, { name: 'X', formats: ['a GitHub token'] }],
    ['a Google API key', { name: 'X', value: `AIza${'B'.repeat(35)}` }, { name: 'X', formats: ['a Google API key'] }],
    ['a Slack token', { name: 'X', value: `xoxb-${'1234567890'}-abcdef` }, { name: 'X', formats: ['a Slack token'] }],
    // An incoming webhook's URL is its credential: anyone holding it posts to the channel (gitleaks slack-webhook-url).
    ['a Slack webhook URL', { name: 'ALERTS_HOOK', value: `https://hooks.slack.com/services/T0123ABCD/B0456EFGH/${'aB3'.repeat(8)}` }, { name: 'ALERTS_HOOK', formats: ['a Slack webhook URL'] }],
    ['a Slack workflow trigger URL', { name: 'NOTIFY', value: `https://hooks.slack.com/triggers/T0123ABCD/1234567890123/${'0f'.repeat(16)}` }, { name: 'NOTIFY', formats: ['a Slack webhook URL'] }],
    ['the Slack webhook host alone', { name: 'NOTIFY', value: 'https://hooks.slack.com/' }, undefined],
    ['a number', { name: 'API_TOKEN', value: '1234567890' }, undefined],
    ['a size', { name: 'API_TOKEN', value: '1234567Mi' }, undefined],
    ['a URL', { name: 'API_TOKEN', value: 'https://example.com/path?q=1' }, undefined],
    ['a reference', { name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'x', key: '1' } } }, undefined],
  ])('%s', (_name, variable, expected) => {
    expect(plainEnvOf([{ env: [variable] }], NAMES)).toEqual(expected ? [expected] : []);
  });

  it('keeps at most 16 variables, 15 by name (cut to 64 characters, container names to 32) and the rest as one', () => {
    const env = Array.from({ length: 100 }, (_, i) => ({ name: `${'SECRET'.repeat(40)}${i}`, value: 'abcdefghij' }));
    const kept = plainEnvOf([{ name: 'c'.repeat(100), env }], NAMES);
    expect(kept).toHaveLength(16);
    expect(kept.slice(0, 15).every((v) => v.name.length === 64 && v.container?.length === 32)).toBe(true);
    // A digest of each name past them: the 85 here are one name once cut.
    expect(kept[15]).toMatchObject({ name: expect.stringMatching(/^\(more\) [\w-]{6}$/), formats: [] });
    // One more variable past the named ones is another set: another name.
    const more = plainEnvOf([{ name: 'c'.repeat(100), env: [...env, { name: 'LAST_TOKEN', value: 'abcdefghij' }] }], NAMES);
    expect(more.slice(0, 15)).toEqual(kept.slice(0, 15));
    expect(more[15]!.name).not.toBe(kept[15]!.name);
    // Of many names past them, 15 digests one by one and the 16th for the rest together: the baseline stays bounded.
    const distinct = plainEnvOf([{ env: Array.from({ length: 100 }, (_, i) => ({ name: `LEGACY_TOKEN_${i}`, value: 'abcdefghij' })) }], NAMES);
    expect(distinct[15]!.name).toMatch(/^\(more\)(?: [\w-]{6}){15} \+[\w-]{6}$/);
    // Sixteen are folded from the 16th: sixteen named and none past them is only a list an earlier version cut.
    expect(plainEnvOf([{ env: env.slice(0, 16).map((v, i) => ({ ...v, name: `TOKEN_${i}` })) }], NAMES).map((v) => v.name)).toEqual([...Array.from({ length: 15 }, (_, i) => `TOKEN_${i}`), expect.stringMatching(/^\(more\) [\w-]{6}$/)]);
  });

  // Whatever a deployer writes, the service's baseline (a Firestore document, 1 MiB at most) stays far below it: 64
  // deploys waiting for their system events and 32 history points, each with as many long-named secrets as it can
  // (16 named, 64 + 32 characters each) come to about 320 KB, about 90 KB of which the deploys take without them.
  it('keeps the baseline small with many deploys of many long-named plain variables', async () => {
    const store = new MemoryBaselineStore();
    const pipeline = new Pipeline({ config: config({ correlation: { waitSeconds: 86_400 } }), store });
    const env = Array.from({ length: 200 }, (_, i) => ({ name: `${'SECRET_'.repeat(40)}${i}`, value: `${PASSWORD}-${i}` }));
    const at = (minute: number): string => new Date(Date.UTC(2024, 4, 4, 10, minute)).toISOString();
    for (let i = 0; i < 100; i++) {
      const entry = editV1Services(v1Deploy(at(i), env, `gcr.io/acme/app:${i}`), (svc) => {
        const containers = ((svc['spec'] as Record<string, Record<string, Record<string, unknown>>>)['template']!['spec']!['containers'] as Record<string, unknown>[]);
        containers[0]!['name'] = 'x'.repeat(500);
      });
      await pipeline.handleEntry(entry, Date.parse(at(i)));
    }
    const waiting = await store.get(`${SLACK_BOT.project}/${SLACK_BOT.location}/${SLACK_BOT.service}`);
    expect(waiting?.rollouts?.length).toBe(64);
    expect(JSON.stringify(waiting).length).toBeLessThan(350_000);
    await pipeline.flush();
    const judged = await store.get(`${SLACK_BOT.project}/${SLACK_BOT.location}/${SLACK_BOT.service}`);
    expect(judged?.plainEnv).toHaveLength(32);
    expect(JSON.stringify(judged).length).toBeLessThan(350_000);
  });
});
