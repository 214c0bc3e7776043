/**
 * YAML scalars as PyYAML (YAML 1.1) reads them, and the YAML inventory structure with its errors.
 */

import { describe, expect, it, vi } from "vitest";
import { Alias } from "yaml";
import { InputError } from "../errors.js";
import { aliasBudget, MAX_ALIAS_VALUES } from "./yaml-aliases.js";
import { parseYamlInventory } from "./yaml-inventory.js";
import { loadYaml, refuseDuplicateKeys, toValue } from "./yaml-load.js";

function value(text: string): unknown {
  const src = loadYaml(`v: ${text}\n`, "x.yml");
  return (toValue(src, src.root) as { v: unknown }).v;
}

describe("YAML scalars as Ansible (PyYAML, YAML 1.1) reads them", () => {
  it.each([
    ["yes", true],
    ["No", false],
    ["on", true],
    ["OFF", false],
    ["y", "y"],
    ["n", "n"],
    ['"true"', "true"],
    ["0777", 511],
    ["0o17", "0o17"],
    ["0x1F", 31],
    ["0b1010", 10],
    ["1:30", 90],
    ["1_000", 1000],
    ["+42", 42],
    ["1.5", 1.5],
    ["1e3", "1e3"],
    ["1.5e+3", 1500],
    [".5", 0.5],
    ["~", null],
    ["null", null],
    ["", null],
    ["2024-02-29", "2024-02-29"],
    ["2024-02-29 12:30:00", "2024-02-29T12:30:00"],
    ["2024-02-29T12:30:00.5+01:00", "2024-02-29T12:30:00.500000+01:00"],
    ["2024-02-29T12:30:00Z", "2024-02-29T12:30:00+00:00"],
    ["1.2.3", "1.2.3"],
    ["!unsafe '{{ x }}'", { __ansible_unsafe: "{{ x }}" }],
    ["!vault abc", { __ansible_vault: "abc" }],
    ["!!str 12", "12"],
    ["[1, a, {b: c}]", [1, "a", { b: "c" }]],
  ])("%s", (text, expected) => {
    expect(value(text)).toEqual(expected);
  });

  it("reads JSON as JSON (1e5 is a number there)", () => {
    const src = loadYaml('{"v": 1e5, "w": "x"}', "x.json");
    expect(toValue(src, src.root)).toEqual({ v: 100000, w: "x" });
  });

  it("merges << first, an own key replacing a merged one in its position", () => {
    const src = loadYaml("base: &b {a: 1, b: 2}\nm:\n  c: 0\n  <<: *b\n  b: 3\n", "x.yml");
    const m = (toValue(src, src.root) as { m: Record<string, number> }).m;
    expect(m).toEqual({ a: 1, b: 3, c: 0 });
    expect(Object.keys(m)).toEqual(["a", "b", "c"]);
    expect(() => refuseDuplicateKeys(src)).not.toThrow();
  });

  it.each([
    ["v: =\n", /must be quoted/],
    ["v: !foo x\n", /Unresolved tag/],
    ["v: [1\n", /YAML: /],
    ["? [a]\n: 1\n", /key is a list or mapping/],
    ["v: 2024-02-30\n", /not a valid date/],
  ])("%j is an InputError", (text, message) => {
    expect(() => {
      const src = loadYaml(text, "x.yml");
      toValue(src, src.root);
    }).toThrow(message);
  });
});

