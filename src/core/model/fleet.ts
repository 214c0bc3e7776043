/**
 * The fleet model: Fleet -> Region -> FailureDomain (rack, power circuit, switch) -> Host.
 *
 * Invariants:
 * - A host belongs to exactly one region; its failure domains are named by kind (`rack`, `power`, ...),
 *   so caps can be written per kind ("at most 2 hosts per rack at once").
 * - Values are plain data, frozen after they are built from the inventory; nothing here does I/O.
 */

export type HostRole = "worker" | "holdover" | "control";

/**
 * The failure-domain kinds a host can have: the one list of them. The inventory sets them
 * (core/inventory/fleet-hosts.ts) and a plan may cap each (`concurrency.perFailureDomain`).
 */
export const FAILURE_DOMAIN_KINDS = ["rack", "power", "switch"] as const;
export type FailureDomainKind = (typeof FAILURE_DOMAIN_KINDS)[number];

export interface Capacity {
  cpu: number;
  memoryMb: number;
  diskGb: number;
}

/** How the coordinator reaches a host. `local` runs commands on the coordinator's own machine. */
export type Connection = "local" | "ssh";

export interface Host {
  name: string;
  /** Where to connect (ansible_host), defaults to the name. */
  address: string;
  port?: number;
  user?: string;
  connection: Connection;
  region: string;
  /** Failure domains by kind, e.g. `{ rack: "r12", power: "pdu-3" }`. */
  failureDomains: Record<string, string>;
  role: HostRole;
  capacity?: Capacity;
  /** Inventory groups the host belongs to (without `all`). */
  groups: string[];
  /** Every inventory variable, after Ansible's precedence rules. */
  vars: Record<string, unknown>;
}

export interface Volume {
  id: string;
  sizeGb: number;
  /** Network volumes can be served from another host; local ones must be copied. */
  network: boolean;
  /** A volume not attached to any machine still has to move with its host. */
  attachedTo?: string;
}

export type MigrationMode = "live" | "cold";

export interface Workload {
  id: string;
  kind: "vm" | "container" | "service";
  host: string;
  cpu: number;
  memoryMb: number;
  diskGb: number;
  /** Placement rules. */
  antiAffinityGroup?: string;
  singleton?: boolean;
  pinned?: boolean;
  migration: MigrationMode[];
  volumes: Volume[];
}

export interface Fleet {
  hosts: Host[];
  workloads: Workload[];
}

/** Regions in first-seen order. */
export function regionsOf(hosts: readonly Host[]): string[] {
  return [...new Set(hosts.map((h) => h.region))];
}
