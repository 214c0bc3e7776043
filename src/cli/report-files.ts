/**
 * Writing report files (`simulate --report DIR`, `demo --report DIR`, `report -o FILE`) so that a
 * failure never leaves a mix of old and new files, nor a half-written one.
 *
 * Invariants:
 * - `prepareReportDir` runs before the work that produces the reports: the directory is created
 *   (with its parents), must be a directory the process can write to, and each report name in it
 *   must be absent or a regular file. Bad input is an `InputError` naming the flag and the path.
 * - `writeFileSet` writes every file to a temporary file in the same directory first, then keeps
 *   each old file under a second name (a hard link, or a copy where links are not supported) and
 *   renames the new one over it: a report file that existed exists at every instant, old or new,
 *   never missing (a reader polling it, a browser reloading it). If anything fails, what was done
 *   is undone in reverse order (each kept old file renamed back over its name, each new file that
 *   had no old one removed): every old file is back, no new one is left, no temporary file
 *   remains. So the set is either all new or exactly as it was.
 * - The kept old files are removed only once every new file is in place.
 */
import * as fsp from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { InputError, type Problem } from "../core/errors.js";

/** The file operations used (a test passes failing ones). */
export interface ReportFs {
  mkdir(path: string, opts: { recursive: true }): Promise<string | undefined>;
  stat(path: string): Promise<{ isFile(): boolean; isDirectory(): boolean }>;
  lstat(path: string): Promise<{ isFile(): boolean; isDirectory(): boolean }>;
  writeFile(path: string, text: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, path: string): Promise<void>;
  copyFile(from: string, to: string): Promise<void>;
  rm(path: string, opts: { force: true }): Promise<void>;
}

const nodeFs: ReportFs = {
  mkdir: (p, o) => fsp.mkdir(p, o),
  stat: (p) => fsp.stat(p),
  lstat: (p) => fsp.lstat(p),
  writeFile: (p, t) => fsp.writeFile(p, t),
  rename: (a, b) => fsp.rename(a, b),
  link: (a, b) => fsp.link(a, b),
  copyFile: (a, b) => fsp.copyFile(a, b),
  rm: (p, o) => fsp.rm(p, o),
};

/** Where the reports go, as the user named it, for messages: `--report out/`, `-o report.html`. */
export interface ReportTarget {
  flag: string;
  dir: string;
}

/**
 * Check that `names` can be written into `target.dir`, creating it (and its parents) unless
 * `create` is false. Returns the topmost directory it created, if any (so a caller that fails
 * before writing can remove it again).
 */
export async function prepareReportDir(
  target: ReportTarget,
  names: readonly string[],
  { create = true, fs = nodeFs }: { create?: boolean; fs?: ReportFs } = {},
): Promise<string | undefined> {
  const { dir } = target;
  let created: string | undefined;
  const existing = await fs.stat(dir).catch(() => undefined);
  if (existing !== undefined && !existing.isDirectory())
    throw refusal(target, dir, "is a file, not a directory");
  if (existing === undefined && !create) throw refusal(target, dir, "no such directory");
  if (existing === undefined) {
    try {
      created = await fs.mkdir(dir, { recursive: true });
    } catch (e) {
      throw refusal(target, dir, `cannot create the directory: ${why(e)}`, e);
    }
  }
  for (const name of names) {
    const file = join(dir, name);
    const s = await fs.lstat(file).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return undefined;
      throw refusal(target, file, `cannot be replaced: ${why(e)}`, e);
    });
    if (s !== undefined && !s.isFile())
      throw refusal(
        target,
        file,
        `${s.isDirectory() ? "is a directory" : "is not a regular file"}, so it cannot be replaced`,
      );
  }
  const probe = join(dir, `.overhaul-write-test-${process.pid}`);
  try {
    await fs.writeFile(probe, "");
  } catch (e) {
    throw refusal(target, dir, `cannot write into it: ${why(e)}`, e);
  } finally {
    await fs.rm(probe, { force: true }).catch(() => undefined);
  }
  return created;
}

/**
 * Write `files` (name, text) into `target.dir` as one unit; returns their paths. On failure, an
 * `InputError` saying so, with nothing replaced.
 */
