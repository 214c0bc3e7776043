import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Concurrency } from "../plan/compile.js";
import type { HoldoverPool } from "./holdover-pool.js";
import { type ListHost, listSchedule, type Started } from "./list-schedule.js";
import { Pressure, type PressureHost } from "./pressure.js";

const MIN = 60_000;
const caps: Concurrency = { global: 10, perFailureDomain: { rack: 2 } };

function h(host: string, rack: string, minutes: number, extra: Record<string, string> = {}): PressureHost {
  return { host, region: "r", wave: 0, durationMs: minutes * MIN, domains: { rack, ...extra } };
}

/** A schedule of `hosts`, ranked most-constrained first when `pressure` is given. */
function schedule(hosts: readonly ListHost[], concurrency: Concurrency, pressure?: Pressure): Started[] {
  const r = listSchedule({
    hosts,
    concurrency,
    stagger: { intervalMs: 0, jitterMs: 0 },
    seed: 1,
    pools: new Map<string, HoldoverPool>(),
    ...(pressure !== undefined ? { pressure } : {}),
  });
  if (!r.ok) throw new Error("overfull");
  return r.started;
}

/** The ranked schedule, and the same hosts played again in the ranked start order as fixed order. */
function rankedThenFixed(list: readonly ListHost[], concurrency: Concurrency) {
  const ranked = schedule(list, concurrency, new Pressure(list, concurrency));
  const byName = new Map(list.map((x) => [x.host, x]));
  const fixed = schedule(
    ranked.map((s, i) => ({ ...(byName.get(s.host) as ListHost), order: i })),
    concurrency,
  );
  return { ranked, fixed };
}

