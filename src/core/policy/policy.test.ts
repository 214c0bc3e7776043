import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ACTIVE_HOST_STATES, HOST_STATES, type HostState } from "../flow/states.js";
import type { Step } from "../plan/compile.js";
import { type AdmissionHost, admit, nextOpening } from "./admission.js";
import { budgetAllows, budgetExceeded, budgetExceededReason, mayGoOn, tally } from "./budget.js";
import { backoffMs, decideAfterFailure, resolveDoubt, revertOrder } from "./retry.js";
import { assignWaves } from "./waves.js";

describe("waves", () => {
  it.each([
    [[{ count: 1 }, { percent: 10 }, { percent: 100 }], 50, [1, 5, 44]],
    [[{ count: 1 }, { percent: 10 }], 25, [1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]],
    [[{ count: 2 }], 5, [2, 2, 1]],
    [[{ percent: 100 }], 7, [7]],
    [[{ percent: 1 }], 3, [1, 1, 1]],
  ])("%j of %i hosts -> batch sizes %j", (waves, n, sizes) => {
    const w = assignWaves(waves, n);
    const counts: number[] = [];
    for (const x of w) counts[x] = (counts[x] ?? 0) + 1;
    expect(counts).toEqual(sizes);
  });

  it("every host gets exactly one wave, in non-decreasing order", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ count: fc.integer({ min: 1, max: 20 }) }),
            fc.record({ percent: fc.integer({ min: 1, max: 100 }) }),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        fc.integer({ min: 0, max: 300 }),
        (waves, n) => {
          const w = assignWaves(waves, n);
          expect(w).toHaveLength(n);
          for (let i = 1; i < w.length; i++) expect(w[i]).toBeGreaterThanOrEqual(w[i - 1] as number);
        },
      ),
    );
  });
});

const step = (over: Partial<Step> = {}): Step => ({
  index: 0,
  name: "s",
  kind: "command",
  run: "x",
  timeoutMs: 1000,
  idempotent: false,
  pointOfNoReturn: false,
  become: false,
  retry: { attempts: 3, initialMs: 1000, factor: 2, maxMs: 5000, jitter: 0.5 },
  ...over,
});

describe("retry", () => {
  it.each([
    [2, 0, 1000],
    [3, 0, 2000],
    [4, 0, 4000],
    [5, 0, 5000],
    [9, 0, 5000],
    [2, 0.999999, 500],
  ])("backoff before attempt %i with u=%d is %i ms", (attempt, u, ms) => {
    expect(backoffMs(step().retry, attempt, u)).toBe(ms);
  });

  it("jitter never exceeds the cap", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 50 }),
        fc.double({ min: 0, max: 0.9999, noNaN: true }),
        (a, u) => {
          const d = backoffMs(step().retry, a, u);
          expect(d).toBeLessThanOrEqual(5000);
          expect(d).toBeGreaterThanOrEqual(0);
        },
      ),
    );
  });

  it.each([
    [1, true, "retry"],
    [2, true, "retry"],
    [3, true, "give-up"],
    [1, false, "give-up"],
  ])("after attempt %i (retryable %s) -> %s", (n, retryable, action) => {
    expect(decideAfterFailure(step(), n, retryable, 0).action).toBe(action);
  });

  it.each([
    [{ check: "c" }, "run", false, "check"],
    [{}, "run", true, "check"],
    [{ idempotent: true }, "run", false, "rerun"],
    [{}, "run", false, "park"],
    [{ check: "c" }, "revert", false, "park"],
    [{ idempotent: true }, "revert", false, "rerun"],
  ] as const)("doubt with %j in %s (builtin %s) -> %s", (over, phase, builtin, expected) => {
    expect(resolveDoubt(step(over), phase, builtin)).toBe(expected);
  });

  it("revert order: failed step and completed ones, newest first, above the point of no return", () => {
    const steps = [0, 1, 2, 3, 4, 5].map((i) => step({ index: i, revert: i === 3 ? undefined : `undo${i}` }));
    expect(revertOrder(steps, 5, -1)).toEqual([5, 4, 2, 1, 0]);
    expect(revertOrder(steps, 5, 1)).toEqual([5, 4, 2]);
    expect(revertOrder(steps, 1, 1)).toEqual([]);
  });
});

