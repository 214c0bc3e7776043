/**
 * Host patterns: same hosts in the same order as Ansible 2.14's `get_hosts`, plus the parts that match nothing.
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { globToRegex } from "./fnmatch.js";
import { parseIniInventory } from "./ini.js";
import { matchPattern, splitHostPattern } from "./patterns.js";
import { resolveInventory } from "./resolve.js";

const inv = resolveInventory(
  parseIniInventory(
    [
      "solo",
      "[web]",
      "web01",
      "web02",
      "web03",
      "[db]",
      "db1",
      "web03",
      "[eu:children]",
      "web",
      "[eu]",
      "eu-lb",
      "[empty]",
    ].join("\n"),
    "hosts",
  ),
);

describe("splitHostPattern", () => {
  it.each([
    ["a,b[1], c[2:3] , d", ["a", "b[1]", "c[2:3]", "d"]],
    ["web:&db:!web01", ["web", "&db", "!web01"]],
    ["web[0:1]:db", ["web[0:1]", "db"]],
    ["fe80::1", ["fe80::1"]],
    ["host:22", ["host:22"]],
    [" , ", []],
  ])("%s", (pattern, parts) => {
    expect(splitHostPattern(pattern)).toEqual(parts);
  });
});

describe("matchPattern", () => {
  it.each([
    // Expected orders were checked against Ansible 2.14's InventoryManager.get_hosts.
    ["all", ["solo", "db1", "web03", "eu-lb", "web01", "web02"]],
    ["*", ["solo", "db1", "web03", "eu-lb", "web01", "web02"]],
    ["web", ["web01", "web02", "web03"]],
    ["web01", ["web01"]],
    ["web0*", ["web01", "web02", "web03"]],
    ["web0[!3]", ["web01", "web02"]],
    ["web0?", ["web01", "web02", "web03"]],
    ["web:db", ["web01", "web02", "web03", "db1"]],
    ["web,db", ["web01", "web02", "web03", "db1"]],
    ["web:&db", ["web03"]],
    ["web:!db", ["web01", "web02"]],
    ["eu:!web02", ["eu-lb", "web01", "web03"]],
    ["~^web0[13]$", ["web01", "web03"]],
    ["~web", ["web01", "web02", "web03"]],
    ["web[0]", ["web01"]],
    ["web[-1]", ["web03"]],
    ["web[1:2]", ["web02", "web03"]],
    ["web[1:]", ["web02", "web03"]],
    ["ungrouped", ["solo"]],
    ["!web", ["solo", "db1", "eu-lb"]],
  ])("%s", (pattern, hosts) => {
    expect(matchPattern(inv, pattern).hosts).toEqual(hosts);
  });

  it("reports parts that select no host, including empty groups and bad subscripts", () => {
    expect(matchPattern(inv, "web:nosuch:!typo:empty:web[7]:web0[12]")).toEqual({
      hosts: ["web01", "web02", "web03"],
      unmatched: ["nosuch", "!typo", "empty", "web[7]", "web0[12]"],
      impliedAll: false,
    });
  });

  it("says when only exclusions were given (Ansible then starts from all)", () => {
    expect(matchPattern(inv, "!web").impliedAll).toBe(true);
    expect(matchPattern(inv, "web:!db1").impliedAll).toBe(false);
  });

  it.each(["", "  ", ","])("rejects the empty pattern %j", (pattern) => {
    expect(() => matchPattern(inv, pattern)).toThrow(InputError);
  });

  it("rejects an invalid regex", () => {
    expect(() => matchPattern(inv, "~web(")).toThrow(/invalid regular expression/);
  });

  it("rejects a regex that may take exponential time (nested repetition), keeps ordinary ones", () => {
    for (const p of ["~(.*)*$", "~(a+)+b", "~(web|w+)*x"])
      expect(() => matchPattern(inv, p, { path: "--limit" })).toThrow(
        /^--limit: regular expression in ".*" may take exponential time on some names/,
      );
    expect(matchPattern(inv, "~^(web|db)\\d+$").hosts).toEqual(["web01", "web02", "web03", "db1"]);
    expect(matchPattern(inv, "~w.*0[12]").hosts).toEqual(["web01", "web02"]);
  });

  // Ansible drops these brackets silently: `~[` would be `~` (every host), `web01]` would be web01.
  it.each(["~[", "web[", "web01]", "web:db]", "web[0:1", "[]]x"])(
    "rejects the stray bracket in %j instead of dropping it",
    (pattern) => {
      expect(() => matchPattern(inv, pattern)).toThrow(/outside a complete \[\.\.\.\]/);
    },
  );

  // Ansible reads `web[0-1]` as positions 0..1 of web (warning "[x-y] ... has been removed"), which
  // looks like a glob over names: `db[1-3]` over db1..db4 selects db2, db3, db4.
  it.each(["web[0-1]", "web[1-]", "!web[0-1]", "db:&web[0-1]", "web0[1-3]"])(
    "refuses the removed [x-y] subscript in %j",
    (pattern) => {
      expect(() => matchPattern(inv, pattern, { path: "--limit" })).toThrow(
        /^--limit: host pattern "web0?\[[0-9]-[0-9]?\]" uses the \[x-y\] subscript, which Ansible removed/,
      );
    },
  );

  it("says what to write instead of [x-y], for positions and for names", () => {
    let err: unknown;
    try {
      matchPattern(inv, "web0[1-3]", { path: "--limit" });
    } catch (e) {
      err = e;
    }
    expect((err as InputError).problems[0]).toEqual({
      path: "--limit",
      message:
        'host pattern "web0[1-3]" uses the [x-y] subscript, which Ansible removed: it would select the hosts of "web0" at positions 1 to 3, not host names',
      expected:
        'web0[1:3] to select the hosts of "web0" by position, counting from 0, or web0[1-3]* or ~^web0[1-3]$ to match host names',
    });
    expect(() => matchPattern(inv, "web[1-]")).toThrow(
      /expected web\[1:\] to select the hosts of "web" by position/,
    );
    // Both suggestions select names (checked against Ansible 2.14).
    expect(matchPattern(inv, "web0[1-2]*").hosts).toEqual(["web01", "web02"]);
    expect(matchPattern(inv, "~^web0[1-2]$").hosts).toEqual(["web01", "web02"]);
  });

  it("keeps complete brackets: subscripts, globs and regex classes", () => {
    expect(matchPattern(inv, "web[0:1]:~^db[0-9]$").hosts).toEqual(["web01", "web02", "db1"]);
  });

  it("names the pattern's place in its errors", () => {
    expect(() => matchPattern(inv, " ", { path: "--limit" })).toThrow(/^--limit: host pattern " " is empty/);
    expect(() => matchPattern(inv, "~(", { file: "plan.yaml", path: "hosts" })).toThrow(
      /^plan\.yaml: hosts: invalid regular expression/,
    );
    expect(() => matchPattern(inv, "~[", { path: "--limit" })).toThrow(/^--limit: host pattern "~\["/);
  });
});

describe("globToRegex (Python fnmatch.translate)", () => {
  it.each([
    ["web*", "web01", true],
    ["web*", "xweb", false],
    ["w?b", "wab", true],
    ["[!a]x", "bx", true],
    ["[!a]x", "ax", false],
    ["[a-c]1", "b1", true],
    ["[z-a]1", "b1", false],
    ["[abc", "[abc", true],
    ["a.b", "aXb", false],
    ["[]]x", "]x", true],
  ])("%s ~ %s", (glob, name, ok) => {
    expect(new RegExp(`^(?:${globToRegex(glob)})$`, "s").test(name)).toBe(ok);
  });
});
