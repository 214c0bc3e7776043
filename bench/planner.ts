/**
 * Benchmark "planner": how close the planner's schedules come to the best possible, and what the
 * policies a user would otherwise pick cost, measured by simulating the same fleet in one run.
 *
 * For generated fleets of 50, 500 and 2,000 hosts (1, 10 and 40 regions of 50 hosts, 20 %
 * hold-overs, 8 workloads per worker, 4 racks per region), one rolling-reboot plan (drain, reboot,
 * wait-healthy, reinstate; canary, then the rest; a global cap of 10 % of the hosts, at most 2 per
 * rack) is simulated with the planner's schedule (`overhaul simulate --schedule`), and the report
 * gives the simulated makespan divided by the planner's lower bound (goal <= 1.05). The same fleet
 * and steps then run under:
 * - `serial`: Ansible's `serial: N` — fixed batches of N (N = Overhaul's global cap), each batch
 *   finished before the next starts, in inventory order;
 * - `one-at-a-time`: kured — one host at a time;
 * - `concurrency-5`: sdcadm's reboot plans — 5 hosts at once, in inventory order;
 * each as a ratio of its makespan and its total workload downtime (sum over every move) to
 * Overhaul's. Baselines know nothing of hold-over room: their drains take whatever host has room.
 *
 * Invariants:
 * - One process, the in-memory store, the virtual clock: wall time is not what is measured, the
 *   simulated figures are, and they are deterministic for the seed.
 * - A run that does not end fails the benchmark. Failed hosts (a baseline that drains more hosts
 *   than there is room for) and broken invariants are findings, reported with the policy's figures;
 *   the goal is not met if Overhaul's own run has any.
 * - The lower bound is the planner's: over its expected durations (mean boot time, with reboots
 *   that overrun their timeout retried), so a ratio below 1 is possible when boots come out short.
 */
import { performance } from "node:perf_hooks";
import { MemoryStore } from "../src/adapters/store-memory/memory-store.js";
import { SIM_START, simClock } from "../src/cli/commands/simulate.js";
import { type LoadedPlan, loadPlanText } from "../src/cli/compose.js";
import { scheduleFor } from "../src/cli/planning.js";
import { simulateRun } from "../src/cli/simulate/runner.js";
import { runScheduleOf } from "../src/core/planner/run-schedule.js";
import { downtimeSamples } from "../src/core/report/downtime.js";
import { generateFleet, parseFleetSpec } from "../src/core/sim/fleet-gen.js";
import { parseScenarioText } from "../src/core/sim/scenario.js";
import { round } from "./results.js";

export const NAME = "planner";
export const GOAL_RATIO = 1.05;
export const SIZES = [50, 500, 2_000] as const;

const SCENARIO = `seed: 11
boot: { min: 2m, max: 8m }
`;

const STEPS = `steps:
  - { name: drain, kind: drain }
  - { name: reboot, kind: reboot, timeout: 10m, retry: { attempts: 3, backoff: { initial: 30s } } }
  - { name: healthy, kind: wait-healthy, timeout: 5m }
  - { name: reinstate, kind: reinstate }
`;

function planText(name: string, waves: string, concurrency: string): string {
  return `name: ${name}\nhosts: workers\nwaves: ${waves}\nconcurrency: ${concurrency}\nfailureBudget: { maxFailedPercent: 100 }\n${STEPS}`;
}

function loaded(body: string): LoadedPlan {
  return loadPlanText(body, "bench plan");
}

export interface PolicyResult {
  policy: string;
  makespanMs: number;
  downtimeMs: number;
  moves: number;
  /** Against Overhaul's (1 for Overhaul itself). */
  makespanRatio: number;
  downtimeRatio: number;
  wallMs: number;
  /** Hosts that did not succeed (e.g. a drain that found no room), and the most common reason. */
  failedHosts: number;
  failureReason: string | null;
  /** Invariants the simulated run broke (the first message of each kind); [] when all held. */
  violations: string[];
}

export interface SizeResult {
  hosts: number;
  fleet: string;
  workers: number;
  globalCap: number;
  estimateMs: number;
  lowerBoundMs: number;
  /** Simulated makespan / lower bound (goal <= GOAL_RATIO). */
  simulatedToBound: number;
  /** Planner's estimate / lower bound. */
  estimateToBound: number;
  planWallMs: number;
  policies: PolicyResult[];
}

