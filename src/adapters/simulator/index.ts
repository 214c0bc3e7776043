/**
 * The simulator adapter: a simulated world (hosts, workloads, failures from a scenario) that
 * implements the `Transport`, `Workloads` and `Health` ports in virtual time.
 */

export { SimHealth } from "./sim-health.js";
export type { SimHost, SimHostState } from "./sim-host.js";
export { type PlanSteps, SimTransport } from "./sim-transport.js";
export { PARALLEL as MOVES_AT_ONCE, SimWorkloads } from "./sim-workloads.js";
export { SimWorld } from "./world.js";
export type { SimWorkload } from "./world-state.js";
