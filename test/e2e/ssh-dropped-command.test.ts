/**
 * A connection that drops while a step's command runs, over real OpenSSH (test/support/sshd-fleet.ts),
 * through the built CLI (`npx tsc -p tsconfig.build.json` first). The command keeps running on the
 * host; its outcome is unknown to the engine. Before checking or re-running it, the engine must
 * wait until the host says the command has ended (the attempt marker, command.ts), or the check
 * says "not done" while the effect is still on its way, and the retry runs it a second time.
 *
 * The connection goes through a TCP relay on loopback that the test cuts once the command has
 * started; new connections (the engine's questions, the check) go through again.
 *
 * Without sshd the suite is skipped with the reason, except under CI=true, where it fails.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startCli } from "../support/cli.js";
import { type SshdFleet, sshdAvailability } from "../support/sshd-fleet.js";
import { useSshdFleet } from "../support/sshd-suite.js";

const avail = sshdAvailability();
const inCi = process.env.CI === "true";

/** Not idempotent; its check tells whether it landed; one retry. */
const PLAN = `name: dropped
hosts: fleet
failureBudget: { maxFailed: 10 }
steps:
  - name: append
    kind: command
    run: echo started >> "$STATE_DIR/started"; sleep 3; echo landed >> "$STATE_DIR/history"
    check: grep -q landed "$STATE_DIR/history"
    timeout: 30s
    retry: { attempts: 2, backoff: { initial: 1s } }
`;

/** A TCP relay to `target`; `cut()` drops every connection open now, later ones go through. */
async function relay(target: { address: string; port: number }) {
  const open = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = tcpConnect(target.port, target.address);
    open.add(inbound);
    open.add(outbound);
    inbound.pipe(outbound).pipe(inbound);
    const end = () => {
      inbound.destroy();
      outbound.destroy();
      open.delete(inbound);
      open.delete(outbound);
    };
    inbound.on("error", end).on("close", end);
    outbound.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    cut() {
      for (const s of open) s.destroy();
      open.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe.skipIf(!avail.ok && !inCi)(
  `a connection dropped while the command runs, over real OpenSSH (${avail.ok ? avail.version : avail.reason})`,
  () => {
    let fleet: SshdFleet;
    let work: string;

    useSshdFleet(
      { hosts: 1, bootSeconds: 1, firstAddress: "127.0.0.71", prefix: "dr" },
      "overhaul-ssh-dropped-",
      (f, w) => {
        fleet = f;
        work = w;
      },
    );

    it("the engine waits for the command to end, then its check finds it done: it ran once", async () => {
      const h = fleet.host("dr01");
      const r = await relay(h);
      try {
        const cwd = mkdtempSync(join(work, "run-"));
        writeFileSync(join(cwd, "plan.yaml"), PLAN);
        // The host is reached through the relay; its key is known under the relay's address.
        const knownHosts = join(cwd, "known_hosts");
        writeFileSync(
          knownHosts,
          fleet.knownHostsLine({ ...h, address: "127.0.0.1", port: r.port }) + fleet.knownHostsLine(h),
        );
        const inv = fleet.writeInventory(join(cwd, "inventory.ini"), {
          hosts: ["dr01"],
          hostVars: { dr01: { ansible_host: "127.0.0.1", ansible_port: r.port } },
        });
        const started = join(h.stateDir, "started");
        const run = startCli(
          [
            "run",
            "plan.yaml",
            "-i",
            inv,
            "--all",
            "--ssh-known-hosts",
            knownHosts,
            "--ssh-config",
            fleet.sshConfig,
          ],
          { cwd, env: { SSH_AUTH_SOCK: "" } },
        );
        // Once the command runs on the host, drop its connection.
        const deadline = Date.now() + 20_000;
        while (!existsSync(started) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
        expect(existsSync(started)).toBe(true);
        r.cut();
        const res = await run.done;
        expect(res.code, res.stderr).toBe(0);
        // Landed once: the check ran after the command had ended, and found it done.
        expect(readFileSync(join(h.stateDir, "history"), "utf8")).toBe("landed\n");
        expect(readFileSync(started, "utf8")).toBe("started\n");
        // What the operator saw: the wait, then the check's verdict.
        expect(res.stderr).toMatch(/attempt 1: its command still runs on the host; waiting for it to end/);
        expect(res.stderr).toMatch(/step append confirmed done by check/);
      } finally {
        await r.close();
      }
    }, 90_000);
  },
);
