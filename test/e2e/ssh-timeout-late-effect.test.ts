/**
 * A step that times out over real OpenSSH (test/support/sshd-fleet.ts), through the built CLI
 * (`npx tsc -p tsconfig.build.json` first): the engine resolves the unknown outcome at once (here
 * by reverting), so the timed-out command must be dead on the host by then — otherwise its effect
 * lands after the revert and the host ends in the state the revert undid.
 *
 * The fleet logs in as the user running the tests; as root (CI containers), OpenSSH refuses the
 * SSH "signal" requests outright ("session signalling requires privilege separation"), and with
 * `become` the command runs as another user in a session of its own (sudo with `use_pty`), where
 * the login user's signals do not reach either. Only the host's own `timeout` stops it.
 *
 * Without sshd the suite is skipped with the reason, except under CI=true, where it fails.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { type SshdFleet, sshdAvailability } from "../support/sshd-fleet.js";
import { useSshdFleet } from "../support/sshd-suite.js";

const avail = sshdAvailability();
const inCi = process.env.CI === "true";

/** Sets mode=new after 4 s; its timeout is 2 s; its revert sets mode=old. */
const PLAN = (become: boolean) => `name: late
hosts: fleet
failureBudget: { maxFailed: 10 }
steps:
  - name: switch
    kind: command
    run: sleep 4; echo new > "$STATE_DIR/mode"; echo "effect landed" >> "$STATE_DIR/history"
    revert: echo old > "$STATE_DIR/mode"; echo "reverted" >> "$STATE_DIR/history"
    idempotent: true
    timeout: 2s
${become ? "    become: true\n" : ""}`;

/**
 * A stand-in for sudo (the test machine may have none; the tests may run as root): takes sudo's
 * flags, then, like sudo with `use_pty`, runs the command in a session of its own and waits for it.
 */
const FAKE_SUDO = `#!/bin/sh
while [ $# -gt 0 ]; do case "$1" in --) shift; break ;; -u|-p) shift 2 ;; *) shift ;; esac; done
exec setsid -w "$@"
`;

describe.skipIf(!avail.ok && !inCi)(
  `a timed-out step over real OpenSSH (${avail.ok ? avail.version : avail.reason})`,
  () => {
    let fleet: SshdFleet;
    let work: string;

    useSshdFleet(
      { hosts: 2, bootSeconds: 1, firstAddress: "127.0.0.61", prefix: "q" },
      "overhaul-ssh-timeout-",
      (f, w) => {
        fleet = f;
        work = w;
      },
    );

    async function runLate(name: string, become: boolean) {
      const cwd = mkdtempSync(join(work, `${name}-`));
      writeFileSync(join(cwd, "plan.yaml"), PLAN(become));
      const hostVars: Record<string, Record<string, string>> = {};
      if (become) {
        const sudo = join(cwd, "fake-sudo");
        writeFileSync(sudo, FAKE_SUDO, { mode: 0o755 });
        hostVars[name] = { ansible_become_exe: sudo };
      }
      const inv = fleet.writeInventory(join(cwd, "inventory.ini"), { hosts: [name], hostVars });
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
      // Past the moment the command would have landed its effect (4 s after it started).
      await new Promise((res) => setTimeout(res, 4_000));
      const dir = fleet.host(name).stateDir;
      return {
        r,
        history: readFileSync(join(dir, "history"), "utf8").trim().split("\n"),
        mode: readFileSync(join(dir, "mode"), "utf8").trim(),
      };
    }

    it("the host stops the command at its timeout: the revert is the last word", async () => {
      const { r, history, mode } = await runLate("q01", false);
      expect(history).toEqual(["reverted"]);
      expect(mode).toBe("old");
      expect(r.stderr).toMatch(/timed out after 2s and the host stopped it \(exit status 124\)/);
      expect(r.stderr).toContain("(rolled back)");
    }, 60_000);

    it("the same with become: the timeout is enforced inside the become program", async () => {
      const { r, history, mode } = await runLate("q02", true);
      expect(history).toEqual(["reverted"]);
      expect(mode).toBe("old");
      expect(r.stderr).toMatch(/timed out after 2s and the host stopped it \(exit status 124\)/);
    }, 60_000);
  },
);
