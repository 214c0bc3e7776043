import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Host, Workload } from "../model/fleet.js";
import { compilePlan, type Plan, type Step } from "../plan/compile.js";
import { planSchema } from "../plan/schema.js";
import { seededRandom } from "../policy/random.js";
import { DEFAULT_FLOW_MODEL, type FlowModel, rebootMs } from "./flow-model.js";
import type { ListHost } from "./list-schedule.js";
import { planSchedule } from "./planner.js";
import { drawReboot, figures, spreadOf } from "./spread.js";

function plan(steps: unknown[], extra: Record<string, unknown> = {}): Plan {
  return compilePlan(planSchema.parse({ name: "p", hosts: "workers", steps, ...extra }));
}

const REBOOT = {
  name: "reboot",
  kind: "reboot",
  timeout: "10m",
  retry: { attempts: 3, backoff: { initial: "30s" } },
};

function rebootStep(p: Plan): Step {
  return p.steps.find((s) => s.kind === "reboot") as Step;
}

function model(minMs: number, maxMs: number): FlowModel {
  return { ...DEFAULT_FLOW_MODEL, bootMs: { min: minMs, max: maxMs } };
}

describe("drawReboot", () => {
  it("is rebootMs's expectation when the boot time is one point, whether it fits the timeout or not", () => {
    const step = rebootStep(plan([REBOOT]));
    fc.assert(
      fc.property(fc.integer({ min: 1_000, max: 40 * 60_000 }), fc.integer(), (boot, seed) => {
        const m = model(boot, boot);
        const drawn = drawReboot(step, m, seededRandom(seed >>> 0));
        expect(drawn.ms).toBeCloseTo(rebootMs(step, m), 6);
        // every attempt timed out exactly when the one boot time is longer than the timeout
        expect(drawn.exhausted).toBe(boot > step.timeoutMs);
      }),
    );
  });

  it("stays inside what the attempts allow: at least the shortest boot, at most every attempt timed out", () => {
    const step = rebootStep(plan([REBOOT]));
    const m = model(120_000, 900_000);
    const rnd = seededRandom(7);
    const backoffs = [30_000, 60_000].map((b) => b * (1 - step.retry.jitter / 2));
    const worst = 3 * step.timeoutMs + backoffs[0]! + backoffs[1]!;
    for (let i = 0; i < 2_000; i++) {
      const d = drawReboot(step, m, rnd).ms;
      expect(d).toBeGreaterThanOrEqual(120_000);
      expect(d).toBeLessThanOrEqual(worst);
    }
  });

  it("averages to rebootMs over many draws (the estimate and the draws agree)", () => {
    const step = rebootStep(plan([REBOOT]));
    const m = model(120_000, 900_000); // boots past the 10 min timeout are retried
    const rnd = seededRandom(11);
    let sum = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) sum += drawReboot(step, m, rnd).ms;
    expect(sum / n / rebootMs(step, m)).toBeGreaterThan(0.98);
    expect(sum / n / rebootMs(step, m)).toBeLessThan(1.02);
  });
});

function listHost(name: string, durationMs: number): ListHost {
  return { host: name, region: "r1", wave: 0, order: 0, durationMs, domains: {}, workloads: [] };
}

/** Every host at once, no caps: each host's end is its own flow. */
const parallel = (hs: readonly ListHost[]) =>
  hs.map((h) => ({ host: h.host, startMs: 0, endMs: h.durationMs }));

describe("figures", () => {
  it("are nearest-rank percentiles", () => {
    const xs = Array.from({ length: 20 }, (_, i) => 20 - i); // 20..1, unsorted on purpose
    expect(figures(xs)).toEqual({ p10Ms: 2, p50Ms: 10, p90Ms: 18, maxMs: 20 });
    expect(figures([7])).toEqual({ p10Ms: 7, p50Ms: 7, p90Ms: 7, maxMs: 7 });
    expect(figures([3, 1, 2])).toEqual({ p10Ms: 1, p50Ms: 2, p90Ms: 3, maxMs: 3 });
  });
});

