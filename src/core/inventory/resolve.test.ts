/**
 * Reconciling groups, variable precedence (inventory, group_vars, host_vars) and the `--list` JSON shape.
 */
import { describe, expect, it } from "vitest";
import { parseIniInventory } from "./ini.js";
import { toAnsibleListJson } from "./list-json.js";
import { resolveInventory } from "./resolve.js";
import type { VarsFile } from "./vars-files.js";
import { parseYamlInventory } from "./yaml-inventory.js";

const ini = (text: string) => parseIniInventory(text, "hosts");
const files = (entries: Record<string, string[]>): Map<string, VarsFile[]> =>
  new Map(
    Object.entries(entries).map(([k, texts]) => [
      k,
      texts.map((text, i) => ({ file: `${k}-${i}.yml`, text })),
    ]),
  );

describe("resolveInventory: reconcile", () => {
  it("puts orphan groups under all and grouped hosts out of ungrouped", () => {
    const inv = resolveInventory(ini("solo\nboth\n[g]\nboth\n[empty]\n"));
    expect(inv.groups.get("all")?.children).toEqual(["ungrouped", "g", "empty"]);
    expect(inv.groups.get("ungrouped")?.hosts).toEqual(["solo"]);
    expect(inv.hosts.get("both")?.groups).toEqual(["g"]);
    expect(inv.hosts.get("solo")?.groups).toEqual(["ungrouped"]);
  });

  it("puts hosts listed only under all in ungrouped", () => {
    const inv = resolveInventory(parseYamlInventory("all:\n  hosts:\n    a:\n", "i.yml"));
    expect(inv.groups.get("ungrouped")?.hosts).toEqual(["a"]);
  });

  it("computes depth as the longest path from all", () => {
    const inv = resolveInventory(ini("[a:children]\nb\n[b:children]\nc\n[c]\nh\n[all:children]\nc\n"));
    expect(["a", "b", "c"].map((g) => inv.groups.get(g)?.depth)).toEqual([1, 2, 3]);
  });

  it("does not change the parsed data", () => {
    const data = ini("h\n");
    resolveInventory(data);
    expect(data.group("all").children).toEqual(["ungrouped"]);
  });
});

describe("resolveInventory: variable precedence", () => {
  const base = "[parent:children]\nchild\n[child]\nh\n[other]\nh\n";
  it.each([
    ["all < group", `${base}[all:vars]\nv=all\n[other:vars]\nv=other\n`, {}, {}, "other"],
    ["parent < child", `${base}[parent:vars]\nv=parent\n[child:vars]\nv=child\n`, {}, {}, "child"],
    ["same depth: name order", `${base}[parent:vars]\nv=parent\n[other:vars]\nv=other\n`, {}, {}, "parent"],
    [
      "same depth: priority before name",
      `${base}[parent:vars]\nv=parent\nansible_group_priority=5\n[other:vars]\nv=other\n`,
      {},
      {},
      "parent",
    ],
    [
      "priority does not beat depth",
      `${base}[parent:vars]\nv=parent\nansible_group_priority=50\n[child:vars]\nv=child\n`,
      {},
      {},
      "child",
    ],
    [
      "group_vars file over inventory group vars",
      `${base}[child:vars]\nv=inv\n`,
      { other: ["v: file"] },
      {},
      "file",
    ],
    [
      "group_vars/all over inventory group vars",
      `${base}[child:vars]\nv=inv\n`,
      { all: ["v: all-file"] },
      {},
      "all-file",
    ],
    [
      "group_vars by depth",
      base,
      { parent: ["v: parent"], child: ["v: child"], all: ["v: all"] },
      {},
      "child",
    ],
    ["later file in a group wins", base, { child: ["v: first", "v: second"] }, {}, "second"],
    ["inline host var over group_vars", "[g]\nh v=host\n", { g: ["v: gfile"] }, {}, "host"],
    ["host_vars over inline host var", "[g]\nh v=host\n", {}, { h: ["v: hfile"] }, "hfile"],
  ])("%s", (_name, text, groupVars, hostVars, expected) => {
    const inv = resolveInventory(ini(text), { groupVars: files(groupVars), hostVars: files(hostVars) });
    expect(inv.hosts.get("h")?.vars.v).toBe(expected);
  });

  it("drops the variables ansible-inventory hides and keeps origins of the winners", () => {
    const inv = resolveInventory(ini("[g]\nh inventory_hostname=x groups=y keep=1\n"), {
      hostVars: files({ h: ["\nkeep: 2\n"] }),
    });
    expect(inv.hosts.get("h")?.vars).toEqual({ keep: 2 });
    expect(inv.hosts.get("h")?.origins.get("keep")).toEqual({ file: "h-0.yml", line: 2, column: 1 });
  });
});

describe("toAnsibleListJson", () => {
  it("lists reachable groups, omits empty ones and hosts without variables", () => {
    const inv = resolveInventory(ini("u1\n[web]\nw1 x=1\n[empty]\n[p:children]\nempty\nweb\n"));
    expect(toAnsibleListJson(inv)).toEqual({
      _meta: { hostvars: { w1: { x: 1 } } },
      all: { children: ["ungrouped", "p"] },
      p: { children: ["empty", "web"] },
      ungrouped: { hosts: ["u1"] },
      web: { hosts: ["w1"] },
    });
  });

  it("inserts keys in Python's sorted order at every level", () => {
    const inv = resolveInventory(ini("[b]\nh z=1 a=\"{'y':1,'b':2}\"\n[a]\nh\n"));
    const out = toAnsibleListJson(inv);
    expect(Object.keys(out)).toEqual(["_meta", "a", "all", "b"]);
    const hv = (out._meta as { hostvars: Record<string, Record<string, unknown>> }).hostvars.h;
    expect(Object.keys(hv ?? {})).toEqual(["a", "z"]);
    expect(Object.keys((hv?.a ?? {}) as object)).toEqual(["b", "y"]);
  });
});

describe("resolveInventory: warnings", () => {
  it("warns, like Ansible, when a name is both a group and a host", () => {
    const inv = resolveInventory(ini("[web]\nweb\n"));
    expect(inv.warnings).toEqual([
      { file: "hosts", line: 2, column: 1, message: '"web" is both a group and a host' },
    ]);
  });
});
