/**
 * Shared setup for simulator tests: the real engine (Coordinator, createRun, MemoryStore) on a
 * VirtualClock against `SimTransport`, running a rolling reboot over a generated fleet.
 */
import { VirtualClock } from "../../src/adapters/clock/virtual-clock.js";
import { SimTransport } from "../../src/adapters/simulator/sim-transport.js";
import { MemoryStore } from "../../src/adapters/store-memory/memory-store.js";
import { compilePlan } from "../../src/core/plan/compile.js";
import { parsePlanText } from "../../src/core/plan/load.js";
import { seededRandom } from "../../src/core/policy/random.js";
import { generateFleet, parseFleetSpec } from "../../src/core/sim/fleet-gen.js";
import { parseScenarioText } from "../../src/core/sim/scenario.js";
import { Coordinator } from "../../src/engine/coordinator.js";
import { nullNotifier } from "../../src/engine/deps.js";
import { createRun } from "../../src/engine/runs.js";

export const ROLLING_REBOOT = `
name: rolling-reboot
hosts: all
steps:
  - { name: reboot, kind: reboot, timeout: 10m, retry: { attempts: 3, backoff: { initial: 10s, jitter: 0 } } }
  - { name: healthy, kind: wait-healthy, run: "systemctl is-system-running", timeout: 2m }
concurrency: { global: 4 }
failureBudget: { maxFailedPercent: 100 }
`;

export async function simulate(
  scenarioYaml: string,
  fleet = "regions=1,hosts=4,racks=2,seed=7",
  planYaml = ROLLING_REBOOT,
) {
  const clock = new VirtualClock();
  const store = new MemoryStore();
  const random = seededRandom(1);
  const hosts = generateFleet(parseFleetSpec(fleet));
  const transport = new SimTransport(clock, hosts, parseScenarioText(scenarioYaml, "scenario.yaml"));
  const plan = compilePlan(parsePlanText(planYaml, "plan.yaml"));
  const run = await createRun(
    { store, clock, random },
    { plan, planBody: planYaml, planHash: "h", hosts, options: {}, actor: "test" },
  );
  const coordinator = new Coordinator(
    { store, transport, clock, random, sink: { emit: () => undefined }, notifier: nullNotifier },
    { owner: "c1", leaseTtlMs: 30_000, tickMs: 500 },
    run.id,
  );
  const res = await coordinator.drive();
  const rows = await store.getHosts(run.id);
  const states = Object.fromEntries(rows.map((h) => [h.host, h.state]));
  return { res, rows, states, transport, clock, run, hosts };
}
