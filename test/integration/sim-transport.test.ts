/**
 * The real engine against simulated hosts: a rolling reboot with each failure kind injected from a
 * scenario, and the engine's reaction. Virtual time; each test runs in well under 2 s.
 */
import { describe, expect, it } from "vitest";
import { simulate } from "./sim-support.js";

const boot = "boot: { min: 2m, max: 5m }\n";
const reboots = (ledger: { host: string; command: string }[], host: string) =>
  ledger.filter((e) => e.host === host && e.command === "systemctl reboot").length;

describe("simulated rolling reboot", () => {
  it("with no failures every host reboots once and comes back healthy", async () => {
    const t = await simulate(`seed: 3\n${boot}`);
    expect(t.res.run.state).toBe("succeeded");
    for (const h of t.hosts) {
      expect(reboots(t.world.ledger, h.name)).toBe(1);
      expect(t.world.stateOf(h.name)?.boots).toBe(1);
    }
  });

  it("never-returns: 3 reboot attempts, then the host fails; the others succeed", async () => {
    const t = await simulate(`seed: 3\n${boot}failures: [{ kind: never-returns, host: r01-h002 }]\n`);
    expect(t.states).toEqual({
      "r01-h001": "succeeded",
      "r01-h002": "failed",
      "r01-h003": "succeeded",
      "r01-h004": "succeeded",
    });
    // The first reboot really went through; later attempts cannot even read the boot id.
    expect(t.world.ledger.filter((e) => e.host === "r01-h002" && e.command === "@dead")).toHaveLength(1);
    expect(t.rows.find((r) => r.host === "r01-h002")?.attempts).toBe(3);
  });
});

describe("failure kinds", () => {
  it("unhealthy: the host comes back but wait-healthy fails, so the host fails", async () => {
    const t = await simulate(`seed: 3\n${boot}failures: [{ kind: unhealthy, host: r01-h003 }]\n`);
    expect(t.states["r01-h003"]).toBe("failed");
    expect(t.states["r01-h001"]).toBe("succeeded");
    expect(reboots(t.world.ledger, "r01-h003")).toBe(1);
    expect(t.world.ledger.some((e) => e.host === "r01-h003" && e.outcome === "exit 1")).toBe(true);
  });

  it("disk-dies (deterministic, no probability): the host never returns", async () => {
    const t = await simulate(`seed: 3\n${boot}failures: [{ kind: disk-dies, host: r01-h001 }]\n`);
    expect(t.states["r01-h001"]).toBe("failed");
    expect(t.world.stateOf("r01-h001")?.state).toBe("dead");
    expect(t.states["r01-h004"]).toBe("succeeded");
  });

  it("disk-dies with probability 1 kills every host on the rack, none elsewhere", async () => {
    const t = await simulate(
      `seed: 3\n${boot}failures: [{ kind: disk-dies, rack: r01-k02, probability: 1 }]\n`,
    );
    expect(t.states).toEqual({
      "r01-h001": "succeeded",
      "r01-h002": "failed",
      "r01-h003": "succeeded",
      "r01-h004": "failed",
    });
  });

  it("clock-skew: the host comes back with its clock off, visible through a verify command", async () => {
    const plan = `
name: skew
hosts: all
steps:
  - { name: reboot, kind: reboot, timeout: 10m }
  - { name: clock, kind: command, run: "date +%s" }
failureBudget: { maxFailedPercent: 100 }
`;
    const t = await simulate(
      `seed: 3\n${boot}failures: [{ kind: clock-skew, host: r01-h002, seconds: 300 }]\n`,
      undefined,
      plan,
    );
    expect(t.res.run.state).toBe("succeeded");
    const dates = t.world.ledger.filter((e) => e.command === "date +%s");
    expect(dates).toHaveLength(4);
    const ask = async (name: string) => {
      const host = t.hosts.find((h) => h.name === name)!;
      const r = await t.transport.exec(host, { command: "date +%s", timeoutMs: 5_000 });
      return Number(r.stdout) - Math.floor(t.clock.now() / 1000);
    };
    expect(await ask("r01-h002")).toBe(300);
    expect(await ask("r01-h001")).toBe(0);
  });

  it("power-trip: too many hosts POSTing on one circuit takes every host on it down", async () => {
    // Racks k01 and k02 share circuit r01-p01; 4 hosts reboot at once.
    const trip = (max: number) =>
      `seed: 3\n${boot}failures: [{ kind: power-trip, power: r01-p01, maxPosting: ${max}, downFor: 10m }]\n`;
    const t = await simulate(trip(1));
    const l = t.world.ledger;
    expect(l.filter((e) => e.command === "@power-trip").length).toBeGreaterThanOrEqual(1);
    const tripped = (e: { command: string; outcome: string }) =>
      e.command === "@down" && e.outcome === "power trip";
    expect(new Set(l.filter(tripped).map((d) => d.host)).size).toBe(4);
    // A host went down with the circuit before its own reboot was even sent.
    const firstReboot = (h: string) => l.findIndex((e) => e.host === h && e.command === "systemctl reboot");
    expect(
      t.hosts.some((h) => l.findIndex((e) => e.host === h.name && tripped(e)) < firstReboot(h.name)),
    ).toBe(true);
    // Down 10 minutes plus a boot outlasts the 10-minute reboot timeout, and every retry POSTs into
    // the same circuit again: the engine fails the hosts after 3 attempts.
    expect(Object.values(t.states)).toEqual(["failed", "failed", "failed", "failed"]);
    // With room for all four hosts to POST at once, nothing trips.
    const ok = await simulate(trip(4));
    expect(ok.world.ledger.some((e) => e.command === "@power-trip")).toBe(false);
    expect(ok.res.run.state).toBe("succeeded");
  });

  it("partition: the rack is unreachable between t1 and t2, hosts retry and succeed after it ends", async () => {
    const t = await simulate(
      `seed: 3\n${boot}failures: [{ kind: partition, rack: r01-k01, from: 0s, until: 30s }]\n`,
    );
    const unreachable = t.world.ledger.filter((e) => e.outcome.startsWith("unreachable (partitioned)"));
    expect(unreachable.length).toBeGreaterThan(0);
    expect(unreachable.every((e) => ["r01-h001", "r01-h003"].includes(e.host))).toBe(true);
    expect(t.res.run.state).toBe("succeeded");
    expect(
      t.world.ledger.filter((e) => e.command === "systemctl reboot" && e.host === "r01-h001"),
    ).toHaveLength(1);
  });
});

describe("determinism", () => {
  it("the same seed gives the identical ledger twice", async () => {
    const scenario = `seed: 9\n${boot}failures: [{ kind: never-returns, host: r01-h002 }, { kind: disk-dies, rack: r01-k01, probability: 0.3 }]\n`;
    const a = await simulate(scenario, "regions=2,hosts=4,racks=2,seed=5");
    const b = await simulate(scenario, "regions=2,hosts=4,racks=2,seed=5");
    expect(b.world.ledger).toEqual(a.world.ledger);
    expect(a.world.ledger.length).toBeGreaterThan(20);
  });
});
