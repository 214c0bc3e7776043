/**
 * Property tests over random fleets and plans: whatever the planner returns keeps every cap at
 * every instant, schedules every scoped host exactly once, never over-commits a hold-over, runs
 * the canary wave first, never beats its own lower bound, and, with windows, starts no host before
 * its region's window opens. Anything else must be a refusal.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Capacity, Host, Workload } from "../model/fleet.js";
import { compilePlan, type Plan } from "../plan/compile.js";
import { planSchema } from "../plan/schema.js";
import { ORDER_POLICIES, type OrderPolicy } from "./order.js";
import { planSchedule, type Schedule } from "./planner.js";
import { PlanRefusal } from "./refusal.js";

const CAP: Capacity = { cpu: 16, memoryMb: 16_384, diskGb: 400 };

interface World {
  hosts: Host[];
  workloads: Workload[];
}

const worldArb: fc.Arbitrary<World> = fc
  .record({
    regions: fc.array(
      fc.record({
        workers: fc.integer({ min: 1, max: 7 }),
        holdovers: fc.integer({ min: 0, max: 3 }),
        racks: fc.integer({ min: 1, max: 3 }),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    loads: fc.array(
      fc.record({
        cpu: fc.integer({ min: 1, max: 10 }),
        memoryMb: fc.integer({ min: 256, max: 12_000 }),
        diskGb: fc.integer({ min: 1, max: 300 }),
        group: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
        singleton: fc.boolean(),
        live: fc.boolean(),
        count: fc.integer({ min: 0, max: 3 }),
      }),
      { minLength: 30, maxLength: 30 },
    ),
  })
  .map(({ regions, loads }) => {
    const hosts: Host[] = [];
    const workloads: Workload[] = [];
    let k = 0;
    regions.forEach((r, ri) => {
      const region = `r${ri}`;
      for (let i = 0; i < r.workers + r.holdovers; i++) {
        const rack = `${region}-k${i % r.racks}`;
        const name = `${region}-h${i}`;
        const role = i < r.workers ? "worker" : "holdover";
        hosts.push({
          name,
          address: name,
          connection: "ssh",
          region,
          failureDomains: { rack, power: `${region}-p${Math.floor((i % r.racks) / 2)}` },
          role,
          capacity: { ...CAP },
          groups: [region],
          vars: { overhaul_uptime_days: (i * 37) % 11 },
        });
        if (role !== "worker") continue;
        const l = loads[k++ % loads.length] as (typeof loads)[number];
        for (let j = 0; j < l.count; j++)
          workloads.push({
            id: `${name}-w${j}`,
            kind: "vm",
            host: name,
            cpu: Math.max(1, Math.floor(l.cpu / (j + 1))),
            memoryMb: Math.max(256, Math.floor(l.memoryMb / (j + 1))),
            diskGb: Math.max(1, Math.floor(l.diskGb / (j + 1))),
            ...(l.group !== undefined && j === 0 ? { antiAffinityGroup: `g${l.group}` } : {}),
            ...(l.singleton && j === 1 ? { singleton: true } : {}),
            migration: l.live ? ["live", "cold"] : ["cold"],
            volumes: [{ id: `${name}-w${j}-v`, sizeGb: 5, network: l.live, attachedTo: `${name}-w${j}` }],
          });
      }
    });
    return { hosts, workloads };
  });

const planArb: fc.Arbitrary<Plan> = fc
  .record({
    canary: fc.integer({ min: 1, max: 2 }),
    percent: fc.integer({ min: 10, max: 100 }),
    global: fc.integer({ min: 1, max: 6 }),
    perRegion: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    rack: fc.option(fc.integer({ min: 1, max: 2 }), { nil: undefined }),
    power: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    stagger: fc.constantFrom(0, 30_000),
    jitter: fc.constantFrom(0, 10_000),
    drain: fc.boolean(),
  })
  .map((p) => {
    const perFailureDomain: Record<string, number> = {};
    if (p.rack !== undefined) perFailureDomain.rack = p.rack;
    if (p.power !== undefined) perFailureDomain.power = p.power;
    const steps = [
      ...(p.drain ? [{ name: "drain", kind: "drain" }] : []),
      { name: "reboot", kind: "reboot" },
      { name: "healthy", kind: "wait-healthy" },
      ...(p.drain ? [{ name: "reinstate", kind: "reinstate" }] : []),
    ];
    return compilePlan(
      planSchema.parse({
        name: "p",
        hosts: "all",
        waves: [{ count: p.canary }, { percent: p.percent }],
        concurrency: {
          global: p.global,
          ...(p.perRegion !== undefined ? { perRegion: p.perRegion } : {}),
          perFailureDomain,
        },
        stagger: { interval: p.stagger, jitter: p.jitter },
        steps,
      }),
    );
  });

/** Every instant a host starts: what is running then. */
function runningAt(s: Schedule, t: number) {
  return s.hosts.filter((h) => h.startMs <= t && t < h.endMs);
}

