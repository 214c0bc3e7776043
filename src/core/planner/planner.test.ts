import { describe, expect, it } from "vitest";
import type { Host, Workload } from "../model/fleet.js";
import { compilePlan, type Plan } from "../plan/compile.js";
import { planSchema } from "../plan/schema.js";
import { DEFAULT_FLOW_MODEL, flowMs, movesMs, rebootFailShare } from "./flow-model.js";
import { lowerBound } from "./lower-bound.js";
import { planSchedule } from "./planner.js";
import { PlanRefusal, type Refusal } from "./refusal.js";

const CAP = { cpu: 64, memoryMb: 262_144, diskGb: 4_000 };

function host(name: string, region: string, role: Host["role"], rack = "k1"): Host {
  return {
    name,
    address: name,
    connection: "ssh",
    region,
    failureDomains: { rack: `${region}-${rack}` },
    role,
    capacity: { ...CAP },
    groups: [region],
    vars: {},
  };
}

function vm(id: string, on: string, memoryMb: number, extra: Partial<Workload> = {}): Workload {
  return {
    id,
    kind: "vm",
    host: on,
    cpu: 8,
    memoryMb,
    diskGb: 100,
    migration: ["live", "cold"],
    volumes: [{ id: `${id}-v`, sizeGb: 100, network: true, attachedTo: id }],
    ...extra,
  };
}

function plan(extra: Record<string, unknown> = {}): Plan {
  return compilePlan(
    planSchema.parse({
      name: "p",
      hosts: "workers",
      waves: [{ count: 1 }, { percent: 100 }],
      concurrency: { global: 10 },
      steps: [
        { name: "drain", kind: "drain" },
        { name: "reboot", kind: "reboot" },
        { name: "healthy", kind: "wait-healthy" },
        { name: "reinstate", kind: "reinstate" },
      ],
      ...extra,
    }),
  );
}

/** 5 workers + 1 hold-over, each worker with four VMs on network volumes (61 % of its memory). */
function reference() {
  const workers = [1, 2, 3, 4, 5].map((i) => host(`w${i}`, "ams", "worker", `k${i % 2}`));
  const hold = host("hold1", "ams", "holdover", "k1");
  const workloads = workers.flatMap((w) => [1, 2, 3, 4].map((j) => vm(`${w.name}-vm${j}`, w.name, 40_000)));
  return { fleet: [...workers, hold], scope: workers, workloads };
}