describe("spreadOf", () => {
  const p = plan([{ name: "c", kind: "command", run: "true" }, REBOOT]);
  const step = rebootStep(p);
  const cycle = DEFAULT_FLOW_MODEL.noAnswerMs + (step.intervalMs ?? 2_000);

  it("replaces each reboot's expectation by a draw: with one boot time only the poll's wait varies", () => {
    const m = model(300_000, 300_000);
    const estimate = 400_000;
    const hosts = ["a", "b", "c"].map((n) => listHost(n, estimate));
    const seen: number[] = [];
    const s = spreadOf({
      plan: p,
      hosts,
      model: m,
      samples: 50,
      seed: 3,
      play: (hs) => {
        for (const h of hs) seen.push(h.durationMs);
        return parallel(hs);
      },
    });
    expect(s?.samples).toBe(50);
    expect(seen).toHaveLength(150);
    for (const d of seen) {
      expect(d).toBeGreaterThanOrEqual(estimate - cycle / 2 - 1);
      expect(d).toBeLessThanOrEqual(estimate + cycle / 2 + 1);
    }
    // the draws do vary (a wait anywhere in one poll cycle)
    expect(Math.max(...seen) - Math.min(...seen)).toBeGreaterThan(cycle / 2);
  });

  it("is seeded, ordered, and wider for a wider boot-time distribution", () => {
    const hosts = Array.from({ length: 40 }, (_, i) => listHost(`h${i}`, 600_000));
    const run = (min: number, max: number, seed = 5) =>
      spreadOf({ plan: p, hosts, model: model(min, max), samples: 30, seed, play: parallel });
    const wide = run(120_000, 480_000);
    expect(run(120_000, 480_000)).toEqual(wide);
    expect(run(120_000, 480_000, 6)).not.toEqual(wide);
    const narrow = run(290_000, 310_000);
    for (const s of [wide, narrow]) {
      if (s === undefined) throw new Error("no spread");
      expect(s.p10Ms).toBeLessThanOrEqual(s.p50Ms);
      expect(s.p50Ms).toBeLessThanOrEqual(s.p90Ms);
      expect(s.p90Ms).toBeLessThanOrEqual(s.maxMs);
      expect(Object.keys(s.regions)).toEqual(["r1"]);
      expect(s.regions.r1?.end.maxMs).toBe(s.maxMs);
      // every host starts at 0 in this play: the region's span is its end
      expect(s.regions.r1?.span).toEqual(s.regions.r1?.end);
    }
    expect((wide?.p90Ms ?? 0) - (wide?.p10Ms ?? 0)).toBeGreaterThan(
      (narrow?.p90Ms ?? 0) - (narrow?.p10Ms ?? 0),
    );
  });

  it("measures a region's span from its own first start in each play, not from the schedule's start", () => {
    const hosts = [listHost("a1", 300_000), { ...listHost("b1", 300_000), region: "r2" }];
    // r2 starts when r1's host ends (as after a canary): its end moves with r1's boot, its span not.
    const chained = (hs: readonly ListHost[]) => {
      const [a, b] = hs as [ListHost, ListHost];
      return [
        { host: a.host, startMs: 0, endMs: a.durationMs },
        { host: b.host, startMs: a.durationMs, endMs: a.durationMs + b.durationMs },
      ];
    };
    const s = spreadOf({
      plan: p,
      hosts,
      model: model(60_000, 600_000),
      samples: 30,
      seed: 2,
      play: chained,
    });
    const r2 = s?.regions.r2;
    if (r2 === undefined || s === undefined) throw new Error("no spread");
    expect(r2.end.p90Ms).toBe(s.p90Ms);
    expect(r2.span.p90Ms).toBeLessThan(r2.end.p90Ms);
    expect(r2.span.maxMs).toBeLessThanOrEqual(step.timeoutMs * 3 + 300_000);
  });

  it("says how many drawn reboots used every attempt", () => {
    const hosts = Array.from({ length: 50 }, (_, i) => listHost(`h${i}`, 600_000));
    const run = (min: number, max: number) =>
      spreadOf({ plan: p, hosts, model: model(min, max), samples: 10, seed: 1, play: parallel })?.exhausted;
    expect(run(60_000, 300_000)).toBe(0); // every boot well inside the 10 min timeout
    expect(run(40 * 60_000, 50 * 60_000)).toBe(1); // every boot longer than 3 attempts can wait
    const some = run(120_000, 900_000) ?? 0; // 2-15 min boots against 10 min: some exhaust
    expect(some).toBeGreaterThan(0);
    expect(some).toBeLessThan(0.5);
  });

  it("is nothing to report without a reboot step, or without samples", () => {
    const noReboot = plan([{ name: "c", kind: "command", run: "true" }]);
    const hosts = [listHost("a", 1_000)];
    expect(
      spreadOf({ plan: noReboot, hosts, model: DEFAULT_FLOW_MODEL, samples: 10, seed: 1, play: parallel }),
    ).toBeUndefined();
    expect(
      spreadOf({ plan: p, hosts, model: DEFAULT_FLOW_MODEL, samples: 0, seed: 1, play: parallel }),
    ).toBeUndefined();
  });
});