export async function writeFileSet(
  target: ReportTarget,
  files: readonly (readonly [string, string])[],
  fs: ReportFs = nodeFs,
): Promise<string[]> {
  const { dir } = target;
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const temp = (name: string) => join(dir, `.${name}.${tag}.new`);
  const old = (name: string) => join(dir, `.${name}.${tag}.old`);
  const written: string[] = [];
  /** Names replaced or being replaced, to undo in reverse: [name, whether an old file was kept]. */
  const swapped: [string, boolean][] = [];
  try {
    for (const [name, text] of files) {
      written.push(name);
      await fs.writeFile(temp(name), text);
    }
    for (const [name] of files) {
      const had = await fs.lstat(join(dir, name)).then(
        () => true,
        () => false,
      );
      if (had) await keep(fs, join(dir, name), old(name));
      swapped.push([name, had]);
      await fs.rename(temp(name), join(dir, name));
    }
  } catch (e) {
    const kept = await undo(fs, dir, swapped, old, temp);
    for (const name of written) await fs.rm(temp(name), { force: true }).catch(() => undefined);
    const lost =
      kept.length > 0
        ? `; the old ${kept.join(", ")} could not be put back and are kept as ${kept.map(old).join(", ")}`
        : "";
    throw refusal(
      target,
      files.length === 1 ? join(dir, (files[0] as readonly [string, string])[0]) : dir,
      `cannot write the report${files.length > 1 ? "s" : ""}: ${why(e)}; ${files.length > 1 ? "none was" : "it was not"} replaced${lost}`,
      e,
    );
  }
  for (const [name, had] of swapped) if (had) await fs.rm(old(name), { force: true }).catch(() => undefined);
  return files.map(([name]) => join(dir, name));
}

/** Put back what `writeFileSet` swapped; returns the names whose old file could not be put back. */
async function undo(
  fs: ReportFs,
  dir: string,
  swapped: readonly [string, boolean][],
  old: (name: string) => string,
  temp: (name: string) => string,
): Promise<string[]> {
  const kept: string[] = [];
  for (const [name, had] of [...swapped].reverse()) {
    const file = join(dir, name);
    try {
      // The old file goes back over its name (whichever is there now); a new file that had no
      // old one goes back to its temporary name, to be removed.
      if (had) {
        await fs.rename(old(name), file);
        // Still the same file (the new one never got in): then rename does nothing (POSIX), and
        // the second name goes.
        await fs.rm(old(name), { force: true });
      } else await fs.rename(file, temp(name)).catch(() => undefined);
    } catch {
      kept.push(name);
    }
  }
  return kept;
}

/** Keep `file` also as `as` (a hard link; a copy where the file system has none), leaving it in place. */
async function keep(fs: ReportFs, file: string, as: string): Promise<void> {
  try {
    await fs.link(file, as);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (
      code !== "EPERM" &&
      code !== "ENOTSUP" &&
      code !== "EOPNOTSUPP" &&
      code !== "EXDEV" &&
      code !== "EMLINK"
    )
      throw e;
    await fs.copyFile(file, as);
  }
}

/** `dir/name` as `{dir, name}` for a single file (`report -o FILE`). */
export function fileTarget(flag: string, file: string): { target: ReportTarget; name: string } {
  return { target: { flag, dir: dirname(file) }, name: basename(file) };
}

function refusal(target: ReportTarget, file: string, message: string, cause?: unknown): InputError {
  const p: Problem = {
    file,
    path: target.flag,
    message,
    expected: "a directory that can be written, where each report file is a regular file or absent",
  };
  return new InputError(p, cause === undefined ? undefined : { cause });
}

const WHY: Record<string, string> = {
  EEXIST: "a part of the path is a file, not a directory",
  ENOTDIR: "a part of the path is a file, not a directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EISDIR: "it is a directory",
};

function why(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return (code && WHY[code]) ?? (e instanceof Error ? e.message : String(e));
}

/**
 * Remove the directories `prepareReportDir` created (`created` is the topmost, `dir` the deepest),
 * when the work fails before anything is written into them. Only empty directories go.
 */
export async function removeCreated(dir: string, created: string | undefined): Promise<void> {
  if (created === undefined) return;
  const top = resolve(created);
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      await fsp.rmdir(d);
    } catch {
      return;
    }
    if (d === top || dirname(d) === d) return;
  }
}
