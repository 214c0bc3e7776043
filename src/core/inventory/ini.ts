/**
 * Ansible's INI inventory format (`plugins/inventory/ini.py`), reimplemented.
 *
 * Invariants:
 * - Lines before the first section are hosts of `ungrouped`; `[g]` holds hosts, `[g:children]`
 *   group names, `[g:vars]` one `key=value` per line. `#` and `;` start comment lines.
 * - Host lines are split with shlex (so `#` inside a word ends the line); every value, inline or
 *   in `[g:vars]`, goes through Python's `literal_eval` and stays a string when that fails
 *   (Ansible's documentation says `:vars` values are strings; its code, which we follow, does not).
 * - `[g:children]` may name a group declared later; `[g:vars]` alone never declares a group.
 *   Undeclared names are errors at the end, reporting the first one, as Ansible does.
 * - Every error is an `InputError` with file, line and column.
 * - Pure: no I/O.
 */
import { InputError, type Problem } from "../errors.js";
import { InventoryData, type Origin } from "./data.js";
import { parseIniValue } from "./py-literal.js";
import { leadingPySpace, pySplitLines, pyStrip } from "./pytext.js";
import { expandHostPattern, RANGE_EXPECTED, RangeSyntaxError } from "./ranges.js";
import { ShlexError, shlexSplit } from "./shlex.js";

const SECTION = /^\[([^:\]\s]+)(?::([\p{L}\p{N}_]+))?\]\s*(?:#.*)?$/u;
const GROUP_NAME = /^([^:\]\s]+)\s*(?:#.*)?$/u;

interface Pending {
  state: "vars" | "children";
  line: number;
  parents: string[];
}

/** Parse INI inventory text into `data` (a new inventory by default) and return it. */
export function parseIniInventory(text: string, file: string, data = new InventoryData()): InventoryData {
  const pending = new Map<string, Pending>();
  let group = "ungrouped";
  let state = "hosts";
  const lines = pySplitLines(text);
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n] as string;
    const line = pyStrip(raw);
    if (line === "" || line[0] === "#" || line[0] === ";") continue;
    const indent = leadingPySpace(raw);
    const at = (offset = 0): Origin => ({ file, line: n + 1, column: indent + offset + 1 });
    const fail = (message: string, offset = 0, expected?: string): never => {
      const p: Problem = { ...at(offset), path: section(group, state), message };
      throw new InputError(expected ? { ...p, expected } : p);
    };
    const m = SECTION.exec(line);
    if (m) {
      group = m[1] as string;
      state = m[2] ?? "hosts";
      if (state !== "hosts" && state !== "children" && state !== "vars") {
        fail(
          `section [${group}:${state}] has unknown type "${state}"`,
          0,
          "[group], [group:children] or [group:vars]",
        );
      }
      if (!data.groups.has(group)) {
        if (state === "vars" && !pending.has(group))
          pending.set(group, { state: "vars", line: n + 1, parents: [] });
        data.addGroup(group, at());
      }
      const p = pending.get(group);
      if (p && state !== "vars") {
        if (p.state === "children") addPendingChildren(data, group, pending, file);
        else pending.delete(group);
      }
      continue;
    }
    if (line.startsWith("[") && line.endsWith("]")) {
      fail(`invalid section header "${line}"`, 0, "[group], [group:children] or [group:vars] with no spaces");
    }
    if (state === "hosts") parseHostLine(data, line, group, at, fail);
    else if (state === "vars") {
      const eq = line.indexOf("=");
      if (eq < 0)
        fail(`expected key=value, got "${line}"`, 0, "one key=value per line in a [group:vars] section");
      const key = pyStrip(line.slice(0, eq));
      data.setGroupVar(group, key, iniValue(pyStrip(line.slice(eq + 1)), at(), key), at());
    } else {
      const g = GROUP_NAME.exec(line);
      if (!g)
        fail(
          `expected a group name, got "${line}"`,
          0,
          "one group name per line in a [group:children] section",
        );
      const child = (g as RegExpExecArray)[1] as string;
      if (data.groups.has(child)) data.addChild(group, child, at());
      else {
        const p = pending.get(child);
        if (p) p.parents.push(group);
        else pending.set(child, { state: "children", line: n + 1, parents: [group] });
      }
    }
  }
  for (const [name, p] of pending) {
    const where = { file, line: p.line };
    if (p.state === "vars") {
      throw new InputError({
        ...where,
        path: `[${name}:vars]`,
        message: `section [${name}:vars] is for group "${name}", which is never declared`,
        expected: `a [${name}] or [${name}:children] section`,
      });
    }
    const parent = p.parents[p.parents.length - 1] as string;
    throw new InputError({
      ...where,
      path: `[${parent}:children]`,
      message: `section [${parent}:children] names group "${name}", which is never declared`,
      expected: `a [${name}] or [${name}:children] section`,
    });
  }
  return data;
}

