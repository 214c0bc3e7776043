/**
 * The host-side timeout of command.ts: where `timeout` goes in the script (inside sudo), how the
 * limit is rounded, the switch, and what the built line does when run by a real `sh` (this
 * machine's): the command's status and signal come through unchanged, a hanging command is
 * stopped at the limit (124), and a host without `timeout` still runs the command. And the attempt
 * marker: a tagged command is seen `running` while it runs, `ended` after, `none` when it never
 * started; a directory that is not the user's own gets no marker (`unknown`).
 */
import { spawn, spawnSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BUSYBOX, busyboxBin } from "../../../test/support/busybox.js";
import { sshHost } from "../../../test/support/records.js";
import {
  buildCommand,
  PROBE,
  type RemoteCommand,
  remoteLimit,
  remoteTimeoutEnabled,
  runningProbe,
} from "./command.js";

const host = sshHost;

/** Run a built command as sshd would (the login shell execs the line; the script on stdin), here. */
function runLine(c: RemoteCommand, env: NodeJS.ProcessEnv = process.env) {
  const started = performance.now();
  const r = spawnSync("/bin/sh", ["-c", `exec ${c.line}`], {
    encoding: "utf8",
    env,
    input: c.script,
    timeout: 20_000,
  });
  return {
    status: r.status,
    signal: r.signal,
    stdout: r.stdout,
    stderr: r.stderr,
    ms: performance.now() - started,
  };
}

