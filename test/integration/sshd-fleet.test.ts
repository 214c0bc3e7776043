/**
 * The real-sshd test fleet itself (test/support/sshd-fleet.ts), on three hosts: every host answers
 * with its own host key and state, a reboot drops the host and brings it back with a new boot id,
 * a never-returns host stays down, a changed host key is refused by OpenSSH's own client, and
 * `close()` leaves no process and no directory behind.
 *
 * Without sshd the suite is skipped with the reason, except under CI=true, where it fails.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alive, SshdFleet, sshdAvailability } from "../support/sshd-fleet.js";

const avail = sshdAvailability();
const inCi = process.env.CI === "true";

describe.skipIf(!avail.ok && !inCi)(`sshd test fleet (${avail.ok ? avail.version : avail.reason})`, () => {
  let fleet: SshdFleet;

  beforeAll(async () => {
    if (!avail.ok) throw new Error(`${avail.reason}; CI=true requires it`);
    fleet = await SshdFleet.start({ hosts: 3, firstAddress: "127.0.0.41", bootSeconds: 1, prefix: "t" });
  });

  afterAll(async () => {
    await fleet?.close();
  });

  it("each host answers as itself, with its own key and state", async () => {
    const states = await Promise.all(fleet.hosts.map((h) => fleet.readState(h.name)));
    expect(states.map((s) => s.version)).toEqual(["1.0", "1.0", "1.0"]);
    expect(new Set(states.map((s) => s.bootId)).size).toBe(3);
    const keys = fleet.hosts.map((h) => readFileSync(`${h.hostKey}.pub`, "utf8").split(" ")[1]);
    expect(new Set(keys).size).toBe(3);
    const inv = readFileSync(fleet.inventory, "utf8");
    expect(inv).toContain(`t01 ansible_host=127.0.0.41 ansible_port=${fleet.port}`);
    expect(inv).toContain(`overhaul_reboot_command=${fleet.host("t01").stateDir}/reboot`);
  });

  it("a reboot drops the host and brings it back with a new boot id", async () => {
    const before = (await fleet.readState("t01")).bootId;
    const t0 = Date.now();
    const r = await fleet.ssh("t01", '"$STATE_DIR/reboot"');
    expect(r.code, r.stderr).toBe(0);
    // down within a second, back after the boot time
    const down = Date.now() + 5_000;
    while (fleet.isUp("t01") && Date.now() < down) await new Promise((res) => setTimeout(res, 50));
    expect(fleet.isUp("t01")).toBe(false);
    await fleet.waitUp("t01", 10_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_000);
    const after = (await fleet.readState("t01")).bootId;
    expect(after).not.toBe(before);
  });

  it("a never-returns host stays down", async () => {
    fleet.setNeverReturns("t02");
    expect((await fleet.ssh("t02", '"$STATE_DIR/reboot"')).code).toBe(0);
    await new Promise((res) => setTimeout(res, 2_500));
    expect(fleet.isUp("t02")).toBe(false);
    const r = await fleet.ssh("t02", "true", { timeoutMs: 10_000 });
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/Connection refused/);
    fleet.setNeverReturns("t02", false);
    await fleet.startHost("t02");
    expect((await fleet.ssh("t02", "true")).code).toBe(0);
  });

  it("a changed host key is refused by OpenSSH", async () => {
    await fleet.changeHostKey("t03");
    const r = await fleet.ssh("t03", 'touch "$STATE_DIR/touched"');
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    expect(fleet.readLocal("t03", "touched")).toBeUndefined();
  });

  it("close() stops every sshd and session and removes the directory", async () => {
    // a command left running in a session, as a client that gave up would leave it
    const h = fleet.host("t01");
    void fleet.ssh("t01", "sleep 300", { timeoutMs: 1_000 }).catch(() => {});
    await new Promise((res) => setTimeout(res, 500));
    const pids = fleet.hosts.map((x) => readFileSync(x.pidFile, "utf8").trim()).filter((p) => p !== "");
    await fleet.close();
    for (const p of pids) expect(alive(Number(p)), `sshd ${p}`).toBe(false);
    expect(existsSync(fleet.dir)).toBe(false);
    const left: string[] = [];
    for (const e of readdirSync("/proc")) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const env = readFileSync(`/proc/${e}/environ`, "latin1");
        if (env.includes(`OVERHAUL_FLEET_HOST=${fleet.id}/`) && alive(Number(e))) left.push(e);
      } catch {
        // gone
      }
    }
    expect(left, `processes of ${h.name}'s fleet left`).toEqual([]);
  });
});
