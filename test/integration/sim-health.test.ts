/**
 * The simulated `Health` port: healthy, unhealthy after an `unhealthy` failure, clock skew beyond the
 * host's allowance, unreachable hosts, the deadline and abort; every check is in the ledger.
 */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../src/adapters/clock/virtual-clock.js";
import { CONNECT_TIMEOUT_MS } from "../../src/adapters/simulator/sim-host.js";
import { SimWorld } from "../../src/adapters/simulator/world.js";
import { TransportError } from "../../src/core/errors.js";
import type { Host } from "../../src/core/model/fleet.js";
import { generateFleet, parseFleetSpec } from "../../src/core/sim/fleet-gen.js";
import { parseScenarioText } from "../../src/core/sim/scenario.js";

function setup(failures = "[]", vars: Record<string, unknown> = {}) {
  const clock = new VirtualClock();
  const { hosts, workloads } = generateFleet(parseFleetSpec("regions=1,hosts=3,racks=3,workloads=2,seed=1"));
  for (const h of hosts) Object.assign(h.vars, vars);
  const scenario = parseScenarioText(
    `seed: 1\nboot: { min: 2m, max: 2m }\nfailures: ${failures}\n`,
    "s.yaml",
  );
  const world = new SimWorld(clock, hosts, workloads, scenario);
  const host = (name: string) => hosts.find((h) => h.name === name) as Host;
  const check = (name: string, deadlineMs = 60_000, signal = new AbortController().signal) =>
    world.health().check(host(name), { signal, deadline: clock.now() + deadlineMs });
  const rebootAll = async () => {
    for (const h of hosts) await world.transport().exec(h, { command: "systemctl reboot", timeoutMs: 5_000 });
    await clock.sleep(130_000);
  };
  return { clock, world, host, check, rebootAll };
}

describe("SimHealth", () => {
  it("a host that is up and well is healthy; the check takes virtual time and is recorded", async () => {
    const t = setup();
    const t0 = t.clock.now();
    expect(await t.check("r01-h001")).toEqual({ healthy: true, detail: "running, clock within 2 s" });
    expect(t.clock.now() - t0).toBeGreaterThanOrEqual(20);
    expect(t.world.ledger.at(-1)).toMatchObject({ host: "r01-h001", command: "@health", outcome: "healthy" });
  });

  it("unhealthy and clock-skew failures show after the next boot, with the reason", async () => {
    const t = setup(
      "[{ kind: unhealthy, host: r01-h001 }, { kind: clock-skew, host: r01-h002, seconds: -30 }, { kind: clock-skew, host: r01-h003, seconds: 2 }]",
    );
    expect((await t.check("r01-h001")).healthy).toBe(true);
    await t.rebootAll();
    expect(await t.check("r01-h001")).toEqual({
      healthy: false,
      detail: "system degraded since its last boot",
    });
    expect(await t.check("r01-h002")).toEqual({
      healthy: false,
      detail: "clock off by -30 s (at most 2 s allowed)",
    });
    // Exactly at the allowance is still fine.
    expect((await t.check("r01-h003")).healthy).toBe(true);
    expect(t.world.ledger.filter((e) => e.command === "@health").map((e) => e.outcome)).toEqual([
      "healthy",
      "unhealthy: system degraded since its last boot",
      "unhealthy: clock off by -30 s (at most 2 s allowed)",
      "healthy",
    ]);
  });

  it("overhaul_max_clock_skew_seconds raises the allowance", async () => {
    const t = setup("[{ kind: clock-skew, host: r01-h002, seconds: 45 }]", {
      overhaul_max_clock_skew_seconds: 60,
    });
    await t.rebootAll();
    expect(await t.check("r01-h002")).toEqual({ healthy: true, detail: "running, clock within 60 s" });
  });

  it("a booting, dead, partitioned or unknown host cannot be asked: TransportError(unreachable)", async () => {
    const t = setup(
      "[{ kind: never-returns, host: r01-h003 }, { kind: partition, host: r01-h002, from: 0s, until: 1h }]",
    );
    await t.world.transport().exec(t.host("r01-h001"), { command: "systemctl reboot", timeoutMs: 5_000 });
    await t.world.transport().exec(t.host("r01-h003"), { command: "systemctl reboot", timeoutMs: 5_000 });
    for (const [name, why] of [
      ["r01-h001", "booting"],
      ["r01-h002", "partitioned"],
      ["r01-h003", "dead"],
    ] as const) {
      const err = await t.check(name).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransportError);
      expect(err).toMatchObject({ kind: "unreachable", message: expect.stringContaining(why) });
    }
    await expect(
      t.world
        .health()
        .check(
          { ...t.host("r01-h001"), name: "nope" },
          { signal: new AbortController().signal, deadline: 1e15 },
        ),
    ).rejects.toMatchObject({ kind: "unreachable" });
    // A host that does not answer is given up on at the connect timeout, or at the deadline if sooner.
    let t0 = t.clock.now();
    await expect(t.check("r01-h002")).rejects.toMatchObject({ kind: "unreachable" });
    expect(t.clock.now() - t0).toBe(CONNECT_TIMEOUT_MS);
    t0 = t.clock.now();
    const signal = new AbortController().signal;
    await expect(
      t.world.health().check(t.host("r01-h002"), { signal, deadline: t0 + 4_000 }),
    ).rejects.toMatchObject({ kind: "unreachable" });
    expect(t.clock.now() - t0).toBe(4_000);
    await t.clock.sleep(130_000);
    expect((await t.check("r01-h001")).healthy).toBe(true);
  });

  it("an answer past the deadline is a timeout; abort rejects with the signal's reason", async () => {
    const t = setup();
    await expect(t.check("r01-h001", 5)).rejects.toMatchObject({ kind: "timeout" });
    const ac = new AbortController();
    const stop = new Error("stop");
    const p = t.check("r01-h001", 60_000, ac.signal);
    ac.abort(stop);
    await expect(p).rejects.toBe(stop);
  });
});
