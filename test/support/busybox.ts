/**
 * A BusyBox host's tools for tests of the shell scripts Overhaul sends (the SSH bootstrap, the
 * attempt marker and its probe): `busybox` where Debian puts it, and a directory of its applets to
 * put first on PATH, so the scripts run on BusyBox's `sh` and applets alone.
 */
import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";

export const BUSYBOX = ["/usr/bin/busybox", "/bin/busybox"].find((p) => existsSync(p));

/** What the scripts use; `extra` adds applets a test's own commands need. */
const APPLETS = [
  "sh",
  "head",
  "id",
  "sed",
  "cut",
  "find",
  "timeout",
  "kill",
  "rm",
  "mkdir",
  "cat",
  "sleep",
  "echo",
  "true",
];

/** `dir` made and filled with links to BusyBox's applets; returns `dir`. */
export function busyboxBin(dir: string, extra: readonly string[] = []): string {
  if (BUSYBOX === undefined) throw new Error("busybox is missing; CI=true requires it (.ci/run installs it)");
  mkdirSync(dir);
  for (const applet of [...APPLETS, ...extra]) symlinkSync(BUSYBOX, join(dir, applet));
  return dir;
}
