/**
 * One inventory file, read with the plugin Ansible would pick for it.
 *
 * Invariants:
 * - Ansible's default plugin order is kept: files ending in `.yml`, `.yaml`, `.json` or with no
 *   extension are tried as YAML first, then as INI; every other name is INI only (`auto`,
 *   `script`, `host_list` and `toml` are not supported: Overhaul runs no inventory code).
 * - When both fail, the error shown is the one of the format the file most looks like: the YAML
 *   error for YAML names or for text that parses as a YAML mapping, else the INI error.
 * - A file that is not all UTF-8 (`notUtf8`: its INI comment lines holding other bytes are blank
 *   in `text`) is read as INI only, as Ansible's YAML plugin fails on it; when INI fails too, the
 *   error shown follows the rule above, the UTF-8 error standing for YAML's.
 * - A failed attempt leaves `data` unchanged (each attempt parses into a copy).
 * - Pure: no I/O.
 */
import { InputError } from "../errors.js";
import type { InventoryData } from "./data.js";
import { parseIniInventory } from "./ini.js";
import { looksLikeYamlInventory, parseYamlInventorySource } from "./yaml-inventory.js";
import { loadYaml, type YamlSource } from "./yaml-load.js";

export type InventoryFormat = "yaml" | "ini";

const YAML_EXTENSIONS = [".yml", ".yaml", ".json"];

/** Python's `os.path.splitext(path)[1]`. */
export function extensionOf(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const stripped = base.replace(/^\.+/, "");
  const dot = stripped.lastIndexOf(".");
  return dot < 0 ? "" : stripped.slice(dot);
}

/** The formats Ansible tries for this file name, in order. */
export function formatsFor(path: string): InventoryFormat[] {
  const ext = extensionOf(path);
  if (ext === ".toml") {
    throw new InputError({
      file: path,
      message: "TOML inventories are not supported",
      expected: "an INI or YAML inventory",
    });
  }
  return ext === "" || YAML_EXTENSIONS.includes(ext) ? ["yaml", "ini"] : ["ini"];
}

export interface SourceOptions {
  /**
   * The file's bytes were not all UTF-8 and `text` has the INI comment lines holding them blanked:
   * YAML is not tried (Ansible's YAML plugin fails on such a file), and this error, naming the
   * first such line, is the YAML error.
   */
  readonly notUtf8?: InputError;
}

/** Parse one inventory file into `data`, choosing the format as Ansible does; returns the format used. */
export function parseInventorySource(
  text: string,
  file: string,
  data: InventoryData,
  options: SourceOptions = {},
): InventoryFormat {
  const formats = formatsFor(file);
  let yamlError: unknown;
  let yamlSource: YamlSource | undefined;
  if (formats.includes("yaml") && options.notUtf8) {
    yamlError = options.notUtf8;
    try {
      yamlSource = loadYaml(text, file); // only to judge which error to show
    } catch (e) {
      if (!(e instanceof InputError)) throw e; // not YAML-like either
    }
  } else if (formats.includes("yaml")) {
    const attempt = data.clone();
    try {
      yamlSource = loadYaml(text, file);
      parseYamlInventorySource(yamlSource, attempt);
      adopt(data, attempt);
      return "yaml";
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      yamlError = e;
    }
  }
  const attempt = data.clone();
  try {
    parseIniInventory(text, file, attempt);
    adopt(data, attempt);
    return "ini";
  } catch (e) {
    if (!(e instanceof InputError) || yamlError === undefined) throw e;
    const preferYaml =
      extensionOf(file) !== "" || (yamlSource !== undefined && looksLikeYamlInventory(yamlSource));
    throw preferYaml ? yamlError : e;
  }
}

/** Replace `target`'s contents with `source`'s. */
function adopt(target: InventoryData, source: InventoryData): void {
  target.groups.clear();
  for (const [k, v] of source.groups) target.groups.set(k, v);
  target.hosts.clear();
  for (const [k, v] of source.hosts) target.hosts.set(k, v);
  target.warnings.length = 0;
  target.warnings.push(...source.warnings);
}