describe("pressure: most-constrained first", () => {
  const table: { name: string; hosts: PressureHost[]; concurrency?: Concurrency; want: string[] }[] = [
    {
      name: "the rack with more work left goes first, whatever the host's own flow",
      hosts: [h("a1", "a", 16), h("b1", "b", 10), h("b2", "b", 10), h("b3", "b", 10), h("b4", "b", 10)],
      // a1: its own 16 min (rack a needs 8); rack b: 40 / 2 = 20 min
      want: ["b1", "b2", "b3", "b4", "a1"],
    },
    {
      name: "a host's own flow counts when it exceeds its groups' need",
      hosts: [h("a1", "a", 30), h("b1", "b", 10), h("b2", "b", 10), h("b3", "b", 10)],
      want: ["a1", "b1", "b2", "b3"],
    },
    {
      name: "a replicated group (cap 1) chains its members",
      hosts: [h("a1", "a", 10, { "group:g": "g" }), h("b1", "b", 12), h("a2", "c", 10, { "group:g": "g" })],
      concurrency: { global: 10, perFailureDomain: { rack: 2 }, perDomainValue: { "group:g": { g: 1 } } },
      // group g: 20 / 1 = 20 min > b1's 12 min
      want: ["a1", "a2", "b1"],
    },
    {
      name: "ties: the longer flow, then the order given",
      hosts: [h("x", "x", 10), h("y", "y", 12), h("z", "z", 10)],
      want: ["y", "x", "z"],
    },
  ];
  for (const t of table)
    it(t.name, () => {
      const p = new Pressure(t.hosts, t.concurrency ?? caps);
      expect(p.rank(t.hosts, 0).map((x) => x.host)).toEqual(t.want);
    });

  it("running hosts count with what they still have to run", () => {
    const hosts = [h("a1", "a", 30), h("a2", "a", 5), h("b1", "b", 8), h("b2", "b", 8)];
    const p = new Pressure(hosts, caps);
    p.started("a1", 30 * MIN);
    // rack a: (5 + 30 left) / 2 = 17.5 min; rack b: 16 / 2 = 8 min
    expect(p.rank([hosts[1], hosts[2], hosts[3]] as PressureHost[], 0).map((x) => x.host)).toEqual([
      "a2",
      "b1",
      "b2",
    ]);
    // 25 minutes on, a1 has 5 min left: rack a needs (5 + 5) / 2 = 5 min; a2's own flow is 5 min
    expect(p.rank([hosts[1], hosts[2], hosts[3]] as PressureHost[], 25 * MIN).map((x) => x.host)).toEqual([
      "b1",
      "b2",
      "a2",
    ]);
    p.ended("a1", 30 * MIN);
    expect(p.pressureOf("a2", 30 * MIN)).toBe(5 * MIN);
  });

  it("the start order of a ranked schedule, as a fixed order, plays forward to the same schedule", () => {
    const list: ListHost[] = [];
    for (let i = 0; i < 24; i++)
      list.push({
        host: `h${String(i).padStart(2, "0")}`,
        region: `r${i % 2}`,
        wave: i === 0 ? 0 : 1,
        order: i,
        durationMs: ((i * 7) % 11) * MIN + 5 * MIN,
        domains: { rack: `k${i % 5}`, ...(i % 3 === 0 ? { "group:g": "g" } : {}) },
        workloads: [],
      });
    const concurrency: Concurrency = {
      global: 5,
      perFailureDomain: { rack: 2 },
      perDomainValue: { "group:g": { g: 1 } },
    };
    const { ranked, fixed } = rankedThenFixed(list, concurrency);
    const key = (ss: Started[]) => ss.map((s) => `${s.host}@${s.startMs}`);
    expect(key(fixed)).toEqual(key(ranked));
  });

  it("on random hosts and caps, the ranked start order replays to the same schedule, every cap kept", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            minutes: fc.integer({ min: 1, max: 40 }),
            region: fc.integer({ min: 0, max: 2 }),
            rack: fc.integer({ min: 0, max: 3 }),
            group: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
          }),
          { minLength: 2, maxLength: 30 },
        ),
        fc.integer({ min: 1, max: 6 }),
        fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
        fc.integer({ min: 1, max: 3 }),
        (specs, global, perRegion, canaries) => {
          const list: ListHost[] = specs.map((x, i) => ({
            host: `h${i}`,
            region: `r${x.region}`,
            wave: i < canaries ? 0 : 1,
            order: i,
            durationMs: x.minutes * MIN,
            domains: {
              rack: `r${x.region}-k${x.rack}`,
              ...(x.group !== undefined ? { "group:g": `g${x.group}` } : {}),
            },
            workloads: [],
          }));
          const groups = Object.fromEntries([0, 1, 2, 3].map((g) => [`g${g}`, 1]));
          const concurrency: Concurrency = {
            global,
            ...(perRegion !== undefined ? { perRegion } : {}),
            perFailureDomain: { rack: 2 },
            perDomainValue: { "group:g": groups },
          };
          const { ranked, fixed } = rankedThenFixed(list, concurrency);
          const byName = new Map(list.map((x) => [x.host, x]));
          expect(fixed.map((x) => `${x.host}@${x.startMs}`)).toEqual(
            ranked.map((x) => `${x.host}@${x.startMs}`),
          );
          // Every host once; caps at every start; the canary wave first.
          expect(ranked.map((x) => x.host).sort()).toEqual(list.map((x) => x.host).sort());
          const canaryEnd = Math.max(
            ...ranked.filter((x) => (byName.get(x.host) as ListHost).wave === 0).map((x) => x.endMs),
          );
          for (const x of ranked) {
            const me = byName.get(x.host) as ListHost;
            if (me.wave > 0) expect(x.startMs).toBeGreaterThanOrEqual(canaryEnd);
            const running = ranked
              .filter((y) => y.startMs <= x.startMs && x.startMs < y.endMs)
              .map((y) => byName.get(y.host) as ListHost);
            expect(running.length).toBeLessThanOrEqual(global);
            const count = (f: (h: ListHost) => string | undefined) => {
              const m = new Map<string, number>();
              for (const r of running) {
                const k = f(r);
                if (k !== undefined) m.set(k, (m.get(k) ?? 0) + 1);
              }
              return [...m.values()];
            };
            for (const n of count((h) => h.domains.rack)) expect(n).toBeLessThanOrEqual(2);
            for (const n of count((h) => h.domains["group:g"])) expect(n).toBeLessThanOrEqual(1);
            if (perRegion !== undefined)
              for (const n of count((h) => h.region)) expect(n).toBeLessThanOrEqual(perRegion);
          }
        },
      ),
      { numRuns: 300, seed: 6 },
    );
  });
});