function host(name: string, rack: string): Host {
  return {
    name,
    address: name,
    connection: "ssh",
    region: "ams",
    failureDomains: { rack },
    role: "worker",
    capacity: { cpu: 64, memoryMb: 262_144, diskGb: 4_000 },
    groups: ["ams"],
    vars: {},
  };
}

describe("planSchedule with samples", () => {
  const workers = Array.from({ length: 12 }, (_, i) => host(`w${i + 1}`, `k${i % 3}`));
  const p = plan([REBOOT], { concurrency: { global: 3 }, waves: [{ count: 1 }, { percent: 100 }] });
  const input = { plan: p, fleet: workers, scope: workers, workloads: [] as Workload[], seed: 4 };

  it("plays the schedule again with drawn boots: percentiles around the estimate, none without samples", () => {
    expect(planSchedule(input).spread).toBeNull();
    const s = planSchedule({ ...input, samples: 40 });
    const sp = s.spread;
    if (sp === null) throw new Error("no spread");
    expect(sp.samples).toBe(40);
    // Boots of 2-15 min: the draws land on both sides of the estimate, none below the shortest boots.
    expect(sp.p10Ms).toBeLessThan(s.makespanMs);
    expect(sp.p90Ms).toBeGreaterThan(s.makespanMs);
    expect(sp.p10Ms).toBeGreaterThan(5 * 120_000); // 5 rounds (the canary, then 4 of 3), each >= 2 min
    // The same schedule is what was played: the estimate is unchanged by sampling.
    expect(s.makespanMs).toBe(planSchedule(input).makespanMs);
  });

  it("replays the planner's own schedule: with one boot time, every play ends within the poll waits of the estimate", () => {
    const m = { ...DEFAULT_FLOW_MODEL, bootMs: { min: 300_000, max: 300_000 } };
    const s = planSchedule({ ...input, model: m, samples: 20 });
    const half = (m.noAnswerMs + (rebootStep(p).intervalMs ?? 2_000)) / 2;
    // 5 rounds in a row, each host's poll wait anywhere in its cycle: at most 5 half cycles off.
    expect(s.spread?.p10Ms).toBeGreaterThanOrEqual(s.makespanMs - 5 * half);
    expect(s.spread?.maxMs).toBeLessThanOrEqual(s.makespanMs + 5 * half);
    expect(s.spread?.exhausted).toBe(0);
  });

  it("warns when the estimate fits the window but one play in ten does not", () => {
    const probe = planSchedule({ ...input, samples: 40 });
    const p90 = probe.spread?.regions.ams?.span.p90Ms ?? 0;
    expect(p90).toBeGreaterThan(probe.makespanMs);
    const between = Math.round((probe.makespanMs + p90) / 2);
    const s = planSchedule({ ...input, samples: 40, windowMs: { ams: between } });
    const risks = s.risks.filter((r) => r.kind === "tight-window");
    expect(risks).toHaveLength(1);
    expect(risks[0]?.message).toMatch(/in one play in ten .* \(p90 of 40 plays\), over its window/);
    // Boots of 5-5.5 min: a window just above the p90 gets no risk, though the estimate fills more
    // than 90 % of it (the rule of thumb that stands in when there are no plays).
    const steady = { ...input, model: { ...DEFAULT_FLOW_MODEL, bootMs: { min: 300_000, max: 330_000 } } };
    const narrow = planSchedule({ ...steady, samples: 40 });
    const roomyWindow = (narrow.spread?.regions.ams?.span.p90Ms ?? 0) + 1;
    expect(roomyWindow).toBeLessThan(narrow.makespanMs / 0.9);
    const roomy = planSchedule({ ...steady, samples: 40, windowMs: { ams: roomyWindow } });
    expect(roomy.risks.filter((r) => r.kind === "tight-window")).toEqual([]);
    const rule = planSchedule({ ...steady, windowMs: { ams: roomyWindow } }).risks;
    expect(rule.filter((r) => r.kind === "tight-window").map((r) => r.message)).toEqual([
      expect.stringMatching(/^the estimate uses 99 % of the window/),
    ]);
    // Without plays only the estimate is judged, by the rule of thumb (over 90 % of the window):
    // the window above looks roomy to it; the boots' spread is what shows it is not.
    expect(between).toBeGreaterThan(probe.makespanMs / 0.9);
    const plain = planSchedule({ ...input, windowMs: { ams: between } });
    expect(plain.risks.filter((r) => r.kind === "tight-window")).toEqual([]);
  });

  it("judges a region that starts late by its own span, not by the wait for earlier regions", () => {
    // Region "a" holds the canary; "b" starts only when it is done, by a drawn boot each play.
    const a = host("a1", "ka");
    const bs = Array.from({ length: 10 }, (_, i) => ({ ...host(`b${i + 1}`, `kb${i % 5}`), region: "b" }));
    const fleet = [{ ...a, region: "a" }, ...bs];
    const two = plan([REBOOT], { concurrency: { global: 5 }, waves: [{ count: 1 }, { percent: 100 }] });
    const base = {
      plan: two,
      fleet,
      scope: fleet,
      workloads: [] as Workload[],
      seed: 4,
      order: "inventory" as const,
    };
    const probe = planSchedule({ ...base, samples: 40 });
    const b = probe.spread?.regions.b;
    const bPlan = probe.regions.find((r) => r.region === "b");
    if (b === undefined || bPlan === undefined) throw new Error("no region b");
    // b's end moves with the canary's boot; its own span much less.
    expect(b.end.p90Ms - bPlan.startMs).toBeGreaterThan(b.span.p90Ms);
    const s = planSchedule({ ...base, samples: 40, windowMs: { b: b.span.p90Ms + 1 } });
    expect(s.risks.filter((r) => r.kind === "tight-window" && r.region === "b")).toEqual([]);
  });

  it("with a window opening, from the opening: the region's end in each play", () => {
    const opensAt = 3_600_000;
    const windows = { startAt: 0, opensAt: { ams: opensAt } };
    const probe = planSchedule({ ...input, samples: 40, windows });
    const end = probe.spread?.regions.ams?.end.p90Ms ?? 0;
    expect(end).toBeGreaterThan(opensAt);
    const fits = planSchedule({ ...input, samples: 40, windows, windowMs: { ams: end - opensAt + 1 } });
    expect(fits.risks.filter((r) => r.kind === "tight-window")).toEqual([]);
    const tight = planSchedule({
      ...input,
      samples: 40,
      windows,
      windowMs: { ams: Math.round((probe.makespanMs - opensAt + end - opensAt) / 2) },
    });
    expect(tight.risks.filter((r) => r.kind === "tight-window")).toHaveLength(1);
  });
});