async function simulate(
  body: string,
  fleet: ReturnType<typeof generateFleet>,
  schedule?: ReturnType<typeof runScheduleOf>,
): Promise<Omit<PolicyResult, "policy" | "makespanRatio" | "downtimeRatio">> {
  const t = performance.now();
  const scope = fleet.hosts.filter((h) => h.role === "worker");
  const res = await simulateRun({
    loaded: loaded(body),
    hosts: fleet.hosts,
    scope,
    workloads: fleet.workloads,
    scenario: parseScenarioText(SCENARIO, "bench scenario"),
    store: new MemoryStore(),
    clock: simClock(),
    runId: "bench-planner",
    maxVirtualMs: 60 * 86_400_000,
    ...(schedule !== undefined ? { schedule } : {}),
  });
  // A broken invariant is a finding, reported with the policy's figures (not hidden, not fatal).
  const kinds = new Map<string, string>();
  for (const v of res.invariants.violations) if (!kinds.has(v.invariant)) kinds.set(v.invariant, v.message);
  if (res.unfinished !== undefined) throw new Error(`planner bench: the run did not end: ${res.unfinished}`);
  const failed = res.hosts.filter((h) => h.state !== "succeeded");
  const reasons = new Map<string, number>();
  for (const f of failed) {
    const r = (f.reason ?? f.state).replace(/r\d+-h\d+(-w\d+)?/g, "HOST");
    reasons.set(r, (reasons.get(r) ?? 0) + 1);
  }
  const top = [...reasons].sort((a, b) => b[1] - a[1])[0];
  const start = Math.min(...res.hosts.map((h) => h.startedAt ?? Number.POSITIVE_INFINITY));
  const end = Math.max(...res.hosts.map((h) => h.finishedAt ?? 0));
  const downtime = downtimeSamples(res.attempts);
  return {
    makespanMs: end - start,
    downtimeMs: downtime.reduce((a, d) => a + d.downtimeMs, 0),
    moves: downtime.length,
    failedHosts: failed.length,
    failureReason: top ? top[0].slice(0, 200) : null,
    wallMs: performance.now() - t,
    violations: [...kinds].map(
      ([k, m]) => `${k}: ${m} (${res.invariants.violations.filter((v) => v.invariant === k).length}x)`,
    ),
  };
}

export async function plannerBench(log: (line: string) => void): Promise<SizeResult[]> {
  const out: SizeResult[] = [];
  for (const hosts of SIZES) {
    const regions = hosts / 50;
    const spec = `regions=${regions},hosts=50,holdovers=0.2,racks=4,workloads=8,seed=7`;
    const fleet = generateFleet(parseFleetSpec(spec));
    const workers = fleet.hosts.filter((h) => h.role === "worker");
    const cap = Math.max(1, Math.round(hosts / 10));
    const overhaul = planText(
      "overhaul",
      "[{ count: 1 }, { percent: 100 }]",
      `{ global: ${cap}, perFailureDomain: { rack: 2 } }`,
    );
    const t = performance.now();
    const schedule = scheduleFor({
      loaded: loaded(overhaul),
      fleet,
      scope: workers,
      scenario: parseScenarioText(SCENARIO, "bench scenario"),
      seed: 11,
      startAt: SIM_START,
    });
    const planWallMs = performance.now() - t;
    const own = await simulate(overhaul, fleet, runScheduleOf(schedule));
    const baselines: [string, string][] = [
      [`serial: ${cap}`, planText("serial", `[{ count: ${cap} }]`, `{ global: ${cap} }`)],
      ["one-at-a-time", planText("kured", "[{ percent: 100 }]", "{ global: 1 }")],
      ["concurrency-5", planText("sdcadm", "[{ percent: 100 }]", "{ global: 5 }")],
    ];
    const policies: PolicyResult[] = [{ policy: "overhaul", ...own, makespanRatio: 1, downtimeRatio: 1 }];
    for (const [policy, body] of baselines) {
      const r = await simulate(body, fleet);
      policies.push({
        policy,
        ...r,
        makespanRatio: round(r.makespanMs / own.makespanMs, 3),
        downtimeRatio: round(r.downtimeMs / own.downtimeMs, 3),
      });
    }
    const size: SizeResult = {
      hosts,
      fleet: spec,
      workers: workers.length,
      globalCap: cap,
      estimateMs: schedule.makespanMs,
      lowerBoundMs: schedule.lowerBound.ms,
      simulatedToBound: round(own.makespanMs / schedule.lowerBound.ms, 3),
      estimateToBound: round(schedule.ratio, 3),
      planWallMs: round(planWallMs, 0),
      policies,
    };
    out.push(size);
    for (const line of summarizeSize(size)) log(line);
  }
  return out;
}

const h = (ms: number) => `${(ms / 3_600_000).toFixed(2)} h`;

export function summarizeSize(s: SizeResult): string[] {
  const lines = [
    `  ${s.hosts} hosts (${s.workers} workers, global cap ${s.globalCap}): planned ${h(s.estimateMs)} in ${s.planWallMs} ms, bound ${h(s.lowerBoundMs)}; simulated / bound = ${s.simulatedToBound} (goal <= ${GOAL_RATIO}: ${s.simulatedToBound <= GOAL_RATIO && s.policies[0]?.violations.length === 0 && s.policies[0]?.failedHosts === 0 ? "met" : "NOT met"})`,
  ];
  for (const p of s.policies)
    lines.push(
      `    ${p.policy.padEnd(14)} makespan ${h(p.makespanMs).padStart(9)} (x${p.makespanRatio})  workload downtime ${(p.downtimeMs / 1000).toFixed(0).padStart(7)} s (x${p.downtimeRatio}, ${p.moves} moves)${p.failedHosts > 0 ? `  ${p.failedHosts} host(s) failed (${p.failureReason})` : ""}${p.violations.length > 0 ? `  INVARIANTS BROKEN: ${p.violations.join("; ")}` : ""}`,
    );
  return lines;
}
