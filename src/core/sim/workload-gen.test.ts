/** Workload generator: deterministic, sized to 50-65 % of each worker, a mix of kinds and rules. */
import { describe, expect, it } from "vitest";
import type { Host, Workload } from "../model/fleet.js";
import { generateFleet, parseFleetSpec } from "./fleet-gen.js";
import { DEFAULT_CAPACITY, generateWorkloads, LOAD_MAX, LOAD_MIN } from "./workload-gen.js";

const fleet = (spec: string) => generateFleet(parseFleetSpec(spec));

function usage(ws: readonly Workload[], host: string) {
  const on = ws.filter((w) => w.host === host);
  return {
    cpu: on.reduce((a, w) => a + w.cpu, 0) / DEFAULT_CAPACITY.cpu,
    mem: on.reduce((a, w) => a + w.memoryMb, 0) / DEFAULT_CAPACITY.memoryMb,
    disk: on.reduce((a, w) => a + w.diskGb, 0) / DEFAULT_CAPACITY.diskGb,
  };
}

describe("workload generator", () => {
  it("is deterministic from the seed, and a host's workloads do not depend on other hosts", () => {
    const { hosts } = fleet("regions=2,hosts=6,holdovers=0.2,seed=3");
    const a = generateWorkloads(hosts, 8, 3);
    expect(generateWorkloads(hosts, 8, 3)).toEqual(a);
    expect(generateWorkloads(hosts, 8, 4)).not.toEqual(a);
    const alone = generateWorkloads(
      hosts.filter((h) => h.name === "r02-h002"),
      8,
      3,
    );
    // Anti-affinity groups depend on the host's neighbours; everything else is the host's own.
    const strip = (ws: Workload[]) => ws.map(({ antiAffinityGroup: _g, ...w }) => w);
    expect(strip(alone)).toEqual(strip(a.filter((w) => w.host === "r02-h002")));
  });

  it.each([1, 3, 8, 20, 64])("%i per host use 50-65 %% of every resource of each worker", (n) => {
    const { hosts, workloads } = fleet(`regions=2,hosts=5,holdovers=0.2,workloads=${n},seed=11`);
    const workers = hosts.filter((h) => h.role === "worker");
    expect(workloads).toHaveLength(workers.length * n);
    for (const h of workers) {
      const u = usage(workloads, h.name);
      for (const share of [u.cpu, u.mem, u.disk]) {
        // Rounding to whole steps loses at most one step per workload; minimum sizes add little.
        expect(share).toBeGreaterThanOrEqual(LOAD_MIN - 0.01 - (n * 0.25) / DEFAULT_CAPACITY.cpu);
        expect(share).toBeLessThanOrEqual(LOAD_MAX + 0.02);
      }
    }
    for (const w of workloads) {
      expect(w.cpu).toBeGreaterThan(0);
      expect(w.memoryMb).toBeGreaterThan(0);
      expect(w.volumes.reduce((a, v) => a + v.sizeGb, 0)).toBeLessThanOrEqual(w.diskGb);
    }
  });

  it("puts nothing on hold-overs and makes a mix of kinds, volumes and placement rules", () => {
    const { hosts, workloads } = fleet("regions=3,hosts=10,holdovers=0.2,workloads=10,seed=5");
    const holdovers = new Set(hosts.filter((h) => h.role === "holdover").map((h) => h.name));
    expect(workloads.some((w) => holdovers.has(w.host))).toBe(false);
    const live = workloads.filter((w) => w.migration.includes("live"));
    expect(live.length).toBeGreaterThan(0);
    expect(
      live.every((w) => w.kind === "vm" && w.volumes.some((v) => v.network && v.attachedTo === w.id)),
    ).toBe(true);
    const local = workloads.filter((w) => w.volumes.some((v) => !v.network));
    expect(local.length).toBeGreaterThan(0);
    expect(local.every((w) => w.kind === "vm" && w.migration.join() === "cold")).toBe(true);
    expect(workloads.some((w) => w.kind === "container")).toBe(true);
    expect(workloads.some((w) => w.kind === "service")).toBe(true);
    expect(workloads.some((w) => w.volumes.some((v) => v.network && v.attachedTo === undefined))).toBe(true);
    expect(workloads.some((w) => w.pinned)).toBe(false);
    // A few singletons, never two on one host.
    const singles = workloads.filter((w) => w.singleton);
    expect(singles.length).toBeGreaterThan(0);
    expect(singles.length).toBeLessThan(workloads.length / 10);
    expect(new Set(singles.map((w) => w.host)).size).toBe(singles.length);
    // Anti-affinity groups: several members, all in one region, never two on one host.
    const groups = new Map<string, Workload[]>();
    for (const w of workloads)
      if (w.antiAffinityGroup)
        groups.set(w.antiAffinityGroup, [...(groups.get(w.antiAffinityGroup) ?? []), w]);
    expect(groups.size).toBeGreaterThan(3);
    const regionOf = new Map(hosts.map((h) => [h.name, h.region]));
    for (const members of groups.values()) {
      expect(new Set(members.map((w) => w.host)).size).toBe(members.length);
      expect(new Set(members.map((w) => regionOf.get(w.host))).size).toBe(1);
    }
    expect([...groups.values()].some((m) => m.length >= 2)).toBe(true);
  });

  it("sizes by the host's own capacity when it has one, by the default otherwise", () => {
    const base: Omit<Host, "name"> = {
      address: "x",
      connection: "ssh",
      region: "eu",
      failureDomains: {},
      role: "worker",
      groups: [],
      vars: {},
    };
    const small: Host = { ...base, name: "small", capacity: { cpu: 8, memoryMb: 16_384, diskGb: 200 } };
    const bare: Host = { ...base, name: "bare" };
    const ws = generateWorkloads([small, bare], 4, 1);
    const sum = (h: string, k: "cpu" | "memoryMb" | "diskGb") =>
      ws.filter((w) => w.host === h).reduce((a, w) => a + w[k], 0);
    expect(sum("small", "memoryMb")).toBeLessThanOrEqual(16_384 * LOAD_MAX);
    expect(sum("small", "cpu")).toBeLessThanOrEqual(8 * LOAD_MAX + 0.25);
    expect(sum("bare", "memoryMb")).toBeGreaterThanOrEqual(DEFAULT_CAPACITY.memoryMb * LOAD_MIN - 4 * 256);
  });

  it("rejects a bad count", () => {
    expect(() => generateWorkloads([], -1, 1)).toThrow(RangeError);
    expect(() => generateWorkloads([], 65, 1)).toThrow(RangeError);
    expect(generateWorkloads([], 0, 1)).toEqual([]);
  });
});
