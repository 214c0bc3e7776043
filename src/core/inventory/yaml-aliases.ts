/**
 * A budget for YAML aliases in inventories and vars files: a few lines of anchors and aliases
 * (`&l1 [*l0, *l0, ...]`, nested) stand for billions of values. PyYAML shares them, but Overhaul
 * turns every variable into plain data, so such a file would hang `inventory list`, a run, or
 * `overhaul serve` on every reload.
 *
 * Invariants:
 * - `refuseAliasBombs` measures, in time linear in the document, how many values (scalars, lists,
 *   mappings, keys included) all aliases together stand for, once fully expanded. More than
 *   `aliasBudget` is an `InputError` at the alias where the total passes it, naming the limit.
 * - The budget grows with the file (`MAX_ALIAS_VALUES`, or `ALIAS_VALUES_PER_NODE` per value written
 *   in it if that is more), so a large inventory that merges `<<: *defaults` into every host
 *   passes, while the work any file can cause stays proportional to its size.
 * - An alias inside its own anchor (a recursive structure, which `ansible-inventory` crashes on)
 *   is an `InputError` at that alias, wherever it is.
 * - Pure: no I/O; never follows an alias without the budget.
 */
import { isAlias, isCollection, isPair, type Node, visit } from "yaml";
import { InputError } from "../errors.js";
import { originOf, type YamlSource } from "./yaml-load.js";

export const MAX_ALIAS_VALUES = 1_000_000;
export const ALIAS_VALUES_PER_NODE = 20;

/** How many values aliases may stand for in a document with `written` values. */
export function aliasBudget(written: number): number {
  return Math.max(MAX_ALIAS_VALUES, ALIAS_VALUES_PER_NODE * written);
}

/** Throw an InputError if the document's aliases stand for more values than `aliasBudget` allows. */
export function refuseAliasBombs(src: YamlSource): void {
  if (src.anchors.size === 0) return;
  const sizes = expandedSizes(src);
  let written = 0;
  visit(src.doc, {
    Node(_key, node) {
      if (!isAlias(node)) written++;
    },
  });
  const budget = aliasBudget(written);
  let added = 0;
  visit(src.doc, {
    Alias(_key, alias) {
      const target = src.anchors.get(alias);
      const size = target ? (sizes.get(target) ?? 0) : 0;
      added += size;
      if (added > budget) {
        throw new InputError({
          ...originOf(src, alias),
          message: `the YAML expands too many aliases (*name): up to here they stand for more than ${budget.toLocaleString("en-US")} values (*${alias.source} alone for ${size.toLocaleString("en-US")})`,
          expected: `aliases standing for at most ${MAX_ALIAS_VALUES.toLocaleString("en-US")} values in all, or ${ALIAS_VALUES_PER_NODE} per value written in the file`,
        });
      }
    },
  });
}

/**
 * The expanded size of every anchored node reachable from the document (memoized post-order walk
 * with an explicit stack, so deep documents cannot overflow the call stack).
 */
function expandedSizes(src: YamlSource): Map<Node, number> {
  const sizes = new Map<Node, number>();
  const onPath = new Set<Node>();
  const target = (n: Node): Node | undefined => (isAlias(n) ? src.anchors.get(n) : n);
  const stack: { node: Node; open: boolean }[] = [];
  if (src.root) stack.push({ node: src.root, open: false });
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as { node: Node; open: boolean };
    const node = target(top.node);
    if (node === undefined || sizes.has(node)) {
      stack.pop();
      continue;
    }
    const children = childrenOf(node);
    if (!top.open) {
      top.open = true;
      onPath.add(node);
      for (const child of children) {
        const t = target(child);
        if (t === undefined || sizes.has(t)) continue;
        if (onPath.has(t)) {
          throw new InputError({
            ...originOf(src, child),
            message: `YAML alias *${(child as { source?: string }).source ?? "?"} is inside its own anchor: a recursive structure`,
            expected: "an alias to a value defined before it, outside that value",
          });
        }
        stack.push({ node: child, open: false });
      }
      continue;
    }
    let size = 1;
    for (const child of children) {
      const t = target(child);
      if (t !== undefined) size += sizes.get(t) ?? 0;
    }
    sizes.set(node, size);
    onPath.delete(node);
    stack.pop();
  }
  return sizes;
}

/** Items of a list; keys and values of a mapping. */
function childrenOf(node: Node): Node[] {
  if (!isCollection(node)) return [];
  const out: Node[] = [];
  for (const item of node.items) {
    if (isPair(item)) {
      if (item.key) out.push(item.key as Node);
      if (item.value) out.push(item.value as Node);
    } else if (item) {
      out.push(item as Node);
    }
  }
  return out;
}