function checkSchedule(s: Schedule, plan: Plan, world: World, scope: readonly Host[]): void {
  // Every scoped host exactly once.
  expect(s.hosts.map((h) => h.host).sort()).toEqual(scope.map((h) => h.name).sort());
  expect(new Set(s.batches.flatMap((b) => b.hosts)).size).toBe(scope.length);
  expect(s.batches.flatMap((b) => b.hosts).length).toBe(scope.length);
  const byName = new Map(world.hosts.map((h) => [h.name, h]));
  const byWorkload = new Map(world.workloads.map((w) => [w.id, w]));
  const drains = plan.steps.some((x) => x.kind === "drain");
  for (const t of new Set(s.hosts.map((h) => h.startMs))) {
    const run = runningAt(s, t);
    expect(run.length).toBeLessThanOrEqual(plan.concurrency.global);
    const count = (key: (h: Host) => string | undefined) => {
      const m = new Map<string, number>();
      for (const r of run) {
        const k = key(byName.get(r.host) as Host);
        if (k !== undefined) m.set(k, (m.get(k) ?? 0) + 1);
      }
      return m;
    };
    if (plan.concurrency.perRegion !== undefined)
      for (const n of count((h) => h.region).values())
        expect(n).toBeLessThanOrEqual(plan.concurrency.perRegion);
    for (const [kind, cap] of Object.entries(plan.concurrency.perFailureDomain))
      for (const n of count((h) => h.failureDomains[kind]).values()) expect(n).toBeLessThanOrEqual(cap);
    // At most one host holding a member of a replicated (anti-affinity) group at a time.
    const members = new Map<string, number>();
    for (const r of run) {
      const groups = new Set(
        world.workloads
          .filter((w) => w.host === r.host && w.antiAffinityGroup)
          .map((w) => w.antiAffinityGroup),
      );
      for (const g of groups) members.set(g as string, (members.get(g as string) ?? 0) + 1);
    }
    for (const n of members.values()) expect(n).toBeLessThanOrEqual(1);
    // No hold-over over-committed, no two of a group or two singletons on one.
    const on = new Map<string, Workload[]>();
    for (const r of run)
      for (const [wid, ho] of Object.entries(r.holdovers)) {
        const l = on.get(ho) ?? [];
        l.push(byWorkload.get(wid) as Workload);
        on.set(ho, l);
      }
    for (const [ho, ws] of on) {
      const cap = (byName.get(ho) as Host).capacity as Capacity;
      expect((byName.get(ho) as Host).role).toBe("holdover");
      expect(ws.reduce((a, w) => a + w.cpu, 0)).toBeLessThanOrEqual(cap.cpu);
      expect(ws.reduce((a, w) => a + w.memoryMb, 0)).toBeLessThanOrEqual(cap.memoryMb);
      expect(ws.reduce((a, w) => a + w.diskGb, 0)).toBeLessThanOrEqual(cap.diskGb);
      const groups = ws.map((w) => w.antiAffinityGroup).filter((g) => g !== undefined);
      expect(new Set(groups).size).toBe(groups.length);
      expect(ws.filter((w) => w.singleton).length).toBeLessThanOrEqual(1);
      for (const w of ws) expect((byName.get(w.host) as Host).region).toBe((byName.get(ho) as Host).region);
    }
  }
  // Every drained workload has a hold-over.
  for (const h of s.hosts) {
    const mine = world.workloads.filter((w) => w.host === h.host).map((w) => w.id);
    expect(Object.keys(h.holdovers).sort()).toEqual(drains ? mine.sort() : []);
  }
  // Waves in order: the canary finishes before anything else starts.
  const canaryEnd = Math.max(...s.hosts.filter((h) => h.wave === 0).map((h) => h.endMs));
  for (const h of s.hosts.filter((x) => x.wave > 0)) expect(h.startMs).toBeGreaterThanOrEqual(canaryEnd);
  expect(s.hosts.filter((h) => h.wave === 0).length).toBe(plan.waves[0]?.count);
  for (let w = 1; w < s.waves.length; w++)
    expect((s.waves[w] as { startMs: number }).startMs).toBeGreaterThanOrEqual(
      (s.waves[w - 1] as { endMs: number }).endMs,
    );
  // Stagger: starts at least one interval apart.
  if (plan.stagger.intervalMs > 0) {
    const starts = s.hosts.map((h) => h.startMs).sort((a, b) => a - b);
    for (let i = 1; i < starts.length; i++)
      expect((starts[i] as number) - (starts[i - 1] as number)).toBeGreaterThanOrEqual(
        plan.stagger.intervalMs,
      );
  }
  // The bound is a bound.
  expect(s.makespanMs).toBeGreaterThanOrEqual(s.lowerBound.ms);
  expect(s.ratio).toBeGreaterThanOrEqual(1);
}

