/**
 * What a run keeps of a schedule so the engine follows it: each host's wave, order and the
 * planner's own failure domains (in the host flow), and the per-value caps and each region's window
 * opening (epoch ms, when windows were chosen) in the run's options.
 *
 * Invariants:
 * - The engine admits with the same function the planner played forward (core/policy/admission.ts),
 *   so a run that keeps these starts hosts in the planned order under the planned caps.
 * - A region's hosts do not start before its window opens (`schedule.opensAt`, read back by
 *   `scheduleOpensAt` and given to admission); regions without an opening start at once.
 * - Read back defensively: options written by an older Overhaul or by hand are validated, and
 *   anything malformed is an error, never silently ignored.
 */
import { z } from "zod";
import type { Plan } from "../plan/compile.js";
import type { Schedule } from "./planner.js";

export interface RunSchedule {
  hosts: readonly { host: string; wave: number; order: number; domains: Readonly<Record<string, string>> }[];
  caps: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Region -> when its window opens (epoch ms); absent when no windows were chosen. */
  opensAt?: Readonly<Record<string, number>>;
}

export function runScheduleOf(s: Schedule): RunSchedule {
  return {
    hosts: s.hosts.map((h) => ({ host: h.host, wave: h.wave, order: h.order, domains: h.domains })),
    caps: s.caps,
    ...(s.regions.some((r) => r.opensAt !== null)
      ? {
          opensAt: Object.fromEntries(
            s.regions.flatMap((r) => (r.opensAt === null ? [] : [[r.region, r.opensAt] as const])),
          ),
        }
      : {}),
  };
}

const capsSchema = z.record(z.string(), z.record(z.string(), z.number().int().min(1)));
const opensAtSchema = z.record(z.string(), z.number().int().nonnegative());
const optionsSchema = z
  .object({ schedule: z.object({ caps: capsSchema, opensAt: opensAtSchema.optional() }).optional() })
  .passthrough();

function parseOptions(options: Record<string, unknown>) {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new Error(`the run's schedule options are malformed: ${parsed.error.message}`);
  return parsed.data;
}

/** The run's options with the schedule's caps (what `scheduledPlan` reads back). */
export function optionsWithSchedule(
  options: Record<string, unknown>,
  schedule: RunSchedule,
): Record<string, unknown> {
  return {
    ...options,
    schedule: {
      caps: schedule.caps,
      ...(schedule.opensAt !== undefined ? { opensAt: schedule.opensAt } : {}),
    },
  };
}

/** The plan as a run that follows a schedule runs it: the schedule's caps added to the plan's. */
export function scheduledPlan(plan: Plan, options: Record<string, unknown>): Plan {
  const caps = parseOptions(options).schedule?.caps;
  if (caps === undefined) return plan;
  return Object.freeze({
    ...plan,
    concurrency: Object.freeze({ ...plan.concurrency, perDomainValue: caps }),
  });
}

/** Region -> when its window opens (epoch ms), for admission; undefined: the run has no windows. */
export function scheduleOpensAt(
  options: Record<string, unknown>,
): Readonly<Record<string, number>> | undefined {
  return parseOptions(options).schedule?.opensAt;
}
