import { describe, expect, it } from "vitest";
import { buildFlows } from "../flow/run-setup.js";
import type { Host } from "../model/fleet.js";
import { compilePlan } from "../plan/compile.js";
import { planSchema } from "../plan/schema.js";
import { type AdmissionHost, admit } from "../policy/admission.js";
import { optionsWithSchedule, type RunSchedule, scheduledPlan, scheduleOpensAt } from "./run-schedule.js";

const plan = compilePlan(
  planSchema.parse({
    name: "p",
    hosts: "all",
    concurrency: { global: 10, perFailureDomain: { rack: 2 } },
    steps: [{ name: "s", kind: "sleep", duration: "1s" }],
  }),
);

function host(name: string): Host {
  return {
    name,
    address: name,
    connection: "ssh",
    region: "r",
    failureDomains: { rack: "k1" },
    role: "worker",
    capacity: { cpu: 1, memoryMb: 1, diskGb: 1 },
    groups: [],
    vars: {},
  };
}

describe("a run that follows a schedule", () => {
  const schedule: RunSchedule = {
    hosts: [
      { host: "b", wave: 0, order: 0, domains: { "group:db": "db" } },
      { host: "a", wave: 1, order: 1, domains: { "group:db": "db", holdovers: "r" } },
    ],
    caps: { "group:db": { db: 1 }, holdovers: { r: 3 } },
  };

  it("keeps the schedule's order, waves and domains in the flows", () => {
    const flows = buildFlows(plan, [host("a"), host("b")], schedule);
    expect(flows.map((f) => [f.host, f.wave, f.order])).toEqual([
      ["b", 0, 0],
      ["a", 1, 1],
    ]);
    expect(flows[1]?.data.scheduleDomains).toEqual({ "group:db": "db", holdovers: "r" });
    expect(() => buildFlows(plan, [host("a")], schedule)).toThrow(/exactly the run's hosts/);
  });

  it("adds the schedule's caps to the plan; admission holds a replicated group to one host", () => {
    const p = scheduledPlan(plan, optionsWithSchedule({ planFile: "x" }, schedule));
    expect(p.concurrency.perDomainValue).toEqual(schedule.caps);
    expect(p.concurrency.perFailureDomain).toEqual({ rack: 2 });
    expect(scheduledPlan(plan, {})).toBe(plan);
    expect(() => scheduledPlan(plan, { schedule: { caps: { rack: { k1: 0 } } } })).toThrow(/malformed/);
    const hosts: AdmissionHost[] = ["x", "y", "z"].map((h, i) => ({
      host: h,
      wave: 0,
      order: i,
      state: "pending",
      region: "r",
      domains: { rack: "k1", ...(h !== "z" ? { "group:db": "db" } : {}) },
    }));
    const res = admit({
      hosts,
      currentWave: 0,
      concurrency: p.concurrency,
      now: 0,
      nextStartAt: 0,
      staggered: false,
    });
    // y is held back by its group (x has the one slot), z by nothing: a per-value cap replaces the
    // kind's cap only for its own value.
    expect(res.start).toEqual(["x", "z"]);
    const noGroup = admit({
      hosts,
      currentWave: 0,
      concurrency: plan.concurrency,
      now: 0,
      nextStartAt: 0,
      staggered: false,
    });
    expect(noGroup.start).toEqual(["x", "y"]);
  });

  it("keeps each region's window opening in the run's options and reads it back checked", () => {
    const opensAt = { r: Date.UTC(2026, 0, 5, 22), s: Date.UTC(2026, 0, 6, 3) };
    const options = optionsWithSchedule({ planFile: "x" }, { ...schedule, opensAt });
    expect(scheduleOpensAt(options)).toEqual(opensAt);
    expect(scheduledPlan(plan, options).concurrency.perDomainValue).toEqual(schedule.caps);
    expect(scheduleOpensAt(optionsWithSchedule({}, schedule))).toBeUndefined();
    expect(scheduleOpensAt({})).toBeUndefined();
    expect(() => scheduleOpensAt({ schedule: { caps: {}, opensAt: { r: "tonight" } } })).toThrow(
      /malformed.*opensAt/s,
    );
  });
});