describe("planner properties", () => {
  it("keeps every cap, schedules each host once, never over-commits a hold-over, canary first", () => {
    fc.assert(
      fc.property(
        worldArb,
        planArb,
        fc.constantFrom<OrderPolicy>(...ORDER_POLICIES),
        fc.integer({ min: 0, max: 1000 }),
        (world, plan, order, seed) => {
          const scope = world.hosts.filter((h) => h.role === "worker");
          fc.pre(scope.length > (plan.waves[0]?.count ?? 1));
          let s: Schedule;
          try {
            s = planSchedule({ plan, fleet: world.hosts, scope, workloads: world.workloads, order, seed });
          } catch (e) {
            expect(e).toBeInstanceOf(PlanRefusal);
            const drains = plan.steps.some((x) => x.kind === "drain");
            expect(drains).toBe(true);
            return;
          }
          checkSchedule(s, plan, world, scope);
          // Deterministic for a seed.
          const again = planSchedule({
            plan,
            fleet: world.hosts,
            scope,
            workloads: world.workloads,
            order,
            seed,
          });
          expect(again).toEqual(s);
        },
      ),
      { numRuns: 300, seed: 4 },
    );
  });

  it("with windows: no host starts before its region's window opens, and every other property holds", () => {
    const startAt = Date.UTC(2026, 0, 5, 2);
    fc.assert(
      fc.property(
        worldArb,
        planArb,
        fc.constantFrom<OrderPolicy>(...ORDER_POLICIES),
        // Each region's opening after the start (some at once, some hours away).
        fc.array(fc.integer({ min: 0, max: 48 }), { minLength: 3, maxLength: 3 }),
        (world, plan, order, halfHours) => {
          const scope = world.hosts.filter((h) => h.role === "worker");
          fc.pre(scope.length > (plan.waves[0]?.count ?? 1));
          const regions = [...new Set(scope.map((h) => h.region))];
          const opensAt = Object.fromEntries(
            regions.map((r, i) => [r, startAt + (halfHours[i] as number) * 1_800_000]),
          );
          let s: Schedule;
          try {
            s = planSchedule({
              plan,
              fleet: world.hosts,
              scope,
              workloads: world.workloads,
              order,
              seed: 1,
              windows: { startAt, opensAt },
            });
          } catch (e) {
            expect(e).toBeInstanceOf(PlanRefusal);
            return;
          }
          checkSchedule(s, plan, world, scope);
          expect(s.startAt).toBe(startAt);
          for (const r of s.regions) expect(r.opensAt).toBe(opensAt[r.region]);
          for (const h of s.hosts)
            expect(startAt + h.startMs).toBeGreaterThanOrEqual(opensAt[h.region] as number);
          // Balanced takes the canary from the region that opens first: the run starts the moment
          // the first window opens (other orders may put the canary in a later window).
          const first = Math.min(...Object.values(opensAt));
          if (order === "balanced") expect(Math.min(...s.hosts.map((h) => startAt + h.startMs))).toBe(first);
        },
      ),
      { numRuns: 200, seed: 5 },
    );
  });
});
