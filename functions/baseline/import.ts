// What of a replay's baseline (`runwatch replay --state FILE`) goes into the live pipeline's store
// (`runwatch import-baselines`): the facts, never what only that replay knew of.
// - `open`: findings the replay raised are still in force there, but no sink ever received them (a replay without
//   --publish prints them). Kept, a later live entry that takes the risk away would publish the resolution of a
//   finding no sink has, and the detectors that stay quiet while a finding of theirs is open (one exposure, one
//   alert) would stay quiet about one nobody was told of.
// - `rollouts` and `dueAtMs`: deploys still waiting for their other half when the replay ended. The live sweep
//   queries `dueAtMs` and would judge them, days later, as new, and publish what they raise; their other half
//   belongs to the live pipeline now (README "Start from history").
// - `seen`: the entries the replay applied. Kept, one that reaches detect as well (a redrive of its dead letter, an
//   entry logged before --until that the sink exported after its creation, a replay run past it) was "already
//   applied" and raised nothing: its only judge was the replay, maybe with another config, whose output went to no
//   sink. Taken out, detect judges it against the history before its own time, as it judges any late entry.
// Everything else is kept as the replay wrote it, an older shape too: the live store reads what the file store
// writes (the same ServiceBaseline, the same optional histories). A Firestore document also holds an outbox and
// spill documents; a state file has neither, and the import writes with no delivery, so neither is written.
import { DATED_LISTS, INSTANTS } from './shape.js';
import type { ServiceBaseline, TimePoint } from './state.js';

export interface ImportableBaseline {
  readonly baseline: ServiceBaseline;
  /** What was taken out and counted: the replay's open findings and its deploys still waiting (its `seen` goes too). */
  readonly stripped: { readonly openFindings: number; readonly waitingDeploys: number };
}

/** `baseline` as the live store should get it (a copy; `baseline` is not changed). */
export function importableBaseline(baseline: ServiceBaseline): ImportableBaseline {
  const { open, rollouts, dueAtMs: _due, seen: _seen, ...facts } = baseline;
  return { baseline: facts, stripped: { openFindings: open?.length ?? 0, waitingDeploys: rollouts?.length ?? 0 } };
}

/**
 * How far past this machine's clock a time may be (the clocks of Cloud Logging and of this machine differ; not
 * correlate/rollout.ts CLOCK_SKEW_MS, the second between two of Google's clocks).
 */
const LOCAL_CLOCK_SKEW_MS = 10 * 60 * 1000;

/**
 * Why the live pipeline cannot take `baseline` as it is (`a FIELD ...`, for a message), or undefined: a time after
 * `nowMs` (LOCAL_CLOCK_SKEW_MS allowed), which no logged entry has. A hand edit that dated a delete in the future made
 * every live entry "about the deleted service" (a public grant was published with its own resolution, and not
 * recorded); a fact dated in the future made every live entry late (it closed nothing). The shape of each field is
 * checked where the state file is read (FileBaselineStore, shape.ts misshapenField).
 */
export function importProblem(baseline: ServiceBaseline, nowMs: number): string | undefined {
  const fields = baseline as unknown as Readonly<Record<string, unknown>>;
  const latest = nowMs + LOCAL_CLOCK_SKEW_MS;
  const future = (name: string, t: number): string => `a ${name} dated after now (${new Date(t).toISOString()}), which no logged entry is`;
  for (const name of DATED_LISTS) {
    const late = (fields[name] as readonly TimePoint<unknown>[] | undefined)?.find((point) => point.t > latest);
    if (late) return future(name, late.t);
  }
  const late = Object.values(baseline.repositories).find((t) => t > latest);
  if (late !== undefined) return future('repositories', late);
  for (const name of INSTANTS) {
    const value = fields[name] as number | undefined;
    if (value !== undefined && value > latest) return future(name, value);
  }
  return undefined;
}

/**
 * True when `key` has the shape baselineKey (store.ts) gives: PROJECT/LOCATION/SERVICE (a folder's or organization's
 * IAM key has a `/` more: `folders/1/-/*`), no part empty, well-formed. A replay writes no other; a hand-edited one is
 * never read by the live pipeline, and the empty key is an empty document id, which stopped the import.
 */
export function isBaselineKey(key: string): boolean {
  return key.isWellFormed() && /^[^/]+(\/[^/]+)?\/[^/]+\/[^/]+$/.test(key);
}