describe("failure budget (SSM-style: halt when exceeded)", () => {
  it.each([
    [{ maxFailed: 0 }, 10, 0, false],
    [{ maxFailed: 0 }, 10, 1, true],
    [{ maxFailed: 3 }, 10, 3, false],
    [{ maxFailed: 3 }, 10, 4, true],
    [{ maxFailedPercent: 10 }, 50, 5, false],
    [{ maxFailedPercent: 10 }, 50, 6, true],
    [{ maxFailedPercent: 10 }, 25, 2, false],
    [{ maxFailedPercent: 10 }, 25, 3, true],
    [{ maxFailedPercent: 100 }, 5, 5, false],
  ])("%j with %i hosts and %i failed -> exceeded %s", (b, total, failed, out) => {
    expect(budgetExceeded(b, total, failed)).toBe(out);
  });

  it.each([
    [{ maxFailed: 0 }, 10, 0],
    [{ maxFailed: 3 }, 10, 3],
    [{ maxFailedPercent: 10 }, 25, 2],
    [{ maxFailedPercent: 10, maxFailed: 1 }, 50, 1],
  ])("%j with %i hosts allows %i failed or in doubt (the most that does not exceed it)", (b, total, n) => {
    expect(budgetAllows(b, total)).toBe(n);
    expect(budgetExceeded(b, total, n)).toBe(false);
    expect(budgetExceeded(b, total, n + 1)).toBe(true);
  });

  it("allows exactly the share a percentage with decimals gives (18.4 % of 375 hosts is 69, not 68)", () => {
    const b = { maxFailedPercent: 18.4 };
    expect(budgetAllows(b, 375)).toBe(69);
    // One over the budget: one host to retry or skip, not two.
    const t = tally([...Array<HostState>(70).fill("failed"), ...Array<HostState>(305).fill("pending")]);
    expect(mayGoOn(b, t)).toMatchObject({ go: false, why: "budget", fewer: 1 });
  });

  it("allows and exceeded never disagree: every scope up to 1,000 hosts, every percentage in tenths", () => {
    // Exhaustive rather than sampled: the float edge (a share that is a whole number of hosts,
    // computed as 68.99999999999999) is about one case in ten thousand.
    const disagree: string[] = [];
    for (let total = 1; total <= 1000; total++)
      for (let tenths = 0; tenths <= 1000; tenths++) {
        const b = { maxFailedPercent: tenths / 10 };
        const n = budgetAllows(b, total);
        if (budgetExceeded(b, total, n) || !budgetExceeded(b, total, n + 1))
          disagree.push(`${b.maxFailedPercent}% of ${total}: allows ${n}`);
      }
    expect(disagree).toEqual([]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 50 }), (total, max) => {
        const b = { maxFailedPercent: 12.5, maxFailed: max };
        const n = budgetAllows(b, total);
        expect(n).toBe(Math.min(max, budgetAllows({ maxFailedPercent: 12.5 }, total)));
        expect(budgetExceeded(b, total, n)).toBe(false);
        expect(budgetExceeded(b, total, n + 1)).toBe(true);
      }),
    );
  });

  it("says failed or in doubt, with both numbers (in-doubt hosts are not failures)", () => {
    const t = tally(["in_doubt", "in_doubt", "pending", "succeeded"]);
    expect(budgetExceededReason({ maxFailed: 0 }, t)).toBe(
      "failure budget exceeded: 2 of 4 hosts failed or in doubt (0 failed, 2 in doubt; maxFailed 0)",
    );
  });

  const S = (...s: HostState[]) => tally(s);
  it.each([
    ["a skipped failure leaves pending hosts within the budget", S("succeeded", "skipped", "pending"), true],
    ["hosts pending, the budget still exceeded", S("failed", "pending", "pending"), false],
    ["nothing left to drive", S("succeeded", "skipped", "failed"), false],
    ["a retried in-doubt host runs even over the budget", S("failed", "running", "pending"), true],
    ["a retried failed host is pending; others over the budget hold it", S("failed", "pending"), false],
  ] as const)("may go on: %s -> %s", (_what, t, go) => {
    expect(mayGoOn({ maxFailed: 0 }, t).go).toBe(go);
  });

  it("a run held by its budget says how many failures stand in the way", () => {
    const d = mayGoOn({ maxFailed: 1 }, S("failed", "in_doubt", "failed", "pending", "pending"));
    expect(d).toMatchObject({ go: false, why: "budget", fewer: 2 });
    expect(d.go === false && d.why === "budget" && d.message).toBe(
      "the failure budget is still exceeded: 3 of 5 hosts failed or in doubt (2 failed, 1 in doubt; maxFailed 1); 2 host(s) wait to start until 2 more of the failed or in-doubt hosts are retried or skipped",
    );
  });
});

