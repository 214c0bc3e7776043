/**
 * `SimWorld`: one simulated world (clock, scenario, hosts, workloads, ledger) and the three ports
 * the engine drives it through: `transport()`, `workloads()`, `health()`.
 *
 * Invariants:
 * - One world, one ledger: the transport, the workloads manager and the health checker all write
 *   to `ledger` (format: core/sim/ledger.ts), which starts with the initial placement (`@place`,
 *   outcome `initial`, at the world's start time).
 * - Each port is created once per world, so their seeded PRNGs advance in one sequence.
 * - Deterministic: same fleet, scenario and engine inputs -> the same ledger, entry for entry.
 * - It may be told the steps of the plan it rehearses (`PlanSteps`): then a reboot step's own
 *   command reboots, and a wait-healthy step's own command asks the health model (sim-transport.ts).
 */
import type { Host, Workload } from "../../core/model/fleet.js";
import type { Scenario } from "../../core/sim/scenario.js";
import type { Clock } from "../../ports/clock.js";
import { SimHealth } from "./sim-health.js";
import type { SimHost } from "./sim-host.js";
import { type PlanSteps, SimTransport } from "./sim-transport.js";
import { SimWorkloads } from "./sim-workloads.js";
import { WorldState } from "./world-state.js";

export class SimWorld extends WorldState {
  private readonly ports: { transport: SimTransport; workloads: SimWorkloads; health: SimHealth };

  /** `workloads[i].host` is where each workload runs at the start: its home. */
  constructor(
    clock: Clock,
    hosts: readonly Host[],
    workloads: readonly Workload[],
    scenario: Scenario,
    planSteps: PlanSteps = [],
  ) {
    super(clock, { hosts: [...hosts], workloads: [...workloads] }, scenario);
    this.ports = {
      transport: new SimTransport(this, planSteps),
      workloads: new SimWorkloads(this),
      health: new SimHealth(this),
    };
  }

  transport(): SimTransport {
    return this.ports.transport;
  }

  workloads(): SimWorkloads {
    return this.ports.workloads;
  }

  health(): SimHealth {
    return this.ports.health;
  }

  /** The simulated state of a host, up to date with the clock (for tests and reports). */
  stateOf(host: string): SimHost | undefined {
    return this.simHost(host);
  }
}
