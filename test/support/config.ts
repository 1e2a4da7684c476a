import { ConfigError, parseConfig } from '../../functions/config/load.js';

/** Every problem `parseConfig` reports for `text`, as `path: reason` (or the paths alone); none for a valid config. */
export function configProblems(text: string, pathsOnly = false): string[] {
  try {
    parseConfig(text, 'test.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => (pathsOnly ? p.path : `${p.path}: ${p.reason}`));
    throw error;
  }
  return [];
}
