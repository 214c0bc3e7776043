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
    const run = (hosts: readonly ListHost[], pressure?: Pressure) => {
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
    };
    const ranked = run(list, new Pressure(list, concurrency));
    const byName = new Map(list.map((x) => [x.host, x]));
    const fixed = run(ranked.map((s, i) => ({ ...(byName.get(s.host) as ListHost), order: i })));
    const key = (ss: Started[]) => ss.map((s) => `${s.host}@${s.startMs}`);
    expect(key(fixed)).toEqual(key(ranked));
  });
});
