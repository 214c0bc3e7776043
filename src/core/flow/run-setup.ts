/**
 * Building a new run's host flows from a plan and the scoped hosts (pure).
 *
 * Invariants: every scoped host gets exactly one flow, in the given order, with its wave; flows
 * start `pending` at step 0 with no point of no return passed. With a schedule (core/planner), the
 * order and waves are the schedule's and each flow's data keeps the planner's failure domains
 * (`scheduleDomains`), which admission counts next to the inventory's.
 */
import type { Host } from "../model/fleet.js";
import type { Plan } from "../plan/compile.js";
import type { RunSchedule } from "../planner/run-schedule.js";
import { assignWaves } from "../policy/waves.js";

export interface NewFlow {
  host: string;
  wave: number;
  order: number;
  data: Record<string, unknown>;
}

/**
 * The progress of a host flow just created: pending at its first step, nothing attempted, nothing
 * started or finished. `createRun` gives every new flow these (test fixtures too).
 */
export const NOT_STARTED = {
  state: "pending",
  stepIndex: 0,
  phase: "forward",
  attempts: 0,
  notBefore: null,
  noReturnIndex: -1,
  startedAt: null,
  finishedAt: null,
  reason: null,
} as const;

export function buildFlows(plan: Plan, hosts: readonly Host[], schedule?: RunSchedule): NewFlow[] {
  if (schedule !== undefined) return scheduledFlows(hosts, schedule);
  const waves = assignWaves(plan.waves, hosts.length);
  return hosts.map((h, i) => ({
    host: h.name,
    wave: waves[i] ?? 0,
    order: i,
    data: JSON.parse(JSON.stringify(h)) as Record<string, unknown>,
  }));
}

function scheduledFlows(hosts: readonly Host[], schedule: RunSchedule): NewFlow[] {
  const byName = new Map(hosts.map((h) => [h.name, h]));
  if (schedule.hosts.length !== hosts.length || schedule.hosts.some((s) => !byName.has(s.host)))
    throw new Error("buildFlows: the schedule does not cover exactly the run's hosts");
  return [...schedule.hosts]
    .sort((a, b) => a.order - b.order)
    .map((s) => ({
      host: s.host,
      wave: s.wave,
      order: s.order,
      data: {
        ...(JSON.parse(JSON.stringify(byName.get(s.host))) as Record<string, unknown>),
        scheduleDomains: { ...s.domains },
      },
    }));
}

/** A readable, sortable run id: `r-20261121-163000-k3f9`. */
export function makeRunId(now: number, u: number): string {
  const d = new Date(now);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const stamp = `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
  const suffix = Math.floor(u * 36 ** 4)
    .toString(36)
    .padStart(4, "0");
  return `r-${stamp}-${suffix}`;
}
