/**
 * How a command reaches a host and how its end is judged, over real OpenSSH
 * (test/support/sshd-fleet.ts; decision 0013): the exec request carries a fixed bootstrap and the
 * script (variables, command) goes on stdin.
 *
 * - Nothing of a host's variables is in any process's command line on the host while the command
 *   runs, though a become program (like sudo) keeps its own argv for the whole command.
 * - A command as large as one argument may be runs; a larger one is refused before anything is
 *   sent; neither disturbs another host's command on the same connection (sshd dropped the whole
 *   connection when one exec request outgrew its packet limit).
 * - A wrong become password fails `auth` at once, nothing ran, instead of waiting for the step's
 *   timeout and parking the host in doubt (through the CLI).
 * - A become command's own stderr that reads like sudo's is its own: the step failed and is
 *   retried and reverted, not `auth` (through the CLI).
 * - A BusyBox host: the bootstrap, the marker and the probe in BusyBox's sh with BusyBox's applets.
 *
 * sudo is not needed: a stand-in takes sudo's flags and behaves as sudo does where it matters
 * (prompts with `-p` on stderr, "Sorry, try again." and a new prompt after a wrong password, stays
 * the parent of the command with its argv). Without sshd (or busybox, for its test) a test is
 * skipped with the reason, except under CI=true, where it fails.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MAX_COMMAND_BYTES } from "../../src/adapters/transport-ssh/command.js";
import { createSshTransport, type SshTransport } from "../../src/adapters/transport-ssh/index.js";
import { TransportError } from "../../src/core/errors.js";
import type { Host } from "../../src/core/model/fleet.js";
import { BUSYBOX, busyboxBin } from "../support/busybox.js";
import { runCli } from "../support/cli.js";
import { sshHost } from "../support/records.js";
import { type SshdFleet, sshdAvailability } from "../support/sshd-fleet.js";
import { useSshdFleet } from "../support/sshd-suite.js";

const avail = sshdAvailability();
const inCi = process.env.CI === "true";
const BECOME_PASSWORD = "Ops pass'1";
const DB_PASSWORD = `db-S3cret-${process.pid}`;
const PLAIN = `plain-value-${process.pid}`;

/** A stand-in for sudo (see the header); the password it wants is in `<itself>.pw` (none: NOPASSWD). */
const FAKE_SUDO = `#!/bin/sh
n=; P=Password:
while [ $# -gt 0 ]; do case "$1" in -n) n=1; shift ;; -S|-k) shift ;; -p) P=$2; shift 2 ;; -u) shift 2 ;; --) shift; break ;; *) break ;; esac; done
want=$(cat "$0.pw" 2>/dev/null)
if [ -n "$want" ]; then
  [ -n "$n" ] && { echo 'sudo: a password is required' >&2; exit 1; }
  i=0
  while :; do
    printf '%s' "$P" >&2
    IFS= read -r got || { echo >&2; echo 'sudo: no password was provided' >&2; exit 1; }
    [ "$got" = "$want" ] && break
    i=$((i + 1)); [ $i -ge 3 ] && { echo "sudo: $i incorrect password attempts" >&2; exit 1; }
    echo 'Sorry, try again.' >&2
  done
fi
"$@"
`;

/** Every process's command line (NUL-separated arguments joined by spaces). */
function commandLines(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0").join(" "));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Environments (NUL-separated) of every process that has `needle` in its environment. */
function environmentsWith(needle: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, "latin1");
      if (env.includes(needle)) out.push(env);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function rejection(p: Promise<unknown>): Promise<TransportError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TransportError) return e;
    throw e;
  }
  throw new Error("expected a rejection");
}

