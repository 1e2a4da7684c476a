// scripts/validate-config.mjs is what makes `terraform plan` fail early on an invalid config. It must follow the
// hashicorp/external program protocol: a JSON object of strings on stdin; on success exactly one JSON object whose
// values are all strings on stdout and exit 0; on failure a readable message on stderr and a non-zero exit.
// A stub CLI stands in for the package so each branch is exercised; the real CLI is used when it is built.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(REPO, 'terraform', 'modules', 'runwatch', 'scripts', 'validate-config.mjs');

// Behaves like `runwatch validate-config FILE`: exit 0 when valid, 2 with `path: reason` lines on stderr when not.
const STUB_CLI = `#!/usr/bin/env node
import { readFileSync } from 'node:fs';
const [command, file, ...rest] = process.argv.slice(2);
if (command !== 'validate-config' || !file || rest.length > 0) { process.stderr.write('usage: runwatch validate-config FILE\\n'); process.exit(3); }
const text = readFileSync(file, 'utf8');
if (text.includes('CRASH')) { process.stderr.write('TypeError: boom\\n'); process.exit(1); }
if (text.includes('INVALID')) {
  process.stderr.write(file + ': invalid config\\nrules.off-window-deploy.severity: must be one of LOW, MEDIUM, HIGH, CRITICAL\\nsinks.teams: unknown sink\\n');
  process.exit(2);
}
process.stdout.write(file + ': valid\\n');
`;

// Stands in for the package's dist/functions/config/load.js: the config as the loader returns it (defaults applied).
const STUB_LOADER = `import { readFileSync } from 'node:fs';
export async function loadConfigFile(path) {
  const text = readFileSync(path, 'utf8');
  return {
    correlation: { adminApiFallback: { enabled: text.includes('FALLBACK'), afterSeconds: 120 } },
    sinks: {
      ...(text.includes('SLACK_CHANNEL') ? { slack: { channel: '#alerts' } } : text.includes('SLACK_SECTION') ? { slack: { minSeverity: 'HIGH' } } : {}),
      ...(text.includes('CONSOLE') ? { console: { minSeverity: 'LOW' } } : {}),
      ...(text.includes('SCC') ? { scc: { minSeverity: 'LOW' } } : {}),
    },
  };
}
`;

