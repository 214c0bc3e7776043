/**
 * The local transport against real processes: exit statuses, output capture and truncation,
 * timeouts and aborts that stop the whole process group (grandchildren included), environment,
 * working directory, become, close(), and 50 commands at once.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { TransportError } from "../../core/errors.js";
import type { Host } from "../../core/model/fleet.js";
import type { Transport } from "../../ports/transport.js";
import { createLocalTransport, type LocalTransportOptions } from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "overhaul-local-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const opened: Transport[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((t) => t.close()));
});

function transport(options: LocalTransportOptions = {}): Transport {
  const t = createLocalTransport({ killGraceMs: 500, ...options });
  opened.push(t);
  return t;
}

function host(name = "web01", vars: Record<string, unknown> = {}): Host {
  return {
    name,
    address: name,
    connection: "local",
    region: "eu",
    failureDomains: {},
    role: "worker",
    groups: [],
    vars,
  };
}

/** Alive and not a zombie waiting to be reaped. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Any non-zombie process still in the group? */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirProc()) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] !== "Z" && Number(fields[2]) === pgid) out.push(Number(entry));
    } catch {
      // gone while we looked
    }
  }
  return out;
}

function readdirProc(): string[] {
  return readdirSync("/proc").filter((e) => /^\d+$/.test(e));
}

async function rejection(p: Promise<unknown>): Promise<TransportError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TransportError);
    return e as TransportError;
  }
  throw new Error("expected a rejection");
}

function pidsIn(file: string): number[] {
  return readFileSync(file, "utf8").split(/\s+/).filter(Boolean).map(Number);
}

describe("exit status and output", () => {
  it.each([
    ["exit 0", 0],
    ["exit 3", 3],
    ["false", 1],
    ["exit 255", 255],
  ])("`%s` resolves with exit code %i", async (command, code) => {
    const r = await transport().exec(host(), { command, timeoutMs: 10_000 });
    expect(r.exitCode).toBe(code);
    expect(r.signal).toBeNull();
  });

  it("reports the signal that ended the command", async () => {
    const r = await transport().exec(host(), { command: "kill -KILL $$", timeoutMs: 10_000 });
    expect(r.exitCode).toBeNull();
    expect(r.signal).toBe("SIGKILL");
  });

  it("captures stdout and stderr separately", async () => {
    const r = await transport().exec(host(), {
      command: "echo out; echo err >&2; printf 'ünïcødé'",
      timeoutMs: 10_000,
    });
    expect(r.stdout).toBe("out\nünïcødé");
    expect(r.stderr).toBe("err\n");
    expect(r.truncated).toBe(false);
    expect(r.durationMs).toBeGreaterThan(0);
  });

  it("keeps the tail of long output and flags it as truncated", async () => {
    const r = await transport({ maxOutputBytes: 1000 }).exec(host(), {
      command: "seq 1 100000; echo done >&2",
      timeoutMs: 10_000,
    });
    expect(r.truncated).toBe(true);
    expect(Buffer.byteLength(r.stdout)).toBeLessThanOrEqual(1000);
    expect(r.stdout.endsWith("99999\n100000\n")).toBe(true);
    expect(r.stderr).toBe("done\n");
  });

  it("lets a request set its own output limit", async () => {
    const r = await transport().exec(host(), {
      command: "echo 0123456789",
      timeoutMs: 10_000,
      maxOutputBytes: 4,
    });
    expect(r).toMatchObject({ stdout: "789\n", truncated: true });
  });

  it("does not wait for a background process that keeps the output pipe open", async () => {
    const pidFile = join(dir, "bg.pid");
    const start = performance.now();
    const r = await transport().exec(host(), {
      command: `sleep 30 & echo $! > ${pidFile}; echo started`,
      timeoutMs: 20_000,
    });
    expect(r.stdout).toBe("started\n");
    expect(performance.now() - start).toBeLessThan(5_000);
    for (const pid of pidsIn(pidFile)) process.kill(pid, "SIGKILL");
  });
});

