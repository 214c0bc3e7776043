/**
 * Stop a whole process group: the shell, what it started, and what those started.
 *
 * Invariants:
 * - Commands are spawned as group leaders (`detached: true`), so `-pid` names every process
 *   the command created unless one deliberately left the group (setsid).
 * - SIGTERM first so programs can clean up; SIGKILL to the group after `graceMs` if anything is
 *   still alive. Resolves once the group is gone, or shortly after SIGKILL in any case (a zombie
 *   nobody reaps would otherwise hold us forever).
 * - Never throws: a group that is already gone is the goal, not an error.
 */
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const POLL_MS = 25;
const AFTER_KILL_MS = 500;

/**
 * Whether any process of the group still runs. A zombie does not count: an orphan that PID 1
 * has not reaped yet is dead, and some init processes reap only every second or two.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    // EPERM: it exists but belongs to someone else; it is still alive.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  return runningMembers(pgid) !== 0;
}

/** Non-zombie members of the group from /proc (Linux), or -1 when /proc cannot tell. */
function runningMembers(pgid: number): number {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return -1;
  }
  let count = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited while we looked
    }
    // Fields after the command name: state ppid pgrp ...
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ", 3);
    if (Number(pgrp) === pgid && state !== "Z" && state !== "X") count++;
  }
  return count;
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone (ESRCH) or not ours: nothing more we can do.
  }
}

/** SIGTERM the group, SIGKILL it after `graceMs`, and wait until it is gone. */
export async function stopGroup(pgid: number, graceMs: number): Promise<void> {
  signalGroup(pgid, "SIGTERM");
  if (await waitGone(pgid, graceMs)) return;
  signalGroup(pgid, "SIGKILL");
  await waitGone(pgid, AFTER_KILL_MS);
}

async function waitGone(pgid: number, withinMs: number): Promise<boolean> {
  const deadline = performance.now() + withinMs;
  while (groupAlive(pgid)) {
    if (performance.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
  return true;
}
