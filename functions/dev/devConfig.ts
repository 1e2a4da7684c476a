// The config `npm run dev` runs: the user's file, read as validate-config reads it (its problems shown escaped, as
// validate-config shows them), plus the local sinks.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, configText, readConfigText, validateConfig } from '../config/load.js';
import { terminalSafe } from '../untrustedText.js';

/** The sinks the local stack runs: both need nothing outside this machine. */
export const DEV_SINKS = ['console', 'webhook'] as const;

/** The user's config plus console and webhook sink sections (routing everything) when it has none. */
export function devConfig(file: string, workDir: string): { ok: true; path: string } | { ok: false; message: string } {
  let text: string;
  try {
    text = configText(readFileSync(file)); // UTF-8, or UTF-16 with a byte order mark, as loadConfigFile reads it
  } catch (error) {
    return { ok: false, message: `runwatch dev: cannot read ${terminalSafe(file)}: ${terminalSafe((error as Error).message)}` };
  }
  // Read as validate-config and the functions read it (merge keys, duplicate keys refused), not a plainer YAML, and
  // every problem reported at once with the schema's, as validate-config does.
  try {
    const { data, yamlProblems, written } = readConfigText(text, file);
    const config = withDevSinks(data);
    validateConfig(config, file, yamlProblems, written);
    const out = join(workDir, 'runwatch.json');
    writeFileSync(out, JSON.stringify(config, null, 2));
    return { ok: true, path: out };
  } catch (error) {
    // Paths, keys and values come from the file, and the message goes to a terminal: escaped, as validate-config shows them.
    if (error instanceof ConfigError) {
      return { ok: false, message: `invalid config ${terminalSafe(error.source)}:\n${error.problems.map((p) => `  ${terminalSafe(`${p.path}: ${p.reason}`)}`).join('\n')}` };
    }
    return { ok: false, message: terminalSafe(String(error)) };
  }
}

/**
 * The config with a console and a webhook section routing everything, where it has none. A config or `sinks` that
 * is not a mapping is left as it is, for the schema to refuse as validate-config does.
 */
function withDevSinks(data: unknown): unknown {
  if (!isMapping(data)) return data;
  const sinks = data['sinks'] === undefined ? {} : data['sinks'];
  if (!isMapping(sinks)) return data;
  const withLocal: Record<string, unknown> = { ...sinks };
  for (const sink of DEV_SINKS) withLocal[sink] ??= { minSeverity: 'LOW' };
  return { ...data, sinks: withLocal };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
