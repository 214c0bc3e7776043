/**
 * Which format a file is read with, in Ansible's plugin order, and which error is shown when none fits.
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { InventoryData } from "./data.js";
import { extensionOf, formatsFor, parseInventorySource } from "./source.js";

describe("extensionOf (Python os.path.splitext)", () => {
  it.each([
    ["hosts", ""],
    ["inv.yml", ".yml"],
    ["dir.d/hosts", ""],
    [".hidden", ""],
    ["a.b.json", ".json"],
    ["hosts.", "."],
  ])("%s", (path, ext) => {
    expect(extensionOf(path)).toBe(ext);
  });
});

describe("parseInventorySource", () => {
  it.each([
    ["hosts", ["yaml", "ini"]],
    ["hosts.yml", ["yaml", "ini"]],
    ["hosts.yaml", ["yaml", "ini"]],
    ["hosts.json", ["yaml", "ini"]],
    ["hosts.ini", ["ini"]],
    ["hosts.cfg", ["ini"]],
  ])("tries %s as %j", (file, formats) => {
    expect(formatsFor(file)).toEqual(formats);
  });

  it.each([
    ["hosts", "all:\n  hosts:\n    a:\n", "yaml"],
    ["hosts", "[g]\na\n", "ini"],
    ["hosts.yml", "[g]\na\n", "ini"],
    ["hosts.yml", "# only a comment\n", "ini"],
    ["hosts.ini", "all:\n  hosts:\n    a:\n", "error"],
  ])("%s with %j is read as %s", (file, text, format) => {
    const data = new InventoryData();
    if (format === "error") {
      expect(() => parseInventorySource(text, file, data)).toThrow(InputError);
    } else {
      expect(parseInventorySource(text, file, data)).toBe(format);
    }
  });

  it("shows the YAML error for YAML names and the INI error for INI-looking text", () => {
    expect(() => parseInventorySource("all:\n  hosts: [a]\n", "x.yml", new InventoryData())).toThrow(
      /must be a mapping/,
    );
    expect(() => parseInventorySource("[g]\na b\n", "hosts", new InventoryData())).toThrow(
      /expected key=value/,
    );
    expect(() => parseInventorySource("all:\n  hosts: [a]\n", "hosts", new InventoryData())).toThrow(
      /must be a mapping/,
    );
  });

  it("reads a file that is not all UTF-8 as INI only, the UTF-8 error standing for YAML's", () => {
    const notUtf8 = new InputError({ file: "f", line: 4, message: "the line is not valid UTF-8" });
    const yamlText = "all:\n  hosts:\n    a:\n\n";
    expect(parseInventorySource("[g]\na\n\n", "hosts.yml", new InventoryData(), { notUtf8 })).toBe("ini");
    expect(() => parseInventorySource(yamlText, "hosts.yml", new InventoryData(), { notUtf8 })).toThrow(
      notUtf8,
    );
    expect(() => parseInventorySource(yamlText, "hosts", new InventoryData(), { notUtf8 })).toThrow(notUtf8);
    expect(() => parseInventorySource("[g]\na b\n\n", "hosts", new InventoryData(), { notUtf8 })).toThrow(
      /expected key=value/,
    );
  });

  it("leaves the data unchanged when a format fails half-way", () => {
    const data = new InventoryData();
    expect(() => parseInventorySource("[g]\na\n[h]\nb c\n", "x.ini", data)).toThrow(InputError);
    expect([...data.groups.keys()]).toEqual(["all", "ungrouped"]);
  });

  it("refuses TOML", () => {
    expect(() => formatsFor("inv.toml")).toThrow(/TOML/);
  });
});
