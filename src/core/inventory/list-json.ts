/**
 * The output of `ansible-inventory -i FILE --list`, built from a resolved `Inventory`.
 *
 * Invariants:
 * - Same structure as Ansible: `_meta.hostvars` has every host with at least one variable;
 *   `all` has only `children`; every other group reachable from `all` has `hosts` (direct
 *   members) and `children`, each omitted when empty, and a group with neither is omitted
 *   altogether (it still appears in its parents' `children`).
 * - Object keys are inserted in sorted order at every level, like Python's
 *   `json.dumps(sort_keys=True)`, so `JSON.stringify(x, null, 4)` prints what Ansible prints
 *   (except that JavaScript always lists integer-like keys first).
 * - Pure: no I/O.
 */
import { pyCompare, setOwn } from "./pytext.js";
import type { Inventory } from "./resolve.js";

export type AnsibleListJson = Record<string, unknown>;

export function toAnsibleListJson(inv: Inventory): AnsibleListJson {
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();
  const format = (name: string): void => {
    const g = inv.groups.get(name);
    if (!g) return;
    const entry: Record<string, unknown> = {};
    if (name !== "all" && g.hosts.length > 0) entry.hosts = [...g.hosts];
    if (g.children.length > 0) entry.children = [...g.children];
    if (Object.keys(entry).length > 0) setOwn(out, name, entry);
    for (const child of g.children) {
      if (!seen.has(child)) {
        format(child);
        seen.add(child);
      }
    }
  };
  format("all");
  const hostvars: Record<string, unknown> = {};
  for (const h of inv.hosts.values()) {
    if (Object.keys(h.vars).length > 0) setOwn(hostvars, h.name, h.vars);
  }
  setOwn(out, "_meta", { hostvars });
  return sortKeys(out) as AnsibleListJson;
}

/** A deep copy with every object's keys inserted in Python's sorted order. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const src = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(src).sort(pyCompare)) setOwn(out, k, sortKeys(src[k]));
    return out;
  }
  return value;
}
