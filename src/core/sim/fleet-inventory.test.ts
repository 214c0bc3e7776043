import { describe, expect, it } from "vitest";
import { matchPattern } from "../inventory/index.js";
import { generateFleet, parseFleetSpec } from "./fleet-gen.js";
import { fleetInventory } from "./fleet-inventory.js";

describe("fleetInventory", () => {
  const { hosts } = generateFleet(parseFleetSpec("regions=2,hosts=5,holdovers=0.4,seed=3"));
  const inv = fleetInventory(hosts);

  it("selects hosts by region, role and Ansible patterns", () => {
    expect(matchPattern(inv, "r01").hosts).toEqual([
      "r01-h001",
      "r01-h002",
      "r01-h003",
      "r01-h004",
      "r01-h005",
    ]);
    expect(matchPattern(inv, "holdovers").hosts).toEqual(["r01-h004", "r01-h005", "r02-h004", "r02-h005"]);
    expect(matchPattern(inv, "workers:&r02").hosts).toEqual(["r02-h001", "r02-h002", "r02-h003"]);
    expect(matchPattern(inv, "all:!holdovers").hosts).toHaveLength(6);
    expect(matchPattern(inv, "r03").unmatched).toEqual(["r03"]);
  });
});
