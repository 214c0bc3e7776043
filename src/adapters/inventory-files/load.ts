/**
 * `loadInventory(path)`: read an Ansible inventory file or directory from disk, with the
 * `group_vars/` and `host_vars/` beside it, and resolve it like `ansible-inventory -i PATH`.
 *
 * Invariants:
 * - A directory is read as Ansible reads it: entries sorted by name, recursively, skipping hidden
 *   names, `group_vars`, `host_vars`, `vars_plugins` and Ansible's ignored extensions (`.ini`,
 *   `.cfg`, `.retry`, `.orig`, `.md`, `.txt`, `.rst`, `.bak`, `.swp`, `.pyc`, `.pyo`, `.rpm`, `~`).
 *   All files feed one inventory. A directory met twice (by real path: a symbolic link loop) is an
 *   `InputError` naming it, not `ELOOP` forty levels down.
 * - `group_vars/` and `host_vars/` are looked up beside a file, or inside a directory.
 * - Files are UTF-8; an inventory file whose only other bytes are on INI comment lines is read as
 *   INI alone, as Ansible's YAML plugin fails on such a file and its INI plugin does not.
 * - Every problem is an `InputError` with the file (as the user named it), line and column where
 *   known. Unlike Ansible, a file in a directory that no format can parse is an error, not a
 *   warning: an inventory that silently lost hosts is worse than one that refuses to load.
 */
import type { Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { InputError } from "../../core/errors.js";
import {
  type Inventory,
  InventoryData,
  parseInventorySource,
  resolveInventory,
} from "../../core/inventory/index.js";
import { decode, decodeIni, readBytes } from "./read-text.js";
import { SeenDirs } from "./seen-dirs.js";
import { findVarsFiles, isDirectory } from "./vars-dirs.js";

const IGNORED_NAMES = /^\.|^host_vars$|^group_vars$|^vars_plugins$/;
const IGNORED_EXTENSIONS = [
  ".pyc",
  ".pyo",
  ".swp",
  ".bak",
  "~",
  ".rpm",
  ".md",
  ".txt",
  ".rst",
  ".orig",
  ".ini",
  ".cfg",
  ".retry",
];

/** Whether Ansible skips this entry of an inventory directory. */
export function isIgnoredInDirectory(name: string): boolean {
  return IGNORED_NAMES.test(name) || IGNORED_EXTENSIONS.some((ext) => name.endsWith(ext));
}

/** Load and resolve the inventory at `path` (a file or a directory). */
export async function loadInventory(path: string): Promise<Inventory> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (e) {
    throw new InputError(
      {
        file: path,
        message: "the inventory does not exist or cannot be read",
        expected: "an inventory file or directory",
      },
      { cause: e },
    );
  }
  const data = new InventoryData();
  if (isDir) await parseDirectory(path, data, new SeenDirs());
  else await parseFile(path, data);

  const base = isDir ? path : dirname(path);
  const groupVarsDir = join(base, "group_vars");
  const hostVarsDir = join(base, "host_vars");
  for (const dir of [groupVarsDir, hostVarsDir]) {
    if ((await exists(dir)) && !(await isDirectory(dir))) {
      data.warn({ file: dir, message: "is not a directory; skipped" });
    }
  }
  const groupVars = await findVarsFiles(groupVarsDir, groupVarsDir, data.groups.keys());
  const hostVars = await findVarsFiles(hostVarsDir, hostVarsDir, data.hosts.keys());
  return resolveInventory(data, { groupVars, hostVars });
}

async function parseDirectory(dir: string, data: InventoryData, seen: SeenDirs): Promise<void> {
  await seen.enter(dir);
  const entries: Dirent[] = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  for (const e of entries) {
    if (isIgnoredInDirectory(e.name)) continue;
    const full = join(dir, e.name);
    if (await isDirectory(full)) await parseDirectory(full, data, seen);
    else await parseFile(full, data);
  }
}

/** One inventory file: UTF-8, except that INI comment lines may hold other bytes (`decodeIni`). */
async function parseFile(path: string, data: InventoryData): Promise<void> {
  const bytes = await readBytes(path);
  let text: string;
  try {
    text = decode(bytes, path);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    parseInventorySource(decodeIni(bytes, path), path, data, { notUtf8: e });
    return;
  }
  parseInventorySource(text, path, data);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
