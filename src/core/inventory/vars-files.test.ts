/**
 * group_vars / host_vars file contents: order, empty documents, JSON, and refusals.
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { parseVarsFiles } from "./vars-files.js";

const vf = (text: string, file = "group_vars/g.yml") => ({ file, text });

describe("parseVarsFiles", () => {
  it("combines files in order, later values winning", () => {
    const bag = parseVarsFiles([vf("a: 1\nb: 1\n"), vf("b: 2\n", "group_vars/g/2.yml")]);
    expect(bag.vars).toEqual({ a: 1, b: 2 });
    expect(bag.origins.get("b")).toEqual({ file: "group_vars/g/2.yml", line: 1, column: 1 });
  });
  it.each(["", "# comment\n", "---\n", "[]\n", "{}\n", "false\n"])("ignores an empty document %j", (text) => {
    expect(parseVarsFiles([vf(text)]).vars).toEqual({});
  });
  it("reads JSON", () => {
    expect(parseVarsFiles([vf('{"x": 1e2}', "host_vars/h.json")]).vars).toEqual({ x: 100 });
  });
  it("refuses aliases that stand for more than a million values (an alias bomb)", () => {
    const levels = [1, 2].map((i) => `l${i}: &l${i} [${`*l${i - 1},`.repeat(99)}*l${i - 1}]`);
    const text = `l0: &l0 [${"x,".repeat(99)}x]\n${levels.join("\n")}\n`;
    expect(() => parseVarsFiles([vf(text)])).toThrow(
      /^group_vars\/g\.yml:3:\d+: the YAML expands too many aliases/,
    );
  });

  it.each([
    ["- a\n", /must be a mapping/],
    ["a: [1\n", /YAML: /],
    ["$ANSIBLE_VAULT;1.1;AES256\n6162\n", /ansible-vault/],
    [
      "a: 1\nb: 2\na: 3\n",
      /^group_vars\/g\.yml:3:1: a: key "a" appears twice .*first at group_vars\/g\.yml:1:1/,
    ],
    ["b:\n  c: 1\n  c: 2\n", /^group_vars\/g\.yml:3:3: b\.c: key "c" appears twice/],
  ])("rejects %j", (text, message) => {
    expect(() => parseVarsFiles([vf(text)])).toThrow(InputError);
    expect(() => parseVarsFiles([vf(text)])).toThrow(message);
  });
});
