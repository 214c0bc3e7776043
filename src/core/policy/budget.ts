/**
 * The failure budget, counted like AWS SSM's error threshold: the run halts when the number of
 * failed hosts EXCEEDS the budget (maxFailed: 3 tolerates 3 failures and halts on the 4th;
 * maxFailedPercent: 10 of 50 hosts tolerates 5). It is counted over the whole scope, not per batch,
 * so it has none of the per-batch rounding surprises of Ansible's max_fail_percentage.
 * In-doubt hosts count as failed: nobody knows they are fine. Messages say "failed or in doubt"
 * and give both numbers, so a run halted by hosts in doubt does not read as one with failures.
 *
 * Whether a finished (or halting) run may go on after an operator's retry or skip is decided here
 * too (`mayGoOn`): only when some host is left to drive and the budget allows starting it.
 */
import type { HostState } from "../flow/states.js";
import type { FailureBudget } from "../plan/compile.js";

export function countsAsFailed(s: HostState): boolean {
  return s === "failed" || s === "in_doubt";
}

export function budgetExceeded(budget: FailureBudget, total: number, failed: number): boolean {
  if (budget.maxFailed !== undefined && failed > budget.maxFailed) return true;
  if (budget.maxFailedPercent !== undefined && total > 0 && (failed * 100) / total > budget.maxFailedPercent)
    return true;
  return false;
}

/**
 * How many hosts may be failed or in doubt before the budget is exceeded: the largest n that
 * `budgetExceeded` accepts, so the two never disagree. The percentage's share is first estimated
 * in floating point (`18.4 * 375 / 100` is 68.99999999999999, not 69) and then corrected by
 * `budgetExceeded` itself, whose comparison of `failed * 100 / total` with the percentage is exact
 * at the edge (both round the same decimal to the same double).
 */
export function budgetAllows(budget: FailureBudget, total: number): number {
  let n = Number.POSITIVE_INFINITY;
  if (budget.maxFailed !== undefined) n = Math.min(n, budget.maxFailed);
  if (budget.maxFailedPercent !== undefined && total > 0) {
    const only = { maxFailedPercent: budget.maxFailedPercent };
    let k = Math.max(0, Math.floor((budget.maxFailedPercent * total) / 100));
    while (k > 0 && budgetExceeded(only, total, k)) k--;
    while (!budgetExceeded(only, total, k + 1) && k < total) k++;
    n = Math.min(n, k);
  }
  return n;
}

/** `maxFailed 0`, `maxFailedPercent 10`, or both. */
export function describeBudget(budget: FailureBudget): string {
  const parts: string[] = [];
  if (budget.maxFailed !== undefined) parts.push(`maxFailed ${budget.maxFailed}`);
  if (budget.maxFailedPercent !== undefined) parts.push(`maxFailedPercent ${budget.maxFailedPercent}`);
  return parts.join(", ");
}

/** The hosts of a run by what the budget and `mayGoOn` look at. */
export interface Tally {
  total: number;
  failed: number;
  inDoubt: number;
  /** Not started yet (or retried): admitted only while the run runs within its budget. */
  pending: number;
  /** Running or reverting: driven to their end even while the run halts. */
  active: number;
}

export function tally(states: Iterable<HostState>): Tally {
  const t: Tally = { total: 0, failed: 0, inDoubt: 0, pending: 0, active: 0 };
  for (const s of states) {
    t.total++;
    if (s === "failed") t.failed++;
    else if (s === "in_doubt") t.inDoubt++;
    else if (s === "pending") t.pending++;
    else if (s === "running" || s === "reverting") t.active++;
  }
  return t;
}

/** `2 of 4 hosts failed or in doubt (0 failed, 2 in doubt; maxFailed 0)`. */
export function describeFailures(budget: FailureBudget, t: Tally): string {
  return `${t.failed + t.inDoubt} of ${t.total} hosts failed or in doubt (${t.failed} failed, ${t.inDoubt} in doubt; ${describeBudget(budget)})`;
}

/** The reason a run halts with. */
export function budgetExceededReason(budget: FailureBudget, t: Tally): string {
  return `failure budget exceeded: ${describeFailures(budget, t)}`;
}

export type GoOn =
  | { go: true }
  /** Nothing is left to drive: every host is finished. */
  | { go: false; why: "nothing-left" }
  /**
   * Hosts wait to start, but the budget is still exceeded: `fewer` of the failed or in-doubt
   * hosts must be retried or skipped first.
   */
  | { go: false; why: "budget"; fewer: number; message: string };

/**
 * May a run that is halting or finished go on (be set running again)? Yes when a host is running or
 * reverting (a retried in-doubt host: it is driven to its end, even if the run halts again), or
 * when hosts wait to start and the budget allows starting them.
 */
export function mayGoOn(budget: FailureBudget, t: Tally): GoOn {
  if (t.active > 0) return { go: true };
  if (t.pending === 0) return { go: false, why: "nothing-left" };
  const bad = t.failed + t.inDoubt;
  if (!budgetExceeded(budget, t.total, bad)) return { go: true };
  const fewer = bad - budgetAllows(budget, t.total);
  return {
    go: false,
    why: "budget",
    fewer,
    message: `the failure budget is still exceeded: ${describeFailures(budget, t)}; ${t.pending} host(s) wait to start until ${fewer} more of the failed or in-doubt hosts are retried or skipped`,
  };
}
