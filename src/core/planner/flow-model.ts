/**
 * How long one host's flow is expected to take: the plan's steps, the host's boot time and the
 * time to move its workloads (memory pre-copy for live moves, local volume copy for cold ones,
 * from size and bandwidth).
 *
 * Invariants:
 * - Pure and deterministic: the same plan, workloads and model give the same estimate.
 * - Expected values, not worst cases: a reboot takes the mean of the boot-time distribution; the
 *   estimate is what the planner schedules with and what its lower bound is computed from (the
 *   bound is "no schedule of these flows can be faster", not a guarantee against bad luck).
 * - The defaults are the simulator's (2-15 min boots, 10 Gbit/s migration network of which a busy
 *   region takes up to 60 %, 4 moves at once per drain, 50-500 ms blackout, 20-60 s cold start,
 *   20-200 ms per command, 10 s for a call to a host that does not answer to fail — the SSH
 *   connect timeout), so a dry run measures the planner against the same world it assumed.
 * - A reboot is seen when a poll finds the new boot id: while the host is down every poll waits
 *   for the connect timeout and then the poll interval, so the polls are (timeout + interval)
 *   apart and the host is seen on average half of that after it is back.
 * - Retries are not planned for: a failed attempt makes a host late, which the plan's failure
 *   budget and the operator handle; the planner plans the run where every host works.
 */
import type { Workload } from "../model/fleet.js";
import type { Plan, Step } from "../plan/compile.js";

export interface FlowModel {
  /** Boot time of a reboot, uniform between min and max. */
  bootMs: { min: number; max: number };
  /** Migration network per host, MB/s. */
  linkMBps: number;
  /** Share of the link the region's own traffic takes at utilization 1. */
  busyShare: number;
  /** Moves of one drain or reinstate at once. */
  parallelMoves: number;
  /** One command (boot id, probe, a plan's command). */
  commandMs: number;
  /** Live move: blackout after the pre-copy. */
  blackoutMs: number;
  /** Cold move: start on the target after the copy. */
  coldStartMs: number;
  /** A manual gate: how long an operator takes to approve (once per run, counted per host). */
  approvalMs: number;
  /** How long a call to a host that does not answer (booting) takes to fail: the connect timeout. */
  noAnswerMs: number;
}

export const DEFAULT_FLOW_MODEL: Readonly<FlowModel> = Object.freeze({
  bootMs: { min: 120_000, max: 900_000 },
  linkMBps: 1_250,
  busyShare: 0.6,
  parallelMoves: 4,
  commandMs: 110,
  blackoutMs: 275,
  coldStartMs: 40_000,
  approvalMs: 0,
  noAnswerMs: 10_000,
});

/** Migration bandwidth in MB/s of a region at `utilization` (0..1). */
export function bandwidthOf(model: FlowModel, utilization: number): number {
  return model.linkMBps * (1 - model.busyShare * Math.min(1, Math.max(0, utilization)));
}

/** How long moving one workload takes (live when it can, else cold), ms. */
export function moveMs(w: Workload, model: FlowModel, bandwidth: number): number {
  if (w.migration.includes("live")) return Math.ceil((w.memoryMb / bandwidth) * 1000) + model.blackoutMs;
  if (!w.migration.includes("cold")) return 0;
  const localMb = w.volumes.filter((v) => !v.network).reduce((a, v) => a + v.sizeGb * 1024, 0);
  return Math.ceil((localMb / bandwidth) * 1000) + model.coldStartMs;
}

/** Moves run `parallel` at a time, each lane taking the next workload in order (as a drain does). */
export function movesMs(durations: readonly number[], parallel: number): number {
  const lanes = new Array<number>(Math.max(1, Math.min(parallel, durations.length))).fill(0);
  for (const d of durations) {
    let best = 0;
    for (let i = 1; i < lanes.length; i++) if ((lanes[i] as number) < (lanes[best] as number)) best = i;
    lanes[best] = (lanes[best] as number) + d;
  }
  return lanes.reduce((m, x) => Math.max(m, x), 0);
}

