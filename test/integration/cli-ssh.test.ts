/**
 * `overhaul run` over SSH against in-process ssh2 servers: hosts with `ansible_connection` ssh
 * (the default) are reached with the SSH transport; a become password planted in the inventory
 * is used but never lands in the database, the logs or the output; an unknown host key stops
 * that host under the default strict checking and is recorded with --ssh-host-key-checking
 * accept-new; bad --ssh-* flags are input errors; `resume` from another directory finds the
 * run's inventory (stored absolute) and relative key files, and refuses, naming the path, when
 * the inventory holding its become password is gone.
 */
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { generateKey, startTestServer, type TestServer } from "../support/ssh-test-server.js";

const SECRET = `s3cret-${randomBytes(6).toString("hex")}`;
let dir: string;
let work: string;
let keyFile: string;
let known: TestServer;
let unknown: TestServer;
let env: Record<string, string>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "overhaul-cli-ssh-"));
  work = join(dir, "remote");
  const bin = join(dir, "bin");
  mkdirSync(work);
  mkdirSync(bin);
  mkdirSync(join(dir, "home"));
  const key = generateKey();
  keyFile = join(dir, "id_test");
  writeFileSync(keyFile, key.private, { mode: 0o600 });
  writeFileSync(
    join(bin, "sudo"),
    [
      "#!/bin/bash",
      'P=Password:; while [ $# -gt 0 ]; do case "$1" in -S|-k) shift;; -p) P="$2"; shift 2;; -u) shift 2;; --) shift; break;; *) break;; esac; done',
      `printf '%s' "$P" >&2; IFS= read -r pw; [ "$pw" = '${SECRET}' ] || { echo 'sudo: 1 incorrect password attempt' >&2; exit 1; }`,
      'export BECAME=1; exec "$@"',
    ].join("\n"),
  );
  chmodSync(join(bin, "sudo"), 0o755);
  const users = { tester: [key.public] };
  known = await startTestServer({ users, dir: work, binDir: bin });
  unknown = await startTestServer({ users, dir: work, binDir: bin });
  // HOME without keys, config or known_hosts, and no agent: only what the test names is used.
  env = { HOME: join(dir, "home"), SSH_AUTH_SOCK: "" };
});

afterAll(async () => {
  await known?.close();
  await unknown?.close();
  rmSync(dir, { recursive: true, force: true });
});

function sandbox(name: string, hosts: string[]): string {
  const d = join(dir, name);
  mkdirSync(d);
  writeFileSync(
    join(d, "inventory.ini"),
    [
      "[web]",
      ...hosts,
      "[web:vars]",
      "ansible_user=tester",
      `ansible_ssh_private_key_file=${keyFile}`,
      `ansible_become_password=${SECRET}`,
    ].join("\n"),
  );
  writeFileSync(
    join(d, "plan.yaml"),
    [
      "name: ssh-smoke",
      "hosts: web",
      "failureBudget: { maxFailed: 5 }",
      "steps:",
      "  - name: mark",
      "    kind: command",
      `    run: 'echo "$OVERHAUL_HOST became=$BECAME" >> ${join(work, `${name}.log`)}'`,
      "    become: true",
    ].join("\n"),
  );
  writeFileSync(join(d, "known_hosts"), `[127.0.0.1]:${known.port} ${known.hostKey.public}\n`);
  return d;
}

const host = (name: string, s: TestServer) => `${name} ansible_host=127.0.0.1 ansible_port=${s.port}`;

/** Every file under `d` (the database, its WAL, the event logs), as text. */
function everything(d: string): string {
  let out = "";
  for (const e of readdirSync(d, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || e.name === "inventory.ini") continue;
    const p = join(e.parentPath, e.name);
    if (statSync(p).size < 50_000_000) out += readFileSync(p).toString("latin1");
  }
  return out;
}

