import { describe, expect, it } from "vitest";
import type { Host, Workload } from "../model/fleet.js";
import { compilePlan, type Plan } from "../plan/compile.js";
import { planSchema } from "../plan/schema.js";
import { DEFAULT_FLOW_MODEL, flowMs, movesMs, rebootFailShare } from "./flow-model.js";
import { lowerBound } from "./lower-bound.js";
import { planSchedule } from "./planner.js";
import { describeRefusal, PlanRefusal, type Refusal } from "./refusal.js";

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

  it("a workload too large on disk sees the disk there is, not the hold-over with the most memory", () => {
    const w1 = host("w1", "ams", "worker");
    const withCapacity = (name: string, capacity: Host["capacity"]) => ({
      ...host(name, "ams", "holdover"),
      capacity,
    });
    const fleet = [
      w1,
      withCapacity("holdA", { cpu: 64, memoryMb: 524_288, diskGb: 100 }),
      withCapacity("holdB", { cpu: 32, memoryMb: 131_072, diskGb: 4_000 }),
    ];
    const refuse = (size: Partial<Workload>) => {
      const [r] = refusalsOf(() =>
        planSchedule({ plan: plan(), fleet, scope: [w1], workloads: [vm("big", "w1", 16_000, size)] }),
      );
      return { refusal: r, text: describeRefusal(r as Refusal) };
    };
    const disk = refuse({ diskGb: 5_000 });
    expect(disk.refusal).toMatchObject({
      kind: "unplaceable",
      workload: "big",
      largestFree: { cpu: 64, memoryMb: 524_288, diskGb: 4_000 },
      closest: { holdover: "holdB", short: { diskGb: 1_000 } },
    });
    expect(disk.text).toContain(
      "fits on no hold-over: the closest, holdB (32 cpu, 131072 MB memory, 4000 GB disk free), lacks 1000 GB disk; the most of each on any one hold-over is 64 cpu, 524288 MB memory, 4000 GB disk;",
    );
    // Each resource fits somewhere, but not both on one hold-over: the one it misses by the least.
    const both = refuse({ cpu: 48, diskGb: 3_000 });
    expect(both.refusal).toMatchObject({ closest: { holdover: "holdB", short: { cpu: 16 } } });
    expect(both.text).toContain(
      "the closest, holdB (32 cpu, 131072 MB memory, 4000 GB disk free), lacks 16 cpu;",
    );
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

describe("a window too short says why", () => {
  const T0 = Date.UTC(2026, 0, 5, 0, 0);
  const HOUR = 3_600_000;
  /** Two regions of two workers each, listed l first; l's window opens 10 h after e's. */
  function twoRegions(holdovers = false) {
    const workers = ["l1", "l2", "e1", "e2"].map((n) => host(n, n.slice(0, 1), "worker", `k${n}`));
    const hold = holdovers ? [host("lh", "l", "holdover", "kx"), host("eh", "e", "holdover", "kx")] : [];
    const workloads = workers.map((w) => vm(`${w.name}-vm`, w.name, 40_000));
    return {
      fleet: [...workers, ...hold],
      scope: workers,
      workloads,
      windows: { startAt: T0, opensAt: { e: T0 + 2 * HOUR, l: T0 + 12 * HOUR } },
      windowMs: { e: 2 * HOUR, l: 2 * HOUR },
    };
  }
  const rebootOnly = () => plan({ steps: [{ name: "reboot", kind: "reboot" }], concurrency: { global: 2 } });
  const describe1 = (f: () => unknown) => {
    const refusals = refusalsOf(f);
    expect(refusals).toHaveLength(1);
    return {
      refusal: refusals[0] as Extract<Refusal, { kind: "window-too-short" }>,
      text: describeRefusal(refusals[0] as Refusal),
    };
  };

  it("names the canary of a region whose window opens later, without hold-overs for a plan that drains nothing", () => {
    const r = twoRegions();
    const { refusal, text } = describe1(() => planSchedule({ plan: rebootOnly(), ...r, order: "inventory" }));
    expect(refusal).toMatchObject({ region: "e", holdovers: null, needed: null, fromOpening: true });
    expect(text).toMatch(
      /^region e: it waits 10h\d\dm for the canary \(wave 0: l1 of region l, whose window opens 10h00m after this region's, at 2026-01-05T12:00Z\) to finish: a wave starts only when the earlier ones are done, in every region; alone, it would fit: an estimated 10h\d\dm from its window's opening does not fit its 2h00m window; with --order balanced it fits/,
    );
    expect(text).not.toMatch(/hold-over/);
    // The suggestion was played: balanced plans it.
    expect(() => planSchedule({ plan: rebootOnly(), ...r, order: "balanced" })).not.toThrow();
  });

  it("with hold-overs enough, it never asks for a number it already has", () => {
    const r = twoRegions(true);
    const { refusal, text } = describe1(() =>
      planSchedule({ plan: plan({ concurrency: { global: 2 } }), ...r, order: "inventory" }),
    );
    expect(refusal).toMatchObject({ region: "e", holdovers: 1, needed: 1 });
    expect(text).toMatch(/it waits 10h\d\dm for the canary \(wave 0: l1 of region l, /);
    expect(text).toMatch(
      /with 1 hold-over\(s\) does not fit its 2h00m window; with --order balanced it fits/,
    );
    expect(text).not.toMatch(/hold-over\(s\) would/);
  });

  it("an earlier wave that balanced cannot avoid: names it and suggests no order", () => {
    // The canary region (opens first) takes a long time; e opens 1 m later and waits for it.
    const r = twoRegions();
    const p = plan({
      steps: [
        { name: "reboot", kind: "reboot" },
        { name: "soak", kind: "sleep", duration: "3h" },
      ],
    });
    const windows = { startAt: T0, opensAt: { l: T0, e: T0 + 60_000 } };
    const { text } = describe1(() =>
      planSchedule({ plan: p, ...r, windows, windowMs: { l: 7 * HOUR, e: 3.5 * HOUR } }),
    );
    expect(text).toMatch(
      /^region e: it waits 3h\d\dm for the canary \(wave 0: l\d of region l\) to finish: a wave starts only when the earlier ones are done, in every region; alone, it would fit: .* does not fit its 3h30m window; a longer window, or windows that let the canary finish before this one opens$/,
    );
  });

  it("waits between its own waves: all of them counted, the longest named, no window to move", () => {
    // Waves of one host each, alternating e, l, e, l, e: e waits for each of l's hosts.
    const scope = ["e1", "l1", "e2", "l2", "e3"].map((n) => host(n, n.slice(0, 1), "worker", `k${n}`));
    const p = plan({
      waves: [{ count: 1 }, { count: 1 }, { count: 1 }, { count: 1 }, { percent: 100 }],
      concurrency: { global: 2 },
      steps: [
        { name: "reboot", kind: "reboot" },
        { name: "soak", kind: "sleep", duration: "1h" },
      ],
    });
    const windows = { startAt: T0, opensAt: { e: T0, l: T0 + HOUR / 2 } };
    const { text } = describe1(() =>
      planSchedule({
        plan: p,
        fleet: scope,
        scope,
        workloads: [],
        order: "inventory",
        windows,
        windowMs: { e: 4 * HOUR, l: 8 * HOUR },
      }),
    );
    expect(text).toMatch(
      /^region e: it waits 2h\d\dm for earlier waves to finish, the longest 1h\d\dm for wave 1 \(last host: l1 of region l, whose window opens 30m00s after this region's, at 2026-01-05T00:30Z\): .*; alone, it would fit: .*; a longer window, or waves and an order that do not make it wait for other regions$/,
    );
  });

  it("other regions' hosts under the global cap: the wait and the cap, alone it would fit", () => {
    // Global cap 1, the regions in turn (inventory order): e's second host waits for one of l's.
    const r = twoRegions();
    const scope = ["l1", "e1", "l2", "e2"].map((n) => r.scope.find((h) => h.name === n) as Host);
    const p = plan({
      steps: [{ name: "reboot", kind: "reboot" }],
      concurrency: { global: 1 },
      waves: [{ percent: 100 }],
    });
    const input = {
      plan: p,
      fleet: scope,
      scope,
      workloads: r.workloads,
      windowMs: { l: 2 * HOUR, e: HOUR / 2 },
    };
    const { refusal, text } = describe1(() => planSchedule({ ...input, order: "inventory" }));
    expect(refusal).toMatchObject({ region: "e", holdovers: null, fromOpening: false });
    expect(text).toMatch(
      /^region e: hosts of other regions hold it back \d+m\d\ds under the global cap of 1; alone, it would fit: an estimated \d+m\d\ds does not fit its 30m00s window; with --order balanced it fits$/,
    );
    // Under the default order (which plays e's hosts together), it fits.
    expect(() => planSchedule(input)).not.toThrow();
  });

  it("too slow on its own without a drain step: its estimate, never hold-overs", () => {
    const r = twoRegions();
    const { refusal, text } = describe1(() =>
      planSchedule({ plan: rebootOnly(), ...r, windows: undefined, windowMs: { l: 2 * HOUR, e: 60_000 } }),
    );
    expect(refusal).toMatchObject({ region: "e", holdovers: null, needed: null });
    expect(text).toMatch(
      /^region e: on its own it takes an estimated \d+m\d\ds \(wave \d: longest flow\): an estimated \d+m\d\ds does not fit its 1m00s window; a longer window, or higher caps$/,
    );
  });

  it("not enough hold-overs, or none enough: the number that fits, or what binds", () => {
    const r = reference();
    const few = describe1(() =>
      planSchedule({
        plan: plan(),
        fleet: r.fleet,
        scope: r.scope,
        workloads: r.workloads,
        windowMs: { ams: 40 * 60_000 },
      }),
    );
    expect(few.text).toMatch(
      /^region ams: not enough hold-overs: an estimated [\dhms]+ with 1 hold-over\(s\) does not fit its 40m00s window; [2-9] hold-over\(s\) would$/,
    );
    const none = describe1(() =>
      planSchedule({
        plan: plan(),
        fleet: r.fleet,
        scope: r.scope,
        workloads: r.workloads,
        windowMs: { ams: 60_000 },
      }),
    );
    expect(none.text).toMatch(
      /^region ams: even with unlimited hold-overs it takes at least \d+m\d\ds \(wave \d: .*\): .* with 1 hold-over\(s\) does not fit its 1m00s window; no number of hold-overs makes it fit/,
    );
  });
});
