/**
 * Retry decisions as pure functions (TaskFlow's retry/completer split, Temporal's retry policy).
 *
 * Invariants:
 * - `backoffMs` is exponential, capped at `maxMs`, and jitter only ever shortens the delay
 *   (delay in [base * (1 - jitter), base]), so the cap holds.
 * - A failure that is not retryable (refused credentials, changed host key) never retries.
 * - In-doubt resolution never re-runs a non-idempotent effect without a `check`.
 */
import { hasRevert, type RetryPolicy, type Step } from "../plan/compile.js";

/** Delay before attempt `nextAttempt` (2 = the first retry). `u` is uniform in [0, 1). */
export function backoffMs(policy: RetryPolicy, nextAttempt: number, u: number): number {
  const exp = Math.max(0, nextAttempt - 2);
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** exp);
  return Math.round(base * (1 - policy.jitter * u));
}

export type FailureDecision = { action: "retry"; delayMs: number } | { action: "give-up" };

/** After a failed attempt number `attemptsUsed` of `step`. */
export function decideAfterFailure(
  step: Step,
  attemptsUsed: number,
  retryable: boolean,
  u: number,
): FailureDecision {
  if (!retryable || attemptsUsed >= step.retry.attempts) return { action: "give-up" };
  return { action: "retry", delayMs: backoffMs(step.retry, attemptsUsed + 1, u) };
}

export type DoubtResolution =
  /** Ask the step's check (or the kind's built-in check) whether the effect happened. */
  | "check"
  /** Safe to run again: the step is idempotent. */
  | "rerun"
  /** Neither: park the host as in_doubt and ask an operator. */
  | "park";

/** An attempt whose effect may or may not have happened (crash after intent, timeout, dropped link). */
export function resolveDoubt(step: Step, phase: "run" | "revert", hasBuiltinCheck: boolean): DoubtResolution {
  if (phase === "run" && (step.check !== undefined || hasBuiltinCheck)) return "check";
  if (step.idempotent) return "rerun";
  return "park";
}

/**
 * The steps to revert, in order, after step `failedIndex` failed: the failed step itself (its
 * revert must cope with a partial effect) and every completed step before it, newest first, down
 * to (not including) the last point of no return. Steps that cannot be reverted are left out.
 */
export function revertOrder(steps: readonly Step[], failedIndex: number, noReturnIndex: number): number[] {
  const out: number[] = [];
  for (let i = failedIndex; i > noReturnIndex; i--) {
    const s = steps[i];
    if (s && hasRevert(s)) out.push(i);
  }
  return out;
}

/** Next step index to revert at or below `from`, or -1 when the revert is complete. */
export function nextRevertIndex(steps: readonly Step[], from: number, noReturnIndex: number): number {
  for (let i = from; i > noReturnIndex; i--) {
    const s = steps[i];
    if (s && hasRevert(s)) return i;
  }
  return -1;
}
