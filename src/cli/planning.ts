/**
 * The planner wired to what the CLI knows: the fleet (inventory or generated), the scope, the
 * scenario's boot times, and each region's utilization from its time zone (the daily curve the
 * simulator uses) at the moment the run starts.
 *
 * Invariants: pure composition — the schedule is the core planner's; this only picks its inputs.
 */

import { InputError } from "../core/errors.js";
import type { Host, Workload } from "../core/model/fleet.js";
import { regionUtcOffsets } from "../core/model/utc-offset.js";
import { DEFAULT_FLOW_MODEL, type FlowModel } from "../core/planner/flow-model.js";
import { ORDER_POLICIES, type OrderPolicy } from "../core/planner/order.js";
import { planSchedule, type Schedule } from "../core/planner/planner.js";
import type { Scenario } from "../core/sim/scenario.js";
import { utilization } from "../core/sim/utilization.js";
import type { LoadedPlan } from "./compose.js";

/** Boots under kexec, as the simulator draws them. */
const KEXEC_MS = { min: 10_000, max: 30_000 };

export function flowModelOf(scenario: Scenario | undefined): FlowModel {
  if (scenario === undefined) return DEFAULT_FLOW_MODEL;
  const b = scenario.boot;
  return { ...DEFAULT_FLOW_MODEL, bootMs: b.kexec ? KEXEC_MS : { min: b.min, max: b.max } };
}

/**
 * Each region's utilization `atMs` after `startAt`, from the daily curve at its hosts'
 * `overhaul_utc_offset` (core/model/utc-offset.ts) — what the simulator's migrations see.
 */
export function utilizationFrom(
  hosts: readonly Host[],
  startAt: number,
): (region: string, atMs: number) => number {
  const offsets = regionUtcOffsets(hosts);
  return (region, atMs) => utilization(offsets.get(region) ?? 0, startAt + atMs);
}

export function parseOrder(v: string | undefined): OrderPolicy {
  if (v === undefined) return "balanced";
  if ((ORDER_POLICIES as readonly string[]).includes(v)) return v as OrderPolicy;
  throw new InputError({
    path: "--order",
    message: `unknown order "${v}"`,
    expected: ORDER_POLICIES.join(", "),
  });
}

export interface ScheduleInput {
  loaded: LoadedPlan;
  /** Every host and workload of the fleet. */
  fleet: { hosts: readonly Host[]; workloads: readonly Workload[] };
  scope: readonly Host[];
  scenario?: Scenario;
  order?: OrderPolicy;
  seed: number;
  startAt: number;
  windowMs?: Record<string, number>;
  /** Each region's utilization during its window (from history); default: the daily curve at `startAt`. */
  utilization?: Record<string, number>;
  /** The chosen windows: each region's opening (epoch ms), which the run waits for. */
  windows?: { startAt: number; opensAt: Record<string, number> };
  /** Plays with drawn boot times for the spread (`overhaul plan --samples`); default none. */
  samples?: number;
}

export function scheduleFor(input: ScheduleInput): Schedule {
  return planSchedule({
    plan: input.loaded.plan,
    fleet: input.fleet.hosts,
    scope: input.scope,
    workloads: input.fleet.workloads,
    model: flowModelOf(input.scenario),
    order: input.order ?? "balanced",
    seed: input.seed,
    utilization: input.utilization ?? utilizationFrom(input.fleet.hosts, input.startAt),
    ...(input.windowMs !== undefined ? { windowMs: input.windowMs } : {}),
    ...(input.windows !== undefined ? { windows: input.windows } : {}),
    ...(input.samples !== undefined ? { samples: input.samples } : {}),
  });
}
