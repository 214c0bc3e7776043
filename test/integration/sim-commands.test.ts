/**
 * `SimTransport` command by command (no engine): the plain commands, unknown commands, latency on
 * the virtual clock, and a partition dropping an in-flight command.
 */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../src/adapters/clock/virtual-clock.js";
import { SimTransport } from "../../src/adapters/simulator/sim-transport.js";
import { TransportError } from "../../src/core/errors.js";
import { generateFleet, parseFleetSpec } from "../../src/core/sim/fleet-gen.js";
import { parseScenarioText } from "../../src/core/sim/scenario.js";

function setup(scenario = "seed: 1\n") {
  const clock = new VirtualClock();
  const hosts = generateFleet(parseFleetSpec("regions=1,hosts=2,racks=2,seed=1"));
  const t = new SimTransport(clock, hosts, parseScenarioText(scenario, "s.yaml"));
  const run = (i: number, command: string) => t.exec(hosts[i]!, { command, timeoutMs: 60_000 });
  return { clock, hosts, t, run };
}

describe("SimTransport commands", () => {
  it("answers true/false/echo/version and exits 127 for anything else", async () => {
    const { run, t } = setup();
    expect((await run(0, "true")).exitCode).toBe(0);
    expect((await run(0, "false")).exitCode).toBe(1);
    expect((await run(0, "echo hi there")).stdout).toBe("hi there\n");
    expect((await run(0, "version get")).exitCode).toBe(1);
    expect((await run(0, "version set 2.1")).exitCode).toBe(0);
    expect((await run(0, "version get")).stdout).toBe("2.1\n");
    expect((await run(1, "version get")).exitCode).toBe(1);
    const unknown = await run(0, "rm -rf /");
    expect(unknown.exitCode).toBe(127);
    expect(unknown.stderr).toContain("command not found");
    expect(t.ledger.map((e) => e.outcome)).toEqual([
      "exit 0",
      "exit 1",
      "exit 0",
      "exit 1",
      "exit 0",
      "exit 0",
      "exit 1",
      "exit 127",
    ]);
  });

  it("every command takes virtual time; sleep N takes N seconds more", async () => {
    const { run, clock } = setup();
    const t0 = clock.now();
    await run(0, "true");
    const lat = clock.now() - t0;
    expect(lat).toBeGreaterThanOrEqual(20);
    expect(lat).toBeLessThan(200);
    await run(0, "sleep 30");
    expect(clock.now() - t0).toBeGreaterThanOrEqual(30_000 + lat);
  });

  it("a reboot takes the host down at once; it answers again with a new boot id after the boot", async () => {
    const { run, clock } = setup("seed: 1\nboot: { min: 2m, max: 2m }\n");
    const before = (await run(0, "cat /proc/sys/kernel/random/boot_id")).stdout;
    await run(0, "systemctl reboot");
    await expect(run(0, "true")).rejects.toMatchObject({ kind: "unreachable" });
    await clock.sleep(130_000);
    expect((await run(0, "cat /proc/sys/kernel/random/boot_id")).stdout).not.toBe(before);
  });

  it("kexec: true boots in the fast path (10 to 30 s) instead of minutes", async () => {
    const { run, clock } = setup("seed: 1\nboot: { min: 10m, max: 15m, kexec: true }\n");
    await run(0, "systemctl reboot");
    await clock.sleep(30_000);
    expect((await run(0, "true")).exitCode).toBe(0);
  });

  it("a partition starting while a command runs drops it; after the partition the host answers", async () => {
    const { run } = setup("seed: 1\nfailures: [{ kind: partition, rack: r01-k01, from: 10s, until: 20s }]\n");
    const err = await run(0, "sleep 15").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).kind).toBe("dropped");
    await expect(run(0, "true")).rejects.toMatchObject({ kind: "unreachable" });
    expect((await run(1, "sleep 10")).exitCode).toBe(0);
    expect((await run(0, "true")).exitCode).toBe(0);
  });
});
