/**
 * A run pins one numbered plan revision; the coordinator always runs exactly that text, never the
 * file's current content (rollback means "run revision N", never "edit and re-run"), with the caps
 * of the schedule the run follows, if any; `runOpensAt` gives that schedule's window openings.
 */
import { InputError } from "../core/errors.js";
import { compilePlan, type Plan } from "../core/plan/compile.js";
import { parsePlanText } from "../core/plan/load.js";
import { skeletonPlan, stepNamesOfText } from "../core/plan/skeleton.js";
import { scheduledPlan, scheduleOpensAt } from "../core/planner/run-schedule.js";
import type { PlanRevisionRecord, RunRecord, Store } from "../ports/store.js";

/**
 * A stored revision's plan for showing a run (status, summaries, reports, the API): undefined when
 * it no longer validates (a later version checks plans more strictly), so an old run can always
 * be looked at. Driving it again needs `loadRunPlan`, which says why it cannot.
 */
export function planOfRevision(rev: PlanRevisionRecord | undefined): Plan | undefined {
  if (!rev) return undefined;
  try {
    return compilePlan(parsePlanText(rev.body, rev.name));
  } catch {
    return undefined;
  }
}

export async function loadRunPlan(store: Store, run: RunRecord): Promise<Plan> {
  return compilePinned(run, await pinnedRevision(store, run));
}

/**
 * The plan for finishing an abort, which runs nothing and needs only the steps' names in order: the
 * run's plan, or, when its pinned revision no longer validates, that revision's skeleton
 * (core/plan/skeleton.ts), so a run this version cannot drive can still be aborted and its hosts
 * set free. Without even readable step names, `loadRunPlan`'s error.
 */
export async function loadAbortPlan(store: Store, run: RunRecord): Promise<Plan> {
  const rev = await pinnedRevision(store, run);
  try {
    return compilePinned(run, rev);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    const names = stepNamesOfText(rev.body);
    const skeleton = names === undefined ? undefined : skeletonPlan(run.planName, names);
    if (skeleton === undefined) throw e;
    return skeleton;
  }
}

/** A plan to show `run` with (status, summaries): its revision's, or undefined (`planOfRevision`). */
export async function shownPlanOf(store: Store, run: RunRecord): Promise<Plan | undefined> {
  return planOfRevision(await store.getPlanRevision(run.planName, run.planRevision));
}

async function pinnedRevision(store: Store, run: RunRecord): Promise<PlanRevisionRecord> {
  const rev = await store.getPlanRevision(run.planName, run.planRevision);
  if (!rev)
    throw new Error(
      `plan ${run.planName} revision ${run.planRevision} of run ${run.id} is missing from the store`,
    );
  return rev;
}

/** The pinned revision compiled, with the caps of the schedule the run follows, if any. */
function compilePinned(run: RunRecord, rev: PlanRevisionRecord): Plan {
  let plan: Plan;
  try {
    plan = compilePlan(parsePlanText(rev.body, `${run.planName}@${run.planRevision}`));
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    // Stored by an earlier version that checked plans less strictly: it is run as written or not
    // at all, never reinterpreted.
    throw new InputError(
      e.problems.map((p) => ({
        ...p,
        message: `${p.message} (the plan revision this run pins no longer validates: finish the run with the version that started it, or abort it)`,
      })),
      { cause: e },
    );
  }
  // A run that follows a schedule also keeps the schedule's caps (see core/planner/run-schedule.ts).
  return scheduledPlan(plan, run.options);
}

/** Region -> when its window opens (epoch ms) for a run that follows a schedule with windows. */
export function runOpensAt(run: RunRecord): Readonly<Record<string, number>> | undefined {
  return scheduleOpensAt(run.options);
}
