/**
 * Which run `retry HOST` / `skip HOST` act on when the operator names no run.
 *
 * Invariants:
 * - Only a run that has the host is ever chosen (the newest one would otherwise take an action
 *   meant for another run, where the same host waits for a decision).
 * - When the host is unfinished in more than one unfinished run (the run neither succeeded nor
 *   aborted, the host neither succeeded, skipped nor aborted in it), nothing is chosen: the
 *   operator names the run. An unfinished host in exactly one such run picks that run; otherwise
 *   the newest run that has the host (where the action then says why it does not apply).
 */
import type { HostState, RunState } from "./states.js";

export interface RunWithHost {
  run: string;
  runState: RunState;
  /** The host's state in the run; undefined when the run does not have the host. */
  host: HostState | undefined;
}

export type HostRunChoice =
  | { run: string }
  | { none: true }
  /** The runs (newest first) in which the host is still unfinished. */
  | { ambiguous: RunWithHost[] };

const FINISHED_RUN: readonly RunState[] = ["succeeded", "aborted"];
const FINISHED_HOST: readonly HostState[] = ["succeeded", "skipped", "aborted"];

export function openForHost(r: RunWithHost): boolean {
  return r.host !== undefined && !FINISHED_RUN.includes(r.runState) && !FINISHED_HOST.includes(r.host);
}

/** `runs` newest first. */
export function chooseRunForHost(runs: readonly RunWithHost[]): HostRunChoice {
  const having = runs.filter((r) => r.host !== undefined);
  const open = having.filter(openForHost);
  if (open.length > 1) return { ambiguous: open };
  const chosen = open[0] ?? having[0];
  return chosen === undefined ? { none: true } : { run: chosen.run };
}
