/**
 * Finding `group_vars/NAME` and `host_vars/NAME` files beside an inventory, the way Ansible's
 * `host_group_vars` plugin and `DataLoader.find_vars_files` do.
 *
 * Invariants:
 * - For each name, the first of `NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json` that exists is used
 *   (only one). If it is a folder, every file inside is used, recursively, sorted by name; hidden
 *   entries, names ending in `~`, files with other extensions and subfolders with an extension
 *   are skipped. A folder met twice in one such walk (by real path: a symbolic link loop) is an
 *   `InputError` naming it.
 * - Names starting with `/` (Ansible skips them) or containing `/` or `..` (which would leave the
 *   folder) get no vars files.
 * - Only reads; errors are `InputError`s naming the path.
 */
import type { Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import type { VarsFile } from "../../core/inventory/index.js";
import { readText } from "./read-text.js";
import { SeenDirs } from "./seen-dirs.js";

const EXTENSIONS = [".yml", ".yaml", ".json"];

/** Vars files for each of `names` under `dir` (a `group_vars` or `host_vars` folder). */
export async function findVarsFiles(
  dir: string,
  shownDir: string,
  names: Iterable<string>,
): Promise<Map<string, VarsFile[]>> {
  const out = new Map<string, VarsFile[]>();
  if (!(await isDirectory(dir))) return out;
  const entries = new Set(await readdir(dir));
  for (const name of names) {
    if (name.includes("/") || name === "." || name === "..") continue;
    for (const ext of ["", ...EXTENSIONS]) {
      const candidate = `${name}${ext}`;
      if (!entries.has(candidate)) continue;
      const full = join(dir, candidate);
      const shown = join(shownDir, candidate);
      const paths = (await isDirectory(full))
        ? await listDir(full, shown, new SeenDirs())
        : [{ full, shown }];
      const files: VarsFile[] = [];
      for (const p of paths) files.push({ file: p.shown, text: await readText(p.full, p.shown) });
      out.set(name, files);
      break;
    }
  }
  return out;
}

async function listDir(
  full: string,
  shown: string,
  seen: SeenDirs,
): Promise<{ full: string; shown: string }[]> {
  await seen.enter(full, shown);
  const entries: Dirent[] = await readdir(full, { withFileTypes: true });
  entries.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  const out: { full: string; shown: string }[] = [];
  for (const e of entries) {
    if (e.name.startsWith(".") || e.name.endsWith("~")) continue;
    const ext = extname(e.name);
    const childFull = join(full, e.name);
    const childShown = join(shown, e.name);
    const isDir = e.isDirectory() || (e.isSymbolicLink() && (await isDirectory(childFull)));
    if (isDir && !ext) out.push(...(await listDir(childFull, childShown, seen)));
    else if (!isDir && (ext === "" || EXTENSIONS.includes(ext)))
      out.push({ full: childFull, shown: childShown });
  }
  return out;
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