describe("admission", () => {
  const arb = fc.record({
    n: fc.integer({ min: 1, max: 40 }),
    regions: fc.integer({ min: 1, max: 4 }),
    racks: fc.integer({ min: 1, max: 6 }),
    global: fc.integer({ min: 1, max: 12 }),
    perRegion: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
    perRack: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    states: fc.array(fc.constantFrom<HostState>(...HOST_STATES), { minLength: 40, maxLength: 40 }),
    waves: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 40, maxLength: 40 }),
  });

  it("never exceeds any cap, starts only pending hosts of open waves", () => {
    fc.assert(
      fc.property(arb, (a) => {
        const waves = a.waves.slice(0, a.n).sort((x, y) => x - y);
        const hosts: AdmissionHost[] = Array.from({ length: a.n }, (_, i) => ({
          host: `h${i}`,
          wave: waves[i] as number,
          order: i,
          state: a.states[i] as HostState,
          region: `r${i % a.regions}`,
          domains: { rack: `k${i % a.racks}` },
        }));
        const perFailureDomain: Record<string, number> = a.perRack ? { rack: a.perRack } : {};
        const concurrency = {
          global: a.global,
          ...(a.perRegion ? { perRegion: a.perRegion } : {}),
          perFailureDomain,
        };
        const res = admit({ hosts, currentWave: 0, concurrency, now: 0, nextStartAt: 0, staggered: false });
        const started = new Set(res.start);
        const after = hosts.map((h) => (started.has(h.host) ? { ...h, state: "running" as HostState } : h));
        const act = after.filter((h) => ACTIVE_HOST_STATES.includes(h.state));
        const before = hosts.filter((h) => ACTIVE_HOST_STATES.includes(h.state));
        // New starts never push a level over its cap (levels already over stay as they were).
        if (res.start.length > 0) expect(act.length).toBeLessThanOrEqual(Math.max(a.global, before.length));
        for (const h of hosts.filter((x) => started.has(x.host))) {
          expect(h.state).toBe("pending");
          expect(h.wave).toBeLessThanOrEqual(res.currentWave);
          if (a.perRegion)
            expect(act.filter((x) => x.region === h.region).length).toBeLessThanOrEqual(a.perRegion);
          if (a.perRack)
            expect(act.filter((x) => x.domains.rack === h.domains.rack).length).toBeLessThanOrEqual(
              a.perRack,
            );
        }
      }),
    );
  });

  it("staggered admission starts one host and waits for nextStartAt", () => {
    const hosts: AdmissionHost[] = [0, 1, 2].map((i) => ({
      host: `h${i}`,
      wave: 0,
      order: i,
      state: "pending",
      region: "r",
      domains: {},
    }));
    const c = { global: 10, perFailureDomain: {} };
    expect(
      admit({ hosts, currentWave: 0, concurrency: c, now: 0, nextStartAt: 0, staggered: true }).start,
    ).toEqual(["h0"]);
    expect(
      admit({ hosts, currentWave: 0, concurrency: c, now: 5, nextStartAt: 10, staggered: true }).waiting,
    ).toBe("stagger");
  });

  it("takes hosts in `order` whatever order they come in (ties as given), under per-domain caps", () => {
    const h = (host: string, order: number, state: AdmissionHost["state"], rack: string): AdmissionHost => ({
      host,
      wave: 0,
      order,
      state,
      region: "r",
      domains: { rack, power: `p-${rack}` },
    });
    const hosts = [
      h("x", 9, "running", "r2"),
      h("c", 2, "pending", "r3"),
      h("a", 0, "pending", "r1"),
      h("d", 1, "pending", "r2"),
      h("b", 1, "pending", "r1"),
      h("e", 3, "pending", "r1"),
    ];
    const concurrency = { global: 10, perFailureDomain: { rack: 1 } };
    const res = admit({ hosts, currentWave: 0, concurrency, now: 0, nextStartAt: 0, staggered: false });
    // a takes rack r1 (b, e wait), d waits for x in r2, c has r3 to itself.
    expect(res.start).toEqual(["a", "c"]);
    const ties = [h("t2", 1, "pending", "q1"), h("t1", 1, "pending", "q1"), h("t0", 0, "pending", "q2")];
    expect(
      admit({ hosts: ties, currentWave: 0, concurrency, now: 0, nextStartAt: 0, staggered: false }).start,
    ).toEqual(["t0", "t2"]);
  });

  it("windows: no host starts before its region's window opens; open or absent windows change nothing", () => {
    const windows = fc.record({
      n: fc.integer({ min: 1, max: 30 }),
      global: fc.integer({ min: 1, max: 12 }),
      perRack: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
      now: fc.integer({ min: 0, max: 100 }),
      // Region -> opening (undefined: the region has no window).
      opens: fc.array(fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }), {
        minLength: 3,
        maxLength: 3,
      }),
      states: fc.array(fc.constantFrom<HostState>("pending", "pending", "running", "succeeded"), {
        minLength: 30,
        maxLength: 30,
      }),
    });
    fc.assert(
      fc.property(windows, (a) => {
        const hosts: AdmissionHost[] = Array.from({ length: a.n }, (_, i) => ({
          host: `h${i}`,
          wave: 0,
          order: i,
          state: a.states[i] as HostState,
          region: `r${i % 3}`,
          domains: { rack: `k${i % 4}` },
        }));
        const opensAt: Record<string, number> = {};
        a.opens.forEach((o, r) => {
          if (o !== undefined) opensAt[`r${r}`] = o;
        });
        const perFailureDomain: Record<string, number> = a.perRack ? { rack: a.perRack } : {};
        const concurrency = { global: a.global, perFailureDomain };
        const base = { hosts, currentWave: 0, concurrency, now: a.now, nextStartAt: 0, staggered: false };
        const res = admit({ ...base, opensAt });
        const regionOf = new Map(hosts.map((h) => [h.host, h.region]));
        for (const h of res.start)
          expect(a.now).toBeGreaterThanOrEqual(opensAt[regionOf.get(h) as string] ?? 0);
        // The hosts it starts are what admission without windows starts among the hosts whose
        // window is open (a held host is skipped like a capped one: it blocks nobody).
        const open = hosts.filter((h) => h.state !== "pending" || a.now >= (opensAt[h.region] ?? 0));
        expect(res.start).toEqual(admit({ ...base, hosts: open }).start);
        if (Object.values(opensAt).every((o) => o <= a.now)) expect(res).toEqual(admit(base));
      }),
    );
  });

  it("windows: a held region waits with `window` and does not block another region", () => {
    const hosts: AdmissionHost[] = ["a", "b"].map((r, i) => ({
      host: `${r}1`,
      wave: 0,
      order: i,
      state: "pending",
      region: r,
      domains: {},
    }));
    const c = { global: 10, perFailureDomain: {} };
    const at = (now: number, opensAt: Record<string, number>) =>
      admit({ hosts, currentWave: 0, concurrency: c, now, nextStartAt: 0, staggered: false, opensAt });
    expect(at(5, { a: 10 }).start).toEqual(["b1"]);
    expect(at(5, { a: 10, b: 20 })).toMatchObject({ start: [], waiting: "window" });
    expect(at(10, { a: 10, b: 20 }).start).toEqual(["a1"]);
    expect(at(20, { a: 10, b: 20 }).start).toEqual(["a1", "b1"]);
    expect(nextOpening({ a: 10, b: 20 }, 10)).toBe(20);
    expect(nextOpening({ a: 10, b: 20 }, 20)).toBeUndefined();
  });
});