describe("timeouts and aborts stop the whole process group", () => {
  it("kills the shell, its children and grandchildren on timeout", async () => {
    const pids = join(dir, "timeout.pids");
    const command = [
      `echo $$ > ${pids}`,
      `sh -c 'sleep 30 & echo $! >> ${pids}; sleep 30 & echo $! >> ${pids}; wait' &`,
      `echo $! >> ${pids}`,
      "sleep 30",
    ].join("\n");
    const start = performance.now();
    const err = await rejection(transport().exec(host(), { command, timeoutMs: 500 }));
    expect(err.kind).toBe("timeout");
    expect(err.effectUnknown).toBe(true);
    expect(err.stoppedOnHost).toBe(true);
    expect(err.message).toContain("web01");
    expect(performance.now() - start).toBeLessThan(10_000);
    const [pgid, ...others] = pidsIn(pids);
    expect(others).toHaveLength(3);
    expect(groupMembers(pgid as number)).toEqual([]);
    for (const pid of [pgid as number, ...others]) expect(alive(pid)).toBe(false);
  });

  it("falls back to SIGKILL when the command ignores SIGTERM", async () => {
    const pids = join(dir, "stubborn.pids");
    const command = `trap '' TERM; echo $$ > ${pids}; sleep 30 & echo $! >> ${pids}; wait`;
    const err = await rejection(transport({ killGraceMs: 300 }).exec(host(), { command, timeoutMs: 300 }));
    expect(err.kind).toBe("timeout");
    expect(err.stoppedOnHost).toBe(true);
    for (const pid of pidsIn(pids)) expect(alive(pid)).toBe(false);
    expect(groupMembers(pidsIn(pids)[0] as number)).toEqual([]);
  });

  it("kills the group and rejects `dropped` when aborted", async () => {
    const pids = join(dir, "abort.pids");
    const ac = new AbortController();
    const running = transport().exec(host(), {
      command: `echo $$ > ${pids}; sleep 30 & echo $! >> ${pids}; wait`,
      timeoutMs: 60_000,
      signal: ac.signal,
    });
    setTimeout(() => ac.abort(), 300);
    const err = await rejection(running);
    expect(err.kind).toBe("dropped");
    expect(err.effectUnknown).toBe(true);
    for (const pid of pidsIn(pids)) expect(alive(pid)).toBe(false);
  });

  it("runs nothing when the signal is already aborted", async () => {
    const marker = join(dir, "never-ran");
    const err = await rejection(
      transport().exec(host(), {
        command: `touch ${marker}`,
        timeoutMs: 10_000,
        signal: AbortSignal.abort(),
      }),
    );
    expect(err.kind).toBe("unreachable");
    expect(() => readFileSync(marker)).toThrow();
  });

  it("close() stops running commands and refuses new ones", async () => {
    const t = transport();
    const pids = join(dir, "close.pids");
    const running = t.exec(host(), { command: `echo $$ > ${pids}; sleep 30`, timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 300));
    await t.close();
    const err = await rejection(running);
    expect(err.kind).toBe("dropped");
    for (const pid of pidsIn(pids)) expect(alive(pid)).toBe(false);
    expect((await rejection(t.exec(host(), { command: "true", timeoutMs: 1000 }))).kind).toBe("unreachable");
  });
});

