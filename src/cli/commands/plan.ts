/**
 * `overhaul plan PLAN (-i INV | --fleet SPEC) [--window D] [--order POLICY] [--explain] [--json]`:
 * the schedule a run of the plan would follow, before anything runs — order, waves, batches with
 * start offsets, hold-over assignments, the estimated makespan, a lower bound and their ratio, and
 * the risks found; or a refusal that says what is missing.
 *
 * Invariants:
 * - Reads only: nothing is stored, no host is contacted.
 * - Exit 0 a schedule; 4 refused (unplaceable workload, missing hold-overs, window too short), with
 *   every reason; 2 bad input. With `--json` a refusal is JSON on stdout too.
 */
import { InputError } from "../../core/errors.js";
import { parseDuration } from "../../core/plan/duration.js";
import { PlanRefusal } from "../../core/planner/refusal.js";
import { renderSchedule } from "../../core/planner/render.js";
import { canonicalJson } from "../../core/report/index.js";
import { checkScenarioTargets } from "../../core/sim/scenario.js";
import { loadPlanFile } from "../compose.js";
import { EXIT } from "../exit-codes.js";
import { makeOut, paint } from "../output.js";
import { parseOrder, scheduleFor } from "../planning.js";
import { buildSimFleet, loadScenario, SIM_START, type SimulateOptions, simScope } from "./simulate.js";

export interface PlanOptions
  extends Pick<
    SimulateOptions,
    "inventory" | "fleet" | "workloads" | "scenario" | "seed" | "limit" | "noColor"
  > {
  order?: string;
  window?: string;
  explain?: boolean;
  json?: boolean;
}

export async function planCommand(planFile: string, opts: PlanOptions): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  const order = parseOrder(opts.order);
  const loaded = await loadPlanFile(planFile);
  const scenario = await loadScenario(opts.scenario, opts.seed);
  const fleet = await buildSimFleet(opts, scenario.seed, out);
  checkScenarioTargets(scenario, fleet.hosts, opts.scenario ?? "(scenario)");
  const scope = simScope(fleet, loaded, opts.limit);
  let windowMs: Record<string, number> | undefined;
  if (opts.window !== undefined) {
    const ms = parseWindow(opts.window);
    windowMs = Object.fromEntries(scope.map((h) => [h.region, ms]));
  }
  try {
    const schedule = scheduleFor({
      loaded,
      fleet,
      scope,
      scenario,
      order,
      seed: loaded.plan.seed ?? scenario.seed,
      startAt: SIM_START,
      ...(windowMs !== undefined ? { windowMs } : {}),
    });
    if (opts.json) out.write(canonicalJson({ plan: loaded.plan.name, schedule }));
    else {
      out.write(`plan ${loaded.plan.name}: `);
      out.write(
        renderSchedule(schedule, { explain: opts.explain === true, paint: (s, t) => paint(out, s, t) }),
      );
    }
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof PlanRefusal)) throw e;
    if (opts.json) out.write(canonicalJson({ plan: loaded.plan.name, refused: e.refusals }));
    out.err(`${paint(out, "red", "refused:")} plan ${loaded.plan.name} cannot be scheduled:\n`);
    for (const line of e.message.split("\n")) out.err(`  - ${line}\n`);
    return EXIT.refused;
  }
}

function parseWindow(v: string): number {
  const ms = parseDuration(v);
  if (ms === undefined || ms <= 0)
    throw new InputError({ path: "--window", message: `"${v}" is not a duration`, expected: "e.g. 4h, 90m" });
  return ms;
}