/** The mean wait before attempt `k + 1` of a step (its backoff, jitter at its mean). */
export function meanBackoffMs(step: Step, k: number): number {
  return (
    Math.min(step.retry.maxMs, step.retry.initialMs * step.retry.factor ** (k - 1)) *
    (1 - step.retry.jitter / 2)
  );
}

/** Points of the boot-time distribution the reboot expectation averages over. */
const BOOT_GRID = 24;

/**
 * What a reboot step comes to, averaged over the uniform boot-time distribution, attempt by
 * attempt: a boot that takes longer than the step's timeout fails the attempt; after the backoff
 * the next attempt waits for the host (still booting) and reboots it again, with a new boot time.
 * `ms`: its expected time; `fails`: the share of hosts that use every attempt and fail.
 */
function rebootOdds(step: Step, model: FlowModel): { ms: number; fails: number } {
  const { min, max } = model.bootMs;
  const boots = Array.from({ length: BOOT_GRID }, (_, i) => min + ((i + 0.5) * (max - min)) / BOOT_GRID);
  const t = step.timeoutMs;
  const walk = (k: number, carry: number): { ms: number; fails: number } => {
    const wait = Math.min(carry, t);
    let ms = 0;
    let fails = 0;
    for (const b of boots) {
      if (wait + b <= t) ms += wait + b;
      else if (k >= step.retry.attempts) {
        ms += t;
        fails += 1;
      } else {
        const backoff = meanBackoffMs(step, k);
        const next = walk(k + 1, Math.max(0, wait + b - t - backoff));
        ms += t + backoff + next.ms;
        fails += next.fails;
      }
    }
    return { ms: ms / boots.length, fails: fails / boots.length };
  };
  return walk(1, 0);
}

/** Expected time of a reboot step (see `rebootOdds`). */
export function rebootMs(step: Step, model: FlowModel): number {
  return rebootOdds(step, model).ms;
}

/** Share of hosts whose reboot step uses every attempt and fails (see `rebootOdds`). */
export function rebootFailShare(step: Step, model: FlowModel): number {
  return rebootOdds(step, model).fails;
}

function commandsOf(step: Step): number {
  return 1 + (step.check !== undefined ? 1 : 0) + (step.verify !== undefined ? 1 : 0);
}

/** Expected time of one step for a host with these workloads. */
export function stepMs(
  step: Step,
  workloads: readonly Workload[],
  model: FlowModel,
  bandwidth: number,
): number {
  const extra = ((step.check !== undefined ? 1 : 0) + (step.verify !== undefined ? 1 : 0)) * model.commandMs;
  switch (step.kind) {
    case "command":
      return commandsOf(step) * model.commandMs;
    case "sleep":
      return (step.durationMs ?? 0) + extra;
    case "gate":
      return (step.approval ? model.approvalMs : model.commandMs) + extra;
    case "wait-healthy":
      return model.commandMs + extra;
    case "reboot":
      // Boot id before, the reboot, then polls until the new boot id: while the host is down each
      // poll fails at the connect timeout and the next one follows an interval later, so the host
      // is seen on average half a (timeout + interval) after it is back.
      return (
        Math.round(
          rebootMs(step, model) + (model.noAnswerMs + (step.intervalMs ?? 2_000)) / 2 + 3 * model.commandMs,
        ) + extra
      );
    case "drain":
    case "reinstate":
      return (
        movesMs(
          workloads.map((w) => moveMs(w, model, bandwidth)),
          model.parallelMoves,
        ) + extra
      );
  }
}

/**
 * Expected duration of one host's whole flow starting at `startMs`: each step's moves at the
 * region's utilization when that step starts (a drain at the start, a reinstate after the reboot).
 */
export function flowMs(
  plan: Plan,
  workloads: readonly Workload[],
  model: FlowModel,
  utilization: number | ((atMs: number) => number),
  startMs = 0,
): number {
  let t = startMs;
  for (const s of plan.steps) {
    const u = typeof utilization === "number" ? utilization : utilization(t);
    t += stepMs(s, workloads, model, bandwidthOf(model, u));
  }
  return t - startMs;
}

/** Does the plan move workloads (so hold-overs matter)? */
export function drains(plan: Plan): boolean {
  return plan.steps.some((s) => s.kind === "drain");
}