describe("overhaul run over SSH", () => {
  it("runs on SSH hosts with sudo, and the become password is stored nowhere", async () => {
    const d = sandbox("ok", [host("web01", known), host("web02", known)]);
    const r = await runCli(
      ["run", "plan.yaml", "-i", "inventory.ini", "--all", "--ssh-known-hosts", "known_hosts", "--json"],
      { cwd: d, env },
    );
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(readFileSync(join(work, "ok.log"), "utf8").split("\n").sort()).toEqual([
      "",
      "web01 became=1",
      "web02 became=1",
    ]);
    expect(known.commands.join("\n")).not.toContain(SECRET);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(everything(d)).not.toContain(SECRET);
  });

  it("stops a host with an unknown key under strict checking; accept-new records it", async () => {
    const d = sandbox("hostkey", [host("web01", known), host("web09", unknown)]);
    const before = unknown.commands.length;
    const strict = await runCli(
      ["run", "plan.yaml", "-i", "inventory.ini", "--all", "--ssh-known-hosts", "known_hosts", "--json"],
      { cwd: d, env },
    );
    expect(strict.code, strict.stderr).toBe(3);
    const summary = JSON.stringify(JSON.parse(strict.stdout));
    expect(summary).toMatch(/web09: no host key for \[127\.0\.0\.1\]:\d+ is known/);
    expect(unknown.commands.length).toBe(before);

    const accept = await runCli(
      [
        "run",
        "plan.yaml",
        "-i",
        "inventory.ini",
        "--all",
        "--ssh-known-hosts",
        "known_hosts",
        "--ssh-host-key-checking",
        "accept-new",
        "--json",
      ],
      { cwd: d, env },
    );
    expect(accept.code, accept.stderr).toBe(0);
    expect(readFileSync(join(d, "known_hosts"), "utf8")).toContain(
      `[127.0.0.1]:${unknown.port} ssh-ed25519 `,
    );
  });

  it.each([
    [["--ssh-host-key-checking", "no"], /--ssh-host-key-checking: "no" is not a host key checking mode/],
    [["--ssh-config", "missing.cfg"], /missing\.cfg: --ssh-config: the ssh config file does not exist/],
  ])("refuses %j before anything runs (exit 2)", async (flags, message) => {
    const d = sandbox(`flags-${randomBytes(3).toString("hex")}`, [host("web01", known)]);
    const r = await runCli(["run", "plan.yaml", "-i", "inventory.ini", "--all", ...flags], { cwd: d, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it("refuses unreadable SSH settings in the inventory before the run exists (exit 2)", async () => {
    const d = sandbox("badargs", [
      `${host("web01", known)} ansible_ssh_common_args="-o ProxyCommand='nc %h %p'"`,
    ]);
    const r = await runCli(["run", "plan.yaml", "-i", "inventory.ini", "--all"], { cwd: d, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'host "web01": ansible_ssh_common_args/extra_args: ProxyCommand is not supported',
    );
  });

  it("resumes from another directory with the run's inventory and key files, or refuses naming them", async () => {
    const d = sandbox("resume", [host("web01", known)]);
    const flag = join(d, "go");
    // A relative key file and a relative -i: both are read from the run's directory.
    copyFileSync(keyFile, join(d, "id_rel"));
    chmodSync(join(d, "id_rel"), 0o600);
    writeFileSync(
      join(d, "inventory.ini"),
      readFileSync(join(d, "inventory.ini"), "utf8").replace(keyFile, "id_rel"),
    );
    writeFileSync(
      join(d, "plan.yaml"),
      readFileSync(join(d, "plan.yaml"), "utf8").replace("run: '", `run: 'test -f ${flag} || exit 1; `),
    );
    const first = await runCli(
      ["run", "plan.yaml", "-i", "inventory.ini", "--all", "--ssh-known-hosts", "known_hosts", "--json"],
      { cwd: d, env },
    );
    expect(first.code, first.stderr).toBe(3);
    const runId = JSON.parse(first.stdout).run.id as string;
    writeFileSync(flag, "");
    const retry = await runCli(["retry", "web01", "--json"], { cwd: d, env });
    expect(retry.code, retry.stderr).toBe(0);

    // Another directory, the inventory moved away: refused before anything runs, with the path.
    const elsewhere = join(dir, "resume-elsewhere");
    mkdirSync(elsewhere);
    renameSync(join(d, "inventory.ini"), join(d, "moved.ini"));
    const db = ["--db", join(d, ".overhaul", "overhaul.db")];
    const kh = ["--ssh-known-hosts", join(d, "known_hosts")];
    const refused = await runCli(["resume", runId, ...db, ...kh], { cwd: elsewhere, env });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain(join(d, "inventory.ini"));
    expect(refused.stderr).toContain("ansible_become_password");
    expect(refused.stderr).toContain(`overhaul resume ${runId} -i INVENTORY`);
    expect(refused.stderr + refused.stdout).not.toContain(SECRET);

    // Told where it is now, resume uses its password (and the key file named relative at `run`).
    const resumed = await runCli(["resume", runId, ...db, ...kh, "-i", join(d, "moved.ini"), "--json"], {
      cwd: elsewhere,
      env,
    });
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
    expect(readFileSync(join(work, "resume.log"), "utf8")).toBe("web01 became=1\n");
    renameSync(join(d, "moved.ini"), join(d, "inventory.ini")); // the one file with the password
    expect(everything(d)).not.toContain(SECRET);
  });
});