interface Result {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runScript(stdin: string): Result {
  const run = spawnSync(process.execPath, [SCRIPT], { input: stdin, encoding: 'utf8', timeout: 20_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const query = (packageDir: string, configPath: string, sinks?: string): string =>
  JSON.stringify({ package_dir: packageDir, config_path: configPath, ...(sinks !== undefined ? { sinks } : {}) });

let work: string;
let pkg: string;
let unbuilt: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'runwatch-validate-'));
  pkg = join(work, 'pkg');
  mkdirSync(join(pkg, 'bin'), { recursive: true });
  mkdirSync(join(pkg, 'dist', 'functions', 'cli'), { recursive: true });
  writeFileSync(join(pkg, 'package.json'), '{"name":"runwatch","type":"module"}\n');
  writeFileSync(join(pkg, 'bin', 'runwatch.js'), STUB_CLI);
  writeFileSync(join(pkg, 'dist', 'functions', 'cli', 'main.js'), 'export {};\n');
  mkdirSync(join(pkg, 'dist', 'functions', 'config'), { recursive: true });
  writeFileSync(join(pkg, 'dist', 'functions', 'config', 'load.js'), STUB_LOADER);
  unbuilt = join(work, 'unbuilt');
  mkdirSync(join(unbuilt, 'bin'), { recursive: true });
  writeFileSync(join(unbuilt, 'package.json'), '{"name":"runwatch","type":"module"}\n');
  writeFileSync(join(unbuilt, 'bin', 'runwatch.js'), STUB_CLI);
  for (const [name, text] of Object.entries({
    'good.yaml': 'timezone: UTC\n',
    'bad.yaml': '# INVALID\n',
    'crash.yaml': '# CRASH\n',
    'fallback.yaml': '# FALLBACK\n',
    'slack.yaml': '# SLACK_CHANNEL CONSOLE\n',
    'slack-section.yaml': '# SLACK_SECTION CONSOLE\n',
    'console-scc.yaml': '# CONSOLE SCC\n',
  })) {
    writeFileSync(join(work, name), text);
  }
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('scripts/validate-config.mjs (external program protocol)', () => {
  it('prints one JSON object of strings and exits 0 for a valid config', () => {
    const run = runScript(query(pkg, join(work, 'good.yaml')));
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(Object.values(result).every((v) => typeof v === 'string')).toBe(true);
    expect(result).toEqual({
      valid: 'true',
      config_path: join(work, 'good.yaml'),
      config_sha256: createHash('sha256').update(readFileSync(join(work, 'good.yaml'))).digest('hex'),
      admin_api_fallback: 'false',
    });
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('exits 2 with every validator error, as path: reason, on stderr for an invalid config', () => {
    const run = runScript(query(pkg, join(work, 'bad.yaml')));
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('is not a valid runwatch config');
    expect(run.stderr).toContain('rules.off-window-deploy.severity: must be one of LOW, MEDIUM, HIGH, CRITICAL');
    expect(run.stderr).toContain('sinks.teams: unknown sink');
  });

  // The module compares it with var.admin_api_fallback (a precondition): run.viewer is granted for the fallback only.
  it('returns whether the config turns the Admin API fallback on', () => {
    expect(JSON.parse(runScript(query(pkg, join(work, 'fallback.yaml'))).stdout)).toMatchObject({ admin_api_fallback: 'true' });
    expect(JSON.parse(runScript(query(pkg, join(work, 'good.yaml'))).stdout)).toMatchObject({ admin_api_fallback: 'false' });
  });

  // notify-slack refuses every finding without a channel: the plan must fail, not the first alert.
  it('exits 2 when the slack sink is deployed and the config names no Slack channel', () => {
    const run = runScript(query(pkg, join(work, 'slack-section.yaml'), 'console,slack'));
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('sinks.slack: the slack sink is deployed');
    expect(runScript(query(pkg, join(work, 'slack.yaml'), 'console,slack')).status).toBe(0);
    expect(runScript(query(pkg, join(work, 'console-scc.yaml'), 'console,scc')).status).toBe(0);
  });

  // A sink without a section receives nothing (routing fails closed): deployed so, it would drop every finding.
  it('exits 2 when a deployed sink has no section under sinks, naming each', () => {
    const run = runScript(query(pkg, join(work, 'good.yaml'), 'console,webhook'));
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('sinks.console: the console sink is deployed (module variable sinks) but the config has no sinks.console section');
    expect(run.stderr).toContain('sinks.webhook: the webhook sink is deployed');
    expect(runScript(query(pkg, join(work, 'console-scc.yaml'), 'console,webhook')).stderr).not.toContain('sinks.console');
    // No sinks in the query (an older module): nothing to compare.
    expect(runScript(query(pkg, join(work, 'good.yaml'))).status).toBe(0);
  });

  it.each([
    ['the CLI crashes', () => query(pkg, join(work, 'crash.yaml')), 1, 'TypeError: boom'],
    ['the CLI is not built', () => query(unbuilt, join(work, 'good.yaml')), 1, 'npm ci && npm run build'],
    ['package_dir is not the package', () => query(work, join(work, 'good.yaml')), 1, 'bin/runwatch.js not found'],
    ['the query is not JSON', () => 'package_dir=.', 1, 'not JSON'],
    ['the query is an array', () => '[]', 1, 'must be a JSON object'],
    ['the query lacks config_path', () => JSON.stringify({ package_dir: pkg }), 1, 'needs package_dir and config_path'],
  ])('fails with a message on stderr when %s', (_what, stdin, status, message) => {
    const run = runScript(stdin());
    expect(run.status).toBe(status);
    expect(run.stderr).toContain(message);
  });

  const built = existsSync(join(REPO, 'dist', 'functions', 'cli', 'main.js'));

  // Needs `npm run build` (npm test builds first). examples.test.ts validates both example configs in-process.
  it.skipIf(!built)('runs the real CLI: the organization example passes, a bad severity fails with its path', () => {
    const good = runScript(query(REPO, join(REPO, 'terraform', 'examples', 'organization', 'runwatch.yaml'), 'pagerduty,scc,slack'));
    expect(good.stderr).toBe('');
    expect(JSON.parse(good.stdout)).toMatchObject({ valid: 'true', admin_api_fallback: 'false' });
    const noChannel = join(work, 'real-no-channel.yaml');
    writeFileSync(noChannel, 'sinks:\n  slack:\n    minSeverity: HIGH\n');
    expect(runScript(query(REPO, noChannel, 'slack')).status).toBe(2);
    const fallback = join(work, 'real-fallback.yaml');
    writeFileSync(fallback, 'correlation:\n  adminApiFallback:\n    enabled: true\n');
    expect(JSON.parse(runScript(query(REPO, fallback)).stdout)).toMatchObject({ admin_api_fallback: 'true' });
    const bad = join(work, 'real-bad.yaml');
    writeFileSync(bad, 'rules:\n  off-window-deploy:\n    severity: URGENT\n');
    const run = runScript(query(REPO, bad));
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('rules.off-window-deploy.severity:');
  });
});
