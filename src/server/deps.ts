/**
 * What the coordinator service needs from the composition root (cli/commands/serve.ts): ports
 * and a few functions that need adapters (reading the inventory, building transports).
 */
import type { Host } from "../core/model/fleet.js";
import type { Plan } from "../core/plan/compile.js";
import type { Clock } from "../ports/clock.js";
import type { Random } from "../ports/random.js";
import type { Store } from "../ports/store.js";
import type { Metrics } from "./metrics.js";

export interface ScopeRequest {
  limit?: string;
  all?: boolean;
  confirm?: number;
  maxHosts: number;
}

export interface ServerDeps {
  store: Store;
  clock: Clock;
  random: Random;
  /**
   * Resolve a plan's scope against the service's inventory (the same rules as `overhaul run`:
   * no implicit "all", wide scopes confirmed). Absent: runs cannot be started through the API.
   */
  resolveHosts?: (
    plan: Plan,
    scope: ScopeRequest,
    planLabel: string,
    /** Where the revision's `hosts` is written, for errors about the pattern. */
    hostsAt?: { line: number; column: number },
  ) => Promise<{ hosts: Host[]; inventory: string; secretVars?: string[] }>;
  metrics?: Metrics;
  /** Called after the API created, resumed or retried something, so a coordinator picks it up now. */
  onRunChanged?: () => void;
  /** Poll interval of the live event streams (ms). */
  streamPollMs?: number;
  /** How often open live streams re-check their token (ms, default 2000); tests shorten it. */
  streamTokenCheckMs?: number;
  /** Bytes that may wait for one live-stream client (default 4 MiB) and how long a client may stay
   * at that cap before it is dropped (ms, default 30 s); tests shorten them. */
  streamMaxBacklogBytes?: number;
  streamStallMs?: number;
  /** Notices of the service (a live stream it ended, and why): one line each, no newline. */
  log?: (line: string) => void;
}