describe("environment and working directory", () => {
  it("exports the request env, OVERHAUL_HOST and scalar host variables", async () => {
    const vars = {
      region: "eu-west",
      rack_units: 2,
      ssd: true,
      "not-an-identifier": "x",
      disks: ["a", "b"],
      nothing: null,
      nested: { a: 1 },
    };
    const r = await transport().exec(host("db07", vars), {
      command: "env | grep -E '^(OVERHAUL_|SECRET_TOKEN=)' | sort",
      timeoutMs: 10_000,
      env: { SECRET_TOKEN: "s3cr3t" },
    });
    expect(r.stdout.trim().split("\n")).toEqual([
      "OVERHAUL_HOST=db07",
      "OVERHAUL_VAR_rack_units=2",
      "OVERHAUL_VAR_region=eu-west",
      "OVERHAUL_VAR_ssd=true",
      "SECRET_TOKEN=s3cr3t",
    ]);
  });

  it("inherits this process's environment", async () => {
    const r = await transport().exec(host(), { command: 'printf %s "$PATH"', timeoutMs: 10_000 });
    expect(r.stdout).toBe(process.env.PATH);
  });

  it("runs in overhaul_workdir when the host sets it", async () => {
    const r = await transport().exec(host("a", { overhaul_workdir: dir }), {
      command: "pwd",
      timeoutMs: 10_000,
    });
    expect(r.stdout.trim()).toBe(dir);
  });

  it("rejects `unreachable` when the working directory does not exist", async () => {
    const err = await rejection(
      transport().exec(host("a", { overhaul_workdir: join(dir, "missing") }), {
        command: "true",
        timeoutMs: 10_000,
      }),
    );
    expect(err.kind).toBe("unreachable");
    expect(err.effectUnknown).toBe(false);
  });

  it("rejects `unreachable` when the shell does not exist", async () => {
    const err = await rejection(
      transport({ shell: "/nonexistent/sh" }).exec(host(), { command: "true", timeoutMs: 10_000 }),
    );
    expect(err.kind).toBe("unreachable");
    expect(err.message).toContain("/nonexistent/sh");
  });

  it("never puts environment values in error messages", async () => {
    const err = await rejection(
      transport().exec(host(), { command: "sleep 5", timeoutMs: 100, env: { SECRET_TOKEN: "s3cr3t" } }),
    );
    expect(err.message).not.toContain("s3cr3t");
  });
});

describe("become", () => {
  const fakeSudo = (name: string, body: string) => {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };

  it("runs directly when already root", async () => {
    const sudo = fakeSudo("sudo-must-not-run", "echo sudo was called; exit 99");
    const r = await transport({ isRoot: true, sudo }).exec(host(), {
      command: "echo direct",
      timeoutMs: 10_000,
      become: true,
    });
    expect(r).toMatchObject({ exitCode: 0, stdout: "direct\n" });
  });

  it("goes through `sudo -n`, keeping the variables it adds", async () => {
    const argsFile = join(dir, "sudo.args");
    // Records its arguments, then runs what follows `--` the way sudo would.
    const sudo = fakeSudo(
      "sudo-ok",
      `printf '%s\\n' "$@" > ${argsFile}\nwhile [ "$1" != "--" ]; do shift; done; shift\nexec "$@"`,
    );
    const r = await transport({ isRoot: false, sudo }).exec(host("h1", { role: "db" }), {
      command: 'echo "as $OVERHAUL_HOST $FOO"',
      timeoutMs: 10_000,
      become: true,
      env: { FOO: "bar" },
    });
    expect(r.stdout).toBe("as h1 bar\n");
    const args = readFileSync(argsFile, "utf8").split("\n");
    expect(args[0]).toBe("-n");
    expect(args[1]?.startsWith("--preserve-env=")).toBe(true);
    expect(args[1]?.split("=")[1]?.split(",").sort()).toEqual(
      expect.arrayContaining(["FOO", "OVERHAUL_HOST", "OVERHAUL_VAR_role"]),
    );
    expect(args.slice(2, 5)).toEqual(["--", "/bin/sh", "-c"]);
  });

  it("rejects `auth` when sudo wants a password", async () => {
    const sudo = fakeSudo("sudo-no", "echo 'sudo: a password is required' >&2; exit 1");
    const err = await rejection(
      transport({ isRoot: false, sudo }).exec(host(), { command: "true", timeoutMs: 10_000, become: true }),
    );
    expect(err.kind).toBe("auth");
    expect(err.retryable).toBe(false);
  });

  it("does not use sudo without become", async () => {
    const sudo = fakeSudo("sudo-unused", "exit 99");
    const r = await transport({ isRoot: false, sudo }).exec(host(), {
      command: "echo plain",
      timeoutMs: 10_000,
    });
    expect(r.stdout).toBe("plain\n");
  });
});

