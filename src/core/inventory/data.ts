/**
 * The inventory as the parsers build it: groups (hosts, children, vars, priority) and hosts
 * (vars), mirroring Ansible's `InventoryData` / `Group` / `Host` objects.
 *
 * Invariants:
 * - `all` and `ungrouped` always exist, `ungrouped` is the first child of `all`.
 * - Maps keep creation order; hosts and children keep insertion order without duplicates.
 *   Ansible's output lists them in these orders, so they are part of the contract.
 * - The children relation never has a cycle: `addChild` refuses an edge that would close one and
 *   names the whole loop in the error.
 * - Setting a variable replaces it (Ansible's default `hash_behaviour=replace`) and records
 *   where it came from, so later errors can point at the file and line of the winning value.
 * - `ansible_group_priority` on a group sets the group's priority and is not kept as a variable.
 * - Pure: no I/O.
 */
import { InputError, type Problem } from "../errors.js";
import { setOwn } from "./pytext.js";

/** Where a value or entity was written. */
export interface Origin {
  file: string;
  line?: number;
  column?: number;
}

export type Vars = Record<string, unknown>;

export interface GroupRecord {
  readonly name: string;
  readonly hosts: string[];
  /** The same names as `hosts`, for constant-time membership checks on large groups. */
  readonly hostSet: Set<string>;
  readonly children: string[];
  readonly parents: string[];
  readonly vars: Vars;
  readonly origins: Map<string, Origin>;
  priority: number;
  origin?: Origin;
}

export interface HostRecord {
  readonly name: string;
  /** Groups the host was put in directly, in order (ancestors are derived). */
  readonly groups: string[];
  readonly vars: Vars;
  readonly origins: Map<string, Origin>;
  origin?: Origin;
}

export class InventoryData {
  readonly groups = new Map<string, GroupRecord>();
  readonly hosts = new Map<string, HostRecord>();
  /** Things Ansible warns about and skips (unknown keys, non-mapping groups). */
  readonly warnings: Problem[] = [];

  constructor(empty = false) {
    if (empty) return;
    this.addGroup("all");
    this.addGroup("ungrouped");
    this.addChild("all", "ungrouped");
  }

  /** Add a group if it is new; returns its name. */
  addGroup(name: string, at?: Origin): string {
    if (name === "") throw new InputError({ ...at, message: "empty group name", expected: "a group name" });
    if (!this.groups.has(name)) {
      this.groups.set(name, {
        name,
        hosts: [],
        hostSet: new Set(),
        children: [],
        parents: [],
        vars: {},
        origins: new Map(),
        priority: 1,
        ...(at ? { origin: at } : {}),
      });
    }
    return name;
  }

  /** Add a host if it is new (with `ansible_port` from `host:port`), and put it in `group`. */
  addHost(name: string, group?: string, port?: number, at?: Origin): void {
    if (name === "") throw new InputError({ ...at, message: "empty host name", expected: "a host name" });
    let host = this.hosts.get(name);
    if (!host) {
      host = { name, groups: [], vars: {}, origins: new Map(), ...(at ? { origin: at } : {}) };
      this.hosts.set(name, host);
      if (port) this.setHostVar(name, "ansible_port", port, at);
    }
    if (group !== undefined) {
      const g = this.group(group);
      if (!g.hostSet.has(name)) {
        g.hosts.push(name);
        g.hostSet.add(name);
        if (!host.groups.includes(group)) host.groups.push(group);
      }
    }
  }

  setGroupVar(group: string, key: string, value: unknown, at?: Origin): void {
    const g = this.group(group);
    if (key === "ansible_group_priority") {
      g.priority = priorityOf(value, group, at);
      return;
    }
    setOwn(g.vars, key, value);
    if (at) g.origins.set(key, at);
  }

  setHostVar(host: string, key: string, value: unknown, at?: Origin): void {
    const h = this.hosts.get(host);
    if (!h) throw new Error(`bug: unknown host ${host}`);
    setOwn(h.vars, key, value);
    if (at) h.origins.set(key, at);
  }

  /** Make `child` a child group of `parent`; refuses (InputError) an edge that closes a cycle. */
  addChild(parent: string, child: string, at?: Origin): void {
    const p = this.group(parent);
    const c = this.group(child);
    if (p.children.includes(child)) return;
    const loop = child === parent ? [child] : this.pathDown(child, parent);
    if (loop) {
      const cycle = [...loop, child].join(" -> ");
      throw new InputError({
        ...at,
        message: `adding group "${child}" as a child of "${parent}" creates a cycle: ${cycle}`,
        expected: "children that form a tree (a group cannot contain itself, directly or indirectly)",
      });
    }
    p.children.push(child);
    if (!c.parents.includes(parent)) c.parents.push(parent);
  }

  /** Remove a host from a group (used when reconciling `ungrouped`). */
  removeFromGroup(host: string, group: string): void {
    const g = this.group(group);
    const i = g.hosts.indexOf(host);
    if (i >= 0) g.hosts.splice(i, 1);
    g.hostSet.delete(host);
    const h = this.hosts.get(host);
    if (h) {
      const j = h.groups.indexOf(group);
      if (j >= 0) h.groups.splice(j, 1);
    }
  }

  warn(problem: Problem): void {
    this.warnings.push(problem);
  }

  group(name: string): GroupRecord {
    const g = this.groups.get(name);
    if (!g) throw new Error(`bug: unknown group ${name}`);
    return g;
  }

  /** A deep copy, so resolving never changes what the parsers built. */
  clone(): InventoryData {
    const out = new InventoryData(true);
    for (const g of this.groups.values()) {
      out.groups.set(g.name, {
        ...g,
        hosts: [...g.hosts],
        hostSet: new Set(g.hostSet),
        children: [...g.children],
        parents: [...g.parents],
        vars: { ...g.vars },
        origins: new Map(g.origins),
      });
    }
    for (const h of this.hosts.values()) {
      out.hosts.set(h.name, {
        ...h,
        groups: [...h.groups],
        vars: { ...h.vars },
        origins: new Map(h.origins),
      });
    }
    out.warnings.push(...this.warnings);
    return out;
  }

  /** A path of children edges from `from` down to `to`, or undefined. */
  private pathDown(from: string, to: string): string[] | undefined {
    const seen = new Set<string>();
    const walk = (name: string): string[] | undefined => {
      if (name === to) return [name];
      if (seen.has(name)) return undefined;
      seen.add(name);
      for (const kid of this.group(name).children) {
        const rest = walk(kid);
        if (rest) return [name, ...rest];
      }
      return undefined;
    };
    return walk(from);
  }
}

/** Python's `int(value)` as `Group.set_variable` applies it to `ansible_group_priority`. */
function priorityOf(value: unknown, group: string, at?: Origin): number {
  if (typeof value === "number" && Number.isFinite(value)) return Math.trunc(value);
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string" && /^\s*[+-]?[0-9](?:_?[0-9])*\s*$/.test(value)) {
    return Number(value.trim().replace(/_/g, ""));
  }
  throw new InputError({
    ...at,
    path: `${group}.ansible_group_priority`,
    message: `ansible_group_priority must be an integer, got ${JSON.stringify(value)}`,
    expected: "an integer such as 10",
  });
}
