// Normalized changes of test entries.
import type { ParseResult } from '../../functions/audit/normalize.js';
import type { DeployChange } from '../../functions/model/change.js';

/** The deploy a parse result holds; throws (failing the test with the result) for anything else. */
export function deployOf(result: ParseResult): DeployChange {
  if (result.kind !== 'change' || result.change.kind !== 'deploy') throw new Error(`not a deploy: ${JSON.stringify(result)}`);
  return result.change;
}

