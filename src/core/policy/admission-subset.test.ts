/**
 * Admission with terminal hosts left out (and `maxWave` given) decides exactly as with every host,
 * and asking again right after its hosts were started starts nothing (the coordinator relies on
 * both to keep admission off the per-tick path of a 2,000-host run); with the active hosts' counts
 * kept by the caller (the planner's list schedule) it decides exactly as when it counts them.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ACTIVE_HOST_STATES, HOST_STATES, type HostState, isTerminalHost } from "../flow/states.js";
import type { Concurrency } from "../plan/compile.js";
import { type AdmissionHost, admit, countHost, emptyCounts } from "./admission.js";

const hostArb = fc.record({
  wave: fc.integer({ min: 0, max: 3 }),
  state: fc.constantFrom<HostState>(...HOST_STATES),
  region: fc.constantFrom("r1", "r2", "r3"),
  rack: fc.constantFrom("k1", "k2", "k3", "k4"),
});

const setup = fc.record({
  hosts: fc.array(hostArb, { minLength: 0, maxLength: 40 }),
  currentWave: fc.integer({ min: 0, max: 3 }),
  global: fc.integer({ min: 1, max: 12 }),
  perRegion: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
  rack: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
});

type Setup = typeof setup extends fc.Arbitrary<infer T> ? T : never;

function build(s: Setup): { hosts: AdmissionHost[]; concurrency: Concurrency } {
  const hosts = s.hosts.map((h, i) => ({
    host: `h${i}`,
    wave: h.wave,
    order: i,
    state: h.state,
    region: h.region,
    domains: { rack: h.rack },
  }));
  const concurrency: Concurrency = {
    global: s.global,
    ...(s.perRegion !== undefined ? { perRegion: s.perRegion } : {}),
    perFailureDomain: s.rack !== undefined ? { rack: s.rack } : {},
  };
  return { hosts, concurrency };
}

describe("admission over a subset of hosts", () => {
  it("leaving terminal hosts out, with maxWave, gives the same decision", () => {
    fc.assert(
      fc.property(setup, (s) => {
        const { hosts, concurrency } = build(s);
        const base = { currentWave: s.currentWave, concurrency, now: 0, nextStartAt: 0, staggered: false };
        const all = admit({ ...base, hosts });
        const maxWave = hosts.reduce((m, h) => Math.max(m, h.wave), 0);
        const live = admit({ ...base, hosts: hosts.filter((h) => !isTerminalHost(h.state)), maxWave });
        expect({ currentWave: live.currentWave, start: live.start }).toEqual({
          currentWave: all.currentWave,
          start: all.start,
        });
      }),
    );
  });

  it("after starting the chosen hosts we hold, asking again starts none of ours", () => {
    fc.assert(
      fc.property(setup, fc.func(fc.boolean()), (s, held) => {
        const { hosts, concurrency } = build(s);
        const base = { concurrency, now: 0, nextStartAt: 0, staggered: false };
        const first = admit({ ...base, hosts, currentWave: s.currentWave });
        const mine = new Set(first.start.filter((h) => held(h)));
        const after = hosts.map((h) => (mine.has(h.host) ? { ...h, state: "running" as const } : h));
        const again = admit({ ...base, hosts: after, currentWave: first.currentWave });
        expect(again.currentWave).toBe(first.currentWave);
        expect(again.start).toEqual(first.start.filter((h) => !mine.has(h)));
      }),
    );
  });

  it("with counts kept by the caller, the same decision, and the started hosts added to the counts", () => {
    fc.assert(
      fc.property(setup, fc.array(fc.nat(), { maxLength: 10 }), (s, churn) => {
        const { hosts, concurrency } = build(s);
        const base = { currentWave: s.currentWave, concurrency, now: 0, nextStartAt: 0, staggered: false };
        // Counts kept incrementally: every host that ever was active counted in, the ones that
        // stopped counted out again (as the planner does as hosts start and end).
        const counts = emptyCounts();
        for (const i of churn) {
          const h = hosts[i % Math.max(1, hosts.length)];
          if (h === undefined || ACTIVE_HOST_STATES.includes(h.state)) continue;
          countHost(counts, h, 1);
          countHost(counts, h, -1);
        }
        for (const h of hosts) if (ACTIVE_HOST_STATES.includes(h.state)) countHost(counts, h, 1);
        const counted = admit({ ...base, hosts });
        const kept = admit({ ...base, hosts, counts });
        expect({ currentWave: kept.currentWave, start: kept.start, waiting: kept.waiting }).toEqual({
          currentWave: counted.currentWave,
          start: counted.start,
          waiting: counted.waiting,
        });
        // The kept counts now include the started hosts: the same as counting them from scratch.
        const fresh = emptyCounts();
        const startedNow = new Set(kept.start);
        for (const h of hosts)
          if (ACTIVE_HOST_STATES.includes(h.state) || startedNow.has(h.host)) countHost(fresh, h, 1);
        expect(counts.active).toBe(fresh.active);
        for (const [region, n] of fresh.perRegion) expect(counts.perRegion.get(region)).toBe(n);
        for (const [kind, values] of fresh.perDomain)
          for (const [value, n] of values) expect(counts.perDomain.get(kind)?.get(value)).toBe(n);
      }),
    );
  });
});
