// "Did you mean ...?" for a mistyped name (a config key, a CLI option or command): the nearest of the names allowed.
import { closestMatch } from 'leven';

/**
 * The name among `allowed` nearest to a mistyped `name`, at most one edit per `lettersPerEdit` letters of it away
 * (three at most), so a short or unrelated name gets no guess.
 */
export function nearestName(name: string, allowed: readonly string[], lettersPerEdit: number): string | undefined {
  const maxDistance = Math.min(3, Math.floor(name.length / lettersPerEdit));
  return maxDistance === 0 ? undefined : closestMatch(name, allowed, { maxDistance });
}
