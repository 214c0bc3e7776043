/** Fleet generator: deterministic from the seed, domains and roles as specified, exact errors. */
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { generateFleet, parseFleetSpec } from "./fleet-gen.js";

describe("fleet generator", () => {
  it("builds regions x hosts with racks, power circuits and holdovers", () => {
    const hosts = generateFleet(parseFleetSpec("regions=3,hosts=5,holdovers=0.2,racks=2,seed=7"));
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
  });

  it("is deterministic from the seed", () => {
    const a = generateFleet(parseFleetSpec("regions=2,hosts=4,seed=3"));
    expect(generateFleet(parseFleetSpec("regions=2,hosts=4,seed=3"))).toEqual(a);
    expect(generateFleet(parseFleetSpec("regions=2,hosts=4,seed=4"))).not.toEqual(a);
  });

  it("names every bad key", () => {
    try {
      parseFleetSpec("regions=x,hosts=0,holdovers=2,colour=red");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).problems.map((p) => p.path)).toEqual([
        "regions",
        "hosts",
        "holdovers",
        "colour",
      ]);
    }
  });
});
