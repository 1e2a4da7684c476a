// The config `npm run dev` runs: the user's file, read as validate-config reads it, plus the local sinks.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, readConfigText, validateConfig } from '../config/load.js';

/** The sinks the local stack runs: both need nothing outside this machine. */
export const DEV_SINKS = ['console', 'webhook'] as const;

/** The user's config plus console and webhook sink sections (routing everything) when it has none. */
export function devConfig(file: string, workDir: string): { ok: true; path: string } | { ok: false; message: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { ok: false, message: `runwatch dev: cannot read ${file}: ${(error as Error).message}` };
  }
  // Read as validate-config and the functions read it (merge keys, duplicate keys refused), not a plainer YAML.
  let raw: unknown;
  try {
    const read = readConfigText(text, file);
    if (read.yamlProblems.length > 0) throw new ConfigError(file, read.yamlProblems);
    raw = read.data;
  } catch (error) {
    return { ok: false, message: error instanceof ConfigError ? error.message : String(error) };
  }
  const config = { ...(raw as Record<string, unknown>) };
  const sinks = { ...((config['sinks'] as Record<string, unknown> | undefined) ?? {}) };
  for (const sink of DEV_SINKS) sinks[sink] ??= { minSeverity: 'LOW' };
  config['sinks'] = sinks;
  try {
    validateConfig(config, file);
  } catch (error) {
    return { ok: false, message: error instanceof ConfigError ? error.message : String(error) };
  }
  const out = join(workDir, 'runwatch.json');
  writeFileSync(out, JSON.stringify(config, null, 2));
  return { ok: true, path: out };
}
