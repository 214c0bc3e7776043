import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Host, Workload } from "../model/fleet.js";
import { compilePlan, type Plan, type Step } from "../plan/compile.js";
import { planSchema } from "../plan/schema.js";
import { seededRandom } from "../policy/random.js";
import { DEFAULT_FLOW_MODEL, type FlowModel, rebootMs } from "./flow-model.js";
import type { ListHost } from "./list-schedule.js";
import { planSchedule } from "./planner.js";
import { drawRebootMs, spreadOf } from "./spread.js";

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

describe("drawRebootMs", () => {
  it("is rebootMs's expectation when the boot time is one point, whether it fits the timeout or not", () => {
    const step = rebootStep(plan([REBOOT]));
    fc.assert(
      fc.property(fc.integer({ min: 1_000, max: 40 * 60_000 }), fc.integer(), (boot, seed) => {
        const m = model(boot, boot);
        const drawn = drawRebootMs(step, m, seededRandom(seed >>> 0));
        expect(drawn).toBeCloseTo(rebootMs(step, m), 6);
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
      const d = drawRebootMs(step, m, rnd);
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
    for (let i = 0; i < n; i++) sum += drawRebootMs(step, m, rnd);
    expect(sum / n / rebootMs(step, m)).toBeGreaterThan(0.98);
    expect(sum / n / rebootMs(step, m)).toBeLessThan(1.02);
  });
});

function listHost(name: string, durationMs: number): ListHost {
  return { host: name, region: "r1", wave: 0, order: 0, durationMs, domains: {}, workloads: [] };
}

/** Every host at once, no caps: each host's end is its own flow. */
const parallel = (hs: readonly ListHost[]) => hs.map((h) => ({ host: h.host, endMs: h.durationMs }));

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
      expect(s.regions.r1?.maxMs).toBe(s.maxMs);
    }
    expect((wide?.p90Ms ?? 0) - (wide?.p10Ms ?? 0)).toBeGreaterThan(
      (narrow?.p90Ms ?? 0) - (narrow?.p10Ms ?? 0),
    );
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
    expect(sp.p10Ms).toBeGreaterThan(4 * 120_000); // 4 rounds of 3 (canary alone first), each >= 2 min
    // The same schedule is what was played: the estimate is unchanged by sampling.
    expect(s.makespanMs).toBe(planSchedule(input).makespanMs);
  });

  it("warns when the estimate fits the window but the p90 of drawn boots does not", () => {
    const probe = planSchedule({ ...input, samples: 40 });
    const p90 = probe.spread?.p90Ms ?? 0;
    expect(p90).toBeGreaterThan(probe.makespanMs);
    const between = Math.round((probe.makespanMs + p90) / 2);
    const s = planSchedule({ ...input, samples: 40, windowMs: { ams: between } });
    const risk = s.risks.find((r) => r.kind === "tight-window");
    expect(risk?.message).toMatch(/at p90 \(40 samples\), over its window/);
    // Without samples only the estimate is judged (a window it fills to over 90 %).
    const plain = planSchedule({ ...input, windowMs: { ams: between } });
    expect(plain.risks.find((r) => r.kind === "tight-window")?.message ?? "").not.toMatch(/p90/);
  });
});