function section(group: string, state: string): string {
  return state === "hosts" ? `[${group}]` : `[${group}:${state}]`;
}

function addPendingChildren(
  data: InventoryData,
  group: string,
  pending: Map<string, Pending>,
  file: string,
): void {
  const p = pending.get(group) as Pending;
  for (const parent of p.parents) {
    data.addChild(parent, group, { file, line: p.line });
    if (pending.get(parent)?.state === "children") addPendingChildren(data, parent, pending, file);
  }
  pending.delete(group);
}

function parseHostLine(
  data: InventoryData,
  line: string,
  group: string,
  at: (offset?: number) => Origin,
  fail: (message: string, offset?: number, expected?: string) => never,
): void {
  let tokens: { value: string; offset: number }[] = [];
  try {
    tokens = shlexSplit(line);
  } catch (e) {
    if (!(e instanceof ShlexError)) throw e;
    fail(`cannot parse host line: ${e.message.toLowerCase()}`, e.offset, "balanced quotes");
  }
  const first = tokens[0];
  if (!first) {
    fail("expected a host name", 0, "host [key=value ...]");
    return;
  }
  let expanded: { hostnames: string[]; port?: number } = { hostnames: [] };
  try {
    expanded = expandHostPattern(first.value);
  } catch (e) {
    if (!(e instanceof RangeSyntaxError)) throw e;
    fail(`bad host range in "${first.value}": ${e.message}`, first.offset, RANGE_EXPECTED);
  }
  if (pyStrip(first.value).endsWith(":") && expanded.port === undefined) {
    fail(
      `host "${first.value}" ends in ":"`,
      first.offset,
      'host or host:port (":" is reserved for the port)',
    );
  }
  if (expanded.hostnames.some((h) => pyStrip(h) === "---")) {
    fail(`host "${first.value}" looks like a YAML document marker`, first.offset, "an INI host line");
  }
  const vars: [string, unknown, Origin][] = [];
  for (const t of tokens.slice(1)) {
    const eq = t.value.indexOf("=");
    if (eq < 0) fail(`expected key=value after the host name, got "${t.value}"`, t.offset, "key=value");
    const key = t.value.slice(0, eq);
    vars.push([key, iniValue(t.value.slice(eq + 1), at(t.offset), key), at(t.offset)]);
  }
  for (const host of expanded.hostnames) {
    data.addHost(host, group, expanded.port, at(first.offset));
    for (const [k, v, where] of vars) data.setHostVar(host, k, v, where);
  }
}

function iniValue(text: string, where: Origin, key: string): unknown {
  const r = parseIniValue(text);
  if (r.ok) return r.value;
  throw new InputError({
    ...where,
    path: key,
    message: `value ${JSON.stringify(text)} is ${r.unsupported}`,
    expected: "a string, number, boolean, list or dict (quote it to keep it a string)",
  });
}
