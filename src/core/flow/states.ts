/**
 * The run, host-flow and attempt state machines, as data.
 *
 * Invariants:
 * - These tables are the only definition of which state may follow which.
 * - Nothing assigns a state without `assertTransition` (engine) or a compare-and-set on the old
 *   state (store), so an illegal move is a loud bug, never a silent corruption.
 * - Terminal states are listed explicitly; operators may reopen some of them (retry), which the
 *   tables also spell out.
 */
import { IllegalTransitionError } from "../errors.js";

export const RUN_STATES = [
  "running",
  "paused",
  "halting",
  "aborting",
  "succeeded",
  "failed",
  "aborted",
] as const;
export type RunState = (typeof RUN_STATES)[number];

export const HOST_STATES = [
  "pending",
  "running",
  "reverting",
  "succeeded",
  "failed",
  "in_doubt",
  "skipped",
  "aborted",
] as const;
export type HostState = (typeof HOST_STATES)[number];

export const ATTEMPT_STATES = ["started", "succeeded", "failed", "unknown"] as const;
export type AttemptState = (typeof ATTEMPT_STATES)[number];

type Table<S extends string> = Readonly<Record<S, readonly S[]>>;

export const RUN_TRANSITIONS: Table<RunState> = {
  running: ["paused", "halting", "aborting", "succeeded", "failed"],
  paused: ["running", "aborting"],
  // Failure budget exceeded: no new hosts start; hosts in flight finish their flow. An operator's
  // retry or skip that brings the failures back within the budget (or a resume after one) lets it
  // run again.
  halting: ["failed", "aborting", "paused", "running"],
  aborting: ["aborted"],
  succeeded: ["running"], // reopened by an operator's `retry HOST`
  // Reopened by an operator's `retry HOST` or `skip HOST` (or `resume`) when it may go on:
  // a host is left to drive and the failure budget allows it (core/policy/budget.ts `mayGoOn`).
  failed: ["running"],
  aborted: [],
};

export const HOST_TRANSITIONS: Table<HostState> = {
  pending: ["running", "skipped", "aborted"],
  running: ["reverting", "succeeded", "failed", "in_doubt", "aborted"],
  // A revert of unknown outcome that may not be re-run parks the host like a forward step does.
  reverting: ["failed", "in_doubt", "aborted"],
  succeeded: [],
  // Operator `retry HOST` re-admits; `skip HOST` takes the host out of the run.
  failed: ["pending", "skipped"],
  // Operator `retry HOST` re-runs the doubtful step, forward (running) or revert (reverting).
  in_doubt: ["running", "reverting", "skipped", "failed"],
  skipped: [],
  aborted: [],
};

export const ATTEMPT_TRANSITIONS: Table<AttemptState> = {
  started: ["succeeded", "failed", "unknown"],
  succeeded: [],
  failed: [],
  unknown: [],
};

export const TERMINAL_RUN_STATES: readonly RunState[] = ["succeeded", "failed", "aborted"];
export const TERMINAL_HOST_STATES: readonly HostState[] = [
  "succeeded",
  "failed",
  "in_doubt",
  "skipped",
  "aborted",
];
/**
 * Host states of a flow that can still change (retried, resumed, reverted): while its run is not
 * finished, such a host belongs to that run, and no other run may start on it (`hostsInOtherRuns`).
 */
export const CLAIMING_HOST_STATES: readonly HostState[] = HOST_STATES.filter(
  (s) => HOST_TRANSITIONS[s].length > 0,
);
/** Host states that hold a slot against the concurrency caps. */
export const ACTIVE_HOST_STATES: readonly HostState[] = ["running", "reverting"];

function check<S extends string>(machine: string, table: Table<S>, from: S, to: S): void {
  if (!(table[from] ?? []).includes(to)) throw new IllegalTransitionError(machine, from, to);
}

export function canTransition<S extends string>(table: Table<S>, from: S, to: S): boolean {
  return (table[from] ?? []).includes(to);
}

export function assertRunTransition(from: RunState, to: RunState): void {
  check("run", RUN_TRANSITIONS, from, to);
}
export function assertHostTransition(from: HostState, to: HostState): void {
  check("host", HOST_TRANSITIONS, from, to);
}
export function assertAttemptTransition(from: AttemptState, to: AttemptState): void {
  check("attempt", ATTEMPT_TRANSITIONS, from, to);
}

/** Which states may transition into `to` (for compare-and-set writes). */
export function predecessors<S extends string>(table: Table<S>, to: S): S[] {
  return (Object.keys(table) as S[]).filter((s) => table[s].includes(to));
}

export function isTerminalHost(s: HostState): boolean {
  return TERMINAL_HOST_STATES.includes(s);
}
export function isTerminalRun(s: RunState): boolean {
  return TERMINAL_RUN_STATES.includes(s);
}