describe("concurrency", () => {
  it("runs 50 commands in parallel, each with its own host and output", async () => {
    const t = transport();
    const start = performance.now();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        t.exec(host(`h${i}`), {
          command: `sleep 0.5; echo "$OVERHAUL_HOST"; echo "e$OVERHAUL_HOST" >&2; exit ${i % 4}`,
          timeoutMs: 30_000,
        }),
      ),
    );
    const elapsed = performance.now() - start;
    results.forEach((r, i) => {
      expect(r).toMatchObject({ exitCode: i % 4, stdout: `h${i}\n`, stderr: `eh${i}\n`, truncated: false });
    });
    // Serially this would take 25 s.
    expect(elapsed).toBeLessThan(10_000);
  });
});

describe("upload", () => {
  it("writes the file with its mode, replacing an existing one atomically", async () => {
    const t = transport();
    const path = join(dir, "uploaded.conf");
    writeFileSync(path, "old");
    const r = await t.upload?.(host(), { content: "new ✓\n", remotePath: path, mode: 0o600 });
    expect(r?.bytes).toBe(Buffer.byteLength("new ✓\n"));
    expect(readFileSync(path, "utf8")).toBe("new ✓\n");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((f) => f.includes("overhaul-"))).toEqual([]);
  });

  it("a missing directory is `unreachable` and names the path", async () => {
    const path = join(dir, "missing", "f");
    const err = await rejection(
      transport().upload?.(host(), { content: "x", remotePath: path }) as Promise<unknown>,
    );
    expect(err.kind).toBe("unreachable");
    expect(err.message).toContain(path);
  });
});

describe("attempt markers (running)", () => {
  it("a tagged command is running while any process of its group lives, then not", async () => {
    const t = transport();
    const tag = `run-${process.pid}.web01.1.run.1`;
    // The shell exits at once; the background sleep it left in its group still runs.
    const r = await t.exec(host(), { command: "sleep 1 >/dev/null 2>&1 & exit 0", timeoutMs: 5_000, tag });
    expect(r.exitCode).toBe(0);
    // The exec settled, so the marker is gone: nothing is known to run under the tag any more.
    expect(await t.running?.(host(), { tag, timeoutMs: 1_000 })).toBe(false);
    const p = t.exec(host(), { command: "sleep 0.6", timeoutMs: 5_000, tag });
    await new Promise((res) => setTimeout(res, 200));
    expect(await t.running?.(host(), { tag, timeoutMs: 1_000 })).toBe(true);
    await p;
    expect(await t.running?.(host(), { tag, timeoutMs: 1_000 })).toBe(false);
  });

  it("another transport (a coordinator started after a crash) sees the command its predecessor left running", async () => {
    const tag = `run-${process.pid}.web01.1.run.2`;
    const first = createLocalTransport({ killGraceMs: 500 });
    // Not awaited, and `first` is never closed: as when its coordinator was killed.
    const orphan = first.exec(host(), { command: "sleep 1", timeoutMs: 5_000, tag });
    await new Promise((res) => setTimeout(res, 200));
    const second = transport();
    expect(await second.running?.(host(), { tag, timeoutMs: 1_000 })).toBe(true);
    expect(await second.running?.(host(), { tag: `${tag}0`, timeoutMs: 1_000 })).toBe(false);
    await orphan;
    expect(await second.running?.(host(), { tag, timeoutMs: 1_000 })).toBe(false);
  });
});
