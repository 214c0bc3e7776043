/**
 * Shared setup for the `simulateRun` tests: a generated fleet with hold-overs and workloads, the
 * maintenance plan (drain -> upgrade (command) -> reboot -> wait-healthy (Health port) -> reinstate),
 * scenarios from YAML text, and small readers of the ledger (where each workload ends, what ran).
 *
 * Everything is real but the world: the engine, the store (memory or SQLite), the virtual clock and
 * the simulator's transport, workloads and health.
 */
import { createHash } from "node:crypto";
import { VirtualClock } from "../../src/adapters/clock/virtual-clock.js";
import { MemoryStore } from "../../src/adapters/store-memory/memory-store.js";
import type { LoadedPlan } from "../../src/cli/compose.js";
import { type SimulationResult, simulateRun } from "../../src/cli/simulate/runner.js";
import type { Host, Workload } from "../../src/core/model/fleet.js";
import { compilePlan } from "../../src/core/plan/compile.js";
import { parsePlanText } from "../../src/core/plan/load.js";
import { generateFleet, parseFleetSpec } from "../../src/core/sim/fleet-gen.js";
import type { LedgerEntry } from "../../src/core/sim/ledger.js";
import { parseScenarioText } from "../../src/core/sim/scenario.js";
import type { Store } from "../../src/ports/store.js";

/** One region, 4 workers (r01-h001..h004, 3 workloads each) and 2 hold-overs (r01-h005, r01-h006). */
export const FLEET = "regions=1,hosts=6,holdovers=0.34,racks=2,workloads=3,seed=7";
export const START = Date.UTC(2026, 0, 5, 2, 0, 0);

/** Drain, upgrade (a non-idempotent command, one retry), reboot, wait until healthy, put back. */
export const MAINTENANCE = `
name: maintenance
hosts: workers
concurrency: { global: 2 }
failureBudget: { maxFailedPercent: 100 }
steps:
  - { name: drain, kind: drain }
  - name: upgrade
    kind: command
    run: version set 2.0
    retry: { attempts: 2, backoff: { initial: 10s, jitter: 0 } }
  - { name: reboot, kind: reboot, timeout: 10m, retry: { attempts: 3, backoff: { initial: 2m, jitter: 0 } } }
  - { name: healthy, kind: wait-healthy, timeout: 5m }
  - { name: reinstate, kind: reinstate }
`;

export function loadedPlan(body: string): LoadedPlan {
  return {
    plan: compilePlan(parsePlanText(body, "plan.yaml")),
    body,
    hash: createHash("sha256").update(body).digest("hex"),
    file: "plan.yaml",
  };
}

export interface SimCase {
  scenario: string;
  plan?: string;
  fleet?: string;
  store?: Store;
  /** The run's hosts (default: the workers). */
  scope?: (h: Host) => boolean;
}

export interface SimOutcome extends SimulationResult {
  fleet: { hosts: Host[]; workloads: Workload[] };
  /** host -> final state */
  states: Record<string, string>;
  reasons: Record<string, string | null>;
}

export async function simulateCase(c: SimCase): Promise<SimOutcome> {
  const fleet = generateFleet(parseFleetSpec(c.fleet ?? FLEET));
  const scope = fleet.hosts.filter(c.scope ?? ((h) => h.role === "worker"));
  const store = c.store ?? new MemoryStore();
  const res = await simulateRun({
    loaded: loadedPlan(c.plan ?? MAINTENANCE),
    hosts: fleet.hosts,
    scope,
    workloads: fleet.workloads,
    scenario: parseScenarioText(c.scenario, "scenario.yaml"),
    store,
    clock: new VirtualClock(START),
    runId: "sim-test",
  });
  return {
    ...res,
    fleet,
    states: Object.fromEntries(res.hosts.map((h) => [h.host, h.state])),
    reasons: Object.fromEntries(res.hosts.map((h) => [h.host, h.reason])),
  };
}

/** Where each workload runs at the end, replaying `@place` / `@unplace` / `@lost`. */
export function finalPlacement(ledger: readonly LedgerEntry[]): Map<string, string[]> {
  const on = new Map<string, string[]>();
  for (const e of ledger) {
    if (e.workload === undefined) continue;
    const list = on.get(e.workload) ?? [];
    if (e.command === "@place") list.push(e.host);
    else if (e.command === "@unplace" || e.command === "@lost") list.splice(list.indexOf(e.host), 1);
    else continue;
    on.set(e.workload, list);
  }
  return on;
}

/** Commands a step ran on a host, in the given phase (default `run`). */
export function ran(
  ledger: readonly LedgerEntry[],
  host: string,
  step: string,
  phase = "run",
): LedgerEntry[] {
  return ledger.filter((e) => e.host === host && e.step === step && e.phase === phase);
}

/** The world's effects (`@...`) on a host. */
export function effects(ledger: readonly LedgerEntry[], host: string, command: string): LedgerEntry[] {
  return ledger.filter((e) => e.host === host && e.command === command);
}
