/**
 * `overhaul plan PLAN (-i INV | --fleet SPEC) [--history FILE] [--window D] [--order POLICY]
 * [--samples N] [--explain] [--json]`: the schedule a run of the plan would follow, before
 * anything runs — each region's window (from its utilization history; a run waits for it to
 * open), order, waves, batches with start offsets (from where the window search starts, so they
 * include each wait), hold-over assignments, the estimated makespan, a lower bound and their
 * ratio, how far boot times can move the makespan (the schedule played again with drawn boot
 * times: p10 / p50 / p90), and the risks found; or a refusal that says what is missing.
 *
 * Invariants:
 * - Reads only: nothing is stored, no host is contacted.
 * - Exit 0 a schedule; 4 refused (unplaceable workload, missing hold-overs, no window, window too
 *   short), with every reason; 2 bad input. With `--json` a refusal is JSON on stdout too.
 */
import { InputError } from "../../core/errors.js";
import { PlanRefusal } from "../../core/planner/refusal.js";
import { renderSchedule } from "../../core/planner/render.js";
import type { Window } from "../../core/planner/windows.js";
import { canonicalJson } from "../../core/report/index.js";
import { checkScenarioTargets } from "../../core/sim/scenario.js";
import { loadPlanFile } from "../compose.js";
import { EXIT } from "../exit-codes.js";
import { makeOut, paint } from "../output.js";
import { parseOrder, scheduleFor } from "../planning.js";
import {
  checkWindowFlags,
  chooseWindows,
  durationFlag,
  plannerWindows,
  type WindowFlags,
} from "../windows.js";
import { buildSimFleet, loadScenarioSource, SIM_START, type SimulateOptions, simScope } from "./simulate.js";

export interface PlanOptions
  extends Pick<
      SimulateOptions,
      "inventory" | "fleet" | "workloads" | "scenario" | "seed" | "limit" | "noColor"
    >,
    Partial<Omit<WindowFlags, "window">> {
  order?: string;
  window?: string;
  explain?: boolean;
  json?: boolean;
  /** Plays of the schedule with drawn boot times (default `DEFAULT_SAMPLES`; 0: none). */
  samples?: number;
}

/** Plays with drawn boot times `plan` makes by default: a p90 from 20 draws (seconds at 2,000 hosts). */
export const DEFAULT_SAMPLES = 20;
const MAX_SAMPLES = 1_000;

export async function planCommand(planFile: string, opts: PlanOptions): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  checkWindowFlags(opts, "own");
  const order = parseOrder(opts.order);
  const samples = opts.samples ?? DEFAULT_SAMPLES;
  if (samples > MAX_SAMPLES)
    throw new InputError({
      path: "--samples",
      message: `${samples} plays of the schedule are too many`,
      expected: `0 to ${MAX_SAMPLES}`,
    });
  const loaded = await loadPlanFile(planFile);
  const source = await loadScenarioSource(opts.scenario, opts.seed);
  const { scenario } = source;
  const fleet = await buildSimFleet(opts, scenario.seed, out);
  checkScenarioTargets(scenario, fleet.hosts, source.file, source.placeOf);
  const scope = simScope(fleet, loaded, opts.limit);
  let windowMs: Record<string, number> | undefined;
  if (opts.window !== undefined && opts.history === undefined) {
    const ms = durationFlag("--window", opts.window);
    windowMs = Object.fromEntries(scope.map((h) => [h.region, ms]));
  }
  try {
    let windows: Window[] | undefined;
    let chosen: ReturnType<typeof plannerWindows> | undefined;
    if (opts.history !== undefined) {
      // Searched from --from as given, else from the history's end (for a history written by
      // `overhaul history`, when simulations start, so `overhaul simulate --schedule` with the
      // same flags waits for the same openings); offsets are from where the search starts.
      const found = await chooseWindows(scope, { ...opts, history: opts.history });
      windows = found.windows;
      chosen = plannerWindows(windows, found.from);
    }
    const schedule = scheduleFor({
      loaded,
      fleet,
      scope,
      scenario,
      order,
      seed: loaded.plan.seed ?? scenario.seed,
      startAt: SIM_START,
      samples,
      ...(windowMs !== undefined ? { windowMs } : {}),
      ...(chosen ?? {}),
    });
    if (opts.json)
      out.write(
        canonicalJson({
          plan: loaded.plan.name,
          schedule,
          ...(windows !== undefined ? { windows: windows.map(windowJson) } : {}),
        }),
      );
    else {
      out.write(`plan ${loaded.plan.name}: `);
      if (windows !== undefined) out.write(renderWindows(windows));
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

function windowJson(w: Window) {
  return { ...w, start: new Date(w.startMs).toISOString(), end: new Date(w.endMs).toISOString() };
}

function renderWindows(ws: readonly Window[]): string {
  const lines = ws.map(
    (w) =>
      `  ${w.region}: ${w.label} (from ${new Date(w.startMs).toISOString().slice(0, 16)}Z; predicted utilization ${(100 * w.utilization).toFixed(0)} %)`,
  );
  return `windows (each region's quietest stretch in its history):\n${lines.join("\n")}\n`;
}
