/**
 * The `Health` port: is this host fit to take workloads back? Used by `wait-healthy` steps that
 * name no command of their own.
 *
 * Invariants: `check` never throws for an unhealthy host (that is a value); it rejects only with
 * `TransportError` when the host could not be asked, or on abort.
 */
import type { Host } from "../core/model/fleet.js";

export interface HealthResult {
  healthy: boolean;
  /** One line for the operator: what was checked and what was wrong. */
  detail: string;
}

export interface Health {
  check(host: Host, opts: { signal: AbortSignal; deadline: number }): Promise<HealthResult>;
}
