/**
 * The failure budget, counted like AWS SSM's error threshold: the run halts when the number of
 * failed hosts EXCEEDS the budget (maxFailed: 3 tolerates 3 failures and halts on the 4th;
 * maxFailedPercent: 10 of 50 hosts tolerates 5). It is counted over the whole scope, not per batch,
 * so it has none of the per-batch rounding surprises of Ansible's max_fail_percentage.
 * In-doubt hosts count as failed: nobody knows they are fine.
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
