/**
 * Where a benchmark ran: the machine (cpu, cores, memory, OS, Node), the repository's commit, and
 * the filesystem that holds the database files.
 *
 * Why: a durable-commit rate is a property of the disk and its filesystem as much as of the code
 * (an fsync on tmpfs is free, on a network disk it is milliseconds). A number without the machine
 * and the filesystem next to it cannot be compared with anything, so every result records both.
 *
 * Invariants:
 * - The scratch directory for database files is on the same filesystem as the repository's
 *   working directory: `os.tmpdir()` when it is on that device and not tmpfs, otherwise a folder
 *   under the repository's git-ignored `.overhaul/`. The choice and its reason are recorded.
 * - Nothing here talks to the network; `git` is asked only about the local working tree.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import os from "node:os";
import { join, sep } from "node:path";

export interface FilesystemInfo {
  /** The directory asked about (real path). */
  path: string;
  /** Mount point that holds it, its filesystem type and source device (Linux: /proc/self/mounts). */
  mountPoint: string | null;
  type: string | null;
  source: string | null;
  /** st_dev of the directory. */
  device: number;
}

export interface MachineInfo {
  cpuModel: string;
  /** Logical cores (os.cpus()) and what Node would use in parallel. */
  cores: number;
  availableParallelism: number;
  memoryBytes: number;
  platform: string;
  osRelease: string;
  osVersion: string;
  arch: string;
  node: string;
  v8: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    availableParallelism: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    platform: os.platform(),
    osRelease: os.release(),
    osVersion: os.version(),
    arch: os.arch(),
    node: process.version,
    v8: process.versions.v8,
  };
}

/** Undo the octal escapes /proc/self/mounts uses for spaces, tabs and backslashes. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

export function filesystemOf(dir: string): FilesystemInfo {
  const path = realpathSync(dir);
  const info: FilesystemInfo = {
    path,
    mountPoint: null,
    type: null,
    source: null,
    device: statSync(path).dev,
  };
  let mounts: string;
  try {
    mounts = readFileSync("/proc/self/mounts", "utf8");
  } catch {
    return info; // not Linux: type unknown
  }
  for (const line of mounts.split("\n")) {
    const [source, target, type] = line.split(" ");
    if (!source || !target || !type) continue;
    const mp = unescapeMount(target);
    const inside = mp === "/" || path === mp || path.startsWith(mp.endsWith(sep) ? mp : mp + sep);
    // The longest matching mount point wins; a later line for the same point over-mounts an earlier one.
    if (inside && (info.mountPoint === null || mp.length >= info.mountPoint.length)) {
      info.mountPoint = mp;
      info.type = type;
      info.source = unescapeMount(source);
    }
  }
  return info;
}

export interface ScratchDir {
  /** A fresh directory for this benchmark's database files; remove it when done. */
  dir: string;
  filesystem: FilesystemInfo;
  repoFilesystem: FilesystemInfo;
  tmpdirFilesystem: FilesystemInfo;
  /** Why `dir` is where it is. */
  choice: string;
}

/** A scratch directory on the repository's filesystem (see the header). */
export async function makeScratchDir(repoRoot: string): Promise<ScratchDir> {
  const repoFs = filesystemOf(repoRoot);
  const tmpFs = filesystemOf(os.tmpdir());
  let base: string;
  let choice: string;
  if (tmpFs.device === repoFs.device && tmpFs.type !== "tmpfs") {
    base = tmpFs.path;
    choice = `os.tmpdir() (${tmpFs.path}) is on the repository's filesystem (${repoFs.type ?? "unknown type"})`;
  } else {
    base = join(repoRoot, ".overhaul");
    await mkdir(base, { recursive: true });
    const why =
      tmpFs.type === "tmpfs" ? "is tmpfs" : `is on another filesystem (${tmpFs.type ?? "unknown type"})`;
    choice = `os.tmpdir() (${tmpFs.path}) ${why}; using the repository's .overhaul/ instead`;
  }
  const dir = mkdtempSync(join(base, "overhaul-bench-"));
  return { dir, filesystem: filesystemOf(dir), repoFilesystem: repoFs, tmpdirFilesystem: tmpFs, choice };
}

/** Run `body` with a fresh scratch directory, removed afterwards: on return, on error and on Ctrl-C. */
export async function withScratchDir<T>(
  repoRoot: string,
  body: (scratch: ScratchDir) => Promise<T>,
): Promise<T> {
  const scratch = await makeScratchDir(repoRoot);
  const cleanup = () => rmSync(scratch.dir, { recursive: true, force: true });
  const onSignal = (sig: NodeJS.Signals) => {
    cleanup();
    process.kill(process.pid, sig);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await body(scratch);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    cleanup();
  }
}

export interface RepoInfo {
  commit: string | null;
  /** True when the working tree has uncommitted changes (the numbers may not match `commit`). */
  dirty: boolean | null;
}

export function repoInfo(repoRoot: string): RepoInfo {
  const git = (...args: string[]) =>
    execFileSync("git", args, { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  try {
    const commit = git("rev-parse", "HEAD").trim();
    const dirty = git("status", "--porcelain").trim() !== "";
    return { commit, dirty };
  } catch {
    return { commit: null, dirty: null };
  }
}

export interface Conditions {
  at: string;
  loadAverage: number[];
  /** Linux pressure stall information, "some" line (avg10/avg60 % of time stalled), if available. */
  cpuPressure: string | null;
  ioPressure: string | null;
}

function pressure(kind: "cpu" | "io"): string | null {
  try {
    const some = readFileSync(`/proc/pressure/${kind}`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("some "));
    return some ? some.replace(/^some /, "").replace(/ total=\d+$/, "") : null;
  } catch {
    return null;
  }
}

/** How busy the machine is right now: a noisy neighbour shows up here, next to the numbers. */
export function conditions(): Conditions {
  return {
    at: new Date().toISOString(),
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    cpuPressure: pressure("cpu"),
    ioPressure: pressure("io"),
  };
}
