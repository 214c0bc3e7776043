/**
 * Shared setup for simulator tests: the real engine (Coordinator, createRun, MemoryStore) on a
 * VirtualClock against a `SimWorld` (transport, workloads, health), running a rolling reboot over
 * a generated fleet.
 */
import { VirtualClock } from "../../src/adapters/clock/virtual-clock.js";
import { SimWorld } from "../../src/adapters/simulator/world.js";
import { MemoryStore } from "../../src/adapters/store-memory/memory-store.js";
import type { Host } from "../../src/core/model/fleet.js";
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

/** Drain each worker, reboot it, wait until the Health port says healthy, put its workloads back. */
export const DRAIN_REBOOT = `
name: drain-reboot
hosts: all
steps:
  - { name: drain, kind: drain }
  - { name: reboot, kind: reboot, timeout: 10m, retry: { attempts: 3, backoff: { initial: 10s, jitter: 0 } } }
  - { name: healthy, kind: wait-healthy, timeout: 5m }
  - { name: reinstate, kind: reinstate }
concurrency: { global: 2 }
failureBudget: { maxFailedPercent: 100 }
`;

export async function simulate(
  scenarioYaml: string,
  fleet = "regions=1,hosts=4,racks=2,seed=7",
  planYaml = ROLLING_REBOOT,
  /** The run's hosts (default: every host of the fleet). */
  scope: (h: Host) => boolean = () => true,
) {
  const clock = new VirtualClock();
  const store = new MemoryStore();
  const random = seededRandom(1);
  const { hosts, workloads } = generateFleet(parseFleetSpec(fleet));
  const world = new SimWorld(clock, hosts, workloads, parseScenarioText(scenarioYaml, "scenario.yaml"));
  const transport = world.transport();
  const plan = compilePlan(parsePlanText(planYaml, "plan.yaml"));
  const run = await createRun(
    { store, clock, random },
    { plan, planBody: planYaml, planHash: "h", hosts: hosts.filter(scope), options: {}, actor: "test" },
  );
  const coordinator = new Coordinator(
    {
      store,
      transport,
      workloads: world.workloads(),
      health: world.health(),
      clock,
      random,
      sink: { emit: () => undefined },
      notifier: nullNotifier,
    },
    { owner: "c1", leaseTtlMs: 30_000, tickMs: 500 },
    run.id,
  );
  const res = await coordinator.drive();
  const rows = await store.getHosts(run.id);
  const states = Object.fromEntries(rows.map((h) => [h.host, h.state]));
  const events = await store.listEvents(run.id);
  return { res, rows, states, world, transport, clock, run, hosts, workloads, plan, events };
}
