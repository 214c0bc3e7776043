/**
 * `overhaul history (-i INV | --fleet SPEC) [--days 14] [--step 15m] [--format csv|prometheus]
 * [-o FILE]`: the utilization history the simulated fleet would have recorded (each region's daily
 * curve in its time zone, quieter at weekends, with noise), ending when simulations start, to try
 * `overhaul plan --history` on.
 *
 * Invariants: reads only the fleet; the same fleet and seed give the same bytes. Exit 0, or 2 for
 * bad input.
 */
import { writeFile } from "node:fs/promises";
import { InputError } from "../../core/errors.js";
import { generateHistory, historyCsv, historyPrometheus } from "../../core/sim/history-gen.js";
import { makeOut } from "../output.js";
import { daysFlag, durationFlag } from "../windows.js";
import { buildSimFleet, SIM_START, type SimulateOptions } from "./simulate.js";

export interface HistoryOptions extends Pick<SimulateOptions, "inventory" | "fleet" | "seed" | "noColor"> {
  days?: number;
  step?: string;
  format?: string;
  output?: string;
}

/** Samples per region a history may hold (14 days at 15 s; Prometheus itself answers 11,000 per series). */
const MAX_SAMPLES_PER_REGION = 80_640;

export async function historyCommand(opts: HistoryOptions): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  const format = opts.format ?? "csv";
  if (format !== "csv" && format !== "prometheus")
    throw new InputError({
      path: "--format",
      message: `unknown format "${format}"`,
      expected: "csv or prometheus",
    });
  const days = daysFlag(opts.days, 14);
  const stepMs = durationFlag("--step", opts.step ?? "15m");
  const perRegion = Math.floor((days * 86_400_000) / stepMs);
  if (perRegion > MAX_SAMPLES_PER_REGION)
    throw new InputError({
      path: "--step",
      message: `${opts.step} over ${days} day(s) is ${perRegion.toLocaleString("en-US")} samples per region`,
      expected: `at most ${MAX_SAMPLES_PER_REGION.toLocaleString("en-US")}: a longer --step or fewer --days`,
    });
  const fleet = await buildSimFleet({ ...opts, workloads: 0 }, opts.seed ?? 1, out);
  const points = generateHistory(fleet.hosts, {
    from: SIM_START - days * 86_400_000,
    days,
    stepMs,
    seed: opts.seed ?? 1,
  });
  const text = format === "csv" ? historyCsv(points) : historyPrometheus(points);
  if (opts.output === undefined) out.write(text);
  else
    await writeFile(opts.output, text).catch((e: unknown) => {
      throw new InputError(
        { file: opts.output, message: `cannot write: ${(e as Error).message}` },
        { cause: e },
      );
    });
  return 0;
}