describe.skipIf(!avail.ok && !inCi)(
  `a command's channel over real OpenSSH (${avail.ok ? avail.version : avail.reason})`,
  () => {
    let fleet: SshdFleet;
    let work: string;
    let sudo: string;
    const opened: SshTransport[] = [];

    useSshdFleet(
      { hosts: 3, bootSeconds: 1, firstAddress: "127.0.0.81", prefix: "cc" },
      "overhaul-ssh-cmd-",
      (f, w) => {
        fleet = f;
        work = w;
        sudo = join(w, "fake-sudo");
        writeFileSync(sudo, FAKE_SUDO, { mode: 0o755 });
      },
    );
    afterAll(async () => {
      await Promise.all(opened.map((t) => t.close()));
    });

    const transport = () => {
      const t = createSshTransport({ knownHostsFile: fleet.knownHosts, sshConfigFile: null, agent: null });
      opened.push(t);
      return t;
    };
    const host = (name: string, vars: Record<string, unknown> = {}, as = name): Host => {
      const h = fleet.host(name);
      return sshHost(
        { ansible_ssh_private_key_file: fleet.clientKey, ...vars },
        { name: as, address: h.address, port: h.port, user: fleet.user },
      );
    };

    it("no host variable is in any process's command line while a become command runs; the command has them", async () => {
      writeFileSync(`${sudo}.pw`, `${BECOME_PASSWORD}\n`);
      const h = host("cc01", {
        ansible_become_exe: sudo,
        ansible_become_password: BECOME_PASSWORD,
        db_password: DB_PASSWORD,
        plain: PLAIN,
      });
      const running = transport().exec(h, {
        command: `echo started > "$STATE_DIR/ps-started"; sleep 2; echo "$OVERHAUL_VAR_db_password" | wc -c`,
        timeoutMs: 20_000,
        become: true,
      });
      const started = join(fleet.host("cc01").stateDir, "ps-started");
      await expect.poll(() => existsSync(started), { timeout: 5_000 }).toBe(true);
      const lines = commandLines();
      // The stand-in sudo is there, with the exec request's arguments, as real sudo would be...
      expect(lines.some((l) => l.startsWith(`/bin/sh ${sudo} -S -k -p`))).toBe(true);
      // ...and no command line carries a variable's value, secret or not.
      expect(lines.filter((l) => l.includes(DB_PASSWORD) || l.includes(PLAIN))).toEqual([]);
      // The command's environment has it (readable by its own user only).
      expect(environmentsWith(`OVERHAUL_VAR_db_password=${DB_PASSWORD}`).length).toBeGreaterThan(0);
      const r = await running;
      expect(r).toMatchObject({ exitCode: 0, stdout: `${DB_PASSWORD.length + 1}\n` });
    }, 30_000);

    it("a command as large as one argument may be runs beside another host's command on the same connection; a larger one is refused before sending", async () => {
      const t = transport();
      const tail = `; echo "\${#x}"`;
      const big = `x=${"a".repeat(MAX_COMMAND_BYTES - 2 - tail.length)}${tail}`;
      // Two inventory hosts at one endpoint share its connection.
      const other = t.exec(host("cc02", {}, "other"), {
        command: "sleep 2; echo other done",
        timeoutMs: 20_000,
      });
      await new Promise((r) => setTimeout(r, 300));
      const r = await t.exec(host("cc02", {}, "big"), { command: big, timeoutMs: 20_000 });
      expect(r).toMatchObject({ exitCode: 0, stdout: `${MAX_COMMAND_BYTES - 2 - tail.length}\n` });
      const err = await rejection(
        t.exec(host("cc02", {}, "bigger"), { command: `${big} `, timeoutMs: 20_000 }),
      );
      expect(err.kind).toBe("unreachable");
      expect(err.message).toMatch(/^bigger: the command is \d+ bytes, more than the 131071 .*; nothing ran$/);
      expect(await other).toMatchObject({ exitCode: 0, stdout: "other done\n" });
      expect(t.stats().connectsTotal).toBe(1);
    }, 30_000);

    /** `overhaul run` of `plan` on `name` with `vars`; how long it took. */
    async function run(name: string, plan: string, vars: Record<string, string>) {
      const cwd = mkdtempSync(join(work, `${name}-`));
      writeFileSync(join(cwd, "plan.yaml"), plan);
      const inv = fleet.writeInventory(join(cwd, "inventory.ini"), {
        hosts: [name],
        hostVars: { [name]: vars },
      });
      const start = performance.now();
      const r = await runCli(
        [
          "run",
          "plan.yaml",
          "-i",
          inv,
          "--all",
          "--ssh-known-hosts",
          fleet.knownHosts,
          "--ssh-config",
          fleet.sshConfig,
        ],
        { cwd, env: { SSH_AUTH_SOCK: "" } },
      );
      return { r, ms: performance.now() - start };
    }

    it("a wrong become password fails the host at once (`auth`, nothing ran), not at the step's timeout in doubt", async () => {
      writeFileSync(`${sudo}.pw`, `${BECOME_PASSWORD}\n`);
      const { r, ms } = await run(
        "cc03",
        `name: wrongpw
hosts: fleet
steps:
  - name: upgrade
    kind: command
    become: true
    run: echo upgraded >> "$STATE_DIR/upgraded"
    timeout: 20s
`,
        { ansible_become_exe: sudo, ansible_become_password: "wrong-pw" },
      );
      expect(r.stderr).toMatch(
        /sudo refused to run the command as root \(become\): sudo did not accept the password \(it said: Sorry, try again\.\); nothing ran/,
      );
      expect(r.stderr).toMatch(/cc03 FAILED/);
      expect(r.stderr).toContain("(1 failed, 0 in doubt; maxFailed 0)");
      expect(ms).toBeLessThan(15_000);
      expect(existsSync(join(fleet.host("cc03").stateDir, "upgraded"))).toBe(false);
    }, 60_000);

    it("a become command that prints `sudo: unknown user` itself and exits 1 failed as a command: retried, then reverted", async () => {
      writeFileSync(`${sudo}.pw`, "");
      const state = fleet.host("cc03").stateDir;
      const { r } = await run(
        "cc03",
        `name: sudofp
hosts: fleet
steps:
  - name: migrate
    kind: command
    become: true
    run: "echo ran >> $STATE_DIR/migrated; echo 'sudo: unknown user: svc' >&2; exit 1"
    revert: "echo reverted >> $STATE_DIR/reverts"
    retry: { attempts: 2, backoff: { initial: 1s } }
`,
        { ansible_become_exe: sudo },
      );
      expect(r.stderr).not.toMatch(/sudo refused/);
      expect(r.stderr).toMatch(
        /attempt 2 failed: step "migrate" failed \(exit code 1\): sudo: unknown user: svc/,
      );
      expect(r.stderr).toContain("(rolled back)");
      expect(readFileSync(join(state, "migrated"), "utf8")).toBe("ran\nran\n");
      expect(readFileSync(join(state, "reverts"), "utf8")).toBe("reverted\n");
    }, 60_000);

    it.skipIf(BUSYBOX === undefined && !inCi)(
      `a BusyBox host: its sh and applets run the bootstrap, the marker and the probe (${BUSYBOX ?? "skipped: no busybox here (Debian package busybox)"})`,
      async () => {
        if (BUSYBOX === undefined)
          throw new Error("busybox is missing; CI=true requires it (.ci/run installs it)");
        const bin = busyboxBin(join(work, "busybox-bin"), ["touch"]);
        // The become program swaps /bin/sh for BusyBox's sh, with only BusyBox's applets on PATH.
        const bbSudo = join(work, "busybox-sudo");
        writeFileSync(
          bbSudo,
          `#!/bin/sh\nwhile [ $# -gt 0 ]; do case "$1" in --) shift; break ;; -u|-p) shift 2 ;; *) shift ;; esac; done\nshift\nexport PATH=${bin}\nexec ${bin}/sh "$@"\n`,
          { mode: 0o755 },
        );
        const t = transport();
        const h = host("cc01", { ansible_become_exe: bbSudo, region: "it's eu" });
        const tag = "bb-e2e.1.run";
        const running = t.exec(h, {
          command: `echo "$OVERHAUL_VAR_region"; touch "$STATE_DIR/bb-started"; sleep 2; cat; echo done`,
          timeoutMs: 20_000,
          become: true,
          tag,
        });
        const started = join(fleet.host("cc01").stateDir, "bb-started");
        await expect.poll(() => existsSync(started), { timeout: 5_000 }).toBe(true);
        expect(await t.running(h, { tag, become: true, timeoutMs: 10_000 })).toBe(true);
        expect(await running).toMatchObject({ exitCode: 0, stdout: "it's eu\ndone\n", stderr: "" });
        expect(await t.running(h, { tag, become: true, timeoutMs: 10_000 })).toBe(false);
        // BusyBox's `timeout` stops a hanging command at the limit.
        const err = await rejection(t.exec(h, { command: "sleep 30", timeoutMs: 1_000, become: true }));
        expect(err.kind).toBe("timeout");
        expect(err.stoppedOnHost).toBe(true);
      },
      60_000,
    );
  },
);
