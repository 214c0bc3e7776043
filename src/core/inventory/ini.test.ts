/**
 * The INI format: sections, pending children, ports, priorities, comments, and every syntax error with its line and column.
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { parseIniInventory } from "./ini.js";

function parse(text: string) {
  return parseIniInventory(text, "hosts.ini");
}

function errorOf(text: string): InputError {
  try {
    parse(text);
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error("expected an InputError");
}

describe("parseIniInventory", () => {
  it("puts hosts before any section in ungrouped and reads sections", () => {
    const d = parse("h0\n[web]\nw1 a=1\n[web:vars]\nb=two words\n[all:vars]\nc=True\n");
    expect(d.group("ungrouped").hosts).toEqual(["h0"]);
    expect(d.group("web").hosts).toEqual(["w1"]);
    expect(d.hosts.get("w1")?.vars).toEqual({ a: 1 });
    expect(d.group("web").vars).toEqual({ b: "two words" });
    expect(d.group("all").vars).toEqual({ c: true });
  });

  it("accepts children declared later, and [g:vars] before [g]", () => {
    const d = parse("[top:children]\nmid\n[mid:vars]\nx=1\n[mid:children]\nleaf\n[leaf]\nl1\n");
    expect(d.group("top").children).toEqual(["mid"]);
    expect(d.group("mid").children).toEqual(["leaf"]);
    expect(d.group("mid").vars).toEqual({ x: 1 });
  });

  it("sets ansible_port from host:port only when the host is first seen", () => {
    const d = parse("[a]\nh:2222\n[b]\nh:3333\n");
    expect(d.hosts.get("h")?.vars).toEqual({ ansible_port: 2222 });
  });

  it("takes ansible_group_priority as the priority, not a variable", () => {
    const d = parse("[g]\nh\n[g:vars]\nansible_group_priority=7\n");
    expect(d.group("g").priority).toBe(7);
    expect(d.group("g").vars).toEqual({});
  });

  it("skips # and ; comment lines and keeps a trailing # in [g:vars] values", () => {
    const d = parse("; c\n# c\n[g]\nh # c\n[g:vars]\nv=x # not a comment\n");
    expect(d.group("g").hosts).toEqual(["h"]);
    expect(d.group("g").vars).toEqual({ v: "x # not a comment" });
  });

  it("records where each variable was set", () => {
    const d = parse("[g]\n  h   role=x\n");
    expect(d.hosts.get("h")?.origins.get("role")).toEqual({ file: "hosts.ini", line: 2, column: 7 });
  });

  it.each([
    ["[g:bad]\nh\n", 1, 1, /unknown type "bad"/],
    ["[a b]\n", 1, 1, /invalid section header/],
    ["[g]\nh x='open\n", 2, 5, /no closing quotation/],
    ["[g]\nh novalue\n", 2, 3, /expected key=value/],
    ["[g]\nh:\n", 2, 1, /ends in ":"/],
    ["[g]\n---\n", 2, 1, /YAML document marker/],
    ["[g]\nweb[1:a]\n", 2, 1, /bad host range/],
    ["[g:vars]\nnoequals\n[g]\n", 2, 1, /expected key=value/],
    ["[g:children]\na b\n", 2, 1, /expected a group name/],
    ["[p:children]\nmissing\n", 2, undefined, /"missing", which is never declared/],
    ["[ghost:vars]\nx=1\n", 1, undefined, /\[ghost:vars\] is for group "ghost"/],
    ["[a:children]\nb\n[b:children]\na\n", 4, 1, /cycle: a -> b -> a/],
    ["[a:children]\na\n", 2, 1, /cycle: a -> a/],
    ["[g]\nh x={1,2}\n", 2, 3, /Python set/],
    ["[g]\nh\n[g:vars]\nansible_group_priority=high\n", 4, 1, /must be an integer/],
  ])("%j is an InputError at line %s", (text, line, column, message) => {
    const p = errorOf(text).problems[0];
    expect(p?.file).toBe("hosts.ini");
    expect(p?.line).toBe(line);
    expect(p?.column).toBe(column);
    expect(p?.message).toMatch(message);
  });
});
