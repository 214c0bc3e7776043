/**
 * Admission with terminal hosts left out (and `maxWave` given) decides exactly as with every host,
 * and asking again right after its hosts were started starts nothing (the coordinator relies on
 * both to keep admission off the per-tick path of a 2,000-host run).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HOST_STATES, type HostState, isTerminalHost } from "../flow/states.js";
import type { Concurrency } from "../plan/compile.js";
import { type AdmissionHost, admit } from "./admission.js";

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
});