function refusalsOf(f: () => unknown): Refusal[] {
  try {
    f();
  } catch (e) {
    if (e instanceof PlanRefusal) return [...e.refusals];
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("flow estimate", () => {
  it("moves run four at a time, each lane taking the next", () => {
    expect(movesMs([10, 10, 10, 10, 10], 4)).toBe(20);
    expect(movesMs([40, 10, 10, 10, 10], 4)).toBe(40);
    expect(movesMs([], 4)).toBe(0);
  });
  it("a busier region moves slower", () => {
    const ws = [vm("a", "w1", 100_000)];
    expect(flowMs(plan(), ws, DEFAULT_FLOW_MODEL, 0.9)).toBeGreaterThan(
      flowMs(plan(), ws, DEFAULT_FLOW_MODEL, 0.1),
    );
  });
});

describe("reboot timeouts", () => {
  const reboot = (timeout: string, attempts: number) =>
    plan({ steps: [{ name: "reboot", kind: "reboot", timeout, retry: { attempts } }] })
      .steps[0] as Plan["steps"][number];
  const model = { ...DEFAULT_FLOW_MODEL, bootMs: { min: 2 * 60_000, max: 14 * 60_000 } };

  it("one attempt fails for the share of boots past the timeout", () => {
    // The grid's boots are 2.25, 2.75, ... 13.75 min: 12 of 24 are past 8 min.
    expect(rebootFailShare(reboot("8m", 1), model)).toBeCloseTo(0.5, 10);
    expect(rebootFailShare(reboot("20m", 1), model)).toBe(0);
    expect(rebootFailShare(reboot("30s", 1), model)).toBe(1);
  });

  it("more attempts fail less often, never more", () => {
    const shares = [1, 2, 3, 4].map((n) => rebootFailShare(reboot("8m", n), model));
    for (let i = 1; i < shares.length; i++) expect(shares[i]).toBeLessThan(shares[i - 1] as number);
    expect(shares[3]).toBeGreaterThan(0);
  });

  it("a timeout the boots overrun is a risk of the whole plan, with the share and what to do", () => {
    const r = reference();
    const short = planSchedule({
      plan: plan({ steps: [{ name: "reboot", kind: "reboot", timeout: "30s" }] }),
      fleet: r.scope,
      scope: r.scope,
      workloads: r.workloads,
    });
    const risk = short.risks.find((x) => x.kind === "reboot-timeout");
    expect(risk?.region).toBeUndefined();
    expect(risk?.message).toMatch(
      /step reboot: .*timeout of 30s, 100 % of hosts would use all 3 attempt\(s\) and fail/,
    );
    expect(risk?.message).toContain("--scenario");
    const long = planSchedule({
      plan: plan({ steps: [{ name: "reboot", kind: "reboot", timeout: "20m" }] }),
      fleet: r.scope,
      scope: r.scope,
      workloads: r.workloads,
    });
    expect(long.risks.map((x) => x.kind)).not.toContain("reboot-timeout");
  });
});

describe("lower bound", () => {
  it("sums waves; each wave's bound is its binding cap", () => {
    const c = { global: 2, perFailureDomain: { rack: 1 } };
    const lb = lowerBound(
      [
        { wave: 0, region: "a", durationMs: 5, domains: { rack: "x" } },
        { wave: 1, region: "a", durationMs: 10, domains: { rack: "x" } },
        { wave: 1, region: "a", durationMs: 10, domains: { rack: "x" } },
        { wave: 1, region: "a", durationMs: 4, domains: { rack: "y" } },
      ],
      c,
      0,
    );
    expect(lb.waves.map((w) => [w.ms, w.binding])).toEqual([
      [5, "longest flow"],
      [20, "rack x cap 1"],
    ]);
    expect(lb.ms).toBe(25);
  });
});

describe("planSchedule", () => {
  it("the reference case: 5 servers and 1 hold-over take about an hour, one at a time", () => {
    const r = reference();
    const s = planSchedule({ plan: plan(), fleet: r.fleet, scope: r.scope, workloads: r.workloads });
    expect(s.makespanMs).toBeGreaterThan(45 * 60_000);
    expect(s.makespanMs).toBeLessThan(75 * 60_000);
    // One hold-over takes one drained worker: strictly one at a time, so the bound is tight.
    expect(s.regions[0]?.holdoverRoom).toBe(1);
    expect(s.ratio).toBeCloseTo(1, 6);
    for (const h of s.hosts) expect(new Set(Object.values(h.holdovers))).toEqual(new Set(["hold1"]));
    expect(s.risks.map((x) => x.kind)).toContain("single-holdover-rack");
  });

  it("two hold-overs take three drained workers (VMs split across them) and shorten the run", () => {
    const r = reference();
    const fleet = [...r.fleet, host("hold2", "ams", "holdover", "k0")];
    const one = planSchedule({ plan: plan(), fleet: r.fleet, scope: r.scope, workloads: r.workloads });
    const two = planSchedule({ plan: plan(), fleet, scope: r.scope, workloads: r.workloads });
    // 2 x 256 GB of room, 160 GB per drained worker.
    expect(two.regions[0]?.holdoverRoom).toBe(Math.floor((2 * 262_144) / (4 * 40_000)));
    expect(two.makespanMs).toBeLessThan(one.makespanMs * 0.7);
  });

  it("refuses a region without hold-overs, with the number needed", () => {
    const r = reference();
    const [refusal] = refusalsOf(() =>
      planSchedule({ plan: plan(), fleet: r.scope, scope: r.scope, workloads: r.workloads }),
    );
    expect(refusal).toMatchObject({ kind: "missing-holdovers", region: "ams", holdovers: 0, needed: 1 });
  });

  it("refuses a workload no hold-over can take, with its size and the largest room", () => {
    const r = reference();
    const big = vm("huge", "w1", 300_000);
    const [refusal] = refusalsOf(() =>
      planSchedule({ plan: plan(), fleet: r.fleet, scope: r.scope, workloads: [...r.workloads, big] }),
    );
    expect(refusal).toMatchObject({
      kind: "unplaceable",
      workload: "huge",
      size: { memoryMb: 300_000 },
      largestFree: { memoryMb: 262_144 },
    });
  });

  it("refuses a host whose workloads need more hold-overs than the region has", () => {
    const r = reference();
    const heavy = [1, 2, 3].map((j) => vm(`heavy${j}`, "w1", 150_000));
    const [refusal] = refusalsOf(() =>
      planSchedule({ plan: plan(), fleet: r.fleet, scope: r.scope, workloads: heavy }),
    );
    expect(refusal).toMatchObject({ kind: "missing-holdovers", holdovers: 1, needed: 3 });
  });

  it("refuses a window too short, and sizes the hold-overs that fit it", () => {
    const r = reference();
    const refusals = refusalsOf(() =>
      planSchedule({
        plan: plan(),
        fleet: r.fleet,
        scope: r.scope,
        workloads: r.workloads,
        windowMs: { ams: 40 * 60_000 },
      }),
    );
    expect(refusals).toEqual([
      expect.objectContaining({ kind: "window-too-short", region: "ams", holdovers: 1 }),
    ]);
    const needed = (refusals[0] as { needed: number | null }).needed as number;
    expect(needed).toBeGreaterThan(1);
    // The number is the smallest that fits: with it the plan is accepted, with one less refused.
    const withHoldovers = (n: number) => [
      ...r.scope,
      ...Array.from({ length: n }, (_, i) => host(`hold${i + 1}`, "ams", "holdover", `k${i % 2}`)),
    ];
    const window = { ams: 40 * 60_000 };
    const fits = planSchedule({
      plan: plan(),
      fleet: withHoldovers(needed),
      scope: r.scope,
      workloads: r.workloads,
      windowMs: window,
    });
    expect(fits.makespanMs).toBeLessThanOrEqual(window.ams);
    expect(fits.regions[0]).toMatchObject({ windowMs: window.ams, holdoversNeeded: needed });
    expect(() =>
      planSchedule({
        plan: plan(),
        fleet: withHoldovers(needed - 1),
        scope: r.scope,
        workloads: r.workloads,
        windowMs: window,
      }),
    ).toThrow(PlanRefusal);
  });

  it("a window shorter than the canary plus one flow cannot be fixed with hold-overs", () => {
    const r = reference();
    const [refusal] = refusalsOf(() =>
      planSchedule({
        plan: plan(),
        fleet: r.fleet,
        scope: r.scope,
        workloads: r.workloads,
        windowMs: { ams: 60_000 },
      }),
    );
    expect(refusal).toMatchObject({ kind: "window-too-short", needed: null });
  });

  it("one member of a replicated group at a time", () => {
    const r = reference();
    const ws = r.workloads.map((w) => (w.id.endsWith("vm1") ? { ...w, antiAffinityGroup: "db" } : w));
    const fleet = [...r.fleet, host("hold2", "ams", "holdover"), host("hold3", "ams", "holdover")];
    const s = planSchedule({ plan: plan(), fleet, scope: r.scope, workloads: ws });
    expect(s.caps["group:db"]).toEqual({ db: 1 });
    const rest = s.hosts.filter((h) => h.wave > 0).sort((a, b) => a.startMs - b.startMs);
    for (let i = 1; i < rest.length; i++)
      expect((rest[i] as { startMs: number }).startMs).toBeGreaterThanOrEqual(
        (rest[i - 1] as { endMs: number }).endMs,
      );
  });

  it("orders by policy: uptime puts the longest-running host first", () => {
    const r = reference();
    const scope = r.scope.map((h, i) => ({ ...h, vars: { overhaul_uptime_days: i * 10 } }));
    const s = planSchedule({
      plan: plan(),
      fleet: [...scope, r.fleet[5] as Host],
      scope,
      workloads: r.workloads,
      order: "uptime",
    });
    expect(s.hosts.map((h) => h.host)).toEqual(["w5", "w4", "w3", "w2", "w1"]);
    expect(s.hosts[0]?.wave).toBe(0);
  });

  it("without a drain step, hold-overs do not matter", () => {
    const r = reference();
    const p = plan({ steps: [{ name: "reboot", kind: "reboot" }] });
    const s = planSchedule({ plan: p, fleet: r.scope, scope: r.scope, workloads: r.workloads });
    expect(s.hosts.every((h) => Object.keys(h.holdovers).length === 0)).toBe(true);
    // Canary, then the other four at once (global cap 10).
    expect(s.batches.map((b) => b.hosts.length)).toEqual([1, 4]);
  });
});