describe("parseYamlInventory", () => {
  it("reads groups, children, hosts and vars in file order", () => {
    const d = parseYamlInventory(
      "all:\n  hosts:\n    h0:\n  children:\n    web:\n      hosts:\n        w[1:2]:2222: {x: 1}\n      children:\n        canary:\n          hosts: w1\n      vars: {tier: web}\n",
      "inv.yml",
    );
    expect([...d.groups.keys()]).toEqual(["all", "ungrouped", "web", "canary"]);
    expect(d.group("web").hosts).toEqual(["w1", "w2"]);
    expect(d.group("web").children).toEqual(["canary"]);
    expect(d.group("canary").hosts).toEqual(["w1"]);
    expect(d.hosts.get("w2")?.vars).toEqual({ ansible_port: 2222, x: 1 });
    expect(d.group("web").vars).toEqual({ tier: "web" });
    expect(d.group("all").hosts).toEqual(["h0"]);
  });

  it("warns about and skips unknown keys and non-mapping groups", () => {
    const d = parseYamlInventory("g:\n  hots: {a: 1}\nbad: [1]\n", "inv.yml");
    expect(d.warnings.map((w) => w.message)).toEqual([
      'skipping unexpected key "hots" in group "g"',
      'skipping "bad": not a valid group definition',
    ]);
    expect(d.groups.has("bad")).toBe(false);
  });

  // Ansible warns "found a duplicate dict key (web). Using last defined value only." and drops the
  // first web's hosts; Overhaul refuses, naming both places.
  it.each([
    [
      "all:\n  children:\n    web:\n      hosts: {w1: }\n    db:\n    web:\n      hosts: {w3: }\n",
      "all.children.web",
      6,
      3,
    ],
    [
      "all:\n  hosts:\n    h:\n      ansible_host: a\n      x: 1\n      ansible_host: b\n",
      "all.hosts.h.ansible_host",
      6,
      4,
    ],
    ["g:\n  vars:\n    v: {1: a, 1.0: b}\n", "g.vars.v.1.0", 3, 3],
    ["g:\n  hosts:\n  hosts:\n", "g.hosts", 3, 2],
    ['{"all": {"hosts": {"a": null, "a": {"x": 1}}}}', "all.hosts.a", 1, 1],
  ])("refuses a key written twice (%#)", (text, path, line, firstLine) => {
    const file = text.startsWith("{") ? "inv.json" : "inv.yml";
    let err: unknown;
    try {
      parseYamlInventory(text, file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    const p = (err as InputError).problems[0];
    expect(p).toMatchObject({ file, line, path });
    expect(p?.message).toMatch(
      new RegExp(`appears twice in this mapping \\(first at ${file}:${firstLine}:\\d+\\)`),
    );
  });

  it("lists every repeated key, and lets a mapping override what a << merge brings in", () => {
    let err: unknown;
    try {
      parseYamlInventory("a:\nb:\na:\nb:\n", "inv.yml");
    } catch (e) {
      err = e;
    }
    expect((err as InputError).problems.map((p) => [p.path, p.line])).toEqual([
      ["a", 3],
      ["b", 4],
    ]);
    const d = parseYamlInventory(
      "all:\n  vars:\n    base: &b {a: 1, b: 2}\n    over:\n      <<: [*b, {a: 5, c: 6}]\n      a: 3\n  hosts:\n    h:\n",
      "inv.yml",
    );
    expect(d.group("all").vars).toEqual({ base: { a: 1, b: 2 }, over: { a: 3, b: 2, c: 6 } });
  });

  /** `levels` levels of lists, each holding ten aliases to the one before: 10^levels values. */
  const bomb = (levels: number) =>
    [
      "all:",
      "  vars:",
      "    l0: &l0 [x, x, x, x, x, x, x, x, x, x]",
      ...Array.from(
        { length: levels - 1 },
        (_, i) => `    l${i + 1}: &l${i + 1} [${Array(10).fill(`*l${i}`).join(", ")}]`,
      ),
      "  hosts:",
      "    h1:",
      "",
    ].join("\n");

  it("refuses aliases that stand for more values than the budget, at the alias that passes it", () => {
    // Six levels are 1,111,110 values: this took seconds; eight (577 bytes) never finished.
    for (const levels of [6, 8]) {
      let err: unknown;
      try {
        parseYamlInventory(bomb(levels), "inv.yml");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).problems[0]).toMatchObject({
        file: "inv.yml",
        line: 8,
        column: 49,
        message:
          "the YAML expands too many aliases (*name): up to here they stand for more than 1,000,000 values (*l4 alone for 111,111)",
      });
    }
    expect(parseYamlInventory(bomb(5), "inv.yml").group("all").vars.l4).toHaveLength(10);
  });

  it("lets the alias budget grow with the file, so every host may merge shared vars", () => {
    expect(aliasBudget(10)).toBe(MAX_ALIAS_VALUES);
    expect(aliasBudget(100_000)).toBe(2_000_000);
    const hosts = Array.from({ length: 3000 }, (_, i) => `    h${i}:\n      <<: *d\n      n: ${i}`);
    const d = parseYamlInventory(
      `all:\n  vars:\n    d: &d {a: 1, b: 2}\n  hosts:\n${hosts.join("\n")}\n`,
      "inv.yml",
    );
    expect(d.hosts.get("h2999")?.vars).toEqual({ a: 1, b: 2, n: 2999 });
  });

  it("resolves each alias once, not by walking the document every time (which made big inventories take minutes)", () => {
    const resolve = vi.spyOn(Alias.prototype, "resolve");
    try {
      const d = parseYamlInventory(
        "all:\n  vars:\n    a: &x 1\n    b: *x\n    c: &x 2\n    d: *x\n",
        "inv.yml",
      );
      expect(d.group("all").vars).toEqual({ a: 1, b: 1, c: 2, d: 2 });
      expect(resolve).not.toHaveBeenCalled();
    } finally {
      resolve.mockRestore();
    }
  });

  it("refuses an alias inside its own anchor, even where nothing reads it", () => {
    expect(() => parseYamlInventory("all:\n  vars:\n    a: &a [1, *a]\n", "inv.yml")).toThrow(
      /^inv\.yml:3:15: YAML alias \*a is inside its own anchor/,
    );
    expect(() => parseYamlInventory("g:\n  skipped: &a {x: [*a]}\n", "inv.yml")).toThrow(
      /inside its own anchor/,
    );
  });

  it.each([
    ["", 1, /empty/],
    ["- a\n", 1, /must be a mapping of group names/],
    ["plugin: x\n", 1, /plugin configuration/],
    ["g:\n  hosts: [a]\n", 2, /must be a mapping/],
    ["g:\n  vars: 3\n", 2, /must be a mapping/],
    ["g:\n  hosts:\n    1.5:\n", 3, /must be a string/],
    ["g:\n  hosts:\n    h: 3\n", 3, /must be a mapping/],
    ["g:\n  children:\n    g:\n", 3, /cycle: g -> g/],
  ])("%j is an InputError at line %s", (text, line, message) => {
    let err: unknown;
    try {
      parseYamlInventory(text, "inv.yml");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    const p = (err as InputError).problems[0];
    expect(p?.file).toBe("inv.yml");
    expect(p?.line ?? 1).toBe(line);
    expect(p?.message).toMatch(message);
  });
});
