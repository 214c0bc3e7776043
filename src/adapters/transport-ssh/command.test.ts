/**
 * The host-side timeout of command.ts: where `timeout` goes in the script (inside sudo), how the
 * limit is rounded, the switch, and what the built line does when run by a real `sh` (this
 * machine's): the command's status and signal come through unchanged, a hanging command is
 * stopped at the limit (124), and a host without `timeout` still runs the command.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import type { Host } from "../../core/model/fleet.js";
import { buildCommand, remoteLimit, remoteTimeoutEnabled } from "./command.js";

function host(vars: Record<string, unknown> = {}): Host {
  return {
    name: "web01",
    address: "web01.example.com",
    connection: "ssh",
    region: "eu",
    failureDomains: {},
    role: "worker",
    groups: [],
    vars,
  };
}

/** Run a built exec line as sshd would (the login shell execs it), here. */
function runLine(line: string, env: NodeJS.ProcessEnv = process.env) {
  const started = performance.now();
  const r = spawnSync("/bin/sh", ["-c", `exec ${line}`], { encoding: "utf8", env, timeout: 20_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, ms: performance.now() - started };
}

describe("host-side timeout", () => {
  it("rounds the time left up to whole seconds, at least 1, and the grace too", () => {
    expect(remoteLimit(400, 300)).toEqual({ seconds: 1, killAfterSeconds: 1 });
    expect(remoteLimit(1_999.5, 1_000)).toEqual({ seconds: 2, killAfterSeconds: 1 });
    expect(remoteLimit(600_000, 2_500)).toEqual({ seconds: 600, killAfterSeconds: 3 });
  });

  it("is on unless overhaul_remote_timeout says false", () => {
    expect(remoteTimeoutEnabled(host())).toBe(true);
    expect(remoteTimeoutEnabled(host({ overhaul_remote_timeout: true }))).toBe(true);
    for (const off of [false, "false", "no", "off", "0", 0, "False"])
      expect(remoteTimeoutEnabled(host({ overhaul_remote_timeout: off }))).toBe(false);
  });

  it("wraps the step's command (quoted) inside the sudo script, not around sudo", () => {
    const limit = { seconds: 30, killAfterSeconds: 2 };
    const c = buildCommand(host(), "echo 'it''s'", {}, { user: "root", exe: "sudo" }, limit);
    expect(c.line.startsWith("sudo -n -u 'root' -- /bin/sh -c ")).toBe(true);
    expect(c.line).toContain("exec timeout -k 2 30 /bin/sh -c");
    expect(buildCommand(host(), "true", {}, undefined).line).not.toContain("timeout");
  });

  it("keeps the command's status, output and signal", () => {
    const limit = { seconds: 10, killAfterSeconds: 1 };
    const quoted = runLine(
      buildCommand(host(), `printf '%s\\n' "it's" "$X"; exit 3`, { X: "a b" }, undefined, limit).line,
    );
    expect(quoted).toMatchObject({ status: 3, stdout: "it's\na b\n" });
    const killed = runLine(buildCommand(host(), "kill -KILL $$", {}, undefined, limit).line);
    expect(killed).toMatchObject({ status: null, signal: "SIGKILL" });
  });

  it("stops a hanging command at the limit, with everything it started (exit 124)", () => {
    const limit = { seconds: 1, killAfterSeconds: 1 };
    const r = runLine(buildCommand(host(), "sleep 30 & sleep 30; echo late", {}, undefined, limit).line);
    expect(r.status).toBe(124);
    expect(r.stdout).toBe("");
    expect(r.ms).toBeLessThan(5_000);
  });

  it("KILLs a command that ignores TERM after the grace", () => {
    const limit = { seconds: 1, killAfterSeconds: 1 };
    const r = runLine(buildCommand(host(), "trap '' TERM; sleep 30", {}, undefined, limit).line);
    expect(r.status === 137 || r.signal === "SIGKILL").toBe(true);
    expect(r.ms).toBeLessThan(6_000);
  });

  it("runs the command without a limit on a host that has no usable `timeout`", () => {
    const limit = { seconds: 1, killAfterSeconds: 1 };
    const r = runLine(buildCommand(host(), "echo ran; exit 5", {}, undefined, limit).line, {
      PATH: "/nonexistent",
    });
    expect(r).toMatchObject({ status: 5, stdout: "ran\n" });
  });
});
