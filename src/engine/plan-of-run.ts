/**
 * A run pins one numbered plan revision; the coordinator always runs exactly that text, never the
 * file's current content (rollback means "run revision N", never "edit and re-run"), with the caps
 * of the schedule the run follows, if any; `runOpensAt` gives that schedule's window openings.
 */
import { compilePlan, type Plan } from "../core/plan/compile.js";
import { parsePlanText } from "../core/plan/load.js";
import { scheduledPlan, scheduleOpensAt } from "../core/planner/run-schedule.js";
import type { RunRecord, Store } from "../ports/store.js";

export async function loadRunPlan(store: Store, run: RunRecord): Promise<Plan> {
  const rev = await store.getPlanRevision(run.planName, run.planRevision);
  if (!rev)
    throw new Error(
      `plan ${run.planName} revision ${run.planRevision} of run ${run.id} is missing from the store`,
    );
  // A run that follows a schedule also keeps the schedule's caps (see core/planner/run-schedule.ts).
  return scheduledPlan(
    compilePlan(parsePlanText(rev.body, `${run.planName}@${run.planRevision}`)),
    run.options,
  );
}

/** Region -> when its window opens (epoch ms) for a run that follows a schedule with windows. */
export function runOpensAt(run: RunRecord): Readonly<Record<string, number>> | undefined {
  return scheduleOpensAt(run.options);
}