/** The same, left running: the script written on its stdin, which then ends. */
function spawnLine(c: RemoteCommand, env: NodeJS.ProcessEnv, sh = "/bin/sh") {
  const child = spawn(sh, ["-c", `exec ${c.line}`], { env, stdio: ["pipe", "ignore", "ignore"] });
  child.stdin?.end(c.script);
  return child;
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
    expect(c.script.toString()).toContain("exec timeout -k 2 30 /bin/sh -c");
    expect(buildCommand(host(), "true", {}, undefined).script.toString()).not.toContain("timeout");
  });

  it("keeps the command's status, output and signal", () => {
    const limit = { seconds: 10, killAfterSeconds: 1 };
    const quoted = runLine(
      buildCommand(host(), `printf '%s\\n' "it's" "$X"; exit 3`, { X: "a b" }, undefined, limit),
    );
    expect(quoted).toMatchObject({ status: 3, stdout: "it's\na b\n" });
    const killed = runLine(buildCommand(host(), "kill -KILL $$", {}, undefined, limit));
    expect(killed).toMatchObject({ status: null, signal: "SIGKILL" });
  });

  it("stops a hanging command at the limit, with everything it started (exit 124)", () => {
    const limit = { seconds: 1, killAfterSeconds: 1 };
    const r = runLine(buildCommand(host(), "sleep 30 & sleep 30; echo late", {}, undefined, limit));
    expect(r.status).toBe(124);
    expect(r.stdout).toBe("");
    expect(r.ms).toBeLessThan(5_000);
  });

  it("KILLs a command that ignores TERM after the grace", () => {
    const limit = { seconds: 1, killAfterSeconds: 1 };
    const r = runLine(buildCommand(host(), "trap '' TERM; sleep 30", {}, undefined, limit));
    expect(r.status === 137 || r.signal === "SIGKILL").toBe(true);
    expect(r.ms).toBeLessThan(6_000);
  });

  it("runs the command without a limit on a host that has no usable `timeout`", () => {
    const limit = { seconds: 1, killAfterSeconds: 1 };
    // The bootstrap needs `head`; nothing else is on PATH.
    const bin = mkdtempSync(join(tmpdir(), "overhaul-no-timeout-"));
    try {
      const head = spawnSync("/bin/sh", ["-c", "command -v head"], { encoding: "utf8" }).stdout.trim();
      symlinkSync(head, join(bin, "head"));
      const r = runLine(buildCommand(host(), "echo ran; exit 5", {}, undefined, limit), { PATH: bin });
      expect(r).toMatchObject({ status: 5, stdout: "ran\n" });
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});

/** This machine's BusyBox, for the test of a BusyBox host (CI installs the Debian package). */

describe("attempt marker", () => {
  const uid = process.getuid?.() ?? 0;
  function sandbox() {
    const tmp = mkdtempSync(join(tmpdir(), "overhaul-marker-"));
    return { tmp, env: { ...process.env, TMPDIR: tmp }, dir: join(tmp, `overhaul-${uid}`) };
  }
  const probe = (tag: string, env: NodeJS.ProcessEnv) =>
    spawnSync("/bin/sh", ["-c", runningProbe(tag)], { encoding: "utf8", env }).stdout.trim();

  for (const limited of [true, false]) {
    it(`a tagged command is running while it runs, ended after, none before (${limited ? "with" : "without"} the host-side limit)`, async () => {
      const { tmp, env, dir } = sandbox();
      try {
        expect(probe("run-1.web01.2.run.1", env)).toBe(PROBE.unknown); // no directory yet
        const line = buildCommand(
          host(),
          `echo started > "$TMPDIR/started"; sleep 1; echo landed > "$TMPDIR/landed"`,
          {},
          undefined,
          limited ? { seconds: 10, killAfterSeconds: 1 } : undefined,
          "run-1.web01.2.run.1",
        );
        const child = spawnLine(line, env);
        const exited = new Promise((r) => child.on("exit", r));
        for (let i = 0; i < 100 && !readdirSync(tmp).includes("started"); i++)
          await new Promise((r) => setTimeout(r, 20));
        expect(probe("run-1.web01.2.run.1", env)).toBe(PROBE.running);
        expect(probe("run-1.web01.2.run.2", env)).toBe(PROBE.none);
        await exited;
        expect(readFileSync(join(tmp, "landed"), "utf8")).toBe("landed\n");
        expect(probe("run-1.web01.2.run.1", env)).toBe(PROBE.ended);
        // `ended` removed the marker.
        expect(probe("run-1.web01.2.run.1", env)).toBe(PROBE.none);
        expect(readdirSync(dir)).toEqual([]);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  }

  it("a marker whose pid now belongs to another process (another start time) is ended", () => {
    const { tmp, env, dir } = sandbox();
    try {
      mkdirSync(dir, { mode: 0o700 });
      // This test's own pid is alive, but not with this start time.
      writeFileSync(join(dir, "t1"), `${process.pid} 1\n`);
      expect(probe("t1", env)).toBe(PROBE.ended);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("a marker whose process is a zombie (ended, not reaped) is ended", async () => {
    const { tmp, env, dir } = sandbox();
    // `sleep 0.1` ends at once and stays a zombie: its parent (exec'd into `sleep 3`) never reaps it.
    const parent = spawn("/bin/sh", ["-c", "sleep 0.1 & echo $!; exec sleep 3"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    try {
      const pid = Number(
        await new Promise<string>((res) => parent.stdout?.once("data", (b: Buffer) => res(String(b)))),
      );
      let stat = "";
      for (let i = 0; i < 100 && !/\) Z /.test(stat); i++) {
        await new Promise((r) => setTimeout(r, 20));
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      }
      expect(stat).toMatch(/\) Z /);
      const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
      mkdirSync(dir, { mode: 0o700 });
      writeFileSync(join(dir, "t3"), `${pid} ${start}\n`);
      expect(probe("t3", env)).toBe(PROBE.ended);
    } finally {
      parent.kill("SIGKILL");
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("writes no marker in a directory that is a symlink, and says unknown; the command runs anyway", () => {
    const { tmp, env, dir } = sandbox();
    try {
      const elsewhere = join(tmp, "elsewhere");
      mkdirSync(elsewhere);
      symlinkSync(elsewhere, dir);
      const r = runLine(buildCommand(host(), "echo ran", {}, undefined, undefined, "t2"), env);
      expect(r).toMatchObject({ status: 0, stdout: "ran\n" });
      expect(readdirSync(elsewhere)).toEqual([]);
      expect(probe("t2", env)).toBe(PROBE.unknown);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it.skipIf(BUSYBOX === undefined && process.env.CI !== "true")(
    `works the same on a BusyBox host (BusyBox applets only: ${BUSYBOX ?? "skipped, no busybox here (Debian package busybox)"})`,
    async () => {
      if (BUSYBOX === undefined)
        throw new Error("busybox is missing; CI=true requires it (.ci/run installs it)");
      const { tmp, env, dir } = sandbox();
      const bin = busyboxBin(join(tmp, "bin"));
      const bb = { ...env, PATH: bin };
      const probeBb = (tag: string) =>
        spawnSync(join(bin, "sh"), ["-c", runningProbe(tag)], { encoding: "utf8", env: bb }).stdout.trim();
      try {
        const line = buildCommand(
          host(),
          `echo started > "$TMPDIR/started"; sleep 1; echo landed > "$TMPDIR/landed"`,
          {},
          undefined,
          { seconds: 10, killAfterSeconds: 1 },
          "bb.1.run",
        );
        const child = spawnLine(line, bb, join(bin, "sh"));
        const exited = new Promise((r) => child.on("exit", r));
        for (let i = 0; i < 100 && !readdirSync(tmp).includes("started"); i++)
          await new Promise((r) => setTimeout(r, 20));
        expect(readdirSync(dir)).toEqual(["bb.1.run"]);
        expect(probeBb("bb.1.run")).toBe(PROBE.running);
        expect(probeBb("bb.2.run")).toBe(PROBE.none);
        expect(await exited).toBe(0);
        expect(readFileSync(join(tmp, "landed"), "utf8")).toBe("landed\n");
        expect(probeBb("bb.1.run")).toBe(PROBE.ended);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    },
  );

  it("refuses a tag that is not [A-Za-z0-9._-], and writes no marker for one", () => {
    expect(() => runningProbe("a/../b")).toThrow(RangeError);
    expect(buildCommand(host(), "true", {}, undefined, undefined, "a b").script.toString()).not.toContain(
      "overhaul-",
    );
    expect(buildCommand(host(), "true", {}, undefined, undefined, "ok.1").script.toString()).toContain(
      "overhaul-",
    );
  });
});
