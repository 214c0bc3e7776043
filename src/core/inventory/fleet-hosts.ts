/**
 * How inventory variables become Overhaul's `Host` (docs/inventory.md has the table).
 *
 * Invariants:
 * - Read only from the host's variables after Ansible's precedence, so what `ansible-inventory`
 *   shows for a host is exactly what Overhaul uses.
 * - `overhaul_*` names win over the generic names (`overhaul_region` over `region`, ...).
 * - Address, port and user are read as Ansible's ssh connection plugin reads them: from
 *   `ansible_host`/`ansible_port`/`ansible_user` and the older `ansible_ssh_host`/`ansible_ssh_port`/
 *   `ansible_ssh_user`; when both names of a pair are set (not null), the `ansible_ssh_*` one wins,
 *   wherever each was set (the plugin takes the last set name of its list after precedence). The
 *   winning name is validated and named in errors.
 * - A bad value (unknown role, port out of range, half a capacity, a list where a name belongs) is
 *   an `InputError` naming the host, the variable and the file and line that set it; nothing is
 *   defaulted or clamped silently. Absent values take the documented defaults.
 * - Pure: no I/O.
 */
import { InputError, type Problem } from "../errors.js";
import type { Capacity, Connection, FailureDomainKind, Host, HostRole } from "../model/fleet.js";
import type { Origin } from "./data.js";
import type { Inventory, InventoryHost } from "./resolve.js";

const ROLES: readonly HostRole[] = ["worker", "holdover", "control"];
const SSH_CONNECTIONS = new Set(["ssh", "paramiko", "paramiko_ssh", "smart"]);
/** Failure-domain kinds and the variables that set them, most specific first. */
export const FAILURE_DOMAIN_VARS: Readonly<Record<FailureDomainKind, readonly string[]>> = {
  rack: ["overhaul_rack", "rack"],
  power: ["overhaul_power", "power_circuit"],
  switch: ["overhaul_switch", "switch"],
};
/**
 * Where to connect, from the ssh plugin's `vars:` lists (ansible-core 2.14
 * `plugins/connection/ssh.py`: host, port, remote_user); the last name that is set wins.
 */
export const CONNECTION_VARS = {
  address: ["ansible_host", "ansible_ssh_host"],
  port: ["ansible_port", "ansible_ssh_port"],
  user: ["ansible_user", "ansible_ssh_user"],
} as const satisfies Record<string, readonly string[]>;
const CAPACITY_VARS = ["overhaul_cpu", "overhaul_memory_mb", "overhaul_disk_gb"] as const;

/** Every inventory host as a fleet `Host`, in inventory order. Throws one InputError listing all problems. */
export function toFleetHosts(inv: Inventory): Host[] {
  const problems: Problem[] = [];
  const hosts: Host[] = [];
  for (const h of inv.hosts.values()) {
    const before = problems.length;
    const host = toFleetHost(h, problems);
    if (problems.length === before) hosts.push(host);
  }
  if (problems.length > 0) throw new InputError(problems);
  return hosts;
}

function toFleetHost(h: InventoryHost, problems: Problem[]): Host {
  const bad = (name: string, message: string, expected: string): undefined => {
    const at: Origin | undefined = h.origins.get(name) ?? h.origin;
    problems.push({
      ...at,
      path: `${h.name}.${name}`,
      message: `host "${h.name}": ${name} ${message}`,
      expected,
    });
    return undefined;
  };
  const text = (name: string): string | undefined => {
    const v = unwrap(h.vars[name]);
    if (v === undefined || v === null) return undefined;
    if (typeof v === "string" && v !== "") return v;
    if (typeof v === "number" && Number.isFinite(v)) return String(v);
    return bad(name, `must be a non-empty name, got ${show(v)}`, "a string");
  };
  const firstText = (names: readonly string[]): string | undefined => {
    for (const n of names) {
      const v = text(n);
      if (v !== undefined) return v;
    }
    return undefined;
  };
  /** The name whose value Ansible's ssh plugin uses: the last of `names` that is set. */
  const lastSet = (names: readonly string[]): string => {
    const set = names.filter((n) => {
      const v = unwrap(h.vars[n]);
      return v !== undefined && v !== null;
    });
    return set[set.length - 1] ?? (names[0] as string);
  };
  const int = (name: string, min: number, max: number): number | undefined => {
    const v = unwrap(h.vars[name]);
    if (v === undefined || v === null) return undefined;
    const n =
      typeof v === "number" ? v : typeof v === "string" && /^\s*[0-9]+\s*$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      return bad(
        name,
        `must be an integer from ${min} to ${max}, got ${show(v)}`,
        `an integer in ${min}..${max}`,
      );
    }
    return n;
  };

  const port = int(lastSet(CONNECTION_VARS.port), 1, 65535);
  const user = text(lastSet(CONNECTION_VARS.user));
  const conn = text("ansible_connection");
  let connection: Connection = "ssh";
  if (conn === "local") connection = "local";
  else if (conn !== undefined && !SSH_CONNECTIONS.has(conn)) {
    bad(
      "ansible_connection",
      `"${conn}" is not a connection Overhaul can use`,
      "local or ssh (unset means ssh)",
    );
  }
  const roleText = text("overhaul_role") ?? "worker";
  const role = ROLES.find((r) => r === roleText);
  if (!role) bad("overhaul_role", `"${roleText}" is not a role`, ROLES.join(", "));

  const failureDomains: Record<string, string> = {};
  for (const [kind, names] of Object.entries(FAILURE_DOMAIN_VARS)) {
    const v = firstText(names);
    if (v !== undefined) failureDomains[kind] = v;
  }
  const host: Host = {
    name: h.name,
    address: text(lastSet(CONNECTION_VARS.address)) ?? h.name,
    connection,
    region: firstText(["overhaul_region", "region"]) ?? "default",
    failureDomains,
    role: role ?? "worker",
    groups: [...h.groups],
    vars: { ...h.vars },
  };
  if (port !== undefined) host.port = port;
  if (user !== undefined) host.user = user;
  const capacity = capacityOf(h, int, bad);
  if (capacity) host.capacity = capacity;
  return host;
}

function capacityOf(
  h: InventoryHost,
  int: (name: string, min: number, max: number) => number | undefined,
  bad: (name: string, message: string, expected: string) => undefined,
): Capacity | undefined {
  const present = CAPACITY_VARS.filter((n) => h.vars[n] !== undefined && h.vars[n] !== null);
  if (present.length === 0) return undefined;
  if (present.length < CAPACITY_VARS.length) {
    const missing = CAPACITY_VARS.filter((n) => !present.includes(n));
    bad(
      present[0] as string,
      `is set but ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not`,
      `all of ${CAPACITY_VARS.join(", ")}, or none`,
    );
    return undefined;
  }
  const cpu = int("overhaul_cpu", 1, 1_000_000);
  const memoryMb = int("overhaul_memory_mb", 1, Number.MAX_SAFE_INTEGER);
  const diskGb = int("overhaul_disk_gb", 0, Number.MAX_SAFE_INTEGER);
  if (cpu === undefined || memoryMb === undefined || diskGb === undefined) return undefined;
  return { cpu, memoryMb, diskGb };
}

/** `!unsafe` values are plain text for Overhaul. */
function unwrap(v: unknown): unknown {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === "__ansible_unsafe") return o.__ansible_unsafe;
  }
  return v;
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}
