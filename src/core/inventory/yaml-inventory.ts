/**
 * Ansible's YAML inventory format (`plugins/inventory/yaml.py`), reimplemented:
 * `all: {hosts: {h: {vars}}, children: {g: {...}}, vars: {...}}`, nested to any depth.
 *
 * Invariants:
 * - Every top-level key is a group; inside a group only `hosts`, `children` and `vars` count,
 *   processed in the order they appear (that order decides host and child order).
 * - A string where a section mapping is expected means `{string: null}` (Ansible allows it);
 *   any other non-mapping section is an error; an unknown key or a non-mapping group is skipped
 *   with a warning, as Ansible does.
 * - Host keys must be strings (ranges and `host:port` allowed); host values are mappings or empty.
 * - Aliases may stand for only so many values (`refuseAliasBombs`), checked before anything is read.
 * - A key written twice in one mapping is an error naming both places (Ansible warns and keeps the
 *   last, silently dropping e.g. a group's first list of hosts).
 * - Errors are `InputError`s with file, line, column and the YAML path.
 * - Pure: no I/O.
 */
import type { Node } from "yaml";
import { isMap, isScalar, isSeq } from "yaml";
import { InputError } from "../errors.js";
import { InventoryData } from "./data.js";
import { expandHostPattern, RANGE_EXPECTED, RangeSyntaxError } from "./ranges.js";
import { refuseAliasBombs } from "./yaml-aliases.js";
import {
  deref,
  keyString,
  loadYaml,
  originOf,
  type Pair,
  pairsOf,
  refuseDuplicateKeys,
  toValue,
  type YamlSource,
} from "./yaml-load.js";

/** Parse YAML (or JSON) inventory text into `data` (a new inventory by default) and return it. */
export function parseYamlInventory(text: string, file: string, data = new InventoryData()): InventoryData {
  return parseYamlInventorySource(loadYaml(text, file), data);
}

/** Whether a loaded document looks like a YAML inventory at all (a non-empty mapping). */
export function looksLikeYamlInventory(src: YamlSource): boolean {
  const root = deref(src, src.root);
  return isMap(root) && root.items.length > 0;
}

export function parseYamlInventorySource(src: YamlSource, data = new InventoryData()): InventoryData {
  refuseAliasBombs(src);
  const root = deref(src, src.root);
  if (root === null || isFalsy(src, root)) {
    throw new InputError({
      file: src.file,
      message: "the YAML inventory is empty",
      expected: "all: {hosts: ...}",
    });
  }
  if (!isMap(root)) {
    throw new InputError({
      ...originOf(src, root),
      message: "a YAML inventory must be a mapping of group names",
      expected: "all: {hosts: ..., children: ..., vars: ...}",
    });
  }
  const top = pairsOf(src, root);
  const plugin = top.find((p) => p.key === "plugin");
  if (plugin && !isFalsy(src, deref(src, plugin.valueNode))) {
    throw new InputError({
      ...originOf(src, plugin.keyNode),
      message: "this is an inventory plugin configuration (plugin:), which Overhaul does not run",
      expected: "a static YAML or INI inventory",
    });
  }
  refuseDuplicateKeys(src);
  for (const p of top) parseGroup(src, data, p, "");
  return data;
}

/** A YAML null (`~`, `null`, empty) as `null`, like Python's `None`. */
function nullToNone(node: Node | null): Node | null {
  return node !== null && isScalar(node) && node.value === null ? null : node;
}

function isFalsy(src: YamlSource, node: Node | null): boolean {
  if (node === null) return true;
  if (isMap(node) || isSeq(node)) return node.items.length === 0;
  const v = toValue(src, node);
  return v === null || v === false || v === 0 || v === "";
}

