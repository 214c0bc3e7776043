/** Fleet generator: deterministic from the seed, domains and roles as specified, exact errors. */
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { generateFleet, parseFleetSpec } from "./fleet-gen.js";

describe("fleet generator", () => {
  it("builds regions x hosts with racks, power circuits and holdovers", () => {
    const { hosts, workloads } = generateFleet(
      parseFleetSpec("regions=3,hosts=5,holdovers=0.2,racks=2,seed=7"),
    );
    expect(workloads).toEqual([]);
    expect(hosts).toHaveLength(15);
    expect([...new Set(hosts.map((h) => h.region))]).toEqual(["r01", "r02", "r03"]);
    expect(hosts.filter((h) => h.role === "holdover")).toHaveLength(3);
    expect(new Set(hosts.map((h) => h.failureDomains.rack)).size).toBe(6);
    expect(hosts[0]).toMatchObject({
      name: "r01-h001",
      connection: "ssh",
      failureDomains: { rack: "r01-k01", power: "r01-p01" },
    });
    expect(typeof hosts[0]?.vars.overhaul_uptime_days).toBe("number");
    expect(hosts[0]?.capacity).toEqual({ cpu: 64, memoryMb: 262_144, diskGb: 4_000 });
  });

  it("gives each region its own UTC offset, spread over -8..+9, the same for every host of it", () => {
    const { hosts } = generateFleet(parseFleetSpec("regions=18,hosts=2,seed=1"));
    const offsets = new Map<string, unknown>();
    for (const h of hosts) {
      const o = h.vars.overhaul_utc_offset;
      if (offsets.has(h.region)) expect(o).toBe(offsets.get(h.region));
      offsets.set(h.region, o);
    }
    const values = [...offsets.values()] as number[];
    expect([...values].sort((a, b) => a - b)).toEqual(Array.from({ length: 18 }, (_, i) => i - 8));
    // Adding regions does not move the first ones.
    const few = generateFleet(parseFleetSpec("regions=3,hosts=2,seed=1")).hosts;
    expect(few.map((h) => h.vars.overhaul_utc_offset)).toEqual(values.slice(0, 3).flatMap((o) => [o, o]));
  });

  it("puts `workloads` workloads on each worker and none on hold-overs; hosts do not change", () => {
    const spec = "regions=2,hosts=5,holdovers=0.4,workloads=6,seed=2";
    const { hosts, workloads } = generateFleet(parseFleetSpec(spec));
    for (const h of hosts)
      expect(workloads.filter((w) => w.host === h.name)).toHaveLength(h.role === "worker" ? 6 : 0);
    expect(generateFleet(parseFleetSpec(spec.replace("workloads=6", "workloads=0"))).hosts).toEqual(hosts);
  });

  it("is deterministic from the seed", () => {
    const a = generateFleet(parseFleetSpec("regions=2,hosts=4,workloads=3,seed=3"));
    expect(generateFleet(parseFleetSpec("regions=2,hosts=4,workloads=3,seed=3"))).toEqual(a);
    expect(generateFleet(parseFleetSpec("regions=2,hosts=4,workloads=3,seed=4"))).not.toEqual(a);
  });

  it("names every bad key", () => {
    try {
      parseFleetSpec("regions=x,hosts=0,holdovers=2,workloads=65,colour=red");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).problems.map((p) => p.path)).toEqual([
        "--fleet regions",
        "--fleet hosts",
        "--fleet holdovers",
        "--fleet workloads",
        "--fleet colour",
      ]);
    }
  });

  it("says what a negative number or a seed above 32 bits should be, naming the flag", () => {
    try {
      parseFleetSpec("workloads=-1,regions=-2,holdovers=-0.5,seed=4294967296");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).message.split("\n")).toEqual([
        "--fleet workloads: must be a whole number >= 0, got -1 (expected workloads=<a whole number >= 0>)",
        "--fleet regions: must be a whole number >= 1, got -2 (expected regions=<a whole number >= 1>)",
        "--fleet holdovers: must be a fraction between 0 and 1, got -0.5 (expected a number from 0 to 1, e.g. holdovers=0.2)",
        "--fleet seed: must be at most 4294967295 (seeds are 32-bit), got 4294967296 (expected a whole number 0..4294967295)",
      ]);
    }
    expect(parseFleetSpec("seed=4294967295").seed).toBe(4294967295);
  });

  it.each([
    [
      "hosts=1000000000",
      /--fleet hosts: regions x hosts is 1000000000 hosts; a generated fleet has at most 10000/,
    ],
    ["regions=1000,hosts=1000", /regions x hosts is 1000000 hosts/],
    ["regions=1,regions=2", /--fleet regions: "regions" is given twice/],
    ["hosts=0x10", /hosts: "0x10" is not a number/],
    ["hosts=1e1", /hosts: "1e1" is not a number/],
  ])("refuses %s instead of exhausting memory or guessing", (spec, error) => {
    expect(() => parseFleetSpec(spec)).toThrow(error);
  });

  it("takes the largest fleet allowed", () => {
    expect(parseFleetSpec("regions=10,hosts=1000")).toMatchObject({ regions: 10, hosts: 1000 });
  });
});
