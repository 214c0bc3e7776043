/**
 * What the engine needs from the outside world: ports only (composition happens in cli/).
 */
import type { Clock } from "../ports/clock.js";
import type { EventSink, Notifier } from "../ports/events.js";
import type { Health } from "../ports/health.js";
import type { Random } from "../ports/random.js";
import type { Store } from "../ports/store.js";
import type { Transport } from "../ports/transport.js";
import type { Workloads } from "../ports/workloads.js";

export interface EngineDeps {
  store: Store;
  transport: Transport;
  clock: Clock;
  random: Random;
  sink: EventSink;
  notifier: Notifier;
  /** Drain / reinstate. Absent: plans with those steps are refused before the run starts. */
  workloads?: Workloads;
  /** For `wait-healthy` steps without a command of their own. Absent: the host's health command. */
  health?: Health;
}

export interface CoordinatorOptions {
  /** Unique id of this coordinator (written into leases and events). */
  owner: string;
  /** Lease time-to-live; leases are renewed every third of it. */
  leaseTtlMs: number;
  /** How often the coordinator re-reads the run (pause/abort by an operator) when idle. */
  tickMs: number;
}

export const DEFAULT_COORDINATOR_OPTIONS: Omit<CoordinatorOptions, "owner"> = {
  leaseTtlMs: 30_000,
  tickMs: 500,
};

export const nullSink: EventSink = { emit() {} };
export const nullNotifier: Notifier = { async notify() {} };
