/**
 * The `Workloads` port: what runs on a host, and moving it off the host and back (drain /
 * reinstate). Implemented by the simulator today; by a hypervisor or scheduler API (libvirt,
 * Nomad, Kubernetes) tomorrow.
 *
 * Invariants:
 * - `drain` and `reinstate` are idempotent: each moves only what is still to move, so the engine
 *   may re-run one after a crash or a lost answer. They resolve with what they did and what they
 *   could not do; they reject only with `TransportError` (could not reach the manager) or on abort.
 * - The adapter chooses targets (hold-overs first) and never places a workload where it would
 *   exceed the target's capacity or break the workload's placement rules; what cannot be placed is
 *   reported in `unplaced` with a reason, and stays where it was.
 * - A workload remembers its home: `reinstate(host)` brings back the workloads drained from it.
 */
import type { Host } from "../core/model/fleet.js";

export interface WorkloadMove {
  workload: string;
  from: string;
  to: string;
  mode: "live" | "cold";
  /** How long the workload was unavailable: a live migration's blackout, or stop-copy-start. */
  downtimeMs: number;
}

export interface WorkloadsResult {
  moves: WorkloadMove[];
  /** Workloads that could not be moved, and why (no capacity, pinned, target down, ...). */
  unplaced: { workload: string; reason: string }[];
}

export interface WorkloadsOptions {
  signal: AbortSignal;
  /** Epoch ms by which the call must be over (the attempt's timeout). */
  deadline: number;
}

export interface Workloads {
  /** Ids of the workloads running on the host now. */
  list(host: Host): Promise<string[]>;
  /** Ids of the workloads whose home is this host but that run elsewhere now. */
  away(host: Host): Promise<string[]>;
  /** Move every workload off the host. */
  drain(host: Host, opts: WorkloadsOptions): Promise<WorkloadsResult>;
  /** Move the workloads drained from the host back onto it. */
  reinstate(host: Host, opts: WorkloadsOptions): Promise<WorkloadsResult>;
}
