#!/usr/bin/env node
// Terraform `external` data source: validates the runwatch config with the package's own validator during plan, so an
// invalid config stops `terraform plan` before anything is built or deployed.
//
// Protocol (hashicorp/external): stdin is a JSON object of strings (the data source's `query`: package_dir,
// config_path). On success print ONE JSON object whose values are all strings and exit 0. On failure print a
// human-readable message on stderr and exit non-zero; Terraform shows stderr and ignores stdout.
//
// Exit codes mirror the CLI's: 2 when the config is invalid (every error as `path: reason`), 1 for anything else
// (bad query, package not built, CLI crashed).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

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
  process.stdout.write(`${JSON.stringify({ valid: 'true', config_path: configPath, config_sha256: sha256 })}\n`);
  process.exit(0);
}

const details = (run.stderr || run.stdout || '').trim();
if (run.status === 2) {
  fail(2, `runwatch: ${configPath} is not a valid runwatch config; fix these and plan again:\n${details}`);
}
fail(1, `runwatch validate-config exited with ${run.status ?? run.signal}:\n${details}`);
