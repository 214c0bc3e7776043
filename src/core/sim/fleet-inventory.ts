/**
 * A generated fleet seen as an Ansible inventory, so a plan's `hosts` pattern and `--limit` select
 * simulated hosts exactly as they select real ones.
 *
 * Invariants:
 * - Pure. Groups: one per region, one per host group the generator set, and `workers` /
 *   `holdovers` / `control` by role; every host is in `all`.
 * - Built through the same YAML inventory reader as real inventories (no second pattern matcher).
 */
import { type Inventory, parseYamlInventory, resolveInventory } from "../inventory/index.js";
import type { Host } from "../model/fleet.js";

const ROLE_GROUP = { worker: "workers", holdover: "holdovers", control: "control" } as const;

export function fleetInventory(hosts: readonly Host[]): Inventory {
  const groups = new Map<string, string[]>();
  const add = (g: string, h: string) => {
    const list = groups.get(g) ?? [];
    if (!list.includes(h)) list.push(h);
    groups.set(g, list);
  };
  for (const h of hosts) {
    add(h.region, h.name);
    add(ROLE_GROUP[h.role], h.name);
    for (const g of h.groups) add(g, h.name);
  }
  const children: Record<string, { hosts: Record<string, null> }> = {};
  for (const [g, names] of groups) children[g] = { hosts: Object.fromEntries(names.map((n) => [n, null])) };
  // JSON is YAML: the inventory reader parses it like any YAML inventory file.
  return resolveInventory(parseYamlInventory(JSON.stringify({ all: { children } }), "(generated fleet)"));
}
