/**
 * Attempt markers of the local transport: which process group runs the command of an attempt
 * (`ExecRequest.tag`), kept in a file so that a coordinator started after a crash can ask whether
 * the command its predecessor started still runs (the group outlives the coordinator: commands
 * run as group leaders, process-group.ts).
 *
 * Invariants:
 * - A marker is `<dir>/<tag>` holding "<pid> <start time>" (the start time from /proc/<pid>/stat,
 *   field 22, or empty where there is none); <dir> is `<tmpdir>/overhaul-local-<uid>`, mode 700,
 *   used only when it is a directory of this user and not a symlink. A marker is written right
 *   after the spawn and removed when the command is seen to end.
 * - `stillRunning`: true while any process of the group lives and the pid was not reused (its start
 *   time is unchanged); false when no marker exists or the group is gone (the marker is removed);
 *   undefined when the directory is not usable. Never throws.
 */
import { lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ATTEMPT_TAG } from "../../ports/transport.js";
import { groupAlive } from "./process-group.js";

function markerDir(create: boolean): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  const dir = join(tmpdir(), `overhaul-local-${uid}`);
  try {
    if (create) mkdirSync(dir, { mode: 0o700, recursive: true });
    const st = lstatSync(dir);
    return st.isDirectory() && !st.isSymbolicLink() && st.uid === uid ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat (after the ")" that ends the name), or "" where there is none. */
function startTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

/** Record that `pid`'s group runs the command tagged `tag`; returns how to forget it. */
export function markAttempt(tag: string | undefined, pid: number | undefined): () => void {
  if (tag === undefined || pid === undefined || !ATTEMPT_TAG.test(tag)) return () => {};
  const dir = markerDir(true);
  if (dir === undefined) return () => {};
  const file = join(dir, tag);
  try {
    writeFileSync(file, `${pid} ${startTime(pid)}\n`);
  } catch {
    return () => {};
  }
  return () => rmSync(file, { force: true });
}

/** Does the command tagged `tag` still run (see the header)? */
export function stillRunning(tag: string): boolean | undefined {
  if (!ATTEMPT_TAG.test(tag)) return undefined;
  const dir = markerDir(false);
  if (dir === undefined) return undefined;
  const file = join(dir, tag);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return false;
  }
  const [pidText, start = ""] = text.trim().split(" ");
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  const now = startTime(pid);
  const reused = start !== "" && now !== "" && now !== start;
  if (!reused && groupAlive(pid)) return true;
  rmSync(file, { force: true });
  return false;
}
