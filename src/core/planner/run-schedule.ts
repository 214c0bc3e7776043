/**
 * What a run keeps of a schedule so the engine follows it: each host's wave, order and the
 * planner's own failure domains (in the host flow), and the per-value caps (in the run's options).
 *
 * Invariants:
 * - The engine admits with the same function the planner played forward (core/policy/admission.ts),
 *   so a run that keeps these starts hosts in the planned order under the planned caps.
 * - Read back defensively: options written by an older Overhaul or by hand are validated, and
 *   anything malformed is an error, never silently ignored.
 */
import { z } from "zod";
import type { Plan } from "../plan/compile.js";
import type { Schedule } from "./planner.js";

export interface RunSchedule {
  hosts: readonly { host: string; wave: number; order: number; domains: Readonly<Record<string, string>> }[];
  caps: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

export function runScheduleOf(s: Schedule): RunSchedule {
  return {
    hosts: s.hosts.map((h) => ({ host: h.host, wave: h.wave, order: h.order, domains: h.domains })),
    caps: s.caps,
  };
}

const capsSchema = z.record(z.string(), z.record(z.string(), z.number().int().min(1)));
const optionsSchema = z.object({ schedule: z.object({ caps: capsSchema }).optional() }).passthrough();

/** The run's options with the schedule's caps (what `scheduledPlan` reads back). */
export function optionsWithSchedule(
  options: Record<string, unknown>,
  schedule: RunSchedule,
): Record<string, unknown> {
  return { ...options, schedule: { caps: schedule.caps } };
}

/** The plan as a run that follows a schedule runs it: the schedule's caps added to the plan's. */
export function scheduledPlan(plan: Plan, options: Record<string, unknown>): Plan {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new Error(`the run's schedule options are malformed: ${parsed.error.message}`);
  const caps = parsed.data.schedule?.caps;
  if (caps === undefined) return plan;
  return Object.freeze({
    ...plan,
    concurrency: Object.freeze({ ...plan.concurrency, perDomainValue: caps }),
  });
}