function parseGroup(
  src: YamlSource,
  data: InventoryData,
  entry: Pair,
  parentPath: string,
): string | undefined {
  const at = originOf(src, entry.keyNode);
  const path = `${parentPath}${String(entry.key)}`;
  const body = nullToNone(deref(src, entry.valueNode));
  if (body !== null && !isMap(body)) {
    data.warn({ ...at, path, message: `skipping "${String(entry.key)}": not a valid group definition` });
    return typeof entry.key === "string" ? entry.key : undefined;
  }
  if (typeof entry.key !== "string" || entry.key === "") {
    throw new InputError({
      ...at,
      path,
      message: "group name must be a non-empty string",
      expected: "a group name",
    });
  }
  const group = data.addGroup(entry.key, at);
  if (body === null) return group;
  const pairs = pairsOf(src, body);
  const sections = new Map<string, Pair[] | null>();
  for (const name of ["vars", "children", "hosts"]) {
    const p = pairs.find((x) => x.key === name);
    if (p) sections.set(name, sectionPairs(src, p, `${path}.${name}`, group));
  }
  for (const p of pairs) {
    const key = p.key;
    const items = typeof key === "string" ? sections.get(key) : undefined;
    const value = nullToNone(deref(src, p.valueNode));
    if (items === undefined) {
      if (value !== null && !isMap(value)) {
        data.warn({
          ...originOf(src, p.keyNode),
          path: `${path}.${String(key)}`,
          message: "skipping: not a mapping",
        });
      } else if (value !== null) {
        data.warn({
          ...originOf(src, p.keyNode),
          path: `${path}.${String(key)}`,
          message: `skipping unexpected key "${String(key)}" in group "${group}"`,
          expected: "hosts, children or vars",
        });
      }
      continue;
    }
    if (items === null) continue;
    if (key === "vars") {
      for (const v of items) {
        data.setGroupVar(
          group,
          keyString(src, v.key, v.keyNode),
          toValue(src, v.valueNode),
          originOf(src, v.keyNode),
        );
      }
    } else if (key === "children") {
      for (const c of items) addChildGroup(src, data, group, c, `${path}.children.`);
    } else {
      for (const h of items) addHosts(src, data, group, h, `${path}.hosts`);
    }
  }
  return group;
}

/** A section's entries: a string means `{string: null}`, null means nothing, else a mapping. */
function sectionPairs(src: YamlSource, p: Pair, path: string, group: string): Pair[] | null {
  const value = nullToNone(deref(src, p.valueNode));
  if (value === null) return null;
  if (isScalar(value) && typeof value.value === "string") {
    return [{ key: value.value, keyNode: value, valueNode: null }];
  }
  if (!isMap(value)) {
    throw new InputError({
      ...originOf(src, value),
      path,
      message: `"${String(p.key)}" of group "${group}" must be a mapping`,
      expected: `${String(p.key)}: {name: ...}`,
    });
  }
  return pairsOf(src, value);
}

function addChildGroup(src: YamlSource, data: InventoryData, group: string, c: Pair, path: string): void {
  const child = parseGroup(src, data, c, path);
  const at = originOf(src, c.keyNode);
  if (child === undefined) return;
  if (data.groups.has(child)) data.addChild(group, child, at);
  else if (data.hosts.has(child)) data.addHost(child, group);
  else {
    throw new InputError({
      ...at,
      path: `${path}${child}`,
      message: `"${child}" is not a known group or host`,
      expected: "a group definition (a mapping or empty)",
    });
  }
}

function addHosts(src: YamlSource, data: InventoryData, group: string, h: Pair, path: string): void {
  const at = originOf(src, h.keyNode);
  if (typeof h.key !== "string") {
    throw new InputError({
      ...at,
      path,
      message: `host name ${JSON.stringify(h.key)} must be a string`,
      expected: "a quoted name for hosts that look like numbers",
    });
  }
  let expanded: { hostnames: string[]; port?: number } = { hostnames: [] };
  try {
    expanded = expandHostPattern(h.key);
  } catch (e) {
    if (!(e instanceof RangeSyntaxError)) throw e;
    throw new InputError({
      ...at,
      path: `${path}.${h.key}`,
      message: `bad host range: ${e.message}`,
      expected: RANGE_EXPECTED,
    });
  }
  const value = deref(src, h.valueNode);
  let vars: Pair[] = [];
  if (value !== null && !isFalsy(src, value)) {
    if (!isMap(value)) {
      throw new InputError({
        ...originOf(src, value),
        path: `${path}.${h.key}`,
        message: `variables of host "${h.key}" must be a mapping`,
        expected: "name: value pairs",
      });
    }
    vars = pairsOf(src, value);
  }
  const values = vars.map(
    (v) => [keyString(src, v.key, v.keyNode), toValue(src, v.valueNode), originOf(src, v.keyNode)] as const,
  );
  for (const name of expanded.hostnames) {
    data.addHost(name, group, expanded.port, at);
    for (const [k, v, where] of values) data.setHostVar(name, k, v, where);
  }
}
