#!/usr/bin/env node
// Terraform `external` data source: validates the runwatch config with the package's own validator during plan, so an
// invalid config stops `terraform plan` before anything is built or deployed.
//
// Protocol (hashicorp/external): stdin is a JSON object of strings (the data source's `query`: package_dir,
// config_path, and sinks: the module's var.sinks joined with commas). On success print ONE JSON object whose values are
// all strings and exit 0. On failure print a human-readable message on stderr and exit non-zero; Terraform shows stderr
// and ignores stdout.
//
// A config can be valid on its own and still not fit the deployment: a sink deployed without a section in the config
// receives no finding (routing fails closed), and the slack sink deployed without a channel refuses every finding at
// run time (they end on the dead-letter topic). Those checks run here too, on the config
// as the package's own loader reads it (defaults applied), and what the module must agree with is returned
// (admin_api_fallback: the module grants run.viewer only when the config turns the Admin API fallback on).
//
// Exit codes mirror the CLI's: 2 when the config is invalid (every error as `path: reason`), 1 for anything else
// (bad query, package not built, CLI crashed).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

function fail(code, message) {
  process.stderr.write(message.endsWith('\n') ? message : `${message}\n`);
  process.exit(code);
}

let query;
try {
  query = JSON.parse(readFileSync(0, 'utf8') || '{}');
} catch (error) {
  fail(1, `runwatch validate-config: the query on stdin is not JSON: ${error.message}`);
}
if (query === null || typeof query !== 'object' || Array.isArray(query)) fail(1, 'runwatch validate-config: the query must be a JSON object');

const packageDir = typeof query.package_dir === 'string' ? query.package_dir : '';
const configPath = typeof query.config_path === 'string' ? query.config_path : '';
if (packageDir === '' || configPath === '') fail(1, 'runwatch validate-config: query needs package_dir and config_path');
const sinks = typeof query.sinks === 'string' ? query.sinks.split(',').map((s) => s.trim()).filter((s) => s !== '') : [];

const cli = resolve(packageDir, 'bin', 'runwatch.js');
if (!existsSync(cli)) fail(1, `runwatch validate-config: ${cli} not found; package_dir must be the runwatch package root`);

// bin/runwatch.js loads the compiled CLI from dist/; say how to build it instead of printing a module-not-found trace.
if (!existsSync(join(resolve(packageDir), 'dist', 'functions', 'cli', 'main.js'))) {
  fail(1, `runwatch validate-config: the CLI is not built in ${resolve(packageDir)}; run \`npm ci && npm run build\` there first`);
}

const run = spawnSync(process.execPath, [cli, 'validate-config', resolve(configPath)], {
  encoding: 'utf8',
  timeout: 60_000,
  env: process.env,
});
if (run.error) fail(1, `runwatch validate-config: could not run ${cli}: ${run.error.message}`);

if (run.status === 0) {
  const sha256 = createHash('sha256').update(readFileSync(resolve(configPath))).digest('hex');
  let config;
  try {
    const { loadConfigFile } = await import(pathToFileURL(join(resolve(packageDir), 'dist', 'functions', 'config', 'load.js')).href);
    config = await loadConfigFile(resolve(configPath));
  } catch (error) {
    fail(1, `runwatch validate-config: could not load ${configPath} with the package's config loader: ${error?.message ?? error}`);
  }
  const problems = [];
  // Routing fails closed: a sink without a section receives nothing, so one deployed so would drop every finding.
  for (const sink of sinks) {
    if (config?.sinks?.[sink] === undefined) {
      problems.push(
        `sinks.${sink}: the ${sink} sink is deployed (module variable sinks) but the config has no sinks.${sink} section; notify-${sink} would receive no finding (add one, e.g. sinks: {${sink}: {minSeverity: LOW}})`,
      );
    }
  }
  const slack = config?.sinks?.slack;
  if (sinks.includes('slack') && !(slack?.channel || slack?.channelsBySeverity || slack?.channelsByRule)) {
    problems.push(
      'sinks.slack: the slack sink is deployed (module variable sinks) but the config names no channel (channel, channelsBySeverity or channelsByRule); notify-slack would refuse every finding',
    );
  }
  if (problems.length > 0) fail(2, `runwatch: ${configPath} does not fit this deployment; fix these and plan again:\n${problems.join('\n')}`);
  const adminApiFallback = config?.correlation?.adminApiFallback?.enabled === true ? 'true' : 'false';
  process.stdout.write(
    `${JSON.stringify({ valid: 'true', config_path: configPath, config_sha256: sha256, admin_api_fallback: adminApiFallback })}\n`,
  );
  process.exit(0);
}

const details = (run.stderr || run.stdout || '').trim();
if (run.status === 2) {
  fail(2, `runwatch: ${configPath} is not a valid runwatch config; fix these and plan again:\n${details}`);
}
fail(1, `runwatch validate-config exited with ${run.status ?? run.signal}:\n${details}`);
