/**
 * From parsed inventory data to the resolved `Inventory`: Ansible's `reconcile_inventory` and its
 * variable precedence for inventory-sourced variables.
 *
 * Invariants:
 * - Every group other than `all` has a parent (orphans become children of `all`); a host with
 *   no group but `all` is in `ungrouped`, and a host in another group is not.
 * - A host's variables are combined in Ansible's order, later replacing earlier:
 *   `all` inventory vars < other groups' inventory vars, sorted by (depth, ansible_group_priority,
 *   name) < `group_vars/all` < `group_vars/<group>` in the same order < the host's inventory vars
 *   < `host_vars/<host>`. Depth is the longest path from `all`.
 * - The variables `ansible-inventory` hides (`inventory_file`, `groups`, `omit`, ...) are dropped.
 * - The result is frozen; the input data is not changed.
 * - Pure: no I/O.
 */
import type { Problem } from "../errors.js";
import type { InventoryData, Origin, Vars } from "./data.js";
import { pyCompare, setOwn } from "./pytext.js";
import { parseVarsFiles, type VarBag, type VarsFiles } from "./vars-files.js";

export interface InventoryGroup {
  readonly name: string;
  /** Hosts put directly in this group, in inventory order. */
  readonly hosts: readonly string[];
  readonly children: readonly string[];
  readonly parents: readonly string[];
  /** Longest path from `all` (which is 0). */
  readonly depth: number;
  readonly priority: number;
  /** Variables set on the group in the inventory file itself. */
  readonly vars: Readonly<Vars>;
}

export interface InventoryHost {
  readonly name: string;
  /** Every group the host belongs to, directly or through children, sorted, without `all`. */
  readonly groups: readonly string[];
  /** Every variable after precedence (what `ansible-inventory --list` shows in `_meta.hostvars`). */
  readonly vars: Readonly<Vars>;
  /** Where each variable's winning value was written. */
  readonly origins: ReadonlyMap<string, Origin>;
  readonly origin?: Origin;
}

export interface Inventory {
  /** Groups in creation order; `all` and `ungrouped` first. */
  readonly groups: ReadonlyMap<string, InventoryGroup>;
  /** Hosts in creation order. */
  readonly hosts: ReadonlyMap<string, InventoryHost>;
  /** Entries Ansible would skip with a warning. */
  readonly warnings: readonly Problem[];
}

/** Variables `ansible-inventory` removes from its output. */
export const INTERNAL_VARS: ReadonlySet<string> = new Set([
  "ansible_diff_mode",
  "ansible_config_file",
  "ansible_facts",
  "ansible_forks",
  "ansible_inventory_sources",
  "ansible_limit",
  "ansible_playbook_python",
  "ansible_run_tags",
  "ansible_skip_tags",
  "ansible_verbosity",
  "ansible_version",
  "inventory_dir",
  "inventory_file",
  "inventory_hostname",
  "inventory_hostname_short",
  "groups",
  "group_names",
  "omit",
  "playbook_dir",
]);

/** Reconcile groups, apply `group_vars`/`host_vars` and variable precedence; returns a frozen Inventory. */
export function resolveInventory(parsed: InventoryData, files: VarsFiles = {}): Inventory {
  const data = parsed.clone();
  reconcile(data);
  const depth = depths(data);
  const groupFiles = new Map<string, VarBag>();
  for (const name of data.groups.keys()) groupFiles.set(name, parseVarsFiles(files.groupVars?.get(name)));

  const groups = new Map<string, InventoryGroup>();
  for (const g of data.groups.values()) {
    groups.set(
      g.name,
      Object.freeze({
        name: g.name,
        hosts: Object.freeze([...g.hosts]),
        children: Object.freeze([...g.children]),
        parents: Object.freeze([...g.parents]),
        depth: depth.get(g.name) ?? 0,
        priority: g.priority,
        vars: Object.freeze({ ...g.vars }),
      }),
    );
  }
  const hosts = new Map<string, InventoryHost>();
  for (const h of data.hosts.values()) {
    const member = memberOf(data, h.groups);
    member.delete("all");
    const ordered = [...member].sort((a, b) => {
      const ga = data.group(a);
      const gb = data.group(b);
      const da = depth.get(a) ?? 0;
      const db = depth.get(b) ?? 0;
      return da - db || ga.priority - gb.priority || pyCompare(a, b);
    });
    const vars: Vars = {};
    const origins = new Map<string, Origin>();
    const apply = (bag: VarBag): void => {
      for (const [k, v] of Object.entries(bag.vars)) {
        setOwn(vars, k, v);
        const o = bag.origins.get(k);
        if (o) origins.set(k, o);
        else origins.delete(k);
      }
    };
    apply(data.group("all"));
    for (const g of ordered) apply(data.group(g));
    apply(groupFiles.get("all") as VarBag);
    for (const g of ordered) apply(groupFiles.get(g) as VarBag);
    apply(h);
    apply(parseVarsFiles(files.hostVars?.get(h.name)));
    for (const k of INTERNAL_VARS) {
      delete vars[k];
      origins.delete(k);
    }
    hosts.set(
      h.name,
      Object.freeze({
        name: h.name,
        groups: Object.freeze([...member].sort(pyCompare)),
        vars: Object.freeze(vars),
        origins,
        ...(h.origin ? { origin: h.origin } : {}),
      }),
    );
  }
  for (const name of hosts.keys()) {
    if (groups.has(name))
      data.warn({ message: `"${name}" is both a group and a host`, ...originOf(data, name) });
  }
  return Object.freeze({ groups, hosts, warnings: Object.freeze([...data.warnings]) });
}

function originOf(data: InventoryData, host: string): Origin | undefined {
  return data.hosts.get(host)?.origin;
}

/** Ansible's `reconcile_inventory`. */
function reconcile(data: InventoryData): void {
  for (const g of data.groups.values()) {
    if (g.name !== "all" && g.parents.length === 0) data.addChild("all", g.name);
  }
  for (const h of data.hosts.values()) {
    const member = memberOf(data, h.groups);
    if (member.has("ungrouped")) {
      const others = [...member].filter((g) => g !== "all" && g !== "ungrouped");
      if (others.length > 0) data.removeFromGroup(h.name, "ungrouped");
    } else if (member.size === 0 || (member.size === 1 && member.has("all"))) {
      data.addHost(h.name, "ungrouped");
    }
  }
}

/** The groups `direct` are in, plus all their ancestors. */
function memberOf(data: InventoryData, direct: readonly string[]): Set<string> {
  const out = new Set<string>();
  const stack = [...direct];
  while (stack.length > 0) {
    const g = stack.pop() as string;
    if (out.has(g)) continue;
    out.add(g);
    stack.push(...data.group(g).parents);
  }
  return out;
}

/** Longest path from `all` to each group (the children relation is acyclic). */
function depths(data: InventoryData): Map<string, number> {
  const memo = new Map<string, number>();
  const visit = (name: string): number => {
    const known = memo.get(name);
    if (known !== undefined) return known;
    const parents = data.group(name).parents;
    const d = parents.length === 0 ? 0 : Math.max(...parents.map((p) => visit(p) + 1));
    memo.set(name, d);
    return d;
  };
  for (const name of data.groups.keys()) visit(name);
  return memo;
}
